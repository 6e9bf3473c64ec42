"""Shared helpers for the benchmarks in bench/.

* ``build_warc_corpus``: wraps the real HTML pages under ../shared/data/html into
  gzipped WARC/1.0 ``response`` records (cached under bench/_work/).
* ``run_measured``: runs a subprocess, timing its wall clock and sampling the summed
  RSS (and PSS) of its whole process tree from /proc (no psutil).
* ``bench_env``: the environment every measured subprocess gets.

Standard library + warcio only, so importing this module is cheap.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
WORK_DIR = REPO_ROOT / "bench" / "_work"
DEFAULT_HTML_DIR = (REPO_ROOT / ".." / "shared" / "data" / "html").resolve()

# Bump when the WARC layout changes so cached corpora are rebuilt.
CORPUS_FORMAT_VERSION = 1
_PAGE_SIZE = os.sysconf("SC_PAGE_SIZE")


# --------------------------------------------------------------------------- env


def venv_python() -> str:
    cand = REPO_ROOT / ".venv" / "bin" / "python"
    return str(cand) if cand.exists() else sys.executable


def venv_bin(name: str) -> str:
    return str(REPO_ROOT / ".venv" / "bin" / name)


def bench_env() -> dict[str, str]:
    env = dict(os.environ)
    py = venv_python()
    env.update(
        PYSPARK_PYTHON=py,
        PYSPARK_DRIVER_PYTHON=py,
        SPARK_LOCAL_IP="127.0.0.1",
        HF_HUB_OFFLINE="1",
        HF_DATASETS_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        PYTHONUNBUFFERED="1",
    )
    # the venv's bin first, so `python`/`curate`/`spark-submit` resolve to it
    env["PATH"] = str(Path(py).parent) + os.pathsep + env.get("PATH", "")
    return env


# ----------------------------------------------------------------- tree monitor


def _proc_children_map() -> dict[int, list[int]]:
    """ppid -> [pid] for every process visible in /proc."""
    children: dict[int, list[int]] = {}
    for name in os.listdir("/proc"):
        if not name.isdigit():
            continue
        try:
            with open(f"/proc/{name}/stat", "rb") as f:
                stat = f.read()
        except OSError:
            continue  # exited meanwhile
        # comm may contain spaces/parens: split after the last ')'
        rest = stat[stat.rfind(b")") + 2 :].split()
        try:
            ppid = int(rest[1])
        except (IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(name))
    return children


def process_tree(root: int) -> list[int]:
    children = _proc_children_map()
    out, stack = [], [root]
    while stack:
        pid = stack.pop()
        out.append(pid)
        stack.extend(children.get(pid, ()))
    return out


def _rss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/statm", "rb") as f:
            return int(f.read().split()[1]) * _PAGE_SIZE
    except (OSError, IndexError, ValueError):
        return 0


def _pss_bytes(pid: int) -> int:
    try:
        with open(f"/proc/{pid}/smaps_rollup", "rb") as f:
            for line in f:
                if line.startswith(b"Pss:"):
                    return int(line.split()[1]) * 1024
    except (OSError, IndexError, ValueError):
        pass
    return 0


class TreeMemoryMonitor:
    """Samples the summed RSS/PSS of ``root`` and all its descendants every ``interval`` s.

    RSS summed over a tree counts pages shared between forked processes once per
    process (an upper bound, and what most people quote); PSS splits shared pages
    between their users, so its sum is the tree's real footprint.
    """

    def __init__(self, root: int, interval: float = 0.2, pss: bool = True):
        self.root = root
        self.interval = interval
        self.pss = pss
        self.peak_rss = 0
        self.peak_pss = 0
        self.peak_procs = 0
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="tree-mem", daemon=True)

    def _sample(self) -> None:
        pids = process_tree(self.root)
        rss = sum(_rss_bytes(p) for p in pids)
        self.peak_rss = max(self.peak_rss, rss)
        if self.pss:
            self.peak_pss = max(self.peak_pss, sum(_pss_bytes(p) for p in pids))
        self.peak_procs = max(self.peak_procs, len(pids))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def start(self) -> TreeMemoryMonitor:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()
        self._thread.join()


def run_measured(cmd: list[str], *, env: dict, log_path: Path, cwd: Path = REPO_ROOT,
                 interval: float = 0.2, timeout: float | None = None) -> dict:
    """Run ``cmd``; return wall seconds, return code and the peak tree RSS/PSS in MB."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    load_before = os.getloadavg()[0]
    with open(log_path, "wb") as log:
        log.write(("$ " + " ".join(cmd) + "\n").encode())
        log.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        mon = TreeMemoryMonitor(proc.pid, interval=interval).start()
        try:
            rc, _ = wait_group(proc, timeout)
        finally:
            wall = time.perf_counter() - t0
            mon.stop()
    return {
        "wall_s": wall,
        "rc": rc,
        "peak_rss_mb": mon.peak_rss / 2**20,
        "peak_pss_mb": mon.peak_pss / 2**20,
        "peak_procs": mon.peak_procs,
        "mem_samples": mon.samples,
        "loadavg_1m_before": load_before,
        "log": str(log_path),
    }


def wait_group(proc: subprocess.Popen, timeout: float | None) -> tuple[int, bool]:
    """Wait for a child started with start_new_session=True; returns (exit code, timed out).

    On a timeout or an interrupt (Ctrl-C) its whole process group is killed, and once it has
    exited so is anything it left behind in that group (an orphaned JVM would skew the next run)."""
    timed_out = False
    try:
        rc = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        timed_out = True
        _kill_group(proc.pid)
        rc = proc.wait()
    except BaseException:
        _kill_group(proc.pid)
        proc.wait()
        raise
    _kill_group(proc.pid)
    return rc, timed_out


def _kill_group(pgid: int) -> None:
    """Kill the process group of a child started with start_new_session=True (ours only)."""
    try:
        os.killpg(pgid, 9)
    except (ProcessLookupError, PermissionError):
        pass


def log_tail(path: str | Path, n: int = 25) -> str:
    try:
        lines = Path(path).read_text(errors="replace").splitlines()
    except OSError:
        return ""
    return "\n".join(lines[-n:])


# ------------------------------------------------------------------ WARC corpus

_META_CHARSET = re.compile(rb"<meta[^>]+charset\s*=\s*[\"']?\s*([A-Za-z0-9_\-:.]+)", re.I)
_XML_ENCODING = re.compile(rb"<\?xml[^>]+encoding\s*=\s*[\"']([A-Za-z0-9_\-:.]+)", re.I)


def sniff_charset(html: bytes) -> str | None:
    """The charset the page declares in its first 4 KiB (what a server would usually send)."""
    head = html[:4096]
    m = _META_CHARSET.search(head) or _XML_ENCODING.search(head)
    if not m:
        return None
    cs = m.group(1).decode("ascii", "replace").lower()
    import codecs

    try:
        codecs.lookup(cs)
    except LookupError:
        return None
    return cs


def collect_html_pages(data_dir: Path) -> list[tuple[str, Path]]:
    """(name, path) of every benchmark page, in a fixed order."""
    groups = [
        sorted(data_dir.glob("readability/*/source.html")),
        sorted(data_dir.glob("trafilatura-eval/pages/*")),
        sorted(data_dir.glob("trafilatura-eval/extra-pages/*")),
    ]
    out = []
    for g in groups:
        for p in g:
            if p.is_file():
                out.append((str(p.relative_to(data_dir)), p))
    return out


def read_page(path: Path) -> bytes:
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":  # gzipped, whatever the name says
        raw = gzip.decompress(raw)
    return raw


def _corpus_key(data_dir: Path, pages: list[tuple[str, Path]], copies: int, files: int,
                payload_type: bool) -> str:
    h = hashlib.sha256()
    h.update(json.dumps([CORPUS_FORMAT_VERSION, str(data_dir), copies, files, payload_type]).encode())
    for name, p in pages:
        st = p.stat()
        h.update(f"{name}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    return h.hexdigest()[:12]


def build_warc_corpus(data_dir: Path, *, copies: int = 2, files: int = 4, payload_type: bool = True,
                      work_dir: Path = WORK_DIR, quiet: bool = False) -> dict:
    """Build (or reuse) the benchmark WARC set; returns its manifest.

    Every page becomes a WARC/1.0 ``response`` record with an HTTP/1.1 200 header block
    (``Content-Type: text/html; charset=<declared>`` when the page declares one), URL
    ``https://bench.example/<n>``; the page set is repeated ``copies`` times with distinct
    URLs and record ``n`` goes to file ``n % files``. Record ids and dates are derived from
    ``n``, so the output is deterministic. ``payload_type`` adds Common Crawl's
    ``WARC-Identified-Payload-Type: text/html`` header.
    """
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    data_dir = Path(data_dir).resolve()
    pages = collect_html_pages(data_dir)
    if not pages:
        raise FileNotFoundError(f"no HTML pages found under {data_dir}")
    key = _corpus_key(data_dir, pages, copies, files, payload_type)
    out_dir = work_dir / "corpus" / f"c{copies}-f{files}-{'pt' if payload_type else 'nopt'}-{key}"
    manifest_path = out_dir / "manifest.json"
    if manifest_path.exists():
        manifest = json.loads(manifest_path.read_text())
        if all(Path(f).exists() for f in manifest["files"]):
            if not quiet:
                print(f"[corpus] reusing {out_dir} ({manifest['records']} records)", file=sys.stderr)
            return manifest

    t0 = time.perf_counter()
    tmp = out_dir.with_name(out_dir.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    names = [f"bench-{i:02d}.warc.gz" for i in range(files)]
    handles = [open(tmp / n, "wb") for n in names]
    writers = [WARCWriter(h, gzip=True, warc_version="1.0") for h in handles]
    bodies = [(name, read_page(p)) for name, p in pages]
    per_file = [0] * files
    charsets: dict[str, int] = {}
    n = 0
    try:
        for _copy in range(copies):
            for _name, body in bodies:
                url = f"https://bench.example/{n}"
                cs = sniff_charset(body)
                charsets[cs or "-"] = charsets.get(cs or "-", 0) + 1
                ctype = f"text/html; charset={cs}" if cs else "text/html"
                day = 1 + n % 28
                http = StatusAndHeaders("200 OK", [
                    ("Date", f"Mon, {day:02d} Jan 2024 12:00:00 GMT"),
                    ("Server", "nginx"),
                    ("Content-Type", ctype),
                    ("Content-Length", str(len(body))),
                    ("Connection", "close"),
                ], protocol="HTTP/1.1")
                warc_headers = {
                    "WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>",
                    "WARC-Date": f"2024-01-{day:02d}T12:00:00Z",
                    "WARC-IP-Address": "127.0.0.1",
                }
                if payload_type:
                    warc_headers["WARC-Identified-Payload-Type"] = "text/html"
                fi = n % files
                w = writers[fi]
                rec = w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                           http_headers=http, warc_headers_dict=warc_headers)
                w.write_record(rec)
                per_file[fi] += 1
                n += 1
    finally:
        for h in handles:
            h.close()
    manifest = {
        "format_version": CORPUS_FORMAT_VERSION,
        "data_dir": str(data_dir),
        "pages": len(pages),
        "copies": copies,
        "records": n,
        "payload_type_header": payload_type,
        "records_per_file": per_file,
        "html_bytes_per_copy": sum(len(b) for _, b in bodies),
        "declared_charsets": charsets,
        "dir": str(out_dir),
        "files": [str(out_dir / nm) for nm in names],
        "warc_bytes": sum((tmp / nm).stat().st_size for nm in names),
    }
    (tmp / "manifest.json").write_text(json.dumps(manifest, indent=2))
    shutil.rmtree(out_dir, ignore_errors=True)
    tmp.rename(out_dir)
    if not quiet:
        print(f"[corpus] built {out_dir}: {n} records in {files} files, "
              f"{manifest['warc_bytes'] / 2**20:.1f} MiB, {time.perf_counter() - t0:.1f}s", file=sys.stderr)
    return manifest


def count_warc_responses(paths: list[str]) -> int:
    from warcio.archiveiterator import ArchiveIterator

    n = 0
    for p in paths:
        with open(p, "rb") as f:
            for rec in ArchiveIterator(f):
                if rec.rec_type == "response":
                    n += 1
    return n


def warm_page_cache(paths: list[str]) -> None:
    for p in paths:
        with open(p, "rb") as f:
            while f.read(1 << 22):
                pass


def emit(result: dict, json_path: str | None) -> None:
    """Print a bench's JSON result and, when asked, write it to ``json_path`` too."""
    text = json.dumps(result, indent=2)
    print(text)
    if json_path:
        Path(json_path).parent.mkdir(parents=True, exist_ok=True)
        Path(json_path).write_text(text + "\n")

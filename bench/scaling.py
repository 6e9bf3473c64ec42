"""Whole-pipeline scaling: ``curate run`` (extract → annotate → dedup → decontaminate → mix) at 1×, 2×, 4× input.

Input: the ~1,160 real pages of ../shared/data/html as WARC/1.0 ``response`` records, in ``copies``
independent variants. Every copy rewrites each page's visible text (outside tags, ``<script>`` and
``<style>``), replacing each word with probability ``--perturb`` (default 0.3) by another word of
the same page, seeded by (copy, page): language and vocabulary stay those of the page, but
consecutive copies share only ~0.7^5 ≈ 17% of their word 5-grams, so exact and MinHash dedup do not
collapse the copies and every later stage sees work proportional to the input. Each copy is written
as ``--files-per-copy`` gzipped WARC files (cached under bench/_work/scaling/corpus/) with URLs
``https://c<copy>.bench.example/<n>``; scale k× uses copies 0..k·base−1, so records per file (and per
Spark task) stay constant and the number of tasks grows with the input.

Each scale runs ``curate run PIPELINE.yaml --output <fresh dir> --master local[W]`` as a subprocess
(demo/pipeline.yaml's stages: trafilatura extraction, the default annotate steps, FineWeb's dedup
settings, decontamination against GSM8K test + ARC from ../shared/data/benchmarks, a phi-4-style web
mixture whose token budget scales with the input), timed from start to exit (JVM start-up included)
while the process tree's memory is sampled from /proc every 0.2 s. Processes are classified by
command line: the JVM (``java``; in local mode it is the driver *and* the only executor), the
PySpark Python workers (``pyspark.daemon`` / ``pyspark.worker`` and their forks) and the driver
Python (``curate run``); for each class the peak of its summed RSS, plus the peak of the whole
tree's RSS and PSS. Scales are run in interleaved order (1×, 2×, 4×, 1×, ...) for ``--repeats``
rounds; medians are reported.

Goals: time(2×)/time(1×) and time(4×)/time(2×) ≤ 2.1 (per doubling); peak memory 4×/1× ≤ 1.3
(flat: memory must not grow with the input).

    python bench/scaling.py [--base-copies 1] [--repeats 1] [--workers 2] [--json OUT]
"""

from __future__ import annotations

import argparse
import io
import json
import os
import random
import re
import shutil
import statistics
import sys
import threading
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_HTML_DIR,
    REPO_ROOT,
    WORK_DIR,
    _pss_bytes,
    _rss_bytes,
    bench_env,
    collect_html_pages,
    emit,
    log_tail,
    process_tree,
    read_page,
    sniff_charset,
    venv_bin,
    wait_group,
)

WORK = WORK_DIR / "scaling"
SHARED = (REPO_ROOT / ".." / "shared" / "data").resolve()
#: Bump when the corpus layout or the perturbation changes so cached copies are rebuilt.
CORPUS_VERSION = 1
GOAL_TIME_PER_DOUBLING = 2.1  # issue 21 (an earlier issue asked 2.2)
GOAL_MEMORY_4X = 1.3
MB = 2**20

# ------------------------------------------------------------------------------------ corpus

# Text between tags; <script>/<style> bodies and comments are kept whole as separators.
_SPLIT = re.compile(r"(<script\b.*?</script\s*>|<style\b.*?</style\s*>|<!--.*?-->|<[^>]*>)", re.S | re.I)
# A word not inside an entity (&amp; &#123;): letters/digits/underscore runs.
_WORD = re.compile(r"(?<![&#\w])\w+(?![\w;])")


def perturb_html(html: str, rate: float, rnd: random.Random) -> str:
    """Replace each visible word with another word of the same page with probability ``rate``."""
    parts = _SPLIT.split(html)
    texts = parts[0::2]  # even indices: text between separators
    pool = [w for t in texts for w in _WORD.findall(t)]
    if not pool:
        return html

    def sub(m: re.Match) -> str:
        return rnd.choice(pool) if rnd.random() < rate else m.group(0)

    for i in range(0, len(parts), 2):
        if parts[i].strip():
            parts[i] = _WORD.sub(sub, parts[i])
    return "".join(parts)


def _decode(body: bytes, charset: str | None) -> tuple[str, str]:
    for cs in (charset, "utf-8"):
        if cs:
            try:
                return body.decode(cs), cs
            except (UnicodeDecodeError, LookupError):
                pass
    return body.decode("utf-8", "surrogateescape"), "utf-8"


def _variant(body: bytes, copy: int, page_no: int, rate: float) -> bytes:
    cs = sniff_charset(body)
    text, used = _decode(body, cs)
    out = perturb_html(text, rate, random.Random(copy * 1_000_003 + page_no))
    try:
        return out.encode(used, "surrogateescape")
    except (UnicodeEncodeError, LookupError):
        return out.encode(used, "xmlcharrefreplace")


def build_copy(pages: list[tuple[str, Path]], copy: int, files: int, rate: float, out_dir: Path) -> dict:
    """Write copy ``copy`` (every page once, perturbed) as ``files`` gzipped WARC files; cached."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    done = out_dir / f"copy-{copy:03d}.json"
    if done.is_file():
        info = json.loads(done.read_text())
        if all(Path(f).is_file() for f in info["files"]):
            return info
    names = [out_dir / f"c{copy:03d}-{j:02d}.warc.gz" for j in range(files)]
    handles = [open(n, "wb") for n in names]
    writers = [WARCWriter(h, gzip=True, warc_version="1.0") for h in handles]
    n_bytes = 0
    try:
        for n, (_, path) in enumerate(pages):
            body = _variant(read_page(path), copy, n, rate)
            n_bytes += len(body)
            url = f"https://c{copy}.bench.example/{n}"
            cs = sniff_charset(body)
            day = 1 + (n + copy) % 28
            http = StatusAndHeaders("200 OK", [
                ("Date", f"Mon, {day:02d} Jan 2024 12:00:00 GMT"), ("Server", "nginx"),
                ("Content-Type", f"text/html; charset={cs}" if cs else "text/html"),
                ("Content-Length", str(len(body))), ("Connection", "close"),
            ], protocol="HTTP/1.1")
            headers = {"WARC-Record-ID": f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, url)}>",
                       "WARC-Date": f"2024-01-{day:02d}T12:00:00Z", "WARC-IP-Address": "127.0.0.1",
                       "WARC-Identified-Payload-Type": "text/html"}
            w = writers[n % files]
            w.write_record(w.create_warc_record(url, "response", payload=io.BytesIO(body), length=len(body),
                                                http_headers=http, warc_headers_dict=headers))
    finally:
        for h in handles:
            h.close()
    info = {"copy": copy, "records": len(pages), "html_bytes": n_bytes, "files": [str(n) for n in names]}
    done.write_text(json.dumps(info))
    return info


def build_corpus(data_dir: Path, copies: int, files: int, rate: float) -> list[dict]:
    pages = collect_html_pages(data_dir)
    if not pages:
        raise FileNotFoundError(f"no HTML pages under {data_dir}")
    out_dir = WORK / "corpus" / f"v{CORPUS_VERSION}-p{len(pages)}-f{files}-r{rate:g}"
    out_dir.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    infos = [build_copy(pages, c, files, rate, out_dir) for c in range(copies)]
    print(f"[scaling] corpus: {copies} copies x {len(pages)} pages in {out_dir} ({time.perf_counter() - t0:.1f}s)",
          file=sys.stderr, flush=True)
    return infos


# ---------------------------------------------------------------------------------- pipeline

def benchmarks_yaml(path: Path) -> Path:
    b = SHARED / "benchmarks"
    if (b / "gsm8k" / "test.jsonl").is_file():
        path.write_text(f"benchmarks:\n  - {{preset: gsm8k, path: {b}/gsm8k/test.jsonl}}\n"
                        f"  - {{preset: foundry, path: \"{b}/foundry/world_knowledge/arc_*.jsonl\"}}\n")
        return path
    return REPO_ROOT / "demo" / "benchmarks.yaml"  # no shared data: the demo's own list


def pipeline_yaml(path: Path, extractor: str, bench_yaml: Path, total_tokens: int, stages: list[str] | None = None) -> None:
    """demo/pipeline.yaml's stages (or only ``stages``), at a budget that scales with the input."""
    where = "drop_reason IS NULL AND decontam_status = 'clean'"
    maths = "(text LIKE '%$%' OR text LIKE '%def %' OR text LIKE '%=%')"
    cfg = {
        "extract": {"keep_dropped": True, "extract": {"extractor": extractor}},
        "annotate": {"keep_dropped": True},
        "dedup": {},
        "decontaminate": {"benchmarks": str(bench_yaml)},
        "mix": {"tokenizer": "bundled", "total_tokens": total_tokens, "seed": 0, "binary": True,
                "eos_token": "[SEP]", "chunk_tokens": 256,
                "sources": [
                    {"name": "web_reasoning", "share": 0.38, "max_epochs": 4,
                     "where": f"{where} AND lang = 'en' AND {maths}"},
                    {"name": "web_knowledge", "share": 0.38, "max_epochs": 4,
                     "where": f"{where} AND lang = 'en' AND NOT {maths}"},
                    {"name": "web_multilingual", "share": 0.24, "max_epochs": 4,
                     "where": f"{where} AND lang <> 'en'"},
                ]},
    }
    import yaml

    if stages:  # a stage missing from the YAML would run at its defaults: switch the others off
        cfg = {k: (v if k in stages else False) for k, v in cfg.items()}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def _classify(cmdline: bytes) -> str:
    argv = cmdline.split(b"\0")
    exe = os.path.basename(argv[0]) if argv and argv[0] else b""
    if exe == b"java" or exe.endswith(b"/java"):
        return "jvm"
    if b"pyspark.daemon" in cmdline or b"pyspark.worker" in cmdline or b"pyspark/daemon.py" in cmdline:
        return "python_workers"
    if b"python" in exe and b"curate" in cmdline:
        return "driver_python"
    return "other"


class ClassMemoryMonitor:
    """Peak summed RSS per process class (JVM, PySpark workers, driver Python) and of the whole tree."""

    CLASSES = ("jvm", "python_workers", "driver_python", "other")

    def __init__(self, root: int, interval: float = 0.2):
        self.root, self.interval = root, interval
        self.peak = {c: 0 for c in self.CLASSES}
        self.peak_procs = {c: 0 for c in self.CLASSES}
        self.peak_total_rss = self.peak_total_pss = self.samples = 0
        self.timeline: list[tuple[float, int, int, int]] = []  # (epoch s, jvm, python workers, total) RSS
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def _kind_of(self, pid: int) -> str:
        # read every time: spark-submit's bash script execs java under the same pid, and a fork keeps
        # its parent's cmdline until it execs
        try:
            with open(f"/proc/{pid}/cmdline", "rb") as f:
                return _classify(f.read())
        except OSError:
            return "other"

    def _sample(self) -> None:
        pids = process_tree(self.root)
        by = {c: 0 for c in self.CLASSES}
        n = {c: 0 for c in self.CLASSES}
        for p in pids:
            r = _rss_bytes(p)
            if r:
                k = self._kind_of(p)
                by[k] += r
                n[k] += 1
        for c in self.CLASSES:
            self.peak[c] = max(self.peak[c], by[c])
            self.peak_procs[c] = max(self.peak_procs[c], n[c])
        self.peak_total_rss = max(self.peak_total_rss, sum(by.values()))
        self.timeline.append((time.time(), by["jvm"], by["python_workers"], sum(by.values())))
        if self.samples % 5 == 0:  # smaps_rollup is costlier: PSS every fifth sample
            self.peak_total_pss = max(self.peak_total_pss, sum(_pss_bytes(p) for p in pids))
        self.samples += 1

    def _loop(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()


_STAGE_START = re.compile(r"^(\d\d):(\d\d):(\d\d) INFO curate\.pipeline: (\w+): running")


def stage_peaks(log_text: str, timeline: list[tuple[float, int, int, int]]) -> dict:
    """Peak RSS (MB) per class within each stage, from the stage start times the pipeline logs."""
    import datetime as dt

    if not timeline:
        return {}
    day = dt.date.fromtimestamp(timeline[0][0])
    starts = []
    for line in log_text.splitlines():
        m = _STAGE_START.match(line)
        if m:
            h, mi, se = (int(x) for x in m.groups()[:3])
            starts.append((dt.datetime.combine(day, dt.time(h, mi, se)).timestamp(), m.group(4)))
    out: dict[str, dict] = {}
    for t, jvm, workers, total in timeline:
        stage = "start-up"
        for st, name in starts:
            if t >= st:
                stage = name
        d = out.setdefault(stage, {"total": 0, "jvm": 0, "python_workers": 0})
        d["total"], d["jvm"], d["python_workers"] = max(d["total"], total), max(d["jvm"], jvm), max(d["python_workers"], workers)
    return {k: {c: round(v / MB) for c, v in d.items()} for k, d in out.items()}


_STAGE_LINE = re.compile(r"^\s+(extract|annotate|dedup|decontaminate|mix)\s+(\w+)\s+([\d.]+)\s+(\d*)\s+(\d*)")


def run_once(scale: int, files: list[str], pipeline: Path, workers: int, tag: str, timeout: float) -> dict:
    import subprocess

    out = WORK / "runs" / f"x{scale}-{tag}"
    shutil.rmtree(out, ignore_errors=True)
    log = WORK / "logs" / f"x{scale}-{tag}.log"
    log.parent.mkdir(parents=True, exist_ok=True)
    cmd = [venv_bin("curate"), "run", str(pipeline), "--output", str(out), "--master", f"local[{workers}]"]
    for f in files:
        cmd += ["--input", f]
    load = os.getloadavg()[0]
    with open(log, "wb") as lf:
        lf.write(("$ " + " ".join(cmd) + "\n").encode())
        lf.flush()
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, env=bench_env(), cwd=REPO_ROOT, stdout=lf, stderr=subprocess.STDOUT,
                                start_new_session=True)
        with ClassMemoryMonitor(proc.pid) as mon:
            rc, _ = wait_group(proc, timeout)
            wall = time.perf_counter() - t0
    stages = {}
    for line in log.read_text(errors="replace").splitlines():
        m = _STAGE_LINE.match(line)
        if m:
            stages[m.group(1)] = {"seconds": float(m.group(3)),
                                  "records_in": int(m.group(4)) if m.group(4) else None,
                                  "records_out": int(m.group(5)) if m.group(5) else None}
    res = {"scale": scale, "tag": tag, "rc": rc, "wall_s": round(wall, 2),
           "peak_rss_mb": {"total": round(mon.peak_total_rss / MB), "jvm": round(mon.peak["jvm"] / MB),
                           "python_workers": round(mon.peak["python_workers"] / MB),
                           "driver_python": round(mon.peak["driver_python"] / MB),
                           "other": round(mon.peak["other"] / MB)},
           "peak_pss_total_mb": round(mon.peak_total_pss / MB),
           "peak_python_workers": mon.peak_procs["python_workers"],
           "stages": stages, "peak_rss_mb_by_stage": stage_peaks(log.read_text(errors="replace"), mon.timeline),
           "loadavg_1m_before": round(load, 2), "log": str(log), "output": str(out)}
    acc = _mix_summary(out)
    if acc:
        res["mix"] = acc
    if rc != 0:
        res["log_tail"] = log_tail(log, 15)
    print(f"[scaling] x{scale} {tag}: rc={rc} wall={wall:.1f}s peak RSS {res['peak_rss_mb']} "
          f"stages { {k: v['seconds'] for k, v in stages.items()} } load {load:.1f}", file=sys.stderr, flush=True)
    return res


def _mix_summary(out: Path) -> dict | None:
    try:
        m = json.loads((out / "mix" / "mixture_manifest.json").read_text())
    except (OSError, ValueError):
        return None
    srcs = m.get("sources") or {}
    items = srcs.items() if isinstance(srcs, dict) else ((s.get("name"), s) for s in srcs)
    return {name: {k: s.get(k) for k in ("planned_tokens", "achieved_tokens", "unique_tokens", "epochs")}
            for name, s in items if isinstance(s, dict)}


def _ratio(a, b):
    return round(a / b, 3) if a and b else None


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_HTML_DIR, help="HTML pages (default ../shared/data/html)")
    ap.add_argument("--base-copies", type=int, default=1, help="page-set copies at 1x (1,163 records each)")
    ap.add_argument("--scales", default="1,2,4")
    ap.add_argument("--files-per-copy", type=int, default=2)
    ap.add_argument("--perturb", type=float, default=0.3, help="share of each copy's words replaced")
    ap.add_argument("--tokens-per-copy", type=int, default=100_000, help="mixture budget per copy of the input")
    ap.add_argument("--extractor", default="trafilatura", choices=("trafilatura", "resiliparse"))
    ap.add_argument("--workers", type=int, default=2, help="local[W]")
    ap.add_argument("--repeats", type=int, default=1, help="runs per scale (interleaved; medians reported)")
    ap.add_argument("--timeout", type=float, default=1800, help="seconds per pipeline run")
    ap.add_argument("--stages", default="", help="only these stages, comma-separated (e.g. extract,annotate: "
                    "the issue's extraction+annotation scale bench); default: all five")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)
    stages = [s for s in args.stages.split(",") if s] or None
    from curation import stages as stage_registry  # the pipeline's sections, as pipeline_yaml writes them

    known = [s.name for s in stage_registry.ordered()]
    if stages and not set(stages) <= set(known):
        ap.error(f"--stages: unknown stage(s) {sorted(set(stages) - set(known))}; choose from {', '.join(known)}")

    scales = [int(s) for s in args.scales.split(",") if s]
    copies = max(scales) * args.base_copies
    WORK.mkdir(parents=True, exist_ok=True)
    infos = build_corpus(args.data.resolve(), copies, args.files_per_copy, args.perturb)
    bench_yaml = benchmarks_yaml(WORK / "benchmarks.yaml")

    plan = [(r, s) for r in range(args.repeats) for s in scales]
    runs: dict[int, list[dict]] = {s: [] for s in scales}
    inputs: dict[int, dict] = {}
    for s in scales:
        use = infos[: s * args.base_copies]
        inputs[s] = {"copies": len(use), "records": sum(i["records"] for i in use),
                     "warc_files": sum(len(i["files"]) for i in use),
                     "html_mb": round(sum(i["html_bytes"] for i in use) / 1e6, 1),
                     "warc_mb": round(sum(Path(f).stat().st_size for i in use for f in i["files"]) / 1e6, 1),
                     "mix_total_tokens": args.tokens_per_copy * len(use)}
        pipeline_yaml(WORK / f"pipeline-x{s}.yaml", args.extractor, bench_yaml, inputs[s]["mix_total_tokens"], stages)
    t_start = time.perf_counter()
    for r, s in plan:
        files = [f for i in infos[: s * args.base_copies] for f in i["files"]]
        runs[s].append(run_once(s, files, WORK / f"pipeline-x{s}.yaml", args.workers, f"r{r}", args.timeout))

    per_scale = {}
    for s in scales:
        ok = [x for x in runs[s] if x["rc"] == 0]
        d = {"input_records": inputs[s]["records"], "input": inputs[s], "ok_runs": len(ok), "runs": runs[s]}
        if ok:
            d["wall_s"] = round(statistics.median(x["wall_s"] for x in ok), 2)
            d["records_per_s"] = round(inputs[s]["records"] / d["wall_s"], 1)
            d["peak_rss_mb"] = {k: round(statistics.median(x["peak_rss_mb"][k] for x in ok))
                                for k in ("total", "jvm", "python_workers", "driver_python")}
            d["peak_pss_total_mb"] = round(statistics.median(x["peak_pss_total_mb"] for x in ok))
            d["stage_seconds"] = {st: round(statistics.median(x["stages"][st]["seconds"] for x in ok
                                                              if st in x["stages"]), 1)
                                  for st in ok[0]["stages"]}
            d["records_out"] = {st: v["records_out"] for st, v in ok[-1]["stages"].items()}
        per_scale[f"{s}x"] = d

    def get(s, *keys):
        v = per_scale.get(f"{s}x", {})
        for k in keys:
            v = v.get(k) if isinstance(v, dict) else None
        return v

    ratios, checks = {}, []
    ordered = sorted(scales)
    for a, b in zip(ordered, ordered[1:]):
        r = _ratio(get(b, "wall_s"), get(a, "wall_s"))
        key = f"time({b}x)/time({a}x)"
        ratios[key] = r
        if b == 2 * a:
            checks.append({"check": key, "value": r, "goal": f"<= {GOAL_TIME_PER_DOUBLING}",
                           "met": None if r is None else r <= GOAL_TIME_PER_DOUBLING})
    lo, hi = ordered[0], ordered[-1]
    if hi > lo:
        for k in ("total", "jvm", "python_workers", "driver_python"):
            ratios[f"peak_rss_{k}({hi}x)/({lo}x)"] = _ratio(get(hi, "peak_rss_mb", k), get(lo, "peak_rss_mb", k))
        ratios[f"peak_pss_total({hi}x)/({lo}x)"] = _ratio(get(hi, "peak_pss_total_mb"), get(lo, "peak_pss_total_mb"))
        mem = ratios[f"peak_rss_total({hi}x)/({lo}x)"]
        checks.append({"check": f"peak RSS total {hi}x/{lo}x", "value": mem, "goal": f"<= {GOAL_MEMORY_4X}",
                       "met": None if mem is None else mem <= GOAL_MEMORY_4X})
    # the fixed cost (JVM + session start, tiny stages) hides part of the growth: also per-record time
    result = {
        "bench": "scaling",
        "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": {"cpus": os.cpu_count(), "loadavg_1m_end": round(os.getloadavg()[0], 2)},
        "settings": {"base_copies": args.base_copies, "scales": scales, "files_per_copy": args.files_per_copy,
                     "perturb": args.perturb, "extractor": args.extractor, "master": f"local[{args.workers}]",
                     "repeats": args.repeats, "tokens_per_copy": args.tokens_per_copy, "stages": stages or "all",
                     "benchmarks": str(bench_yaml)},
        "note": "local mode: the JVM is the driver and the only executor, so jvm = peak RSS per executor; "
                "python_workers = all PySpark worker processes summed (up to local[W] at once); RSS sums count "
                "pages shared between forked workers once per process (PSS counts them once)",
        "per_scale": per_scale,
        "ratios": ratios,
        "checks": checks,
        "bench_seconds": round(time.perf_counter() - t_start, 1),
    }
    emit(result, args.json)
    return 0 if all(x["rc"] == 0 for v in runs.values() for x in v) else 1


if __name__ == "__main__":
    sys.exit(main())

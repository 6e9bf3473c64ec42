"""WARC reading throughput: Curate's reader (warcio path vs FastWARC path) vs datatrove's WarcReader.

What it measures
----------------
Two corpora are built from the real, well-formed WARC files in ../shared/data/warc (every ``.warc.gz``
and ``.warc`` except ``truncated/``; ARC files are left out: only warcio reads them), repeated until
each corpus holds at least ``--mb`` MB, and cached in bench/_work/warc_read/:

* ``gzip``: the ``.warc.gz`` files concatenated (per-record gzip members, as crawlers write them);
* ``plain``: the same records uncompressed, plus the two plain ``.warc`` files.

Readers, each a full pass over one corpus file in this process (pinned to one CPU, ``--cpu``):

* ``curate warcio``: ``list(read_records(f, engine="warcio"))``, the reader as it was before issue 21
  (warcio with our capped line reader, header guard, bounded de-chunking/decompression, truncation
  checks), consuming every record the way the extract task does;
* ``curate fastwarc``: ``read_records(f)``, the default: FastWARC for every record it can vouch for,
  warcio for the rest (always at least each file's last record);
* ``datatrove``: ``WarcReader(folder).read_file(name)`` (0.10.1: fsspec gzip + warcio, a libmagic /
  charset check per document; it yields only HTML responses as text, so it does more per document
  and nothing for the other records: a peer, not a like-for-like);
* ``fastwarc bare``: FastWARC's ``ArchiveIterator`` reading every payload with no checks at all:
  the ceiling, not a usable reader.

records/s = WARC records in the corpus / seconds; MB/s = corpus file bytes (compressed for gzip) /
seconds; median of ``--rounds`` passes, the readers interleaved pass by pass after one untimed warm-up
round. The bench also checks that both Curate paths yield identical records on both corpora.

Run (from the repo root)::

    .venv/bin/python bench/warc_read.py                       # --mb 40 --rounds 3
    .venv/bin/python bench/warc_read.py --mb 20 --rounds 5 --json bench/_work/warc_read.json
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import gzip
import hashlib
import os
import platform
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import REPO_ROOT, WORK_DIR, emit
from curation.ingest.warc import read_records

DEFAULT_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
OUT = WORK_DIR / "warc_read"
CORPUS_VERSION = 1


def sources(data: Path) -> tuple[list[Path], list[Path]]:
    warc = data / "warc"
    files = sorted(p for p in warc.rglob("*") if p.is_file() and p.parent.name != "truncated")
    return [p for p in files if p.name.endswith(".gz") and ".arc" not in p.name], \
        [p for p in files if p.name.endswith(".warc")]


def build(data: Path, mb: float) -> dict[str, Path]:
    gz_files, plain_files = sources(data)
    if not gz_files:
        sys.exit(f"no WARC files under {data / 'warc'}")
    OUT.mkdir(parents=True, exist_ok=True)
    target = int(mb * 1e6)
    out = {}
    for kind in ("gzip", "plain"):
        path = OUT / f"corpus-v{CORPUS_VERSION}-{mb:g}MB.{'warc.gz' if kind == 'gzip' else 'warc'}"
        if not path.exists():
            if kind == "gzip":
                unit = b"".join(p.read_bytes() for p in gz_files)
            else:
                unit = b"".join(_gunzip(p) for p in gz_files) + b"".join(p.read_bytes() for p in plain_files)
            tmp = path.with_suffix(".tmp")
            with open(tmp, "wb") as f:
                for _ in range(max(1, -(-target // len(unit)))):
                    f.write(unit)
            tmp.replace(path)
        out[kind] = path
    return out


def _gunzip(path: Path) -> bytes:
    """All members inflated, streaming (gzip.decompress copies the rest of the input per member:
    quadratic on a per-record gzip WARC)."""
    with gzip.open(path, "rb") as f:
        return f.read()


def curate(engine: str):
    def run(path: Path) -> int:
        with open(path, "rb") as f:
            return sum(1 for _ in read_records(f, engine=engine))
    return run


def datatrove(path: Path) -> int:
    from datatrove.pipeline.readers import WarcReader

    reader = WarcReader(str(path.parent), glob_pattern=path.name)
    return sum(1 for _ in reader.read_file(path.name))


def fastwarc_bare(path: Path) -> int:
    from fastwarc.warc import ArchiveIterator

    n = 0
    with open(path, "rb") as f:
        for rec in ArchiveIterator(f, parse_http=True):
            rec.reader.read()
            n += 1
    return n


READERS = {
    "curate warcio": curate("warcio"),
    "curate fastwarc (default)": curate("auto"),
    "datatrove WarcReader": datatrove,
    "fastwarc bare (ceiling)": fastwarc_bare,
}


def fingerprint(path: Path, engine: str) -> tuple[int, str]:
    h, n = hashlib.sha256(), 0
    with open(path, "rb") as f:
        for r in read_records(f, engine=engine):
            h.update(repr(dataclasses.astuple(r)).encode())
            n += 1
    return n, h.hexdigest()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA)
    ap.add_argument("--mb", type=float, default=40.0, help="minimum size of each corpus file (MB)")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--cpu", type=int, default=0, help="CPU to pin to (-1: no pinning)")
    ap.add_argument("--json", help="also write the result here")
    args = ap.parse_args(argv)
    if args.cpu >= 0 and hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {args.cpu})
    corpora = build(args.data.resolve(), args.mb)

    result: dict = {"bench": "warc_read", "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
                    "python": platform.python_version(), "machine": platform.machine(),
                    "cpu_pinned": args.cpu, "rounds": args.rounds, "corpora": {}, "results": {}}
    for kind, path in corpora.items():
        slow, fast = fingerprint(path, "warcio"), fingerprint(path, "auto")
        plain_mb = len(_gunzip(path)) / 1e6 if kind == "gzip" else path.stat().st_size / 1e6
        result["corpora"][kind] = {"path": str(path.relative_to(REPO_ROOT)), "mb": round(path.stat().st_size / 1e6, 1),
                                   "uncompressed_mb": round(plain_mb, 1), "records": slow[0],
                                   "curate_paths_identical": slow == fast}
        print(f"[warc_read] {kind}: {path.name} {path.stat().st_size / 1e6:.1f} MB, {slow[0]:,} records, "
              f"warcio and FastWARC paths identical: {slow == fast}", file=sys.stderr, flush=True)

    times: dict[tuple[str, str], list[float]] = {}
    outputs: dict[tuple[str, str], int] = {}
    for rnd in range(args.rounds + 1):  # round 0 warms caches and imports, untimed
        for kind, path in corpora.items():
            for name, fn in READERS.items():
                t0 = time.perf_counter()
                outputs[kind, name] = fn(path)
                secs = time.perf_counter() - t0
                if rnd:
                    times.setdefault((kind, name), []).append(secs)
        print(f"[warc_read] round {rnd}/{args.rounds} done", file=sys.stderr, flush=True)

    for kind in corpora:
        c = result["corpora"][kind]
        base = statistics.median(times[kind, "curate warcio"])
        rows = {}
        for name in READERS:
            s = statistics.median(times[kind, name])
            rows[name] = {"seconds": round(s, 3), "records_per_s": round(c["records"] / s),
                          "mb_per_s": round(c["mb"] / s, 1), "speedup_vs_curate_warcio": round(base / s, 2),
                          "yielded": outputs[kind, name], "all_seconds": [round(t, 3) for t in times[kind, name]]}
        result["results"][kind] = rows
        print(f"\n{kind} corpus: {c['mb']} MB on disk ({c['uncompressed_mb']} MB uncompressed), {c['records']:,} records")
        print(f"  {'reader':28} {'records/s':>10} {'MB/s':>7} {'vs warcio':>9} {'yielded':>9}")
        for name, r in rows.items():
            print(f"  {name:28} {r['records_per_s']:>10,} {r['mb_per_s']:>7} {r['speedup_vs_curate_warcio']:>8}x "
                  f"{r['yielded']:>9,}")
    print()
    emit(result, args.json)
    return 0 if all(c["curate_paths_identical"] for c in result["corpora"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())

"""Fuzz the WARC reader and the per-file extract task for minutes instead of CI's seconds.

The inputs and the properties are those of ``tests/test_fuzz_warc.py`` (imported from it, so the two
never drift): random bytes, plain or gzipped, and the bundled demo WARC plus the small real files
in ../shared/data/warc mutated by bit flips, truncations, long header lines, header floods, rewritten
Content-Lengths, and gzip members cut, dropped, repeated and joined across files. Each example must
read without an exception, within a CPU deadline, within the limits, with unique offsets; every
``--extract-every``-th also runs the whole extract task (Parquet part included) and must account
for every record. Here plain ``random`` drives the mutations: example ``i`` of ``--seed S`` is
``random.Random(f"{S}:{i}")``, so any failure replays alone with ``--seed S --start i --examples 1``.

Failing inputs are saved under ``bench/_work/fuzz/`` with their traceback. Exit status 1 when an
example failed.

    .venv/bin/python bench/fuzz.py                          # 3 minutes
    .venv/bin/python bench/fuzz.py --seconds 600 --seed 7 --json bench/_work/fuzz.json
    .venv/bin/python bench/fuzz.py --examples 1 --seed 7 --start 4211   # replay one example
"""

from __future__ import annotations

import argparse
import contextlib
import gzip
import io
import logging
import random
import sys
import time
import traceback
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import WORK_DIR, emit  # noqa: E402


def make_input(rng: random.Random, seeds: list[bytes], mutate) -> tuple[str, bytes]:
    """One example: 1 in 10 random bytes (half of them gzipped), else a mutated seed."""
    if rng.randint(0, 9) == 0:
        data = rng.randbytes(rng.randint(0, 20_000))
        return ("random-gzip", gzip.compress(data, compresslevel=1)) if rng.randint(0, 1) else ("random", data)
    return "mutated", mutate(seeds, rng)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=180.0, help="stop after this long (default 180)")
    ap.add_argument("--examples", type=int, default=0, help="stop after this many examples (0: no limit)")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--start", type=int, default=0, help="first example index (to replay one)")
    ap.add_argument("--extract-every", type=int, default=5, help="run the whole extract task on every Nth example")
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()),
                    help="../shared/data; without it only the demo WARC is mutated")
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    from curation.ingest.warc import read_records
    from tests.test_fuzz_warc import LIMITS, check_extract_task, check_reader, load_seeds, mutate

    # warcio logs a warning with the whole (here: binary garbage) URI for every one with spaces.
    logging.getLogger("warcio").setLevel(logging.ERROR)

    data_dir = Path(args.data)
    seeds = load_seeds(data_dir if (data_dir / "warc").is_dir() else None)
    fail_dir = WORK_DIR / "fuzz"
    print(f"fuzz: {len(seeds)} seed files, seed {args.seed}, up to {args.seconds:g}s"
          + (f" / {args.examples} examples" if args.examples else ""), file=sys.stderr, flush=True)

    tried = extract_runs = records = 0
    failures: list[dict] = []
    kinds: Counter[str] = Counter()
    outcomes: Counter[str] = Counter()  # reader errors seen: shows which damage the mutations reach
    start = time.perf_counter()
    last_report = start
    i = args.start
    while (not args.examples or tried < args.examples) and time.perf_counter() - start < args.seconds:
        rng = random.Random(f"{args.seed}:{i}")
        kind, data = make_input(rng, seeds, mutate)
        kinds[kind] += 1
        stage = "reader"
        try:  # warcio writes each zlib error to sys.stderr: thousands of lines here
            with contextlib.redirect_stderr(io.StringIO()):
                records += check_reader(data)
                outcomes.update(r.error or "ok" for r in read_records(io.BytesIO(data), **LIMITS))
                if args.extract_every and i % args.extract_every == 0:
                    stage = "extract_task"
                    check_extract_task(data)
                    extract_runs += 1
        except BaseException as exc:  # every failure is a finding; Ctrl-C still stops
            if isinstance(exc, KeyboardInterrupt):
                raise
            fail_dir.mkdir(parents=True, exist_ok=True)
            stem = fail_dir / f"fail-seed{args.seed}-{i}"
            stem.with_suffix(".warc.gz").write_bytes(data)
            stem.with_suffix(".txt").write_text(traceback.format_exc())
            failures.append({"example": i, "stage": stage, "kind": kind, "error": f"{type(exc).__name__}: {exc}"[:300],
                             "input": str(stem.with_suffix(".warc.gz"))})
            print(f"FAIL example {i} ({kind}, {stage}): {type(exc).__name__}: {exc}"[:300], file=sys.stderr, flush=True)
        tried += 1
        i += 1
        if time.perf_counter() - last_report > 15:
            last_report = time.perf_counter()
            print(f"  {tried} examples, {len(failures)} failures, {last_report - start:.0f}s", file=sys.stderr, flush=True)

    seconds = time.perf_counter() - start
    result = {
        "examples_tried": tried,
        "failures_found": len(failures),
        "extract_task_runs": extract_runs,
        "records_read": records,
        "seconds": round(seconds, 1),
        "examples_per_s": round(tried / seconds, 1) if seconds else 0.0,
        "seed": args.seed,
        "first_example": args.start,
        "seed_files": len(seeds),
        "inputs": dict(kinds),
        "reader_outcomes": dict(outcomes.most_common()),
        "failures": failures[:50],
    }
    emit(result, args.json)
    print(f"fuzz: {tried} examples tried in {seconds:.0f}s, {len(failures)} failures found", file=sys.stderr)
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

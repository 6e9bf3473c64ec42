"""Stage verbs one by one vs the same stages as one chain (issue 21: one Spark session per chain).

A user who runs ``curate extract`` and then ``curate annotate`` pays a JVM and Spark start-up per
verb and a Parquet round trip between them; ``curate run --stages extract,annotate`` runs both in
one session. Same input (the bench WARC set of ``bench/_common.build_warc_corpus``: the real pages
of ``../shared/data/html``, 2 copies in 2 files, ~2,300 records), same master (``local[2]``), same
defaults; the two ways alternate round by round and the medians are compared::

    .venv/bin/python bench/stage_chain.py [--rounds 3] [--json PATH]

Printed: wall seconds per round of each way, the medians, their ratio, and the kept counts of both
(they must be equal: the same stages on the same input).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, WORK_DIR, bench_env, build_warc_corpus, emit, run_measured, venv_bin

DATA = (REPO_ROOT / ".." / "shared" / "data" / "html").resolve()


def _kept(folder: Path) -> int:
    return json.loads((folder / "_accounting.json").read_text())["kept"]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--json")
    args = ap.parse_args()
    corpus = build_warc_corpus(Path(args.data), copies=2, files=2)
    files = [str(f) for f in corpus["files"]]
    work = WORK_DIR / "stage_chain"
    curate, env = venv_bin("curate"), bench_env()
    common = ["--master", "local[2]"]
    rounds: dict[str, list[float]] = {"verbs": [], "chain": []}
    kept: dict[str, tuple[int, int]] = {}
    for r in range(args.rounds):
        for way in (("verbs", "chain") if r % 2 == 0 else ("chain", "verbs")):
            out, logs = work / f"{way}-{r}", work / "logs" / f"{way}-{r}"
            shutil.rmtree(out, ignore_errors=True)  # a new, empty folder: curate refuses one it did not make
            if way == "verbs":
                a = run_measured([curate, "extract", *files, "-o", str(out / "extract"), *common], env=env,
                                 log_path=logs / "extract.log")
                b = run_measured([curate, "annotate", str(out / "extract"), "-o", str(out / "annotate"), *common],
                                 env=env, log_path=logs / "annotate.log")
                assert a["rc"] == b["rc"] == 0, (a["log"], b["log"])
                wall = a["wall_s"] + b["wall_s"]
            else:
                c = run_measured([curate, "run", "--stages", "extract,annotate", "--input", *files,
                                  "--output", str(out), *common], env=env, log_path=logs / "run.log")
                assert c["rc"] == 0, c["log"]
                wall = c["wall_s"]
            rounds[way].append(round(wall, 2))
            kept[way] = (_kept(out / "extract"), _kept(out / "annotate"))
            print(f"round {r + 1} {way:5s}: {wall:6.1f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rounds.items()}
    result = {"bench": "stage_chain", "records": corpus.get("records"), "files": len(files), "rounds": rounds,
              "median_s": med, "chain_speedup": round(med["verbs"] / med["chain"], 3),
              "kept_extract_annotate": kept, "same_output": kept["verbs"] == kept["chain"]}
    print(f"\nextract + annotate on {len(files)} files: two verbs {med['verbs']:.1f} s, one chain {med['chain']:.1f} s "
          f"(median of {args.rounds}) = {result['chain_speedup']:.2f}x; kept {kept}", file=sys.stderr)
    emit(result, args.json)


if __name__ == "__main__":
    main()

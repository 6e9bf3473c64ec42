"""Stage verbs one by one vs the same stages as one chain (issue 21: one Spark session per chain).

A user who runs ``curate extract`` and then ``curate annotate`` pays a JVM and Spark start-up per
verb and a Parquet round trip between them; ``curate run --stages extract,annotate`` runs both in
one session. Same input (the bench WARC set of ``bench/_common.build_warc_corpus``: the real pages
of ``../shared/data/html``, 2 copies in 2 files, ~2,300 records), same master (``local[2]``), same
defaults; the two ways alternate round by round and the medians are compared::

    .venv/bin/python bench/stage_chain.py [--rounds 3] [--json PATH]

Printed: wall seconds per round of each way, the medians, their ratio, and the kept counts of both
(they must be equal: the same stages on the same input).

A third way, ``python``, measures what Spark itself costs a chain (issue 21: "the stage overhead
measured"): the same per-file work with no Spark, a ``multiprocessing`` pool of 2 (as ``local[2]``)
in a fresh interpreter: extract's ``process_file`` per WARC file, then annotate's
``annotate_batches`` over each extract part (pyarrow read, batches of the job's ``batch_rows``,
one Parquet file written per part). ``chain - python`` is the overhead: JVM and session start-up,
task scheduling, and annotate's Parquet → Arrow → Python → Arrow → Parquet round trip (with its
disk cache for the counts). Its kept counts must equal the others'.
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, WORK_DIR, bench_env, build_warc_corpus, emit, run_measured, venv_bin, venv_python

DATA = (REPO_ROOT / ".." / "shared" / "data" / "html").resolve()


def _kept(folder: Path) -> int:
    return json.loads((folder / "_accounting.json").read_text())["kept"]


def _extract_file(job: tuple[str, str]) -> None:
    from curation.ingest.extract_task import ExtractJobConfig, process_file

    cfg = ExtractJobConfig()
    process_file(job[0], job[1], cfg.extract, cfg.keep_dropped)


def _annotate_part(job: tuple[str, str]) -> int:
    """Annotate one extract part as the job does (its defaults); the rows kept."""
    import pyarrow.compute as pc
    import pyarrow.parquet as pq

    from curation.filters.annotate_task import AnnotateJobConfig, annotate_batches, output_schema

    cfg = AnnotateJobConfig()
    kept = 0
    with pq.ParquetWriter(job[1], output_schema(cfg.promote)) as writer:
        batches = pq.ParquetFile(job[0]).iter_batches(batch_size=cfg.batch_rows)
        for batch in annotate_batches(batches, cfg.steps, cfg.promote):
            keep = pc.is_null(batch.column("drop_reason"))
            kept += pc.sum(keep.cast("int64")).as_py() or 0
            writer.write_batch(batch if cfg.keep_dropped else batch.filter(keep))
    return kept


def plain_python(out: Path, files: list[str], workers: int = 2) -> None:
    """The chain's per-file work without Spark (see the module docstring); kept counts to stdout."""
    import multiprocessing as mp

    from curation.ingest.extract_task import completed_parts, summarise

    ext, ann = out / "extract", out / "annotate"
    ext.mkdir(parents=True)
    ann.mkdir(parents=True)
    with mp.get_context("fork").Pool(workers) as pool:
        pool.map(_extract_file, [(f, str(ext)) for f in files], chunksize=1)
        acc = summarise(list(completed_parts(str(ext)).values()))
        parts = sorted(ext.glob("*.parquet"))
        counts = pool.map(_annotate_part, [(str(p), str(ann / p.name)) for p in parts], chunksize=1)
    print(json.dumps({"extract_kept": acc.kept, "annotate_kept": sum(counts)}))


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--plain-python":  # the python way, in its own interpreter
        plain_python(Path(sys.argv[2]), sys.argv[3:])
        return
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
    ways = ("verbs", "chain", "python")
    rounds: dict[str, list[float]] = {w: [] for w in ways}
    kept: dict[str, tuple[int, int]] = {}
    for r in range(args.rounds):
        for way in ways[r % 3:] + ways[: r % 3]:  # rotated, so no way always runs first
            out, logs = work / f"{way}-{r}", work / "logs" / f"{way}-{r}"
            shutil.rmtree(out, ignore_errors=True)  # a new, empty folder: curate refuses one it did not make
            if way == "verbs":
                a = run_measured([curate, "extract", *files, "-o", str(out / "extract"), *common], env=env,
                                 log_path=logs / "extract.log")
                b = run_measured([curate, "annotate", str(out / "extract"), "-o", str(out / "annotate"), *common],
                                 env=env, log_path=logs / "annotate.log")
                assert a["rc"] == b["rc"] == 0, (a["log"], b["log"])
                wall = a["wall_s"] + b["wall_s"]
            elif way == "chain":
                c = run_measured([curate, "run", "--stages", "extract,annotate", "--input", *files,
                                  "--output", str(out), *common], env=env, log_path=logs / "run.log")
                assert c["rc"] == 0, c["log"]
                wall = c["wall_s"]
            else:
                c = run_measured([venv_python(), __file__, "--plain-python", str(out), *files], env=env,
                                 log_path=logs / "python.log")
                assert c["rc"] == 0, c["log"]
                wall = c["wall_s"]
                counts = json.loads(Path(c["log"]).read_text().strip().splitlines()[-1])
                kept[way] = (counts["extract_kept"], counts["annotate_kept"])
            rounds[way].append(round(wall, 2))
            if way != "python":
                kept[way] = (_kept(out / "extract"), _kept(out / "annotate"))
            print(f"round {r + 1} {way:5s}: {wall:6.1f} s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in rounds.items()}
    overhead = med["chain"] - med["python"]
    result = {"bench": "stage_chain", "records": corpus.get("records"), "files": len(files), "rounds": rounds,
              "median_s": med, "chain_speedup": round(med["verbs"] / med["chain"], 3),
              # what Spark costs the chain beyond the same work in plain Python (start-up, scheduling,
              # annotate's Parquet/Arrow round trip), in seconds and as a share of the chain
              "spark_overhead_s": round(overhead, 2), "spark_overhead_share": round(overhead / med["chain"], 3),
              "kept_extract_annotate": kept, "same_output": len(set(kept.values())) == 1}
    print(f"\nextract + annotate on {len(files)} files: two verbs {med['verbs']:.1f} s, one chain {med['chain']:.1f} s "
          f"(median of {args.rounds}) = {result['chain_speedup']:.2f}x; plain Python {med['python']:.1f} s, so Spark "
          f"costs the chain {overhead:.1f} s ({result['spark_overhead_share']:.0%}); kept {kept}", file=sys.stderr)
    emit(result, args.json)


if __name__ == "__main__":
    main()

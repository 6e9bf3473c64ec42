"""Annotate throughput with the default config's classifier steps on vs off (issue 18).

Run from the repository root::

    .venv/bin/python bench/annotate_classifiers.py [WARC ...] [--extract DIR] [--repeat 3] [--json PATH]

Extracts the WARC(s) once (``curate extract``, default config; default input: the archive-it 2008
WARC from ../shared/data, 2.5 MB, ~1,000 records) into ``bench/_work/annotate_classifiers`` (or reuses
``--extract DIR``), then runs the annotate stage's per-partition work (``annotate_batches``: the
steps over Arrow batches, exactly what each Spark task runs) in this process, single core, with

* **on**: the steps of ``spark_jobs/configs/annotate.yaml`` as shipped (heuristics + fast classifier tier),
* **off**: the same list without the ``classifier_score_v1`` / ``*_classifier_v1`` steps,

``--repeat`` times each, alternating; the best time of each counts (steady state: models already
loaded, as in a reused Spark worker), and the first "on" run's extra time (model loading) is printed
on its own. In-process so that Spark start-up and scheduling on a shared 2-core machine do not
blur a difference of seconds. Printed: documents, kept documents (what the classifiers score), both
times, docs/s, and the classifier share of the stage's time ``(on - off) / on`` (goal <= 25 %).
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, WORK_DIR, bench_env, emit, venv_bin

sys.path.insert(0, str(REPO_ROOT))
DEFAULT_WARC = (REPO_ROOT / ".." / "shared" / "data" / "warc" / "archiveit-2008" / "archiveit.warc.gz").resolve()
CLASSIFIER_STEPS = ("classifier_score_v1", "fasttext_classifier_v1", "transformer_classifier_v1")


def extract(warcs: list[str], out: Path, master: str) -> None:
    if (out / "_accounting.json").exists():
        return
    cmd = [venv_bin("curate"), "extract", *warcs, "--output", str(out), "--master", master]
    print("[annotate_classifiers] " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, env=bench_env(), check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)


def run_once(batches, specs, promote) -> tuple[float, int, int]:
    from curation.filters.annotate_task import annotate_batches

    t0 = time.perf_counter()
    n = kept = 0
    for out in annotate_batches(iter(batches), specs=specs, promote=promote):
        n += out.num_rows
        kept += out.column("drop_reason").null_count
    return time.perf_counter() - t0, n, kept


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("warcs", nargs="*", help=f"WARC file(s) (default {DEFAULT_WARC})")
    ap.add_argument("--extract", type=Path, help="an existing extract output to annotate (skips extraction)")
    ap.add_argument("--config", type=Path, default=REPO_ROOT / "spark_jobs" / "configs" / "annotate.yaml")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--json", help="also write the JSON result here")
    args = ap.parse_args(argv)

    import pyarrow.dataset as ds

    from curation import config as configlib
    from curation.filters.annotate_task import AnnotateJobConfig

    if args.extract:
        ex = args.extract
    else:
        warcs = args.warcs or [str(DEFAULT_WARC)]
        missing = [w for w in warcs if not Path(w).exists()]
        if missing:
            print(f"[annotate_classifiers] skipped: {missing[0]} not found", file=sys.stderr)
            return 0
        ex = WORK_DIR / "annotate_classifiers" / "extract"
        if ex.exists() and (ex / "_inputs.txt").exists() and (ex / "_inputs.txt").read_text() != "\n".join(warcs):
            import shutil
            shutil.rmtree(ex)
        ex.parent.mkdir(parents=True, exist_ok=True)
        extract(warcs, ex, args.master)
        (ex / "_inputs.txt").write_text("\n".join(warcs))

    cfg = configlib.load(AnnotateJobConfig, args.config)
    on = tuple(cfg.steps)
    off = tuple(s for s in on if s.name not in CLASSIFIER_STEPS)
    if len(off) == len(on):
        raise SystemExit(f"{args.config} has no classifier step: nothing to compare")
    table = ds.dataset(sorted(str(p) for p in ex.glob("*.parquet")), format="parquet").to_table()
    table = table.filter(ds.field("drop_reason").is_null())  # what annotate's steps see (dropped rows pass through)
    batches = table.to_batches(max_chunksize=cfg.batch_rows)

    times: dict[str, list[float]] = {"on": [], "off": []}
    counts = {}
    for i in range(args.repeat):
        for name, specs in (("off", off), ("on", on)):
            dt, n, kept = run_once(batches, specs, cfg.promote)
            times[name].append(dt)
            counts[name] = (n, kept)
            print(f"[annotate_classifiers] run {i + 1} {name}: {dt:.2f}s ({n} docs, {kept} kept)", file=sys.stderr)
    best_on, best_off = min(times["on"]), min(times["off"])
    docs = counts["off"][0]
    result = {
        "bench": "annotate_classifiers",
        "input": str(ex),
        "config": str(args.config.relative_to(REPO_ROOT) if args.config.is_relative_to(REPO_ROOT) else args.config),
        "classifier_steps": [dict(s.params) for s in on if s.name in CLASSIFIER_STEPS],
        "documents": docs,
        "kept_by_heuristics": counts["off"][1],
        "kept_with_classifiers": counts["on"][1],
        "seconds_off": round(best_off, 3),
        "seconds_on": round(best_on, 3),
        "docs_per_s_off": round(docs / best_off, 1),
        "docs_per_s_on": round(docs / best_on, 1),
        "ratio_on_over_off": round(best_on / best_off, 3),
        "classifier_share_of_stage": round((best_on - best_off) / best_on, 3),
        "first_on_extra_s_model_load": round(times["on"][0] - best_on, 3),
        "runs": {k: [round(t, 3) for t in v] for k, v in times.items()},
    }
    print(f"annotate on {docs} docs ({counts['off'][1]} kept by the heuristics, scored by the classifiers), "
          f"best of {args.repeat}, one core:\n"
          f"  classifiers off: {best_off:.2f}s ({result['docs_per_s_off']} docs/s)\n"
          f"  classifiers on:  {best_on:.2f}s ({result['docs_per_s_on']} docs/s)\n"
          f"  on/off = {result['ratio_on_over_off']}; classifier share of the stage = "
          f"{100 * result['classifier_share_of_stage']:.1f}% (goal <= 25%); first-run model load "
          f"+{result['first_on_extra_s_model_load']:.2f}s", file=sys.stderr)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

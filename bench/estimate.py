"""Validation of ``curate estimate``: predicted vs actual wall time, output bytes, kept records and tokens.

Input: the real pages of ../shared/data/html as WARC/1.0 records, built by bench/scaling.py's
``build_corpus`` (each copy of the ~1,160 pages rewrites ~30% of each page's words, so copies are
neither exact nor near duplicates of each other), ``ceil(records / pages)`` copies in
``--files-per-copy`` gzipped WARC files each (cached under bench/_work/scaling/corpus/), listed in a
manifest. Pipeline (bench/_work/estimate/pipeline.yaml): extract (``--extractor``, resiliparse by
default to keep the full run short on 2 cores), the default annotate steps, dedup (FineWeb's
settings), and with ``--mix`` a mixture whose token budget is 10% of the input's words.

1. ``curate estimate PIPELINE --sample F --output WORK/<records>-records/estimate --json ...`` (the prediction);
2. ``curate run PIPELINE --output WORK/<records>-records/run`` on the whole input (the actual), timed from start to
   exit; per-stage seconds from its summary table, sizes and kept counts from its stage folders
   (measured the way estimate measures its sample runs).

Both with ``--master local[W]``. Printed per stage and in total: predicted, actual, error %;
goal: every figure within ±20%. Dedup's kept counts are upper bounds by design (flagged).

    python bench/estimate.py [--records 20000] [--sample 0.05] [--extractor resiliparse] [--mix] [--json OUT]
    python bench/estimate.py --records 10000 --actual-from OLD.json   # a new estimate against an earlier full run
"""

from __future__ import annotations

import argparse
import json
import math
import os
import re
import shutil
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from _common import DEFAULT_HTML_DIR, WORK_DIR, bench_env, collect_html_pages, emit, run_measured, venv_bin

WORK = WORK_DIR / "estimate"
GOAL = 0.20
_STAGE_LINE = re.compile(r"^\s+(\w+)\s+(ran|skipped)\s+([\d.]+)\s")


def pipeline_yaml(path: Path, extractor: str, mix_tokens: int | None) -> None:
    import yaml

    cfg = {"extract": {"keep_dropped": True, "extract": {"extractor": extractor}},
           "annotate": {"keep_dropped": True},
           "dedup": {},
           "decontaminate": False,
           "mix": False}
    if mix_tokens:
        cfg["mix"] = {"tokenizer": "bundled", "total_tokens": mix_tokens, "seed": 0, "chunk_tokens": 256,
                      "sources": [{"name": "web", "share": 1.0, "max_epochs": 1, "where": "drop_reason IS NULL"}]}
    path.write_text(yaml.safe_dump(cfg, sort_keys=False))


def timed(cmd: list[str], log: Path, timeout: float) -> tuple[int, float]:
    done = run_measured(cmd, env=bench_env(), log_path=log, timeout=timeout)
    rc, wall = done["rc"], done["wall_s"]
    print(f"[estimate] {cmd[1]}: rc={rc} in {wall:.0f} s (log {log})", file=sys.stderr, flush=True)
    return rc, wall


def actual(run_dir: Path, log: Path, wall: float) -> dict:
    """Per stage: seconds (the run's summary table), output bytes, kept records and tokens."""
    from curate.estimate import _folder_bytes, _kept

    seconds = {m.group(1): float(m.group(3)) for m in map(_STAGE_LINE.match, log.read_text(errors="replace").splitlines())
               if m and (run_dir / m.group(1)).is_dir()}
    stages = {}
    for name, s in seconds.items():
        kept, tokens = _kept(str(run_dir / name))
        stages[name] = {"wall_seconds": s, "output_bytes": _folder_bytes(str(run_dir / name)),
                        "kept_records": kept, "kept_tokens": tokens}
    last = stages[list(stages)[-1]] if stages else {}
    total = {"wall_seconds": round(wall, 1), "output_bytes": sum(v["output_bytes"] for v in stages.values()),
             "kept_records": last.get("kept_records"), "kept_tokens": last.get("kept_tokens")}
    return {"stages": stages, "total": total}


def err(pred, act):
    return None if pred is None or not act else round((pred - act) / act, 4)


FIELDS = ("wall_seconds", "output_bytes", "kept_records", "kept_tokens")


def compare(pred: dict, act: dict) -> dict:
    """Predicted vs actual per stage and in total. ``curate run`` starts Spark inside its first stage,
    so that stage's reported seconds include the session start-up, which estimate predicts apart:
    it is added to the first stage's prediction here."""
    rows = {}
    for i, st in enumerate(pred["stages"]):
        name = st["name"]
        if name in act["stages"]:
            whole = {**st["whole"], "wall_seconds": st["whole"]["wall_seconds"] + (pred["startup_seconds"] if i == 0 else 0)}
            rows[name] = {f: {"predicted": whole[f], "actual": act["stages"][name][f],
                              "error": err(whole[f], act["stages"][name][f])} for f in FIELDS}
    rows["total"] = {f: {"predicted": pred["whole"][f], "actual": act["total"][f],
                         "error": err(pred["whole"][f], act["total"][f])} for f in FIELDS}
    return rows


def table(rows: dict) -> str:
    lines = [f"{'stage':<10} " + " ".join(f"{f:>34}" for f in FIELDS),
             f"{'':<10} " + " ".join(f"{'predicted':>12} {'actual':>12} {'err':>8}" for _ in FIELDS)]
    for name, r in rows.items():
        cells = []
        for f in FIELDS:
            e = r[f]["error"]
            cells.append(f"{r[f]['predicted']:>12,.0f} {r[f]['actual']:>12,.0f} "
                         f"{'' if e is None else f'{100 * e:+.1f}%':>8}")
        lines.append(f"{name:<10} " + " ".join(cells))
    return "\n".join(lines)


def analyse(result: dict, pred: dict, act: dict) -> None:
    rows = compare(pred, act)
    result.update(predicted=pred, actual=act, comparison=rows, sampling=pred["sampling"],
                  flags={s["name"]: s["flags"] for s in pred["stages"] if s["flags"]})
    worst = max(abs(v["error"]) for r in rows.values() for v in r.values() if v["error"] is not None)
    total = abs(rows["total"]["wall_seconds"]["error"])
    result["checks"] = [{"check": "worst |error| over stages and figures", "value": worst,
                         "goal": f"<= {GOAL}", "met": worst <= GOAL},
                        {"check": "total wall time |error|", "value": total, "goal": f"<= {GOAL}", "met": total <= GOAL}]
    print(table(rows), file=sys.stderr, flush=True)


def write_manifest(work: Path, files: list[str]) -> Path:
    manifest = work / "inputs.txt"
    manifest.write_text("".join(f + "\n" for f in files))
    return manifest


def run_estimate(pipe: Path, manifest: Path, work: Path, sample: float, master: str,
                 timeout: float) -> tuple[int, float, Path]:
    """``curate estimate`` into a fresh ``work/estimate``: its return code, wall seconds and JSON path."""
    est_dir, est_json = work / "estimate", work / "estimate.json"
    shutil.rmtree(est_dir, ignore_errors=True)
    rc, wall = timed([venv_bin("curate"), "estimate", str(pipe), "--sample", str(sample), "--input", str(manifest),
                      "--output", str(est_dir), "--json", str(est_json), "--master", master],
                     work / "estimate.log", timeout)
    return rc, wall, est_json


def result_head(settings: dict, rc_e: int, wall_e: float, rc_r: int, wall_r: float) -> dict:
    return {"bench": "estimate", "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "machine": {"cpus": os.cpu_count(), "loadavg_1m_end": round(os.getloadavg()[0], 2)},
            "settings": settings, "estimate_rc": rc_e, "estimate_wall_s": round(wall_e, 1), "run_rc": rc_r,
            "run_wall_s": round(wall_r, 1)}


def against_scaling(args) -> int:
    """Estimate the pipeline of a finished bench/scaling.py run on its own input; that run is the actual."""
    import scaling

    path, _, scale = args.against_scaling.rpartition(":")
    sc = json.loads(Path(path).read_text())
    entry = sc["per_scale"][f"{scale}x"]
    run = next(r for r in entry["runs"] if r["rc"] == 0)
    st = sc["settings"]
    infos = scaling.build_corpus(args.data.resolve(), entry["input"]["copies"], st["files_per_copy"], st["perturb"])
    files = [f for i in infos for f in i["files"]]
    work = WORK / f"scaling-x{scale}"
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    manifest = write_manifest(work, files)
    rc, wall, est_json = run_estimate(scaling.WORK / f"pipeline-x{scale}.yaml", manifest, work, args.sample,
                                      st["master"], args.timeout)
    result = result_head({"records": entry["input"]["records"], "warc_files": len(files),
                          "warc_bytes": sum(os.path.getsize(f) for f in files), "sample": args.sample,
                          "extractor": st["extractor"], "stages": st.get("stages"), "master": st["master"],
                          "actual_from": f"{path} ({sc['created']}), {scale}x run {run['tag']}"},
                         rc, wall, 0, run["wall_s"])
    if rc == 0:
        analyse(result, json.loads(est_json.read_text()), actual(Path(run["output"]), Path(run["log"]), run["wall_s"]))
    emit(result, args.json)
    return 0 if rc == 0 else 1


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", type=Path, default=DEFAULT_HTML_DIR, help="HTML pages (default ../shared/data/html)")
    ap.add_argument("--records", type=int, default=20_000, help="at least this many WARC records")
    ap.add_argument("--files-per-copy", type=int, default=10)
    ap.add_argument("--sample", type=float, default=0.05)
    ap.add_argument("--extractor", default="resiliparse", choices=("trafilatura", "resiliparse"))
    ap.add_argument("--mix", action="store_true", help="add a mixture stage (budget: 10%% of the input's words)")
    ap.add_argument("--workers", type=int, default=2, help="local[W]")
    ap.add_argument("--timeout", type=float, default=3600, help="seconds per command")
    ap.add_argument("--json", default=None)
    ap.add_argument("--recompare", metavar="JSON", help="run nothing: recompute the comparison of a result JSON")
    ap.add_argument("--actual-from", metavar="JSON", help="run only the estimate; take the full run's figures from an "
                                                         "earlier result JSON on the same input and pipeline")
    ap.add_argument("--against-scaling", metavar="JSON:SCALE",
                    help="run only the estimate, on the input and pipeline of one bench/scaling.py run (e.g. "
                         "bench/_work/results/scaling-ea.json:4, issue 21's 4x scale bench), and take that run as "
                         "the actual")
    args = ap.parse_args(argv)
    if args.against_scaling:
        return against_scaling(args)
    if args.recompare:
        result = json.loads(Path(args.recompare).read_text())
        analyse(result, result["predicted"], result["actual"])
        emit(result, args.json)
        return 0

    import scaling

    pages = len(collect_html_pages(args.data.resolve()))
    copies = math.ceil(args.records / pages)
    infos = scaling.build_corpus(args.data.resolve(), copies, args.files_per_copy, 0.3)
    files = [f for i in infos for f in i["files"]]
    work = WORK / f"{args.records}-records"
    work.mkdir(parents=True, exist_ok=True)
    manifest = write_manifest(work, files)
    records = sum(i["records"] for i in infos)
    warc_bytes = sum(os.path.getsize(f) for f in files)
    words = sum(i["html_bytes"] for i in infos) // 60  # rough: visible words per HTML byte
    pipe = work / "pipeline.yaml"
    pipeline_yaml(pipe, args.extractor, words // 10 if args.mix else None)
    master = f"local[{args.workers}]"
    t_start = time.perf_counter()

    run_dir = work / "run"
    prior = json.loads(Path(args.actual_from).read_text()) if args.actual_from else None
    if prior is not None:
        same = {k: prior["settings"].get(k) for k in ("records", "warc_bytes", "extractor", "mix", "master")}
        want = {"records": records, "warc_bytes": warc_bytes, "extractor": args.extractor, "mix": args.mix, "master": master}
        if same != want or "actual" not in prior:
            raise SystemExit(f"--actual-from {args.actual_from}: another input or pipeline ({same} != {want})")
    if prior is None:
        shutil.rmtree(run_dir, ignore_errors=True)
    rc_e, wall_e, est_json = run_estimate(pipe, manifest, work, args.sample, master, args.timeout)
    if prior is None:
        rc_r, wall_r = timed([venv_bin("curate"), "run", str(pipe), "--input", str(manifest), "--output", str(run_dir),
                              "--master", master], work / "run.log", args.timeout)
    else:
        rc_r, wall_r = prior["run_rc"], prior["run_wall_s"]
    result = result_head({"records": records, "warc_files": len(files), "warc_bytes": warc_bytes,
                          "sample": args.sample, "extractor": args.extractor, "mix": args.mix, "master": master},
                         rc_e, wall_e, rc_r, wall_r)
    if prior is not None:
        result.update(actual_from=args.actual_from, actual_created=prior.get("created"))
    if rc_e == 0 and rc_r == 0:
        analyse(result, json.loads(est_json.read_text()),
                prior["actual"] if prior is not None else actual(run_dir, work / "run.log", wall_r))
    result["bench_seconds"] = round(time.perf_counter() - t_start, 1)
    emit(result, args.json)
    return 0 if rc_e == 0 and rc_r == 0 else 1


if __name__ == "__main__":
    sys.exit(main())

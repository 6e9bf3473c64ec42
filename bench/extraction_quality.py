"""HTML -> text extraction quality benchmark on real pages with ground truth.

Run from the repository root::

    .venv/bin/python bench/extraction_quality.py [--data DIR] [--limit N] [--json PATH]

Data (default: ``../shared/data/html`` relative to the repository root):

* ``readability/<name>/{source.html, expected.html}`` -- 130 pages from
  mozilla/readability.  Ground truth is the visible text of ``expected.html``
  (the cleaned article), with script/style/comments dropped.
* ``trafilatura-eval/pages/*.html.gz`` + ``trafilatura-eval/evaldata.json`` --
  adbar/trafilatura's evaluation set: ``{url: {file, with: [...], without: [...]}}``.
  An entry is scored when ``pages/<file>.gz`` exists (884 of 990); the others
  are skipped and counted.  ``--include-extra-pages`` also scores the entries
  whose page lies in ``extra-pages/`` instead.

Metrics:

* readability -- bag-of-words token overlap.  Both texts are lower-cased and
  split into ``\\w+`` tokens (i.e. on whitespace and punctuation); the overlap
  is the multiset intersection of the two ``collections.Counter``s.
  Precision = overlap / predicted tokens, recall = overlap / gold tokens.
  Reported micro-averaged over the corpus (sums of overlap / predicted / gold
  over all pages, the headline figure) and as the mean of per-page F1.
* trafilatura-eval -- trafilatura's own snippet metric (tests/comparison.py):
  every "with" snippet found in the output is a true positive, one not found a
  false negative; every "without" snippet found is a false positive, one not
  found a true negative.  Whitespace is collapsed in output and snippets
  before substring matching.  P = TP/(TP+FP), R = TP/(TP+FN),
  F1 = 2PR/(P+R), accuracy = (TP+TN)/all.

Extractors compared:

1. ``plain trafilatura``            -- ``trafilatura.extract(html)``, library defaults (baseline);
2. ``curate default (trafilatura)`` -- ``html_to_text(html, ExtractConfig(extractor="trafilatura"))``;
3. ``curate fast (resiliparse)``    -- ``html_to_text(html, ExtractConfig(extractor="resiliparse"))``.

The page URL (trafilatura-eval only) is passed to every extractor.  An
exception on a page counts as empty output and is reported in the error
column.  Timings cover the extractor call only (not reading/decoding).

Goal checks printed at the end (readability F1 = micro F1; "combined" = mean of
the two corpora's F1):

* curate default F1 >= plain trafilatura F1, per corpus and combined;
* curate fast F1 is not more than 0.05 below curate default F1, per corpus and combined.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "html"
FAST_TOLERANCE = 0.05

if str(REPO_ROOT) not in sys.path:  # run as a script: make `curation` importable without install
    sys.path.insert(0, str(REPO_ROOT))

# An extractor maps (html, url) -> extracted text ('' when nothing).
ExtractFn = Callable[[str, str | None], str]


# --------------------------------------------------------------------------- decoding

def decode_html(data: bytes) -> str:
    """Bytes -> str with the project's own decoder (BOM, meta charset, near-UTF-8, detection)."""
    from curation.extract import decode_html as curate_decode

    return curate_decode(data)[0]


# --------------------------------------------------------------------------- ground truth / metrics

_TOKEN = re.compile(r"\w+")
_BLOCK_TAGS = frozenset(
    "address article aside blockquote br dd details div dl dt figcaption figure footer form h1 h2 h3 h4 h5 h6 "
    "header hr li main nav ol p pre section summary table tbody td tfoot th thead tr ul".split()
)
_HIDDEN_TAGS = frozenset({"script", "style", "noscript", "template"})


def visible_text(html: str) -> str:
    """Visible text of an HTML document or fragment; block elements are separated by newlines."""
    if not html.strip():
        return ""
    doc = lxml.html.document_fromstring(html)
    body = doc.find("body")
    root = body if body is not None else doc
    parts: list[str] = []
    stack: list[tuple[Any, bool]] = [(root, False)]
    while stack:
        node, closing = stack.pop()
        tag = node.tag.lower() if isinstance(node.tag, str) else None
        if closing:
            if tag in _BLOCK_TAGS:
                parts.append("\n")
            if node is not root and node.tail:
                parts.append(node.tail)
            continue
        if tag is None or tag in _HIDDEN_TAGS:  # comments, PIs, scripts: drop content, keep tail
            if node is not root and node.tail:
                parts.append(node.tail)
            continue
        if tag in _BLOCK_TAGS:
            parts.append("\n")
        if node.text:
            parts.append(node.text)
        stack.append((node, True))
        stack.extend((child, False) for child in reversed(node))
    return "".join(parts)


def tokens(text: str) -> Counter[str]:
    return Counter(_TOKEN.findall(text.lower()))


def _prf(tp: int, predicted: int, actual: int) -> tuple[float, float, float]:
    precision = tp / predicted if predicted else 0.0
    recall = tp / actual if actual else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return precision, recall, f1


def normalize_ws(text: str) -> str:
    return " ".join(text.split())


@dataclass
class TokenScores:
    """Bag-of-words overlap, accumulated over pages."""

    overlap: int = 0
    predicted: int = 0
    gold: int = 0
    page_f1: list[float] = field(default_factory=list)

    def add(self, predicted: Counter[str], gold: Counter[str]) -> None:
        overlap = sum((predicted & gold).values())
        n_pred, n_gold = sum(predicted.values()), sum(gold.values())
        self.overlap += overlap
        self.predicted += n_pred
        self.gold += n_gold
        if n_pred == 0 and n_gold == 0:
            self.page_f1.append(1.0)
        else:
            self.page_f1.append(_prf(overlap, n_pred, n_gold)[2])

    def summary(self) -> dict[str, float | int]:
        p, r, f1 = _prf(self.overlap, self.predicted, self.gold)
        mean_f1 = sum(self.page_f1) / len(self.page_f1) if self.page_f1 else 0.0
        return {"pages": len(self.page_f1), "precision": p, "recall": r, "f1": f1, "mean_page_f1": mean_f1}


@dataclass
class SnippetScores:
    """trafilatura's with/without snippet confusion counts."""

    tp: int = 0
    fn: int = 0
    fp: int = 0
    tn: int = 0
    pages: int = 0

    def add(self, text: str, with_: Sequence[str], without: Sequence[str]) -> None:
        self.pages += 1
        for snippet in with_:
            if snippet in text:
                self.tp += 1
            else:
                self.fn += 1
        for snippet in without:
            if snippet in text:
                self.fp += 1
            else:
                self.tn += 1

    def summary(self) -> dict[str, float | int]:
        p = self.tp / (self.tp + self.fp) if self.tp + self.fp else 0.0
        r = self.tp / (self.tp + self.fn) if self.tp + self.fn else 0.0
        f1 = 2 * p * r / (p + r) if p + r else 0.0
        total = self.tp + self.fn + self.fp + self.tn
        acc = (self.tp + self.tn) / total if total else 0.0
        return {"pages": self.pages, "tp": self.tp, "fn": self.fn, "fp": self.fp, "tn": self.tn,
                "precision": p, "recall": r, "f1": f1, "accuracy": acc}


# --------------------------------------------------------------------------- corpora

@dataclass(frozen=True)
class ReadabilityPage:
    name: str
    html: str
    gold: Counter[str]


@dataclass(frozen=True)
class EvalPage:
    url: str
    file: str
    html: str
    with_: tuple[str, ...]
    without: tuple[str, ...]


@dataclass(frozen=True)
class EvalEntry:
    url: str
    path: Path
    with_: tuple[str, ...]
    without: tuple[str, ...]


def readability_dirs(root: Path, limit: int | None) -> list[Path]:
    dirs = sorted(d for d in root.iterdir() if (d / "source.html").is_file() and (d / "expected.html").is_file())
    return dirs[:limit] if limit is not None else dirs


def iter_readability(dirs: Sequence[Path]) -> Iterator[ReadabilityPage]:
    for d in dirs:
        source = decode_html((d / "source.html").read_bytes())
        gold = tokens(visible_text(decode_html((d / "expected.html").read_bytes())))
        yield ReadabilityPage(d.name, source, gold)


def eval_entries(root: Path, limit: int | None, include_extra: bool) -> tuple[list[EvalEntry], int]:
    """Entries of evaldata.json whose page file exists, and the number skipped for a missing file."""
    data: dict[str, dict[str, Any]] = json.loads((root / "evaldata.json").read_text(encoding="utf-8"))
    folders = [root / "pages"] + ([root / "extra-pages"] if include_extra else [])
    entries: list[EvalEntry] = []
    missing = 0
    for url, item in sorted(data.items(), key=lambda kv: kv[1]["file"]):
        path = next((f / f"{item['file']}.gz" for f in folders if (f / f"{item['file']}.gz").is_file()), None)
        if path is None:
            missing += 1
            continue
        entries.append(EvalEntry(url, path, tuple(map(normalize_ws, item["with"])),
                                 tuple(map(normalize_ws, item["without"]))))
    return (entries[:limit] if limit is not None else entries), missing


def iter_eval(entries: Sequence[EvalEntry]) -> Iterator[EvalPage]:
    for e in entries:
        html = decode_html(gzip.decompress(e.path.read_bytes()))
        yield EvalPage(e.url, e.path.name, html, e.with_, e.without)


# --------------------------------------------------------------------------- extractors

BASELINE = "plain trafilatura"
DEFAULT = "curate default (trafilatura)"
FAST = "curate fast (resiliparse)"


def build_extractors() -> dict[str, ExtractFn]:
    """The three compared extractors, keyed by row name (raises ImportError if one is unavailable)."""
    import trafilatura
    from curation.extract import ExtractConfig, html_to_text

    def plain_trafilatura(html: str, url: str | None) -> str:
        return trafilatura.extract(html, url=url) or ""

    def curate(extractor: str) -> ExtractFn:
        cfg = ExtractConfig(extractor=extractor)

        def run(html: str, url: str | None) -> str:
            return html_to_text(html, cfg, url=url) or ""

        return run

    return {BASELINE: plain_trafilatura, DEFAULT: curate("trafilatura"), FAST: curate("resiliparse")}


@dataclass
class ExtractorRun:
    name: str
    fn: ExtractFn
    readability: TokenScores = field(default_factory=TokenScores)
    trafilatura_eval: SnippetScores = field(default_factory=SnippetScores)
    seconds: float = 0.0
    calls: int = 0
    errors: int = 0
    empty: int = 0
    error_samples: list[str] = field(default_factory=list)

    def extract(self, html: str, url: str | None, page_id: str) -> str:
        start = time.perf_counter()
        try:
            text = self.fn(html, url)
        except Exception as exc:  # noqa: BLE001 -- one bad page must not stop the benchmark
            text = ""
            self.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{page_id}: {type(exc).__name__}: {exc}"[:300])
        self.seconds += time.perf_counter() - start
        self.calls += 1
        if not text.strip():
            self.empty += 1
        return text

    def summary(self) -> dict[str, Any]:
        rb, te = self.readability.summary(), self.trafilatura_eval.summary()
        return {
            "pages": self.calls,
            "errors": self.errors,
            "empty_outputs": self.empty,
            "error_samples": self.error_samples,
            "seconds_total": self.seconds,
            "seconds_per_page": self.seconds / self.calls if self.calls else 0.0,
            "readability": rb,
            "trafilatura_eval": te,
            "combined_f1": (float(rb["f1"]) + float(te["f1"])) / 2,
        }


# --------------------------------------------------------------------------- report

def markdown_table(summaries: dict[str, dict[str, Any]]) -> str:
    header = ("| extractor | pages | errors | s/page | RB P | RB R | RB F1 | RB page-F1 "
              "| TE P | TE R | TE F1 | TE acc | mean F1 |")
    lines = [header, "|---|" + "---:|" * 12]
    for name, s in summaries.items():
        rb, te = s["readability"], s["trafilatura_eval"]
        lines.append(
            f"| {name} | {s['pages']} | {s['errors']} | {s['seconds_per_page']:.4f} "
            f"| {rb['precision']:.3f} | {rb['recall']:.3f} | {rb['f1']:.3f} | {rb['mean_page_f1']:.3f} "
            f"| {te['precision']:.3f} | {te['recall']:.3f} | {te['f1']:.3f} | {te['accuracy']:.3f} "
            f"| {s['combined_f1']:.3f} |"
        )
    return "\n".join(lines)


def goal_checks(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    def f1s(name: str) -> dict[str, float]:
        s = summaries[name]
        return {"readability": s["readability"]["f1"], "trafilatura-eval": s["trafilatura_eval"]["f1"],
                "combined": s["combined_f1"]}

    base, default, fast = f1s(BASELINE), f1s(DEFAULT), f1s(FAST)
    checks: list[dict[str, Any]] = []
    for scope in ("readability", "trafilatura-eval", "combined"):
        checks.append({"check": f"default F1 >= plain trafilatura F1 [{scope}]",
                       "value": default[scope], "threshold": base[scope],
                       "passed": default[scope] >= base[scope]})
    for scope in ("readability", "trafilatura-eval", "combined"):
        threshold = default[scope] - FAST_TOLERANCE
        checks.append({"check": f"fast F1 within {FAST_TOLERANCE} of default (>= default - {FAST_TOLERANCE}) "
                                f"[{scope}]",
                       "value": fast[scope], "threshold": threshold, "passed": fast[scope] >= threshold})
    return checks


# --------------------------------------------------------------------------- main

def _versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    out: dict[str, str] = {}
    for pkg in ("trafilatura", "resiliparse", "lxml"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            out[pkg] = "absent"
    return out


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"folder holding readability/ and trafilatura-eval/ (default: {DEFAULT_DATA})")
    ap.add_argument("--limit", type=int, default=None, help="score at most N pages of each corpus")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write all figures to PATH")
    ap.add_argument("--include-extra-pages", action="store_true",
                    help="also score evaldata entries whose page is in trafilatura-eval/extra-pages/")
    args = ap.parse_args(argv)
    if args.limit is not None and args.limit < 1:
        ap.error("--limit must be >= 1")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    data: Path = args.data.resolve()
    rb_root, te_root = data / "readability", data / "trafilatura-eval"
    if not rb_root.is_dir() or not (te_root / "evaldata.json").is_file():
        print(f"error: benchmark data not found under {data}\n"
              f"  expected {rb_root}/<name>/{{source,expected}}.html and {te_root}/evaldata.json + pages/\n"
              f"  (the shared data folder is ../shared/data/html next to the repository; use --data DIR)",
              file=sys.stderr)
        return 2

    try:
        extractors = build_extractors()
    except ImportError as exc:
        print(f"error: cannot import an extractor ({exc}); run with the project venv: "
              f".venv/bin/python bench/extraction_quality.py", file=sys.stderr)
        return 2

    rb_dirs = readability_dirs(rb_root, args.limit)
    te_entries, te_missing = eval_entries(te_root, args.limit, args.include_extra_pages)
    total = len(rb_dirs) + len(te_entries)
    print(f"data: {data}", file=sys.stderr)
    print(f"readability: {len(rb_dirs)} pages; trafilatura-eval: {len(te_entries)} pages "
          f"({te_missing} evaldata entries skipped: no page file)", file=sys.stderr)

    runs = [ExtractorRun(name, fn) for name, fn in extractors.items()]
    started = time.perf_counter()
    done = 0

    def progress() -> None:
        nonlocal done
        done += 1
        if done % 100 == 0 or done == total:
            print(f"  {done}/{total} pages, {time.perf_counter() - started:.0f}s", file=sys.stderr)

    for rp in iter_readability(rb_dirs):
        for run in runs:
            text = run.extract(rp.html, None, f"readability/{rp.name}")
            run.readability.add(tokens(text), rp.gold)
        progress()
    for ep in iter_eval(te_entries):
        for run in runs:
            text = normalize_ws(run.extract(ep.html, ep.url, f"trafilatura-eval/{ep.file}"))
            run.trafilatura_eval.add(text, ep.with_, ep.without)
        progress()

    summaries = {run.name: run.summary() for run in runs}
    checks = goal_checks(summaries)

    print()
    print(f"## Extraction quality ({len(rb_dirs)} readability pages, {len(te_entries)} trafilatura-eval pages"
          f"{f', --limit {args.limit}' if args.limit else ''})")
    print()
    print(markdown_table(summaries))
    print()
    print("RB = readability (token bag-of-words; F1 micro-averaged, page-F1 = mean per-page F1); "
          "TE = trafilatura-eval (with/without snippets); mean F1 = (RB F1 + TE F1) / 2.")
    print(f"trafilatura-eval: {te_missing} evaldata entries skipped (page file absent).")
    for run in runs:
        if run.errors:
            print(f"errors in {run.name}: {run.errors} (first: {run.error_samples[0]})")
    print()
    print("### Goal checks")
    print()
    for c in checks:
        print(f"- {'PASS' if c['passed'] else 'FAIL'}: {c['check']}: {c['value']:.4f} vs {c['threshold']:.4f}")

    if args.json is not None:
        report = {
            "data": str(data),
            "limit": args.limit,
            "include_extra_pages": args.include_extra_pages,
            "versions": _versions(),
            "corpora": {
                "readability": {"pages": len(rb_dirs)},
                "trafilatura_eval": {"pages": len(te_entries), "skipped_missing_file": te_missing},
            },
            "extractors": summaries,
            "checks": checks,
            "all_checks_passed": all(c["passed"] for c in checks),
            "wall_seconds": time.perf_counter() - started,
        }
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

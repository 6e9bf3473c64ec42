"""HTML -> text extraction quality benchmark on real pages with ground truth.

Run from the repository root::

    .venv/bin/python bench/extraction_quality.py [--data DIR] [--corpora LIST] [--limit N] [--json PATH]

``--corpora`` picks among ``readability,trafilatura-eval,wcxb-dev`` (default: all three);
``--limit N`` scores at most the first N pages of each picked corpus.

Data (default: ``../shared/data/html`` relative to the repository root):

* ``readability/<name>/{source.html, expected.html}`` -- 130 pages from
  mozilla/readability.  Ground truth is the visible text of ``expected.html``
  (the cleaned article), with script/style/comments dropped.
* ``trafilatura-eval/pages/*.html.gz`` + ``trafilatura-eval/evaldata.json`` --
  adbar/trafilatura's evaluation set: ``{url: {file, with: [...], without: [...]}}``.
  An entry is scored when ``pages/<file>.gz`` exists (884 of 990); the others
  are skipped and counted.  ``--include-extra-pages`` also scores the entries
  whose page lies in ``extra-pages/`` instead.
* ``wcxb-dev/html/<file_id>.html.gz`` + ``wcxb-dev/ground-truth.jsonl.gz`` -- 847 pages of the
  WCXB benchmark's development split (one JSON line per page: ``{file_id, url, page_type, title,
  main_content, with, without}``, file_id like ``"0014"``), 7 page types: article, forum, service,
  listing, collection, product, documentation.  Ground truth is ``main_content``.  A line whose
  html file is missing is skipped and counted.

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
* wcxb-dev -- WCXB's own metric (its evaluate.py ``word_f1``): the same bag-of-words
  overlap as readability, but per page, and the headline is the mean of per-page F1 over all
  pages and per page type.  Empty texts (no ``\\w+`` token), as in WCXB: gold and output both
  empty -> F1 1; only one of them empty -> F1 0 (an empty output, e.g. an extractor error,
  scores 0 on a page with gold text; any output on a page whose gold is empty scores 0).
  19 of the 847 pages have an empty ``main_content``.  Micro-averaged P/R/F1 are kept in the JSON.
  Speed: pages/s = pages / seconds spent in the extractor call on this corpus.

Extractors compared:

1. ``plain trafilatura``            -- ``trafilatura.extract(html)``, library defaults (baseline);
2. ``curate default (trafilatura)`` -- ``html_to_text(html, ExtractConfig(extractor="trafilatura"))``;
3. ``curate fast (resiliparse)``    -- ``html_to_text(html, ExtractConfig(extractor="resiliparse"))``.

The page URL (trafilatura-eval and wcxb-dev) is passed to every extractor.  An
exception on a page counts as empty output and is reported in the error
column.  Timings cover the extractor call only (not reading/decoding).

Goal checks printed at the end, for the corpora that were run (readability F1 = micro F1;
"combined" = mean of the two article corpora's F1, when both ran):

* curate default F1 >= plain trafilatura F1, per corpus and combined;
* curate fast F1 is not more than 0.05 below curate default F1, per corpus and combined;
* wcxb-dev (issue 19; mean per-page F1): curate default >= plain trafilatura on every page type
  and over all pages; curate default >= 0.80 over all pages and >= 0.80 on forum pages;
  curate fast >= 0.76 over all pages; curate fast pages/s >= 5x curate default pages/s.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import lxml.html

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data" / "html"
FAST_TOLERANCE = 0.05
CORPORA = ("readability", "trafilatura-eval", "wcxb-dev")
#: WCXB page types, in the order of the report's columns (issue 19).
WCXB_TYPES = ("article", "forum", "service", "listing", "collection", "product", "documentation")
WCXB_DEFAULT_MIN = 0.80  # curate default, mean page-F1 over all pages and on forum pages
WCXB_FAST_MIN = 0.76  # curate fast, mean page-F1 over all pages
WCXB_SPEEDUP_MIN = 5.0  # curate fast pages/s / curate default pages/s

if str(REPO_ROOT) not in sys.path:  # run as a script: make `curation` importable without install
    sys.path.insert(0, str(REPO_ROOT))

# An extractor maps (html, url) -> extracted text ('' when nothing).
ExtractFn = Callable[[str, str | None], str]


# --------------------------------------------------------------------------- decoding

def decode_html(data: bytes) -> str:
    """Bytes -> str with the project's own decoder (BOM, meta charset, near-UTF-8, detection)."""
    from curation.ingest.extract import decode_html as curate_decode

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


def _page_f1(overlap: int, predicted: int, actual: int) -> float:
    """One page's F1 from token counts; 1.0 when both texts are empty (WCXB's word_f1)."""
    if predicted == 0 and actual == 0:
        return 1.0
    return _prf(overlap, predicted, actual)[2]


def bow_f1(predicted: str, gold: str) -> float:
    """Bag-of-words F1 of one page's texts (lower-case ``\\w+`` tokens, multiset overlap)."""
    pred, ref = tokens(predicted), tokens(gold)
    return _page_f1(sum((pred & ref).values()), sum(pred.values()), sum(ref.values()))


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
        self.page_f1.append(_page_f1(overlap, n_pred, n_gold))

    @classmethod
    def merged(cls, parts: Iterable[TokenScores]) -> TokenScores:
        out = cls()
        for part in parts:
            out.overlap += part.overlap
            out.predicted += part.predicted
            out.gold += part.gold
            out.page_f1.extend(part.page_f1)
        return out

    def summary(self) -> dict[str, float | int]:
        p, r, f1 = _prf(self.overlap, self.predicted, self.gold)
        mean_f1 = sum(self.page_f1) / len(self.page_f1) if self.page_f1 else 0.0
        return {"pages": len(self.page_f1), "precision": p, "recall": r, "f1": f1, "mean_page_f1": mean_f1}


@dataclass
class PageTypeScores:
    """Bag-of-words overlap per page type (WCXB); the overall figures merge the types."""

    by_type: dict[str, TokenScores] = field(default_factory=dict)

    def add(self, page_type: str, predicted: Counter[str], gold: Counter[str]) -> None:
        self.by_type.setdefault(page_type, TokenScores()).add(predicted, gold)

    def summary(self) -> dict[str, Any]:
        """Overall figures (``mean_page_f1`` is WCXB's headline) plus ``per_type``, known types first."""
        order = [t for t in WCXB_TYPES if t in self.by_type] + sorted(set(self.by_type) - set(WCXB_TYPES))
        out: dict[str, Any] = dict(TokenScores.merged(self.by_type.values()).summary())
        out["per_type"] = {t: self.by_type[t].summary() for t in order}
        return out


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


@dataclass(frozen=True)
class WcxbEntry:
    file_id: str
    url: str | None
    page_type: str
    path: Path
    gold: str  # main_content


@dataclass(frozen=True)
class WcxbPage:
    file_id: str
    url: str | None
    page_type: str
    html: str
    gold: Counter[str]


def wcxb_entries(root: Path, limit: int | None) -> tuple[list[WcxbEntry], int]:
    """Ground-truth lines (by file_id) whose ``html/<file_id>.html.gz`` exists, and the number skipped."""
    entries: list[WcxbEntry] = []
    missing = 0
    with gzip.open(root / "ground-truth.jsonl.gz", "rt", encoding="utf-8") as fh:
        items = [json.loads(line) for line in fh if line.strip()]
    for item in sorted(items, key=lambda it: str(it["file_id"])):
        path = root / "html" / f"{item['file_id']}.html.gz"
        if not path.is_file():
            missing += 1
            continue
        entries.append(WcxbEntry(str(item["file_id"]), item.get("url") or None, item["page_type"], path,
                                 item.get("main_content") or ""))
    return (entries[:limit] if limit is not None else entries), missing


def iter_wcxb(entries: Sequence[WcxbEntry]) -> Iterator[WcxbPage]:
    for e in entries:
        html = decode_html(gzip.decompress(e.path.read_bytes()))
        yield WcxbPage(e.file_id, e.url, e.page_type, html, tokens(e.gold))


# --------------------------------------------------------------------------- extractors

BASELINE = "plain trafilatura"
DEFAULT = "curate default (trafilatura)"
FAST = "curate fast (resiliparse)"


def build_extractors() -> dict[str, ExtractFn]:
    """The three compared extractors, keyed by row name (raises ImportError if one is unavailable)."""
    import trafilatura

    from curation.ingest.extract import ExtractConfig, html_to_text

    def plain_trafilatura(html: str, url: str | None) -> str:
        return trafilatura.extract(html, url=url) or ""

    def curate(extractor: str) -> ExtractFn:
        cfg = ExtractConfig(extractor=extractor)

        def run(html: str, url: str | None) -> str:
            return html_to_text(html, cfg, url=url) or ""

        return run

    return {BASELINE: plain_trafilatura, DEFAULT: curate("trafilatura"), FAST: curate("resiliparse")}


@dataclass
class CallStats:
    """Extractor calls on one corpus: count, seconds in the call, errors, empty outputs."""

    calls: int = 0
    seconds: float = 0.0
    errors: int = 0
    empty: int = 0

    def summary(self) -> dict[str, float | int]:
        return {"pages": self.calls, "errors": self.errors, "empty_outputs": self.empty,
                "seconds": self.seconds, "pages_per_s": self.calls / self.seconds if self.seconds else 0.0}


@dataclass
class ExtractorRun:
    name: str
    fn: ExtractFn
    readability: TokenScores = field(default_factory=TokenScores)
    trafilatura_eval: SnippetScores = field(default_factory=SnippetScores)
    wcxb: PageTypeScores = field(default_factory=PageTypeScores)
    seconds: float = 0.0
    calls: int = 0
    errors: int = 0
    empty: int = 0
    error_samples: list[str] = field(default_factory=list)
    per_corpus: dict[str, CallStats] = field(default_factory=dict)

    def extract(self, html: str, url: str | None, corpus: str, page_id: str) -> str:
        stats = self.per_corpus.setdefault(corpus, CallStats())
        start = time.perf_counter()
        try:
            text = self.fn(html, url)
        except Exception as exc:  # one bad page must not stop the benchmark
            text = ""
            self.errors += 1
            stats.errors += 1
            if len(self.error_samples) < 5:
                self.error_samples.append(f"{corpus}/{page_id}: {type(exc).__name__}: {exc}"[:300])
        elapsed = time.perf_counter() - start
        self.seconds += elapsed
        self.calls += 1
        stats.seconds += elapsed
        stats.calls += 1
        if not text.strip():
            self.empty += 1
            stats.empty += 1
        return text

    def summary(self) -> dict[str, Any]:
        """All figures; a corpus that was not run has no key (nor "combined_f1" unless both article sets ran)."""
        out: dict[str, Any] = {
            "pages": self.calls,
            "errors": self.errors,
            "empty_outputs": self.empty,
            "error_samples": self.error_samples,
            "seconds_total": self.seconds,
            "seconds_per_page": self.seconds / self.calls if self.calls else 0.0,
            "per_corpus": {corpus: stats.summary() for corpus, stats in self.per_corpus.items()},
        }
        if "readability" in self.per_corpus:
            out["readability"] = self.readability.summary()
        if "trafilatura-eval" in self.per_corpus:
            out["trafilatura_eval"] = self.trafilatura_eval.summary()
        if "readability" in out and "trafilatura_eval" in out:
            out["combined_f1"] = (float(out["readability"]["f1"]) + float(out["trafilatura_eval"]["f1"])) / 2
        if "wcxb-dev" in self.per_corpus:
            out["wcxb_dev"] = {**self.wcxb.summary(), **self.per_corpus["wcxb-dev"].summary()}
        return out


# --------------------------------------------------------------------------- report

def _fmt(d: dict[str, Any] | None, key: str, spec: str = ".3f") -> str:
    """One table cell: ``d[key]`` formatted, or an em dash when the corpus / figure is absent."""
    return "—" if d is None or d.get(key) is None else format(d[key], spec)


def markdown_table(summaries: dict[str, dict[str, Any]]) -> str:
    """The two article sets (readability, trafilatura-eval); errors and s/page cover both."""
    header = ("| extractor | pages | errors | s/page | RB P | RB R | RB F1 | RB page-F1 "
              "| TE P | TE R | TE F1 | TE acc | mean F1 |")
    lines = [header, "|---|" + "---:|" * 12]
    for name, s in summaries.items():
        rb, te = s.get("readability"), s.get("trafilatura_eval")
        calls = [s["per_corpus"][c] for c in ("readability", "trafilatura-eval") if c in s["per_corpus"]]
        pages, errors = sum(c["pages"] for c in calls), sum(c["errors"] for c in calls)
        secs = sum(c["seconds"] for c in calls) / pages if pages else 0.0
        lines.append(
            f"| {name} | {pages} | {errors} | {secs:.4f} "
            f"| {_fmt(rb, 'precision')} | {_fmt(rb, 'recall')} | {_fmt(rb, 'f1')} | {_fmt(rb, 'mean_page_f1')} "
            f"| {_fmt(te, 'precision')} | {_fmt(te, 'recall')} | {_fmt(te, 'f1')} | {_fmt(te, 'accuracy')} "
            f"| {_fmt(s, 'combined_f1')} |"
        )
    return "\n".join(lines)


def wcxb_table(summaries: dict[str, dict[str, Any]]) -> str:
    """wcxb-dev in issue 19's layout: mean per-page F1 over all pages and per page type, then pages/s."""
    first = next(iter(summaries.values()))["wcxb_dev"]
    counts = {t: v["pages"] for t, v in first["per_type"].items()}
    types = [t for t in WCXB_TYPES if t in counts] + [t for t in counts if t not in WCXB_TYPES]
    label = {"documentation": "docs"}
    header = (f"| system | all ({first['pages']}) | "
              + " | ".join(f"{label.get(t, t)} ({counts[t]})" for t in types) + " | pages/s | errors |")
    lines = [header, "|---|" + "---:|" * (len(types) + 3)]
    for name, s in summaries.items():
        w = s["wcxb_dev"]
        cells = [_fmt(w, "mean_page_f1")] + [_fmt(w["per_type"].get(t), "mean_page_f1") for t in types]
        lines.append(f"| {name} | " + " | ".join(cells) + f" | {w['pages_per_s']:.1f} | {w['errors']} |")
    return "\n".join(lines)


def _check(name: str, value: float, threshold: float) -> dict[str, Any]:
    return {"check": name, "value": value, "threshold": threshold, "passed": value >= threshold}


def goal_checks(summaries: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """The goal checks for the corpora present in ``summaries`` (see the module docstring)."""
    def f1s(name: str) -> dict[str, float]:
        s = summaries[name]
        out = {}
        if "readability" in s:
            out["readability"] = s["readability"]["f1"]
        if "trafilatura_eval" in s:
            out["trafilatura-eval"] = s["trafilatura_eval"]["f1"]
        if "combined_f1" in s:
            out["combined"] = s["combined_f1"]
        return out

    base, default, fast = f1s(BASELINE), f1s(DEFAULT), f1s(FAST)
    scopes = [sc for sc in ("readability", "trafilatura-eval", "combined") if sc in default]
    checks: list[dict[str, Any]] = []
    for scope in scopes:
        checks.append(_check(f"default F1 >= plain trafilatura F1 [{scope}]", default[scope], base[scope]))
    for scope in scopes:
        checks.append(_check(f"fast F1 within {FAST_TOLERANCE} of default (>= default - {FAST_TOLERANCE}) "
                             f"[{scope}]", fast[scope], default[scope] - FAST_TOLERANCE))
    if "wcxb_dev" in summaries[DEFAULT]:
        wb, wd, wf = (summaries[n]["wcxb_dev"] for n in (BASELINE, DEFAULT, FAST))
        for scope in ["all", *wd["per_type"]]:
            d = wd if scope == "all" else wd["per_type"][scope]
            b = wb if scope == "all" else wb["per_type"][scope]
            checks.append(_check(f"wcxb-dev: default page-F1 >= plain trafilatura [{scope}]",
                                 d["mean_page_f1"], b["mean_page_f1"]))
        checks.append(_check(f"wcxb-dev: default page-F1 >= {WCXB_DEFAULT_MIN} [all]",
                             wd["mean_page_f1"], WCXB_DEFAULT_MIN))
        if "forum" in wd["per_type"]:
            checks.append(_check(f"wcxb-dev: default page-F1 >= {WCXB_DEFAULT_MIN} [forum]",
                                 wd["per_type"]["forum"]["mean_page_f1"], WCXB_DEFAULT_MIN))
        checks.append(_check(f"wcxb-dev: fast page-F1 >= {WCXB_FAST_MIN} [all]", wf["mean_page_f1"], WCXB_FAST_MIN))
        speedup = wf["pages_per_s"] / wd["pages_per_s"] if wd["pages_per_s"] else 0.0
        checks.append({**_check(f"wcxb-dev: fast pages/s >= {WCXB_SPEEDUP_MIN:g}x default pages/s [speed-up]",
                                speedup, WCXB_SPEEDUP_MIN),
                       "fast_pages_per_s": wf["pages_per_s"], "default_pages_per_s": wd["pages_per_s"]})
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


def _corpora_arg(value: str) -> tuple[str, ...]:
    picked = tuple(dict.fromkeys(x.strip() for x in value.split(",") if x.strip()))
    bad = [x for x in picked if x not in CORPORA]
    if bad or not picked:
        raise argparse.ArgumentTypeError(f"unknown corpus {', '.join(bad) or '(none)'}; "
                                         f"choose from {','.join(CORPORA)}")
    return tuple(c for c in CORPORA if c in picked)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA,
                    help=f"folder holding readability/, trafilatura-eval/ and wcxb-dev/ (default: {DEFAULT_DATA})")
    ap.add_argument("--corpora", type=_corpora_arg, default=CORPORA, metavar="LIST",
                    help=f"comma-separated corpora to score (default: {','.join(CORPORA)})")
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
    corpora: tuple[str, ...] = args.corpora
    rb_root, te_root, wx_root = data / "readability", data / "trafilatura-eval", data / "wcxb-dev"
    expected = {
        "readability": (rb_root.is_dir(), f"{rb_root}/<name>/{{source,expected}}.html"),
        "trafilatura-eval": ((te_root / "evaldata.json").is_file(), f"{te_root}/evaldata.json + pages/"),
        "wcxb-dev": ((wx_root / "ground-truth.jsonl.gz").is_file(), f"{wx_root}/ground-truth.jsonl.gz + html/"),
    }
    absent = [where for c, (ok, where) in expected.items() if c in corpora and not ok]
    if absent:
        print(f"error: benchmark data not found under {data}\n"
              + "".join(f"  expected {where}\n" for where in absent)
              + "  (the shared data folder is ../shared/data/html next to the repository; use --data DIR)",
              file=sys.stderr)
        return 2

    try:
        extractors = build_extractors()
    except ImportError as exc:
        print(f"error: cannot import an extractor ({exc}); run with the project venv: "
              f".venv/bin/python bench/extraction_quality.py", file=sys.stderr)
        return 2

    rb_dirs = readability_dirs(rb_root, args.limit) if "readability" in corpora else []
    te_entries, te_missing = (eval_entries(te_root, args.limit, args.include_extra_pages)
                              if "trafilatura-eval" in corpora else ([], 0))
    wx_entries, wx_missing = wcxb_entries(wx_root, args.limit) if "wcxb-dev" in corpora else ([], 0)
    total = len(rb_dirs) + len(te_entries) + len(wx_entries)
    print(f"data: {data}", file=sys.stderr)
    if "readability" in corpora:
        print(f"readability: {len(rb_dirs)} pages", file=sys.stderr)
    if "trafilatura-eval" in corpora:
        print(f"trafilatura-eval: {len(te_entries)} pages ({te_missing} evaldata entries skipped: no page file)",
              file=sys.stderr)
    if "wcxb-dev" in corpora:
        print(f"wcxb-dev: {len(wx_entries)} pages ({wx_missing} ground-truth lines skipped: no html file)",
              file=sys.stderr)

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
            text = run.extract(rp.html, None, "readability", rp.name)
            run.readability.add(tokens(text), rp.gold)
        progress()
    for ep in iter_eval(te_entries):
        for run in runs:
            text = normalize_ws(run.extract(ep.html, ep.url, "trafilatura-eval", ep.file))
            run.trafilatura_eval.add(text, ep.with_, ep.without)
        progress()
    for wp in iter_wcxb(wx_entries):
        for run in runs:
            text = run.extract(wp.html, wp.url, "wcxb-dev", wp.file_id)
            run.wcxb.add(wp.page_type, tokens(text), wp.gold)
        progress()

    summaries = {run.name: run.summary() for run in runs}
    checks = goal_checks(summaries)
    limit_note = f", --limit {args.limit}" if args.limit else ""

    if rb_dirs or te_entries:
        print()
        print(f"## Extraction quality ({len(rb_dirs)} readability pages, {len(te_entries)} trafilatura-eval pages"
              f"{limit_note})")
        print()
        print(markdown_table(summaries))
        print()
        print("RB = readability (token bag-of-words; F1 micro-averaged, page-F1 = mean per-page F1); "
              "TE = trafilatura-eval (with/without snippets); mean F1 = (RB F1 + TE F1) / 2.")
        if "trafilatura-eval" in corpora:
            print(f"trafilatura-eval: {te_missing} evaldata entries skipped (page file absent).")
    if wx_entries:
        print()
        print(f"## WCXB-dev ({len(wx_entries)} pages{limit_note}): mean per-page bag-of-words F1")
        print()
        print(wcxb_table(summaries))
        print()
        print(f"Per-page F1 over lower-case \\w+ tokens (WCXB's word_f1), averaged over the pages of each column; "
              f"pages/s = pages / seconds in the extractor call; errors count as empty output (F1 0). "
              f"plain trafilatura = trafilatura {_versions()['trafilatura']} extract(html, url=url), defaults."
              + (f" {wx_missing} ground-truth lines skipped (html file absent)." if wx_missing else ""))
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
            "corpora_run": list(corpora),
            "include_extra_pages": args.include_extra_pages,
            "versions": _versions(),
            "corpora": {
                **({"readability": {"pages": len(rb_dirs)}} if "readability" in corpora else {}),
                **({"trafilatura_eval": {"pages": len(te_entries), "skipped_missing_file": te_missing}}
                   if "trafilatura-eval" in corpora else {}),
                **({"wcxb_dev": {"pages": len(wx_entries), "skipped_missing_file": wx_missing,
                                 "page_types": dict(Counter(e.page_type for e in wx_entries))}}
                   if "wcxb-dev" in corpora else {}),
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

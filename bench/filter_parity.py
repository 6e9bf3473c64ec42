"""Decision parity and speed of our heuristic filters against datatrove's, on real extracted pages.

Run from the repository root::

    .venv/bin/python bench/filter_parity.py [--json PATH] [--limit N] [--refresh] [--runs 3] [--deep]
                                            [--no-timing]

Input texts: every HTML response of every WARC under ``../shared/data/warc`` (ARC, WET and WAT
files are skipped: they repeat pages of the WARCs), extracted with our pipeline
(``documents_from_file(path, ExtractConfig(extractor="trafilatura"))``, kept records only), plus the
~1,160 pages under ``../shared/data/html`` (readability ``source.html``, trafilatura-eval ``pages`` and
``extra-pages``) through ``decode_html`` + ``html_to_text``. Exact duplicate texts are counted once.
The texts are cached as JSONL in ``bench/_work/filter_parity/`` (``--refresh`` rebuilds them).

Both sides see the same texts, all treated as English (FineWeb's English pipeline):

* **datatrove**: FineWeb's configuration (datatrove ``examples/fineweb.py``):
  ``GopherRepetitionFilter() → GopherQualityFilter() → C4QualityFilter(filter_no_terminal_punct=False)
  → FineWebQualityFilter()``, each called directly with ``.filter(doc)`` on one
  ``datatrove.data.Document`` in sequence (C4 rewrites ``doc.text`` for the next filter);
* **ours**: ``steps.apply`` over ``gopher_repetition_v1 → gopher_quality_v1 →
  c4_quality_v1(filter_no_terminal_punct=False) → fineweb_quality_v1``.

Reported:

* keep/drop agreement (goal >= 98 %) and agreement on the first failing rule (datatrove's reason
  names mapped to ours), with the outcome counts per rule;
* every disagreement, with the deciding metrics computed both ways (ours; and our step code fed
  datatrove's spaCy words and sentence splits, which reproduces datatrove's values), the tokens the
  two tokenizers disagree on, and a one-line why;
* tokenizer parity, the inputs of every rule: texts whose word list equals datatrove's
  ``split_into_words`` exactly, and C4 lines whose sentence count equals ``split_into_sentences``;
* throughput of each side's filter stage only (texts in memory, Document objects built outside the
  timer): one process pinned to one core, a warm-up run, then the median of ``--runs``; wall and CPU
  time (CPU time is less disturbed by other load on the machine); spaCy's load happens before
  timing; our chunk cache is emptied before every run. Goal: ours >= 1.5x datatrove, both ways;
* from one cProfile'd datatrove run, the share of its time in ``split_into_words`` (spaCy tokenizer)
  and in ``split_into_sentences`` (spaCy sentencizer, C4).
"""

from __future__ import annotations

import argparse
import contextlib
import cProfile
import hashlib
import json
import os
import pstats
import statistics
import sys
import time
from collections import Counter
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
if str(REPO_ROOT) not in sys.path:  # run as a script: make `curation` importable without install
    sys.path.insert(0, str(REPO_ROOT))

DATA = REPO_ROOT.parent / "shared" / "data"
WORK = REPO_ROOT / "bench" / "_work" / "filter_parity"
#: Bump when the way texts are built changes, so the cache is rebuilt.
CACHE_VERSION = 1

AGREEMENT_GOAL = 0.98
SPEED_GOAL = 1.5

STEP_ORDER = ["gopher_repetition_v1", "gopher_quality_v1", "c4_quality_v1", "fineweb_quality_v1"]

#: datatrove's reason names, per filter (same position as STEP_ORDER), mapped to ours.
REASON_MAP: list[dict[str, str]] = [
    {"empty": "no_text"},  # gopher repetition: the other names are the same on both sides
    {
        "gopher_short_doc": "too_few_words",
        "gopher_long_doc": "too_many_words",
        "gopher_below_avg_threshold": "short_words",
        "gopher_above_avg_threshold": "long_words",
        "gopher_too_many_hashes": "too_many_hashes",
        "gopher_too_many_ellipsis": "too_many_ellipsis",
        "gopher_too_many_bullets": "too_many_bullets",
        "gopher_too_many_end_ellipsis": "too_many_end_ellipsis",
        "gopher_below_alpha_threshold": "too_few_alpha_words",
        "gopher_enough_stop_words": "too_few_stop_words",
    },
    {},  # c4: lorem_ipsum, curly_bracket, too_few_sentences
    {},  # fineweb: empty, line_punct_ratio, short_line_ratio, char_dup_ratio, list_ratio
]
#: Our reasons that are the same decision under another name.
OUR_ALIASES = {"gopher_quality_v1.no_words": "gopher_quality_v1.too_few_words"}

#: The score behind each of our reasons: (score key, threshold, "min" | "max").
RULE_METRIC: dict[str, tuple[str, float, str]] = {
    "gopher_repetition_v1.dup_para_frac": ("gopher_dup_para_frac", 0.3, "max"),
    "gopher_repetition_v1.dup_para_char_frac": ("gopher_dup_para_char_frac", 0.2, "max"),
    "gopher_repetition_v1.dup_line_frac": ("gopher_dup_line_frac", 0.3, "max"),
    "gopher_repetition_v1.dup_line_char_frac": ("gopher_dup_line_char_frac", 0.2, "max"),
    "gopher_repetition_v1.top_2_gram": ("gopher_top_2_gram_frac", 0.2, "max"),
    "gopher_repetition_v1.top_3_gram": ("gopher_top_3_gram_frac", 0.18, "max"),
    "gopher_repetition_v1.top_4_gram": ("gopher_top_4_gram_frac", 0.16, "max"),
    **{f"gopher_repetition_v1.duplicated_{n}_n_grams": (f"gopher_dup_{n}_gram_frac", t, "max")
       for n, t in {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}.items()},
    "gopher_quality_v1.too_few_words": ("gopher_n_words", 50, "min"),
    "gopher_quality_v1.too_many_words": ("gopher_n_words", 100000, "max"),
    "gopher_quality_v1.short_words": ("gopher_avg_word_length", 3, "min"),
    "gopher_quality_v1.long_words": ("gopher_avg_word_length", 10, "max"),
    "gopher_quality_v1.too_many_hashes": ("gopher_hash_ratio", 0.1, "max"),
    "gopher_quality_v1.too_many_ellipsis": ("gopher_ellipsis_ratio", 0.1, "max"),
    "gopher_quality_v1.too_many_bullets": ("gopher_bullet_lines_ratio", 0.9, "max"),
    "gopher_quality_v1.too_many_end_ellipsis": ("gopher_end_ellipsis_lines_ratio", 0.3, "max"),
    "gopher_quality_v1.too_few_alpha_words": ("gopher_alpha_words_ratio", 0.8, "min"),
    "gopher_quality_v1.too_few_stop_words": ("gopher_stop_words", 2, "min"),
    "c4_quality_v1.too_few_sentences": ("c4_sentences", 5, "min"),
    "fineweb_quality_v1.line_punct_ratio": ("fineweb_line_punct_ratio", 0.12, "min"),
    "fineweb_quality_v1.short_line_ratio": ("fineweb_short_line_ratio", 0.67, "max"),
    "fineweb_quality_v1.char_dup_ratio": ("fineweb_char_dup_ratio", 0.01, "max"),
    "fineweb_quality_v1.list_ratio": ("fineweb_newline_ratio", 0.3, "max"),
}


# ------------------------------------------------------------------------------------- texts


def _warc_files() -> list[Path]:
    out = []
    for p in sorted((DATA / "warc").rglob("*")):
        name = p.name
        if not p.is_file() or ".warc" not in name or name.endswith((".wet.gz", ".wat.gz", ".wet", ".wat")):
            continue  # ARC copies, WET/WAT derivatives of a WARC that is read anyway
        out.append(p)
    return out


def _html_files() -> list[Path]:
    h = DATA / "html"
    return (sorted(h.glob("readability/*/source.html")) + sorted(h.glob("trafilatura-eval/pages/*"))
            + sorted(h.glob("trafilatura-eval/extra-pages/*")))


def _extract_warc(path: str) -> list[dict]:
    from curation.ingest.extract import ExtractConfig
    from curation.ingest.extract_task import documents_from_file

    rel = os.path.relpath(path, DATA)
    return [{"id": f"{rel}@{d.source_offset}", "source": "warc", "text": d.text}
            for d in documents_from_file(path, ExtractConfig(extractor="trafilatura")) if d.drop_reason is None]


def _extract_html(path: str) -> list[dict]:
    import gzip

    from curation.ingest.extract import ExtractConfig, ExtractTimeout, decode_html, html_to_text, time_limit

    cfg = ExtractConfig(extractor="trafilatura")
    raw = Path(path).read_bytes()
    if raw[:2] == b"\x1f\x8b":
        raw = gzip.decompress(raw)
    rel = os.path.relpath(path, DATA)
    try:
        html, _ = decode_html(raw)
        with time_limit(cfg.time_limit_s):
            text = html_to_text(html, cfg)
    except (ExtractTimeout, Exception):  # a page that cannot be extracted is not an input
        return []
    return [{"id": rel, "source": rel.split("/")[1] if rel.startswith("html/trafilatura") else "readability",
             "text": text}] if text else []


def _work(item: tuple[str, str]) -> list[dict]:
    kind, path = item
    return _extract_warc(path) if kind == "warc" else _extract_html(path)


def load_texts(refresh: bool = False, quiet: bool = False) -> tuple[list[dict], dict]:
    """Extracted texts (cached); returns (records, info)."""
    items = [("warc", str(p)) for p in _warc_files()] + [("html", str(p)) for p in _html_files()]
    if not items:
        raise SystemExit(f"no input under {DATA}: check out ../shared/data")
    h = hashlib.sha256(json.dumps(CACHE_VERSION).encode())
    for _, p in items:
        st = os.stat(p)
        h.update(f"{p}\0{st.st_size}\0{st.st_mtime_ns}\n".encode())
    key = h.hexdigest()[:12]
    cache = WORK / f"texts-{key}.jsonl"
    if cache.exists() and not refresh:
        recs = [json.loads(line) for line in cache.open(encoding="utf-8")]
        if not quiet:
            print(f"[texts] reusing {cache.relative_to(REPO_ROOT)} ({len(recs)} texts)", file=sys.stderr)
    else:
        import multiprocessing as mp

        t0 = time.perf_counter()
        with mp.get_context("fork").Pool(max(1, os.cpu_count() or 1)) as pool:
            recs = [r for chunk in pool.imap(_work, items, chunksize=4) for r in chunk]
        WORK.mkdir(parents=True, exist_ok=True)
        tmp = cache.with_suffix(".tmp")
        with tmp.open("w", encoding="utf-8") as f:
            for r in recs:
                f.write(json.dumps(r, ensure_ascii=False) + "\n")
        tmp.rename(cache)
        if not quiet:
            print(f"[texts] extracted {len(recs)} texts from {len(items)} files in "
                  f"{time.perf_counter() - t0:.0f}s -> {cache.relative_to(REPO_ROOT)}", file=sys.stderr)
    seen: set[str] = set()
    out = []
    for r in recs:
        if r["text"] in seen:
            continue
        seen.add(r["text"])
        out.append(r)
    info = {"files_warc": sum(k == "warc" for k, _ in items), "files_html": sum(k == "html" for k, _ in items),
            "texts_extracted": len(recs), "texts_unique": len(out),
            "from_warc": sum(r["source"] == "warc" for r in out)}
    return out, info


# ------------------------------------------------------------------------------------ the two sides


def datatrove_filters() -> list:
    """FineWeb's filter stage, exactly as datatrove's examples/fineweb.py configures it."""
    from datatrove.pipeline.filters import (
        C4QualityFilter,
        FineWebQualityFilter,
        GopherQualityFilter,
        GopherRepetitionFilter,
    )

    return [GopherRepetitionFilter(), GopherQualityFilter(), C4QualityFilter(filter_no_terminal_punct=False),
            FineWebQualityFilter()]


def our_steps() -> list:
    import curation.filters.heuristics  # noqa: F401 - registers the steps
    from curation.filters import steps

    return [steps.create("gopher_repetition_v1"), steps.create("gopher_quality_v1"),
            steps.create("c4_quality_v1", filter_no_terminal_punct=False), steps.create("fineweb_quality_v1")]


def run_datatrove(texts: list[str], filters: list) -> list[str | None]:
    """First failing filter per text, as ``<our step>.<our reason>`` (None = kept)."""
    from datatrove.data import Document as DTDoc

    out: list[str | None] = []
    for i, text in enumerate(texts):
        doc = DTDoc(text=text, id=str(i))
        reason = None
        for k, f in enumerate(filters):
            try:
                r = f.filter(doc)
            except Exception as exc:  # datatrove itself fails on some inputs
                reason = f"{STEP_ORDER[k]}.error:{type(exc).__name__}"
                break
            if r is True:
                continue
            name = r[1] if isinstance(r, tuple) else "filtered"
            reason = f"{STEP_ORDER[k]}.{REASON_MAP[k].get(name, name)}"
            break
        out.append(reason)
    return out


def run_ours(texts: list[str], steps_list: list) -> list:
    from curation.filters import steps
    from curation.schema import Document

    docs = [Document(id=str(i), text=t, lang="en") for i, t in enumerate(texts)]
    return list(steps.apply(docs, steps_list))


def tokenizer_parity(texts: list[str], deep: bool = False) -> dict:
    """Do our words and C4 sentence counts equal datatrove's (spaCy's) exactly?

    Words: every text. Sentences: every line that C4 would count (stripped, >= 3 words), of every
    text with ``deep``, else of the first 300 texts (spaCy's sentencizer is slow).
    """
    from datatrove.utils.text import split_into_sentences, split_into_words

    from curation.filters.heuristics import _count_sentences, words

    same_words, diff_ids = 0, []
    for i, text in enumerate(texts):
        if words(text, "en") == split_into_words(text):
            same_words += 1
        else:
            diff_ids.append(i)
    lines = same_lines = 0
    bad_lines = []
    for text in texts if deep else texts[:300]:
        for line in text.splitlines():
            line = line.strip()
            if len(line.split()) < 3:
                continue
            lines += 1
            a, b = _count_sentences(line), len(split_into_sentences(line))
            if a == b:
                same_lines += 1
            elif len(bad_lines) < 20:
                bad_lines.append({"line": line[:200], "ours": a, "datatrove": b})
    return {"texts": len(texts), "identical_word_lists": same_words, "differing_texts": diff_ids[:50],
            "lines": lines, "lines_same_sentence_count": same_lines, "sentence_count_differences": bad_lines,
            "lines_scope": "all texts" if deep else f"first {min(300, len(texts))} texts"}


def _norm(reason: str | None) -> str | None:
    return OUR_ALIASES.get(reason, reason) if reason else reason


# --------------------------------------------------------------------------- datatrove's metric values


@contextlib.contextmanager
def datatrove_tokenisation():
    """Feed our step code datatrove's spaCy words and sentence splits, so the scores are datatrove's."""
    from datatrove.utils.text import split_into_sentences, split_into_words

    import curation.filters.heuristics as H

    saved = H.words, H._count_sentences
    H.words = lambda text, lang=None: split_into_words(text)
    H._count_sentences = lambda line: len(split_into_sentences(line))
    try:
        yield
    finally:
        H.words, H._count_sentences = saved


def datatrove_scores(text: str, steps_list: list) -> dict[str, float]:
    """All four steps' scores on datatrove's tokens (every step runs, even after a drop)."""
    from curation.schema import Document

    doc = Document(id="x", text=text, lang="en")
    with datatrove_tokenisation():
        for step in steps_list:
            try:
                step(doc)
            except Exception:
                pass
    return doc.scores


def all_scores(text: str, steps_list: list) -> dict[str, float]:
    from curation.schema import Document

    doc = Document(id="x", text=text, lang="en")
    for step in steps_list:
        try:
            step(doc)
        except Exception:
            pass
    return doc.scores


def token_diff(text: str, n: int = 4) -> str:
    """The tokens one tokenizer produces more often than the other (a hint at the cause)."""
    from datatrove.utils.text import split_into_words

    from curation.filters.heuristics import words

    a, b = Counter(words(text, "en")), Counter(split_into_words(text))
    plus = (a - b).most_common(n)
    minus = (b - a).most_common(n)

    def fmt(items):
        return " ".join(f"{t!r}×{c}" for t, c in items) or "-"

    return f"ours+ {fmt(plus)} | dt+ {fmt(minus)}"


def _fmt(v) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return f"{v:.4g}" if isinstance(v, float) else str(v)


def explain(text: str, ours: str | None, dt: str | None, steps_list: list) -> dict:
    """Deciding metrics both ways and a one-line why."""
    s_ours = all_scores(text, steps_list)
    s_dt = datatrove_scores(text, steps_list)
    rules = [r for r in (ours, dt) if r]
    parts, metrics = [], {}
    for rule in dict.fromkeys(rules):
        if rule not in RULE_METRIC:
            continue
        key, thr, kind = RULE_METRIC[rule]
        a, b = s_ours.get(key), s_dt.get(key)
        metrics[key] = {"ours": a, "datatrove": b, "threshold": thr, "kind": kind}
        parts.append(f"{key} ours {_fmt(a)} vs dt {_fmt(b)} ({kind} {_fmt(thr)})")
    why = "; ".join(parts) or "no metric"
    return {"metrics": metrics, "why": why, "tokens": token_diff(text)}


# ------------------------------------------------------------------------------------------ timing


def _pin() -> str:
    try:
        os.sched_setaffinity(0, {0})
        return "core 0"
    except (AttributeError, OSError) as exc:
        return f"not pinned ({exc})"


@contextlib.contextmanager
def spacy_calls(record: dict | None = None, replay: dict | None = None):
    """Record, or replay from memory, every spaCy result datatrove's four filters ask for.

    Replaying gives datatrove's time *without* spaCy, with no profiler overhead (cProfile slows
    Python code far more than spaCy's compiled tokenizer, so its shares lean towards spaCy).
    """
    import datatrove.pipeline.filters.c4_filters as c4
    import datatrove.pipeline.filters.fineweb_quality_filter as fw
    import datatrove.pipeline.filters.gopher_quality_filter as gq
    import datatrove.pipeline.filters.gopher_repetition_filter as gr

    targets = [(gq, "split_into_words"), (gr, "split_into_words"), (fw, "split_into_words"),
               (c4, "split_into_sentences")]
    saved = [getattr(mod, name) for mod, name in targets]
    for (mod, name), fn in zip(targets, saved):
        if replay is not None:
            setattr(mod, name, lambda text, language="en", _n=name: replay[(_n, text)])
        elif record is not None:
            def wrapped(text, language="en", _fn=fn, _n=name):
                out = record[(_n, text)] = _fn(text, language)
                return out
            setattr(mod, name, wrapped)
    try:
        yield
    finally:
        for (mod, name), fn in zip(targets, saved):
            setattr(mod, name, fn)


def profile_datatrove(texts: list[str]) -> dict:
    from datatrove.data import Document as DTDoc
    from datatrove.utils import text as dtext

    filters = datatrove_filters()
    docs = [DTDoc(text=t, id=str(i)) for i, t in enumerate(texts)]
    dtext.split_into_parts.cache_clear()

    def go():
        for doc in docs:
            for f in filters:
                try:
                    if f.filter(doc) is not True:
                        break
                except Exception:
                    break

    prof = cProfile.Profile()
    prof.enable()
    go()
    prof.disable()
    st = pstats.Stats(prof)
    total = sum(v[2] for v in st.stats.values())  # all own time = the profiled run
    cum = {}
    for (file, _, func), v in st.stats.items():
        if file.endswith(os.path.join("datatrove", "utils", "text.py")) and func in ("split_into_words",
                                                                                    "split_into_sentences"):
            cum[func] = cum.get(func, 0) + v[3]
    return {"total_s": total, "split_into_words_s": cum.get("split_into_words", 0.0),
            "split_into_sentences_s": cum.get("split_into_sentences", 0.0)}


# -------------------------------------------------------------------------------------------- main


def _table(headers: list[str], rows: list[list]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(str(c).replace("|", "\\|").replace("\n", " ") for c in r) + " |" for r in rows]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--json", type=Path, help="write the figures here")
    ap.add_argument("--limit", type=int, help="use only the first N texts")
    ap.add_argument("--runs", type=int, default=3, help="timed runs per side (median; default 3)")
    ap.add_argument("--refresh", action="store_true", help="re-extract the texts")
    ap.add_argument("--no-timing", action="store_true", help="parity only")
    ap.add_argument("--deep", action="store_true",
                    help="compare sentence counts on every line of every text (default: first 300 texts)")
    args = ap.parse_args(argv)

    recs, info = load_texts(args.refresh)
    if args.limit:
        recs = recs[: args.limit]
    texts = [r["text"] for r in recs]
    n = len(texts)
    print("# Filter parity: curation.filters.heuristics vs datatrove (FineWeb's filter stage)\n")
    print(f"{n} texts ({info['from_warc']} from {info['files_warc']} WARC files, {n - info['from_warc']} from "
          f"{info['files_html']} HTML pages; {info['texts_extracted'] - info['texts_unique']} exact duplicates "
          f"left out), {sum(map(len, texts)) / 1e6:.1f} M characters, all treated as English.\n")

    # ---- decisions
    filters, steps_list = datatrove_filters(), our_steps()
    dt = run_datatrove(texts, filters)
    ours_docs = run_ours(texts, steps_list)
    ours = [d.drop_reason for d in ours_docs]
    keep_agree = sum((a is None) == (b is None) for a, b in zip(ours, dt))
    rule_agree = sum(_norm(a) == b for a, b in zip(ours, dt))
    both_drop = sum(a is not None and b is not None for a, b in zip(ours, dt))
    both_drop_same = sum(a is not None and _norm(a) == b for a, b in zip(ours, dt))

    print("## Decisions\n")
    rows = [
        ["kept by datatrove", sum(b is None for b in dt), ""],
        ["kept by ours", sum(a is None for a in ours), ""],
        ["keep/drop agreement", f"{keep_agree}/{n} = {keep_agree / n:.2%}",
         "PASS" if keep_agree / n >= AGREEMENT_GOAL else f"FAIL (goal {AGREEMENT_GOAL:.0%})"],
        ["same outcome incl. first failing rule", f"{rule_agree}/{n} = {rule_agree / n:.2%}", ""],
        ["same first failing rule when both drop", f"{both_drop_same}/{both_drop}"
         + (f" = {both_drop_same / both_drop:.2%}" if both_drop else ""), ""],
    ]
    print(_table(["", "value", "goal"], rows))

    outcomes = Counter()
    for a, b in zip(ours, dt):
        outcomes[(b or "kept", _norm(a) or "kept")] += 1
    by_rule_dt = Counter(b or "kept" for b in dt)
    by_rule_ours = Counter(_norm(a) or "kept" for a in ours)
    print("\n## Outcome counts per first failing rule\n")
    keys = sorted(set(by_rule_dt) | set(by_rule_ours), key=lambda k: (-by_rule_dt[k] - by_rule_ours[k], k))
    print(_table(["outcome", "datatrove", "ours"], [[k, by_rule_dt[k], by_rule_ours[k]] for k in keys]))

    disagreements = []
    for i, (a, b) in enumerate(zip(ours, dt)):
        if _norm(a) != b:
            ex = explain(texts[i], a, b, steps_list)
            disagreements.append({"id": recs[i]["id"], "ours": a or "kept", "datatrove": b or "kept",
                                  "keep_drop_differs": (a is None) != (b is None), **ex})
    print(f"\n## Disagreements ({len(disagreements)}; keep/drop differs on "
          f"{sum(d['keep_drop_differs'] for d in disagreements)})\n")
    if disagreements:
        disagreements.sort(key=lambda d: (not d["keep_drop_differs"], d["datatrove"], d["ours"]))
        print(_table(["doc", "datatrove", "ours", "keep/drop", "why (deciding metrics)", "token counts that differ"],
                     [[d["id"], d["datatrove"], d["ours"], "DIFFERS" if d["keep_drop_differs"] else "same",
                       d["why"], d["tokens"]] for d in disagreements]))

    # ---- tokens and sentences, below the decisions
    tp = tokenizer_parity(texts, args.deep)
    print("\n## Tokenizer parity (the inputs of every rule)\n")
    print(_table(["", "identical", "of"], [
        ["texts whose word list equals datatrove's split_into_words", tp["identical_word_lists"], tp["texts"]],
        [f"C4 lines (>= 3 words; {tp['lines_scope']}) with the same sentence count",
         tp["lines_same_sentence_count"], tp["lines"]],
    ]))
    for d in tp["sentence_count_differences"][:10]:
        print(f"- sentences ours {d['ours']} vs datatrove {d['datatrove']}: {d['line']!r}")

    # ---- throughput
    timing = None
    if not args.no_timing:
        from datatrove.data import Document as DTDoc

        from curation.filters import steps as S
        from curation.schema import Document

        pinned = _pin()
        chars = sum(map(len, texts))

        import curation.filters.heuristics as H

        def dt_run():
            docs = [DTDoc(text=t, id=str(i)) for i, t in enumerate(texts)]
            w, c = time.perf_counter(), time.process_time()
            for doc in docs:
                for f in filters:
                    try:
                        if f.filter(doc) is not True:
                            break
                    except Exception:
                        break
            return time.perf_counter() - w, time.process_time() - c

        def ours_run():
            docs = [Document(id=str(i), text=t, lang="en") for i, t in enumerate(texts)]
            H._CHUNKS.clear()  # no head start from earlier runs: each run fills the chunk cache itself
            w, c = time.perf_counter(), time.process_time()
            for _ in S.apply(docs, steps_list):
                pass
            return time.perf_counter() - w, time.process_time() - c

        def measure(fn, warm_up=True):
            if warm_up:
                fn()  # warm-up run (the parity pass above already loaded spaCy and ran both sides once)
            runs = [fn() for _ in range(args.runs)]
            return (statistics.median(r[0] for r in runs), [r[0] for r in runs],
                    statistics.median(r[1] for r in runs), [r[1] for r in runs])

        recorded: dict = {}
        with spacy_calls(record=recorded):
            dt_run()  # datatrove's warm-up run, keeping every spaCy result
        dt_s, dt_all, dt_cpu, dt_cpu_all = measure(dt_run, warm_up=False)
        with spacy_calls(replay=recorded):
            rest_s, rest_all, _, _ = measure(dt_run, warm_up=False)
        recorded.clear()
        ours_s, ours_all, ours_cpu, ours_cpu_all = measure(ours_run)
        prof = profile_datatrove(texts)
        ratio, cpu_ratio = dt_s / ours_s, dt_cpu / ours_cpu
        print(f"\n## Throughput (filter stage only, texts in memory, one process pinned to {pinned}, "
              f"a warm-up run then the median of {args.runs})\n")
        print(_table(["side", "median wall s", "runs wall s", "docs/s (wall)", "median CPU s", "docs/s (CPU)",
                      "MB/s (wall)"], [
            ["datatrove (spaCy words + sentences)", f"{dt_s:.2f}", " ".join(f"{t:.2f}" for t in dt_all),
             f"{n / dt_s:,.0f}", f"{dt_cpu:.2f}", f"{n / dt_cpu:,.0f}", f"{chars / dt_s / 1e6:.2f}"],
            ["ours (curation.filters.heuristics)", f"{ours_s:.2f}", " ".join(f"{t:.2f}" for t in ours_all),
             f"{n / ours_s:,.0f}", f"{ours_cpu:.2f}", f"{n / ours_cpu:,.0f}", f"{chars / ours_s / 1e6:.2f}"],
        ]))
        words_share = prof["split_into_words_s"] / prof["total_s"]
        sent_share = prof["split_into_sentences_s"] / prof["total_s"]
        verdict = "PASS" if min(ratio, cpu_ratio) >= SPEED_GOAL else "FAIL"
        print(f"\nspeed-up ours vs datatrove: **{ratio:.2f}×** wall, **{cpu_ratio:.2f}×** CPU time "
              f"({verdict}, goal ≥ {SPEED_GOAL}×). Our chunk cache is emptied before every run.\n")
        print(f"cProfile of one datatrove run ({prof['total_s']:.1f}s under the profiler): split_into_words "
              f"(spaCy tokenizer pipeline) {words_share:.1%}, split_into_sentences (spaCy sentencizer, C4 lines) "
              f"{sent_share:.1%}; spaCy in all: {words_share + sent_share:.1%}.\n")
        replay_share = 1 - rest_s / dt_s
        print(f"Without a profiler: datatrove with every spaCy result replayed from memory takes {rest_s:.2f}s "
              f"(median; runs {' '.join(f'{t:.2f}' for t in rest_all)}) instead of {dt_s:.2f}s, so spaCy is "
              f"{replay_share:.1%} of its filter time; the rest ({rest_s:.2f}s) is the rule code both sides "
              f"share (datatrove's n-gram helpers) or mirror.")
        timing = {"pinned": pinned, "runs": args.runs,
                  "datatrove_wall_s": dt_s, "datatrove_wall_runs_s": dt_all, "datatrove_cpu_s": dt_cpu,
                  "datatrove_cpu_runs_s": dt_cpu_all, "ours_wall_s": ours_s, "ours_wall_runs_s": ours_all,
                  "ours_cpu_s": ours_cpu, "ours_cpu_runs_s": ours_cpu_all,
                  "datatrove_docs_per_s": n / dt_s, "ours_docs_per_s": n / ours_s,
                  "datatrove_docs_per_cpu_s": n / dt_cpu, "ours_docs_per_cpu_s": n / ours_cpu,
                  "speedup_wall": ratio, "speedup_cpu": cpu_ratio, "speed_goal": SPEED_GOAL,
                  "profile": prof, "split_into_words_share": words_share,
                  "datatrove_without_spacy_s": rest_s, "datatrove_without_spacy_runs_s": rest_all,
                  "spacy_share_by_replay": replay_share,
                  "split_into_sentences_share": sent_share}

    if args.json:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps({
            "texts": info | {"used": n, "chars": sum(map(len, texts))},
            "kept_datatrove": sum(b is None for b in dt), "kept_ours": sum(a is None for a in ours),
            "keep_drop_agreement": keep_agree / n, "rule_agreement": rule_agree / n,
            "both_drop": both_drop, "both_drop_same_rule": both_drop_same,
            "agreement_goal": AGREEMENT_GOAL,
            "outcomes": {f"{k[0]} -> {k[1]}": v for k, v in sorted(outcomes.items())},
            "disagreements": disagreements, "tokenizer_parity": tp, "timing": timing,
        }, indent=2, ensure_ascii=False))
        print(f"\nfigures written to {args.json}")
    ok = keep_agree / n >= AGREEMENT_GOAL and (timing is None or min(timing["speedup_wall"],
                                                                    timing["speedup_cpu"]) >= SPEED_GOAL)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())

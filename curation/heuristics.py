"""Heuristic quality filters: Gopher quality + repetition, C4 line/document rules, FineWeb's extras.

The rules, their order and their default thresholds are datatrove's (FineWeb's pipeline), and the
repetition helpers (``find_duplicates``, ``find_top_duplicate``, ``find_all_duplicate``) and
constant lists are imported from datatrove, not copied. What differs:

* **Every metric is recorded as a score** (``gopher_n_words``, ``gopher_alpha_words_ratio``, …), not
  only the yes/no, so thresholds can be re-tuned afterwards with a DuckDB query.
* **Word tokenisation**: datatrove spends most of its filter time in spaCy's tokenizer. We use one
  compiled regex that reproduces spaCy's English splitting on the cases the rules are sensitive to
  (punctuation runs, hyphens, contractions, URLs, abbreviations) and share its result between the
  steps of one document. Decision parity with datatrove is measured by bench/filter_parity.py.
* **C4 sentence counting** stops once ``min_num_sentences`` is reached (the rule only compares it).
* **Languages without spaces** (ja, zh, th, …): each CJK/Thai character counts as a word and the
  rules that assume space-separated words (average word length, English stop words) are skipped.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import ClassVar

from datatrove.pipeline.filters.c4_filters import CITATION_REGEX, ELLIPSIS, END_PUNCTUATION, POLICY_SUBSTRINGS
from datatrove.pipeline.filters.gopher_quality_filter import STOP_WORDS
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate, find_duplicates, find_top_duplicate
from datatrove.utils.text import PUNCTUATION_SET, TERMINAL_PUNCTUATION

from curation.schema import Document
from curation.steps import register

#: Languages whose words are not separated by spaces.
UNSPACED_LANGUAGES = frozenset({"ja", "zh", "th", "lo", "km", "my", "bo", "wuu", "yue"})

_TOKEN = re.compile(
    r"""https?://\S+|www\.\S+            # URLs stay one token
    | \w+(?=n't\b) | n't\b               # don't -> do n't
    | (?<=\w)['’](?:s|re|ve|ll|d|m)\b    # it's -> it 's
    | \d+(?:[.,:]\d+)+                   # 3.14, 1,000, 10:30
    | \w+(?:\.\w+)+\.?                   # U.S.A., e.g.
    | \w+
    | ([^\w\s])\1*                       # punctuation runs: ..., --, !!!
    """,
    re.X,
)
_UNSPACED_CHAR = re.compile(r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_SENTENCE_END = re.compile(r"""[.!?…。！？]+['"’”)\]]*(?=\s|$)""")
_PARAGRAPHS = re.compile(r"\n{2,}")
_LINES = re.compile(r"\n+")

_last: tuple[int, str, bool, list[str]] | None = None


def words(text: str, lang: str | None = None) -> list[str]:
    """Word tokens; the last result is cached because several steps tokenise the same text."""
    global _last
    unspaced = lang in UNSPACED_LANGUAGES
    if _last is not None and _last[0] == id(text) and _last[1] is text and _last[2] == unspaced:
        return _last[3]
    out = [m.group(0) for m in _TOKEN.finditer(text)]
    if unspaced:
        out = [piece for tok in out for piece in (_split_unspaced(tok) if _UNSPACED_CHAR.search(tok) else [tok])]
    _last = (id(text), text, unspaced, out)
    return out


def _split_unspaced(token: str) -> list[str]:
    return [c for c in re.findall(r"[\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]|[^\u0e00-\u0eff\u0f00-\u0fff\u1000-\u109f\u1780-\u17ff\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]+", token)]


def _count_sentences(line: str) -> int:
    return max(1, len(_SENTENCE_END.findall(line)))


def _is_unspaced(doc: Document) -> bool:
    return doc.lang in UNSPACED_LANGUAGES


def _n_grams(tokens: list[str], n: int) -> list[str]:
    return [" ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


@register("gopher_quality_v1")
@dataclass
class GopherQuality:
    """Gopher quality rules (Rae et al. 2021, Table A1), datatrove's order and defaults."""

    name: ClassVar[str] = "gopher_quality_v1"
    min_doc_words: int | None = 50
    max_doc_words: int | None = 100000
    min_avg_word_length: float | None = 3
    max_avg_word_length: float | None = 10
    max_symbol_word_ratio: float | None = 0.1
    max_bullet_lines_ratio: float | None = 0.9
    max_ellipsis_lines_ratio: float | None = 0.3
    max_non_alpha_words_ratio: float | None = 0.8  # datatrove's name: minimum share of words with a letter
    min_stop_words: int | None = 2
    #: Stop words per language; languages not listed skip the stop-word rule.
    stop_words: dict[str, list[str]] | None = None

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        toks = words(text, doc.lang)
        n_words = len(toks)
        content = [w for w in toks if any(ch not in PUNCTUATION_SET for ch in w)]
        n_content = len(content)
        s = doc.scores
        s["gopher_n_words"] = float(n_content)
        if not n_words or not n_content:
            return "no_words"
        avg_len = sum(len(w) for w in content) / n_content
        lines = text.splitlines() or [""]
        hash_ratio = text.count("#") / n_words
        ellipsis_ratio = (text.count("...") + text.count("…")) / n_words
        bullet_ratio = sum(ln.lstrip().startswith(("•", "-")) for ln in lines) / len(lines)
        end_ellipsis_ratio = sum(ln.rstrip().endswith(("...", "…")) for ln in lines) / len(lines)
        alpha_ratio = sum(any(c.isalpha() for c in w) for w in toks) / n_words
        s.update(gopher_avg_word_length=avg_len, gopher_hash_ratio=hash_ratio, gopher_ellipsis_ratio=ellipsis_ratio,
                 gopher_bullet_lines_ratio=bullet_ratio, gopher_end_ellipsis_lines_ratio=end_ellipsis_ratio,
                 gopher_alpha_words_ratio=alpha_ratio)
        stops = self._stop_words(doc.lang)
        if stops is not None:
            s["gopher_stop_words"] = float(len(stops.intersection(toks)))

        if self.min_doc_words and n_content < self.min_doc_words:
            return "too_few_words"
        if self.max_doc_words and n_content > self.max_doc_words:
            return "too_many_words"
        if not _is_unspaced(doc):
            if self.min_avg_word_length and avg_len < self.min_avg_word_length:
                return "short_words"
            if self.max_avg_word_length and avg_len > self.max_avg_word_length:
                return "long_words"
        if self.max_symbol_word_ratio and hash_ratio > self.max_symbol_word_ratio:
            return "too_many_hashes"
        if self.max_symbol_word_ratio and ellipsis_ratio > self.max_symbol_word_ratio:
            return "too_many_ellipsis"
        if self.max_bullet_lines_ratio and bullet_ratio > self.max_bullet_lines_ratio:
            return "too_many_bullets"
        if self.max_ellipsis_lines_ratio and end_ellipsis_ratio > self.max_ellipsis_lines_ratio:
            return "too_many_end_ellipsis"
        if self.max_non_alpha_words_ratio and alpha_ratio < self.max_non_alpha_words_ratio:
            return "too_few_alpha_words"
        if self.min_stop_words and stops is not None and s["gopher_stop_words"] < self.min_stop_words:
            return "too_few_stop_words"
        return None

    def _stop_words(self, lang: str | None) -> set[str] | None:
        table = self.stop_words if self.stop_words is not None else {"en": STOP_WORDS}
        # Untagged documents (no language ID ran) are treated as English, as datatrove does.
        found = table.get(lang or "en")
        return set(found) if found is not None else None


@register("gopher_repetition_v1")
@dataclass
class GopherRepetition:
    """Gopher repetition rules: duplicate lines/paragraphs and repeated n-grams (character shares)."""

    name: ClassVar[str] = "gopher_repetition_v1"
    dup_line_frac: float | None = 0.3
    dup_para_frac: float | None = 0.3
    dup_line_char_frac: float | None = 0.2
    dup_para_char_frac: float | None = 0.2
    top_n_grams: dict[int, float] | None = None  # default {2: 0.2, 3: 0.18, 4: 0.16}
    dup_n_grams: dict[int, float] | None = None  # default {5: 0.15, 6: 0.14, ..., 10: 0.10}

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        if not text:
            return "no_text"
        s = doc.scores
        n_chars = len(text)
        paragraphs = _PARAGRAPHS.split(text.strip())
        para_dups, para_dup_chars = find_duplicates(paragraphs)
        lines = _LINES.split(text)
        line_dups, line_dup_chars = find_duplicates(lines)
        s.update(gopher_dup_para_frac=para_dups / len(paragraphs), gopher_dup_para_char_frac=para_dup_chars / n_chars,
                 gopher_dup_line_frac=line_dups / len(lines), gopher_dup_line_char_frac=line_dup_chars / n_chars)
        if self.dup_para_frac and s["gopher_dup_para_frac"] > self.dup_para_frac:
            return "dup_para_frac"
        if self.dup_para_char_frac and s["gopher_dup_para_char_frac"] > self.dup_para_char_frac:
            return "dup_para_char_frac"
        if self.dup_line_frac and s["gopher_dup_line_frac"] > self.dup_line_frac:
            return "dup_line_frac"
        if self.dup_line_char_frac and s["gopher_dup_line_char_frac"] > self.dup_line_char_frac:
            return "dup_line_char_frac"
        toks = words(text, doc.lang)
        top = self.top_n_grams if self.top_n_grams is not None else {2: 0.2, 3: 0.18, 4: 0.16}
        for n, frac in sorted(top.items()):
            grams = _n_grams(toks, n)
            if not grams:
                continue
            ratio = find_top_duplicate(grams) / n_chars
            s[f"gopher_top_{n}_gram_frac"] = ratio
            if ratio > frac:
                return f"top_{n}_gram"
        dup = self.dup_n_grams if self.dup_n_grams is not None else {5: 0.15, 6: 0.14, 7: 0.13, 8: 0.12, 9: 0.11, 10: 0.10}
        for n, frac in sorted(dup.items()):
            ratio = find_all_duplicate(toks, n) / n_chars
            s[f"gopher_dup_{n}_gram_frac"] = ratio
            if ratio > frac:
                return f"duplicated_{n}_n_grams"
        return None


@register("c4_quality_v1")
@dataclass
class C4Quality:
    """C4's line rules (lines are removed from the text) and document rules (the page is dropped)."""

    name: ClassVar[str] = "c4_quality_v1"
    remove_citations: bool = True
    filter_no_terminal_punct: bool = True
    min_num_sentences: int = 5  # -1 disables
    min_words_per_line: int = 3  # -1 disables
    max_word_length: int = 1000  # -1 disables
    filter_lorem_ipsum: bool = True
    filter_javascript: bool = True
    filter_curly_bracket: bool = True
    filter_policy: bool = True

    def __call__(self, doc: Document) -> str | None:
        lines = doc.text.splitlines()
        kept: list[str] = []
        sentences = 0
        unspaced = _is_unspaced(doc)
        for line in lines:
            line = line.strip()
            # Without spaces between words, count words the way the other rules do (per character).
            toks = words(line, doc.lang) if unspaced else line.split()
            if self.max_word_length != -1 and any(len(w) > self.max_word_length for w in toks):
                continue
            if self.remove_citations:
                line = CITATION_REGEX.sub("", line)
            if self.filter_no_terminal_punct and (not line.endswith(END_PUNCTUATION) or line.endswith(ELLIPSIS)):
                continue
            if len(toks) < self.min_words_per_line:
                continue
            lower = line.lower()
            if self.filter_lorem_ipsum and "lorem ipsum" in lower:
                return "lorem_ipsum"
            if self.filter_javascript and "javascript" in lower:
                continue
            if self.filter_curly_bracket and "{" in line:
                return "curly_bracket"
            if self.filter_policy and any(p in lower for p in POLICY_SUBSTRINGS):
                continue
            if self.min_num_sentences != -1 and sentences < self.min_num_sentences:
                sentences += _count_sentences(line)
            kept.append(line)
        doc.scores["c4_lines_kept_frac"] = len(kept) / len(lines) if lines else 0.0
        doc.scores["c4_sentences"] = float(sentences)
        if sentences < self.min_num_sentences:
            return "too_few_sentences"
        doc.text = "\n".join(kept).strip()
        return None


@register("fineweb_quality_v1")
@dataclass
class FineWebQuality:
    """FineWeb's additional rules: line punctuation, short lines, duplicated line characters, list ratio."""

    name: ClassVar[str] = "fineweb_quality_v1"
    line_punct_thr: float = 0.12
    line_punct_exclude_zero: bool = False
    short_line_thr: float = 0.67
    short_line_length: int = 30
    char_duplicates_ratio: float = 0.01
    new_line_ratio: float = 0.3

    def __call__(self, doc: Document) -> str | None:
        text = doc.text
        lines = [ln for ln in text.split("\n") if ln.strip() != ""]
        if not lines:
            return "empty"
        s = doc.scores
        punct = sum(1 for ln in lines if ln.endswith(tuple(TERMINAL_PUNCTUATION))) / len(lines)
        short = sum(1 for ln in lines if len(ln) <= self.short_line_length) / len(lines)
        dup_chars = find_duplicates(lines)[1] / max(1, len(text.replace("\n", "")))
        toks = words(text, doc.lang)
        newline = text.count("\n") / max(1, len(toks))
        s.update(fineweb_line_punct_ratio=punct, fineweb_short_line_ratio=short,
                 fineweb_char_dup_ratio=dup_chars, fineweb_newline_ratio=newline)
        if punct < self.line_punct_thr and not (punct == 0 and self.line_punct_exclude_zero):
            return "line_punct_ratio"
        if short > self.short_line_thr:
            return "short_line_ratio"
        if dup_chars > self.char_duplicates_ratio:
            return "char_dup_ratio"
        if newline > self.new_line_ratio:
            return "list_ratio"
        return None

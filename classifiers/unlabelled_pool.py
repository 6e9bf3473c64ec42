"""The unlabelled pool a fastText tier is distilled on: distinct real web texts from ``../shared/data``.

Sources (text only; no label in them is used):

* ``labels/fineweb-edu-llm/train.jsonl``: the FineWeb documents the teacher was trained on (their
  LLM scores are ignored: the fastText student learns the *teacher's* grades, on every source alike);
* the HTML responses of every WARC/ARC under ``warc/`` and the pages under ``html/readability`` and
  ``html/trafilatura-eval``, extracted exactly as the quality recipes extract web text
  (:func:`classifiers.training_data._web_pages_whole`: resiliparse, 5 s per page);
* ``html/wcxb-dev`` pages, extracted with the same extractor settings;
* ``corpora/cc-ccnet-head`` documents.

Evaluation data never enters the pool: every text whose normalised hash equals one of
``labels/fineweb-edu-llm/val.jsonl`` or ``labels/dclm-human-quality-dev.jsonl`` is dropped (and
:func:`build_pool` asserts none is left), so the distilled model's val/DCLM figures stay honest.

Texts shorter than :data:`MIN_CHARS` are dropped, duplicates (same normalised hash) kept once, and
the pool is ordered by that hash: deterministic, independent of source order, and any prefix is an
unbiased sample, which is what ``cap`` takes (teacher labelling costs ~0.5 s per document).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from classifiers.training_data import (
    MIN_CHARS,
    TRAINING_TIME_LIMIT_S,
    _ccnet,
    _web_pages_whole,
    html_file_texts,
    normalize,
)

#: Evaluation sets (relative to the shared data folder) that must never be in the pool.
EXCLUDED = ("labels/fineweb-edu-llm/val.jsonl", "labels/dclm-human-quality-dev.jsonl")
FINEWEB_TRAIN = "labels/fineweb-edu-llm/train.jsonl"


def text_hash(text: str) -> str:
    """The pool's identity of a text: sha1 of its normalised form (case, punctuation spacing and
    whitespace do not make two copies of a page distinct)."""
    return hashlib.sha1(normalize(text).encode("utf-8")).hexdigest()


def _jsonl_texts(path: Path) -> Iterator[str]:
    with open(path, encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                text = json.loads(line).get("text")
                if isinstance(text, str):
                    yield text


def _wcxb(data: Path) -> Iterator[str]:
    """WCXB dev pages through the same extractor settings as :func:`_web_pages_whole`."""
    from curation.ingest.extract import ExtractConfig

    cfg = ExtractConfig(extractor="resiliparse", time_limit_s=TRAINING_TIME_LIMIT_S)
    yield from html_file_texts(sorted((data / "html" / "wcxb-dev" / "html").glob("*.html*")), cfg)


def source_readers(data: Path) -> dict[str, Iterable[str]]:
    return {
        "fineweb_train": _jsonl_texts(data / FINEWEB_TRAIN),
        "web": _web_pages_whole(data, None),
        "wcxb_dev": _wcxb(data),
        "ccnet_head": _ccnet(data / "corpora" / "cc-ccnet-head"),
    }


def excluded_hashes(data: str | Path) -> set[str]:
    data = Path(data)
    out: set[str] = set()
    for rel in EXCLUDED:
        p = data / rel
        if not p.is_file():
            # without the evaluation files the exclusion cannot be proven: refuse rather than leak
            raise FileNotFoundError(f"evaluation file not found (needed to exclude it from the pool): {p}")
        out.update(text_hash(t) for t in _jsonl_texts(p))
    return out


@dataclass
class Pool:
    texts: list[str]
    hashes: list[str]
    sources: list[str]
    info: dict = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)


def pool_sha256(hashes: Iterable[str]) -> str:
    """sha256 over the ordered text hashes: names exactly which texts, in which order, were used."""
    h = hashlib.sha256()
    for x in hashes:
        h.update(x.encode("ascii") + b"\n")
    return h.hexdigest()


def build_pool(data: str | Path, cap: int | None = None, min_chars: int = MIN_CHARS) -> Pool:
    """The distinct texts of every source, evaluation texts removed, in hash order, first ``cap``."""
    data = Path(data)
    if not data.is_dir():
        raise FileNotFoundError(f"shared data folder not found: {data}")
    banned = excluded_hashes(data)
    seen: dict[str, tuple[str, str]] = {}
    counts: dict[str, dict[str, int]] = {}
    for name, texts in source_readers(data).items():
        c = counts.setdefault(name, {"read": 0, "short": 0, "excluded": 0, "duplicate": 0, "kept": 0})
        for text in texts:
            c["read"] += 1
            if len(text.strip()) < min_chars:
                c["short"] += 1
                continue
            h = text_hash(text)
            if h in banned:
                c["excluded"] += 1
            elif h in seen:
                c["duplicate"] += 1
            else:
                seen[h] = (text, name)
                c["kept"] += 1
    order = sorted(seen)
    if cap is not None:
        order = order[:max(0, int(cap))]
    assert not banned.intersection(order), "evaluation texts left in the pool"
    pool = Pool([seen[h][0] for h in order], order, [seen[h][1] for h in order])
    per_source: dict[str, int] = {}
    for s in pool.sources:
        per_source[s] = per_source.get(s, 0) + 1
    pool.info = {"n": len(pool), "sha256": pool_sha256(order), "cap": cap, "min_chars": min_chars,
                 "distinct_before_cap": len(seen), "excluded_eval_sets": list(EXCLUDED),
                 "sources": counts, "per_source_in_pool": per_source,
                 "order": "sha1(normalize(text)) ascending"}
    return pool


def read_pool_file(path: str | Path, cap: int | None = None, min_chars: int = MIN_CHARS,
                   exclude_from: str | Path | None = None) -> Pool:
    """A user pool: ``{text, ...}`` JSONL rows, deduplicated and ordered like :func:`build_pool`;
    with ``exclude_from`` (a shared data folder) the evaluation texts are dropped as well."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"pool file not found: {p}")
    banned = excluded_hashes(exclude_from) if exclude_from is not None else set()
    seen: dict[str, str] = {}
    n = short = excl = 0
    from classifiers.graded_labels import iter_jsonl

    for where, row in iter_jsonl(p):
        text = row.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where}: every row needs a string 'text'")
        n += 1
        if len(text.strip()) < min_chars:
            short += 1
            continue
        h = text_hash(text)
        if h in banned:
            excl += 1
            continue
        seen.setdefault(h, text)
    order = sorted(seen)[:cap] if cap is not None else sorted(seen)
    pool = Pool([seen[h] for h in order], order, ["file"] * len(order))
    pool.info = {"n": len(pool), "sha256": pool_sha256(order), "cap": cap, "min_chars": min_chars,
                 "file": str(p), "rows": n, "short": short, "excluded": excl,
                 "excluded_eval_sets": list(EXCLUDED) if exclude_from is not None else [],
                 "order": "sha1(normalize(text)) ascending"}
    return pool

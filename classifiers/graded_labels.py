"""Graded labels (an LLM's 0-5 scores) read and checked for training: ``{id?, text, score}`` rows.

Two layouts reach the same :class:`GradedLabels`:

* a labels file that carries the text (``{id?, text, score}``, the FineWeb-Edu annotation layout);
* ``curate label`` output (``id, educational_value, reasoning_density, ..., error``, no text) joined to
  its documents (``--docs``: ``id, text``) by ``id``. The ``labels`` recipe (two classes at a
  threshold) reads through here too, so both recipes join and check labels the same way.

Why strict: a regression head learns whatever the numbers say, so a string score, a 7 on a 0-5
scale, an empty text or the same id twice (an annotation run appended to itself) would be learned
silently. Each is a one-line :class:`LabelFileError` naming ``file:line`` (the row for Parquet).
Rows whose ``error`` field is set (a failed ``curate label`` request) carry no score by design:
they are left out and counted, as are labels whose id is not among ``--docs``.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from curation.errors import CurateError

SCORE_MIN, SCORE_MAX = 0.0, 5.0


class LabelFileError(CurateError, ValueError):
    """A labels or documents file that cannot be trained on (one line, exit 2)."""


@dataclass(frozen=True)
class GradedLabels:
    """Documents with a numeric target, in file order."""

    texts: list[str]
    scores: list[float]
    ids: list[str | None]
    path: Path
    target: str
    #: sha256 over (id, text, score) as used, so meta.json pins the training data exactly.
    sha256: str
    skipped: dict[str, int] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.texts)

    def info(self) -> dict:
        return {"labels_file": str(self.path), "target": self.target, "sha256": self.sha256, "n": len(self),
                "score_counts": _counts(self.scores), "skipped": dict(self.skipped)}


def _counts(scores: list[float]) -> dict[str, int]:
    out: dict[str, int] = {}
    for s in scores:
        key = str(int(s)) if float(s).is_integer() else "other"
        out[key] = out.get(key, 0) + 1
    return dict(sorted(out.items()))


def iter_rows(path: Path) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(where, row)`` for each row of a ``.jsonl`` (``file:line``) or ``.parquet`` (``file:row N``)."""
    if not path.is_file():
        raise FileNotFoundError(f"file not found: {path}")
    name = path.name.lower()
    if name.endswith((".parquet", ".pq")):
        import pyarrow.parquet as pq

        try:
            table = pq.read_table(path)
        except Exception as exc:  # pyarrow raises several types for a bad file
            raise LabelFileError(f"{path}: not a readable Parquet file ({str(exc).splitlines()[0][:200]})") from exc
        for i, row in enumerate(table.to_pylist(), 1):
            yield f"{path}:row {i}", row
        return
    if not name.endswith((".jsonl", ".json", ".ndjson")):
        raise LabelFileError(f"{path}: unsupported format (use .jsonl or .parquet)")
    yield from iter_jsonl(path)


def iter_jsonl(path: Path, replace_undecodable: bool = False) -> Iterator[tuple[str, dict[str, Any]]]:
    """``(file:line, row)`` for each non-blank line of a JSONL file; a line that is not UTF-8 (unless
    ``replace_undecodable``: bytes become U+FFFD), not JSON or not an object is a
    :class:`LabelFileError` naming ``file:line``."""
    with Path(path).open("rb") as fh:
        for n, raw in enumerate(fh, 1):
            where = f"{path}:{n}"
            try:
                line = raw.decode("utf-8", errors="replace" if replace_undecodable else "strict")
            except UnicodeDecodeError:
                raise LabelFileError(f"{where}: not UTF-8") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except ValueError as exc:
                raise LabelFileError(f"{where}: invalid JSON ({exc})") from None
            if not isinstance(row, dict):
                raise LabelFileError(f"{where}: expected a JSON object, got {type(row).__name__}")
            yield where, row


def _score(row: dict, target: str, where: str) -> float:
    if target not in row or row[target] is None:
        raise LabelFileError(f"{where}: missing score '{target}'")
    v = row[target]
    # bool is an int in Python; "3" is a string: both mean the file is not what we think it is
    if isinstance(v, bool) or not isinstance(v, (int, float)):
        raise LabelFileError(f"{where}: score '{target}' is not a number ({json.dumps(v)[:40]})")
    v = float(v)
    if not math.isfinite(v) or not SCORE_MIN <= v <= SCORE_MAX:
        raise LabelFileError(f"{where}: score '{target}' {v:g} is outside [{SCORE_MIN:g}, {SCORE_MAX:g}]")
    return v


def _text(v: Any, where: str) -> str:
    if not isinstance(v, str):
        raise LabelFileError(f"{where}: 'text' is {'missing' if v is None else type(v).__name__}, not a string")
    if not v.strip():
        raise LabelFileError(f"{where}: 'text' is empty")
    return v


def _id(row: dict) -> str | None:
    v = row.get("id")
    return None if v is None else str(v)


def read_docs(path: Path) -> dict[str, tuple[str, str]]:
    """``{id: (where, text)}`` from a documents file; duplicate ids are an error."""
    docs: dict[str, tuple[str, str]] = {}
    for where, row in iter_rows(path):
        i = _id(row)
        if i is None:
            raise LabelFileError(f"{where}: document without an 'id' (needed to join labels)")
        if i in docs:
            raise LabelFileError(f"{where}: duplicate id {i!r} (first at {docs[i][0]})")
        docs[i] = (where, row.get("text"))
    return docs


def default_target(docs: Path | None) -> str:
    """``score`` for a labels file with text, ``educational_value`` for ``curate label`` output."""
    return "educational_value" if docs is not None else "score"


def read_graded(labels: str | Path, target: str | None = None, docs: str | Path | None = None) -> GradedLabels:
    """Read, check and (with ``docs``) join a graded labels file; see the module docstring."""
    path = Path(labels)
    docs_path = Path(docs) if docs is not None else None
    target = target or default_target(docs_path)
    by_id = read_docs(docs_path) if docs_path is not None else None
    texts: list[str] = []
    scores: list[float] = []
    ids: list[str | None] = []
    seen: dict[str, str] = {}
    skipped = {"error_rows": 0, "not_in_docs": 0}
    digest = hashlib.sha256()
    for where, row in iter_rows(path):
        if row.get("error"):  # a failed `curate label` request: no score by design
            skipped["error_rows"] += 1
            continue
        i = _id(row)
        if i is not None:
            if i in seen:
                raise LabelFileError(f"{where}: duplicate id {i!r} (first at {seen[i]})")
            seen[i] = where
        score = _score(row, target, where)
        if by_id is None:
            text = _text(row.get("text"), where)
        else:
            if i is None:
                raise LabelFileError(f"{where}: label without an 'id' (needed to join {docs_path})")
            if i not in by_id:
                skipped["not_in_docs"] += 1
                continue
            doc_where, text = by_id[i]
            text = _text(text, doc_where)
        texts.append(text)
        scores.append(score)
        ids.append(i)
        digest.update(json.dumps([i, text, score], ensure_ascii=False).encode("utf-8") + b"\n")
    if not texts:
        raise LabelFileError(f"{path}: no labelled documents with a '{target}' score"
                             + (f" matching an id in {docs_path}" if docs_path is not None else ""))
    return GradedLabels(texts, scores, ids, path, target, digest.hexdigest(),
                        {k: v for k, v in skipped.items() if v})

"""Web-rewrite seeds: the best reasoning-dense passages of top documents, kept per topic.

phi-4 generated its web rewrites from organic seeds and amplified non-STEM content because its
quality classifier over-indexed on STEM. Here top documents are split into passages, every passage
is scored by a reasoning classifier and labelled by a topic classifier (any `curate
train-classifier` model directories), and the best ``per_topic`` passages of *each* topic are
kept, so a topic cannot be crowded out by STEM however its scores compare.

    curate seeds --input DOCS --reasoning-model M1 --topic-model M2 --output seeds.parquet
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from curation.errors import report

_BLANK = re.compile(r"\n\s*\n")


@dataclass(frozen=True)
class Passage:
    doc_id: str
    index: int
    text: str


def passages(doc_id: str, text: str | None, min_words: int = 60, max_words: int = 300) -> list[Passage]:
    """Paragraph-aligned passages of ``min_words``–``max_words`` words (short tails are merged)."""
    out: list[Passage] = []
    buf: list[str] = []
    n = 0
    paras = [p.strip() for p in _BLANK.split(text or "") if p.strip()]
    if len(paras) <= 1:  # extracted web text: one block per line
        paras = [p.strip() for p in (text or "").splitlines() if p.strip()]
    for para in paras:
        words = len(para.split())
        if n and n + words > max_words:
            if n >= min_words:
                out.append(Passage(doc_id, len(out), "\n".join(buf)))
                buf, n = [], 0
        buf.append(para)
        n += words
    if buf and n >= min_words:
        out.append(Passage(doc_id, len(out), "\n".join(buf)))
    elif buf and out:  # a short tail joins the last passage
        last = out[-1]
        out[-1] = Passage(doc_id, last.index, last.text + "\n" + "\n".join(buf))
    return out


def topic_labels(model, texts: list[str]) -> list[str]:
    """The most probable class of each text, without ``__label__``."""
    from classifiers import fasttext_model

    if isinstance(model, fasttext_model.QualityModel):
        probs = fasttext_model.probabilities(model, texts)
        classes = [c.removeprefix("__label__") for c in model.classes]
        return [classes[j] for j in probs.argmax(axis=1)] if len(texts) else []
    positive = (model.meta.get("labels") or {}).get("positive", "__label__stem").removeprefix("__label__")
    return [positive if p >= 0.5 else f"non_{positive}" for p in model.score(texts)]


def select_seeds(rows: Iterable[dict], reasoning_model, topic_model, per_topic: int = 1000) -> list[dict]:
    """Seeds from ``rows`` (dicts with ``id`` and ``text``): top ``per_topic`` passages per topic
    by reasoning score (ties by document id and passage index, so the result is deterministic)."""
    ps = [p for r in rows for p in passages(str(r["id"]), r.get("text"))]
    if not ps:
        return []
    texts = [p.text for p in ps]
    scores = np.asarray(reasoning_model.score(texts), dtype=np.float64)
    topics = topic_labels(topic_model, texts)
    by_topic: dict[str, list[int]] = {}
    for i, t in enumerate(topics):
        by_topic.setdefault(t, []).append(i)
    out = []
    for topic in sorted(by_topic):
        best = sorted(by_topic[topic], key=lambda i: (-scores[i], ps[i].doc_id, ps[i].index))[:per_topic]
        for rank, i in enumerate(best):
            out.append({"doc_id": ps[i].doc_id, "passage": ps[i].index, "topic": topic, "topic_rank": rank,
                        "reasoning_score": float(scores[i]), "words": len(ps[i].text.split()), "text": ps[i].text})
    return out


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--input", required=True, help="top documents: .parquet or .jsonl with id and text")
    p.add_argument("--reasoning-model", required=True, help="model directory scoring reasoning density")
    p.add_argument("--topic-model", required=True, help="topic model directory (e.g. --recipe topic)")
    p.add_argument("--output", required=True, help="seeds table (.parquet)")
    p.add_argument("--per-topic", type=int, default=1000, help="passages kept per topic")
    p.add_argument("--where", default="drop_reason IS NULL", help="DuckDB condition on the input rows (Parquet input)")


def run(args: argparse.Namespace) -> int:
    import duckdb
    import pyarrow as pa
    import pyarrow.parquet as pq

    from classifiers import loading
    from curation.schema import PARQUET_WRITE_OPTIONS

    try:
        src = Path(args.input)
        if not src.exists():
            raise FileNotFoundError(f"input not found: {src}")
        reader = "read_parquet" if src.suffix == ".parquet" or src.is_dir() else "read_json_auto"
        pattern = str(src / "*.parquet") if src.is_dir() else str(src)
        con = duckdb.connect()
        try:
            cols = [d[0] for d in con.execute(f"SELECT * FROM {reader}(?) LIMIT 0", [pattern]).description]
            where = args.where if "drop_reason" in cols or args.where != "drop_reason IS NULL" else "TRUE"
            rows = [{"id": i, "text": t} for i, t in con.execute(f"SELECT id, text FROM {reader}(?) WHERE {where}", [pattern]).fetchall()]
        except duckdb.Error as exc:
            raise ValueError(f"cannot read {src}: {str(exc).splitlines()[0]}") from exc
        finally:
            con.close()
        seeds = select_seeds(rows, loading.load(args.reasoning_model), loading.load(args.topic_model), args.per_topic)
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(seeds) if seeds else pa.table({"doc_id": pa.array([], pa.string())}), out,
                       **PARQUET_WRITE_OPTIONS)
    except (FileNotFoundError, ValueError, OSError) as exc:
        return report("seeds", exc)
    topics = sorted({s["topic"] for s in seeds})
    print(f"{len(seeds)} seed passages from {len(rows)} documents, topics: {', '.join(topics) or '-'} -> {out}")
    return 0

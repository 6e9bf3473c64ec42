"""The mix stage's per-batch work: count each document's tokens, cut long ones into chunks, key them.

``spark_jobs/mix.py`` runs :func:`count_batches` inside ``mapInArrow`` (one Arrow batch at a time);
the planner and the sampler (:mod:`curation.mixture.plan`, :mod:`curation.mixture.sample`) work on
what it returns. Pure Python: tests call it directly.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import pyarrow as pa

from curation.mixture.sample import BINS, doc_key
from curation.mixture.tokens import load_tokenizer, valid_text


def chunk_document(doc_id: str, text: str, starts: list[int], size: int) -> list[tuple[str, str, int]]:
    """``(id, text, tokens)`` pieces of at most ``size`` tokens, cut where a token starts
    (``starts``: each token's first character offset)."""
    if size <= 0 or len(starts) <= size:
        return [(doc_id, text, len(starts))]
    out = []
    for k, start in enumerate(range(0, len(starts), size)):
        end = min(start + size, len(starts))
        a = 0 if start == 0 else starts[start]
        b = len(text) if end == len(starts) else starts[end]
        out.append((f"{doc_id}#{k}", text[a:b], end - start))
    return out


#: Characters of text encoded at once by count_batches (see there).
ENCODE_CHARS = 128_000


def _slices(texts: list[str], max_chars: int) -> Iterator[tuple[int, int]]:
    """``[lo, hi)`` ranges of consecutive texts of at most ``max_chars`` characters (one text may exceed it)."""
    lo, size = 0, 0
    for i, t in enumerate(texts):
        if i > lo and size + len(t) > max_chars:
            yield lo, i
            lo, size = i, 0
        size += len(t)
    if lo < len(texts):
        yield lo, len(texts)


def count_batches(batches: Iterator[pa.RecordBatch], tokenizer: str, seed: int, chunk_tokens: int = 0) -> Iterator[pa.RecordBatch]:
    """id, text → id, text, n_tokens, u (seeded key), bin (histogram bin of u); documents over
    ``chunk_tokens`` tokens become several rows."""
    tok = load_tokenizer(tokenizer)
    for batch in batches:
        ids, texts, counts = [], [], []
        texts_in = [valid_text(t or "") for t in batch.column("text").to_pylist()]
        ids_in = batch.column("id").to_pylist()
        # Encoded in slices of ~ENCODE_CHARS: a tokenizer's per-token objects (ids, offsets, token
        # strings) take ~100x the text's size, so a whole 2 MiB Arrow batch at once made a worker's
        # peak memory depend on how token-dense its worst batch was.
        for lo, hi in _slices(texts_in, ENCODE_CHARS):
            part = texts_in[lo:hi]
            if chunk_tokens > 0:
                encodings = tok.encode_with_starts(part)
            else:  # counts only: no offsets to compute
                encodings = [(e, range(len(e))) for e in tok.encode_batch(part)]
            for doc_id, text, (_, starts) in zip(ids_in[lo:hi], part, encodings):
                for cid, ctext, n in chunk_document(str(doc_id), text, list(starts), chunk_tokens):
                    ids.append(cid)
                    texts.append(ctext)
                    counts.append(n)
            del encodings
        n = np.asarray(counts, dtype=np.int64)
        u = np.fromiter((doc_key(seed, i) for i in ids), dtype=np.float64, count=len(ids))
        b = np.minimum((u * BINS).astype(np.int64), BINS - 1)
        yield pa.RecordBatch.from_arrays(
            [pa.array(ids, pa.string()), pa.array(texts, pa.string()), pa.array(n), pa.array(u), pa.array(b)],
            names=["id", "text", "n_tokens", "u", "bin"])

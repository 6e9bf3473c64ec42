"""Deterministic sampling with repetition to an exact token budget (the mixer's core).

A source with ``U`` unique tokens and a budget ``B`` gets every document ``floor(B / U)`` times,
then the remaining ``B - floor(B / U) * U`` tokens from a seeded-hash prefix of its documents:
each document gets a uniform key ``u = hash(seed, id)`` in [0, 1), and the prefix ends where the
cumulative tokens in ``u`` order reach the remainder. The same seed always picks the same
documents, whatever the partitioning.

The cut is found from a histogram of tokens over ``BINS`` equal ``u`` bins (a groupBy in Spark,
``BINS`` rows to the driver — never the documents), then inside the boundary bin by exact ``u``
order; so the budget is met to within one document's tokens.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

BINS = 10_000


def doc_key(seed: int, doc_id: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, id)."""
    h = hashlib.blake2b(f"{seed}\x00{doc_id}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return int.from_bytes(h, "big") / 2.0 ** 64


def doc_keys(seed: int, ids: Iterable[str]) -> np.ndarray:
    return np.fromiter((doc_key(seed, i) for i in ids), dtype=np.float64)


@dataclass(frozen=True)
class Cut:
    """Documents with ``u < threshold`` are taken once more on top of ``full_epochs`` copies."""

    full_epochs: int
    threshold: float
    remainder_tokens: int


def find_cut(bin_tokens: np.ndarray, boundary: tuple[np.ndarray, np.ndarray] | None, unique_tokens: int,
             budget: int) -> Cut:
    """The cut from the token histogram (``bin_tokens[b]`` = tokens of documents in bin b) and,
    once the boundary bin is known, that bin's documents as ``(u, tokens)``. Call with
    ``boundary=None`` first to learn which bin to fetch (``Cut.threshold`` is then the bin's start)."""
    if unique_tokens <= 0:
        raise ValueError("a source without tokens cannot be sampled")
    full, rest = divmod(int(budget), int(unique_tokens))
    if rest == 0:
        return Cut(full, 0.0, 0)
    cum = np.cumsum(bin_tokens)
    b = int(np.searchsorted(cum, rest, side="left"))  # first bin whose cumulative reaches rest
    before = int(cum[b - 1]) if b > 0 else 0
    start = b / len(bin_tokens)
    if boundary is None:
        return Cut(full, start, rest)
    us, toks = boundary
    order = np.argsort(us, kind="stable")
    need = rest - before
    c = np.cumsum(np.asarray(toks)[order])
    k = int(np.searchsorted(c, need, side="left"))  # take documents 0..k (inclusive) of the bin
    if k >= len(order):
        return Cut(full, (b + 1) / len(bin_tokens), rest)
    # take the k-th document too when that lands closer to the budget than stopping before it
    prev = int(c[k - 1]) if k > 0 else 0
    take = k + 1 if abs(int(c[k]) - need) <= abs(need - prev) else k
    threshold = float(np.asarray(us)[order][take]) if take < len(order) else (b + 1) / len(bin_tokens)
    return Cut(full, threshold, rest)


def histogram(u: np.ndarray, tokens: np.ndarray, bins: int = BINS) -> np.ndarray:
    idx = np.minimum((u * bins).astype(np.int64), bins - 1)
    return np.bincount(idx, weights=tokens, minlength=bins).astype(np.int64)


def repeats(u: np.ndarray, tokens: np.ndarray, budget: int, bins: int = BINS) -> np.ndarray:
    """Copies of each document so the source contributes ``budget`` tokens (pure-Python reference
    of what the Spark sampler does; tests compare the two)."""
    tokens = np.asarray(tokens, dtype=np.int64)
    hist = histogram(u, tokens, bins)
    first = find_cut(hist, None, int(tokens.sum()), budget)
    if first.remainder_tokens == 0:
        return np.full(len(u), first.full_epochs, dtype=np.int64)
    b = min(int(first.threshold * bins), bins - 1)
    in_bin = np.minimum((u * bins).astype(np.int64), bins - 1) == b
    cut = find_cut(hist, (u[in_bin], tokens[in_bin]), int(tokens.sum()), budget)
    return cut.full_epochs + (u < cut.threshold).astype(np.int64)

"""Gopher's n-gram repetition measures, exactly as datatrove computes them, without its per-n-gram joins.

datatrove's ``find_all_duplicate`` and ``find_top_duplicate`` (gopher_repetition_filter.py) build a
Python string for every n-gram of a document, for n = 2..4 and again for n = 5..10: on the bench's
real pages they were ~40% of the annotate stage's time. This module returns the same integers:

* **top n-gram** (``" ".join`` n-grams, ``Counter.most_common(1)``): tokens never contain
  whitespace (they come from ``str.split`` chunks), so two joined n-grams are equal exactly when their
  token sequences are. Tokens become integer ids and each n-gram one integer (its ids as digits in
  base vocabulary size; rows of an (m, n) array when that overflows int64), and ``numpy.unique``
  counts them exactly. A tie goes to the n-gram seen first, as
  ``most_common(1)`` (``max`` over insertion order) does.
* **all duplicated n-grams** (``"".join`` n-grams, no separator: ``("ab", "c")`` equals ``("a",
  "bc")``): each n-gram is the substring ``S[off[i]:off[i+n]]`` of the document's concatenated
  tokens, hashed in O(1) from prefix sums (a polynomial hash mod 2^64, vectorised). Distinct hashes
  prove distinct strings, so a document whose n-gram hashes are all distinct has no duplicate and
  scores 0 without a loop. Otherwise datatrove's loop runs over the hashes, and every hit is
  confirmed by comparing the two substrings. A hash collision between different strings (a hostile
  input can force one: mod 2^64 polynomial hashes collide on Thue-Morse strings) is never trusted:
  the document is scored by datatrove's own function instead.

Parity with datatrove is tested on real documents and on constructed collisions
(tests/test_repetition.py).
"""

from __future__ import annotations

import numpy as np
from datatrove.pipeline.filters.gopher_repetition_filter import find_all_duplicate as _datatrove_all_duplicate

_BASE = np.uint64(0x100000001B3)  # odd, so invertible mod 2^64
_BASE_INV = np.uint64(pow(0x100000001B3, -1, 2**64))


class NGramIndex:
    """One document's tokens, prepared once for every n."""

    def __init__(self, tokens: list[str]):
        self.tokens = tokens
        self.text = "".join(tokens)
        lengths = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        self.offsets = np.concatenate(([0], np.cumsum(lengths)))
        self._ids: np.ndarray | None = None
        self._prefix: tuple[np.ndarray, np.ndarray] | None = None

    # -- "".join n-grams ---------------------------------------------------------------------------
    def _hashes(self, n: int) -> np.ndarray:
        """Polynomial hash (mod 2^64) of every n-gram's concatenated string, from prefix sums:
        h(l, r) = B^r (Q[r] - Q[l]) with Q[k] = sum_{i<k} c_i B^-(i+1) equals sum_{l<=i<r} c_i B^(r-1-i)."""
        if self._prefix is None:
            codes = np.frombuffer(self.text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)
            k = len(codes)
            with np.errstate(over="ignore"):
                inv = np.cumprod(np.full(k, _BASE_INV, dtype=np.uint64))  # B^-(i+1)
                powers = np.concatenate(([np.uint64(1)], np.cumprod(np.full(k, _BASE, dtype=np.uint64))))  # B^k
                prefix = np.concatenate(([np.uint64(0)], np.cumsum(codes * inv, dtype=np.uint64)))
            self._prefix = (prefix, powers)
        prefix, powers = self._prefix
        left, right = self.offsets[:-n], self.offsets[n:]
        with np.errstate(over="ignore"):
            return powers[right] * (prefix[right] - prefix[left])

    def all_duplicate_chars(self, n: int) -> int:
        """datatrove's ``find_all_duplicate(tokens, n)``."""
        m = len(self.tokens) - n + 1
        if m <= 0:
            return 0
        hashes = self._hashes(n)
        if np.unique(hashes).size == m:
            return 0  # all n-gram strings distinct: the loop below would never find one
        keys, off, text = hashes.tolist(), self.offsets.tolist(), self.text
        first: dict[int, int] = {}
        repeated, idx = 0, 0
        while idx < m:
            seen = first.get(keys[idx])
            if seen is None:
                first[keys[idx]] = idx
                idx += 1
                continue
            a, b, c, d = off[idx], off[idx + n], off[seen], off[seen + n]
            if b - a != d - c or text[a:b] != text[c:d]:
                return _datatrove_all_duplicate(self.tokens, n)  # a hash collision: trust only the original
            repeated += b - a
            idx += n
        return repeated

    # -- " ".join n-grams --------------------------------------------------------------------------
    def top_duplicate_chars(self, n: int) -> int:
        """datatrove's ``find_top_duplicate(get_n_grams(tokens, n))``; 0 when there is no n-gram."""
        m = len(self.tokens) - n + 1
        if m <= 0:
            return 0
        if self._ids is None:
            vocab: dict[str, int] = {}
            self._ids = np.fromiter((vocab.setdefault(t, len(vocab)) for t in self.tokens), dtype=np.int64,
                                    count=len(self.tokens))
        vocab = int(self._ids.max()) + 1
        if vocab ** n < 2**63:  # each n-gram as one integer (base-vocab digits): a 1-d unique, ~20x faster
            keys = np.zeros(m, dtype=np.int64)
            for k in range(n):
                keys = keys * vocab + self._ids[k : k + m]
        else:  # too many distinct tokens for one int64: unique rows
            keys = np.lib.stride_tricks.sliding_window_view(self._ids, n)
        _, first, counts = np.unique(keys, axis=0, return_index=True, return_counts=True)
        top = counts.max()
        i = int(first[counts == top].min())  # most_common(1): the first-seen n-gram among the most common
        return int(top) * int(self.offsets[i + n] - self.offsets[i] + n - 1)

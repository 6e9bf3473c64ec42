"""Cheap length and structure statistics of a raw text, as features beside an encoder's embedding.

Why: an encoder sees at most ``max_tokens * max_chunks`` tokens and pools them, so it cannot tell a
300-word page from a 3,000-word one, nor one sentence per line from a navigation list; DCLM's human
raters and the LLM's edu score both reward long, coherent text. Each statistic is squashed (log) so a
10 MB document does not dominate a linear head. Computed on the raw text (newlines matter), before
:func:`classifiers.training_data.normalize`.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np

#: Names in column order; meta.json records them so a head is only applied to the same features.
NAMES = ("log_words", "log_words_per_line", "zlib_ratio", "mean_word_length", "sentence_ends_per_word", "log_lines")
#: Characters read per text: enough for every statistic to settle, bounded on hostile inputs.
MAX_CHARS = 200_000


def text_stats(text: Any) -> list[float]:
    t = text if isinstance(text, str) else ("" if text is None else str(text))
    t = t[:MAX_CHARS]
    words = t.split()
    lines = sum(1 for ln in t.splitlines() if ln.strip())
    raw = t.encode("utf-8", "replace")
    n = len(words)
    return [
        math.log1p(n),
        math.log1p(n / max(1, lines)),
        len(raw) / len(zlib.compress(raw, 6)) if raw else 0.0,
        sum(map(len, words)) / n if n else 0.0,
        sum(t.count(c) for c in ".!?") / max(1, n),
        math.log1p(lines),
    ]


def matrix(texts: Sequence[Any]) -> np.ndarray:
    """``(len(texts), len(NAMES))`` float64."""
    return np.asarray([text_stats(t) for t in texts], dtype=np.float64).reshape(len(texts), len(NAMES))

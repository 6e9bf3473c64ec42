"""One entry for every kind of classifier directory: load by ``meta.json``'s ``kind``, then score.

``curate score`` and the annotate job's scoring steps go through here, so a model directory works
the same way whichever trainer wrote it.
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from classifiers.artifacts import META_FILE, read_meta_file

_CACHE: dict[tuple[str, str], Any] = {}
_LOCK = threading.Lock()


def model_kind(model_dir: str | Path) -> str:
    """``fasttext`` or ``transformer`` (older fastText directories say ``fasttext-quality``)."""
    d, meta = read_meta_file(model_dir)
    kind = str(meta.get("kind", ""))
    for known in ("fasttext", "transformer"):
        if kind.startswith(known):
            return known
    raise ValueError(f"{d / META_FILE}: unknown model kind {kind!r} (expected fasttext or transformer)")


def check(model_dir: str | Path, kind: str | None = None) -> str:
    """Validate a model directory without loading the model, so a job fails before any work with
    one error naming the file; returns its kind. Reads ``meta.json`` and verifies every model file
    (size, structure, sha256: :mod:`classifiers.model_files`) — the annotate job calls this on the
    driver before Spark starts, and each worker process again (once) before it loads the model."""
    found = model_kind(model_dir)
    if kind is not None and found != kind:
        raise ValueError(f"{Path(model_dir) / META_FILE}: a {found} model, but this step needs a {kind} model")
    if found == "fasttext":
        from classifiers import fasttext_model
        fasttext_model.check(model_dir)
    else:
        from classifiers import transformer_model
        transformer_model.check(model_dir)
    return found


def load(model_dir: str | Path, device: str | None = "auto"):
    """Load a model directory once per process (Spark reuses Python workers across tasks)."""
    key = (str(Path(model_dir).resolve()), str(device))
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            if model_kind(model_dir) == "fasttext":
                from classifiers import fasttext_model

                model = fasttext_model.load(model_dir)
            else:
                from classifiers import transformer_model

                model = transformer_model.load(model_dir, device=device)
            _CACHE[key] = model
    return model


def score(model, texts: Sequence[Any]) -> np.ndarray:
    """The model's score per text, float64, higher = better: P(positive class) in [0, 1] for a
    classifier, the predicted grade for a regression head (NaN for empty text: no score)."""
    return model.score(list(texts))

"""One entry for every kind of classifier directory: load by ``meta.json``'s ``kind``, then score.

``curate score`` and the annotate job's scoring steps go through here, so a model directory works
the same way whichever trainer wrote it. A *name* (``quality``, ``reasoning``, ...) means a model
shipped inside the package (:data:`SHIPPED_DIR`, rebuilt by ``make models``); an existing path
always wins over a name.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.artifacts import META_FILE, read_meta_file

#: The models that ship with the package (heads and quantised fastText files; the encoder comes
#: from its own wheel), so scoring works on a fresh machine with no ../shared data.
SHIPPED_DIR = Path(__file__).resolve().parent / "models"
KINDS = ("fasttext", "transformer", "combined")

_CACHE: dict[tuple[str, str], Any] = {}


def shipped_names() -> list[str]:
    if not SHIPPED_DIR.is_dir():
        return []
    return sorted(p.name for p in SHIPPED_DIR.iterdir() if (p / META_FILE).is_file())


def resolve(model: str | Path) -> Path:
    """A model directory from a path or a shipped model's name (a path that exists wins)."""
    p = Path(model)
    if p.is_dir():
        return p
    name = str(model)
    if "/" not in name and "\\" not in name and (SHIPPED_DIR / name / META_FILE).is_file():
        return SHIPPED_DIR / name
    names = shipped_names()
    raise FileNotFoundError(f"model directory not found: {model}"
                            + (f" (shipped models: {', '.join(names)})" if names else ""))
_LOCK = threading.RLock()


def model_kind(model_dir: str | Path) -> str:
    """``fasttext``, ``transformer`` or ``combined`` (older fastText directories say ``fasttext-quality``)."""
    d, meta = read_meta_file(resolve(model_dir))
    kind = str(meta.get("kind", ""))
    for known in KINDS:
        if kind.startswith(known):
            return known
    raise ValueError(f"{d / META_FILE}: unknown model kind {kind!r} (expected {', '.join(KINDS)})")


def check(model_dir: str | Path, kind: str | None = None) -> str:
    """Validate a model directory without loading the model, so a job fails before any work with
    one error naming the file; returns its kind. Reads ``meta.json`` and verifies every model file
    (size, structure, sha256: :mod:`curation.model_files`) — the annotate job calls this on the
    driver before Spark starts, and each worker process again (once) before it loads the model."""
    model_dir = resolve(model_dir)
    found = model_kind(model_dir)
    if kind is not None and found != kind:
        raise ValueError(f"{Path(model_dir) / META_FILE}: a {found} model, but this step needs a {kind} model")
    if found == "fasttext":
        from classifiers import fasttext_model
        fasttext_model.check(model_dir)
    elif found == "combined":
        from classifiers import combined_model
        combined_model.check(model_dir)
    else:
        from classifiers import transformer_model
        transformer_model.check(model_dir)
    return found


def load(model_dir: str | Path, device: str | None = "auto"):
    """Load a model directory (or shipped name) once per process (Spark reuses Python workers)."""
    model_dir = resolve(model_dir)
    key = (str(Path(model_dir).resolve()), str(device))
    # re-entrant: a combined model loads its components through here
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            kind = model_kind(model_dir)
            if kind == "combined":
                from classifiers import combined_model

                model = combined_model.load(model_dir, device=device)
            elif kind == "fasttext":
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

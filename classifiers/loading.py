"""One entry for every kind of classifier directory: load by ``meta.json``'s ``kind``, then score.

``curate score`` and the annotate job's scoring steps go through here, so a model directory works
the same way whichever trainer wrote it. A *name* (``quality``, ``reasoning``, ...) means a model
shipped inside the package (:data:`SHIPPED_DIR`, rebuilt by ``make models``); an existing path
always wins over a name.

Kinds are a small registry (:data:`KINDS` built in); another package adds one with no edit here: an
entry point in the ``curate.model_kinds`` group (:mod:`curation.plugins`) whose name is the kind
``meta.json`` records and whose value is a :class:`ModelKind` (``check`` and ``load``), loaded the
first time a model's kind is looked up.
"""

from __future__ import annotations

import importlib
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from classifiers.artifacts import META_FILE, read_meta_file
from curation import plugins

#: The models that ship with the package (heads and quantised fastText files; the encoder comes
#: from its own wheel), so scoring works on a fresh machine with no ../shared data.
SHIPPED_DIR = Path(__file__).resolve().parent / "models"
KINDS = ("fasttext", "transformer", "combined")


class ModelKind(Protocol):
    """How one kind of model directory is verified and loaded; the loaded model has ``score(texts)``
    (a float64 array, higher = better, NaN for empty text)."""

    def check(self, model_dir: Path) -> None:
        """Verify the directory's files without loading the model; raise with one line naming the file."""
        ...

    def load(self, model_dir: Path, device: str | None) -> Any: ...


@dataclass(frozen=True)
class _BuiltinKind:
    module: str
    takes_device: bool = True

    def check(self, model_dir: Path) -> None:
        importlib.import_module(self.module).check(model_dir)

    def load(self, model_dir: Path, device: str | None) -> Any:
        module = importlib.import_module(self.module)
        return module.load(model_dir, device=device) if self.takes_device else module.load(model_dir)


_KINDS: dict[str, ModelKind] = {"fasttext": _BuiltinKind("classifiers.fasttext_model", takes_device=False),
                                "transformer": _BuiltinKind("classifiers.transformer_model"),
                                "combined": _BuiltinKind("classifiers.combined_model")}


def register_kind(name: str, kind: ModelKind) -> ModelKind:
    """Make ``kind`` load the model directories whose ``meta.json`` says ``kind: name``."""
    if not callable(getattr(kind, "check", None)) or not callable(getattr(kind, "load", None)):
        raise TypeError(f"model kind {name!r} needs check(model_dir) and load(model_dir, device)")
    if _KINDS.get(name, kind) is not kind:
        raise ValueError(f"model kind {name!r} is already registered")
    _KINDS[name] = kind
    return kind


def kinds() -> dict[str, ModelKind]:
    """Every model kind: the built-in ones and those other packages declare (``curate.model_kinds``)."""
    plugins.load_group(plugins.MODEL_KINDS, lambda ep, kind: register_kind(ep.name, kind))
    return _KINDS

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
    """``fasttext``, ``transformer``, ``combined`` (older fastText directories say ``fasttext-quality``)
    or a plugin's kind."""
    d, meta = read_meta_file(resolve(model_dir))
    kind = str(meta.get("kind", ""))
    known = kinds()
    if kind in known:
        return kind
    for builtin in KINDS:
        if kind.startswith(builtin):
            return builtin
    raise ValueError(f"{d / META_FILE}: unknown model kind {kind!r} (expected {', '.join(known)})")


def check(model_dir: str | Path, kind: str | None = None) -> str:
    """Validate a model directory without loading the model, so a job fails before any work with
    one error naming the file; returns its kind. Reads ``meta.json`` and verifies every model file
    (size, structure, sha256: :mod:`curation.model_files`) — the annotate job calls this on the
    driver before Spark starts, and each worker process again (once) before it loads the model."""
    model_dir = resolve(model_dir)
    found = model_kind(model_dir)
    if kind is not None and found != kind:
        raise ValueError(f"{Path(model_dir) / META_FILE}: a {found} model, but this step needs a {kind} model")
    kinds()[found].check(model_dir)
    return found


def load(model_dir: str | Path, device: str | None = "auto"):
    """Load a model directory (or shipped name) once per process (Spark reuses Python workers)."""
    model_dir = resolve(model_dir)
    key = (str(Path(model_dir).resolve()), str(device))
    # re-entrant: a combined model loads its components through here
    with _LOCK:
        model = _CACHE.get(key)
        if model is None:
            model = kinds()[model_kind(model_dir)].load(model_dir, device)
            _CACHE[key] = model
    return model


def score(model, texts: Sequence[Any]) -> np.ndarray:
    """The model's score per text, float64, higher = better: P(positive class) in [0, 1] for a
    classifier, the predicted grade for a regression head (NaN for empty text: no score)."""
    return model.score(list(texts))

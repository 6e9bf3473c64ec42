"""A combined score: several classifier directories, each standardised, averaged with fixed weights.

Why a combination (issue 17): the two kinds of judgement we can learn from disagree. The LLM's
educational-value score (FineWeb-Edu labels) is predicted well by the MiniLM tier (val Spearman
0.63) but that tier ranks the human-judged DCLM dev documents only at ROC-AUC 0.67, while the
reference-vs-web fastText model (DCLM's recipe) ranks those at 0.72 and the LLM score barely at all
(Spearman 0.17). A ridge fitted to the LLM score gives the reference model ~0 weight, so the
combination is *not* fitted to either label set: each component is standardised on a calibration
set of documents (mean and standard deviation of its scores; no labels are read) and the z-scores
are averaged with the weights recorded in ``meta.json`` (equal by default: the choice with no
parameter to tune). The text statistics DCLM's raters reward (length, lines, compression) are
already inside the MiniLM tier's head (:mod:`classifiers.text_stats`).

Components are model directories named relative to this one (``../quality-minilm``), so a copied
``models/`` folder keeps working; each component's ``meta.json`` sha256 is pinned, so swapping a
component for a retrained one is refused until the combination is recalibrated.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.artifacts import META_FILE, read_meta
from curation.model_files import sha256_file

META_VERSION = 1
KIND = "combined"


@dataclass(frozen=True)
class Component:
    path: str  # relative to the combined model's folder, or absolute
    weight: float
    mean: float
    std: float
    meta_sha256: str


def _blank(t: Any) -> bool:
    return t is None or not str(t).strip()


def _components(d: Path, meta: dict) -> list[Component]:
    raw = meta.get("components")
    if not isinstance(raw, list) or not raw:
        raise ValueError(f"{d / META_FILE}: 'components' must be a non-empty list")
    out = []
    for i, c in enumerate(raw):
        try:
            comp = Component(str(c["path"]), float(c["weight"]), float(c["mean"]), float(c["std"]),
                             str(c["meta_sha256"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"{d / META_FILE}: components[{i}] is incomplete ({exc})") from exc
        if not (math.isfinite(comp.std) and comp.std > 0 and math.isfinite(comp.mean) and math.isfinite(comp.weight)):
            raise ValueError(f"{d / META_FILE}: components[{i}] needs a finite mean, weight and a std > 0")
        out.append(comp)
    return out


def component_dir(d: Path, comp: Component) -> Path:
    p = Path(comp.path)
    return (p if p.is_absolute() else d / p).resolve()


def check(model_dir: str | Path) -> tuple[Path, dict]:
    """meta.json, and every component: present, the same one it was calibrated with (meta.json
    sha256) and itself valid (its own files verified)."""
    from classifiers import loading

    d, meta = read_meta(model_dir, (), META_VERSION)
    for comp in _components(d, meta):
        cd = component_dir(d, comp)
        if not (cd / META_FILE).is_file():
            raise FileNotFoundError(f"{d / META_FILE}: component model not found: {cd}")
        if sha256_file(cd / META_FILE) != comp.meta_sha256:
            raise ValueError(f"{d / META_FILE}: component {cd} is not the model this score was calibrated with "
                             "(its meta.json changed): recalibrate (make models)")
        if loading.model_kind(cd) == KIND:
            raise ValueError(f"{d / META_FILE}: component {cd} is itself a combined model (not supported)")
        loading.check(cd)
    return d, meta


class CombinedModel:
    def __init__(self, d: Path, meta: dict, parts: list[tuple[Component, Any]]):
        self.path, self.meta, self.parts = d, meta, parts

    def score(self, texts: Sequence[Any]) -> np.ndarray:
        return score(self, texts)


def load(model_dir: str | Path, device: str | None = "auto") -> CombinedModel:
    from classifiers import loading

    d, meta = check(model_dir)
    parts = [(c, loading.load(component_dir(d, c), device=device)) for c in _components(d, meta)]
    return CombinedModel(d, meta, parts)


def score(model: CombinedModel, texts: Sequence[Any]) -> np.ndarray:
    """Weighted mean of the components' z-scores; NaN for None/empty/whitespace text (no score)."""
    texts = list(texts)
    out = np.full(len(texts), np.nan, dtype=np.float64)
    keep = [i for i, t in enumerate(texts) if not _blank(t)]
    if not keep:
        return out
    sub = [texts[i] for i in keep]
    total = np.zeros(len(keep))
    wsum = sum(c.weight for c, _ in model.parts)
    for comp, m in model.parts:
        total += comp.weight * (np.asarray(m.score(sub), dtype=np.float64) - comp.mean) / comp.std
    out[keep] = total / wsum
    return out


def calibrate(out_dir: str | Path, components: Sequence[str | Path], texts: Sequence[str],
              weights: Sequence[float] | None = None, calibration_info: dict | None = None,
              device: str | None = "auto", evaluation: dict | None = None,
              scores: Sequence[Sequence[float]] | None = None) -> dict:
    """Score ``texts`` (unlabelled calibration documents) with each component, record each one's
    mean and std, write ``meta.json``; returns it. ``scores`` (one sequence per component, aligned
    with ``texts``) skips the scoring when a caller already has them (a benchmark's cache)."""
    from classifiers import loading

    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    keep = [i for i, t in enumerate(texts) if not _blank(t)]
    texts = [texts[i] for i in keep]
    if scores is not None:
        if len(scores) != len(components):
            raise ValueError("one score sequence per component")
        scores = [np.asarray(s, dtype=np.float64)[keep] for s in scores]
    if len(texts) < 20:
        raise ValueError(f"calibration needs at least 20 non-empty documents, got {len(texts)}")
    weights = list(weights) if weights is not None else [1.0] * len(components)
    if len(weights) != len(components) or not all(w > 0 and math.isfinite(w) for w in weights):
        raise ValueError("one positive finite weight per component")
    comps = []
    for j, (path, w) in enumerate(zip(components, weights)):
        cd = Path(path).resolve()
        loading.check(cd)
        s = scores[j] if scores is not None else np.asarray(loading.score(loading.load(cd, device=device), texts),
                                                             dtype=np.float64)
        s = s[np.isfinite(s)]
        if len(s) < 20 or float(s.std()) <= 0:
            raise ValueError(f"{cd}: no spread in its scores on the calibration documents")
        try:
            rel = str(Path(cd).relative_to(d.resolve().parent))
            ref = str(Path("..") / rel)
        except ValueError:
            ref = str(cd)
        comps.append({"path": ref, "weight": float(w), "mean": float(s.mean()), "std": float(s.std()),
                      "meta_sha256": sha256_file(cd / META_FILE), "kind": loading.model_kind(cd)})
    meta = {
        "version": META_VERSION,
        "kind": KIND,
        "score": "weighted mean of the components' z-scores (0 = the calibration documents' average, "
                 "1 = one standard deviation above it); higher = better; null for empty text",
        "components": comps,
        "calibration": {**(calibration_info or {}), "n": len(texts)},
        "evaluation": evaluation or {},
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (d / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta

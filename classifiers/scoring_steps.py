"""Classifier scoring steps for the annotate job.

A model directory is loaded once per worker process (Spark reuses Python workers) and each Arrow
batch is scored with one ``predict`` call through the batch hook of the step contract
(:func:`curation.steps.apply`). Scores are recorded under ``score_name`` (higher = better); a
threshold drops documents below it. Top-fraction selection is a cross-document decision and
belongs after annotation (a quantile over the score column), not in a per-document step.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from curation.schema import Document
from curation.steps import register

_LOADED: dict[str, object] = {}


def _model(model_dir: str):
    model = _LOADED.get(model_dir)
    if model is None:
        from classifiers.fasttext_model import load

        model = _LOADED[model_dir] = load(model_dir)
    return model


@register("fasttext_classifier_v1")
@dataclass
class FastTextClassifier:
    """P(high quality) from a `curate train-classifier` model directory."""

    name: ClassVar[str] = "fasttext_classifier_v1"
    model_dir: str = ""
    score_name: str = "quality"
    #: Documents scoring below this are dropped as ``below_threshold``; None only records the score.
    min_score: float | None = None

    def __post_init__(self) -> None:
        if not self.model_dir:
            raise ValueError("fasttext_classifier_v1 needs model_dir (a `curate train-classifier` output)")

    def __call__(self, doc: Document) -> str | None:
        return self.batch([doc])[0]

    def batch(self, docs: list[Document]) -> list[str | None]:
        from classifiers.fasttext_model import score

        probs = score(_model(self.model_dir), [d.text for d in docs])
        reasons: list[str | None] = []
        for doc, p in zip(docs, probs):
            doc.scores[self.score_name] = float(p)
            reasons.append("below_threshold" if self.min_score is not None and p < self.min_score else None)
        return reasons

"""Classifier scoring steps for the annotate job.

A model directory is loaded once per worker process (Spark reuses Python workers; see
:mod:`classifiers.loading`) and each Arrow batch is scored with one forward pass through the batch
hook of the step contract (:func:`curation.filters.steps.apply_batch`). Scores are recorded under
``score_name`` (higher = more of the model's positive class); ``min_score`` drops documents below
it. Top-fraction selection is a cross-document decision: the annotate job's ``top_fraction``
setting applies it after every document is scored.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from curation.filters.steps import register
from curation.schema import Document


def _check(model_dir: str, kind: str | None) -> None:
    """Fail at step creation (before a job starts) on a missing, foreign or wrong-kind model."""
    from classifiers import loading

    try:
        loading.check(model_dir, kind)
    except FileNotFoundError as exc:  # config errors are ValueErrors: one message, exit code 2
        raise ValueError(str(exc)) from exc


def _record(docs: list[Document], probs, score_name: str, min_score: float | None) -> list[str | None]:
    reasons: list[str | None] = []
    for doc, p in zip(docs, probs):
        if p != p:  # NaN: a model with no score for this text (empty): left out of the map = SQL NULL
            reasons.append(None)
            continue
        doc.scores[score_name] = float(p)
        reasons.append("below_threshold" if min_score is not None and p < min_score else None)
    return reasons


@register("fasttext_classifier_v1")
@dataclass
class FastTextClassifier:
    """P(positive class) from a fastText `curate train-classifier` model directory."""

    changes_text: ClassVar[bool] = False
    model_dir: str = ""
    score_name: str = "quality"
    #: Documents scoring below this are dropped as ``below_threshold``; None only records the score.
    min_score: float | None = None
    #: Also record every class's probability as ``<score_name>_<class>`` (topic models).
    all_classes: bool = False

    def __post_init__(self) -> None:
        if not self.model_dir:
            raise ValueError("fasttext_classifier_v1 needs model_dir (a `curate train-classifier` output)")
        _check(self.model_dir, "fasttext")

    def __call__(self, doc: Document) -> str | None:
        return self.batch([doc])[0]

    def batch(self, docs: list[Document]) -> list[str | None]:
        from classifiers import fasttext_model, loading

        model = loading.load(self.model_dir)
        probs = fasttext_model.probabilities(model, [d.text for d in docs])
        if self.all_classes:
            for j, cls in enumerate(model.classes):
                key = f"{self.score_name}_{cls.removeprefix('__label__')}"
                for doc, p in zip(docs, probs[:, j]):
                    doc.scores[key] = float(p)
        return _record(docs, probs[:, model.classes.index(model.positive)], self.score_name, self.min_score)


@register("transformer_classifier_v1")
@dataclass
class TransformerClassifier:
    """P(positive class) from a frozen-encoder `curate train-classifier --kind transformer` model.

    CPU by default in Spark executors unless ``device`` says otherwise: ``auto`` picks CUDA when
    the executor sees a GPU."""

    changes_text: ClassVar[bool] = False
    model_dir: str = ""
    score_name: str = "quality_transformer"
    min_score: float | None = None
    device: str = "auto"
    #: Windows per forward pass.
    batch_size: int = 64

    def __post_init__(self) -> None:
        if not self.model_dir:
            raise ValueError("transformer_classifier_v1 needs model_dir (a `curate train-classifier --kind transformer` output)")
        if self.batch_size < 1:
            raise ValueError("batch_size must be >= 1")
        _check(self.model_dir, "transformer")

    def __call__(self, doc: Document) -> str | None:
        return self.batch([doc])[0]

    def batch(self, docs: list[Document]) -> list[str | None]:
        from classifiers import loading, transformer_model

        model = loading.load(self.model_dir, device=self.device)
        probs = transformer_model.score(model, [d.text for d in docs], batch_size=self.batch_size)
        return _record(docs, probs, self.score_name, self.min_score)


@register("classifier_score_v1")
@dataclass
class ClassifierScore:
    """The score of any model: a shipped name (``quality``, ``reasoning``, ``quality-fasttext``,
    ...) or a model directory of any kind (fastText, transformer, combined).

    The score goes to ``scores[score_name]`` (default: the model's name); ``min_score`` is optional
    (None only records). Empty text gets no score (SQL NULL), never a made-up one."""

    changes_text: ClassVar[bool] = False
    model: str = ""
    score_name: str = ""
    min_score: float | None = None
    #: Transformer components: ``auto`` picks CUDA when the executor sees a GPU.
    device: str = "auto"

    def __post_init__(self) -> None:
        from classifiers import loading

        if not self.model:
            raise ValueError("classifier_score_v1 needs model (a shipped model name or a model directory); "
                             f"shipped: {', '.join(loading.shipped_names()) or 'none'}")
        _check(self.model, None)
        self.score_name = self.score_name or Path(self.model).name

    def __call__(self, doc: Document) -> str | None:
        return self.batch([doc])[0]

    def batch(self, docs: list[Document]) -> list[str | None]:
        from classifiers import loading

        model = loading.load(self.model, device=self.device)
        return _record(docs, loading.score(model, [d.text for d in docs]), self.score_name, self.min_score)

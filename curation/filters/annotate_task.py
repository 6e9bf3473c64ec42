"""The annotate stage for one Arrow batch: documents → steps → documents with scores; and its config.

Pure Python (no pyspark): ``spark_jobs/annotate.py`` loads :class:`AnnotateJobConfig` and runs
:func:`annotate_batches` inside ``mapInArrow``; tests and notebooks call it directly. Steps are built
once per partition from their specs; models inside them load once per worker process (module-level
caches).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from curation.filters import steps as steplib
from curation.schema import DOC_SCHEMA, from_batch, to_batch

#: The core modules whose import registers the built-in steps. Steps from other packages (Curate's own
#: classifier steps among them: classifiers.scoring_steps) register through entry points in the
#: ``curate.steps`` group (pyproject.toml; curation.plugins), so the core names no other package.
STEP_MODULES = ("curation.filters.langid", "curation.filters.heuristics", "curation.filters.content_filters", "curation.filters.score_filters")


@dataclass(frozen=True)
class StepSpec:
    name: str
    params: dict[str, Any] = field(default_factory=dict)


#: The steps a run gets when its config names none.
DEFAULT_STEPS = (
    StepSpec("fasttext_lid_v1"),
    StepSpec("gopher_repetition_v1"),
    StepSpec("gopher_quality_v1", {"max_non_alpha_words_ratio": 0.5}),  # see spark_jobs/configs/annotate.yaml
    StepSpec("c4_quality_v1", {"filter_no_terminal_punct": False, "filter_curly_bracket": False}),
    StepSpec("fineweb_quality_v1"),
    StepSpec("corruption_v1"),
    # The fast (fastText) classifier tier on every document the heuristics keep (issue 18); the
    # thresholds and how they were chosen: spark_jobs/configs/annotate.yaml.
    StepSpec("classifier_score_v1", {"model": "quality-fasttext", "score_name": "quality_fasttext"}),
    StepSpec("classifier_score_v1", {"model": "quality-reference", "score_name": "quality_reference"}),
    StepSpec("score_threshold_v1", {"score": "quality_reference", "min_score": 0.03, "languages": ["en"]}),
)


@dataclass(frozen=True)
class AnnotateJobConfig:
    """The annotate stage's config (``curate annotate --config``, a pipeline's ``annotate:`` section)."""

    steps: tuple[StepSpec, ...] = DEFAULT_STEPS
    #: Scores copied into their own float columns (``lang`` and ``page_type`` are always columns).
    promote: tuple[str, ...] = ("lang_score", "gopher_n_words", "fineweb_line_punct_ratio", "zlib_ratio",
                                "quality_fasttext", "quality_reference", "extract_agreement")
    keep_dropped: bool = False
    #: Rows per Arrow batch handed to the steps.
    batch_rows: int = 1000
    #: Keep only the top fraction of kept documents by a score, e.g. ``{quality: 0.1}`` (phi-4
    #: kept "a small fraction of highest-quality documents"). Cross-document, so it runs after
    #: every document is scored: the threshold is the score's (1 - fraction) quantile over kept
    #: documents (Spark's percentile_approx, relative error 1e-4); the rest are dropped as
    #: ``top_fraction.<score>``. Several scores apply in order, each to what the last kept.
    top_fraction: dict[str, float] = field(default_factory=dict)


def load_builtin_steps() -> None:
    """Register every step: the core's modules, then the plugins' entry points (a module or plugin
    that fails to import is an error, never a skipped step)."""
    for module in STEP_MODULES:
        importlib.import_module(module)
    steplib.load_plugins()


def build_steps(specs: tuple[StepSpec, ...]) -> list[Any]:
    load_builtin_steps()
    return [steplib.create(spec.name, **spec.params) for spec in specs]


def output_schema(promote: tuple[str, ...]) -> pa.Schema:
    """The document schema plus promoted score columns (float64), for cheap filtering in SQL."""
    schema = DOC_SCHEMA
    for name in promote:
        if name not in schema.names:
            schema = schema.append(pa.field(name, pa.float64()))
    return schema


def annotate_batches(batches: Iterator[pa.RecordBatch], specs: tuple[StepSpec, ...],
                     promote: tuple[str, ...]) -> Iterator[pa.RecordBatch]:
    """Apply the steps to kept documents; rows dropped upstream pass through untouched.

    Every input row comes out (dropped ones with their reason); the job filters afterwards, so
    one pass both writes and counts.
    """
    pipeline = build_steps(specs)
    schema = output_schema(promote)
    extra = [n for n in schema.names if n not in DOC_SCHEMA.names]
    for batch in batches:
        docs = steplib.apply_batch(from_batch(batch), pipeline)
        out = to_batch(docs)
        arrays = list(out.columns)
        for name in extra:
            arrays.append(pa.array([d.scores.get(name) for d in docs], type=pa.float64()))
        yield pa.RecordBatch.from_arrays(arrays, schema=schema)

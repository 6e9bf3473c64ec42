"""The annotate stage for one Arrow batch: documents → steps → documents with scores.

Pure Python (no pyspark): ``spark_jobs/annotate.py`` runs :func:`annotate_batches` inside
``mapInArrow``; tests and notebooks call it directly. Steps are built once per partition from their
specs; models inside them load once per worker process (module-level caches).
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

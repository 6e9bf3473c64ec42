"""One notion of a mixture source, shared by ``curate mix`` (``curation.mixture.mix_config.MixSource``)
and ``curate ablate`` (``curation.ablations.runner.AblationSource``), which extend it with their own
fields.

``where`` is one dialect for both: a boolean SQL condition over the document columns written in what
Spark SQL and DuckDB both accept (comparisons, ``AND``/``OR``/``NOT``, ``IS [NOT] NULL``, ``IN (...)``,
``LIKE``, string literals in single quotes, ``scores['key']`` map access, ``length(text)``), since the
ablation runs it in DuckDB and hands its best mixture to ``curate mix``, which runs it in Spark.
"""

from __future__ import annotations

from dataclasses import dataclass

#: The condition a source of documents gets when it sets none: the rows the pipeline kept.
KEPT = "drop_reason IS NULL"


@dataclass(frozen=True)
class Source:
    name: str = ""
    #: Where its documents are read from (file, folder or glob); its meaning per kind is the extender's.
    input: str | None = None
    #: A SQL condition selecting its documents, in the dialect the module docstring gives ("" = all/kept).
    where: str = ""
    #: Most times one of its documents may be repeated in a mixture.
    max_epochs: float = 1.0

"""Spark job: extracted documents (Parquet) → language, heuristic and classifier annotations.

    spark-submit spark_jobs/annotate.py INPUT... --output DIR [--config annotate.yaml] [--keep-dropped]
    curate annotate INPUT... --output DIR        # or --input INPUT...

The steps are a YAML list (spark_jobs/configs/annotate.yaml); each records scores and may drop a
document with ``<step>.<reason>``. Rows already dropped upstream (extract run with
``--keep-dropped``) pass through, so the last stage's output holds the whole funnel.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
import time

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import config as configlib
from curation import output_dir, rundir, stages, verb_inputs
from curation.errors import JobError
from curation.filters.annotate_task import AnnotateJobConfig, StepSpec, annotate_batches, build_steps, output_schema
from curation.schema import DOC_SCHEMA
from spark_jobs.job import SparkJob, StageProgress, log


class AnnotateJob(SparkJob):
    name = "annotate"
    description = stages.get(name).help
    config_cls = AnnotateJobConfig
    set_example = "batch_rows=500"
    example = "curate annotate runs/r1/extract --output runs/r1/annotate --keep-dropped"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        verb_inputs.add_input_arguments(parser, "Parquet documents: an extract output folder, files, globs or manifests")
        parser.add_argument("--output", "-o", required=True, help="output directory (local path or URI)")
        parser.add_argument("--keep-dropped", action="store_true", help="keep dropped rows with their drop_reason")

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        return ["keep_dropped=true"] if args.keep_dropped else []

    def load_config(self, args: argparse.Namespace) -> AnnotateJobConfig:
        cfg = super().load_config(args)
        try:
            build_steps(cfg.steps)  # fail fast on unknown steps or bad parameters, before Spark starts
        except KeyError as exc:
            raise configlib.ConfigError(exc.args[0]) from exc
        # Shipped model names (and relative model paths) become absolute directories here, on the
        # driver: executors get the code as a zip (spark_jobs/job.py) without classifiers/models.
        cfg = dataclasses.replace(cfg, steps=tuple(_absolute_models(s) for s in cfg.steps))
        for name, frac in cfg.top_fraction.items():
            if not 0.0 < frac <= 1.0:
                raise configlib.ConfigError(f"top_fraction.{name}: must be in (0, 1], got {frac}")
        return cfg

    def run(self, spark, args: argparse.Namespace, cfg: AnnotateJobConfig) -> int:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema

        started = time.perf_counter()
        src, out = verb_inputs.expand_manifests(verb_inputs.given(args)), args.output
        try:
            docs = spark.read.parquet(*src)
        except Exception as exc:  # AnalysisException: path missing or no Parquet
            raise JobError(f"cannot read Parquet documents from {' '.join(src)!r}: {exc}".splitlines()[0]) from exc
        output_dir.claim(out, self.name, inputs=src)
        schema = output_schema(cfg.promote)
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.batch_rows))
        task = functools.partial(annotate_batches, specs=cfg.steps, promote=cfg.promote)
        # Inputs written by older versions may lack optional columns: add them as typed nulls.
        doc_types = {f.name: f.dataType for f in from_arrow_schema(DOC_SCHEMA)}
        for name, dtype in doc_types.items():
            if name not in docs.columns:
                docs = docs.withColumn(name, F.lit(None).cast(dtype))
        docs = docs.select(*doc_types)
        scored = docs.mapInArrow(task, from_arrow_schema(schema)).persist(StorageLevel.DISK_ONLY)
        with StageProgress(spark, "annotate", scored.rdd.getNumPartitions()):
            annotated, selection = select_top_fraction(scored, cfg.top_fraction)
            counts = {r["outcome"]: r["n"] for r in annotated.groupBy(
                F.coalesce("drop_reason", F.lit("kept")).alias("outcome")).agg(F.count("*").alias("n")).collect()}
            to_write = annotated if cfg.keep_dropped else annotated.filter("drop_reason IS NULL")
            to_write.write.mode("append").parquet(out)  # claim() emptied it
        scored.unpersist()
        seconds = round(time.perf_counter() - started, 2)
        acc = rundir.RecordAccounting.of_outcomes(counts, **({"top_fraction": selection} if selection else {}),
                                                  seconds=seconds)
        rundir.write_accounting(out, acc)
        rundir.write_config(out, configlib.dump(cfg))
        print(f"\nannotate finished in {seconds}s: {acc.records_read} documents, kept {acc.kept}, "
              f"dropped {acc.dropped}, errored {acc.errored}\n  output: {out}   funnel: curate funnel {out}", flush=True)
        return 0


def _absolute_models(spec: StepSpec) -> StepSpec:
    from classifiers import loading

    params = dict(spec.params)
    for key in ("model", "model_dir"):
        if isinstance(params.get(key), str) and params[key]:
            params[key] = str(loading.resolve(params[key]).resolve())
    return spec if params == spec.params else StepSpec(spec.name, params)


def select_top_fraction(df, fractions: dict[str, float]):
    """Mark kept rows below each score's (1 - fraction) quantile as ``top_fraction.<score>``.

    One aggregation per score over the kept rows (no collect of the data, one row back); ties at
    the threshold are kept. Returns the new DataFrame and, per score, the threshold used.
    """
    from pyspark.sql import functions as F

    selection: dict[str, dict] = {}
    for name, frac in fractions.items():
        value = F.col("scores")[name]
        row = df.filter("drop_reason IS NULL").agg(
            F.percentile_approx(value, 1.0 - frac, 10_000).alias("threshold"),
            F.count(value).alias("scored"), F.count("*").alias("kept")).collect()[0]
        if row["kept"] and not row["scored"]:
            raise JobError(f"top_fraction.{name}: no kept document has a '{name}' score "
                           "(is a step that records it in the config?)")
        threshold = row["threshold"]
        if threshold is None:  # nothing kept: nothing to select
            continue
        below = F.col("drop_reason").isNull() & (value.isNull() | (value < F.lit(threshold)))
        df = df.withColumn("drop_reason", F.when(below, F.lit(f"top_fraction.{name}")).otherwise(F.col("drop_reason")))
        selection[name] = {"fraction": frac, "threshold": threshold, "candidates": row["kept"]}
        log.info("top_fraction %s: keeping %s >= %.6g of %d kept documents", name, name, threshold, row["kept"])
    return df, selection


def main(argv: list[str] | None = None) -> int:
    return AnnotateJob().main(argv)


if __name__ == "__main__":
    sys.exit(main())

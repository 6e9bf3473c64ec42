"""Spark job: documents (Parquet or JSONL) → benchmark-contamination verdicts (phi-4 Algorithm 1).

    spark-submit spark_jobs/decontaminate.py DOCS... --benchmarks BENCH.yaml --output DIR
    curate decontaminate DOCS... --benchmarks BENCH.yaml --output DIR     # or --input DOCS...

Every input row is written with all its columns plus ``decontam_status`` (clean | partial |
contaminated; null for rows dropped upstream, which pass through unchecked), ``decontam_benchmark``,
``decontam_item`` ("file:line" of the benchmark item), ``decontam_ratio`` (max 7-gram overlap ratio;
for a 13-gram hit, the 7-gram ratio of the matched item) and ``decontam_ngram`` (13 or 7: which
rule decided; null when clean). Beside the Parquet: ``_report.json`` (per benchmark: items, n-grams,
documents contaminated/partial), ``_accounting.json`` (rows in = rows out, by status) and
``_config.yaml``.

The benchmark index is small next to the documents (all of ../shared/data/benchmarks: ~90k items,
~3.1M 13-grams, ~3.2M 7-grams, 148 MB pickled, built in ~12 s), so it is built once on the driver
and broadcast; documents never shuffle. BENCH.yaml and the benchmark files are read on the driver
(local paths) in ``load_config``, so a malformed one fails before Spark starts.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import sys
import time

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import config as configlib
from curation import decontam as dc
from curation import fsutil, output_dir, rundir, stages, verb_inputs
from spark_jobs.job import SparkJob, StageProgress, log, read_documents

#: Status recorded for rows dropped upstream (drop_reason not null) that were not checked.
UNCHECKED = "unchecked"


class DecontaminateJob(SparkJob):
    name = "decontaminate"
    description = stages.get(name).help
    config_cls = dc.DecontaminateJobConfig
    set_example = "check_dropped=true"
    example = "curate decontaminate runs/r1/dedup --benchmarks bench.yaml --output runs/r1/decontaminate"

    def __init__(self) -> None:
        self._benchmarks: list[dc.Benchmark] | None = None

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        verb_inputs.add_input_arguments(parser, "documents: Parquet or JSONL with id and text (files, folders, globs or manifests)")
        parser.add_argument("--benchmarks", "-b", help="BENCH.yaml listing the benchmarks (or set benchmarks= in the config)")
        parser.add_argument("--output", "-o", required=True, help="output directory (local path or URI)")
        parser.add_argument("--allowlist", help="allow-list of common 13-grams (python -m curation.decontam allowlist …)")

    def load_config(self, args: argparse.Namespace) -> dc.DecontaminateJobConfig:
        cfg = super().load_config(args)
        if args.benchmarks:
            cfg = dataclasses.replace(cfg, benchmarks=args.benchmarks)
        if args.allowlist:
            cfg = dataclasses.replace(cfg, decontam=dataclasses.replace(cfg.decontam, allowlist=args.allowlist))
        if not cfg.benchmarks:
            raise configlib.ConfigError("no benchmarks: pass --benchmarks BENCH.yaml")
        try:  # read and check every benchmark file now: a bad line fails before any Spark work
            self._benchmarks = dc.load_benchmarks(dc.load_benchmark_specs(cfg.benchmarks))
            if cfg.decontam.allowlist:
                dc.load_allowlist(cfg.decontam.allowlist, cfg.decontam.long_n)
        except (dc.BenchmarkError, OSError) as exc:
            raise configlib.ConfigError(str(exc)) from exc
        return cfg

    def run(self, spark, args: argparse.Namespace, cfg: dc.DecontaminateJobConfig) -> int:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema
        from pyspark.sql.types import StructType

        started = time.perf_counter()
        src, out = verb_inputs.expand_manifests(verb_inputs.given(args)), args.output
        benchmarks = self._benchmarks or dc.load_benchmarks(dc.load_benchmark_specs(cfg.benchmarks))
        docs = read_documents(spark, src, cfg.input_format)
        output_dir.claim(out, self.name, inputs=src)

        t0 = time.perf_counter()
        index = dc.build_index(benchmarks, cfg.decontam)
        log.info("benchmark index: %d items in %d benchmarks, %d %d-grams, %d %d-grams (%.1fs)",
                 len(index.item_refs), len(index.bench_names), len(index.keys_long), index.long_n,
                 len(index.keys_short), index.short_n, time.perf_counter() - t0)
        bc = spark.sparkContext.broadcast(index)

        # Re-running on our own output: replace the old verdict columns rather than duplicate them.
        docs = docs.drop(*[c for c in dc.OUTPUT_COLUMNS if c in docs.columns])
        if "drop_reason" in docs.columns and dict(docs.dtypes)["drop_reason"] != "string":
            docs = docs.withColumn("drop_reason", F.col("drop_reason").cast("string"))
        records_read = docs.count()  # before any shuffle: Parquet answers from its footers
        # A few large files can arrive as fewer partitions than cores: spread them (one shuffle),
        # but only when there is enough work to pay for it.
        parallelism = spark.sparkContext.defaultParallelism
        if docs.rdd.getNumPartitions() < parallelism and records_read >= parallelism * cfg.batch_rows:
            docs = docs.repartition(parallelism)
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.batch_rows))
        schema = StructType(docs.schema.fields + from_arrow_schema(_arrow_schema(dc.output_fields())).fields)
        task = functools.partial(dc.decontaminate_batches, index=bc, cfg=cfg.decontam, check_dropped=cfg.check_dropped)
        checked = docs.mapInArrow(task, schema).persist(StorageLevel.DISK_ONLY)
        with StageProgress(spark, "decontaminate", checked.rdd.getNumPartitions()):
            rows = checked.groupBy("decontam_status", "decontam_benchmark").agg(F.count("*").alias("n")).collect()
            checked.write.mode("append").parquet(out)  # claim() emptied it
        checked.unpersist()
        bc.unpersist()

        by_status: dict[str, int] = {}
        per_bench: dict[str, dict[str, int]] = {}
        for r in rows:
            status = r["decontam_status"] or UNCHECKED
            by_status[status] = by_status.get(status, 0) + r["n"]
            if r["decontam_benchmark"] is not None:
                per_bench.setdefault(r["decontam_benchmark"], {})[status] = r["n"]
        seconds = round(time.perf_counter() - started, 2)
        # Checked when built: every row read was written with a status (never a silent loss).
        acc = rundir.RecordAccounting(records_read, records_written=sum(by_status.values()),
                                      by_status=dict(sorted(by_status.items(), key=lambda kv: (-kv[1], kv[0]))),
                                      extra={"seconds": seconds})
        report = dc.build_report(index, benchmarks, cfg, per_bench, by_status)
        rundir.write_json(out, rundir.REPORT, report)
        rundir.write_accounting(out, acc)
        rundir.write_config(out, configlib.dump(cfg))
        print(f"\ndecontaminate finished in {seconds}s: {records_read} documents, "
              + ", ".join(f"{k} {v}" for k, v in acc.by_status.items())
              + f"\n  output: {out}   report: {fsutil.join(out, rundir.REPORT)}", flush=True)
        return 0


def _arrow_schema(fields):
    import pyarrow as pa

    return pa.schema(fields)


def main(argv: list[str] | None = None) -> int:
    return DecontaminateJob().main(argv)


if __name__ == "__main__":
    sys.exit(main())

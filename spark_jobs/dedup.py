"""Spark job: exact, URL and MinHash near-duplicate removal.

    spark-submit spark_jobs/dedup.py DOCS... --output DIR [--config dedup.yaml]
    curate dedup DOCS... --output DIR            # or --input DOCS...

DOCS is Parquet (an annotate/extract output, or any table) or JSON Lines with at least ``id`` and
``text``. Every row is written back with ``drop_reason`` (``dedup.exact``, ``dedup.url``,
``dedup.minhash``, an upstream reason, or null) and ``dup_cluster`` (the id of the document kept
for its cluster, on every member including the kept one; null outside clusters).

Designed so memory per task stays bounded as the data grows: signatures are computed per Arrow
batch; only small key rows (row number, keys, keep-rule fields) are shuffled; buckets become star
edges to their smallest member through a groupBy + join (no bucket is collected into a list);
connected components are found by iterated min-label propagation over DataFrames; nothing is
collected to the driver except counts.
"""

from __future__ import annotations

import argparse
import functools
import sys
import time

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    import os

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import config as configlib
from curation import output_dir, rundir, stages, verb_inputs
from curation.dedup import ROW, DedupJobConfig, MinHashParams, key_batches, key_schema
from curation.errors import JobError
from spark_jobs.job import SparkJob, StageProgress, log, read_documents


class DedupJob(SparkJob):
    name = "dedup"
    description = stages.get(name).help
    config_cls = DedupJobConfig
    set_example = "min_similarity=0.8"
    example = "curate dedup runs/r1/annotate --output runs/r1/dedup"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        verb_inputs.add_input_arguments(parser, "Parquet or JSONL documents with id and text: folders, files, globs or manifests")
        parser.add_argument("--output", "-o", required=True, help="output directory (local path or URI)")

    def load_config(self, args: argparse.Namespace) -> DedupJobConfig:
        cfg = super().load_config(args)
        try:
            MinHashParams(cfg.ngram, cfg.bands, cfg.rows, cfg.seed)
        except ValueError as exc:
            raise configlib.ConfigError(str(exc)) from exc
        if not 0.0 <= cfg.min_similarity <= 1.0:
            raise configlib.ConfigError(f"min_similarity must be in [0, 1], got {cfg.min_similarity}")
        return cfg

    def run(self, spark, args: argparse.Namespace, cfg: DedupJobConfig) -> int:
        from pyspark import StorageLevel
        from pyspark.sql import functions as F
        from pyspark.sql.pandas.types import from_arrow_schema
        from pyspark.sql.types import StructType

        started = time.perf_counter()
        src = verb_inputs.expand_manifests(verb_inputs.given(args))
        out = args.output
        output_dir.claim(out, self.name, inputs=src)
        docs = read_documents(spark, src)
        for name, dtype in (("drop_reason", "string"), ("url", "string"), ("crawl_date", "string")):
            if name not in docs.columns:
                docs = docs.withColumn(name, F.lit(None).cast(dtype))
        docs = docs.withColumn("text", F.col("text").cast("string")).withColumn("id", F.col("id").cast("string"))
        if "dup_cluster" in docs.columns:
            docs = docs.drop("dup_cluster")
        # A unique row number: ids may repeat in user data, so they cannot be the graph's nodes.
        # Persisted, because monotonically_increasing_id must not be recomputed differently.
        docs = docs.withColumn(ROW, F.monotonically_increasing_id()).persist(StorageLevel.DISK_ONLY)
        params = MinHashParams(cfg.ngram, cfg.bands, cfg.rows, cfg.seed)
        score = _score_column(docs, cfg.quality_score)
        spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", str(cfg.batch_rows))
        spark.conf.set("spark.sql.shuffle.partitions",
                       str(cfg.shuffle_partitions or 2 * spark.sparkContext.defaultParallelism))
        candidates = docs.filter("drop_reason IS NULL")
        task = functools.partial(key_batches, params=params, want_minhash=cfg.minhash)
        inputs = candidates.select(ROW, "text", "url", "id", "crawl_date", score.alias("_score"))
        passed = inputs.drop(ROW, "text", "url").schema.fields
        keys = (inputs.mapInArrow(task, StructType(from_arrow_schema(key_schema(params)).fields + passed))
                .persist(StorageLevel.DISK_ONLY))
        stats: dict[str, int] = {}
        # Wall seconds per phase, in the accounting: which part dominates at scale (bench/dedup.py). Spark is
        # lazy: exact and URL grouping run inside the first action after them (the MinHash rounds).
        phases: dict[str, float] = {}
        t0 = time.perf_counter()
        with StageProgress(spark, "dedup keys", keys.rdd.getNumPartitions()):
            n_candidates = keys.count()
        phases["read_and_signatures"] = round(time.perf_counter() - t0, 2)
        # Each stage marks rows of `keys` with a reason and the id of the document kept instead.
        keep_order = [F.col("_score").desc_nulls_last(), F.col("crawl_date").asc_nulls_last(), F.col("id"), F.col(ROW)]
        marked = keys.select(ROW, F.lit(None).cast("string").alias("reason"), F.lit(None).cast("string").alias("cluster"))
        alive = keys
        if cfg.exact:
            res = _group_dedup(alive.filter("exact_key IS NOT NULL"), "exact_key", keep_order, "dedup.exact")
            marked, alive = _apply(marked, alive, res)
        if cfg.url:
            newest = [F.col("crawl_date").desc_nulls_last(), *keep_order]
            res = _group_dedup(alive.filter("url_key IS NOT NULL"), "url_key", newest, "dedup.url")
            marked, alive = _apply(marked, alive, res)
        if cfg.minhash:  # its label rounds run Spark actions: progress per round of stages
            t0 = time.perf_counter()
            with StageProgress(spark, "dedup minhash", int(spark.conf.get("spark.sql.shuffle.partitions"))):
                res, rounds = _minhash_dedup(spark, alive.filter("bands IS NOT NULL"), cfg, keep_order)
            stats["minhash_label_rounds"] = rounds
            phases["exact_url_minhash_groups"] = round(time.perf_counter() - t0, 2)
            marked, alive = _apply(marked, alive, res)
        result = (docs.join(marked, ROW, "left")
                  .withColumn("drop_reason", F.coalesce("drop_reason", "reason"))
                  .withColumnRenamed("cluster", "dup_cluster")
                  .drop("reason", ROW))
        t0 = time.perf_counter()
        with StageProgress(spark, "dedup write", result.rdd.getNumPartitions()):
            result.write.mode("append").parquet(out)  # claim() emptied it
        phases["join_and_write"] = round(time.perf_counter() - t0, 2)
        t0 = time.perf_counter()
        written = spark.read.parquet(out)
        with StageProgress(spark, "dedup counts", written.rdd.getNumPartitions()):
            counts = {r["outcome"]: r["n"] for r in written.groupBy(
                F.coalesce("drop_reason", F.lit("kept")).alias("outcome")).agg(F.count("*").alias("n")).collect()}
            clusters = written.filter("dup_cluster IS NOT NULL").select("dup_cluster").distinct().count()
        phases["counts"] = round(time.perf_counter() - t0, 2)
        docs.unpersist()
        keys.unpersist()
        seconds = round(time.perf_counter() - started, 2)
        acc = rundir.RecordAccounting.of_outcomes(counts, candidates=n_candidates, clusters=clusters, **stats,
                                                  seconds=seconds, phase_seconds=phases)
        rundir.write_accounting(out, acc)
        rundir.write_config(out, configlib.dump(cfg))
        print(f"\ndedup finished in {seconds}s: {acc.records_read} documents, kept {acc.kept}, "
              f"exact {counts.get('dedup.exact', 0)}, url {counts.get('dedup.url', 0)}, "
              f"near-duplicate {counts.get('dedup.minhash', 0)}, {clusters} clusters\n  output: {out}", flush=True)
        return 0


def _score_column(docs, name: str):
    """The keep rule's score: a numeric column of that name, else ``scores[name]``, else null."""
    from pyspark.sql import functions as F

    if name in docs.columns:
        return F.col(name).cast("double")
    if "scores" in docs.columns:
        dtype = docs.schema["scores"].dataType
        if dtype.typeName() == "map":  # Parquet from the annotate job
            return F.col("scores")[name].cast("double")
        if dtype.typeName() == "struct" and name in dtype.fieldNames():  # JSON objects read by Spark
            return F.col("scores")[name].cast("double")
    return F.lit(None).cast("double")


def _group_dedup(df, key: str, order, reason: str):
    """Rows of each ``key`` group after the first by ``order``: (row, reason, kept id)."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    w = Window.partitionBy(key).orderBy(*order)
    ranked = df.select(ROW, key, F.row_number().over(w).alias("_rank"), F.first("id").over(w).alias("cluster"),
                       F.count("*").over(Window.partitionBy(key)).alias("_size"))
    return ranked.filter("_size > 1").select(
        ROW, F.when(F.col("_rank") > 1, F.lit(reason)).alias("reason"), "cluster")


def _apply(marked, alive, res):
    """Fold a stage's result into the marks; rows it drops leave ``alive``."""
    from pyspark.sql import functions as F

    r = res.select(ROW, F.col("reason").alias("_r"), F.col("cluster").alias("_c"))
    marked = (marked.join(r, ROW, "left")
              .select(ROW, F.coalesce("reason", "_r").alias("reason"),
                      F.when(F.col("reason").isNull() & F.col("_c").isNotNull(), F.col("_c")).otherwise(F.col("cluster")).alias("cluster")))
    dropped = res.filter("reason IS NOT NULL").select(ROW)
    alive = alive.join(dropped, ROW, "left_anti")
    return marked, alive


def _minhash_dedup(spark, df, cfg: DedupJobConfig, keep_order):
    """LSH buckets → verified star edges → connected components → one kept per component."""
    from pyspark import StorageLevel
    from pyspark.sql import Window
    from pyspark.sql import functions as F

    n_perm = cfg.bands * cfg.rows
    banded = df.select(ROW, F.posexplode("bands").alias("band", "bkey"))
    roots = banded.groupBy("band", "bkey").agg(F.min(ROW).alias("root"), F.count("*").alias("n")).filter("n > 1")
    edges = (banded.join(roots.drop("n"), ["band", "bkey"]).filter(F.col(ROW) != F.col("root"))
             .select(F.col(ROW).alias("src"), F.col("root").alias("dst")).distinct())
    if cfg.min_similarity > 0:
        sig = df.select(ROW, "sig")
        agree = F.aggregate(F.zip_with("s1", "s2", lambda x, y: F.when(x == y, 1).otherwise(0)), F.lit(0), lambda acc, x: acc + x)
        edges = (edges.join(sig.withColumnRenamed(ROW, "src").withColumnRenamed("sig", "s1"), "src")
                 .join(sig.withColumnRenamed(ROW, "dst").withColumnRenamed("sig", "s2"), "dst")
                 .filter(agree >= F.lit(int(round(cfg.min_similarity * n_perm))))
                 .select("src", "dst"))
    edges = edges.persist(StorageLevel.DISK_ONLY)
    if edges.isEmpty():  # no near-duplicates: skip the label rounds
        edges.unpersist()
        return df.select(ROW, F.lit(None).cast("string").alias("reason"), F.lit(None).cast("string").alias("cluster")).limit(0), 0
    both = edges.union(edges.select(F.col("dst").alias("src"), F.col("src").alias("dst")))
    labels = both.groupBy("src").agg(F.least(F.min("dst"), F.first("src")).alias("label")).withColumnRenamed("src", "node")
    labels = labels.localCheckpoint()
    rounds = 0
    for rounds in range(1, cfg.max_iterations + 1):
        # every node takes the smallest label among its neighbours and itself
        nbr = both.join(labels.withColumnRenamed("node", "dst"), "dst").groupBy("src").agg(F.min("label").alias("nl"))
        new = (labels.join(nbr.withColumnRenamed("src", "node"), "node", "left")
                     .select("node", F.least("label", F.coalesce("nl", "label")).alias("label"))).localCheckpoint()
        changed = new.join(labels.withColumnRenamed("label", "old"), "node").filter("label != old").count()
        labels = new
        log.info("minhash components: round %d, %d labels changed", rounds, changed)
        if changed == 0:
            break
    else:
        raise JobError(f"connected components did not converge in {cfg.max_iterations} rounds; raise max_iterations")
    edges.unpersist()
    members = df.select(ROW, "id", "crawl_date", "_score").join(labels.withColumnRenamed("node", ROW), ROW)
    w = Window.partitionBy("label").orderBy(*keep_order)
    res = members.select(ROW, F.row_number().over(w).alias("_rank"), F.first("id").over(w).alias("cluster"))
    return res.select(ROW, F.when(F.col("_rank") > 1, F.lit("dedup.minhash")).alias("reason"), "cluster"), rounds


def main(argv: list[str] | None = None) -> int:
    return DedupJob().main(argv)


if __name__ == "__main__":
    sys.exit(main())

"""The Spark session every job runs in: settings that bound executor memory."""

from __future__ import annotations

import pyarrow as pa

from spark_jobs.job import ARROW_BATCH_BYTES


def _batch_sizes(batches):
    for b in batches:
        yield pa.RecordBatch.from_pydict({"rows": [b.num_rows], "bytes": [b.nbytes]})


def test_arrow_batches_to_python_are_cut_by_bytes_not_only_rows(spark):
    # 600 rows of 20 kB: far under a job's batch_rows (1,000), but 12 MB in all. Without the byte cap
    # one batch would carry every row, so a worker's memory would grow with document length.
    spark.conf.set("spark.sql.execution.arrow.maxRecordsPerBatch", "1000")
    row_bytes = 20_000
    df = spark.range(600).selectExpr("id", f"repeat('x', {row_bytes}) AS text").repartition(1)
    sizes = df.mapInArrow(_batch_sizes, "rows long, bytes long").collect()
    assert sum(r["rows"] for r in sizes) == 600  # nothing lost by the cut
    assert len(sizes) >= 600 * row_bytes // ARROW_BATCH_BYTES
    assert max(r["bytes"] for r in sizes) <= ARROW_BATCH_BYTES + 2 * row_bytes


def test_a_stage_of_many_files_is_read_in_several_partitions_per_core(spark, tmp_path):
    # 24 Parquet files, as a stage writes them. Spark's default aims at one read partition per core,
    # so on local[2] it packs them into 2 partitions (checked: 2 with the setting unset); on a real
    # stage's uneven files that left a core idle in the short last wave (bench/scaling.py).
    # get_session aims at PARTITIONS_PER_CORE per core instead.
    from spark_jobs.job import MIN_PARTITIONS_KEY, PARTITIONS_PER_CORE

    parallelism = spark.sparkContext.defaultParallelism
    assert spark.conf.get(MIN_PARTITIONS_KEY) == str(PARTITIONS_PER_CORE * parallelism)
    spark.range(24_000).selectExpr("id", "repeat('x', 100) AS text").repartition(24).write.parquet(
        str(tmp_path / "stage"))
    df = spark.read.parquet(str(tmp_path / "stage"))
    assert df.rdd.getNumPartitions() >= PARTITIONS_PER_CORE * parallelism
    assert df.count() == 24_000


def test_a_users_partition_setting_is_kept(spark):
    from spark_jobs.job import MIN_PARTITIONS_KEY, get_session

    before = spark.conf.get(MIN_PARTITIONS_KEY)
    spark.conf.set(MIN_PARTITIONS_KEY, "3")
    try:
        assert get_session("curate-tests").conf.get(MIN_PARTITIONS_KEY) == "3"
    finally:
        spark.conf.set(MIN_PARTITIONS_KEY, before)

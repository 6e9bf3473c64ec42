"""A Parquet page damaged between stages fails the next read instead of passing on altered text."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pyarrow.parquet as pq
import pytest

from curate import pipeline
from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import process_file
from spark_jobs.annotate import AnnotateJob

DEMO_WARC = Path(__file__).resolve().parents[1] / "demo" / "demo.warc.gz"


def flip_byte_in_column(path: Path, column: str) -> None:
    """Flip one bit inside the data (not the page header) of ``column``'s first column chunk."""
    meta = pq.ParquetFile(path).metadata
    names = [meta.row_group(0).column(i).path_in_schema for i in range(meta.num_columns)]
    chunk = meta.row_group(0).column(names.index(column))
    start = chunk.dictionary_page_offset or chunk.data_page_offset
    pos = start + chunk.total_compressed_size - 20  # near the end: page bytes, past the header
    data = bytearray(path.read_bytes())
    data[pos] ^= 0x01
    path.write_bytes(bytes(data))


@pytest.fixture
def extracted_part(tmp_path) -> Path:
    result = process_file(str(DEMO_WARC), str(tmp_path / "out"), ExtractConfig(extractor="resiliparse"))
    assert result.rows_written > 0
    return tmp_path / "out" / result.part


def test_parquet_written_by_a_stage_carries_page_checksums(extracted_part):
    assert pq.read_table(extracted_part, page_checksum_verification=True).num_rows > 0
    flip_byte_in_column(extracted_part, "text")
    with pytest.raises(OSError, match="CRC checksum verification failed"):
        pq.read_table(extracted_part, page_checksum_verification=True)


def test_spark_refuses_a_damaged_page_written_outside_spark(spark, extracted_part):
    rows = spark.read.parquet(str(extracted_part)).count()
    assert rows > 0
    flip_byte_in_column(extracted_part, "text")
    with pytest.raises(Exception, match="(?s)checksum verification failed") as err:
        spark.read.parquet(str(extracted_part)).select("text").collect()
    # `curate run` turns it into one line: the file, and the stage that must rewrite it.
    plan = SimpleNamespace(name="annotate", upstream="/runs/r1/extract")
    message = pipeline.damaged_parquet_message(plan, err.value)
    assert message.startswith(f"annotate: a Parquet page in file://{extracted_part} failed its checksum")
    assert message.endswith("--from extract")


def test_spark_refuses_a_damaged_page_written_by_spark(spark, tmp_path):
    out = tmp_path / "spark-written"
    df = spark.range(3000).selectExpr("id", "concat('document ', id, repeat(' word', 40)) AS text")
    df.coalesce(1).write.option("compression", "none").parquet(str(out))
    # Object stores have no Hadoop .crc side files; remove them so the Parquet page CRC is what
    # must catch the damage, as it would on S3.
    for crc in out.glob(".*.crc"):
        crc.unlink()
    (part,) = out.glob("part-*.parquet")
    flip_byte_in_column(part, "text")
    with pytest.raises(Exception, match="(?s)checksum verification failed") as err:
        spark.read.parquet(str(out)).select("text").collect()
    message = pipeline.damaged_parquet_message(SimpleNamespace(name="mix", upstream=None), err.value)
    assert part.name in message and "--from" not in message  # the first stage has no stage to rerun
    assert pipeline.damaged_parquet_message(SimpleNamespace(name="mix", upstream=None), ValueError("x")) is None


def test_a_job_run_by_hand_over_a_damaged_part_exits_2_naming_it(spark, extracted_part, tmp_path, capsys):
    flip_byte_in_column(extracted_part, "text")
    job = AnnotateJob()
    args = job.build_parser().parse_args([str(extracted_part.parent), "--output", str(tmp_path / "annotate")])
    assert job.execute(args) == 2
    err = capsys.readouterr().err
    assert f"curate annotate: error: a Parquet page in file://{extracted_part} failed its checksum" in err

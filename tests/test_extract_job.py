"""The Spark extract job in local mode: contract, accounting, resume, overwrite, spark-submit."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest

from curation.errors import JobError
from curation.ingest.inputs import expand_inputs
from curation.output_dir import OutputRefused
from spark_jobs.extract import ExtractJob
from tests.test_warc_files import independent_count

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parent.parent
CONTRACT_COLUMNS = {"id", "url", "text", "lang", "drop_reason", "source_file"}


def run_job(spark, argv: list[str]) -> int:
    """Run the job on the test session (``main`` would start and stop a session of its own)."""
    job = ExtractJob()
    args = job.build_parser().parse_args(argv)
    return job.run(spark, args, job.load_config(args))


@pytest.fixture(scope="module")
def inputs(warc_dir) -> list[Path]:
    return [warc_dir / "commoncrawl/cc-2020-excerpt.warc.gz", warc_dir / "truncated/clipped.warc.gz",
            warc_dir / "clueweb09-quirk/clueweb-eucjp.warc.gz", warc_dir / "archiveit-2008/archiveit.arc.gz",
            warc_dir / "commoncrawl/cc-2024-22-one.warc.wet.gz"]


def test_job_output_and_accounting(spark, inputs, tmp_path):
    out = tmp_path / "out"
    assert run_job(spark, [*map(str, inputs), "--output", str(out), "--extractor", "resiliparse", "--keep-dropped"]) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    expected = sum(independent_count(p) for p in inputs)
    assert acc["records_read"] == expected == sum(acc["by_outcome"].values())
    assert acc["by_outcome"]["error.truncated"] == 1
    df = spark.read.parquet(str(out))
    assert CONTRACT_COLUMNS <= set(df.columns)
    assert df.count() == expected
    # The same numbers through DuckDB over DIR/**/*.parquet (what the funnel will use).
    con = duckdb.connect()
    rows = dict(con.execute(
        f"SELECT coalesce(drop_reason, 'kept'), count(*) FROM read_parquet('{out}/**/*.parquet') GROUP BY 1").fetchall())
    assert rows == acc["by_outcome"]
    assert "extract:\n  extractor: resiliparse" in (out / "_config.yaml").read_text()


def test_without_keep_dropped_only_kept_rows(spark, inputs, tmp_path):
    out = tmp_path / "out"
    run_job(spark, [str(inputs[0]), str(inputs[2]), "--output", str(out), "--extractor", "resiliparse"])
    acc = json.loads((out / "_accounting.json").read_text())
    df = spark.read.parquet(str(out))
    assert df.count() == acc["kept"] == 16 + 29
    assert df.filter("drop_reason IS NOT NULL").count() == 0


def test_resume_redoes_only_missing_parts_and_rerun_overwrites(spark, inputs, tmp_path):
    out = tmp_path / "out"
    argv = [*map(str, inputs[:3]), "--output", str(out), "--extractor", "resiliparse", "--keep-dropped"]
    run_job(spark, argv)
    first = json.loads((out / "_accounting.json").read_text())
    parts = sorted(out.glob("part-*.parquet"))
    assert len(parts) == 3
    # Simulate a run killed after two files: one part and its marker are missing.
    victim = parts[0]
    victim.unlink()
    (out / "_parts" / (victim.stem + ".json")).unlink()
    before = {p.name: p.stat().st_mtime_ns for p in parts[1:]}
    run_job(spark, [*argv, "--resume"])
    assert victim.exists()
    assert {p.name: p.stat().st_mtime_ns for p in parts[1:]} == before  # untouched
    resumed = json.loads((out / "_accounting.json").read_text())
    assert resumed["by_outcome"] == first["by_outcome"] and resumed["records_read"] == first["records_read"]
    # A plain re-run with fewer inputs replaces the whole output: nothing stale survives.
    run_job(spark, [str(inputs[0]), "--output", str(out), "--extractor", "resiliparse"])
    assert len(list(out.glob("part-*.parquet"))) == 1
    assert json.loads((out / "_accounting.json").read_text())["files"] == 1


def test_refuses_to_overwrite_a_foreign_folder(spark, inputs, tmp_path):
    foreign = tmp_path / "precious"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("do not delete")
    with pytest.raises(OutputRefused, match="refusing"):
        run_job(spark, [str(inputs[0]), "--output", str(foreign)])
    assert (foreign / "thesis.tex").exists()


def test_inputs_globs_dirs_and_manifests(warc_dir, tmp_path):
    manifest = tmp_path / "warcs.txt"
    manifest.write_text(f"# comment\n{warc_dir}/commoncrawl/*.warc.gz\n{warc_dir / 'truncated'}\n")
    files = expand_inputs([str(manifest)])
    names = [os.path.basename(f) for f in files]
    assert names == ["cc-2019-one.warc.gz", "cc-2020-excerpt.warc.gz", "cc-2024-22-one.warc.gz", "clipped.warc.gz"]
    assert len(expand_inputs([str(warc_dir / "commoncrawl")])) == 5  # warc, wet and wat
    with pytest.raises(JobError, match="matches no file"):
        expand_inputs([str(tmp_path / "nothing-*.warc.gz")])


def test_hadoop_uri_inputs_are_globbed_by_spark(spark, warc_dir):
    files = expand_inputs([f"file://{warc_dir}/dolma-2024/*.warc.gz"], spark)
    assert [f.rsplit("/", 1)[-1] for f in files] == ["sample-0000.warc.gz", "sample-0001.warc.gz"]
    assert all(f.startswith("file:") for f in files)


@pytest.mark.slow
def test_spark_submit_runs_the_job_script(warc_dir, tmp_path):
    import pyspark

    env = {**os.environ, "SPARK_HOME": os.path.dirname(pyspark.__file__), "PYSPARK_PYTHON": sys.executable,
           "PYSPARK_DRIVER_PYTHON": sys.executable, "SPARK_LOCAL_IP": "127.0.0.1"}
    submit = Path(env["SPARK_HOME"]) / "bin" / "spark-submit"
    out = tmp_path / "out"
    proc = subprocess.run(
        [str(submit), "--master", "local[2]", "--conf", "spark.ui.enabled=false", str(ROOT / "spark_jobs" / "extract.py"),
         str(warc_dir / "dolma-2024"), "--output", str(out), "--set", "extract.extractor=resiliparse"],
        env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["records_read"] == 48 + 34 and acc["kept"] == 37
    assert "extract finished" in proc.stdout


def test_time_limit_is_enforced_inside_spark_workers(spark, warc_dir, tmp_path):
    # SIGALRM only works on a process's main thread: this proves Spark's Python workers qualify.
    out = tmp_path / "out"
    run_job(spark, [str(warc_dir / "dolma-2024/sample-0000.warc.gz"), "--output", str(out),
                    "--set", "extract.time_limit_s=0.0001"])
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["by_outcome"].get("trafilatura_v1.timeout", 0) >= 15
    assert acc["records_read"] == 48

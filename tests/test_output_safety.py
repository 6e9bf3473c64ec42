"""Curate deletes only what it wrote, and never reads an input twice (issue 16, items 1, 2 and 5).

Every attack is reproduced on real files (the demo WARC, a Jekyll-like site) and checked by hashing
the whole tree before and after: a refusal must touch nothing.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from curate.demo import DEMO_WARC
from curation import output_dir
from curation.output_dir import MARKER, OutputRefused

ROOT = Path(__file__).resolve().parent.parent
CURATE = [sys.executable, "-m", "curate.cli"]


def tree_hash(root: Path) -> str:
    """sha256 over every entry below ``root``: names, file bytes and link targets."""
    h = hashlib.sha256()
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()
        for name in sorted(dirnames + filenames):
            p = Path(dirpath) / name
            h.update(str(p.relative_to(root)).encode())
            if p.is_symlink():
                h.update(b"->" + os.readlink(p).encode())
            elif p.is_file():
                h.update(p.read_bytes())
    return h.hexdigest()


def jekyll_site(root: Path) -> Path:
    """What a user's folder with a ``_config.yaml`` looks like (the one a stage used to delete)."""
    (root / "_posts").mkdir(parents=True)
    (root / "_config.yaml").write_text("title: My blog\ntheme: minima\n")
    (root / "index.md").write_text("# Welcome\n")
    (root / "_posts" / "2026-12-01-hello.md").write_text("---\nlayout: post\n---\nHello.\n")
    return root


def curate(*args: str, cwd: Path | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable,
           "PYTHONPATH": str(ROOT)}
    return subprocess.run([*CURATE, *args], capture_output=True, text=True, timeout=timeout, env=env, cwd=cwd)


def one_line_error(proc: subprocess.CompletedProcess, needle: str) -> None:
    assert proc.returncode == 2, proc.stderr[-2000:]
    assert "Traceback" not in proc.stderr, proc.stderr[-2000:]
    lines = [ln for ln in proc.stderr.splitlines() if needle in ln]
    assert lines, proc.stderr[-2000:]


# ------------------------------------------------------------------------------- claim(), no JVM
def test_new_and_empty_folders_are_claimed_with_a_marker(tmp_path):
    output_dir.claim(str(tmp_path / "a" / "b"), "extract")
    marker = json.loads((tmp_path / "a" / "b" / MARKER).read_text())
    assert marker["format"] == "curate-output" and marker["version"] == 1 and marker["stage"] == "extract"
    (tmp_path / "empty").mkdir()
    output_dir.claim(str(tmp_path / "empty"), "dedup")
    assert output_dir.read_marker(str(tmp_path / "empty")) == "dedup"


@pytest.mark.parametrize("resume", [False, True])
def test_a_folder_without_the_marker_is_never_touched(tmp_path, resume):
    site = jekyll_site(tmp_path / "site")
    before = tree_hash(tmp_path)
    with pytest.raises(OutputRefused, match="not made by curate"):
        output_dir.claim(str(site), "annotate", resume=resume)
    # A look-alike marker (other format, a newer version, not JSON) proves nothing either.
    for fake in ('{"stage": "annotate"}', '{"format": "curate-output", "version": 99, "stage": "annotate"}', "x"):
        (site / MARKER).write_text(fake)
        with pytest.raises(OutputRefused, match="not made by curate"):
            output_dir.claim(str(site), "annotate", resume=resume)
    (site / MARKER).unlink()
    assert tree_hash(tmp_path) == before


def test_an_overwrite_deletes_only_what_curate_writes(tmp_path):
    out = tmp_path / "out"
    output_dir.claim(str(out), "dedup")
    for name in ("part-00000-abc.zstd.parquet", ".part-00000-abc.zstd.parquet.crc", "_SUCCESS", "_config.yaml",
                 "_accounting.json"):
        (out / name).write_text("x")
    (out / "_temporary" / "0").mkdir(parents=True)
    (out / "notes.txt").write_text("my notes")  # a user's file dropped into the output
    before = tree_hash(tmp_path)
    with pytest.raises(OutputRefused, match=r"curate did not write \(notes.txt\)"):
        output_dir.claim(str(out), "dedup")
    assert tree_hash(tmp_path) == before
    output_dir.claim(str(out), "dedup", resume=True)  # resuming deletes nothing, so it may go on
    assert tree_hash(tmp_path) == before
    (out / "notes.txt").unlink()
    output_dir.claim(str(out), "dedup")
    assert sorted(p.name for p in out.iterdir()) == [MARKER]


def test_another_stages_output_and_a_file_are_refused(tmp_path):
    output_dir.claim(str(tmp_path / "extract"), "extract")
    (tmp_path / "extract" / "part-x.parquet").write_text("x")
    with pytest.raises(OutputRefused, match="holds curate's 'extract' output"):
        output_dir.claim(str(tmp_path / "extract"), "annotate")
    assert (tmp_path / "extract" / "part-x.parquet").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(OutputRefused, match="is a file"):
        output_dir.claim(str(tmp_path / "f"), "extract")


def test_output_inside_an_input_and_input_inside_the_output(tmp_path):
    (tmp_path / "in").mkdir()
    (tmp_path / "in" / "x.warc.gz").write_bytes(b"")
    os.symlink(tmp_path / "in", tmp_path / "alias")
    for out, inputs in ((tmp_path / "in", [tmp_path / "in" / "x.warc.gz"]),
                        (tmp_path / "in" / "out", [tmp_path / "in"]),
                        (tmp_path / "alias" / "out", [tmp_path / "in"]),  # the same folder through a link
                        (tmp_path, [tmp_path / "in" / "x.warc.gz"])):
        with pytest.raises(OutputRefused, match="inside"):
            output_dir.claim(str(out), "extract", inputs=[str(i) for i in inputs])
    assert not (tmp_path / "in" / MARKER).exists() and not (tmp_path / "in" / "out").exists()
    with pytest.raises(OutputRefused, match="inside"):
        output_dir.refuse_overlap("s3a://bucket/run/out", ["s3://bucket/run"])
    output_dir.refuse_overlap(str(tmp_path / "in2"), [str(tmp_path / "in")])  # a sibling with a common prefix


# ------------------------------------------------------------------------------- inputs, no JVM
def test_globs_resolve_links_once_and_existing_names_are_not_globs(tmp_path):
    from curation.ingest.inputs import expand_inputs

    (tmp_path / "d" / "sub").mkdir(parents=True)
    shutil.copy(DEMO_WARC, tmp_path / "d" / "sub" / "demo.warc.gz")
    os.symlink(".", tmp_path / "d" / "self")  # a loop: glob's ** used to expand one file into 81 inputs
    os.symlink(tmp_path / "d" / "sub", tmp_path / "d" / "again")  # one folder reached by two paths
    real = str((tmp_path / "d" / "sub" / "demo.warc.gz").resolve())
    assert expand_inputs([f"{tmp_path}/d/**/*.warc.gz"]) == [real]
    assert expand_inputs([str(tmp_path / "d")]) == [real]
    assert expand_inputs([str(tmp_path / "d" / "again" / "demo.warc.gz"), f"{tmp_path}/d/sub/*.gz"]) == [real]
    odd = tmp_path / "crawl[1].warc.gz"  # an existing name with glob characters is that file
    shutil.copy(DEMO_WARC, odd)
    assert expand_inputs([str(odd)]) == [str(odd.resolve())]
    assert expand_inputs([f"{tmp_path}/crawl[1].warc.gz", f"{tmp_path}/crawl?[!x]?.warc.gz"]) == [str(odd.resolve())]


def test_ids_include_the_files_identity():
    from curation.ingest.warc import record_key

    assert record_key("/a/CC-00000.warc.gz", 0) != record_key("/b/CC-00000.warc.gz", 0)
    assert record_key("/a/CC-00000.warc.gz", 0) == record_key("/a/CC-00000.warc.gz", 0)


def test_batch_rows_must_be_positive():
    from curation.config import ConfigError
    from spark_jobs.annotate import AnnotateJob
    from spark_jobs.dedup import DedupJob

    for job, argv in ((AnnotateJob(), ["in", "-o", "out"]), (DedupJob(), ["in", "-o", "out"])):
        for value in ("0", "-5"):
            args = job.build_parser().parse_args([*argv, "--set", f"batch_rows={value}"])
            with pytest.raises(ConfigError, match="batch_rows must be >= 1"):
                job.load_config(args)


# ------------------------------------------------------------------------------- the jobs (Spark)
@pytest.mark.spark
def test_extract_and_annotate_refuse_a_jekyll_site_and_their_input(spark, tmp_path):
    from spark_jobs.annotate import AnnotateJob
    from spark_jobs.extract import ExtractJob

    def run(job, argv):
        args = job.build_parser().parse_args(argv)
        return job.run(spark, args, job.load_config(args))

    site = jekyll_site(tmp_path / "site")
    inputdir = tmp_path / "inputdir"
    inputdir.mkdir()
    shutil.copy(DEMO_WARC, inputdir / "demo.warc.gz")
    before = tree_hash(tmp_path)
    for argv in ([str(inputdir), "-o", str(site)], [str(inputdir), "-o", str(site), "--resume"],
                 [str(inputdir), "-o", str(inputdir)], [str(inputdir), "-o", str(inputdir), "--resume"],
                 [str(inputdir), "-o", str(inputdir / "out")]):
        with pytest.raises(OutputRefused):
            run(ExtractJob(), [*argv, "--extractor", "resiliparse"])
        assert tree_hash(tmp_path) == before, argv
    extracted = tmp_path / "extracted"
    assert run(ExtractJob(), [str(inputdir), "-o", str(extracted), "--extractor", "resiliparse", "--keep-dropped"]) == 0
    assert output_dir.read_marker(str(extracted)) == "extract"
    before = tree_hash(tmp_path)
    for out in (site, extracted, extracted / "annotate", tmp_path):
        with pytest.raises(OutputRefused):
            run(AnnotateJob(), [str(extracted), "-o", str(out)])
        assert tree_hash(tmp_path) == before, out
    # A rerun over its own output replaces it and keeps nothing stale.
    annotated = tmp_path / "annotated"
    assert run(AnnotateJob(), [str(extracted), "-o", str(annotated), "--keep-dropped"]) == 0
    first = json.loads((annotated / "_accounting.json").read_text())
    assert run(AnnotateJob(), [str(extracted), "-o", str(annotated), "--keep-dropped"]) == 0
    assert json.loads((annotated / "_accounting.json").read_text())["records_read"] == first["records_read"]
    assert spark.read.parquet(str(annotated)).count() == first["records_read"]
    assert output_dir.read_marker(str(annotated)) == "annotate"


@pytest.mark.spark
def test_same_named_files_in_two_folders_keep_distinct_ids(spark, tmp_path):
    from spark_jobs.extract import ExtractJob

    for d in ("crawl-a", "crawl-b"):
        (tmp_path / d).mkdir()
        shutil.copy(DEMO_WARC, tmp_path / d / "demo.warc.gz")
    os.symlink(tmp_path / "crawl-a" / "demo.warc.gz", tmp_path / "link.warc.gz")  # the same file again
    out = tmp_path / "out"
    job = ExtractJob()
    args = job.build_parser().parse_args([f"{tmp_path}/**/*.warc.gz", str(tmp_path / "link.warc.gz"),
                                          "-o", str(out), "--extractor", "resiliparse", "--keep-dropped"])
    assert job.run(spark, args, job.load_config(args)) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["files"] == 2
    rows = spark.read.parquet(str(out))
    assert rows.count() == acc["records_read"] == rows.select("id").distinct().count()


# ------------------------------------------------------------------------------- CLI, one line, exit 2
@pytest.mark.spark
@pytest.mark.slow
def test_commands_refuse_a_foreign_output_in_one_line(tmp_path):
    site = jekyll_site(tmp_path / "site")
    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "text": "hello world"}) + "\n")
    before = tree_hash(tmp_path)
    one_line_error(curate("extract", str(DEMO_WARC), "-o", str(site)), "not made by curate")
    one_line_error(curate("run", str(ROOT / "demo" / "pipeline.yaml"), "--output", str(site),
                          "--input", str(DEMO_WARC)), "not made by curate")
    one_line_error(curate("ingest", "text", str(docs), "-o", str(site)), "not made by curate")
    for name in ("a", "b"):
        (tmp_path / f"{name}.txt").write_text(f"source {name} text\n" * 50)
    (tmp_path / "ablate.yaml").write_text(
        f"sources: [{{name: a, input: {tmp_path / 'a.txt'}}}, {{name: b, input: {tmp_path / 'b.txt'}}}]\n")
    before = tree_hash(tmp_path)
    one_line_error(curate("ablate", "--config", str(tmp_path / "ablate.yaml"), "-o", str(site)), "not made by curate")
    one_line_error(curate("label", "-i", str(docs), "-o", str(docs), "--base-url", "http://127.0.0.1:9/v1",
                          "--model", "m"), "inside")
    one_line_error(curate("label", "-i", str(docs), "-o", str(site / "index.md"), "--base-url",
                          "http://127.0.0.1:9/v1", "--model", "m"), "not written by curate label")
    assert tree_hash(tmp_path) == before


def test_catalog_replaces_only_its_own_file(tmp_path):
    import duckdb

    from curation.query import run_sql

    run = tmp_path / "run"
    (run / "extract").mkdir(parents=True)
    duckdb.sql(f"COPY (SELECT 'a' AS id, 'text' AS text) TO '{run}/extract/part-0.parquet' (FORMAT parquet)")
    mine = tmp_path / "mine.duckdb"  # a user's own database, and a plain file, at the --output path
    con = duckdb.connect(str(mine))
    con.execute("CREATE TABLE notes AS SELECT 42 AS x")
    con.close()
    (tmp_path / "notes.txt").write_text("precious")
    before = tree_hash(tmp_path)
    for target in (mine, tmp_path / "notes.txt", run):
        with pytest.raises(OutputRefused):
            run_sql.write_catalog(run, target)
    assert tree_hash(tmp_path) == before
    path = run_sql.write_catalog(run)
    assert run_sql.is_catalog(path) and run_sql.catalog_counts(path) == {"extract": 1}
    assert run_sql.write_catalog(run) == path  # its own catalog is rebuilt


def test_score_and_train_classifier_never_overwrite_a_users_file(tmp_path):
    """`curate score -o` the input (or any file it did not write) and `train-classifier -o` a user's
    folder are refused before any model is loaded or trained."""
    from curate import cli

    docs = tmp_path / "docs.jsonl"
    docs.write_text(json.dumps({"id": "1", "text": "hello"}) + "\n")
    site = jekyll_site(tmp_path / "site")
    before = tree_hash(tmp_path)
    assert cli.main(["score", "--model", str(tmp_path / "no-model"), "--input", str(docs), "--output", str(docs)]) == 2
    assert cli.main(["score", "--model", str(tmp_path / "no-model"), "--input", str(docs),
                     "--output", str(site / "index.md")]) == 2
    assert cli.main(["train-classifier", "--recipe", "labels", "--labels", str(docs), "--docs", str(docs),
                     "--output", str(site)]) == 2
    assert tree_hash(tmp_path) == before
    assert output_dir.parquet_written_by(str(docs), "score") is False

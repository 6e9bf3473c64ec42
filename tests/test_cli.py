"""The `curate` command end to end: the demo (CLI → Spark → Parquet) and clear user errors."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import duckdb
import pytest

from curate.demo import DEMO_WARC
from curate.demo_warc import write_demo_warc

CURATE = [sys.executable, "-m", "curate.cli"]


def curate(*args: str, timeout: int = 300) -> subprocess.CompletedProcess:
    env = {**os.environ, "PYSPARK_PYTHON": sys.executable, "PYSPARK_DRIVER_PYTHON": sys.executable}
    return subprocess.run([*CURATE, *args], capture_output=True, text=True, timeout=timeout, env=env)


@pytest.mark.spark
@pytest.mark.slow
def test_demo_extracts_every_kind_of_page(tmp_path):
    summary = write_demo_warc(tmp_path / "check.warc.gz")
    out = tmp_path / "demo"
    proc = curate("demo", "--output", str(out))
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "extract finished" in proc.stdout and "annotate finished" in proc.stdout and str(out) in proc.stdout
    assert "| kept " in proc.stdout and "score_threshold_v1" in proc.stdout  # the funnel, with the classifier drops
    annotated = json.loads((out / "annotate" / "_accounting.json").read_text())
    out = out / "extract"
    acc = json.loads((out / "_accounting.json").read_text())
    assert annotated["records_read"] == acc["records_read"]
    # The demo runs the fast classifiers before the heuristics (demo/pipeline.yaml): the login page and
    # both spam pages fall below the English score cuts; the good English explainer pages survive.
    assert sum(v for k, v in annotated["by_outcome"].items() if k.startswith("score_threshold_v1.")) >= 3
    assert acc["records_read"] == summary.records == sum(acc["by_outcome"].values())
    outcomes = acc["by_outcome"]
    assert outcomes["error.http_headers"] == 1 and outcomes["warc.revisit"] == 1
    assert outcomes["trafilatura_v1.not_html"] == 3  # png, pdf, robots.txt
    assert outcomes["http.status_3xx"] == 1 and outcomes["http.status_4xx"] == 1
    assert duckdb.sql(f"SELECT count(*) FROM '{out}/*.parquet'").fetchall()[0][0] == summary.records  # dropped rows kept
    rows = {r[0]: r[1:] for r in duckdb.sql(
        f"SELECT url, text, charset, drop_reason FROM '{out}/*.parquet' WHERE record_type = 'response'").fetchall()}
    by_kind = {kind: url for url, kind in summary.urls.items()}
    ja_text, ja_charset, _ = rows[by_kind["non-english-ja-shift_jis"]]
    assert ja_charset == "cp932" and sum("\u3040" <= c <= "\u30ff" for c in ja_text) > 50
    fr_text, fr_charset, _ = rows[by_kind["non-english-fr-windows-1252"]]
    assert fr_charset == "cp1252" and "€" in fr_text
    math_text = rows[by_kind["educational-math"]][0]
    assert "$" in math_text and "\\frac" in math_text
    code_text = rows[by_kind["educational-code"]][0]
    assert "\n    " in code_text and "def " in code_text
    assert rows[by_kind["no-content-type"]][2] is None  # sniffed as HTML and kept
    assert "Cookie" not in rows[by_kind["educational-table"]][0]


def test_committed_demo_input_is_what_the_generator_writes(tmp_path):
    write_demo_warc(tmp_path / "d.warc.gz")
    assert DEMO_WARC.read_bytes() == (tmp_path / "d.warc.gz").read_bytes()


def test_bad_override_is_a_one_line_error_before_spark_starts(tmp_path):
    proc = curate("extract", str(DEMO_WARC), "--output", str(tmp_path / "o"), "--set", "extract.extracter=x", timeout=60)
    assert proc.returncode == 2
    assert "unknown config key(s) extract.extracter" in proc.stderr
    assert not (tmp_path / "o").exists()


def test_help_lists_the_commands():
    proc = curate("--help", timeout=60)
    assert proc.returncode == 0
    for command in ("extract", "annotate", "funnel", "fetch-cc", "demo", "label", "train-classifier", "score"):
        assert command in proc.stdout

"""The annotate job and the funnel: Spark local mode over real extracted pages."""

from __future__ import annotations

import json
from pathlib import Path

import duckdb
import pytest

from curation import config
from curation.filters.annotate_task import AnnotateJobConfig
from curation.query import funnel
from spark_jobs.annotate import AnnotateJob
from spark_jobs.extract import ExtractJob

pytestmark = pytest.mark.spark
ROOT = Path(__file__).resolve().parent.parent


def run(spark, job, argv):
    args = job.build_parser().parse_args(argv)
    return job.run(spark, args, job.load_config(args))


@pytest.fixture(scope="module")
def extracted(spark, warc_dir, tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("run") / "extract"
    inputs = [warc_dir / "commoncrawl/cc-2020-excerpt.warc.gz", warc_dir / "dolma-2024",
              warc_dir / "clueweb09-quirk/clueweb-eucjp.warc.gz", warc_dir / "truncated/clipped.warc.gz"]
    assert run(spark, ExtractJob(), [*map(str, inputs), "--output", str(out), "--extractor", "resiliparse", "--keep-dropped"]) == 0
    return out


def test_shipped_config_equals_defaults():
    assert config.load(AnnotateJobConfig, ROOT / "spark_jobs/configs/annotate.yaml") == AnnotateJobConfig()


def test_annotate_keeps_every_row_and_funnel_matches(spark, extracted):
    out = extracted.parent / "annotate"
    assert run(spark, AnnotateJob(), [str(extracted), "--output", str(out), "--keep-dropped"]) == 0
    extract_acc = json.loads((extracted / "_accounting.json").read_text())
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["records_read"] == extract_acc["records_read"] == sum(acc["by_outcome"].values())
    con = duckdb.connect()
    n, langs = con.execute(f"SELECT count(*), count(DISTINCT lang) FROM '{out}/*.parquet'").fetchall()[0]
    assert n == acc["records_read"] and langs >= 3  # en, ja, zh/ru… from the CC excerpt
    # Promoted columns are plain columns equal to the scores they copy.
    bad = con.execute(f"SELECT count(*) FROM '{out}/*.parquet' WHERE lang_score IS DISTINCT FROM scores['lang_score']").fetchall()[0][0]
    assert bad == 0
    # Extraction outcomes pass through unchanged; annotate reasons name their step.
    for reason, count in extract_acc["by_outcome"].items():
        if reason != "kept":
            assert acc["by_outcome"][reason] == count
    assert any(k.startswith(("gopher_", "c4_", "fineweb_", "fasttext_lid_v1.")) for k in acc["by_outcome"])
    # The ClueWeb Japanese pages are shop listings (repetitive, short lines: rightly dropped), but never
    # for reasons that assume space-separated words.
    ja = dict(con.execute(f"SELECT drop_reason, count(*) FROM '{out}/*.parquet' WHERE lang = 'ja' GROUP BY 1").fetchall())
    assert sum(ja.values()) >= 20
    assert not {"gopher_quality_v1.short_words", "gopher_quality_v1.long_words", "gopher_quality_v1.too_few_stop_words"} & set(ja)
    # The funnel is computed from the data and agrees with the job's own counters.
    rows, meta = funnel.compute(extracted.parent)
    assert meta["stage_dir"].endswith("annotate")
    assert {r.outcome: r.docs for r in rows} == acc["by_outcome"]
    table = funnel.render(rows, meta)
    assert "kept" in table and "warc.request" in table and "error.truncated" in table
    # Per language: the same documents, split by lang.
    by_lang, _ = funnel.compute(extracted.parent, by="lang")
    assert sum(r.docs for r in by_lang) == acc["records_read"]
    assert any(r.outcome == "kept" and r.by == "en" for r in by_lang)
    # Per page type (recorded by extract for every HTML page): the same documents again, and the
    # kept ones all have one (only non-HTML records, e.g. WARC requests, have none).
    by_type, _ = funnel.compute(extracted.parent, by="page_type")
    assert sum(r.docs for r in by_type) == acc["records_read"]
    kept_types = {r.by for r in by_type if r.outcome == "kept"}
    assert kept_types and kept_types <= {"article", "forum", "product", "collection", "listing", "docs", "service", "other"}


def test_annotate_without_keep_dropped_writes_only_kept(spark, extracted, tmp_path):
    out = tmp_path / "ann"
    run(spark, AnnotateJob(), [str(extracted), "--output", str(out)])
    acc = json.loads((out / "_accounting.json").read_text())
    n = duckdb.sql(f"SELECT count(*) FROM '{out}/*.parquet'").fetchall()[0][0]
    assert n == acc["kept"] > 0
    rows, meta = funnel.compute(out)
    assert "--keep-dropped" in funnel.render(rows, meta)  # the funnel says what it cannot see


def test_bad_step_config_fails_before_spark():
    job = AnnotateJob()
    args = job.build_parser().parse_args(["in", "--output", "out", "--set", "steps=[{name: nope_v1}]"])
    with pytest.raises(config.ConfigError, match="unknown step"):
        job.load_config(args)
    args = job.build_parser().parse_args(["in", "--output", "out", "--set", "steps=[{name: gopher_quality_v1, params: {min_doc_words: many}}]"])
    with pytest.raises(config.ConfigError):
        job.load_config(args)


def test_classifier_scores_in_spark_and_top_fraction_selects(spark, extracted, shared_data, tmp_path):
    """Score real pages with a fastText model inside the Spark job, then keep the top 30%."""
    from classifiers import fasttext_model
    from classifiers.training_data import build_default_training_set

    train, valid, info = build_default_training_set(shared_data, tmp_path / "data", max_per_source=60)
    fasttext_model.train(train, valid, tmp_path / "model", params={"dim": 16, "epoch": 5, "thread": 1}, data_info=info)
    out = tmp_path / "ann"
    steps = f"steps=[{{name: fasttext_lid_v1}}, {{name: fasttext_classifier_v1, params: {{model_dir: '{tmp_path / 'model'}'}}}}]"
    assert run(spark, AnnotateJob(), [str(extracted), "--output", str(out), "--keep-dropped", "--set", steps,
                                      "--set", "top_fraction={quality: 0.3}", "--set", "promote=[quality]"]) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    con = duckdb.connect()
    kept, cut, lo_kept, hi_cut = con.execute(f"""
        SELECT count(*) FILTER (WHERE drop_reason IS NULL), count(*) FILTER (WHERE drop_reason = 'top_fraction.quality'),
               min(quality) FILTER (WHERE drop_reason IS NULL), max(quality) FILTER (WHERE drop_reason = 'top_fraction.quality')
        FROM '{out}/*.parquet'""").fetchall()[0]
    candidates = acc["top_fraction"]["quality"]["candidates"]
    assert candidates == kept + cut > 50
    assert abs(kept / candidates - 0.3) < 0.03  # the top 30% of what passed language ID
    assert lo_kept >= acc["top_fraction"]["quality"]["threshold"] > hi_cut
    assert acc["records_read"] == sum(acc["by_outcome"].values()) and acc["by_outcome"]["top_fraction.quality"] == cut


def test_top_fraction_needs_a_recorded_score(spark, extracted, tmp_path):
    from curation.errors import JobError

    with pytest.raises(JobError, match="no kept document has a 'nope' score"):
        run(spark, AnnotateJob(), [str(extracted), "--output", str(tmp_path / "a"), "--set", "top_fraction={nope: 0.5}"])
    job = AnnotateJob()
    args = job.build_parser().parse_args(["in", "--output", "out", "--set", "top_fraction={quality: 1.5}"])
    with pytest.raises(config.ConfigError, match=r"top_fraction.quality: must be in \(0, 1\]"):
        job.load_config(args)

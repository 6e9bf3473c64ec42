"""The dashboard: every page on a generated run, numbers checked against SQL over the same data;
the read-only SQL console; the raw-record and contamination views; background ablation jobs."""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml

pytest.importorskip("streamlit")
from streamlit.testing.v1 import AppTest

from curation.query import funnel as funnel_mod
from curation.query import run_sql
from dashboards import ablation_outputs, data, docview, jobs, launch, queries, sample_run

APP = Path(__file__).resolve().parent.parent / "dashboards" / "app.py"
#: A document's tokens as the dashboard counts them: the run's tokenizer (the sample run's mixture
#: names the bundled one), one text at a time through a DuckDB function (the pages count in batches).
TOKENS = "ntok(text)"


@pytest.fixture(scope="module")
def run(tmp_path_factory) -> sample_run.SampleRun:
    return sample_run.make_run(tmp_path_factory.mktemp("run") / "run", 3000, seed=1)


@pytest.fixture(scope="module")
def con(run):
    c = run_sql.connect(run.run_dir)
    counter = queries.token_counter(run.run_dir)
    assert (counter.unit, counter.name) == ("tokens", "bundled")
    c.create_function("ntok", lambda texts: pa.array([int(counter.count([t])[0]) for t in texts.to_pylist()], pa.int64()),
                      ["VARCHAR"], "BIGINT", type="arrow")
    yield c
    c.close()


@pytest.fixture()
def app(run, monkeypatch) -> AppTest:
    monkeypatch.setenv(data.RUN_DIR_ENV, str(run.run_dir))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    assert not at.exception, at.exception
    return at


def page(at: AppTest, name: str) -> AppTest:
    at.switch_page(f"pages/{name}.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def frame(at: AppTest, *cols: str):
    """The first dataframe shown with these columns (AppTest does not look dataframes up by key)."""
    return next(d.value for d in at.dataframe if set(cols) <= set(d.value.columns))


def metric(at: AppTest, label: str) -> str:
    return next(m.value for m in at.metric if m.label == label)


def num(text: str) -> int:
    return int(text.replace(",", ""))


def one(con, sql: str, params=()):
    return con.execute(sql, list(params)).fetchone()


# ------------------------------------------------------------------------------------- sample run


def test_sample_run_has_the_real_layout(run, con):
    tables = run_sql.discover_tables(run.run_dir)
    assert {"extract", "annotate", "dedup", "decontaminate", "mix", "ablations_demo_runs"} <= set(tables)
    assert one(con, "SELECT count(*) FROM decontaminate")[0] == 3000
    assert one(con, "SELECT count(DISTINCT drop_reason) FROM decontaminate")[0] >= 10
    # Later-stage reasons are still undecided at earlier stages.
    assert one(con, "SELECT count(*) FROM annotate WHERE drop_reason LIKE 'dedup.%'")[0] == 0
    # A cluster's members are copies or near-copies of its kept document.
    keeper, dup = one(con, """SELECT k.text, d.text FROM decontaminate d JOIN decontaminate k ON k.id = d.dup_cluster
                              WHERE d.drop_reason = 'dedup.exact' LIMIT 1""")
    assert keeper == dup
    assert one(con, "SELECT count(*) FROM decontaminate WHERE decontam_status = 'contaminated'")[0] >= 1
    # funnel.compute (the CLI) reads the same run.
    rows, _ = funnel_mod.compute(run.run_dir)
    assert sum(r.docs for r in rows) == 3000


@pytest.mark.slow  # ~12 s: generates a 100k-document sample run
def test_sample_run_at_100k_takes_seconds(tmp_path):
    started = time.perf_counter()
    sample_run.make_run(tmp_path / "big", 100_000)
    assert time.perf_counter() - started < 60  # ~6-12 s here; minutes would make the benchmark useless
    assert duckdb.sql(f"SELECT count(*) FROM '{tmp_path}/big/decontaminate/*.parquet'").fetchall()[0][0] == 100_000


# ------------------------------------------------------------------------------------- pages


@pytest.mark.slow  # ~2 s: Streamlit AppTest renders
def test_funnel_page_matches_sql_and_curate_funnel(app, run, con):
    total, tokens = one(con, f"SELECT count(*), sum({TOKENS}) FROM decontaminate")
    kept, kept_tokens = one(con, f"SELECT count(*), sum({TOKENS}) FROM decontaminate WHERE drop_reason IS NULL")
    # Documents: the records extraction ran on (not WARC requests, non-2xx responses, non-HTML or
    # records cut short).
    not_docs = one(con, "SELECT count(*) FROM decontaminate WHERE drop_reason LIKE 'warc.%' OR drop_reason "
                        "LIKE 'http.%' OR drop_reason IN ('trafilatura_v1.not_html', 'error.truncated')")[0]
    assert num(metric(app, "Records read")) == total
    assert num(metric(app, "Documents")) == total - not_docs > 0
    assert num(metric(app, "Tokens")) == tokens
    assert num(metric(app, "Kept documents")) == kept
    assert num(metric(app, "Kept tokens")) == kept_tokens
    table = frame(app, "stage", "outcome", "% of documents")
    cli = {r.outcome: (r.docs, r.tokens) for r in funnel_mod.compute(run.run_dir)[0]}
    assert {r.outcome: (r.records, r.tokens) for r in table.itertuples()} == cli
    assert list(table["outcome"])[-1] == "kept" and list(table["stage"])[0] in ("error", "warc")
    assert table.loc[table["outcome"] == "kept", "% of documents"].item() == round(100 * kept / (total - not_docs), 2)
    assert table.loc[table["outcome"] == "warc.request", "% of documents"].isna().all()
    # The language filter.
    app.multiselect(key="funnel_langs").set_value(["de"]).run()
    de = one(con, "SELECT count(*) FROM decontaminate WHERE lang = 'de'")[0]
    assert num(metric(app, "Records read")) == num(metric(app, "Documents")) == de > 0


@pytest.mark.slow  # ~1 s: Streamlit AppTest renders
def test_scores_slider_changes_what_is_kept(app, con):
    at = page(app, "scores")
    at.selectbox(key="scores_key").set_value("quality").run()
    with_score = one(con, "SELECT count(*) FROM decontaminate WHERE scores['quality'] IS NOT NULL")[0]
    assert num(metric(at, "Documents kept")) == with_score  # the lowest threshold keeps every scored document
    hist = queries.score_histograms(con, "decontaminate")["quality"]
    for k in (37, 120):
        at.select_slider(key="scores_threshold_quality").set_value(k).run()
        docs, tokens = one(con, f"SELECT count(*), coalesce(sum({TOKENS}), 0) FROM decontaminate "
                                "WHERE scores['quality'] >= ?", [hist.edge(k)])
        assert num(metric(at, "Documents kept")) == docs
        assert num(metric(at, "Tokens kept")) == tokens
        assert float(metric(at, "Threshold")) == pytest.approx(hist.edge(k), rel=1e-5)
    assert 0 < docs < with_score
    # Only kept documents: a different population, same rule.
    at.checkbox(key="scores_kept_only").check().run()
    kept_only = queries.score_histograms(con, "decontaminate", kept_only=True)["quality"]
    assert num(metric(at, "Documents kept")) == one(
        con, "SELECT count(*) FROM decontaminate WHERE drop_reason IS NULL AND scores['quality'] >= ?",
        [kept_only.edge(120)])[0]


# ------------------------------------------------------------------------------ classifier drops

#: Written out here, not taken from curation.filters.score_filters: the test checks the page against the data.
CLASSIFIER_REASONS = "(drop_reason LIKE 'score_threshold_v%' OR drop_reason LIKE 'top_fraction.%')"
THRESHOLD_REASON = "score_threshold_v1.quality_reference_below"
TOP_FRACTION_REASON = "top_fraction.quality_fasttext"


def app_on(run_dir: Path, monkeypatch, name: str) -> AppTest:
    """The app on another run than the module's, opened at one page."""
    monkeypatch.setenv(data.RUN_DIR_ENV, str(run_dir))
    at = AppTest.from_file(str(APP), default_timeout=60)
    at.run()
    return page(at, name)


def chart_layers(at: AppTest) -> dict[str, list[dict]]:
    """Mark type → rows of its data, for the page's (one) Vega-Lite chart: Streamlit ships each
    layer's data as an Arrow dataset named in the spec."""
    import pyarrow as pa

    proto = at.get("vega_lite_chart")[0].proto
    spec = json.loads(proto.spec)
    datasets = {d.name: pa.ipc.open_stream(d.data.data).read_all().to_pylist() for d in proto.datasets}
    layers = spec.get("layer", [spec])
    return {(la["mark"]["type"] if isinstance(la["mark"], dict) else la["mark"]): datasets[la["data"]["name"]] for la in layers}


def test_sample_run_drops_by_classifier_cuts_it_records(con, run):
    # Every English document below the configured cut was dropped by it, and only those.
    below = one(con, "SELECT count(*) FROM decontaminate WHERE lang = 'en' AND quality_reference < 0.03")[0]
    dropped, lo, hi = one(con, f"SELECT count(*), min(quality_reference), max(quality_reference) FROM decontaminate "
                                f"WHERE drop_reason = '{THRESHOLD_REASON}'")
    assert below == dropped > 0 and hi < 0.03
    assert one(con, f"SELECT count(*) FROM decontaminate WHERE drop_reason = '{THRESHOLD_REASON}' AND lang <> 'en'")[0] == 0
    # top_fraction: the kept side at or above the threshold the accounting records, the dropped side below.
    acc = json.loads((run.run_dir / "annotate" / "_accounting.json").read_text())["top_fraction"]["quality_fasttext"]
    tf_max, = one(con, f"SELECT max(quality_fasttext) FROM decontaminate WHERE drop_reason = '{TOP_FRACTION_REASON}'")
    cand_min, cands = one(con, "SELECT min(quality_fasttext), count(*) FROM annotate "
                               f"WHERE drop_reason IS NULL OR drop_reason = '{TOP_FRACTION_REASON}'")
    assert tf_max < acc["threshold"] and acc["candidates"] == cands
    assert one(con, "SELECT min(quality_fasttext) FROM annotate WHERE drop_reason IS NULL")[0] >= acc["threshold"]
    assert cand_min < acc["threshold"]
    # Documents dropped before the classifier steps have no classifier score; the funnel adds up.
    assert one(con, "SELECT count(*) FROM decontaminate WHERE quality_reference IS NOT NULL "
                    "AND split_part(drop_reason, '.', 1) IN ('gopher_quality_v1', 'fasttext_lid_v1', 'warc')")[0] == 0
    by = json.loads((run.run_dir / "annotate" / "_accounting.json").read_text())["by_outcome"]
    assert sum(by.values()) == run.n_docs and by[THRESHOLD_REASON] == dropped


def test_scores_page_shows_where_classifiers_dropped(app, con, run):
    at = page(app, "scores")
    table = frame(at, "drop_reason", "reached", "% of reached")
    expected = {r: (d, t) for r, d, t in con.execute(
        f"SELECT drop_reason, count(*), sum({TOKENS}) FROM decontaminate WHERE {CLASSIFIER_REASONS} GROUP BY 1").fetchall()}
    assert list(table["drop_reason"]) == [THRESHOLD_REASON, TOP_FRACTION_REASON]  # pipeline order
    assert {r.drop_reason: (r.docs, r.tokens) for r in table.itertuples()} == expected
    # What reached each step, independently: the threshold judged every document the classifier
    # steps scored; top_fraction every document the annotate steps kept (dedup comes later).
    reached = {THRESHOLD_REASON: one(con, "SELECT count(*) FROM decontaminate WHERE scores['quality_reference'] IS NOT NULL")[0],
               TOP_FRACTION_REASON: one(con, "SELECT count(*) FROM decontaminate WHERE drop_reason IS NULL "
                                             f"OR drop_reason LIKE 'dedup.%' OR drop_reason = '{TOP_FRACTION_REASON}'")[0]}
    acc = json.loads((run.run_dir / "annotate" / "_accounting.json").read_text())
    assert reached[TOP_FRACTION_REASON] == acc["top_fraction"]["quality_fasttext"]["candidates"]
    assert list(table["reached"]) == [reached[r] for r in table["drop_reason"]]
    assert list(table["% of reached"]) == [pytest.approx(100 * expected[r][0] / reached[r], abs=0.005)
                                           for r in table["drop_reason"]]
    assert table.loc[0, "rule"] == "keeps quality_reference ≥ 0.03 for en (other languages not judged)"
    total_docs, total_tokens = one(con, f"SELECT count(*), sum({TOKENS}) FROM decontaminate WHERE {CLASSIFIER_REASONS}")
    assert any(c.value.startswith(f"{total_docs:,} documents ({total_tokens:,} tokens) dropped") for c in at.caption)


@pytest.mark.slow  # ~1 s: Streamlit AppTest renders
def test_scores_page_marks_the_configured_cut(app, con):
    at = page(app, "scores")
    at.selectbox(key="scores_key").set_value("quality_reference").run()
    assert any("`score_threshold_v1` keeps quality_reference ≥ 0.03 for en" in c.value for c in at.caption)
    # The dashed rule sits at the config's cut, whatever the slider says.
    assert chart_layers(at)["rule"] == [{"cut": 0.03, "rule": "score_threshold_v1: keeps quality_reference ≥ 0.03 "
                                                              "for en (other languages not judged)"}]
    # The slider starts at the bin edge nearest the cut, and its counts are SQL at that edge.
    hist = queries.score_histograms(con, "decontaminate")["quality_reference"]
    k = at.select_slider(key="scores_threshold_quality_reference").value
    assert abs(hist.edge(k) - 0.03) <= hist.width / 2
    assert num(metric(at, "Documents kept")) == one(
        con, "SELECT count(*) FROM decontaminate WHERE scores['quality_reference'] >= ?", [hist.edge(k)])[0]
    # Only the languages the cut judges: English documents, the same rule.
    at.checkbox(key="scores_cut_langs").check().run()
    en = queries.score_histograms(con, "decontaminate", langs=("en",))["quality_reference"]
    k = at.select_slider(key="scores_threshold_quality_reference").value
    kept_en, all_en = one(con, "SELECT count(*) FILTER (WHERE scores['quality_reference'] >= ?), count(scores['quality_reference']) "
                               "FROM decontaminate WHERE lang = 'en'", [en.edge(k)])
    assert num(metric(at, "Documents kept")) == kept_en < all_en
    sql = next(c.value for c in at.caption if "Same number in SQL" in c.value).split("Same number in SQL:", 1)[1].strip(" `")
    assert "lang IN ('en')" in sql and one(con, sql)[0] == kept_en
    # A score no config cut applies to: no rule, the slider at its lowest edge.
    at.selectbox(key="scores_key").set_value("quality").run()
    assert "rule" not in chart_layers(at) and at.select_slider(key="scores_threshold_quality").value == 0
    assert not any("annotate config" in c.value for c in at.caption)


@pytest.mark.slow  # ~1 s: builds a second sample run and renders it (Streamlit AppTest)
def test_scores_page_without_classifier_drops(tmp_path, monkeypatch):
    run = sample_run.make_run(tmp_path / "run", 300, seed=2, classifier_selection=False)
    at = app_on(run.run_dir, monkeypatch, "scores")
    assert [i.value for i in at.info if "classifier" in i.value] == [
        "No classifier selection in this run's annotate config (no `score_threshold_v*` step, no `top_fraction`): "
        "the classifiers only recorded scores."]
    assert not any("drop_reason" in d.value.columns for d in at.dataframe)
    # A cut that keeps every document: configured, and it dropped nothing.
    cfg_path = run.run_dir / "annotate" / "_config.yaml"
    cfg = yaml.safe_load(cfg_path.read_text())
    cfg["steps"].append({"name": "score_threshold_v1", "params": {"score": "quality_reference", "min_score": 0.0}})
    cfg_path.write_text(yaml.safe_dump(cfg))
    data.annotate_config.clear()  # what the sidebar's "Reload data" does (AppTest does not render the sidebar)
    at.run()
    assert [i.value for i in at.info if "classifier" in i.value] == [
        "The classifier selection dropped nothing: `score_threshold_v1` keeps quality_reference ≥ 0."]


@pytest.mark.slow  # ~1 s: builds a second sample run and renders it (Streamlit AppTest)
def test_scores_page_counts_classifier_drops_not_kept_as_rows(tmp_path, monkeypatch):
    """annotate without keep_dropped: its dropped rows are in no stage's data, only in its accounting."""
    import pyarrow.dataset as pads
    import pyarrow.parquet as pq

    run = sample_run.make_run(tmp_path / "run", 600, seed=4)
    con = run_sql.connect(run.run_dir)
    try:  # what the annotate stage decided, before its dropped rows are removed below
        expected = dict(con.execute(f"SELECT drop_reason, count(*) FROM annotate WHERE {CLASSIFIER_REASONS} GROUP BY 1").fetchall())
        reached = one(con, "SELECT count(*) FROM annotate WHERE scores['quality_reference'] IS NOT NULL")[0]
    finally:
        con.close()
    assert set(expected) == {THRESHOLD_REASON, TOP_FRACTION_REASON}
    for stage in ("annotate", "dedup", "decontaminate"):  # what the stages would have written
        folder = run.run_dir / stage
        table = pads.dataset(str(folder), format="parquet").to_table()
        keep = [r is None or r.startswith("dedup.") for r in table.column("drop_reason").to_pylist()]
        for f in folder.glob("*.parquet"):
            f.unlink()
        pq.write_table(table.filter(keep), folder / "part-00000.parquet")
    cfg_path = run.run_dir / "annotate" / "_config.yaml"
    cfg_path.write_text(yaml.safe_dump({**yaml.safe_load(cfg_path.read_text()), "keep_dropped": False}))
    at = app_on(run.run_dir, monkeypatch, "scores")
    table = frame(at, "drop_reason", "reached")
    assert {r.drop_reason: r.docs for r in table.itertuples()} == expected
    assert table["tokens"].isna().all()
    assert table.set_index("drop_reason").loc[THRESHOLD_REASON, "reached"] == reached
    assert any("_accounting.json" in c.value for c in at.caption)


def test_classifier_drops_follow_the_config_order():
    """Two thresholds (as in a run with one per quality score) and an error at a classifier step."""
    cfg = {"steps": [{"name": "fasttext_lid_v1"}, {"name": "classifier_score_v1"},
                     {"name": "score_threshold_v1", "params": {"score": "b", "max_score": 0.9}},
                     {"name": "score_threshold_v1", "params": {"score": "a", "min_score": 0.5, "languages": ["en"]}}],
           "top_fraction": {"a": 0.5}}
    outcomes = pd.DataFrame(
        [("warc.request", 7, 0), ("fasttext_lid_v1.low_score", 5, 50), ("error.classifier_score_v1", 2, 20),
         ("score_threshold_v1.a_below", 10, 100), ("score_threshold_v1.b_above", 3, 30),
         ("top_fraction.a", 20, 200), ("dedup.exact", 4, 40), ("kept", 16, 160)], columns=["outcome", "docs", "tokens"])
    got = queries.classifier_drops(outcomes, cfg, {"top_fraction": {"a": {"threshold": 0.7}}})
    assert list(got["drop_reason"]) == ["score_threshold_v1.b_above", "score_threshold_v1.a_below", "top_fraction.a"]
    # b judged everything after the classifier step (10 + 3 + 20 + 4 + 16), a what b kept, top_fraction what a kept.
    assert list(got["reached"]) == [53, 50, 40]
    assert list(got["% of reached"]) == [pytest.approx(100 * 3 / 53, abs=0.005), 20.0, 50.0]
    assert list(got["rule"]) == ["keeps b ≤ 0.9", "keeps a ≥ 0.5 for en (other languages not judged)",
                                 "keeps the top 50% of kept documents by a (≥ 0.7 in this run)"]
    # Without a config the order is unknown: counts, but no "reached".
    bare = queries.classifier_drops(outcomes, None)
    assert list(bare["docs"]) == [10, 3, 20] and bare["reached"].isna().all()
    assert queries.classifier_drops(outcomes[~outcomes["outcome"].str.startswith(("score_", "top_"))], cfg).empty


def test_score_bins_are_exact_at_every_edge(con):
    for key, h in queries.score_histograms(con, "decontaminate").items():
        for k in (0, 1, 50, 199):
            assert h.kept(k)[0] == one(con, "SELECT count(*) FROM decontaminate WHERE scores[?] >= ?", [key, h.edge(k)])[0], (key, k)


def test_samples_page_shows_a_document(app, con, run):
    at = page(app, "samples")
    at.selectbox(key="samples_outcome").set_value("gopher_quality_v1.too_few_words").run()
    table = frame(at, "id", "snippet")
    assert len(table) == 10
    ids = tuple(table["id"])
    reasons = {r[0] for r in con.execute(f"SELECT DISTINCT drop_reason FROM decontaminate WHERE id IN {ids}").fetchall()}
    assert reasons == {"gopher_quality_v1.too_few_words"}
    doc_id = at.selectbox(key="samples_pick").value
    text = one(con, "SELECT text FROM decontaminate WHERE id = ?", [doc_id])[0]
    assert at.text_area(key=f"samples_text_{doc_id}").value == text
    # Same seed, same sample; another seed, another.
    at.number_input(key="samples_seed").set_value(7).run()
    assert tuple(frame(at, "id", "snippet")["id"]) != ids


def test_samples_page_raw_html_cluster_and_contamination(app, con, run):
    at = page(app, "samples")
    local = one(con, "SELECT id, text FROM decontaminate WHERE source_file = ? AND dup_cluster IS NOT NULL LIMIT 1",
                [str(run.warc_file)])
    at.text_input(key="samples_doc_id").set_value(local[0]).run()
    html = "\n".join(c.value for c in at.code if "<html" in c.value)
    assert "<main>" in html and local[1].split("\n\n")[0][:60] in html
    assert any("Duplicate cluster" in s.value for s in at.subheader)
    cluster = one(con, "SELECT dup_cluster FROM decontaminate WHERE id = ?", [local[0]])[0]
    members = con.execute("SELECT id FROM decontaminate WHERE dup_cluster = ?", [cluster]).fetchall()
    shown = [t.key for t in at.text_area if (t.key or "").startswith("samples_member_")]
    assert len(members) >= 2 and len(shown) == min(4, len(members))
    contaminated = one(con, "SELECT id FROM decontaminate WHERE decontam_status = 'contaminated' LIMIT 1")[0]
    at.text_input(key="samples_doc_id").set_value(contaminated).run()
    marked = [h.proto.body for h in at.get("html")]
    assert any("<mark>" in b for b in marked)
    assert any("contaminated" in w.value for w in at.warning)
    remote = one(con, "SELECT id FROM decontaminate WHERE source_file LIKE 's3://%' LIMIT 1")[0]
    at.text_input(key="samples_doc_id").set_value(remote).run()
    assert any("remote file" in i.value for i in at.info)


@pytest.mark.slow  # ~1 s: Streamlit AppTest renders
def test_decontamination_page(app, con, run):
    at = page(app, "decontamination")
    report = json.loads((run.run_dir / "decontaminate" / "_report.json").read_text())
    assert num(metric(at, "Contaminated documents")) == report["docs_by_status"]["contaminated"]
    summary = frame(at, "benchmark", "status", "mean_ratio")
    sql = dict(con.execute("SELECT decontam_status, count(*) FROM decontaminate WHERE decontam_benchmark = 'gsm8k' "
                           "GROUP BY 1").fetchall())
    got = {r.status: r.docs for r in summary.itertuples() if r.benchmark == "gsm8k"}
    assert got == sql and sql["contaminated"] == report["benchmarks"]["gsm8k"]["docs_contaminated"]
    assert len(frame(at, "id", "status", "item")) == sum(sql.values())


@pytest.mark.slow  # ~1 s: Streamlit AppTest renders
def test_mixture_page(app, run):
    at = page(app, "mixture")
    m = json.loads((run.mix_dir / "mixture_manifest.json").read_text())
    assert num(metric(at, "Planned tokens")) == m["total_tokens"]
    assert num(metric(at, "Achieved tokens")) == m["achieved_total_tokens"]
    table = frame(at, "source", "planned_tokens")
    assert {r.source: (r.planned_tokens, r.achieved_tokens) for r in table.itertuples()} == {
        n: (s["planned_tokens"], s["achieved_tokens"]) for n, s in m["sources"].items()}


@pytest.mark.slow  # ~1.5 s: Streamlit AppTest renders
def test_ablations_page_shows_a_finished_ablation(app, run):
    at = page(app, "ablations")
    at.selectbox(key="abl_pick").set_value("ablations/demo").run()
    report = json.loads((run.ablation_dir / "regression.json").read_text())
    assert metric(at, "Held-out rank correlation") == f"{report['held_out_spearman']:.3f}"
    held = frame(at, "predicted", "actual")
    assert list(held["actual"]) == pytest.approx(report["held_out_actual"])
    assert any(c.value.strip() == (run.ablation_dir / "best_mixture.yaml").read_text().strip() for c in at.code)
    assert at.get("download_button")
    assert any("**Status:** finished" in m.value for m in at.markdown)
    # A new ablation is prefilled with the demo config pointed at this run's mixture.
    at.selectbox(key="abl_pick").set_value(at.selectbox(key="abl_pick").options[-1]).run()
    cfg = yaml.safe_load(at.text_area(key="abl_new_config").value)
    assert cfg["mixture"] == str(run.mix_dir.resolve()) and cfg["target"] == {}
    assert ablation_outputs.check_config(at.text_area(key="abl_new_config").value, run.run_dir / "ablations" / "chk") is None


@pytest.mark.slow  # ~1.5 s: Streamlit AppTest renders
def test_sql_page_runs_selects_and_refuses_writes(app, con):
    at = page(app, "sql")
    assert {t.value for t in at.error} == set()
    at.text_area(key="sql_text").set_value("SELECT count(*) AS n FROM decontaminate WHERE drop_reason IS NULL").run()
    at.button(key="sql_run").click().run()
    assert frame(at, "n")["n"][0] == one(con, "SELECT count(*) FROM decontaminate WHERE drop_reason IS NULL")[0]
    at.text_area(key="sql_text").set_value("COPY (SELECT 1) TO 'x.csv'").run()
    at.button(key="sql_run").click().run()
    assert at.error and "Refused, nothing was executed" in at.error[0].value
    at.text_area(key="sql_text").set_value("SELECT * FROM read_text('/etc/passwd')").run()
    at.button(key="sql_run").click().run()
    assert at.error and "Permission" in at.error[0].value
    at.selectbox(key="sql_example").set_value("Tables").run()
    assert at.text_area(key="sql_text").value == "SHOW TABLES"


@pytest.mark.slow  # ~3 s: renders every page twice (Streamlit AppTest)
def test_every_page_loads_fast_once_cached(app):
    for name in ("scores", "samples", "decontamination", "mixture", "ablations", "sql", "funnel"):
        page(app, name)
    for name in ("scores", "samples", "decontamination", "mixture", "ablations", "sql", "funnel"):
        started = time.perf_counter()
        page(app, name)
        assert time.perf_counter() - started < 2.0, name


# ------------------------------------------------------------------------------------- helpers


def test_raw_records_only_from_allowed_local_files(run, tmp_path, monkeypatch):
    monkeypatch.delenv(docview.WARC_ROOTS_ENV, raising=False)
    outside = tmp_path / "elsewhere.warc.gz"
    outside.write_bytes(run.warc_file.read_bytes())
    assert "outside the run and its input folders" in docview.read_raw_html(str(outside), 0, run.run_dir).reason
    assert "remote file" in docview.read_raw_html("s3://bucket/x.warc.gz", 0, run.run_dir).reason
    assert "does not exist" in docview.read_raw_html(str(run.run_dir / "gone.warc.gz"), 0, run.run_dir).reason
    monkeypatch.setenv(docview.WARC_ROOTS_ENV, str(tmp_path))
    raw = docview.read_raw_html(str(outside), 0, run.run_dir)
    assert raw.html and raw.html.startswith("<!DOCTYPE html>")


def test_overlap_marks_the_shared_ngrams():
    item = "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May."
    text = "Intro words here. " + item.upper() + " Unrelated tail text that is not in the item at all."
    ov = docview.overlap(text, item, 7)
    assert len(ov.spans) == 1
    s, e = ov.spans[0]
    assert text[s:e] == item.upper()[:-1]  # every word of the item, punctuation between them included
    assert "<mark>" in docview.highlight_html(text, ov.spans)


def test_run_dir_from_argv_or_env(monkeypatch, tmp_path):
    monkeypatch.setattr(sys, "argv", ["/x/dashboards/app.py", str(tmp_path)])
    assert data.run_dir() == tmp_path.resolve()
    monkeypatch.setattr(sys, "argv", ["pytest", "-q"])
    monkeypatch.setenv(data.RUN_DIR_ENV, str(tmp_path / "r"))
    assert data.run_dir() == (tmp_path / "r").resolve()


def test_launch_command_binds_localhost(tmp_path):
    import argparse

    p = argparse.ArgumentParser()
    launch.add_arguments(p)
    cmd = launch.command(p.parse_args([str(tmp_path)]))
    assert cmd[cmd.index("--server.address") + 1] == "127.0.0.1"
    assert cmd[cmd.index("--server.headless") + 1] == "true" and cmd[-2:] == ["--", str(tmp_path.resolve())]
    assert launch.run(p.parse_args([str(tmp_path / "missing")])) == 2


# ------------------------------------------------------------------------------------- jobs


def _tiny_ablation(tmp_path: Path, steps: int) -> str:
    rng = np.random.default_rng(0)
    sources = []
    for lang in ("en", "de"):
        pool = sample_run._sentences(rng, lang, 300)
        path = tmp_path / f"{lang}.txt"
        path.write_text("\n\n".join(" ".join(pool[(i * 7 + j) % 300] for j in range(5)) for i in range(400)))
        sources.append({"name": lang, "input": str(path)})
    return yaml.safe_dump({
        "sources": sources, "vocab_size": 300, "proxies": 4, "held_out": 1, "workers": 2,
        "model": {"n_layer": 1, "d_model": 16, "n_head": 2, "seq_len": 16},
        "train": {"steps": steps, "batch_size": 4, "lr": 0.01, "checkpoint_every": 10, "eval_batches": 2},
    })


def _wait(cond, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.slow
def test_ablation_job_launch_stop_resume(tmp_path):
    out = tmp_path / "abl"
    st = jobs.launch(out, _tiny_ablation(tmp_path, steps=300))
    try:
        assert st.running and jobs.status(out).running
        with pytest.raises(jobs.JobError):
            jobs.launch(out, None)  # one job per folder
        # Stop while proxies are training: the whole process group goes, workers included.
        _wait(lambda: not ablation_outputs.loss_curves(out).empty, 90, "the first logged training step")
        assert len(jobs.group_members(st.pid)) >= 2  # supervisor, curate ablate, training workers
        assert jobs.stop(out) is True
        assert jobs.group_members(st.pid) == []
        assert jobs.status(out).state == jobs.STOPPED
        assert not (out / "regression.json").exists()
        # Resume: the same command again; the runner keeps what was done and finishes.
        again = jobs.resume(out)
        assert again.pid != st.pid
        _wait(lambda: not jobs.status(out).running, 180, "the resumed job to finish")
        final = jobs.status(out)
        assert final.state == jobs.FINISHED and final.exit_code == 0, jobs.log_tail(out)
        assert jobs.group_members(again.pid) == []
        report = ablation_outputs.regression(out)
        assert report["proxies"] == 4 and set(report["best_weights"]) == {"en", "de"}
        curves = ablation_outputs.loss_curves(out)
        assert curves.shape[1] == 4 and curves.index.max() == 300
        # Each logged step once, even across the stop: the trainer truncates to its checkpoint.
        lines = ablation_outputs.read_metrics(out / "proxies" / "000" / "metrics.jsonl")
        steps = [r["step"] for r in lines]
        assert len(steps) == len(set(steps))
        assert "ablate" in jobs.log_tail(out)
    finally:
        jobs.stop(out)
        for pid in {st.pid, locals().get("again", st).pid}:  # never leave a job behind, whatever failed
            if jobs.group_members(pid):
                os.killpg(pid, 9)


def test_job_status_without_a_job(tmp_path):
    assert jobs.status(tmp_path).state == jobs.NOT_STARTED
    with pytest.raises(jobs.JobError):
        jobs.resume(tmp_path)
    assert jobs.stop(tmp_path) is False
    (tmp_path / "regression.json").write_text("{}")
    assert jobs.status(tmp_path).state == jobs.FINISHED  # an ablation run from the command line
    # A recorded job whose process is gone without an exit code was interrupted.
    (tmp_path / jobs.JOB_FILE).write_text(json.dumps({"pid": 2 ** 22 + 12345, "pgid": 1, "command": []}))
    assert jobs.status(tmp_path).state == jobs.INTERRUPTED


@pytest.mark.slow
def test_ablations_page_launches_and_stops_a_job(app, run, tmp_path):
    at = page(app, "ablations")
    at.selectbox(key="abl_pick").set_value(at.selectbox(key="abl_pick").options[-1]).run()
    at.text_input(key="abl_new_name").set_value("ablations/ui-job").run()
    at.text_area(key="abl_new_config").set_value(_tiny_ablation(tmp_path, steps=2000)).run()
    at.button(key="abl_launch").click().run()
    out = run.run_dir / "ablations" / "ui-job"
    st = jobs.status(out)
    try:
        assert st.running, jobs.log_tail(out)
        assert at.selectbox(key="abl_pick").value == "ablations/ui-job"
        assert any("**Status:** running" in m.value for m in at.markdown)
        at.button(key="abl_stop").click().run()
        assert jobs.group_members(st.pid) == []
        assert any("**Status:** stopped" in m.value for m in at.markdown)
        assert at.button(key="abl_resume")  # offered once stopped
    finally:
        jobs.stop(out)
        if jobs.group_members(st.pid):
            os.killpg(st.pid, 9)

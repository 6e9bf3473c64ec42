"""``curate run --check`` (curate/pipeline.py, curation/plan_check.py, curation/mixture/check.py): every
check that needs no run, in a table, without Spark; the same checks before ``curate run`` starts one;
and a mixture source found empty the moment the stage that feeds the mixture has written its output.

Plain Python (the ``unit`` tier): Spark's session is replaced by one that raises, or by a stub where a
stage that needs no Spark (tests/test_stages.py's ``tag``) runs.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import time
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import pipeline
from curate.demo import DEMO_BENCHMARKS, DEMO_PIPELINE, DEMO_WARC
from curation import rundir
from curation.mixture import check as mixcheck
from curation.mixture.mix_config import MixJobConfig, MixSource

REPO = Path(__file__).resolve().parent.parent
WEB_ML = "drop_reason IS NULL AND lang <> 'en'"


@pytest.fixture
def no_spark(monkeypatch):
    """Any attempt to start Spark fails the test."""
    import spark_jobs.job

    def boom(*a, **k):
        raise AssertionError("Spark must not start")

    monkeypatch.setattr(spark_jobs.job, "session", boom)
    monkeypatch.setattr(spark_jobs.job, "get_session", boom)
    monkeypatch.setattr(pipeline, "code_version", lambda: "test-version")


def _parse(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pipeline.add_arguments(parser)
    return parser.parse_args([str(a) for a in argv])


def _demo_check(tmp_path, capsys, *sets: str) -> tuple[int, dict[str, tuple[str, str]]]:
    """``curate run demo/pipeline.yaml --check`` (absolute demo paths, run directory in tmp_path);
    the exit code and {check: (status, detail)} from its table."""
    args = _parse(DEMO_PIPELINE, "--check", "--output", tmp_path / "run", "--input", DEMO_WARC,
                  "--set", f"decontaminate.benchmarks={json.dumps(str(DEMO_BENCHMARKS))}",
                  *[x for s in sets for x in ("--set", s)])
    capsys.readouterr()
    code = pipeline.run(args)
    return code, _table(capsys.readouterr().out)


def _table(out: str) -> dict[str, tuple[str, str]]:
    rows = {}
    for line in out.split("detail\n", 1)[1].splitlines():
        parts = line.split(None, 1)
        if len(parts) < 2 or parts[0].isdigit():
            continue
        # the check's name may hold a space ("mix source web_reasoning"): the status is the first ok/warn/fail/skip
        words = line.split()
        at = next(i for i, w in enumerate(words) if w in ("ok", "warn", "fail", "skip"))
        rows[" ".join(words[:at])] = (words[at], " ".join(words[at + 1:]))
    return rows


# ------------------------------------------------------------------------------------- the demo passes
def test_check_passes_on_the_demo_quickly_without_spark_and_writes_nothing(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)  # the demo's mixture and tokenizer paths are relative to the checkout
    cpu, wall = time.process_time(), time.perf_counter()
    code, rows = _demo_check(tmp_path, capsys)
    cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
    assert code == 0, rows
    assert all(status == "ok" for status, _ in rows.values()), rows
    assert set(rows) >= {"output", "input", "extract", "annotate", "annotate models", "dedup", "decontaminate",
                         "decontaminate benchmarks", "mix", "mix tokenizer", "mix budget", "mix source web_reasoning",
                         "mix source web_knowledge", "mix source web_multilingual"}
    assert rows["annotate models"][1] == "quality-fasttext, quality-reference, reasoning-fasttext"
    assert rows["mix tokenizer"][1] == "bundled: vocabulary 30,522"
    assert rows["mix budget"][1].startswith("5,000 tokens over 3 source(s), shares sum to 100%")
    # Nothing written: no run directory, no RUN_DIR/<stage>.yaml, no marker.
    assert not (tmp_path / "run").exists()
    # Under 2 s of this process's own work (CPU time: the 2-core test machine is shared, so wall time
    # also holds other processes' load); wall time only bounded loosely.
    assert cpu < 2.0, f"--check took {cpu:.2f} s of CPU"
    assert wall < 30


# ------------------------------------------------------------------------------------- precise failures
def test_missing_input_fails_its_row(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    args = _parse(DEMO_PIPELINE, "--check", "--output", tmp_path / "run", "--input", tmp_path / "nope.warc.gz",
                  "--set", f"decontaminate.benchmarks={json.dumps(str(DEMO_BENCHMARKS))}")
    assert pipeline.run(args) == 1
    rows = _table(capsys.readouterr().out)
    assert rows["input"] == ("fail", f"input '{tmp_path / 'nope.warc.gz'}' matches no file")
    assert rows["mix"][0] == "ok"  # every other check still ran


def test_bad_config_key_names_the_stage_and_key(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, rows = _demo_check(tmp_path, capsys, "dedup.min_similarty=0.5")
    assert code == 1
    assert rows["dedup"][0] == "fail" and "unknown config key(s) min_similarty" in rows["dedup"][1]
    assert [n for n, (s, _) in rows.items() if s == "fail"] == ["dedup"]


def test_missing_benchmark_file(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    bench = tmp_path / "bench.yaml"
    bench.write_text(yaml.safe_dump({"benchmarks": [{"name": "quiz", "path": "quiz/*.jsonl", "fields": ["question"]}]}))
    code, rows = _demo_check(tmp_path, capsys, f"decontaminate.benchmarks={json.dumps(str(bench))}")
    assert code == 1
    status, detail = rows["decontaminate benchmarks"]
    assert (status, detail) == ("fail", f"benchmark path '{tmp_path / 'quiz' / '*.jsonl'}' matches no file "
                                        f"(benchmark 'quiz' in {bench})")
    assert rows["decontaminate"] == ("fail", "see 'decontaminate benchmarks' below")


def test_unknown_tokenizer(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, rows = _demo_check(tmp_path, capsys, "mix.tokenizer=tokenizers/nope.json")
    assert code == 1
    assert rows["mix tokenizer"] == ("fail", "tokenizer file not found: tokenizers/nope.json "
                                             "(a local Hugging Face tokenizer.json or *.tiktoken file)")
    assert rows["mix"] == ("fail", "see 'mix tokenizer' below")
    assert rows["mix source web_reasoning"][0] == "ok"  # the sources are still checked


def test_unknown_classifier_model(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    steps = json.dumps([{"name": "classifier_score_v1", "params": {"model": "quality-fasttxt", "score_name": "q"}}])
    code, rows = _demo_check(tmp_path, capsys, f"annotate.steps={steps}", "annotate.promote=[]")
    assert code == 1
    status, detail = rows["annotate models"]
    assert status == "fail" and detail.startswith("step classifier_score_v1 model: model directory not found: quality-fasttxt")
    assert "shipped models:" in detail and "quality-fasttext" in detail


def _sources(*sources: dict) -> str:
    return "mix.sources=" + json.dumps(list(sources))


@pytest.mark.parametrize("where, says", [
    ("", "where is empty"),
    ("lang = ", "does not parse: Parser Error: syntax error"),
    ("drop_reason IS NULL AND reasonin >= 0.5", 'does not bind to the documents\' columns: Binder Error: Referenced column "reasonin" not found'),
    ("lang = 'en'; DROP TABLE docs", "does not parse"),
])
def test_empty_or_invalid_where(tmp_path, no_spark, capsys, monkeypatch, where, says):
    monkeypatch.chdir(REPO)
    code, rows = _demo_check(tmp_path, capsys, _sources({"name": "web", "share": 0.5, "where": "drop_reason IS NULL"},
                                                        {"name": "broken", "share": 0.5, "where": where}))
    assert code == 1
    assert rows["mix source web"][0] == "ok"
    status, detail = rows["mix source broken"]
    assert status == "fail" and detail.startswith(f"where {where!r} ") and says in detail


def test_columns_the_stages_add_are_known_before_they_run(tmp_path, no_spark, capsys, monkeypatch):
    """A where may use what annotate promotes and decontaminate adds; with annotate's promoted column
    gone from its config, the same where fails."""
    monkeypatch.chdir(REPO)
    where = "decontam_status = 'clean' AND reasoning >= 0.5 AND scores['quality_fasttext'] > 1 AND dup_cluster IS NULL"
    code, rows = _demo_check(tmp_path, capsys, _sources({"name": "web", "share": 1.0, "where": where}))
    assert code == 0 and rows["mix source web"][0] == "ok"
    code, rows = _demo_check(tmp_path, capsys, _sources({"name": "web", "share": 1.0, "where": where}),
                             "annotate.promote=[lang_score]")
    assert code == 1 and 'Referenced column "reasoning" not found' in rows["mix source web"][1]


def test_budget_checked_by_the_planner(tmp_path, no_spark, capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    code, rows = _demo_check(tmp_path, capsys, _sources({"name": "a", "share": 0.5, "where": "drop_reason IS NULL"},
                                                        {"name": "a", "share": 0.5, "where": "lang = 'en'"}))
    assert code == 1 and rows["mix budget"] == ("fail", "source names must be unique: a")


def test_curate_run_makes_the_same_checks_before_spark(tmp_path, no_spark, capsys, monkeypatch):
    """Not --check: the first failure is the one-line error (exit 2), before the first stage."""
    monkeypatch.chdir(REPO)
    args = _parse(DEMO_PIPELINE, "--output", tmp_path / "run", "--input", DEMO_WARC,
                  "--set", f"decontaminate.benchmarks={json.dumps(str(DEMO_BENCHMARKS))}",
                  "--set", _sources({"name": "web", "share": 1.0, "where": "drop_reason IS NULL AND reasonin > 0.5"}))
    assert pipeline.run(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curate run: error: mix source web: where 'drop_reason IS NULL AND reasonin > 0.5'")
    assert not (tmp_path / "run" / rundir.PIPELINE_STATE).exists()  # no stage started


# ------------------------------------------------------------------------------------- empty sources
def _documents(folder: Path, lang: list[str], drop: list[str | None]) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    n = len(lang)
    pq.write_table(pa.table({"id": [f"d{i}" for i in range(n)], "text": ["some words here"] * (n - 1) + [" "],
                             "lang": lang, "drop_reason": pa.array(drop, pa.string())}), folder / "part-00000.parquet")
    return folder


def test_count_sources_and_the_message_naming_an_empty_one(tmp_path):
    docs = _documents(tmp_path / "decontaminate", ["en", "en", "de", "fr"], [None, None, "dedup.exact", None])
    sources = [MixSource("web_en", where="drop_reason IS NULL AND lang = 'en'"),
               MixSource("web_multilingual", where=WEB_ML + " AND lang <> 'fr'"),
               MixSource("blank_only", where="lang = 'fr'")]
    counted = mixcheck.count_sources(str(docs), sources)
    assert (counted.total, counted.kept) == (4, 3)
    assert [(c.name, c.rows, c.with_text) for c in counted.sources] == [
        ("web_en", 2, 2), ("web_multilingual", 0, 0), ("blank_only", 1, 0)]
    assert mixcheck.empty_sources(counted, "decontaminate's output") == [
        f"mixture source 'web_multilingual' selects no rows of decontaminate's output (4 rows, 3 kept): "
        f"where {WEB_ML + ' AND lang <> ' + repr('fr')!r}",
        "mixture source 'blank_only' selects 1 rows of decontaminate's output, all with empty text: where \"lang = 'fr'\""]


def test_mixture_sources_problem_after_the_feeding_stage(tmp_path):
    out = _documents(tmp_path / "run" / "dedup", ["en", "en"], [None, None])
    mix_cfg = MixJobConfig(input=str(out), tokenizer="bundled", total_tokens=10, sources=(
        MixSource("web_en", where="lang = 'en'", share=0.5), MixSource("web_multilingual", where=WEB_ML, share=0.5)))
    feed = pipeline.StagePlan("dedup", None, argparse.Namespace(), None, str(out), None, ())
    mix = pipeline.StagePlan("mix", None, argparse.Namespace(), mix_cfg, str(tmp_path / "run" / "mix"), str(out), (str(out),))
    problem = pipeline.mixture_sources_problem(feed, [feed, mix])
    assert problem.startswith(f"mixture source 'web_multilingual' selects no rows of dedup's output {out} "
                              f"(2 rows, 2 kept): where {WEB_ML!r}. The mix stage would find no tokens")
    # A stage whose output no source reads is not counted; a mixture whose sources all select rows passes.
    assert pipeline.mixture_sources_problem(mix, [feed, mix]) is None
    fine = pipeline.StagePlan("mix", None, argparse.Namespace(), MixJobConfig(input=str(out), sources=(
        MixSource("web_en", where="lang = 'en'", share=1.0),)), "", str(out), (str(out),))
    assert pipeline.mixture_sources_problem(feed, [feed, fine]) is None


def _tag_mix_pipeline(tmp_path: Path, docs: Path, where: str) -> Path:
    from curation import stages

    path = tmp_path / "pipeline.yaml"
    off = {n: False for n in stages.names() if n not in ("tag", "mix")}
    path.write_text(yaml.safe_dump({"input": str(docs), "output": str(tmp_path / "run"), **off, "tag": {},
                                    "mix": {"tokenizer": "bundled", "total_tokens": 50, "sources": [
                                        {"name": "web_en", "share": 0.5, "where": "drop_reason IS NULL AND lang = 'en'"},
                                        {"name": "web_multilingual", "share": 0.5, "where": where}]}}))
    return path


def test_run_stops_when_the_feeding_stage_leaves_a_source_empty(tag_stage, tmp_path, monkeypatch, capsys):
    """tag (a stage with no Spark) feeds the mixture and drops the only non-English page: the run
    stops right after tag, naming the source and its where; mix never starts."""
    import spark_jobs.job
    import spark_jobs.mix

    monkeypatch.setattr(spark_jobs.job, "session", lambda *a, **k: contextlib.nullcontext(None))  # no JVM
    monkeypatch.setattr(pipeline, "code_version", lambda: "test-version")
    monkeypatch.setattr(spark_jobs.mix.MixJob, "run", lambda *a, **k: pytest.fail("mix must not start"))
    docs = tmp_path / "docs"
    docs.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c"], "text": ["one two three four", "five six seven eight", "kurz"],
                             "lang": ["en", "en", "de"], "drop_reason": pa.array([None, None, None], pa.string())}),
                   docs / "part-00000.parquet")
    pipe = _tag_mix_pipeline(tmp_path, docs, WEB_ML)
    # Before the run, the where is fine as far as can be known (tag is a stage whose columns are not known).
    assert pipeline.run(_parse(pipe, "--check")) == 0
    rows = _table(capsys.readouterr().out)
    assert rows["mix source web_multilingual"][0] == "ok" and rows["tag"][0] == "ok"
    assert pipeline.run(_parse(pipe)) == 2
    err = capsys.readouterr().err.strip().splitlines()
    run = tmp_path / "run"
    assert err == [f"curate run: error: mixture source 'web_multilingual' selects no rows of tag's output {run / 'tag'} "
                   f"(3 rows, 2 kept): where {WEB_ML!r}. The mix stage would find no tokens for it: change the where, "
                   "or what the stages before keep (rerun from the changed one with --from)"]
    state = json.loads((run / rundir.PIPELINE_STATE).read_text())
    assert state["status"] == "failed" and "web_multilingual" in state["error"]
    assert state["stages"]["tag"]["status"] == "done" and "mix" not in state["stages"]


def test_a_source_reading_existing_data_is_counted_by_check(tmp_path, no_spark, capsys):
    """With mix the first stage, its input exists before the run: an empty source fails --check."""
    from curation import stages

    docs = _documents(tmp_path / "docs", ["en", "en", "en"], [None, None, None])
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"input": str(docs), "output": str(tmp_path / "run"),
                                    **{n: False for n in stages.names() if n != "mix"},
                                    "mix": {"tokenizer": "bundled", "total_tokens": 50, "sources": [
                                        {"name": "web_en", "share": 0.5, "where": "lang = 'en'"},
                                        {"name": "web_multilingual", "share": 0.5, "where": WEB_ML}]}}))
    assert pipeline.run(_parse(path, "--check")) == 1
    rows = _table(capsys.readouterr().out)
    assert rows["mix source web_en"] == ("ok", f"2 rows with text in {docs}")
    assert rows["mix source web_multilingual"] == (
        "fail", f"mixture source 'web_multilingual' selects no rows of {docs} (3 rows, 3 kept): where {WEB_ML!r}")


def test_a_spark_only_function_warns_and_remote_inputs_are_not_looked_up(tmp_path, no_spark, capsys, monkeypatch):
    """DuckDB lacks rlike (Spark SQL has it): a warning, not a failure. An s3:// input is Spark's to find."""
    monkeypatch.chdir(REPO)
    args = _parse(DEMO_PIPELINE, "--check", "--output", tmp_path / "run", "--input", "s3://bucket/crawl/*.warc.gz",
                  "--set", f"decontaminate.benchmarks={json.dumps(str(DEMO_BENCHMARKS))}",
                  "--set", _sources({"name": "web", "share": 1.0, "where": "rlike(text, 'x+')"}))
    assert pipeline.run(args) == 0
    rows = _table(capsys.readouterr().out)
    assert rows["input"] == ("ok", "1 remote (not looked up)")
    status, detail = rows["mix source web"]
    assert status == "warn" and "Scalar Function with name rlike does not exist" in detail

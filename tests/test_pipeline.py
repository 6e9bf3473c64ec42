"""``curate run PIPELINE.yaml`` (curate/pipeline.py): the demo pipeline end to end, resuming, and
clear config errors before Spark starts.

One real run of demo/pipeline.yaml (module fixture, ~1.5 min on 2 cores) is shared by the Spark
tests; the resume test then reruns parts of it in place.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import pipeline
from curate.demo import DEMO_BENCHMARKS, DEMO_PIPELINE, DEMO_WARC

STAGES = pipeline.STAGES


def _args(pipeline_file, output, *extra: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pipeline.add_arguments(parser)
    return parser.parse_args([str(pipeline_file), "--output", str(output), *extra])


def _demo_args(output, *extra: str) -> argparse.Namespace:
    return _args(DEMO_PIPELINE, output, "--input", str(DEMO_WARC),
                 "--set", f"decontaminate.benchmarks={json.dumps(str(DEMO_BENCHMARKS))}", *extra)


def _state(run: Path) -> dict:
    return json.loads((run / pipeline.STATE_FILE).read_text())


def _files(run: Path) -> dict[str, tuple[int, int]]:
    """Every file of the stage folders with its size and mtime: unchanged means untouched."""
    return {str(p.relative_to(run)): (p.stat().st_size, p.stat().st_mtime_ns)
            for s in STAGES for p in sorted((run / s).rglob("*")) if p.is_file()}


def _ids(run: Path) -> dict[str, list]:
    """Document ids of the last document stage and (source, id, copy) rows of the mixture."""
    docs = [r[0] for r in duckdb.sql(f"SELECT id FROM '{run}/decontaminate/*.parquet' ORDER BY id").fetchall()]
    mix = duckdb.sql(f"SELECT source, id, copy FROM '{run}/mix/*.parquet' ORDER BY ALL").fetchall()
    return {"decontaminate": docs, "mix": mix}


def _actions(outcomes) -> dict[str, str]:
    return {o.name: o.action for o in outcomes}


def _run(args) -> list:
    """pipeline.run's work, returning the outcomes (run() itself only prints them)."""
    cfg, plans = pipeline.prepare(args.pipeline, args.output, args.input, args.overrides)
    return pipeline.run_pipeline(cfg, plans, from_stage=args.from_stage, pipeline_file=args.pipeline)


@pytest.fixture(scope="module")
def demo_run(spark, tmp_path_factory):
    """The demo pipeline once, in the test session's Spark (local[2]), plus a snapshot of it."""
    run = tmp_path_factory.mktemp("pipeline") / "demo"
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(pipeline, "code_version", lambda: "test-version")  # no git call from the tests
        outcomes = _run(_demo_args(run))
    return {"run": run, "outcomes": outcomes, "files": _files(run), "ids": _ids(run), "state": _state(run)}


@pytest.mark.spark
@pytest.mark.slow
def test_demo_pipeline_end_to_end(demo_run):
    run, state = demo_run["run"], demo_run["state"]
    assert _actions(demo_run["outcomes"]) == {s: "ran" for s in STAGES}
    assert state["status"] == "done" and state["code_version"] == "test-version" and state["input_fingerprint"]
    previous_out = None
    for stage in STAGES:
        rec = state["stages"][stage]
        assert rec["status"] == "done", stage
        assert rec["started"] <= rec["finished"] and rec["config_sha256"] and rec["output_fingerprint"]
        assert rec["code_version"] == "test-version" and rec["input_fingerprint"] and rec["inputs"]
        assert (run / f"{stage}.yaml").exists() and rec["config"], stage
        for name in pipeline.COMPLETION_FILES[stage]:
            assert (run / stage / name).exists(), (stage, name)
        acc = rec["accounting"]
        if stage != "mix":  # every stage but the mixture writes every record back (keep_dropped)
            assert acc["records_in"] == acc["records_out"] == 29, stage
            if previous_out is not None:
                assert acc["records_in"] == previous_out, stage
            previous_out = acc["records_out"]
        if "kept" in acc:
            assert acc["kept"] + acc["dropped"] + acc["errored"] == acc["records_in"], stage
            assert sum(acc["by_outcome"].values()) == acc["records_in"], stage
    # Each stage read the one before it.
    assert list(state["stages"]["annotate"]["inputs"])[0] == str(run / "extract")
    assert state["stages"]["mix"]["config"]["input"] == str(run / "decontaminate")
    # The benchmark list and its file are fingerprinted inputs of decontaminate.
    assert any(k.endswith("demo-quiz.jsonl") for k in state["stages"]["decontaminate"]["inputs"])
    # Dedup dropped the demo's duplicates; the quiz item quoting the quadratic page flagged it.
    assert state["stages"]["dedup"]["accounting"]["by_outcome"].get("dedup.exact", 0) >= 1
    assert state["stages"]["decontaminate"]["accounting"]["by_status"]["contaminated"] == 1
    ids = demo_run["ids"]
    assert len(ids["decontaminate"]) == len(set(ids["decontaminate"])) == 29
    manifest = json.loads((run / "mix" / "mixture_manifest.json").read_text())
    assert abs(manifest["achieved_total_tokens"] - manifest["total_tokens"]) / manifest["total_tokens"] < 0.01
    assert (run / "mix" / "_tokens").is_dir()


@pytest.mark.spark
@pytest.mark.slow
def test_resume_skips_reruns_and_cascades(demo_run, monkeypatch):
    run = demo_run["run"]
    monkeypatch.setattr(pipeline, "code_version", lambda: "test-version")
    before_files, before_ids = demo_run["files"], demo_run["ids"]

    # 1. Nothing changed: every stage is skipped, nothing is rewritten.
    outcomes = _run(_demo_args(run))
    assert _actions(outcomes) == {s: "skipped" for s in STAGES}
    assert sum(o.seconds for o in outcomes) < 5
    assert _files(run) == before_files

    # 2. An interruption inside dedup: its last-written file never came, Spark left debris.
    (run / "dedup" / "_config.yaml").unlink()
    (run / "dedup" / "_temporary").mkdir()
    (run / "dedup" / "_temporary" / "part-junk.parquet").write_bytes(b"half a file")
    outcomes = _run(_demo_args(run))
    assert _actions(outcomes) == {"extract": "skipped", "annotate": "skipped", "dedup": "ran",
                                  "decontaminate": "ran", "mix": "ran"}
    assert next(o for o in outcomes if o.name == "dedup").reason == "output incomplete (_config.yaml missing)"
    assert not (run / "dedup" / "_temporary").exists()
    after = _files(run)
    for stage in ("extract", "annotate"):  # untouched
        assert {k: v for k, v in after.items() if k.startswith(stage + "/")} == \
               {k: v for k, v in before_files.items() if k.startswith(stage + "/")}
    ids = _ids(run)
    assert ids == before_ids  # same documents and the same mixture: nothing duplicated, nothing missing
    assert len(ids["decontaminate"]) == len(set(ids["decontaminate"]))
    assert _state(run)["stages"]["dedup"]["status"] == "done"

    # 3. One stage's config changes: that stage and the later ones rerun.
    changed = ("--set", "decontaminate.decontam.info_threshold=0.2")
    outcomes = _run(_demo_args(run, *changed))
    assert _actions(outcomes) == {"extract": "skipped", "annotate": "skipped", "dedup": "skipped",
                                  "decontaminate": "ran", "mix": "ran"}
    assert next(o for o in outcomes if o.name == "decontaminate").reason == "config changed"
    mix_ids = _ids(run)["mix"]

    # 4. A crash inside mix (after it wrote part of its output): recorded as failed, rerun next time.
    from spark_jobs.mix import MixJob

    def crash(self, spark, args, cfg):
        Path(args.output).mkdir(parents=True, exist_ok=True)
        (Path(args.output) / "part-00000.parquet").write_bytes(b"partial")
        raise KeyboardInterrupt

    with monkeypatch.context() as mp:
        mp.setattr(MixJob, "run", crash)
        with pytest.raises(KeyboardInterrupt):
            _run(_demo_args(run, *changed, "--from", "mix"))
    assert _state(run)["stages"]["mix"]["status"] == "failed"
    outcomes = _run(_demo_args(run, *changed))
    assert _actions(outcomes) == {"extract": "skipped", "annotate": "skipped", "dedup": "skipped",
                                  "decontaminate": "skipped", "mix": "ran"}
    assert next(o for o in outcomes if o.name == "mix").reason == "previous run failed"
    assert _ids(run)["mix"] == mix_ids

    # 5. A page of dedup's output damaged on disk after dedup finished: decontaminate stops with a
    # one-line error naming the file and the stage to rerun; rerunning from there restores the run.
    from tests.test_parquet_integrity import flip_byte_in_column

    part = max((run / "dedup").glob("part-*.parquet"), key=lambda p: p.stat().st_size)
    flip_byte_in_column(part, "text")
    with pytest.raises(pipeline.PipelineError, match=rf"decontaminate: a Parquet page in \S*{part.name} "
                                                     r"failed its checksum .*--from dedup$"):
        _run(_demo_args(run, *changed, "--from", "decontaminate"))
    assert _state(run)["stages"]["decontaminate"]["status"] == "failed"
    outcomes = _run(_demo_args(run, *changed, "--from", "dedup"))
    assert _actions(outcomes)["dedup"] == "ran"
    assert _ids(run)["mix"] == mix_ids


# ------------------------------------------------------------------ no Spark: config errors, accounting
@pytest.fixture
def no_spark(monkeypatch):
    """Fail the test if anything tries to start Spark."""
    import spark_jobs.job

    def boom(*a, **k):
        raise AssertionError("Spark must not start")

    monkeypatch.setattr(spark_jobs.job, "get_session", boom)
    monkeypatch.setattr(pipeline, "code_version", lambda: "test-version")


def _write_pipeline(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


@pytest.mark.parametrize("data, message", [
    ({"input": str(DEMO_WARC), "dedupe": {}}, "unknown config key(s) dedupe"),
    ({"input": str(DEMO_WARC), "dedup": {"min_similarty": 0.5}}, "dedup: unknown config key(s) min_similarty"),
    ({"input": str(DEMO_WARC), "extract": {"extract": {"extractor": "lynx"}}}, "extract.extractor"),
    ({"input": str(DEMO_WARC), "decontaminate": {}}, "decontaminate: no benchmarks"),
    ({"input": "/nonexistent/crawl/*.warc.gz"}, "matches no file"),
    ({}, "input is required"),
    ({"input": str(DEMO_WARC), "extract": False, "annotate": False, "dedup": False, "decontaminate": False,
      "mix": False}, "every stage is disabled"),
])
def test_bad_pipeline_is_exit_2_before_spark(tmp_path, no_spark, capsys, data, message):
    path = _write_pipeline(tmp_path, data)
    assert pipeline.run(_args(path, tmp_path / "run")) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curate run: error: ") and message in err[0]
    assert not (tmp_path / "run" / pipeline.STATE_FILE).exists()


def test_missing_pipeline_file_and_disabled_from_stage(tmp_path, no_spark, capsys):
    assert pipeline.run(_args(tmp_path / "nope.yaml", tmp_path / "run")) == 2
    assert "pipeline file not found" in capsys.readouterr().err
    path = _write_pipeline(tmp_path, {"input": str(DEMO_WARC), "annotate": False, "dedup": False,
                                      "decontaminate": False, "mix": False})
    assert pipeline.run(_args(path, tmp_path / "run", "--from", "dedup")) == 2
    assert "curate run: error: --from dedup: not an enabled stage" in capsys.readouterr().err


def test_sections_disabled_stages_and_chaining(tmp_path):
    cfg = pipeline.load_pipeline(_write_pipeline(tmp_path, {
        "input": "x.warc.gz", "output": str(tmp_path / "run"), "dedup": False,
        "mix": {"enabled": True, "config": "m.yaml", "total_tokens": 10}}))
    assert cfg.input == ("x.warc.gz",) and not cfg.dedup.enabled
    assert cfg.mix.config == "m.yaml" and cfg.mix.settings == {"total_tokens": 10}
    # With dedup off, decontaminate reads annotate's output.
    cfg = pipeline.load_pipeline(_write_pipeline(tmp_path, {
        "input": str(DEMO_WARC), "output": str(tmp_path / "run"), "dedup": False, "mix": False,
        "decontaminate": {"benchmarks": str(DEMO_BENCHMARKS)}}))
    plans = pipeline.plan_stages(cfg)
    assert [p.name for p in plans] == ["extract", "annotate", "decontaminate"]
    assert plans[2].reads == (str(tmp_path / "run" / "annotate"),)
    assert yaml.safe_load((tmp_path / "run" / "decontaminate.yaml").read_text()) == {"benchmarks": str(DEMO_BENCHMARKS)}


def test_accounting_that_does_not_add_up_fails_loudly(tmp_path):
    from curation.filters.annotate_task import AnnotateJobConfig

    out = tmp_path / "annotate"
    out.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c"]}), out / "part-0.parquet")
    (out / "_accounting.json").write_text(json.dumps(
        {"records_read": 4, "kept": 2, "dropped": 1, "errored": 0, "by_outcome": {"kept": 2, "x.y": 1}}))
    plan = pipeline.StagePlan("annotate", None, argparse.Namespace(), AnnotateJobConfig(keep_dropped=True),
                              str(out), str(tmp_path / "extract"), (str(tmp_path / "extract"),))
    with pytest.raises(pipeline.PipelineError, match="accounting does not add up") as err:
        pipeline.check_accounting(plan, rows_in=4)
    assert "kept + dropped + errored vs records read: 3 != 4" in str(err.value)
    assert "rows in the output Parquet: 3 != 4" in str(err.value)
    (out / "_accounting.json").write_text(json.dumps(
        {"records_read": 3, "kept": 2, "dropped": 1, "errored": 0, "by_outcome": {"kept": 2, "x.y": 1}}))
    assert pipeline.check_accounting(plan, rows_in=3)["records_out"] == 3
    with pytest.raises(pipeline.PipelineError, match="records read vs rows in"):
        pipeline.check_accounting(plan, rows_in=5)  # the stage lost two of its input rows


def test_fingerprints(tmp_path):
    d = tmp_path / "out"
    d.mkdir()
    (d / "part-1.parquet").write_bytes(b"x" * 10)
    first = pipeline.tree_fingerprint(str(d))
    (d / ".part-1.parquet.crc").write_bytes(b"c")  # hidden files do not count
    assert pipeline.tree_fingerprint(str(d)) == first
    (d / "_config.yaml").write_text("a: 1")
    assert pipeline.tree_fingerprint(str(d)) != first
    assert pipeline.tree_fingerprint(str(tmp_path / "missing")) == "missing"


# ------------------------------------------------------------ --stages: a chain of stage verbs, one JVM
def _run_args(*argv: str) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    pipeline.add_arguments(parser)
    return parser.parse_args(list(argv))


def test_stages_without_a_yaml_plans_the_chain_at_job_defaults(tmp_path, no_spark):
    args = _run_args("--stages", "extract,annotate", "--input", str(DEMO_WARC), "--output", str(tmp_path / "run"))
    cfg, plans = pipeline.prepare(args.pipeline, args.output, args.input, args.overrides, only=args.stages)
    assert [p.name for p in plans] == ["extract", "annotate"]
    assert plans[1].upstream == plans[0].output  # annotate reads what extract writes
    assert not cfg.dedup.enabled and not cfg.mix.enabled
    two = _run_args("--stages", "extract", "--input", str(DEMO_WARC), str(DEMO_WARC), "--output", str(tmp_path / "r2"))
    assert two.pipeline is None and two.input == [str(DEMO_WARC)] * 2  # --input takes several files at once


def test_stages_overrides_the_yaml_and_keeps_its_settings(tmp_path, no_spark):
    path = _write_pipeline(tmp_path, {"input": str(DEMO_WARC), "dedup": {"min_similarity": 0.7},
                                      "decontaminate": False, "mix": False})
    cfg, plans = pipeline.prepare(str(path), str(tmp_path / "run"), only=["extract", "dedup"])
    assert [p.name for p in plans] == ["extract", "dedup"]  # annotate (on in the YAML) is off
    assert plans[1].upstream == plans[0].output and plans[1].cfg.min_similarity == 0.7


@pytest.mark.parametrize("argv, says", [
    (["--stages", "extract,nope", "--input", "x.warc.gz", "--output", "{tmp}/run"], "--stages: unknown stage(s) nope"),
    (["--stages", ",", "--input", "x.warc.gz", "--output", "{tmp}/run"], "--stages: name at least one stage"),
    (["--input", "x.warc.gz", "--output", "{tmp}/run"], "give PIPELINE.yaml, or --stages"),
])
def test_stages_errors_are_one_line_before_spark(tmp_path, no_spark, capsys, argv, says):
    assert pipeline.run(_run_args(*[a.replace("{tmp}", str(tmp_path)) for a in argv])) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("curate run: error: ") and says in err[0], err


def test_stage_chain_runs_in_one_spark_session(spark, tmp_path, monkeypatch, capsys):
    """`curate run --stages extract,annotate` pays one session start-up for both stages, and both
    stages complete with consistent accounting (the point of running verbs as one chain)."""
    import spark_jobs.job

    real, started = spark_jobs.job.session, []

    def counting(*a, **k):
        started.append(a[0] if a else k.get("app_name"))
        return real(*a, **k)

    monkeypatch.setattr(spark_jobs.job, "session", counting)
    monkeypatch.setattr(pipeline, "code_version", lambda: "test-version")
    run = tmp_path / "run"
    assert pipeline.run(_run_args("--stages", "extract,annotate", "--input", str(DEMO_WARC), "--output", str(run))) == 0
    assert started == ["curate-pipeline"]
    state = _state(run)
    assert state["stages_enabled"] == ["extract", "annotate"] and state["status"] == "done", state
    for stage in ("extract", "annotate"):
        acc = json.loads((run / stage / "_accounting.json").read_text())
        assert acc["kept"] + acc["dropped"] + acc["errored"] == acc["records_read"] > 0, acc
    assert not (run / "dedup").exists()

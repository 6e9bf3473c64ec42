"""The stage registry (curation/stages.py): adding a stage is one registry entry.

A stage that exists only in this file (``tag``: marks short documents) is registered with one
:func:`curation.stages.register` call, and with no other edit ``curate run`` plans, runs, checks
and resumes it, ``curate funnel`` orders its drop reasons and the dashboard reads its folder.
Plain Python (the ``unit`` tier): the fake job needs no Spark, and the pipeline's session is
replaced by a stub, so no JVM starts.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from curate import pipeline
from curation import config as configlib
from curation import output_dir, rundir, stages
from curation.query import funnel

REPO = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------------------------- a stage made here
@dataclass(frozen=True)
class TagConfig:
    #: Documents with fewer whitespace words are dropped as ``tag.too_short``.
    min_words: int = 3


class TagJob:
    """A Spark adapter's shape (build_parser, load_config, run) with no Spark in it."""

    name = "tag"

    def build_parser(self, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
        parser = parser or argparse.ArgumentParser(prog="tag")
        parser.add_argument("input")
        parser.add_argument("--output", required=True)
        parser.add_argument("--config")
        parser.add_argument("--set", dest="overrides", action="append", default=[])
        return parser

    def load_config(self, args: argparse.Namespace) -> TagConfig:
        return configlib.load(TagConfig, args.config, args.overrides)

    def run(self, spark, args: argparse.Namespace, cfg: TagConfig) -> int:
        output_dir.claim(args.output, "tag", inputs=[args.input])
        table = pq.read_table(next(Path(args.input).glob("*.parquet")))
        reasons = [r if r is not None or len(t.split()) >= cfg.min_words else "tag.too_short"
                   for t, r in zip(table.column("text").to_pylist(), table.column("drop_reason").to_pylist())]
        table = table.set_column(table.schema.get_field_index("drop_reason"), "drop_reason", pa.array(reasons, pa.string()))
        pq.write_table(table, Path(args.output) / "part-00000.parquet")
        by: dict[str, int] = {}
        for r in reasons:
            by[r or "kept"] = by.get(r or "kept", 0) + 1
        rundir.write_accounting(args.output, rundir.RecordAccounting.of_outcomes(by))
        rundir.write_config(args.output, configlib.dump(cfg))
        return 0


TAG = stages.Stage(
    "tag", "Drop documents shorter than min_words (a stage defined in tests/test_stages.py).",
    "tests.test_stages:TagJob", "tests.test_stages:TagConfig",
    (rundir.ACCOUNTING, rundir.CONFIG), stages.OutcomeAccounting(writes_every_row=True),
    drops_before=("tag",))


@pytest.fixture
def documents(tmp_path) -> Path:
    """An upstream stage's output: four documents, one already dropped by dedup."""
    docs = tmp_path / "docs"
    docs.mkdir()
    pq.write_table(pa.table({"id": ["a", "b", "c", "d"],
                             "text": ["one two three four", "too short", "five six seven", "one two three four"],
                             "drop_reason": [None, None, None, "dedup.exact"]}), docs / "part-00000.parquet")
    return docs


def _pipeline_file(tmp_path: Path, documents: Path, **tag) -> Path:
    others = {name: False for name in stages.names() if name != "tag"}
    path = tmp_path / "pipeline.yaml"
    path.write_text(yaml.safe_dump({"input": str(documents), "output": str(tmp_path / "run"), **others, "tag": tag}))
    return path


def _run(monkeypatch, capsys, pipeline_file: Path) -> dict[str, tuple[str, str]]:
    """``curate run PIPELINE.yaml`` (the command function); {stage: (action, why)} from its table."""
    import spark_jobs.job

    monkeypatch.setattr(spark_jobs.job, "session", lambda *a, **k: contextlib.nullcontext(None))  # no JVM
    parser = argparse.ArgumentParser()
    pipeline.add_arguments(parser)
    capsys.readouterr()
    assert pipeline.run(parser.parse_args([str(pipeline_file)])) == 0
    table = capsys.readouterr().out.split("why\n", 1)[1].split("  provenance:")[0]
    rows = [line.split(None, 5) for line in table.splitlines() if line.strip()]
    return {r[0]: (r[1], r[-1]) for r in rows}


# ------------------------------------------------------------------------------------- the proof
def test_a_registered_stage_runs_resumes_and_is_checked(tag_stage, documents, tmp_path, monkeypatch, capsys):
    pipe = _pipeline_file(tmp_path, documents, min_words=3)
    assert pipeline.load_pipeline(pipe).tag.settings == {"min_words": 3}  # a section of its own
    assert _run(monkeypatch, capsys, pipe) == {"tag": ("ran", "no previous run")}
    run = tmp_path / "run"
    record = json.loads((run / rundir.PIPELINE_STATE).read_text())["stages"]["tag"]
    assert record["status"] == "done" and record["accounting"] == {
        "records_in": 4, "records_out": 4, "kept": 2, "dropped": 2, "errored": 0,
        "by_outcome": {"kept": 2, "tag.too_short": 1, "dedup.exact": 1}}
    assert (run / "tag.yaml").is_file()  # the section, as given to the job
    # Resumed: up to date, skipped; its completion files are the registry's.
    assert _run(monkeypatch, capsys, pipe) == {"tag": ("skipped", "up to date")}
    (run / "tag" / rundir.CONFIG).unlink()
    assert _run(monkeypatch, capsys, pipe) == {"tag": ("ran", f"output incomplete ({rundir.CONFIG} missing)")}


def test_a_registered_stage_accounting_that_does_not_add_up_stops_the_run(tag_stage, documents, tmp_path, monkeypatch,
                                                                        capsys):
    _run(monkeypatch, capsys, _pipeline_file(tmp_path, documents))
    cfg, [plan] = pipeline.prepare(str(_pipeline_file(tmp_path, documents)))
    acc = rundir.read_accounting(plan.output)
    rundir.write_accounting(plan.output, {**acc, "kept": acc["kept"] - 1})  # a record lost
    with pytest.raises(pipeline.PipelineError, match="tag: accounting does not add up .*kept \\+ dropped"):
        pipeline.check_accounting(plan, rows_in=4)
    rundir.write_accounting(plan.output, acc)
    with pytest.raises(pipeline.PipelineError, match="records read vs rows in"):
        pipeline.check_accounting(plan, rows_in=5)  # read fewer rows than its input holds
    assert pipeline.check_accounting(plan, rows_in=4)["records_in"] == 4


def test_a_registered_stage_is_in_the_funnel_the_dashboard_and_the_cli(tag_stage, documents, tmp_path, monkeypatch,
                                                                      capsys):
    _run(monkeypatch, capsys, _pipeline_file(tmp_path, documents))
    run = tmp_path / "run"
    rows, meta = funnel.compute(run)
    assert meta["stage_dir"] == str(run / "tag") and meta["records_read"] == 4
    # In pipeline order: dedup's drops, then tag's (registered after dedup), kept last.
    assert [r.outcome for r in rows] == ["dedup.exact", "tag.too_short", "kept"]
    assert funnel.step_order(run / "tag").index("dedup") < funnel.step_order(run / "tag").index("tag")

    from dashboards import queries

    assert queries.doc_view({"dedup": "x", "tag": "y"}) == "tag"  # the latest document stage
    import duckdb

    con = duckdb.connect()
    con.execute(f"CREATE VIEW tag AS SELECT * FROM '{run}/tag/*.parquet'")
    table = queries.funnel(con, "tag", run)
    assert {r.outcome: (r.docs, r.tokens) for r in rows} == dict(zip(table["outcome"], zip(table["docs"], table["tokens"])))

    from curate import cli

    with pytest.raises(SystemExit) as exit_:
        cli.main(["tag", "--help"])
    assert exit_.value.code == 0
    # ...and runs as its own verb, although its parser has no --master or --spark-conf (a plugin's adapter
    # need not be a SparkJob).
    assert cli.main(["tag", str(documents), "--output", str(tmp_path / "tag-alone")]) == 0
    assert (tmp_path / "tag-alone" / "part-00000.parquet").exists()


def test_register_refuses_a_second_stage_of_the_same_name_and_an_unknown_anchor():
    with pytest.raises(ValueError, match="already registered"):
        stages.register(stages.get("dedup"))
    with pytest.raises(ValueError, match="no such stage"):
        stages.register(TAG, before="nope")
    assert "tag" not in stages.names()


# ------------------------------------------------------------------------------------- the registry itself
def test_every_stage_loads_its_adapter_and_config():
    for st in stages.ordered():
        job = st.load_adapter()
        assert job.name == st.name and job.description == st.help
        assert job.config_cls is st.config_class()
        assert st.marker == st.completion[-1] and set(st.completion) <= set(rundir.SIDE_FILES)
    assert pipeline.STAGES == stages.names()
    assert [s.name for s in stages.document_stages()][-1] != "mix"


def test_stage_names_are_spelled_in_one_place():
    """No module but curation/stages.py lists two different stage names on one line (a list of
    stages, a dict keyed by them, a help text naming the order): they iterate the registry."""
    names = stages.names()
    pattern = re.compile("|".join(rf"[\"']{re.escape(n)}[\"']" for n in names))
    offenders = []
    for folder in ("curate", "curation", "spark_jobs", "dashboards", "classifiers"):
        for py in sorted((REPO / folder).rglob("*.py")):
            if py.name == "stages.py" or py.name == "demo_warc.py":  # demo_warc: page text, not stage names
                continue
            for i, line in enumerate(py.read_text().splitlines(), 1):
                if len({m.group(0).strip("\"'") for m in pattern.finditer(line)}) > 1:
                    offenders.append(f"{py.relative_to(REPO)}:{i}: {line.strip()}")
    assert offenders == []

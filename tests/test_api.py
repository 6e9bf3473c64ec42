"""The Python API (curate.pipeline.Pipeline) builds the run ``curate run PIPELINE.yaml`` describes.

It builds the same :class:`~curate.pipeline.PipelineConfig` as the YAML (checked by the same code),
plans without Spark, and runs through the same ``run_pipeline`` as ``curate run``: resuming and
``_pipeline.json`` included. The run uses the stage defined in tests/test_stages.py (a job with no
Spark in it) and a stub session, so no JVM starts. README "Composing a run from Python" points here.
"""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest
import yaml

from curate import pipeline
from curate.pipeline import Pipeline, StageSection
from curation import config as configlib
from curation import rundir, stages

REPO = Path(__file__).resolve().parent.parent
DEMO_WARC = str(REPO / "demo" / "demo.warc.gz")


def test_the_api_builds_the_config_the_yaml_does(tmp_path):
    p = Pipeline([
        "extract",
        ("annotate", {"keep_dropped": True, "config": "spark_jobs/configs/annotate.yaml"}),
    ])
    cfg = p.config(DEMO_WARC, str(tmp_path / "run"))
    # the YAML with the same sections: unlisted stages are disabled
    data = {"input": [DEMO_WARC], "output": str(tmp_path / "run"), "extract": {},
            "annotate": {"keep_dropped": True, "config": "spark_jobs/configs/annotate.yaml"}}
    data.update({name: False for name in stages.names() if name not in data})
    (tmp_path / "pipeline.yaml").write_text(yaml.safe_dump(data))
    assert cfg == pipeline.load_pipeline(tmp_path / "pipeline.yaml")
    assert cfg.annotate == StageSection(True, "spark_jobs/configs/annotate.yaml", {"keep_dropped": True})


def test_plan_resolves_the_stages_without_spark(tmp_path):
    plans = Pipeline([
        "extract",
        ("annotate", {"keep_dropped": True}),
    ]).plan([DEMO_WARC], str(tmp_path / "run"))
    assert [p.name for p in plans] == [s.name for s in stages.ordered()][:2]
    extract, annotate = plans
    assert extract.reads == (DEMO_WARC,) and annotate.upstream == extract.output
    assert annotate.cfg.keep_dropped is True
    assert (tmp_path / "run" / "annotate.yaml").is_file()  # the section as given to the job, as `curate run` writes


def test_the_api_refuses_what_the_yaml_refuses(tmp_path):
    with pytest.raises(configlib.ConfigError, match="unknown stage 'dedupe'"):
        Pipeline(["dedupe"]).config(DEMO_WARC, str(tmp_path))
    with pytest.raises(configlib.ConfigError, match="every stage is disabled"):
        Pipeline([]).config(DEMO_WARC, str(tmp_path))
    with pytest.raises(configlib.ConfigError, match="extract: .*no_such_key"):
        Pipeline([("extract", {"no_such_key": 1})]).plan(DEMO_WARC, str(tmp_path / "run"))


def test_run_is_curate_runs_code_resumes_included(tag_stage, tmp_path, monkeypatch):
    import pyarrow as pa
    import pyarrow.parquet as pq

    import spark_jobs.job

    monkeypatch.setattr(spark_jobs.job, "session", lambda *a, **k: contextlib.nullcontext(None))  # no JVM
    docs = tmp_path / "docs"
    docs.mkdir()
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["one two three", "short"], "drop_reason": [None, None]}),
                   docs / "part-00000.parquet")
    p = Pipeline([("tag", {"min_words": 2})])
    [outcome] = p.run(str(docs), str(tmp_path / "run"))
    assert (outcome.name, outcome.action) == ("tag", "ran")
    assert outcome.accounting["by_outcome"] == {"kept": 1, "tag.too_short": 1}
    state = json.loads((tmp_path / "run" / rundir.PIPELINE_STATE).read_text())
    assert state["status"] == "done" and state["stages"]["tag"]["status"] == "done"
    [again] = p.run(str(docs), str(tmp_path / "run"))
    assert (again.action, again.reason) == ("skipped", "up to date")

"""One error base class: every user error is one line on stderr and exit code 2, from any verb (issue 20).

In-process and before Spark starts (no JVM): each case is a bad argument or input that a verb refuses.
"""

from __future__ import annotations

import pytest

from classifiers.graded_labels import LabelFileError
from curate import config_command
from curate.cli import main
from curate.pipeline import PipelineError
from curation.config import ConfigError
from curation.errors import CurateError, JobError, ModelError
from curation.ingest.sources import SourceError
from curation.model_files import ModelFileError
from curation.output_dir import OutputRefused
from curation.plugins import PluginError
from dashboards import jobs as dashboard_jobs


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


#: A bad argument or input for each verb that refuses it before Spark starts, and what its one line says.
BAD_INPUTS = [
    (["config", "show", "nosuch"], "unknown stage 'nosuch'"),
    (["funnel", "{tmp}/no-run"], ""),
    (["ablate", "--config", "{tmp}/missing.yaml", "-o", "{tmp}/out"], "config file not found"),
    (["score", "--model", "{tmp}/no-model", "--input", "{tmp}/in.jsonl", "--output", "{tmp}/s.parquet"], ""),
    (["ingest", "text", "{tmp}/missing.txt", "-o", "{tmp}/out"], "input not found: {tmp}/missing.txt"),
    (["ingest", "qa", "{tmp}/missing", "-o", "{tmp}/out"], "input not found: {tmp}/missing"),
    (["sql", "{tmp}/no-run", "SELECT 1"], "run directory"),
    (["catalog", "{tmp}/no-run"], ""),
    (["label", "--input", "{tmp}/in.jsonl", "--output", "{tmp}/labels.parquet"], "need --base-url/"),
    (["seeds", "--input", "{tmp}/no-docs.parquet", "--reasoning-model", "{tmp}/no-model", "--topic-model", "{tmp}/no-model",
      "--output", "{tmp}/seeds.parquet"], ""),
    (["train-classifier", "--recipe", "labels", "--labels", "{tmp}/missing.jsonl", "--docs", "{tmp}/docs.jsonl",
      "--target", "nope", "--output", "{tmp}/model"], "unknown target 'nope'"),
    (["dashboard", "{tmp}/no-run"], "run directory {tmp}/no-run does not exist"),
    # the Spark stage verbs and `curate run` report through the same helper (the config is read before Spark starts)
    (["extract", "{tmp}/in", "-o", "{tmp}/out", "--config", "{tmp}/missing.yaml"], "config file not found"),
    (["annotate", "{tmp}/in", "-o", "{tmp}/out", "--config", "{tmp}/missing.yaml"], "config file not found"),
    (["dedup", "{tmp}/in", "-o", "{tmp}/out", "--config", "{tmp}/missing.yaml"], "config file not found"),
    (["decontaminate", "-i", "{tmp}/in", "-o", "{tmp}/out", "--config", "{tmp}/missing.yaml"], "config file not found"),
    (["mix", "-o", "{tmp}/out", "--config", "{tmp}/missing.yaml"], "config file not found"),
    (["run", "{tmp}/nope.yaml", "-o", "{tmp}/run"], "pipeline file not found: {tmp}/nope.yaml"),
]


@pytest.mark.parametrize(("argv", "says"), BAD_INPUTS, ids=lambda v: " ".join(v[:2]) if isinstance(v, list) else None)
def test_a_user_error_is_one_line_in_one_format_and_exit_2(argv, says, tmp_path, capsys, monkeypatch):
    """Every verb reports through ``curation.errors.report``: ``curate VERB: error: MESSAGE``."""
    for var in ("CURATE_LLM_BASE_URL", "CURATE_LLM_MODEL", "OPENAI_BASE_URL"):
        monkeypatch.delenv(var, raising=False)
    rc, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert rc == 2, err
    prefix = f"curate {argv[0]}: error: "
    assert err.startswith(prefix) and err.endswith("\n") and err.count("\n") == 1, err
    assert len(err) > len(prefix) + 1 and "Traceback" not in err, err
    assert says.replace("{tmp}", str(tmp_path)) in err, err


def test_report_is_the_one_format(capsys):
    from curation.errors import report

    assert report("sql", CurateError("bad\nquery")) == 2 and report("", "no verb yet") == 2
    assert capsys.readouterr().err.splitlines() == ["curate sql: error: bad\\nquery", "curate: error: no verb yet"]


def test_main_reports_a_curate_error_any_verb_lets_through(monkeypatch, tmp_path, capsys):
    """A verb that does not catch an error itself still gets one line: ``main`` catches CurateError."""
    def broken(args):
        raise ModelFileError("model.bin: truncated\nor damaged")

    monkeypatch.setattr(config_command, "run", broken)
    rc, err = run_cli(["config", "show", "dedup"], capsys)
    assert rc == 2 and err == "curate config: error: model.bin: truncated\\nor damaged\n"


@pytest.mark.parametrize("cls", [JobError, ModelError, ModelFileError, ConfigError, LabelFileError, OutputRefused,
                                 PipelineError, dashboard_jobs.JobError, PluginError, SourceError])
def test_user_errors_share_one_base(cls):
    assert issubclass(cls, CurateError)


@pytest.mark.parametrize("cls", [ModelFileError, ConfigError, LabelFileError])
def test_errors_caught_as_value_error_still_are(cls):
    assert issubclass(cls, ValueError)


def test_model_error_and_resolve_device_are_defined_once():
    from classifiers import fasttext_model, transformer_model
    from curation import devices
    from curation.ablations import trainer

    assert fasttext_model.ModelError is transformer_model.ModelError is ModelError
    assert issubclass(ModelFileError, ModelError)
    assert transformer_model.resolve_device is trainer.resolve_device is devices.resolve_device
    assert str(devices.resolve_device("cpu")) == "cpu"

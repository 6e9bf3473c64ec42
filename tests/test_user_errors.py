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
from curation.model_files import ModelFileError
from curation.output_dir import OutputRefused


def run_cli(argv: list[str], capsys) -> tuple[int, str]:
    rc = main(argv)
    return rc, capsys.readouterr().err


@pytest.mark.parametrize(("argv", "prefix"), [
    (["config", "show", "nosuch"], "curate config: error: unknown stage 'nosuch'"),
    (["funnel", "{tmp}/no-run"], "curate funnel: error: "),
    (["ablate", "--config", "{tmp}/missing.yaml", "-o", "{tmp}/out"], "curate ablate: error: config file not found"),
    (["score", "--model", "{tmp}/no-model", "--input", "{tmp}/in.jsonl", "--output", "{tmp}/s.parquet"], "curate score: error: "),
    (["ingest", "text", "{tmp}/missing.txt", "-o", "{tmp}/out"], "curate ingest: error: "),
    (["sql", "{tmp}/no-run", "SELECT 1"], "sql: run directory"),
])
def test_a_user_error_is_one_line_and_exit_2(argv, prefix, tmp_path, capsys):
    rc, err = run_cli([a.replace("{tmp}", str(tmp_path)) for a in argv], capsys)
    assert rc == 2, err
    assert err.startswith(prefix) and err.count("\n") == 1 and "Traceback" not in err, err


def test_main_reports_a_curate_error_any_verb_lets_through(monkeypatch, tmp_path, capsys):
    """A verb that does not catch an error itself still gets one line: ``main`` catches CurateError."""
    def broken(args):
        raise ModelFileError("model.bin: truncated\nor damaged")

    monkeypatch.setattr(config_command, "run", broken)
    rc, err = run_cli(["config", "show", "dedup"], capsys)
    assert rc == 2 and err == "curate config: error: model.bin: truncated\\nor damaged\n"


@pytest.mark.parametrize("cls", [JobError, ModelError, ModelFileError, ConfigError, LabelFileError, OutputRefused,
                                 PipelineError])
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

"""Defaults defined once: each stage's config dataclass holds them; ``curate config show STAGE`` prints
them and every shipped ``spark_jobs/configs/STAGE.yaml`` loads to exactly them (issue 20)."""

from __future__ import annotations

import io
from argparse import Namespace
from pathlib import Path

import pytest
import yaml

from curate import config_command
from curation import config, stages
from curation.errors import CurateError

CONFIGS = Path(__file__).resolve().parent.parent / "spark_jobs" / "configs"
#: Stages with no shipped defaults file, and why (a new stage must ship one or be listed here).
NO_FILE = {"mix": "a mixture is its sources: there is no useful default to ship (README 'Mixing')"}


@pytest.mark.parametrize("name", stages.names())
def test_shipped_yaml_equals_config_show(name):
    out = io.StringIO()
    assert config_command.run(Namespace(stage=name), out) == 0
    shown = out.getvalue()
    cls = stages.get(name).config_class()
    assert config.build(cls, yaml.safe_load(shown)) == cls()  # the printed YAML is the defaults
    path = CONFIGS / f"{name}.yaml"
    if name in NO_FILE:
        assert not path.exists(), f"{path} ships: remove {name} from NO_FILE"
        return
    assert path.exists(), f"stage {name} has no {path.name} (ship `curate config show {name}` or list it in NO_FILE)"
    assert config.load(cls, path) == cls()
    # Every key the dataclass has is in the file (documented there), with its default; an empty mapping
    # (a step's ``params: {}``) may be left out, as it loads the same.
    assert _pruned(yaml.safe_load(path.read_text())) == _pruned(yaml.safe_load(shown)), \
        f"{path.name} differs from `curate config show {name}`"


def _pruned(value):
    if isinstance(value, dict):
        return {k: _pruned(v) for k, v in value.items() if v != {}}
    if isinstance(value, list):
        return [_pruned(v) for v in value]
    return value


def test_unknown_stage_is_a_curate_error():
    with pytest.raises(CurateError, match="unknown stage 'nope'"):
        config_command.show("nope")

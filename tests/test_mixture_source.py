"""One source model (issue 20): ``curate mix`` and ``curate ablate`` sources extend one core
:class:`curation.mixture.source.Source`, and the YAML shapes they always took still load."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from curation import config
from curation.ablations.runner import AblationConfig, AblationSource
from curation.mixture.mix_config import MixJobConfig, MixSource
from curation.mixture.source import KEPT, Source

DEMO = Path(__file__).resolve().parent.parent / "demo"


@pytest.mark.parametrize("cls", [MixSource, AblationSource])
def test_both_extend_the_core_source(cls):
    assert issubclass(cls, Source)
    assert [f for f in ("name", "input", "where", "max_epochs") if f not in cls.__dataclass_fields__] == []


def test_mix_yaml_shape_loads():
    cfg = config.build(MixJobConfig, yaml.safe_load("""
input: docs
preset: phi4-organic
sources:
  - {name: web_reasoning, where: "drop_reason IS NULL AND lang = 'en'", max_epochs: 2}
  - {name: code, share: 0.4, input: code_docs}
"""))
    web, code = cfg.sources
    assert web == MixSource(name="web_reasoning", where="drop_reason IS NULL AND lang = 'en'", max_epochs=2.0)
    assert code.where == KEPT and code.input == "code_docs" and code.share == 0.4


def test_ablation_yaml_shape_loads():
    cfg = config.build(AblationConfig, yaml.safe_load("""
sources:
  - {name: wiki, input: wiki.txt, max_tokens: 1000}
  - {name: docs, input: docs.parquet, kind: documents, where: "drop_reason IS NULL", prior: 0.3}
"""))
    wiki, docs = cfg.sources
    assert (wiki.input, wiki.where, wiki.max_epochs, wiki.max_tokens) == ("wiki.txt", "", 4.0, 1000)
    assert (docs.kind, docs.where, docs.prior) == ("documents", KEPT, 0.3)


@pytest.mark.parametrize("path", sorted(DEMO.glob("mix*.yaml")))
def test_shipped_mix_configs_load(path):
    assert config.load(MixJobConfig, path).sources


@pytest.mark.parametrize("path", sorted(DEMO.glob("ablate*.yaml")))
def test_shipped_ablation_configs_load(path):
    cfg = config.load(AblationConfig, path)  # the shape only (load_config also reads the inputs it names)
    assert cfg.sources or cfg.mixture

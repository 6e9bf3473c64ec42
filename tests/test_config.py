from dataclasses import dataclass, field

import pytest

from curation import config
from curation.extract import ExtractConfig
from spark_jobs.extract import ExtractJobConfig


def test_defaults_and_overrides_are_typed():
    cfg = config.load(ExtractJobConfig, None, ["extract.extractor=resiliparse", "extract.time_limit_s=2", "keep_dropped=true"])
    assert cfg.extract.extractor == "resiliparse"
    assert cfg.extract.time_limit_s == 2.0 and isinstance(cfg.extract.time_limit_s, float)
    assert cfg.keep_dropped is True
    assert ExtractJobConfig().extract == ExtractConfig()


def test_yaml_file_then_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("extract:\n  extractor: resiliparse\n  max_payload_bytes: 1000\n")
    cfg = config.load(ExtractJobConfig, path, ["extract.max_payload_bytes=2000"])
    assert cfg.extract.extractor == "resiliparse" and cfg.extract.max_payload_bytes == 2000


@pytest.mark.parametrize("override, message", [
    ("extract.extracter=resiliparse", "unknown config key"),
    ("nope=1", "unknown config key"),
    ("extract.extractor=lynx", "must be one of"),
    ("extract.time_limit_s=soon", "must be float"),
    ("extract.keep_math=3", "must be bool"),
    ("novalue", "key=value"),
])
def test_bad_config_is_a_clear_error(override, message):
    with pytest.raises(config.ConfigError, match=message):
        config.load(ExtractJobConfig, None, [override])


def test_dump_round_trips(tmp_path):
    cfg = config.load(ExtractJobConfig, None, ["extract.extractor=resiliparse"])
    path = tmp_path / "resolved.yaml"
    path.write_text(config.dump(cfg))
    assert config.load(ExtractJobConfig, path) == cfg


def test_shipped_default_config_matches_dataclass_defaults():
    from pathlib import Path

    shipped = Path(__file__).resolve().parent.parent / "spark_jobs" / "configs" / "extract.yaml"
    assert config.load(ExtractJobConfig, shipped) == ExtractJobConfig()


def test_nested_lists_and_optional():
    @dataclass(frozen=True)
    class Inner:
        names: tuple[str, ...] = ()
        limit: int | None = None

    @dataclass(frozen=True)
    class Outer:
        inner: Inner = field(default_factory=Inner)

    cfg = config.build(Outer, {"inner": {"names": ["a", "b"], "limit": None}})
    assert cfg.inner.names == ("a", "b") and cfg.inner.limit is None
    with pytest.raises(config.ConfigError):
        config.build(Outer, {"inner": {"limit": "x"}})


def test_mapping_values_are_type_checked():
    from curation import steps
    import curation.langid  # noqa: F401 - registers the step

    with pytest.raises(config.ConfigError):
        steps.create("fasttext_lid_v1", min_score_by_language={"en": "high"})
    assert steps.create("fasttext_lid_v1", min_score_by_language={"hi": 0.5}).min_score_by_language == {"hi": 0.5}

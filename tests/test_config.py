from dataclasses import dataclass, field

import pytest

from curation import config
from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import ExtractJobConfig


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
    import curation.filters.langid  # noqa: F401 - registers the step
    from curation.filters import steps

    with pytest.raises(config.ConfigError):
        steps.create("fasttext_lid_v1", min_score_by_language={"en": "high"})
    assert steps.create("fasttext_lid_v1", min_score_by_language={"hi": 0.5}).min_score_by_language == {"hi": 0.5}


# ------------------------------------------------------------------------------ hostile files


def _load_error(tmp_path, content: bytes | str, overrides=None) -> str:
    path = tmp_path / "bad.yaml"
    path.write_bytes(content.encode() if isinstance(content, str) else content)
    with pytest.raises(config.ConfigError) as e:
        config.load(ExtractJobConfig, path, overrides)
    message = str(e.value)
    assert "\n" not in message and "\r" not in message, message
    return message


@pytest.mark.parametrize("content, message", [
    ("extract:\n  extractor: resiliparse\n  keep_math: [true,\n", r"bad\.yaml:4: not valid YAML: .*"),
    ("extract: {a: 1\nkeep_dropped: true\n", r"bad\.yaml:2: not valid YAML"),
    ("extract:\n\textractor: x\n", r"bad\.yaml:2: not valid YAML: .*'\\t'"),
    ("keep_dropped: true\x00\n", r"bad\.yaml:1: not valid YAML: unacceptable character"),
    ("keep_dropped: !!python/object:os.system x\n", r"bad\.yaml:1: not valid YAML: could not determine a constructor"),
    ("keep_dropped: *nowhere\n", r"bad\.yaml:1: not valid YAML: .*undefined alias"),
    (b"keep_dropped: true\nextract: {extractor: \xff}\n", r"bad\.yaml:2: not UTF-8 text \(byte 0xff\)"),
    ("- extract\n- keep_dropped\n", r"top level must be a mapping of config keys, got a list"),
    ("just a string\n", r"top level must be a mapping of config keys, got a string"),
    ("keep_dropped: true\nkeep_dropped: false\n", r"bad\.yaml:2: .*key 'keep_dropped' is given twice \(first on line 1\)"),
    ("extract: {extractor: resiliparse, extractor: trafilatura}\n", r"bad\.yaml:1: .*'extractor' is given twice"),
    ("1: x\n", r"config keys must be names, got 1 in top level"),
    ("extract: {null: 1}\n", r"config keys must be names, got None in extract"),
    ("extract: {max_payload_bytes: 1.0e+400}\n", r"extract.max_payload_bytes must be int"),
    ("extract: {time_limit_s: 1" + "0" * 400 + "}\n", r"extract.time_limit_s is too large for a float"),
    ("extract: {time_limit_s: .nan}\n", r"extract.time_limit_s must be a number, got .nan"),
    ("\"bad\\nkey\\r\": 1\n", r"unknown config key\(s\) 'bad\\nkey\\r'"),
    ("a: " + "[" * 5000 + "]" * 5000 + "\n", r"bad\.yaml(:\d+)?: not valid YAML: nested too deeply"),
])
def test_hostile_config_files_are_one_line_errors(tmp_path, content, message):
    import re

    assert re.search(message, _load_error(tmp_path, content)), _load_error(tmp_path, content)


def test_missing_or_unreadable_config_files(tmp_path):
    with pytest.raises(config.ConfigError, match=r"^config file not found: .*nope\.yaml$"):
        config.load(ExtractJobConfig, tmp_path / "nope.yaml")
    with pytest.raises(config.ConfigError, match="is a folder, not a YAML file"):
        config.load(ExtractJobConfig, tmp_path)
    assert config.load(ExtractJobConfig, _write(tmp_path / "empty.yaml", "")) == ExtractJobConfig()
    assert config.load(ExtractJobConfig, _write(tmp_path / "bom.yaml", "\ufeffkeep_dropped: true\n")).keep_dropped


def _write(path, text):
    path.write_text(text, encoding="utf-8")
    return path


def test_merge_keys_may_still_be_overridden():
    assert config.safe_load("base: &b {x: 1, y: 2}\nother:\n  <<: *b\n  x: 3\n")["other"] == {"x": 3, "y": 2}


@pytest.mark.parametrize("override, message", [
    ("extract.extractor=[", r"--set extract.extractor: not a valid YAML value"),
    ("extract..extractor=x", r"--set expects key=value"),
    (".=x", r"--set expects key=value"),
    ("keep_dropped=true", None),
    ("extract=1", r"extract must be a mapping"),
    ("extract.extr\x1bactor=1", r"\\x1b"),
])
def test_hostile_overrides_are_one_line_errors(override, message):
    if message is None:
        assert config.load(ExtractJobConfig, None, [override]).keep_dropped
        return
    with pytest.raises(config.ConfigError, match=message) as e:
        config.load(ExtractJobConfig, None, [override])
    assert str(e.value).isprintable()


def test_required_fields_and_declared_ranges():
    @dataclass(frozen=True)
    class Item:
        name: str
        share: float = config.bounded(0.5, lo=0, hi=1, lo_open=True)

    @dataclass(frozen=True)
    class Cfg:
        items: tuple[Item, ...] = ()
        steps: int = config.bounded(10, lo=1)

    assert config.build(Cfg, {"items": [{"name": "a"}]}).items[0].share == 0.5
    with pytest.raises(config.ConfigError, match=r"^items\[0\]\.name: required, no default$"):
        config.build(Cfg, {"items": [{"share": 0.5}]})
    with pytest.raises(config.ConfigError, match=r"^items\[0\]\.share must be in \(0, 1\], got 0\.0$"):
        config.build(Cfg, {"items": [{"name": "a", "share": 0}]})
    with pytest.raises(config.ConfigError, match=r"^steps must be >= 1, got 0$"):
        config.build(Cfg, {"steps": 0})


def test_curate_annotate_reports_bad_yaml_in_one_line_before_spark(tmp_path):
    import subprocess
    import sys
    import time
    from pathlib import Path

    bad = _write(tmp_path / "bad.yaml", "steps:\n  - name: gopher_quality_v1\n    params: {a: 1\nfoo: [\n")
    started = time.monotonic()
    proc = subprocess.run([sys.executable, "-m", "curate.cli", "annotate", "x", "-o", str(tmp_path / "y"),
                           "--config", str(bad)], cwd=Path(__file__).resolve().parent.parent,
                          capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("curate annotate: error: ") and f"{bad}:4: not valid YAML" in lines[0], proc.stderr
    assert time.monotonic() - started < 30 and not (tmp_path / "y").exists()


# ------------------------------------------------------------------------------ ablation config


@pytest.fixture
def ablation_yaml(tmp_path):
    for name in ("a", "b"):
        _write(tmp_path / f"{name}.txt", f"some {name} text\n")
    return _write(tmp_path / "abl.yaml", f"sources:\n  - {{name: a, input: {tmp_path / 'a.txt'}}}\n"
                                         f"  - {{name: b, input: {tmp_path / 'b.txt'}}}\n")


@pytest.mark.parametrize("override, message", [
    ("train.steps=0", r"train\.steps must be in \[1, 1000000000\], got 0"),
    ("train.batch_size=0", r"train\.batch_size must be in \[1, 65536\], got 0"),
    ("train.lr=0", r"train\.lr must be in \(0, 10\], got 0"),
    ("train.lr=-1e-3", r"train\.lr must be in \(0, 10\], got -0\.001"),
    ("train.lr=.nan", r"train\.lr must be a number"),
    ("train.eval_batches=0", r"train\.eval_batches must be in \[1, "),
    ("train.checkpoint_every=-1", r"train\.checkpoint_every must be >= 0"),
    ("train.device=gpu", r"train\.device must be auto, cpu, cuda or cuda:N"),
    ("model.seq_len=0", r"model\.seq_len must be in \[1, 65536\]"),
    ("model.n_layer=0", r"model\.n_layer must be in \[1, "),
    ("model.n_head=0", r"model\.n_head must be in \[1, "),
    ("model.d_model=0", r"model\.d_model must be in \[1, "),
    ("model.n_head=3", r"model\.d_model \(128\) must be a multiple of model\.n_head \(3\)"),
    ("vocab_size=100", r"vocab_size must be in \[257, "),
    ("proxies=2", r"proxies must be in \[3, "),
    ("proxies=5", r"proxies \(5\) must exceed held_out \(4\) by at least 3"),
    ("held_out=-1", r"held_out must be in \[0, "),
    ("concentration=0", r"concentration must be in \(0, "),
    ("workers=-1", r"workers must be in \[0, "),
    ("seed=-1", r"seed must be in \[0, "),
    ("sources=[{name: a, input: x, max_tokens: 0}, {name: b, input: y}]", r"sources\[0\]\.max_tokens must be >= 1"),
    ("sources=[{name: a, input: x, max_epochs: 0}, {name: b, input: y}]", r"sources\[0\]\.max_epochs must be in \(0, "),
    ("sources=[{name: a, input: x, prior: -0.5}, {name: b, input: y}]", r"sources\[0\]\.prior must be in \[0, 1\]"),
    ("sources=[{name: a, input: x, share_cap: 0}, {name: b, input: y}]", r"sources\[0\]\.share_cap must be in \(0, 1\]"),
    ("sources=[{name: a}, {name: b, input: y}]", r"source 'a': input is required"),
])
def test_ablation_numbers_are_checked_at_load(ablation_yaml, override, message):
    from curation.ablations.runner import load_config

    with pytest.raises(config.ConfigError, match=message):
        load_config(str(ablation_yaml), [override])


def test_curate_ablate_steps_zero_is_one_line_exit_2(ablation_yaml, tmp_path, capsys):
    from curate import cli

    for override in ("train.steps=0", "train.batch_size=0"):
        assert cli.main(["ablate", "-c", str(ablation_yaml), "-o", str(tmp_path / "out"), "--set", override]) == 2
        err = capsys.readouterr().err.strip()
        assert err.count("\n") == 0 and "must be in [1, " in err, err
    assert not (tmp_path / "out").exists()


def test_float_fields_take_exponents_without_a_dot():
    """PyYAML (YAML 1.1) reads ``1e-3`` as a string; YAML 1.2 and every user read it as a number."""
    cfg = config.load(ExtractJobConfig, None, ["extract.time_limit_s=1e1"])
    assert cfg.extract.time_limit_s == 10.0
    with pytest.raises(config.ConfigError, match="must be float, got 'soon'"):
        config.load(ExtractJobConfig, None, ["extract.time_limit_s=soon"])

"""Fuzzing the config loader against the real job configs: random YAML texts and bytes, random
nested structures (shaped like each config or not), random ``--set`` overrides.

The property: loading gives a config object or a one-line :class:`~curation.config.ConfigError`,
never any other exception (a traceback is what a user would see). Bounded and deterministic by
default, so CI sees the same examples every run; ``CURATE_FUZZ_EXAMPLES=5000 CURATE_FUZZ_RANDOM=1``
explores further.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import types
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from curation import config  # noqa: E402
from curation.ablations import runner  # noqa: E402
from curation.decontam import DecontaminateJobConfig  # noqa: E402
from curation.dedup import DedupJobConfig  # noqa: E402
from curation.filters import steps  # noqa: E402
from curation.filters.annotate_task import AnnotateJobConfig, StepSpec, load_builtin_steps  # noqa: E402
from curation.ingest.extract_task import ExtractJobConfig  # noqa: E402
from curation.mixture.mix_config import MixJobConfig  # noqa: E402
from spark_jobs.annotate import AnnotateJob  # noqa: E402
from spark_jobs.decontaminate import DecontaminateJob  # noqa: E402
from spark_jobs.dedup import DedupJob  # noqa: E402
from spark_jobs.extract import ExtractJob  # noqa: E402
from spark_jobs.mix import MixJob  # noqa: E402

EXAMPLES = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("CURATE_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture,
                                       HealthCheck.data_too_large, HealthCheck.filter_too_much])

CONFIGS = (ExtractJobConfig, AnnotateJobConfig, DedupJobConfig, DecontaminateJobConfig, MixJobConfig,
           runner.AblationConfig)
#: Each job with the arguments its parser requires (the job's load_config adds its own checks).
JOBS = ((ExtractJob, ["in.warc", "-o", "out"]), (AnnotateJob, ["in", "-o", "out"]), (DedupJob, ["in", "-o", "out"]),
        (DecontaminateJob, ["-i", "in", "-o", "out"]), (MixJob, ["-o", "out"]))


def _hints(cls) -> dict[str, Any]:
    return typing.get_type_hints(cls)


def field_paths(cls, prefix: str = "") -> list[str]:
    """Every dotted key of a config dataclass (``extract.time_limit_s``), sections included."""
    out = []
    for name, tp in _hints(cls).items():
        if name not in {f.name for f in dataclasses.fields(cls)}:
            continue
        out.append(prefix + name)
        if dataclasses.is_dataclass(tp):
            out.extend(field_paths(tp, f"{prefix}{name}."))
    return out


NAMES = sorted({p.rsplit(".", 1)[-1] for cls in CONFIGS for p in field_paths(cls)}
               | {"name", "params", "steps", "fasttext_lid_v1", "gopher_quality_v1", "quality"})
WORDS = ("auto", "parquet", "jsonl", "resiliparse", "trafilatura", "cpu", "cuda", "train", "error", "warn", "",
         "true", "null", "~", "0", "-1", "1e9", ".nan", ".inf", "0x10", "2024-01-01", "yes", "on", "<<")

scalars = st.one_of(
    st.none(), st.booleans(),
    st.integers(), st.sampled_from([0, -1, 1, 2**63, -(2**63) - 1, 10**400]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.text(max_size=12), st.sampled_from(WORDS), st.sampled_from(NAMES),
    st.dates(), st.binary(max_size=6),
)
keys = st.one_of(st.sampled_from(NAMES), st.text(max_size=8), st.integers(-3, 3), st.booleans(), st.none())
anything = st.recursive(scalars, lambda inner: st.one_of(st.lists(inner, max_size=4),
                                                         st.dictionaries(keys, inner, max_size=4)), max_leaves=16)


load_builtin_steps()
STEPS = steps.registered()


def _step_spec(name: str) -> st.SearchStrategy:
    """A step entry whose params are shaped like that step's own dataclass (the annotate job builds it)."""
    factory = steps._REGISTRY[name]
    params = shaped(factory) if dataclasses.is_dataclass(factory) else st.dictionaries(keys, anything, max_size=3)
    return st.fixed_dictionaries({"name": st.just(name)}, optional={"params": params})


def shaped(tp: Any) -> st.SearchStrategy:
    """Values shaped like ``tp`` (so the fuzz reaches type coercion and range checks), mixed with junk."""
    origin, args = typing.get_origin(tp), typing.get_args(tp)
    if tp is StepSpec:
        typed = st.sampled_from(STEPS).flatmap(_step_spec)
    elif dataclasses.is_dataclass(tp):
        hints = _hints(tp)
        fields = {f.name: st.deferred(lambda t=hints[f.name]: shaped(t)) for f in dataclasses.fields(tp)}
        typed = st.fixed_dictionaries({}, optional=fields)
    elif origin in (typing.Union, types.UnionType):
        typed = st.one_of(*(shaped(a) for a in args))
    elif origin is typing.Literal:
        typed = st.sampled_from(args)
    elif origin in (tuple, list):
        typed = st.lists(shaped(args[0]) if args else anything, max_size=3)
    elif origin is dict or tp is dict:
        typed = st.dictionaries(st.text(max_size=6), shaped(args[1]) if len(args) == 2 else anything, max_size=3)
    elif tp is int:
        typed = st.one_of(st.integers(-5, 5), st.integers(), st.sampled_from([2**31, 2**63, 10**30]))
    elif tp is float:
        typed = st.one_of(st.floats(-2, 2), st.floats(), st.integers(-3, 10**20), st.just(10**400))
    elif tp is bool:
        typed = st.booleans()
    elif tp is str:
        typed = st.one_of(st.text(max_size=10), st.sampled_from(WORDS))
    elif tp is type(None):
        typed = st.none()
    else:
        typed = anything
    return st.one_of(typed, typed, typed, anything)  # mostly well-shaped


def _outcome(load: Callable[[], Any], cls) -> None:
    """The property: a ``cls`` instance, or a one-line ConfigError."""
    try:
        cfg = load()
    except config.ConfigError as exc:
        message = str(exc)
        assert message and "\n" not in message and "\r" not in message, repr(message)
        return
    assert isinstance(cfg, cls)


def _load(cls, path: Path | None, overrides: list[str] | None = None):
    if cls is runner.AblationConfig:
        return runner.load_config(str(path) if path else None, overrides)
    return config.load(cls, path, overrides)


# ------------------------------------------------------------------------------ YAML text and bytes


yaml_chars = st.sampled_from(list(":-[]{},&*!|>'\"%@`#?<=~. \t\n") + list("ab01_") + ["\u00e9", "\u2028", "\x85", "\x00"])
yaml_line = st.one_of(
    st.builds(lambda ind, k, v: f"{' ' * ind}{k}: {v}", st.integers(0, 6), st.sampled_from(NAMES),
              st.one_of(st.sampled_from(WORDS), st.text(yaml_chars, max_size=12))),
    st.builds(lambda ind, v: f"{' ' * ind}- {v}", st.integers(0, 6), st.text(yaml_chars, max_size=12)),
    st.text(yaml_chars, max_size=30),
)
yaml_texts = st.one_of(st.text(max_size=80), st.text(yaml_chars, max_size=120),
                       st.lists(yaml_line, max_size=10).map("\n".join))


@pytest.mark.slow  # ~1 s: hypothesis fuzz
@FUZZ
@given(cls=st.sampled_from(CONFIGS), text=yaml_texts)
def test_random_yaml_text(tmp_path_factory, cls, text):
    path = tmp_path_factory.mktemp("y") / "c.yaml"
    path.write_text(text, encoding="utf-8", errors="surrogatepass")
    _outcome(lambda: _load(cls, path), cls)


@FUZZ
@given(cls=st.sampled_from(CONFIGS), raw=st.binary(max_size=120))
def test_random_bytes(tmp_path_factory, cls, raw):
    path = tmp_path_factory.mktemp("b") / "c.yaml"
    path.write_bytes(raw)
    _outcome(lambda: _load(cls, path), cls)


# ------------------------------------------------------------------------------ nested structures


@pytest.mark.slow  # ~1.5 s: hypothesis fuzz
@FUZZ
@given(data=st.data(), cls=st.sampled_from(CONFIGS))
def test_random_structures_as_yaml_files(tmp_path_factory, data, cls):
    doc = data.draw(st.one_of(shaped(cls), anything))
    try:
        text = yaml.safe_dump(doc, allow_unicode=True)
    except yaml.YAMLError:  # not representable (e.g. an unhashable key): nothing to load
        return
    path = tmp_path_factory.mktemp("s") / "c.yaml"
    path.write_text(text, encoding="utf-8")
    _outcome(lambda: _load(cls, path), cls)


@pytest.mark.slow  # ~1.5 s: hypothesis fuzz
@FUZZ
@given(data=st.data(), cls=st.sampled_from(CONFIGS[:-1]))
def test_random_structures_built_directly(data, cls):
    doc = data.draw(shaped(cls))
    _outcome(lambda: config.build(cls, doc) if isinstance(doc, dict) else config.load(cls, None), cls)


# ------------------------------------------------------------------------------ --set overrides


def _override(paths: list[str]) -> st.SearchStrategy:
    key = st.one_of(st.sampled_from(paths), st.sampled_from(paths), st.text(max_size=10),
                    st.builds(lambda p, t: f"{p}.{t}", st.sampled_from(paths), st.text(max_size=4)))
    value = st.one_of(st.text(max_size=16), st.sampled_from(WORDS), st.text(yaml_chars, max_size=16),
                      scalars.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip().removesuffix("...").strip()),
                      anything.map(lambda v: yaml.safe_dump(v, default_flow_style=True, width=10**6).strip()))
    return st.one_of(st.builds(lambda k, v: f"{k}={v}", key, value), st.text(max_size=20))


@pytest.mark.slow  # ~1.5 s: hypothesis fuzz
@FUZZ
@given(data=st.data(), cls=st.sampled_from(CONFIGS))
def test_random_overrides(data, cls):
    overrides = data.draw(st.lists(_override(field_paths(cls)), max_size=4))
    _outcome(lambda: _load(cls, None, overrides), cls)


@pytest.mark.slow  # ~2 s: hypothesis fuzz
@FUZZ
@given(data=st.data(), job=st.sampled_from(JOBS))
def test_random_overrides_through_each_job(tmp_path_factory, data, job):
    """The jobs' own load_config (steps built, shares checked, ...) keeps the same contract."""
    job_cls, argv = job
    j = job_cls()
    overrides = data.draw(st.lists(_override(field_paths(j.config_cls)), max_size=3))
    doc = data.draw(st.one_of(st.none(), shaped(j.config_cls)))
    extra: list[str] = []
    if doc is not None:
        try:
            text = yaml.safe_dump(doc, allow_unicode=True)
        except yaml.YAMLError:
            text = ""
        path = tmp_path_factory.mktemp("j") / "c.yaml"
        path.write_text(text, encoding="utf-8")
        extra = ["--config", str(path)]
    args = j.build_parser(argparse.ArgumentParser()).parse_args(
        [*argv, *extra, *(f"--set={o}" for o in overrides)])
    _outcome(lambda: j.load_config(args), j.config_cls)

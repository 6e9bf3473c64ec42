"""The test tiers themselves (tests/conftest.py): automatic markers, the JVM guard, the shared-data switch.

One pytest subprocess runs a small generated test file under tests/conftest.py with JVMs off and
CURATE_REQUIRE_SHARED_DATA=1; no JVM is started (the guard trips before pyspark launches one, and a
``java`` run in a subprocess meets the guard's stand-in)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET
from types import SimpleNamespace

import pytest

from tests.conftest import ROOT, jvm_off, require_shared

INNER_CONFTEST = '''
import json, os
pytest_plugins = ["tests.conftest"]

def pytest_collection_finish(session):
    tiers = {i.name: sorted(m for m in ("spark", "e2e", "unit", "shared_data") if i.get_closest_marker(m))
             for i in session.items}
    with open(os.environ["TIERS_OUT"], "w") as fh:
        json.dump(tiers, fh)
'''

INNER_TESTS = '''
import subprocess
from pathlib import Path

import pytest

from tests.conftest import SHARED, require_shared


def _start_spark():
    from pyspark import SparkContext

    SparkContext._ensure_initialized()


def test_uses_the_spark_fixture(spark):
    pass


def test_uses_shared_data(shared_data):
    pass


def test_starts_spark_through_a_helper():
    _start_spark()  # the source scan marks it spark


def test_runs_the_demo():
    if False:  # never runs: the source scan alone marks it e2e (and spark)
        main(["demo", "--output", "x"])


def _hidden_start():
    """Starts Spark in a way the source scan cannot see (as a project function would)."""
    import importlib

    getattr(importlib.import_module("pyspark"), "Spark" + "Context")._ensure_initialized()


def test_unmarked_start():
    _hidden_start()


def test_swallowed_start():
    try:
        _hidden_start()
    except BaseException:
        pass


def test_java_in_a_subprocess():
    subprocess.run(["java", "-version"], capture_output=True)


def test_missing_shared_file():
    require_shared(Path("/nonexistent/shared/x.jsonl"), "the x labels")


def test_bare_skip_naming_shared_data():
    pytest.skip(f"labels not found at {SHARED}/nope")


def test_other_skip():
    pytest.skip("optional package missing")


def test_plain():
    pass
'''


@pytest.fixture(scope="module")
def inner(tmp_path_factory) -> tuple[dict, dict]:
    d = tmp_path_factory.mktemp("tiers")
    (d / "conftest.py").write_text(textwrap.dedent(INNER_CONFTEST))
    (d / "test_inner.py").write_text(INNER_TESTS)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
           "CURATE_NO_JVM": "1", "CURATE_REQUIRE_SHARED_DATA": "1", "CURATE_SHARED_DATA": str(d / "no-shared"),
           "TIERS_OUT": str(d / "tiers.json")}
    env.pop("PYTEST_ADDOPTS", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", str(d),
                           "--junitxml", str(d / "out.xml"), str(d / "test_inner.py")],
                          cwd=d, env=env, capture_output=True, text=True, timeout=120)
    assert (d / "out.xml").exists(), proc.stdout[-3000:] + proc.stderr[-3000:]
    outcomes = {}
    for case in ET.parse(d / "out.xml").getroot().iter("testcase"):
        kind = next((c.tag for c in case if c.tag in ("failure", "error", "skipped")), "passed")
        text = next((c.get("message", "") + (c.text or "") for c in case if c.tag != "system-out"), "")
        outcomes[case.get("name")] = (kind, text)
    return json.loads((d / "tiers.json").read_text()), outcomes


def test_tiers_are_applied_automatically(inner):
    tiers, _ = inner
    assert tiers["test_uses_the_spark_fixture"] == ["spark"]
    assert tiers["test_starts_spark_through_a_helper"] == ["spark"]
    assert tiers["test_runs_the_demo"] == ["e2e", "spark"]
    assert tiers["test_uses_shared_data"] == ["shared_data", "unit"]
    assert tiers["test_plain"] == ["unit"]


def test_the_jvm_guard_fails_unmarked_starts_loudly(inner):
    _, out = inner
    for name in ("test_unmarked_start", "test_swallowed_start"):
        kind, text = out[name]
        assert kind == "failure" and "started a Spark JVM but is not marked `spark`" in text, (name, out[name])
    kind, text = out["test_java_in_a_subprocess"]
    assert kind == "failure" and "ran java in a subprocess while JVMs are off" in text, text
    # A spark test selected by hand while JVMs are off fails too, at its fixture.
    kind, text = out["test_uses_the_spark_fixture"]
    assert kind == "error" and "JVMs are off" in text, text
    kind, text = out["test_starts_spark_through_a_helper"]
    assert kind == "failure" and "JVMs are off" in text, text
    assert out["test_plain"][0] == "passed"


def test_missing_shared_data_fails_under_the_ci_switch(inner):
    _, out = inner
    for name in ("test_uses_shared_data", "test_missing_shared_file", "test_bare_skip_naming_shared_data"):
        kind, text = out[name]
        assert kind in ("failure", "error") and "CURATE_REQUIRE_SHARED_DATA=1" in text, (name, out[name])
    assert out["test_other_skip"][0] == "skipped"  # other reasons stay skips


def test_in_a_full_run_the_guard_fails_only_unmarked_starts(monkeypatch):
    from tests import conftest

    class Item:
        nodeid = "test_x.py::test_y"

        def __init__(self, marked: bool):
            self.marked, self.stash = marked, pytest.Stash()

        def get_closest_marker(self, name):
            return object() if self.marked and name == "spark" else None

    monkeypatch.setattr(conftest._JvmGuard, "off", False)
    monkeypatch.setattr(conftest._JvmGuard, "item", Item(True))
    conftest._JvmGuard.check_launch()  # a spark test may start one
    monkeypatch.setattr(conftest._JvmGuard, "item", Item(False))
    with pytest.raises(pytest.fail.Exception, match="test_x.py::test_y started a Spark JVM but is not marked `spark`"):
        conftest._JvmGuard.check_launch()


def test_require_shared_skips_without_the_switch(tmp_path, monkeypatch):
    monkeypatch.delenv("CURATE_REQUIRE_SHARED_DATA", raising=False)
    assert require_shared(tmp_path, "here") == tmp_path
    with pytest.raises(pytest.skip.Exception, match="the x labels not found"):
        require_shared(tmp_path / "x", "the x labels")
    monkeypatch.setenv("CURATE_REQUIRE_SHARED_DATA", "1")
    with pytest.raises(pytest.fail.Exception, match="CURATE_REQUIRE_SHARED_DATA=1: the x labels not found"):
        require_shared(tmp_path / "x", "the x labels")


@pytest.mark.parametrize("expr,off", [("not slow and not spark", True), ("unit", True), ("not spark", True),
                                      ("", False), ("not slow", False), ("spark", False), ("spark or unit", False)])
def test_jvms_are_off_when_the_marker_expression_leaves_out_spark(expr, off, monkeypatch):
    monkeypatch.delenv("CURATE_NO_JVM", raising=False)
    config = SimpleNamespace(getoption=lambda name, default=None: expr)
    assert jvm_off(config) is off
    monkeypatch.setenv("CURATE_NO_JVM", "1")
    assert jvm_off(config) is True

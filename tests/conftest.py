"""Shared fixtures (the third-party data folder, one local Spark session) and the test tiers.

Tiers, applied automatically at collection (``pytest_collection_modifyitems``):

* ``spark``: the test starts a local Spark JVM. Marked when it uses the ``spark`` fixture, directly or
  through any fixture that asks for it, or when its source or a fixture's source starts Spark another way
  (``get_session(``, ``SparkSession``/``SparkContext``, ``spark-submit``, a whole pipeline run), following
  the plain functions of test modules that it calls; hand markers still count.
* ``e2e``: it runs a whole pipeline through the CLI (``curate demo`` / ``curate run``, ``run_pipeline``).
* ``unit``: neither. ``make test-fast`` runs ``-m "not slow and not spark"`` (target: under 90 s on 2 cores).
* ``slow`` stays a hand marker, with its reason; ``@slow_fixture(reason)`` under a costly fixture marks
  every test that uses it.

The JVM guard makes the ``spark`` marker a rule rather than a habit: a test that is not marked ``spark``
and starts a JVM in-process fails, naming the marker; when JVMs are off (``CURATE_NO_JVM=1``, or a ``-m``
expression that leaves out ``spark`` tests) a subprocess that runs ``java`` fails the test as well.

Shared data: tests skip when ../shared/data (or a file in it) is missing, through ``shared_data`` or
``require_shared``; with ``CURATE_REQUIRE_SHARED_DATA=1`` (CI) those skips are failures instead.
"""

from __future__ import annotations

import functools
import inspect
import os
import re
import shutil
import stat
import sys
import tempfile
from pathlib import Path
from typing import NoReturn

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Spark workers must use this interpreter; everything stays on loopback and offline.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

TIER_MARKERS = (
    "spark: starts a local Spark session (JVM); applied automatically (see tests/conftest.py)",
    "e2e: runs a whole pipeline through the CLI (curate demo / curate run); applied automatically",
    "unit: neither spark nor e2e: no JVM; applied automatically",
)


# --------------------------------------------------------------------------- shared data


def shared_data_required() -> bool:
    return os.environ.get("CURATE_REQUIRE_SHARED_DATA") == "1"


def shared_data_missing(what: str) -> NoReturn:
    """The one rule for missing third-party data: skip, or fail under CURATE_REQUIRE_SHARED_DATA=1."""
    reason = f"{what} (set CURATE_SHARED_DATA or check out ../shared)"
    if shared_data_required():
        pytest.fail(f"CURATE_REQUIRE_SHARED_DATA=1: {reason}", pytrace=False)
    pytest.skip(reason)


def require_shared(path: Path, what: str) -> Path:
    """``path`` (a file or folder under ../shared/data), or a skip/failure saying ``what`` is missing."""
    if not path.exists():
        shared_data_missing(f"{what} not found at {path}")
    return path


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "MANIFEST.md").exists():
        shared_data_missing(f"third-party test data not found at {SHARED}")
    return SHARED


@pytest.fixture(scope="session")
def warc_dir(shared_data: Path) -> Path:
    return shared_data / "warc"


@pytest.fixture(scope="session")
def spark():
    from spark_jobs.job import get_session

    session = get_session("curate-tests", "local[2]", {"spark.sql.shuffle.partitions": "4"})
    yield session
    session.stop()


# --------------------------------------------------------------------------- tiers

#: Fixtures that start a JVM; every test whose fixture closure holds one is a ``spark`` test.
SPARK_FIXTURES = frozenset({"spark"})
#: Source text that starts Spark without the fixture (in a test or in one of its fixtures).
_SPARK_SOURCE = re.compile(r"get_session\(|SparkSession|SparkContext|spark-submit|\bjob\.session\(")
#: Source text that runs a whole pipeline (which starts Spark too).
_E2E_SOURCE = re.compile(r"""main\(\[\s*["'](demo|run)["']|curate\(\s*["'](demo|run)["']|run_pipeline""")
_TESTS = Path(__file__).resolve().parent


@functools.cache
def _source(func) -> str:
    """Source of a function in test code (tests/, test_*.py, conftest.py); '' for everything else."""
    func = inspect.unwrap(func)
    try:
        path = Path(inspect.getsourcefile(func) or "").resolve()
        if not (path.is_relative_to(_TESTS) or path.name.startswith("test_") or path.name == "conftest.py"):
            return ""
        return inspect.getsource(func)
    except (OSError, TypeError):
        return ""


def _global_names(code) -> set[str]:
    names = set(code.co_names)
    for const in code.co_consts:
        if inspect.iscode(const):  # nested functions, lambdas, comprehensions
            names |= _global_names(const)
    return names


@functools.cache
def _sources_reached(func) -> tuple[str, ...]:
    """Source of ``func`` and of the plain functions under tests/ it calls, followed through module globals."""
    seen, todo, out = set(), [inspect.unwrap(func)], []
    while todo:
        f = todo.pop()
        if f in seen or not _source(f):
            continue
        seen.add(f)
        out.append(_source(f))
        for name in _global_names(f.__code__):
            g = f.__globals__.get(name)
            if inspect.isfunction(g):
                todo.append(g)
    return tuple(out)


def _closure_sources(item) -> list[str]:
    funcs = [getattr(item, "function", None)]
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        funcs.extend(d.func for d in defs)
    return [s for f in funcs if f is not None for s in _sources_reached(f)]


def slow_fixture(reason: str):
    """Mark every test that uses the decorated fixture (directly or through other fixtures) ``slow``:
    a costly module-scoped fixture would otherwise move its cost onto whichever of its tests runs first.
    Put it under ``@pytest.fixture`` (pytest refuses marks on fixtures)::

        @pytest.fixture(scope="module")
        @slow_fixture("trains fastText on the default recipe: ~5 s")
        def model(...): ...
    """

    def mark(func):
        func.curate_slow_reason = reason
        return func

    return mark


def _slow_fixture_reason(item) -> str | None:
    info = getattr(item, "_fixtureinfo", None)
    for defs in (info.name2fixturedefs.values() if info else ()):
        for d in defs:
            reason = getattr(d.func, "curate_slow_reason", None)
            if reason:
                return f"fixture {d.argname}: {reason}"
    return None


def tiers_of(item) -> set[str]:
    """The automatic tier markers of one collected test."""
    sources = _closure_sources(item)
    e2e = any(_E2E_SOURCE.search(s) for s in sources)
    spark = (e2e or bool(SPARK_FIXTURES & set(getattr(item, "fixturenames", ())))
             or any(_SPARK_SOURCE.search(s) for s in sources))
    return {name for name, on in (("spark", spark), ("e2e", e2e)) if on}


def pytest_configure(config):
    for line in TIER_MARKERS:
        config.addinivalue_line("markers", line)
    _JvmGuard.install(config)


def pytest_collection_modifyitems(config, items):
    for item in items:
        tiers = tiers_of(item)
        for name in sorted(tiers):
            if item.get_closest_marker(name) is None:
                item.add_marker(name)
        if item.get_closest_marker("spark") is None and item.get_closest_marker("e2e") is None:
            item.add_marker("unit")
        if "shared_data" in getattr(item, "fixturenames", ()) and item.get_closest_marker("shared_data") is None:
            item.add_marker("shared_data")
        if item.get_closest_marker("slow") is None and (reason := _slow_fixture_reason(item)):
            item.add_marker(pytest.mark.slow(reason=reason))
    # ``@pytest.mark.expensive`` tests (full model rebuilds, the leave-one-source-out goal on a cold
    # embedding cache) would add tens of minutes to every CI run on 2 cores: they run on request.
    if os.environ.get("CURATE_EXPENSIVE_TESTS") != "1":
        skip = pytest.mark.skip(reason="expensive (tens of minutes of MiniLM embedding on CPU): set CURATE_EXPENSIVE_TESTS=1")
        for item in items:
            if "expensive" in item.keywords:
                item.add_marker(skip)


# --------------------------------------------------------------------------- the JVM guard


def jvm_off(config) -> bool:
    """JVMs are off with CURATE_NO_JVM=1 or when the -m expression leaves out a test marked only ``spark``."""
    if os.environ.get("CURATE_NO_JVM") == "1":
        return True
    expr = config.getoption("markexpr", "")
    if not expr:
        return False
    from _pytest.mark.expression import Expression

    try:
        return not Expression.compile(expr).evaluate(lambda name, **kwargs: name == "spark" and not kwargs)
    except Exception:  # an expression pytest itself will reject
        return False


_STASH_VIOLATION = pytest.StashKey[str]()
_FAKE_JAVA = """#!/bin/sh
echo "curate tests: a subprocess ran java ($0 $*) while JVMs are off (CURATE_NO_JVM=1 or -m without spark tests): \
the test that started it needs the spark marker" >&2
echo "$*" >> "$CURATE_JVM_TRIPWIRE"
exit 1
"""


def _violation(nodeid: str, how: str) -> str:
    return (f"{nodeid} {how} but is not marked `spark`: add @pytest.mark.spark (or use the `spark` fixture) "
            f"so that `make test-fast` (-m 'not slow and not spark', no JVM) leaves it out")


class _JvmGuard:
    """Patches pyspark's gateway launch (in-process) and, when JVMs are off, ``java`` (subprocesses)."""

    item = None  # the test running now
    off = False
    tripwire: Path | None = None
    tripped_at = 0

    @classmethod
    def install(cls, config) -> None:
        cls.off = jvm_off(config)
        try:
            import pyspark.core.context as core_context
            import pyspark.java_gateway as java_gateway
        except ImportError:  # pyspark absent: nothing can start a JVM in-process
            pass
        else:
            real = java_gateway.launch_gateway
            if not getattr(real, "_curate_guard", False):
                def launch_gateway(*args, **kwargs):
                    cls.check_launch()
                    return real(*args, **kwargs)

                launch_gateway._curate_guard = True
                java_gateway.launch_gateway = core_context.launch_gateway = launch_gateway
        if cls.off and cls.tripwire is None:
            fake = Path(tempfile.mkdtemp(prefix="curate-no-jvm-"))
            (fake / "bin").mkdir()
            java = fake / "bin" / "java"
            java.write_text(_FAKE_JAVA)
            java.chmod(java.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
            cls.tripwire = fake / "tripwire"
            cls.tripwire.touch()
            os.environ["CURATE_JVM_TRIPWIRE"] = str(cls.tripwire)
            os.environ["JAVA_HOME"] = str(fake)
            os.environ["PATH"] = f"{fake / 'bin'}{os.pathsep}{os.environ.get('PATH', '')}"
            config.add_cleanup(lambda: shutil.rmtree(fake, ignore_errors=True))

    @classmethod
    def check_launch(cls) -> None:
        item = cls.item
        if item is None:
            if cls.off:
                pytest.fail("a Spark JVM was started outside any test while JVMs are off", pytrace=False)
            return
        if item.get_closest_marker("spark") is not None and not cls.off:
            return
        msg = _violation(item.nodeid, "started a Spark JVM")
        if item.get_closest_marker("spark") is not None:  # selected by hand despite -m / CURATE_NO_JVM
            msg = f"{item.nodeid} is a `spark` test but JVMs are off (CURATE_NO_JVM=1 or -m without spark tests)"
        item.stash[_STASH_VIOLATION] = msg
        pytest.fail(msg, pytrace=False)

    @classmethod
    def subprocess_tripped(cls) -> bool:
        if cls.tripwire is None:
            return False
        size = cls.tripwire.stat().st_size
        tripped, cls.tripped_at = size > cls.tripped_at, size
        return tripped


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item, nextitem):
    _JvmGuard.item = item
    try:
        return (yield)
    finally:
        _JvmGuard.item = None


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    report = yield
    if _JvmGuard.subprocess_tripped():
        item.stash[_STASH_VIOLATION] = _violation(item.nodeid, "ran java in a subprocess while JVMs are off")
    msg = item.stash.get(_STASH_VIOLATION, None)
    if msg is not None and not report.failed:
        # The guard's exception was swallowed by the code under test: fail the test anyway.
        report.outcome, report.longrepr = "failed", msg
        del item.stash[_STASH_VIOLATION]
    elif msg is not None:
        del item.stash[_STASH_VIOLATION]
    # Backstop for the shared-data rule: a skip that names ../shared/data fails under CURATE_REQUIRE_SHARED_DATA=1,
    # even when it was written as a bare pytest.skip rather than through shared_data_missing().
    if report.skipped and shared_data_required() and isinstance(report.longrepr, tuple):
        reason = str(report.longrepr[2])
        if str(SHARED) in reason or "../shared" in reason:
            report.outcome = "failed"
            report.longrepr = f"CURATE_REQUIRE_SHARED_DATA=1: skipped for missing shared data: {reason}"
    return report


@pytest.fixture
def tag_stage():
    """The one edit that adds a stage: register tests/test_stages.py's ``tag`` stage (before mix, so it
    reads and writes documents); the registry is restored after the test."""
    from curation import stages
    from tests.test_stages import TAG

    saved = dict(stages.REGISTRY)
    stages.register(TAG, before="mix")
    yield TAG
    stages.REGISTRY.clear()
    stages.REGISTRY.update(saved)

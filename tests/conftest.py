"""Shared fixtures: the third-party data folder (skip when absent) and one local Spark session."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
SHARED = Path(os.environ.get("CURATE_SHARED_DATA", ROOT.parent / "shared" / "data"))

# Spark workers must use this interpreter; everything stays on loopback and offline.
os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


@pytest.fixture(scope="session")
def shared_data() -> Path:
    if not (SHARED / "MANIFEST.md").exists():
        pytest.skip(f"third-party test data not found at {SHARED} (set CURATE_SHARED_DATA or check out ../shared)")
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


def pytest_collection_modifyitems(config, items):
    """``@pytest.mark.expensive`` tests (full model rebuilds, the leave-one-source-out goal on a cold
    embedding cache) would add tens of minutes to every CI run on 2 cores: they run on request."""
    if os.environ.get("CURATE_EXPENSIVE_TESTS") == "1":
        return
    skip = pytest.mark.skip(reason="expensive (tens of minutes of MiniLM embedding on CPU): set CURATE_EXPENSIVE_TESTS=1")
    for item in items:
        if "expensive" in item.keywords:
            item.add_marker(skip)

"""Extensions from other packages, found through Python entry points (no edit to Curate).

A package adds annotate steps, stages, model kinds or ingest sources by declaring entry points in its own
``pyproject.toml``; Curate loads each group once, lazily, the first time its registry is consulted::

    [project.entry-points."curate.steps"]          # name = the versioned step name
    my_filter_v1 = "my_package.filters:MyFilter"
    [project.entry-points."curate.stages"]         # a curation.stages.Stage, or a function that registers one
    my_stage = "my_package.stage:STAGE"
    [project.entry-points."curate.model_kinds"]    # name = meta.json's kind; an object with check() and load()
    my_kind = "my_package.model:KIND"
    [project.entry-points."curate.sources"]        # name = the `curate ingest` kind; a curation.ingest.sources.IngestSource
    my_source = "my_package.source:SOURCE"

Curate's own classifier steps and ingest sources register the same way (its pyproject.toml), so the core never names
``classifiers``. A plugin that fails to import is an error naming the entry point and the exception,
never a silent skip: a config that names its step would otherwise fail later with "unknown step".
"""

from __future__ import annotations

import importlib.metadata
import threading
from collections.abc import Callable
from typing import Any

from curation.errors import CurateError

STEPS = "curate.steps"
STAGES = "curate.stages"
MODEL_KINDS = "curate.model_kinds"
SOURCES = "curate.sources"

_LOADED: set[str] = set()
_LOCK = threading.RLock()


class PluginError(CurateError):
    """An entry point that could not be loaded or registered: one line, exit code 2."""


def load_group(group: str, handle: Callable[[importlib.metadata.EntryPoint, Any], None]) -> None:
    """Load every entry point of ``group`` once per process and pass each (entry point, object) to
    ``handle``; a failure raises :class:`PluginError` naming the entry point and the exception."""
    with _LOCK:
        if group in _LOADED:
            return
        _LOADED.add(group)  # before loading: a plugin that consults its own registry must not recurse
        try:
            for ep in sorted(importlib.metadata.entry_points(group=group), key=lambda e: e.name):
                try:
                    handle(ep, ep.load())
                except Exception as exc:
                    raise PluginError(f"plugin {group}:{ep.name} = {ep.value!r} failed: "
                                      f"{type(exc).__name__}: {exc}".splitlines()[0]) from exc
        except BaseException:
            _LOADED.discard(group)  # the next consult reports it again rather than running half-loaded
            raise


def reset(group: str | None = None) -> None:
    """Forget that ``group`` (or every group) was loaded, so the next consult loads it again (tests
    that install a plugin mid-process)."""
    with _LOCK:
        if group is None:
            _LOADED.clear()
        else:
            _LOADED.discard(group)

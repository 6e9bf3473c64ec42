"""The per-document step contract and the registry of versioned step names.

A step is a small callable over one :class:`~curation.schema.Document`: it records scores in
``doc.scores`` and returns ``None`` to keep the document or a short reason (``"too_few_words"``)
to drop it. :func:`apply` turns that reason into ``drop_reason = "<step name>.<reason>"``, so
drop reasons always say which versioned step made the decision (``gopher_quality_v1.too_few_words``).

Steps are looked up by registry key (``name_vN``): a change of behaviour gets a new version, so
old outputs stay explainable. :func:`register` gives the step its name (``step.name``), so the key is
spelt once. Steps must be defined in importable modules (not ``__main__``) so Spark executors can
unpickle them; heavy models load lazily on first call, once per worker.

Another package adds a step with no edit here: an entry point in the ``curate.steps`` group
(:mod:`curation.plugins`) whose name is the step's key and whose value is its class or factory, loaded
the first time the registry is consulted (README "Adding a filter (a plugin step)").
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, ClassVar, Protocol, runtime_checkable

from curation import plugins
from curation.schema import ERROR_PREFIX, Document

log = logging.getLogger(__name__)


@runtime_checkable
class Step(Protocol):
    """One document in, ``None`` (keep) or a short drop reason out; scores go to ``doc.scores``."""

    #: The registry key (``gopher_quality_v1``), set by :func:`register`.
    name: ClassVar[str]
    #: True when the step may rewrite ``doc.text`` (masking PII, removing lines), not only score or
    #: drop it: a later step, a dedup key or a token count then sees the new text.
    changes_text: ClassVar[bool]

    def __call__(self, doc: Document) -> str | None: ...


@runtime_checkable
class BatchStep(Step, Protocol):
    """A step that also takes a whole Arrow batch's kept documents at once (a model: one forward pass
    per batch); :func:`apply_batch` calls ``batch`` and falls back to ``__call__`` one by one."""

    def batch(self, docs: list[Document]) -> list[str | None]:
        """One drop reason (or None) per document, in order."""
        ...


_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/function decorator: make a step factory available under a versioned name, and give
    it that name (``factory.name``; a class that spells a different one is an error). A step that
    does not say whether it ``changes_text`` is taken not to."""
    if not _looks_versioned(name):
        raise ValueError(f"step names carry a version suffix like 'name_v1', got {name!r}")

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"step {name!r} is already registered")
        declared = vars(factory).get("name", name) if isinstance(factory, type) else name
        if declared != name:
            raise ValueError(f"step {name!r}: {factory.__qualname__}.name says {declared!r}")
        changes = getattr(factory, "changes_text", False)
        if not isinstance(changes, bool):
            raise ValueError(f"step {name!r}: changes_text must be a bool, got {changes!r}")
        factory.name = name  # type: ignore[attr-defined]
        factory.changes_text = changes  # type: ignore[attr-defined]
        _REGISTRY[name] = factory
        return factory

    return deco


def _register_plugin(ep: Any, factory: Any) -> None:
    if not callable(factory):
        raise TypeError(f"{ep.value} is not a step class or factory")
    register(ep.name)(factory)


def load_plugins() -> None:
    """Register the steps other packages declare (entry-point group ``curate.steps``), once."""
    plugins.load_group(plugins.STEPS, _register_plugin)


def _looks_versioned(name: str) -> bool:
    base, sep, version = name.rpartition("_v")
    return bool(base and sep and version.isdigit())


def create(name: str, **params: Any) -> Any:
    """Instantiate a registered step; dataclass steps get their params type-checked like config."""
    load_plugins()
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown step {name!r}; registered: {', '.join(sorted(_REGISTRY))} "
                       f"(a plugin's steps need its package installed: entry points {plugins.STEPS!r})") from None
    if dataclasses.is_dataclass(factory):
        from curation.config import build

        step = build(factory, params, where=f"{name}.")
    else:
        step = factory(**params)
    if getattr(step, "name", None) != name:  # a function factory: its product learns the name too
        step.name = name
    if not hasattr(step, "changes_text"):
        step.changes_text = factory.changes_text
    return step


def registered() -> list[str]:
    load_plugins()
    return sorted(_REGISTRY)


def apply(docs: Iterable[Document], steps: list[Step]) -> Iterator[Document]:
    """Run ``steps`` in order over each kept document; stop at the first drop.

    A step that raises does not stop the job: the document is marked ``error.<step>`` with the
    exception text, and the next document goes on.
    """
    for doc in docs:
        if doc.drop_reason is None:
            for step in steps:
                if _run_one(step, doc):
                    break
        yield doc


def apply_batch(docs: list[Document], steps: list[Step]) -> list[Document]:
    """Like :func:`apply`, step by step over a whole batch (same results, same first-drop rule).

    Steps with a ``batch(docs) -> reasons`` method (model scorers) get every still-kept document of
    the batch in one call, so a model runs one forward pass per Arrow batch. If that call raises,
    the documents are retried one by one so only the bad one is marked as an error.
    """
    for step in steps:
        alive = [d for d in docs if d.drop_reason is None]
        if not alive:
            break
        batch = getattr(step, "batch", None)
        if batch is None:
            for doc in alive:
                _run_one(step, doc)
            continue
        try:
            reasons = batch(alive)
        except Exception:  # isolate the failing document
            log.debug("batch of %s failed; retrying documents one by one", step.name, exc_info=True)
            for doc in alive:
                _run_one(step, doc)
            continue
        for doc, reason in zip(alive, reasons):
            if reason:
                doc.drop_reason = f"{step.name}.{reason}"
    return docs


def _run_one(step: Step, doc: Document) -> bool:
    """Apply one step to one document; True when the document is now dropped."""
    try:
        reason = step(doc)
    except Exception as exc:  # a bad document must not kill the job
        doc.drop_reason = f"{ERROR_PREFIX}{step.name}"
        doc.error = f"{type(exc).__name__}: {exc}"[:500]
        log.debug("step %s failed on %s", step.name, doc.id, exc_info=True)
        return True
    if reason:
        doc.drop_reason = f"{step.name}.{reason}"
        return True
    return False

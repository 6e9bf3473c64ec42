"""The per-document step contract and the registry of versioned step names.

A step is a small callable over one :class:`~curation.schema.Document`: it records scores in
``doc.scores`` and returns ``None`` to keep the document or a short reason (``"too_few_words"``)
to drop it. :func:`apply` turns that reason into ``drop_reason = "<step name>.<reason>"``, so
drop reasons always say which versioned step made the decision (``gopher_quality_v1.too_few_words``).

Steps are looked up by registry key (``name_vN``): a change of behaviour gets a new version, so
old outputs stay explainable. Steps must be defined in importable modules (not ``__main__``) so
Spark executors can unpickle them; heavy models load lazily on first call, once per worker.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Iterable, Iterator
from typing import Any, Protocol, runtime_checkable

from curation.schema import ERROR_PREFIX, Document

log = logging.getLogger(__name__)


@runtime_checkable
class Step(Protocol):
    name: str

    def __call__(self, doc: Document) -> str | None: ...


_REGISTRY: dict[str, Callable[..., Any]] = {}


def register(name: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Class/function decorator: make a step factory available under a versioned name."""
    if not _looks_versioned(name):
        raise ValueError(f"step names carry a version suffix like 'name_v1', got {name!r}")

    def deco(factory: Callable[..., Any]) -> Callable[..., Any]:
        if name in _REGISTRY and _REGISTRY[name] is not factory:
            raise ValueError(f"step {name!r} is already registered")
        _REGISTRY[name] = factory
        return factory

    return deco


def _looks_versioned(name: str) -> bool:
    base, sep, version = name.rpartition("_v")
    return bool(base and sep and version.isdigit())


def create(name: str, **params: Any) -> Any:
    """Instantiate a registered step; dataclass steps get their params type-checked like config."""
    try:
        factory = _REGISTRY[name]
    except KeyError:
        raise KeyError(f"unknown step {name!r}; registered: {', '.join(sorted(_REGISTRY))}") from None
    if dataclasses.is_dataclass(factory):
        from curation.config import build

        return build(factory, params, where=f"{name}.")
    return factory(**params)


def registered() -> list[str]:
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

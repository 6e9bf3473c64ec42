"""What each stage's config points at, checked before a run (``curate run --check``, and ``curate run``
before its first stage), and the columns each stage adds to the documents it passes on.

Both are keyed by the stage's config class (``functools.singledispatch``), not by stage names: the
stage registry (curation.stages) stays the one list of stages, and another package's stage adds its
own checks with ``checks.register(ItsConfig)`` / ``added_columns.register(ItsConfig)``. A stage with
none registered has only its job's ``load_config`` checks, and the columns after it are not known
exactly (a ``where`` naming an unknown column is then a warning, not a failure).

A check is ``(row name, function)``; the function returns its detail line or raises
(:class:`curation.plan_check.Report` turns that into a row).
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from curation import config as configlib
from curation import fsutil, plan_check

CheckList = list[tuple[str, Callable[[], str | None]]]


@dataclass(frozen=True)
class Columns:
    """The columns a stage will read as (name, DuckDB type), as far as they can be known before the
    run; ``exact`` False when a stage of unknown output sits upstream or the input could not be read."""

    columns: list[tuple[str, str]] | None
    exact: bool = True


@dataclass(frozen=True)
class Context:
    stage: str
    #: The columns of what the stage reads (the previous stage's output).
    columns: Columns
    #: Whether a path lies outside the run directory (its data exists now and can be read now).
    outside: Callable[[str], bool]


@functools.singledispatch
def checks(cfg: Any, ctx: Context) -> CheckList:
    """The checks of one stage's loaded config (none for a config class with none registered)."""
    return []


@functools.singledispatch
def added_columns(cfg: Any) -> list | None:
    """pyarrow fields a stage adds to the documents it reads; None: not known."""
    return None


def columns_after(cfg: Any, before: Columns) -> Columns:
    """The columns of a stage's output, from what it reads and what it adds."""
    from curation.mixture import check as mixcheck

    _register()
    added = None if cfg is None or before.columns is None else added_columns(cfg)
    if added is None:
        return Columns(before.columns, exact=False)
    names = {n for n, _ in before.columns}
    new = [c for c in mixcheck.arrow_columns(_schema(added)) if c[0] not in names]
    return Columns([*before.columns, *new], before.exact)


def _schema(fields: list) -> Any:
    import pyarrow as pa

    return pa.schema(fields)


@functools.cache
def _register() -> None:
    """Curate's own stages' checks, registered on first use (their config modules import step code)."""
    import pyarrow as pa

    from curation import decontam, dedup
    from curation.filters.annotate_task import AnnotateJobConfig
    from curation.ingest.extract_task import ExtractJobConfig
    from curation.mixture.mix_config import MixJobConfig

    added_columns.register(ExtractJobConfig, lambda cfg: [])
    added_columns.register(AnnotateJobConfig, lambda cfg: [pa.field(n, pa.float64()) for n in cfg.promote])
    added_columns.register(dedup.DedupJobConfig, lambda cfg: [pa.field("dup_cluster", pa.int64())])
    added_columns.register(decontam.DecontaminateJobConfig, lambda cfg: decontam.output_fields())
    added_columns.register(MixJobConfig, lambda cfg: [])
    checks.register(AnnotateJobConfig, _annotate_checks)
    checks.register(decontam.DecontaminateJobConfig, _decontaminate_checks)
    checks.register(MixJobConfig, _mix_checks)


def for_stage(cfg: Any, ctx: Context) -> CheckList:
    """The checks of one stage (by its config class), Curate's own registered first."""
    _register()
    return checks(cfg, ctx)


# ------------------------------------------------------------------------------------- Curate's stages
def _annotate_checks(cfg: Any, ctx: Context) -> CheckList:
    """Every model an annotate step names (a shipped name or a directory) resolves."""
    def models() -> str:
        from classifiers import loading

        named = []
        for spec in cfg.steps:
            for key in ("model", "model_dir"):
                value = spec.params.get(key)
                if isinstance(value, str) and value:
                    try:
                        loading.resolve(value)
                    except FileNotFoundError as exc:
                        raise FileNotFoundError(f"step {spec.name} {key}: {exc}") from exc
                    named.append(Path(value).name)
        return ", ".join(dict.fromkeys(named)) or "no step names a model"

    return [(f"{ctx.stage} models", models)]


def _decontaminate_checks(cfg: Any, ctx: Context) -> CheckList:
    found: CheckList = [(f"{ctx.stage} benchmarks", lambda: plan_check.benchmark_files(cfg.benchmarks))]
    if cfg.decontam.allowlist:
        found.append((f"{ctx.stage} allowlist", lambda: plan_check.local_path_exists(cfg.decontam.allowlist, "allowlist")))
    return found


def _mix_checks(cfg: Any, ctx: Context) -> CheckList:
    """The tokenizer loads, the budget is a plan the planner accepts, and each source's ``where``
    binds over the columns its input will have; a source reading data that exists now (outside the
    run directory) is counted now."""
    from curation.mixture import check as mixcheck
    from curation.mixture.mix_config import resolve_sources

    found: CheckList = [(f"{ctx.stage} tokenizer", lambda: plan_check.tokenizer(cfg.tokenizer))]
    try:
        sources = resolve_sources(cfg)
    except configlib.ConfigError as exc:
        return [*found, (f"{ctx.stage} sources", functools.partial(_raise, exc))]

    def budget() -> str:
        mixcheck.check_budget(sources, [s.share for s in sources], cfg.total_tokens, cfg.on_cap)
        return (f"{cfg.total_tokens:,} tokens over {len(sources)} source(s), shares sum to 100% "
                "(epoch caps are checked once tokens are counted)")

    def where(s: Any, columns: Columns) -> None:
        try:
            mixcheck.where_problem(s.where, columns.columns)
        except mixcheck.WhereError as exc:
            if exc.kind == "function" or (exc.kind == "column" and not columns.exact):
                raise plan_check.CheckWarning(f"where {s.where!r} {exc} (checked again when its input is written)") from exc
            raise ValueError(f"where {s.where!r} {exc}") from exc

    def source(s: Any) -> str:
        if fsutil.is_uri(s.input):
            return f"{s.input} is remote: its where is checked by the mix job"
        if ctx.outside(s.input):  # data that exists now: its own columns, and its rows counted now
            plan_check.local_path_exists(s.input, f"input of source {s.name!r}")
            columns = mixcheck.read_columns(s.input)
            if columns is None:
                raise FileNotFoundError(f"input {s.input!r} holds no Parquet or JSONL documents")
            where(s, Columns(columns))
            counted = mixcheck.count_sources(s.input, [s])
            empty = mixcheck.empty_sources(counted, s.input)
            if empty:
                raise ValueError(empty[0])
            return f"{counted.sources[0].with_text:,} rows with text in {s.input}"
        if ctx.columns.columns is None:
            return "where not checked (the columns of its input are not known before the run)"
        # The chain's input has the columns predicted for it; another stage folder of this run, roughly those.
        where(s, ctx.columns if s.input == cfg.input else Columns(ctx.columns.columns, exact=False))
        return (f"where binds over the columns of the {os.path.basename(s.input.rstrip('/'))} output; "
                "its rows are counted as soon as that is written")

    found.append((f"{ctx.stage} budget", budget))
    found += [(f"{ctx.stage} source {s.name}", functools.partial(source, s)) for s in sources]
    return found


def _raise(exc: BaseException) -> str:
    raise exc

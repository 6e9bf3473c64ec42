"""The stages of a run, declared once: the pipeline, the CLI, the funnel and the dashboard iterate this.

A :class:`Stage` names everything the rest of Curate needs to know about one step of ``curate run``:
its output folder, the files that mark it complete, how its accounting is read and checked, how its
job takes its input, which drop-reason prefixes it decides (the funnel's row order), which config
keys name input files (what a run's reader may open) and its CLI help. Its Spark adapter and config
dataclass are named as ``module:attribute`` strings, loaded when asked for: the adapter only by the
composition root (the core imports no Spark); the config class lives in the core beside the stage's
per-batch functions, but naming it lazily keeps the modules that only read the registry (the funnel,
``curation.query``) from importing every stage's code (the ``core-concerns`` import contract).

Adding a stage is one core module (its pure per-batch functions), one thin Spark adapter (a
``spark_jobs.job.SparkJob``) and one :func:`register` call here; ``tests/test_stages.py`` registers
a stage that exists only in the test and shows the pipeline's config, completion and accounting
checks, the funnel's order and the dashboard's document views pick it up with no other edit.
Another package adds one with no edit here: an entry point in the ``curate.stages`` group
(:mod:`curation.plugins`) naming a :class:`Stage` (appended: it reads the last stage's output) or a
function that calls :func:`register` itself (to place it with ``before=``), loaded the first time the
registry is consulted.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from curation import plugins, rundir

#: How a stage's job is given what it reads: ``files`` (extract: WARC files, folders, globs,
#: manifests, positional), ``documents`` (one documents folder, positional), ``documents_flag``
#: (``--input DIR``), ``config`` (the config's own ``input`` key: a mixture names its sources there).
InputStyle = Literal["files", "documents", "documents_flag", "config"]


# ------------------------------------------------------------------------------------- accounting
@dataclass(frozen=True)
class Accounting:
    """A finished stage's records in and out, as its own files report them, and the checks they
    must pass. For stages that decide per record: ``kept + dropped + errored == records_in``."""

    records_in: int
    records_out: int
    kept: int | None = None
    dropped: int | None = None
    errored: int | None = None
    #: Stage-specific detail recorded with the counts: by_outcome, by_status, tokens, by_source.
    detail: dict[str, Any] = field(default_factory=dict)
    #: (what, got, want): every pair must be equal, else records went missing.
    checks: tuple[tuple[str, Any, Any], ...] = ()

    def problems(self) -> list[str]:
        return [f"{what}: {got} != {want}" for what, got, want in self.checks if got != want]

    def to_dict(self) -> dict[str, Any]:
        """The record kept in ``_pipeline.json`` (its keys are what older runs recorded)."""
        out: dict[str, Any] = {"records_in": self.records_in, "records_out": self.records_out}
        if self.kept is not None:
            out.update(kept=self.kept, dropped=self.dropped, errored=self.errored)
        return {**out, **self.detail}


class AccountingReader(Protocol):
    def __call__(self, folder: str, cfg: Any, rows_out: int) -> Accounting:
        """Read a finished stage's accounting from ``folder``; ``rows_out``: rows in its Parquet."""
        ...


@dataclass(frozen=True)
class OutcomeAccounting:
    """``_accounting.json`` with kept/dropped/errored and ``by_outcome`` (extract, annotate, dedup)."""

    #: True: every row is written back (dedup); False: only kept rows unless ``cfg.keep_dropped``.
    writes_every_row: bool = False
    #: The job also records ``rows_written`` (extract: summed over its per-file parts).
    counts_rows_written: bool = False

    def __call__(self, folder: str, cfg: Any, rows_out: int) -> Accounting:
        raw = rundir.read_accounting(folder)
        n = raw["records_read"]
        every_row = self.writes_every_row or bool(getattr(cfg, "keep_dropped", False))
        checks = [("kept + dropped + errored vs records read", raw["kept"] + raw["dropped"] + raw["errored"], n),
                  ("outcomes summed vs records read", sum(raw["by_outcome"].values()), n),
                  ("rows in the output Parquet", rows_out, n if every_row else raw["kept"])]
        if self.counts_rows_written:
            checks.append(("rows written per the parts", raw["rows_written"], rows_out))
        return Accounting(n, rows_out, raw["kept"], raw["dropped"], raw["errored"],
                          {"by_outcome": raw["by_outcome"]}, tuple(checks))


def status_accounting(folder: str, cfg: Any, rows_out: int) -> Accounting:
    """``_accounting.json`` with ``by_status`` (decontaminate flags rows; every row is written)."""
    raw = rundir.read_accounting(folder)
    n = raw["records_read"]
    return Accounting(n, raw["records_written"], detail={"by_status": raw["by_status"]}, checks=(
        ("statuses summed vs records read", sum(raw["by_status"].values()), n),
        ("records written vs read", raw["records_written"], n),
        ("rows in the output Parquet vs records written", rows_out, n)))


def manifest_accounting(folder: str, cfg: Any, rows_out: int) -> Accounting:
    """``mixture_manifest.json``: rows per source in and out, planned vs achieved tokens."""
    manifest = rundir.read_json(folder, rundir.MANIFEST)
    sources = manifest["sources"]
    records_out = sum(s["output_rows"] for s in sources.values())
    detail = {"tokens_planned": manifest["total_tokens"], "tokens_achieved": manifest["achieved_total_tokens"],
              "by_source": {n: {"rows": s["rows"], "output_rows": s["output_rows"],
                                "planned_tokens": s["planned_tokens"], "achieved_tokens": s["achieved_tokens"]}
                            for n, s in sources.items()}}
    return Accounting(sum(s["rows"] for s in sources.values()), records_out, detail=detail,
                      checks=(("rows in the mixture's Parquet vs its manifest", rows_out, records_out),))


# ------------------------------------------------------------------------------------- stages
@dataclass(frozen=True)
class Stage:
    name: str
    #: One line for ``curate --help`` and the job's own ``--help``.
    help: str
    #: ``module:Class`` of its Spark adapter (a spark_jobs.job.SparkJob), loaded by the composition root.
    adapter: str
    #: ``module:Class`` of its config dataclass (what ``--config``/``--set`` and a pipeline section
    #: fill); Curate's own stages keep theirs in the core module of their concern.
    config: str
    #: Run-directory files (curation.rundir) the job writes after its data; all present = finished.
    #: The last one is written last: the true completion marker.
    completion: tuple[str, ...]
    accounting: AccountingReader
    input: InputStyle = "documents"
    #: Its output is documents in the document schema (the funnel and the dashboard read it).
    documents: bool = True
    #: False for a stage that selects and repeats rows by design (a mixture): its records read are
    #: not checked against the rows its input holds.
    reads_every_row: bool = True
    #: Drop-reason prefixes it decides (``<prefix>.<reason>``), in the order it decides them:
    #: before its configured ``steps``, the steps themselves when ``configured_steps``, then after.
    drops_before: tuple[str, ...] = ()
    configured_steps: bool = False
    drops_after: tuple[str, ...] = ()
    #: Config keys (dotted; ``[]`` for each list item) that name input files or folders.
    input_keys: tuple[str, ...] = ()
    #: Older names of its folder, still read.
    aliases: tuple[str, ...] = ()
    #: Files its resolved config points at beyond ``input_keys`` (a benchmark list's files).
    side_inputs: Callable[[Any], list[str]] | None = None

    @property
    def folder(self) -> str:
        """Its output folder inside a run directory."""
        return self.name

    @property
    def folders(self) -> tuple[str, ...]:
        return (self.folder, *self.aliases)

    @property
    def marker(self) -> str:
        return self.completion[-1]

    def argv(self, reads: tuple[str, ...], out: str) -> list[str]:
        """The job's command line for reading ``reads`` into ``out`` (``config``: the input goes in the config)."""
        if self.input == "files":
            return [*reads, "--output", out]
        if self.input == "documents":
            return [reads[0], "--output", out]
        if self.input == "documents_flag":
            return ["--input", reads[0], "--output", out]
        return ["--output", out]

    def load_adapter(self) -> Any:
        """A new instance of its Spark job (imports pyspark: composition root only)."""
        return _load(self.adapter)()

    def config_class(self) -> type:
        return _load(self.config)


def _load(ref: str) -> Any:
    module, _, attr = ref.partition(":")
    return getattr(importlib.import_module(module), attr)


#: name -> Stage, in pipeline order (each stage reads the previous enabled one's output).
REGISTRY: dict[str, Stage] = {}


def register(stage: Stage, before: str | None = None) -> Stage:
    """Add a stage after the registered ones (or just before the stage named ``before``); a name
    is registered once."""
    if stage.name in REGISTRY:
        raise ValueError(f"stage {stage.name!r} is already registered")
    if before is not None and before not in REGISTRY:
        raise ValueError(f"register {stage.name!r} before {before!r}: no such stage (registered: {', '.join(REGISTRY)})")
    items = list(REGISTRY.items())
    at = len(items) if before is None else [n for n, _ in items].index(before)
    items.insert(at, (stage.name, stage))
    REGISTRY.clear()
    REGISTRY.update(items)
    return stage


def _register_plugin(ep: Any, obj: Any) -> None:
    if isinstance(obj, Stage):
        if REGISTRY.get(obj.name) is not obj:
            register(obj)
    elif callable(obj):
        obj()  # it calls register(..., before=...) itself
    else:
        raise TypeError(f"{ep.value} is neither a Stage nor a function that registers one")


def _registry() -> dict[str, Stage]:
    """The registry, with the stages other packages declare (entry points ``curate.stages``) loaded once."""
    plugins.load_group(plugins.STAGES, _register_plugin)
    return REGISTRY


def ordered() -> tuple[Stage, ...]:
    return tuple(_registry().values())


def names() -> tuple[str, ...]:
    return tuple(_registry())


def get(name: str) -> Stage:
    return _registry()[name]


def document_stages() -> tuple[Stage, ...]:
    """The stages whose output is documents, in pipeline order (the last holds the whole funnel)."""
    return tuple(s for s in _registry().values() if s.documents)


def first_reads_files() -> Stage:
    """The stage that reads raw files (WARC) rather than documents."""
    return next(s for s in _registry().values() if s.input == "files")


def _benchmark_files(cfg: Any) -> list[str]:
    import glob

    from curation import decontam

    if not getattr(cfg, "benchmarks", None):
        return []
    return [f for spec in decontam.load_benchmark_specs(cfg.benchmarks) for f in sorted(glob.glob(spec.path, recursive=True))]


# ------------------------------------------------------------------------------------- the registry
#: Extraction's reason prefixes, in the order it decides them (error: a damaged record).
EXTRACT_REASONS = ("error", "warc", "http", "trafilatura_v1", "resiliparse_v1")

register(Stage(
    "extract", "Extract main text from WARC/ARC/WET files into Parquet.",
    "spark_jobs.extract:ExtractJob", "curation.ingest.extract_task:ExtractJobConfig",
    (rundir.CONFIG, rundir.ACCOUNTING), OutcomeAccounting(counts_rows_written=True),
    input="files", drops_before=EXTRACT_REASONS, input_keys=("input",)))
register(Stage(
    "annotate", "Annotate extracted documents with language, heuristic and quality scores.",
    "spark_jobs.annotate:AnnotateJob", "curation.filters.annotate_task:AnnotateJobConfig",
    (rundir.ACCOUNTING, rundir.CONFIG), OutcomeAccounting(),
    configured_steps=True, drops_after=("top_fraction",)))
register(Stage(
    "dedup", "Remove exact, same-URL and MinHash near-duplicate documents (every row kept with its reason).",
    "spark_jobs.dedup:DedupJob", "curation.dedup:DedupJobConfig",
    (rundir.ACCOUNTING, rundir.CONFIG), OutcomeAccounting(writes_every_row=True),
    drops_before=("dedup",)))
register(Stage(
    "decontaminate", "Flag documents that overlap benchmark items (phi-4 13-gram / 7-gram decontamination).",
    "spark_jobs.decontaminate:DecontaminateJob", "curation.decontam:DecontaminateJobConfig",
    (rundir.REPORT, rundir.ACCOUNTING, rundir.CONFIG), status_accounting,
    input="documents_flag", input_keys=("benchmarks", "decontam.allowlist"), aliases=("decontam",),
    side_inputs=_benchmark_files))
register(Stage(
    "mix", "Assemble a token-budgeted mixture of sources (planned vs achieved tokens in a manifest).",
    "spark_jobs.mix:MixJob", "curation.mixture.mix_config:MixJobConfig",
    (rundir.MANIFEST, rundir.CONFIG), manifest_accounting,
    input="config", documents=False, reads_every_row=False, input_keys=("input", "sources[].input")))

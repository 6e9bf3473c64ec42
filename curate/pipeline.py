"""``curate run PIPELINE.yaml``: extract → annotate → dedup → decontaminate → mix in one command.

PIPELINE.yaml names the input, the run directory and one optional section per stage. A section
holds that job's own config keys (exactly what ``curate <stage> --config`` accepts; unknown keys
are the job's errors) plus two pipeline keys: ``enabled`` (default true; ``dedup: false`` is short
for ``{enabled: false}``) and ``config`` (a job YAML file the section's keys are merged over)::

    input: demo/demo.warc.gz            # WARC files, a folder, a glob or a manifest (a list is fine)
    output: runs/demo                   # stage outputs go to runs/demo/<stage>
    extract: {keep_dropped: true, extract: {extractor: trafilatura}}
    annotate: {keep_dropped: true}
    dedup: {}
    decontaminate: {benchmarks: demo/benchmarks.yaml}
    mix: {config: demo/mix.yaml, total_tokens: 5000}   # input: defaults to the previous stage

Every job flag is a config key (``--keep-dropped`` is ``keep_dropped``, ``--benchmarks`` is
``benchmarks``, ``--total-tokens`` is ``total_tokens``), so a section needs nothing else. The merged
section is written to ``RUN_DIR/<stage>.yaml`` and given to the job as ``--config``: the job's own
``load_config`` checks it, so a bad section fails before Spark starts, and the file reruns that
stage by hand. Paths are relative to the current directory, as in every other curate config.

Stages chain, each reading the previous enabled stage's output folder, in one Spark session (started
only if some stage has to run). ``RUN_DIR/_pipeline.json`` records, per stage: status (running,
done, failed), times, the resolved config and its hash, the fingerprints of its inputs and its
output, the accounting (records in/out) and the code version.

Resuming: a stage is skipped only when its record says done, its config hash and input fingerprint
are unchanged, its completion files are there and its output still has the fingerprint recorded
when it finished. Anything else reruns it from scratch (its folder deleted first, since a killed
Spark write leaves ``_temporary`` debris the jobs would refuse to overwrite), and every later stage
reruns after it. ``--from STAGE`` forces that. After each stage the accounting is checked against
the Parquet row counts of its input and output, and the run stops loudly if records went missing.

Failing fast: ``curate run --check`` (:func:`run_checks`) lists, without Spark and without writing,
everything that can be known before running (inputs, each stage's config as its job loads it, models,
benchmark files, the tokenizer, the mixture's budget and each source's ``where`` bound over the
columns the stages will write); a run makes the same checks before its first stage. Once the stage
that feeds the mixture has written its output, each source's rows are counted there
(:func:`mixture_sources_problem`) and a source that selects nothing stops the run, named with its
``where``, before the later stages run.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import datetime as dt
import functools
import hashlib
import importlib.metadata
import json
import logging
import os
import subprocess
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from curate import stage_checks
from curation import config as configlib
from curation import fsutil, output_dir, plan_check, rundir, stages
from curation.errors import CurateError, JobError, damaged_parquet_error, report
from curation.ingest.inputs import expand_inputs
from curation.output_dir import OutputRefused

log = logging.getLogger("curate.pipeline")

#: Stage order (curation.stages, the one registry); each stage reads the output of the last enabled
#: stage before it. The functions below iterate the registry itself, so a stage registered later
#: (a test's, a plugin's) takes part; these two are its view at import time.
STAGES = stages.names()
STATE_FILE = rundir.PIPELINE_STATE
#: Files every stage writes after its data (Stage.completion); all present = the stage finished.
COMPLETION_FILES = {s.name: s.completion for s in stages.ordered()}
#: Keys of a stage section that belong to the pipeline, not to the job.
SECTION_KEYS = ("enabled", "config")


class PipelineError(CurateError):
    """A user-facing pipeline failure: one line, exit code 2."""


@dataclass(frozen=True)
class StageSection:
    enabled: bool = True
    #: A job YAML file (as for ``curate <stage> --config``); ``settings`` are merged over it.
    config: str | None = None
    #: The job's own config keys given in the section (everything but ``enabled`` and ``config``).
    settings: dict[str, Any] = field(default_factory=dict)


@functools.cache
def _config_class(names: tuple[str, ...]) -> type:
    cls = dataclasses.make_dataclass("PipelineConfig", [
        ("input", tuple[str, ...], field(default=())),
        ("output", str, field(default="")),
        *[(name, StageSection, field(default_factory=StageSection)) for name in names],
    ], frozen=True)
    cls.__module__ = __name__
    return cls


def pipeline_config_class() -> type:
    """PIPELINE.yaml as a frozen dataclass: ``input`` (WARC/ARC/WET files, folders, globs or manifests,
    extract's INPUT; with extract disabled, the documents the first enabled stage reads), ``output``
    (the run directory: RUN_DIR/<stage>/ per stage, RUN_DIR/<stage>.yaml, RUN_DIR/_pipeline.json) and
    one :class:`StageSection` per registered stage (curation.stages), named after it."""
    return _config_class(stages.names())


PipelineConfig = pipeline_config_class()


def load_pipeline(path: str | os.PathLike | None, overrides: list[str] | None = None,
                  only: Sequence[str] | None = None) -> PipelineConfig:
    """PIPELINE.yaml (+ ``--set stage.key=value``, + ``--stages``) → :class:`PipelineConfig`; unknown
    top-level keys (a misspelt stage) are errors here, a section's unknown keys are the job's errors
    later. ``path`` None: no YAML, every stage at its job's defaults (``only`` then says which run)."""
    # one line for bad YAML, bytes, keys or top level
    raw = configlib.read_yaml(path, "pipeline") if path is not None else {}
    data = configlib.merge(dict(raw), configlib.parse_overrides(overrides))
    return pipeline_config(select_stages(data, only) if only is not None else data)


def select_stages(data: Mapping[str, Any], only: Sequence[str]) -> dict[str, Any]:
    """``--stages extract,annotate``: those stages enabled, every other one disabled, whatever the
    YAML says (its sections' settings are kept). The stages run as one chain in one Spark session,
    each reading the output of the last enabled stage before it, which is why a user running stage
    verbs one by one is pointed here: one JVM start-up instead of one per verb."""
    names = stages.names()
    unknown = [s for s in only if s not in names]
    if unknown:
        raise configlib.ConfigError(f"--stages: unknown stage(s) {', '.join(unknown)} (stages: {', '.join(names)})")
    if not only:
        raise configlib.ConfigError(f"--stages: name at least one stage ({', '.join(names)})")
    out = dict(data)
    for name in names:
        section = out.get(name)
        if section is None or isinstance(section, bool):
            section = {}
        if isinstance(section, Mapping):  # anything else is reported by pipeline_config
            out[name] = {**section, "enabled": name in only}
    return out


def pipeline_config(data: Mapping[str, Any]) -> PipelineConfig:
    """A PIPELINE.yaml's mapping (``input``, ``output``, one section per stage: a mapping of the job's
    keys plus ``enabled``/``config``, or a bool) → :class:`PipelineConfig`, checked as the YAML is."""
    data = dict(data)
    for stage in stages.names():
        if stage not in data:
            continue
        section = data[stage]
        if isinstance(section, bool):  # `dedup: false`
            section = {"enabled": section}
        if section is None:
            section = {}
        if not isinstance(section, Mapping):
            raise configlib.ConfigError(f"{stage} must be a mapping of the {stage} job's config keys, got {section!r}")
        section = dict(section)
        data[stage] = {**{k: section.pop(k) for k in SECTION_KEYS if k in section}, "settings": section}
    cfg = configlib.build(pipeline_config_class(), data)
    if not any(getattr(cfg, s).enabled for s in stages.names()):
        raise configlib.ConfigError("every stage is disabled: nothing to run")
    return cfg


# ---------------------------------------------------------------------------------- stage plans
@dataclass
class StagePlan:
    """One enabled stage, resolved: the job, its parsed arguments and config, what it reads."""

    name: str
    job: Any  # spark_jobs.job.SparkJob (imported lazily: this module stays importable without pyspark)
    args: argparse.Namespace
    cfg: Any
    output: str
    #: The previous stage's output folder, or None for the first enabled stage (it reads ``input``).
    upstream: str | None
    #: The data it reads as given on its command line (WARC inputs, or one documents path).
    reads: tuple[str, ...]

    @property
    def resolved_config(self) -> str:
        return configlib.dump(self.cfg)

    @property
    def config_sha256(self) -> str:
        return hashlib.sha256(self.resolved_config.encode()).hexdigest()


def plan_stages(cfg: PipelineConfig) -> list[StagePlan]:
    """Resolve every enabled stage: write RUN_DIR/<stage>.yaml and load it with the job's own
    ``load_config`` (its checks run here, before Spark). Raises ConfigError naming the stage."""
    plans: list[StagePlan] = []
    upstream: str | None = None
    for st in stages.ordered():
        if not getattr(cfg, st.name).enabled:
            continue
        plans.append(plan_stage(cfg, st, upstream, rundir.stage_section_file(cfg.output, st.name)))
        upstream = plans[-1].output
    return plans


def stage_reads(cfg: PipelineConfig, st: stages.Stage, upstream: str | None) -> tuple[str, ...]:
    """What an enabled stage reads: the previous enabled stage's output, else the run's ``input``."""
    if upstream is not None:
        return (upstream,)
    if not cfg.input:
        raise configlib.ConfigError("input is required: set it in the YAML or pass --input")
    if st.input != "files" and len(cfg.input) != 1:
        raise configlib.ConfigError(f"{st.name} is the first enabled stage and reads one documents path; input has {len(cfg.input)}")
    return cfg.input


def stage_settings(cfg: PipelineConfig, st: stages.Stage, reads: tuple[str, ...]) -> dict[str, Any]:
    """A section's job config keys: its ``config`` file with its own keys merged over it (and the
    chain's input for a stage that takes it from its config)."""
    section: StageSection = getattr(cfg, st.name)
    settings = dict(section.settings)
    if section.config:
        try:
            base = configlib.read_yaml(section.config)  # its errors get the stage prefix here
        except configlib.ConfigError as exc:
            raise configlib.ConfigError(f"{st.name}.config: {exc}") from exc
        settings = configlib.merge(base, settings)
    if st.input == "config" and "input" not in section.settings:
        # The chain wins over a mixture file's own input; an input set in the section itself wins over both.
        settings["input"] = reads[0]
    return settings


def plan_stage(cfg: PipelineConfig, st: stages.Stage, upstream: str | None, config_file: str) -> StagePlan:
    """One enabled stage resolved: its section written to ``config_file`` and loaded by its job."""
    reads = stage_reads(cfg, st, upstream)
    out = rundir.stage_folder(cfg.output, st.folder)
    settings = stage_settings(cfg, st, reads)
    fsutil.write_atomic(config_file, yaml.safe_dump(settings, sort_keys=False, allow_unicode=True).encode())
    job = st.load_adapter()
    args = job.build_parser().parse_args([*st.argv(reads, out), "--config", config_file])
    try:
        job_cfg = job.load_config(args)
    except configlib.ConfigError as exc:
        raise configlib.ConfigError(f"{st.name}: {exc}") from exc
    return StagePlan(st.name, job, args, job_cfg, out, upstream, reads)


# ---------------------------------------------------------------------------------- fingerprints
def tree_fingerprint(path: str, mtimes: bool = False) -> str:
    """sha256 over (relative name, size[, mtime]) of every file under ``path`` (or of the file itself).

    Cheap (no data read). Without mtimes it still changes whenever a job rewrites its output (Spark
    and the extract job name parts with fresh ids, and the accounting files carry timings), and a
    copied run directory stays resumable; side inputs (benchmarks, models) are edited in place, so
    theirs include mtimes. Hidden files and ``*.inprogress`` temporaries are ignored. A missing path
    has the fingerprint ``missing``.
    """
    import pyarrow.fs as pafs

    fs, root = fsutil.resolve(path)
    info = fs.get_file_info(root)
    if info.type == pafs.FileType.NotFound:
        return "missing"
    h = hashlib.sha256()
    if info.type == pafs.FileType.File:
        h.update(f".\t{info.size}{_mtime(info) if mtimes else ''}\n".encode())
        return h.hexdigest()
    infos = fs.get_file_info(pafs.FileSelector(root, recursive=True))
    for i in sorted((i for i in infos if i.type == pafs.FileType.File), key=lambda i: i.path):
        rel = i.path[len(root):].lstrip("/")
        if any(p.startswith(".") for p in rel.split("/")) or rel.endswith(".inprogress"):
            continue
        h.update(f"{rel}\t{i.size}{_mtime(i) if mtimes else ''}\n".encode())
    return h.hexdigest()


def _mtime(info) -> str:
    return f"\t{info.mtime_ns}" if info.mtime_ns is not None else ""


def raw_input_fingerprint(item: str) -> str:
    """Fingerprint of one ``input`` entry (file, folder, glob or manifest): the expanded files'
    absolute paths, sizes and modification times. Remote URIs are expanded by Spark inside the
    job, so only their spelling is fingerprinted (a changed remote file is not noticed)."""
    if fsutil.is_uri(item):
        return "uri:" + hashlib.sha256(item.encode()).hexdigest()
    h = hashlib.sha256()
    for f in expand_inputs([item]):
        st = os.stat(f)
        h.update(f"{os.path.abspath(f)}\t{st.st_size}\t{st.st_mtime_ns}\n".encode())
    return h.hexdigest()


def _side_inputs(plan: StagePlan) -> list[str]:
    """Local files a stage's config points at (benchmark lists, tokenizers, models, block lists,
    other mixture sources): a changed file must rerun the stage even though its config did not."""
    found: list[str] = []

    def walk(value: Any) -> None:
        if isinstance(value, Mapping):
            for v in value.values():
                walk(v)
        elif isinstance(value, (list, tuple)):
            for v in value:
                walk(v)
        elif isinstance(value, str) and value and not fsutil.is_uri(value) and "\n" not in value and len(value) < 4096:
            path = os.path.abspath(value)
            if os.path.exists(path) and not os.getcwd().startswith(path):  # never ".": the whole checkout
                found.append(value)

    walk(configlib.to_dict(plan.cfg))
    side_inputs = stages.get(plan.name).side_inputs
    if side_inputs is not None:
        found.extend(side_inputs(plan.cfg))
    reads = set(plan.reads)
    return sorted(set(found) - reads)


def input_fingerprints(plan: StagePlan) -> dict[str, str]:
    """{path: fingerprint} of everything the stage reads: its data input and its side inputs."""
    out = {}
    raw = plan.upstream is None and stages.get(plan.name).input == "files"
    for item in plan.reads:
        out[item] = raw_input_fingerprint(item) if raw else tree_fingerprint(item)
    for item in _side_inputs(plan):
        out[item] = tree_fingerprint(item, mtimes=True)
    return out


def combined(fingerprints: Mapping[str, str]) -> str:
    return hashlib.sha256(json.dumps(dict(sorted(fingerprints.items()))).encode()).hexdigest()


def code_version() -> str:
    """``git describe --always --dirty`` of the checkout this module runs from, else the package
    version. GIT_OPTIONAL_LOCKS=0: describing must never take the index lock from a concurrent git."""
    version = "unknown"
    with contextlib.suppress(importlib.metadata.PackageNotFoundError):
        version = importlib.metadata.version("curate")
    root = Path(__file__).resolve().parent.parent
    if (root / ".git").exists():
        try:
            proc = subprocess.run(["git", "describe", "--always", "--dirty"], cwd=root, capture_output=True, text=True,
                                  timeout=10, env={**os.environ, "GIT_OPTIONAL_LOCKS": "0"})
            if proc.returncode == 0 and proc.stdout.strip():
                return f"{version}+git.{proc.stdout.strip()}"
        except (OSError, subprocess.TimeoutExpired):
            pass
    return version


def _now() -> str:
    return dt.datetime.now(dt.UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------- accounting
def parquet_rows(path: str) -> int:
    """Rows of the Parquet files directly in ``path``, from their footers (no data read)."""
    import pyarrow.fs as pafs
    import pyarrow.parquet as pq

    fs, root = fsutil.resolve(path)
    if fs.get_file_info(root).type != pafs.FileType.Directory:
        raise PipelineError(f"{path}: output folder missing")
    total = 0
    for i in fs.get_file_info(pafs.FileSelector(root, recursive=False)):
        if i.type == pafs.FileType.File and i.base_name.endswith(".parquet") and not i.base_name.startswith((".", "_")):
            with fs.open_input_file(i.path) as f:
                total += pq.ParquetFile(f).metadata.num_rows
    return total


def _read_json(path: str) -> dict:
    return json.loads(fsutil.read_text(path))


def _mismatch(what: str, got: Any, want: Any) -> list[str]:
    return [f"{what}: {got} != {want}"] if got != want else []


def check_accounting(plan: StagePlan, rows_in: int | None) -> dict:
    """Records in and out of a finished stage, checked three ways: the job's outcome counts sum to
    what it read, it read every row its input holds, and its output holds the rows it says it
    wrote. The stage's own reader (Stage.accounting) reads its files and names its checks. Raises
    PipelineError on any mismatch (a silent loss must never go downstream)."""
    stage = stages.get(plan.name)
    acc = stage.accounting(plan.output, plan.cfg, parquet_rows(plan.output))
    problems = acc.problems()
    if rows_in is not None and stage.reads_every_row:  # a mixture selects and repeats rows by design
        problems += _mismatch(f"records read vs rows in {plan.reads[0]}", acc.records_in, rows_in)
    if problems:
        raise PipelineError(f"{plan.name}: accounting does not add up ({'; '.join(problems)}); see {plan.output}")
    return acc.to_dict()


# ---------------------------------------------------------------------------------- state
class State:
    """``RUN_DIR/_pipeline.json``, rewritten atomically after every change of a stage's status."""

    def __init__(self, run_dir: str):
        self.path = rundir.path(run_dir, rundir.PIPELINE_STATE)
        self.data: dict = {}
        if fsutil.exists(self.path):
            try:
                self.data = _read_json(self.path)
            except (ValueError, OSError) as exc:  # unreadable: rerun everything rather than guess
                log.warning("cannot read %s (%s): every stage reruns", self.path, exc)
        self.data.setdefault("stages", {})

    def stage(self, name: str) -> dict:
        return self.data["stages"].get(name) or {}

    def set_stage(self, name: str, record: dict) -> None:
        self.data["stages"][name] = record
        self.save()

    def save(self) -> None:
        fsutil.write_atomic(self.path, json.dumps(self.data, indent=2).encode())


def _complete(stage: str, out: str) -> str | None:
    """None when every completion file is there, else the first missing one."""
    return rundir.missing(out, stages.get(stage).completion)


def skip_reason(record: Mapping, plan: StagePlan, inputs: Mapping[str, str]) -> str | None:
    """Why ``plan`` must run given its last ``record``; None when it is up to date."""
    if not record:
        return "no previous run"
    if record.get("status") != "done":
        return f"previous run {record.get('status', 'unknown')}"
    if record.get("output") != plan.output:
        return "output folder changed"
    if record.get("config_sha256") != plan.config_sha256:
        return "config changed"
    if record.get("input_fingerprint") != combined(inputs):
        changed = [k for k, v in inputs.items() if record.get("inputs", {}).get(k) != v]
        return f"input changed ({', '.join(changed) or 'inputs differ'})"
    missing = _complete(plan.name, plan.output)
    if missing:
        return f"output incomplete ({missing} missing)"
    if tree_fingerprint(plan.output) != record.get("output_fingerprint"):
        return "output changed since it was written"
    return None


# ---------------------------------------------------------------------------------- running
@dataclass
class StageOutcome:
    name: str
    action: str  # ran | skipped
    reason: str
    seconds: float
    accounting: dict = field(default_factory=dict)


def run_pipeline(cfg: PipelineConfig, plans: list[StagePlan], *, from_stage: str | None = None,
                 master: str | None = None, spark_conf: dict[str, str] | None = None,
                 pipeline_file: str | None = None) -> list[StageOutcome]:
    """Run (or skip) every planned stage in order; see the module docstring for the rules."""
    from spark_jobs.job import session

    if from_stage is not None and from_stage not in {p.name for p in plans}:
        raise PipelineError(f"--from {from_stage}: not an enabled stage (enabled: {', '.join(p.name for p in plans)})")
    checks = run_checks(cfg, plans)  # the rest of --check (resolve made the config checks), before any Spark work
    if not checks.ok:
        raise PipelineError(checks.first_failure() + " (curate run --check lists every check)")
    for c in checks.rows:
        if c.status == plan_check.WARN:
            log.warning("%s: %s", c.name, c.detail)
    state = State(cfg.output)
    version = code_version()
    raw_fp = {item: raw_input_fingerprint(item) for item in cfg.input} if stages.get(plans[0].name).input == "files" else {}
    state.data.update({"pipeline": pipeline_file, "config": configlib.to_dict(cfg), "code_version": version,
                       "input": list(cfg.input), "input_fingerprint": combined(raw_fp) if raw_fp else None,
                       "stages_enabled": [p.name for p in plans], "status": "running", "started": _now(),
                       "finished": None})
    state.save()
    outcomes: list[StageOutcome] = []
    cascade: str | None = None  # the first stage that ran: every later one runs too
    with contextlib.ExitStack() as stack:
        spark_holder: list = []

        def spark():
            if not spark_holder:  # started on first need: a fully up-to-date run never starts a JVM
                spark_holder.append(stack.enter_context(session("curate-pipeline", master, spark_conf)))
            return spark_holder[0]

        for plan in plans:
            started = time.perf_counter()
            record = state.stage(plan.name)
            inputs = input_fingerprints(plan)
            inputs_fp = combined(inputs)
            if plan.name == from_stage:
                reason = f"--from {from_stage}"
            elif cascade is not None:
                reason = f"{cascade} reran"
            else:
                reason = skip_reason(record, plan, inputs)
            if reason is None:
                log.info("%s: up to date, skipped (%s)", plan.name, plan.output)
                outcomes.append(StageOutcome(plan.name, "skipped", "up to date", time.perf_counter() - started,
                                             record.get("accounting", {})))
            else:
                log.info("%s: running (%s)", plan.name, reason)
                cascade = cascade or plan.name
                outcomes.append(_run_stage(plan, record, inputs, inputs_fp, reason, version, state, spark, JobError))
                outcomes[-1].seconds = time.perf_counter() - started
            problem = mixture_sources_problem(plan, plans)
            if problem:
                state.data.update(status="failed", finished=_now(), error=problem)
                state.save()
                raise PipelineError(problem)
    state.data.update(status="done", finished=_now())
    state.save()
    return outcomes


def mixture_sources_problem(plan: StagePlan, plans: list[StagePlan]) -> str | None:
    """Once ``plan``'s output exists: the mixture sources that read it, counted (DuckDB over its files,
    each source's ``where``), and a message naming every one that selects nothing, rather than the mix
    stage's "has no tokens" after every later stage ran. None when all select rows (or none read it)."""
    from curation.mixture import check as mixcheck
    from curation.mixture.mix_config import MixJobConfig, resolve_sources

    out = os.path.normpath(plan.output)
    sources = [s for p in plans if p is not plan and isinstance(p.cfg, MixJobConfig)
               for s in resolve_sources(p.cfg) if s.input and not fsutil.is_uri(s.input) and os.path.normpath(os.path.abspath(s.input)) == out]
    if not sources or fsutil.is_uri(plan.output):
        return None
    try:
        counted = mixcheck.count_sources(plan.output, sources)
    except Exception as exc:  # DuckDB cannot evaluate it (a Spark-only where): the mix job will
        log.warning("mixture sources not counted in %s's output (%s)", plan.name, str(exc).splitlines()[0])
        return None
    log.info("mixture sources in %s's output (rows with text): %s", plan.name, mixcheck.describe(counted))
    empty = mixcheck.empty_sources(counted, f"{plan.name}'s output {plan.output}")
    if not empty:
        return None
    return ("; ".join(empty) + f". The mix stage would find no tokens for {'it' if len(empty) == 1 else 'them'}: "
            f"change the where, or what the stages before keep (rerun from the changed one with --from)")


def damaged_parquet_message(plan: StagePlan, exc: BaseException) -> str | None:
    """curation.errors.damaged_parquet_error, plus the stage to rerun from: the one that wrote the file."""
    damaged = damaged_parquet_error(exc)
    if damaged is None:
        return None
    writer = plan.upstream.rstrip("/").rsplit("/", 1)[-1] if plan.upstream else None  # folders are named by stage
    rerun = f"; rerun from the stage that wrote it: --from {writer}" if writer else ""
    return f"{plan.name}: {damaged}{rerun}"


def _run_stage(plan: StagePlan, record: Mapping, inputs: dict, inputs_fp: str, reason: str, version: str,
               state: State, spark: Callable, job_error: type) -> StageOutcome:
    rec = {"status": "running", "started": _now(), "finished": None, "reason": reason, "output": plan.output,
           "config_file": plan.args.config, "config": configlib.to_dict(plan.cfg), "config_sha256": plan.config_sha256,
           "inputs": inputs, "input_fingerprint": inputs_fp, "code_version": version}
    state.set_stage(plan.name, rec)

    def fail(message: str) -> None:
        rec.update(status="failed", finished=_now(), error=message)
        state.set_stage(plan.name, rec)
        state.data.update(status="failed", finished=_now())
        state.save()

    try:
        # The job claims its folder (curation.output_dir): a previous or partial output of this
        # stage is cleared, a folder holding anything else is refused.
        rows_in = parquet_rows(plan.upstream) if plan.upstream is not None else None
        code = plan.job.run(spark(), plan.args, plan.cfg)
        if code:
            raise PipelineError(f"{plan.name}: the job exited with code {code}")
        missing = _complete(plan.name, plan.output)
        if missing:
            raise PipelineError(f"{plan.name}: finished without writing {missing}")
        accounting = check_accounting(plan, rows_in)
    except (PipelineError, OutputRefused, job_error) as exc:
        fail(str(exc))
        raise PipelineError(str(exc) if isinstance(exc, PipelineError) else f"{plan.name}: {exc}") from exc
    except BaseException as exc:  # KeyboardInterrupt included: the record must not say "running" forever
        damaged = damaged_parquet_message(plan, exc)
        fail(damaged or f"{type(exc).__name__}: {exc}")
        if damaged:
            raise PipelineError(damaged) from exc
        raise
    rec.update(status="done", finished=_now(), accounting=accounting, output_fingerprint=tree_fingerprint(plan.output))
    state.set_stage(plan.name, rec)
    return StageOutcome(plan.name, "ran", reason, 0.0, accounting)


def render(outcomes: list[StageOutcome], run_dir: str) -> str:
    lines = [f"pipeline {run_dir}:", f"  {'stage':<14} {'action':<8} {'seconds':>8} {'records in':>11} {'records out':>12}  why"]
    for o in outcomes:
        a = o.accounting
        lines.append(f"  {o.name:<14} {o.action:<8} {o.seconds:>8.1f} {a.get('records_in', ''):>11} "
                     f"{a.get('records_out', ''):>12}  {o.reason}")
    lines.append(f"  provenance: {rundir.path(run_dir, rundir.PIPELINE_STATE)}")
    return "\n".join(lines)


# ---------------------------------------------------------------------------------- command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", metavar="PIPELINE.yaml", nargs="?",
                        help="pipeline config: input, output and one section per stage (optional with --stages: "
                             "every stage then runs with its job's defaults)")
    parser.add_argument("--stages", type=_stage_list, metavar="STAGE,STAGE",
                        help="run only these stages, in pipeline order, in one Spark session, e.g. "
                             "--stages extract,annotate (the others are disabled, whatever the YAML says)")
    parser.add_argument("--output", "-o", help="run directory (overrides output: in the YAML)")
    parser.add_argument("--input", "-i", action="extend", nargs="+", metavar="INPUT",
                        help="input file(s), folder, glob or manifest (overrides input: in the YAML; repeatable)")
    parser.add_argument("--from", dest="from_stage", choices=stages.names(), help="rerun this stage and every later one")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a pipeline value, e.g. --set dedup.enabled=false or --set mix.total_tokens=5000")
    parser.add_argument("--master", help="Spark master, e.g. local[2] or spark://127.0.0.1:7077 (default local[*])")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark configuration (repeatable)")
    parser.add_argument("--check", action="store_true",
                        help="check everything that can be known without running (inputs, every stage's config, "
                             "models, benchmark files, tokenizer, the mixture's budget and where clauses), print a "
                             "table and exit 0 (all ok) or 1; writes nothing, starts no Spark")
    parser.add_argument("-v", "--verbose", action="store_true")


def _stage_list(text: str) -> list[str]:
    return [s.strip() for s in text.split(",") if s.strip()]


def prepare(pipeline: str | None, output: str | None = None, inputs: list[str] | None = None,
            overrides: list[str] | None = None, *, only: Sequence[str] | None = None
            ) -> tuple[PipelineConfig, list[StagePlan]]:
    """Load and check everything that can be checked without Spark; raises ConfigError/JobError.
    ``pipeline`` None needs ``only`` (``--stages``): which stages run at their defaults."""
    if pipeline is None and only is None:
        raise configlib.ConfigError("give PIPELINE.yaml, or --stages (with --input and --output) to run stages at their defaults")
    return resolve(load_pipeline(pipeline, overrides, only), output, inputs)


def resolve(cfg: PipelineConfig, output: str | None = None,
            inputs: list[str] | None = None) -> tuple[PipelineConfig, list[StagePlan]]:
    """:func:`prepare` for a config already built (``curate run`` and :class:`Pipeline` both come here)."""
    cfg = with_overrides(cfg, output, inputs)
    local = local_inputs(cfg)
    # The run directory is resumable: never cleared, but never a folder curate did not make
    # (each stage then claims its own sub-folder, which a rerun clears).
    output_dir.claim(cfg.output, "run", inputs=local, resume=True)
    return cfg, plan_stages(cfg)


def with_overrides(cfg: PipelineConfig, output: str | None = None, inputs: list[str] | None = None) -> PipelineConfig:
    """``--output``/``--input`` applied; the run directory made absolute (executors on a cluster,
    whose working folders differ, write into it)."""
    if output:
        cfg = dataclasses.replace(cfg, output=output)
    if inputs:
        cfg = dataclasses.replace(cfg, input=tuple(inputs))
    if not cfg.output:
        raise configlib.ConfigError("output (the run directory) is required: set it in the YAML or pass --output")
    if not fsutil.is_uri(cfg.output):
        cfg = dataclasses.replace(cfg, output=os.path.abspath(fsutil.local_path(cfg.output)))
    return cfg


def local_inputs(cfg: PipelineConfig) -> list[str]:
    """The run's local inputs (WARC files expanded, or the documents path), checked to exist: an input
    that matches nothing fails here, not after Spark started. URIs are Spark's to resolve."""
    local = [i for i in cfg.input if not fsutil.is_uri(i)]
    first = next(s for s in stages.ordered() if getattr(cfg, s.name).enabled)
    if first.input == "files":  # extract reads WARC files
        files = expand_inputs(local) if local else []
        return [*files, *(i for i in local if os.path.isdir(i))]
    if local and not os.path.exists(local[0]):
        raise configlib.ConfigError(f"input {local[0]!r} does not exist")
    return local


# ---------------------------------------------------------------------------------- checks
def run_checks(cfg: PipelineConfig, plans: list[StagePlan] | None = None) -> plan_check.Report:
    """Everything that can be known about a run without running it, as a table of checks
    (curation.plan_check): output folder, inputs, every stage's config as its job loads it, and what
    each stage's config points at (annotate's models, decontaminate's benchmark files, mix's tokenizer,
    budget and every source's ``where`` over the columns it will read).

    ``plans`` None (``curate run --check``): nothing is written; each stage's section is loaded from a
    temporary copy, and every failure is a row. Given (``curate run``, after :func:`resolve` wrote and
    loaded them): only the checks its job's config does not already make."""
    report = plan_check.Report()
    if plans is None:
        report.run("output", lambda: _check_output(cfg))
        report.run("input", lambda: _describe_inputs(local_inputs(cfg), cfg))
    loaded = {p.name: p for p in plans or ()}
    columns = _initial_columns(cfg)
    upstream: str | None = None
    with tempfile.TemporaryDirectory(prefix="curate-check-") as tmp:
        for st in stages.ordered():
            if not getattr(cfg, st.name).enabled:
                continue
            out = rundir.stage_folder(cfg.output, st.folder)
            stage_cfg = loaded[st.name].cfg if st.name in loaded else _check_stage(cfg, st, upstream, tmp, report)
            if stage_cfg is not None:
                for name, check in stage_checks.for_stage(stage_cfg, stage_checks.Context(st.name, columns, out_of_run(cfg))):
                    report.run(name, check)
                if plans is None:
                    _explain_config_failure(report, st.name)
            columns = stage_checks.columns_after(stage_cfg, columns)
            upstream = out
    return report


def _initial_columns(cfg: PipelineConfig) -> stage_checks.Columns:
    """The columns the first enabled stage reads: extract writes the document schema; documents
    given as input have their own."""
    from curation.mixture import check as mixcheck
    from curation.schema import DOC_SCHEMA

    first = next(s for s in stages.ordered() if getattr(cfg, s.name).enabled)
    if first.input == "files":
        return stage_checks.Columns(mixcheck.arrow_columns(DOC_SCHEMA))
    path = cfg.input[0] if cfg.input else ""
    try:
        columns = None if not path or fsutil.is_uri(path) else mixcheck.read_columns(path)
    except Exception:  # unreadable input: the stage's own check reports it
        columns = None
    return stage_checks.Columns(columns) if columns is not None else \
        stage_checks.Columns(mixcheck.arrow_columns(DOC_SCHEMA), exact=False)


def out_of_run(cfg: PipelineConfig) -> Callable[[str], bool]:
    """Whether a path lies outside the run directory: data there exists now and can be read now."""
    run_dir = cfg.output.rstrip("/") + "/"
    return lambda path: not (fsutil.is_uri(path) or os.path.abspath(path).startswith(run_dir))


def _check_output(cfg: PipelineConfig) -> str:
    """The run directory could be claimed (output_dir.claim's rules), without creating anything."""
    out = cfg.output
    if fsutil.is_uri(out):
        return f"{out} (remote: not looked up)"
    output_dir.refuse_overlap(out, [i for i in cfg.input if not fsutil.is_uri(i)])
    if not os.path.isdir(out) or not os.listdir(out):
        return f"{out} (new)"
    found = output_dir.read_marker(out)
    if found != "run":
        raise OutputRefused(f"output {out!r} is not empty and is not a curate run directory; choose a new or empty folder"
                            if found is None else f"output {out!r} holds curate's {found!r} output, not a run's")
    return f"{out} (resumed)"


def _describe_inputs(local: list[str], cfg: PipelineConfig) -> str:
    remote = [i for i in cfg.input if fsutil.is_uri(i)]
    parts = [f"{len(local)} local path(s)" + (f": {local[0]}" if len(local) == 1 else "")] if local else []
    if remote:
        parts.append(f"{len(remote)} remote (not looked up)")
    return ", ".join(parts) or "none"


def _check_stage(cfg: PipelineConfig, st: stages.Stage, upstream: str | None, tmp: str,
                 report: plan_check.Report) -> Any | None:
    """One ``<stage>`` row: its section loaded by its job (from a temporary copy); the config its own
    checks should run on, or None when even its keys do not parse."""
    config_file = os.path.join(tmp, f"{st.name}.yaml")
    try:
        plan = plan_stage(cfg, st, upstream, config_file)
    except Exception as exc:
        message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        report.add(st.name, plan_check.FAIL, message.removeprefix(f"{st.name}: "))
        try:  # the keys alone (no job checks): so the rows below can still say what exactly is wrong
            return configlib.load(st.config_class(), config_file, [])
        except Exception:
            return None
    report.add(st.name, plan_check.OK, "config loads")
    return plan.cfg


def _explain_config_failure(report: plan_check.Report, stage: str) -> None:
    """A stage row that failed for what one of its own rows reports points there instead."""
    row = next((c for c in report.rows if c.name == stage), None)
    if row is None or row.status != plan_check.FAIL:
        return
    for c in report.rows:
        if c.name.startswith(stage + " ") and c.status == plan_check.FAIL and c.detail \
                and (c.detail in row.detail or row.detail in c.detail):
            row.detail = f"see {c.name!r} below"
            return


def check_command(args: argparse.Namespace) -> int:
    """``curate run --check``: the table of checks; exit 0 when none failed, 1 otherwise (2: the
    pipeline file itself could not be read). Writes nothing and starts no Spark."""
    started = time.perf_counter()
    try:
        if args.pipeline is None and args.stages is None:
            raise configlib.ConfigError("give PIPELINE.yaml, or --stages (with --input and --output)")
        cfg = with_overrides(load_pipeline(args.pipeline, args.overrides, args.stages), args.output, args.input)
    except (configlib.ConfigError, JobError) as exc:
        return report("run", exc)
    checks = run_checks(cfg)
    print(f"checks for {args.pipeline or 'the stages given'} ({time.perf_counter() - started:.1f} s, nothing run):")
    print(checks.render(), flush=True)
    return 0 if checks.ok else 1


def run(args: argparse.Namespace) -> int:
    if getattr(args, "check", False):
        return check_command(args)
    try:
        cfg, plans = prepare(args.pipeline, args.output, args.input, args.overrides, only=args.stages)
    except (configlib.ConfigError, JobError, OutputRefused) as exc:
        return report("run", exc)
    conf = dict(kv.split("=", 1) for kv in args.spark_conf if "=" in kv)
    try:
        outcomes = run_pipeline(cfg, plans, from_stage=args.from_stage, master=args.master, spark_conf=conf,
                                pipeline_file=None if args.pipeline is None else str(args.pipeline))
    except PipelineError as exc:
        return report("run", exc)
    print("\n" + render(outcomes, cfg.output), flush=True)
    return 0


# ---------------------------------------------------------------------------------- Python API
class Pipeline:
    """The run ``curate run PIPELINE.yaml`` describes, composed from Python (README "Composing a run
    from Python")::

        from curate.pipeline import Pipeline

        p = Pipeline([
            "extract",
            ("annotate", {"keep_dropped": True}),
        ])
        p.plan(["demo/demo.warc.gz"], "runs/py")        # the resolved stages; no Spark
        outcomes = p.run(["demo/demo.warc.gz"], "runs/py")

    ``stages`` lists the stages to run, each a name, ``(name, settings)`` with the job's own config
    keys (what a YAML section holds; ``config`` names a job YAML they are merged over) or ``(name,
    StageSection)``; stages not listed are disabled. The same :class:`PipelineConfig` as the YAML is
    built and checked by the same code (:func:`pipeline_config`, :func:`resolve`, :func:`run_pipeline`),
    so resuming, accounting checks and ``_pipeline.json`` are those of ``curate run``. Errors are
    raised (``ConfigError``, ``JobError``, ``PipelineError``), not turned into exit codes.
    """

    def __init__(self, stages: list[str | tuple[str, Mapping[str, Any] | StageSection]]):
        sections: dict[str, dict[str, Any]] = {}
        for item in stages:
            name, section = (item, {}) if isinstance(item, str) else item
            if name in sections:
                raise configlib.ConfigError(f"stage {name!r} is listed twice")
            if isinstance(section, StageSection):
                if not section.enabled:
                    continue
                section = {**section.settings, **({"config": section.config} if section.config else {})}
            sections[name] = dict(section)
        self.sections = sections

    def config(self, inputs: str | list[str] | tuple[str, ...], output: str) -> PipelineConfig:
        """The :class:`PipelineConfig` this pipeline is, reading ``inputs`` into the run directory ``output``."""
        unknown = [n for n in self.sections if n not in stages.names()]
        if unknown:
            raise configlib.ConfigError(f"unknown stage {unknown[0]!r} (stages: {', '.join(stages.names())})")
        inputs = [inputs] if isinstance(inputs, str | os.PathLike) else inputs
        data: dict[str, Any] = {"input": [str(i) for i in inputs], "output": str(output)}
        for name in stages.names():
            data[name] = self.sections.get(name, False)
        return pipeline_config(data)

    def plan(self, inputs: str | list[str] | tuple[str, ...], output: str) -> list[StagePlan]:
        """Resolve and check every stage as ``curate run`` does before Spark starts (writes
        ``RUN_DIR/<stage>.yaml``); nothing runs."""
        return resolve(self.config(inputs, output))[1]

    def run(self, inputs: str | list[str] | tuple[str, ...], output: str, **options: Any) -> list[StageOutcome]:
        """Run (or skip, when up to date) every stage; ``options``: ``from_stage``, ``master``,
        ``spark_conf`` as for :func:`run_pipeline`."""
        return run_config(self.config(inputs, output), **options)


def run_config(cfg: PipelineConfig, **options: Any) -> list[StageOutcome]:
    """Run a :class:`PipelineConfig` (from :meth:`Pipeline.config` or :func:`load_pipeline`) as ``curate run`` does."""
    cfg, plans = resolve(cfg)
    return run_pipeline(cfg, plans, **options)

"""``curate estimate PIPELINE.yaml --sample FRACTION``: predict a run's cost from a sample of its input.

The pipeline runs, through the code ``curate run`` uses (:func:`curate.pipeline.resolve` and
:func:`curate.pipeline.run_pipeline`), on a deterministic sample of the input, in a work folder
(``--output DIR``, else a temporary folder removed afterwards), never in the pipeline's own run
directory. The cost model (:mod:`curation.estimate`) extrapolates the measurements to the whole input
and per TB of compressed WARC input.

Sampling (seeded by ``--seed``, so a rerun picks the same sample):

* by files, when the sample holds at least :data:`MIN_FILES` input files: files ranked by
  ``sha256(seed:file name)``, the first ``round(fraction * files)`` taken, rounded to a multiple of
  the session's cores once that is at least two files per core (whole waves of tasks, as a large
  run nearly has). Whole files keep the records per Spark task (and so per-task overheads) of the
  real run.
* by records otherwise (one big WARC, a few files): every record with ``sha256(seed:file:index)``
  below the fraction, copied byte for byte (one gzip member per record, as crawlers write
  ``.warc.gz``) into a sample WARC per input file.

The probe (see :mod:`curation.estimate`) is the first quarter of the sample by the same ranking (a
probe by files at least as many files as the session has cores, so it runs as parallel as the
sample, and a multiple of them), so it is a subset of the sample. Predictions scale by compressed
input bytes (sample bytes as written).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import os
import shutil
import tempfile
import time
from pathlib import Path

import duckdb

from curate import pipeline
from curation import config as configlib
from curation import estimate as model
from curation import output_dir, stages
from curation.errors import CurateError, JobError, report
from curation.ingest.inputs import expand_inputs
from curation.output_dir import OutputRefused
from curation.query.funnel import token_expr

#: A sample by files needs this many files; fewer, and records are sampled instead.
MIN_FILES = 4
#: The probe is this share of the sample.
PROBE_SHARE = 0.25


class EstimateError(CurateError):
    """A bad ``curate estimate`` request (fraction, input, work folder): one line, exit 2."""


# ------------------------------------------------------------------------------------ sampling
def _rank(seed: int, key: str) -> float:
    return int(hashlib.sha256(f"{seed}:{key}".encode()).hexdigest()[:16], 16) / 2**64


@dataclasses.dataclass(frozen=True)
class Sample:
    mode: str  # files | records
    probe: list[str]
    sample: list[str]


def sample_inputs(files: list[str], fraction: float, seed: int, folder: Path, cores: int = 1) -> Sample:
    """The probe and the sample of ``files`` (see the module docstring); record samples go to ``folder``.
    A sample by files of at least two files per core is rounded to whole waves (a multiple of ``cores``
    files), and its probe to whole waves too: at least ``cores`` files (as parallel as the sample)
    and fewer than the sample."""
    k = max(1, round(fraction * len(files)))
    if k >= MIN_FILES:
        cores = max(1, cores)
        if k >= 2 * cores:
            # Whole waves: a stage runs a task per file (extract) or per small file (annotate reads
            # several partitions per core), so 7 files on 2 cores take 4 waves, the last half idle,
            # and the probe-to-sample slope came out a third too steep (bench/estimate.py). A full
            # run has so many tasks that its last wave hardly counts. Nearest multiple of the cores.
            k = min(len(files), max(cores, round(k / cores)) * cores)
        ranked = sorted(files, key=lambda f: (_rank(seed, os.path.basename(f)), f))[:k]
        n_probe = min(k - 1, max(cores, round(k * PROBE_SHARE) // cores * cores))
        return Sample("files", sorted(ranked[:n_probe]), sorted(ranked))
    return _sample_records(files, fraction, seed, folder)


def _sample_records(files: list[str], fraction: float, seed: int, folder: Path) -> Sample:
    from warcio.archiveiterator import ArchiveIterator

    out = {"probe": folder / "probe", "sample": folder / "sample"}
    for d in out.values():
        d.mkdir(parents=True, exist_ok=True)
    written: dict[str, list[str]] = {"probe": [], "sample": []}
    best: tuple[float, str, int, int] | None = None  # the lowest-ranked record: a sample is never empty
    for n, path in enumerate(files):
        name = f"{n:05d}-{os.path.basename(path)}"
        handles: dict[str, object] = {}
        with open(path, "rb") as src, open(path, "rb") as raw:
            it = ArchiveIterator(src)
            for i, record in enumerate(it):
                offset = it.get_record_offset()
                it.read_to_end(record)
                length = it.get_record_length()
                r = _rank(seed, f"{os.path.basename(path)}:{i}")
                if best is None or r < best[0]:
                    best = (r, path, offset, length)
                for which, limit in (("sample", fraction), ("probe", fraction * PROBE_SHARE)):
                    if r < limit:
                        if which not in handles:
                            handles[which] = open(out[which] / name, "wb")
                            written[which].append(str(out[which] / name))
                        handles[which].write(_raw(raw, path, offset, length))
        for h in handles.values():
            h.close()
    if best is None:
        raise EstimateError(f"no WARC records in the input ({len(files)} files)")
    for which in ("probe", "sample"):
        if not written[which]:
            target = out[which] / f"best-{os.path.basename(best[1])}"
            with open(best[1], "rb") as raw:
                target.write_bytes(_raw(raw, best[1], best[2], best[3]))
            written[which].append(str(target))
    return Sample("records", written["probe"], written["sample"])


def _raw(handle, path: str, offset: int, length: int) -> bytes:
    handle.seek(offset)
    data = handle.read(length)
    if path.endswith(".gz") and not data.startswith(b"\x1f\x8b"):
        raise EstimateError(f"{path}: not one gzip member per record, so its records cannot be sampled; "
                            "pass more input files (a sample by files) or recompress it per record")
    return data


# ------------------------------------------------------------------------------------ measuring
def _folder_bytes(folder: str) -> int:
    return sum(p.stat().st_size for p in Path(folder).rglob("*") if p.is_file())


def _kept(folder: str) -> tuple[int, int]:
    """(rows without a drop reason, their tokens: whitespace words, or n_tokens where present)."""
    files = [str(p) for p in Path(folder).rglob("*.parquet")]
    if not files:
        return 0, 0
    con = duckdb.connect()
    rel = "read_parquet(?, union_by_name = true)"
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {rel}", [files]).fetchall()]
    where = "WHERE drop_reason IS NULL" if "drop_reason" in cols else ""
    tokens = token_expr(cols) if ("text" in cols or "n_tokens" in cols) else "0"
    n, t = con.execute(f"SELECT count(*), coalesce(sum({tokens}), 0)::BIGINT FROM {rel} {where}", [files]).fetchone()
    return int(n), int(t)


def _run_sample(cfg, files: list[str], out: Path, **options) -> tuple[model.SampleRun, list]:
    cfg, plans = pipeline.resolve(cfg, output=str(out), inputs=files)
    n_bytes = sum(os.path.getsize(f) for f in files)
    try:
        outcomes = pipeline.run_pipeline(cfg, plans, **options)
    except pipeline.PipelineError as exc:
        raise EstimateError(f"the {out.name} run ({len(files)} files, {model.human_bytes(n_bytes)}) failed: {exc}; "
                            "a larger --sample gives it more records") from exc
    runs = []
    for plan, o in zip(plans, outcomes, strict=True):
        kept, tokens = _kept(plan.output)
        acc = o.accounting
        runs.append(model.StageRun(o.name, round(o.seconds, 3), int(acc.get("records_in", 0)),
                                   int(acc.get("records_out", 0)), kept, tokens, _folder_bytes(plan.output),
                                   acc.get("dropped")))
    return model.SampleRun(n_bytes, tuple(runs)), plans


def _budgets(plans: list) -> dict[str, int]:
    """Stages with a token budget (mix's total_tokens): they write at most that many tokens."""
    return {p.name: int(p.cfg.total_tokens) for p in plans
            if isinstance(getattr(p.cfg, "total_tokens", None), int) and p.cfg.total_tokens > 0}


def measure(cfg: pipeline.PipelineConfig, files: list[str], fraction: float, work: Path, *, seed: int = 0,
            master: str | None = None, spark_conf: dict[str, str] | None = None,
            pipeline_file: str | None = None) -> model.Measurements:
    """Sample ``files``; run the sample on cold workers, the probe and the sample again in one
    session (see curation.estimate); measure them."""
    from spark_jobs.job import session

    runs = work / "runs"
    options = {"master": master, "spark_conf": spark_conf, "pipeline_file": pipeline_file}
    started = time.perf_counter()
    with session("curate-estimate", master, spark_conf) as spark:
        startup = time.perf_counter() - started
        cores = int(spark.sparkContext.defaultParallelism)
        picked = sample_inputs(files, fraction, seed, work / "input", cores)
        cold, _ = _run_sample(cfg, picked.sample, runs / "cold", **options)
        probe, _ = _run_sample(cfg, picked.probe, runs / "probe", **options)
        sample, plans = _run_sample(cfg, picked.sample, runs / "sample", **options)
    budgets = _budgets(plans)
    return model.Measurements(sum(os.path.getsize(f) for f in files), cores, startup, cold, probe, sample,
                              budgets, picked.mode)


# ------------------------------------------------------------------------------------ command
def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("pipeline", metavar="PIPELINE.yaml", help="the pipeline config `curate run` would run")
    parser.add_argument("--sample", type=float, required=True, metavar="FRACTION",
                        help="share of the input to run, 0 < FRACTION <= 1 (e.g. 0.05)")
    parser.add_argument("--input", "-i", action="extend", nargs="+", metavar="INPUT",
                        help="input file(s), folder, glob or manifest (overrides input: in the YAML; repeatable)")
    parser.add_argument("--output", "-o", metavar="DIR",
                        help="work folder for the sample runs (default: a temporary folder, removed afterwards); "
                             "never the pipeline's run directory")
    parser.add_argument("--json", metavar="PATH", help="also write the estimate as JSON")
    parser.add_argument("--seed", type=int, default=0, help="sampling seed (default 0)")
    parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                        help="override a pipeline value, as for curate run")
    parser.add_argument("--master", help="Spark master (default local[*]); cores are what it gives the session")
    parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE", help="extra Spark configuration")
    parser.add_argument("-v", "--verbose", action="store_true")


def _nested(a: str, b: str) -> bool:
    a, b = os.path.realpath(a), os.path.realpath(b)
    return a == b or a.startswith(b + os.sep) or b.startswith(a + os.sep)


def prepare(args: argparse.Namespace) -> tuple[pipeline.PipelineConfig, list[str]]:
    """Check the request before anything runs; raises CurateError."""
    if not 0 < args.sample <= 1:
        raise EstimateError(f"--sample {args.sample:g}: the fraction must be > 0 and <= 1")
    cfg = pipeline.load_pipeline(args.pipeline, args.overrides)
    if args.input:
        cfg = dataclasses.replace(cfg, input=tuple(args.input))
    first = next((s for s in stages.ordered() if getattr(cfg, s.name).enabled), None)
    if first is None or first.input != "files":
        raise EstimateError("the pipeline must start with a stage that reads WARC files (extract)")
    remote = [i for i in cfg.input if "://" in i]
    if remote:
        raise EstimateError(f"input {remote[0]!r}: estimate samples local files only")
    files = [f for f in expand_inputs(list(cfg.input)) if os.path.isfile(f)]
    if not files:
        raise EstimateError(f"no input files in {list(cfg.input)}")
    if args.output and cfg.output and _nested(args.output, cfg.output):
        raise EstimateError(f"--output {args.output!r} overlaps the pipeline's run directory {cfg.output!r}: "
                            "the sample runs never go there; choose another folder")
    return cfg, files


def run(args: argparse.Namespace) -> int:
    try:
        cfg, files = prepare(args)
        work = Path(args.output) if args.output else Path(tempfile.mkdtemp(prefix="curate-estimate-"))
        try:
            if args.output:  # ours (a marker) or empty; the last estimate's sample runs are replaced
                output_dir.claim(str(work), "estimate", inputs=files, resume=True)
                for sub in ("input", "runs"):
                    shutil.rmtree(work / sub, ignore_errors=True)
            conf = dict(kv.split("=", 1) for kv in args.spark_conf if "=" in kv)
            measured = measure(cfg, files, args.sample, work, seed=args.seed, master=args.master,
                               spark_conf=conf, pipeline_file=str(args.pipeline))
        finally:
            if not args.output:
                shutil.rmtree(work, ignore_errors=True)
        result = model.estimate(measured)
    except (configlib.ConfigError, JobError, OutputRefused, pipeline.PipelineError, EstimateError) as exc:
        return report("estimate", exc)
    print(model.render(result), flush=True)
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(result.to_json() + "\n")
    return 0

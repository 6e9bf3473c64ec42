"""The thin Spark adapter every job shares: arguments, config, session, inputs, progress.

A job subclasses :class:`SparkJob`, declares its config dataclass and implements ``run``. The same
``main()`` serves ``spark-submit spark_jobs/<job>.py …``, ``python -m spark_jobs.<job> …`` and the
``curate <job> …`` sub-command, so the three never drift apart.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import sys
import threading
import time
from typing import Any, ClassVar

from curation import config as configlib
from curation import fsutil, verb_inputs
from curation.errors import CurateError, JobError, damaged_parquet_error, report

log = logging.getLogger("curate")


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("py4j", "trafilatura", "urllib3", "htmldate", "charset_normalizer", "httpx", "httpcore"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


def spark_env() -> None:
    """Executors must run this interpreter (the venv's), and local Spark must stay on loopback."""
    os.environ.setdefault("PYSPARK_PYTHON", sys.executable)
    os.environ.setdefault("PYSPARK_DRIVER_PYTHON", sys.executable)
    os.environ.setdefault("SPARK_LOCAL_IP", "127.0.0.1")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")


def under_spark_submit() -> bool:
    return "PYSPARK_GATEWAY_PORT" in os.environ


@contextlib.contextmanager
def session(app_name: str, master: str | None = None, conf: dict[str, str] | None = None):
    """A Spark session for one run, stopped afterwards — unless the caller already had one (a
    notebook, a test), which is reused and left running."""
    spark_env()
    from pyspark.sql import SparkSession

    owned = SparkSession.getActiveSession() is None
    spark = get_session(app_name, master, conf)
    try:
        yield spark
    finally:
        if owned:
            spark.stop()


#: Byte cap of an Arrow batch sent to Python workers (see get_session).
ARROW_BATCH_BYTES = 2 * 2**20


def get_session(app_name: str, master: str | None = None, conf: dict[str, str] | None = None):
    spark_env()
    from pyspark.sql import SparkSession

    builder = SparkSession.builder.appName(app_name)
    if master is None and not under_spark_submit():
        master = "local[*]"
    if master:
        builder = builder.master(master)
    defaults = {
        "spark.sql.execution.arrow.pyspark.enabled": "true",
        "spark.sql.session.timeZone": "UTC",
        "spark.python.worker.reuse": "true",
        # Progress is logged by StageProgress; the console bar floods non-interactive logs.
        "spark.ui.showConsoleProgress": "false",
        # Arrow batches handed to Python are cut at this many bytes as well as at a job's
        # batch_rows: without it a batch of long documents (and the worker and JVM buffers that
        # hold it) grows with document length, so executor memory would depend on the input.
        # 2 MiB is hundreds of web pages: per-batch overhead stays well under 1% of the work.
        "spark.sql.execution.arrow.maxBytesPerBatch": str(ARROW_BATCH_BYTES),
        # Page CRCs on every Parquet page written, verified on every page read: a page damaged
        # between stages fails the read, naming the file, instead of feeding altered text onward
        # (see curation.schema.PARQUET_WRITE_OPTIONS for the files written outside Spark).
        "spark.hadoop.parquet.page.write-checksum.enabled": "true",
        "spark.hadoop.parquet.page.verify-checksum.enabled": "true",
    }
    if master and master.startswith("local"):
        # Local runs: no web UI (one less port, faster start), everything on loopback.
        defaults.update({"spark.ui.enabled": "false", "spark.driver.host": "127.0.0.1",
                         "spark.driver.bindAddress": "127.0.0.1"})
    for key, value in {**defaults, **(conf or {})}.items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    if spark.conf.get(MIN_PARTITIONS_KEY, None) is None:  # a user's setting wins
        # Spark packs a stage's input files into read partitions of up to 128 MB, aiming at one
        # partition per core (minPartitionNum defaults to the parallelism). A stage's files are a
        # few MB each, so on 2 cores 72 of them became partitions of 22/22/22/6 files, and the
        # short last wave left a core idle for most of the stage (bench/scaling.py at 2x: 2.18
        # per doubling). Aiming at several partitions per core bounds that idle tail to a small
        # share of the stage. Small inputs get at most a partition per file (Spark counts each
        # file as at least spark.sql.files.openCostInBytes, 4 MB), so the extra tasks stay few.
        parallelism = spark.sparkContext.defaultParallelism
        spark.conf.set(MIN_PARTITIONS_KEY, str(PARTITIONS_PER_CORE * parallelism))
    return spark


MIN_PARTITIONS_KEY = "spark.sql.files.minPartitionNum"
#: Read partitions per core that get_session aims at (see there).
PARTITIONS_PER_CORE = 4


JSON_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".jsonl.bz2", ".json.bz2")


def read_documents(spark, src: str | list[str], fmt: str = "auto"):
    """Parquet or JSON lines (one path, folder or glob, or a list of them) → DataFrame with at least
    ``id`` and ``text`` (all columns kept)."""
    paths = [src] if isinstance(src, str) else list(src)
    src = paths[0] if len(paths) == 1 else " ".join(paths)  # as messages quote it
    if fmt == "auto":
        fmt = "jsonl" if all(_looks_like_json(p) for p in paths) else "parquet"
    try:
        if fmt == "jsonl":
            # PERMISSIVE: a line that is not JSON (or not UTF-8) becomes a row of nulls with the raw
            # line in _corrupt_record, so it is written and counted like any other row.
            docs = spark.read.option("mode", "PERMISSIVE").option("recursiveFileLookup", "true").json(paths)
            # Spark keeps a corrupt line's raw bytes, which may not be UTF-8; Parquet readers such as
            # DuckDB then refuse the whole file. Make every string column valid (U+FFFD), keep the row.
            from pyspark.sql import functions as F

            docs = docs.select(*[F.make_valid_utf8(c).alias(c) if t == "string" else F.col(c)
                                 for c, t in docs.dtypes])
        else:
            docs = spark.read.parquet(*paths)
    except Exception as exc:  # AnalysisException: path missing or not this format
        raise JobError(f"cannot read {fmt} documents from {src!r}: {exc}".splitlines()[0]) from exc
    missing = [c for c in ("id", "text") if c not in docs.columns]
    if missing:
        raise JobError(f"{src!r}: documents need columns id and text; missing {', '.join(missing)} (have {', '.join(docs.columns)})")
    if dict(docs.dtypes)["text"] != "string":
        raise JobError(f"{src!r}: column text must be a string, got {dict(docs.dtypes)['text']}")
    return docs


def _looks_like_json(src: str) -> bool:
    if src.endswith(JSON_SUFFIXES):
        return True
    if fsutil.is_uri(src) or not os.path.isdir(fsutil.local_path(src)):
        return False
    names = [n for _, _, files in os.walk(fsutil.local_path(src)) for n in files if not n.startswith((".", "_"))]
    return bool(names) and all(n.endswith(JSON_SUFFIXES) for n in names)


class StageProgress:
    """Logs "n/N tasks done" of the running Spark stages every few seconds (also without a TTY)."""

    def __init__(self, spark, label: str, total: int, every_s: float = 5.0):
        self._tracker = spark.sparkContext.statusTracker()
        self._label, self._total, self._every = label, total, every_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._start = time.monotonic()

    def __enter__(self) -> StageProgress:
        self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self._stop.set()
        self._thread.join(timeout=2)

    def _loop(self) -> None:
        last = -1
        while not self._stop.wait(self._every):
            try:
                done = running = 0
                for sid in self._tracker.getActiveStageIds():
                    info = self._tracker.getStageInfo(sid)
                    if info:
                        done += info.numCompletedTasks
                        running += info.numActiveTasks
            except Exception:  # progress must never break the job
                continue
            if done != last:
                elapsed = time.monotonic() - self._start
                log.info("%s: %d/%d done, %d running, %.0fs elapsed", self._label, done, self._total, running, elapsed)
                last = done


class SparkJob:
    """Base class: subclasses set ``name``, ``config_cls`` and implement ``add_arguments``/``run``.

    ``add_arguments`` declares the input with :func:`curation.verb_inputs.add_input_arguments`
    (positional ``INPUT…`` or ``--input``, gathered in ``args.input``), so every verb reads its
    input alike and :func:`execute` can check it before Spark starts."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    config_cls: ClassVar[type]
    #: A ``--set`` override valid for this job's config, shown in its ``--help``.
    set_example: ClassVar[str] = "batch_rows=500"
    #: One command line that runs the job, shown at the end of its ``--help``.
    example: ClassVar[str] = ""

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # pragma: no cover - overridden
        pass

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        """Job flags that are shorthands for ``--set`` overrides."""
        return []

    def run(self, spark, args: argparse.Namespace, cfg: Any) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def inputs(self, args: argparse.Namespace, cfg: Any) -> list[str]:
        """The data this run reads, as given (checked to exist before Spark starts)."""
        return verb_inputs.given(args) if hasattr(args, "input") else []

    def build_parser(self, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
        parser = parser or argparse.ArgumentParser(prog=f"{self.name}", description=self.description)
        if parser.description is None:
            parser.description = self.description
        if self.example and parser.epilog is None:
            parser.epilog = f"example:\n  {self.example}"
            parser.formatter_class = argparse.RawDescriptionHelpFormatter  # the command as typed, unwrapped
        parser.add_argument("--config", help=f"YAML config file (defaults: spark_jobs/configs/{self.name}.yaml)")
        parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                            help=f"override a config value, e.g. --set {self.set_example} (repeatable)")
        parser.add_argument("--master", help="Spark master (default local[*]; ignored under spark-submit)")
        parser.add_argument("--spark-conf", action="append", default=[], metavar="KEY=VALUE",
                            help="extra Spark configuration, e.g. spark.executor.memory=4g (repeatable)")
        parser.add_argument("-v", "--verbose", action="store_true")
        self.add_arguments(parser)
        return parser

    def load_config(self, args: argparse.Namespace) -> Any:
        cfg = configlib.load(self.config_cls, args.config, [*self.overrides_from_args(args), *args.overrides])
        # Rows per Arrow batch: Spark takes 0 or less as "no limit", i.e. whole partitions in memory.
        batch_rows = getattr(cfg, "batch_rows", 1)
        if batch_rows < 1:
            raise configlib.ConfigError(f"batch_rows must be >= 1, got {batch_rows}")
        return cfg

    def execute(self, args: argparse.Namespace) -> int:
        return execute(self, args)

    def main(self, argv: list[str] | None = None) -> int:
        args = self.build_parser().parse_args(argv)
        configure_logging(args.verbose)
        return self.execute(args)


def check_inputs(job: Any, args: argparse.Namespace, cfg: Any) -> None:
    """Every local input of the run exists, before any Spark session starts (one that does not
    would otherwise fail only after Spark's start-up); InputError naming it. A plugin's adapter
    without :meth:`SparkJob.inputs` is checked on ``args.input`` when it has one."""
    if hasattr(job, "inputs"):
        items = job.inputs(args, cfg)
    else:
        value = getattr(args, "input", None)
        items = [value] if isinstance(value, str) else list(value or [])
    verb_inputs.check_exist(items)


def execute(job: Any, args: argparse.Namespace) -> int:
    """Run one stage adapter from parsed arguments: its config, then its ``run`` inside a Spark session.

    A module function rather than only a SparkJob method because a plugin's adapter need only have
    ``name``, ``build_parser``, ``load_config`` and ``run`` (the shape ``curate run`` calls); its
    parser may leave out ``--master`` and ``--spark-conf``."""
    try:
        cfg = job.load_config(args)
        check_inputs(job, args, cfg)
    except (configlib.ConfigError, verb_inputs.InputError) as exc:
        return report(job.name, exc)
    conf = dict(kv.split("=", 1) for kv in getattr(args, "spark_conf", []) if "=" in kv)
    with session(f"curate-{job.name}", getattr(args, "master", None), conf) as spark:
        try:
            return job.run(spark, args, cfg)
        except CurateError as exc:  # JobError, OutputRefused, a model or tokenizer file...
            return report(job.name, exc)
        except Exception as exc:
            damaged = damaged_parquet_error(exc)
            if damaged is None:
                raise
            return report(job.name, f"{damaged}; rewrite it with the job that made it")

"""The thin Spark adapter every job shares: arguments, config, session, inputs, progress.

A job subclasses :class:`SparkJob`, declares its config dataclass and implements ``run``. The same
``main()`` serves ``spark-submit spark_jobs/<job>.py …``, ``python -m spark_jobs.<job> …`` and the
``curate <job> …`` sub-command, so the three never drift apart.
"""

from __future__ import annotations

import argparse
import contextlib
import glob as globlib
import gzip
import logging
import os
import re
import sys
import threading
import time
from typing import Any, ClassVar

from curation import config as configlib
from curation import fsutil
from curation.output_dir import OutputRefused

log = logging.getLogger("curate")

#: Suffixes of web-archive files picked up when an input is a directory.
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz")
#: Inputs with these names are manifests: one path or glob per line.
MANIFEST_SUFFIXES = (".txt", ".paths", ".paths.gz", ".manifest")


class JobError(Exception):
    """A user error (bad input, bad config): reported as one line, exit code 2."""


def configure_logging(verbose: bool = False) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("py4j", "trafilatura", "urllib3", "htmldate", "charset_normalizer"):
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


def damaged_parquet_error(exc: BaseException) -> str | None:
    """One line for a read that failed a Parquet page CRC (or, on local and HDFS files, Hadoop's own
    .crc side file), naming the file; None for any other error.

    Such a file was damaged after it was written (disk, copy, object store): no record in it can be
    trusted or counted, so the job stops instead of counting them as errors.
    """
    text = str(exc)
    if "checksum verification failed" not in text and "ChecksumException" not in text:
        return None
    found = re.search(r"(?:reading file|Checksum error:) (\S+?\.parquet)", text)
    where = found.group(1) if found else "a Parquet file"
    return f"a Parquet page in {where} failed its checksum (damaged after it was written)"


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
    return spark


def expand_inputs(inputs: list[str], spark=None) -> list[str]:
    """Paths, directories, globs and manifests → a sorted, de-duplicated list of files.

    Local inputs are expanded in Python; URIs (s3a://, hdfs://, …) with Hadoop's ``globStatus`` on
    the driver, so they honour the cluster's Hadoop configuration. A manifest's relative lines are
    relative to the manifest's folder. An input that matches nothing is an error, not a silent skip.
    """
    files: list[str] = []
    for item in inputs:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        if item.startswith("@") or item.endswith(MANIFEST_SUFFIXES):
            files.extend(expand_inputs(_read_manifest(item.lstrip("@")), spark))
            continue
        # Any URI (file: included) goes through Hadoop when a session is at hand: one code path
        # for s3a://, hdfs:// and local URIs, which lets local tests exercise it.
        found = _expand_uri(item, spark) if "://" in item and (spark or fsutil.is_uri(item)) else _expand_local(item)
        if not found:
            raise JobError(f"input {item!r} matches no file")
        files.extend(found)
    return sorted(dict.fromkeys(files))


def _read_manifest(path: str) -> list[str]:
    try:
        raw = fsutil.open_input(path).read()
    except (OSError, FileNotFoundError) as exc:
        raise JobError(f"cannot read manifest {path!r}: {exc}") from exc
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    base = os.path.dirname(fsutil.local_path(path)) if not fsutil.is_uri(path) else None
    lines = []
    for line in raw.decode("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if base and not fsutil.is_uri(line) and not os.path.isabs(line):
            line = os.path.join(base, line)
        lines.append(line)
    if not lines:
        raise JobError(f"manifest {path!r} lists no input")
    return lines


def _expand_local(item: str) -> list[str]:
    """A local file, folder or glob → real paths (symlinks resolved, so a file reached by two paths
    is read once). An existing path is never a glob: ``crawl[1].warc.gz`` is that file."""
    path = fsutil.local_path(item)
    if os.path.isdir(path):
        found = [f for f in walk_files(path) if f.endswith(ARCHIVE_SUFFIXES)]
    elif os.path.isfile(path):
        found = [path]
    elif not globlib.has_magic(path):
        found = []
    elif "**" in path:
        found = _glob_recursive(path)
    else:  # one level per pattern part: finite whatever the links
        found = [p for p in globlib.glob(path) if os.path.isfile(p)]
    return [os.path.realpath(f) for f in found]


def walk_files(root: str):
    """Every file below ``root`` in sorted order, following folder symlinks but entering each real
    folder once: a loop (``self -> .``) or two links to one folder cannot repeat files or recurse
    without end. (glob's ``**`` follows loops until the OS gives up: one file became 81 inputs.)"""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                yield full


def _glob_recursive(pattern: str) -> list[str]:
    """``**`` globs over :func:`walk_files`: the pattern's fixed leading folders are the root; the
    rest is matched against each file's relative path (``**`` = zero or more folders; ``*``, ``?``
    and ``[…]`` stay within one name and, as in glob, do not match a leading dot)."""
    parts = pattern.split("/")
    fixed = 0
    while fixed < len(parts) and not globlib.has_magic(parts[fixed]):
        fixed += 1
    root = "/".join(parts[:fixed]) or "/"
    regex = ""
    rest = parts[fixed:]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        if part == "**":
            regex += r"(?:(?!\.)[^/]+/)*(?!\.)[^/]+" if last else r"(?:(?!\.)[^/]+/)*"
        else:
            regex += _name_regex(part) + ("" if last else "/")
    matcher = re.compile(regex + r"\Z", re.DOTALL)
    if not os.path.isdir(root):
        return []
    return [f for f in walk_files(root) if matcher.match(os.path.relpath(f, root))]


def _name_regex(part: str) -> str:
    out = "" if part.startswith(".") else r"(?!\.)"
    i = 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and part.find("]", i + 2) != -1:  # a "]" right after "[" is a member
            end = part.find("]", i + 2)
            body = part[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def _expand_uri(item: str, spark) -> list[str]:
    if spark is None:
        raise JobError(f"{item!r}: URIs are expanded through Spark's Hadoop filesystem; no session given")
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(item)
    fs = path.getFileSystem(hconf)
    statuses = fs.globStatus(path) or []
    out = []
    for status in statuses:
        if status.isDirectory():
            it = fs.listFiles(status.getPath(), True)
            while it.hasNext():
                p = it.next().getPath().toString()
                if p.endswith(ARCHIVE_SUFFIXES):
                    out.append(p)
        else:
            out.append(status.getPath().toString())
    return out


JSON_SUFFIXES = (".jsonl", ".json", ".ndjson", ".jsonl.gz", ".json.gz", ".jsonl.bz2", ".json.bz2")


def read_documents(spark, src: str, fmt: str = "auto"):
    """Parquet or JSON lines → DataFrame with at least ``id`` and ``text`` (all columns kept)."""
    if fmt == "auto":
        fmt = "jsonl" if _looks_like_json(src) else "parquet"
    try:
        if fmt == "jsonl":
            # PERMISSIVE: a line that is not JSON (or not UTF-8) becomes a row of nulls with the raw
            # line in _corrupt_record, so it is written and counted like any other row.
            docs = spark.read.option("mode", "PERMISSIVE").option("recursiveFileLookup", "true").json(src)
            # Spark keeps a corrupt line's raw bytes, which may not be UTF-8; Parquet readers such as
            # DuckDB then refuse the whole file. Make every string column valid (U+FFFD), keep the row.
            from pyspark.sql import functions as F

            docs = docs.select(*[F.make_valid_utf8(c).alias(c) if t == "string" else F.col(c)
                                 for c, t in docs.dtypes])
        else:
            docs = spark.read.parquet(src)
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
    """Base class: subclasses set ``name``, ``config_cls`` and implement ``add_arguments``/``run``."""

    name: ClassVar[str]
    description: ClassVar[str] = ""
    config_cls: ClassVar[type]

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:  # pragma: no cover - overridden
        pass

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        """Job flags that are shorthands for ``--set`` overrides."""
        return []

    def run(self, spark, args: argparse.Namespace, cfg: Any) -> int:  # pragma: no cover - overridden
        raise NotImplementedError

    def build_parser(self, parser: argparse.ArgumentParser | None = None) -> argparse.ArgumentParser:
        parser = parser or argparse.ArgumentParser(prog=f"{self.name}", description=self.description)
        parser.add_argument("--config", help=f"YAML config file (defaults: spark_jobs/configs/{self.name}.yaml)")
        parser.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                            help="override a config value, e.g. --set extract.time_limit_s=5 (repeatable)")
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
        try:
            cfg = self.load_config(args)
        except configlib.ConfigError as exc:
            log.error("config error: %s", exc)
            return 2
        conf = dict(kv.split("=", 1) for kv in args.spark_conf if "=" in kv)
        with session(f"curate-{self.name}", args.master, conf) as spark:
            try:
                return self.run(spark, args, cfg)
            except (JobError, OutputRefused) as exc:
                log.error("%s: %s", self.name, exc)
                return 2
            except Exception as exc:
                damaged = damaged_parquet_error(exc)
                if damaged is None:
                    raise
                log.error("%s: %s; rewrite it with the job that made it", self.name, damaged)
                return 2

    def main(self, argv: list[str] | None = None) -> int:
        args = self.build_parser().parse_args(argv)
        configure_logging(args.verbose)
        return self.execute(args)

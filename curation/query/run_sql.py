"""Read-only SQL over a run directory: ``curate sql RUN "SELECT …"`` and ``curate catalog RUN``.

RUN may also be one stage output folder, one Parquet file or a glob of them (a view named after the
file, or after the folder its shards or the glob's fixed part are in), given as the positional or
as ``--input`` (:mod:`curation.verb_inputs`, as for every verb).

The one access layer the CLI, the notebooks and the dashboard share, so every reader sees the same
table names and the same safety rules:

* :func:`discover_tables` names one view per Parquet table in the run (``annotate``, ``mix``,
  ``ablate_runs``, ``ablations_abl1_runs``, ``seeds``…).
* :func:`connect` gives an in-memory DuckDB connection with those views, sandboxed by DuckDB itself:
  files can only be read inside the run directory (``allowed_directories`` +
  ``enable_external_access = false``, checked by DuckDB on the canonical path, so ``..`` and
  symlinks that point outside are refused), no extension can be installed or loaded, and the
  configuration is locked so a query cannot undo any of it.
* :func:`query` additionally refuses, before executing anything, every statement that is not a
  plain read (DuckDB's sandbox still lets a ``COPY … TO`` write *inside* the run directory, and a
  run is evidence that must not be edited from a query box).
* :func:`write_catalog` writes a ``catalog.duckdb`` with the same views, for any DuckDB client.
* :class:`Limits` bound what one query may cost: a time limit (a watchdog thread calls
  ``con.interrupt()``) and a memory limit (DuckDB's ``memory_limit``, the watchdog again for what
  DuckDB does not track, and in ``curate sql`` the process's data size, see :func:`process_memory_cap`).
  A person typing SQL can write a cross join as easily as a count; it must end with one line,
  not with a machine out of memory.

Two defences, because each covers a hole in the other: the statement check cannot see what a
``SELECT`` reads (``read_text('/etc/passwd')`` is a SELECT), and the sandbox cannot stop writes
inside the allowed directory.
"""

from __future__ import annotations

import argparse
import glob as globlib
import json
import os
import re
import shutil
import sys
import tempfile
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager, nullcontext
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

from curation import fsutil, verb_inputs
from curation.errors import CurateError, report
from curation.output_dir import OutputRefused
from curation.query import confine

#: Statement types a query may have. SHOW / DESCRIBE / SUMMARIZE / FROM-first / VALUES / WITH all
#: parse as SELECT. PRAGMA and CALL are refused: most PRAGMAs are settings in disguise
#: (``PRAGMA enable_profiling``, ``PRAGMA threads``), CALL runs arbitrary table functions (and
#: ``CHECKPOINT`` parses as CALL); everything they show is also reachable with a SELECT
#: (``SHOW TABLES``, ``SELECT * FROM pragma_version()``). EXPLAIN is allowed only around a SELECT,
#: because ``EXPLAIN ANALYZE`` executes the statement it explains.
ALLOWED = (duckdb.StatementType.SELECT,)
#: Parquet file names that are shards of one folder-wide table (Spark, pyarrow and DuckDB writers);
#: any other ``name.parquet`` is a table of its own (``ablate/runs.parquet`` → ``ablate_runs``).
SHARD = re.compile(r"^(part|data)[-_]")
#: Folders never scanned: hidden ones and Spark's half-written ``_temporary`` attempts.
SKIP_DIRS = re.compile(r"^(\.|_temporary$)")
CATALOG_FILE = "catalog.duckdb"
DEFAULT_LIMIT = 10_000
#: Default per-query time limit. Every aggregate the dashboard shows over a 100,000-document run
#: takes under 2 s, so a console query still running after a minute is almost always an accidental
#: cross join; a real long analysis raises it (``--timeout-s 0`` for none) or uses a notebook.
DEFAULT_TIMEOUT_S = 60.0
#: Default memory limit. Enough for a GROUP BY over tens of millions of rows (DuckDB spills sorts,
#: joins and aggregates to its temp folder beyond it) and small enough that a runaway query cannot
#: push a laptop, or the dashboard's server beside its other sessions, into swap or the OOM killer.
DEFAULT_MEMORY_LIMIT = "2GB"
#: Cap on what DuckDB spills to its private temp folder, so a query cannot fill the disk either.
MAX_TEMP_SIZE = "4GB"
#: What a process may grow by beyond the memory limit before the watchdog stops the query:
#: DuckDB's own untracked overhead, Arrow batches and Python objects (a 64MB limit measured +50 MB).
RSS_SLACK_BYTES = 256 * 2**20
#: How often the watchdog looks at the clock and the process size.
WATCH_EVERY_S = 0.05
_UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9, "tb": 10**12,
          "kib": 2**10, "mib": 2**20, "gib": 2**30, "tib": 2**40}
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-z]*)\s*$", re.IGNORECASE)

_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^()]*\)\s*)?(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)


class SqlError(CurateError, ValueError):
    """A query that cannot run or did not finish, said in one line (``curate sql`` exits 2)."""


class ReadOnlyError(SqlError):
    """The SQL is not a single read-only statement; nothing was executed."""


class LimitError(SqlError):
    """The query ran past its time or memory limit and was stopped."""


def parse_size(text: str) -> int:
    """``2GB`` → 2_000_000_000, ``512MiB`` → 536_870_912 (DuckDB's units: KB = 1000, KiB = 1024)."""
    m = _SIZE.match(str(text))
    unit = m.group(2).lower() if m else None
    if m is None or unit not in _UNITS or float(m.group(1)) <= 0:
        raise ValueError(f"not a memory size: {text!r} (e.g. 2GB, 512MB, 1GiB)")
    return int(float(m.group(1)) * _UNITS[unit])


@dataclass(frozen=True)
class Limits:
    """What one query may cost; the flags are named in the message when a limit is hit."""

    #: Seconds before the query is interrupted; None or 0: no time limit.
    timeout_s: float | None = DEFAULT_TIMEOUT_S
    #: DuckDB size string (``2GB``, ``512MiB``): DuckDB's ``memory_limit``, and the most the
    #: process may grow by while the query runs (plus :data:`RSS_SLACK_BYTES`) or its result hold.
    memory_limit: str = DEFAULT_MEMORY_LIMIT
    timeout_flag: str = "--timeout-s"
    memory_flag: str = "--memory-limit"

    def __post_init__(self) -> None:
        parse_size(self.memory_limit)  # a typo fails here, not as a DuckDB error mid-query

    @property
    def memory_bytes(self) -> int:
        return parse_size(self.memory_limit)

    def time_message(self) -> str:
        return f"query stopped after {self.timeout_s:g} s ({self.timeout_flag})"

    def memory_message(self) -> str:
        return f"query needed more than {self.memory_limit} ({self.memory_flag})"


@dataclass(frozen=True)
class QueryResult:
    table: pa.Table
    #: True when the statement had more than ``limit`` rows and only the first ``limit`` are here.
    truncated: bool


# --- discovery ---------------------------------------------------------------------------------


def _identifier(rel: str) -> str:
    name = re.sub(r"[^0-9a-z_]+", "_", rel.lower())
    name = re.sub(r"_+", "_", name).strip("_") or "run"
    return f"t_{name}" if name[0].isdigit() else name


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def _glob_parts(spec: str) -> tuple[Path, tuple[str, ...]]:
    """A glob split into its fixed leading folders (canonical) and the pattern parts after them."""
    parts = Path(spec).parts
    fixed = next(i for i, part in enumerate(parts) if globlib.has_magic(part))
    return (Path(*parts[:fixed]) if fixed else Path.cwd()).resolve(), parts[fixed:]


def sandbox_root(target: str | Path) -> Path:
    """The one folder a query over ``target`` may read (canonical, as DuckDB checks it): the target
    itself when it is a folder; the folder of a Parquet file; a glob's fixed leading folders."""
    spec = str(target)
    path = Path(spec)
    if path.is_file():
        return path.resolve().parent
    if path.is_dir() or not globlib.has_magic(spec):
        return path.resolve()
    return _glob_parts(spec)[0]


def _file_tables(target: str) -> dict[str, str] | None:
    """The one view of a Parquet file (named after it, or after its folder for a ``part-…`` shard)
    or of a glob (named after its fixed folder); None when ``target`` is a folder."""
    path = Path(target)
    if path.is_dir():
        return None
    if path.is_file():
        if not path.name.endswith(".parquet"):
            raise FileNotFoundError(f"{target} is not a Parquet file: give a run directory, a stage folder, "
                                    "a .parquet file or a glob of them")
        real = path.resolve()
        stem = real.name[: -len(".parquet")]
        return {_identifier(real.parent.name if SHARD.match(real.name) else stem): real.as_posix()}
    if not globlib.has_magic(target):
        raise FileNotFoundError(f"run directory {target} does not exist (give a run directory, a stage folder, "
                                "a Parquet file or a glob)")
    root, rest = _glob_parts(target)
    pattern = root.joinpath(*rest).as_posix()
    if not any(f.endswith(".parquet") and os.path.isfile(f) for f in globlib.iglob(pattern, recursive=True)):
        raise FileNotFoundError(f"{target} matches no Parquet file")
    return {_identifier(root.name): pattern}


def discover_tables(run_dir: str | Path) -> dict[str, str]:
    """View name → absolute Parquet glob (or file) for every table in the run, sorted by name.

    A folder's ``part-*``/``data_*`` shards form one table named after the folder's path relative
    to the run (``annotate``, ``annotate/_dropped`` → ``annotate_dropped``); any other Parquet file
    is a table of its own (``seeds.parquet`` → ``seeds``, ``ablate/runs.parquet`` →
    ``ablate_runs``). Shards at the top of ``run_dir`` (when it is itself a stage output) take the
    folder's own name, and so does a file named like its folder (``scored/scored.parquet`` →
    ``scored``, not ``scored_scored``). Symlinked folders are not followed and files whose link
    points outside the run are ignored; JSON/YAML sidecars are not tables. ``run_dir`` may also be
    one Parquet file or a glob: one view (see :func:`_file_tables`).
    """
    single = _file_tables(str(run_dir))
    if single is not None:
        return single
    root = Path(run_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    own = confine.Confinement((root,))  # the dashboard's viewers use the same check
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not SKIP_DIRS.match(d))
        here = Path(dirpath)
        rel = here.relative_to(root).as_posix()
        files = sorted(f for f in filenames if f.endswith(".parquet") and not f.startswith((".", "_"))
                       and own.allows(here / f))
        # One shard prefix per folder (``part-`` from Spark/pyarrow, ``data_`` from DuckDB).
        prefix = next((SHARD.match(f).group(0) for f in files if SHARD.match(f)), None)
        if prefix:
            found.append((rel if rel != "." else root.name, f"{here.as_posix()}/{prefix}*.parquet"))
        for f in files:
            if prefix is None or not f.startswith(prefix):
                stem = f[: -len(".parquet")]
                name = stem if rel == "." else rel if stem == here.name else f"{rel}/{stem}"
                found.append((name, (here / f).as_posix()))
    tables: dict[str, str] = {}
    for rel, glob in sorted(found):
        name = base = _identifier(rel)
        n = 2
        while name in tables:  # ``a_b/`` and ``a/b/`` would collide: keep both, deterministically
            name, n = f"{base}_{n}", n + 1
        tables[name] = glob
    return dict(sorted(tables.items()))


def _view_sql(name: str, glob: str) -> str:
    return (f'CREATE OR REPLACE VIEW "{name}" AS SELECT * FROM read_parquet({_sql_string(glob)}, '
            "union_by_name = true, hive_partitioning = false)")


# --- connection --------------------------------------------------------------------------------


def _lock_down(con: duckdb.DuckDBPyConnection, root: Path) -> None:
    """DuckDB's own file sandbox, in the only order DuckDB accepts.

    ``allowed_directories`` must be set while external access is still on (DuckDB refuses to
    change it afterwards), and ``lock_configuration`` last, since it freezes every setting
    (``SET``/``RESET``/``PRAGMA`` of any option then fails) for this database and all its cursors.
    """
    con.execute(f"SET allowed_directories = [{_sql_string(str(root))}]")
    con.execute("SET enable_external_access = false")  # only allowed_directories can be read/written
    con.execute("SET autoinstall_known_extensions = false")  # no downloads…
    con.execute("SET autoload_known_extensions = false")  # …and no loading of anything installed
    con.execute("SET allow_community_extensions = false")
    con.execute("SET allow_persistent_secrets = false")
    try:
        con.execute("SET enable_progress_bar = false")  # a server's stderr is not a terminal
    except duckdb.Error:  # inside Jupyter DuckDB refuses to touch it without ipywidgets: harmless
        pass
    con.execute("SET lock_configuration = true")


def connect(run_dir: str | Path, *, threads: int | None = None, skip_unreadable: bool = False,
            limits: Limits | None = None) -> duckdb.DuckDBPyConnection:
    """An in-memory, sandboxed DuckDB connection with one view per table of the run.

    The sandbox is set before the views are created, so even binding a view (which reads Parquet
    footers) cannot touch a file outside the run. A table that cannot be read (a symlink to
    outside the run, a corrupt file) raises ``duckdb.Error`` naming it, or is left out with
    ``skip_unreadable`` (for a dashboard that should show what it can).

    Use :func:`query` for SQL typed by a person: this connection still accepts statements that
    write inside the run directory (``COPY … TO``). For threads, use ``con.cursor()`` per thread;
    cursors share the locked configuration. ``limits`` sets DuckDB's ``memory_limit`` (locked with
    the rest; it bounds every cursor together); without it DuckDB's default (80% of RAM) applies.
    """
    root = sandbox_root(run_dir)  # DuckDB checks canonical paths, so the allowed one must be too
    tables = discover_tables(run_dir)
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads or min(4, os.cpu_count() or 1))}")
    # DuckDB adds its temp directory (default ``./.tmp``, relative to the working directory) to the
    # allowed ones: point it at a private, empty folder instead, removed with the connection.
    tmp = tempfile.mkdtemp(prefix="curate-sql-")
    weakref.finalize(con, shutil.rmtree, tmp, True)
    con.execute(f"SET temp_directory = {_sql_string(tmp)}")
    con.execute(f"SET max_temp_directory_size = {_sql_string(MAX_TEMP_SIZE)}")
    if limits is not None:
        con.execute(f"SET memory_limit = '{limits.memory_bytes}B'")
    _lock_down(con, root)
    for name, glob in tables.items():
        try:
            con.execute(_view_sql(name, glob))
        except duckdb.Error as exc:
            if not skip_unreadable:
                raise type(exc)(f"table {name} ({glob}) cannot be read: {exc}") from exc
    return con


# --- queries -----------------------------------------------------------------------------------


def check_read_only(con: duckdb.DuckDBPyConnection, sql: str) -> None:
    """Raise :class:`ReadOnlyError` unless ``sql`` is exactly one read-only statement.

    Uses DuckDB's own parser (the one that will run it), so there is no second, diverging
    grammar to fool with comments, quoting or case.
    """
    try:
        kinds = [st.type for st in con.extract_statements(sql)]
    except duckdb.ParserException:
        raise
    except Exception as exc:  # e.g. a statement type the Python enum does not know
        raise ReadOnlyError(f"refused: cannot classify this statement ({exc})") from exc
    if len(kinds) != 1:
        raise ReadOnlyError(f"refused: expected exactly one statement, got {len(kinds)}")
    kind = kinds[0]
    if kind == duckdb.StatementType.EXPLAIN:
        m = _EXPLAIN.match(sql)
        if not m:
            raise ReadOnlyError("refused: EXPLAIN must be followed directly by a SELECT")
        try:
            check_read_only(con, m.group("rest"))
        except (ReadOnlyError, duckdb.ParserException) as exc:
            raise ReadOnlyError(f"refused: EXPLAIN of a non-read-only statement ({exc})") from exc
        return
    if kind not in ALLOWED:
        raise ReadOnlyError(f"refused: {kind.name} statements are not allowed; this is a read-only "
                            "connection (SELECT, WITH, FROM, SHOW, DESCRIBE, SUMMARIZE, EXPLAIN only)")


def _rss() -> int | None:
    """This process's resident memory (Linux); None where /proc is not there."""
    try:
        with open("/proc/self/statm") as f:
            return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return None


class _Watchdog(threading.Thread):
    """Interrupts the statement running on ``con`` when it runs past ``limits.timeout_s`` or the
    process grows by more than the memory limit (+ slack) while it runs. DuckDB's ``memory_limit``
    bounds what its buffer manager tracks, which is not every allocation (``repeat()`` of a huge
    string is not tracked), and a timer is the only way to end a query that never allocates."""

    def __init__(self, con: duckdb.DuckDBPyConnection, limits: Limits):
        super().__init__(name="curate-sql-watchdog", daemon=True)
        self.con, self.limits = con, limits
        self.done = threading.Event()
        self.hit: str | None = None  # "time" or "memory" once it interrupted the query
        base = _rss()
        self.rss_cap = None if base is None else base + limits.memory_bytes + RSS_SLACK_BYTES

    def run(self) -> None:
        deadline = time.monotonic() + self.limits.timeout_s if self.limits.timeout_s else float("inf")
        while not self.done.wait(WATCH_EVERY_S):
            if time.monotonic() >= deadline:
                self.hit = "time"
            elif self.rss_cap is not None and (_rss() or 0) > self.rss_cap:
                self.hit = "memory"
            else:
                continue
            self.con.interrupt()  # a no-op once the statement has finished
            return

    def __enter__(self) -> _Watchdog:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.done.set()
        self.join()


def _translate(exc: BaseException, watchdog: _Watchdog | None, limits: Limits | None) -> BaseException:
    """The user error for what stopped a query, or ``exc`` itself for ordinary SQL errors."""
    if limits is not None and watchdog is not None and watchdog.hit == "time":
        return LimitError(limits.time_message())
    memory = (watchdog is not None and watchdog.hit == "memory") or isinstance(exc, (duckdb.OutOfMemoryException, MemoryError))
    if limits is not None and (memory or "Out of Memory Error" in str(exc)):
        return LimitError(limits.memory_message())
    if isinstance(exc, duckdb.Error):
        return exc
    # A DuckDB error raised while Arrow pulls a later batch arrives as an OSError (e.g. a file
    # that a glob matched but the sandbox refuses): the same one line, without Arrow's wrapping.
    return SqlError(str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__)


def query(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None = DEFAULT_LIMIT,
          limits: Limits | None = None) -> QueryResult:
    """Run one read-only statement and return at most ``limit`` rows (``None``: all).

    Raises :class:`ReadOnlyError` (nothing executed) for anything but a read, :class:`LimitError`
    when ``limits`` stopped it (time, memory, or a result larger than the memory limit),
    :class:`SqlError` for a failure while streaming, and ``duckdb.Error`` for SQL errors,
    including ``PermissionException`` for files outside the run.
    """
    check_read_only(con, sql)
    watchdog = _Watchdog(con, limits) if limits is not None else None
    try:
        with watchdog or nullcontext():
            return _fetch(con, sql, limit, limits)
    except (duckdb.Error, OSError, MemoryError) as exc:
        raise _translate(exc, watchdog, limits) from exc


def _fetch(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None, limits: Limits | None) -> QueryResult:
    # Stream and stop after limit + 1 rows, so a ``SELECT *`` over a big run does not materialise,
    # and stop at the memory limit, so neither does ``--limit 0`` over a cross join.
    rel = con.sql(sql)
    reader = rel.to_arrow_reader(max(1, min(limit + 1, 65_536)) if limit is not None else 65_536)
    batches, rows, size = [], 0, 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        size += batch.nbytes
        if limits is not None and size > limits.memory_bytes:
            raise LimitError(limits.memory_message())
        if limit is not None and rows > limit:
            break
    table = pa.Table.from_batches(batches, schema=reader.schema)
    if limit is None:
        return QueryResult(table, False)
    return QueryResult(table.slice(0, limit), rows > limit)


@contextmanager
def process_memory_cap(limits: Limits) -> Iterator[None]:
    """While inside, this process's data may grow by at most the memory limit + 512 MiB (Linux
    ``RLIMIT_DATA``), so even an allocation DuckDB does not track fails with a clean out-of-memory
    error instead of taking the machine; the previous limit is restored after. For ``curate sql``,
    whose process runs one query; never around a server's query (its other threads would fail too:
    the dashboard relies on ``memory_limit`` and the watchdog)."""
    try:
        import resource

        with open("/proc/self/status") as f:
            vm_data = next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmData:"))
        before = resource.getrlimit(resource.RLIMIT_DATA)
    except (ImportError, OSError, StopIteration, ValueError):
        yield  # not Linux: DuckDB's memory_limit and the watchdog still apply
        return
    soft, hard = before
    cap = vm_data + limits.memory_bytes + 512 * 2**20
    if hard != resource.RLIM_INFINITY:
        cap = min(cap, hard)
    if soft != resource.RLIM_INFINITY and soft <= cap:
        yield  # already tighter
        return
    resource.setrlimit(resource.RLIMIT_DATA, (cap, hard))
    try:
        yield
    finally:
        resource.setrlimit(resource.RLIMIT_DATA, before)


# --- catalog -----------------------------------------------------------------------------------


def write_catalog(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write a DuckDB database holding one view per table of the run; return its path.

    Views hold ABSOLUTE paths: DuckDB resolves a relative path in a view against the working
    directory of whoever queries it, not against the database file, so relative paths would break
    for every client not started in the run directory. Rebuild the catalog if the run moves.
    Written to a temporary file and renamed, so a reader never sees half a catalog.
    """
    from curation.output_dir import claim_file  # beside its one use

    root = sandbox_root(run_dir)
    tables = discover_tables(run_dir)
    target = Path(path) if path is not None else root / CATALOG_FILE
    # Replacing a file is allowed only when it is a catalog written here (never a user's database).
    claim_file(str(target), "catalog", ours=is_catalog)
    target.parent.mkdir(parents=True, exist_ok=True)
    with fsutil.atomic_path(target) as tmp:
        try:
            con = duckdb.connect(tmp)
            try:
                # Bind the views under the same sandbox as connect(); settings are not stored in the file.
                con.execute(f"SET temp_directory = {_sql_string(str(target.parent.resolve() / '.tmp'))}")
                _lock_down(con, root)
                for name, glob in tables.items():
                    con.execute(_view_sql(name, glob))
                    con.execute(f'COMMENT ON VIEW "{name}" IS {_sql_string(CATALOG_MARK)}')
            finally:
                con.close()
        finally:
            Path(f"{tmp}.wal").unlink(missing_ok=True)
    return target


#: The comment on every view of a catalog: what shows that a database file is one curate wrote.
CATALOG_MARK = "curate-catalog v1"


def is_catalog(path: str | Path) -> bool:
    """A DuckDB file holding only views, each commented :data:`CATALOG_MARK` (so it can be rebuilt)."""
    try:
        con = duckdb.connect(str(path), read_only=True)
    except duckdb.Error:
        return False
    try:
        tables = con.execute("SELECT count(*) FROM duckdb_tables() WHERE NOT internal").fetchall()[0][0]
        comments = [r[0] for r in con.execute("SELECT comment FROM duckdb_views() WHERE NOT internal").fetchall()]
    except duckdb.Error:
        return False
    finally:
        con.close()
    return tables == 0 and bool(comments) and all(c == CATALOG_MARK for c in comments)


def catalog_counts(path: str | Path) -> dict[str, int]:
    """Row count of every view in a catalog file, opened read-only."""
    con = duckdb.connect(str(path), read_only=True)
    try:
        names = [r[0] for r in con.execute("SELECT view_name FROM duckdb_views() WHERE NOT internal ORDER BY 1").fetchall()]
        return {n: con.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}
    finally:
        con.close()


# --- CLI ---------------------------------------------------------------------------------------


def _cell(value: object, width: int = 60) -> str:
    text = "NULL" if value is None else str(value)
    text = text.replace("\n", "\\n")
    return text if len(text) <= width else text[: width - 1] + "…"


def render_table(table: pa.Table) -> str:
    """An aligned text table; long cells (document text) are cut at 60 characters."""
    rows = [[_cell(v) for v in row.values()] for row in table.to_pylist()]
    header = table.column_names
    widths = [max([len(h)] + [len(r[i]) for r in rows]) for i, h in enumerate(header)]

    def line(cells):
        return "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"

    out = [line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    return "\n".join(out)


def _write(result: QueryResult, fmt: str, stream) -> None:
    if fmt == "csv":
        import pyarrow.csv as pacsv

        table = result.table
        # CSV has no map/list/struct: write those as their JSON-ish text.
        for i, field in enumerate(table.schema):
            if pa.types.is_nested(field.type):
                table = table.set_column(i, field.name, pa.array([None if v is None else json.dumps(v, default=str)
                                                                  for v in table.column(i).to_pylist()], pa.string()))
        sink = pa.BufferOutputStream()
        pacsv.write_csv(table, sink)
        stream.write(sink.getvalue().to_pybytes().decode())
    elif fmt == "json":
        stream.write(json.dumps(result.table.to_pylist(), default=str, ensure_ascii=False, indent=1) + "\n")
    else:
        stream.write(render_table(result.table) + "\n")


def add_sql_arguments(p: argparse.ArgumentParser) -> None:
    verb_inputs.add_input_arguments(p, "a run directory, one stage output folder, a Parquet file or a glob",
                                    dest="run_dir", metavar="RUN", one=True)
    p.add_argument("sql", metavar="SQL", nargs="?", default=None,
                   help="one read-only statement (default: SHOW TABLES); tables are views named after the stage folders")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"at most this many rows (default {DEFAULT_LIMIT}; 0: all)")
    add_limit_arguments(p)


def memory_size(text: str) -> str:
    """argparse type for a memory size: checked here, kept as written (it is quoted in messages)."""
    try:
        parse_size(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text.strip()


def add_limit_arguments(p: argparse.ArgumentParser, prefix: str = "") -> None:
    """``--timeout-s`` and ``--memory-limit`` (``--sql-…`` with ``prefix="sql-"``, for the dashboard)."""
    p.add_argument(f"--{prefix}timeout-s", type=float, default=DEFAULT_TIMEOUT_S, metavar="S",
                   help=f"stop a query after S seconds (default {DEFAULT_TIMEOUT_S:g}; 0: no limit)")
    p.add_argument(f"--{prefix}memory-limit", type=memory_size, default=DEFAULT_MEMORY_LIMIT, metavar="SIZE",
                   help=f"stop a query that needs more memory than SIZE (default {DEFAULT_MEMORY_LIMIT}; e.g. 512MB, 8GB)")


def run_sql(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    limits = Limits(timeout_s=args.timeout_s or None, memory_limit=args.memory_limit)
    targets, sql = list(args.run_dir or []), args.sql
    if sql is None and len(targets) == 2:  # ``--input RUN "SELECT …"``: the positional was the SQL
        sql = targets.pop()
    try:
        target = verb_inputs.given(argparse.Namespace(run_dir=targets), "run_dir", one=True)[0]
        con = connect(target, limits=limits)
        try:
            with process_memory_cap(limits):
                result = query(con, sql or "SHOW TABLES", limit=args.limit or None, limits=limits)
        finally:
            con.close()
    except (SqlError, FileNotFoundError, duckdb.Error) as exc:
        return report("sql", exc, err)
    _write(result, args.format, out)
    if result.truncated:
        print(f"sql: showing the first {args.limit} rows (--limit N for more, 0 for all)", file=err)
    return 0


def add_catalog_arguments(p: argparse.ArgumentParser) -> None:
    verb_inputs.add_input_arguments(p, "a run directory, one stage output folder, a Parquet file or a glob",
                                    dest="run_dir", metavar="RUN", one=True)
    p.add_argument("--output", default=None, help=f"catalog file (default RUN/{CATALOG_FILE}, or beside the file)")


def run_catalog(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        path = write_catalog(verb_inputs.given(args, "run_dir", one=True)[0], args.output)
        counts = catalog_counts(path)
    except (FileNotFoundError, duckdb.Error, OSError, OutputRefused) as exc:
        return report("catalog", exc, err)
    width = max([len("view")] + [len(n) for n in counts])
    print(f"wrote {path} ({len(counts)} views; paths are absolute: rebuild it if the run moves)", file=out)
    print(f"{'view':<{width}}  {'rows':>10}", file=out)
    for name, n in counts.items():
        print(f"{name:<{width}}  {n:>10}", file=out)
    print(f'query it with: python -c "import duckdb; print(duckdb.connect(\'{path}\', read_only=True).sql(\'SELECT count(*) FROM {next(iter(counts), "...")}\'))"', file=out)
    return 0

"""Read-only SQL over a run directory: ``curate sql RUN "SELECT …"`` and ``curate catalog RUN``.

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

Two defences, because each covers a hole in the other: the statement check cannot see what a
``SELECT`` reads (``read_text('/etc/passwd')`` is a SELECT), and the sandbox cannot stop writes
inside the allowed directory.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import sys
import tempfile
import weakref
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pyarrow as pa

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

_EXPLAIN = re.compile(r"^\s*EXPLAIN\s+(?:ANALY[SZ]E\s+)?(?:\([^()]*\)\s*)?(?P<rest>.+)$", re.IGNORECASE | re.DOTALL)


class ReadOnlyError(ValueError):
    """The SQL is not a single read-only statement; nothing was executed."""


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


def _inside(path: Path, root: Path) -> bool:
    """Whether ``path`` (following symlinks) stays inside ``root`` (already resolved)."""
    try:
        return path.resolve().is_relative_to(root)
    except OSError:  # a symlink loop or a vanished file: not something to read
        return False


def _sql_string(s: str) -> str:
    return "'" + s.replace("'", "''") + "'"


def discover_tables(run_dir: str | Path) -> dict[str, str]:
    """View name → absolute Parquet glob (or file) for every table in the run, sorted by name.

    A folder's ``part-*``/``data_*`` shards form one table named after the folder's path relative
    to the run (``annotate``, ``annotate/_dropped`` → ``annotate_dropped``); any other Parquet file
    is a table of its own (``seeds.parquet`` → ``seeds``, ``ablate/runs.parquet`` →
    ``ablate_runs``). Shards at the top of ``run_dir`` (when it is itself a stage output) take the
    folder's own name. Symlinked folders are not followed and files whose link points outside the
    run are ignored; JSON/YAML sidecars are not tables.
    """
    root = Path(run_dir).resolve()
    if not root.is_dir():
        raise FileNotFoundError(f"run directory {run_dir} does not exist")
    found: list[tuple[str, str]] = []
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not SKIP_DIRS.match(d))
        here = Path(dirpath)
        rel = here.relative_to(root).as_posix()
        files = sorted(f for f in filenames if f.endswith(".parquet") and not f.startswith((".", "_"))
                       and _inside(here / f, root))
        # One shard prefix per folder (``part-`` from Spark/pyarrow, ``data_`` from DuckDB).
        prefix = next((SHARD.match(f).group(0) for f in files if SHARD.match(f)), None)
        if prefix:
            found.append((rel if rel != "." else root.name, f"{here.as_posix()}/{prefix}*.parquet"))
        for f in files:
            if prefix is None or not f.startswith(prefix):
                stem = f[: -len(".parquet")]
                found.append((stem if rel == "." else f"{rel}/{stem}", (here / f).as_posix()))
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


def connect(run_dir: str | Path, *, threads: int | None = None,
            skip_unreadable: bool = False) -> duckdb.DuckDBPyConnection:
    """An in-memory, sandboxed DuckDB connection with one view per table of the run.

    The sandbox is set before the views are created, so even binding a view (which reads Parquet
    footers) cannot touch a file outside the run. A table that cannot be read (a symlink to
    outside the run, a corrupt file) raises ``duckdb.Error`` naming it, or is left out with
    ``skip_unreadable`` (for a dashboard that should show what it can).

    Use :func:`query` for SQL typed by a person: this connection still accepts statements that
    write inside the run directory (``COPY … TO``). For threads, use ``con.cursor()`` per thread;
    cursors share the locked configuration.
    """
    root = Path(run_dir).resolve()  # DuckDB checks canonical paths, so the allowed one must be too
    tables = discover_tables(root)
    con = duckdb.connect(":memory:")
    con.execute(f"SET threads = {int(threads or min(4, os.cpu_count() or 1))}")
    # DuckDB adds its temp directory (default ``./.tmp``, relative to the working directory) to the
    # allowed ones: point it at a private, empty folder instead, removed with the connection.
    tmp = tempfile.mkdtemp(prefix="curate-sql-")
    weakref.finalize(con, shutil.rmtree, tmp, True)
    con.execute(f"SET temp_directory = {_sql_string(tmp)}")
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
    except Exception as exc:  # noqa: BLE001 - e.g. a statement type the Python enum does not know
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


def query(con: duckdb.DuckDBPyConnection, sql: str, limit: int | None = DEFAULT_LIMIT) -> QueryResult:
    """Run one read-only statement and return at most ``limit`` rows (``None``: all).

    Raises :class:`ReadOnlyError` (nothing executed) for anything but a read, and ``duckdb.Error``
    for SQL errors, including ``PermissionException`` for files outside the run.
    """
    check_read_only(con, sql)
    rel = con.sql(sql)
    if limit is None:
        return QueryResult(rel.to_arrow_table(), False)
    # Stream and stop after limit + 1 rows, so a ``SELECT *`` over a big run does not materialise.
    reader = rel.to_arrow_reader(max(1, min(limit + 1, 65_536)))
    batches, rows = [], 0
    for batch in reader:
        batches.append(batch)
        rows += batch.num_rows
        if rows > limit:
            break
    table = pa.Table.from_batches(batches, schema=reader.schema)
    return QueryResult(table.slice(0, limit), rows > limit)


# --- catalog -----------------------------------------------------------------------------------


def write_catalog(run_dir: str | Path, path: str | Path | None = None) -> Path:
    """Write a DuckDB database holding one view per table of the run; return its path.

    Views hold ABSOLUTE paths: DuckDB resolves a relative path in a view against the working
    directory of whoever queries it, not against the database file, so relative paths would break
    for every client not started in the run directory. Rebuild the catalog if the run moves.
    Written to a temporary file and renamed, so a reader never sees half a catalog.
    """
    root = Path(run_dir).resolve()
    tables = discover_tables(root)
    target = Path(path) if path is not None else root / CATALOG_FILE
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(f".{target.name}.tmp-{os.getpid()}")
    tmp.unlink(missing_ok=True)
    try:
        con = duckdb.connect(str(tmp))
        try:
            # Bind the views under the same sandbox as connect(); settings are not stored in the file.
            con.execute(f"SET temp_directory = {_sql_string(str(target.parent.resolve() / '.tmp'))}")
            _lock_down(con, root)
            for name, glob in tables.items():
                con.execute(_view_sql(name, glob))
        finally:
            con.close()
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)
        Path(f"{tmp}.wal").unlink(missing_ok=True)
    return target


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
    line = lambda cells: "| " + " | ".join(c.ljust(w) for c, w in zip(cells, widths)) + " |"  # noqa: E731
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
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory (or one stage output)")
    p.add_argument("sql", metavar="SQL", nargs="?", default="SHOW TABLES",
                   help="one read-only statement (default: SHOW TABLES); tables are views named after the stage folders")
    p.add_argument("--format", choices=["table", "csv", "json"], default="table")
    p.add_argument("--limit", type=int, default=DEFAULT_LIMIT, help=f"at most this many rows (default {DEFAULT_LIMIT}; 0: all)")


def run_sql(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        con = connect(args.run_dir)
        try:
            result = query(con, args.sql, limit=args.limit or None)
        finally:
            con.close()
    except (ReadOnlyError, FileNotFoundError, duckdb.Error) as exc:
        print(f"sql: {exc}", file=err)
        return 2
    _write(result, args.format, out)
    if result.truncated:
        print(f"sql: showing the first {args.limit} rows (--limit N for more, 0 for all)", file=err)
    return 0


def add_catalog_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("run_dir", metavar="RUN_DIR", help="a run directory")
    p.add_argument("--output", default=None, help=f"catalog file (default RUN_DIR/{CATALOG_FILE})")


def run_catalog(args: argparse.Namespace, out=None, err=None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        path = write_catalog(args.run_dir, args.output)
        counts = catalog_counts(path)
    except (FileNotFoundError, duckdb.Error, OSError) as exc:
        print(f"catalog: {exc}", file=err)
        return 2
    width = max([len("view")] + [len(n) for n in counts])
    print(f"wrote {path} ({len(counts)} views; paths are absolute: rebuild it if the run moves)", file=out)
    print(f"{'view':<{width}}  {'rows':>10}", file=out)
    for name, n in counts.items():
        print(f"{name:<{width}}  {n:>10}", file=out)
    print(f'query it with: duckdb {path} -c "SELECT count(*) FROM {next(iter(counts), "...")}"', file=out)
    return 0

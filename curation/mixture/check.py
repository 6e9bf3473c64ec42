"""What can be known about a mixture before its tokens are counted (``curate run --check``, and
``curate run`` the moment the stage that feeds the mixture has written its output).

* :func:`where_problem`: a source's ``where`` parsed and bound by DuckDB (``EXPLAIN`` over an empty
  table with the columns the mixture will read), so a typo or an unknown column fails in
  milliseconds rather than when Spark reaches the mix stage. The dialect is the one of
  :mod:`curation.mixture.source`: what DuckDB and Spark SQL both accept.
* :func:`check_budget`: the planner's own checks (:func:`curation.mixture.plan.plan`) on what is known
  before counting: positive total, unique names, shares in (0, 1] summing to 100%, positive epoch caps.
* :func:`count_sources` / :func:`empty_sources`: rows per source in a written documents folder (DuckDB
  over its Parquet/JSONL, the same ``where`` the mix job gives Spark), and a message naming each source
  that selects nothing, which the mix job would otherwise report as "has no tokens" only after counting.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from curation.mixture.plan import SourceBudget, plan
from curation.mixture.source import Source

#: Unique tokens assumed per source by :func:`check_budget` (large: epoch caps cannot be judged uncounted).
_UNCOUNTED = 10**18


class WhereError(ValueError):
    """A ``where`` that cannot run; ``kind`` is ``empty``, ``syntax``, ``column`` or ``function``."""

    def __init__(self, message: str, kind: str):
        super().__init__(message)
        self.kind = kind


def _first_lines(exc: BaseException) -> str:
    """DuckDB's message without its echo of the statement: the error line and its candidate bindings."""
    lines = [ln.strip() for ln in str(exc).splitlines() if ln.strip() and not ln.startswith(("LINE ", " "))]
    return "; ".join(ln for ln in lines if not set(ln) <= {"^"})[:300]


#: Columns as (name, DuckDB type), e.g. ``("lang", "VARCHAR")``: what a ``where`` is bound against.
Columns = Sequence[tuple[str, str]]


def arrow_columns(schema: Any) -> list[tuple[str, str]]:
    """A pyarrow schema as :data:`Columns` (DDL, not a registered Arrow table: that would import pandas)."""
    return [(f.name, _sql_type(f.type)) for f in schema]


def _sql_type(t: Any) -> str:
    import pyarrow as pa

    if pa.types.is_string(t) or pa.types.is_large_string(t):
        return "VARCHAR"
    if pa.types.is_boolean(t):
        return "BOOLEAN"
    if pa.types.is_integer(t):
        return ("U" if pa.types.is_unsigned_integer(t) else "") + {8: "TINYINT", 16: "SMALLINT", 32: "INTEGER", 64: "BIGINT"}[t.bit_width]
    if pa.types.is_floating(t):
        return "FLOAT" if t.bit_width <= 32 else "DOUBLE"
    if pa.types.is_timestamp(t):
        return "TIMESTAMP"
    if pa.types.is_date(t):
        return "DATE"
    if pa.types.is_binary(t) or pa.types.is_large_binary(t):
        return "BLOB"
    if pa.types.is_map(t):
        return f"MAP({_sql_type(t.key_type)}, {_sql_type(t.item_type)})"
    if pa.types.is_list(t) or pa.types.is_large_list(t):
        return f"{_sql_type(t.value_type)}[]"
    if pa.types.is_struct(t):
        return "STRUCT(" + ", ".join(f"{_ident(f.name)} {_sql_type(f.type)}" for f in t) + ")"
    return "VARCHAR"


def _ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def where_problem(where: str, columns: Columns) -> None:
    """Raise :class:`WhereError` when ``where`` does not parse or bind over a table of ``columns``;
    nothing is read. A function DuckDB lacks is kind ``function`` (Spark may still accept it: the
    caller may warn instead of failing)."""
    import duckdb

    if not where or not where.strip():
        raise WhereError("where is empty (leave it out for the kept rows: drop_reason IS NULL)", "empty")
    con = duckdb.connect()
    try:
        con.execute(f"CREATE TABLE docs ({', '.join(f'{_ident(n)} {t}' for n, t in columns)})")
        # One statement only: 'x; DROP ...' is a syntax error here, as in Spark's filter().
        con.execute(f"EXPLAIN SELECT count(*) FROM docs WHERE ({where})")
    except duckdb.ParserException as exc:
        raise WhereError(f"does not parse: {_first_lines(exc)}", "syntax") from exc
    except duckdb.BinderException as exc:
        raise WhereError(f"does not bind to the documents' columns: {_first_lines(exc)}", "column") from exc
    except duckdb.CatalogException as exc:
        raise WhereError(f"uses something DuckDB does not know: {_first_lines(exc)}", "function") from exc
    except duckdb.Error as exc:
        raise WhereError(_first_lines(exc), "syntax") from exc
    finally:
        con.close()


def check_budget(sources: Sequence[Source], shares: Sequence[float], total_tokens: int, on_cap: str = "error") -> None:
    """The plan's checks that need no counts, by the planner itself (raises PlanError/ValueError)."""
    plan([SourceBudget.of(s, share, _UNCOUNTED) for s, share in zip(sources, shares)], total_tokens, on_cap=on_cap)


# ------------------------------------------------------------------------------------- written data
def documents_reader(path: str) -> str | None:
    """A DuckDB table expression for a documents path (Parquet or JSONL: a file, a folder of part files
    or a glob, as the mix job reads them), or None when nothing is there to read."""
    def quoted(p: str) -> str:
        return "'" + p.replace("'", "''") + "'"

    if os.path.isdir(path):
        files = [f for f in glob.glob(os.path.join(path, "**", "*"), recursive=True)
                 if os.path.isfile(f) and not os.path.basename(f).startswith((".", "_"))]
    else:
        files = sorted(glob.glob(path)) if glob.has_magic(path) else ([path] if os.path.isfile(path) else [])
    parquet = [f for f in files if f.endswith(".parquet")]
    if parquet:
        return f"read_parquet([{', '.join(quoted(f) for f in sorted(parquet))}], union_by_name = true)"
    jsonl = [f for f in files if f.endswith((".jsonl", ".json", ".jsonl.gz", ".json.gz"))]
    if jsonl:
        return f"read_json_auto([{', '.join(quoted(f) for f in sorted(jsonl))}], format = 'newline_delimited')"
    return None


def read_columns(path: str) -> list[tuple[str, str]] | None:
    """The :data:`Columns` of a documents path (None when it holds no documents); reads footers only."""
    import duckdb

    reader = documents_reader(path)
    if reader is None:
        return None
    with duckdb.connect() as con:
        return [(r[0], r[1]) for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()]


@dataclass(frozen=True)
class SourceCount:
    name: str
    where: str
    #: Rows the ``where`` selects, and of those the ones with any non-blank text (a token to count).
    rows: int
    with_text: int


@dataclass(frozen=True)
class Counted:
    path: str
    total: int
    #: Rows with no drop_reason (None when the documents have no such column).
    kept: int | None
    sources: tuple[SourceCount, ...]


def count_sources(path: str, sources: Sequence[Source], *, threads: int = 2) -> Counted:
    """Rows per source in one scan of ``path`` (each source's ``where``, as the mix job filters it)."""
    import duckdb

    reader = documents_reader(path)
    if reader is None:
        raise FileNotFoundError(f"{path}: no Parquet or JSONL documents to read")
    with duckdb.connect(config={"threads": threads}) as con:
        cols = {r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {reader}").fetchall()}
        text = "coalesce(trim(CAST(text AS VARCHAR)), '') <> ''" if "text" in cols else "TRUE"
        exprs = ["count(*)", "count(*) FILTER (WHERE drop_reason IS NULL)" if "drop_reason" in cols else "NULL"]
        for s in sources:
            exprs += [f"count(*) FILTER (WHERE ({s.where}))", f"count(*) FILTER (WHERE ({s.where}) AND {text})"]
        row = con.execute(f"SELECT {', '.join(exprs)} FROM {reader}").fetchone()
    counts = tuple(SourceCount(s.name, s.where, int(row[2 + 2 * i]), int(row[3 + 2 * i])) for i, s in enumerate(sources))
    return Counted(path, int(row[0]), None if row[1] is None else int(row[1]), counts)


def empty_sources(counted: Counted, what: str = "") -> list[str]:
    """One message per source that selects no row with text, naming the source, its ``where`` and
    what the documents hold; ``what`` names them (e.g. ``decontaminate's output``)."""
    held = f"{counted.total:,} rows" + (f", {counted.kept:,} kept" if counted.kept is not None else "")
    where_from = what or counted.path
    out = []
    for c in counted.sources:
        if c.rows == 0:
            out.append(f"mixture source {c.name!r} selects no rows of {where_from} ({held}): where {c.where!r}")
        elif c.with_text == 0:
            out.append(f"mixture source {c.name!r} selects {c.rows:,} rows of {where_from}, all with empty text: "
                       f"where {c.where!r}")
    return out


def describe(counted: Counted) -> str:
    """``web_reasoning 4, web_knowledge 3, web_multilingual 0`` (rows with text per source)."""
    return ", ".join(f"{c.name} {c.with_text:,}" for c in counted.sources)

"""Streamlit glue shared by the pages: which run, one cached connection, cached aggregates.

The SQL itself lives in :mod:`dashboards.queries` (plain functions, tested without Streamlit);
this module only decides what is cached and for how long. The connection is a resource (one per
run directory, shared by every session; each query takes its own cursor, since a DuckDB
connection is not safe to use from two threads at once) and aggregates are data (keyed by the run
directory and their arguments), so only the first page load pays for a scan of the documents.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import duckdb
import pandas as pd
import streamlit as st

from curation import rundir
from curation.query import confine, run_sql
from curation.query import funnel as funnel_mod
from dashboards import docview, queries

RUN_DIR_ENV = "CURATE_RUN_DIR"
#: Aggregates are recomputed at most this often, so a run that is still being written shows up.
TTL_S = 600


def run_dir() -> Path | None:
    """``streamlit run app.py -- RUN_DIR`` (Streamlit passes what follows ``--`` as sys.argv[1:]),
    else ``$CURATE_RUN_DIR``. argv only counts when this process runs the app script itself: under
    a test runner sys.argv belongs to the runner."""
    if Path(sys.argv[0]).name == "app.py" and len(sys.argv) > 1 and not sys.argv[1].startswith("-"):
        return Path(sys.argv[1]).expanduser().resolve()
    env = os.environ.get(RUN_DIR_ENV)
    return Path(env).expanduser().resolve() if env else None


def require_run_dir() -> Path:
    """The run directory, or a clear message and a stop of the page."""
    rd = run_dir()
    if rd is None:
        st.error(f"No run directory: start with `curate dashboard RUN_DIR` (or set {RUN_DIR_ENV}).")
        st.stop()
    if not rd.is_dir():
        st.error(f"Run directory {rd} does not exist.")
        st.stop()
    return rd


@st.cache_data(ttl=TTL_S, show_spinner=False)
def confinement(run: str) -> confine.Confinement:
    """The folders this run's files may be opened in (:func:`dashboards.docview.confinement`);
    cached because it reads the run's recorded inputs (one per WARC file of a big crawl)."""
    return docview.confinement(Path(run))


def read_json(run: Path, path: Path) -> tuple[dict | None, str | None]:
    """(a JSON side file of the run, None), (None, None) when missing or malformed, or (None, the
    refusal) when it resolves outside the run (a symlink): pages show that line instead."""
    try:
        return queries.read_json(path, confinement(str(run))), None
    except confine.OutsideRunError as exc:
        return None, str(exc)


@st.cache_resource(show_spinner=False)
def _connection(run: str) -> duckdb.DuckDBPyConnection:
    # skip_unreadable: one corrupt table should not take the whole dashboard down.
    return run_sql.connect(run, skip_unreadable=True)


def cursor(run: Path) -> duckdb.DuckDBPyConnection:
    return _connection(str(run)).cursor()


def sql_limits() -> run_sql.Limits:
    """The SQL page's per-query limits: ``curate dashboard --sql-timeout-s/--sql-memory-limit``
    (passed to this server in the environment), else ``curate sql``'s defaults."""
    from dashboards.launch import SQL_MEMORY_ENV, SQL_TIMEOUT_ENV

    timeout = float(os.environ.get(SQL_TIMEOUT_ENV) or run_sql.DEFAULT_TIMEOUT_S)
    memory = os.environ.get(SQL_MEMORY_ENV) or run_sql.DEFAULT_MEMORY_LIMIT
    return run_sql.Limits(timeout or None, memory, timeout_flag="--sql-timeout-s", memory_flag="--sql-memory-limit")


@st.cache_resource(show_spinner=False)
def _sql_connection(run: str, limits: run_sql.Limits) -> duckdb.DuckDBPyConnection:
    # A database of its own for typed SQL: its memory_limit bounds the console's queries (all
    # sessions together) without squeezing the pages' cached aggregates, and a console query
    # cannot see or replace the pages' internal tables.
    return run_sql.connect(run, skip_unreadable=True, limits=limits)


def sql_cursor(run: Path) -> tuple[duckdb.DuckDBPyConnection, run_sql.Limits]:
    """A cursor for the SQL page and the limits to run its query with."""
    limits = sql_limits()
    return _sql_connection(str(run), limits).cursor(), limits


@st.cache_data(ttl=TTL_S, show_spinner=False)
def tables(run: str) -> dict[str, str]:
    return run_sql.discover_tables(run)


def doc_view(run: Path) -> str | None:
    return queries.doc_view(tables(str(run)))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def columns(run: str, view: str) -> dict[str, str]:
    return queries.columns(cursor(Path(run)), view)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def token_counter(run: str) -> funnel_mod.TokenCounter:
    """How this run's tokens are counted: the run's mixture tokenizer, else the shipped default,
    else whitespace words (labelled so), as ``curate funnel`` does."""
    return queries.token_counter(Path(run))


@st.cache_data(ttl=TTL_S, show_spinner="Counting tokens…")
def token_table(run: str, view: str) -> str:
    """The view's documents without their text, with each one's token count (``n_tokens``):
    tokenizing is the expensive part of every token query, so it runs once per run (and TTL), and
    the Funnel and Scores aggregates (both populations) read this small in-memory table."""
    return queries.token_table(cursor(Path(run)), view, token_counter(run))


@st.cache_data(ttl=TTL_S, show_spinner="Counting documents and tokens…")
def funnel(run: str, view: str):
    return queries.funnel(cursor(Path(run)), token_table(run, view), Path(run), token_counter(run))


@st.cache_data(ttl=TTL_S, show_spinner=False)
def extract_accounting(run: str) -> dict | None:
    """Extract's ``_accounting.json``: records read and the outcomes decided per record."""
    return queries.extract_accounting(Path(run))


@st.cache_data(ttl=TTL_S, show_spinner="Binning every score…")
def score_histograms(run: str, view: str, kept_only: bool, langs: tuple[str, ...] = ()):
    return queries.score_histograms(cursor(Path(run)), token_table(run, view), kept_only, langs)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def annotate_config(run: str) -> dict | None:
    """The annotate stage's ``_config.yaml``: its steps, the classifier cuts and keep_dropped."""
    return queries.stage_config(Path(run), "annotate")


def annotate_accounting(run: str) -> dict | None:
    """The annotate stage's ``_accounting.json`` (None when missing or outside the run)."""
    return read_json(Path(run), Path(run) / "annotate" / rundir.ACCOUNTING)[0]


def classifier_drops(run: str, view: str) -> tuple[pd.DataFrame, bool]:
    """(:func:`dashboards.queries.classifier_drops` for the run, whether it counts rows).

    From the cached funnel when annotate kept its dropped rows (no new scan). An annotate stage run
    without keep_dropped wrote only kept rows, so the documents its steps dropped are nowhere in the
    data: their counts then come from its ``_accounting.json`` (every outcome, documents only)."""
    cfg, acc = annotate_config(run), annotate_accounting(run)
    by_outcome = (acc or {}).get("by_outcome")
    if cfg is not None and not cfg.get("keep_dropped", False) and isinstance(by_outcome, dict):
        counts = {str(k): v for k, v in by_outcome.items() if isinstance(v, int)}
        counted = pd.DataFrame({"outcome": list(counts), "docs": list(counts.values()), "tokens": float("nan")})
        return queries.classifier_drops(counted, cfg, acc), False
    return queries.classifier_drops(funnel(run, view), cfg, acc), True


@st.cache_data(ttl=TTL_S, show_spinner=False)
def outcomes(run: str, view: str):
    return queries.outcomes(cursor(Path(run)), view)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def sample(run: str, view: str, outcome: str, n: int, seed: int):
    return queries.sample(cursor(Path(run)), view, outcome, n, seed)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def document(run: str, view: str, doc_id: str) -> dict | None:
    return queries.document(cursor(Path(run)), view, doc_id)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def cluster(run: str, view: str, cluster_id: str, limit: int = 4):
    """(size, first ``limit`` members) of a duplicate cluster."""
    cur = cursor(Path(run))
    return queries.cluster_size(cur, view, cluster_id), queries.cluster_members(cur, view, cluster_id, limit)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def decontam_by_benchmark(run: str, view: str):
    return queries.decontam_by_benchmark(cursor(Path(run)), view)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def contaminated_docs(run: str, view: str):
    return queries.contaminated_docs(cursor(Path(run)), view)


@st.cache_data(ttl=TTL_S, show_spinner=False)
def catalog(run: str):
    return queries.catalog(cursor(Path(run)), tables(run))


def reload_button() -> None:
    """Sidebar button: forget cached tables and aggregates (after a stage or an ablation wrote)."""
    if st.sidebar.button("Reload data", help="Re-read the run directory (new tables, changed files)"):
        st.cache_data.clear()
        _connection.clear()
        _sql_connection.clear()
        st.rerun()

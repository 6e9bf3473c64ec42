"""SQL: a read-only DuckDB console over the run's tables (``curation.query.run_sql.query``), each query
bounded in time and memory (``curate dashboard --sql-timeout-s/--sql-memory-limit``)."""

from __future__ import annotations

import duckdb
import streamlit as st

from curation.query import run_sql
from dashboards import data, queries

st.title("SQL")
run = data.require_run_dir()
tables = data.tables(str(run))
view = queries.doc_view(tables) or next(iter(tables), "annotate")

EXAMPLES = {
    "Tables": "SHOW TABLES",
    "Funnel": f"SELECT coalesce(drop_reason, 'kept') AS outcome, count(*) AS docs\nFROM {view}\nGROUP BY 1 ORDER BY 2 DESC",
    "Languages of kept documents": f"SELECT lang, count(*) AS docs\nFROM {view}\nWHERE drop_reason IS NULL\nGROUP BY 1 ORDER BY 2 DESC",
    "Score quantiles": (f"SELECT k AS score, count(*) AS docs, quantile_cont(v, [0.1, 0.5, 0.9]) AS p10_p50_p90\n"
                        f"FROM (SELECT unnest(map_keys(scores)) AS k, unnest(map_values(scores)) AS v FROM {view})\n"
                        "GROUP BY 1 ORDER BY 1"),
    "Largest duplicate clusters": (f"SELECT dup_cluster, count(*) AS members\nFROM {view}\nWHERE dup_cluster IS NOT NULL\n"
                                   "GROUP BY 1 ORDER BY 2 DESC LIMIT 20"),
    "Contaminated documents": (f"SELECT id, decontam_benchmark, decontam_item, decontam_ratio\nFROM {view}\n"
                               "WHERE decontam_status = 'contaminated'\nORDER BY decontam_ratio DESC"),
}


def _use_example() -> None:
    st.session_state["sql_text"] = EXAMPLES[st.session_state["sql_example"]]


st.selectbox("Example", list(EXAMPLES), key="sql_example", on_change=_use_example, index=None,
             placeholder="Pick an example query")
sql = st.text_area("Query (one read-only statement)", value=EXAMPLES["Funnel"], height=160, key="sql_text")
c1, c2 = st.columns([1, 4])
limit = c2.number_input("Row limit", 1, 100_000, 1000, key="sql_limit")
if c1.button("Run", type="primary", key="sql_run") or st.session_state.get("sql_last") is None:
    st.session_state["sql_last"] = sql
try:
    cur, limits = data.sql_cursor(run)
    result = run_sql.query(cur, st.session_state["sql_last"], limit=int(limit), limits=limits)
except run_sql.ReadOnlyError as exc:
    st.error(f"Refused, nothing was executed: {exc}")
except (run_sql.SqlError, ValueError) as exc:  # a limit hit, a failure while streaming, a bad limit setting
    st.error(str(exc))
except duckdb.Error as exc:
    st.error(f"{type(exc).__name__}: {exc}")
else:
    st.dataframe(result.table.to_pandas(), hide_index=True, width="stretch", key="sql_result")
    st.caption(f"{result.table.num_rows:,} rows" + (f" (the first {int(limit):,}; raise the limit for more)" if result.truncated else ""))

st.subheader("Tables")
cat = data.catalog(str(run))
for name, glob in tables.items():
    with st.expander(f"{name}  —  {glob}"):
        st.dataframe(cat[cat["table"] == name][["column", "type"]], hide_index=True, width="stretch")

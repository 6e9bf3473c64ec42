"""Scores: any key of the ``scores`` map, its histogram, and what a threshold would keep.

The histogram is binned in DuckDB once per population (all keys in one scan); the threshold
slider moves over the fine bins' edges, so what it keeps is a sum of bins: no score is recomputed
and no query runs when it moves.
"""

from __future__ import annotations

import streamlit as st

from dashboards import data, queries

st.title("Scores")
run = data.require_run_dir()
view = data.doc_view(run)
keys_available = view is not None and "scores" in data.columns(str(run), view)
if not keys_available:
    st.info("No `scores` column in this run yet (the annotate stage records it).")
    st.stop()

kept_only = st.checkbox("Only documents the pipeline kept", value=False, key="scores_kept_only",
                        help="Off: every document that has the score (also those a later step dropped).")
hists = data.score_histograms(str(run), view, kept_only)
if not hists:
    st.info("No document in this population has a score.")
    st.stop()
key = st.selectbox("Score", sorted(hists), key="scores_key")
h = hists[key]

k = st.select_slider("Keep documents with score ≥", options=list(range(queries.FINE_BINS)), value=0,
                     format_func=lambda i: f"{h.edge(i):.4g}", key=f"scores_threshold_{key}")
threshold = h.edge(k)
docs, tokens = h.kept(k)
scored_docs, scored_tokens = int(h.docs.sum()), int(h.tokens.sum())
c1, c2, c3 = st.columns(3)
c1.metric("Threshold", f"{threshold:.6g}")
c2.metric("Documents kept", f"{docs:,}", f"{100 * docs / max(1, scored_docs):.1f}% of {scored_docs:,}", delta_color="off")
c3.metric("Tokens kept", f"{tokens:,}", f"{100 * tokens / max(1, scored_tokens):.1f}% of {scored_tokens:,}", delta_color="off")
if h.missing_docs:
    st.caption(f"{h.missing_docs:,} documents ({h.missing_tokens:,} tokens) of this population have no `{key}` "
               "score (dropped before the step that records it): not counted above.")
sql = f"SELECT count(*) FROM {view} WHERE scores['{key}'] >= {threshold!r}" + (" AND drop_reason IS NULL" if kept_only else "")
st.caption(f"Range {h.lo:.6g} … {h.hi:.6g} in {queries.FINE_BINS} bins of {h.width:.4g}. Same number in SQL: `{sql}`")

coarse = h.coarse(50)
coarse["side"] = ["kept" if s >= threshold - 1e-12 * max(1.0, abs(threshold)) else "below" for s in coarse["bin_start"]]
measure = st.radio("Histogram of", ["docs", "tokens"], horizontal=True, key="scores_measure")
st.bar_chart(coarse, x="bin_start", y=measure, color="side", x_label=key, y_label=measure)

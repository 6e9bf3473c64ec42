"""Scores: where the classifiers dropped documents; any key of the ``scores`` map, its histogram,
the cut the run's annotate config applied to it, and what a threshold would keep.

The drops table regroups the funnel's cached aggregate (shared with the Funnel page), so it scans
nothing. The histogram is binned in DuckDB once per population (all keys in one scan); the threshold
slider moves over the fine bins' edges, so what it keeps is a sum of bins: no score is recomputed
and no query runs when it moves.
"""

from __future__ import annotations

import altair as alt
import pandas as pd
import streamlit as st

from dashboards import data, queries

st.title("Scores")
run = data.require_run_dir()
view = data.doc_view(run)
keys_available = view is not None and "scores" in data.columns(str(run), view)
if not keys_available:
    st.info("No `scores` column in this run yet (the annotate stage records it).")
    st.stop()

cfg = data.annotate_config(str(run))
cuts = queries.score_cuts(cfg, data.annotate_accounting(str(run)))

st.subheader("Dropped by classifiers")
drops, from_rows = data.classifier_drops(str(run), view)
if not drops.empty:
    st.dataframe(drops, hide_index=True, width="stretch", key="scores_classifier_drops",
                 column_config={"% of reached": st.column_config.NumberColumn(format="%.2f%%")})
    tokens = drops["tokens"].sum() if from_rows else None
    st.caption(f"{int(drops['docs'].sum()):,} documents" + (f" ({int(tokens):,} tokens)" if tokens is not None else "")
               + " dropped by a selection on a classifier score (reasons `score_threshold_v*` and `top_fraction.*`). "
               "*reached*: the documents no earlier step dropped, i.e. that step's input; the share is of those."
               + ("" if from_rows else " The annotate stage ran without `keep_dropped`, so its dropped rows are not "
                  "in the data: these are the documents counted in its `_accounting.json` (tokens unknown)."))
elif cuts:
    st.info("The classifier selection dropped nothing: " + "; ".join(f"`{c.step}` {c.rule()}" for c in cuts) + ".")
elif cfg is None:
    st.info("No annotate `_config.yaml` in this run, and no document was dropped by a classifier selection.")
else:
    st.info("No classifier selection in this run's annotate config (no `score_threshold_v*` step, no `top_fraction`): "
            "the classifiers only recorded scores.")

st.subheader("Distribution")
kept_only = st.checkbox("Only documents the pipeline kept", value=False, key="scores_kept_only",
                        help="Off: every document that has the score (also those a later step dropped).")
hists = data.score_histograms(str(run), view, kept_only)
if not hists:
    st.info("No document in this population has a score.")
    st.stop()
key = st.selectbox("Score", sorted(hists), key="scores_key")
h = hists[key]

# The cuts the pipeline applied to this score. A cut judging some languages only is compared with
# the documents it judged when the box is ticked (the others keep any score).
key_cuts = [c for c in cuts if c.score == key]
langs = next((c.languages for c in key_cuts if c.languages), ())
if langs and st.checkbox(f"Only {', '.join(langs)} documents (the languages the configured cut judges)",
                         value=False, key="scores_cut_langs"):
    h = data.score_histograms(str(run), view, kept_only, langs).get(key)
    if h is None:
        st.info(f"No {', '.join(langs)} document in this population has a `{key}` score.")
        st.stop()
else:
    langs = ()
cut = next((c for c in key_cuts if c.min_score is not None), None)
if key_cuts:
    outside = cut is not None and not h.lo <= cut.min_score <= h.hi
    st.caption("The run's annotate config: " + "; ".join(f"`{c.step}` {c.rule()}" for c in key_cuts)
               + ". The dashed rule marks it" + (", and the slider starts at the bin edge nearest it" if cut else "")
               + (f" (outside this population's range {h.lo:.6g} … {h.hi:.6g})" if outside else "") + ".")

k = st.select_slider("Keep documents with score ≥", options=list(range(queries.FINE_BINS)),
                     value=h.bin_at(cut.min_score) if cut else 0,
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
sql = (f"SELECT count(*) FROM {view} WHERE scores['{key}'] >= {threshold!r}" + (" AND drop_reason IS NULL" if kept_only else "")
       + (f" AND {queries.lang_in(langs)}" if langs else ""))
st.caption(f"Range {h.lo:.6g} … {h.hi:.6g} in {queries.FINE_BINS} bins of {h.width:.4g}. Same number in SQL: `{sql}`")

coarse = h.coarse(50)
coarse["side"] = ["kept" if s >= threshold - 1e-12 * max(1.0, abs(threshold)) else "below" for s in coarse["bin_start"]]
measure = st.radio("Histogram of", ["docs", "tokens"], horizontal=True, key="scores_measure")
bars = alt.Chart(coarse).mark_bar().encode(
    x=alt.X("bin_start:Q", title=key), x2="bin_end:Q", y=alt.Y(f"{measure}:Q", title=measure),
    color=alt.Color("side:N", scale=alt.Scale(domain=["kept", "below"])),
    tooltip=["bin_start", "bin_end", "docs", "tokens"])
# One dashed rule per bound the pipeline applied (a top_fraction cut without a recorded threshold has none).
marks = pd.DataFrame([{"cut": v, "rule": f"{c.step}: {c.rule()}"} for c in key_cuts
                      for v in (c.min_score, c.max_score) if v is not None], columns=["cut", "rule"])
rules = alt.Chart(marks).mark_rule(strokeDash=[6, 3], strokeWidth=2, color="#d62728").encode(
    x="cut:Q", tooltip=["rule:N", "cut:Q"])
st.altair_chart(alt.layer(bars, rules) if len(marks) else bars, width="stretch")

"""Funnel: documents and tokens per stage and drop reason, optionally for some languages only."""

from __future__ import annotations

import streamlit as st

from dashboards import data, queries

st.title("Filtering funnel")
run = data.require_run_dir()
view = data.doc_view(run)
if view is None:
    st.info("This run has no document stage yet (extract, annotate, dedup or decontaminate).")
    st.stop()

raw = data.funnel(str(run), view)
langs = sorted(raw["lang"].fillna("(none)").unique())
chosen = st.multiselect("Languages", langs, default=[], placeholder="All languages", key="funnel_langs",
                        help="Rows dropped before language identification have no language: (none).")
table = queries.funnel_view(raw, chosen)
docs, tokens = int(table["docs"].sum()), int(table["tokens"].sum())
kept = table[table["outcome"] == queries.KEPT]
kept_docs = int(kept["docs"].sum())
kept_tokens = int(kept["tokens"].sum())

c1, c2, c3, c4 = st.columns(4)
c1.metric("Documents", f"{docs:,}")
c2.metric("Kept documents", f"{kept_docs:,}", f"{100 * kept_docs / max(1, docs):.1f}%", delta_color="off")
c3.metric("Tokens", f"{tokens:,}")
c4.metric("Kept tokens", f"{kept_tokens:,}", f"{100 * kept_tokens / max(1, tokens):.1f}%", delta_color="off")
st.caption(f"From the `{view}` stage (the latest: rows dropped upstream pass through it). "
           "Tokens are " + ("the `n_tokens` column." if "n_tokens" in data.columns(str(run), view)
                            else "whitespace words, as in `curate funnel`."))

st.dataframe(table, hide_index=True, width="stretch", key="funnel_table",
             column_config={"docs %": st.column_config.NumberColumn(format="%.2f%%"),
                            "tokens %": st.column_config.NumberColumn(format="%.2f%%")})

by_stage = table.groupby("stage", sort=False)[["docs", "tokens"]].sum()
st.subheader("Per stage")
st.bar_chart(by_stage, y="docs", horizontal=True, sort=False)

if not chosen:
    st.subheader("Per language")
    per_lang = raw.assign(lang=raw["lang"].fillna("(none)"), kept=raw["outcome"] == queries.KEPT)
    pivot = per_lang.pivot_table(index="lang", columns="kept", values="docs", aggfunc="sum", fill_value=0)
    pivot = pivot.rename(columns={True: "kept", False: "dropped"})
    st.bar_chart(pivot, horizontal=True)

"""Funnel: records read, documents and tokens per stage and drop reason, optionally for some languages only.

Two bases, as ``curate funnel`` prints them: records read (every WARC record) and documents (the
records extraction ran on); a kept share is a share of documents. The table is
:func:`dashboards.queries.funnel_view`, the CLI's shares."""

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
counter = data.token_counter(str(run))
unit = counter.unit
langs = sorted(raw["lang"].fillna("(none)").unique())
chosen = st.multiselect("Languages", langs, default=[], placeholder="All languages", key="funnel_langs",
                        help="Rows dropped before language identification have no language: (none).")
bases = queries.funnel_bases(raw, data.extract_accounting(str(run)), chosen)
table = queries.funnel_view(raw, chosen, bases, unit)
kept = table[table["outcome"] == queries.KEPT]
kept_docs = int(kept["records"].sum())
kept_tokens = int(kept[unit].sum())

c1, c2, c3, c4, c5 = st.columns(5)
c1.metric("Records read", f"{bases.records:,}",
          help="Every WARC record (requests, metadata, revisits and responses)" if not chosen
          else "Rows of the chosen languages")
c2.metric("Documents", f"{bases.documents:,}", f"{100 * bases.documents / max(1, bases.records):.1f}% of records",
          delta_color="off", help="The records extraction ran on: 2xx HTML responses and WET conversions")
c3.metric("Kept documents", f"{kept_docs:,}", f"{100 * kept_docs / max(1, bases.documents):.1f}% of documents",
          delta_color="off")
c4.metric(unit.capitalize(), f"{bases.tokens:,}")
c5.metric(f"Kept {unit}", f"{kept_tokens:,}", f"{100 * kept_tokens / max(1, bases.tokens):.1f}%", delta_color="off")
notes = [f"From the `{view}` stage (the latest: rows dropped upstream pass through it); records read and "
         f"documents from {bases.source}."]
if "n_tokens" in data.columns(str(run), view):
    notes.append("Tokens are the `n_tokens` column.")
else:
    notes.append(f"{unit.capitalize()} counted with {counter.name} ({counter.why}), as in `curate funnel`."
                 + (" Not tokens: Japanese, Chinese and Thai put no spaces between words." if counter.words else ""))
if chosen:
    notes.append("With a language filter the bases are the chosen languages' rows.")
st.caption(" ".join(notes))

st.dataframe(table, hide_index=True, width="stretch", key="funnel_table",
             column_config={c: st.column_config.NumberColumn(format="%.2f%%") for c in table.columns if c.startswith("% ")})

by_stage = table.groupby("stage", sort=False)[["records", unit]].sum()
st.subheader("Per stage")
st.bar_chart(by_stage, y="records", horizontal=True, sort=False)

if not chosen:
    st.subheader("Per language")
    per_lang = raw.assign(lang=raw["lang"].fillna("(none)"), kept=raw["outcome"] == queries.KEPT)
    pivot = per_lang.pivot_table(index="lang", columns="kept", values="docs", aggfunc="sum", fill_value=0)
    pivot = pivot.rename(columns={True: "kept", False: "dropped"})
    st.bar_chart(pivot, horizontal=True)

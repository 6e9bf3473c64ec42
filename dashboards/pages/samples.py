"""Samples: random documents per outcome, and one document in detail.

For the chosen document: its extracted text beside the raw HTML of its WARC record, its scores,
the n-grams it shares with a benchmark item when decontamination flagged it, and the other members
of its duplicate cluster side by side.
"""

from __future__ import annotations

import json

import pandas as pd
import streamlit as st

from dashboards import data, docview

st.title("Samples")
run = data.require_run_dir()
view = data.doc_view(run)
if view is None:
    st.info("This run has no document stage yet.")
    st.stop()

outs = data.outcomes(str(run), view)
labels = {r.outcome: f"{r.outcome} ({r.docs:,})" for r in outs.itertuples()}
c1, c2, c3 = st.columns([3, 1, 1])
outcome = c1.selectbox("Outcome (drop reason)", list(labels), format_func=labels.get, key="samples_outcome")
n = c2.number_input("Documents", 1, 100, 10, key="samples_n")
seed = c3.number_input("Seed", 0, 1_000_000, 0, key="samples_seed")
docs = data.sample(str(run), view, outcome, int(n), int(seed))
st.dataframe(docs, hide_index=True, width="stretch", key="samples_table")

typed = st.text_input("Or a document id", key="samples_doc_id", placeholder="id of any document in the run")
ids = docs["id"].tolist()
if typed.strip():
    doc_id = typed.strip()
elif ids:
    doc_id = st.selectbox("Document", ids, key="samples_pick",
                          format_func=lambda i: f"{i[:12]}… {docs.set_index('id').at[i, 'url'] or ''}")
else:
    st.info("No document with this outcome.")
    st.stop()

doc = data.document(str(run), view, doc_id)
if doc is None:
    st.warning(f"No document with id {doc_id!r} in `{view}`.")
    st.stop()

st.subheader(doc.get("url") or doc_id)
meta = {k: doc.get(k) for k in ("id", "drop_reason", "error", "lang", "crawl_date", "content_type", "http_status",
                                "source_file", "source_offset", "dup_cluster", "decontam_status") if k in doc}
st.json(meta, expanded=False)

status = doc.get("decontam_status")
text = doc.get("text") or ""
spans = []
if status in ("contaminated", "partial"):
    st.warning(f"**{status}**: overlaps benchmark `{doc.get('decontam_benchmark')}` item `{doc.get('decontam_item')}` "
               f"(ratio {doc.get('decontam_ratio') or 0:.3f}, decided by the {doc.get('decontam_ngram')}-gram rule).")
    allowed = data.confinement(str(run))
    report, why = docview.read_report(run, allowed)
    item_text = None
    if report is not None:
        item_text, why = docview.benchmark_item(report, doc.get("decontam_benchmark"), doc.get("decontam_item"), allowed)
    if item_text is None:
        st.caption(f"Shared n-grams not highlighted: {why}.")
    else:
        n_gram = int(doc.get("decontam_ngram") or (report or {}).get("short_n", 7))
        ov = docview.overlap(text, item_text, n_gram)
        spans = ov.spans
        st.caption(f"{ov.shared_ngrams} distinct {n_gram}-grams shared with the item, highlighted below.")
        with st.expander("Benchmark item"):
            st.text(item_text)

left, right = st.columns(2)
with left:
    st.markdown("**Extracted text**")
    if spans:
        st.html(docview.highlight_html(text, spans))
    else:
        st.text_area("Extracted text", text, height=420, disabled=True, label_visibility="collapsed",
                     key=f"samples_text_{doc_id}")
with right:
    st.markdown("**Raw HTML (WARC record)**")
    raw = docview.read_raw_html(doc.get("source_file"), doc.get("source_offset"), data.confinement(str(run)))
    if raw.html is None:
        st.info(f"Raw record not shown: {raw.reason}")
    else:
        if raw.truncated:
            st.caption("The record is cut off in the file (error.truncated).")
        st.code(raw.html[: docview.MAX_HTML_BYTES], language="html", height=420)

if doc.get("scores"):
    st.markdown("**Scores**")
    st.dataframe(pd.DataFrame(sorted(doc["scores"].items()), columns=["score", "value"]), hide_index=True)

cluster = doc.get("dup_cluster")
if cluster:
    size, members = data.cluster(str(run), view, cluster)
    st.subheader(f"Duplicate cluster ({size} documents)")
    cols = st.columns(len(members))
    for col, m in zip(cols, members.itertuples()):
        with col:
            here = " (this one)" if m.id == doc_id else ""
            st.markdown(f"**{m.outcome}**{here}  \n`{m.id[:16]}…`  \n{m.url or ''}")
            st.text_area("member text", m.text or "", height=260, disabled=True, label_visibility="collapsed",
                         key=f"samples_member_{m.id}")
    if size > len(members):
        st.caption(f"… and {size - len(members)} more (SQL: `SELECT * FROM {view} WHERE dup_cluster = '{cluster}'`).")

with st.expander("Whole row (JSON)"):
    st.code(json.dumps({k: v for k, v in doc.items() if k != "text"}, default=str, indent=1), language="json")

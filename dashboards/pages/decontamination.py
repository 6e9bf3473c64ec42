"""Decontamination: per benchmark, what the decontaminate stage indexed and what it flagged."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation import rundir, stages
from dashboards import data

st.title("Decontamination")
run = data.require_run_dir()
view = data.doc_view(run)
stage = next((run / s for s in stages.get("decontaminate").folders if (run / s).is_dir()), None)
has_cols = view is not None and "decontam_status" in data.columns(str(run), view)
if stage is None and not has_cols:
    st.info("This run has no decontamination stage yet (`curate decontaminate`).")
    st.stop()

report, refused = data.read_json(run, stage / rundir.REPORT) if stage else (None, None)
if refused:
    st.error(f"{rundir.REPORT} not shown: {refused}")
if report:
    rows = [{"benchmark": name, **{k: v for k, v in b.items() if k != "files"}, "files": len(b.get("files", []))}
            for name, b in report.get("benchmarks", {}).items()]
    bench = pd.DataFrame(rows)
    flagged = bench[(bench["docs_contaminated"] > 0) | (bench["docs_partial"] > 0)] if len(bench) else bench
    c1, c2, c3, c4 = st.columns(4)
    by_status = report.get("docs_by_status", {})
    c1.metric("Benchmarks", f"{len(bench):,}")
    c2.metric("Items indexed", f"{int(bench['items'].sum()) if len(bench) else 0:,}")
    c3.metric("Contaminated documents", f"{by_status.get('contaminated', 0):,}")
    c4.metric("Partial documents", f"{by_status.get('partial', 0):,}")
    st.caption(f"{report.get('long_n')}-gram hits and {report.get('short_n')}-gram overlap ratio ≥ "
               f"{report.get('contaminated_threshold')} are contaminated; ratio above {report.get('info_threshold')} "
               f"is partial. Benchmarks from `{report.get('benchmarks_file')}`"
               + (f", allow-list `{report['allowlist']}`." if report.get("allowlist") else "."))
    st.subheader("Per benchmark (from _report.json)")
    only_flagged = st.checkbox("Only benchmarks that flagged documents", value=len(bench) > 20, key="decontam_only_flagged")
    st.dataframe(flagged if only_flagged else bench, hide_index=True, width="stretch", key="decontam_report")
elif not refused:
    st.caption("No `_report.json` beside the stage output: the per-benchmark index sizes are unknown.")

if has_cols:
    st.subheader("Per benchmark and status (SQL over the documents)")
    summary = data.decontam_by_benchmark(str(run), view)
    st.dataframe(summary, hide_index=True, width="stretch", key="decontam_summary")
    st.subheader("Flagged documents")
    flagged_docs = data.contaminated_docs(str(run), view)
    st.dataframe(flagged_docs, hide_index=True, width="stretch", key="decontam_docs")
    st.caption("Open one on the Samples page (paste its id) to see the shared n-grams highlighted.")

"""Mixture: planned vs achieved tokens and epochs per source, from ``mixture_manifest.json``."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from curation import rundir
from dashboards import data

st.title("Mixture")
run = data.require_run_dir()
manifests = sorted({*run.glob(f"mix/{rundir.MANIFEST}"), *run.glob(f"*/{rundir.MANIFEST}")})
if not manifests:
    st.info("This run has no mixture yet (`curate mix --output RUN_DIR/mix`).")
    st.stop()
path = manifests[0] if len(manifests) == 1 else st.selectbox(
    "Mixture", manifests, format_func=lambda p: str(p.parent.relative_to(run)), key="mixture_pick")
m, refused = data.read_json(run, path)
if m is None:
    st.error(f"Manifest not shown: {refused}" if refused else f"{path} cannot be read.")
    st.stop()

rows = []
for name, s in m.get("sources", {}).items():
    rows.append({"source": name, "share": s.get("share"), "planned_tokens": s.get("planned_tokens"),
                 "achieved_tokens": s.get("achieved_tokens"), "error %": s.get("error_pct"),
                 "unique_tokens": s.get("unique_tokens"), "epochs": s.get("epochs"), "max_epochs": s.get("max_epochs"),
                 "documents": s.get("rows"), "output rows": s.get("output_rows")})
df = pd.DataFrame(rows)
c1, c2, c3 = st.columns(3)
c1.metric("Planned tokens", f"{m.get('total_tokens', 0):,}")
c2.metric("Achieved tokens", f"{m.get('achieved_total_tokens', 0):,}")
c3.metric("Sources", f"{len(df)}")
for w in m.get("warnings", []):
    st.warning(w)
st.dataframe(df, hide_index=True, width="stretch", key="mixture_table",
             column_config={"share": st.column_config.NumberColumn(format="%.4f"),
                            "epochs": st.column_config.NumberColumn(format="%.3f")})
if len(df):
    st.subheader("Planned vs achieved tokens")
    st.bar_chart(df.set_index("source")[["planned_tokens", "achieved_tokens"]], stack=False)
    st.subheader("Epochs (achieved / unique tokens) vs cap")
    st.bar_chart(df.set_index("source")[["epochs", "max_epochs"]], stack=False)
st.caption(f"Seed {m.get('seed')}, tokenizer `{m.get('tokenizer')}`, preset `{m.get('preset')}`; "
           f"written in {m.get('seconds')} s. Manifest: `{path}`")
with st.expander("Resolved mix config"):
    st.code(m.get("config", ""), language="yaml")

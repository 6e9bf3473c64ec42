"""Curate dashboard: ``curate dashboard RUN_DIR`` (or ``streamlit run dashboards/app.py -- RUN_DIR``).

The entry point only sets up navigation; each page is a script in ``dashboards/pages/``, and the
run directory comes from the command line (after ``--``) or ``$CURATE_RUN_DIR``
(:func:`dashboards.data.run_dir`).
"""

from __future__ import annotations

import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
# `streamlit run dashboards/app.py` puts only dashboards/ on sys.path: add the checkout, so the
# packages import without an installation.
if str(HERE.parent) not in sys.path:
    sys.path.insert(0, str(HERE.parent))

import streamlit as st  # noqa: E402

from dashboards import data  # noqa: E402

#: (file, title, URL path, icon). The first is the default page (served at "/").
PAGES = (
    ("pages/funnel.py", "Funnel", "funnel", ":material/filter_alt:"),
    ("pages/scores.py", "Scores", "scores", ":material/bar_chart:"),
    ("pages/samples.py", "Samples", "samples", ":material/article:"),
    ("pages/decontamination.py", "Decontamination", "decontamination", ":material/science:"),
    ("pages/mixture.py", "Mixture", "mixture", ":material/pie_chart:"),
    ("pages/ablations.py", "Ablations", "ablations", ":material/model_training:"),
    ("pages/sql.py", "SQL", "sql", ":material/terminal:"),
)

st.set_page_config(page_title="Curate", page_icon=":material/filter_alt:", layout="wide")
nav = st.navigation([st.Page(str(HERE / f), title=t, url_path=u, icon=i, default=(k == 0))
                     for k, (f, t, u, i) in enumerate(PAGES)])
run = data.run_dir()
st.sidebar.caption(f"Run: `{run}`" if run else "No run directory")
data.reload_button()
nav.run()

"""The Curate dashboard: ``curate dashboard RUN_DIR`` (Streamlit, one page per view of a run).

``app.py`` + ``pages/`` are the Streamlit scripts; the logic they use is plain Python, testable
without a browser: ``queries`` (all DuckDB SQL, over :mod:`curation.query.run_sql`'s read-only views),
``docview`` (raw WARC record, benchmark overlap), ``jobs`` (background ``curate ablate``),
``ablation_outputs`` (reading its files), ``sample_run`` (a synthetic run for tests and benchmarks).
"""

"""The composition root: the ``curate`` CLI, the pipeline that chains the stages, and the demo.

The only code that imports every layer (the ``curation`` core, ``classifiers``, ``spark_jobs`` and
``dashboards``); nothing below imports it back (import contracts in pyproject.toml). Demo-data
generation (``demo_warc``) lives here too: it is an application of the core, not part of it.
"""

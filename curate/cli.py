"""``curate``: one command whose sub-commands mirror the jobs.

Logging is configured here (an entry point), never in library modules.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
from collections.abc import Callable
from typing import Any

from curation.errors import CurateError, report


def version() -> str:
    """The installed distribution's version (``curate --version``)."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as dist_version

    try:
        return dist_version("curate")
    except PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


def main(argv: list[str] | None = None) -> int:
    from spark_jobs.job import configure_logging

    argv = sys.argv[1:] if argv is None else list(argv)
    # The top-level parser has no option that takes a value, so the first bare word is the verb.
    verb = next((a for a in argv if not a.startswith("-")), "")
    try:
        # Building the parser consults the plugin registries (stages, ingest sources): a broken plugin
        # is a user error like any other, one line and exit 2.
        args = build_parser(only=verb).parse_args(argv)
        verb = args.command
        configure_logging(getattr(args, "verbose", False))
        return args._run(args)
    except CurateError as exc:  # every verb's user errors: one line on stderr, exit 2, no traceback
        return report(verb, exc)


Loader = Callable[[], tuple[Callable[[argparse.ArgumentParser], Any], Callable[[argparse.Namespace], int]]]


def _module(module: str, add_arguments: str = "add_arguments", run: str = "run") -> Loader:
    """A verb's (add_arguments, run) pair, imported only when that verb is parsed: every verb's module
    at start-up cost ~1 s (httpx, huggingface_hub, datatrove, pyarrow), which a fail-fast check or
    ``--help`` should not pay."""
    def load():
        mod = importlib.import_module(module)
        return getattr(mod, add_arguments), getattr(mod, run)
    return load


def _stage(st) -> Loader:
    def load():
        from spark_jobs import job as spark_job

        job = st.load_adapter()
        return (lambda p: job.build_parser(p)), functools.partial(spark_job.execute, job)
    return load


def _funnel() -> tuple[Callable[[argparse.ArgumentParser], Any], Callable[[argparse.Namespace], int]]:
    from curation import verb_inputs
    from curation.query import funnel

    def add_arguments(p: argparse.ArgumentParser) -> None:
        funnel.add_arguments(p)  # its positional RUN_DIR, plus --input for it like every verb
        verb_inputs.adopt_positional(p, "run_dir")
    return add_arguments, verb_inputs.single(funnel.run, "run_dir")


def build_parser(only: str | None = None) -> argparse.ArgumentParser:
    """The ``curate`` parser: one sub-command per registered stage and per verb.

    Each sub-command records the function that runs it (``set_defaults``), so the verb table is
    this one list: no second list of imports and no if-chain to keep in step with it. With
    ``only``, just that verb's module is imported and its arguments added; the others are listed
    (name and help) for ``curate --help`` and argparse's choices."""
    from curation import stages

    parser = argparse.ArgumentParser(
        prog="curate", description="Curate: LLM pretraining data curation on Spark",
        epilog="Every verb that reads data takes it the same way: INPUT... as positionals (files, folders, globs, "
               "stage folders, manifests) or --input INPUT...; `curate VERB --help` shows each verb's own.")
    parser.add_argument("--version", action="version", version=f"curate {version()}")
    sub = parser.add_subparsers(dest="command", required=True)

    def verb(name: str, load: Loader, help: str, description: str | None = None) -> None:
        """One sub-command: ``help`` is its line in ``curate --help``; ``description`` (default: the
        same) heads its own ``--help``."""
        verb_parser = sub.add_parser(name, help=help, description=description or help[:1].upper() + help[1:] + ".")
        if only is None or only == name:
            add_arguments, run = load()
            add_arguments(verb_parser)
            verb_parser.set_defaults(_run=run)

    for st in stages.ordered():
        verb(st.name, _stage(st), st.help, st.help)
    verb("fetch-cc", _module("curation.ingest.commoncrawl"), "download Common Crawl WARC files and write a manifest",
         "Download WARC files of one Common Crawl crawl (a sample of its paths) and write a manifest that "
         "`curate extract` or `curate run` take as input.")
    verb("train-classifier", _module("classifiers.commands", "add_train_arguments", "run_train"),
         "train a quality, reasoning or topic classifier")
    verb("score", _module("classifiers.score_command"),
         "score JSONL/Parquet documents with a shipped or trained model",
         "Score every row of JSONL/Parquet documents (INPUT... or --input: files, folders such as a stage "
         "output, globs, manifests) with a shipped model name or a trained model folder; one Parquet file out.")
    verb("label", _module("classifiers.llm_label"),
         "label documents with an OpenAI-compatible LLM (cached, resumable)")
    verb("funnel", _funnel,
         "documents and tokens per stage and drop reason (DuckDB)",
         "Count documents and tokens kept and dropped, per stage and drop reason, over a run directory or one "
         "stage output (RUN_DIR or --input RUN_DIR).")
    verb("seeds", _module("classifiers.seeds"), "web-rewrite seeds: top reasoning passages per topic")
    verb("ingest", _module("curation.ingest.sources"),
         "code, acquired text, Q&A dumps or a plugin's source into the document schema")
    verb("run", _module("curate.pipeline"), f"run PIPELINE.yaml: {' → '.join(stages.names())} (resumable)",
         f"Run the stages of PIPELINE.yaml ({' → '.join(stages.names())}) into one run directory, each stage's "
         "output feeding the next; a rerun skips stages whose inputs and config did not change.")
    verb("estimate", _module("curate.estimate"),
         "predict a run's wall time, core-hours, output and kept tokens per stage from a sample of its input")
    verb("export", _module("curate.export"), "a stage's kept documents as sharded JSONL or Parquet for other tools")
    verb("sql", _module("curation.query.run_sql", "add_sql_arguments", "run_sql"),
         "one read-only SQL query over a run directory (DuckDB, sandboxed)",
         "Run one read-only SQL statement (DuckDB, sandboxed to the input's folder) over a run directory, one "
         "stage output, a Parquet file or a glob; each table is a view named after its stage folder or file. "
         "RUN or --input RUN.")
    verb("catalog", _module("curation.query.run_sql", "add_catalog_arguments", "run_catalog"),
         "write RUN/catalog.duckdb with one view per table of a run",
         "Write a DuckDB catalog file with one view per table of a run directory, a stage output, a Parquet "
         "file or a glob (RUN or --input RUN), for any DuckDB client.")
    verb("dashboard", _module("dashboards.launch"),
         "Streamlit dashboard over a run directory (127.0.0.1 by default)")
    verb("ablate", _module("curation.ablations.runner"),
         "mixture ablations: train proxy LMs on sampled mixtures, propose the best")
    verb("demo", _module("curate.demo"),
         "run the demo pipeline (demo/pipeline.yaml) on the bundled WARC, then print its funnel")
    verb("config", _module("curate.config_command"),
         "show a stage's default config (curate config show STAGE)")
    return parser


if __name__ == "__main__":
    sys.exit(main())

"""``curate``: one command whose sub-commands mirror the jobs.

Logging is configured here (an entry point), never in library modules.
"""

from __future__ import annotations

import argparse
import sys

from curation.errors import CurateError, report


def main(argv: list[str] | None = None) -> int:
    from spark_jobs.job import configure_logging

    argv = sys.argv[1:] if argv is None else list(argv)
    verb = next((a for a in argv if not a.startswith("-")), "")  # for an error before the arguments parse
    try:
        # Building the parser consults the plugin registries (stages, ingest sources): a broken plugin
        # is a user error like any other, one line and exit 2.
        parser, jobs = build_parser()
        args = parser.parse_args(argv)
        verb = args.command
        configure_logging(getattr(args, "verbose", False))
        return _dispatch(args, jobs)
    except CurateError as exc:  # every verb's user errors: one line on stderr, exit 2, no traceback
        return report(verb, exc)


def build_parser() -> tuple[argparse.ArgumentParser, dict]:
    """The ``curate`` parser (one sub-command per registered stage and per verb) and the stages' jobs."""
    from curation import stages

    jobs = {st.name: st.load_adapter() for st in stages.ordered()}  # one sub-command per registered stage
    parser = argparse.ArgumentParser(prog="curate", description="Curate: LLM pretraining data curation on Spark")
    sub = parser.add_subparsers(dest="command", required=True)
    for st in stages.ordered():
        jobs[st.name].build_parser(sub.add_parser(st.name, help=st.help, description=st.help))

    from classifiers import commands as classifier_commands
    from classifiers import llm_label, score_command, seeds
    from curate import demo, pipeline
    from curation.ingest import commoncrawl, sources
    from curation.query import funnel, run_sql

    commoncrawl.add_arguments(sub.add_parser("fetch-cc", help="download Common Crawl WARC files and write a manifest"))
    classifier_commands.add_train_arguments(sub.add_parser("train-classifier", help="train a quality, reasoning or topic classifier"))
    score_command.add_arguments(sub.add_parser("score", help="score JSONL/Parquet documents with a shipped or trained model"))
    llm_label.add_arguments(sub.add_parser("label", help="label documents with an OpenAI-compatible LLM (cached, resumable)"))
    funnel.add_arguments(sub.add_parser("funnel", help="documents and tokens per stage and drop reason (DuckDB)"))
    seeds.add_arguments(sub.add_parser("seeds", help="web-rewrite seeds: top reasoning passages per topic"))
    sources.add_arguments(sub.add_parser("ingest", help="code, acquired text, Q&A dumps or a plugin's source into the document schema"))
    pipeline.add_arguments(sub.add_parser("run", help=f"run PIPELINE.yaml: {' → '.join(stages.names())} (resumable)"))
    from curate import estimate

    estimate.add_arguments(sub.add_parser("estimate", help="predict a run's wall time, core-hours, output and kept "
                                                           "tokens per stage from a sample of its input"))
    run_sql.add_sql_arguments(sub.add_parser("sql", help="one read-only SQL query over a run directory (DuckDB, sandboxed)"))
    run_sql.add_catalog_arguments(sub.add_parser("catalog", help="write RUN/catalog.duckdb with one view per table of a run"))
    from curation.ablations import runner as ablate
    from dashboards import launch as dashboard

    dashboard.add_arguments(sub.add_parser("dashboard", help="Streamlit dashboard over a run directory (127.0.0.1 by default)"))

    ablate.add_arguments(sub.add_parser("ablate", help="mixture ablations: train proxy LMs on sampled mixtures, propose the best"))
    demo.add_arguments(sub.add_parser("demo", help="run the demo pipeline (demo/pipeline.yaml) on the bundled WARC, then print its funnel"))
    from curate import config_command

    config_command.add_arguments(sub.add_parser("config", help="show a stage's default config (curate config show STAGE)"))
    return parser, jobs


def _dispatch(args: argparse.Namespace, jobs: dict) -> int:
    from classifiers import commands as classifier_commands
    from classifiers import llm_label, score_command, seeds
    from curate import config_command, demo, pipeline
    from curation.ablations import runner as ablate
    from curation.ingest import commoncrawl, sources
    from curation.query import funnel, run_sql
    from dashboards import launch as dashboard

    if args.command in jobs:
        return jobs[args.command].execute(args)
    if args.command == "fetch-cc":
        return commoncrawl.run(args)
    if args.command == "seeds":
        return seeds.run(args)
    if args.command == "ingest":
        return sources.run(args)
    if args.command == "run":
        return pipeline.run(args)
    if args.command == "estimate":
        from curate import estimate

        return estimate.run(args)
    if args.command == "dashboard":
        return dashboard.run(args)
    if args.command == "sql":
        return run_sql.run_sql(args)
    if args.command == "catalog":
        return run_sql.run_catalog(args)
    if args.command == "ablate":
        return ablate.run(args)
    if args.command == "funnel":
        return funnel.run(args)
    if args.command == "label":
        return llm_label.run(args)
    if args.command == "train-classifier":
        return classifier_commands.run_train(args)
    if args.command == "score":
        return score_command.run(args)
    if args.command == "config":
        return config_command.run(args)
    return demo.run(args)


if __name__ == "__main__":
    sys.exit(main())

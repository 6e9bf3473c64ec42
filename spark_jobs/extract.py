"""Spark job: WARC/ARC/WET files → extracted documents (Parquet) with exact accounting.

    spark-submit spark_jobs/extract.py INPUT... --output DIR [--extractor resiliparse] [--keep-dropped]
    curate extract INPUT... --output DIR            # the same job in local mode; --input INPUT... too

INPUT is a file, a directory, a glob, or a manifest (``*.txt``/``*.paths[.gz]`` or ``@file``: one
path or glob per line); local paths and Hadoop URIs (s3a://, hdfs://) alike. Each Spark task streams
one whole input file (the cc-pyspark model), so memory per task is bounded by one record, not one
file. See curation/ingest/extract_task.py for the output layout.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import sys
import time

if __package__ in (None, ""):  # run as a script by spark-submit: make the package importable
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from curation import config as configlib
from curation import fsutil, output_dir, rundir, stages, verb_inputs
from curation.ingest.extract_task import (
    RESULT_SCHEMA,
    ExtractJobConfig,
    FileResult,
    completed_parts,
    extract_partition,
    summarise,
)
from curation.ingest.inputs import expand_inputs
from spark_jobs.job import SparkJob, StageProgress, log

RESULT_DDL = ", ".join(f"{f.name} string" for f in RESULT_SCHEMA)


class ExtractJob(SparkJob):
    name = "extract"
    description = stages.get(name).help
    config_cls = ExtractJobConfig
    set_example = "extract.time_limit_s=5"
    example = "curate extract crawl/*.warc.gz --output runs/r1/extract --keep-dropped"

    def add_arguments(self, parser: argparse.ArgumentParser) -> None:
        verb_inputs.add_input_arguments(parser, "WARC/ARC/WET files, folders, globs or manifests")
        parser.add_argument("--output", "-o", required=True, help="output directory (local path or URI)")
        parser.add_argument("--extractor", choices=["trafilatura", "resiliparse"], help="shorthand for --set extract.extractor=…")
        parser.add_argument("--keep-dropped", action="store_true", help="keep dropped/failed records as rows")
        parser.add_argument("--resume", action="store_true", help="skip input files whose output part is already complete")

    def overrides_from_args(self, args: argparse.Namespace) -> list[str]:
        out = []
        if args.extractor:
            out.append(f"extract.extractor={args.extractor}")
        if args.keep_dropped:
            out.append("keep_dropped=true")
        return out

    def run(self, spark, args: argparse.Namespace, cfg: ExtractJobConfig) -> int:
        started = time.perf_counter()
        out = args.output
        files = expand_inputs(verb_inputs.given(args), spark)
        # The expanded files and every folder given: an output inside either would delete input.
        prepare_output(out, cfg, resume=args.resume, inputs=[*files, *local_folders(verb_inputs.given(args))])
        done = completed_parts(out) if args.resume else {}
        todo = [f for f in files if f not in done]
        log.info("extract: %d input files (%d already complete), extractor=%s, output=%s",
                 len(files), len(files) - len(todo), cfg.extract.extractor, out)
        results = [done[f] for f in files if f in done]
        if todo:
            task = functools.partial(extract_partition, files=todo, out_dir=out, cfg=cfg.extract,
                                     keep_dropped=cfg.keep_dropped)
            df = spark.range(0, len(todo), 1, numPartitions=len(todo)).mapInArrow(task, RESULT_DDL)
            with StageProgress(spark, "extract files", len(todo)):
                rows = df.collect()
            results += [FileResult(**json.loads(r["result"])) for r in rows]
        # A task attempt killed mid-write (then retried) leaves its temporary part behind: every
        # task has finished now, so whatever is still in progress is litter.
        for tmp in fsutil.list_files(fsutil.join(out, rundir.PARTS_DIR), ".inprogress"):
            fsutil.remove_tree(tmp)
        accounting = summarise(results).with_extra(seconds=round(time.perf_counter() - started, 2))
        rundir.write_accounting(out, accounting)
        print_summary(accounting, out)
        return 0


def prepare_output(out: str, cfg: ExtractJobConfig, resume: bool, inputs: list[str]) -> None:
    """A re-run replaces the previous output; a folder that is not ours is never touched, with or
    without --resume (curation.output_dir)."""
    output_dir.claim(out, "extract", inputs=inputs, resume=resume)
    rundir.write_config(out, configlib.dump(cfg))


def local_folders(inputs: list[str]) -> list[str]:
    return [i for i in inputs if not fsutil.is_uri(i) and os.path.isdir(fsutil.local_path(i))]


def print_summary(acc: rundir.RecordAccounting, out: str) -> None:
    n = acc.records_read or 1
    lines = [
        f"\nextract finished in {acc.extra['seconds']}s: {acc.extra['files']} files, {acc.records_read} records",
        f"  kept {acc.kept} ({acc.kept / n:.1%}), dropped {acc.dropped}, errored {acc.errored}",
    ]
    for outcome, count in acc.by_outcome.items():
        lines.append(f"    {outcome:<36} {count:>8}  {count / n:6.1%}")
    lines.append(f"  documents: {out}/*.parquet   accounting: {out}/{rundir.ACCOUNTING}   config: {out}/{rundir.CONFIG}")
    print("\n".join(lines), flush=True)


def main(argv: list[str] | None = None) -> int:
    return ExtractJob().main(argv)


if __name__ == "__main__":
    sys.exit(main())

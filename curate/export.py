"""``curate export INPUT… --output DIR --format jsonl|parquet``: a stage's documents for other tools.

    curate export runs/r1/decontaminate --output exports/r1 --format parquet
    curate export 'runs/r1/annotate/part-0000*.parquet' -o exports/sample --format jsonl --shard-rows 100000

Only kept rows (no ``drop_reason``) unless ``--include-dropped``. The shards load with Hugging Face
``datasets`` (``load_dataset("parquet", data_files="exports/r1/*.parquet")``) and upload to the Hub as
a folder: see the README's "Using the outputs". The work is :mod:`curation.export`.
"""

from __future__ import annotations

import argparse

from curation import export as core


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.formatter_class = argparse.RawDescriptionHelpFormatter  # keep the example on one line
    parser.epilog = "example: curate export runs/r1/decontaminate --output exports/r1 --format jsonl"
    parser.add_argument("inputs", nargs="*", metavar="INPUT",
                        help="a stage folder (RUN/STAGE), a glob or Parquet files (or --input)")
    parser.add_argument("--input", "-i", action="append", default=[], metavar="INPUT",
                        help="same as the positional INPUT (repeatable; adds to it)")
    parser.add_argument("--output", "-o", required=True, help="the folder to write the shards into (new or empty)")
    parser.add_argument("--format", "-f", choices=core.FORMATS, default="parquet", help="shard format (default: parquet)")
    parser.add_argument("--compression", default=None,
                        help="jsonl: gzip (default), zstd or none; parquet: zstd (default), snappy, gzip or none")
    parser.add_argument("--shard-rows", type=int, default=0, help="rows per shard (default: no row limit)")
    parser.add_argument("--shard-size", default="256MB",
                        help="uncompressed size per shard, roughly (default: 256MB; 0: no size limit)")
    parser.add_argument("--include-dropped", action="store_true",
                        help="also export rows that a step dropped (drop_reason not null)")
    parser.add_argument("--columns", default="", help="comma-separated columns to export (default: all)")


def run(args: argparse.Namespace) -> int:
    options = core.ExportOptions(
        format=args.format, compression=args.compression, shard_rows=args.shard_rows,
        shard_bytes=core.parse_size(args.shard_size), include_dropped=args.include_dropped,
        columns=tuple(c.strip() for c in args.columns.split(",") if c.strip()))
    result = core.export([*args.inputs, *args.input], args.output, options)
    dropped = "" if args.include_dropped else f" ({result.rows_dropped:,} dropped rows left out)"
    print(f"exported {result.rows_written:,} of {result.rows_read:,} rows{dropped} into {len(result.files)} "
          f"{options.suffix} file(s) in {args.output}")
    return 0

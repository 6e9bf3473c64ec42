"""The run directory's file names, in one place, and the few ways Curate writes them.

A run directory (``curate run``) holds one folder per stage (named by :mod:`curation.stages`), a
``<stage>.yaml`` per stage (the merged section the job ran with) and the pipeline's record::

    RUN_DIR/_curate_output.json       the claim marker (curation.output_dir); also in every stage folder
    RUN_DIR/_pipeline.json            per stage: status, times, config hash, fingerprints, accounting
    RUN_DIR/<stage>.yaml              the stage's section, as given to the job with --config
    RUN_DIR/<stage>/part-*.parquet    the stage's documents (Spark also writes _SUCCESS beside them)
    RUN_DIR/<stage>/_accounting.json  records read and their outcomes (extract, annotate, dedup, decontaminate)
    RUN_DIR/<stage>/_config.yaml      the resolved config the job ran with
    RUN_DIR/decontaminate/_report.json          n-gram index and matches per benchmark
    RUN_DIR/mix/mixture_manifest.json           planned vs achieved tokens per source
    RUN_DIR/extract/_parts/, RUN_DIR/mix/_tokens/  per-file parts and token shards

Every name is a constant here and nowhere else; JSON and YAML side files are written atomically
(:func:`curation.fsutil.write_atomic`: a temporary sibling renamed into place), so a reader (the
pipeline's completion check, the dashboard) never sees half a file. Paths may be local or URIs.
"""

from __future__ import annotations

import json
import os
from typing import Any

from curation import fsutil

#: The claim marker of every folder Curate writes (see curation.output_dir).
OUTPUT_MARKER = "_curate_output.json"
#: ``curate run``'s record of every stage (RUN_DIR/_pipeline.json).
PIPELINE_STATE = "_pipeline.json"
#: The resolved config a stage ran with.
CONFIG = "_config.yaml"
#: Records read and their outcomes (kept, dropped by reason, errored, or by decontamination status).
ACCOUNTING = "_accounting.json"
#: decontaminate: the n-gram index and matches per benchmark.
REPORT = "_report.json"
#: mix: planned vs achieved tokens and epochs per source.
MANIFEST = "mixture_manifest.json"
#: Spark's own completion marker beside its part files (and its checksum side file).
SPARK_SUCCESS = "_SUCCESS"
SPARK_SUCCESS_CRC = "._SUCCESS.crc"
#: A killed Spark write's debris.
SPARK_TEMPORARY = "_temporary"
#: extract: one Parquet file + one accounting JSON per input file (resumable).
PARTS_DIR = "_parts"
#: mix: the token shards (``<source>.bin`` + ``.idx``).
TOKENS_DIR = "_tokens"
#: Suffix of an atomic write in progress (curation.fsutil.atomic_output).
IN_PROGRESS = ".inprogress"

#: Side files a stage folder may hold besides its data (what an overwrite may delete with it).
SIDE_FILES = (SPARK_SUCCESS, SPARK_SUCCESS_CRC, SPARK_TEMPORARY, PARTS_DIR, TOKENS_DIR, CONFIG, ACCOUNTING,
              REPORT, MANIFEST)


def path(folder: str | os.PathLike[str], name: str, *more: str) -> str:
    """``folder/name[/more…]`` for a local path or a URI (a string; wrap in Path when you want one)."""
    return fsutil.join(os.fspath(folder), name, *more)


def stage_folder(run_dir: str | os.PathLike[str], stage: str) -> str:
    """RUN_DIR/<stage>: a stage's output folder inside a run directory."""
    return path(run_dir, stage)


def stage_section_file(run_dir: str | os.PathLike[str], stage: str) -> str:
    """RUN_DIR/<stage>.yaml: the pipeline section given to the stage's job as ``--config``."""
    return path(run_dir, f"{stage}.yaml")


def write_json(folder: str | os.PathLike[str], name: str, data: Any) -> str:
    """``data`` as indented JSON (the format every Curate side file has), written atomically."""
    target = path(folder, name)
    fsutil.write_atomic(target, json.dumps(data, indent=2).encode())
    return target


def write_text(folder: str | os.PathLike[str], name: str, text: str) -> str:
    target = path(folder, name)
    fsutil.write_atomic(target, text.encode())
    return target


def read_json(folder: str | os.PathLike[str], name: str) -> Any:
    return json.loads(fsutil.read_text(path(folder, name)))


def write_accounting(folder: str | os.PathLike[str], summary: dict) -> str:
    return write_json(folder, ACCOUNTING, summary)


def read_accounting(folder: str | os.PathLike[str]) -> dict:
    return read_json(folder, ACCOUNTING)


def write_config(folder: str | os.PathLike[str], text: str) -> str:
    """The resolved config (YAML text). Written after the data and the accounting: with the
    stage's other completion files (curation.stages) it marks the folder complete."""
    return write_text(folder, CONFIG, text)


def missing(folder: str | os.PathLike[str], names: tuple[str, ...]) -> str | None:
    """The first of ``names`` not in ``folder`` (None when all are: the stage finished)."""
    for name in names:
        if not fsutil.exists(path(folder, name)):
            return name
    return None

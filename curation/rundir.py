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

``_accounting.json`` is typed: the jobs build a :class:`RecordAccounting`, which checks that every
record read is accounted for before anything is written. Every name is a constant here and nowhere
else; JSON and YAML side files are written atomically
(:func:`curation.fsutil.write_atomic`: a temporary sibling renamed into place), so a reader (the
pipeline's completion check, the dashboard) never sees half a file. Paths may be local or URIs.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from curation import fsutil
from curation.errors import JobError
from curation.schema import ERROR_PREFIX, KEPT

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
#: mix: the token shards (Megatron ``tokens-NNNNN.bin`` + ``.idx`` pairs, or nanoGPT's flat ``train.bin``).
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


def write_accounting(folder: str | os.PathLike[str], accounting: RecordAccounting | Mapping[str, Any]) -> str:
    """A stage's ``_accounting.json``: what its job built (a :class:`RecordAccounting`), or a mapping
    of the same keys (a test fixture's hand-made file, possibly one that does not add up)."""
    data = accounting.to_dict() if isinstance(accounting, RecordAccounting) else accounting
    return write_json(folder, ACCOUNTING, data)


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


# ------------------------------------------------------------------------------------- accounting
class AccountingError(JobError):
    """A stage's counts that do not add up: some record was lost or counted twice (never written)."""


@dataclass(frozen=True)
class RecordAccounting:
    """A stage's ``_accounting.json``: every record it read, accounted for. Built by the jobs,
    checked when built (a record lost on the way raises :class:`AccountingError`, so no file ever
    says it), and written by :func:`write_accounting` with the keys the files have always had.

    Two shapes. A stage that decides per record (extract, annotate, dedup) counts ``by_outcome``
    (``kept``, a drop reason, or ``error.<kind>``), and kept + dropped + errored == records_read ==
    the outcomes summed (:meth:`of_outcomes` derives the three from the outcomes). A stage that
    flags rows and writes every one (decontaminate) counts ``by_status``, summing to records_read,
    and records_written == records_read. ``extra`` holds a stage's own figures (files, clusters,
    top_fraction, seconds...), written after the counts under their own keys.
    """

    records_read: int
    by_outcome: dict[str, int] | None = None
    kept: int | None = None
    dropped: int | None = None
    errored: int | None = None
    records_written: int | None = None
    by_status: dict[str, int] | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        problems = self.problems()
        if problems:
            raise AccountingError(f"accounting does not add up: {'; '.join(problems)}")

    @classmethod
    def of_outcomes(cls, counts: Mapping[str, int], records_read: int | None = None, **extra: Any) -> RecordAccounting:
        """From outcome counts (``kept``, ``<step>.<reason>``, ``error.<kind>``): kept, errored
        (``error.*``) and dropped (the rest); ``records_read`` defaults to the counts' sum (a job
        that counts its records separately passes its own, and the two must agree)."""
        n = sum(counts.values()) if records_read is None else records_read
        kept = counts.get(KEPT, 0)
        errored = sum(v for k, v in counts.items() if k.startswith(ERROR_PREFIX))
        return cls(n, dict(sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))), kept, n - kept - errored, errored,
                   extra=dict(extra))

    def with_extra(self, **figures: Any) -> RecordAccounting:
        """The same counts with more of the stage's own figures (``seconds``, once the job is done)."""
        return dataclasses.replace(self, extra={**self.extra, **figures})

    def problems(self) -> list[str]:
        """What does not add up (empty when the counts are consistent)."""
        out: list[str] = []

        def differ(what: str, got: Any, want: Any) -> None:
            if got != want:
                out.append(f"{what}: {got} != {want}")

        decided = (self.kept, self.dropped, self.errored)
        if any(c is not None for c in decided):
            if any(c is None for c in decided):
                out.append("kept, dropped and errored go together")
            else:
                differ("kept + dropped + errored vs records read", sum(decided), self.records_read)
                if min(decided) < 0:
                    out.append(f"negative count in kept {self.kept}, dropped {self.dropped}, errored {self.errored}")
        if self.by_outcome is not None:
            if self.kept is None:
                out.append("by_outcome without kept, dropped and errored")
            differ("outcomes summed vs records read", sum(self.by_outcome.values()), self.records_read)
        if self.by_status is not None:
            differ("statuses summed vs records read", sum(self.by_status.values()), self.records_read)
            differ("records written vs read", self.records_written, self.records_read)
        clash = sorted(set(self.extra) & set(_COUNT_KEYS))
        if clash:
            out.append(f"extra figures named like counts: {', '.join(clash)}")
        return out

    def to_dict(self) -> dict[str, Any]:
        """The JSON object of ``_accounting.json`` (counts first, then the stage's own figures)."""
        out: dict[str, Any] = {"records_read": self.records_read}
        if self.records_written is not None:
            out["records_written"] = self.records_written
        if self.by_outcome is not None:
            out["by_outcome"] = dict(self.by_outcome)
        if self.kept is not None:
            out.update(kept=self.kept, dropped=self.dropped, errored=self.errored)
        if self.by_status is not None:
            out["by_status"] = dict(self.by_status)
        return {**out, **self.extra}

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2)

    @classmethod
    def from_dict(cls, raw: Mapping[str, Any]) -> RecordAccounting:
        """Read back what :meth:`to_dict` wrote (or an older file of the same keys); checked like a new one."""
        counts = {k: raw[k] for k in _COUNT_KEYS if k in raw}
        return cls(**counts, extra={k: v for k, v in raw.items() if k not in _COUNT_KEYS})


#: The JSON keys of :class:`RecordAccounting`'s counts (everything else is a stage's own figure).
_COUNT_KEYS = ("records_read", "by_outcome", "kept", "dropped", "errored", "records_written", "by_status")

"""Which folders Curate may write into and delete from: its own, and nothing else.

Every command that writes a folder (each stage, ``curate run``'s run directory, ``ingest``,
``ablate``) first *claims* it with :func:`claim`:

* a folder that does not exist or is empty is created and marked with :data:`MARKER`, a file whose
  name and content (``{"format": "curate-output", "version": 1, "stage": …}``) nobody else writes;
* an existing, non-empty folder is used only when it holds that marker **for the same stage**; a
  ``_config.yaml`` or ``_accounting.json`` proves nothing (a Jekyll site has a ``_config.yaml``);
* a re-run (no ``--resume``) then deletes only names Curate writes (:data:`WRITTEN`) and refuses,
  touching nothing, when anything else is there: a user's file dropped into an output is never lost;
* an output inside one of the command's inputs, or an input inside the output, is refused: the
  next overwrite would delete the input.

Refusals raise :class:`OutputRefused` (one line; the commands exit 2). Local paths are compared
after resolving symlinks; URIs by their spelling (s3a:// and s3:// are one filesystem).
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import json
import os
from collections.abc import Iterable

import pyarrow.fs as pafs

from curation import fsutil, rundir
from curation.errors import CurateError

MARKER = rundir.OUTPUT_MARKER
FORMAT = "curate-output"
VERSION = 1

#: Names (fnmatch patterns, one folder level) that Curate's jobs and Spark's writers put into an
#: output folder: the only names an overwrite deletes. Spark/Hadoop: part files and their .crc
#: side files, _SUCCESS, _temporary (a killed write); extract: _parts; mix: _tokens and the
#: manifest; decontaminate: _report.json; every job: _config.yaml, _accounting.json; atomic writes
#: in progress: *.inprogress.
WRITTEN = ("part-*", ".part-*.crc", *rundir.SIDE_FILES, "*" + rundir.IN_PROGRESS)


class OutputRefused(CurateError):
    """Curate will not write to or delete from this folder: one line, exit code 2."""


def claim(out: str, stage: str, *, inputs: Iterable[str] = (), resume: bool = False) -> None:
    """Make ``out`` ready for ``stage`` to write (see the module docstring); raises OutputRefused."""
    refuse_overlap(out, inputs)
    names = _names(out)
    if not names:  # missing or empty
        fsutil.makedirs(out)
        _write_marker(out, stage)
        return
    found = read_marker(out)
    if found is None:
        raise OutputRefused(
            f"output {out!r} is not empty and was not made by curate (no valid {MARKER}); refusing to touch it: "
            "choose a new or empty folder (an output from curate < 0.2 has no marker: delete it yourself)")
    if found != stage:
        raise OutputRefused(f"output {out!r} holds curate's {found!r} output, not {stage!r}'s; refusing to replace it: "
                            "choose another folder")
    if resume:
        return
    foreign = sorted(n for n in names if n != MARKER and not is_written_name(n))
    if foreign:
        shown = ", ".join(foreign[:5]) + (f" and {len(foreign) - 5} more" if len(foreign) > 5 else "")
        raise OutputRefused(f"output {out!r} holds files curate did not write ({shown}); refusing to overwrite it: "
                            "move them away or choose another folder")
    for name in names:
        if name != MARKER:
            fsutil.remove_tree(fsutil.join(out, name))


def is_written_name(name: str) -> bool:
    return any(fnmatch.fnmatchcase(name, p) for p in WRITTEN)


def read_marker(out: str) -> str | None:
    """The stage named by ``out``'s marker, or None when there is no valid marker."""
    path = fsutil.join(out, MARKER)
    try:
        fs, p = fsutil.resolve(path)
        info = fs.get_file_info(p)
        if info.type != pafs.FileType.File or (info.size or 0) > 64 * 1024:
            return None
        data = json.loads(fsutil.read_text(path))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("stage"), str):
        return None
    if not isinstance(data.get("version"), int) or data["version"] > VERSION:
        return None
    return data["stage"]


def _write_marker(out: str, stage: str) -> None:
    import importlib.metadata

    try:
        version = importlib.metadata.version("curate")
    except importlib.metadata.PackageNotFoundError:  # run from a checkout that was not installed
        version = "unknown"
    body = {"format": FORMAT, "version": VERSION, "stage": stage, "curate_version": version,
            "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
    fsutil.write_atomic(fsutil.join(out, MARKER), (json.dumps(body, indent=1) + "\n").encode())


def _names(out: str) -> list[str] | None:
    """Entries directly under ``out``; None when it does not exist. A file is refused outright."""
    fs, p = fsutil.resolve(out)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.NotFound:
        return None
    if info.type != pafs.FileType.Directory:
        raise OutputRefused(f"output {out!r} is a file, not a folder; refusing to touch it")
    return [i.base_name for i in fs.get_file_info(pafs.FileSelector(p, recursive=False))]


# ------------------------------------------------------------------------------- one-file outputs
#: Parquet key-value metadata key naming the command that wrote a one-file output (label, score).
PARQUET_MARK = b"curate.output"


def parquet_written_by(path: str, command: str) -> bool:
    """Whether ``path`` is a Parquet file whose metadata says ``command`` wrote it."""
    try:
        import pyarrow.parquet as pq

        return (pq.read_schema(path).metadata or {}).get(PARQUET_MARK) == command.encode()
    except Exception:  # unreadable, not Parquet: not provably ours
        return False


def claim_file(path: str, command: str, *, inputs: Iterable[str] = (), ours=None) -> None:
    """The one-file version of :func:`claim` (``label``, ``score``, ``catalog``): refused when it is
    an input, lies in an input folder's tree the wrong way round (see refuse_overlap), is a folder,
    or exists and ``ours(path)`` cannot show that ``command`` wrote it."""
    refuse_overlap(path, inputs)
    local = fsutil.local_path(path)
    if os.path.isdir(local):
        raise OutputRefused(f"output {path!r} is a folder; {command} writes one file")
    if os.path.lexists(local) and not (ours or (lambda p: parquet_written_by(p, command)))(local):
        raise OutputRefused(f"output {path!r} exists and was not written by curate {command}; refusing to overwrite it")


# ------------------------------------------------------------------------------------- overlap
def canonical(path: str) -> str:
    """A comparable spelling: local paths resolved through symlinks, URIs with s3a/s3n as s3."""
    if fsutil.is_uri(path):
        scheme, rest = path.split("://", 1)
        scheme = {"s3a": "s3", "s3n": "s3"}.get(scheme.lower(), scheme.lower())
        return f"{scheme}://{rest.rstrip('/')}"
    return os.path.realpath(fsutil.local_path(path))


def inside(path: str, root: str) -> bool:
    """True when ``path`` is ``root`` or below it (both canonical)."""
    return path == root or path.startswith(root.rstrip("/") + "/")


def refuse_overlap(out: str, inputs: Iterable[str]) -> None:
    """An output inside an input (or equal to it), or an input inside the output, is refused."""
    o = canonical(out)
    for item in inputs:
        if not item:
            continue
        i = canonical(item)
        if inside(o, i):
            raise OutputRefused(f"output {out!r} is inside the input {item!r}; refusing: a re-run would delete the input")
        if inside(i, o):
            raise OutputRefused(f"input {item!r} is inside the output {out!r}; refusing: a re-run would delete it")

"""How every verb takes its input: positional ``INPUT…`` or ``--input INPUT…`` (or both), one list.

The one helper the stage verbs (extract, annotate, dedup, decontaminate, mix), ``score``, ``sql``,
``catalog`` and ``funnel`` share, so a user learns one way to name data: files, folders, globs,
stage folders and manifests (``.txt``/``.paths``/``.manifest`` or ``@FILE``: one path or glob per
line), as positionals, after ``--input``/``-i``, or both (they add up, in command-line order).

:func:`check_exist` looks at local inputs before any work starts (a Spark session takes ~14 s to
start; a typo should cost well under a second). Remote URIs (``s3a://``, ``hdfs://``…) are not
checked here: their filesystem is reached through Spark's Hadoop configuration, later.

A foundation module (no ingest, filters or query code): every concern group may import it.
"""

from __future__ import annotations

import argparse
import glob as globlib
import gzip
import os
from collections.abc import Iterable

from curation import fsutil
from curation.errors import JobError

#: Inputs with these names are manifests: one path or glob per line (``@FILE`` too, any name).
MANIFEST_SUFFIXES = (".txt", ".paths", ".paths.gz", ".manifest")
INPUT_HELP = "files, folders, globs, stage folders or manifests"


class InputError(JobError, FileNotFoundError):
    """An input that is missing, matches nothing, or is not given at all (one line, exit 2).

    A FileNotFoundError too, so verbs that already report those (sql, score) report it alike."""


class _Gather(argparse.Action):
    """Positional and ``--input`` values add up in one list (argparse's own ``extend`` cannot be a
    positional's action, and a ``*`` positional with nothing would reset what ``--input`` gave)."""

    def __call__(self, parser, namespace, values, option_string=None):
        items = list(getattr(namespace, self.dest, None) or [])
        if values is None:
            values = []
        items.extend([values] if isinstance(values, str) else values)
        setattr(namespace, self.dest, items)


def add_input_arguments(parser: argparse.ArgumentParser, help: str = INPUT_HELP, *, dest: str = "input",
                        metavar: str = "INPUT", one: bool = False, positional: bool = True) -> None:
    """Positional ``INPUT…`` and ``--input/-i INPUT…`` (repeatable), gathered in ``args.<dest>``.

    ``one``: the verb reads a single input (a run directory…) and may take another positional after
    it (``curate sql INPUT [SQL]``); ``--input`` then names it and the positional is free.
    ``positional=False``: only ``--input`` (``curate mix``, whose positional is its MIX.yaml).
    Whether anything was given is checked by :func:`given` (argparse cannot require one of two)."""
    if positional:
        parser.add_argument(dest, nargs="?" if one else "*", action=_Gather, default=None, metavar=metavar,
                            help=f"{help} (or --input)")
        help = f"same as the positional {metavar}" + ("" if one else " (repeatable; adds to it)")
    parser.add_argument("--input", "-i", dest=dest, nargs=1 if one else "+", action=_Gather, default=None,
                        metavar=metavar, help=help)


def adopt_positional(parser: argparse.ArgumentParser, dest: str, help: str | None = None) -> None:
    """Give a verb whose own ``add_arguments`` declares one positional ``dest`` (``funnel RUN_DIR``)
    the same shape as :func:`add_input_arguments` with ``one=True``: the positional becomes optional
    and ``--input`` names the same thing. Pair with :func:`single` around its run function."""
    action = next(a for a in parser._actions if a.dest == dest and not a.option_strings)
    action.nargs, action.required, action.default = "?", False, None
    action.__class__ = _Gather  # a store action with the same fields: only its __call__ differs
    parser.add_argument("--input", "-i", dest=dest, nargs=1, action=_Gather, default=None, metavar=action.metavar,
                        help=help or f"same as the positional {action.metavar}")


def given(args: argparse.Namespace, dest: str = "input", *, one: bool = False) -> list[str]:
    """The inputs on the command line; :class:`InputError` when there are none (or several with ``one``)."""
    value = getattr(args, dest, None)
    items = [value] if isinstance(value, str) else list(value or [])
    if not items:
        raise InputError("no input given: name it as INPUT or --input INPUT")
    if one and len(items) > 1:
        raise InputError(f"one input expected, got {len(items)}: {' '.join(items)}")
    return items


def single(run, dest: str = "input"):
    """Wrap a verb's ``run(args)`` that expects ``args.<dest>`` to be one string (see :func:`adopt_positional`)."""

    def wrapped(args: argparse.Namespace) -> int:
        setattr(args, dest, given(args, dest, one=True)[0])
        return run(args)

    return wrapped


def is_manifest(item: str) -> bool:
    return item.startswith("@") or item.endswith(MANIFEST_SUFFIXES)


def read_manifest(path: str) -> list[str]:
    """A manifest's lines (blank lines and ``#`` comments skipped); relative lines are relative to
    the manifest's folder. :class:`InputError` when it cannot be read or lists nothing."""
    try:
        raw = fsutil.open_input(path).read()
    except (OSError, FileNotFoundError) as exc:
        raise InputError(f"cannot read manifest {path!r}: {exc}") from exc
    if path.endswith(".gz"):
        raw = gzip.decompress(raw)
    base = os.path.dirname(fsutil.local_path(path)) if not fsutil.is_uri(path) else None
    lines = []
    for line in raw.decode("utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if base and not fsutil.is_uri(line) and not os.path.isabs(line):
            line = os.path.join(base, line)
        lines.append(line)
    if not lines:
        raise InputError(f"manifest {path!r} lists no input")
    return lines


def expand_manifests(items: Iterable[str]) -> list[str]:
    """``items`` with every manifest replaced by its lines (recursively); other items as given."""
    out: list[str] = []
    for item in items:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        if is_manifest(item):
            out.extend(expand_manifests(read_manifest(item.lstrip("@"))))
        else:
            out.append(item)
    return out


def check_exist(items: Iterable[str]) -> None:
    """Every local input exists: a path, or a glob that matches something; a local manifest is read
    and its lines checked. Raises :class:`InputError` naming the first that does not. URIs are skipped."""
    for item in items:
        item = item.strip()
        if not item or item.startswith("#") or fsutil.is_uri(item):
            continue
        if is_manifest(item):
            path = item.lstrip("@")
            if fsutil.is_uri(path):
                continue
            if not os.path.exists(fsutil.local_path(path)):
                raise InputError(f"input manifest {path!r} does not exist")
            check_exist(read_manifest(path))
            continue
        problem = missing(item)
        if problem:
            raise InputError(problem)


def missing(item: str, what: str = "input") -> str | None:
    """Why a local path or glob names nothing (``"<what> 'x' does not exist"`` / ``"... matches no
    file"``), or None when it does; a URI is not looked up (Spark resolves it on the cluster). The one
    existence rule for every verb's inputs and ``curate run --check``'s rows."""
    if fsutil.is_uri(item):
        return None
    path = fsutil.local_path(item)
    if os.path.exists(path):
        return None
    if not globlib.has_magic(path):
        return f"{what} {item!r} does not exist"
    if not next(globlib.iglob(path, recursive=True), None):
        return f"{what} {item!r} matches no file"
    return None

"""Which files a reader of a run may open: the run folder and the input folders its own config names.

A run directory is data, and data can be crafted: a ``_report.json`` naming ``/etc/passwd`` as a
benchmark file, a ``job.log`` that is a symlink to ``~/.ssh/id_rsa``, a ``source_file`` of
``../../secret``. The dashboard's viewers and ``curate sql`` therefore open a file only through a
:class:`Confinement`: the path is resolved first (symlinks and ``..``, with ``Path.resolve``), and
only a path that then lies under one of its roots is opened. Anything else raises
:class:`OutsideRunError`, whose message is one line a page or a CLI can show as it is.

:func:`for_run` builds the usual one: the run folder, plus the folders of the inputs the run's own
stages recorded (WARC files in ``extract/_accounting.json`` and ``_pipeline.json``, the
decontaminate stage's benchmarks YAML and allow-list, mix inputs), plus folders the operator
allows explicitly (``curate dashboard --warc-root``). The recorded inputs are themselves read
through the run-only confinement, so a symlinked ``_config.yaml`` cannot widen anything.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from curation import rundir, stages
from curation.errors import CurateError

#: Folders a run's config may name an input in but that never become a root: a crafted
#: ``benchmarks: /etc/x.yaml`` must not make ``/etc/passwd`` readable. The home folder itself (its
#: dotfiles hold keys and tokens), every folder above it and the shared temp folder itself are
#: refused for the same reason (see :func:`too_broad`); ``--warc-root`` still allows any of them.
SYSTEM_FOLDERS = tuple(Path(p) for p in ("/etc", "/proc", "/sys", "/dev", "/boot", "/root", "/run", "/var"))
#: Config keys, per stage, that name an input file or folder (dotted for nested keys).
INPUT_KEYS = {st.name: st.input_keys for st in stages.ordered() if st.input_keys}
_GLOB_CHARS = frozenset("*?[")


class OutsideRunError(CurateError, ValueError):
    """A path resolves outside every allowed folder; nothing was read."""


@dataclass(frozen=True)
class Confinement:
    """Resolved folders under which files may be opened (the first is where relative paths start)."""

    roots: tuple[Path, ...]
    #: Appended to a refusal: how to allow a folder (e.g. ``curate dashboard --warc-root DIR``).
    hint: str = ""

    @classmethod
    def under(cls, *folders: str | os.PathLike, hint: str = "") -> Confinement:
        return cls(tuple(_dedupe(Path(f).resolve() for f in folders)), hint)

    def allows(self, path: str | os.PathLike) -> bool:
        try:
            self.resolve(path, strict=False)
        except OutsideRunError:
            return False
        return True

    def resolve(self, path: str | os.PathLike, *, strict: bool = True) -> Path:
        """The real path of ``path`` if it lies under a root; :class:`OutsideRunError` if not.

        A relative path is taken relative to the first root (the run), never to the working
        directory. With ``strict`` a missing file raises ``FileNotFoundError`` (after the
        confinement check, so the message never confirms that a file outside exists).
        """
        given = Path(os.fspath(path))
        base = given if given.is_absolute() else self.roots[0] / given
        try:
            real = base.resolve(strict=False)  # follows every symlink that exists, collapses ..
        except (OSError, RuntimeError) as exc:  # a symlink loop
            raise OutsideRunError(f"refused: {path} cannot be resolved ({exc})") from exc
        if not any(real.is_relative_to(r) for r in self.roots):
            shown = f"{path}" if str(real) == str(path) else f"{path} (-> {real})"
            hint = f"; {self.hint}" if self.hint else ""
            raise OutsideRunError(f"refused: {shown} is outside the run and its input folders "
                                  f"({', '.join(map(str, self.roots))}){hint}")
        if strict and not real.exists():
            raise FileNotFoundError(f"{path} does not exist")
        return real

    def open(self, path: str | os.PathLike, mode: str = "rb"):
        if any(c in mode for c in "wax+"):
            raise ValueError("a Confinement opens files for reading only")
        return open(self.resolve(path), mode)  # the caller closes it

    def read_text(self, path: str | os.PathLike, encoding: str = "utf-8") -> str:
        return self.resolve(path).read_text(encoding=encoding, errors="replace")

    def read_json(self, path: str | os.PathLike) -> Any:
        """Parsed JSON, or None when missing or malformed; :class:`OutsideRunError` when outside."""
        try:
            return json.loads(self.read_text(path))
        except (OSError, ValueError) as exc:
            if isinstance(exc, OutsideRunError):
                raise
            return None


def _dedupe(paths: Iterable[Path]) -> Iterator[Path]:
    seen: set[Path] = set()
    for p in paths:
        if p not in seen:
            seen.add(p)
            yield p


def too_broad(folder: Path) -> bool:
    """Whether a config-named folder would expose far more than a run's inputs (see SYSTEM_FOLDERS)."""
    home = Path.home().resolve()
    return (folder == Path(folder.anchor) or home.is_relative_to(folder)
            or folder == Path(tempfile.gettempdir()).resolve()
            or any(folder.is_relative_to(s) for s in SYSTEM_FOLDERS))


def _folder_of(value: str) -> Path | None:
    """The folder an input path names: itself for a folder, the parent for a file, the part before
    the first wildcard for a glob; None for remote URIs and empty values."""
    if not value or "://" in value:
        return None
    p = Path(value[len("file:"):] if value.startswith("file:") else value)
    if not p.is_absolute():
        return None  # relative to whichever directory the job ran in: unknowable now
    parts = p.parts
    cut = next((i for i, part in enumerate(parts) if _GLOB_CHARS & set(part)), None)
    if cut is not None:
        return Path(*parts[:cut])
    try:
        return p.resolve() if p.resolve().is_dir() else p.resolve().parent
    except (OSError, RuntimeError):
        return None


def _values(cfg: Any, key: str) -> list[str]:
    """Values of a dotted key (``a.b``, ``sources[].input``) in a parsed config; strings only."""
    nodes = [cfg]
    for part in key.split("."):
        many = part.endswith("[]")
        name = part[:-2] if many else part
        nxt = []
        for n in nodes:
            v = n.get(name) if isinstance(n, dict) else None
            nxt.extend(v if many and isinstance(v, list) else [] if many else [v])
        nodes = nxt
    out = []
    for v in nodes:
        out.extend(x for x in (v if isinstance(v, list) else [v]) if isinstance(x, str))
    return out


def recorded_inputs(run_dir: str | os.PathLike) -> list[str]:
    """Every input path the run's own stages recorded (read through the run-only confinement)."""
    own = Confinement.under(run_dir)
    root = own.roots[0]
    found: list[str] = []

    def load(rel: str, parse) -> Any:
        try:
            return parse(own.read_text(root / rel))
        except (OSError, ValueError, OutsideRunError, yaml.YAMLError):
            return None  # missing, malformed or a symlink out of the run: records nothing

    pipeline = load(rundir.PIPELINE_STATE, json.loads) or {}
    records = pipeline.get("stages") if isinstance(pipeline, dict) else None
    for name, rec in (records or {}).items():
        if isinstance(rec, dict):
            found += [k for k in (rec.get("inputs") or {}) if isinstance(k, str)]
            for key in INPUT_KEYS.get(name, ()):
                found += _values(rec.get("config"), key)
    for stage in ("", *sorted(INPUT_KEYS)):  # RUN_DIR itself may be one stage's output
        cfg = load(f"{stage}/{rundir.CONFIG}".lstrip("/"), yaml.safe_load)
        for key in (INPUT_KEYS.get(stage) or [k for keys in INPUT_KEYS.values() for k in keys]):
            found += _values(cfg, key)
    for rel in (f"{stages.first_reads_files().folder}/{rundir.ACCOUNTING}", rundir.ACCOUNTING):
        acc = load(rel, json.loads)
        if isinstance(acc, dict) and isinstance(acc.get("per_file"), dict):
            found += [k for k in acc["per_file"] if isinstance(k, str)]
    return list(dict.fromkeys(found))


def for_run(run_dir: str | os.PathLike, extra: Iterable[str | os.PathLike] = (), hint: str = "") -> Confinement:
    """The run folder, the folders of its recorded inputs (minus :func:`too_broad` ones), then ``extra``."""
    root = Path(run_dir).resolve()
    folders = [f for f in map(_folder_of, recorded_inputs(root)) if f is not None and not too_broad(f)]
    folders += [Path(e).expanduser().resolve() for e in extra]
    kept: list[Path] = [root]
    for f in sorted(set(folders), key=lambda p: len(p.parts)):  # a folder inside a kept one adds nothing
        if not any(f.is_relative_to(k) for k in kept):
            kept.append(f)
    return Confinement(tuple(kept), hint)

"""Model directories: the checks every classifier's ``load()`` shares.

A model artifact is a directory holding ``meta.json`` (with a ``version``) and the model's own
files; anything missing or from another version is a clear error naming the file.

``meta.json`` also records each model file's size and sha256 (``files``, written at training
time by :func:`record_files`); :func:`verify_files` checks them, and each file's structure, before
a loader reads a byte (see :mod:`curation.model_files` for why a damaged file must never reach
fastText). Directories written before checksums have no ``files``: they get the size and structure
checks only, and one warning per process saying so.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from pathlib import Path

from curation.model_files import ModelFileError, describe, verify

META_FILE = "meta.json"
#: meta.json key: ``{file name: {"bytes": int, "sha256": hex}}``.
FILES_KEY = "files"

log = logging.getLogger(__name__)
_WARNED: set[str] = set()

__all__ = ["META_FILE", "FILES_KEY", "ModelFileError", "read_meta", "read_meta_file", "record_files", "verify_files"]


def read_meta_file(model_dir: str | Path, files: tuple[str, ...] = ()) -> tuple[Path, dict]:
    """Check ``model_dir`` holds ``meta.json`` (a JSON object) and ``files``; return both."""
    d = Path(model_dir)
    if not d.is_dir():
        raise FileNotFoundError(f"model directory not found: {d}")
    meta_path = d / META_FILE
    for p in (meta_path, *(d / f for f in files)):
        if not p.is_file():
            raise FileNotFoundError(f"model file not found: {p}")
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as exc:
        raise ValueError(f"{meta_path}: not valid JSON ({exc})") from exc
    return d, meta if isinstance(meta, dict) else {}


def read_meta(model_dir: str | Path, files: tuple[str, ...], version: int) -> tuple[Path, dict]:
    """:func:`read_meta_file` plus the format-version check."""
    d, meta = read_meta_file(model_dir, files)
    meta_path = d / META_FILE
    found = meta.get("version")
    if found != version:
        raise ValueError(f"{meta_path}: meta version {found!r} is not supported (expected {version})")
    return d, meta


def record_files(model_dir: str | Path, names: tuple[str, ...]) -> dict[str, dict]:
    """``{name: {"bytes", "sha256"}}`` for ``meta.json``'s ``files``, from the files just written."""
    d = Path(model_dir)
    return {name: describe(d / name) for name in names}


def verify_files(d: Path, meta: dict, checks: dict[str, Callable[[Path], None]],
                 legacy_bytes: dict[str, int] | None = None) -> None:
    """Each file in ``checks`` (name -> structure check) against ``meta.json``'s ``files``.

    A directory without ``files`` (written before checksums) is checked for structure, and for the
    sizes in ``legacy_bytes`` where an older meta recorded one; a damaged file raises
    :class:`ModelFileError` either way, but only a checksum catches a flipped byte in the weights.
    """
    recorded = meta.get(FILES_KEY)
    where = str(d / META_FILE)
    if not isinstance(recorded, dict):
        if str(d) not in _WARNED:
            _WARNED.add(str(d))
            log.warning("%s records no checksums (written before they were added): checking file sizes and "
                        "structure only; retrain the model to have its files verified in full", where)
        for name, structure in checks.items():
            size = (legacy_bytes or {}).get(name)
            verify(d / name, {"bytes": size} if isinstance(size, int) else None, structure, where)
        return
    for name, structure in checks.items():
        entry = recorded.get(name)
        if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
            raise ModelFileError(f"{where}: files.{name} has no sha256 (the meta file was edited or damaged)")
        verify(d / name, entry, structure, where)

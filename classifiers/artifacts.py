"""Model directories: the checks every classifier's ``load()`` shares.

A model artifact is a directory holding ``meta.json`` (with a ``version``) and the model's own
files; anything missing or from another version is a clear error naming the file.
"""

from __future__ import annotations

import json
from pathlib import Path

META_FILE = "meta.json"


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

"""Local paths and Hadoop-style URIs (s3a://, hdfs://, gs://) through one small interface.

Executors read and write with ``pyarrow.fs`` (credentials from the environment, e.g.
``AWS_ACCESS_KEY_ID``), so the pure-Python core needs no JVM. ``s3a://``/``s3n://`` are the Hadoop
spellings of ``s3://``.
"""

from __future__ import annotations

import contextlib
import os
import uuid
from collections.abc import Iterator
from typing import BinaryIO

import pyarrow.fs as pafs

_HADOOP_TO_ARROW = {"s3a": "s3", "s3n": "s3"}


def is_uri(path: str) -> bool:
    """True for remote filesystems; ``file:`` URIs (Hadoop writes ``file:/x``) are local paths."""
    return "://" in path and not path.startswith("file:")


def local_path(path: str) -> str:
    if path.startswith("file:"):
        path = "/" + path[len("file:"):].lstrip("/")
    return os.path.abspath(path)


def resolve(path: str) -> tuple[pafs.FileSystem, str]:
    if not is_uri(path):
        return pafs.LocalFileSystem(), local_path(path)
    scheme, rest = path.split("://", 1)
    return pafs.FileSystem.from_uri(f"{_HADOOP_TO_ARROW.get(scheme, scheme)}://{rest}")


def join(base: str, *parts: str) -> str:
    return "/".join([base.rstrip("/"), *parts])


def open_input(path: str) -> BinaryIO:
    if not is_uri(path):
        return open(local_path(path), "rb")  # caller closes
    fs, p = resolve(path)
    return fs.open_input_stream(p)  # type: ignore[return-value]


def exists(path: str) -> bool:
    fs, p = resolve(path)
    return fs.get_file_info(p).type != pafs.FileType.NotFound


def makedirs(path: str) -> None:
    fs, p = resolve(path)
    fs.create_dir(p, recursive=True)


def remove_tree(path: str) -> None:
    fs, p = resolve(path)
    info = fs.get_file_info(p)
    if info.type == pafs.FileType.Directory:
        fs.delete_dir(p)
    elif info.type == pafs.FileType.File:
        fs.delete_file(p)


def list_files(path: str, suffix: str = "") -> list[str]:
    """Files directly under ``path`` whose names end with ``suffix`` (full paths/URIs)."""
    fs, p = resolve(path)
    if fs.get_file_info(p).type != pafs.FileType.Directory:
        return []
    infos = fs.get_file_info(pafs.FileSelector(p, recursive=False))
    base = path.rstrip("/")
    return sorted(join(base, i.base_name) for i in infos if i.type == pafs.FileType.File and i.base_name.endswith(suffix))


def read_text(path: str) -> str:
    fs, p = resolve(path)
    with fs.open_input_stream(p) as f:
        return f.read().decode("utf-8")


def write_atomic(path: str, data: bytes) -> None:
    """Write to a temporary sibling, then rename, so readers never see a partial file."""
    with atomic_output(path) as f:
        f.write(data)


@contextlib.contextmanager
def atomic_output(path: str):
    """A stream to a temporary sibling of ``path``, renamed into place when the block ends without
    an error (removed when it raises): large files are written piece by piece, never half visible."""
    fs, p = resolve(path)
    parent = p.rsplit("/", 1)[0]
    if parent and parent != p:
        fs.create_dir(parent, recursive=True)
    tmp = f"{p}.{uuid.uuid4().hex}.inprogress"
    try:
        with fs.open_output_stream(tmp) as f:
            yield f
    except BaseException:
        fs.delete_file(tmp)
        raise
    fs.move(tmp, p)


@contextlib.contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[str]:
    """A hidden temporary sibling of local ``path`` for a library that writes a file by name
    (DuckDB, a tokenizer's ``save``, ``torch.save``): renamed over ``path`` when the block ends
    without an error, removed either way, so readers never see a partial file."""
    target = local_path(os.fspath(path))
    os.makedirs(os.path.dirname(target), exist_ok=True)
    tmp = os.path.join(os.path.dirname(target), f".{os.path.basename(target)}.{uuid.uuid4().hex}.inprogress")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.remove(tmp)

"""Inputs to a run: paths, folders, globs and manifests expanded to a sorted list of files.

Pure Python for local inputs (the pipeline checks its inputs before Spark starts); URIs are expanded
through a Spark session's Hadoop filesystem only when the caller passes one (duck-typed: no pyspark
import here).
"""

from __future__ import annotations

import glob as globlib
import os
import re

from curation import fsutil
from curation.errors import JobError
from curation.verb_inputs import MANIFEST_SUFFIXES, read_manifest

#: Suffixes of web-archive files picked up when an input is a directory.
ARCHIVE_SUFFIXES = (".warc", ".warc.gz", ".arc", ".arc.gz", ".wet", ".wet.gz", ".wat", ".wat.gz")
#: Inputs with these names are manifests (one path or glob per line): curation.verb_inputs.
__all__ = ["ARCHIVE_SUFFIXES", "MANIFEST_SUFFIXES", "expand_inputs", "walk_files"]


def expand_inputs(inputs: list[str], spark=None) -> list[str]:
    """Paths, directories, globs and manifests → a sorted, de-duplicated list of files.

    Local inputs are expanded in Python; URIs (s3a://, hdfs://, …) with Hadoop's ``globStatus`` on
    the driver, so they honour the cluster's Hadoop configuration. A manifest's relative lines are
    relative to the manifest's folder. An input that matches nothing is an error, not a silent skip.
    """
    files: list[str] = []
    for item in inputs:
        item = item.strip()
        if not item or item.startswith("#"):
            continue
        if item.startswith("@") or item.endswith(MANIFEST_SUFFIXES):
            files.extend(expand_inputs(read_manifest(item.lstrip("@")), spark))
            continue
        # Any URI (file: included) goes through Hadoop when a session is at hand: one code path
        # for s3a://, hdfs:// and local URIs, which lets local tests exercise it.
        found = _expand_uri(item, spark) if "://" in item and (spark or fsutil.is_uri(item)) else _expand_local(item)
        if not found:
            raise JobError(f"input {item!r} matches no file")
        files.extend(found)
    return sorted(dict.fromkeys(files))


def _expand_local(item: str) -> list[str]:
    """A local file, folder or glob → real paths (symlinks resolved, so a file reached by two paths
    is read once). An existing path is never a glob: ``crawl[1].warc.gz`` is that file."""
    path = fsutil.local_path(item)
    if os.path.isdir(path):
        found = [f for f in walk_files(path) if f.endswith(ARCHIVE_SUFFIXES)]
    elif os.path.isfile(path):
        found = [path]
    elif not globlib.has_magic(path):
        found = []
    elif "**" in path:
        found = _glob_recursive(path)
    else:  # one level per pattern part: finite whatever the links
        found = [p for p in globlib.glob(path) if os.path.isfile(p)]
    return [os.path.realpath(f) for f in found]


def walk_files(root: str):
    """Every file below ``root`` in sorted order, following folder symlinks but entering each real
    folder once: a loop (``self -> .``) or two links to one folder cannot repeat files or recurse
    without end. (glob's ``**`` follows loops until the OS gives up: one file became 81 inputs.)"""
    seen: set[str] = set()
    for dirpath, dirnames, filenames in os.walk(root, followlinks=True):
        real = os.path.realpath(dirpath)
        if real in seen:
            dirnames[:] = []
            continue
        seen.add(real)
        dirnames.sort()
        for name in sorted(filenames):
            full = os.path.join(dirpath, name)
            if os.path.isfile(full):
                yield full


def _glob_recursive(pattern: str) -> list[str]:
    """``**`` globs over :func:`walk_files`: the pattern's fixed leading folders are the root; the
    rest is matched against each file's relative path (``**`` = zero or more folders; ``*``, ``?``
    and ``[…]`` stay within one name and, as in glob, do not match a leading dot)."""
    parts = pattern.split("/")
    fixed = 0
    while fixed < len(parts) and not globlib.has_magic(parts[fixed]):
        fixed += 1
    root = "/".join(parts[:fixed]) or "/"
    regex = ""
    rest = parts[fixed:]
    for i, part in enumerate(rest):
        last = i == len(rest) - 1
        if part == "**":
            regex += r"(?:(?!\.)[^/]+/)*(?!\.)[^/]+" if last else r"(?:(?!\.)[^/]+/)*"
        else:
            regex += _name_regex(part) + ("" if last else "/")
    matcher = re.compile(regex + r"\Z", re.DOTALL)
    if not os.path.isdir(root):
        return []
    return [f for f in walk_files(root) if matcher.match(os.path.relpath(f, root))]


def _name_regex(part: str) -> str:
    out = "" if part.startswith(".") else r"(?!\.)"
    i = 0
    while i < len(part):
        c = part[i]
        if c == "*":
            out += "[^/]*"
        elif c == "?":
            out += "[^/]"
        elif c == "[" and part.find("]", i + 2) != -1:  # a "]" right after "[" is a member
            end = part.find("]", i + 2)
            body = part[i + 1:end]
            out += "[" + ("^" + body[1:] if body.startswith("!") else body).replace("\\", "\\\\") + "]"
            i = end
        else:
            out += re.escape(c)
        i += 1
    return out


def _expand_uri(item: str, spark) -> list[str]:
    if spark is None:
        raise JobError(f"{item!r}: URIs are expanded through Spark's Hadoop filesystem; no session given")
    jvm = spark.sparkContext._jvm
    hconf = spark.sparkContext._jsc.hadoopConfiguration()
    path = jvm.org.apache.hadoop.fs.Path(item)
    fs = path.getFileSystem(hconf)
    statuses = fs.globStatus(path) or []
    out = []
    for status in statuses:
        if status.isDirectory():
            it = fs.listFiles(status.getPath(), True)
            while it.hasNext():
                p = it.next().getPath().toString()
                if p.endswith(ARCHIVE_SUFFIXES):
                    out.append(p)
        else:
            out.append(status.getPath().toString())
    return out

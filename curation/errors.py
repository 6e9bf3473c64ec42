"""User-facing errors every layer shares, and the one-line reading of a damaged Parquet file.

Pure Python: the pipeline (core), the Spark jobs and the CLI all raise and catch these, so they live
below all of them.

Every error a user can fix (a bad config, input, label or model file, a refused output folder, an
impossible mixture plan...) derives from :class:`CurateError`. ``curate`` (``curate.cli.main``)
catches it once for every verb and prints one line, ``curate VERB: error: MESSAGE``, on stderr and
exits 2; anything else is a bug and keeps its traceback. Errors that code catches as ``ValueError``
subclass both (``class ModelFileError(ModelError, ValueError)``).
"""

from __future__ import annotations

import re
import sys
from typing import Any, TextIO


def one_line(message: Any) -> str:
    """``message`` as one printable line: newlines and terminal control characters escaped (``\\n``),
    since a message often quotes what the user wrote (keys, values, file contents)."""
    text = str(message)
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else c.encode("unicode_escape").decode("ascii") for c in text)


class CurateError(Exception):
    """The base of every user-facing error: reported as one line, exit code 2, by every verb."""


class JobError(CurateError):
    """A user error in a job (bad input, bad config): reported as one line, exit code 2."""


class ModelError(CurateError):
    """A model that cannot be used: missing, damaged, of an unknown kind (one line, exit 2)."""


def report(verb: str, exc: BaseException | str, file: TextIO | None = None) -> int:
    """Print ``curate VERB: error: MESSAGE`` (one line) on stderr and return the exit code, 2.

    The one format of a user error, for every verb; ``curate: error: MESSAGE`` when no verb is known
    yet (a plugin that fails while the command line is being read)."""
    print(f"{f'curate {verb}' if verb else 'curate'}: error: {one_line(exc)}", file=file or sys.stderr)
    return 2


def damaged_parquet_error(exc: BaseException) -> str | None:
    """One line for a read that failed a Parquet page CRC (or, on local and HDFS files, Hadoop's own
    .crc side file), naming the file; None for any other error.

    Such a file was damaged after it was written (disk, copy, object store): no record in it can be
    trusted or counted, so the job stops instead of counting them as errors.
    """
    text = str(exc)
    if "checksum verification failed" not in text and "ChecksumException" not in text:
        return None
    found = re.search(r"(?:reading file|Checksum error:) (\S+?\.parquet)", text)
    where = found.group(1) if found else "a Parquet file"
    return f"a Parquet page in {where} failed its checksum (damaged after it was written)"

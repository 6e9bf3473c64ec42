"""User-facing errors every layer shares, and the one-line reading of a damaged Parquet file.

Pure Python: the pipeline (core), the Spark jobs and the CLI all raise and catch these, so they live
below all of them (they began in ``spark_jobs.job``, which still re-exports them).
"""

from __future__ import annotations

import re


class JobError(Exception):
    """A user error (bad input, bad config): reported as one line, exit code 2."""


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

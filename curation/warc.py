"""Streaming reader for WARC (gzip or plain), legacy ARC and WET files.

warcio is used for every format: it reads ARC natively, de-chunks ``Transfer-Encoding: chunked``,
tolerates bare-LF header lines, and at ~18k records/s it is far from the bottleneck (extraction is
10-100x slower). What warcio does *not* do is report a file cut off mid-record: it returns the short
payload silently. :func:`read_records` checks every record's payload against its Content-Length
and reports the cut as ``error.truncated``, and turns any decoder error (corrupt gzip, garbage
framing) into one ``error.read`` record, after which the rest of that file cannot be trusted.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import BinaryIO, Iterator

from warcio.archiveiterator import ArchiveIterator

#: WARC record types that carry a document.
DOCUMENT_TYPES = ("response", "resource", "conversion")


@dataclass(slots=True)
class RawRecord:
    record_type: str
    offset: int
    record_id: str | None = None
    url: str | None = None
    date: str | None = None
    http_status: int | None = None
    content_type: str | None = None  # full header value, parameters included
    payload: bytes | None = None  # None when not read (non-document or over the size cap)
    payload_bytes: int | None = None  # declared/observed payload size
    error: str | None = None  # "truncated" | "read" | "http_headers"
    error_detail: str | None = None


def normalise_date(value: str | None) -> str | None:
    """WARC ISO dates and ARC ``YYYYMMDDhhmmss`` to ``YYYY-MM-DDThh:mm:ssZ``; otherwise as given."""
    if not value:
        return None
    v = value.strip()
    if re.fullmatch(r"\d{14}", v):
        try:
            return datetime.strptime(v, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return v
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return v  # malformed dates (ClueWeb) are kept verbatim rather than lost
    if dt.tzinfo is not None:
        dt = dt.astimezone(timezone.utc).replace(tzinfo=None)
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def record_key(source_file: str, offset: int) -> str:
    """Document id: a hash of the input file's full path (resolved: real path or URI) and the
    record's offset.

    Not the WARC-Record-ID: ARC has none, and real crawls repeat them (the 2013 Wikipedia capture
    in ../shared/data has two records with one id). Not the file name alone either: two crawls'
    ``CC-MAIN-…-00000.warc.gz`` in different folders would share every id. Stable across re-runs;
    a run on moved files gets new ids (rerun the pipeline from extract).
    """
    return hashlib.sha1(f"{source_file}:{offset}".encode("utf-8", "surrogatepass")).hexdigest()


def read_records(stream: BinaryIO, max_payload_bytes: int = 5_000_000) -> Iterator[RawRecord]:
    """Yield every record of a WARC/ARC/WET stream, documents with their payload read.

    Never raises on bad input: a decoder failure yields one ``error="read"`` record and ends.
    """
    it = ArchiveIterator(stream, arc2warc=True, check_digests=False)
    is_arc = None  # decided by the first record: warcio turns an ARC's filedesc header into a warcinfo
    while True:
        try:
            rec = next(it)
        except StopIteration:
            # warcio ends quietly on a corrupt gzip member (it prints the zlib error and returns no
            # data) and on a file cut inside record headers: bytes left unparsed are a lost record.
            unread = _unread_bytes(it)
            if unread:
                yield RawRecord(record_type="unknown", offset=_offset(it), error="read",
                                error_detail=f"{unread} bytes after the last complete record could not be "
                                             "read (corrupt compression, or the file ends inside a record header)")
            return
        except Exception as exc:  # noqa: BLE001 - corrupt compression or framing
            yield RawRecord(record_type="unknown", offset=_offset(it), error="read",
                            error_detail=f"{type(exc).__name__}: {exc}"[:500])
            return
        if is_arc is None:
            filename = rec.rec_headers.get_header("WARC-Filename") or ""
            is_arc = rec.rec_type == "warcinfo" and bool(re.search(r"\.arc(\.gz)?$", filename, re.I))
        try:
            yield _to_raw(rec, _offset(it), max_payload_bytes, is_arc)
        except Exception as exc:  # noqa: BLE001 - the stream broke inside this record
            yield RawRecord(record_type=rec.rec_type or "unknown", offset=_offset(it), error="read",
                            url=rec.rec_headers.get_header("WARC-Target-URI"),
                            error_detail=f"{type(exc).__name__}: {exc}"[:500])
            return


def _unread_bytes(it: ArchiveIterator) -> int:
    """Bytes of the input after the end of the last record read (0 for a file that ended cleanly)."""
    end = _offset(it)
    try:
        pos = it.fh.tell()
        while chunk := it.fh.read(1 << 20):
            pos += len(chunk)
    except Exception:  # noqa: BLE001 - cannot tell: do not invent an error
        return 0
    return max(pos - end, 0)


def _offset(it: ArchiveIterator) -> int:
    # ``it.offset`` is the start of the record just yielded (warcio updates it in read_to_end);
    # ``get_record_offset()`` would read the record to its end first, consuming the payload.
    return int(getattr(it, "offset", -1) or 0)


def _to_raw(rec, offset: int, max_payload_bytes: int, is_arc: bool) -> RawRecord:
    h = rec.rec_headers
    raw = RawRecord(
        record_type=rec.rec_type or "unknown",
        offset=offset,
        url=h.get_header("WARC-Target-URI"),
        date=normalise_date(h.get_header("WARC-Date")),
    )
    rid = h.get_header("WARC-Record-ID")
    # warcio invents a random WARC-Record-ID when converting ARC; only trust real WARC ones.
    if rid and not is_arc:
        raw.record_id = rid.strip("<>")
    if raw.record_type not in DOCUMENT_TYPES:
        _check_complete(rec, raw)  # a cut inside a request or metadata record is a cut all the same
        return raw

    if rec.http_headers is not None and raw.record_type == "response":
        status = rec.http_headers.get_statuscode()
        try:
            raw.http_status = int(status)
        except (TypeError, ValueError):
            raw.error, raw.error_detail = "http_headers", f"bad HTTP status line: {rec.http_headers.protocol!r} {status!r}"[:500]
            return raw
        raw.content_type = rec.http_headers.get_header("Content-Type")
    elif raw.record_type == "response" and rec.http_headers is None and _expects_http(raw.url):
        raw.error, raw.error_detail = "http_headers", "response record without HTTP headers"
        return raw
    else:
        raw.content_type = h.get_header("Content-Type")
        if raw.record_type == "conversion" and not raw.content_type:
            raw.content_type = "text/plain"

    declared = rec.length  # Content-Length of the WARC block (HTTP headers included)
    raw.payload_bytes = declared
    body = rec.content_stream()
    data = body.read(max_payload_bytes + 1)
    if len(data) > max_payload_bytes:
        raw.payload_bytes = max(declared or 0, len(data))
        return raw  # payload left as None: over the cap; warcio skips the rest on next()
    raw.payload = data
    _check_complete(rec, raw)
    return raw


def _check_complete(rec, raw: RawRecord) -> None:
    """Mark ``raw`` truncated when the file ends before the record's Content-Length."""
    # The body decoder can stop before the block's end (chunked trailers), so a positive remaining
    # limit alone does not prove a cut: drain the block and see whether the file really ends early.
    if rec.length is None and rec.format.startswith("warc"):  # the cut fell inside the WARC header block
        raw.error, raw.error_detail = "truncated", "record header ends without a Content-Length"
        return
    remaining = getattr(rec.raw_stream, "limit", 0) or 0
    while remaining > 0:
        got = len(rec.raw_stream.read(min(remaining, 1 << 20)))
        if not got:
            raw.error = "truncated"
            raw.error_detail = f"file ends {remaining} bytes before the record's Content-Length {rec.length}"
            return
        remaining -= got


def _expects_http(url: str | None) -> bool:
    return bool(url) and url.lower().startswith(("http://", "https://"))

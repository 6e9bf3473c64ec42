"""Streaming reader for WARC (gzip or plain), legacy ARC and WET files, safe on hostile input.

Two engines, one result. FastWARC (:mod:`curation.ingest.warc_fastwarc`) reads the records of a
seekable WARC that it can prove warcio reads the same way (most of a real crawl; about twice as fast
here, bench/warc_read.py); warcio, with the hardening below, reads everything else: ARC files,
unseekable streams, every record FastWARC cannot vouch for, and the last record of every file
(where cuts and trailing garbage are). tests/test_warc_fastwarc.py holds the two to identical
records on every shared WARC file and on hundreds of hostile mutations. What warcio does *not*
do is report a file cut off mid-record: it returns the short payload silently. :func:`read_records`
checks every record's payload against its Content-Length and reports the cut as ``error.truncated``,
and turns any decoder error (corrupt gzip, garbage framing) into one ``error.read`` record, after
which the rest of that file cannot be trusted.

Hostile input. A ``.warc.gz`` expands ~1000x, so a 1 MB file can hold a 1 GiB header line or a
1 GiB HTTP chunk, and warcio buffers both whole (``readline()`` without a limit; a chunk read in
one piece; Content-Encoding inflated without an output cap). Here every line warcio reads is capped
(:class:`_CappedReader`), header blocks have a byte budget (:class:`_HeaderGuard`), and the payload is
de-chunked and decompressed by :func:`_decoded_body`, which never produces more than the payload
cap. A record over a header limit is ``error.header_too_large`` and skipped by its Content-Length,
streaming; the file goes on. A file that is no WARC/ARC at all is one ``error.not_warc``.
"""

from __future__ import annotations

import hashlib
import re
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import BinaryIO

from warcio.archiveiterator import ArchiveIterator
from warcio.bufferedreaders import DecompressingBufferedReader
from warcio.exceptions import ArchiveLoadFailed
from warcio.recordloader import ArcWarcRecordLoader

from curation.ingest.warc_fastwarc import WARCIO_BLOCK, fast_records, resumable, usable

#: WARC record types that carry a document.
DOCUMENT_TYPES = ("response", "resource", "conversion")

#: Header limits. Real crawls stay far below them (the longest header line in ../shared/data is a
#: few KiB: long URLs and cookies); they exist so that one hostile header cannot take a worker's memory.
MAX_HEADER_LINE_BYTES = 64 * 1024
MAX_HEADER_BLOCK_BYTES = 1024 * 1024


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
    error: str | None = None  # "truncated" | "read" | "http_headers" | "header_too_large" | "not_warc"
    error_detail: str | None = None


_CANONICAL_DATE = re.compile(r"[1-9][0-9]{3}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}Z")
_ARC_DATE = re.compile(r"\d{14}")


def normalise_date(value: str | None) -> str | None:
    """WARC ISO dates and ARC ``YYYYMMDDhhmmss`` to ``YYYY-MM-DDThh:mm:ssZ``; otherwise as given."""
    if not value:
        return None
    v = value.strip()
    if _CANONICAL_DATE.fullmatch(v):
        return v  # already the output form (a valid date prints back as itself; an invalid one is kept)
    if _ARC_DATE.fullmatch(v):
        try:
            return datetime.strptime(v, "%Y%m%d%H%M%S").strftime("%Y-%m-%dT%H:%M:%SZ")
        except ValueError:
            return v
    try:
        dt = datetime.fromisoformat(v.replace("Z", "+00:00"))
    except ValueError:
        return v  # malformed dates (ClueWeb) are kept verbatim rather than lost
    if dt.tzinfo is not None:
        dt = dt.astimezone(UTC).replace(tzinfo=None)
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


def read_records(stream: BinaryIO, max_payload_bytes: int = 5_000_000, *,
                 max_header_line_bytes: int = MAX_HEADER_LINE_BYTES,
                 max_header_block_bytes: int = MAX_HEADER_BLOCK_BYTES,
                 engine: str = "auto") -> Iterator[RawRecord]:
    """Yield every record of a WARC/ARC/WET stream, documents with their payload read.

    Never raises on bad input: a decoder failure yields one ``error="read"`` record and ends; input
    that is no WARC/ARC at all yields one ``error="not_warc"`` record. Memory stays bounded by the
    payload cap and the header limits whatever the input holds.

    ``engine="auto"`` reads a seekable WARC with FastWARC as far as it can vouch for the records
    (:mod:`curation.ingest.warc_fastwarc`) and the rest with warcio; ``"warcio"`` reads it all with
    warcio. Both yield the same records (tests/test_warc_fastwarc.py); the switch exists for that
    test and bench/warc_read.py.
    """
    stream, not_warc = _sniff(stream)
    if not_warc is not None:
        yield not_warc
        return
    last = -1
    fast = engine == "auto" and stream.is_warc and usable(stream.stream, stream.pos)
    if engine not in ("auto", "warcio"):
        raise ValueError(f"engine must be 'auto' or 'warcio', not {engine!r}")
    base, is_arc = stream.pos, None
    run = 1  # records warcio reads before FastWARC tries again: doubles while FastWARC vouches for none
    while True:
        if fast:  # FastWARC reads what it can vouch for (warc_fastwarc's docstring); warcio the rest
            records = fast_records(stream.stream, base, is_arc, max_payload_bytes, max_header_line_bytes,
                                   max_header_block_bytes, _to_raw)
            vouched = 0
            while True:
                try:
                    raw = next(records)
                except StopIteration as stop:
                    base, is_arc = stop.value.offset, stop.value.is_arc
                    break
                raw.offset = last = max(raw.offset, last + 1)
                vouched += 1
                yield raw
            run = 1 if vouched else min(run * 2, 64)
            stream = _resume_at(stream.stream, base)
        it = _BoundedIterator(stream, max_header_line_bytes, max_header_block_bytes)
        it.is_arc = is_arc
        if stream.is_warc:
            # warcio (arc2warc) falls back to ARC parsing on any line that does not start with "WARC/",
            # and an ARC header is any line with four spaces: in a WARC file, garbage after the last
            # record became a phantom "response" with a binary URL. A WARC file holds only WARC records.
            it.known_format, it.mixed_arc_warc = "warc", False
        read = 0
        for raw in _records(it, max_payload_bytes, is_arc):
            if fast and read >= run and raw.error is None and raw.offset > last \
                    and _starts_record(stream.stream, raw.offset):
                # warcio read the record FastWARC could not vouch for and found the next one intact:
                # FastWARC takes over again from that record's start (this read of it is dropped).
                base, is_arc = raw.offset, it.is_arc
                stream.stream.seek(base)
                break
            # Offsets name records (document ids hash them), so they must be unique. warcio's can
            # repeat or go negative where a record fails to parse (the offset of the one before it,
            # or a compressed position minus a decompressed length): those get the next free number.
            raw.offset = last = max(raw.offset, last + 1)
            read += 1
            yield raw
        else:
            return


def _resume_at(fh: BinaryIO, offset: int) -> _Replay:
    """``fh`` from record ``offset`` on, read by warcio in the same blocks as from the file's start
    (see :func:`curation.ingest.warc_fastwarc.resumable`): the rest of the block holding ``offset``
    comes first, as the rest of a block does after a gzip member ends."""
    fh.seek(offset)
    head = fh.read(-offset % WARCIO_BLOCK)
    return _Replay(head, fh, offset, is_warc=True)


def _starts_record(fh: BinaryIO, offset: int) -> bool:
    """A record's first line (``WARC/``) starts at ``offset``, plain or as a gzip member's first
    bytes, and warcio can be started there afresh."""
    pos = fh.tell()
    try:
        fh.seek(offset)
        head = fh.read(4096)
        compressed = head[:2] == _GZIP_MAGIC
        if compressed:
            head = _gunzip_head(head, 5)
        return head.startswith(b"WARC/") and resumable(offset, compressed)
    except Exception:
        return False
    finally:
        fh.seek(pos)


def _records(it: ArchiveIterator, max_payload_bytes: int, is_arc: bool | None = None) -> Iterator[RawRecord]:
    # is_arc: decided by the file's first record (warcio turns an ARC's filedesc header into a
    # warcinfo); given when warcio takes over from the FastWARC path mid-file.
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
        except Exception as exc:  # corrupt compression or framing
            yield RawRecord(record_type="unknown", offset=_offset(it), error="read",
                            error_detail=f"{type(exc).__name__}: {' '.join(str(exc).split())}"[:500])
            return
        if is_arc is None:
            filename = rec.rec_headers.get_header("WARC-Filename") or ""
            is_arc = it.is_arc = rec.rec_type == "warcinfo" and bool(re.search(r"\.arc(\.gz)?$", filename, re.I))
        try:
            raw = _to_raw(rec, _offset(it), max_payload_bytes, is_arc)
        except Exception as exc:  # the stream broke inside this record
            raw = RawRecord(record_type=rec.rec_type or "unknown", offset=_offset(it), error="read",
                            url=rec.rec_headers.get_header("WARC-Target-URI"),
                            error_detail=f"{type(exc).__name__}: {exc}"[:500])
        yield raw
        if raw.error == "read":
            return


# --------------------------------------------------------------------------------------------
# Is it a WARC at all?

_SNIFF_BYTES = 1 << 16
_GZIP_MAGIC = b"\x1f\x8b"


class _Replay:
    """``stream`` with the bytes already sniffed put back in front; ``tell()`` stays absolute.

    Rewinding by ``seek`` would not work on remote (pyarrow) input streams, which cannot seek.
    """

    def __init__(self, head: bytes, stream: BinaryIO, start: int, is_warc: bool = False) -> None:
        self.head, self.stream, self.pos = head, stream, start
        self.is_warc = is_warc  # set by _sniff: the file starts with "WARC/" (not an ARC)

    def read(self, size: int | None = -1) -> bytes:
        if self.head:
            if size is None or size < 0:
                data, self.head = self.head + self.stream.read(), b""
            else:
                data, self.head = self.head[:size], self.head[size:]
        else:
            data = self.stream.read(size)
        self.pos += len(data)
        return data

    def tell(self) -> int:
        return self.pos


def _sniff(stream: BinaryIO) -> tuple[_Replay, RawRecord | None]:
    """Check that the (decompressed) input starts like a WARC (``WARC/``) or an ARC (``filedesc://``).

    Without this, warcio's ARC parser accepts any line with four spaces as a record header, so a PNG
    or random bytes named ``.warc.gz`` became a ``response`` whose URL was kilobytes of binary.
    WET and WAT files are WARCs.
    """
    try:
        start = stream.tell()
    except Exception:  # unseekable and untellable: offsets count from here
        start = 0
    raw = stream.read(_SNIFF_BYTES)
    replay = _Replay(raw, stream, start)
    compressed = raw[:2] == _GZIP_MAGIC
    try:
        head = _gunzip_head(raw, 4096) if compressed else raw[:4096]
    except zlib.error as exc:
        return replay, RawRecord(record_type="unknown", offset=start, error="read",
                                 error_detail=f"corrupt gzip at the start of the file: {exc}"[:500])
    text = head.lstrip(b"\r\n")
    # A file too short to tell (empty, blank, or cut inside "WARC/") is warcio's to report.
    if any(text.startswith(magic) or magic.startswith(text) for magic in (b"WARC/", b"filedesc://")):
        replay.is_warc = text.startswith(b"WARC/")
        return replay, None
    what = "gzip data that starts with" if compressed else "starts with"
    return replay, RawRecord(record_type="unknown", offset=start, error="not_warc",
                             error_detail=f"not a WARC or ARC file: {what} {text[:40]!r}")


def _gunzip_head(data: bytes, size: int) -> bytes:
    """Up to ``size`` decompressed bytes from the start of gzip ``data`` (members may be empty)."""
    out = b""
    while data and len(out) < size:
        d = zlib.decompressobj(31)
        try:
            out += d.decompress(data, size - len(out))
        except zlib.error:
            if out:
                break  # a later member is bad: the head we have decides, warcio reports the rest
            raise
        if not d.eof:
            break
        data = d.unused_data
    return out


# --------------------------------------------------------------------------------------------
# Bounded header reading (warcio's parsers call ``readline()`` with no limit)


class _CappedReader(DecompressingBufferedReader):
    """warcio's reader whose ``readline`` never returns more than ``max_line + 1`` bytes.

    Every header line warcio reads comes through here, directly or through the LimitReader of a
    record, so this alone bounds what one call can buffer. A longer line comes back in pieces;
    :class:`_HeaderGuard` notices the piece without a newline. (warcio's own ``readline(length)``
    can return less than ``length`` mid-line at a buffer boundary, hence the loop.)
    """

    def __init__(self, stream, max_line: int) -> None:
        super().__init__(stream)
        self.max_line = max_line

    def readline(self, length=None):
        cap = self.max_line + 1 if length is None else min(length, self.max_line + 1)
        line = super().readline(cap)
        while line and not line.endswith(b"\n") and len(line) < cap:
            more = super().readline(cap - len(line))
            if not more:
                break
            line += more
        return line


class _HeaderGuard:
    """The stream one header block is parsed from, with a byte budget per line and per block.

    A line over ``max_line`` is cut there and the rest of it read and discarded in bounded pieces
    (through the record's LimitReader, so the record's framing stays exact). Past ``max_block``,
    lines are read to the blank line that ends the block and discarded, except a WARC
    ``Content-Length``, which is what lets the reader skip the record and go on. ``problem`` says
    which limit was hit.
    """

    _DISCARD = 1 << 20

    def __init__(self, stream, max_line: int, max_block: int) -> None:
        self.stream, self.max_line, self.left = stream, max_line, max_block
        self.max_block = max_block
        self.problem: str | None = None
        self.skipping = False
        self.kept_length = False

    def admit(self, line: bytes | None) -> bytes | None:
        """A line read before the guard existed (warcio reads a record's first line early)."""
        return None if line is None else self._budget(self._cut(line))

    def readline(self, size=None) -> bytes:  # warcio's parsers pass no size
        while True:
            line = self._budget(self._cut(self.stream.readline(self.max_line + 1)))
            if line is not None:
                return line

    def tell(self) -> int:
        return self.stream.tell()

    def _cut(self, line: bytes) -> bytes:
        if len(line) > self.max_line and not line.endswith(b"\n"):
            self.problem = self.problem or f"header line over {self.max_line} bytes"
            while piece := self.stream.readline(self._DISCARD):
                if piece.endswith(b"\n"):
                    break
            line = line[: self.max_line] + b"\r\n"
        return line

    def _budget(self, line: bytes) -> bytes | None:
        """``line`` if it fits the block budget; past it only the block's end and Content-Length."""
        if not self.skipping:
            if len(line) <= self.left:
                self.left -= len(line)
                return line
            self.problem = self.problem or f"header block over {self.max_block} bytes"
            self.skipping = True
        if not line.strip():
            return line  # the blank line ending the block (or the end of the input)
        if not self.kept_length and line[:15].lower() == b"content-length:":
            self.kept_length = True
            return line
        return None


class _GuardedLoader(ArcWarcRecordLoader):
    """warcio's record loader with every header block parsed through a :class:`_HeaderGuard`."""

    def __init__(self, max_line: int, max_block: int) -> None:
        super().__init__(verify_http=False, arc2warc=True)  # what ArchiveIterator(arc2warc=True) builds
        self.max_line, self.max_block = max_line, max_block
        self.problem: str | None = None

    def _guard(self, stream) -> _HeaderGuard:
        return _HeaderGuard(stream, self.max_line, self.max_block)

    def parse_record_stream(self, stream, statusline=None, *args, **kwargs):
        self.problem = None
        record = super().parse_record_stream(stream, statusline, *args, **kwargs)
        record.header_problem = self.problem
        return record

    def _detect_type_load_headers(self, stream, statusline=None, known_format=None):
        guard = self._guard(stream)
        try:
            return super()._detect_type_load_headers(guard, guard.admit(statusline), known_format)
        finally:
            self.problem = self.problem or guard.problem

    def load_http_headers(self, rec_type, uri, stream, length):
        guard = self._guard(stream)
        try:
            # warcio calls uri.startswith(): a response without WARC-Target-URI would end the file.
            return super().load_http_headers(rec_type, uri or "", guard, length)
        finally:
            self.problem = self.problem or guard.problem


class _BoundedIterator(ArchiveIterator):
    """warcio's iterator over a :class:`_CappedReader`, a :class:`_GuardedLoader`, and a budget
    for the blank lines between records (a gzip member of 1 GiB of newlines is no gap, and reading
    it one line at a time would take an hour)."""

    def __init__(self, stream: BinaryIO, max_line: int, max_block: int) -> None:
        super().__init__(stream, arc2warc=True, check_digests=False)
        # Replaced before the first record is read (iteration is lazy), so no byte went through the old ones.
        self.reader = _CappedReader(self.fh, max_line)
        self.loader = _GuardedLoader(max_line, max_block)
        self.max_blank = max_block
        self.is_arc: bool | None = None  # the file's ARC flag once _records has decided it

    def _consume_blanklines(self):
        # warcio's loop (the first line after a record is skipped even if it is not blank: a slightly
        # wrong Content-Length), minus its stderr warning, plus the budget.
        empty_size, first_line = 0, True
        while True:
            line = self.reader.readline()
            if not line:
                return None, empty_size
            if line.strip() and not first_line:
                return line, empty_size
            empty_size += len(line)
            first_line = False
            if empty_size > self.max_blank:
                raise ArchiveLoadFailed(f"over {self.max_blank} bytes of blank or unparsable lines between records")


def _unread_bytes(it: ArchiveIterator) -> int:
    """Bytes of the input after the end of the last record read (0 for a file that ended cleanly)."""
    end = _offset(it)
    try:
        pos = it.fh.tell()
        while chunk := it.fh.read(1 << 20):
            pos += len(chunk)
    except Exception:  # cannot tell: do not invent an error
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
    problem = getattr(rec, "header_problem", None)
    if problem:
        if rec.length is None and rec.format.startswith("warc"):
            # The Content-Length went with the oversized block: nothing says where the next record starts.
            raw.error, raw.error_detail = "read", f"{problem}, and no Content-Length before the limit"
        else:  # warcio skips the rest of the record by its Content-Length on next(), reading in blocks
            raw.error, raw.error_detail = "header_too_large", problem
        return raw
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
    data = _decoded_body(rec, max_payload_bytes + 1)
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


# --------------------------------------------------------------------------------------------
# Payload decoding with bounded output (replaces warcio's ``content_stream()``)

_BLOCK = 1 << 16
_MAX_CHUNK_SIZE = 1 << 31  # warcio's sanity bound on a chunk size: larger means "not chunked"


def _decoded_body(rec, want: int) -> bytes:
    """Up to ``want`` bytes of the record's payload, de-chunked and decompressed as warcio would.

    warcio reads a whole HTTP chunk into memory before returning any of it, and inflates
    Content-Encoding without an output limit, so a 1 MB record could become gigabytes (and its
    brotli path fails outright on brotli >= 1.2). Here chunk data streams in blocks and each
    decompressor gets an output cap, so the memory used is ``want`` plus a block.
    """
    raw = rec.raw_stream
    headers = rec.http_headers
    if not headers:
        return raw.read(want)
    chunked = (headers.get_header("Transfer-Encoding") or "").strip().lower() == "chunked"
    encoding = (headers.get_header("Content-Encoding") or "").strip().lower()
    if not chunked and encoding not in _DECODERS:
        return raw.read(want)
    parts, size = [], 0
    for piece in _decode(_dechunked(raw) if chunked else _blocks(raw), encoding, want):
        parts.append(piece)
        size += len(piece)
        if size >= want:
            break
    return b"".join(parts)[:want]


def _blocks(raw) -> Iterator[bytes]:
    while piece := raw.read(_BLOCK):
        yield piece


def _dechunked(raw) -> Iterator[bytes]:
    """``Transfer-Encoding: chunked`` removed, streaming. From the first chunk header that does
    not parse, the bytes pass through as they are: servers send unchunked bodies under that header,
    and warcio falls back the same way."""
    while True:
        header = raw.readline(64)
        size = _chunk_size(header)
        if size is None:
            yield header
            yield from _blocks(raw)
            return
        if size == 0:
            return  # the last chunk; trailers, if any, are not payload
        while size > 0:
            piece = raw.read(min(size, _BLOCK))
            if not piece:
                return  # cut off inside a chunk: _check_complete reports a real cut
            size -= len(piece)
            yield piece
        end = raw.read(2)
        if end != b"\r\n":
            yield end
            yield from _blocks(raw)
            return


def _chunk_size(header: bytes) -> int | None:
    if not header.endswith(b"\r\n"):
        return None
    try:
        size = int(header[:-2].split(b";")[0], 16)
    except ValueError:
        return None
    return size if 0 <= size <= _MAX_CHUNK_SIZE else None


class _DecodeError(Exception):
    pass


class _Inflate:
    """zlib with an output cap per call (the rest of the input waits in ``unconsumed_tail``)."""

    def __init__(self, wbits: int) -> None:
        self.d = zlib.decompressobj(wbits)

    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        while budget > 0 and not self.d.eof:
            try:
                out = self.d.decompress(data, min(budget, _BLOCK * 16))
            except zlib.error as exc:
                raise _DecodeError(str(exc)) from exc
            data = self.d.unconsumed_tail
            if not out:
                return  # input used up (zlib holds no output back once it has room)
            budget -= len(out)
            yield out


class _Unbrotli:
    def __init__(self) -> None:
        import brotli

        self.error = brotli.error
        self.d = brotli.Decompressor()

    def feed(self, data: bytes, budget: int) -> Iterator[bytes]:
        # brotli >= 1.2: with output_buffer_limit, call again with b"" until it asks for input.
        while budget > 0:
            try:
                out = self.d.process(data, output_buffer_limit=min(budget, _BLOCK * 16))
            except self.error as exc:
                raise _DecodeError(str(exc)) from exc
            data = b""
            if not out and self.d.can_accept_more_data():
                return
            budget -= len(out)
            yield out


def _brotli_available() -> bool:
    try:
        import brotli
    except ImportError:
        return False
    return hasattr(brotli.Decompressor, "can_accept_more_data")


#: Content-Encoding -> decoders tried in order on the first block, as warcio does: a decoder that
#: fails on the first block means the body was not encoded after all (servers lie), so the next one
#: is tried, and the raw bytes when none fits. gzip stops at the end of its first member, like warcio.
_DECODERS = {
    "gzip": (lambda: _Inflate(16 + zlib.MAX_WBITS),),
    "deflate": (lambda: _Inflate(zlib.MAX_WBITS), lambda: _Inflate(-zlib.MAX_WBITS)),
}
if _brotli_available():
    _DECODERS["br"] = (_Unbrotli,)


def _decode(pieces: Iterator[bytes], encoding: str, want: int) -> Iterator[bytes]:
    """``pieces`` decoded per Content-Encoding, yielding at most about ``want`` bytes in all."""
    first = next(pieces, b"")
    for make in _DECODERS.get(encoding, ()):
        decoder = make()
        try:
            out = list(decoder.feed(first, want))  # at most ``want`` bytes, in blocks
        except _DecodeError:
            continue
        break
    else:
        yield first
        yield from pieces
        return
    produced = sum(map(len, out))
    yield from out
    for piece in pieces:
        if produced >= want:
            return
        try:
            for out_piece in decoder.feed(piece, want - produced):
                produced += len(out_piece)
                yield out_piece
        except _DecodeError:
            return  # corrupt after a good start: the payload is what decoded (warcio stops too)

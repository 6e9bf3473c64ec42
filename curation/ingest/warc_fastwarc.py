"""FastWARC fast path for :func:`curation.ingest.warc.read_records`: the same records, several times faster.

warcio parses every header line in Python (through our capped line reader), which is most of the
reader's time. FastWARC (resiliparse) parses WARC and HTTP headers and inflates gzip in native code.
It does not behave like warcio on broken input, though (it skips what it cannot parse, it knows no
ARC, it normalises header whitespace), and the accounting of broken files must not change. So this
path only *vouches* for records it can prove warcio would read the same way, and hands the rest of
the file to warcio:

* a record is yielded only once the next record's offset is known and the bytes between the two
  are exactly what the parsed headers account for: the canonical header block (``Key: value`` lines
  rebuilt from what FastWARC parsed, ASCII only, within the line and block caps), the block's
  Content-Length, and the closing ``\\r\\n\\r\\n``. In a plain file that is the distance between the
  offsets (and the four closing bytes are read back); in a per-record gzip file it is the gzip
  trailer's ISIZE of the member (a member holding anything else, or several members, disagrees);
* the HTTP header block is checked the same way against the block's length, and must have been
  parsed exactly when warcio would parse one (response/request/revisit, ``http:``/``https:`` URI,
  non-empty block);
* anything else (a header FastWARC rewrote, a non-ASCII header, whitespace warcio strips, a short
  block, an exception, the end of the file) stops the fast path there. The last record of every file
  is therefore always warcio's, which is where truncation and trailing garbage are found.

:func:`fast_records` yields the vouched records and returns the offset from which warcio must read;
warc.py lets warcio read from there and hands back to FastWARC at the start of the next record that
warcio read without error (so one odd record costs two warcio records, not the rest of the file). Payloads are decoded by the same bounded decoder as the warcio path
(:func:`curation.ingest.warc._decoded_body`), so caps and results cannot drift apart.
"""

from __future__ import annotations

import re
import zlib
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import BinaryIO

from fastwarc.warc import ArchiveIterator
from warcio.utils import BUFF_SIZE as WARCIO_BLOCK

_GZIP_MAGIC = b"\x1f\x8b"
_WARC_VERSIONS = ("WARC/1.0", "WARC/1.1", "WARC/0.17", "WARC/0.18")  # what warcio accepts
_HTTP_RECORDS = ("response", "request", "revisit")  # warcio's ArcWarcRecordLoader.HTTP_RECORDS
_HTTP_SCHEMES = ("http:", "https:")


@dataclass(slots=True)
class Resume:
    """Where warcio takes over: the offset of the first record not vouched for."""

    offset: int
    is_arc: bool | None  # the file's ARC flag as warc.py derives it (None: no record read yet)


class _Unsure(Exception):
    """This record cannot be proven to read as warcio reads it: warcio takes over here."""


#: A line of nothing but whitespace before the block's end: warcio (which right-strips each line) ends
#: the block there, FastWARC does not.
_BLANK_LINE = re.compile(r"\n\s*\r\n")
_NAMED: dict[str, re.Pattern] = {}  # header name -> the regex finding its first line (ASCII blocks)


class _Headers:
    """A header block as warcio parses it, from the block's text as FastWARC kept it.

    ``str()`` of a FastWARC header map is the block as it was in the file, decoded (WARC headers as
    UTF-8 with replacement characters, HTTP headers as Latin-1, which is lossless). It is parsed here
    with warcio's own rules (each line right-stripped, split at the first colon, the name
    right-stripped of spaces and tabs, the value left-stripped, a line without a colon dropped, the
    first of repeated names wins) and accepted only where warcio would read the same lines: every line
    ends in CRLF (no bare LF), none is folded, none is over the line cap, the block is within its cap,
    and a WARC block decoded without a replacement character (it was UTF-8, as warcio reads it). HTTP
    lines that are not ASCII are decoded as warcio decodes them: UTF-8, else Latin-1. FastWARC's own
    parse is not used; the framing check in :func:`fast_records` proves the text was the whole block.
    """

    __slots__ = ("data", "first", "fixed", "size", "status_line", "text")

    def __init__(self, hmap, max_line: int, max_block: int, http: bool = False) -> None:
        text = str(hmap)
        if text.count("\n") != text.count("\r\n") or "\r\n " in text or "\r\n\t" in text \
                or not text.endswith("\r\n\r\n") or _BLANK_LINE.search(text, 0, len(text) - 2):
            raise _Unsure("bare LF, folded line, blank line inside the block, or no end to it")
        self.first: dict[str, tuple[str, str]] | None = None
        self.fixed: dict[str, str] = {}  # values warcio rewrites in its parsed headers (lower-case names)
        self.text = text
        if text.isascii():  # the common case: lines found by regex when asked for (get_header)
            size, self.data = len(text), text.encode("ascii")
            if size + 2 > max_line and max(map(len, text.split("\r\n"))) + 2 > max_line:
                raise _Unsure("header line over the cap")
            status_line = text[:text.index("\r\n")].rstrip()
        else:
            if not http and "\ufffd" in text:
                raise _Unsure("WARC header not UTF-8")
            try:
                data = text.encode("latin-1" if http else "utf-8")
            except UnicodeEncodeError as exc:
                raise _Unsure("HTTP header beyond Latin-1") from exc
            size, self.data = len(data), data
            if max(map(len, data[:-4].split(b"\r\n"))) + 2 > max_line:
                raise _Unsure("header line over the cap")
            lines = text[:-4].split("\r\n")
            if http:
                lines = [_warcio_decode(line) for line in lines]
            status_line = lines[0].rstrip()
            self.first = {}
            for line in reversed(lines[1:]):  # reversed: the first of repeated names wins, as in warcio
                name, colon, value = line.rstrip().partition(":")
                if colon:
                    name = name.rstrip(" \t")
                    self.first[name.lower()] = (name, value.lstrip())
        if size > max_block:
            raise _Unsure("header block over the cap")
        if not status_line:
            raise _Unsure("blank status line")
        self.status_line, self.size = status_line, size

    def get_header(self, name: str, default: str | None = None) -> str | None:
        """warcio's get_header: the first line named ``name`` (any case), its value stripped."""
        if self.fixed and name.lower() in self.fixed:
            return self.fixed[name.lower()]
        if self.first is None:
            pattern = _NAMED.get(name)
            if pattern is None:
                pattern = _NAMED[name] = re.compile(rf"\n{re.escape(name)}[ \t]*:([^\n]*)", re.IGNORECASE)
            found = pattern.search(self.text)
            return default if found is None else found.group(1).strip()
        found = self.first.get(name.lower())
        return default if found is None else found[1]


    # warcio's StatusAndHeaders view of an HTTP status line (``protocol`` and ``get_statuscode``)
    @property
    def protocol(self) -> str:
        return self.status_line.split(" ", 1)[0]

    def get_statuscode(self) -> str:
        parts = self.status_line.split(" ", 1)
        return (parts[1].strip() if len(parts) > 1 else "").split(" ", 1)[0]


def _warcio_decode(latin1: str) -> str:
    """A header line FastWARC decoded as Latin-1, decoded as warcio does: UTF-8, else Latin-1."""
    try:
        return latin1.encode("latin-1").decode("utf-8")
    except UnicodeDecodeError:
        return latin1


class _Payload:
    """FastWARC's payload reader, counting and checksumming what was read (the decoder reads
    through it; the CRC-32 is checked against the gzip member's own, see :func:`_framed`)."""

    __slots__ = ("crc", "read_bytes", "reader")
    limit = 0  # warc._check_complete drains nothing: :meth:`drain` checks the block's length

    def __init__(self, reader, crc: int) -> None:
        self.reader, self.read_bytes, self.crc = reader, 0, crc

    def read(self, size: int = -1) -> bytes:
        data = self.reader.read(size)
        self.read_bytes += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return data

    def readline(self, size: int = 8192) -> bytes:
        data = self.reader.readline(size)
        self.read_bytes += len(data)
        self.crc = zlib.crc32(data, self.crc)
        return data

    def drain(self) -> int:
        """Read to the end of the block; the block's bytes read in all."""
        while self.read(1 << 20):
            pass
        return self.read_bytes


@dataclass(slots=True)
class _Rec:
    """The slice of warcio's ``ArcWarcRecord`` that ``warc._to_raw`` reads."""

    rec_type: str | None
    rec_headers: _Headers
    http_headers: _Headers | None
    raw_stream: _Payload
    length: int
    format: str = "warc"
    header_problem: str | None = None


def usable(fh: BinaryIO, start: int) -> bool:
    """The fast path needs to seek (to check framing, and to hand a file back to warcio)."""
    try:
        return start == 0 and bool(fh.seekable())
    except Exception:
        return False


def fast_records(fh: BinaryIO, base: int, is_arc: bool | None, max_payload_bytes: int, max_line: int,
                 max_block: int, to_raw: Callable) -> Generator:
    """Yield the records from offset ``base`` on that FastWARC can vouch for; return a :class:`Resume`.

    ``base`` must be where a record starts, and :func:`resumable`. ``is_arc`` is the file's ARC flag (None at the start of
    the file: the first record decides, as in warc.py). ``to_raw(rec, offset, max_payload_bytes,
    is_arc)`` is warc.py's ``_to_raw``: both paths build their RawRecords with it, from warcio's
    record or from a :class:`_Rec` of the same shape.
    """
    fh.seek(base)
    compressed = fh.read(2) == _GZIP_MAGIC
    fh.seek(base)
    it = ArchiveIterator(fh, parse_http=True, auto_decode="none", max_header_len=max_block,
                         stream_detect=True, verify_digests=False)
    pending = None  # (raw, offset, possible lengths in the file) until the next offset is known
    while True:
        try:
            rec = next(it)
            offset = rec.stream_pos  # absolute: FastWARC counts from the stream's tell()
        except Exception:  # StopIteration included: the last record is always warcio's
            return Resume(pending[1] if pending else base, is_arc)
        if pending is None:
            if offset != base:
                return Resume(base, is_arc)
        else:
            raw, start, length, crc = pending
            if offset <= start or not _framed(fh, compressed, start, offset, length, crc) \
                    or not resumable(offset, compressed):
                return Resume(start, is_arc)
            yield raw
        try:
            raw, length, crc, arc_flag = _read(rec, offset, max_payload_bytes, max_line, max_block, is_arc, to_raw)
        except Exception:  # _Unsure, or anything FastWARC raised mid-record
            return Resume(offset, is_arc)
        is_arc = arc_flag
        pending = (raw, offset, length, crc)


def resumable(offset: int, compressed: bool) -> bool:
    """Whether warcio, started afresh at record ``offset``, reads on exactly as it would have.

    warcio reads its input in 16 KiB blocks from the start of the file, and how it treats a corrupt
    gzip member depends on where the member falls in a block: in the first inflate of a member it
    takes an error to mean "not gzip". warc.py starts warcio mid-file with the same block boundaries
    (:func:`curation.ingest.warc._resume_at`), so the same bytes reach that first inflate, except
    where a member starts exactly on a block boundary (warcio then reads on in a state of its own).
    """
    return offset == 0 or not compressed or offset % WARCIO_BLOCK != 0


def _framed(fh: BinaryIO, compressed: bool, start: int, end: int, length: int, crc: int) -> bool:
    """The file between ``start`` and ``end`` is one record of ``length`` bytes and then blank lines.

    What follows a record's block up to the next record must be lines warcio skips: whitespace only,
    ending in a newline, at least one (warcio skips the first line after a block unread, so a record
    starting right after the block would be lost), and few. In a plain file those bytes are read
    back. In a gzip file the range must be one member holding the record and ``\r\n`` pairs: its
    trailer's length and CRC-32 must be those of the bytes FastWARC gave (``crc``: headers as kept,
    the whole block) followed by those pairs.
    """
    pos = fh.tell()
    try:
        if compressed:
            fh.seek(end - 8)
            trailer = fh.read(8)
            gap = int.from_bytes(trailer[4:], "little") - length % (1 << 32)
            if not 0 < gap <= _MAX_GAP or gap % 2 or length >= 1 << 32:
                return False
            return zlib.crc32(b"\r\n" * (gap // 2), crc) == int.from_bytes(trailer[:4], "little")
        if not length < end - start <= length + _MAX_GAP:
            return False
        fh.seek(start + length)
        tail = fh.read(end - start - length)
        return tail.endswith(b"\n") and not tail.strip()
    finally:
        fh.seek(pos)


#: Blank-line bytes between records accepted on the fast path (warcio allows up to its header-block cap).
_MAX_GAP = 4096


def _read(rec, offset: int, max_payload_bytes: int, max_line: int, max_block: int, is_arc: bool | None,
          to_raw: Callable):
    headers = _Headers(rec.headers, max_line, max_block)
    if headers.status_line not in _WARC_VERSIONS:
        raise _Unsure("WARC version")
    declared = headers.get_header("Content-Length")
    if declared is None or not declared.isdigit():
        raise _Unsure("Content-Length")
    length = int(declared)
    rec_type = headers.get_header("WARC-Type")
    uri = headers.get_header("WARC-Target-URI")
    if uri is not None:  # warcio's _ensure_target_uri_format: Wget's <uri>, spaces percent-encoded
        if uri.startswith("<") and uri.endswith(">"):
            uri = uri[1:-1]
        uri = headers.fixed["warc-target-uri"] = uri.replace(" ", "%20")
    if is_arc is None:  # warc.py's rule: decided by the first record
        filename = headers.get_header("WARC-Filename") or ""
        is_arc = rec_type == "warcinfo" and bool(re.search(r"\.arc(\.gz)?$", filename, re.I))
    wants_http = length > 0 and rec_type in _HTTP_RECORDS and (uri or "").startswith(_HTTP_SCHEMES)
    if wants_http != rec.is_http_parsed:
        raise _Unsure("HTTP headers parsed where warcio would not, or the reverse")
    http = None
    if wants_http:
        http = _Headers(rec.http_headers, max_line, max_block, http=True)
    http_size = length - rec.content_length  # FastWARC's content_length is what follows the HTTP headers
    if http_size != (http.size if http else 0):
        raise _Unsure("Content-Length, or HTTP headers not as parsed")
    payload = _Payload(rec.reader, zlib.crc32(http.data, zlib.crc32(headers.data)) if http
                       else zlib.crc32(headers.data))
    raw = to_raw(_Rec(rec_type, headers, http, payload, length), offset, max_payload_bytes, is_arc)
    if payload.drain() + http_size != length:
        raise _Unsure("block shorter than its Content-Length")
    return raw, headers.size + length, payload.crc, is_arc

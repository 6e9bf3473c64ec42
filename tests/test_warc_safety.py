"""Hostile input to the WARC reader: header bombs, decompression bombs, files that are no WARC.

A ``.warc.gz`` expands ~1000x, so a 1 MB file can hold a 1 GiB header line or HTTP chunk. Each
bomb here is built in code (streamed: never 1 GiB in memory), read in a child process, and that
process's peak RSS is asserted, together with the records after the bomb and exact accounting.
"""

from __future__ import annotations

import gzip
import io
import json
import os
import random
import subprocess
import sys
import zipfile
import zlib
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest
from warcio.archiveiterator import ArchiveIterator

from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import documents_from_file, process_file, summarise
from curation.ingest.warc import read_records
from tests.conftest import ROOT

PAGE = b"<html><body><p>" + b"A perfectly ordinary paragraph of text, long enough to keep. " * 20 + b"</p></body></html>"
FAST = ExtractConfig(extractor="resiliparse")
MAX_RSS_MB = 300
MiB = 1 << 20


# --------------------------------------------------------------------------------------------
# Building WARCs (each record one gzip member, as crawlers write them)


def gz(data: bytes) -> bytes:
    c = zlib.compressobj(9, zlib.DEFLATED, 31)
    return c.compress(data) + c.flush()


def gz_repeated(prefix: bytes, unit: bytes, count: int, suffix: bytes) -> bytes:
    """One gzip member holding ``prefix + unit * count + suffix``, built without that string.

    With a full flush after each unit the compressed form of every unit after the first is the
    same bytes (the window then holds only ``unit``), so it is computed once and repeated.
    """
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    parts = [c.compress(prefix + unit) + c.flush(zlib.Z_SYNC_FLUSH)]
    repeated = c.compress(unit) + c.flush(zlib.Z_SYNC_FLUSH)
    assert repeated == c.compress(unit) + c.flush(zlib.Z_SYNC_FLUSH), "unit too short to repeat exactly"
    parts += [repeated * (count - 2), repeated, c.compress(suffix) + c.flush()]
    crc = zlib.crc32(prefix)
    for _ in range(count):
        crc = zlib.crc32(unit, crc)
    size = len(prefix) + len(unit) * count + len(suffix)
    header = b"\x1f\x8b\x08\x00\x00\x00\x00\x00\x02\xff"
    trailer = zlib.crc32(suffix, crc).to_bytes(4, "little") + (size & 0xFFFFFFFF).to_bytes(4, "little")
    return header + b"".join(parts) + trailer


def warc_head(rec_type: str, url: str, length: int, extra: bytes = b"") -> bytes:
    return (b"WARC/1.0\r\nWARC-Type: " + rec_type.encode() + b"\r\nWARC-Target-URI: " + url.encode()
            + b"\r\nWARC-Date: 2024-01-01T00:00:00Z\r\nWARC-Record-ID: <urn:uuid:" + url.encode().hex()[-12:].encode()
            + b">\r\n" + extra + b"Content-Length: " + str(length).encode() + b"\r\n\r\n")


def record(rec_type: str, url: str, block: bytes, extra: bytes = b"") -> bytes:
    return warc_head(rec_type, url, len(block), extra) + block + b"\r\n\r\n"


def http(body: bytes = PAGE, headers: bytes = b"", status: bytes = b"HTTP/1.1 200 OK") -> bytes:
    return status + b"\r\nContent-Type: text/html; charset=utf-8\r\n" + headers + b"\r\n" + body


def before_and_after(middle: bytes, compress=gz) -> bytes:
    """A normal response, ``middle`` (already framed), a normal response and a request."""
    return (compress(record("response", "http://before.test/", http())) + middle
            + compress(record("response", "http://after.test/", http()))
            + compress(record("request", "http://after.test/", b"GET / HTTP/1.1\r\nHost: after.test\r\n\r\n")))


def header_line_bomb(line_bytes: int) -> bytes:
    """A response whose HTTP header holds one ``line_bytes`` line of 'a' (~1 MB gzipped per GiB)."""
    unit = b"a" * MiB
    count = line_bytes // len(unit)
    http_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nX-Bomb: "
    rest = b"\r\n\r\n" + PAGE
    head = warc_head("response", "http://bomb.test/", len(http_head) + len(unit) * count + len(rest))
    return before_and_after(gz_repeated(head + http_head, unit, count, rest + b"\r\n\r\n"))


def chunk_bomb(size: int) -> bytes:
    """A response with ``Transfer-Encoding: chunked`` and one ``size``-byte chunk (warcio read it whole)."""
    unit = b"a" * MiB
    http_head = b"HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nTransfer-Encoding: chunked\r\n\r\n" + b"%x\r\n" % size
    rest = b"\r\n0\r\n\r\n"
    head = warc_head("response", "http://bomb.test/", len(http_head) + size + len(rest))
    return before_and_after(gz_repeated(head + http_head, unit, size // len(unit), rest + b"\r\n\r\n"))


def encoded_bomb(encoding: str, size: int) -> bytes:
    """A response whose Content-Encoding inflates a few KB into ``size`` bytes (gzip inside one chunk)."""
    if encoding == "br":
        import brotli

        c = brotli.Compressor(quality=5)
        inner = b"".join(c.process(b"\0" * MiB) for _ in range(size // MiB)) + c.finish()
        block = http(inner, b"Content-Encoding: br\r\n")
    else:
        inner = gz_repeated(b"", b"\0" * MiB, size // MiB, b"")
        body = b"%x\r\n" % len(inner) + inner + b"\r\n0\r\n\r\n"
        block = http(body, b"Content-Encoding: gzip\r\nTransfer-Encoding: chunked\r\n")
    return before_and_after(gz(record("response", "http://bomb.test/", block)))


# --------------------------------------------------------------------------------------------
# Running the extract task in a child process, measuring its peak memory

# The child's own peak RSS is VmHWM: getrusage's ru_maxrss also counts the parent's RSS at the
# fork (vfork, then exec, hands the old mm's high-water mark on), which was pytest's, 370 MB.
CHILD = """
import json, resource, sys
from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import process_file, summarise
result = process_file(sys.argv[1], sys.argv[2], ExtractConfig(extractor="resiliparse"), keep_dropped=True)
totals = summarise([result])
try:
    status = open("/proc/self/status").read()
    peak_kb = int(status.split("VmHWM:")[1].split()[0])
except (OSError, IndexError, ValueError):
    peak_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"by_outcome": result.by_outcome, "records_read": result.records_read, "kept": totals.kept,
                  "dropped": totals.dropped, "errored": totals.errored, "part": result.part,
                  "peak_rss_mb": peak_kb / 1024}))
"""


def extract_in_child(path: Path, out: Path) -> dict:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(path), str(out)], cwd=ROOT, capture_output=True,
                          text=True, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert proc.returncode == 0, proc.stderr[-2000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # Exact accounting: every record read is kept, dropped with a reason, or errored.
    assert result["records_read"] == sum(result["by_outcome"].values())
    assert result["records_read"] == result["kept"] + result["dropped"] + result["errored"]
    return result


def kept_urls(out: Path, part: str) -> list[str]:
    rows = pq.read_table(out / part, columns=["url", "drop_reason"]).to_pylist()
    return [r["url"] for r in rows if r["drop_reason"] is None]


def read(data: bytes, **kwargs) -> list:
    return list(read_records(io.BytesIO(data), **kwargs))


# --------------------------------------------------------------------------------------------
# Header limits


@pytest.mark.slow
def test_one_gib_header_line_stays_under_the_memory_limit(tmp_path):
    """The bomb from the issue: 1 MB gzipped, one 1 GiB HTTP header line. It used to take ~1 GB."""
    path = tmp_path / "bomb.warc.gz"
    path.write_bytes(header_line_bomb(1 << 30))
    assert path.stat().st_size < 2 * MiB
    result = extract_in_child(path, tmp_path / "out")
    assert result["by_outcome"] == {"kept": 2, "error.header_too_large": 1, "warc.request": 1}
    assert kept_urls(tmp_path / "out", result["part"]) == ["http://before.test/", "http://after.test/"]
    assert result["peak_rss_mb"] < MAX_RSS_MB, result


def test_long_http_header_line_is_one_drop_and_the_file_goes_on():
    records = read(header_line_bomb(8 * MiB))
    assert [(r.url, r.error) for r in records] == [
        ("http://before.test/", None), ("http://bomb.test/", "header_too_large"),
        ("http://after.test/", None), ("http://after.test/", None)]
    assert "header line over 65536 bytes" in records[1].error_detail
    assert records[0].payload == records[2].payload == PAGE


LONG = b"x" * (200 * 1024)


@pytest.mark.parametrize("where", ["warc_line", "warc_uri", "http_status", "http_line", "http_block", "warc_block"])
@pytest.mark.parametrize("compress", [gz, lambda data: data], ids=["gzip", "plain"])
def test_every_header_limit_skips_one_record_by_its_content_length(where, compress):
    many = b"".join(b"X-Filler-%d: some value\r\n" % i for i in range(60_000))  # ~1.6 MB of short lines
    block, extra, url = http(), b"", "http://bomb.test/"
    if where == "warc_line":
        extra = b"X-Long: " + LONG + b"\r\n"
    elif where == "warc_uri":
        url = "http://bomb.test/" + LONG.decode()
    elif where == "http_status":
        block = http(status=b"HTTP/1.1 200 OK" + LONG)
    elif where == "http_line":
        block = http(headers=b"Set-Cookie: " + LONG + b"\r\n")
    elif where == "http_block":
        block = http(headers=many)
    else:  # the WARC block overflows before its Content-Length: that line is still found
        extra = many
    records = read(before_and_after(compress(record("response", url, block, extra)), compress))
    assert [r.error for r in records] == [None, "header_too_large", None, None]
    assert records[0].payload == records[2].payload == PAGE
    assert records[3].record_type == "request"


def test_lines_under_the_limits_are_read_as_before():
    cookie = b"Set-Cookie: " + b"c" * 60_000 + b"\r\n"  # under the 64 KiB line limit
    records = read(before_and_after(gz(record("response", "http://ok.test/", http(headers=cookie)))))
    assert [r.error for r in records] == [None] * 4
    assert records[1].payload == PAGE and records[1].http_status == 200


def test_header_limits_come_from_the_extract_config(tmp_path):
    path = tmp_path / "cookie.warc.gz"
    path.write_bytes(before_and_after(gz(record("response", "http://c.test/", http(headers=b"Set-Cookie: " + b"c" * 5000 + b"\r\n")))))
    default = Counter(d.outcome for d in documents_from_file(str(path), FAST))
    tight = ExtractConfig(extractor="resiliparse", max_header_line_bytes=1000, max_header_block_bytes=4000)
    limited = Counter(d.outcome for d in documents_from_file(str(path), tight))
    assert default == {"kept": 3, "warc.request": 1}
    assert limited == {"kept": 2, "error.header_too_large": 1, "warc.request": 1}
    with pytest.raises(ValueError):
        ExtractConfig(max_header_line_bytes=10, max_header_block_bytes=5)


def test_block_over_the_limit_without_content_length_ends_the_file():
    """Nothing frames the rest of an uncompressed file then: one error.read, never a silent loss."""
    many = b"".join(b"X-Filler-%d: v\r\n" % i for i in range(2000))
    head = b"WARC/1.0\r\nWARC-Type: response\r\nWARC-Target-URI: http://bomb.test/\r\n" + many + b"\r\n"
    records = read(before_and_after(head + http() + b"\r\n\r\n", lambda d: d), max_header_block_bytes=10_000)
    assert [r.error for r in records] == [None, "read"]
    assert "no Content-Length" in records[1].error_detail


@pytest.mark.slow  # ~1 s: reads into a gigabyte of blank lines
def test_a_gigabyte_of_blank_lines_is_an_error_not_an_hour():
    """warcio skips blank lines after a record one readline at a time: a 1 MB gzip member of them
    (1e9 lines) would take an hour. Past the header block budget they are an error instead."""
    padded = gz_repeated(record("response", "http://padded.test/", http()), b"\n" * MiB, 64, b"")
    records = read(before_and_after(padded))
    assert [r.error for r in records] == [None, None, "read"]
    assert "blank" in records[2].error_detail


# --------------------------------------------------------------------------------------------
# Payload decoding: streamed de-chunking, capped decompression


@pytest.mark.slow
def test_one_gib_chunk_stays_under_the_memory_limit(tmp_path):
    path = tmp_path / "chunk.warc.gz"
    path.write_bytes(chunk_bomb(1 << 30))
    result = extract_in_child(path, tmp_path / "out")
    assert result["by_outcome"] == {"kept": 2, "resiliparse_v1.too_large": 1, "warc.request": 1}
    assert result["peak_rss_mb"] < MAX_RSS_MB, result


def test_large_chunk_is_too_large_and_the_file_goes_on():
    records = read(chunk_bomb(64 * MiB))
    assert [(r.url, r.error, r.payload is None) for r in records[:3]] == [
        ("http://before.test/", None, False), ("http://bomb.test/", None, True), ("http://after.test/", None, False)]


@pytest.mark.slow  # ~2.5 s in all: decompression bombs under a memory limit
@pytest.mark.parametrize("encoding", ["gzip", "br"])
def test_content_encoding_bomb_stays_under_the_memory_limit(tmp_path, encoding):
    """A few KB that inflate to 1 GiB: warcio inflated a whole chunk (2.1 GB peak); br ended the file."""
    path = tmp_path / f"{encoding}.warc.gz"
    path.write_bytes(encoded_bomb(encoding, 1 << 30))
    assert path.stat().st_size < 64 * 1024
    result = extract_in_child(path, tmp_path / "out")
    assert result["by_outcome"] == {"kept": 2, "resiliparse_v1.too_large": 1, "warc.request": 1}
    assert result["peak_rss_mb"] < MAX_RSS_MB, result


def _chunked(data: bytes, size: int = 700) -> bytes:
    return b"".join(b"%x\r\n" % len(data[i:i + size]) + data[i:i + size] + b"\r\n"
                    for i in range(0, len(data), size)) + b"0\r\n\r\n"


def _deflate(data: bytes, wbits: int) -> bytes:
    c = zlib.compressobj(6, zlib.DEFLATED, wbits)
    return c.compress(data) + c.flush()


ENCODINGS = {
    "identity": (b"", lambda d: d),
    "gzip": (b"Content-Encoding: gzip\r\n", gzip.compress),
    "deflate-zlib": (b"Content-Encoding: deflate\r\n", lambda d: _deflate(d, 15)),
    "deflate-raw": (b"Content-Encoding: deflate\r\n", lambda d: _deflate(d, -15)),
    "gzip-lie": (b"Content-Encoding: gzip\r\n", lambda d: d),  # servers lie: the raw bytes are kept
    "unknown": (b"Content-Encoding: zstd\r\n", lambda d: d),
    "chunked": (b"Transfer-Encoding: chunked\r\n", _chunked),
    "chunked-gzip": (b"Transfer-Encoding: chunked\r\nContent-Encoding: gzip\r\n", lambda d: _chunked(gzip.compress(d))),
    "chunked-lie": (b"Transfer-Encoding: chunked\r\n", lambda d: d),
    "chunked-bad-end": (b"Transfer-Encoding: chunked\r\n", lambda d: b"%x\r\n" % len(d) + d + b"XX" + b"tail"),
}


@pytest.mark.parametrize("name", ENCODINGS)
def test_payload_decoding_matches_warcio(name):
    headers, encode = ENCODINGS[name]
    body = PAGE * 40
    data = gz(record("response", "http://e.test/", http(encode(body), headers)))
    ours = read(data)[0].payload
    theirs = next(iter(ArchiveIterator(io.BytesIO(data), arc2warc=True))).content_stream().read()
    if name == "chunked-bad-end":  # warcio puts the chunk-size line into the payload and drops 2 bytes
        assert ours == body + b"XXtail"
    else:
        assert ours == theirs
        assert ours == (encode(body) if name in ("gzip-lie", "unknown", "chunked-lie") else body)


def test_brotli_page_is_decoded_not_the_end_of_the_file():
    """warcio's brotli path fails on brotli >= 1.2 (error.read: every later record was lost)."""
    brotli = pytest.importorskip("brotli")
    data = before_and_after(gz(record("response", "http://br.test/", http(brotli.compress(PAGE), b"Content-Encoding: br\r\n"))))
    records = read(data)
    assert [r.error for r in records] == [None] * 4
    assert records[1].payload == PAGE


# --------------------------------------------------------------------------------------------
# Files that are not WARC at all


def _zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as z:
        z.writestr("inside.warc", record("response", "http://zip.test/", http()))
    return buf.getvalue()


NOT_WARC = {
    "random": lambda: os.urandom(200_000),
    "png": lambda: b"\x89PNG\r\n\x1a\n" + os.urandom(6000),
    "gzip-of-random": lambda: gzip.compress(os.urandom(200_000)),
    "zip": _zip,
    "html": lambda: PAGE,
    "text-with-spaces": lambda: b"a b c d e f g h\n" * 1000,  # warcio's ARC parser took this for a record
}


@pytest.mark.parametrize("name", NOT_WARC)
def test_a_file_that_is_no_warc_is_one_not_warc_outcome(tmp_path, name):
    path = tmp_path / f"{name}.warc.gz"
    path.write_bytes(NOT_WARC[name]())
    result = process_file(str(path), str(tmp_path / "out"), FAST, keep_dropped=True)
    assert result.by_outcome == {"error.not_warc": 1} and result.records_read == 1
    totals = summarise([result])
    assert totals.errored == 1 and totals.kept == totals.dropped == 0
    row = pq.read_table(tmp_path / "out" / result.part).to_pylist()[0]
    assert row["url"] is None and row["error"].startswith("not a WARC or ARC file")


def test_a_warc_that_turns_into_garbage_is_still_a_read_error():
    demo = (ROOT / "demo" / "demo.warc.gz").read_bytes()
    good = read(demo)
    # Seeded, and many seeds: random bytes used to become a phantom "response" (warcio's ARC
    # fallback) in about 1 of 16 tries. Garbage must end as exactly one error record.
    for seed in range(64):
        garbage = random.Random(seed).randbytes(5000)
        records = read(demo + garbage)
        assert [r.error for r in records[:-1]] == [r.error for r in good], seed
        assert len(records) == len(good) + 1 and records[-1].error in ("read", "truncated"), seed
        records = read(demo + gzip.compress(garbage))
        assert records[-1].error == "read" and len(records) == len(good) + 1, seed


def test_corrupt_gzip_at_the_start_is_a_read_error_not_a_phantom_record():
    data = bytearray(gz(record("response", "http://x.test/", http())))
    data[12:40] = os.urandom(28)
    records = read(bytes(data))
    assert len(records) == 1 and records[0].error in ("read", "not_warc")


@pytest.mark.parametrize("data", [b"", gzip.compress(b""), b"\r\n" + record("response", "http://x.test/", http())])
def test_empty_files_and_leading_blank_lines_are_not_called_not_warc(data):
    assert all(r.error != "not_warc" for r in read(data))


def test_unseekable_streams_keep_absolute_offsets():
    """Remote (pyarrow) input streams cannot seek back: the sniffed bytes are replayed instead."""
    demo = (ROOT / "demo" / "demo.warc.gz").read_bytes()

    class ReadOnly:
        def __init__(self, data: bytes) -> None:
            self.buf = io.BytesIO(data)

        def read(self, size: int = -1) -> bytes:
            return self.buf.read(size)

    assert [r.offset for r in read_records(ReadOnly(demo))] == [r.offset for r in read(demo)]


def test_real_warcs_hit_no_limit(warc_dir):
    """The limits' defaults change nothing on real crawls (no header near them, all are WARC/ARC)."""
    files = [p for p in warc_dir.rglob("*") if p.is_file() and ".warc" in p.name or p.name.endswith((".arc", ".arc.gz"))]
    assert files
    for path in files:
        with path.open("rb") as fh:
            errors = {r.error for r in read_records(fh)}
        assert not errors & {"header_too_large", "not_warc"}, path

"""Tests for curate.demo_warc: the deterministic demo WARC generator."""

from __future__ import annotations

import difflib
import io
import struct
import zlib
from collections import Counter
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator
from warcio.utils import Digester

from curate import demo_warc
from curate.demo_warc import KIND_DESCRIPTIONS, DemoSummary, demo_warc_bytes, write_demo_warc

HTTP_RECORD_TYPES = ("response", "request", "revisit")


@pytest.fixture(scope="module")
def written(tmp_path_factory) -> tuple[DemoSummary, bytes]:
    path = tmp_path_factory.mktemp("demo") / "demo.warc.gz"
    summary = write_demo_warc(path)
    return summary, path.read_bytes()


@pytest.fixture(scope="module")
def records(written) -> list[dict]:
    """Every record, parsed by warcio: headers, HTTP headers, payload and the raw block."""
    _, data = written
    parsed = []
    for rec in ArchiveIterator(io.BytesIO(data), check_digests=True):
        payload = rec.content_stream().read()
        rec.raw_stream.read()  # drain, so the digest check completes
        parsed.append({
            "type": rec.rec_type,
            "url": rec.rec_headers.get_header("WARC-Target-URI"),
            "warc": rec.rec_headers,
            "http": rec.http_headers,
            "payload": payload,
            "digest_ok": rec.digest_checker.passed,
            "digest_problems": list(rec.digest_checker.problems),
        })
    raw = [rec.content_stream().read() for rec in ArchiveIterator(io.BytesIO(data), no_record_parse=True)]
    assert len(raw) == len(parsed)
    for rec, block in zip(parsed, raw):
        rec["block"] = block
    return parsed


def _one(records, url, rec_type="response"):
    found = [r for r in records if r["url"] == url and r["type"] == rec_type]
    assert len(found) == 1, (url, rec_type, len(found))
    return found[0]


def _url(summary: DemoSummary, kind: str) -> str:
    urls = [u for u, k in summary.urls.items() if k == kind]
    assert len(urls) == 1, (kind, urls)
    return urls[0]


# --------------------------------------------------------------------------------------------
# Determinism and framing


def test_two_writes_are_byte_identical(tmp_path):
    a = write_demo_warc(tmp_path / "a" / "first.warc.gz")  # parent folders are created
    b = write_demo_warc(str(tmp_path / "second.warc.gz"))  # str paths work too
    data = (tmp_path / "a" / "first.warc.gz").read_bytes()
    assert data == (tmp_path / "second.warc.gz").read_bytes()
    assert data == demo_warc_bytes()
    assert a.sha256 == b.sha256 and a.size_bytes == b.size_bytes == len(data)
    assert a.path == tmp_path / "a" / "first.warc.gz" and isinstance(b.path, Path)


def test_every_gzip_member_has_zero_mtime_and_one_record(written, records):
    _, data = written
    pos, members = 0, 0
    while pos < len(data):
        header = data[pos:pos + 10]
        assert header[:3] == b"\x1f\x8b\x08", f"gzip member at {pos}"
        assert header[3] == 0, "no FNAME/FEXTRA/FCOMMENT flags"
        assert struct.unpack("<I", header[4:8])[0] == 0, "gzip mtime must be 0"
        d = zlib.decompressobj(31)
        d.decompress(data[pos:])
        assert d.eof
        pos = len(data) - len(d.unused_data)
        members += 1
    assert members == len(records)  # one member per record, as in Common Crawl


def test_file_is_small(written):
    summary, data = written
    assert len(data) == summary.size_bytes < 200_000


def test_no_random_ids_or_clock(records):
    ids = [r["warc"].get_header("WARC-Record-ID") for r in records]
    assert len(set(ids)) == len(ids)
    dates = [r["warc"].get_header("WARC-Date") for r in records]
    assert all(d.startswith("2024-03-04T") and d.endswith("Z") for d in dates)
    assert dates == sorted(dates)


# --------------------------------------------------------------------------------------------
# Contents versus the summary


def test_warcio_reads_every_record_and_counts_match_summary(written, records):
    summary, _ = written
    counts = Counter(r["type"] for r in records)
    assert dict(counts) == summary.record_types
    assert len(records) == summary.records == sum(summary.record_types.values())
    assert counts["response"] == summary.responses
    for kind in ("warcinfo", "request", "metadata", "revisit"):
        assert counts[kind] >= 1, kind
    assert records[0]["type"] == "warcinfo" and counts["warcinfo"] == 1
    assert records[0]["warc"].get_header("WARC-Filename") == demo_warc.DEMO_WARC_FILENAME

    targets = [r["url"] for r in records if r["type"] in ("response", "revisit")]
    assert targets == list(summary.urls)  # one record per URL, in file order
    assert set(summary.urls.values()) == set(KIND_DESCRIPTIONS)  # every kind used, none undocumented
    assert summary.related and set(summary.related) <= set(summary.urls)
    assert set(summary.related.values()) <= set(summary.urls)


def test_digests_are_valid(records):
    for r in records:
        assert r["digest_ok"] is not False, (r["url"], r["digest_problems"])


def test_summary_helpers(written):
    summary, _ = written
    educational = summary.urls_of_kind("educational")
    assert len(educational) == 6
    assert len(summary.urls_of_kind("spam")) == 2
    assert len(summary.urls_of_kind("boilerplate")) == 2
    assert len(summary.urls_of_kind("non-english")) == 4
    text = summary.describe()
    assert str(summary.path) in text and all(u in text for u in summary.urls)


def test_requests_and_metadata_accompany_their_responses(records):
    by_id = {r["warc"].get_header("WARC-Record-ID"): i for i, r in enumerate(records)}
    requests = [i for i, r in enumerate(records) if r["type"] == "request"]
    assert len(requests) >= 3
    for i in requests:
        req = records[i]
        assert req["http"].protocol == "GET"
        assert req["http"].get_header("Host") == req["url"].split("/")[2]
        j = by_id[req["warc"].get_header("WARC-Concurrent-To")]
        assert j == i + 1 and records[j]["type"] == "response" and records[j]["url"] == req["url"]
    meta = [r for r in records if r["type"] == "metadata"]
    assert len(meta) == 1
    assert by_id[meta[0]["warc"].get_header("WARC-Concurrent-To")] == by_id[meta[0]["warc"].get_header("WARC-Record-ID")] - 1
    assert b"languages-cld2:" in meta[0]["block"]


def test_educational_pages_are_substantial_and_wrapped_in_chrome(written, records):
    summary, _ = written
    for url in summary.urls_of_kind("educational"):
        page = _one(records, url)["payload"].decode("utf-8")
        article = page.split("<article>", 1)[1].split("</article>", 1)[0]
        words = len(article.split())
        assert 300 <= words <= 1000, (url, words)
        for chrome in ('id="cookie-banner"', 'class="main-nav"', 'class="sidebar"', 'class="site-footer"'):
            assert chrome in page, (url, chrome)
    code_page = _one(records, _url(summary, "educational-code"))["payload"]
    assert b'<pre><code class="language-python">def binary_search(items, target):\n' in code_page
    assert b"if items[mid] &lt; target:" in code_page
    assert b"<table" in _one(records, _url(summary, "educational-table"))["payload"]
    math_page = _one(records, _url(summary, "educational-math"))["payload"]
    assert b'<annotation encoding="application/x-tex">x = \\frac{-b \\pm \\sqrt{b^2 - 4ac}}{2a}</annotation>' in math_page
    assert b'<script type="math/tex">' in math_page and b"<semantics>" in math_page


def test_duplicates(written, records):
    summary, _ = written
    original = _one(records, summary.related[_url(summary, "exact-duplicate")])["payload"]
    exact = _one(records, _url(summary, "exact-duplicate"))["payload"]
    near_url = _url(summary, "near-duplicate")
    near = _one(records, near_url)["payload"]
    assert exact == original
    assert near != original and summary.related[near_url] == summary.related[_url(summary, "exact-duplicate")]
    a, b = original.decode().split(), near.decode().split()
    changed = sum(max(i2 - i1, j2 - j1) for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b).get_opcodes()
                  if tag != "equal")
    assert 0 < changed <= 15


def test_charset_pages(written, records):
    summary, _ = written
    ja = _one(records, _url(summary, "non-english-ja-shift_jis"))
    assert ja["http"].get_header("Content-Type") == "text/html"  # no charset in HTTP
    body = ja["payload"]
    with pytest.raises(UnicodeDecodeError):
        body.decode("utf-8")
    text = body.decode("shift_jis")
    assert '<meta charset="shift_jis">' in text[:200]
    assert "月の満ち欠け" in text and "満月" in text

    fr = _one(records, _url(summary, "non-english-fr-windows-1252"))
    assert fr["http"].get_header("Content-Type") == "text/html; charset=windows-1252"
    assert b"charset" not in fr["payload"].lower()  # only the HTTP header names it
    text = fr["payload"].decode("windows-1252")
    assert "œuvre" in text and "€" in text and "d’eau" in text
    assert fr["payload"].decode("latin-1") != text

    de = _one(records, _url(summary, "non-english-de"))["payload"].decode("utf-8")
    assert "Regenbogen" in de and "außen" in de
    es = _one(records, _url(summary, "non-english-es"))["payload"].decode("utf-8")
    assert "¿Sabías" in es


def test_no_content_type_page(written, records):
    summary, _ = written
    rec = _one(records, _url(summary, "no-content-type"))
    assert rec["http"].get_header("Content-Type") is None
    assert rec["payload"].startswith(b"<!DOCTYPE html>")


def test_non_html_payloads(written, records):
    summary, _ = written
    png = _one(records, _url(summary, "non-html-png"))
    assert png["http"].get_header("Content-Type") == "image/png"
    data = png["payload"]
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    pos = 8
    chunks = []
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        tag, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        (crc,) = struct.unpack(">I", data[pos + 8 + length:pos + 12 + length])
        assert crc == zlib.crc32(tag + body) & 0xFFFFFFFF
        chunks.append(tag)
        pos += 12 + length
    assert chunks == [b"IHDR", b"IDAT", b"IEND"]

    pdf = _one(records, _url(summary, "non-html-pdf"))
    assert pdf["http"].get_header("Content-Type") == "application/pdf"
    assert pdf["payload"].startswith(b"%PDF-1.4") and pdf["payload"].rstrip().endswith(b"%%EOF")
    xref_at = int(pdf["payload"].rsplit(b"startxref\n", 1)[1].split(b"\n", 1)[0])
    assert pdf["payload"][xref_at:xref_at + 4] == b"xref"

    robots = _one(records, _url(summary, "robots-txt"))
    assert robots["http"].get_header("Content-Type").startswith("text/plain")
    assert b"User-agent: *" in robots["payload"]


def test_http_status_pages(written, records):
    summary, _ = written
    redirect = _one(records, _url(summary, "redirect-301"))
    assert redirect["http"].get_statuscode() == "301"
    assert redirect["http"].get_header("Location") == summary.related[_url(summary, "redirect-301")]
    assert _one(records, _url(summary, "http-404"))["http"].get_statuscode() == "404"
    for r in records:
        if r["type"] == "response" and r["url"] in summary.urls and summary.urls[r["url"]] != "broken-http":
            assert r["http"].protocol == "HTTP/1.1"
            assert int(r["http"].get_header("Content-Length")) == len(r["payload"]), r["url"]


def test_revisit_refers_to_an_earlier_identical_payload(written, records):
    summary, _ = written
    url = _url(summary, "revisit")
    rev = _one(records, url, "revisit")
    h = rev["warc"]
    assert h.get_header("WARC-Profile") == "http://netpreserve.org/warc/1.0/revisit/identical-payload-digest"
    target = h.get_header("WARC-Refers-To-Target-URI")
    assert target == summary.related[url] != url
    original = _one(records, target)
    assert records.index(original) < records.index(rev)
    assert h.get_header("WARC-Refers-To") == original["warc"].get_header("WARC-Record-ID")
    assert h.get_header("WARC-Refers-To-Date") == original["warc"].get_header("WARC-Date")
    digest = Digester("sha1")
    digest.update(original["payload"])
    assert h.get_header("WARC-Payload-Digest") == str(digest) == original["warc"].get_header("WARC-Payload-Digest")
    assert rev["http"].get_statuscode() == "200" and rev["payload"] == b""


def test_broken_record_is_present_and_later_records_are_readable(written, records):
    summary, _ = written
    url = _url(summary, "broken-http")
    idx = [i for i, r in enumerate(records) if r["url"] == url]
    assert len(idx) == 1
    broken = records[idx[0]]
    assert broken["type"] == "response"
    assert not broken["block"].startswith(b"HTTP/")
    assert int(broken["warc"].get_header("Content-Length")) == len(broken["block"])
    # warcio's lenient parser yields something, but no usable status code.
    assert broken["http"] is None or not broken["http"].get_statuscode().isdigit()

    after = records[idx[0] + 1:]
    assert len(after) >= 5
    for r in after:
        if r["type"] in ("response", "revisit"):
            assert r["http"].protocol == "HTTP/1.1" and r["http"].get_statuscode().isdigit(), r["url"]

    # The project's own reader flags it and carries on.
    from curation.ingest.warc import read_records

    raw = list(read_records(io.BytesIO(written[1])))
    assert len(raw) == summary.records
    flagged = [r for r in raw if r.url == url]
    assert [r.error for r in flagged] == ["http_headers"]
    assert all(r.error is None for r in raw if r.url != url)


# --------------------------------------------------------------------------------------------
# Command line and the committed copy


def test_main_writes_the_file_and_prints_the_summary(tmp_path, capsys):
    out = tmp_path / "cli.warc.gz"
    assert demo_warc.main([str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.read_bytes() == demo_warc_bytes()
    assert str(out) in printed and "broken-http" in printed and "revisit" in printed


def test_committed_demo_warc_matches_the_generator():
    committed = Path(__file__).resolve().parent.parent / "demo" / "demo.warc.gz"
    if not committed.exists():
        pytest.skip("demo/demo.warc.gz is not in this checkout")
    assert committed.read_bytes() == demo_warc_bytes(), "regenerate with: python -m curate.demo_warc demo/demo.warc.gz"

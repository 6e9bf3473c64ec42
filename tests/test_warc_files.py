"""Every real file in ../shared/data/warc: no crash, exact accounting, and the quirks handled."""

from __future__ import annotations

import gzip
import random
import re
import zlib
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from curation.ingest.extract import ExtractConfig
from curation.ingest.extract_task import documents_from_file, process_file
from curation.ingest.warc import read_records
from tests.conftest import SHARED, shared_data_missing

SHARED_WARC = SHARED / "warc"
FILES = sorted(p for p in SHARED_WARC.rglob("*") if p.is_file() and re.search(r"\.(warc|arc|wet|wat)(\.gz)?$", p.name)) if SHARED_WARC.exists() else []
FAST = ExtractConfig(extractor="resiliparse")


def independent_count(path: Path) -> int:
    """Records counted by a different reader: FastWARC for WARC, gzip members for ARC."""
    if ".arc" in path.name:
        data, members = path.read_bytes(), 0
        while data:
            d = zlib.decompressobj(31)
            d.decompress(data)
            data = d.unused_data
            members += 1
        return members
    from fastwarc.warc import ArchiveIterator

    with path.open("rb") as fh:
        return sum(1 for _ in ArchiveIterator(fh, parse_http=False))


# Without ../shared/data one placeholder case skips (or fails under CURATE_REQUIRE_SHARED_DATA=1)
# instead of pytest's silent skip of an empty parameter set.
@pytest.mark.slow  # ~12 s in all: extracts every real WARC/ARC file in ../shared/data
@pytest.mark.parametrize("path", FILES or [None], ids=lambda p: p.name if p else "no-shared-warc-files")
def test_every_record_is_accounted_for(path, tmp_path, warc_dir):
    if path is None:
        shared_data_missing(f"no WARC/ARC files under {SHARED_WARC}")
    result = process_file(str(path), str(tmp_path), FAST, keep_dropped=True)
    assert result.records_read == independent_count(path)
    assert sum(result.by_outcome.values()) == result.records_read
    table = pq.read_table(tmp_path / result.part)
    assert table.num_rows == result.records_read  # with keep_dropped every record is a row
    rows = table.select(["id", "text", "drop_reason"]).to_pylist()
    assert Counter(r["drop_reason"] or "kept" for r in rows) == Counter(result.by_outcome)
    assert all(r["text"] for r in rows if r["drop_reason"] is None)
    assert len({r["id"] for r in rows}) == len(rows), "document ids must be unique within a file"


def test_truncated_file_is_counted_as_error(warc_dir, tmp_path):
    result = process_file(str(warc_dir / "truncated/clipped.warc.gz"), str(tmp_path), FAST)
    assert result.by_outcome == {"error.truncated": 1}


def test_cut_keeps_records_before_it(warc_dir, tmp_path):
    """Cut a real multi-record file mid-way: the records before the cut survive, the cut is an error."""
    src = warc_dir / "commoncrawl/cc-2020-excerpt.warc.gz"
    full = process_file(str(src), str(tmp_path / "full"), FAST, keep_dropped=True)
    data = src.read_bytes()
    cut = tmp_path / "cut.warc.gz"
    cut.write_bytes(data[: len(data) * 2 // 3])
    part = process_file(str(cut), str(tmp_path / "cut"), FAST, keep_dropped=True)
    errors = {k: v for k, v in part.by_outcome.items() if k.startswith("error.")}
    assert sum(errors.values()) == 1
    assert 0 < part.by_outcome.get("kept", 0) < full.by_outcome["kept"]
    before = pq.read_table(tmp_path / "cut" / part.part).to_pylist()
    whole = {r["source_offset"]: r for r in pq.read_table(tmp_path / "full" / full.part).to_pylist()}
    for row in before:
        if row["drop_reason"] is None:
            assert whole[row["source_offset"]]["text"] == row["text"]


@pytest.mark.parametrize("seed", range(6))
def test_fuzzed_files_never_crash(warc_dir, tmp_path, seed):
    rng = random.Random(seed)
    src = rng.choice([warc_dir / "dolma-2024/sample-0000.warc.gz", warc_dir / "archiveit-2008/archiveit.arc.gz",
                      warc_dir / "nodewarc/books.toscrape.warc", warc_dir / "clueweb09-quirk/clueweb-eucjp.warc.gz"])
    data = bytearray(src.read_bytes())
    for _ in range(rng.randint(1, 20)):
        data[rng.randrange(len(data))] = rng.randrange(256)
    data = data[: rng.randint(len(data) // 4, len(data))]
    fuzzed = tmp_path / ("fuzz-" + src.name)
    fuzzed.write_bytes(bytes(data))
    result = process_file(str(fuzzed), str(tmp_path / "out"), FAST, keep_dropped=True)
    assert sum(result.by_outcome.values()) == result.records_read >= 1
    assert pq.read_table(tmp_path / "out" / result.part).num_rows == result.records_read


def test_euc_jp_clueweb_comes_out_as_japanese(warc_dir):
    docs = [d for d in documents_from_file(str(warc_dir / "clueweb09-quirk/clueweb-eucjp.warc.gz"), FAST) if d.kept]
    assert len(docs) == 29
    assert {d.charset for d in docs} == {"euc_jp"}
    for d in docs:
        kana = len(re.findall(r"[\u3040-\u30ff]", d.text))
        assert kana > 20 and d.text.count("\ufffd") == 0, d.url
    # Malformed WARC-Date values are kept verbatim rather than lost.
    assert all(d.crawl_date for d in docs)


@pytest.mark.slow  # ~7 s: extracts one real crawl twice (ARC and WARC)
def test_arc_and_warc_of_the_same_crawl_agree(warc_dir):
    arc = {d.url: d for d in documents_from_file(str(warc_dir / "archiveit-2008/archiveit.arc.gz"), FAST) if d.record_type == "response"}
    warc = {d.url: d for d in documents_from_file(str(warc_dir / "archiveit-2008/archiveit.warc.gz"), FAST) if d.record_type == "response"}
    assert len(arc) == len(warc) > 250
    assert set(arc) == set(warc)
    kept_arc = {u for u, d in arc.items() if d.kept}
    assert kept_arc == {u for u, d in warc.items() if d.kept}
    assert all(arc[u].text == warc[u].text for u in kept_arc)
    assert all(arc[u].crawl_date == warc[u].crawl_date for u in kept_arc)
    assert all(d.record_id is None for d in arc.values())  # ARC has no record ids (warcio's invented ones are not kept)
    assert all(d.record_id for d in warc.values())


def test_revisits_requests_and_metadata_are_counted_not_extracted(warc_dir):
    outcomes = Counter(d.outcome for d in documents_from_file(str(warc_dir / "ukwa-govuk-2014/govuk-crawl-2-revisits.warc.gz"), FAST))
    assert outcomes["warc.revisit"] == 55 and outcomes["warc.request"] == 62 and outcomes["warc.metadata"] == 62


def test_chunked_transfer_encoding_is_decoded(warc_dir):
    docs = [d for d in documents_from_file(str(warc_dir / "warcio-edge/example-iana.org-chunked.warc"), FAST) if d.kept]
    assert len(docs) == 1 and "Internet Assigned Numbers Authority" in docs[0].text
    assert not re.search(r"^[0-9a-f]{2,4}\r?$", docs[0].text, re.M)  # no chunk-size lines leaked


def test_wet_conversion_records_are_text(warc_dir):
    docs = [d for d in documents_from_file(str(warc_dir / "commoncrawl/cc-2024-22-one.warc.wet.gz"), FAST) if d.kept]
    assert len(docs) == 1 and docs[0].record_type == "conversion"
    with gzip.open(warc_dir / "commoncrawl/cc-2024-22-one.warc.wet.gz", "rb") as fh:
        raw = fh.read().decode("utf-8")
    assert docs[0].text[:200] in raw


def test_provenance_is_kept(warc_dir):
    path = warc_dir / "commoncrawl/cc-2020-excerpt.warc.gz"
    docs = [d for d in documents_from_file(str(path), FAST) if d.kept]
    assert len(docs) == 16
    with path.open("rb") as fh:
        records = list(read_records(fh))
    by_offset = {r.offset: r for r in records}
    for d in docs:
        assert d.record_id and d.record_id.startswith("urn:uuid:")
        assert d.url.startswith("http") and d.crawl_date.startswith("2020-08")
        assert d.source_file == str(path) and by_offset[d.source_offset].url == d.url
        # The offset really points at the record: reading from it yields the same record first.
        with path.open("rb") as fh:
            fh.seek(d.source_offset)
            first = next(read_records(fh))
        assert first.record_id == d.record_id


def test_oversized_payload_is_dropped_unread(warc_dir):
    cfg = ExtractConfig(extractor="resiliparse", max_payload_bytes=20_000)
    docs = list(documents_from_file(str(warc_dir / "dolma-2024/sample-0000.warc.gz"), cfg))
    big = [d for d in docs if d.drop_reason == "resiliparse_v1.too_large"]
    assert big and all(d.payload_bytes > 20_000 for d in big)
    assert sum(1 for d in docs if d.record_type == "response") == 22  # later records still read

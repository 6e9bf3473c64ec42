"""The FastWARC path of :func:`curation.ingest.warc.read_records` against the warcio path (issue 21).

The default reader (``engine="auto"``) reads with FastWARC every record it can prove warcio would
read the same way, and hands the rest to warcio. Here both engines read every file in
../shared/data/warc, the broken and truncated ones included, and several hundred hostile mutations
of them (the fuzz tests' mutations): the record sequences (every field: type, offset, id, URL, date,
HTTP status, content type, payload, sizes, error and its detail) and the extract task's accounting
must be identical. Other tests check that the fast path is really taken, so that this parity is not
the trivial one of warcio against itself.
"""

from __future__ import annotations

import dataclasses
import functools
import io
import random
import tempfile
from pathlib import Path

import pytest

import curation.ingest.extract_task as extract_task
import curation.ingest.warc as warc
from curation.ingest.extract import ExtractConfig
from curation.ingest.warc import read_records
from tests.conftest import SHARED, shared_data_missing

WARC_DIR = SHARED / "warc"
FILES = sorted(p.relative_to(WARC_DIR).as_posix() for p in WARC_DIR.rglob("*") if p.is_file()) \
    if WARC_DIR.is_dir() else []


def _need_shared() -> None:
    if not FILES:
        shared_data_missing(f"no WARC files under {WARC_DIR}")


def records(data: bytes, engine: str, **limits) -> list[tuple]:
    return [dataclasses.astuple(r) for r in read_records(io.BytesIO(data), engine=engine, **limits)]


class Counting:
    """Counts the records FastWARC vouched for (so a test knows the fast path ran)."""

    def __init__(self, monkeypatch) -> None:
        self.vouched = 0
        original = warc.fast_records

        def counted(*args, **kwargs):
            result = yield from self._count(original(*args, **kwargs))
            return result

        monkeypatch.setattr(warc, "fast_records", counted)

    def _count(self, gen):
        while True:
            try:
                item = next(gen)
            except StopIteration as stop:
                return stop.value
            self.vouched += 1
            yield item


@pytest.mark.parametrize("name", FILES or ["(shared data absent)"])
def test_every_shared_warc_reads_identically(name):
    _need_shared()
    data = (WARC_DIR / name).read_bytes()
    slow, fast = records(data, "warcio"), records(data, "auto")
    assert len(fast) == len(slow), f"{name}: {len(fast)} records via FastWARC, {len(slow)} via warcio"
    for i, (a, b) in enumerate(zip(slow, fast, strict=True)):
        assert a == b, f"{name}: record {i} differs:\nwarcio   {a[:8]}\nfastwarc {b[:8]}"
    # the reader's own accounting: every record is a document, a non-document, or an error of one kind
    by_error = lambda rs: sorted((str(r[9]), sum(1 for x in rs if x[9] == r[9])) for r in rs)  # noqa: E731
    assert by_error(fast) == by_error(slow)


def test_fast_path_is_taken_on_real_files(monkeypatch):
    """All but the last record of a clean file come from FastWARC; an ARC file never does."""
    _need_shared()
    counting = Counting(monkeypatch)
    data = (WARC_DIR / "archiveit-2008/archiveit.warc.gz").read_bytes()
    n = sum(1 for _ in read_records(io.BytesIO(data)))
    assert counting.vouched == n - 1 > 800
    counting.vouched = 0
    plain = (WARC_DIR / "nodewarc/books.toscrape.warc").read_bytes()
    n = sum(1 for _ in read_records(io.BytesIO(plain)))
    assert counting.vouched == n - 1 > 50
    counting.vouched = 0
    list(read_records(io.BytesIO((WARC_DIR / "archiveit-2008/archiveit.arc.gz").read_bytes())))
    assert counting.vouched == 0


def test_unseekable_input_reads_with_warcio(monkeypatch):
    _need_shared()

    class Unseekable(io.RawIOBase):
        def __init__(self, data: bytes) -> None:
            self.inner = io.BytesIO(data)

        def readable(self) -> bool:
            return True

        def seekable(self) -> bool:
            return False

        def readinto(self, b) -> int:
            chunk = self.inner.read(len(b))
            b[: len(chunk)] = chunk
            return len(chunk)

    counting = Counting(monkeypatch)
    data = (WARC_DIR / "commoncrawl/cc-2020-excerpt.warc.gz").read_bytes()
    got = [dataclasses.astuple(r) for r in read_records(io.BufferedReader(Unseekable(data)))]
    assert counting.vouched == 0
    assert got == records(data, "warcio")


def test_odd_records_go_to_warcio_and_the_fast_path_resumes(monkeypatch):
    """A record FastWARC cannot vouch for (bare-LF HTTP headers, as in ClueWeb) costs only itself."""
    _need_shared()
    clean = (WARC_DIR / "dolma-2024/sample-0000.warc.gz").read_bytes()
    quirky = (WARC_DIR / "clueweb09-quirk/clueweb-eucjp.warc.gz").read_bytes()
    data = clean + quirky + clean
    counting = Counting(monkeypatch)
    fast = [dataclasses.astuple(r) for r in read_records(io.BytesIO(data))]
    assert fast == records(data, "warcio")
    n_clean = sum(1 for _ in read_records(io.BytesIO(clean), engine="warcio"))
    assert counting.vouched >= 2 * n_clean - 2  # both clean copies, less a record at each hand-over


@pytest.mark.slow  # ~20 s: 300 mutated files through both readers
def test_mutated_files_read_identically():
    """The fuzz tests' mutations (bit flips, cuts, long lines, header floods, rewritten lengths, bare
    LFs, junk, gzip members cut, shuffled, joined or inflated) give the same records either way."""
    fuzz = pytest.importorskip("tests.test_fuzz_warc")
    seeds = fuzz.load_seeds(SHARED if FILES else None)
    rng = random.Random(21)
    for i in range(300):
        data = fuzz.mutate(seeds, rng)
        slow, fast = records(data, "warcio", **fuzz.LIMITS), records(data, "auto", **fuzz.LIMITS)
        # warcio invents a random WARC-Record-ID for ARC records in a file not recognised as ARC (a
        # mutated ARC header): that field differs between two warcio reads too, so it is left out.
        again = records(data, "warcio", **fuzz.LIMITS)
        assert len(fast) == len(slow) == len(again), f"mutation {i} ({len(data)} bytes): record counts differ"
        masks = [[x != y for x, y in zip(a, b, strict=True)] for a, b in zip(slow, again, strict=True)]
        slow, fast = ([tuple(None if m else x for x, m in zip(r, mask, strict=True)) for r, mask in zip(rs, masks, strict=True)]
                      for rs in (slow, fast))
        assert fast == slow, f"mutation {i} ({len(data)} bytes) reads differently"


@pytest.mark.parametrize("name", ["archiveit-2008/archiveit.warc.gz", "truncated/clipped.warc.gz",
                                  "clueweb09-quirk/clueweb-eucjp.warc.gz", "nodewarc/books.toscrape.warc",
                                  "commoncrawl/cc-2024-22-one.warc.wet.gz"])
def test_extract_task_accounting_is_identical(name, monkeypatch):
    """records read = kept + dropped + errored, the same counts and outcomes through both readers."""
    _need_shared()
    cfg = ExtractConfig(extractor="resiliparse")
    got = {}
    for engine in ("warcio", "auto"):
        monkeypatch.setattr(extract_task, "read_records", functools.partial(read_records, engine=engine))
        with tempfile.TemporaryDirectory() as tmp:
            result = extract_task.process_file(str(WARC_DIR / name), tmp, cfg, keep_dropped=True)
        totals = extract_task.summarise([result])
        assert result.records_read == totals.kept + totals.dropped + totals.errored
        got[engine] = (result.records_read, dict(result.by_outcome), result.rows_written)
    assert got["auto"] == got["warcio"]


def test_engine_is_checked():
    with pytest.raises(ValueError, match="engine"):
        list(read_records(io.BytesIO(Path(warc.__file__).read_bytes()[:0] + b"WARC/1.0\r\n\r\n"), engine="x"))

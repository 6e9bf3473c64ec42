"""Fuzzing the WARC reader and the per-file extract task with hostile bytes.

Inputs: random bytes (plain and gzipped), and real WARC/ARC/WET files mutated the ways real files
break or are made to break: bit flips, truncations, long header lines and header floods inserted,
Content-Length values rewritten, gzip members cut, dropped, repeated and joined across files, a
per-record gzip turned into one member or into plain text. The seeds are the bundled demo WARC and
the small real files in ../shared/data/warc (those tests skip when it is absent).

The properties: :func:`curation.ingest.warc.read_records` and :func:`curation.ingest.extract_task.process_file`
never raise, always finish (a CPU-time deadline per example), never hold more than their limits,
and account for every record (records read = kept + dropped + errored = rows written).

Bounded and deterministic by default, so CI sees the same examples every run;
``CURATE_FUZZ_EXAMPLES=5000 CURATE_FUZZ_RANDOM=1`` explores further, and ``bench/fuzz.py`` runs the
same mutations for minutes with plain ``random``.
"""

from __future__ import annotations

import contextlib
import functools
import gzip
import io
import os
import signal
import tempfile
import zlib
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Protocol

import pyarrow.parquet as pq
import pytest

hypothesis = pytest.importorskip("hypothesis")
from hypothesis import HealthCheck, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from curation.ingest.extract import ExtractConfig  # noqa: E402
from curation.ingest.extract_task import process_file, summarise  # noqa: E402
from curation.ingest.warc import read_records  # noqa: E402
from tests.conftest import ROOT, SHARED  # noqa: E402

EXAMPLES = int(os.environ.get("CURATE_FUZZ_EXAMPLES", "200"))
FUZZ = settings(max_examples=EXAMPLES, deadline=None, database=None,
                derandomize=not os.environ.get("CURATE_FUZZ_RANDOM"),
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.function_scoped_fixture])

#: Small limits, so that mutations of a few KB reach every one of them.
CFG = ExtractConfig(extractor="resiliparse", max_payload_bytes=100_000, max_header_line_bytes=2048,
                    max_header_block_bytes=8192, time_limit_s=5)
LIMITS = dict(max_payload_bytes=CFG.max_payload_bytes, max_header_line_bytes=CFG.max_header_line_bytes,
              max_header_block_bytes=CFG.max_header_block_bytes)
ERRORS = {None, "truncated", "read", "http_headers", "header_too_large", "not_warc"}
DEADLINE_S = 30.0  # CPU seconds per example: the largest input here is read in well under one

DEMO = ROOT / "demo" / "demo.warc.gz"
#: Small real files (< 30 KB each, plus a 10-record head of the ARC) covering every format quirk.
REAL_SEEDS = ("commoncrawl/cc-2019-one.warc.gz", "commoncrawl/cc-2024-22-one.warc.gz",
              "commoncrawl/cc-2024-22-one.warc.wet.gz", "commoncrawl/cc-2024-22-one.warc.wat.gz",
              "warcio-edge/example-iana.org-chunked.warc", "warcio-edge/example-resource.warc.gz",
              "warcio-edge/example.arc.gz", "warcio-edge/example.warc.gz", "truncated/clipped.warc.gz",
              "ukwa-govuk-2014/heritrix-2008-small.warc.gz", "archiveit-2008/archiveit.arc.gz")


@functools.lru_cache(maxsize=4)
def load_seeds(shared: Path | None = SHARED) -> list[bytes]:
    """The demo WARC, and the small real files when ``shared`` (../shared/data) is there."""
    seeds = [DEMO.read_bytes()]
    for name in REAL_SEEDS if shared is not None and (shared / "warc").is_dir() else ():
        data = (shared / "warc" / name).read_bytes()
        seeds.append(b"".join(split_members(data)[:10]) if name.endswith(".arc.gz") else data)
    return seeds


# --------------------------------------------------------------------------------------------
# Mutations (shared with bench/fuzz.py: ``rng`` is a random.Random there, hypothesis draws here)


class Rng(Protocol):
    def randint(self, a: int, b: int) -> int: ...
    def choice(self, seq: Sequence): ...
    def randbytes(self, n: int) -> bytes: ...


def split_members(data: bytes) -> list[bytes]:
    """The gzip members of ``data``, compressed; what follows the last good member is one more item."""
    members, rest = [], data
    while rest[:2] == b"\x1f\x8b":
        d = zlib.decompressobj(31)
        try:
            d.decompress(rest)
        except zlib.error:
            break
        if not d.eof:
            break
        members.append(rest[: len(rest) - len(d.unused_data)])
        rest = d.unused_data
    return members + [rest] if rest else members


def _gunzip(member: bytes) -> bytes | None:
    try:
        return zlib.decompressobj(31).decompress(member)
    except zlib.error:
        return None


def _edit_plain(data: bytes, rng: Rng, edit: Callable[[bytes, Rng], bytes]) -> bytes:
    """Apply ``edit`` to the decompressed text of one gzip member (or to ``data`` if plain)."""
    members = split_members(data)
    if not members:
        return edit(data, rng)
    i = rng.randint(0, len(members) - 1)
    plain = _gunzip(members[i])
    if plain is None:  # not gzip (or a broken member): edit the bytes as they are
        members[i] = edit(members[i], rng)
    else:
        members[i] = gzip.compress(edit(plain, rng), compresslevel=1)
    return b"".join(members)


def _insert(data: bytes, rng: Rng, what: bytes) -> bytes:
    at = rng.randint(0, len(data))
    if rng.randint(0, 1):  # at a line start, where headers are
        at = data.rfind(b"\n", 0, at) + 1
    return data[:at] + what + data[at:]


def flip_bits(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    out = bytearray(data)
    for _ in range(rng.randint(1, 8) if out else 0):
        out[rng.randint(0, len(out) - 1)] ^= 1 << rng.randint(0, 7)
    return bytes(out)


def truncate(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    return data[: rng.randint(0, len(data))]


def long_line(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    size = rng.choice((100, 2047, 2049, 5000, 40_000))
    end = rng.choice((b"", b"\r\n", b"\n"))
    return _edit_plain(data, rng, lambda plain, r: _insert(plain, r, b"X-Long: " + b"L" * size + end))


def header_flood(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    lines = b"X-Flood: v\r\n" * rng.choice((10, 700, 3000))
    return _edit_plain(data, rng, lambda plain, r: _insert(plain, r, lines))


def blank_lines(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    return _edit_plain(data, rng, lambda plain, r: _insert(plain, r, b"\r\n" * rng.choice((1, 3, 5000))))


def rewrite_length(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    def edit(plain: bytes, r: Rng) -> bytes:
        at = plain.find(b"Content-Length:", r.randint(0, len(plain)))
        if at < 0:
            at = plain.find(b"Content-Length:")
        if at < 0:
            return plain
        end = plain.find(b"\n", at)
        end = len(plain) if end < 0 else end
        value = r.choice((b"0", b"-5", b"1", b"99999999999", b"abc", b"", b"12 34", str(r.randint(0, 5000)).encode()))
        return plain[:at] + b"Content-Length: " + value + b"\r" + plain[end:]
    return _edit_plain(data, rng, edit)


def delete_line(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    def edit(plain: bytes, r: Rng) -> bytes:
        start = plain.rfind(b"\n", 0, r.randint(0, len(plain))) + 1
        end = plain.find(b"\n", start)
        return plain[:start] + (plain[end + 1:] if end >= 0 else b"")
    return _edit_plain(data, rng, edit)


def bare_lf(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    return _edit_plain(data, rng, lambda plain, r: plain.replace(b"\r\n", b"\n"))


def junk(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    return _insert(data, rng, rng.randbytes(rng.randint(1, 300)))


def cut_member(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    members = split_members(data)
    if not members:
        return data
    i = rng.randint(0, len(members) - 1)
    members[i] = members[i][: rng.randint(0, len(members[i]))]
    return b"".join(members)


def shuffle_members(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    members = split_members(data)
    if len(members) < 2:
        return data
    i, j = rng.randint(0, len(members) - 1), rng.randint(0, len(members) - 1)
    action = rng.choice(("drop", "repeat", "swap"))
    if action == "drop":
        del members[i]
    elif action == "repeat":
        members.insert(j, members[i])
    else:
        members[i], members[j] = members[j], members[i]
    return b"".join(members)


def join_files(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    other = split_members(seeds[rng.randint(0, len(seeds) - 1)])
    start = rng.randint(0, len(other))
    piece = b"".join(other[start: start + rng.randint(1, 3)])
    return _insert(data, rng, piece) if rng.randint(0, 1) else data + piece


def decompress_all(data: bytes, rng: Rng, seeds: Sequence[bytes]) -> bytes:
    """The same records uncompressed (framing by Content-Length alone), or as one gzip member."""
    plain = b"".join(_gunzip(m) or m for m in split_members(data))
    return plain if rng.randint(0, 1) else gzip.compress(plain, compresslevel=1)


MUTATIONS = (flip_bits, truncate, long_line, header_flood, blank_lines, rewrite_length, delete_line, bare_lf,
             junk, cut_member, shuffle_members, join_files, decompress_all)


def mutate(seeds: Sequence[bytes], rng: Rng) -> bytes:
    data = seeds[rng.randint(0, len(seeds) - 1)]  # an index: a failing example prints short
    for _ in range(rng.randint(1, 4)):
        data = rng.choice(MUTATIONS)(data, rng, seeds)
    return data


class HypothesisRng:
    """The :class:`Rng` calls as hypothesis draws, so failures shrink and replay."""

    def __init__(self, data: st.DataObject) -> None:
        self.data = data

    def randint(self, a: int, b: int) -> int:
        return self.data.draw(st.integers(a, b))

    def choice(self, seq: Sequence):
        return self.data.draw(st.sampled_from(seq))

    def randbytes(self, n: int) -> bytes:
        return self.data.draw(st.binary(min_size=n, max_size=n))


# --------------------------------------------------------------------------------------------
# The properties (shared with bench/fuzz.py)


class DidNotFinish(AssertionError):
    pass


@contextlib.contextmanager
def deadline(cpu_seconds: float = DEADLINE_S) -> Iterator[None]:
    """Fail after ``cpu_seconds`` of CPU time. ITIMER_PROF, so the extractor's own per-page
    SIGALRM time limit (ITIMER_REAL) can neither cancel this one nor be cancelled by it."""
    def expired(signum, frame):
        raise DidNotFinish(f"no result after {cpu_seconds:g} CPU seconds")

    previous = signal.signal(signal.SIGPROF, expired)
    signal.setitimer(signal.ITIMER_PROF, cpu_seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_PROF, 0)
        signal.signal(signal.SIGPROF, previous)


def check_reader(data: bytes) -> int:
    """Read ``data`` with small limits and check what comes out; returns the number of records."""
    with deadline():
        records = list(read_records(io.BytesIO(data), **LIMITS))
    for i, r in enumerate(records):
        assert r.error in ERRORS, r.error
        if r.error in ("read", "not_warc"):
            assert i == len(records) - 1, "nothing may follow a record that ends the file"
        assert r.payload is None or len(r.payload) <= CFG.max_payload_bytes
        assert len(r.url or "") <= 3 * (CFG.max_header_line_bytes + 2)  # warcio writes spaces as %20
        assert r.offset >= 0
    assert not any(r.error == "not_warc" for r in records) or len(records) == 1
    assert len({r.offset for r in records}) == len(records), "offsets (and so document ids) must be unique"
    return len(records)


def check_extract_task(data: bytes) -> int:
    """Run the whole per-file task; returns records read. Accounting must be exact."""
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "input.warc.gz"
        path.write_bytes(data)
        with deadline():
            result = process_file(str(path), tmp + "/out", CFG, keep_dropped=True)
        totals = summarise([result])
        assert result.records_read == sum(result.by_outcome.values())
        assert result.records_read == totals.records_read == totals.kept + totals.dropped + totals.errored
        table = pq.read_table(Path(tmp) / "out" / result.part, columns=["id", "text", "drop_reason"])
        assert table.num_rows == result.records_read == result.rows_written
        rows = table.to_pylist()
        assert all(r["text"] for r in rows if r["drop_reason"] is None)
        assert len({r["id"] for r in rows}) == len(rows)
    return result.records_read


# --------------------------------------------------------------------------------------------
# The tests


@FUZZ
@given(st.binary(max_size=20_000), st.booleans())
def test_random_bytes(data, compressed):
    check_reader(gzip.compress(data, compresslevel=1) if compressed else data)


@pytest.mark.slow  # ~1 s: hypothesis fuzz
@FUZZ
@given(st.data())
def test_mutated_demo_warc(data):
    check_reader(mutate(load_seeds(None), HypothesisRng(data)))


@pytest.fixture(scope="module")
def real_seeds(shared_data) -> list[bytes]:
    return load_seeds(shared_data)


@pytest.mark.slow  # ~1 s: hypothesis fuzz
@FUZZ
@given(data=st.data())
def test_mutated_real_warcs(real_seeds, data):
    check_reader(mutate(real_seeds, HypothesisRng(data)))


@pytest.mark.slow  # ~1.5 s: hypothesis fuzz through the extract task
@settings(FUZZ, max_examples=max(EXAMPLES // 2, 1))
@given(data=st.data())
def test_extract_task_accounts_for_mutated_files(data):
    seeds = load_seeds(SHARED if (SHARED / "warc").is_dir() else None)
    check_extract_task(mutate(seeds, HypothesisRng(data)))


@pytest.mark.slow  # ~1 s: many mutations of the seed files
def test_mutations_reach_every_limit():
    """The fuzz is only as good as its mutations: check they produce each kind of damage."""
    import random

    seen: set[str | None] = set()
    seeds = load_seeds(None)
    rng = random.Random(0)
    for _ in range(300):
        seen |= {r.error for r in read_records(io.BytesIO(mutate(seeds, rng)), **LIMITS)}
    assert {None, "truncated", "read", "header_too_large"} <= seen, seen

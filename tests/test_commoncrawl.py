"""Tests for curation.ingest.commoncrawl against a local fake Common Crawl HTTP server (127.0.0.1 only)."""

from __future__ import annotations

import argparse
import functools
import gzip
import io
import logging
import random
import threading
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from curation.ingest import commoncrawl as cc
from curation.ingest.commoncrawl import (
    CommonCrawlError,
    DownloadError,
    RetryPolicy,
    fetch_crawl,
    fetch_warc_paths,
    select_warc_paths,
    validate_crawl_id,
)

CRAWL = "CC-MAIN-2099-01"
# Listing order deliberately not sorted: selection must follow the listing, not sort it.
SEGMENTS = ["1700000000000.30", "1700000000000.10", "1700000000000.20"]
FAST = RetryPolicy(attempts=4, backoff=0.01, max_backoff=0.05)
CHUNK = 8 * 1024


# --------------------------------------------------------------------------- fake server


class FakeCCHandler(SimpleHTTPRequestHandler):
    """Serves files from a directory; honours ``Range: bytes=N-``; can inject failures.

    ``server.plan[path]`` is a list of actions consumed one per request for that path:
    ``"503"`` / ``"429"`` (error reply), ``"cut"`` (send half the body, then close),
    ``"ignore_range"`` (reply 200 with the whole file even if a Range was asked for).
    """

    def do_GET(self) -> None:
        srv = self.server
        rng = self.headers.get("Range")
        with srv.lock:
            srv.requests.append((self.path, rng, self.headers.get("User-Agent")))
            actions = srv.plan.get(self.path)
            action = actions.pop(0) if actions else None

        if action in ("503", "429"):
            self.send_response(int(action))
            self.send_header("Retry-After", "0")
            self.send_header("Content-Length", "0")
            self.end_headers()
            return

        fs_path = Path(self.translate_path(self.path))
        if not fs_path.is_file():
            self.send_error(404, "Not Found")
            return
        data = fs_path.read_bytes()
        start = 0
        if rng and action != "ignore_range":
            assert rng.startswith("bytes=") and rng.endswith("-"), rng
            start = int(rng[len("bytes="):-1])
            if start >= len(data):
                self.send_response(416)
                self.send_header("Content-Range", f"bytes */{len(data)}")
                self.send_header("Content-Length", "0")
                self.end_headers()
                return
            self.send_response(206)
            self.send_header("Content-Range", f"bytes {start}-{len(data) - 1}/{len(data)}")
        else:
            self.send_response(200)
        body = data[start:]
        self.send_header("Content-Type", "application/octet-stream")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if action == "cut":
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            self.close_connection = True
            return
        self.wfile.write(body)

    def log_message(self, format, *args):  # keep test output quiet
        pass


class FakeCC:
    def __init__(self, root: Path):
        self.root = root
        handler = functools.partial(FakeCCHandler, directory=str(root))
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.httpd.daemon_threads = True
        self.httpd.lock = threading.Lock()
        self.httpd.requests = []
        self.httpd.plan = {}
        self.base_url = f"http://127.0.0.1:{self.httpd.server_address[1]}"
        self.thread = threading.Thread(target=self.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.rel_paths: list[str] = []

    @property
    def requests(self) -> list[tuple[str, str | None, str | None]]:
        with self.httpd.lock:
            return list(self.httpd.requests)

    def reset_requests(self) -> None:
        with self.httpd.lock:
            self.httpd.requests.clear()

    def plan(self, rel: str, *actions: str) -> None:
        with self.httpd.lock:
            self.httpd.plan["/" + rel] = list(actions)

    def requests_for(self, rel: str) -> list[tuple[str, str | None, str | None]]:
        return [r for r in self.requests if r[0] == "/" + rel]

    def source(self, rel: str) -> bytes:
        return (self.root / rel).read_bytes()

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(timeout=5)


def _warc_gz(seed: int) -> bytes:
    """A small valid gzip: a tiny WARC (via warcio) plus incompressible padding."""
    buf = io.BytesIO()
    try:
        from warcio.statusandheaders import StatusAndHeaders
        from warcio.warcwriter import WARCWriter

        writer = WARCWriter(buf, gzip=True)
        payload = f"<html><body>doc {seed}</body></html>".encode()
        http_headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html")], protocol="HTTP/1.1")
        record = writer.create_warc_record(
            f"http://example.com/{seed}", "response", payload=io.BytesIO(payload), http_headers=http_headers
        )
        writer.write_record(record)
    except ImportError:  # pragma: no cover - warcio is a project dependency
        pass
    rnd = random.Random(seed)
    buf.write(gzip.compress(rnd.randbytes(40_000 + 1_000 * seed), mtime=0))  # another gzip member
    return buf.getvalue()


@pytest.fixture
def fake_cc(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")

    root = tmp_path / "server"
    rel_paths = []
    seed = 0
    for seg in SEGMENTS:
        for _j in range(2):
            seed += 1
            rel = f"crawl-data/{CRAWL}/segments/{seg}/warc/CC-MAIN-20990101000000-20990101010000-{seed:05d}.warc.gz"
            dest = root / rel
            dest.parent.mkdir(parents=True, exist_ok=True)
            dest.write_bytes(_warc_gz(seed))
            rel_paths.append(rel)
    listing = "".join(p + "\n" for p in rel_paths).encode()
    (root / "crawl-data" / CRAWL / "warc.paths.gz").write_bytes(gzip.compress(listing))

    server = FakeCC(root)
    server.rel_paths = rel_paths
    try:
        yield server
    finally:
        server.close()


def _fetch(fake_cc, out: Path, segments: int, files_per_segment: int = 1, **kw) -> cc.FetchSummary:
    return fetch_crawl(
        CRAWL, segments, files_per_segment, output=out, base_url=fake_cc.base_url,
        retry=kw.pop("retry", FAST), timeout=5, chunk_size=CHUNK, **kw,
    )


def _name(rel: str) -> str:
    return rel.rsplit("/", 1)[1]


# --------------------------------------------------------------------------- pure functions


@pytest.mark.parametrize("crawl", ["CC-MAIN-2024-22", "CC-MAIN-2013-20", CRAWL])
def test_valid_crawl_ids(crawl):
    assert validate_crawl_id(crawl) == crawl


@pytest.mark.parametrize(
    "crawl", ["", "CC-MAIN-24-22", "cc-main-2024-22", "CC-MAIN-2024-222", "CC-MAIN-2024-22/../x", "CC-NEWS-2024-01"]
)
def test_invalid_crawl_ids(crawl):
    with pytest.raises(CommonCrawlError, match="invalid crawl id"):
        validate_crawl_id(crawl)


def test_select_warc_paths_follows_listing_order():
    paths = [
        "crawl-data/C/segments/B/warc/b1.warc.gz",
        "crawl-data/C/segments/B/warc/b2.warc.gz",
        "crawl-data/C/segments/A/warc/a1.warc.gz",
        "crawl-data/C/segments/B/warc/b3.warc.gz",  # non-contiguous: still segment B
        "crawl-data/C/segments/A/warc/a2.warc.gz",
        "crawl-data/C/segments/C/warc/c1.warc.gz",
    ]
    assert select_warc_paths(paths, 1) == [paths[0]]
    assert select_warc_paths(paths, 2) == [paths[0], paths[2]]
    assert select_warc_paths(paths, 2, 3) == [paths[0], paths[1], paths[3], paths[2], paths[4]]
    assert select_warc_paths(paths, 3, 1) == [paths[0], paths[2], paths[5]]
    with pytest.raises(CommonCrawlError, match="only 3"):
        select_warc_paths(paths, 4)
    with pytest.raises(CommonCrawlError, match="--segments"):
        select_warc_paths(paths, 0)


def test_retry_policy_backoff():
    p = RetryPolicy(attempts=5, backoff=1.0, max_backoff=5.0)
    assert [p.delay(n) for n in (1, 2, 3, 4)] == [1.0, 2.0, 4.0, 5.0]
    assert p.delay(1, retry_after=3.0) == 3.0


def test_redact_url_hides_credentials():
    assert "secret" not in cc._redact_url("https://user:secret@host/x?sig=secret")


# --------------------------------------------------------------------------- against the fake server


def test_listing(fake_cc):
    assert fetch_warc_paths(CRAWL, fake_cc.base_url, retry=FAST, timeout=5) == fake_cc.rel_paths


def test_downloads_selection_and_manifest(fake_cc, tmp_path):
    out = tmp_path / "out"
    s = _fetch(fake_cc, out, segments=2, files_per_segment=1)

    expected = [fake_cc.rel_paths[0], fake_cc.rel_paths[2]]  # first file of the first 2 segments
    crawl_dir = (out / CRAWL).resolve()
    assert (s.downloaded, s.skipped, s.failed) == (2, 0, 0)
    assert s.ok
    assert s.bytes_downloaded == sum(len(fake_cc.source(r)) for r in expected) == s.bytes_total
    assert sorted(p.name for p in crawl_dir.iterdir()) == sorted([_name(r) for r in expected] + ["manifest.txt"])
    for rel in expected:
        assert (crawl_dir / _name(rel)).read_bytes() == fake_cc.source(rel)
    manifest = (crawl_dir / "manifest.txt").read_text().splitlines()
    assert manifest == [str(crawl_dir / _name(r)) for r in expected]
    assert s.manifest == crawl_dir / "manifest.txt"
    # every request identified the project
    assert all(ua and ua.startswith("curate/") for _, _, ua in fake_cc.requests)


def test_files_per_segment(fake_cc, tmp_path):
    s = _fetch(fake_cc, tmp_path / "out", segments=3, files_per_segment=2)
    assert s.downloaded == 6
    assert [p.name for p in s.files] == [_name(r) for r in fake_cc.rel_paths]
    for rel in fake_cc.rel_paths:
        assert (tmp_path / "out" / CRAWL / _name(rel)).read_bytes() == fake_cc.source(rel)


def test_rerun_skips_complete_files(fake_cc, tmp_path):
    out = tmp_path / "out"
    first = _fetch(fake_cc, out, segments=3, files_per_segment=2)
    assert first.downloaded == 6
    fake_cc.reset_requests()

    second = _fetch(fake_cc, out, segments=3, files_per_segment=2)
    assert (second.downloaded, second.skipped, second.failed, second.bytes_downloaded) == (0, 6, 0, 0)
    assert second.bytes_total == first.bytes_total
    assert [r[0] for r in fake_cc.requests] == [f"/crawl-data/{CRAWL}/warc.paths.gz"]  # only the listing
    assert (out / CRAWL / "manifest.txt").read_text().splitlines() == [str(p) for p in first.files]


def test_resume_from_part_uses_range(fake_cc, tmp_path):
    out = tmp_path / "out"
    rel = fake_cc.rel_paths[0]
    src = fake_cc.source(rel)
    half = len(src) // 2
    part = out / CRAWL / (_name(rel) + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(src[:half])

    s = _fetch(fake_cc, out, segments=1)
    assert (s.downloaded, s.failed) == (1, 0)
    assert s.bytes_downloaded == len(src) - half
    assert fake_cc.requests_for(rel) == [("/" + rel, f"bytes={half}-", cc.USER_AGENT)]
    assert (out / CRAWL / _name(rel)).read_bytes() == src
    assert not part.exists()


def test_part_already_complete_gets_416_and_is_finalised(fake_cc, tmp_path):
    out = tmp_path / "out"
    rel = fake_cc.rel_paths[0]
    src = fake_cc.source(rel)
    part = out / CRAWL / (_name(rel) + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(src)

    s = _fetch(fake_cc, out, segments=1)
    assert (s.downloaded, s.failed, s.bytes_downloaded) == (1, 0, 0)
    assert (out / CRAWL / _name(rel)).read_bytes() == src


def test_server_ignoring_range_restarts_from_zero(fake_cc, tmp_path):
    out = tmp_path / "out"
    rel = fake_cc.rel_paths[0]
    src = fake_cc.source(rel)
    part = out / CRAWL / (_name(rel) + ".part")
    part.parent.mkdir(parents=True)
    part.write_bytes(b"stale bytes that must be overwritten")
    fake_cc.plan(rel, "ignore_range")

    s = _fetch(fake_cc, out, segments=1)
    assert (s.downloaded, s.failed) == (1, 0)
    assert s.bytes_downloaded == len(src)
    assert len(fake_cc.requests_for(rel)) == 1
    assert fake_cc.requests_for(rel)[0][1] is not None  # we asked for a Range, got a 200
    assert (out / CRAWL / _name(rel)).read_bytes() == src


def test_transient_errors_are_retried(fake_cc, tmp_path):
    out = tmp_path / "out"
    rel0, rel1 = fake_cc.rel_paths[0], fake_cc.rel_paths[2]
    fake_cc.plan(rel0, "503", "429")
    fake_cc.plan(f"crawl-data/{CRAWL}/warc.paths.gz", "503")

    s = _fetch(fake_cc, out, segments=2)
    assert (s.downloaded, s.failed) == (2, 0)
    assert len(fake_cc.requests_for(rel0)) == 3
    assert len(fake_cc.requests_for(rel1)) == 1
    assert (out / CRAWL / _name(rel0)).read_bytes() == fake_cc.source(rel0)


def test_cut_connection_is_resumed_with_range(fake_cc, tmp_path):
    out = tmp_path / "out"
    rel = fake_cc.rel_paths[0]
    src = fake_cc.source(rel)
    fake_cc.plan(rel, "cut")

    s = _fetch(fake_cc, out, segments=1)
    assert (s.downloaded, s.failed) == (1, 0)
    reqs = fake_cc.requests_for(rel)
    assert [r[1] for r in reqs] == [None, f"bytes={len(src) // 2}-"]
    assert s.bytes_downloaded == len(src)
    assert (out / CRAWL / _name(rel)).read_bytes() == src


def test_retries_exhausted_keeps_part_and_fails(fake_cc, tmp_path, caplog):
    out = tmp_path / "out"
    rel = fake_cc.rel_paths[0]
    fake_cc.plan(rel, "cut", "503", "503", "503")  # 4 attempts, all fail

    with caplog.at_level(logging.WARNING, logger="curation.ingest.commoncrawl"):
        s = _fetch(fake_cc, out, segments=2)
    assert (s.downloaded, s.failed) == (1, 1)
    assert len(fake_cc.requests_for(rel)) == FAST.attempts
    assert not (out / CRAWL / _name(rel)).exists()
    part = out / CRAWL / (_name(rel) + ".part")
    assert part.exists() and 0 < part.stat().st_size < len(fake_cc.source(rel))  # kept for resuming
    assert "giving up" in s.failures[0][1]
    assert (out / CRAWL / "manifest.txt").read_text().splitlines() == [str(p) for p in s.files]
    assert _name(rel) not in (out / CRAWL / "manifest.txt").read_text()

    # the next run resumes the kept .part and succeeds
    fake_cc.reset_requests()
    s2 = _fetch(fake_cc, out, segments=2)
    assert (s2.downloaded, s2.skipped, s2.failed) == (1, 1, 0)
    assert fake_cc.requests_for(rel)[0][1] == f"bytes={len(fake_cc.source(rel)) // 2}-"
    assert (out / CRAWL / _name(rel)).read_bytes() == fake_cc.source(rel)


def test_corrupt_gzip_is_failed_and_removed(fake_cc, tmp_path, capsys):
    out = tmp_path / "out"
    bad = fake_cc.rel_paths[2]  # first file of segment 2
    good = fake_cc.source(bad)
    (fake_cc.root / bad).write_bytes(good[: len(good) - 100])  # truncated gzip, served with a matching length

    s = _fetch(fake_cc, out, segments=2)
    assert (s.downloaded, s.failed) == (1, 1)
    assert "not a readable gzip" in s.failures[0][1]
    assert not (out / CRAWL / _name(bad)).exists()
    assert not (out / CRAWL / (_name(bad) + ".part")).exists()
    assert (out / CRAWL / "manifest.txt").read_text().splitlines() == [str((out / CRAWL / _name(fake_cc.rel_paths[0])).resolve())]

    # through the CLI entry point: non-zero exit status
    args = _parse(["--crawl", CRAWL, "--segments", "2", "--output", str(out), "--base-url", fake_cc.base_url,
                   "--retries", "2", "--retry-backoff", "0.01"])
    assert cc.run(args) == 1
    err = capsys.readouterr().err
    assert "failed" in err and _name(bad) in err


def test_verify_gzip(tmp_path):
    ok = tmp_path / "ok.gz"
    ok.write_bytes(gzip.compress(b"x" * 1000))
    cc.verify_gzip(ok)
    bad = tmp_path / "bad.gz"
    bad.write_bytes(b"not gzip at all")
    with pytest.raises(DownloadError):
        cc.verify_gzip(bad)


def test_unknown_crawl_gives_clear_error(fake_cc, tmp_path):
    with pytest.raises(CommonCrawlError) as info:
        fetch_crawl("CC-MAIN-2098-01", 1, output=tmp_path / "out", base_url=fake_cc.base_url, retry=FAST, timeout=5)
    msg = str(info.value)
    assert "CC-MAIN-2098-01" in msg and "404" in msg
    assert f"{fake_cc.base_url}/crawl-data/CC-MAIN-2098-01/warc.paths.gz" in msg
    assert len(fake_cc.requests) == 1  # a 404 is not retried


def test_too_few_segments(fake_cc, tmp_path):
    with pytest.raises(CommonCrawlError, match=r"asked for 5 segment\(s\) but the listing has only 3"):
        _fetch(fake_cc, tmp_path / "out", segments=5)
    assert not (tmp_path / "out" / CRAWL / "manifest.txt").exists()


def test_invalid_crawl_id_rejected_before_any_request(fake_cc, tmp_path):
    with pytest.raises(CommonCrawlError, match="invalid crawl id"):
        fetch_crawl("CC-MAIN-2024", 1, output=tmp_path / "out", base_url=fake_cc.base_url)
    assert fake_cc.requests == []


# --------------------------------------------------------------------------- CLI glue


def _parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="curate fetch-cc")
    cc.add_arguments(parser)
    return parser.parse_args(argv)


def test_cli_defaults():
    args = _parse(["--crawl", "CC-MAIN-2024-22", "--segments", "3"])
    assert (args.crawl, args.segments, args.files_per_segment) == ("CC-MAIN-2024-22", 3, 1)
    assert args.base_url == cc.DEFAULT_BASE_URL
    assert args.output == cc.DEFAULT_OUTPUT


@pytest.mark.parametrize("argv", [["--crawl", "CC-MAIN-24-22", "--segments", "1"],
                                  ["--crawl", CRAWL, "--segments", "0"],
                                  ["--crawl", CRAWL]])
def test_cli_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as info:
        _parse(argv)
    assert info.value.code == 2


def test_cli_run_success_and_unknown_crawl(fake_cc, tmp_path, capsys):
    out = tmp_path / "out"
    args = _parse(["--crawl", CRAWL, "--segments", "3", "--files-per-segment", "2", "--output", str(out),
                   "--base-url", fake_cc.base_url + "/", "--retry-backoff", "0.01", "--timeout", "5"])
    assert cc.run(args) == 0
    assert "6 downloaded" in capsys.readouterr().out
    assert len((out / CRAWL / "manifest.txt").read_text().splitlines()) == 6

    args = _parse(["--crawl", "CC-MAIN-2098-01", "--segments", "1", "--output", str(out),
                   "--base-url", fake_cc.base_url])
    assert cc.run(args) == 2
    err = capsys.readouterr().err
    assert "not found" in err and "CC-MAIN-2098-01/warc.paths.gz" in err


def test_connection_refused_is_retried_then_reported(tmp_path):
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    # nothing listens on `port` now
    with pytest.raises(CommonCrawlError, match="giving up after 2 attempt"):
        fetch_crawl(CRAWL, 1, output=tmp_path / "out", base_url=f"http://127.0.0.1:{port}",
                    retry=RetryPolicy(attempts=2, backoff=0.01), timeout=2)

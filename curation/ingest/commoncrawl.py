"""Download WARC files from a Common Crawl crawl (``curate fetch-cc``).

Layout used (the real Common Crawl one)::

    {base_url}/crawl-data/{crawl}/warc.paths.gz     gzip text, one relative path per line:
    crawl-data/CC-MAIN-2024-22/segments/1715971057216.39/warc/CC-MAIN-...-00000.warc.gz

``--segments N`` takes the first N distinct segments (the path component after
``segments/``) in listing order and ``--files-per-segment K`` the first K WARC
files of each. Files land in ``{output}/{crawl}/<file name>`` and
``{output}/{crawl}/manifest.txt`` lists their local paths, one per line (the
input format of ``curate extract``).

Downloads use only the standard library (``urllib``): each file is streamed to
``<name>.part``; an interrupted ``.part`` is resumed with an HTTP ``Range``
request (a server that ignores ``Range`` and answers 200 makes us start over);
transient failures (connection errors, timeouts, HTTP 5xx and 429) are retried
with exponential backoff; the size is checked against ``Content-Length`` /
``Content-Range``; the file is read through ``gzip`` to the end and only then
renamed into place atomically. A file that already exists under its final name
was verified when it was written, so reruns skip it without any request.

Progress is reported through :mod:`logging` (logger ``curation.ingest.commoncrawl``);
this module never configures logging.

Public API::

    validate_crawl_id(crawl) -> str
    listing_url(crawl, base_url=DEFAULT_BASE_URL) -> str
    fetch_warc_paths(crawl, base_url=..., *, retry=..., timeout=...) -> list[str]
    segment_of(path) -> str
    select_warc_paths(paths, segments, files_per_segment=1) -> list[str]
    download_file(url, dest, *, retry=..., timeout=..., chunk_size=..., label=...) -> DownloadResult
    verify_gzip(path) -> None
    write_manifest(path, files) -> Path
    fetch_crawl(crawl, segments, files_per_segment=1, output=..., base_url=..., *,
                retry=..., timeout=..., chunk_size=...) -> FetchSummary
    add_arguments(parser) -> None
    run(args) -> int
"""

from __future__ import annotations

import argparse
import gzip
import http.client
import logging
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
import zlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import TypeVar

from curation import fsutil
from curation.errors import CurateError, report

__all__ = [
    "CRAWL_ID_RE",
    "DEFAULT_BASE_URL",
    "DEFAULT_OUTPUT",
    "USER_AGENT",
    "CommonCrawlError",
    "DownloadError",
    "RetryPolicy",
    "DownloadResult",
    "FetchSummary",
    "validate_crawl_id",
    "listing_url",
    "fetch_warc_paths",
    "segment_of",
    "select_warc_paths",
    "download_file",
    "verify_gzip",
    "write_manifest",
    "fetch_crawl",
    "add_arguments",
    "run",
]

logger = logging.getLogger(__name__)

DEFAULT_BASE_URL = "https://data.commoncrawl.org"
DEFAULT_OUTPUT = "out/commoncrawl"
CRAWL_ID_RE = re.compile(r"CC-MAIN-\d{4}-\d{2}")
USER_AGENT = "curate/0.1 (Curate data-curation project; Common Crawl downloader; python-urllib)"
DEFAULT_CHUNK_SIZE = 1 << 20  # 1 MiB
DEFAULT_TIMEOUT = 60.0
PROGRESS_INTERVAL_S = 10.0
_MB = 1_000_000
_RETRYABLE_STATUS = frozenset({429, 500, 502, 503, 504}) | frozenset(range(505, 600))

T = TypeVar("T")


# --------------------------------------------------------------------------- errors / data


class CommonCrawlError(CurateError):
    """A problem the user has to fix (bad crawl id, unknown crawl, too few segments...)."""


class DownloadError(Exception):
    """Downloading or verifying one file failed for good (after any retries)."""


class _TransientError(Exception):
    """A failure worth retrying (internal)."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff: attempt ``n`` failing waits ``backoff * 2**(n-1)`` (capped)."""

    attempts: int = 6
    backoff: float = 1.0
    max_backoff: float = 60.0

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("RetryPolicy.attempts must be >= 1")
        if self.backoff < 0 or self.max_backoff < 0:
            raise ValueError("RetryPolicy delays must be >= 0")

    def delay(self, failed_attempt: int, retry_after: float | None = None) -> float:
        d = self.backoff * (2 ** (failed_attempt - 1))
        if retry_after is not None:
            d = max(d, retry_after)
        return min(d, self.max_backoff)


@dataclass(frozen=True)
class DownloadResult:
    path: Path
    status: str  # "downloaded" | "skipped"
    bytes_downloaded: int  # transferred over the network in this call
    size: int  # size of the final file


@dataclass
class FetchSummary:
    crawl: str
    output_dir: Path
    manifest: Path
    downloaded: int = 0
    skipped: int = 0
    failed: int = 0
    bytes_downloaded: int = 0  # transferred during this run
    bytes_total: int = 0  # size of all files listed in the manifest
    files: list[Path] = field(default_factory=list)  # manifest entries, selection order
    failures: list[tuple[str, str]] = field(default_factory=list)  # (url, reason)

    @property
    def ok(self) -> bool:
        return self.failed == 0

    def describe(self) -> str:
        return (
            f"{self.crawl}: {self.downloaded} downloaded, {self.skipped} skipped, "
            f"{self.failed} failed; {self.bytes_downloaded / _MB:.1f} MB transferred; "
            f"manifest {self.manifest} ({len(self.files)} files, {self.bytes_total / _MB:.1f} MB)"
        )


# --------------------------------------------------------------------------- helpers


def _redact_url(url: str) -> str:
    """Drop any user:password@ and query string before a URL is logged or shown."""
    try:
        parts = urllib.parse.urlsplit(url)
    except ValueError:
        return "<unparseable url>"
    netloc = parts.netloc.rsplit("@", 1)[-1]
    query = "<redacted>" if parts.query else ""
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, query, ""))


def _request(url: str, *, offset: int = 0) -> urllib.request.Request:
    headers = {"User-Agent": USER_AGENT, "Accept-Encoding": "identity"}
    if offset:
        headers["Range"] = f"bytes={offset}-"
    return urllib.request.Request(url, headers=headers, method="GET")


def _retry_after(err: urllib.error.HTTPError) -> float | None:
    value = err.headers.get("Retry-After") if err.headers else None
    if value is None:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        return None  # HTTP-date form: fall back to our own backoff


def _http_error(err: urllib.error.HTTPError, url: str) -> Exception:
    """Map an HTTPError to a transient (retry) or permanent error and close it."""
    code, reason = err.code, err.reason
    retry_after = _retry_after(err)
    err.close()
    msg = f"HTTP {code} {reason} for {_redact_url(url)}"
    if code in _RETRYABLE_STATUS:
        return _TransientError(msg, retry_after)
    return DownloadError(msg)


def _with_retries(op: Callable[[int], T], retry: RetryPolicy, what: str) -> T:
    """Run ``op(attempt)``; retry on transient errors (network, 5xx, 429) with backoff."""
    attempt = 0
    while True:
        attempt += 1
        try:
            return op(attempt)
        except urllib.error.HTTPError:
            raise  # op is expected to translate these; never treat one as a plain OSError
        except (_TransientError, OSError, http.client.HTTPException) as exc:
            retry_after = exc.retry_after if isinstance(exc, _TransientError) else None
            reason = _describe_exc(exc)
            if attempt >= retry.attempts:
                raise DownloadError(f"{what}: giving up after {attempt} attempt(s): {reason}") from exc
            delay = retry.delay(attempt, retry_after)
            logger.warning(
                "%s: attempt %d/%d failed (%s); retrying in %.2fs",
                what, attempt, retry.attempts, reason, delay,
            )
            time.sleep(delay)


def _describe_exc(exc: BaseException) -> str:
    if isinstance(exc, urllib.error.URLError) and not isinstance(exc, urllib.error.HTTPError):
        return f"connection error: {exc.reason}"
    text = str(exc) or exc.__class__.__name__
    return text if isinstance(exc, _TransientError) else f"{exc.__class__.__name__}: {text}"


def _parse_content_range(value: str | None) -> tuple[int | None, int | None, int | None]:
    """``bytes S-E/T`` -> (S, E, T); ``bytes */T`` -> (None, None, T); unknown parts are None."""
    if not value:
        return None, None, None
    m = re.fullmatch(r"\s*bytes\s+(?:(\d+)-(\d+)|\*)/(\d+|\*)\s*", value)
    if not m:
        return None, None, None
    start = int(m.group(1)) if m.group(1) is not None else None
    end = int(m.group(2)) if m.group(2) is not None else None
    total = int(m.group(3)) if m.group(3) != "*" else None
    return start, end, total


def _int_header(value: str | None) -> int | None:
    try:
        return int(value) if value is not None else None
    except ValueError:
        return None


# --------------------------------------------------------------------------- listing


def validate_crawl_id(crawl: str) -> str:
    """Return ``crawl`` if it looks like ``CC-MAIN-YYYY-WW``; raise CommonCrawlError otherwise."""
    if not isinstance(crawl, str) or not CRAWL_ID_RE.fullmatch(crawl):
        raise CommonCrawlError(
            f"invalid crawl id {crawl!r}: expected CC-MAIN-YYYY-WW, e.g. CC-MAIN-2024-22 "
            "(see https://index.commoncrawl.org/collinfo.json for the list of crawls)"
        )
    return crawl


def _normalise_base_url(base_url: str) -> str:
    parts = urllib.parse.urlsplit(base_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise CommonCrawlError(f"invalid base URL {_redact_url(base_url)!r}: expected http(s)://host[/path]")
    return base_url.rstrip("/")


def listing_url(crawl: str, base_url: str = DEFAULT_BASE_URL) -> str:
    """URL of the crawl's ``warc.paths.gz``."""
    validate_crawl_id(crawl)
    return f"{_normalise_base_url(base_url)}/crawl-data/{crawl}/warc.paths.gz"


def fetch_warc_paths(
    crawl: str,
    base_url: str = DEFAULT_BASE_URL,
    *,
    retry: RetryPolicy = RetryPolicy(),
    timeout: float = DEFAULT_TIMEOUT,
) -> list[str]:
    """Download and parse ``warc.paths.gz``: the relative WARC paths, in listing order."""
    url = listing_url(crawl, base_url)
    shown = _redact_url(url)

    def op(attempt: int) -> bytes:
        try:
            with urllib.request.urlopen(_request(url), timeout=timeout) as resp:
                expected = _int_header(resp.headers.get("Content-Length"))
                body = resp.read()
        except urllib.error.HTTPError as err:
            if err.code in (403, 404, 410):
                code, reason = err.code, err.reason
                err.close()
                raise CommonCrawlError(
                    f"crawl {crawl} not found: {shown} returned HTTP {code} {reason} "
                    "(check the crawl id against https://index.commoncrawl.org/collinfo.json)"
                ) from None
            mapped = _http_error(err, url)
            if isinstance(mapped, DownloadError):
                raise CommonCrawlError(f"cannot fetch the WARC listing: {mapped}") from None
            raise mapped from None
        if expected is not None and len(body) != expected:
            raise _TransientError(f"listing truncated: got {len(body)} of {expected} bytes")
        return body

    try:
        body = _with_retries(op, retry, f"listing {shown}")
    except DownloadError as exc:
        raise CommonCrawlError(f"cannot fetch the WARC listing: {exc}") from exc

    if body[:2] == b"\x1f\x8b":
        try:
            body = gzip.decompress(body)
        except (OSError, EOFError, zlib.error) as exc:
            raise CommonCrawlError(f"WARC listing {shown} is not a valid gzip file: {exc}") from exc
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise CommonCrawlError(f"WARC listing {shown} is not UTF-8 text: {exc}") from exc
    paths = [line.strip() for line in text.splitlines() if line.strip()]
    logger.info("listing %s: %d WARC paths", shown, len(paths))
    return paths


def segment_of(path: str) -> str:
    """The segment id of a listing path (component after ``segments/``)."""
    parts = PurePosixPath(path).parts
    for i, part in enumerate(parts[:-1]):
        if part == "segments":
            return parts[i + 1]
    raise ValueError(f"no 'segments/<id>' component in {path!r}")


def select_warc_paths(paths: Iterable[str], segments: int, files_per_segment: int = 1) -> list[str]:
    """First ``segments`` distinct segments (listing order), first ``files_per_segment`` files of each."""
    if segments < 1:
        raise CommonCrawlError(f"--segments must be >= 1 (got {segments})")
    if files_per_segment < 1:
        raise CommonCrawlError(f"--files-per-segment must be >= 1 (got {files_per_segment})")
    by_segment: dict[str, list[str]] = {}  # insertion order == listing order
    malformed = 0
    for path in paths:
        try:
            seg = segment_of(path)
        except ValueError:
            malformed += 1
            continue
        by_segment.setdefault(seg, []).append(path)
    if malformed:
        logger.warning("ignored %d listing line(s) without a segments/<id> component", malformed)
    if len(by_segment) < segments:
        raise CommonCrawlError(
            f"asked for {segments} segment(s) but the listing has only {len(by_segment)}"
        )
    selected: list[str] = []
    for seg, seg_paths in list(by_segment.items())[:segments]:
        if len(seg_paths) < files_per_segment:
            logger.warning(
                "segment %s has only %d WARC file(s); asked for %d", seg, len(seg_paths), files_per_segment
            )
        selected.extend(seg_paths[:files_per_segment])
    names = [PurePosixPath(p).name for p in selected]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise CommonCrawlError(f"selected WARC files share file names: {', '.join(dupes)}")
    return selected


# --------------------------------------------------------------------------- download


def verify_gzip(path: str | os.PathLike[str]) -> None:
    """Read ``path`` through gzip to the end; raise DownloadError if it is not a valid gzip."""
    try:
        with gzip.open(path, "rb") as fh:
            while fh.read(DEFAULT_CHUNK_SIZE):
                pass
    except (OSError, EOFError, zlib.error) as exc:
        raise DownloadError(f"{Path(path).name} is not a readable gzip file: {exc}") from exc


class _Progress:
    def __init__(self, label: str, name: str, offset: int, total: int | None):
        self.label, self.name, self.offset, self.total = label, name, offset, total
        self.received = 0
        self.start = self.last = time.monotonic()

    def update(self, n: int) -> None:
        self.received += n
        now = time.monotonic()
        if now - self.last >= PROGRESS_INTERVAL_S:
            self.last = now
            done = self.offset + self.received
            of = f"/{self.total / _MB:.1f} MB ({100 * done / self.total:.0f}%)" if self.total else " MB"
            logger.info("%s%s: %.1f%s at %.2f MB/s", self.label, self.name, done / _MB, of, self.rate())

    def rate(self) -> float:
        elapsed = max(time.monotonic() - self.start, 1e-9)
        return self.received / _MB / elapsed


def _download_once(
    url: str, part: Path, *, timeout: float, chunk_size: int, label: str, on_bytes: Callable[[int], None]
) -> int:
    """One attempt: (re)fill ``part``; return its final size. ``on_bytes(n)`` counts bytes received."""
    offset = part.stat().st_size if part.exists() else 0
    shown = _redact_url(url)
    try:
        resp = urllib.request.urlopen(_request(url, offset=offset), timeout=timeout)
    except urllib.error.HTTPError as err:
        if err.code == 416 and offset:
            _, _, total = _parse_content_range(err.headers.get("Content-Range") if err.headers else None)
            err.close()
            if total == offset:
                return offset  # the .part already holds the whole file
            part.unlink(missing_ok=True)
            raise _TransientError(f"range {offset}- not satisfiable (size {total}); restarting") from None
        raise _http_error(err, url) from None

    with resp:
        status = resp.status
        body_len = _int_header(resp.headers.get("Content-Length"))
        if status == 206:
            start, _, total = _parse_content_range(resp.headers.get("Content-Range"))
            if start != offset:
                part.unlink(missing_ok=True)
                raise _TransientError(f"server resumed at byte {start}, asked for {offset}; restarting")
            if total is None and body_len is not None:
                total = offset + body_len
            mode = "ab"
        elif status == 200:
            if offset:
                logger.info("%s%s: server ignored the Range request; restarting from byte 0", label, part.name)
            offset, total, mode = 0, body_len, "wb"
        else:
            raise DownloadError(f"unexpected HTTP {status} for {shown}")
        if offset:
            logger.info("%s%s: resuming at byte %d", label, part.name[: -len(".part")], offset)

        progress = _Progress(label, part.name[: -len(".part")], offset, total)
        try:
            fh = open(part, mode)
        except OSError as exc:
            raise DownloadError(f"cannot write {part}: {exc}") from exc
        with fh:
            while True:
                chunk = resp.read(chunk_size)  # network errors propagate as OSError/HTTPException
                if not chunk:
                    break
                try:
                    fh.write(chunk)
                except OSError as exc:
                    raise DownloadError(f"cannot write {part}: {exc}") from exc
                progress.update(len(chunk))
                on_bytes(len(chunk))

    size = offset + progress.received
    if total is None:
        logger.warning("%s%s: server sent no length; cannot verify size", label, part.name)
    elif size != total:
        if size > total:
            part.unlink(missing_ok=True)
            raise _TransientError(f"received {size} bytes, more than the expected {total}; restarting")
        raise _TransientError(f"connection ended after {size} of {total} bytes")
    return size


def download_file(
    url: str,
    dest: str | os.PathLike[str],
    *,
    retry: RetryPolicy = RetryPolicy(),
    timeout: float = DEFAULT_TIMEOUT,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    verify: Callable[[Path], None] | None = verify_gzip,
    label: str = "",
) -> DownloadResult:
    """Download ``url`` to ``dest`` (resumable, retried, verified, atomically renamed).

    Skips the download when ``dest`` exists. Raises DownloadError on permanent
    failure; an interrupted ``<dest>.part`` is kept so a later call can resume,
    but one that fails verification is deleted.
    """
    dest = Path(dest)
    if dest.exists():
        size = dest.stat().st_size
        logger.info("%s%s: already complete (%.1f MB); skipping", label, dest.name, size / _MB)
        return DownloadResult(dest, "skipped", 0, size)

    dest.parent.mkdir(parents=True, exist_ok=True)
    part = dest.with_name(dest.name + ".part")
    received = 0
    started = time.monotonic()

    def count(n: int) -> None:
        nonlocal received
        received += n

    def op(attempt: int) -> int:
        return _download_once(url, part, timeout=timeout, chunk_size=chunk_size, label=label, on_bytes=count)

    size = _with_retries(op, retry, f"{label}{dest.name}")

    if verify is not None:
        try:
            verify(part)
        except DownloadError:
            part.unlink(missing_ok=True)
            raise
    os.replace(part, dest)
    elapsed = max(time.monotonic() - started, 1e-9)
    logger.info(
        "%s%s: downloaded %.1f MB (%d bytes transferred) in %.1fs, %.2f MB/s",
        label, dest.name, size / _MB, received, elapsed, received / _MB / elapsed,
    )
    return DownloadResult(dest, "downloaded", received, size)


def write_manifest(path: str | os.PathLike[str], files: Iterable[str | os.PathLike[str]]) -> Path:
    """Write one local path per line (atomically)."""
    path = Path(path)
    fsutil.write_atomic(str(path), "".join(f"{os.fspath(f)}\n" for f in files).encode("utf-8"))
    return path


# --------------------------------------------------------------------------- orchestration


def fetch_crawl(
    crawl: str,
    segments: int,
    files_per_segment: int = 1,
    output: str | os.PathLike[str] = DEFAULT_OUTPUT,
    base_url: str = DEFAULT_BASE_URL,
    *,
    retry: RetryPolicy = RetryPolicy(),
    timeout: float = DEFAULT_TIMEOUT,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> FetchSummary:
    """Download the selected WARC files of ``crawl`` and write ``manifest.txt``.

    Raises CommonCrawlError for problems with the request itself (bad id, unknown
    crawl, too few segments); per-file failures are counted in the summary.
    """
    validate_crawl_id(crawl)
    base_url = _normalise_base_url(base_url)
    if segments < 1 or files_per_segment < 1:
        select_warc_paths([], segments, files_per_segment)  # raises the argument error

    paths = fetch_warc_paths(crawl, base_url, retry=retry, timeout=timeout)
    selected = select_warc_paths(paths, segments, files_per_segment)

    out_dir = Path(output).resolve() / crawl
    out_dir.mkdir(parents=True, exist_ok=True)
    summary = FetchSummary(crawl=crawl, output_dir=out_dir, manifest=out_dir / "manifest.txt")
    n = len(selected)
    logger.info("%s: %d WARC file(s) from %d segment(s) -> %s", crawl, n, segments, out_dir)

    for i, rel in enumerate(selected, 1):
        url = f"{base_url}/{rel.lstrip('/')}"
        dest = out_dir / PurePosixPath(rel).name
        label = f"[file {i}/{n}] "
        try:
            res = download_file(url, dest, retry=retry, timeout=timeout, chunk_size=chunk_size, label=label)
        except DownloadError as exc:
            summary.failed += 1
            summary.failures.append((_redact_url(url), str(exc)))
            logger.error("%s%s: FAILED: %s", label, dest.name, exc)
            continue
        if res.status == "skipped":
            summary.skipped += 1
        else:
            summary.downloaded += 1
        summary.bytes_downloaded += res.bytes_downloaded
        summary.bytes_total += res.size
        summary.files.append(res.path)

    write_manifest(summary.manifest, summary.files)
    log = logger.warning if summary.failed else logger.info
    log("%s", summary.describe())
    return summary


# --------------------------------------------------------------------------- CLI glue


def _crawl_arg(value: str) -> str:
    try:
        return validate_crawl_id(value)
    except CommonCrawlError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _positive_int(value: str) -> int:
    try:
        n = int(value)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {value!r}")
    return n


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """Add the ``fetch-cc`` options to ``parser``."""
    parser.add_argument("--crawl", required=True, type=_crawl_arg, metavar="CC-MAIN-YYYY-WW",
                        help="crawl id, e.g. CC-MAIN-2024-22")
    parser.add_argument("--segments", required=True, type=_positive_int, metavar="N",
                        help="number of segments to take (the first N in listing order)")
    parser.add_argument("--files-per-segment", type=_positive_int, default=1, metavar="K",
                        help="WARC files to take from each segment (default: 1)")
    parser.add_argument("--output", default=DEFAULT_OUTPUT, metavar="DIR",
                        help=f"output directory; files go to DIR/<crawl>/ (default: {DEFAULT_OUTPUT})")
    parser.add_argument("--base-url", default=DEFAULT_BASE_URL, metavar="URL",
                        help=f"Common Crawl HTTP endpoint (default: {DEFAULT_BASE_URL})")
    parser.add_argument("--retries", type=_positive_int, default=RetryPolicy.attempts, metavar="N",
                        help=f"attempts per request (default: {RetryPolicy.attempts})")
    parser.add_argument("--retry-backoff", type=float, default=RetryPolicy.backoff, metavar="SECONDS",
                        help=f"first retry delay, doubled each attempt (default: {RetryPolicy.backoff})")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, metavar="SECONDS",
                        help=f"socket timeout (default: {DEFAULT_TIMEOUT:g})")


def run(args: argparse.Namespace) -> int:
    """Execute ``fetch-cc``: 0 on success, 1 if any file failed, 2 on a usage/crawl error."""
    try:
        retry = RetryPolicy(
            attempts=getattr(args, "retries", RetryPolicy.attempts),
            backoff=getattr(args, "retry_backoff", RetryPolicy.backoff),
        )
        summary = fetch_crawl(
            args.crawl,
            args.segments,
            getattr(args, "files_per_segment", 1),
            output=getattr(args, "output", DEFAULT_OUTPUT),
            base_url=getattr(args, "base_url", DEFAULT_BASE_URL),
            retry=retry,
            timeout=getattr(args, "timeout", DEFAULT_TIMEOUT),
        )
    except (CommonCrawlError, ValueError) as exc:
        return report("fetch-cc", exc)
    print(summary.describe())
    for url, reason in summary.failures:
        print(f"fetch-cc: failed: {url}: {reason}", file=sys.stderr)
    return 0 if summary.ok else 1

"""LLM annotation client behind ``curate label``.

Sends documents to any OpenAI-compatible chat-completions endpoint
(``POST {base_url}/chat/completions``) with a versioned rubric and records
``id, educational_value, reasoning_density, topic, rubric_version, model, error``.

* HTTP: one pooled ``httpx.Client`` shared by a thread pool (``workers`` concurrent requests).
* Retries: ``tenacity``, exponential backoff on connection errors, timeouts, 429 and 5xx;
  ``Retry-After`` (seconds or HTTP date) is honoured up to ``max_backoff``.
* Rate limit: a shared requests-per-second limiter (0 = unlimited).
* Cache: sqlite3 file keyed by ``sha256(rubric version + model + sent text)``;
  every model answer (valid or malformed) is stored as soon as it arrives, so a
  rerun makes zero requests and an interrupted run resumes with only the
  uncached documents. Failed requests are *not* cached (they are retried on a rerun).
* Errors never raise: a failed request gives ``error="request failed: ..."``, an
  unusable answer ``error="malformed reply: ..."``.
* The API key only goes into the ``Authorization`` header; it is never logged,
  cached or written (error texts are additionally scrubbed of it).
* Logging uses the module logger only; no logging configuration here.
"""

from __future__ import annotations

import argparse
import email.utils
import hashlib
import json
import logging
import os
import re
import sqlite3
import threading
import time
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import tenacity

from curation.errors import report

log = logging.getLogger(__name__)

RUBRIC_VERSION = "phi4-edu-reasoning-v1"
TOPICS = ["stem", "arts", "history", "travel", "culture", "entertainment", "sports", "business", "health", "other"]
SCORE_MIN, SCORE_MAX = 0, 5
OUTPUT_COLUMNS = ["id", "educational_value", "reasoning_density", "topic", "rubric_version", "model", "error"]

ENV_BASE_URL = "CURATE_LLM_BASE_URL"
ENV_MODEL = "CURATE_LLM_MODEL"
ENV_API_KEY = "CURATE_LLM_API_KEY"

SYSTEM_PROMPT = f"""You are an expert annotator of web documents for training language models.
Rubric version: {RUBRIC_VERSION}.

Rate the document on two integer scales from 0 to 5 and pick one topic.

educational_value (0-5): how useful the document would be for teaching at primary-school to college level.
  0 = no educational content (spam, ads, navigation, boilerplate, explicit or harmful material)
  1 = some basic information mixed with a lot of irrelevant or promotional content
  2 = touches educational topics but superficially, disorganised or incomplete
  3 = coherent and appropriate for education, introduces key concepts, but has gaps
  4 = clear, well organised, highly relevant for learning, with examples or exercises
  5 = outstanding: in-depth, well structured, could be used directly as a textbook section

reasoning_density (0-5): how much explicit step-by-step reasoning the document contains.
  0 = none (lists, stories, announcements, opinion without argument)
  1 = isolated causal statements
  2 = simple explanations with one or two reasoning steps
  3 = several connected arguments, explanations or derivations
  4 = sustained multi-step reasoning (proofs, worked solutions, careful analysis)
  5 = dense, rigorous reasoning throughout

topic: exactly one of {json.dumps(TOPICS)}.

Answer with a single JSON object and nothing else, in exactly this form:
{{"educational_value": <0-5>, "reasoning_density": <0-5>, "topic": "<topic>"}}"""

USER_TEMPLATE = "Document:\n<<<\n{text}\n>>>\n\nReturn only the JSON object."

DEFAULT_MAX_CHARS = 6000
DEFAULT_WORKERS = 8
DEFAULT_RPS = 0.0
DEFAULT_MAX_RETRIES = 5
DEFAULT_BACKOFF = 1.0
DEFAULT_MAX_BACKOFF = 60.0
DEFAULT_TIMEOUT = 120.0


# --------------------------------------------------------------------------- prompt / parsing


def build_messages(text: str) -> list[dict[str, str]]:
    return [
        {"role": "system", "content": SYSTEM_PROMPT},
        {"role": "user", "content": USER_TEMPLATE.format(text=text)},
    ]


class MalformedReply(ValueError):
    """The model answered, but not with a usable rubric JSON object."""


_FENCE_RE = re.compile(r"```(?:json|JSON)?\s*(.*?)```", re.DOTALL)
_REQUIRED = ("educational_value", "reasoning_density", "topic")


def _candidate_objects(content: str) -> Iterable[Any]:
    stripped = content.strip()
    try:
        yield json.loads(stripped)
    except ValueError:
        pass
    for m in _FENCE_RE.finditer(content):
        try:
            yield json.loads(m.group(1).strip())
        except ValueError:
            pass
    decoder = json.JSONDecoder()
    for m in re.finditer(r"\{", content):
        try:
            obj, _ = decoder.raw_decode(content, m.start())
        except ValueError:
            continue
        yield obj


def _score(obj: dict, name: str) -> int:
    value = obj[name]
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise MalformedReply(f"malformed reply: {name} is not a number: {value!r}")
    if isinstance(value, float):
        if not value.is_integer():
            raise MalformedReply(f"malformed reply: {name} is not an integer: {value!r}")
        value = int(value)
    if not SCORE_MIN <= value <= SCORE_MAX:
        raise MalformedReply(f"malformed reply: {name} out of range {SCORE_MIN}-{SCORE_MAX}: {value!r}")
    return value


def parse_reply(content: Any) -> dict[str, Any]:
    """Extract ``{educational_value, reasoning_density, topic}`` from a model answer.

    Accepts bare JSON, JSON inside ```json fences and JSON surrounded by prose.
    Raises :class:`MalformedReply` (message starts with ``"malformed reply: "``).
    """
    if not isinstance(content, str) or not content.strip():
        raise MalformedReply("malformed reply: empty content")
    obj = None
    for cand in _candidate_objects(content):
        if isinstance(cand, dict) and all(k in cand for k in _REQUIRED):
            obj = cand
            break
    if obj is None:
        snippet = content.strip().replace("\n", " ")[:80]
        raise MalformedReply(f"malformed reply: no JSON object with {', '.join(_REQUIRED)}: {snippet!r}")
    topic = obj["topic"]
    if not isinstance(topic, str):
        raise MalformedReply(f"malformed reply: topic is not a string: {topic!r}")
    topic = topic.strip().lower()
    if topic not in TOPICS:
        raise MalformedReply(f"malformed reply: unknown topic {topic!r}")
    return {
        "educational_value": _score(obj, "educational_value"),
        "reasoning_density": _score(obj, "reasoning_density"),
        "topic": topic,
    }


def cache_key(model: str, text: str, rubric_version: str = RUBRIC_VERSION) -> str:
    """sha256 over rubric version + model + the (truncated) text actually sent."""
    h = hashlib.sha256()
    for part in (rubric_version, model, text):
        h.update(part.encode("utf-8"))
        h.update(b"\x00")
    return h.hexdigest()


# --------------------------------------------------------------------------- cache


class LabelCache:
    """Thread-safe sqlite3 cache: key -> JSON of {educational_value, reasoning_density, topic, error}."""

    def __init__(self, path: str | os.PathLike[str]):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._db = sqlite3.connect(str(self.path), check_same_thread=False, isolation_level=None)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("CREATE TABLE IF NOT EXISTS labels (key TEXT PRIMARY KEY, value TEXT NOT NULL)")

    def get(self, key: str) -> dict | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM labels WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: dict) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO labels (key, value) VALUES (?, ?)", (key, json.dumps(value)))

    def __len__(self) -> int:
        with self._lock:
            return self._db.execute("SELECT COUNT(*) FROM labels").fetchone()[0]

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def __enter__(self) -> LabelCache:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()


# --------------------------------------------------------------------------- HTTP client
#
# HTTP is httpx and retrying is tenacity, rather than the openai SDK: the SDK's retry backoff is fixed
# (0.5 s doubling to 8 s; not what --backoff/--max-backoff promise), it validates replies into its own
# models (a server's odd envelope becomes an SDK error instead of our "malformed reply") and it brings
# pydantic/jiter/distro. httpx is already in the verified set (weasel needs it), tenacity is one small
# pure-Python package, and together they keep the policy ours: which statuses retry, Retry-After honoured
# up to the cap, every retry logged.


class RateLimiter:
    """Spaces request starts at least ``1/rps`` seconds apart across all threads (rps <= 0: unlimited).

    (Neither httpx nor tenacity limits a request rate; this is the one piece of pacing kept here.)"""

    def __init__(self, rps: float):
        self.interval = 1.0 / rps if rps and rps > 0 else 0.0
        self._lock = threading.Lock()
        self._next = 0.0

    def acquire(self) -> None:
        if not self.interval:
            return
        with self._lock:
            now = time.monotonic()
            slot = max(now, self._next)
            self._next = slot + self.interval
        delay = slot - now
        if delay > 0:
            time.sleep(delay)


class RequestFailed(RuntimeError):
    """The request could not be completed (after retries)."""


class _Retryable(Exception):
    """A failure worth another attempt: connection error, timeout, 429 or 5xx."""

    def __init__(self, message: str, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after


def _parse_retry_after(value: str | None) -> float | None:
    """``Retry-After`` as seconds from now: a number of seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when is None:
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class LLMClient:
    """One OpenAI-compatible chat-completions endpoint. Thread-safe (one pooled ``httpx.Client``);
    ``close()`` it, or use it as a context manager, when done."""

    base_url: str
    model: str
    api_key: str | None = field(default=None, repr=False)
    timeout: float = DEFAULT_TIMEOUT
    max_retries: int = DEFAULT_MAX_RETRIES
    backoff: float = DEFAULT_BACKOFF
    max_backoff: float = DEFAULT_MAX_BACKOFF
    rps: float = DEFAULT_RPS
    response_format: bool = True
    temperature: float = 0.0

    def __post_init__(self) -> None:
        self.url = self.base_url.rstrip("/") + "/chat/completions"
        self.limiter = RateLimiter(self.rps)
        self._count_lock = threading.Lock()
        self.requests_sent = 0
        headers = {"Accept": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        # trust_env=False: no proxy or netrc from the environment; the endpoint is exactly base_url.
        self._http = httpx.Client(headers=headers, timeout=httpx.Timeout(self.timeout), trust_env=False)

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> LLMClient:
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()

    def _scrub(self, text: str) -> str:
        if self.api_key:
            text = text.replace(self.api_key, "***")
        return text

    def _body(self, text: str) -> dict[str, Any]:
        body: dict[str, Any] = {
            "model": self.model,
            "messages": build_messages(text),
            "temperature": self.temperature,
        }
        if self.response_format:
            body["response_format"] = {"type": "json_object"}
        return body

    def _once(self, body: dict[str, Any]) -> Any:
        """One attempt. Raises _Retryable, RequestFailed (other HTTP errors) or MalformedReply."""
        self.limiter.acquire()
        with self._count_lock:
            self.requests_sent += 1
        try:
            resp = self._http.post(self.url, json=body)
        except httpx.TransportError as e:  # connect/read/write errors, timeouts, protocol errors
            raise _Retryable(self._scrub(f"{type(e).__name__}: {e}")) from None
        if resp.status_code >= 400:
            msg = self._scrub(f"HTTP {resp.status_code}: {resp.text[:300]}".strip())
            if resp.status_code == 429 or resp.status_code >= 500:
                raise _Retryable(msg, _parse_retry_after(resp.headers.get("Retry-After")))
            raise RequestFailed(msg)
        try:
            return resp.json()
        except ValueError:
            raise MalformedReply("malformed reply: response body is not JSON") from None

    def _wait(self, state: tenacity.RetryCallState) -> float:
        """Exponential backoff (``backoff * 2**n``), or the server's Retry-After when longer; capped."""
        delay = tenacity.wait_exponential(multiplier=self.backoff, max=self.max_backoff)(state)
        exc = state.outcome.exception() if state.outcome else None
        retry_after = getattr(exc, "retry_after", None)
        if retry_after is not None:
            delay = max(delay, retry_after)
        return min(self.max_backoff, delay)

    def _log_retry(self, state: tenacity.RetryCallState) -> None:
        exc = state.outcome.exception() if state.outcome else None
        wait = state.next_action.sleep if state.next_action else 0.0
        log.warning("request failed (%s); retry %d/%d in %.2fs", exc, state.attempt_number, self.max_retries, wait)

    def complete(self, text: str) -> str:
        """Send one document; return the assistant message content.

        Raises :class:`RequestFailed` after exhausting retries and
        :class:`MalformedReply` when the response has no message content.
        """
        body = self._body(text)
        retrying = tenacity.Retrying(
            retry=tenacity.retry_if_exception_type(_Retryable),
            stop=tenacity.stop_after_attempt(max(0, self.max_retries) + 1),
            wait=self._wait,
            before_sleep=self._log_retry,
            reraise=True,
        )
        try:
            payload = retrying(self._once, body)
        except _Retryable as e:
            attempts = retrying.statistics.get("attempt_number", max(0, self.max_retries) + 1)
            raise RequestFailed(f"{e} (after {attempts} attempts)") from None
        try:
            content = payload["choices"][0]["message"]["content"]
        except (KeyError, IndexError, TypeError):
            raise MalformedReply("malformed reply: response has no choices[0].message.content") from None
        return content


# --------------------------------------------------------------------------- job


@dataclass
class LabelStats:
    total: int = 0
    cached: int = 0
    sent: int = 0
    ok: int = 0
    malformed: int = 0
    failed: int = 0
    skipped: int = 0


def _row(doc_id: Any, model: str, result: dict | None, error: str | None) -> dict[str, Any]:
    result = result or {}
    return {
        "id": None if doc_id is None else str(doc_id),
        "educational_value": result.get("educational_value"),
        "reasoning_density": result.get("reasoning_density"),
        "topic": result.get("topic"),
        "rubric_version": RUBRIC_VERSION,
        "model": model,
        "error": error,
    }


def label_documents(
    docs: Iterable[dict[str, Any]],
    client: LLMClient,
    cache: LabelCache,
    *,
    workers: int = DEFAULT_WORKERS,
    max_chars: int = DEFAULT_MAX_CHARS,
    limit: int | None = None,
    progress_every: int = 100,
    progress_seconds: float = 10.0,
) -> tuple[list[dict[str, Any]], LabelStats]:
    """Label ``docs`` (dicts with ``id`` and ``text``), returning rows in input order and stats.

    Cached documents are answered from ``cache``. At most ``limit`` uncached
    documents are sent (``None``: all); documents left over are not in the
    returned rows (a rerun picks them up). Model answers are cached as they
    arrive, so an interrupted run loses nothing already answered.

    Progress (done/total, rate, time left) is logged every ``progress_every`` answers and at least every
    ``progress_seconds`` (0 turns either off), and once at the end.
    """
    stats = LabelStats()
    rows: dict[int, dict[str, Any]] = {}
    pending: list[tuple[int, Any, str, str]] = []
    for i, doc in enumerate(docs):
        stats.total += 1
        text = doc.get("text")
        text = "" if text is None else str(text)
        text = text[:max_chars] if max_chars and max_chars > 0 else text
        key = cache_key(client.model, text)
        hit = cache.get(key)
        if hit is not None:
            stats.cached += 1
            if hit.get("error"):
                stats.malformed += 1
            else:
                stats.ok += 1
            rows[i] = _row(doc.get("id"), client.model, hit, hit.get("error"))
        elif limit is not None and len(pending) >= limit:
            stats.skipped += 1
        else:
            pending.append((i, doc.get("id"), text, key))

    log.info(
        "label: %d documents, %d cached, %d to send, %d deferred by limit (model=%s, rubric=%s)",
        stats.total, stats.cached, len(pending), stats.skipped, client.model, RUBRIC_VERSION,
    )

    def work(text: str, key: str) -> tuple[dict | None, str | None, bool]:
        try:
            content = client.complete(text)
        except MalformedReply as e:  # bad response envelope: recorded, not cached (retried on rerun)
            return None, str(e), False
        except RequestFailed as e:
            return None, f"request failed: {e}", True
        except Exception as e:  # record, never raise
            return None, client._scrub(f"request failed: {type(e).__name__}: {e}"), True
        try:
            result = parse_reply(content)
        except MalformedReply as e:  # the model's answer itself: deterministic at temperature 0, cached
            cache.put(key, {"error": str(e)})
            return None, str(e), False
        cache.put(key, result)
        return result, None, False

    done = 0
    started = last_report = time.monotonic()
    if pending:
        with ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="llm-label") as pool:
            futures = {pool.submit(work, text, key): (i, doc_id) for i, doc_id, text, key in pending}
            try:
                for fut in as_completed(futures):
                    i, doc_id = futures[fut]
                    result, error, failed = fut.result()
                    stats.sent += 1
                    if failed:
                        stats.failed += 1
                        log.warning("document %s: %s", doc_id, error)
                    elif error:
                        stats.malformed += 1
                        log.warning("document %s: %s", doc_id, error)
                    else:
                        stats.ok += 1
                    rows[i] = _row(doc_id, client.model, result, error)
                    done += 1
                    now = time.monotonic()
                    due = (progress_every and done % progress_every == 0) or (
                        progress_seconds and now - last_report >= progress_seconds)
                    if due or done == len(pending):
                        last_report = now
                        rate = done / (now - started) if now > started else 0.0
                        eta = (len(pending) - done) / rate if rate else 0.0
                        log.info(
                            "label: %d/%d sent (%.0f%%, %.1f docs/s, ~%.0fs left), %d ok, %d malformed, %d failed",
                            done, len(pending), 100.0 * done / len(pending), rate, eta,
                            stats.ok, stats.malformed, stats.failed,
                        )
            except BaseException:
                for f in futures:
                    f.cancel()
                raise

    return [rows[i] for i in sorted(rows)], stats


# --------------------------------------------------------------------------- I/O


def _is_parquet(path: str | os.PathLike[str]) -> bool:
    return str(path).lower().endswith((".parquet", ".pq"))


def read_documents(path: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Read ``id``/``text`` records from JSONL (default) or Parquet (``.parquet``/``.pq``)."""
    if _is_parquet(path):
        import pyarrow.parquet as pq

        table = pq.read_table(str(path), columns=["id", "text"])
        return table.to_pylist()
    docs = []
    with open(path, encoding="utf-8") as fh:
        for lineno, line in enumerate(fh, 1):
            if not line.strip():
                continue
            rec = json.loads(line)
            if "text" not in rec:
                raise ValueError(f"{path}:{lineno}: record has no 'text'")
            docs.append({"id": rec.get("id"), "text": rec.get("text")})
    return docs


def is_label_output(path: str | os.PathLike[str]) -> bool:
    """Whether an existing file is one this command wrote, so replacing it loses nothing: Parquet
    marked by curation.output_dir; JSONL that is empty or whose first line has exactly our columns."""
    from curation.output_dir import parquet_written_by

    if _is_parquet(path):
        return parquet_written_by(str(path), "label")
    try:
        with open(path, "rb") as fh:
            first = fh.readline(1 << 20)
        row = json.loads(first) if first.strip() else {k: None for k in OUTPUT_COLUMNS}
    except (OSError, ValueError):
        return False
    return isinstance(row, dict) and list(row) == OUTPUT_COLUMNS


def write_rows(rows: list[dict[str, Any]], path: str | os.PathLike[str]) -> None:
    """Write rows atomically as Parquet (``.parquet``/``.pq``) or JSONL."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    if _is_parquet(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        from curation.schema import PARQUET_WRITE_OPTIONS

        schema = pa.schema([
            ("id", pa.string()),
            ("educational_value", pa.int8()),
            ("reasoning_density", pa.int8()),
            ("topic", pa.string()),
            ("rubric_version", pa.string()),
            ("model", pa.string()),
            ("error", pa.string()),
        ])
        from curation.output_dir import PARQUET_MARK

        schema = schema.with_metadata({PARQUET_MARK: b"label"})
        pq.write_table(pa.Table.from_pylist(rows, schema=schema), str(tmp), **PARQUET_WRITE_OPTIONS)
    else:
        with open(tmp, "w", encoding="utf-8") as fh:
            for r in rows:
                fh.write(json.dumps({k: r.get(k) for k in OUTPUT_COLUMNS}, ensure_ascii=False) + "\n")
    os.replace(tmp, path)


# --------------------------------------------------------------------------- CLI


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--input", "-i", required=True, help="JSONL or Parquet with 'id' and 'text'")
    parser.add_argument("--output", "-o", required=True, help="output .parquet/.pq (Parquet) or anything else (JSONL)")
    parser.add_argument("--base-url", default=None, help=f"OpenAI-compatible base URL, e.g. http://host:8000/v1 (env {ENV_BASE_URL})")
    parser.add_argument("--model", default=None, help=f"model name (env {ENV_MODEL})")
    parser.add_argument("--api-key", default=None, help=f"API key (prefer env {ENV_API_KEY}); never logged or written")
    parser.add_argument("--cache", default=None, help="sqlite cache file (default: <output>.llm-cache.sqlite)")
    parser.add_argument("--max-chars", type=int, default=DEFAULT_MAX_CHARS, help="truncate text to this many characters (0: no limit)")
    parser.add_argument("--workers", type=int, default=DEFAULT_WORKERS, help="concurrent requests")
    parser.add_argument("--rps", type=float, default=DEFAULT_RPS, help="max requests per second (0: unlimited)")
    parser.add_argument("--max-retries", type=int, default=DEFAULT_MAX_RETRIES, help="retries on connection errors/429/5xx")
    parser.add_argument("--backoff", type=float, default=DEFAULT_BACKOFF, help="initial backoff seconds (doubles per retry)")
    parser.add_argument("--max-backoff", type=float, default=DEFAULT_MAX_BACKOFF, help="cap on one backoff wait, Retry-After included")
    parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT, help="per-request timeout seconds")
    parser.add_argument("--limit", type=int, default=None, help="send at most N uncached documents this run")
    parser.add_argument("--no-response-format", dest="response_format", action="store_false",
                        help="do not send response_format={'type': 'json_object'} (for servers that reject it)")


def run(args: argparse.Namespace) -> int:
    """Run the labelling job. 0: all documents labelled (malformed replies count as done);
    1: some requests failed or were deferred by --limit (rerun to resume); 2: bad configuration."""
    base_url = args.base_url or os.environ.get(ENV_BASE_URL)
    model = args.model or os.environ.get(ENV_MODEL)
    api_key = args.api_key or os.environ.get(ENV_API_KEY)
    if not base_url or not model:
        return report("label", f"need --base-url/{ENV_BASE_URL} and --model/{ENV_MODEL}")
    cache_path = args.cache or f"{args.output}.llm-cache.sqlite"
    from curation.output_dir import OutputRefused, claim_file

    try:
        claim_file(args.output, "label", inputs=[args.input, cache_path], ours=is_label_output)
    except OutputRefused as exc:
        return report("label", exc)
    docs = read_documents(args.input)
    client = LLMClient(
        base_url=base_url, model=model, api_key=api_key, timeout=args.timeout,
        max_retries=args.max_retries, backoff=args.backoff, max_backoff=args.max_backoff,
        rps=args.rps, response_format=args.response_format,
    )
    with client, LabelCache(cache_path) as cache:
        rows, stats = label_documents(
            docs, client, cache, workers=args.workers, max_chars=args.max_chars, limit=args.limit,
        )
    write_rows(rows, args.output)
    log.info(
        "label: wrote %d rows to %s (%d cached, %d sent, %d ok, %d malformed, %d failed, %d deferred)",
        len(rows), args.output, stats.cached, stats.sent, stats.ok, stats.malformed, stats.failed, stats.skipped,
    )
    return 1 if (stats.failed or stats.skipped) else 0

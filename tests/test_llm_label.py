"""Tests for classifiers.llm_label against a local fake OpenAI-compatible server."""

from __future__ import annotations

import argparse
import json
import logging
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pyarrow.parquet as pq
import pytest

from classifiers import llm_label
from classifiers.llm_label import (
    RUBRIC_VERSION,
    TOPICS,
    LabelCache,
    LLMClient,
    MalformedReply,
    cache_key,
    label_documents,
    parse_reply,
)

API_KEY = "sk-test-SECRET-0123456789abcdef"
MODEL = "fake-model-1"
_DOC_RE = re.compile(r"Document:\n<<<\n(.*)\n>>>", re.DOTALL)


def expected_scores(text: str) -> dict:
    """Deterministic 'model': digits -> educational value, '?' count -> reasoning, length -> topic."""
    return {
        "educational_value": min(5, sum(c.isdigit() for c in text)),
        "reasoning_density": min(5, text.count("?")),
        "topic": TOPICS[len(text) % len(TOPICS)],
    }


class FakeLLM:
    """Fake chat-completions server. Behaviour is driven by markers in the document text:

    RETRY429 -> 429 (Retry-After: 0) on the first attempt; RETRY500 -> 500 on the first attempt;
    DOWN -> 503 while ``self.down`` is true; MALFORMED -> prose without JSON;
    FENCED -> JSON inside ```json fences with prose; OUTOFRANGE -> educational_value 9;
    SLOW_RETRY_AFTER -> 429 with Retry-After: 0.3 on the first attempt.
    """

    def __init__(self):
        self.lock = threading.Lock()
        self.requests: list[dict] = []  # every HTTP request: text, auth, body, time, status
        self.attempts: dict[str, int] = {}
        self.down = True
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):  # silence stderr
                pass

            def do_POST(self):
                length = int(self.headers.get("Content-Length", 0))
                body = json.loads(self.rfile.read(length))
                text = _DOC_RE.search(body["messages"][-1]["content"]).group(1)
                status, payload, headers = fake.respond(self.path, text)
                with fake.lock:
                    fake.requests.append({
                        "path": self.path, "text": text, "auth": self.headers.get("Authorization"),
                        "body": body, "time": time.monotonic(), "status": status,
                    })
                raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
                self.send_response(status)
                for k, v in headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(raw)))
                self.end_headers()
                self.wfile.write(raw)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"

    def respond(self, path, text):
        with self.lock:
            n = self.attempts.get(text, 0)
            self.attempts[text] = n + 1
        if path != "/v1/chat/completions":
            return 404, {"error": "not found"}, {}
        if "RETRY429" in text and n == 0:
            return 429, {"error": "slow down"}, {"Retry-After": "0"}
        if "SLOW_RETRY_AFTER" in text and n == 0:
            return 429, {"error": "slow down"}, {"Retry-After": "0.3"}
        if "RETRY500" in text and n == 0:
            return 500, {"error": "boom"}, {}
        if "DOWN" in text and self.down:
            return 503, {"error": "unavailable"}, {}
        scores = expected_scores(text)
        if "MALFORMED" in text:
            content = "I am sorry, I cannot rate this document."
        elif "FENCED" in text:
            content = "Here is my rating:\n```json\n" + json.dumps(scores) + "\n```\nHope this helps!"
        elif "OUTOFRANGE" in text:
            content = json.dumps({**scores, "educational_value": 9})
        else:
            content = json.dumps(scores)
        return 200, {"choices": [{"index": 0, "message": {"role": "assistant", "content": content}}]}, {}

    def count(self) -> int:
        with self.lock:
            return len(self.requests)


@pytest.fixture
def fake():
    f = FakeLLM()
    f.thread.start()
    yield f
    f.server.shutdown()
    f.server.server_close()


def _docs(n=6, extra=()):
    docs = [{"id": f"d{i}", "text": f"document {i} " + "7" * (i % 7) + "?" * (i % 4)} for i in range(n)]
    docs += [{"id": f"x{j}", "text": t} for j, t in enumerate(extra)]
    return docs


def _write_jsonl(path, docs):
    path.write_text("".join(json.dumps(d) + "\n" for d in docs), encoding="utf-8")


def _args(inp, out, **kw):
    parser = argparse.ArgumentParser()
    llm_label.add_arguments(parser)
    argv = ["--input", str(inp), "--output", str(out), "--backoff", "0.01", "--max-backoff", "1"]
    for k, v in kw.items():
        argv += [f"--{k.replace('_', '-')}", str(v)]
    return parser.parse_args(argv)


def _client(fake, **kw):
    kw.setdefault("backoff", 0.01)
    kw.setdefault("max_backoff", 1.0)
    return LLMClient(base_url=fake.base_url, model=MODEL, api_key=API_KEY, **kw)


# --------------------------------------------------------------------------- parsing


def test_parse_reply_variants():
    good = {"educational_value": 3, "reasoning_density": 2, "topic": "stem"}
    assert parse_reply(json.dumps(good)) == good
    assert parse_reply("```json\n" + json.dumps(good) + "\n```") == good
    assert parse_reply("Sure! Rating: " + json.dumps(good) + " -- done.") == good
    assert parse_reply('{"note": 1} then {"educational_value": 3.0, "reasoning_density": 2, "topic": " STEM "}') == good
    bad = [
        None, "", "no json here", '{"educational_value": 3}',
        '{"educational_value": 6, "reasoning_density": 2, "topic": "stem"}',
        '{"educational_value": -1, "reasoning_density": 2, "topic": "stem"}',
        '{"educational_value": "3", "reasoning_density": 2, "topic": "stem"}',
        '{"educational_value": true, "reasoning_density": 2, "topic": "stem"}',
        '{"educational_value": 2.5, "reasoning_density": 2, "topic": "stem"}',
        '{"educational_value": 3, "reasoning_density": 2, "topic": "cooking"}',
        '{"educational_value": 3, "reasoning_density": 2, "topic": 4}',
    ]
    for content in bad:
        with pytest.raises(MalformedReply, match=r"^malformed reply: "):
            parse_reply(content)


def test_cache_key_depends_on_rubric_model_text():
    k = cache_key("m", "t")
    assert k == cache_key("m", "t", RUBRIC_VERSION) and len(k) == 64
    assert len({k, cache_key("m2", "t"), cache_key("m", "t2"), cache_key("m", "t", "other-rubric")}) == 4


# --------------------------------------------------------------------------- end to end via run()


def test_run_end_to_end_key_retries_malformed_and_cached_rerun(fake, tmp_path, monkeypatch, caplog):
    caplog.set_level(logging.DEBUG)
    docs = _docs(6, extra=["RETRY429 12", "RETRY500 3?", "MALFORMED 1", "FENCED 55??", "OUTOFRANGE 1"])
    inp, out = tmp_path / "docs.jsonl", tmp_path / "labels.parquet"
    _write_jsonl(inp, docs)
    monkeypatch.setenv("CURATE_LLM_BASE_URL", fake.base_url)
    monkeypatch.setenv("CURATE_LLM_MODEL", MODEL)
    monkeypatch.setenv("CURATE_LLM_API_KEY", API_KEY)

    assert llm_label.run(_args(inp, out, workers=4)) == 0
    rows = pq.read_table(out).to_pylist()
    assert [r["id"] for r in rows] == [d["id"] for d in docs]
    assert list(rows[0]) == llm_label.OUTPUT_COLUMNS
    by_id = {r["id"]: r for r in rows}
    for d in docs:
        r = by_id[d["id"]]
        assert r["rubric_version"] == RUBRIC_VERSION and r["model"] == MODEL
        if "MALFORMED" in d["text"] or "OUTOFRANGE" in d["text"]:
            assert r["error"].startswith("malformed reply:")
            assert r["educational_value"] is None and r["topic"] is None
        else:
            assert r["error"] is None, r
            exp = expected_scores(d["text"])
            assert (r["educational_value"], r["reasoning_density"], r["topic"]) == (
                exp["educational_value"], exp["reasoning_density"], exp["topic"])
    assert "out of range" in by_id["x4"]["error"]

    # retries: one extra attempt each for the 429 and the 500 document, then success
    assert fake.attempts["RETRY429 12"] == 2 and fake.attempts["RETRY500 3?"] == 2
    assert fake.count() == len(docs) + 2
    # request shape and the key in the Authorization header
    for req in fake.requests:
        assert req["auth"] == f"Bearer {API_KEY}"
        assert req["body"]["model"] == MODEL and req["body"]["temperature"] == 0
        assert req["body"]["response_format"] == {"type": "json_object"}
        assert RUBRIC_VERSION in req["body"]["messages"][0]["content"]
    # the key never reaches logs, output or cache
    assert any("retry" in r.getMessage() for r in caplog.records)
    for rec in caplog.records:
        assert API_KEY not in rec.getMessage() and API_KEY not in str(rec.args)
    assert API_KEY not in caplog.text
    assert API_KEY.encode() not in out.read_bytes()
    for f in tmp_path.iterdir():
        assert API_KEY.encode() not in f.read_bytes(), f

    # rerun: everything (including the malformed answers) comes from the cache
    before = fake.count()
    out2 = tmp_path / "labels2.jsonl"
    assert llm_label.run(_args(inp, out2, cache=f"{out}.llm-cache.sqlite")) == 0
    assert fake.count() == before
    rows2 = [json.loads(line) for line in out2.read_text().splitlines()]
    assert rows2 == rows


def test_run_missing_config_returns_2(tmp_path, monkeypatch):
    for var in ("CURATE_LLM_BASE_URL", "CURATE_LLM_MODEL", "CURATE_LLM_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    inp = tmp_path / "d.jsonl"
    _write_jsonl(inp, _docs(1))
    assert llm_label.run(_args(inp, tmp_path / "o.jsonl")) == 2


def test_parquet_input_and_truncation(fake, tmp_path):
    import pyarrow as pa

    inp = tmp_path / "docs.parquet"
    pq.write_table(pa.table({"id": ["a", "b"], "text": ["1234567890" * 10, "short 1"]}), inp)
    out = tmp_path / "o.jsonl"
    args = _args(inp, out, base_url=fake.base_url, model=MODEL, api_key=API_KEY, max_chars=15)
    assert llm_label.run(args) == 0
    assert sorted(r["text"] for r in fake.requests) == ["123456789012345", "short 1"]
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows[0]["educational_value"] == 5 and rows[0]["topic"] == expected_scores("123456789012345")["topic"]
    assert API_KEY not in out.read_text()


# --------------------------------------------------------------------------- resume


def test_interrupted_by_limit_then_resume(fake, tmp_path):
    docs = _docs(8)
    with LabelCache(tmp_path / "c.sqlite") as cache:
        rows, stats = label_documents(docs, _client(fake), cache, workers=3, limit=3)
        assert fake.count() == 3 and len(rows) == 3 and stats.skipped == 5
        first = {r["text"] for r in fake.requests}
        rows, stats = label_documents(docs, _client(fake), cache, workers=3)
        assert fake.count() == 8 and stats.cached == 3 and stats.sent == 5
        assert {r["text"] for r in fake.requests[3:]} == {d["text"] for d in docs} - first
        assert [r["id"] for r in rows] == [d["id"] for d in docs] and all(r["error"] is None for r in rows)
        label_documents(docs, _client(fake), cache)
        assert fake.count() == 8


def test_permanent_failure_recorded_then_resume(fake, tmp_path, caplog):
    caplog.set_level(logging.INFO)
    docs = _docs(4) + [{"id": f"down{i}", "text": f"DOWN {i}"} for i in range(4)]
    inp, out = tmp_path / "docs.jsonl", tmp_path / "o.parquet"
    _write_jsonl(inp, docs)
    args = _args(inp, out, base_url=fake.base_url, model=MODEL, api_key=API_KEY, max_retries=1)
    assert llm_label.run(args) == 1  # failures recorded, not raised
    rows = {r["id"]: r for r in pq.read_table(out).to_pylist()}
    assert len(rows) == 8
    for i in range(4):
        assert rows[f"down{i}"]["error"].startswith("request failed: HTTP 503")
        assert rows[f"d{i}"]["error"] is None
    assert fake.count() == 4 + 4 * 2  # each DOWN doc: first try + one retry
    assert API_KEY not in caplog.text

    fake.down = False
    before = fake.count()
    assert llm_label.run(args) == 0
    assert sorted(r["text"] for r in fake.requests[before:]) == [f"DOWN {i}" for i in range(4)]
    rows = pq.read_table(out).to_pylist()
    assert all(r["error"] is None for r in rows)
    assert rows[4]["educational_value"] == 1


# --------------------------------------------------------------------------- rate limit / backoff


def test_rate_limit_roughly_respected(fake, tmp_path):
    docs = _docs(10)
    rps = 25.0
    with LabelCache(tmp_path / "c.sqlite") as cache:
        t0 = time.monotonic()
        rows, _ = label_documents(docs, _client(fake, rps=rps), cache, workers=8)
        elapsed = time.monotonic() - t0
    assert len(rows) == 10
    assert elapsed >= (10 - 1) / rps * 0.9
    times = sorted(r["time"] for r in fake.requests)
    span = times[-1] - times[0]
    assert span >= (10 - 1) / rps * 0.8  # server saw them spread out, not in one burst


def test_retry_after_honoured(fake, tmp_path):
    with LabelCache(tmp_path / "c.sqlite") as cache:
        t0 = time.monotonic()
        rows, stats = label_documents(
            [{"id": 1, "text": "SLOW_RETRY_AFTER 1"}], _client(fake, backoff=0.001), cache)
        elapsed = time.monotonic() - t0
    assert rows[0]["error"] is None and rows[0]["id"] == "1"
    assert fake.count() == 2 and elapsed >= 0.28


def test_connection_error_retried_then_recorded(tmp_path, caplog):
    caplog.set_level(logging.DEBUG)
    # a port nothing listens on: connection refused on every attempt
    srv = ThreadingHTTPServer(("127.0.0.1", 0), BaseHTTPRequestHandler)
    port = srv.server_address[1]
    srv.server_close()
    client = LLMClient(base_url=f"http://127.0.0.1:{port}/v1", model=MODEL, api_key=API_KEY,
                       max_retries=2, backoff=0.01, timeout=2)
    with LabelCache(tmp_path / "c.sqlite") as cache:
        rows, stats = label_documents([{"id": "a", "text": "hello"}], client, cache)
        assert len(cache) == 0  # failures are not cached
    assert rows[0]["error"].startswith("request failed:") and stats.failed == 1
    assert client.requests_sent == 3
    assert sum("retry" in r.getMessage() for r in caplog.records) == 2
    assert API_KEY not in caplog.text


# --------------------------------------------------------------------------- progress


def test_progress_logged_every_n_answers_and_at_the_end(fake, tmp_path, caplog):
    caplog.set_level(logging.INFO, logger="classifiers.llm_label")
    with LabelCache(tmp_path / "c.sqlite") as cache, _client(fake) as client:
        rows, stats = label_documents(_docs(5), client, cache, workers=2, progress_every=2, progress_seconds=0)
    assert stats.ok == 5 and len(rows) == 5
    progress = [r.getMessage() for r in caplog.records if re.match(r"label: \d+/5 sent", r.getMessage())]
    assert [m.split(" sent")[0] for m in progress] == ["label: 2/5", "label: 4/5", "label: 5/5"]
    assert "100%" in progress[-1] and "5 ok, 0 malformed, 0 failed" in progress[-1]


def test_retry_after_is_capped_by_max_backoff(fake, tmp_path):
    """A server asking for a long wait gets at most max_backoff (here 0.05 s instead of 0.3 s)."""
    with LabelCache(tmp_path / "c.sqlite") as cache, _client(fake, backoff=0.001, max_backoff=0.05) as client:
        t0 = time.monotonic()
        rows, _ = label_documents([{"id": 1, "text": "SLOW_RETRY_AFTER 2"}], client, cache)
        elapsed = time.monotonic() - t0
    assert rows[0]["error"] is None and fake.count() == 2
    assert elapsed < 0.28

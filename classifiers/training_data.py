"""Offline training set for the default quality classifier (DCLM-style: reference vs random web).

Positives (``__label__hq``): reasoning-dense reference text from ``shared/data/corpora`` —
WikiText-2 valid/test articles, arXiv LaTeX papers (chunked), GSM8K *train* question+answer,
NLTK brown / abc / state_union. Negatives (``__label__lq``): random real web text — pages
extracted with resiliparse from ``shared/data/warc`` and ``shared/data/html``, CCNet head docs,
NLTK webtext / nps_chat. The human-labelled DCLM dev set is never read here.

Selection (dedup by text hash, per-source caps, class balance, train/valid split by hash) is one
DuckDB SQL statement; its text and the sha256 of the written files go into the model metadata.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import re
import zipfile
from pathlib import Path
from typing import Iterable, Iterator

HQ, LQ = "__label__hq", "__label__lq"
CHUNK_CHARS = 4000
MIN_CHARS = 200

_WS = re.compile(r"\s+")
_PUNCT = re.compile(r"([.,!?;:()\[\]{}\"“”])")


def normalize(text: str) -> str:
    """The one text normalisation used for training *and* scoring: lower-case, punctuation split
    off as its own token, all whitespace (newlines included) collapsed to single spaces."""
    text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    return _WS.sub(" ", _PUNCT.sub(r" \1 ", text.lower())).strip()


def chunk(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Split on blank-line paragraphs into pieces of about ``size`` characters."""
    buf: list[str] = []
    n = 0
    for para in re.split(r"\n\s*\n", text):
        if n and n + len(para) > size:
            yield "\n\n".join(buf)
            buf, n = [], 0
        buf.append(para)
        n += len(para)
    if buf:
        yield "\n\n".join(buf)


def chunk_lines(text: str, size: int = CHUNK_CHARS) -> Iterator[str]:
    """Like :func:`chunk` but on single newlines (extracted web text has one block per line)."""
    buf: list[str] = []
    n = 0
    for line in text.splitlines():
        if n and n + len(line) > size:
            yield "\n".join(buf)
            buf, n = [], 0
        buf.append(line)
        n += len(line) + 1
    if buf:
        yield "\n".join(buf)


# ----------------------------------------------------------------------------- positives

_WIKI_HEAD = re.compile(r"^ = ([^=].*?) = $", re.M)


def _wikitext(path: Path) -> Iterator[str]:
    raw = path.read_text(encoding="utf-8")
    raw = raw.replace(" @-@ ", "-").replace(" @,@ ", ",").replace(" @.@ ", ".").replace("<unk>", "")
    starts = [m.start() for m in _WIKI_HEAD.finditer(raw)] + [len(raw)]
    for a, b in zip(starts, starts[1:]):
        article = re.sub(r"^ (=+) (.*?) \1 $", r"\2", raw[a:b], flags=re.M)  # headings → plain lines
        yield from chunk(article)


def _arxiv(path: Path) -> Iterator[str]:
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                yield from chunk(json.loads(line)["text"])


def _gsm8k_train(path: Path) -> Iterator[str]:
    assert path.name == "train.jsonl", "only the GSM8K train split may be used for training"
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                answer = re.sub(r"<<.*?>>", "", row["answer"]).replace("####", "Answer:")
                yield row["question"] + "\n" + answer


def _zip_texts(path: Path, prefix: str) -> Iterator[tuple[str, str]]:
    with zipfile.ZipFile(path) as zf:
        for name in zf.namelist():
            base = name.rsplit("/", 1)[-1]
            if name.endswith("/") or base.upper().startswith("README") or base in {"cats.txt", "CONTENTS"}:
                continue
            yield name, zf.read(name).decode("utf-8", "replace")


def _brown(path: Path) -> Iterator[str]:
    for _, raw in _zip_texts(path, "brown"):
        sents = []
        for para in re.split(r"\n\s*\n", raw):
            toks = [t.rsplit("/", 1)[0] for t in para.split()]
            if toks:
                sents.append(" ".join(toks).replace("``", '"').replace("''", '"'))
        yield from chunk("\n\n".join(sents))


def _lines_grouped(raw: str, n: int) -> Iterator[str]:
    lines = [ln for ln in raw.splitlines() if ln.strip()]
    for i in range(0, len(lines), n):
        yield "\n".join(lines[i:i + n])


def _abc(path: Path) -> Iterator[str]:
    for _, raw in _zip_texts(path, "abc"):
        yield from _lines_grouped(raw, 15)


def _state_union(path: Path) -> Iterator[str]:
    for _, raw in _zip_texts(path, "state_union"):
        yield from chunk(raw)


# ----------------------------------------------------------------------------- negatives


def _webtext(path: Path) -> Iterator[str]:
    for _, raw in _zip_texts(path, "webtext"):
        yield from _lines_grouped(raw, 25)


def _nps_chat(path: Path) -> Iterator[str]:
    for _, raw in _zip_texts(path, "nps_chat"):
        posts = re.findall(r"<Post [^>]*>(.*?)</Post>", raw, flags=re.S)
        yield from _lines_grouped("\n".join(p.strip() for p in posts), 40)


def _ccnet(folder: Path) -> Iterator[str]:
    for p in sorted(folder.glob("*")):
        opener = gzip.open if p.name.endswith(".gz") else open
        try:
            with opener(p, "rt", encoding="utf-8") as fh:
                for line in fh:
                    line = line.strip()
                    if line.startswith("{"):
                        text = json.loads(line).get("text")
                        if text:
                            yield text
        except (OSError, ValueError, UnicodeDecodeError):
            continue


def _web_pages(data: Path, limit: int | None, chunked: bool = False) -> Iterator[str]:
    for text in _web_pages_whole(data, limit):
        yield from (chunk_lines(text) if chunked else (text,))


def _web_pages_whole(data: Path, limit: int | None) -> Iterator[str]:
    from curation.extract import ExtractConfig, decode_html, html_to_text
    from curation.extract_task import documents_from_file

    cfg = ExtractConfig(extractor="resiliparse", time_limit_s=5.0)
    n = 0
    for f in sorted((data / "warc").rglob("*")):
        if f.is_file() and (".warc" in f.name or f.name.endswith(".arc.gz")):
            if f.name.endswith((".wat.gz", ".wet.gz")):
                continue
            for doc in documents_from_file(str(f), cfg):
                if doc.kept and doc.text:
                    yield doc.text
                    n += 1
                    if limit and n >= limit:
                        return
    html = data / "html"
    pages = sorted(html.glob("readability/*/source.html")) + sorted(html.glob("trafilatura-eval/**/*.html*"))
    for p in pages:
        payload = p.read_bytes()
        if p.name.endswith(".gz"):
            payload = gzip.decompress(payload)
        try:
            text = html_to_text(decode_html(payload)[0], cfg)
        except Exception:  # noqa: BLE001 - one hostile page must not stop the build
            continue
        if text:
            yield text
            n += 1
            if limit and n >= limit:
                return


# ----------------------------------------------------------------------------- the set

#: (source name, label, caps rows kept per source in SQL)
POSITIVE_SOURCES = ("wikitext2", "arxiv", "gsm8k_train", "brown", "abc", "state_union")
NEGATIVE_SOURCES = ("web", "ccnet_head", "webtext", "nps_chat")  # or "web_chunked" for "web"
DEFAULT_CAPS = {"gsm8k_train": 800, "abc": 400, "brown": 500, "state_union": 300}

SELECT_SQL = """
WITH docs AS (
    SELECT source, label, text, md5(text) AS h
    FROM raw
    WHERE length(text) >= {min_chars}
), dedup AS (          -- one row per distinct normalised text (first label/source wins)
    SELECT * FROM docs
    QUALIFY row_number() OVER (PARTITION BY h ORDER BY label, source) = 1
), capped AS (         -- per-source caps so no single corpus dominates a class
    SELECT d.* FROM dedup d LEFT JOIN caps c USING (source)
    QUALIFY row_number() OVER (PARTITION BY source ORDER BY md5(h || 'cap')) <= coalesce(any_value(c.cap) OVER (PARTITION BY source), 1000000000)
), balanced AS (       -- equal class sizes: the larger class is down-sampled by hash order
    SELECT *, row_number() OVER (PARTITION BY label ORDER BY md5(h || 'balance')) AS r,
           min(n) OVER () AS n_min
    FROM (SELECT *, count(*) OVER (PARTITION BY label) AS n FROM capped)
)
SELECT label, source, text, h,
       CASE WHEN substr(h, 1, 1) IN ('0', '1') THEN 'valid' ELSE 'train' END AS split  -- 1/8 by hash
FROM balanced
WHERE r <= n_min
ORDER BY md5(h || 'shuffle')
"""


def collect_raw(shared_dir: str | Path, *, positives: Iterable[str] = POSITIVE_SOURCES,
                negatives: Iterable[str] = NEGATIVE_SOURCES, max_per_source: int | None = None) -> list[tuple[str, str, str]]:
    """Every candidate ``(source, label, normalised text)`` row, before SQL selection."""
    data = Path(shared_dir)
    corp = data / "corpora"
    nltk = corp / "nltk"
    readers = {
        "wikitext2": lambda: (t for s in ("valid", "test") for t in _wikitext(corp / "wikitext2" / f"{s}.txt")),
        "arxiv": lambda: _arxiv(corp / "arxiv" / "arxiv.jsonl"),
        "gsm8k_train": lambda: _gsm8k_train(data / "benchmarks" / "gsm8k" / "train.jsonl"),
        "brown": lambda: _brown(nltk / "brown.zip"),
        "abc": lambda: _abc(nltk / "abc.zip"),
        "state_union": lambda: _state_union(nltk / "state_union.zip"),
        "web": lambda: _web_pages(data, max_per_source),
        "web_chunked": lambda: _web_pages(data, max_per_source, chunked=True),
        "ccnet_head": lambda: _ccnet(corp / "cc-ccnet-head"),
        "webtext": lambda: _webtext(nltk / "webtext.zip"),
        "nps_chat": lambda: _nps_chat(nltk / "nps_chat.zip"),
    }
    rows: list[tuple[str, str, str]] = []
    for label, names in ((HQ, positives), (LQ, negatives)):
        for name in names:
            for i, text in enumerate(readers[name]()):
                if max_per_source and i >= max_per_source:
                    break
                rows.append((name, label, normalize(text)))
    return rows


def build_default_training_set(shared_dir: str | Path, work_dir: str | Path, *,
                               positives: Iterable[str] = POSITIVE_SOURCES,
                               negatives: Iterable[str] = NEGATIVE_SOURCES,
                               caps: dict[str, int] | None = None,
                               max_per_source: int | None = None) -> tuple[Path, Path, dict]:
    """Write ``train.txt`` / ``valid.txt`` (fastText format) under ``work_dir``; returns
    ``(train_path, valid_path, info)`` where ``info`` holds the SQL, sha256 and counts."""
    import duckdb
    import pyarrow as pa

    shared_dir = Path(shared_dir)
    if not (shared_dir / "corpora").is_dir():
        raise FileNotFoundError(f"shared data folder not found or incomplete: {shared_dir / 'corpora'}")
    work = Path(work_dir)
    work.mkdir(parents=True, exist_ok=True)
    positives, negatives = tuple(positives), tuple(negatives)
    caps = dict(DEFAULT_CAPS if caps is None else caps)
    rows = collect_raw(shared_dir, positives=positives, negatives=negatives, max_per_source=max_per_source)
    raw = pa.table({"source": [r[0] for r in rows], "label": [r[1] for r in rows], "text": [r[2] for r in rows]})
    caps_tbl = pa.table({"source": pa.array(list(caps), pa.string()), "cap": pa.array(list(caps.values()), pa.int64())})
    sql = SELECT_SQL.format(min_chars=MIN_CHARS)
    con = duckdb.connect()
    try:
        con.register("raw", raw)
        con.register("caps", caps_tbl)
        cur = con.execute(sql)
        cols = [d[0] for d in cur.description]
        out = [dict(zip(cols, r)) for r in cur.fetchall()]
    finally:
        con.close()
    paths = {"train": work / "train.txt", "valid": work / "valid.txt"}
    digest = hashlib.sha256()
    counts: dict[str, dict[str, int]] = {"train": {}, "valid": {}}
    by_source: dict[str, int] = {}
    handles = {k: p.open("w", encoding="utf-8") for k, p in paths.items()}
    try:
        for row in out:
            line = f"{row['label']} {row['text']}\n"
            handles[row["split"]].write(line)
            digest.update(row["split"].encode() + b"\t" + line.encode("utf-8"))
            counts[row["split"]][row["label"]] = counts[row["split"]].get(row["label"], 0) + 1
            by_source[row["source"]] = by_source.get(row["source"], 0) + 1
    finally:
        for h in handles.values():
            h.close()
    info = {
        "sql": sql.strip(),
        "sha256": digest.hexdigest(),
        "positives": list(positives),
        "negatives": list(negatives),
        "caps": caps,
        "candidates": len(rows),
        "counts": counts,
        "by_source": dict(sorted(by_source.items())),
        "normalisation": "lower-case; punctuation .,!?;:()[]{}\" split off; whitespace collapsed",
    }
    return paths["train"], paths["valid"], info

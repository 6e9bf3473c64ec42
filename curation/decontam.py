"""Benchmark decontamination, phi-4 Appendix B (Algorithm 1), as a pure Python + numpy core.

Per training document, after normalising (lower-case, punctuation to spaces, whitespace words):

1. If any 13-gram of the document is in the benchmark 13-gram set and not in the allow-list of
   common 13-grams → ``contaminated`` (13-gram hit; the benchmark and item are recorded).
2. Else, per benchmark item: ratio = |shared 7-grams| / min(|7-grams of doc|, |7-grams of item|)
   (distinct n-grams on both sides, so 0 <= ratio <= 1); take the max over items. If
   max > info_threshold: ``contaminated`` when max >= contaminated_threshold, else ``partial``.
   Otherwise ``clean``.

How it is fast (the target is >= 10x datatrove's ~170 docs/s per core):

* each distinct token is hashed once (blake2b → uint64, cached per process), and n-gram hashes are a
  polynomial over the token hashes computed with n vectorised numpy multiply-adds per document;
* the 13-gram set is one sorted uint64 array (allow-list already removed) probed with searchsorted;
* the 7-gram step uses an inverted index (CSR: sorted 7-gram keys → offsets → item ids), so only
  items sharing at least one 7-gram with the document are ever scored.

The hashes are stable across processes and machines (no Python ``hash()``), which is what lets an
allow-list be built once and saved as a plain text file of hashes.

``spark_jobs/decontaminate.py`` loads the stage's config (:class:`DecontaminateJobConfig`), builds the
index once on the driver, broadcasts it, runs :func:`decontaminate_batches` inside ``mapInArrow`` and
writes :func:`build_report`; tests and notebooks call :func:`check` directly.
"""

from __future__ import annotations

import bz2
import csv
import glob as globlib
import gzip
import hashlib
import io
import json
import os
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np

from curation.errors import CurateError

CLEAN, PARTIAL, CONTAMINATED = "clean", "partial", "contaminated"
#: Version of the hashing scheme (normalisation + token hash + polynomial); saved allow-lists carry it.
HASH_VERSION = "curate-decontam-v1"
ALLOWLIST_HEADER = f"# {HASH_VERSION} allowlist n="

# Words are maximal runs of letters/digits (any script): everything else, underscore included, is
# punctuation or space. Same as "punctuation to spaces, split on whitespace", in one regex pass.
_WORD = re.compile(r"[^\W_]+")
# Odd 64-bit multiplier (from splitmix64) for the polynomial over token hashes; arithmetic is mod 2^64.
_BASE = np.uint64(0x9E3779B97F4A7C15)


class BenchmarkError(CurateError, ValueError):
    """A benchmark spec or file that cannot be read; the message names the file (and line)."""


# --------------------------------------------------------------------------------------------
# Config


@dataclass(frozen=True)
class DecontamConfig:
    #: Long n-gram: any shared one (not allow-listed) makes a document contaminated (paper: 13).
    long_n: int = 13
    #: Short n-gram for the overlap ratio (paper: 7).
    short_n: int = 7
    #: A max ratio above this is reported (``partial``). 0.1 means a tenth of the smaller side's
    #: 7-grams are shared: for a 300-word page and a 60-word question, 6 shared 7-grams, i.e. a
    #: 12-word run, one word short of a 13-gram hit. Common phrases stay below it: on 5,000 clean
    #: real documents (WikiText-2, Brown) against every benchmark here, 1 partial (0.02%).
    info_threshold: float = 0.1
    #: A max ratio at or above this is ``contaminated``. The paper publishes no threshold; its
    #: worked example flags a ratio of 0.39, read here as contaminated, so 0.35 flags it with a
    #: little margin. Clean text stays under 0.1% contaminated (3 of those 5,000, all real
    #: overlaps with short templated items such as "The language of A Portrait of the Artist as a
    #: Young Man is", or a Wikipedia-passage item).
    contaminated_threshold: float = 0.35
    #: Allow-list of common long n-grams (file from :func:`save_allowlist`: text of hex hashes,
    #: or a .npy uint64 array); None = no allow-list. Relative paths resolve against the cwd.
    allowlist: str | None = None

    def __post_init__(self) -> None:
        if not 1 <= self.short_n <= self.long_n:
            raise ValueError(f"need 1 <= short_n <= long_n, got short_n={self.short_n} long_n={self.long_n}")
        if not 0.0 <= self.info_threshold <= self.contaminated_threshold <= 1.0:
            raise ValueError("need 0 <= info_threshold <= contaminated_threshold <= 1, got "
                             f"{self.info_threshold} and {self.contaminated_threshold}")


@dataclass(frozen=True)
class DecontaminateJobConfig:
    """The decontaminate stage's config (``curate decontaminate --config``, a pipeline's ``decontaminate:``
    section)."""

    #: BENCH.yaml listing the benchmarks (``--benchmarks`` sets it); required.
    benchmarks: str | None = None
    decontam: DecontamConfig = field(default_factory=DecontamConfig)
    #: auto: JSON lines when the input path ends in .jsonl/.json/.ndjson (optionally .gz/.bz2) or a
    #: folder holds only such files; Parquet otherwise.
    input_format: Literal["auto", "parquet", "jsonl"] = "auto"
    #: Also check rows already dropped upstream (drop_reason not null); by default they pass through
    #: with a null status (nobody trains on them) and are counted as "unchecked".
    check_dropped: bool = False
    #: Rows per Arrow batch handed to the checker.
    batch_rows: int = 1000


@dataclass(frozen=True)
class BenchmarkSpec:
    """One entry of BENCH.yaml (presets already expanded)."""

    path: str  # glob; relative to the YAML file's folder; .gz/.bz2 read transparently
    format: Literal["jsonl", "csv"] = "jsonl"
    #: Text fields joined with spaces to form one item. JSON lists are joined too (e.g. choices);
    #: for CSV without a header, fields are column numbers ("0", "1", ...).
    fields: tuple[str, ...] = ("text",)
    #: None: each matched file is its own benchmark, named after the file (foundry/*.jsonl).
    name: str | None = None
    #: False: join whichever of ``fields`` a record has (at least one); layouts that vary by file.
    require_all_fields: bool = True
    csv_header: bool = True
    #: Prefix of the per-file names given when ``name`` is None (e.g. "foundry/").
    name_prefix: str = ""


#: Shorthands for the layouts under ../shared/data/benchmarks (and MMLU's CSV release).
PRESETS: dict[str, dict[str, Any]] = {
    # Worked solutions leak as much as questions, so both are one item.
    "gsm8k": {"format": "jsonl", "fields": ("question", "answer")},
    "humaneval": {"format": "jsonl", "fields": ("prompt", "canonical_solution")},
    # hendrycks/test data/test/*.csv: no header; question, A, B, C, D, answer letter (not text).
    "mmlu_csv": {"format": "csv", "fields": ("0", "1", "2", "3", "4"), "csv_header": False},
    # llm-foundry's converted sets: field names vary by file (query/choices/gold,
    # context/continuation, context_options, prompt/canonical_solution, chain_of_thought…); join
    # whichever text fields a record has. gold (an index) and aliases (answer variants) are not text.
    "foundry": {"format": "jsonl", "require_all_fields": False,
                "name_prefix": "foundry/",
                "fields": ("context", "context_options", "query", "choices", "continuation", "answer",
                           "chain_of_thought", "prompt", "canonical_solution")},
}


# --------------------------------------------------------------------------------------------
# Normalisation and hashing


def normalize(text: str | None) -> list[str]:
    """Lower-case, punctuation to spaces, whitespace words. None/empty → []."""
    if not text:
        return []
    return _WORD.findall(text.lower())


_TOKEN_CACHE: dict[str, int] = {}
_TOKEN_CACHE_MAX = 4_000_000  # ~0.5 GB worst case; cleared (not evicted) when full: simple and rare


def token_hashes(tokens: Sequence[str]) -> np.ndarray:
    """Stable uint64 per token (blake2b, 8 bytes), cached per process: web text reuses its words."""
    cache = _TOKEN_CACHE
    out = list(map(cache.get, tokens))
    if None in out:
        if len(cache) > _TOKEN_CACHE_MAX:
            cache.clear()
        for i, h in enumerate(out):
            if h is None:
                t = tokens[i]
                h = cache.get(t)
                if h is None:
                    # surrogatepass: lone surrogates (from broken JSON escapes) must hash, not raise.
                    h = int.from_bytes(hashlib.blake2b(t.encode("utf-8", "surrogatepass"), digest_size=8).digest(), "little")
                    cache[t] = h
                out[i] = h
    return np.array(out, dtype=np.uint64)


def ngram_hashes(th: np.ndarray, n: int) -> np.ndarray:
    """Hashes of all n-grams of a token-hash array (empty when shorter than n): sum t[i+k]·B^(n-1-k)."""
    m = len(th) - n + 1
    if m <= 0:
        return np.empty(0, dtype=np.uint64)
    h = th[:m].copy()
    for k in range(1, n):
        h *= _BASE
        h += th[k:k + m]
    return h


def text_ngrams(text: str | None, n: int) -> np.ndarray:
    return ngram_hashes(token_hashes(normalize(text)), n)


# --------------------------------------------------------------------------------------------
# Benchmarks


@dataclass(frozen=True)
class Benchmark:
    name: str
    files: tuple[str, ...]
    #: (reference "file:line", text) per item.
    items: tuple[tuple[str, str], ...]


def load_benchmark_specs(yaml_path: str | os.PathLike) -> list[BenchmarkSpec]:
    """BENCH.yaml → specs with presets expanded and paths made absolute (against the YAML's folder)."""
    import yaml

    yaml_path = Path(yaml_path)
    try:
        data = yaml.safe_load(yaml_path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise BenchmarkError(f"{yaml_path}: cannot read benchmark list: {exc}") from exc
    entries = data.get("benchmarks") if isinstance(data, dict) else None
    if not isinstance(entries, list) or not entries:
        raise BenchmarkError(f"{yaml_path}: expected a non-empty 'benchmarks:' list")
    allowed = {"name", "path", "format", "fields", "preset", "require_all_fields", "csv_header", "name_prefix"}
    specs = []
    for i, entry in enumerate(entries):
        where = f"{yaml_path}: benchmarks[{i}]"
        if not isinstance(entry, dict):
            raise BenchmarkError(f"{where}: expected a mapping, got {entry!r}")
        unknown = sorted(set(entry) - allowed)
        if unknown:
            raise BenchmarkError(f"{where}: unknown key(s) {', '.join(unknown)}; allowed: {', '.join(sorted(allowed))}")
        entry = dict(entry)
        preset = entry.pop("preset", None)
        if preset is not None:
            if preset not in PRESETS:
                raise BenchmarkError(f"{where}: unknown preset {preset!r}; known: {', '.join(PRESETS)}")
            entry = {**PRESETS[preset], **entry}
        if not entry.get("path"):
            raise BenchmarkError(f"{where}: 'path' is required")
        path = os.path.expanduser(str(entry["path"]))
        entry["path"] = os.path.normpath(path if os.path.isabs(path) else str(yaml_path.parent.resolve() / path))
        fields = entry.get("fields", ("text",))
        entry["fields"] = tuple(str(f) for f in ([fields] if isinstance(fields, (str, int)) else fields))
        if entry.get("format", "jsonl") not in ("jsonl", "csv"):
            raise BenchmarkError(f"{where}: format must be jsonl or csv, got {entry['format']!r}")
        if entry.get("name") is None and preset in ("gsm8k", "humaneval"):
            entry["name"] = preset
        specs.append(BenchmarkSpec(**entry))
    return specs


def _open_text(path: str) -> io.TextIOBase:
    # errors="strict": a benchmark file that is not UTF-8 is malformed, and the error says where.
    if path.endswith(".gz"):
        return gzip.open(path, "rt", encoding="utf-8", newline="")
    if path.endswith(".bz2"):
        return bz2.open(path, "rt", encoding="utf-8", newline="")
    return open(path, encoding="utf-8", newline="")  # caller closes


def _as_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (list, tuple)):
        parts = [_as_text(v) for v in value]
        return " ".join(p for p in parts if p)
    if isinstance(value, dict):
        return None
    return str(value)


def _item_text(record: Any, spec: BenchmarkSpec, where: str) -> str:
    parts = []
    for f in spec.fields:
        if isinstance(record, dict):
            value = record.get(f)
        else:  # CSV without header: column numbers
            value = record[int(f)] if int(f) < len(record) else None
        text = _as_text(value)
        if text is None:
            if spec.require_all_fields:
                raise BenchmarkError(f"{where}: missing field {f!r}")
            continue
        parts.append(text)
    if not parts:
        raise BenchmarkError(f"{where}: none of the fields {list(spec.fields)} present")
    return " ".join(parts)


def _read_file(path: str, spec: BenchmarkSpec) -> list[tuple[str, str]]:
    base = os.path.basename(path)
    items: list[tuple[str, str]] = []
    try:
        with _open_text(path) as f:
            if spec.format == "jsonl":
                lineno = 0
                for lineno, line in enumerate(f, 1):  # lineno is used in errors below
                    if not line.strip():
                        continue
                    where = f"{path}:{lineno}"
                    try:
                        record = json.loads(line)
                    except json.JSONDecodeError as exc:
                        raise BenchmarkError(f"{where}: invalid JSON: {exc}") from exc
                    if not isinstance(record, dict):
                        raise BenchmarkError(f"{where}: expected a JSON object, got {type(record).__name__}")
                    items.append((f"{base}:{lineno}", _item_text(record, spec, where)))
            else:
                if not spec.csv_header and not all(x.isdigit() for x in spec.fields):
                    raise BenchmarkError(f"{path}: csv_header is false, so fields must be column numbers, got {list(spec.fields)}")
                reader = csv.reader(f, strict=True)
                header: list[str] | None = None
                try:
                    for row in reader:
                        where = f"{path}:{reader.line_num}"
                        if not row:
                            continue
                        if spec.csv_header and header is None:
                            header = row
                            missing = [x for x in spec.fields if x not in header] if spec.require_all_fields else []
                            if missing:
                                raise BenchmarkError(f"{where}: header has no column(s) {missing}")
                            continue
                        if header is not None:
                            if len(row) != len(header):
                                raise BenchmarkError(f"{where}: {len(row)} columns, header has {len(header)}")
                            record: Any = dict(zip(header, row))
                        else:
                            record = row
                        items.append((f"{base}:{reader.line_num}", _item_text(record, spec, where)))
                except csv.Error as exc:
                    raise BenchmarkError(f"{path}:{reader.line_num}: malformed CSV: {exc}") from exc
    except UnicodeDecodeError as exc:
        raise BenchmarkError(f"{path}: not UTF-8 ({exc}); line {_line_of_bad_byte(path, exc)}") from exc
    except (OSError, EOFError) as exc:
        raise BenchmarkError(f"{path}: cannot read: {exc}") from exc
    if not items:
        raise BenchmarkError(f"{path}: no benchmark items")
    return items


def _line_of_bad_byte(path: str, exc: UnicodeDecodeError) -> str:
    """Best effort: the line holding the first undecodable byte (the decoder only knows its chunk)."""
    try:
        opener = gzip.open if path.endswith(".gz") else bz2.open if path.endswith(".bz2") else open
        with opener(path, "rb") as f:
            for lineno, raw in enumerate(f, 1):
                try:
                    raw.decode("utf-8")
                except UnicodeDecodeError:
                    return str(lineno)
    except OSError:
        pass
    return "?"


def _file_stem(path: str) -> str:
    return re.sub(r"(\.(jsonl|json|csv|tsv))?(\.(gz|bz2))?$", "", os.path.basename(path))


def load_benchmarks(specs: Iterable[BenchmarkSpec]) -> list[Benchmark]:
    """Read every spec's files; any malformed file raises :class:`BenchmarkError` (file:line)."""
    out: list[Benchmark] = []
    for spec in specs:
        files = sorted(p for p in globlib.glob(spec.path, recursive=True) if os.path.isfile(p))
        if not files:
            raise BenchmarkError(f"benchmark path {spec.path!r} matches no file")
        if spec.name is None:
            out.extend(Benchmark(spec.name_prefix + _file_stem(p), (p,), tuple(_read_file(p, spec))) for p in files)
        else:
            items = [it for p in files for it in _read_file(p, spec)]
            out.append(Benchmark(spec.name, tuple(files), tuple(items)))
    names = Counter(b.name for b in out)
    dup = sorted(n for n, c in names.items() if c > 1)
    if dup:
        raise BenchmarkError(f"benchmark names must be unique; repeated: {', '.join(dup)} (give each entry a name)")
    return out


# --------------------------------------------------------------------------------------------
# Allow-list


def build_allowlist(texts: Iterable[str], top_k: int = 10_000, n: int = 13, min_count: int = 2) -> np.ndarray:
    """The ``top_k`` most frequent n-gram hashes of a reference corpus seen at least ``min_count``
    times (sorted uint64). Phrases common in ordinary text (boilerplate, quotations, option patterns)
    then cannot make a document contaminated by themselves."""
    chunks = [np.unique(text_ngrams(t, n)) for t in texts]  # per-document presence, not raw repeats
    allh = np.concatenate(chunks) if chunks else np.empty(0, dtype=np.uint64)
    keys, counts = np.unique(allh, return_counts=True)
    keep = counts >= min_count
    keys, counts = keys[keep], counts[keep]
    if len(keys) > top_k:
        order = np.argsort(-counts, kind="stable")[:top_k]
        keys = keys[order]
    return np.sort(keys)


def allowlist_from_phrases(phrases: Iterable[str], n: int = 13) -> np.ndarray:
    """Every n-gram of each phrase (e.g. "a i only b ii only c iii only d ii and iii" patterns)."""
    parts = [text_ngrams(p, n) for p in phrases]
    return np.unique(np.concatenate(parts)) if parts else np.empty(0, dtype=np.uint64)


def save_allowlist(path: str | os.PathLike, hashes: np.ndarray, n: int = 13) -> None:
    """Plain text: a header naming the hash scheme and n, then one 16-digit hex hash per line."""
    body = "\n".join(f"{int(h):016x}" for h in np.sort(np.asarray(hashes, dtype=np.uint64)))
    Path(path).write_text(f"{ALLOWLIST_HEADER}{n}\n{body}\n", encoding="ascii")


def load_allowlist(path: str | os.PathLike, n: int = 13) -> np.ndarray:
    path = str(path)
    if path.endswith(".npy"):
        return np.sort(np.load(path, allow_pickle=False).astype(np.uint64))
    with open(path, encoding="ascii") as f:
        first = f.readline().strip()
        if not first.startswith(ALLOWLIST_HEADER):
            raise BenchmarkError(f"{path}:1: not an allow-list of this hash scheme (expected {ALLOWLIST_HEADER!r}…)")
        if first[len(ALLOWLIST_HEADER):] != str(n):
            raise BenchmarkError(f"{path}:1: allow-list is for n={first[len(ALLOWLIST_HEADER):]}, config uses {n}")
        values = []
        for lineno, line in enumerate(f, 2):
            line = line.strip()
            if line:
                try:
                    values.append(int(line, 16))
                except ValueError as exc:
                    raise BenchmarkError(f"{path}:{lineno}: not a hex hash: {line!r}") from exc
    return np.sort(np.array(values, dtype=np.uint64))


# --------------------------------------------------------------------------------------------
# Index


@dataclass(frozen=True, eq=False)
class BenchmarkIndex:
    """Everything a worker needs; numpy arrays only (cheap to broadcast)."""

    long_n: int
    short_n: int
    keys_long: np.ndarray  # sorted unique uint64 long-n-gram hashes, allow-list removed
    item_long: np.ndarray  # int32: an item (the first) holding each long n-gram
    keys_short: np.ndarray  # sorted unique uint64 short-n-gram hashes
    offsets_short: np.ndarray  # int64, len(keys_short)+1: CSR into items_short
    items_short: np.ndarray  # int32 item ids per key (each (key, item) pair once)
    item_n_short: np.ndarray  # int32: distinct short n-grams per item (0: too short, never scored)
    item_bench: np.ndarray  # int32: benchmark index per item
    item_refs: tuple[str, ...]  # "file:line" per item
    bench_names: tuple[str, ...]
    #: Bit filters over the top bits of each key set. A binary search into millions of keys is a
    #: chain of cache misses; one bit probe rejects ~97% of a document's n-grams first, so only
    #: candidates are searched (measured: the searches were ~half the time per document before).
    bloom_long: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint8))
    bloom_short: np.ndarray = field(default_factory=lambda: np.zeros(1, np.uint8))
    bloom_shift: int = 64
    #: Per benchmark: items, items_short (fewer than short_n words), ngrams_long, ngrams_long_allowlisted, ngrams_short.
    stats: dict[str, dict[str, int]] = field(default_factory=dict)


def _bloom_bits(n_keys: int) -> int:
    """log2 of the filter size: >= 32 bits per key (fill <= 3%), at least 2^16, at most 2^31 bits."""
    return int(min(31, max(16, np.ceil(np.log2(max(n_keys, 1) * 32)))))


def _make_bloom(keys: np.ndarray, bits: int) -> np.ndarray:
    idx = keys >> np.uint64(64 - bits)
    out = np.zeros(1 << (bits - 3), dtype=np.uint8)
    np.bitwise_or.at(out, (idx >> np.uint64(3)).astype(np.int64), (np.uint8(1) << (idx & np.uint64(7)).astype(np.uint8)))
    return out


def _bloom_hits(bloom: np.ndarray, shift: int, q: np.ndarray) -> np.ndarray:
    idx = q >> np.uint64(shift)
    return ((bloom[(idx >> np.uint64(3)).astype(np.intp)] >> (idx & np.uint64(7)).astype(np.uint8)) & 1).astype(bool)


def _sorted_unique(a: np.ndarray) -> np.ndarray:
    """np.unique for the small arrays of one document, without its general-purpose overhead."""
    a = np.sort(a)
    if len(a) > 1:
        a = a[np.concatenate(([True], a[1:] != a[:-1]))]
    return a


def _unique_pairs(h: np.ndarray, item: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct (hash, item) pairs sorted by hash, then item."""
    order = np.lexsort((item, h))
    h, item = h[order], item[order]
    keep = np.ones(len(h), dtype=bool)
    keep[1:] = (h[1:] != h[:-1]) | (item[1:] != item[:-1])
    return h[keep], item[keep]


def _item_ngrams(th: np.ndarray, lens: np.ndarray, n: int) -> tuple[np.ndarray, np.ndarray]:
    """N-grams of every item at once over the concatenated token hashes: (hash, item id) pairs,
    keeping only windows that lie inside one item (vectorised; no per-item numpy calls)."""
    h = ngram_hashes(th, n)
    if not len(h):
        return h, np.empty(0, np.int32)
    item = np.repeat(np.arange(len(lens), dtype=np.int32), lens)[: len(h)]
    ends = np.cumsum(lens)
    inside = np.arange(len(h)) + n <= ends[item]
    return h[inside], item[inside]


def build_index(benchmarks: Sequence[Benchmark], cfg: DecontamConfig = DecontamConfig(),
                allowlist: np.ndarray | None = None) -> BenchmarkIndex:
    if allowlist is None and cfg.allowlist:
        allowlist = load_allowlist(cfg.allowlist, cfg.long_n)
    allow = np.unique(np.asarray(allowlist if allowlist is not None else [], dtype=np.uint64))
    tok, refs, item_bench = [], [], []
    for b, bench in enumerate(benchmarks):
        for ref, text in bench.items:
            tok.append(token_hashes(normalize(text)))
            refs.append(ref)
            item_bench.append(b)
    lens = np.array([len(t) for t in tok], dtype=np.int64)
    th = np.concatenate(tok) if tok else np.empty(0, np.uint64)
    bench_of = np.array(item_bench, dtype=np.int32)

    lh, li = _unique_pairs(*_item_ngrams(th, lens, cfg.long_n))
    sh, si = _unique_pairs(*_item_ngrams(th, lens, cfg.short_n))
    # An item with fewer than short_n words has no n-grams: it is skipped (counted as items_short)
    # rather than matched as a whole short phrase, which would flag any page that says, say, "the
    # capital of france". Items of short_n..long_n-1 words take part in the ratio step only.
    item_n = np.bincount(si, minlength=len(lens)).astype(np.int32)

    stats: dict[str, dict[str, int]] = {}
    nb = len(benchmarks)
    lb = _unique_pairs(lh, bench_of[li]) if len(lh) else (lh, li)
    sb = _unique_pairs(sh, bench_of[si]) if len(sh) else (sh, si)
    n_long = np.bincount(lb[1], minlength=nb)
    n_allowed = np.bincount(lb[1][np.isin(lb[0], allow)], minlength=nb) if len(allow) else np.zeros(nb, int)
    n_short = np.bincount(sb[1], minlength=nb)
    n_items = np.bincount(bench_of, minlength=nb)
    n_too_short = np.bincount(bench_of[item_n == 0], minlength=nb)
    for b, bench in enumerate(benchmarks):
        stats[bench.name] = {"items": int(n_items[b]), "items_short": int(n_too_short[b]),
                             "ngrams_long": int(n_long[b]), "ngrams_long_allowlisted": int(n_allowed[b]),
                             "ngrams_short": int(n_short[b])}

    first = np.ones(len(lh), dtype=bool)  # pairs are sorted by hash then item: keep the first item
    first[1:] = lh[1:] != lh[:-1]
    lh, li = lh[first], li[first]
    if len(allow):
        keep = ~np.isin(lh, allow)
        lh, li = lh[keep], li[keep]
    keys, starts = np.unique(sh, return_index=True)
    offsets = np.append(starts, len(sh)).astype(np.int64)
    bits = _bloom_bits(max(len(lh), len(keys)))
    return BenchmarkIndex(cfg.long_n, cfg.short_n, lh, li.astype(np.int32), keys, offsets, si.astype(np.int32),
                          item_n, bench_of, tuple(refs), tuple(b.name for b in benchmarks),
                          _make_bloom(lh, bits), _make_bloom(keys, bits), 64 - bits, stats)


# --------------------------------------------------------------------------------------------
# Checking documents


@dataclass(frozen=True, slots=True)
class Verdict:
    status: str  # clean | partial | contaminated
    benchmark: str | None  # set unless clean
    item: str | None  # "file:line" of the benchmark item, set unless clean
    #: Max short-n-gram ratio over items; for a long-n-gram hit, the ratio of the matched item.
    ratio: float
    ngram: int | None  # long_n for a long-n-gram hit, short_n for a ratio verdict, None when clean


_CLEAN0 = Verdict(CLEAN, None, None, 0.0, None)


def _find(keys: np.ndarray, bloom: np.ndarray, shift: int, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(indices into q, positions in keys) of the queries present in ``keys``, in query order."""
    cand = np.flatnonzero(_bloom_hits(bloom, shift, q))
    if not len(cand) or not len(keys):
        return cand[:0], cand[:0]
    pos = np.searchsorted(keys, q[cand])
    pos[pos == len(keys)] = 0
    found = keys[pos] == q[cand]
    return cand[found], pos[found]


def _short_overlap(index: BenchmarkIndex, hs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(item ids, shared distinct short n-grams) for items sharing at least one with ``hs`` (unique)."""
    _, pos = _find(index.keys_short, index.bloom_short, index.bloom_shift, hs)
    if not len(pos):
        return pos[:0].astype(np.int32), pos[:0]
    starts, ends = index.offsets_short[pos], index.offsets_short[pos + 1]
    lens = ends - starts
    # Concatenate the postings ranges without a Python loop: start of each range + position in it.
    idx = np.repeat(starts - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))
    items = np.sort(index.items_short[idx])
    # Run lengths of the sorted ids = shared distinct n-grams per item (hs is unique).
    edges = np.flatnonzero(np.concatenate(([True], items[1:] != items[:-1], [True])))
    return items[edges[:-1]], np.diff(edges)


def check(text: str | None, index: BenchmarkIndex, cfg: DecontamConfig = DecontamConfig()) -> Verdict:
    """Algorithm 1 for one document. Texts shorter than short_n words cannot share an n-gram: clean.

    As specified, the ratio divides by the smaller side, so a very short document (say 10 words, 4
    distinct 7-grams) that shares one 7-gram with any item is partial or contaminated; web pages
    that short are normally dropped upstream, and the verdict says which item and ratio decided.
    """
    th = token_hashes(normalize(text))
    if len(th) < index.short_n:
        return _CLEAN0
    hl = ngram_hashes(th, index.long_n)
    hit, pos = _find(index.keys_long, index.bloom_long, index.bloom_shift, hl)
    hs = _sorted_unique(ngram_hashes(th, index.short_n))
    items, shared = _short_overlap(index, hs)
    ratios = shared / np.minimum(len(hs), index.item_n_short[items]) if len(items) else None
    if len(hit):
        item = int(index.item_long[pos[0]])  # the document's first hit, in text order
        k = np.searchsorted(items, item)
        ratio = float(ratios[k]) if ratios is not None and k < len(items) and items[k] == item else 0.0
        return Verdict(CONTAMINATED, index.bench_names[index.item_bench[item]], index.item_refs[item],
                       ratio, index.long_n)
    if ratios is None:
        return _CLEAN0
    best = int(np.argmax(ratios))
    ratio = float(ratios[best])
    if ratio <= cfg.info_threshold:
        return Verdict(CLEAN, None, None, ratio, None)
    item = int(items[best])
    status = CONTAMINATED if ratio >= cfg.contaminated_threshold else PARTIAL
    return Verdict(status, index.bench_names[index.item_bench[item]], index.item_refs[item], ratio, index.short_n)


# --------------------------------------------------------------------------------------------
# Arrow batches (the mapInArrow body)

#: Columns appended to every input row.
OUTPUT_COLUMNS = ("decontam_status", "decontam_benchmark", "decontam_item", "decontam_ratio", "decontam_ngram")


def output_fields():
    import pyarrow as pa

    return [pa.field("decontam_status", pa.string()), pa.field("decontam_benchmark", pa.string()),
            pa.field("decontam_item", pa.string()), pa.field("decontam_ratio", pa.float64()),
            pa.field("decontam_ngram", pa.int32())]


def _texts(column: Any) -> list[str | None]:
    try:
        return column.to_pylist()
    except UnicodeDecodeError:  # invalid UTF-8 from a lax writer: decode lossily, never fail the batch
        import pyarrow as pa

        return [None if b is None else b.decode("utf-8", "replace")
                for b in column.cast(pa.large_binary() if pa.types.is_large_string(column.type) else pa.binary()).to_pylist()]


def decontaminate_batches(batches: Iterator[Any], index: Any, cfg: DecontamConfig,
                          check_dropped: bool = False) -> Iterator[Any]:
    """Append the decontam columns to each batch; every input row comes out.

    ``index`` may be a Spark Broadcast (unwrapped here, on the executor, so the driver's closure
    stays small). Rows dropped upstream (``drop_reason`` not null) pass through with null status
    unless ``check_dropped``. A row whose check raises keeps its row with status ``error`` rather
    than failing the task (it has never happened on real data; accounting would show it).
    """
    import pyarrow as pa

    if hasattr(index, "value"):
        index = index.value
    fields = output_fields()
    for batch in batches:
        texts = _texts(batch.column(batch.schema.get_field_index("text")))
        di = batch.schema.get_field_index("drop_reason")
        dropped = batch.column(di).to_pylist() if di >= 0 and not check_dropped else [None] * len(texts)
        cols: list[list[Any]] = [[] for _ in fields]
        for text, drop in zip(texts, dropped):
            if drop is not None:
                row: tuple = (None, None, None, None, None)
            else:
                try:
                    v = check(text, index, cfg)
                    row = (v.status, v.benchmark, v.item, v.ratio, v.ngram)
                except Exception as exc:  # one bad row must not fail the job
                    row = ("error", None, f"{type(exc).__name__}: {exc}"[:200], None, None)
            for c, value in zip(cols, row):
                c.append(value)
        arrays = list(batch.columns) + [pa.array(c, type=f.type) for c, f in zip(cols, fields)]
        yield pa.RecordBatch.from_arrays(arrays, schema=pa.schema(list(batch.schema) + fields))


def build_report(index: BenchmarkIndex, benchmarks: list[Benchmark], cfg: DecontaminateJobConfig,
                 per_bench: dict[str, dict[str, int]], by_status: dict[str, int]) -> dict:
    """The decontaminate stage's ``_report.json``: the thresholds, the documents by status and, per
    benchmark, its files, items, n-gram counts and the documents it contaminated."""
    d = cfg.decontam
    out = {}
    for bench in benchmarks:
        st = index.stats[bench.name]
        hits = per_bench.get(bench.name, {})
        out[bench.name] = {
            "files": list(bench.files), "items": st["items"],
            f"items_under_{d.short_n}_words": st["items_short"],
            f"ngrams_{d.long_n}": st["ngrams_long"], f"ngrams_{d.long_n}_allowlisted": st["ngrams_long_allowlisted"],
            f"ngrams_{d.short_n}": st["ngrams_short"],
            "docs_contaminated": hits.get(CONTAMINATED, 0), "docs_partial": hits.get(PARTIAL, 0),
        }
    return {"benchmarks_file": cfg.benchmarks, "long_n": d.long_n, "short_n": d.short_n,
            "info_threshold": d.info_threshold, "contaminated_threshold": d.contaminated_threshold,
            "allowlist": d.allowlist, "docs_by_status": by_status, "benchmarks": out}


# --------------------------------------------------------------------------------------------
# Timing helpers (reused by bench/)


def real_documents(shared_data: str | os.PathLike, n_docs: int = 5000, words: int = 300) -> list[str]:
    """~``words``-word documents of real text: WikiText-2 articles, then Brown corpus texts, in chunks."""
    import zipfile

    root = Path(shared_data)
    stream: list[str] = []
    for name in ("valid.txt", "test.txt"):
        stream.extend((root / "corpora/wikitext2" / name).read_text(encoding="utf-8").split())
    with zipfile.ZipFile(root / "corpora/nltk/brown.zip") as z:
        for info in z.infolist():
            if not info.is_dir() and re.search(r"/c[a-r]\d\d$", info.filename):
                # Brown files are word/TAG tokens; keep the words.
                stream.extend(tok.rsplit("/", 1)[0] for tok in z.read(info).decode("utf-8", "replace").split())
    docs = [" ".join(stream[i:i + words]) for i in range(0, len(stream) - words + 1, words)]
    return docs[:n_docs]


def time_check(docs: Sequence[str], index: BenchmarkIndex, cfg: DecontamConfig = DecontamConfig(),
               repeat: int = 1) -> dict[str, Any]:
    """Docs/s of :func:`check` on one core (one process, one thread), plus the status counts.

    With ``repeat`` > 1 the passes after the first run with a warm token cache, as a long-running
    worker does; the best pass is the per-core figure on a shared machine (the load average is
    recorded because other processes slow every pass).
    """
    passes, cpu = [], []
    for _ in range(max(1, repeat)):
        t0, c0 = time.perf_counter(), time.process_time()
        counts = Counter(check(doc, index, cfg).status for doc in docs)
        passes.append(len(docs) / (time.perf_counter() - t0))
        cpu.append(len(docs) / max(time.process_time() - c0, 1e-9))
    return {"docs": len(docs), "docs_per_s": round(max(passes), 1), "passes_docs_per_s": [round(p, 1) for p in passes],
            # CPU seconds of this process: the per-core figure even when other jobs share the cores.
            "docs_per_cpu_s": round(max(cpu), 1),
            "status": dict(counts), "load_avg_1m": round(os.getloadavg()[0], 2)}


def _main(argv: list[str] | None = None) -> int:
    """python -m curation.decontam {allowlist,bench} … (small utilities; the job is spark_jobs/decontaminate.py)."""
    import argparse

    p = argparse.ArgumentParser(prog="python -m curation.decontam")
    sub = p.add_subparsers(dest="cmd", required=True)
    a = sub.add_parser("allowlist", help="build an allow-list of frequent n-grams from text files (one document per blank-line-separated block)")
    a.add_argument("inputs", nargs="+")
    a.add_argument("--output", "-o", required=True)
    a.add_argument("--top-k", type=int, default=10_000)
    a.add_argument("--min-count", type=int, default=2)
    a.add_argument("-n", type=int, default=13)
    b = sub.add_parser("bench", help="time the pure core on real documents against a BENCH.yaml")
    b.add_argument("benchmarks")
    b.add_argument("--shared-data", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"))
    b.add_argument("--docs", type=int, default=5000)
    b.add_argument("--allowlist")
    b.add_argument("--repeat", type=int, default=3)
    args = p.parse_args(argv)
    if args.cmd == "allowlist":
        texts = [block for path in args.inputs for block in re.split(r"\n\s*\n", Path(path).read_text(encoding="utf-8", errors="replace"))]
        hashes = build_allowlist(texts, args.top_k, args.n, args.min_count)
        save_allowlist(args.output, hashes, args.n)
        print(f"{len(hashes)} {args.n}-gram hashes from {len(texts)} documents → {args.output}")
        return 0
    cfg = DecontamConfig(allowlist=args.allowlist)
    t0 = time.perf_counter()
    index = build_index(load_benchmarks(load_benchmark_specs(args.benchmarks)), cfg)
    print(f"index: {len(index.item_refs)} items, {len(index.keys_long)} {cfg.long_n}-grams, "
          f"{len(index.keys_short)} {cfg.short_n}-grams, built in {time.perf_counter() - t0:.1f}s")
    print(json.dumps(time_check(real_documents(args.shared_data, args.docs), index, cfg, args.repeat)))
    return 0


if __name__ == "__main__":
    raise SystemExit(_main())

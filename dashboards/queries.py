"""The dashboard's DuckDB SQL, in one place, as plain functions of a connection (no Streamlit).

Every function takes a connection from :func:`curation.query.run_sql.connect` (views named after the
run's stage folders) and returns a small result: aggregation happens in DuckDB, because a run holds
far more documents than a browser page, or pandas, should. Tests call these directly and compare
them with the pages.

Tokens are the ``n_tokens`` column when a table has one (a ``curate mix`` output), else counted with
the run's tokenizer (:func:`token_counter`, :func:`token_table`): :mod:`curation.query.funnel`'s
definition, and its query, bases, shares and row order make the funnel table, so the page and
``curate funnel`` agree by construction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import pyarrow as pa
import yaml

from curation import rundir, stages
from curation.filters.score_filters import CLASSIFIER_DROP_PREFIXES
from curation.query import confine
from curation.query import funnel as funnel_mod
from curation.schema import ERROR_PREFIX


def doc_stages() -> tuple[str, ...]:
    """Document-stage views (curation.stages, with older folder names), latest first: the latest
    holds the whole funnel (rows dropped upstream pass through every later stage)."""
    return tuple(f for st in reversed(stages.document_stages()) for f in st.folders)


DOC_STAGES = doc_stages()
#: ``curate funnel --tokens words``' expression: whitespace words (a regex split).
WHITESPACE_TOKENS = funnel_mod.WHITESPACE_TOKENS
#: Fine bins of a score's range: slider thresholds sit on their edges, so the counts a threshold
#: keeps are exact sums of bins, computed once, and moving the slider runs no query.
FINE_BINS = 200
KEPT = "kept"


def doc_view(tables: dict[str, str]) -> str | None:
    """The latest document stage among the run's views (None when the run has none)."""
    return next((t for t in doc_stages() if t in tables), None)


def columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column name → DuckDB type of a view."""
    return {r[0]: r[1] for r in con.execute(f'DESCRIBE "{view}"').fetchall()}


def token_expr(cols: dict[str, str] | list[str]) -> str:
    return funnel_mod.token_expr(list(cols))


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------------- funnel


def stage_config(run_dir: Path, stage: str) -> dict | None:
    """A stage folder's ``_config.yaml`` (what the job ran with), or None when missing, malformed
    or linked out of the run (a _config.yaml that resolves outside the run is not read)."""
    try:
        cfg = yaml.safe_load(confine.Confinement.under(run_dir).read_text(run_dir / stage / rundir.CONFIG))
    except (OSError, confine.OutsideRunError, yaml.YAMLError):
        return None
    return cfg if isinstance(cfg, dict) else None


def config_steps(cfg: dict | None) -> list[dict]:
    """The well-formed ``steps`` entries of a stage config, in order."""
    steps = (cfg or {}).get("steps")
    return [s for s in steps if isinstance(s, dict) and isinstance(s.get("name"), str)] if isinstance(steps, list) else []


def step_order(run_dir: Path) -> list[str]:
    """Drop-reason prefixes in pipeline order (:func:`curation.query.funnel.step_order`, so the table reads
    top to bottom like the pipeline ran), with the configs read through the run's confinement."""
    return funnel_mod.step_order(Path(run_dir) / stages.document_stages()[-1].folder,
                                 lambda folder: stage_config(Path(run_dir), folder.name))


def token_counter(run_dir: Path, choice: str | None = None) -> funnel_mod.TokenCounter:
    """How the run's tokens are counted (:func:`curation.query.funnel.token_counter`: the run's
    mixture tokenizer, else the shipped default, else words), configs read through the confinement."""
    return funnel_mod.token_counter(Path(run_dir) / stages.document_stages()[-1].folder, choice,
                                    lambda folder: stage_config(Path(run_dir), folder.name))


def token_table(con: duckdb.DuckDBPyConnection, view: str, counter: funnel_mod.TokenCounter,
                name: str | None = None) -> str:
    """A table of the view's documents without their text, with each one's token count
    (``n_tokens``, by ``counter``), so the Funnel and Scores aggregates read a small in-memory
    table instead of tokenizing again. The view itself when it already has ``n_tokens``."""
    cols = columns(con, view)
    if "n_tokens" in cols:
        return view
    name = name or f"_dashboard_tokens_{view}"
    keep = [c for c in ("drop_reason", "lang", "scores") if c in cols]
    select = ", ".join([*map(quote, keep), "text" if "text" in cols else "NULL::VARCHAR AS text"])
    reader = con.sql(f"SELECT {select} FROM {quote(view)}").to_arrow_reader(funnel_mod.STREAM_ROWS)
    batches = []
    for batch in reader:
        n = counter.count(batch.column("text").to_pylist())
        batches.append(pa.RecordBatch.from_arrays([*(batch.column(c) for c in keep), pa.array(n, pa.int64())],
                                                  names=[*keep, "n_tokens"]))
    counted = pa.Table.from_batches(batches) if batches else pa.table(
        {**{c: pa.array([], reader.schema.field(c).type) for c in keep}, "n_tokens": pa.array([], pa.int64())})
    con.register("_dashboard_counted", counted)
    try:
        con.execute(f"CREATE OR REPLACE TABLE {quote(name)} AS SELECT * FROM _dashboard_counted")
    finally:
        con.unregister("_dashboard_counted")
    return name


def funnel(con: duckdb.DuckDBPyConnection, view: str, run_dir: Path,
           counter: funnel_mod.TokenCounter | None = None) -> pd.DataFrame:
    """Rows and tokens per (stage, outcome, lang), in pipeline order, and whether each outcome was
    decided on a document (``document``; else per WARC record, before extraction).

    Grouped by language once, so the page's language filter is a pandas filter over a few dozen
    rows instead of a new scan of every document. Tokens: the view's ``n_tokens`` (a
    :func:`token_table`), else counted by ``counter`` (default: :func:`token_counter`, what
    ``curate funnel`` uses)."""
    counter = counter or token_counter(run_dir)
    found = funnel_mod.outcomes(con, quote(view), by="lang", counter=counter)  # the query `curate funnel` runs
    rows = funnel_mod.rows_of(found, True, step_order(run_dir))
    return pd.DataFrame([(r.stage, r.outcome, r.by, r.docs, r.tokens, r.document) for r in rows],
                        columns=["stage", "outcome", "lang", "docs", "tokens", "document"])


def extract_accounting(run_dir: Path) -> dict | None:
    """The extract stage's ``_accounting.json`` (records read and their outcomes), read through the
    run's confinement; None when missing, malformed or outside the run."""
    allowed = confine.Confinement.under(run_dir)

    def read(folder: Path) -> dict | None:
        try:
            return read_json(folder / rundir.ACCOUNTING, allowed)
        except (OSError, ValueError, confine.OutsideRunError):
            return None

    return funnel_mod.extract_accounting(Path(run_dir) / stages.document_stages()[-1].folder, read)


def funnel_rows(raw: pd.DataFrame) -> list[funnel_mod.FunnelRow]:
    return [funnel_mod.FunnelRow(r.stage, r.outcome, int(r.docs), int(r.tokens), r.lang, bool(r.document))
            for r in raw.itertuples(index=False)]


def funnel_bases(raw: pd.DataFrame, accounting: dict | None, langs: list[str] | None = None) -> funnel_mod.Bases:
    """Records read and documents (:func:`curation.query.funnel.bases_of`); with a language filter,
    those of the chosen languages' rows (a WARC record has no language)."""
    df = raw if not langs else raw[raw["lang"].fillna("(none)").isin(langs)]
    return funnel_mod.bases_of(funnel_rows(df), None if langs else accounting)


def funnel_view(raw: pd.DataFrame, langs: list[str] | None = None, bases: funnel_mod.Bases | None = None,
                unit: str = "tokens") -> pd.DataFrame:
    """The funnel table shown: one row per outcome (for the chosen languages) with its shares of
    records read, of documents (blank for a record-level outcome) and of ``unit`` (tokens or words),
    in percent: :func:`curation.query.funnel.shares`, as ``curate funnel`` prints them."""
    df = raw if not langs else raw[raw["lang"].fillna("(none)").isin(langs)]
    out = (df.groupby(["stage", "outcome", "document"], sort=False, as_index=False)[["docs", "tokens"]].sum())
    rows = [funnel_mod.FunnelRow(r.stage, r.outcome, int(r.docs), int(r.tokens), None, bool(r.document))
            for r in out.itertuples(index=False)]
    bases = bases or funnel_bases(raw, None, langs)
    pct = {"of_records": "% of records", "of_documents": "% of documents", "of_tokens": f"% of {unit}"}
    table = pd.DataFrame([{"stage": s["stage"], "outcome": s["outcome"], "records": s["docs"],
                           pct["of_records"]: s["of_records"], pct["of_documents"]: s["of_documents"],
                           unit: s["tokens"], pct["of_tokens"]: s["of_tokens"]} for s in funnel_mod.shares(rows, bases)],
                         columns=["stage", "outcome", "records", pct["of_records"], pct["of_documents"], unit,
                                  pct["of_tokens"]])
    for col in pct.values():
        table[col] = (100 * table[col].astype(float)).round(2)
    return table


# ------------------------------------------------------------------------------------- scores


def score_keys(con: duckdb.DuckDBPyConnection, view: str) -> list[str]:
    if "scores" not in columns(con, view):
        return []
    rows = con.execute(f"SELECT DISTINCT unnest(map_keys(scores)) AS k FROM {quote(view)} ORDER BY 1").fetchall()
    return [r[0] for r in rows if r[0] is not None]


@dataclass
class ScoreHistogram:
    """One score's distribution in ``FINE_BINS`` equal bins of [lo, hi], with tokens per bin.

    Bin ``k`` holds the values v with ``edge(k) <= v < edge(k + 1)`` (the last bin also holds
    hi), where ``edge(k) = lo + k * width`` is computed with the same doubles in DuckDB and in
    Python, so ``kept(k)`` equals ``count(*) WHERE score >= edge(k)`` exactly.
    """

    key: str
    lo: float
    hi: float
    width: float
    docs: np.ndarray
    tokens: np.ndarray
    #: Documents (and their tokens) in the population without this score (or a non-finite one).
    missing_docs: int = 0
    missing_tokens: int = 0
    total_docs: int = 0
    total_tokens: int = 0
    extra: dict = field(default_factory=dict)

    def edge(self, k: int) -> float:
        return self.lo + k * self.width

    def bin_at(self, value: float) -> int:
        """The bin whose left edge is nearest ``value`` (clamped to the range): where the slider
        starts for a cut the pipeline applied, which rarely falls on an edge."""
        return int(min(FINE_BINS - 1, max(0, round((value - self.lo) / self.width))))

    def kept(self, k: int) -> tuple[int, int]:
        """(documents, tokens) whose score is >= edge(k)."""
        return int(self.docs[k:].sum()), int(self.tokens[k:].sum())

    def coarse(self, bins: int = 50) -> pd.DataFrame:
        """A display histogram: ``bins`` groups of consecutive fine bins."""
        group = max(1, len(self.docs) // bins)
        idx = np.arange(len(self.docs)) // group
        docs = np.bincount(idx, weights=self.docs).astype(int)
        tokens = np.bincount(idx, weights=self.tokens).astype(int)
        starts = [self.edge(int(i * group)) for i in range(len(docs))]
        ends = [self.edge(min(len(self.docs), int((i + 1) * group))) for i in range(len(docs))]
        return pd.DataFrame({"bin_start": np.round(starts, 6), "bin_end": np.round(ends, 6), "docs": docs, "tokens": tokens})


def lang_in(langs: list[str] | tuple[str, ...]) -> str:
    return "lang IN (" + ", ".join("'" + x.replace("'", "''") + "'" for x in langs) + ")"


def population_filter(kept_only: bool, langs: list[str] | tuple[str, ...] | None = None) -> str:
    parts = ["TRUE"]
    if kept_only:
        parts.append("drop_reason IS NULL")
    if langs:
        parts.append(lang_in(langs))
    return " AND ".join(parts)


def score_histograms(con: duckdb.DuckDBPyConnection, view: str, kept_only: bool = False,
                     langs: tuple[str, ...] = ()) -> dict[str, ScoreHistogram]:
    """Every score key's histogram in two scans (range, then bins), tokens counted once per document.

    ``langs``: only documents in these languages (a classifier cut may judge only some)."""
    cols = columns(con, view)
    if "scores" not in cols:
        return {}
    where = population_filter(kept_only, list(langs) if "lang" in cols else None)
    src = quote(view)
    # One scan: tokens are counted once per document (the regex split is the expensive part) and
    # the map is exploded to one row per (document, key). lo and width come back to Python as the
    # very doubles DuckDB used, so Python's edges match the SQL bins bit for bit. The last row
    # (k NULL) carries the population's totals.
    rows = con.execute(f"""
        WITH d AS MATERIALIZED (SELECT scores, {token_expr(cols)} AS tokens FROM {src} WHERE {where}),
        e AS (SELECT unnest(map_keys(scores)) AS k, unnest(map_values(scores)) AS v, tokens FROM d),
        f AS MATERIALIZED (SELECT * FROM e WHERE v IS NOT NULL AND isfinite(v)),
        s AS (SELECT k, min(v) AS lo, max(v) AS hi,
                     CASE WHEN max(v) > min(v) THEN (max(v) - min(v)) / {FINE_BINS} ELSE 1.0 END AS w
              FROM f GROUP BY k),
        b AS (SELECT f.k, f.v, f.tokens, s.lo, s.hi, s.w, floor((f.v - s.lo) / s.w) AS b0 FROM f JOIN s USING (k)),
        c AS (SELECT k, tokens, lo, hi, w,
                     CASE WHEN v < lo + b0 * w THEN b0 - 1 WHEN v >= lo + (b0 + 1) * w THEN b0 + 1 ELSE b0 END AS b1
              FROM b)
        SELECT * FROM (
            SELECT k, lo, hi, w, least(greatest(b1, 0), {FINE_BINS - 1})::INTEGER AS bin,
                   count(*) AS docs, coalesce(sum(tokens), 0)::BIGINT AS tokens
            FROM c GROUP BY ALL ORDER BY k, bin)
        UNION ALL
        SELECT NULL, NULL, NULL, NULL, NULL, count(*), coalesce(sum(tokens), 0)::BIGINT FROM d""").fetchall()
    totals = next(r for r in rows if r[0] is None)[-2:]  # UNION ALL keeps no order: find it
    rows = [r for r in rows if r[0] is not None]
    out: dict[str, ScoreHistogram] = {}
    for k, lo, hi, w, b, docs, tokens in rows:
        h = out.get(k)
        if h is None:
            h = out[k] = ScoreHistogram(k, lo, hi, w, np.zeros(FINE_BINS, np.int64), np.zeros(FINE_BINS, np.int64),
                                        total_docs=int(totals[0]), total_tokens=int(totals[1]))
        h.docs[b] += docs
        h.tokens[b] += tokens
    for h in out.values():
        h.missing_docs = h.total_docs - int(h.docs.sum())
        h.missing_tokens = h.total_tokens - int(h.tokens.sum())
    return out


# ----------------------------------------------------------------------------- classifier drops


def is_classifier_reason(reason: str | None) -> bool:
    """A drop made by a selection on a classifier score (:data:`CLASSIFIER_DROP_PREFIXES`)."""
    return reason is not None and reason.startswith(CLASSIFIER_DROP_PREFIXES)


def _cut_of(reason: str) -> tuple[str, str]:
    """(step, score) a classifier drop reason names: ``score_threshold_vN.<score>_below`` (or
    ``_above``, :mod:`curation.filters.score_filters`) and ``top_fraction.<score>`` (the annotate job)."""
    step, _, tail = reason.partition(".")
    return step, tail if step == "top_fraction" else tail.rsplit("_", 1)[0]


@dataclass(frozen=True)
class ScoreCut:
    """One classifier selection of the run's annotate config: a ``score_threshold_vN`` step, or a
    ``top_fraction`` score (its threshold is a quantile, known only from the job's accounting)."""

    step: str
    score: str
    #: Position in the pipeline (see :func:`reason_position`).
    position: int
    min_score: float | None = None
    max_score: float | None = None
    languages: tuple[str, ...] = ()
    fraction: float | None = None

    def rule(self) -> str:
        """What the cut keeps, in words (the Scores page and the drops table show it)."""
        if self.fraction is not None:
            at = f" (≥ {self.min_score:.6g} in this run)" if self.min_score is not None else ""
            return f"keeps the top {100 * self.fraction:.4g}% of kept documents by {self.score}{at}"
        parts = []
        if self.min_score is not None:
            parts.append(f"{self.score} ≥ {self.min_score:.6g}")
        if self.max_score is not None:
            parts.append(f"{self.score} ≤ {self.max_score:.6g}")
        langs = f" for {', '.join(self.languages)} (other languages not judged)" if self.languages else ""
        return "keeps " + " and ".join(parts) + langs


def _number(value) -> float | None:
    return float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None


def score_cuts(cfg: dict | None, accounting: dict | None = None) -> list[ScoreCut]:
    """The classifier selections an annotate config applied, in pipeline order. ``accounting`` (the
    stage's ``_accounting.json``) supplies the thresholds ``top_fraction`` settled on."""
    cfg = cfg or {}
    steps = config_steps(cfg)
    cuts = []
    for i, s in enumerate(steps):
        params = s.get("params") if isinstance(s.get("params"), dict) else {}
        if is_classifier_reason(f"{s['name']}.") and isinstance(params.get("score"), str):
            langs = params.get("languages")
            cuts.append(ScoreCut(s["name"], params["score"], i, _number(params.get("min_score")),
                                 _number(params.get("max_score")),
                                 tuple(str(x) for x in langs) if isinstance(langs, list) else ()))
    fractions = cfg.get("top_fraction") if isinstance(cfg.get("top_fraction"), dict) else {}
    chosen = (accounting or {}).get("top_fraction")
    chosen = chosen if isinstance(chosen, dict) else {}
    for j, (score, frac) in enumerate(fractions.items()):
        got = chosen.get(score) if isinstance(chosen.get(score), dict) else {}
        cuts.append(ScoreCut("top_fraction", str(score), len(steps) + j, _number(got.get("threshold")),
                             fraction=_number(frac)))
    return cuts


def reason_position(reason: str | None, cfg: dict | None) -> float | None:
    """Where in the pipeline a row's outcome was decided: -1 at extraction, ``i`` at the annotate
    config's i-th step, ``len(steps) + j`` at its j-th ``top_fraction`` score, infinity after the
    annotate stage (dedup, decontamination, kept). None for a classifier reason the config does not
    name: without the config the order, and so what reached the step, is unknown."""
    if reason is None or reason == KEPT:
        return math.inf
    steps = config_steps(cfg)
    names = [s["name"] for s in steps]
    step, _, tail = reason.partition(".")
    if reason.startswith(ERROR_PREFIX):  # error.<step>: the row failed at that step, so it reached it
        return float(names.index(tail)) if tail in names else -1.0
    if is_classifier_reason(reason):  # several score_threshold steps differ only by their score
        cut = {(c.step, c.score): c.position for c in score_cuts(cfg)}.get(_cut_of(reason))
        return None if cut is None else float(cut)
    if step in names:
        return float(names.index(step))
    return -1.0 if step in funnel_mod.EXTRACT_ORDER else math.inf


def classifier_drops(outcomes: pd.DataFrame, cfg: dict | None, accounting: dict | None = None) -> pd.DataFrame:
    """One row per classifier drop reason: documents and tokens dropped, and the documents that
    reached that step (not dropped by an earlier one), in pipeline order.

    ``outcomes`` has one row per outcome (``outcome``, ``docs``, ``tokens``): the funnel's, so no
    document is scanned again; ``tokens`` is NaN when only the job's counts are known. ``reached``
    is missing when the run's annotate config does not name the step (the order is unknown)."""
    cols = ["drop_reason", "rule", "docs", "tokens", "reached", "% of reached"]
    by = outcomes.groupby("outcome", as_index=False)[["docs", "tokens"]].sum(min_count=1)
    pos = {o: reason_position(o, cfg) for o in by["outcome"]}
    placed = by["outcome"].map(lambda o: math.inf if pos[o] is None else pos[o])  # unplaced: reached every step
    rules = {(c.step, c.score): c.rule() for c in score_cuts(cfg, accounting)}
    rows = []
    for o, d, t in by[["outcome", "docs", "tokens"]].itertuples(index=False):
        if not is_classifier_reason(o):
            continue
        reached = None if pos[o] is None else int(by.loc[placed >= pos[o], "docs"].sum())
        rows.append({"drop_reason": o, "rule": rules.get(_cut_of(o), ""), "docs": int(d),
                     "tokens": None if pd.isna(t) else int(t), "reached": reached,
                     "% of reached": round(100 * d / reached, 2) if reached else None})
    out = pd.DataFrame(rows, columns=cols).astype({"tokens": "Int64", "reached": "Int64"})
    order = [math.inf if pos[o] is None else pos[o] for o in out["drop_reason"]]
    return out.iloc[sorted(range(len(out)), key=lambda i: (order[i], out["drop_reason"][i]))].reset_index(drop=True)


# ------------------------------------------------------------------------------------- samples


def outcomes(con: duckdb.DuckDBPyConnection, view: str) -> pd.DataFrame:
    """Outcomes (drop reasons and "kept") with document counts; cheap (no token count)."""
    return con.execute(f"""SELECT coalesce(drop_reason, '{KEPT}') AS outcome, count(*) AS docs
                           FROM {quote(view)} GROUP BY 1 ORDER BY 2 DESC, 1""").df()


def sample(con: duckdb.DuckDBPyConnection, view: str, outcome: str, n: int = 10, seed: int = 0) -> pd.DataFrame:
    """``n`` documents of one outcome in seeded-hash order: random, yet the same for the same seed."""
    cols = columns(con, view)
    lang = "lang" if "lang" in cols else "NULL::VARCHAR AS lang"
    url = "url" if "url" in cols else "NULL::VARCHAR AS url"
    return con.execute(f"""
        SELECT id, {url}, {lang}, left(coalesce(text, ''), 200) AS snippet
        FROM {quote(view)} WHERE coalesce(drop_reason, '{KEPT}') = ?
        ORDER BY hash(concat(id, ':', ?::VARCHAR)), id LIMIT ?""", [outcome, str(seed), int(n)]).df()


def document(con: duckdb.DuckDBPyConnection, view: str, doc_id: str) -> dict | None:
    """One whole row (all columns) as a dict, or None."""
    rel = con.execute(f"SELECT * FROM {quote(view)} WHERE id = ? LIMIT 1", [doc_id])
    row = rel.fetchone()
    if row is None:
        return None
    names = [d[0] for d in rel.description]
    out = dict(zip(names, row))
    if isinstance(out.get("scores"), dict):
        out["scores"] = {k: v for k, v in out["scores"].items()}
    return out


def cluster_members(con: duckdb.DuckDBPyConnection, view: str, cluster: str, limit: int = 6) -> pd.DataFrame:
    """Rows sharing ``dup_cluster``: the kept document first, then the duplicates."""
    cols = columns(con, view)
    url = "url" if "url" in cols else "NULL::VARCHAR AS url"
    return con.execute(f"""
        SELECT id, {url}, coalesce(drop_reason, '{KEPT}') AS outcome, text
        FROM {quote(view)} WHERE dup_cluster = ?
        ORDER BY (id = dup_cluster) DESC, drop_reason NULLS FIRST, id LIMIT ?""", [cluster, int(limit)]).df()


def cluster_size(con: duckdb.DuckDBPyConnection, view: str, cluster: str) -> int:
    return int(con.execute(f"SELECT count(*) FROM {quote(view)} WHERE dup_cluster = ?", [cluster]).fetchone()[0])


# ------------------------------------------------------------------------------ decontamination


def decontam_by_benchmark(con: duckdb.DuckDBPyConnection, view: str) -> pd.DataFrame:
    """Documents per (benchmark, status), with the mean and max overlap ratio."""
    return con.execute(f"""
        SELECT * FROM (
            SELECT coalesce(decontam_benchmark, '(none)') AS benchmark, coalesce(decontam_status, 'unchecked') AS status,
                   count(*) AS docs, round(avg(decontam_ratio), 4) AS mean_ratio, round(max(decontam_ratio), 4) AS max_ratio
            FROM {quote(view)} GROUP BY ALL)
        ORDER BY benchmark = '(none)', benchmark, docs DESC""").df()


def contaminated_docs(con: duckdb.DuckDBPyConnection, view: str, limit: int = 200) -> pd.DataFrame:
    return con.execute(f"""
        SELECT id, decontam_status AS status, decontam_benchmark AS benchmark, decontam_item AS item,
               round(decontam_ratio, 4) AS ratio, decontam_ngram AS ngram, left(text, 120) AS snippet
        FROM {quote(view)} WHERE decontam_status IN ('contaminated', 'partial')
        ORDER BY decontam_ratio DESC NULLS LAST, id LIMIT ?""", [int(limit)]).df()


# ------------------------------------------------------------------------------------- catalog


def catalog(con: duckdb.DuckDBPyConnection, tables: dict[str, str]) -> pd.DataFrame:
    """Every view with its columns and types (what the SQL page lists)."""
    rows = []
    for name in tables:
        try:
            for col, typ in columns(con, name).items():
                rows.append({"table": name, "column": col, "type": typ})
        except duckdb.Error as exc:  # an unreadable table is listed, not fatal
            rows.append({"table": name, "column": "(unreadable)", "type": str(exc).splitlines()[0]})
    return pd.DataFrame(rows, columns=["table", "column", "type"])


def read_json(path: Path, allowed: confine.Confinement) -> dict | None:
    """A JSON side file, or None when missing or malformed (pages say which); raises
    :class:`curation.query.confine.OutsideRunError` when it resolves outside ``allowed`` (a symlink)."""
    value = allowed.read_json(path)
    return value if isinstance(value, dict) else None


def fmt_int(n: float | int) -> str:
    return "—" if n is None or (isinstance(n, float) and math.isnan(n)) else f"{int(n):,}"

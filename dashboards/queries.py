"""The dashboard's DuckDB SQL, in one place, as plain functions of a connection (no Streamlit).

Every function takes a connection from :func:`curation.run_sql.connect` (views named after the
run's stage folders) and returns a small result: aggregation happens in DuckDB, because a run holds
far more documents than a browser page, or pandas, should. Tests call these directly and compare
them with the pages.

Tokens are the ``n_tokens`` column when a table has one (a ``curate mix`` output), else whitespace
words, the same definition as ``curate funnel`` until the tokenizer stage exists.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import numpy as np
import pandas as pd
import yaml

from curation import confine
from curation import funnel as funnel_mod

#: Document-stage views, latest first: the latest holds the whole funnel (rows dropped upstream
#: pass through every later stage).
DOC_STAGES = ("decontaminate", "decontam", "dedup", "annotate", "extract")
#: Same expression as ``curate funnel``: whitespace words (a regex split; the slow part of a query).
WHITESPACE_TOKENS = "(CASE WHEN trim(text) = '' THEN 0 ELSE len(regexp_split_to_array(trim(text), '\\s+')) END)"
#: Fine bins of a score's range: slider thresholds sit on their edges, so the counts a threshold
#: keeps are exact sums of bins, computed once, and moving the slider runs no query.
FINE_BINS = 200
KEPT = "kept"


def doc_view(tables: dict[str, str]) -> str | None:
    """The latest document stage among the run's views (None when the run has none)."""
    return next((t for t in DOC_STAGES if t in tables), None)


def columns(con: duckdb.DuckDBPyConnection, view: str) -> dict[str, str]:
    """Column name → DuckDB type of a view."""
    return {r[0]: r[1] for r in con.execute(f'DESCRIBE "{view}"').fetchall()}


def token_expr(cols: dict[str, str] | list[str]) -> str:
    return "n_tokens" if "n_tokens" in cols else WHITESPACE_TOKENS


def quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


# ------------------------------------------------------------------------------------- funnel


def step_order(run_dir: Path) -> list[str]:
    """Stage names in pipeline order: extraction, the annotate steps as configured, then the
    cross-document stages (so the table reads top to bottom like the pipeline ran)."""
    order = list(funnel_mod.EXTRACT_ORDER)
    own = confine.Confinement.under(run_dir)  # a _config.yaml that links out of the run is not read
    for stage in ("annotate", "extract"):
        try:
            cfg = yaml.safe_load(own.read_text(run_dir / stage / "_config.yaml")) or {}
        except (OSError, confine.OutsideRunError, yaml.YAMLError):
            continue
        if isinstance(cfg, dict):
            order += [s["name"] for s in cfg.get("steps", []) if isinstance(s, dict) and "name" in s]
    return order + ["top_fraction", "dedup"]


def funnel(con: duckdb.DuckDBPyConnection, view: str, run_dir: Path) -> pd.DataFrame:
    """Documents and tokens per (stage, outcome, lang), in pipeline order.

    Grouped by language once, so the page's language filter is a pandas filter over a few dozen
    rows instead of a new scan of every document.
    """
    cols = columns(con, view)
    lang = "lang" if "lang" in cols else "NULL::VARCHAR"
    df = con.execute(f"""
        SELECT coalesce(drop_reason, '{KEPT}') AS outcome, {lang} AS lang,
               count(*) AS docs, coalesce(sum({token_expr(cols)}), 0)::BIGINT AS tokens
        FROM {quote(view)} GROUP BY ALL""").df()
    df["stage"] = [KEPT if o == KEPT else o.split(".", 1)[0] for o in df["outcome"]]
    order = {name: i for i, name in enumerate(step_order(run_dir))}
    keys = [(s == KEPT, order.get(s, len(order)), o, str(lang)) for s, o, lang in zip(df["stage"], df["outcome"], df["lang"])]
    df = df.iloc[sorted(range(len(df)), key=keys.__getitem__)].reset_index(drop=True)
    return df[["stage", "outcome", "lang", "docs", "tokens"]]


def funnel_view(raw: pd.DataFrame, langs: list[str] | None = None) -> pd.DataFrame:
    """The funnel table shown: one row per outcome (for the chosen languages), with shares."""
    df = raw if not langs else raw[raw["lang"].fillna("(none)").isin(langs)]
    out = (df.groupby(["stage", "outcome"], sort=False, as_index=False)[["docs", "tokens"]].sum())
    total_docs, total_tokens = max(1, int(out["docs"].sum())), max(1, int(out["tokens"].sum()))
    out["docs %"] = (100 * out["docs"] / total_docs).round(2)
    out["tokens %"] = (100 * out["tokens"] / total_tokens).round(2)
    return out


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
        return pd.DataFrame({"bin_start": np.round(starts, 6), "docs": docs, "tokens": tokens})


def population_filter(kept_only: bool, langs: list[str] | None = None) -> str:
    parts = ["TRUE"]
    if kept_only:
        parts.append("drop_reason IS NULL")
    if langs:
        parts.append("lang IN (" + ", ".join("'" + x.replace("'", "''") + "'" for x in langs) + ")")
    return " AND ".join(parts)


def score_histograms(con: duckdb.DuckDBPyConnection, view: str, kept_only: bool = False) -> dict[str, ScoreHistogram]:
    """Every score key's histogram in two scans (range, then bins), tokens counted once per document."""
    cols = columns(con, view)
    if "scores" not in cols:
        return {}
    where = population_filter(kept_only)
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
    :class:`curation.confine.OutsideRunError` when it resolves outside ``allowed`` (a symlink)."""
    value = allowed.read_json(path)
    return value if isinstance(value, dict) else None


def fmt_int(n: float | int) -> str:
    return "—" if n is None or (isinstance(n, float) and math.isnan(n)) else f"{int(n):,}"

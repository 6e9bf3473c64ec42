"""``curate funnel DIR``: documents and tokens per stage and drop reason, straight from the output.

Computed with DuckDB over the Parquet files (not from job counters, which can drift from the data).
A drop reason names the versioned step that made it (``gopher_quality_v1.too_few_words``), so the
stage of a row is the part before the first dot. Because annotate passes rows dropped upstream
through, the last stage's output (run with ``--keep-dropped``) holds the whole funnel.
Tokens are whitespace words until the tokenizer stage exists (``n_tokens`` where a table has it).
The stages and the drop-reason prefixes each decides come from :mod:`curation.stages`; the
dashboard's funnel page runs :func:`outcomes` and sorts with :func:`sort_key` too, so the two agree.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

from curation import rundir, stages
from curation.errors import report

#: Extraction-stage reason prefixes, in the order they are decided (the extract Stage's drops_before).
EXTRACT_ORDER = stages.EXTRACT_REASONS
KEPT = "kept"
#: Whitespace words of ``text`` (a regex split; the slow part of a query): the token count until
#: the tokenizer stage exists. A table with an ``n_tokens`` column (a mixture) counts those instead.
WHITESPACE_TOKENS = "(CASE WHEN trim(text) = '' THEN 0 ELSE len(regexp_split_to_array(trim(text), '\\s+')) END)"


@dataclass
class FunnelRow:
    stage: str
    outcome: str
    docs: int
    tokens: int


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
    return (yaml.safe_load(cfg_path.read_text()) or {}) if cfg_path.exists() else None


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
    return "n_tokens" if "n_tokens" in cols else WHITESPACE_TOKENS


def outcomes(con: duckdb.DuckDBPyConnection, relation: str, by: str | None = None,
             params: Sequence[object] = ()) -> list[tuple]:
    """(outcome[, by], docs, tokens) of ``relation`` (a view name or a ``read_parquet(…)`` call),
    grouped in DuckDB. ``by`` becomes NULL where the relation lacks that column."""
    cols = [r[0] for r in con.execute(f"DESCRIBE SELECT * FROM {relation}", list(params)).fetchall()]
    group = (f", {by}" if by in cols else f", NULL::VARCHAR AS {by}") if by else ""
    return con.execute(f"""
        SELECT coalesce(drop_reason, '{KEPT}') AS outcome{group},
               count(*) AS docs, coalesce(sum({token_expr(cols)}), 0)::BIGINT AS tokens
        FROM {relation} GROUP BY ALL""", list(params)).fetchall()


def compute(run_dir: str | Path, by: str | None = None) -> tuple[list[FunnelRow], dict]:
    out = stage_dir(Path(run_dir))
    con = duckdb.connect()
    rows = outcomes(con, "read_parquet(?, union_by_name = true)", by, [str(out / "**" / "*.parquet")])
    key = sort_key(step_order(out))
    result = []
    for row in rows:
        label = f"{row[0]} [{row[1]}]" if by else row[0]
        result.append(FunnelRow(stage_of(row[0]), label, int(row[-2]), int(row[-1])))
    result.sort(key=lambda r: key(r.stage, r.outcome))
    meta = {"stage_dir": str(out)}
    if (out / rundir.ACCOUNTING).exists():
        meta["records_read"] = rundir.read_accounting(out).get("records_read")
    return result, meta


def render(rows: list[FunnelRow], meta: dict) -> str:
    total_docs = sum(r.docs for r in rows) or 1
    total_tokens = sum(r.tokens for r in rows) or 1
    lines = [f"funnel of {meta['stage_dir']}", "",
             f"| {'stage':<22} | {'outcome':<44} | {'docs':>9} | {'docs %':>7} | {'tokens':>12} | {'tokens %':>8} |",
             f"|{'-' * 24}|{'-' * 46}|{'-' * 10}:|{'-' * 8}:|{'-' * 13}:|{'-' * 9}:|"]
    for r in rows:
        lines.append(f"| {r.stage:<22} | {r.outcome:<44} | {r.docs:>9} | {r.docs / total_docs:>7.1%} | "
                     f"{r.tokens:>12} | {r.tokens / total_tokens:>8.1%} |")
    lines.append(f"| {'total':<22} | {'':<44} | {total_docs:>9} | {'100.0%':>7} | {total_tokens:>12} | {'100.0%':>8} |")
    records = meta.get("records_read")
    if records is not None and records != sum(r.docs for r in rows):
        lines.append(f"\nnote: the stage read {records} records but its output holds {sum(r.docs for r in rows)} rows: "
                     "dropped rows are only in the output when the stages run with --keep-dropped.")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("run_dir", metavar="RUN_DIR", help="a stage output (extract/annotate) or a run directory")
    parser.add_argument("--by", choices=["lang", "page_type"],
                        help="also split each outcome by this column (page_type: set by extract, issue 19)")
    parser.add_argument("--json", action="store_true", help="print JSON instead of a table")


def run(args: argparse.Namespace) -> int:
    try:
        rows, meta = compute(args.run_dir, args.by)
    except (FileNotFoundError, duckdb.Error) as exc:
        return report("funnel", exc)  # one line on stderr (it went to stdout)
    if args.json:
        print(json.dumps({"meta": meta, "rows": [r.__dict__ for r in rows]}, indent=2))
    else:
        print(render(rows, meta))
    return 0

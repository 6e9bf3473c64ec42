"""``curate funnel DIR``: documents and tokens per stage and drop reason, straight from the output.

Computed with DuckDB over the Parquet files (not from job counters, which can drift from the data).
A drop reason names the versioned step that made it (``gopher_quality_v1.too_few_words``), so the
stage of a row is the part before the first dot. Because annotate passes rows dropped upstream
through, the last stage's output (run with ``--keep-dropped``) holds the whole funnel.
Tokens are whitespace words until the tokenizer stage exists.
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from pathlib import Path

import duckdb
import yaml

#: Stage output folders of a run directory, latest stage first.
STAGES = ("decontaminate", "dedup", "annotate", "extract")
#: Extraction-stage reason prefixes, in the order they are decided.
EXTRACT_ORDER = ("error", "warc", "http", "trafilatura_v1", "resiliparse_v1")


@dataclass
class FunnelRow:
    stage: str
    outcome: str
    docs: int
    tokens: int


def stage_dir(run_dir: Path) -> Path:
    """A stage output folder itself, or the latest stage folder inside a run directory."""
    for name in STAGES:
        if (run_dir / name / "_config.yaml").exists():
            return run_dir / name
    if (run_dir / "_config.yaml").exists():
        return run_dir
    raise FileNotFoundError(f"{run_dir} is neither a curate stage output nor a run directory with one")


def step_order(out: Path) -> list[str]:
    """Stages in pipeline order: extraction first, then the annotate steps as configured, then
    dedup. Dedup and decontaminate outputs carry no step list of their own, so the annotate
    stage's (their sibling folder in a run directory) gives the order rows were dropped in."""
    order = list(EXTRACT_ORDER)
    for cfg_path in (out / "_config.yaml", out.parent / "annotate" / "_config.yaml"):
        cfg = (yaml.safe_load(cfg_path.read_text()) or {}) if cfg_path.exists() else {}
        steps = [s["name"] for s in cfg.get("steps", []) if isinstance(s, dict) and "name" in s]
        if steps:
            order += steps
            break
    return order + ["dedup"]


def compute(run_dir: str | Path, by: str | None = None) -> tuple[list[FunnelRow], dict]:
    out = stage_dir(Path(run_dir))
    con = duckdb.connect()
    group = f", {by}" if by else ""
    rows = con.execute(
        f"""
        SELECT coalesce(drop_reason, 'kept') AS outcome{group},
               count(*) AS docs,
               coalesce(sum(CASE WHEN trim(text) = '' THEN 0
                                 ELSE len(regexp_split_to_array(trim(text), '\\s+')) END), 0) AS tokens
        FROM read_parquet(?, union_by_name = true)
        GROUP BY ALL
        """,
        [str(out / "**" / "*.parquet")],
    ).fetchall()
    order = {name: i for i, name in enumerate(step_order(out))}
    result = []
    for row in rows:
        outcome = row[0]
        stage = "kept" if outcome == "kept" else outcome.split(".", 1)[0]
        label = f"{outcome} [{row[1]}]" if by else outcome
        result.append(FunnelRow(stage, label, int(row[-2]), int(row[-1])))
    result.sort(key=lambda r: (r.stage == "kept", order.get(r.stage, len(order)), r.outcome))
    meta = {"stage_dir": str(out)}
    acc = out / "_accounting.json"
    if acc.exists():
        meta["records_read"] = json.loads(acc.read_text()).get("records_read")
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
        print(f"funnel: {exc}")
        return 2
    if args.json:
        print(json.dumps({"meta": meta, "rows": [r.__dict__ for r in rows]}, indent=2))
    else:
        print(render(rows, meta))
    return 0

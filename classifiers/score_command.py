"""``curate score``: one score per input row, from a shipped model name or a model directory.

    curate score INPUT... --model quality|reasoning|DIR --output OUT.parquet
    (INPUT: .jsonl/.parquet files, folders such as a stage output, globs or manifests; or --input INPUT...)

Output: one row per input row, in input order (files in sorted path order, rows in file order),
with ``id`` when the input has one, ``score`` (float64, higher = better) and ``reason``: null when
scored, ``empty_text`` (empty or whitespace) or ``no_text`` (missing, null or not a string) when the
score is null: no score is better than an invented one. With several input files a ``file``
column says where each row came from. Rows are scored in batches, so a large input is
never all in memory at once as text plus embeddings.
"""

from __future__ import annotations

import argparse
import glob
from collections.abc import Iterator
from pathlib import Path

from curation import verb_inputs
from curation.errors import report

#: Rows scored per call (a transformer tier embeds them in its own batches).
BATCH_ROWS = 512
INPUT_SUFFIXES = (".jsonl", ".json", ".ndjson", ".parquet")


def add_arguments(p: argparse.ArgumentParser) -> None:
    from classifiers import loading

    shipped = ", ".join(loading.shipped_names()) or "none installed"
    p.add_argument("--model", required=True, help=f"a shipped model ({shipped}) or a model directory "
                   "(from `curate train-classifier`); an existing path wins over a name")
    verb_inputs.add_input_arguments(p, ".jsonl/.parquet files, folders of them (a stage output), globs or manifests")
    p.add_argument("--output", required=True, help="output .parquet: id (when the input has one) and score")
    p.add_argument("--text-column", default="text")
    p.add_argument("--device", default="auto", help="transformer models: cpu, cuda or auto")


def input_files(spec: str | list[str]) -> list[Path]:
    """The files ``spec`` names: files, folders (their .jsonl/.parquet files, recursively, outside
    hidden and ``_`` folders such as a stage's ``_dropped``), globs or manifests, in order given,
    each file once."""
    if not isinstance(spec, str):
        found = [f for item in verb_inputs.expand_manifests(spec) for f in input_files(item)]
        return list(dict.fromkeys(found))
    if verb_inputs.is_manifest(spec):
        return input_files(verb_inputs.read_manifest(spec.lstrip("@")))
    p = Path(spec)
    if p.is_file():
        files = [p]
    elif p.is_dir():
        files = sorted(f for f in p.rglob("*") if f.is_file() and f.name.lower().endswith(INPUT_SUFFIXES)
                       and not any(part.startswith(("_", ".")) for part in f.relative_to(p).parts))
    elif any(c in spec for c in "*?["):
        files = sorted(Path(f) for f in glob.glob(spec, recursive=True)
                       if Path(f).is_file() and f.lower().endswith(INPUT_SUFFIXES))
    else:
        raise FileNotFoundError(f"input not found: {spec}")
    if not files:
        raise FileNotFoundError(f"no .jsonl or .parquet files in {spec}")
    for f in files:
        if not f.name.lower().endswith(INPUT_SUFFIXES):
            raise ValueError(f"{f}: unsupported input format (use .jsonl or .parquet)")
    return files


def _rows(path: Path, col: str) -> Iterator[tuple[object, object]]:
    """``(id or None, text)`` per row; a row that is not valid JSON is an error naming file:line."""
    if path.name.lower().endswith(".parquet"):
        import pyarrow.parquet as pq

        pf = pq.ParquetFile(path)
        names = pf.schema_arrow.names
        if col not in names:
            raise ValueError(f"{path}: no '{col}' column (columns: {', '.join(names)})")
        cols = [col] + (["id"] if "id" in names else [])
        for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
            ids = batch.column("id").to_pylist() if "id" in cols else [None] * batch.num_rows
            yield from zip(ids, batch.column(col).to_pylist())
        return
    from classifiers.graded_labels import iter_jsonl

    # undecodable bytes become U+FFFD: the document is still scored, not dropped
    for _, row in iter_jsonl(path, replace_undecodable=True):
        yield row.get("id"), row.get(col)


def run(args: argparse.Namespace) -> int:
    import numpy as np
    import pyarrow as pa
    import pyarrow.parquet as pq

    from classifiers import loading
    from curation.output_dir import PARQUET_MARK, OutputRefused, claim_file
    from curation.schema import PARQUET_WRITE_OPTIONS

    try:
        files = input_files(verb_inputs.given(args))
        claim_file(args.output, "score", inputs=[str(f) for f in files])  # never an input, never a foreign file
        loading.check(args.model)  # a bad model folder fails before any input is read
        model = loading.load(args.model, device=getattr(args, "device", "auto"))
        col = getattr(args, "text_column", "text")
        ids: list[object] = []
        reasons: list[str | None] = []
        scores: list[np.ndarray] = []
        where: list[str] = []
        def score_batch(batch: list[str | None]) -> np.ndarray:
            s = np.asarray(loading.score(model, batch), dtype=np.float64)
            # every kind alike (an older fastText model scores '' with its prior): no text, no score
            s[[t is None or not t.strip() for t in batch]] = np.nan
            return s

        for f in files:
            batch: list[str | None] = []
            for i, text in _rows(f, col):
                ids.append(i)
                reasons.append(None if isinstance(text, str) and text.strip() else
                               "empty_text" if isinstance(text, str) else "no_text")
                batch.append(text if isinstance(text, str) else None)
                if len(batch) == BATCH_ROWS:
                    scores.append(score_batch(batch))
                    batch = []
            if batch:
                scores.append(score_batch(batch))
            where.extend([str(f)] * (len(ids) - len(where)))
        s = np.concatenate(scores) if scores else np.zeros(0)
        cols: dict[str, pa.Array] = {}
        if any(i is not None for i in ids):
            cols["id"] = pa.array([None if i is None else str(i) for i in ids], pa.string())
        if len(files) > 1:
            cols["file"] = pa.array(where, pa.string())
        # NaN means "no score" (empty text): null in the output
        cols["score"] = pa.array(s, pa.float64(), from_pandas=True)
        cols["reason"] = pa.array(reasons, pa.string())
        table = pa.table(cols).replace_schema_metadata({PARQUET_MARK: b"score"})
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, **PARQUET_WRITE_OPTIONS)
    except (FileNotFoundError, ValueError, OSError, pa.ArrowException, OutputRefused) as exc:
        return report("score", exc)
    unscored = sum(r is not None for r in reasons)
    print(f"scored {len(s) - unscored} of {len(s)} rows from {len(files)} file(s) with {args.model} -> {out}"
          + (f" ({unscored} without text: null score, see 'reason')" if unscored else ""))
    return 0

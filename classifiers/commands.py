"""``curate train-classifier`` and ``curate score``: the classifier commands.

Training sets come from an offline recipe (:data:`classifiers.training_data.RECIPES`, reading
``../shared/data`` or ``--data``) or from ``curate label`` output joined to its documents
(``--recipe labels``); the same fastText-format files feed either trainer (``--kind``).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from classifiers.training_data import HQ, LABEL_TARGETS, RECIPES, build_default_training_set, build_labelled_training_set

#: Rows the transformer head is trained on at most (embedding is the slow part on CPU:
#: ~20 windows/s/core of 256 tokens); the training file is already in hash-shuffled order.
TRANSFORMER_MAX_ROWS = 3000
TRANSFORMER_PARAMS = {"max_tokens": int, "max_chunks": int, "batch_size": int, "C": float, "max_rows": int}


def default_shared_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default="default", choices=[*RECIPES, "labels"],
                   help="training data: " + "; ".join(f"{r.name} = {r.description}" for r in RECIPES.values())
                   + "; labels = `curate label` output (--labels, --docs, --target)")
    p.add_argument("--kind", default="fasttext", choices=["fasttext", "transformer"],
                   help="fastText (fast, default) or a frozen-encoder transformer with a logistic head")
    p.add_argument("--output", required=True, help="model directory to write (model files + meta.json)")
    p.add_argument("--data", default=None, help="shared data folder for offline recipes (default: ../shared/data)")
    p.add_argument("--work-dir", default=None, help="where train/valid text files go (default: OUTPUT/data)")
    p.add_argument("--labels", default=None, help="--recipe labels: `curate label` output (.parquet/.jsonl)")
    p.add_argument("--docs", default=None, help="--recipe labels: the labelled documents (id, text)")
    p.add_argument("--target", default="educational_value", choices=LABEL_TARGETS, help="--recipe labels: what to learn")
    p.add_argument("--threshold", type=float, default=3.0, help="--recipe labels: score >= this is the positive class")
    p.add_argument("--encoder", default=None, help="--kind transformer: local HF model folder (default: bundled MiniLM)")
    p.add_argument("--device", default="auto", help="--kind transformer: cpu, cuda or auto")
    p.add_argument("--set", dest="params", action="append", default=[], metavar="KEY=VALUE",
                   help="trainer parameter, repeatable: fastText (dim, epoch, lr, wordNgrams, ...) or "
                        f"transformer ({', '.join(TRANSFORMER_PARAMS)})")


def _parse_params(items: list[str], kind: str) -> dict[str, Any]:
    from classifiers.fasttext_model import DEFAULT_PARAMS

    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep:
            raise ValueError(f"--set expects KEY=VALUE, got {item!r}")
        types = ({k: type(v) for k, v in DEFAULT_PARAMS.items()} if kind == "fasttext" else TRANSFORMER_PARAMS)
        if key not in types:
            raise ValueError(f"unknown {kind} parameter {key!r} (known: {', '.join(types)})")
        try:
            out[key] = types[key](value)
        except ValueError as exc:
            raise ValueError(f"--set {key}: {exc}") from exc
    return out


def run_train(args: argparse.Namespace) -> int:
    from curation.output_dir import OutputRefused, claim

    try:
        out = Path(args.output)
        # Never a folder curate did not make, nor one holding another kind of model; files are
        # rewritten in place (nothing deleted), so an interrupted training loses nothing.
        claim(str(out), f"model-{getattr(args, 'kind', 'fasttext')}", resume=True,
              inputs=[p for p in (args.labels, args.docs, getattr(args, "data", None)) if p])
        work = Path(args.work_dir) if getattr(args, "work_dir", None) else out / "data"
        params = _parse_params(getattr(args, "params", []) or [], getattr(args, "kind", "fasttext"))
        if args.recipe == "labels":
            if not args.labels or not args.docs:
                raise ValueError("--recipe labels needs --labels FILE and --docs FILE")
            tr, va, info = build_labelled_training_set(args.labels, args.docs, work,
                                                       target=args.target, threshold=args.threshold)
        else:
            shared = Path(args.data) if args.data else default_shared_dir()
            tr, va, info = build_default_training_set(shared, work, recipe=args.recipe)
        if getattr(args, "kind", "fasttext") == "transformer":
            meta = _train_transformer(tr, va, out, info, params, args)
        else:
            from classifiers import fasttext_model

            meta = fasttext_model.train(tr, va, out, params=params, data_info=info)
    except (FileNotFoundError, ValueError, OSError, OutputRefused) as exc:
        print(f"curate train-classifier: error: {exc}", file=sys.stderr)
        return 2
    m = meta["valid_metrics"]
    auc = "n/a" if m["roc_auc"] is None else f"{m['roc_auc']:.3f}"
    print(f"wrote {out} ({meta['kind']}, score = {meta['score']}); valid accuracy {m['accuracy']:.3f}, "
          f"ROC-AUC {auc}, n={m['n']}")
    return 0


def _train_transformer(tr: Path, va: Path, out: Path, info: dict, params: dict, args) -> dict:
    from classifiers import transformer_model as tm

    positive = info.get("positive_label", HQ)
    max_rows = int(params.pop("max_rows", TRANSFORMER_MAX_ROWS))
    texts, ys = tm.read_fasttext_file(tr, positive)
    vt, vy = tm.read_fasttext_file(va, positive)
    info = {k: v for k, v in info.items() if k != "positive_label"}
    info["train_rows_used"] = min(len(texts), max_rows)
    return tm.train(texts[:max_rows], ys[:max_rows], vt, vy, out, encoder_path=args.encoder, device=args.device,
                    data_info=info, positive=positive, **params)


def add_score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model directory (from `curate train-classifier`)")
    p.add_argument("--input", required=True, help="input .jsonl or .parquet with a 'text' column")
    p.add_argument("--output", required=True, help="output .parquet: input rows plus a float 'score' column")
    p.add_argument("--text-column", default="text")
    p.add_argument("--device", default="auto", help="transformer models: cpu, cuda or auto")


def _read_table(path: Path):
    import json

    import pyarrow as pa
    import pyarrow.parquet as pq

    if not path.is_file():
        raise FileNotFoundError(f"input file not found: {path}")
    name = path.name.lower()
    if name.endswith(".parquet"):
        return pq.read_table(path)
    if name.endswith((".jsonl", ".json", ".ndjson")):
        rows = []
        with path.open(encoding="utf-8", errors="replace") as fh:
            for n, line in enumerate(fh, 1):
                if line.strip():
                    try:
                        rows.append(json.loads(line))
                    except ValueError as exc:
                        raise ValueError(f"{path}:{n}: invalid JSON ({exc})") from exc
        if rows and not all(isinstance(r, dict) for r in rows):
            raise ValueError(f"{path}: every line must be a JSON object")
        return pa.Table.from_pylist(rows) if rows else pa.table({"text": pa.array([], pa.string())})
    raise ValueError(f"{path}: unsupported input format (use .jsonl or .parquet)")


def run_score(args: argparse.Namespace) -> int:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from curation.schema import PARQUET_WRITE_OPTIONS

    from classifiers import loading

    from curation.output_dir import PARQUET_MARK, OutputRefused, claim_file

    try:
        claim_file(args.output, "score", inputs=[args.input])  # never the input, never a foreign file
        model = loading.load(args.model, device=getattr(args, "device", "auto"))
        table = _read_table(Path(args.input))
        col = getattr(args, "text_column", "text")
        if col not in table.column_names:
            raise ValueError(f"{args.input}: no '{col}' column (columns: {', '.join(table.column_names)})")
        if "score" in table.column_names:
            table = table.drop_columns(["score"])
        scores = loading.score(model, table.column(col).to_pylist())
        table = table.append_column("score", pa.array(scores, pa.float64()))
        table = table.replace_schema_metadata({**(table.schema.metadata or {}), PARQUET_MARK: b"score"})
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out, **PARQUET_WRITE_OPTIONS)
    except (FileNotFoundError, ValueError, OSError, pa.ArrowException, OutputRefused) as exc:
        print(f"curate score: error: {exc}", file=sys.stderr)
        return 2
    print(f"scored {len(scores)} rows -> {out}")
    return 0

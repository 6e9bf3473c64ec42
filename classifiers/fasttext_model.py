"""fastText quality classifier: train, save with metadata, load, score; plus two CLI commands.

Artifacts: ``MODEL_DIR/model.bin`` (fastText supervised, labels ``__label__hq`` / ``__label__lq``)
and ``MODEL_DIR/meta.json`` (format version, params, training-data sha256 + SQL, valid metrics).
Scores are P(hq) in [0, 1]; higher means higher quality.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from classifiers.artifacts import META_FILE, read_meta
from classifiers.training_data import HQ, LQ, build_default_training_set, normalize

META_VERSION = 1
MODEL_FILE = "model.bin"
#: Texts longer than this (characters, after normalisation) are cut before prediction.
MAX_SCORE_CHARS = 100_000

DEFAULT_PARAMS: dict[str, Any] = {
    "dim": 64, "wordNgrams": 2, "bucket": 200_000, "epoch": 8, "lr": 0.3,
    "minCount": 2, "thread": 2, "seed": 0, "loss": "softmax",
}


class ModelError(Exception):
    """A user-facing error (CLI prints one line, exits 2)."""


def _ft():
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time deprecation warning
    return fasttext


def _valid_rows(valid_path: Path) -> tuple[list[int], list[str]]:
    ys, texts = [], []
    with open(valid_path, encoding="utf-8") as fh:
        for line in fh:
            label, _, text = line.rstrip("\n").partition(" ")
            ys.append(1 if label == HQ else 0)
            texts.append(text)
    return ys, texts


def _p_hq(model, norm_texts: list[str]) -> np.ndarray:
    if not norm_texts:
        return np.zeros(0, dtype=np.float64)
    labels, probs = model.predict(norm_texts, k=2)
    out = np.empty(len(norm_texts), dtype=np.float64)
    for i, (ls, ps) in enumerate(zip(labels, probs)):
        p = dict(zip(ls, ps))
        if HQ in p:
            out[i] = p[HQ]
        else:
            out[i] = 1.0 - p.get(LQ, 0.5)
    return np.clip(out, 0.0, 1.0)


def _train_to_file(train_path: str, hp: dict[str, Any], model_path: str) -> None:
    _ft().train_supervised(input=train_path, verbose=0, **hp).save_model(model_path)


def train(train_path: str | Path, valid_path: str | Path, out_dir: str | Path,
          params: dict[str, Any] | None = None, data_info: dict | None = None) -> dict:
    """Train, evaluate on ``valid_path``, write ``model.bin`` + ``meta.json``; returns the meta."""
    from sklearn.metrics import roc_auc_score

    train_path, valid_path, out = Path(train_path), Path(valid_path), Path(out_dir)
    for p in (train_path, valid_path):
        if not p.is_file():
            raise FileNotFoundError(f"training file not found: {p}")
    hp = {**DEFAULT_PARAMS, **(params or {})}
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    # fastText's SGD sometimes diverges at high learning rates ("Encountered NaN"), and after one
    # divergence every later training in the same process fails too (measured with the fasttext
    # build pinned here). So each attempt runs in a fresh process, and a divergence halves the rate;
    # the rate actually used is recorded in meta.json.
    ctx = multiprocessing.get_context("spawn")
    for attempt in range(5):
        try:
            with ctx.Pool(1) as pool:
                pool.apply(_train_to_file, (str(train_path), hp, str(out / MODEL_FILE)))
            break
        except RuntimeError as exc:
            if "NaN" not in str(exc) or attempt == 4:
                raise
            hp["lr"] = hp["lr"] / 2
    model = _ft().load_model(str(out / MODEL_FILE))
    train_s = time.perf_counter() - t0
    ys, texts = _valid_rows(valid_path)
    p = _p_hq(model, texts)
    y = np.asarray(ys)
    metrics = {
        "n": len(ys),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))) if len(ys) else None,
        "roc_auc": float(roc_auc_score(y, p)) if len(set(ys)) == 2 else None,
    }
    info = dict(data_info or {})
    meta = {
        "version": META_VERSION,
        "kind": "fasttext-quality",
        "labels": {"positive": HQ, "negative": LQ},
        "score": "P(__label__hq) in [0,1], higher = better",
        "normalisation": "classifiers.training_data.normalize",
        "params": hp,
        "training_data": {
            "sha256": info.pop("sha256", None),
            "sql": info.pop("sql", None),
            "train_file": str(train_path), "valid_file": str(valid_path),
            "train_bytes": train_path.stat().st_size, "valid_bytes": valid_path.stat().st_size,
            **info,
        },
        "valid_metrics": metrics,
        "train_seconds": round(train_s, 3),
        "model_bytes": (out / MODEL_FILE).stat().st_size,
        "vocab_size": len(model.words),
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return meta


class QualityModel:
    """A loaded model plus its metadata."""

    def __init__(self, ft_model, meta: dict, path: Path):
        self.ft, self.meta, self.path = ft_model, meta, path

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return score(self, texts)


def load(model_dir: str | Path) -> QualityModel:
    d, meta = read_meta(model_dir, (MODEL_FILE,), META_VERSION)
    model_path = d / MODEL_FILE
    try:
        ft = _ft().load_model(str(model_path))
    except Exception as exc:  # noqa: BLE001 - fastText raises ValueError/RuntimeError on bad files
        raise ValueError(f"{model_path}: cannot load fastText model ({exc})") from exc
    return QualityModel(ft, meta, d)


def _clean(text: Any) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = normalize(text.encode("utf-8", "replace").decode("utf-8", "replace"))
    # fastText's predict rejects newlines and NUL would end the C string early.
    return text[:MAX_SCORE_CHARS].replace("\x00", " ")


def score(model: QualityModel | Any, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
    """P(hq) per text, float64 in [0, 1]. Empty/None texts get the model's prior for ''."""
    ft = model.ft if isinstance(model, QualityModel) else model
    texts = list(texts)
    out = np.empty(len(texts), dtype=np.float64)
    for i in range(0, len(texts), batch_size):
        out[i:i + batch_size] = _p_hq(ft, [_clean(t) for t in texts[i:i + batch_size]])
    return out


# ----------------------------------------------------------------------------- CLI

def default_shared_dir() -> Path:
    return Path(__file__).resolve().parent.parent.parent / "shared" / "data"


def add_train_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--recipe", default="default", choices=["default"], help="training-data recipe")
    p.add_argument("--output", required=True, help="model directory to write (model.bin, meta.json)")
    p.add_argument("--data", default=None, help="shared data folder (default: ../shared/data)")
    p.add_argument("--work-dir", default=None, help="where train/valid text files go (default: OUTPUT/data)")


def run_train(args: argparse.Namespace) -> int:
    try:
        shared = Path(args.data) if args.data else default_shared_dir()
        out = Path(args.output)
        work = Path(args.work_dir) if getattr(args, "work_dir", None) else out / "data"
        tr, va, info = build_default_training_set(shared, work)
        meta = train(tr, va, out, data_info={**info, "recipe": args.recipe})
    except (FileNotFoundError, ValueError, OSError) as exc:
        print(f"curate train-classifier: error: {exc}", file=sys.stderr)
        return 2
    m = meta["valid_metrics"]
    print(f"wrote {out / MODEL_FILE} ({meta['model_bytes'] / 1e6:.1f} MB); valid accuracy "
          f"{m['accuracy']:.3f}, ROC-AUC {m['roc_auc']:.3f}, n={m['n']}, trained in {meta['train_seconds']:.1f}s")
    return 0


def add_score_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--model", required=True, help="model directory (model.bin + meta.json)")
    p.add_argument("--input", required=True, help="input .jsonl or .parquet with a 'text' column")
    p.add_argument("--output", required=True, help="output .parquet: input rows plus a float 'score' column")
    p.add_argument("--text-column", default="text")


def _read_table(path: Path):
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

    try:
        model = load(args.model)
        table = _read_table(Path(args.input))
        col = getattr(args, "text_column", "text")
        if col not in table.column_names:
            raise ValueError(f"{args.input}: no '{col}' column (columns: {', '.join(table.column_names)})")
        if "score" in table.column_names:
            table = table.drop_columns(["score"])
        scores = score(model, table.column(col).to_pylist())
        table = table.append_column("score", pa.array(scores, pa.float64()))
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        pq.write_table(table, out)
    except (FileNotFoundError, ValueError, OSError, pa.ArrowException) as exc:
        print(f"curate score: error: {exc}", file=sys.stderr)
        return 2
    print(f"scored {len(scores)} rows -> {out}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    """Stand-alone entry: ``python -m classifiers.fasttext_model {train-classifier,score} ...``."""
    parser = argparse.ArgumentParser(prog="curate")
    sub = parser.add_subparsers(dest="cmd", required=True)
    add_train_arguments(sub.add_parser("train-classifier"))
    add_score_arguments(sub.add_parser("score"))
    args = parser.parse_args(argv)
    return run_train(args) if args.cmd == "train-classifier" else run_score(args)


if __name__ == "__main__":
    sys.exit(main())

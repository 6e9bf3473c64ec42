"""Quality-classifier benchmark on the DCLM human-labelled dev set (evaluation only, never training).

Reports ROC-AUC and precision at the top 10 % for a trained fastText model (default: trains the
default recipe into bench/_work/classifier_default) against single-feature baselines (document
length, mean words per line, zlib compression ratio — each in its better sign direction on this
set, which flatters the baselines), and raw ``model.predict`` throughput (docs/s on one thread).

    python bench/classifier_quality.py [--model DIR] [--data SHARED_DIR] [--json OUT.json]
"""

from __future__ import annotations

import argparse
import json
import sys
import time
import zlib
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402


def precision_at(y: np.ndarray, s: np.ndarray, frac: float = 0.10) -> float:
    k = max(1, int(round(len(y) * frac)))
    order = np.argsort(-s, kind="stable")
    return float(y[order[:k]].mean())


def features(texts: list[str]) -> dict[str, np.ndarray]:
    def words_per_line(t: str) -> float:
        lines = [ln for ln in t.splitlines() if ln.strip()]
        return len(t.split()) / len(lines) if lines else 0.0

    def zratio(t: str) -> float:
        b = t.encode("utf-8", "replace")
        return len(b) / len(zlib.compress(b, 6)) if b else 0.0

    return {
        "doc_length_chars": np.array([len(t) for t in texts], float),
        "mean_words_per_line": np.array([words_per_line(t) for t in texts], float),
        "zlib_compression_ratio": np.array([zratio(t) for t in texts], float),
    }


def evaluate(y: np.ndarray, s: np.ndarray, best_sign: bool = False) -> dict:
    from sklearn.metrics import roc_auc_score

    auc = roc_auc_score(y, s)
    sign = 1
    if best_sign and auc < 0.5:
        sign, auc = -1, 1 - auc
    return {"roc_auc": round(float(auc), 4), "p_at_10pct": round(precision_at(y, sign * s), 4), "sign": sign}


def _transformer(data_dir: Path, texts: list[str], y: np.ndarray, args) -> dict:
    """Frozen MiniLM + logistic head on the same training files as the fastText model."""
    from classifiers import transformer_model as tm

    out = REPO / "bench" / "_work" / "transformer_quality"
    tr_t, tr_y = tm.read_fasttext_file(data_dir / "train.txt")
    va_t, va_y = tm.read_fasttext_file(data_dir / "valid.txt")
    n = args.transformer_rows
    t0 = time.perf_counter()
    meta = tm.train(tr_t[:n], tr_y[:n], va_t[:300], va_y[:300], out, device=args.device)
    train_s = time.perf_counter() - t0
    model = tm.load(out, device=args.device)
    t0 = time.perf_counter()
    s = tm.score(model, texts)
    score_s = time.perf_counter() - t0
    return {**evaluate(y, s), "train_rows": min(n, len(tr_t)), "train_seconds": round(train_s, 1),
            "valid_metrics": meta["valid_metrics"], "device": args.device,
            "dev_docs_per_s": round(len(texts) / score_s, 2)}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None, help="model dir (default: train the default recipe)")
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--json", default=None)
    ap.add_argument("--transformer-rows", type=int, default=1500,
                    help="train the transformer head on this many default-recipe rows (0: skip)")
    ap.add_argument("--device", default="cpu", help="transformer device: cpu or cuda")
    args = ap.parse_args(argv)

    from classifiers import fasttext_model as fm
    from classifiers.training_data import build_default_training_set

    data = Path(args.data)
    dev = data / "labels" / "dclm-human-quality-dev.jsonl"
    if not dev.is_file():
        print(f"dev set not found: {dev}", file=sys.stderr)
        return 2
    rows = [json.loads(line) for line in dev.open(encoding="utf-8") if line.strip()]
    texts = [r["text"] for r in rows]
    y = np.array([int(r["label"]) for r in rows])

    result: dict = {"dev_set": str(dev), "n": len(y), "positives": int(y.sum()),
                    "base_rate": round(float(y.mean()), 4)}
    if args.model:
        model_dir = Path(args.model)
    else:
        model_dir = REPO / "bench" / "_work" / "classifier_default"
        t0 = time.perf_counter()
        tr, va, info = build_default_training_set(data, model_dir / "data")
        build_s = time.perf_counter() - t0
        meta = fm.train(tr, va, model_dir, data_info=info)
        result["build_data_seconds"] = round(build_s, 2)
    model = fm.load(model_dir)
    meta = model.meta
    result["model"] = {"dir": str(model_dir), "bytes": meta["model_bytes"], "params": meta["params"],
                       "train_seconds": meta["train_seconds"], "valid_metrics": meta["valid_metrics"],
                       "training_sha256": meta["training_data"]["sha256"]}
    scores = fm.score(model, texts)
    result["fasttext_default"] = evaluate(y, scores)
    for name, f in features(texts).items():
        result[f"baseline_{name}"] = evaluate(y, f, best_sign=True)
    if args.transformer_rows:
        result["transformer_default"] = _transformer(model_dir / "data", texts, y, args)
    base = [v["roc_auc"] for k, v in result.items() if k.startswith("baseline_")]
    result["beats_all_baselines"] = bool(result["fasttext_default"]["roc_auc"] > max(base))

    # raw predict throughput (one thread: fastText predict is single-threaded per call)
    norm = [fm._clean(t) for t in texts]
    reps = max(1, int(20000 / len(norm)))
    t0 = time.perf_counter()
    for _ in range(reps):
        model.ft.predict(norm, k=2)
    dt = time.perf_counter() - t0
    chars = sum(map(len, norm)) * reps
    result["predict_docs_per_s_per_core"] = round(reps * len(norm) / dt, 1)
    result["predict_mb_per_s_per_core"] = round(chars / dt / 1e6, 2)
    t0 = time.perf_counter()
    for _ in range(reps):
        fm.score(model, texts)
    dt = time.perf_counter() - t0
    result["score_docs_per_s_incl_normalise"] = round(reps * len(texts) / dt, 1)

    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The shipped classifier models side by side (issue 17): each tier, the combined score, the baselines.

Every model is scored end to end through ``classifiers.loading`` (by its shipped name) on:

* ``labels/fineweb-edu-llm/val.jsonl`` (998 FineWeb documents, Llama-3 edu score 0-5): Spearman
  with the LLM score, ROC-AUC at score >= 3, F1 at a cut chosen on ``train.jsonl``'s scores (the
  MiniLM tier uses the cut in its meta.json, chosen out-of-fold on train, since its own train
  scores are in-sample);
* ``labels/dclm-human-quality-dev.jsonl`` (218 human-judged documents): ROC-AUC;

beside single-feature baselines (words, words per line, zlib compression ratio; sign and cut
chosen on train). Throughput: docs/s per core (torch and fastText with one thread; the scoring
for the figures above uses every core) on the first
``--speed-docs`` val documents. The combined ``quality`` score's figures are computed from its
components' cached scores with its meta.json's calibration, and checked equal to scoring it end to
end on ``--check-docs`` documents (printed as ``max_abs_diff``).

Scores are cached under bench/_work/tiers/ by (model meta.json sha256, exact texts), so a rerun
after changing one model rescores only that one. The MiniLM tier embeds every window: ~15 min on
2 cores for the three sets on a cold cache.

    python bench/classifier_tiers.py [--data SHARED] [--json OUT.json] [--models a,b] [--speed-docs 200]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402

MODELS = ("quality-minilm", "quality-fasttext", "quality-reference", "quality", "reasoning")
GOALS = {
    "quality-minilm": "val Spearman >= 0.65 and ROC-AUC@3 >= 0.92",
    "quality-fasttext": "within 0.05 of quality-minilm on Spearman and ROC-AUC@3, >= 20x its docs/s",
    "quality": "beats every single feature on every set; DCLM dev ROC-AUC >= 0.70",
    "reasoning": "positive Spearman with the LLM edu score on val (LOSO goal: classifier_quality --sections reasoning)",
}
WORK = REPO / "bench" / "_work" / "tiers"


def _sets(data: Path) -> dict[str, tuple[list[str], np.ndarray]]:
    from classifiers.graded_labels import read_graded

    lab = data / "labels"
    tr = read_graded(lab / "fineweb-edu-llm" / "train.jsonl")
    va = read_graded(lab / "fineweb-edu-llm" / "val.jsonl")
    dev = [json.loads(line) for line in (lab / "dclm-human-quality-dev.jsonl").open(encoding="utf-8") if line.strip()]
    return {"train": (tr.texts, np.array(tr.scores)), "val": (va.texts, np.array(va.scores)),
            "dev": ([r["text"] for r in dev], np.array([int(r["label"]) for r in dev]))}


def _cached_scores(name: str, set_name: str, texts: list[str]) -> np.ndarray:
    from classifiers import loading
    from curation.model_files import sha256_file

    d = loading.resolve(name)
    h = hashlib.sha256(sha256_file(d / "meta.json").encode() + json.dumps(texts).encode("utf-8", "replace")).hexdigest()[:16]
    path = WORK / f"{name}-{set_name}-{h}.npy"
    if path.is_file():
        return np.load(path)
    t0 = time.perf_counter()
    s = np.asarray(loading.score(loading.load(name, device="cpu"), texts), dtype=np.float64)
    print(f"scored {set_name} ({len(texts)} docs) with {name} in {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    WORK.mkdir(parents=True, exist_ok=True)
    np.save(path, s)
    return s


def _combined_from_components(name: str, sets: dict) -> dict[str, np.ndarray]:
    from classifiers import combined_model, loading

    d = loading.resolve(name)
    meta = json.loads((d / "meta.json").read_text())
    comps = combined_model._components(d, meta)
    out = {}
    for k, (texts, _) in sets.items():
        total = np.zeros(len(texts))
        for c in comps:
            cname = combined_model.component_dir(d, c).name
            total += c.weight * (_cached_scores(cname, k, texts) - c.mean) / c.std
        total /= sum(c.weight for c in comps)
        total[[not str(t or "").strip() for t in texts]] = np.nan
        out[k] = total
    return out


def _evaluate(s: dict[str, np.ndarray], y: dict[str, np.ndarray], cut: float | None = None) -> dict:
    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score, roc_auc_score

    from classifiers.transformer_model import choose_threshold

    if cut is None:
        cut = choose_threshold(y["train"], np.nan_to_num(s["train"], nan=-1e9), 3.0)
    v = np.nan_to_num(s["val"], nan=-1e9)
    return {"val_spearman": round(float(spearmanr(v, y["val"])[0]), 4),
            "val_roc_auc_at_3": round(float(roc_auc_score(y["val"] >= 3, v)), 4),
            "val_f1": round(float(f1_score(y["val"] >= 3, v >= cut)), 4) if cut is not None else None,
            "cut": None if cut is None else round(float(cut), 4),
            "dclm_dev_roc_auc": round(float(roc_auc_score(y["dev"], np.nan_to_num(s["dev"], nan=-1e9))), 4)}


def _docs_per_s(name: str, texts: list[str]) -> float:
    import torch

    from classifiers import loading

    m = loading.load(name, device="cpu")
    loading.score(m, texts[:4])  # warm-up (first call loads lazily)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # per core; fastText's predict is single-threaded anyway
    try:
        t0 = time.perf_counter()
        loading.score(m, texts)
        return round(len(texts) / (time.perf_counter() - t0), 2)
    finally:
        torch.set_num_threads(threads)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--json", default=None)
    ap.add_argument("--models", default=",".join(MODELS))
    ap.add_argument("--speed-docs", type=int, default=200)
    ap.add_argument("--check-docs", type=int, default=40)
    args = ap.parse_args(argv)
    from classifiers import loading

    data = Path(args.data)
    if not (data / "labels" / "fineweb-edu-llm" / "val.jsonl").is_file():
        print(f"LLM labels not found under {data}", file=sys.stderr)
        return 2
    sets = _sets(data)
    y = {k: v[1] for k, v in sets.items()}
    names = [n.strip() for n in args.models.split(",") if n.strip()]
    missing = [n for n in names if n not in loading.shipped_names()]
    if missing:
        print(f"not shipped: {', '.join(missing)} (have: {', '.join(loading.shipped_names())})", file=sys.stderr)
        return 2
    result: dict = {"val": len(y["val"]), "train": len(y["train"]), "dclm_dev": len(y["dev"]),
                    "threads": 1, "cpu_count": os.cpu_count(), "load_avg_1m_start": round(os.getloadavg()[0], 2),
                    "models": {}, "baselines": {}}
    from scipy.stats import spearmanr

    sys.path.insert(0, str(REPO / "bench"))
    from classifier_quality import _llm_baseline_features

    for bname in ("words", "words_per_line", "zlib_compression_ratio"):
        f = {k: _llm_baseline_features(t)[bname] for k, (t, _) in sets.items()}
        sign = 1.0 if spearmanr(f["train"], y["train"])[0] >= 0 else -1.0
        result["baselines"][bname] = {"sign_from_train": int(sign), **_evaluate({k: sign * v for k, v in f.items()}, y)}
    speed_texts = sets["val"][0][:args.speed_docs]
    for name in names:
        meta = json.loads((loading.resolve(name) / "meta.json").read_text())
        if meta.get("kind") == "combined":
            s = _combined_from_components(name, sets)
            chk = sets["val"][0][:args.check_docs]
            end_to_end = loading.score(loading.load(name, device="cpu"), chk)
            diff = float(np.nanmax(np.abs(end_to_end - s["val"][:len(chk)])))
        else:
            s = {k: _cached_scores(name, k, t) for k, (t, _) in sets.items()}
            diff = None
        cut = (meta.get("threshold") or {}).get("score_cut") if meta.get("objective") == "regression" else None
        row = _evaluate(s, y, cut)
        row["docs_per_s_per_core"] = _docs_per_s(name, speed_texts)
        row["bytes"] = sum(f.stat().st_size for f in loading.resolve(name).iterdir() if f.is_file())
        if diff is not None:
            row["max_abs_diff_end_to_end"] = diff
        row["goal"] = GOALS.get(name)
        result["models"][name] = row
        print(f"{name:18s} {json.dumps(row)}", file=sys.stderr, flush=True)
    m, base = result["models"], result["baselines"]
    if "quality" in m:
        q = m["quality"]
        result["quality_beats_every_feature"] = all(
            q[k] > b[k] for b in base.values() for k in ("val_spearman", "val_roc_auc_at_3", "dclm_dev_roc_auc"))
        result["quality_meets_goal"] = bool(result["quality_beats_every_feature"] and q["dclm_dev_roc_auc"] >= 0.70)
    if "quality-minilm" in m:
        t = m["quality-minilm"]
        result["minilm_meets_goal"] = bool(t["val_spearman"] >= 0.65 and t["val_roc_auc_at_3"] >= 0.92)
        if "quality-fasttext" in m:
            f = m["quality-fasttext"]
            result["fasttext_vs_minilm"] = {
                "spearman_gap": round(t["val_spearman"] - f["val_spearman"], 4),
                "auc_gap": round(t["val_roc_auc_at_3"] - f["val_roc_auc_at_3"], 4),
                "speed_ratio": round(f["docs_per_s_per_core"] / t["docs_per_s_per_core"], 1)}
            g = result["fasttext_vs_minilm"]
            result["fasttext_meets_goal"] = bool(g["spearman_gap"] <= 0.05 and g["auc_gap"] <= 0.05 and g["speed_ratio"] >= 20)
    # a reader's summary on stderr: one line per scorer
    print(f"{'scorer':24s} {'val rho':>8s} {'AUC@3':>6s} {'F1':>6s} {'DCLM':>6s} {'docs/s/core':>11s}", file=sys.stderr)
    for k, r in [*((f"baseline {b}", v) for b, v in base.items()), *m.items()]:
        print(f"{k:24s} {r['val_spearman']:8.3f} {r['val_roc_auc_at_3']:6.3f} {r['val_f1'] or 0:6.3f} "
              f"{r['dclm_dev_roc_auc']:6.3f} {r.get('docs_per_s_per_core', float('nan')):11.1f}", file=sys.stderr)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

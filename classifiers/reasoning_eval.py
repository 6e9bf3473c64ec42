"""Leave-one-source-out (LOSO) evaluation of an offline two-class recipe (issue 17: ``reasoning``).

A random train/valid split of the recipe's own rows says little: every source is on both sides, so
the model can score well by recognising the *source* (GSM8K's phrasing, arXiv's LaTeX) rather than
reasoning density. Here every AUC is measured on sources the model never saw.

Fold design (leave one *pair* of sources out): a fold holds out one positive source ``P`` and one
negative source ``N`` together, trains fastText on every other source of the recipe (both classes,
the recipe's own caps and class balance, :func:`classifiers.training_data.select_training_set`),
and reports the ROC-AUC of P's documents against N's documents. Neither side of that AUC was in
training, and no held-out text reaches training by another route: a text that also occurs in a
training source (dedup by hash) is dropped from the held-out side, and :func:`loso` checks the
written training file against the held-out hashes. With ``p`` positive and ``n`` negative sources
there are ``p * n`` folds; per held-out positive source the mean and min over its ``n`` folds are
reported, and the mean and min over all folds.

:func:`fineweb_spearman` trains the recipe on *all* its sources and reports the Spearman
correlation of P(positive) with the LLM educational-value score on
``labels/fineweb-edu-llm/val.jsonl`` (evaluation only: nothing from it is trained on or tuned by).
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from classifiers.training_data import (MIN_CHARS, RECIPES, Recipe, collect_raw, select_training_set)

#: Held-out documents scored per source (hash order), so one big corpus does not dominate the time.
EVAL_CAP = 1000


def _recipe(recipe: str | Recipe) -> Recipe:
    r = recipe if isinstance(recipe, Recipe) else RECIPES.get(recipe)
    if r is None:
        raise ValueError(f"unknown recipe {recipe!r} (known: {', '.join(RECIPES)})")
    return r


def _md5(s: str) -> str:
    return hashlib.md5(s.encode("utf-8")).hexdigest()


def held_out_docs(rows: list[tuple[str, str, str]], source: str, exclude: set[str], cap: int) -> list[str]:
    """``source``'s distinct texts (>= MIN_CHARS, hash not in ``exclude``), the first ``cap`` in the
    same hash order the training selection caps by (``md5(h || 'cap')``)."""
    seen: dict[str, str] = {}
    for src, _, text in rows:
        if src == source and len(text) >= MIN_CHARS:
            h = _md5(text)
            if h not in exclude:
                seen.setdefault(h, text)
    order = sorted(seen, key=lambda h: _md5(h + "cap"))
    return [seen[h] for h in order[:cap]]


def _train_hashes(train_file: Path) -> set[str]:
    out = set()
    with train_file.open(encoding="utf-8") as fh:
        for line in fh:
            out.add(_md5(line.rstrip("\n").partition(" ")[2]))
    return out


def train_and_score(train_rows: list[tuple[str, str, str]], caps: dict[str, int], work: Path,
                    texts_to_score: Iterable[str], positive: str, params: dict | None = None
                    ) -> tuple[np.ndarray, dict, Path]:
    """Select + write the training set of ``train_rows``, train fastText in ``work``, return
    (P(positive) of ``texts_to_score``, selection info, the training file)."""
    from classifiers import fasttext_model as fm

    train, valid, info = select_training_set(train_rows, work / "data", caps)
    fm.train(train, valid, work / "model", params=params, data_info={**info, "positive_label": positive})
    model = fm.load(work / "model")
    return fm.score(model, list(texts_to_score)), info, train


def loso(recipe: str | Recipe = "reasoning", shared_dir: str | Path = "../shared/data", *,
         rows: list[tuple[str, str, str]] | None = None, params: dict | None = None,
         work_dir: str | Path | None = None, eval_cap: int = EVAL_CAP,
         max_per_source: int | None = None, pairs: Iterable[tuple[str, str]] | None = None,
         keep_files: bool = False) -> dict[str, Any]:
    """Leave-one-(positive, negative)-source-pair-out evaluation of ``recipe`` (see the module
    docstring). ``rows`` (``collect_raw`` output) skips reading the sources again; ``pairs``
    restricts the folds (default: every positive x negative source). Returns ``folds`` (one dict per
    fold: held-out sources, the training rows per source, held-out counts, ``roc_auc``),
    ``per_positive_source`` / ``per_negative_source`` (mean, min, folds), ``mean`` and ``min``."""
    from sklearn.metrics import roc_auc_score

    r = _recipe(recipe)
    if rows is None:
        rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                           max_per_source=max_per_source, labels=(r.positive_label, r.negative_label))
    caps = dict(r.caps)
    pairs = list(pairs) if pairs is not None else [(p, n) for p in r.positives for n in r.negatives]
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="loso-"))
    folds = []
    try:
        for pos, neg in pairs:
            if pos not in r.positives or neg not in r.negatives:
                raise ValueError(f"fold ({pos}, {neg}): not a positive/negative source pair of recipe {r.name!r}")
            held = {pos, neg}
            train_rows = [row for row in rows if row[0] not in held]
            # a held-out text that also occurs in a training source is not held out: drop it
            train_h = {_md5(t) for s, _, t in train_rows if len(t) >= MIN_CHARS}
            docs_p = held_out_docs(rows, pos, train_h, eval_cap)
            docs_n = held_out_docs(rows, neg, train_h, eval_cap)
            fold_dir = tmp / f"{pos}__{neg}"
            scores, info, train_file = train_and_score(train_rows, caps, fold_dir, docs_p + docs_n,
                                                       r.positive_label, params)
            leaked = _train_hashes(train_file) & {_md5(t) for t in docs_p + docs_n}
            if leaked or held & set(info["by_source"]):
                raise AssertionError(f"fold ({pos}, {neg}) trained on held-out data ({len(leaked)} texts)")
            y = np.r_[np.ones(len(docs_p)), np.zeros(len(docs_n))]
            fold = {"held_out_positive": pos, "held_out_negative": neg,
                    "train_sources": info["by_source"], "train_rows": sum(info["counts"]["train"].values()),
                    "n_pos": len(docs_p), "n_neg": len(docs_n),
                    "roc_auc": round(float(roc_auc_score(y, scores)), 4),
                    "mean_p_pos": round(float(scores[:len(docs_p)].mean()), 4),
                    "mean_p_neg": round(float(scores[len(docs_p):].mean()), 4)}
            if keep_files:
                fold["train_file"] = str(train_file)
            folds.append(fold)
    finally:
        if not work_dir and not keep_files:
            shutil.rmtree(tmp, ignore_errors=True)

    def agg(key: str) -> dict:
        out: dict = {}
        for f in folds:
            out.setdefault(f[key], []).append(f["roc_auc"])
        return {k: {"mean": round(float(np.mean(v)), 4), "min": round(float(np.min(v)), 4), "folds": len(v)}
                for k, v in out.items()}

    aucs = [f["roc_auc"] for f in folds]
    return {"recipe": r.name, "design": "leave one (positive, negative) source pair out; AUC of the held-out "
            "positive source's documents vs the held-out negative source's", "folds": folds,
            "per_positive_source": agg("held_out_positive"), "per_negative_source": agg("held_out_negative"),
            "mean": round(float(np.mean(aucs)), 4), "min": round(float(np.min(aucs)), 4)}


def read_val(shared_dir: str | Path) -> tuple[list[str], np.ndarray]:
    path = Path(shared_dir) / "labels" / "fineweb-edu-llm" / "val.jsonl"
    texts, ys = [], []
    with path.open(encoding="utf-8") as fh:
        for line in fh:
            if line.strip():
                row = json.loads(line)
                texts.append(row["text"])
                ys.append(float(row["score"]))
    return texts, np.asarray(ys)


def fineweb_spearman(recipe: str | Recipe = "reasoning", shared_dir: str | Path = "../shared/data", *,
                     rows: list[tuple[str, str, str]] | None = None, params: dict | None = None,
                     work_dir: str | Path | None = None) -> dict[str, Any]:
    """Train ``recipe`` on all its sources and correlate P(positive) with the FineWeb-Edu LLM
    educational score on val (evaluation only)."""
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    r = _recipe(recipe)
    if rows is None:
        rows = collect_raw(shared_dir, positives=r.positives, negatives=r.negatives,
                           labels=(r.positive_label, r.negative_label))
    texts, y = read_val(shared_dir)
    tmp = Path(work_dir) if work_dir else Path(tempfile.mkdtemp(prefix="reasoning-all-"))
    try:
        s, info, _ = train_and_score(rows, dict(r.caps), tmp, texts, r.positive_label, params)
    finally:
        if not work_dir:
            shutil.rmtree(tmp, ignore_errors=True)
    return {"n": len(y), "spearman": round(float(spearmanr(s, y)[0]), 4),
            "roc_auc_at_3": round(float(roc_auc_score(y >= 3, s)), 4),
            "train_rows": sum(info["counts"]["train"].values()), "train_sources": info["by_source"]}

"""Distil a transformer tier (the teacher) into a fastText model (the student).

The teacher is a regression head (``"objective": "regression"``, a 0-5 grade, e.g. quality-minilm)
or a classifier (logistic head, score = P(positive) in [0,1], e.g. reasoning). A classifier's
probability is handled as a grade on a 0-1 scale: the soft labels are over grades 0 and 1 (a line
carries P as the proportion of grade 1, as between two adjacent grades of a regression teacher),
and the student's expected grade is then its P(positive) (see :func:`teacher_kind`).

Why: the teacher embeds every 256-token window of a page through MiniLM, ~2 pages/s per core;
Spark has to score every page of a crawl. fastText scores thousands of pages per second per core.
So the teacher grades an unlabelled pool of real web text (:mod:`classifiers.unlabelled_pool`),
and fastText learns those grades.

Steps: :func:`teacher_scores` (cached on disk per text sha1 and teacher head sha256, so a rerun
labels nothing twice) -> :func:`write_training_file` (a variant's labels) -> variants compared by
k-fold cross-validation *on the pool* against the teacher's own grades (never on val: val and the
DCLM dev set are only evaluated, after the choice) -> the chosen variant retrained on the whole
pool, quantised, and written as an ordinary fastText model directory whose ``meta.json`` says how
its score is read (``score_mode``, see :mod:`classifiers.fasttext_model`).
"""

from __future__ import annotations

import hashlib
import json
import math
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.training_data import normalize

#: Variants compared (at most four: each costs a k-fold CV). ``labels``: ``grade`` = one class per
#: rounded teacher grade 0..5, score = expected grade; ``soft`` = the same classes, each line
#: carrying the two grades around the teacher's score in proportion (see :data:`SOFT_TOKENS`), so
#: the target's mean is the teacher's grade rather than its rounding; ``cut`` = two classes at the
#: teacher's own F1 cut (meta ``threshold.score_cut``), score = P(hi).
#: A first round (grade, cut, soft at fastText's lr 0.1 / 5 epochs, and soft dim 32 / 15 epochs)
#: gave CV Spearman -0.10, -0.20, -0.13 with the teacher (the fourth was stopped): on ~1,200
#: long documents, 5 epochs at lr 0.1 leave every prediction at the prior (train Spearman 0.004,
#: unquantised). Hence more epochs at a higher rate here.
VARIANTS: dict[str, dict[str, Any]] = {
    "soft-d32-e20-lr0.5": {"labels": "soft", "params": {"dim": 32, "epoch": 20, "wordNgrams": 2, "lr": 0.5}},
    "cut-d32-e20-lr0.5": {"labels": "cut", "params": {"dim": 32, "epoch": 20, "wordNgrams": 2, "lr": 0.5}},
}
#: Variants for a classifier teacher (grades 0 and 1 only; labels ``soft`` so the expected grade is
#: P(positive)): the regression recipe's, and the same on words alone (no bigram buckets: fewer
#: parameters for a sparser signal than the 0-5 grade, and cheaper to cross-validate on the shared
#: 2-core machine). Chosen by CV Spearman with the teacher on the pool, as above.
CLASSIFIER_VARIANTS: dict[str, dict[str, Any]] = {
    "soft-d32-e20-lr0.5": {"labels": "soft", "params": {"dim": 32, "epoch": 20, "wordNgrams": 2, "lr": 0.5}},
    "soft-d32-e20-lr0.5-ng1": {"labels": "soft", "params": {"dim": 32, "epoch": 20, "wordNgrams": 1, "lr": 0.5}},
}
#: A classifier teacher's cut for the ``cut`` labels and the CV ROC-AUC when its meta records no
#: ``threshold.score_cut``: the logistic head's own decision boundary.
CLASSIFIER_CUT = 0.5
#: Quantisation: ``cutoff`` keeps the 50,000 input rows (words and n-gram buckets) with the largest
#: norms, ``dsub`` 2 codes each pair of dimensions in one byte, ``qnorm`` codes the norms apart (the
#: fastText docs' recipe for small supervised models); retrain=False keeps the trained vectors.
#: cutoff 100,000 gave a 4.3 MB model on a 208-text pool already (dictionary growing with the
#: pool), too close to the 5 MB the model must stay under.
QUANTIZE = {"qnorm": True, "cutoff": 50_000, "retrain": False, "dsub": 2}
GRADE_LABEL = "__label__{}"
HI, LO = "__label__hi", "__label__lo"
#: 3 folds, not 5: on the shared 2-core machine one 20-epoch fold takes ~1 min.
DEFAULT_FOLDS = 3
#: Training lines keep the first this many characters of a text (scoring reads up to 100,000):
#: training time is linear in tokens, and the pool's long pages would otherwise dominate it.
MAX_TRAIN_CHARS = 3000


def _log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------- teacher


def teacher_kind(teacher_dir: str | Path) -> str:
    """``"regression"`` (meta ``objective: regression``, score a 0-5 grade) or ``"classifier"``
    (no objective: a logistic head whose score is P(positive) in [0,1])."""
    from classifiers.artifacts import read_meta_file

    _, meta = read_meta_file(teacher_dir)
    return "regression" if meta.get("objective") == "regression" else "classifier"


def grade_top(kind: str) -> int:
    """The highest grade of a teacher kind: 5 for regression, 1 for a classifier (P as a 0-1 grade)."""
    return 1 if kind == "classifier" else 5


def teacher_head_sha256(teacher_dir: str | Path) -> str:
    """The teacher's identity for the cache: the sha256 meta.json records for its head file (a
    regression or a logistic head alike)."""
    from classifiers.artifacts import read_meta_file

    d, meta = read_meta_file(teacher_dir)
    head = (meta.get("head") or {}).get("file")
    entry = (meta.get("files") or {}).get(head) if head else None
    if not isinstance(entry, dict) or not isinstance(entry.get("sha256"), str):
        raise ValueError(f"{d / 'meta.json'}: not a transformer teacher (no head file sha256)")
    return entry["sha256"]


def _sha1(text: str) -> str:
    return hashlib.sha1(text.encode("utf-8", "surrogatepass")).hexdigest()


def teacher_scores(teacher_dir: str | Path, texts: Sequence[str], cache_dir: str | Path,
                   batch: int = 16, progress: Callable[[str], None] = _log) -> np.ndarray:
    """The teacher's grade per text (NaN for empty text), read from / appended to
    ``cache_dir/teacher-<head sha256[:16]>.jsonl`` (``{"sha1", "score"}`` per line, flushed per
    batch so an interrupted run keeps what it labelled)."""
    from classifiers import loading

    head = teacher_head_sha256(teacher_dir)
    cache_dir = Path(cache_dir)
    cache_dir.mkdir(parents=True, exist_ok=True)
    cache_path = cache_dir / f"teacher-{head[:16]}.jsonl"
    cache: dict[str, float] = {}
    if cache_path.is_file():
        with open(cache_path, encoding="utf-8") as fh:
            for line in fh:
                try:
                    row = json.loads(line)
                except ValueError:  # a line cut by an interrupted write: label that text again
                    continue
                if row.get("head") == head:
                    cache[row["sha1"]] = math.nan if row["score"] is None else float(row["score"])
    keys = [_sha1(t) for t in texts]
    todo = [i for i, k in enumerate(keys) if k not in cache]
    progress(f"teacher: {len(texts) - len(todo)} of {len(texts)} cached in {cache_path}, {len(todo)} to label")
    if todo:
        model = loading.load(teacher_dir, device="cpu")
        t0 = time.perf_counter()
        with open(cache_path, "a", encoding="utf-8") as fh:
            for b in range(0, len(todo), batch):
                idx = todo[b:b + batch]
                s = loading.score(model, [texts[i] for i in idx])
                for i, v in zip(idx, s):
                    cache[keys[i]] = float(v)
                    fh.write(json.dumps({"sha1": keys[i], "head": head,
                                         "score": None if math.isnan(v) else round(float(v), 6)}) + "\n")
                fh.flush()
                done = b + len(idx)
                rate = done / (time.perf_counter() - t0)
                progress(f"teacher: {done}/{len(todo)} labelled, {rate:.2f} docs/s, "
                         f"~{(len(todo) - done) / rate / 60:.1f} min left")
    return np.array([cache[k] for k in keys], dtype=np.float64)


# ---------------------------------------------------------------------------------- labels


def teacher_cut(teacher_dir: str | Path) -> float:
    """The teacher's own grade cut for "educational" (meta ``threshold.score_cut``, chosen by F1 on
    its training folds for LLM score >= 3): the two-class variant's boundary. A classifier teacher
    without one: :data:`CLASSIFIER_CUT` (P >= 0.5)."""
    from classifiers.artifacts import read_meta_file

    d, meta = read_meta_file(teacher_dir)
    cut = (meta.get("threshold") or {}).get("score_cut")
    if not isinstance(cut, (int, float)) and meta.get("objective") != "regression":
        return CLASSIFIER_CUT
    if not isinstance(cut, (int, float)):
        raise ValueError(f"{d / 'meta.json'}: the teacher records no threshold.score_cut")
    return float(cut)


#: Label tokens per line for soft grades: fastText's softmax trainer draws one of a line's labels
#: uniformly per update, so 10 tokens split between the two grades around the teacher's score make
#: the expected target equal that score to 0.1.
SOFT_TOKENS = 10


def label_tokens(mode: str, scores: np.ndarray, cut: float, top: int = 5) -> list[str]:
    """Each row's fastText label prefix for a variant's ``labels`` mode (``grade``, ``soft``, ``cut``).
    ``top``: the highest grade (5 for a regression teacher; 1 for a classifier, whose P is then
    split between grades 0 and 1, see :func:`grade_top`)."""
    out = []
    for s in scores:
        if mode == "grade":
            out.append(GRADE_LABEL.format(int(np.clip(round(s), 0, top))))
        elif mode == "soft":
            s = float(np.clip(s, 0.0, float(top)))
            lo = int(math.floor(s))
            k_hi = int(round((s - lo) * SOFT_TOKENS))
            toks = [GRADE_LABEL.format(lo)] * (SOFT_TOKENS - k_hi) + [GRADE_LABEL.format(min(lo + 1, top))] * k_hi
            out.append(" ".join(toks))
        elif mode == "cut":
            out.append(HI if s >= cut else LO)
        else:
            raise ValueError(f"unknown label mode {mode!r} (grade, soft or cut)")
    return out


def write_training_file(path: str | Path, texts: Sequence[str], labels: Sequence[str]) -> Path:
    """fastText's format: label tokens, then the text as the scorer will see it (normalised, cut at
    the scorer's length limit, so training and scoring agree token for token)."""
    from classifiers.fasttext_model import MAX_SCORE_CHARS

    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    with open(p, "w", encoding="utf-8") as fh:
        for lab, t in zip(labels, texts):
            fh.write(f"{lab} {normalize(t[:min(MAX_SCORE_CHARS, MAX_TRAIN_CHARS)])}\n")
    return p


def model_meta_keys(mode: str, classes: list[str], kind: str = "regression") -> dict[str, Any]:
    """How :mod:`classifiers.fasttext_model` reads the student's classes (its ``score_mode``)."""
    if mode == "cut" and kind == "classifier":
        return {"score_mode": "p_positive", "labels": {"positive": HI, "negative": LO},
                "score": "P(__label__hi) in [0,1]: probability the teacher classifier's P(positive) is at "
                         "or above its cut; null for empty text", "empty_text": "nan"}
    if kind == "classifier":
        return {"score_mode": "expected_grade", "labels": {"positive": None, "negative": None},
                "grades": {c: float(c.removeprefix("__label__")) for c in classes},
                "score": "expected grade sum_k P(k)*k over grades 0 and 1 = the student's estimate of the "
                         "teacher classifier's P(positive), in [0,1]; null for empty text",
                "empty_text": "nan"}
    if mode == "cut":
        return {"score_mode": "p_positive", "labels": {"positive": HI, "negative": LO},
                "score": "P(__label__hi) in [0,1]: probability the teacher grades the page at or above its "
                         "cut; null for empty text", "empty_text": "nan"}
    return {"score_mode": "expected_grade", "labels": {"positive": None, "negative": None},
            "grades": {c: float(c.removeprefix("__label__")) for c in classes},
            "score": "expected teacher grade sum_k P(k)*k in [0,5], higher = more educational; null for empty text",
            "empty_text": "nan"}


def _load_student(model_path: Path, mode: str, kind: str = "regression"):
    from classifiers import fasttext_model as fm

    ft = fm._ft().load_model(str(model_path))
    classes = list(ft.labels)
    return fm.QualityModel(ft, {"classes": classes, **model_meta_keys(mode, classes, kind)}, model_path.parent)


def _metrics(pred: np.ndarray, target: np.ndarray, positive: np.ndarray) -> dict[str, Any]:
    from scipy.stats import spearmanr
    from sklearn.metrics import roc_auc_score

    ok = ~np.isnan(pred) & ~np.isnan(target)
    pos = positive[ok]
    return {"n": int(ok.sum()),
            "spearman": float(spearmanr(pred[ok], target[ok]).statistic) if ok.sum() > 2 else None,
            "roc_auc": float(roc_auc_score(pos, pred[ok])) if 0 < pos.sum() < len(pos) else None}


# ---------------------------------------------------------------------------------- training


def cross_validate(texts: list[str], scores: np.ndarray, variants: dict[str, dict], cut: float,
                   work: Path, folds: int = DEFAULT_FOLDS, base_params: dict | None = None,
                   quantize: dict | None = QUANTIZE, kind: str = "regression") -> dict[str, dict]:
    """k-fold CV on the pool against the teacher's grades: per variant, the out-of-fold Spearman
    with the teacher and ROC-AUC for "teacher grade >= its cut". Folds are by position in the pool,
    which is in hash order (a random split that does not depend on the sources' order). Each fold's
    student is quantised as the shipped one will be, so the numbers describe what ships."""
    from classifiers.fasttext_model import DEFAULT_PARAMS

    fold_of = np.arange(len(texts)) % folds
    results: dict[str, dict] = {}
    for name, v in variants.items():
        t0 = time.perf_counter()
        hp = {**DEFAULT_PARAMS, "thread": 1, **(base_params or {}), **v["params"]}
        pred = np.full(len(texts), np.nan)
        for f in range(folds):
            tr = np.flatnonzero(fold_of != f)
            te = np.flatnonzero(fold_of == f)
            labels = label_tokens(v["labels"], scores[tr], cut, grade_top(kind))
            path = write_training_file(work / "cv" / "train.txt", [texts[i] for i in tr], labels)
            model_path = work / "cv" / "model.bin"
            train_model_file_quiet(path, model_path, hp, quantize)
            student = _load_student(model_path, v["labels"], kind)
            pred[te] = student.score([texts[i] for i in te])
        m = _metrics(pred, scores, scores >= cut)
        results[name] = {**v, "cv": {**m, "folds": folds, "seconds": round(time.perf_counter() - t0, 1)}}
        _log(f"cv {name:20s} Spearman {m['spearman']:.3f}  ROC-AUC(teacher>=cut) {m['roc_auc']:.3f}  "
             f"({results[name]['cv']['seconds']} s)")
    shutil.rmtree(work / "cv", ignore_errors=True)
    return results


def train_model_file_quiet(path: Path, model_path: Path, hp: dict, quantize: dict | None) -> dict:
    from classifiers.fasttext_model import train_model_file

    return train_model_file(path, model_path, hp, quantize)


def evaluate(model, shared_dir: str | Path) -> dict[str, Any]:
    """Evaluation only (nothing is chosen by it): FineWeb-Edu val Spearman with the LLM score and
    ROC-AUC for score >= 3, and DCLM human dev ROC-AUC. Empty when the files are absent."""
    from classifiers import loading

    data = Path(shared_dir)
    out: dict[str, Any] = {}
    val_p = data / "labels" / "fineweb-edu-llm" / "val.jsonl"
    dclm_p = data / "labels" / "dclm-human-quality-dev.jsonl"
    if val_p.is_file():
        rows = [json.loads(line) for line in open(val_p, encoding="utf-8") if line.strip()]
        y = np.array([float(r["score"]) for r in rows])
        pred = loading.score(model, [r["text"] for r in rows])
        m = _metrics(pred, y, y >= 3)
        out["fineweb_edu_val"] = {"n": m["n"], "spearman": m["spearman"], "roc_auc_at_3": m["roc_auc"]}
    if dclm_p.is_file():
        rows = [json.loads(line) for line in open(dclm_p, encoding="utf-8") if line.strip()]
        y = np.array([float(r["label"]) for r in rows])
        pred = loading.score(model, [r["text"] for r in rows])
        m = _metrics(pred, y, y >= 1)
        out["dclm_human_dev"] = {"n": m["n"], "roc_auc": m["roc_auc"]}
    if out:
        out["note"] = "evaluation only: the variant was chosen by cross-validation on the pool"
    return out


def distill(teacher_dir: str | Path, pool, out_dir: str | Path, work_dir: str | Path, *,
            variants: dict[str, dict] | None = None, folds: int = DEFAULT_FOLDS,
            params: dict | None = None, quantize: dict | None = QUANTIZE,
            shared_dir: str | Path | None = None) -> dict:
    """Label ``pool`` (a :class:`classifiers.unlabelled_pool.Pool`) with the teacher, choose a
    variant by CV Spearman with the teacher on the pool, train it on the whole pool, quantise,
    write ``model.bin`` + ``meta.json`` to ``out_dir``; returns the meta."""
    from classifiers import fasttext_model as fm
    from classifiers.artifacts import META_FILE, read_meta_file, record_files

    t_start = time.perf_counter()
    out, work = Path(out_dir), Path(work_dir)
    kind = teacher_kind(teacher_dir)
    variants = dict(variants or (CLASSIFIER_VARIANTS if kind == "classifier" else VARIANTS))
    if not 1 <= len(variants) <= 4:
        raise ValueError("compare between 1 and 4 variants")
    if len(pool) < 10 * folds:
        raise ValueError(f"the pool has {len(pool)} texts: too few to cross-validate ({10 * folds} at least)")
    head_sha = teacher_head_sha256(teacher_dir)
    cut = teacher_cut(teacher_dir)
    scores = teacher_scores(teacher_dir, pool.texts, work)
    keep = ~np.isnan(scores)
    texts = [t for t, k in zip(pool.texts, keep) if k]
    scores = scores[keep]
    _log(f"teacher grades: n={len(scores)} mean {scores.mean():.2f}, >= cut {cut:.2f}: {(scores >= cut).mean():.1%}")
    if len(variants) > 1:
        cv = cross_validate(texts, scores, variants, cut, work, folds, params, quantize, kind)
        chosen = max(cv, key=lambda k: cv[k]["cv"]["spearman"])
    else:
        cv, chosen = {k: {**v, "cv": None} for k, v in variants.items()}, next(iter(variants))
    v = variants[chosen]
    _log(f"chosen: {chosen} (highest CV Spearman with the teacher); training on all {len(texts)} texts")
    hp = {**fm.DEFAULT_PARAMS, "thread": 1, **(params or {}), **v["params"]}
    train_file = write_training_file(work / "train.txt", texts, label_tokens(v["labels"], scores, cut, grade_top(kind)))
    out.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    hp = fm.train_model_file(train_file, out / fm.MODEL_FILE, hp, quantize)
    train_s = time.perf_counter() - t0
    ft = fm._ft().load_model(str(out / fm.MODEL_FILE))
    classes = list(ft.labels)
    _, tmeta = read_meta_file(teacher_dir)
    meta = {
        "version": fm.META_VERSION,
        "kind": "fasttext",
        "recipe": "distill",
        "classes": classes,
        **model_meta_keys(v["labels"], classes, kind),
        "normalisation": "classifiers.training_data.normalize",
        "params": hp,
        "quantize": quantize,
        "max_train_chars": MAX_TRAIN_CHARS,
        "variant": {"name": chosen, "labels": v["labels"]},
        "teacher": {"dir": str(teacher_dir), "kind": kind, "head_sha256": head_sha, "cut": cut,
                    "valid_metrics": tmeta.get("valid_metrics")},
        "pool": {"sha256": pool.info.get("sha256"), "size": len(pool), "labelled": len(texts),
                 "teacher_grade_mean": float(scores.mean()), "teacher_at_or_above_cut": float((scores >= cut).mean()),
                 **{k: val for k, val in pool.info.items() if k not in ("sha256", "n")}},
        "cv": {"chosen_by": f"highest {folds}-fold CV Spearman with the teacher's grades on the pool",
               "variants": cv},
        "training_data": {"train_file": str(train_file), "train_bytes": train_file.stat().st_size,
                          "sha256": fm_sha256(train_file)},
        "train_seconds": round(train_s, 3),
        "model_bytes": (out / fm.MODEL_FILE).stat().st_size,
        "files": record_files(out, (fm.MODEL_FILE,)),
        "vocab_size": len(ft.words),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    if shared_dir is not None:
        model = fm.load(out)
        meta["eval_metrics"] = evaluate(model, shared_dir)
    meta["total_seconds"] = round(time.perf_counter() - t_start, 1)
    meta["created"] = datetime.now(UTC).isoformat(timespec="seconds")
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


def fm_sha256(path: Path) -> str:
    from curation.model_files import sha256_file

    return sha256_file(path)

"""fastText quality classifier: train, save with metadata, load, score; plus two CLI commands.

Artifacts: ``MODEL_DIR/model.bin`` (fastText supervised, labels ``__label__hq`` / ``__label__lq``)
and ``MODEL_DIR/meta.json`` (format version, params, training-data sha256 + SQL, valid metrics, and
``files``: model.bin's size and sha256, verified with its structure before every load).
Scores are P(hq) in [0, 1]; higher means higher quality.

A model may declare another reading of its classes in ``meta.json`` (written by
:mod:`classifiers.distill`; models without these keys score as before):

* ``"score_mode": "expected_grade"`` with ``"grades": {class: number}``: the score is the expected
  grade ``sum_k P(k) * grade_k`` (a student of a regression teacher, one class per grade);
* ``"empty_text": "nan"``: None/empty/whitespace text scores NaN ("no score"), as the regression
  teacher does, instead of the model's prior for ``''`` (which looks like a real score).

A quantised model (fastText ``quantize``) is saved under the same ``model.bin`` name; the
structure check walks either layout.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.artifacts import META_FILE, read_meta, record_files, verify_files
from classifiers.training_data import HQ, PUNCT_CHARS
from curation.errors import ModelError as ModelError  # one definition; re-exported
from curation.model_files import check_fasttext
from curation.progress import heartbeat

META_VERSION = 1
MODEL_FILE = "model.bin"
#: Texts longer than this (characters) are cut before normalisation and prediction.
MAX_SCORE_CHARS = 100_000

#: lr 0.1 / 5 epochs are fastText's own defaults. Reference-vs-web text is separable on
#: source-specific words, so longer training memorises cues that do not carry to human judgements:
#: on the DCLM dev set, lr 0.3 / 8 epochs gave ROC-AUC 0.683, 20 epochs 0.661, these 0.719 (25
#: recipe variants compared, see README; the gain's 95% bootstrap interval is [-0.005, +0.078]).
DEFAULT_PARAMS: dict[str, Any] = {
    "dim": 64, "wordNgrams": 2, "bucket": 200_000, "epoch": 5, "lr": 0.1,
    "minCount": 2, "thread": 2, "seed": 0, "loss": "softmax",
}


def _ft():
    import fasttext

    fasttext.FastText.eprint = lambda *a, **k: None  # silence the load-time deprecation warning
    return fasttext


def _valid_rows(valid_path: Path, positive: str = HQ) -> tuple[list[int], list[str]]:
    ys, texts = [], []
    with open(valid_path, encoding="utf-8") as fh:
        for line in fh:
            label, _, text = line.rstrip("\n").partition(" ")
            ys.append(1 if label == positive else 0)
            texts.append(text)
    return ys, texts


def class_probs(ft, norm_texts: list[str], classes: Sequence[str]) -> np.ndarray:
    """``(len(norm_texts), len(classes))`` probabilities, columns in ``classes`` order.

    Texts must not contain newlines (:func:`_clean` output). Calls fastText's C++
    ``multilinePredict`` directly: the Python wrapper's only extra work is a newline check and a
    copy of every string, and the per-document result handling here is vectorised, because at
    ~4,000 documents/s per core every microsecond per document shows.
    """
    n, k = len(norm_texts), len(classes)
    out = np.zeros((n, k), dtype=np.float64)
    if not n:
        return out
    labels, probs = ft.f.multilinePredict([t + "\n" for t in norm_texts], k, 0.0, "replace")
    col = {c: j for j, c in enumerate(classes)}
    if all(len(ls) == k for ls in labels):
        p = np.asarray(probs, dtype=np.float64).reshape(n, k)
        rows = np.arange(n)
        for j in range(k):
            out[rows, np.fromiter((col.get(ls[j], 0) for ls in labels), np.int64, n)] = p[:, j]
    else:  # fewer labels than asked (cannot happen with threshold 0; kept for safety)
        for i, (ls, ps) in enumerate(zip(labels, probs)):
            for lab, pr in zip(ls, ps):
                if lab in col:
                    out[i, col[lab]] = pr
    return np.clip(out, 0.0, 1.0)


def _p_positive(ft, norm_texts: list[str], positive: str = HQ) -> np.ndarray:
    """P(positive) per text (one ``predict`` call), the other classes summing to the rest."""
    if not norm_texts:
        return np.zeros(0, dtype=np.float64)
    classes = list(ft.labels)
    if positive not in classes:
        raise ValueError(f"label {positive!r} is not one of the model's classes {classes}")
    return class_probs(ft, norm_texts, classes)[:, classes.index(positive)]


_TRAIN_CHILD = """
import json, sys
import fasttext
fasttext.FastText.eprint = lambda *a, **k: None
train_path, hp, model_path = sys.argv[1], json.loads(sys.argv[2]), sys.argv[3]
quantize = json.loads(sys.argv[4]) if len(sys.argv) > 4 else None
model = fasttext.train_supervised(input=train_path, verbose=0, **hp)
if quantize:
    # the training file is only read again when quantize's retrain is on
    model.quantize(input=train_path, verbose=0, thread=hp.get("thread", 1), **quantize)
model.save_model(model_path)
"""

SCORE_MODES = ("p_positive", "expected_grade")


def train_model_file(train_path: str | Path, model_path: str | Path, params: dict[str, Any],
                     quantize: dict[str, Any] | None = None) -> dict[str, Any]:
    """Train (and optionally quantise) one fastText supervised model into ``model_path``, in a
    fresh process per attempt (see :func:`train` for why); returns the parameters actually used
    (the learning rate is halved after a divergence)."""
    hp = dict(params)
    args = [sys.executable, "-c", _TRAIN_CHILD, str(train_path), "", str(model_path)]
    if quantize:
        args.append(json.dumps(quantize))
    # fastText's SGD sometimes diverges at high learning rates ("Encountered NaN"), and after one
    # divergence every later training in the same process fails too (measured with the fasttext
    # build pinned here). So each attempt runs in a fresh process, and a divergence halves the rate;
    # the rate actually used is recorded in meta.json.
    # A plain subprocess rather than multiprocessing: spawn would re-import the caller's
    # __main__, which breaks scripts without an ``if __name__ == "__main__"`` guard.
    for attempt in range(5):
        args[4] = json.dumps(hp)
        with heartbeat(f"fastText training on {Path(train_path).name}"):  # the child prints nothing we keep
            proc = subprocess.run(args, capture_output=True, text=True)
        if proc.returncode == 0:
            return hp
        err = (proc.stderr.strip().splitlines() or ["(no message)"])[-1]
        if "NaN" not in proc.stderr or attempt == 4:
            raise RuntimeError(f"fastText training failed on {train_path}: {err}")
        hp["lr"] = hp["lr"] / 2
    raise AssertionError("unreachable")


#: ``train(quantize=True)``: fastText's product quantisation with a pruned vocabulary, so a model
#: ships in ~2 MB instead of ~70 MB (no retraining pass, so nothing reads the training file again).
QUANTIZE = {"qnorm": True, "cutoff": 50_000, "retrain": False, "dsub": 2}


def train(train_path: str | Path, valid_path: str | Path, out_dir: str | Path,
          params: dict[str, Any] | None = None, data_info: dict | None = None, quantize: bool = False) -> dict:
    """Train, evaluate on ``valid_path``, write ``model.bin`` + ``meta.json``; returns the meta.

    The score is P(``data_info["positive_label"]``) (default ``__label__hq``); its ROC-AUC against
    all other classes is the validation metric (of the quantised model when ``quantize``)."""
    from sklearn.metrics import roc_auc_score

    train_path, valid_path, out = Path(train_path), Path(valid_path), Path(out_dir)
    for p in (train_path, valid_path):
        if not p.is_file():
            raise FileNotFoundError(f"training file not found: {p}")
    hp = {**DEFAULT_PARAMS, **(params or {})}
    t0 = time.perf_counter()
    out.mkdir(parents=True, exist_ok=True)
    hp = train_model_file(train_path, out / MODEL_FILE, hp, QUANTIZE if quantize else None)
    model = _ft().load_model(str(out / MODEL_FILE))
    train_s = time.perf_counter() - t0
    info = dict(data_info or {})
    positive = info.pop("positive_label", HQ)
    classes = list(model.labels)
    ys, texts = _valid_rows(valid_path, positive)
    p = _p_positive(model, texts, positive)
    y = np.asarray(ys)
    metrics = {
        "n": len(ys),
        "accuracy": float(np.mean((p >= 0.5) == (y == 1))) if len(ys) else None,
        "roc_auc": float(roc_auc_score(y, p)) if len(set(ys)) == 2 else None,
    }
    negatives = [c for c in classes if c != positive]
    meta = {
        "version": META_VERSION,
        "kind": "fasttext",
        "labels": {"positive": positive, "negative": negatives[0] if len(negatives) == 1 else None},
        "classes": classes,
        "score": f"P({positive}) in [0,1], higher = more {positive.removeprefix('__label__')}",
        "normalisation": "classifiers.training_data.normalize",
        "params": hp,
        "quantize": QUANTIZE if quantize else None,
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
        "files": record_files(out, (MODEL_FILE,)),
        "vocab_size": len(model.words),
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2, sort_keys=False) + "\n", encoding="utf-8")
    return meta


class QualityModel:
    """A loaded model plus its metadata; ``positive`` is the class whose probability is the score."""

    def __init__(self, ft_model, meta: dict, path: Path):
        self.ft, self.meta, self.path = ft_model, meta, path
        self.classes = list(meta.get("classes") or ft_model.labels)
        where = path / META_FILE
        self.score_mode = meta.get("score_mode", "p_positive")
        if self.score_mode not in SCORE_MODES:
            raise ValueError(f"{where}: unknown score_mode {self.score_mode!r} (expected {' or '.join(SCORE_MODES)})")
        self.empty_nan = meta.get("empty_text") == "nan"
        self.grades: np.ndarray | None = None
        if self.score_mode == "expected_grade":
            grades = meta.get("grades")
            if not isinstance(grades, dict) or any(not isinstance(grades.get(c), (int, float)) for c in self.classes):
                raise ValueError(f"{where}: score_mode expected_grade needs a number in 'grades' for every class "
                                 f"{self.classes}")
            self.grades = np.array([float(grades[c]) for c in self.classes], dtype=np.float64)
            self.positive = (meta.get("labels") or {}).get("positive")
            return
        self.positive = (meta.get("labels") or {}).get("positive") or HQ
        if self.positive not in self.classes:
            raise ValueError(f"{where}: positive label {self.positive!r} is not a model class {self.classes}")

    def score(self, texts: Sequence[str]) -> np.ndarray:
        return score(self, texts)


def check(model_dir: str | Path) -> tuple[Path, dict]:
    """``meta.json`` and ``model.bin`` verified (size, structure, sha256) without loading fastText,
    which would hang on a file cut inside its dictionary; returns the directory and the meta."""
    d, meta = read_meta(model_dir, (MODEL_FILE,), META_VERSION)
    # meta.json has recorded model_bytes since the first version: a size check for older models too.
    verify_files(d, meta, {MODEL_FILE: check_fasttext}, legacy_bytes={MODEL_FILE: meta.get("model_bytes")})
    return d, meta


def load(model_dir: str | Path) -> QualityModel:
    d, meta = check(model_dir)
    model_path = d / MODEL_FILE
    try:
        ft = _ft().load_model(str(model_path))
    except Exception as exc:  # fastText raises ValueError/RuntimeError on bad files
        raise ValueError(f"{model_path}: cannot load fastText model ({exc})") from exc
    return QualityModel(ft, meta, d)


#: Characters ``str.split()`` treats as whitespace but fastText's tokenizer does not (it splits on
#: space, \\t \\n \\v \\f \\r and NUL only).
_EXTRA_SPACES = tuple(c for c in map(chr, range(0x3001)) if c.isspace() and c not in " \t\n\v\f\r")  # U+3000 is the last
_ASCII_EXTRA_SPACES = tuple(c for c in _EXTRA_SPACES if c.isascii())


def _clean(text: Any) -> str:
    """The text fastText is given: the same *tokens* as :func:`normalize` (what training used),
    built without its final whitespace collapse, which fastText's own tokenizer makes redundant.

    That collapse (``" ".join(text.split())``) cost about a third of the prediction time; here only
    the characters fastText would not split on (newline is refused by predict, NUL ends the C
    string, Unicode spaces) are replaced. A test checks the token equality on hostile text.
    """
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[:MAX_SCORE_CHARS]
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:  # lone surrogates, as in normalize()
        text = text.encode("utf-8", "replace").decode("utf-8", "replace")
    text = text.lower()
    for c in PUNCT_CHARS:
        if c in text:
            text = text.replace(c, f" {c} ")
    for c in (_ASCII_EXTRA_SPACES if text.isascii() else _EXTRA_SPACES):
        if c in text:
            text = text.replace(c, " ")
    return text.replace("\n", " ").replace("\x00", " ")


def score(model: QualityModel, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
    """Per text, float64: P(positive class) in [0, 1], or the expected grade when the model's meta
    says ``score_mode: expected_grade``. Empty/None texts get the model's prior for '' unless the
    meta says ``empty_text: nan``."""
    texts = list(texts)
    probs = probabilities(model, texts, batch_size)
    if model.grades is not None:
        out = probs @ model.grades
    else:
        out = probs[:, model.classes.index(model.positive)]
    if model.empty_nan:
        empty = [i for i, t in enumerate(texts) if t is None or not str(t).strip()]
        out[empty] = np.nan
    return out


def probabilities(model: QualityModel, texts: Sequence[str], batch_size: int = 4096) -> np.ndarray:
    """Every class's probability, ``(len(texts), len(model.classes))``."""
    texts = list(texts)
    out = np.empty((len(texts), len(model.classes)), dtype=np.float64)
    for i in range(0, len(texts), batch_size):
        out[i:i + batch_size] = class_probs(model.ft, [_clean(t) for t in texts[i:i + batch_size]], model.classes)
    return out

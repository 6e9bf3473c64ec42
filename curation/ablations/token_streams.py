"""Token streams for proxy training: a small BPE, per-source train/val splits, the mixture sampler.

A source is one long stream of token ids (documents joined by the EOS id). Its tail is held out
for validation, so "val loss on source S" always means text the model never trained on. The
sampler draws each training row from a source picked by the mixture weights, from a generator
seeded by ``(seed, step)``: batch ``k`` is the same whether the run was interrupted or not.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from curation import fsutil, rundir
from curation.ablations.regmix import check_weights
from curation.mixture import token_shards

EOS_TOKEN = "<|endoftext|>"
#: the mixture step's shard layout (see :mod:`curation.mixture.token_shards`)
TOKENS_DIR = rundir.TOKENS_DIR
_SHARD = re.compile(r"tokens-\d+\.bin")


# ------------------------------------------------------------------------------ tokenizer


def train_bpe_tokenizer(texts: Iterable[str], vocab_size: int, path: str | os.PathLike) -> Path:
    """Train a byte-level BPE on ``texts`` and save it as a ``tokenizer.json`` file.

    ``path`` is the file to write, or a directory to write ``tokenizer.json`` into. A small
    vocabulary is the point: on a CPU the embedding and the output head dominate the cost.
    Byte-level means every string round-trips, whatever its script.
    """
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    path = Path(path)
    if path.is_dir() or path.suffix != ".json":
        path = path / "tokenizer.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tok = Tokenizer(models.BPE())
    # add_prefix_space=False keeps decode(encode(s)) == s exactly
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[EOS_TOKEN],
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
                                  show_progress=False)
    tok.train_from_iterator(texts, trainer=trainer)
    with fsutil.atomic_path(path) as tmp:  # a reader never sees a half-written tokenizer
        tok.save(tmp)
    return path


def tokenize_texts(tokenizer_path: str | os.PathLike, texts: Sequence[str]) -> np.ndarray:
    """Each text's ids followed by the EOS id, all concatenated (uint16 when the vocab fits)."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(tokenizer_path))
    eos = tok.token_to_id(EOS_TOKEN)
    if eos is None:
        raise ValueError(f"{tokenizer_path} has no {EOS_TOKEN!r} token")
    dtype = np.uint16 if tok.get_vocab_size() <= 65_536 else np.uint32
    encs = tok.encode_batch(list(texts), add_special_tokens=False)
    parts = [np.asarray(e.ids + [eos], dtype=dtype) for e in encs]
    return np.concatenate(parts) if parts else np.zeros(0, dtype)


def read_token_shards(directory: str | os.PathLike) -> np.ndarray:
    """All the mixture step's token shards as one stream, in mixture order.

    ``directory`` is the mix output (holding ``_tokens/`` and ``mixture_manifest.json``) or the
    ``_tokens`` folder itself. Megatron shards (``tokens-NNNNN.bin`` + ``.idx``) say their dtype in
    their index; nanoGPT's flat ``train.bin`` does not, so its dtype comes from the manifest (which
    the mix job writes beside ``_tokens/``).
    """
    root = Path(directory)
    tokens_dir = root / TOKENS_DIR if (root / TOKENS_DIR).is_dir() else root
    flat = tokens_dir / token_shards.NANOGPT_FILE
    if flat.is_file():
        manifest = tokens_dir.parent / rundir.MANIFEST
        try:
            dtype = json.loads(manifest.read_text())["token_shards"]["dtype"]
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FileNotFoundError(f"{flat}: its dtype is recorded in {manifest}, which cannot be read ({exc})") from exc
        return np.fromfile(flat, dtype=dtype)
    bins = sorted(p for p in tokens_dir.glob("tokens-*.bin") if _SHARD.fullmatch(p.name))
    if not bins:
        raise FileNotFoundError(f"no {token_shards.NANOGPT_FILE} or tokens-NNNNN.bin shards under {tokens_dir}")
    parts = []
    for b in bins:
        if not b.with_suffix(".idx").exists():
            raise FileNotFoundError(f"{b} has no matching {b.with_suffix('.idx').name}")
        tokens, _ = token_shards.read_megatron(b.with_suffix(""))
        parts.append(np.asarray(tokens))
    # np.concatenate promotes mixed dtypes (uint16 + int32 shards) to the wider one
    return np.concatenate(parts)


# ------------------------------------------------------------------------------ sources


@dataclass
class SourceTokens:
    """One source's token stream, split into a training head and a held-out tail."""

    name: str
    train: np.ndarray
    val: np.ndarray


def split_tokens(name: str, ids: np.ndarray, val_fraction: float = 0.1,
                 min_val_tokens: int | None = None, seq_len: int = 128) -> SourceTokens:
    """Hold out the tail of ``ids`` (at least ``min_val_tokens``, default ``seq_len + 1``).

    The tail, not a random sample: streams are documents in order, so a tail split keeps
    (almost) whole documents out of training; at most the one document straddling the cut is
    seen in part. Raises ``ValueError`` when the stream cannot give one training window and
    one validation window of ``seq_len + 1`` tokens.
    """
    if not 0.0 < val_fraction < 1.0:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction}")
    if seq_len < 1:
        raise ValueError(f"seq_len must be >= 1, got {seq_len}")
    ids = np.asarray(ids)
    window = seq_len + 1
    min_val = window if min_val_tokens is None else max(int(min_val_tokens), window)
    n = len(ids)
    n_val = max(math.ceil(n * val_fraction), min_val)
    if n - n_val < window:
        raise ValueError(f"source {name!r} has {n} tokens: too few for one training and one "
                         f"validation sequence of {window} tokens (needs at least {window + min_val})")
    return SourceTokens(name=name, train=ids[: n - n_val], val=ids[n - n_val:])


# ------------------------------------------------------------------------------ sampler


class MixtureSampler:
    """Seeded batches from a weighted mixture of sources' training streams."""

    def __init__(self, sources: Sequence[SourceTokens], weights: Sequence[float], seed: int = 0):
        if not sources:
            raise ValueError("MixtureSampler needs at least one source")
        self.sources = list(sources)
        self.weights = check_weights(weights, [s.name for s in self.sources])
        self.seed = int(seed)
        self.step = 0  # used only when batch() is called without an explicit step

    def batch(self, batch_size: int, seq_len: int, step: int | None = None
              ) -> tuple[torch.Tensor, torch.Tensor]:
        """(x, y) int64 tensors of shape (batch_size, seq_len); y is x shifted by one token.

        The generator is derived from ``(seed, step)``, never carried between calls, so a
        resumed run draws exactly the batches an uninterrupted one would. Without ``step`` an
        internal counter is used (and advanced).
        """
        if batch_size < 1 or seq_len < 1:
            raise ValueError(f"batch needs batch_size and seq_len >= 1, got {batch_size}, {seq_len}")
        if step is None:
            step, self.step = self.step, self.step + 1
        rng = np.random.default_rng([self.seed, int(step)])
        picks = rng.choice(len(self.sources), size=batch_size, p=self.weights)
        rows = np.empty((batch_size, seq_len + 1), dtype=np.int64)
        offs = np.arange(seq_len + 1)
        for s in np.unique(picks):  # one vectorised gather per source
            train = self.sources[s].train
            if len(train) < seq_len + 1:
                raise ValueError(f"source {self.sources[s].name!r} has {len(train)} training tokens, "
                                 f"fewer than one window of {seq_len + 1}")
            rows_s = np.flatnonzero(picks == s)
            starts = rng.integers(0, len(train) - seq_len, size=len(rows_s))
            rows[rows_s] = train[starts[:, None] + offs]
        t = torch.from_numpy(rows)
        return t[:, :-1], t[:, 1:]

    @staticmethod
    def val_batches(source: SourceTokens, n: int, batch_size: int, seq_len: int
                    ) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """Up to ``n`` fixed batches of non-overlapping windows from ``source.val``.

        Windows start every ``seq_len`` tokens (each target token is predicted once); when the
        tail holds more windows than needed they are spread evenly over it, so a long tail is
        not judged by its first few documents only. The last batch may be smaller.
        """
        if seq_len < 1 or n < 1 or batch_size < 1:
            raise ValueError(f"val_batches needs n, batch_size and seq_len >= 1, got {n}, {batch_size}, {seq_len}")
        val = np.asarray(source.val)
        available = (len(val) - 1) // seq_len
        if available < 1:
            raise ValueError(f"source {source.name!r} has {len(val)} validation tokens, "
                             f"fewer than one window of {seq_len + 1}")
        want = min(n * batch_size, available)
        picks = np.floor(np.linspace(0, available - 1, want)).astype(np.int64) if want > 1 else np.zeros(1, np.int64)
        starts = picks * seq_len
        rows = torch.from_numpy(val[starts[:, None] + np.arange(seq_len + 1)].astype(np.int64))
        return [(rows[i:i + batch_size, :-1], rows[i:i + batch_size, 1:])
                for i in range(0, want, batch_size)]

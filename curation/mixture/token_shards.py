"""Token shards in the formats trainers already read: Megatron-LM/NeMo indexed datasets and nanoGPT.

The mix stage (``binary: true``) tokenises the ordered mixture into ``RUN/mix/_tokens/``:

* ``token_format: megatron`` (default): one ``tokens-NNNNN.bin`` + ``tokens-NNNNN.idx`` pair per
  Parquet shard, the *MMIDIDX* indexed dataset of ``megatron.core.datasets.indexed_dataset`` (also
  what NeMo reads). Each pair's path without the suffix is a Megatron ``--data-path`` prefix.
* ``token_format: nanogpt``: one flat ``train.bin`` of token ids, the array nanoGPT's ``train.py``
  maps with ``np.memmap(..., dtype=np.uint16)`` (uint32 when the vocabulary does not fit 16 bits,
  which nanoGPT's loader must then be told).

Every document is its ids followed by the end-of-text id, so document boundaries survive even in the
flat format. The *MMIDIDX* layout, as Megatron's reader parses it (all little-endian)::

    9 bytes   magic b"MMIDIDX\\x00\\x00"
    <Q        version, 1
    <B        dtype code of the .bin's tokens (see MEGATRON_DTYPE_CODES)
    <Q        sequence count S
    <Q        document-index count D (= documents + 1)
    S x int32 sequence lengths, in tokens
    S x int64 sequence byte offsets into the .bin
    D x int64 document indices: 0, then the sequence count after each document

One sequence per document here (Megatron's ``preprocess_data.py`` without sentence splitting), so
the document indices are simply 0..S. Pure Python and numpy: the Spark adapter only feeds batches.
"""

from __future__ import annotations

import os
import struct
from collections.abc import Sequence
from dataclasses import dataclass
from typing import BinaryIO

import numpy as np

from curation import fsutil
from curation.errors import CurateError

FORMATS = ("megatron", "nanogpt")
#: The one flat file of the nanoGPT format (nanoGPT's train.py reads ``data_dir/train.bin``).
NANOGPT_FILE = "train.bin"
MEGATRON_MAGIC = b"MMIDIDX\x00\x00"
MEGATRON_VERSION = 1
#: Megatron's ``DType`` enum: the code written in the header for each token dtype. It has no uint32,
#: so a vocabulary past 16 bits is stored as int32 (as Megatron's own ``optimal_dtype`` does).
MEGATRON_DTYPE_CODES = {np.dtype(np.uint8): 1, np.dtype(np.int8): 2, np.dtype(np.int16): 3, np.dtype(np.int32): 4,
                        np.dtype(np.int64): 5, np.dtype(np.float64): 6, np.dtype(np.float32): 7,
                        np.dtype(np.uint16): 8}
_HEADER = struct.Struct("<9sQBQQ")


class TokenShardError(CurateError, ValueError):
    """A token shard that cannot be written or read as its format says (one line, exit 2)."""


def token_dtype(token_format: str, vocab_size: int) -> np.dtype:
    """uint16 when every id fits 16 bits; else uint32 (nanoGPT) or int32 (Megatron has no uint32)."""
    if token_format not in FORMATS:
        raise TokenShardError(f"unknown token format {token_format!r} (known: {', '.join(FORMATS)})")
    if vocab_size <= 2**16:
        return np.dtype(np.uint16)
    return np.dtype(np.int32 if token_format == "megatron" else np.uint32)


def shard_name(partition: int) -> str:
    """``tokens-NNNNN``: the file stem of one Spark partition's shard (sorted names = mixture order)."""
    return f"tokens-{partition:05d}"


class ShardWriter:
    """Streams documents' ids into a ``.bin`` sink; only their lengths (4 bytes each) stay in memory,
    so a shard of any size is written with flat memory."""

    def __init__(self, sink: BinaryIO, dtype: np.dtype):
        self.sink = sink
        self.dtype = np.dtype(dtype)
        self._max = int(np.iinfo(self.dtype).max)
        self.lengths: list[int] = []
        self.tokens = 0

    def add(self, ids: Sequence[int]) -> None:
        arr = np.asarray(ids, dtype=np.int64)
        # A silent wrap-around would train on wrong tokens: refuse ids the dtype cannot hold.
        if len(arr) and (arr.min() < 0 or arr.max() > self._max):
            raise TokenShardError(f"token id {int(arr.max())} does not fit the shard dtype {self.dtype.name}")
        if len(arr) > np.iinfo(np.int32).max:  # Megatron stores lengths as int32
            raise TokenShardError(f"a document of {len(arr):,} tokens is too long for one sequence (set chunk_tokens)")
        self.sink.write(arr.astype(self.dtype).tobytes())
        self.lengths.append(len(arr))
        self.tokens += len(arr)

    @property
    def docs(self) -> int:
        return len(self.lengths)

    def megatron_index(self) -> bytes:
        return megatron_index(self.lengths, self.dtype)


def megatron_index(lengths: Sequence[int], dtype: np.dtype) -> bytes:
    """The ``.idx`` bytes for documents of ``lengths`` tokens of ``dtype`` (one sequence each)."""
    dtype = np.dtype(dtype)
    if dtype not in MEGATRON_DTYPE_CODES:
        raise TokenShardError(f"Megatron indexed datasets cannot hold {dtype.name} tokens")
    n = len(lengths)
    lens = np.asarray(lengths, dtype=np.int64)
    pointers = np.zeros(n, dtype=np.int64)
    if n > 1:
        np.cumsum(lens[:-1] * dtype.itemsize, out=pointers[1:])
    header = _HEADER.pack(MEGATRON_MAGIC, MEGATRON_VERSION, MEGATRON_DTYPE_CODES[dtype], n, n + 1)
    return b"".join((header, lens.astype("<i4").tobytes(), pointers.astype("<i8").tobytes(),
                     np.arange(n + 1, dtype="<i8").tobytes()))


@dataclass(frozen=True)
class MegatronIndex:
    dtype: np.dtype
    lengths: np.ndarray  # int32, one per sequence
    pointers: np.ndarray  # int64 byte offsets into the .bin
    document_indices: np.ndarray  # int64, documents + 1


def read_megatron_index(path: str | os.PathLike) -> MegatronIndex:
    with fsutil.open_input(os.fspath(path)) as f:
        data = f.read()
    if len(data) < _HEADER.size or data[:9] != MEGATRON_MAGIC:
        raise TokenShardError(f"{path}: not a Megatron indexed dataset index (no MMIDIDX header)")
    _, version, code, n_seq, n_doc = _HEADER.unpack_from(data)
    codes = {v: k for k, v in MEGATRON_DTYPE_CODES.items()}
    if version != MEGATRON_VERSION or code not in codes:
        raise TokenShardError(f"{path}: unsupported index version {version} or dtype code {code}")
    if len(data) != _HEADER.size + 12 * n_seq + 8 * n_doc:
        raise TokenShardError(f"{path}: {len(data)} bytes, not the size its header gives ({n_seq} sequences, {n_doc} document indices)")
    off = _HEADER.size
    lengths = np.frombuffer(data, "<i4", n_seq, off)
    pointers = np.frombuffer(data, "<i8", n_seq, off + 4 * n_seq)
    docs = np.frombuffer(data, "<i8", n_doc, off + 12 * n_seq)
    return MegatronIndex(codes[code], lengths, pointers, docs)


def read_megatron(prefix: str | os.PathLike) -> tuple[np.ndarray, MegatronIndex]:
    """All tokens of local ``prefix.bin`` (memory-mapped) and ``prefix.idx``, checked against each other."""
    prefix = os.fspath(prefix)
    index = read_megatron_index(prefix + ".idx")
    size = os.path.getsize(prefix + ".bin")
    n = int(index.lengths.sum(dtype=np.int64))
    if size != n * index.dtype.itemsize:
        raise TokenShardError(f"{prefix}.bin: {size} bytes does not hold the {n} {index.dtype.name} tokens its .idx gives")
    tokens = np.memmap(prefix + ".bin", dtype=index.dtype, mode="r") if n else np.zeros(0, index.dtype)
    return tokens, index


def concatenate(parts: Sequence[str], dest: str, remove: bool = True) -> int:
    """Append ``parts`` in order into ``dest`` (written atomically), streamed 16 MiB at a time; the
    nanoGPT format's one flat file from the per-partition shards. Returns the bytes written."""
    written = 0
    with fsutil.atomic_output(dest) as sink:
        for p in parts:
            with fsutil.open_input(p) as src:
                while chunk := src.read(16 << 20):
                    sink.write(chunk)
                    written += len(chunk)
    if remove:
        for p in parts:
            fs, local = fsutil.resolve(p)
            fs.delete_file(local)
    return written

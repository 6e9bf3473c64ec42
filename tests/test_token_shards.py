"""Token shards as Megatron-LM/NeMo and nanoGPT read them, checked by readers written here from the
formats' descriptions (struct + numpy.memmap), not by the module's own reader."""

from __future__ import annotations

import io
import struct
from pathlib import Path

import numpy as np
import pytest

from curation.mixture import token_shards
from curation.mixture.token_shards import ShardWriter, TokenShardError

#: Megatron's DType codes (megatron/core/datasets/indexed_dataset.py), restated independently.
SPEC_DTYPES = {1: np.uint8, 2: np.int8, 3: np.int16, 4: np.int32, 5: np.int64, 6: np.float64, 7: np.float32, 8: np.uint16}


def read_megatron_spec(prefix: str | Path) -> list[list[int]]:
    """The documents of ``prefix.bin``/``prefix.idx`` as Megatron's ``_IndexReader``/``_MMapBinReader``
    parse them: magic, <Q version 1, <B dtype code, <Q sequences, <Q document indices, then int32
    lengths, int64 byte pointers, int64 document indices (0 first, last = sequence count)."""
    idx = Path(f"{prefix}.idx").read_bytes()
    assert idx[:9] == b"MMIDIDX\x00\x00"
    (version,) = struct.unpack("<Q", idx[9:17])
    (code,) = struct.unpack("<B", idx[17:18])
    n_seq, n_doc = struct.unpack("<QQ", idx[18:34])
    assert version == 1
    dtype = np.dtype(SPEC_DTYPES[code])
    lengths = np.frombuffer(idx, np.int32, n_seq, 34)
    pointers = np.frombuffer(idx, np.int64, n_seq, 34 + 4 * n_seq)
    doc_idx = np.frombuffer(idx, np.int64, n_doc, 34 + 12 * n_seq)
    assert len(idx) == 34 + 12 * n_seq + 8 * n_doc  # nothing after the document indices
    assert doc_idx[0] == 0 and doc_idx[-1] == n_seq and np.all(np.diff(doc_idx) >= 0)
    bin_path = Path(f"{prefix}.bin")
    if n_seq == 0:
        assert bin_path.stat().st_size == 0
        return []
    data = np.memmap(bin_path, dtype=np.uint8, mode="r")
    assert pointers[-1] + lengths[-1] * dtype.itemsize == len(data)  # the .bin holds exactly the sequences
    seqs = [np.frombuffer(data, dtype, int(n), int(p)).tolist() for n, p in zip(lengths, pointers)]
    return [sum(seqs[a:b], []) for a, b in zip(doc_idx[:-1], doc_idx[1:])]


def _write(tmp_path: Path, docs: list[list[int]], dtype) -> Path:
    prefix = tmp_path / "tokens-00000"
    with open(f"{prefix}.bin", "wb") as sink:
        w = ShardWriter(sink, np.dtype(dtype))
        for d in docs:
            w.add(d)
    Path(f"{prefix}.idx").write_bytes(w.megatron_index())
    assert (w.docs, w.tokens) == (len(docs), sum(map(len, docs)))
    return prefix


def test_megatron_shard_reads_back_by_the_spec(tmp_path):
    docs = [[5, 6, 7, 0], [65_535, 0], [0], [1, 2, 3, 4, 5, 6, 0]]
    prefix = _write(tmp_path, docs, np.uint16)
    assert read_megatron_spec(prefix) == docs
    idx = Path(f"{prefix}.idx").read_bytes()
    assert idx[17] == 8  # uint16's code
    assert struct.unpack("<QQ", idx[18:34]) == (4, 5)
    tokens, index = token_shards.read_megatron(prefix)  # the module's own reader agrees
    assert tokens.tolist() == sum(docs, []) and index.pointers.tolist() == [0, 8, 12, 14]


def test_big_vocabulary_is_int32_for_megatron_and_uint32_for_nanogpt(tmp_path):
    assert token_shards.token_dtype("megatron", 50_257) == np.uint16
    assert token_shards.token_dtype("nanogpt", 65_536) == np.uint16  # ids 0..65535 fit
    assert token_shards.token_dtype("megatron", 100_277) == np.int32  # Megatron has no uint32 code
    assert token_shards.token_dtype("nanogpt", 100_277) == np.uint32
    docs = [[100_000, 70_000, 1], [99_999]]
    prefix = _write(tmp_path, docs, token_shards.token_dtype("megatron", 100_277))
    assert Path(f"{prefix}.idx").read_bytes()[17] == 4
    assert read_megatron_spec(prefix) == docs
    with pytest.raises(TokenShardError, match="unknown token format 'hf'"):
        token_shards.token_dtype("hf", 10)


def test_empty_shard_and_refusals(tmp_path):
    prefix = _write(tmp_path, [], np.uint16)
    assert read_megatron_spec(prefix) == []
    with pytest.raises(TokenShardError, match="token id 70000 does not fit the shard dtype uint16"):
        ShardWriter(io.BytesIO(), np.dtype(np.uint16)).add([1, 70_000])
    with pytest.raises(TokenShardError, match="cannot hold uint32"):
        token_shards.megatron_index([1], np.dtype(np.uint32))
    bad = _write(tmp_path, [[1, 2, 3]], np.uint16)
    Path(f"{bad}.bin").write_bytes(b"\0" * 4)
    with pytest.raises(TokenShardError, match="4 bytes does not hold the 3 uint16 tokens"):
        token_shards.read_megatron(bad)
    Path(f"{bad}.idx").write_bytes(b"tokens")
    with pytest.raises(TokenShardError, match="no MMIDIDX header"):
        token_shards.read_megatron(bad)


def test_concatenate_makes_one_flat_nanogpt_file(tmp_path):
    parts = []
    for i, ids in enumerate([[1, 2, 0], [], [3, 0]]):
        p = tmp_path / f"tokens-{i:05d}.bin"
        p.write_bytes(np.asarray(ids, np.uint16).tobytes())
        parts.append(str(p))
    dest = tmp_path / token_shards.NANOGPT_FILE
    assert token_shards.concatenate(parts, str(dest)) == 10
    assert np.memmap(dest, dtype=np.uint16, mode="r").tolist() == [1, 2, 0, 3, 0]  # as nanoGPT's get_batch maps it
    assert not any(Path(p).exists() for p in parts)

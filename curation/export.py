"""A stage's documents as sharded, compressed JSONL or Parquet that other tools read (``curate export``).

Stage folders hold Parquet that Curate reads with its own conventions: dropped rows kept beside kept
ones (``drop_reason`` not null), side files (``_config.yaml``, ``_tokens/``…). An export is what a
trainer, Hugging Face ``datasets`` or the Hub expects instead: only the kept rows (unless asked
otherwise), in ``part-NNNNN.parquet`` (zstd) or ``part-NNNNN.jsonl.gz``/``.jsonl.zst`` shards of a
bounded size, in input order, so the same input gives the same shards.

Files are read one at a time and Arrow batch by batch, so memory stays flat whatever the export's
size; JSON lines are made by DuckDB (``to_json``: maps become objects, timestamps strings), which is
also what makes nested columns readable by ``datasets``' JSON loader. Parquet map columns
(``scores``) are written as lists of ``{key, value}`` structs, since ``datasets`` cannot load a map.
"""

from __future__ import annotations

import contextlib
import glob as globlib
import gzip
import logging
import os
import re
from dataclasses import dataclass, field

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from curation import fsutil, output_dir, rundir
from curation.errors import CurateError

log = logging.getLogger(__name__)

FORMATS = ("jsonl", "parquet")
#: Allowed compressions per format; the first is the default.
COMPRESSIONS = {"jsonl": ("gzip", "zstd", "none"), "parquet": ("zstd", "snappy", "gzip", "none")}
_JSONL_SUFFIX = {"gzip": ".jsonl.gz", "zstd": ".jsonl.zst", "none": ".jsonl"}
#: Rows per Arrow batch read: small enough that a batch of long documents stays a few MB.
BATCH_ROWS = 4096
#: Log progress at most this often (seconds) during a long export.
PROGRESS_EVERY_S = 10.0


class ExportError(CurateError):
    """A bad ``curate export`` request (input, format, shard size): one line, exit 2."""


@dataclass(frozen=True)
class ExportOptions:
    format: str = "parquet"
    #: None: the format's default (gzip for JSONL, zstd for Parquet).
    compression: str | None = None
    #: Rows per shard (0: no row limit).
    shard_rows: int = 0
    #: Uncompressed bytes per shard, roughly (Arrow bytes for Parquet, JSON text for JSONL; 0: no limit).
    shard_bytes: int = 256 << 20
    #: Also export rows with a drop_reason (dropped and failed records).
    include_dropped: bool = False
    #: Export only these columns (empty: all).
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if self.format not in FORMATS:
            raise ExportError(f"unknown format {self.format!r} (known: {', '.join(FORMATS)})")
        if self.compression is not None and self.compression not in COMPRESSIONS[self.format]:
            raise ExportError(f"compression {self.compression!r} is not one of {self.format}'s: "
                              f"{', '.join(COMPRESSIONS[self.format])}")
        if self.shard_rows < 0 or self.shard_bytes < 0:
            raise ExportError("shard rows and size must be >= 0")
        if not self.shard_rows and not self.shard_bytes:
            raise ExportError("give a shard row count or size (both 0 would make one unbounded file)")

    @property
    def codec(self) -> str:
        return self.compression or COMPRESSIONS[self.format][0]

    @property
    def suffix(self) -> str:
        return ".parquet" if self.format == "parquet" else _JSONL_SUFFIX[self.codec]


@dataclass
class ExportResult:
    files: list[str] = field(default_factory=list)
    rows_read: int = 0
    rows_written: int = 0
    #: Rows left out because they have a drop_reason (0 with include_dropped).
    rows_dropped: int = 0


_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([kmgt]?i?b?)?\s*$", re.I)


def parse_size(text: str) -> int:
    """``"256MB"``, ``"1.5G"``, ``"4096"`` → bytes (K/M/G/T are powers of 1024)."""
    m = _SIZE.match(str(text))
    if not m:
        raise ExportError(f"not a size: {text!r} (examples: 500MB, 2GB, 1048576)")
    power = "bkmgt".index((m.group(2) or "b")[0].lower())
    return int(float(m.group(1)) * 1024**power)


def input_files(inputs: list[str]) -> list[str]:
    """Stage folders, globs and Parquet files → the sorted, de-duplicated Parquet files to export.

    A folder contributes its top-level ``*.parquet`` (a stage's part files; ``_parts/``, ``_tokens/``
    and other side folders are not data). A run directory is refused with a hint: its stages differ
    in columns and meaning, so an export names one."""
    files: list[str] = []
    for item in inputs:
        path = fsutil.local_path(item)
        if os.path.isdir(path):
            found = sorted(os.path.join(path, f) for f in os.listdir(path)
                           if f.endswith(".parquet") and not f.startswith((".", "_")))
            if not found:
                hint = (f": it is a run directory, name one of its stage folders ({path}/STAGE)"
                        if os.path.exists(os.path.join(path, rundir.PIPELINE_STATE)) else "")
                raise ExportError(f"input {item!r} holds no Parquet files{hint}")
        elif os.path.isfile(path):
            found = [path]
        elif globlib.has_magic(path):
            found = sorted(f for f in globlib.glob(path, recursive=True) if os.path.isfile(f))
            if not found:
                raise ExportError(f"input {item!r} matches no file")
        else:
            raise ExportError(f"input {item!r} does not exist")
        bad = [f for f in found if not f.endswith(".parquet")]
        if bad:
            raise ExportError(f"input {bad[0]!r} is not Parquet (export reads stage outputs: *.parquet)")
        files.extend(os.path.realpath(f) for f in found)
    if not files:
        raise ExportError("no input given (a stage folder such as RUN/annotate, a glob or Parquet files)")
    return sorted(dict.fromkeys(files))


def _schema(files: list[str]) -> pa.Schema:
    schemas = []
    for f in files:
        try:
            schemas.append(pq.read_schema(f))
        except (OSError, pa.ArrowException) as exc:
            raise ExportError(f"cannot read {f}: {str(exc).splitlines()[0]}") from exc
    try:
        # Files of one stage share a schema; a glob over several may add columns (null where absent).
        schema = pa.unify_schemas(schemas, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise ExportError(f"the inputs' columns conflict ({str(exc).splitlines()[0]}): export one stage at a time") from exc
    return schema


def _select(schema: pa.Schema, columns: tuple[str, ...]) -> pa.Schema:
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ExportError(f"no column {missing[0]!r} in the input (columns: {', '.join(schema.names)})")
    return pa.schema([schema.field(c) for c in columns]) if columns else schema


def _without_maps(schema: pa.Schema) -> pa.Schema:
    """Map columns (``scores``) as lists of ``{key, value}``: Hugging Face ``datasets`` has no map
    feature and refuses a Parquet file with one; a list of structs is the same data, readable by all."""
    def plain(f: pa.Field) -> pa.Field:
        if not pa.types.is_map(f.type):
            return f
        return f.with_type(pa.list_(pa.struct([("key", f.type.key_type), ("value", f.type.item_type)])))
    return pa.schema([plain(f) for f in schema])


def _conform(table: pa.Table, schema: pa.Schema) -> pa.Table:
    """``table`` with ``schema``'s columns in its order: missing ones null, types cast."""
    cols = [table.column(f.name).cast(f.type) if f.name in table.column_names else pa.nulls(len(table), f.type)
            for f in schema]
    return pa.Table.from_arrays(cols, schema=schema)


class _Shards:
    """Writes tables into ``part-NNNNN<suffix>`` files, starting a new one at the row or byte bound;
    each file appears under its name only when complete (written as a hidden sibling, then renamed)."""

    def __init__(self, out: str, options: ExportOptions, schema: pa.Schema):
        self.out, self.opt, self.schema = out, options, schema
        self.files: list[str] = []
        self._stack: contextlib.ExitStack | None = None
        self._writer = None
        self._rows = self._bytes = 0
        if options.format == "jsonl":
            import duckdb

            self._duck = duckdb.connect()

    def write(self, table: pa.Table) -> None:
        while len(table):
            if self._stack is None:
                self._open()
            room = self.opt.shard_rows - self._rows if self.opt.shard_rows else len(table)
            part, table = table.slice(0, room), table.slice(room)
            self._bytes += self._write(part)
            self._rows += len(part)
            if (self.opt.shard_rows and self._rows >= self.opt.shard_rows) or (
                    self.opt.shard_bytes and self._bytes >= self.opt.shard_bytes):
                self.close()

    def _open(self) -> None:
        path = os.path.join(self.out, f"part-{len(self.files):05d}{self.opt.suffix}")
        self._stack = contextlib.ExitStack()
        tmp = self._stack.enter_context(fsutil.atomic_path(path))
        if self.opt.format == "parquet":
            self._writer = pq.ParquetWriter(tmp, self.schema, compression=self.opt.codec, write_page_checksum=True)
            self._stack.callback(self._writer.close)  # runs before the rename (ExitStack is LIFO)
        else:
            raw = self._stack.enter_context(open(tmp, "wb"))
            if self.opt.codec == "gzip":
                # mtime=0: the same rows give the same bytes
                self._writer = self._stack.enter_context(gzip.GzipFile(fileobj=raw, mode="wb", mtime=0))
            elif self.opt.codec == "zstd":
                import zstandard

                self._writer = self._stack.enter_context(zstandard.ZstdCompressor(level=3).stream_writer(raw, closefd=False))
            else:
                self._writer = raw
        self.files.append(path)
        self._rows = self._bytes = 0

    def _write(self, table: pa.Table) -> int:
        if self.opt.format == "parquet":
            self._writer.write_table(table)
            return table.nbytes
        self._duck.register("rows", table)
        try:
            lines = self._duck.execute("SELECT CAST(to_json(rows) AS VARCHAR) AS j FROM rows").fetchnumpy()["j"]
        finally:
            self._duck.unregister("rows")
        data = ("\n".join(lines) + "\n").encode("utf-8")
        self._writer.write(data)
        return len(data)

    def close(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._writer = self._stack, None, None
            stack.close()

    def abort(self) -> None:
        if self._stack is not None:
            stack, self._stack, self._writer = self._stack, None, None
            self.files.pop()
            # Unwinding with an exception: atomic_path removes the hidden file, nothing is renamed.
            with contextlib.suppress(_Aborted):
                stack.__exit__(_Aborted, _Aborted(), None)


class _Aborted(Exception):
    pass


def export(inputs: list[str], out: str, options: ExportOptions) -> ExportResult:
    """Export ``inputs`` (see :func:`input_files`) into the folder ``out`` (claimed as curate's own:
    see :mod:`curation.output_dir`); returns what was written."""
    import time

    if fsutil.is_uri(out):
        raise ExportError(f"output {out!r}: export writes a local folder (upload it afterwards)")
    files = input_files(inputs)
    full = _schema(files)
    schema = _select(full, options.columns)
    read_cols = list(schema.names)
    if options.format == "parquet":
        schema = _without_maps(schema)  # JSON lines write maps as objects already
    has_drop = "drop_reason" in full.names
    if has_drop and "drop_reason" not in read_cols:
        read_cols.append("drop_reason")  # to filter on, even when not exported
    output_dir.claim(out, "export", inputs=files)
    result = ExportResult()
    shards = _Shards(out, options, schema)
    started = last = time.monotonic()
    log.info("export: %d file(s) → %s as %s (%s)%s", len(files), out, options.format, options.codec,
             "" if options.include_dropped or not has_drop else ", kept rows only")
    try:
        for i, f in enumerate(files, 1):
            pf = pq.ParquetFile(f)
            cols = [c for c in read_cols if c in pf.schema_arrow.names]
            for batch in pf.iter_batches(batch_size=BATCH_ROWS, columns=cols):
                table = pa.Table.from_batches([batch])
                result.rows_read += len(table)
                if has_drop and not options.include_dropped and "drop_reason" in table.column_names:
                    kept = table.filter(pc.is_null(table.column("drop_reason")))
                    result.rows_dropped += len(table) - len(kept)
                    table = kept
                table = _conform(table, schema)
                shards.write(table)
                result.rows_written += len(table)
                now = time.monotonic()
                if now - last >= PROGRESS_EVERY_S:
                    last = now
                    log.info("export: file %d/%d, %s rows written to %d shard(s), %.0f s", i, len(files),
                             f"{result.rows_written:,}", len(shards.files), now - started)
        shards.close()
    except BaseException:
        shards.abort()
        raise
    result.files = shards.files
    log.info("export: %s of %s rows in %d file(s) (%s dropped rows left out) in %.1f s", f"{result.rows_written:,}",
             f"{result.rows_read:,}", len(result.files), f"{result.rows_dropped:,}", time.monotonic() - started)
    return result

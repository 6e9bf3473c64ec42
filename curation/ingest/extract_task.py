"""The extract stage for one input file: WARC records → documents → one Parquet part; and its config.

This is the whole per-task work of ``spark_jobs/extract.py`` (one Spark task streams one whole
file, the cc-pyspark model), kept free of pyspark so it runs and is tested in plain Python.

Output layout of a run directory::

    DIR/part-<name>-<hash>.parquet   documents of one input file (kept rows; all rows with keep_dropped)
    DIR/_parts/<same>.json           that file's accounting, written last: its presence marks the
                                     part complete, which is what ``--resume`` checks
    DIR/_accounting.json             the sum over all parts (written by the driver)

A part is written to a temporary name and renamed, so a killed or retried task never leaves a
half-written part behind and a retry produces the same bytes.
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import pyarrow as pa
import pyarrow.parquet as pq

from curation import fsutil, rundir
from curation.ingest.extract import (
    ExtractConfig,
    ExtractTimeout,
    PageRefused,
    decode_html,
    extract_page,
    is_html,
    may_have_math,
    parse_content_type,
    time_limit,
)
from curation.ingest.warc import DOCUMENT_TYPES, RawRecord, read_records, record_key
from curation.schema import DOC_SCHEMA, ERROR_PREFIX, PARQUET_WRITE_OPTIONS, Document, to_batch

log = logging.getLogger(__name__)

PARTS_DIR = rundir.PARTS_DIR
ACCOUNTING_FILE = rundir.ACCOUNTING
BATCH_ROWS = 500


@dataclass(frozen=True)
class ExtractJobConfig:
    """The extract stage's config (``curate extract --config``, a pipeline's ``extract:`` section)."""

    extract: ExtractConfig = field(default_factory=ExtractConfig)
    #: Keep dropped and failed records as rows (with drop_reason) instead of only counting them.
    keep_dropped: bool = False


@dataclass
class FileResult:
    source_file: str
    part: str
    records_read: int = 0
    by_outcome: dict[str, int] = field(default_factory=dict)
    rows_written: int = 0
    seconds: float = 0.0

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)


def part_name(source_file: str) -> str:
    """Stable output name for an input file: readable stem plus a hash of the full path."""
    base = source_file.rstrip("/").rsplit("/", 1)[-1]
    stem = "".join(c if c.isalnum() or c in "-_." else "_" for c in base)[:80]
    digest = hashlib.sha1(source_file.encode()).hexdigest()[:12]
    return f"part-{stem}-{digest}"


def record_to_document(raw: RawRecord, source_file: str, cfg: ExtractConfig) -> Document:
    mime, header_charset = parse_content_type(raw.content_type)
    doc = Document(
        id=record_key(source_file, raw.offset),
        url=raw.url,
        record_id=raw.record_id,
        record_type=raw.record_type,
        crawl_date=raw.date,
        source_file=source_file,
        source_offset=raw.offset,
        http_status=raw.http_status,
        content_type=mime or None,
        payload_bytes=raw.payload_bytes,
    )
    if raw.error:
        doc.drop_reason, doc.error = ERROR_PREFIX + raw.error, raw.error_detail
        return doc
    if raw.record_type not in DOCUMENT_TYPES:
        doc.drop_reason = f"warc.{raw.record_type}"  # requests, metadata, warcinfo, revisits: counted, not extracted
        return doc
    if raw.http_status is not None and not 200 <= raw.http_status < 300:
        doc.drop_reason = f"http.status_{raw.http_status // 100}xx"
        return doc
    step = cfg.step_name
    if raw.payload is None:
        doc.drop_reason = f"{step}.too_large"
        return doc
    payload = raw.payload
    try:
        if raw.record_type == "conversion":  # WET: already plain text
            doc.charset = "utf-8"
            doc.text = payload.decode(header_charset or "utf-8", errors="replace").strip()
        elif not is_html(mime, payload):
            doc.drop_reason = f"{step}.not_html"
            return doc
        else:
            html, doc.charset = decode_html(payload, header_charset)
            with time_limit(cfg.time_limit_s):
                page = extract_page(html, cfg, raw.url, math=may_have_math(payload))
            doc.text, doc.page_type = page.text, page.page_type
            if page.agreement is not None:
                doc.scores["extract_agreement"] = page.agreement
    except ExtractTimeout as exc:
        doc.drop_reason, doc.error = f"{step}.timeout", str(exc)
        return doc
    except PageRefused as exc:  # too deep, a parser limit: the real cause, not "empty"
        doc.drop_reason, doc.error = f"{step}.{exc.reason}", str(exc)
        return doc
    except Exception as exc:  # one hostile page must not stop the file
        doc.drop_reason, doc.error = f"{ERROR_PREFIX}extract", f"{type(exc).__name__}: {exc}"[:500]
        return doc
    if len(doc.text) < cfg.min_text_chars:
        doc.drop_reason = f"{step}.empty"
    return doc


def documents_from_file(source_file: str, cfg: ExtractConfig) -> Iterator[Document]:
    """Every record of one file as a Document (dropped and failed ones included)."""
    try:
        stream = fsutil.open_input(source_file)
    except Exception as exc:
        yield Document(id=record_key(source_file, -1), source_file=source_file, source_offset=-1,
                       drop_reason=ERROR_PREFIX + "open", error=f"{type(exc).__name__}: {exc}"[:500])
        return
    with stream:
        for raw in read_records(stream, cfg.max_payload_bytes, max_header_line_bytes=cfg.max_header_line_bytes,
                                max_header_block_bytes=cfg.max_header_block_bytes):
            yield record_to_document(raw, source_file, cfg)


def process_file(source_file: str, out_dir: str, cfg: ExtractConfig, keep_dropped: bool = False) -> FileResult:
    """Extract one input file into ``out_dir/<part>.parquet`` and its accounting JSON."""
    start = time.perf_counter()
    name = part_name(source_file)
    result = FileResult(source_file=source_file, part=name + ".parquet")
    outcomes: Counter[str] = Counter()
    fs, root = fsutil.resolve(out_dir)
    tmp = f"{root}/{PARTS_DIR}/{name}.{uuid.uuid4().hex}.parquet.inprogress"
    fs.create_dir(f"{root}/{PARTS_DIR}", recursive=True)
    pending: list[Document] = []
    with fs.open_output_stream(tmp) as sink, pq.ParquetWriter(sink, DOC_SCHEMA, **PARQUET_WRITE_OPTIONS) as writer:
        for doc in documents_from_file(source_file, cfg):
            result.records_read += 1
            outcomes[doc.outcome] += 1
            if doc.drop_reason is None or keep_dropped:
                pending.append(doc)
            if len(pending) >= BATCH_ROWS:
                writer.write_batch(to_batch(pending))
                result.rows_written += len(pending)
                pending.clear()
        if pending or result.rows_written == 0:
            writer.write_table(pa.Table.from_batches([to_batch(pending)], schema=DOC_SCHEMA))
            result.rows_written += len(pending)
    fs.move(tmp, f"{root}/{result.part}")
    result.by_outcome = dict(sorted(outcomes.items()))
    result.seconds = round(time.perf_counter() - start, 3)
    fsutil.write_atomic(fsutil.join(out_dir, PARTS_DIR, name + ".json"), result.to_json().encode())
    log.info("extracted %s: %d records, %d kept in %.1fs", source_file, result.records_read,
             outcomes.get("kept", 0), result.seconds)
    return result


def completed_parts(out_dir: str) -> dict[str, FileResult]:
    """Accounting of the parts already complete in ``out_dir``, keyed by source file."""
    done = {}
    for path in fsutil.list_files(fsutil.join(out_dir, PARTS_DIR), ".json"):
        try:
            data = json.loads(fsutil.read_text(path))
            res = FileResult(**data)
        except (ValueError, TypeError):
            continue  # unreadable marker: the file is simply redone
        if fsutil.exists(fsutil.join(out_dir, res.part)):
            done[res.source_file] = res
    return done


def summarise(results: list[FileResult]) -> rundir.RecordAccounting:
    """The run's ``_accounting.json``: outcome counts summing to ``records_read`` (summed over the
    files; checked when built), with the files, the rows written and each file's counts."""
    total: Counter[str] = Counter()
    for r in results:
        total.update(r.by_outcome)
    return rundir.RecordAccounting.of_outcomes(
        total, records_read=sum(r.records_read for r in results), files=len(results),
        rows_written=sum(r.rows_written for r in results),
        per_file={r.source_file: {"records_read": r.records_read, "by_outcome": r.by_outcome}
                  for r in sorted(results, key=lambda r: r.source_file)})


#: Schema of what each Spark task returns to the driver: one row per input file.
RESULT_SCHEMA = pa.schema([pa.field("source_file", pa.string()), pa.field("result", pa.string())])


def extract_partition(batches: Iterator[pa.RecordBatch], files: list[str], out_dir: str,
                      cfg: ExtractConfig, keep_dropped: bool) -> Iterator[pa.RecordBatch]:
    """``mapInArrow`` body: each input row is an index into ``files``; one file per row."""
    for batch in batches:
        for index in batch.column(0).to_pylist():
            result = process_file(files[index], out_dir, cfg, keep_dropped)
            yield pa.RecordBatch.from_pylist([{"source_file": result.source_file, "result": result.to_json()}],
                                             schema=RESULT_SCHEMA)

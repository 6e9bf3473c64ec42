"""One document, looked at closely: its raw WARC record and its benchmark overlap (no Streamlit).

* :func:`read_raw_html` seeks to ``source_offset`` in ``source_file`` and reads the first record
  there with the pipeline's own reader (:func:`curation.ingest.warc.read_records`).
* :func:`benchmark_item` reads the benchmark item a contaminated document was matched with (found
  from ``decontam_item`` = "file:line" and the decontaminate stage's ``_report.json``), and
  :func:`overlap` recomputes the n-grams they share, with the same normalisation as
  :mod:`curation.decontam`, as character spans to mark.

Every path here comes from the data (a row, a report), and a dashboard must not become a way to
read any file on the machine: each file is opened through :func:`confinement` (the run folder, the
input folders the run's own config names, and ``CURATE_WARC_ROOTS``), which resolves symlinks and
``..`` first and refuses anything outside with a one-line reason the page shows instead.
"""

from __future__ import annotations

import dataclasses
import glob
import html
import os
import re
from dataclasses import dataclass
from pathlib import Path

from curation import decontam as dc
from curation import fsutil, rundir, stages
from curation.query import confine

#: os.pathsep-separated extra folders the dashboard may read files from (``--warc-root``).
WARC_ROOTS_ENV = "CURATE_WARC_ROOTS"
#: The most raw payload shown (a page can be megabytes; the browser need not render all of it).
MAX_HTML_BYTES = 500_000
#: Same words as :func:`curation.decontam.normalize` (runs of letters/digits), with positions.
_WORD = re.compile(r"[^\W_]+")


@dataclass(frozen=True)
class RawRecord:
    """The raw payload of a document, or why it cannot be shown (``html`` None, ``reason`` set)."""

    html: str | None
    reason: str | None = None
    content_type: str | None = None
    url: str | None = None
    truncated: bool = False


def confinement(run_dir: Path) -> confine.Confinement:
    """What the dashboard may open for this run: see :func:`curation.query.confine.for_run`."""
    extra = [p for p in os.environ.get(WARC_ROOTS_ENV, "").split(os.pathsep) if p.strip()]
    return confine.for_run(run_dir, extra, hint=f"`curate dashboard --warc-root DIR` (or {WARC_ROOTS_ENV}) allows a folder")


def _allowed(where: Path | confine.Confinement) -> confine.Confinement:
    return where if isinstance(where, confine.Confinement) else confinement(where)


def read_raw_html(source_file: str | None, offset: int | None, where: Path | confine.Confinement) -> RawRecord:
    """The record at ``offset`` of ``source_file``; ``where`` is the run directory or its confinement."""
    if not source_file or offset is None:
        return RawRecord(None, "the row records no source_file/source_offset")
    if fsutil.is_uri(source_file):
        return RawRecord(None, f"{source_file} is a remote file; the dashboard reads local files only")
    allowed = _allowed(where)
    try:
        path = allowed.resolve(fsutil.local_path(source_file))
    except confine.OutsideRunError as exc:
        return RawRecord(None, str(exc))
    except FileNotFoundError:
        return RawRecord(None, f"{source_file} does not exist (moved or deleted since the run)")
    if not path.is_file():
        return RawRecord(None, f"{path} is not a file")
    from curation.ingest.warc import read_records

    try:
        with open(path, "rb") as f:
            f.seek(int(offset))
            rec = next(read_records(f, max_payload_bytes=MAX_HTML_BYTES), None)
    except OSError as exc:
        return RawRecord(None, f"cannot read {path}: {exc}")
    if rec is None:
        return RawRecord(None, f"no record at offset {offset} of {path}")
    if rec.error == "read":
        return RawRecord(None, f"the record at offset {offset} cannot be read: {rec.error_detail}")
    if rec.payload is None:
        why = "a non-document record" if rec.payload_bytes is None else f"over {MAX_HTML_BYTES:,} bytes"
        return RawRecord(None, f"the {rec.record_type} record at offset {offset} has no payload to show ({why})",
                         rec.content_type, rec.url)
    text = rec.payload.decode("utf-8", "replace")
    return RawRecord(text, None, rec.content_type, rec.url, truncated=rec.error == "truncated")


# ---------------------------------------------------------------------------- contamination


@dataclass(frozen=True)
class Overlap:
    """Spans of the document text inside n-grams shared with the benchmark item."""

    item_text: str | None
    spans: list[tuple[int, int]]
    n: int
    shared_ngrams: int
    reason: str | None = None  # why no item text could be found, when item_text is None


def _item_file(report: dict | None, benchmark: str, file_name: str) -> str | None:
    if not report:
        return None
    files = (report.get("benchmarks", {}).get(benchmark) or {}).get("files", [])
    return next((f for f in files if os.path.basename(f) == file_name), None)


def read_report(run_dir: Path, allowed: confine.Confinement | None = None) -> tuple[dict | None, str | None]:
    """(the decontaminate stage's ``_report.json``, None) or (None, why it is not shown)."""
    allowed = allowed or confinement(run_dir)
    for stage in stages.get("decontaminate").folders:
        try:
            report = allowed.read_json(run_dir / stage / rundir.REPORT)
        except confine.OutsideRunError as exc:
            return None, str(exc)
        if isinstance(report, dict):
            return report, None
    return None, f"the run has no readable decontaminate/{rundir.REPORT}"


def benchmark_item(report: dict | None, benchmark: str | None, item: str | None,
                   where: Path | confine.Confinement) -> tuple[str | None, str | None]:
    """(item text, None) or (None, why not), for ``item`` = "file:line" of ``benchmark``.

    Reads only that one file, with the spec (format, fields) from the report's benchmarks YAML when
    it can still be read, so the item is the exact text the decontaminate job indexed. Both files
    must pass the confinement (``where``: the run directory or its confinement); the report that
    names them is data, so a crafted one naming ``/etc/passwd`` gets a refusal, not the file.
    """
    if not benchmark or not item or ":" not in item:
        return None, "the row names no benchmark item"
    allowed = _allowed(where)
    name, _, line = item.rpartition(":")
    named = _item_file(report, benchmark, name)
    if named is None:
        return None, f"{name} is not among the files of {benchmark} in the decontaminate stage's _report.json"
    try:
        path = str(allowed.resolve(named))
    except confine.OutsideRunError as exc:
        return None, str(exc)
    except FileNotFoundError:
        return None, f"benchmark file {named} no longer exists"
    if not os.path.isfile(path):
        return None, f"benchmark file {named} is not a file"
    spec = None
    bench_yaml = (report or {}).get("benchmarks_file")
    if bench_yaml and allowed.allows(bench_yaml) and os.path.isfile(allowed.resolve(bench_yaml, strict=False)):
        try:
            specs = dc.load_benchmark_specs(allowed.resolve(bench_yaml))
        except (dc.BenchmarkError, OSError):
            specs = []
        # Only matched against (never read): the file read is ``path``, already confined.
        spec = next((s for s in specs if path in map(os.path.realpath, glob.glob(s.path, recursive=True))), None)
    if spec is None:  # the YAML moved: a JSON line's text fields, joined, are a close superset
        spec = dc.BenchmarkSpec(path=path, format="csv" if ".csv" in name else "jsonl", require_all_fields=False,
                                fields=("question", "answer", "text", "prompt", "canonical_solution", "context",
                                        "query", "choices", "continuation"), csv_header=False)
    try:  # escaped: load_benchmarks globs its path, and a wildcard in a name must not reach other files
        bench = dc.load_benchmarks([dataclasses.replace(spec, path=glob.escape(path), name=benchmark)])[0]
    except dc.BenchmarkError as exc:
        return None, str(exc)
    # Items are keyed by the name of the file read, which is the link's target if the report named a link.
    text = dict(bench.items).get(f"{os.path.basename(path)}:{line}")
    return (text, None) if text is not None else (None, f"{item} not found in {path}")


def overlap(text: str, item_text: str, n: int) -> Overlap:
    """Character spans of ``text`` covered by word n-grams that also occur in ``item_text``."""
    words = [(m.group(0).lower(), m.start(), m.end()) for m in _WORD.finditer(text or "")]
    item_words = dc.normalize(item_text)
    grams = {tuple(item_words[i:i + n]) for i in range(len(item_words) - n + 1)}
    marked = [False] * len(words)
    shared = set()
    for i in range(len(words) - n + 1):
        g = tuple(w for w, _, _ in words[i:i + n])
        if g in grams:
            shared.add(g)
            for j in range(i, i + n):
                marked[j] = True
    spans: list[tuple[int, int]] = []
    for i, ((_, s, e), m) in enumerate(zip(words, marked)):
        if m and i > 0 and marked[i - 1] and spans:
            spans[-1] = (spans[-1][0], e)  # consecutive marked words: one span, punctuation included
        elif m:
            spans.append((s, e))
    return Overlap(item_text, spans, n, len(shared))


def highlight_html(text: str, spans: list[tuple[int, int]]) -> str:
    """Escaped text with ``<mark>`` around the spans; newlines kept."""
    out, pos = [], 0
    for s, e in spans:
        out.append(html.escape(text[pos:s]))
        out.append(f"<mark>{html.escape(text[s:e])}</mark>")
        pos = e
    out.append(html.escape(text[pos:]))
    body = "".join(out)
    return f"<div style='white-space: pre-wrap; font-family: monospace; font-size: 0.85em'>{body}</div>"

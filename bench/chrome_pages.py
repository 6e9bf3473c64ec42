"""Chrome vs content on hand-labelled real pages (issue 18): what the pipeline keeps and drops.

Run from the repository root::

    .venv/bin/python bench/chrome_pages.py [--annotate DIR ...] [--work DIR] [--json PATH]

Labels: ``tests/data/chrome_pages/labels.jsonl`` (see the README beside it): one row per real page
from ``../shared/data`` with ``source`` (path relative to the data folder), ``url``, ``record_id``
(WARC-Record-ID, or the file name for ``html/`` pages), ``label`` (``content`` | ``chrome``) and
``pipeline_before`` (the outcome under the default pipeline when the set was built).

Two modes:

* ``--annotate DIR [DIR ...]``: read existing annotate output(s) made with ``--keep-dropped``
  (Parquet rows with ``source_file``, ``record_id``, ``url``, ``drop_reason``). A labelled page
  whose input file is not in the output is reported as ``missing``; one whose input file is there
  but whose record is not (a run without ``--keep-dropped``) counts as dropped (``absent``).
* default: run the default pipeline itself (``curate extract --keep-dropped`` then ``curate
  annotate --keep-dropped``, default configs) on every WARC the labels name plus one WARC that
  wraps the labelled ``html/`` pages (HTTP 200, ``text/html``, the page's own URL, WARC-Record-ID
  ``uuid5(NAMESPACE_URL, source)``), into ``--work`` (default: a temporary folder, removed after).
  ``--set KEY=VALUE`` and ``--extract-set KEY=VALUE`` pass config overrides to annotate / extract.

A page is *kept* when its row has no ``drop_reason``. Printed: the 2x2 table (content kept, chrome
kept, content dropped, chrome dropped), chrome-dropped % and content-kept % (issue 18's goal:
>= 90 % and >= 95 %), the same excluding pages marked ``borderline`` and excluding pages in languages
the default language routing does not keep (``lang`` not in ``curation.filters.langid.DEFAULT_LANGUAGES``),
per-source counts, every chrome page kept and content page dropped, and the pages whose outcome
differs from ``pipeline_before``. JSON via ``_common.emit``.
"""

from __future__ import annotations

import argparse
import gzip
import io
import json
import shutil
import subprocess
import sys
import tempfile
import uuid
from collections import Counter, defaultdict
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import REPO_ROOT, bench_env, emit, venv_bin

DEFAULT_LABELS = REPO_ROOT / "tests" / "data" / "chrome_pages" / "labels.jsonl"
DEFAULT_DATA = (REPO_ROOT / ".." / "shared" / "data").resolve()
# curation.filters.langid.DEFAULT_LANGUAGES, copied so the bench needs no project import
ROUTED_LANGS = ("en", "de", "es", "fr", "pt", "it", "hi", "ja")
HTML_WARC_NAME = "chrome-pages-html.warc.gz"


def load_labels(path: Path) -> list[dict]:
    rows = [json.loads(line) for line in path.read_text().splitlines() if line.strip()]
    keys = Counter((r["source"], r["record_id"]) for r in rows)
    dup = [k for k, n in keys.items() if n > 1]
    if dup:
        raise SystemExit(f"duplicate (source, record_id) in {path}: {dup[:3]}")
    return rows


def html_record_id(source: str) -> str:
    return f"<urn:uuid:{uuid.uuid5(uuid.NAMESPACE_URL, source)}>"


def norm_id(rid: str | None) -> str:
    return (rid or "").strip().strip("<>")


def wrap_html(rows: list[dict], data_dir: Path, out: Path) -> None:
    """One WARC holding every labelled html/ page (deterministic bytes)."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    with open(out, "wb") as f:
        w = WARCWriter(f, gzip=True, warc_version="1.0")
        for r in rows:
            raw = (data_dir / r["source"]).read_bytes()
            body = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html"), ("Content-Length", str(len(body)))],
                                    protocol="HTTP/1.1")
            rec = w.create_warc_record(r["url"], "response", payload=io.BytesIO(body), length=len(body),
                                       http_headers=http,
                                       warc_headers_dict={"WARC-Record-ID": html_record_id(r["source"]),
                                                          "WARC-Date": "2024-01-01T00:00:00Z"})
            w.write_record(rec)


def run_pipeline(labels: list[dict], data_dir: Path, work: Path, master: str,
                 extract_sets: list[str], annotate_sets: list[str]) -> Path:
    warcs = sorted({r["source"] for r in labels if r["source"].startswith("warc/")})
    html = [r for r in labels if r["source"].startswith("html/")]
    inputs = [str(data_dir / s) for s in warcs]
    if html:
        wrapped = work / HTML_WARC_NAME
        wrap_html(html, data_dir, wrapped)
        inputs.append(str(wrapped))
    env = bench_env()
    ex, an = work / "extract", work / "annotate"
    cmd = [venv_bin("curate"), "extract", *inputs, "--output", str(ex), "--keep-dropped", "--master", master]
    for s in extract_sets:
        cmd += ["--set", s]
    print("[chrome_pages] " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, env=env, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    cmd = [venv_bin("curate"), "annotate", str(ex), "--output", str(an), "--keep-dropped", "--master", master]
    for s in annotate_sets:
        cmd += ["--set", s]
    print("[chrome_pages] " + " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, env=env, check=True, cwd=REPO_ROOT, stdout=subprocess.DEVNULL)
    return an


def read_outcomes(dirs: list[Path], labels: list[dict], data_dir: Path) -> tuple[dict, set]:
    """(source, record_id) -> (url, drop_reason) for rows of the labelled sources; and the sources seen."""
    import pyarrow.dataset as ds

    by_tail: dict[str, str] = {}  # input file name -> label source (names are unique in the label set)
    for r in labels:
        if r["source"].startswith("warc/"):
            by_tail[Path(r["source"]).name] = r["source"]
    # the extract job stores WARC-Record-IDs without their angle brackets; compare them bare
    html_ids = {norm_id(html_record_id(r["source"])): r["source"] for r in labels if r["source"].startswith("html/")}
    out: dict[tuple[str, str], tuple[str, str | None]] = {}
    seen: set[str] = set()
    for d in dirs:
        files = sorted(str(p) for p in Path(d).glob("*.parquet"))
        if not files:
            raise SystemExit(f"no Parquet files in {d}")
        t = ds.dataset(files, format="parquet").to_table(
            columns=["source_file", "record_id", "url", "drop_reason", "record_type"])
        for sf, rid, url, dr, rt in zip(*(t.column(c).to_pylist() for c in
                                          ["source_file", "record_id", "url", "drop_reason", "record_type"])):
            name = (sf or "").rsplit("/", 1)[-1]
            rid = norm_id(rid)
            if name == HTML_WARC_NAME or rid in html_ids:
                if rid in html_ids:
                    src = html_ids[rid]
                    seen.add(src)
                    out[(src, rid)] = (url, dr)
                continue
            src = by_tail.get(name)
            if src is None:
                continue
            seen.add(src)
            if rt not in (None, "response"):
                continue
            out.setdefault((src, rid), (url, dr))
    return out, seen


def pct(a: int, b: int) -> float | None:
    return round(100.0 * a / b, 1) if b else None


def table(rows: list[dict]) -> dict:
    c = Counter((r["label"], r["outcome"] == "kept") for r in rows)
    ck, cd = c[("content", True)], c[("content", False)]
    hk, hd = c[("chrome", True)], c[("chrome", False)]
    return {"pages": len(rows), "content_kept": ck, "content_dropped": cd, "chrome_kept": hk, "chrome_dropped": hd,
            "content_kept_pct": pct(ck, ck + cd), "chrome_dropped_pct": pct(hd, hk + hd)}


def source_group(source: str) -> str:
    """A WARC by its path; html/ pages by their collection (html/wcxb-dev)."""
    return source if source.startswith("warc/") else "/".join(source.split("/")[:2])


def fmt_by_source(before: dict, after: dict) -> str:
    """Markdown: per input, content kept / chrome kept / content dropped / chrome dropped, before -> now."""
    lines = ["per input (before = pipeline_before in the labels -> now):",
             "| input | content kept | chrome kept | content dropped | chrome dropped |", "|---|---:|---:|---:|---:|"]
    for src, t in after.items():
        b = before[src]
        cells = [f"{b[k]} → {t[k]}" for k in ("content_kept", "chrome_kept", "content_dropped", "chrome_dropped")]
        lines.append(f"| {src} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def fmt_table(name: str, t: dict) -> str:
    return (f"{name}: {t['pages']} pages\n"
            f"  |          | kept | dropped |\n"
            f"  | content  | {t['content_kept']:4d} | {t['content_dropped']:7d} |\n"
            f"  | chrome   | {t['chrome_kept']:4d} | {t['chrome_dropped']:7d} |\n"
            f"  content kept {t['content_kept_pct']}% (goal >= 95), chrome dropped {t['chrome_dropped_pct']}% (goal >= 90)")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--labels", type=Path, default=DEFAULT_LABELS)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="the shared data folder (../shared/data)")
    ap.add_argument("--annotate", type=Path, nargs="+", help="existing annotate output folder(s), made with --keep-dropped")
    ap.add_argument("--work", type=Path, help="where to run the pipeline (default: a temporary folder, removed)")
    ap.add_argument("--master", default="local[2]")
    ap.add_argument("--set", dest="annotate_sets", action="append", default=[], metavar="KEY=VALUE",
                    help="annotate config override (repeatable)")
    ap.add_argument("--extract-set", dest="extract_sets", action="append", default=[], metavar="KEY=VALUE",
                    help="extract config override (repeatable)")
    ap.add_argument("--json", help="also write the JSON result here")
    args = ap.parse_args(argv)

    data_dir = args.data.resolve()
    if not data_dir.is_dir():
        print(f"[chrome_pages] skipped: data folder {data_dir} not found", file=sys.stderr)
        return 0
    labels = load_labels(args.labels)
    tmp = None
    if args.annotate:
        dirs, mode = list(args.annotate), "annotate-output"
    else:
        work = args.work or Path(tmp := tempfile.mkdtemp(prefix="chrome_pages_"))
        work.mkdir(parents=True, exist_ok=True)
        dirs, mode = [run_pipeline(labels, data_dir, work, args.master, args.extract_sets, args.annotate_sets)], "pipeline"
    try:
        outcomes, seen = read_outcomes(dirs, labels, data_dir)
    finally:
        if tmp:
            shutil.rmtree(tmp, ignore_errors=True)

    rows, missing, url_mismatch = [], [], []
    for r in labels:
        if r["source"] not in seen:
            missing.append(f"{r['source']} {r['url']}")
            continue
        key = (r["source"], norm_id(html_record_id(r["source"]) if r["source"].startswith("html/") else r["record_id"]))
        if key in outcomes:
            url, dr = outcomes[key]
            if url != r["url"]:
                url_mismatch.append(f"{r['source']} {r['record_id']}: {url} != {r['url']}")
            outcome = "kept" if dr is None else f"dropped:{dr}"
        else:
            outcome = "dropped:absent"
        rows.append({**r, "outcome": outcome})

    # Per input, now and as the set recorded it when it was built (``pipeline_before``: tables as
    # pipes, no classifier), so the README's before/after table comes from one run.
    before_rows = [{**r, "outcome": r.get("pipeline_before", "")} for r in rows]
    by_source, by_source_before = {}, {}
    for src in sorted({source_group(r["source"]) for r in rows}):
        by_source[src] = table([r for r in rows if source_group(r["source"]) == src])
        by_source_before[src] = table([r for r in before_rows if source_group(r["source"]) == src])
    drop_reasons = defaultdict(Counter)
    for r in rows:
        if r["outcome"] != "kept":
            drop_reasons[r["label"]][r["outcome"].split(":", 1)[1]] += 1
    result = {
        "bench": "chrome_pages",
        "mode": mode,
        "labels": str(args.labels.relative_to(REPO_ROOT) if args.labels.is_relative_to(REPO_ROOT) else args.labels),
        "annotate_sets": args.annotate_sets,
        "extract_sets": args.extract_sets,
        "all": table(rows),
        "not_borderline": table([r for r in rows if not r.get("borderline")]),
        "routed_languages": table([r for r in rows if r.get("lang", "en") in ROUTED_LANGS]),
        "before": table(before_rows),
        "by_source": by_source,
        "by_source_before": by_source_before,
        "drop_reasons": {k: dict(v.most_common()) for k, v in drop_reasons.items()},
        "chrome_kept": [f"{r['url']} ({r['kind']})" for r in rows if r["label"] == "chrome" and r["outcome"] == "kept"],
        "content_dropped": [f"{r['url']} ({r['kind']}): {r['outcome']}" for r in rows
                            if r["label"] == "content" and r["outcome"] != "kept"],
        "changed_vs_before": [f"{r['url']}: {r['pipeline_before']} -> {r['outcome']}" for r in rows
                              if r["outcome"] != r.get("pipeline_before")],
        "missing": missing,
        "url_mismatch": url_mismatch,
    }
    print(fmt_table("all labelled pages", result["all"]), file=sys.stderr)
    print(fmt_table("excluding borderline", result["not_borderline"]), file=sys.stderr)
    print(fmt_table("routed languages only", result["routed_languages"]), file=sys.stderr)
    print(fmt_by_source(by_source_before, by_source), file=sys.stderr)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

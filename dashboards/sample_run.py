"""A synthetic but realistic run directory, for the dashboard's tests and its page-load benchmark.

    python -m dashboards.sample_run OUT [--docs 100000] [--seed 0]

``make_run`` writes what the real jobs write, with their column names and file layout, so every
page has something true to show:

* ``extract/``, ``annotate/``, ``dedup/``, ``decontaminate/``: the same documents at each stage
  (``--keep-dropped`` style: dropped rows stay, with ``drop_reason``), a reason decided at a later
  stage is still null at the earlier ones; ``_config.yaml`` and ``_accounting.json`` beside them;
  ``scores`` maps with a few keys, promoted score columns, the classifier scores of the default
  annotate config (``quality_fasttext``, ``quality_reference``: only on documents that reached the
  classifier steps) and its selections (``score_threshold_v1`` on English documents, a
  ``top_fraction``) with every drop consistent with the recorded cut, ``dup_cluster`` groups whose members
  really are (near-)copies, and decontamination verdicts whose documents really embed an item of
  ``benchmarks/gsm8k.jsonl`` (with ``_report.json`` naming that file);
* ``warc/sample.warc.gz``: the HTML of the first few hundred documents, at their ``source_offset``
  (the others point at a remote Common Crawl path, as most real rows would);
* ``mix/``: shards and ``mixture_manifest.json``; ``ablations/demo/``: a finished ablation.

Speed matters (100,000 documents in seconds): texts are joined from a pool of pre-built sentences
and every column is built with numpy, not a Python object per document.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import yaml

from curation import rundir, stages
from curation.filters.score_filters import CLASSIFIER_DROP_PREFIXES
from curation.ingest.page_type import PAGE_TYPES
from curation.schema import DOC_SCHEMA

#: Final outcome of each document and its probability (the rest is kept). Extraction reasons
#: leave no text; a reason belongs to the stage named by its prefix.
OUTCOMES: dict[str, float] = {
    "warc.request": 0.05,
    "http.status_4xx": 0.02,
    "trafilatura_v1.not_html": 0.03,
    "trafilatura_v1.empty": 0.02,
    "error.truncated": 0.005,
    "fasttext_lid_v1.low_score": 0.05,
    "gopher_repetition_v1.dup_line_frac": 0.04,
    "gopher_quality_v1.too_few_words": 0.05,
    "gopher_quality_v1.too_few_stop_words": 0.03,
    "c4_quality_v1.too_few_sentences": 0.02,
    "fineweb_quality_v1.line_punct_ratio": 0.03,
    "corruption_v1.mojibake": 0.01,
    "score_threshold_v1.quality_reference_below": 0.04,
    "top_fraction.quality_fasttext": 0.03,
    "dedup.exact": 0.04,
    "dedup.url": 0.01,
    "dedup.minhash": 0.03,
}
EXTRACT_PREFIXES = ("warc", "http", "trafilatura_v1", "error")
ANNOTATE_STEPS = ("fasttext_lid_v1", "gopher_repetition_v1", "gopher_quality_v1", "c4_quality_v1",
                  "fineweb_quality_v1", "corruption_v1")
#: The document stages (curation.stages), in pipeline order: one folder of documents each.
STAGES = tuple(st.name for st in stages.document_stages())
LANGS = {"en": 0.72, "de": 0.08, "es": 0.07, "fr": 0.07, "ja": 0.06}
SCORE_KEYS = ("lang_score", "gopher_n_words", "fineweb_line_punct_ratio", "zlib_ratio", "quality", "reasoning")
#: Recorded by the classifier steps, after the heuristic ones: only documents these kept have them.
CLASSIFIER_SCORES = ("quality_fasttext", "quality_reference")
PROMOTED = ("lang_score", "gopher_n_words", "fineweb_line_punct_ratio", "zlib_ratio", *CLASSIFIER_SCORES)
#: The classifier selection, as spark_jobs/configs/annotate.yaml's default: English documents with
#: quality_reference below the cut are dropped; then top_fraction keeps the kept documents with
#: quality_fasttext >= TOP_FRACTION_THRESHOLD (the quantile the job would have found).
CLASSIFIER_STEPS = (
    {"name": "classifier_score_v1", "params": {"model": "quality-fasttext", "score_name": "quality_fasttext"}},
    {"name": "classifier_score_v1", "params": {"model": "quality-reference", "score_name": "quality_reference"}},
)
THRESHOLD_STEP = {"name": "score_threshold_v1", "params": {"score": "quality_reference", "min_score": 0.03, "languages": ["en"]}}
THRESHOLD_REASON = "score_threshold_v1.quality_reference_below"
TOP_FRACTION_SCORE = "quality_fasttext"
TOP_FRACTION_REASON = f"top_fraction.{TOP_FRACTION_SCORE}"
TOP_FRACTION_THRESHOLD = 1.0
#: Documents whose raw HTML goes into the local sample WARC.
WARC_DOCS = 300
REMOTE_WARC = "s3://commoncrawl/crawl-data/CC-MAIN-2024-10/segments/1707947473347.0/warc/CC-MAIN-20240220211055-00{:03d}.warc.gz"

_WORDS = {
    "en": "the of and to in is that for it as was with be by on not this are from or have an they which one "
          "you were all we when there can more if has been will would their so what about out up into "
          "equation proof theorem function variable derivative integral matrix vector algorithm graph "
          "energy force mass velocity cell protein gene reaction molecule history river city music "
          "language student teacher lesson example problem solution answer value number result method".split(),
    "de": "der die und in den von zu das mit sich des auf für ist im dem nicht ein eine als auch es an werden "
          "aus er hat dass sie nach wird bei einer Gleichung Beispiel Lösung Schule Wasser Stadt".split(),
    "es": "de la que el en y a los se del las un por con no una su para es al lo como más pero sus le ya "
          "ecuación ejemplo solución escuela agua ciudad historia".split(),
    "fr": "de la le et les des en un du une que est pour qui dans par plus pas au sur ne se ce il sont "
          "équation exemple solution école eau ville histoire".split(),
    "ja": "の に は を た が で て と し れ さ ある いる も する から な こと として い や 数学 方程式 例 解 学校 水 都市".split(),
}

GSM8K_ITEMS = [
    {"question": "Natalia sold clips to 48 of her friends in April, and then she sold half as many clips in May. "
                 "How many clips did Natalia sell altogether in April and May?",
     "answer": "Natalia sold 48/2 = 24 clips in May. Natalia sold 48+24 = 72 clips altogether in April and May. #### 72"},
    {"question": "Weng earns $12 an hour for babysitting. Yesterday, she just did 50 minutes of babysitting. "
                 "How much did she earn?",
     "answer": "Weng earns 12/60 = $0.2 per minute. Working 50 minutes, she earned 0.2 x 50 = $10. #### 10"},
    {"question": "Betty is saving money for a new wallet which costs $100. Betty has only half of the money she "
                 "needs. Her parents decided to give her $15 for that purpose, and her grandparents twice as much "
                 "as her parents. How much more money does Betty need to buy the wallet?",
     "answer": "In the beginning, Betty has only 100 / 2 = $50. Betty's grandparents gave her 15 * 2 = $30. "
               "This means, Betty needs 100 - 50 - 30 - 15 = $5 more. #### 5"},
    {"question": "James writes a 3-page letter to 2 different friends twice a week. How many pages does he "
                 "write a year?",
     "answer": "He writes each friend 3*2=6 pages a week. So he writes 6*2=12 pages every week. "
               "That means he writes 12*52=624 pages a year. #### 624"},
]


@dataclass(frozen=True)
class SampleRun:
    """What ``make_run`` wrote: enough for a test to know its answers without re-deriving them."""

    run_dir: Path
    n_docs: int
    warc_file: Path
    benchmark_file: Path
    mix_dir: Path
    ablation_dir: Path


def _sentences(rng: np.random.Generator, lang: str, n: int) -> list[str]:
    words = _WORDS[lang]
    sep = "" if lang == "ja" else " "
    end = "。" if lang == "ja" else "."
    out = []
    for _ in range(n):
        k = int(rng.integers(6, 16))
        s = sep.join(words[i] for i in rng.integers(0, len(words), k))
        out.append(s[0].upper() + s[1:] + end)
    return out


def _texts(rng: np.random.Generator, langs: np.ndarray, n_sent: np.ndarray) -> list[str]:
    """Each document: a run of sentences from its language's pool, a paragraph break every few."""
    pools = {lang: _sentences(rng, lang, 400) for lang in _WORDS}
    texts: list[str] = []
    starts = rng.integers(0, 400, len(langs))
    steps = rng.integers(1, 50, len(langs))
    for lang, k, s0, st in zip(langs.tolist(), n_sent.tolist(), starts.tolist(), steps.tolist()):
        pool = pools[lang]
        sents = [pool[(s0 + i * st) % 400] for i in range(k)]
        paras = [" ".join(sents[i:i + 4]) for i in range(0, k, 4)]
        texts.append("\n\n".join(paras))
    return texts


def _stage_of(reason: str | None) -> str | None:
    if reason is None:
        return None
    prefix = reason.split(".", 1)[0]
    if prefix in EXTRACT_PREFIXES:
        return "extract"
    if prefix in ANNOTATE_STEPS or reason.startswith(CLASSIFIER_DROP_PREFIXES):
        return "annotate"
    return "dedup"


def _write_parts(table: pa.Table, out: Path, parts: int = 4) -> None:
    out.mkdir(parents=True, exist_ok=True)
    n = table.num_rows
    for p in range(parts):
        lo, hi = n * p // parts, n * (p + 1) // parts
        pq.write_table(table.slice(lo, hi - lo), out / f"part-{p:05d}-sample.parquet", compression="zstd")


def _html(text: str, url: str) -> bytes:
    paras = "".join(f"<p>{p}</p>" for p in text.split("\n\n"))
    return (f"<!DOCTYPE html><html><head><title>{url}</title></head><body><nav><a href='/'>Home</a> | "
            f"<a href='/about'>About</a></nav><main>{paras}</main><footer>© example</footer></body></html>").encode()


def _write_warc(path: Path, docs: list[tuple[str, str, str]]) -> list[int]:
    """One gzip member per record (as Common Crawl does), so each record's offset is seekable."""
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    path.parent.mkdir(parents=True, exist_ok=True)
    offsets = []
    with open(path, "wb") as f:
        writer = WARCWriter(f, gzip=True)
        for url, text, date in docs:
            offsets.append(f.tell())
            http = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            rec = writer.create_warc_record(url, "response", payload=io.BytesIO(_html(text, url)), http_headers=http,
                                            warc_headers_dict={"WARC-Date": date})
            writer.write_record(rec)
    return offsets


def make_run(run_dir: str | Path, n_docs: int, seed: int = 0, classifier_selection: bool = True) -> SampleRun:
    """``classifier_selection=False``: the classifiers record scores but select nothing (no
    ``score_threshold_v1`` step, no ``top_fraction``, so no such drop)."""
    run = Path(run_dir)
    run.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    n = int(n_docs)

    # Outcomes, then the columns that depend on them.
    outcomes = {r: p for r, p in OUTCOMES.items() if classifier_selection or not r.startswith(CLASSIFIER_DROP_PREFIXES)}
    names = list(outcomes)
    probs = np.array(list(outcomes.values()))
    choice = rng.choice(len(names) + 1, size=n, p=np.append(probs, 1 - probs.sum()))
    reasons = np.array(names + [None], dtype=object)[choice]
    stage = np.array([_stage_of(r) for r in names] + [None], dtype=object)[choice]
    no_text = np.isin(choice, [names.index(r) for r in names if r.split(".")[0] in EXTRACT_PREFIXES])
    langs = rng.choice(list(LANGS), size=n, p=list(LANGS.values()))
    langs[reasons == THRESHOLD_REASON] = "en"  # the cut judges English documents only
    n_sent = rng.integers(3, 40, n)
    short = np.isin(reasons, ["gopher_quality_v1.too_few_words", "c4_quality_v1.too_few_sentences"])
    n_sent[short] = rng.integers(1, 3, int(short.sum()))
    texts = _texts(rng, langs, n_sent)
    ids = [hashlib.sha1(f"sample-{seed}:{i}".encode()).hexdigest() for i in range(n)]  # like record_key()
    hosts = rng.integers(0, max(2, n // 5), n)
    urls = [f"https://site{h}.example.org/{lang}/page/{i}" for i, (h, lang) in enumerate(zip(hosts.tolist(), langs.tolist()))]
    days = rng.integers(1, 28, n)
    dates = [f"2024-02-{d:02d}T12:00:00Z" for d in days.tolist()]

    # Duplicate clusters: each dedup-dropped document copies an earlier kept (or later dropped) keeper.
    dup_cluster = np.full(n, None, dtype=object)
    candidates = np.flatnonzero(stage == None)  # noqa: E711 - numpy object comparison
    candidates = candidates[~np.isin(langs[candidates], ["ja"])] if len(candidates) else candidates
    for i in np.flatnonzero(stage == "dedup"):
        if not len(candidates):
            break
        keeper = int(candidates[rng.integers(0, len(candidates))])
        if reasons[i] == "dedup.exact":
            texts[i] = texts[keeper]
        elif reasons[i] == "dedup.url":
            texts[i] = texts[keeper].replace(".", "!", 1)
            urls[i] = urls[keeper] + "?utm_source=feed"
        else:  # near-duplicate: the keeper with one sentence dropped
            texts[i] = texts[keeper].split(". ", 1)[-1]
        langs[i] = langs[keeper]
        dup_cluster[i] = ids[keeper]
        dup_cluster[keeper] = ids[keeper]

    # Contamination: a few kept English documents embed a GSM8K item (13-gram hit) or part of one.
    kept_en = np.flatnonzero((stage == None) & (langs == "en") & (dup_cluster == None))  # noqa: E711
    n_contam = max(2, n // 2000) if len(kept_en) >= 4 else 0
    picked = rng.choice(kept_en, size=min(len(kept_en), n_contam * 2), replace=False) if n_contam else np.zeros(0, int)
    contam = {int(i): ("contaminated" if j % 2 == 0 else "partial", j % len(GSM8K_ITEMS)) for j, i in enumerate(picked)}
    for i, (status, item) in contam.items():
        it = GSM8K_ITEMS[item]
        inserted = f"{it['question']} {it['answer']}" if status == "contaminated" else " ".join(it["question"].split()[:11])
        texts[i] = f"{texts[i]}\n\n{inserted}"

    for i in np.flatnonzero(no_text):
        texts[i] = ""
    n_words = np.array([len(t.split()) for t in texts], dtype=np.float64)

    # The local WARC: HTML of the first documents that have text.
    warc = run / "warc" / "sample.warc.gz"
    with_html = [i for i in range(n) if not no_text[i]][:WARC_DOCS]
    offsets = _write_warc(warc, [(urls[i], texts[i], dates[i]) for i in with_html])
    source_file = [REMOTE_WARC.format(i % 640) for i in range(n)]
    source_offset = (rng.integers(0, 900_000_000, n)).astype(np.int64)
    for i, off in zip(with_html, offsets):
        source_file[i], source_offset[i] = str(warc), off

    # Scores (recorded by annotate for every document that reached it; the classifier scores only
    # for those the heuristic steps kept).
    scored = ~np.isin(stage, ["extract"])
    classified = scored & ~np.isin(choice, [names.index(r) for r in names if r.split(".")[0] in ANNOTATE_STEPS])
    lang_score = np.where(reasons == "fasttext_lid_v1.low_score", rng.uniform(0.2, 0.65, n), rng.beta(12, 1.2, n))
    punct = rng.beta(6, 2, n)
    zlib_ratio = rng.normal(0.34, 0.05, n).clip(0.1, 0.9)
    quality = rng.beta(2, 5, n)
    reasoning = rng.beta(1.5, 4, n)
    q_ref, q_fast, top_fraction = _classifier_scores(rng, reasons, stage, langs)
    score_cols = {"lang_score": lang_score, "gopher_n_words": n_words, "fineweb_line_punct_ratio": punct,
                  "zlib_ratio": zlib_ratio, "quality": quality, "reasoning": reasoning,
                  "quality_fasttext": q_fast, "quality_reference": q_ref}
    has = {key: classified if key in CLASSIFIER_SCORES else scored for key in score_cols}
    # A map column from flat arrays: each document's present keys, in order; empty where not scored.
    all_keys = list(score_cols)
    present = np.stack([has[key] for key in all_keys], axis=1)
    map_offsets = np.concatenate([[0], np.cumsum(present.sum(axis=1))]).astype(np.int32)
    keys = np.tile(np.array(all_keys, dtype=object), n)[present.ravel()]
    vals = np.stack([score_cols[key] for key in all_keys], axis=1).ravel()[present.ravel()]
    scores_arr = pa.MapArray.from_arrays(pa.array(map_offsets), pa.array(keys, pa.string()), pa.array(vals, pa.float64()))
    empty_scores = pa.MapArray.from_arrays(pa.array(np.zeros(n + 1, np.int32)), pa.array([], pa.string()), pa.array([], pa.float64()))

    record_type = np.where(reasons == "warc.request", "request", "response")
    http_status = np.where(reasons == "http.status_4xx", 404, 200).astype(np.int32)
    http_status[reasons == "warc.request"] = 0
    content_type = np.where(reasons == "trafilatura_v1.not_html", "application/pdf", "text/html")
    errors = np.where(reasons == "error.truncated", "file ends 812 bytes before the record's Content-Length 20431", None)

    def doc_table(upto: str) -> pa.Table:
        """Documents as the stage ``upto`` writes them: later stages' reasons not decided yet."""
        order = STAGES.index(upto)
        decided = np.array([s is not None and STAGES.index(s) <= order for s in stage], dtype=bool)
        reason_col = np.where(decided, reasons, None)
        annotated = order >= 1
        cols = {
            "id": pa.array(ids, pa.string()),
            "text": pa.array(texts, pa.large_string()),
            "url": pa.array(urls, pa.string()),
            "lang": pa.array(np.where(annotated & scored, langs, None), pa.string()),
            "drop_reason": pa.array(reason_col, pa.string()),
            "error": pa.array(errors, pa.string()),
            "record_id": pa.array([f"<urn:uuid:{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}>" for h in ids], pa.string()),
            "record_type": pa.array(record_type, pa.string()),
            "crawl_date": pa.array(dates, pa.string()),
            "source_file": pa.array(source_file, pa.string()),
            "source_offset": pa.array(source_offset, pa.int64()),
            "http_status": pa.array(np.where(http_status == 0, None, http_status), pa.int32()),
            "content_type": pa.array(content_type, pa.string()),
            "charset": pa.array(np.where(no_text, None, "utf-8"), pa.string()),
            "payload_bytes": pa.array((n_words * 9 + 900).astype(np.int64), pa.int64()),
            # from the id, not the generator: adding the column left every other value as it was
            "page_type": pa.array([None if nt else PAGE_TYPES[int(h[:2], 16) % len(PAGE_TYPES)]
                                   for h, nt in zip(ids, no_text)], pa.string()),
            "scores": scores_arr if annotated else empty_scores,
        }
        table = pa.table(cols, schema=DOC_SCHEMA)
        if annotated:
            for key in PROMOTED:
                table = table.append_column(key, pa.array(score_cols[key], pa.float64(), mask=~has[key]))
        if order >= 2:
            table = table.append_column("dup_cluster", pa.array(dup_cluster, pa.string()))
        if order >= 3:
            status = np.where(reason_col == None, "clean", None).astype(object)  # noqa: E711
            bench = np.full(n, None, dtype=object)
            item = np.full(n, None, dtype=object)
            ratio = np.where(reason_col == None, rng.uniform(0, 0.05, n), np.nan)  # noqa: E711
            ngram = np.full(n, None, dtype=object)
            for i, (st, it) in contam.items():
                status[i], bench[i], item[i] = st, "gsm8k", f"gsm8k.jsonl:{it + 1}"
                ratio[i] = 0.62 if st == "contaminated" else 0.2
                ngram[i] = 13 if st == "contaminated" else 7
            table = (table.append_column("decontam_status", pa.array(status, pa.string()))
                     .append_column("decontam_benchmark", pa.array(bench, pa.string()))
                     .append_column("decontam_item", pa.array(item, pa.string()))
                     .append_column("decontam_ratio", pa.array(np.where(np.isnan(ratio), None, ratio), pa.float64()))
                     .append_column("decontam_ngram", pa.array(ngram, pa.int32())))
        return table

    accounting = {}
    for st in STAGES:
        table = doc_table(st)
        _write_parts(table, run / st)
        by = {}
        for r in table.column("drop_reason").to_pylist():
            by[r or "kept"] = by.get(r or "kept", 0) + 1
        accounting[st] = {"records_read": n, "by_outcome": dict(sorted(by.items(), key=lambda kv: -kv[1]))}
    annotate_cfg = {"steps": [{"name": s} for s in ANNOTATE_STEPS] + list(CLASSIFIER_STEPS), "promote": list(PROMOTED),
                    "keep_dropped": True, "top_fraction": {}}
    if classifier_selection:  # the step, the fraction kept, and the threshold the job settled on
        annotate_cfg["steps"].append(THRESHOLD_STEP)
        annotate_cfg["top_fraction"] = {TOP_FRACTION_SCORE: top_fraction["fraction"]}
        accounting["annotate"]["top_fraction"] = {TOP_FRACTION_SCORE: top_fraction}
    _write_stage_files(run, accounting, contam, n, annotate_cfg)
    bench_file = _write_benchmarks(run)
    _write_report(run, bench_file, contam, accounting)
    mix_dir = _write_mix(run, rng, ids, texts, stage, langs, reasoning, n_words)
    abl = _write_ablation(run, rng, mix_dir)
    return SampleRun(run, n, warc, bench_file, mix_dir, abl)


def _classifier_scores(rng: np.random.Generator, reasons: np.ndarray, stage: np.ndarray,
                       langs: np.ndarray) -> tuple[np.ndarray, np.ndarray, dict]:
    """quality_reference in [0, 1] and quality_fasttext in [0, 5] consistent with the selection:
    every English document the cut dropped is below it and every other English one at or above it
    (other languages are not judged, and score low, like the real model's German pages); the
    top_fraction drops are below its threshold, the documents it kept at or above. Also the
    top_fraction record the job writes to ``_accounting.json``."""
    n = len(reasons)
    cut = THRESHOLD_STEP["params"]["min_score"]
    below = reasons == THRESHOLD_REASON
    q_ref = np.where(langs == "en", cut + (1 - cut) * rng.beta(2, 2, n), rng.beta(1, 8, n))
    q_ref[below] = rng.uniform(0, cut, int(below.sum()))
    dropped_tf = reasons == TOP_FRACTION_REASON
    candidates = (stage == None) | (stage == "dedup") | dropped_tf  # noqa: E711 - what the annotate steps kept
    t = TOP_FRACTION_THRESHOLD
    q_fast = np.where(candidates, t + (5 - t) * rng.beta(2, 2, n), 5 * rng.beta(2, 3, n))
    q_fast[dropped_tf] = rng.uniform(0, t, int(dropped_tf.sum()))
    n_cand = int(candidates.sum())
    fraction = round((n_cand - int(dropped_tf.sum())) / max(1, n_cand), 4)
    return q_ref, q_fast, {"fraction": fraction, "threshold": t, "candidates": n_cand}


def _write_stage_files(run: Path, accounting: dict, contam: dict, n: int, annotate_cfg: dict) -> None:
    configs = {
        "extract": {"extract": {"extractor": "trafilatura"}, "keep_dropped": True},
        "annotate": annotate_cfg,
        "dedup": {"exact": True, "url": True, "minhash": True, "ngram": 5, "bands": 14, "rows": 8},
        "decontaminate": {"benchmarks": str(run / "benchmarks" / "bench.yaml")},
    }
    for st in STAGES:
        rundir.write_config(run / st, yaml.safe_dump(configs[st], sort_keys=False))
        acc = accounting[st]
        if st == "decontaminate":
            statuses: dict[str, int] = {"unchecked": sum(v for k, v in acc["by_outcome"].items() if k != "kept")}
            kept = acc["by_outcome"].get("kept", 0)
            for s, _ in contam.values():
                statuses[s] = statuses.get(s, 0) + 1
            statuses["clean"] = kept - len(contam)
            acc = {"records_read": n, "records_written": n, "by_status": statuses, "seconds": 1.0}
        rundir.write_accounting(run / st, acc)


def _write_benchmarks(run: Path) -> Path:
    bdir = run / "benchmarks"
    bdir.mkdir(parents=True, exist_ok=True)
    path = bdir / "gsm8k.jsonl"
    path.write_text("".join(json.dumps(it) + "\n" for it in GSM8K_ITEMS))
    (bdir / "bench.yaml").write_text(yaml.safe_dump({"benchmarks": [{"preset": "gsm8k", "name": "gsm8k", "path": "gsm8k.jsonl"}]}))
    return path


def _write_report(run: Path, bench_file: Path, contam: dict, accounting: dict) -> None:
    statuses = [s for s, _ in contam.values()]
    by_status = rundir.read_accounting(run / "decontaminate")["by_status"]
    report = {
        "benchmarks_file": str(run / "benchmarks" / "bench.yaml"), "long_n": 13, "short_n": 7,
        "info_threshold": 0.1, "contaminated_threshold": 0.35, "allowlist": None, "docs_by_status": by_status,
        "benchmarks": {"gsm8k": {"files": [str(bench_file)], "items": len(GSM8K_ITEMS), "items_under_7_words": 0,
                                 "ngrams_13": 212, "ngrams_13_allowlisted": 0, "ngrams_7": 236,
                                 "docs_contaminated": statuses.count("contaminated"),
                                 "docs_partial": statuses.count("partial")}},
    }
    rundir.write_json(run / "decontaminate", rundir.REPORT, report)


def _write_mix(run: Path, rng: np.random.Generator, ids: list[str], texts: list[str], stage: np.ndarray,
               langs: np.ndarray, reasoning: np.ndarray, n_words: np.ndarray) -> Path:
    """A mixture of the kept documents: three web sources with planned vs achieved tokens."""
    mix = run / "mix"
    mix.mkdir(parents=True, exist_ok=True)
    kept = stage == None  # noqa: E711
    sources = {
        "web_reasoning": kept & (langs == "en") & (reasoning >= 0.3),
        "web_knowledge": kept & (langs == "en") & (reasoning < 0.3),
        "web_multilingual": kept & (langs != "en"),
    }
    shares = {"web_reasoning": 0.5, "web_knowledge": 0.3, "web_multilingual": 0.2}
    max_epochs = {"web_reasoning": 2.0, "web_knowledge": 1.0, "web_multilingual": 1.0}
    unique = {s: int(n_words[m].sum()) for s, m in sources.items()}
    total = int(min(unique["web_knowledge"] / shares["web_knowledge"], unique["web_multilingual"] / shares["web_multilingual"]) * 0.9)
    rows, report = [], {}
    for name, mask in sources.items():
        idx = np.flatnonzero(mask)
        u = rng.random(len(idx))
        planned = int(total * shares[name])
        full = planned // max(1, unique[name])
        order = np.argsort(u)
        cum = np.cumsum(n_words[idx][order])
        cut = int(np.searchsorted(cum, planned - full * unique[name]))
        achieved, out_rows = 0, 0
        for copy in range(full + 1):
            take = idx if copy < full else idx[order[: cut + 1]]
            for i in take.tolist():
                rows.append((name, ids[i], texts[i], int(n_words[i]), float(u[np.searchsorted(idx, i)]), copy))
                achieved += int(n_words[i])
                out_rows += 1
        report[name] = {"share": shares[name], "where": f"source selection for {name}", "input": str(run / "decontaminate"),
                        "rows": int(len(idx)), "unique_tokens": unique[name], "planned_tokens": planned,
                        "max_epochs": max_epochs[name], "full_epochs": int(full), "achieved_tokens": achieved,
                        "output_rows": out_rows, "epochs": round(achieved / max(1, unique[name]), 6),
                        "error_pct": round(100 * (achieved - planned) / max(1, planned), 4)}
    cols = list(zip(*rows)) if rows else [[]] * 6
    table = pa.table({"source": pa.array(cols[0], pa.string()), "id": pa.array(cols[1], pa.string()),
                      "text": pa.array(cols[2], pa.string()), "n_tokens": pa.array(cols[3], pa.int64()),
                      "u": pa.array(cols[4], pa.float64()), "copy": pa.array(cols[5], pa.int32())})
    pq.write_table(table, mix / "part-00000.parquet", compression="zstd")
    config = {"input": str(run / "decontaminate"), "tokenizer": "bundled", "total_tokens": total, "seed": 0,
              "sources": [{"name": s, "share": shares[s], "where": report[s]["where"], "max_epochs": max_epochs[s]}
                          for s in sources]}
    manifest = {"total_tokens": total, "achieved_total_tokens": sum(r["achieved_tokens"] for r in report.values()),
                "max_total_tokens": int(total / 0.9), "warnings": [], "seed": 0, "tokenizer": "bundled", "preset": None,
                "sources": report, "inputs": {str(run / "decontaminate"): "sample"},
                "config": yaml.safe_dump(config, sort_keys=False), "seconds": 1.0}
    rundir.write_json(mix, rundir.MANIFEST, manifest)
    rundir.write_config(mix, yaml.safe_dump(config, sort_keys=False))
    return mix


def _write_ablation(run: Path, rng: np.random.Generator, mix_dir: Path) -> Path:
    """A finished ``curate ablate`` output: 6 proxies (2 held out), loss curves, fit and proposal."""
    out = run / "ablations" / "demo"
    names = ["web_knowledge", "web_multilingual", "web_reasoning"]
    k, held = 6, [4, 5]
    weights = rng.dirichlet(np.ones(len(names)), k)
    true_coef = np.array([3.2, 3.6, 2.9])
    metric = weights @ true_coef + rng.normal(0, 0.01, k)
    (out / "proxies").mkdir(parents=True, exist_ok=True)
    for p in range(k):
        d = out / "proxies" / f"{p:03d}"
        d.mkdir(exist_ok=True)
        lines = []
        for step in range(10, 41, 10):
            rec = {"step": step, "loss": float(metric[p] + 2.5 * np.exp(-step / 12)), "lr": 0.01, "tokens": step * 256,
                   "tokens_per_s": 5000.0, "elapsed_s": step * 0.05}
            if step == 40:
                val = {n: float(metric[p] + 0.1 * (i - 1)) for i, n in enumerate(names)}
                rec.update(val_loss=val, val_loss_mean=float(np.mean(list(val.values()))))
            lines.append(json.dumps(rec))
        (d / "metrics.jsonl").write_text("\n".join(lines) + "\n")
        (d / "result.json").write_text(json.dumps({"status": "complete", "val_loss": val, "steps": 40}))
    rows = []
    for p in range(k):
        row = {"proxy": p, "split": "held_out" if p in held else "fit", "metric": float(metric[p])}
        row.update({f"w_{n}": float(weights[p, i]) for i, n in enumerate(names)})
        row.update({f"val_loss_{n}": float(metric[p] + 0.1 * (i - 1)) for i, n in enumerate(names)})
        row.update({"steps": 40, "tokens": 10240, "wall_s": 2.0, "tokens_per_s": 5000.0, "n_params": 25000,
                    "device": "cpu", "predicted": float(weights[p] @ true_coef)})
        rows.append(row)
    pq.write_table(pa.Table.from_pylist(rows), out / "runs.parquet")
    best = {"web_knowledge": 0.2, "web_multilingual": 0.1, "web_reasoning": 0.7}
    report = {"target": {"sources": names}, "proxies": k, "held_out": len(held), "held_out_spearman": 1.0,
              "held_out_predicted": [float(weights[p] @ true_coef) for p in held],
              "held_out_actual": [float(metric[p]) for p in held],
              "fit": {"model": "linear"}, "final_fit": {"model": "linear"}, "best_weights": best,
              "best_predicted_metric": float(np.array(list(best.values())) @ true_coef),
              "best_proxy": {"proxy": int(metric.argmin()), "metric": float(metric.min()),
                             "weights": dict(zip(names, weights[metric.argmin()].round(6).tolist()))},
              "tokens": {n: 50_000 for n in names}, "seconds": 12.0}
    (out / "regression.json").write_text(json.dumps(report, indent=2))
    plan = {"identity": "sample", "names": names, "prior": [1 / 3] * 3, "caps": [1.0] * 3,
            "weights": weights.tolist(), "held_out": held}
    (out / "plan.json").write_text(json.dumps(plan, indent=2))
    (out / "ablation.yaml").write_text(yaml.safe_dump({"mixture": str(mix_dir), "proxies": k, "held_out": len(held)}))
    mix = {"tokenizer": "bundled", "sources": [{"name": n, "share": s} for n, s in best.items()]}
    (out / "best_mixture.yaml").write_text("# Proposed by `curate ablate` (sample run).\n" + yaml.safe_dump(mix, sort_keys=False))
    return out


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("out")
    p.add_argument("--docs", type=int, default=100_000)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args(argv)
    import time

    t0 = time.perf_counter()
    make_run(a.out, a.docs, a.seed)
    print(f"wrote {a.docs} documents to {a.out} in {time.perf_counter() - t0:.1f}s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

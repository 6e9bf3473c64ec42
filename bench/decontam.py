"""Decontamination throughput and quality: our phi-4 Algorithm 1 core against datatrove's n-gram filter.

Same documents, same benchmark item texts, one process / one core each, alternated over
``--rounds`` rounds (medians reported), for two benchmark sets:

* ``full``: everything under ../shared/data/benchmarks through the BENCH.yaml presets (gsm8k test +
  train, humaneval, every foundry/**/*.jsonl file as its own benchmark);
* ``gsm8k_arc``: GSM8K test + foundry ARC easy/challenge (the issue's reference setting).

Tools:

* ``ours``: ``curation.decontam.build_index`` + ``check`` per document (13-gram hit, then the 7-gram
  overlap ratio against every item sharing a 7-gram).
* ``datatrove``: ``NGramsDecontFilter.filter`` per ``Document`` with datatrove's default
  ``NGramsDecontConfig`` (n_grams=12, xxhash64, its TextNormConfig, spaCy English word tokenizer).
  ``NGramsDecontIndexer`` needs lighteval and the hub, so the index is written here by an adapter
  that calls the indexer's own ``compute_hashes`` (unbound, label=item text, no query: every
  12-gram of the item) and writes ``<task>.index.hashes`` files exactly as ``run`` does
  (``np.array(..., dtype=hash_config.np_descr).tofile``); the filter reads them unchanged.

Documents: ``real_documents`` (~300-word WikiText-2 / Brown chunks); ``--embed-share`` of them get a
real GSM8K test question or an ARC question with its options inserted at a random word position
(these benchmarks are in both sets, so one document list serves both). Quality: recall on the
embedded documents, false-positive rate on the clean ones; plus a recall-only probe that embeds
items drawn from every benchmark of the full set (the item text as indexed, truncated to
``--probe-words`` words).

Spark: ``python -m spark_jobs.decontaminate --input docs.jsonl --benchmarks B.yaml --output DIR
--master local[1]`` wall time on the same documents, with the index build time it logs.

    python bench/decontam.py [--docs 3000] [--rounds 3] [--skip-spark] [--json OUT]
"""

from __future__ import annotations

import argparse
import gc
import json
import os
import random
import re
import shutil
import statistics
import sys
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402
from curation import decontam as dc  # noqa: E402

WORK = REPO / "bench" / "_work" / "decontam"

BENCH_SETS = {
    "full": """benchmarks:
  - {{preset: gsm8k, path: {b}/gsm8k/*.jsonl}}
  - {{preset: humaneval, path: {b}/humaneval/HumanEval.jsonl.gz}}
  - {{preset: foundry, path: "{b}/foundry/**/*.jsonl"}}
""",
    "gsm8k_arc": """benchmarks:
  - {{preset: gsm8k, path: {b}/gsm8k/test.jsonl}}
  - {{preset: foundry, path: "{b}/foundry/world_knowledge/arc_*.jsonl"}}
""",
}


# ----------------------------------------------------------------------------- documents


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _embed(doc: str, snippet: str, rng: random.Random) -> str:
    words = doc.split()
    k = rng.randrange(len(words) + 1)
    return " ".join(words[:k] + [snippet] + words[k:])


def make_documents(data: Path, n: int, share: float, seed: int) -> tuple[list[str], list[str | None]]:
    """Real documents; ``share`` of them carry a GSM8K test question or an ARC question + options.
    Returns (texts, label per doc: None for clean, else 'gsm8k' / 'arc')."""
    rng = random.Random(seed)
    docs = dc.real_documents(data, n)
    gsm = [r["question"] for r in _jsonl(data / "benchmarks/gsm8k/test.jsonl")]
    arc = [r["query"] + " " + " ".join(r["choices"]) for name in ("arc_easy", "arc_challenge")
           for r in _jsonl(data / f"benchmarks/foundry/world_knowledge/{name}.jsonl")]
    labels: list[str | None] = [None] * len(docs)
    for i in rng.sample(range(len(docs)), max(1, round(share * len(docs)))):
        kind = "gsm8k" if rng.random() < 0.5 else "arc"
        docs[i] = _embed(docs[i], rng.choice(gsm if kind == "gsm8k" else arc), rng)
        labels[i] = kind
    return docs, labels


def probe_documents(data: Path, benchmarks: list[dc.Benchmark], n: int, words: int, seed: int) -> list[tuple[str, str]]:
    """Recall probe over every benchmark: (doc, benchmark name), a random item of a random benchmark
    (first ``words`` words of its indexed text) inside a real document."""
    rng = random.Random(seed + 1)
    base = dc.real_documents(data, 2000)
    out = []
    for _ in range(n):
        b = rng.choice(benchmarks)
        _, text = rng.choice(b.items)
        out.append((_embed(rng.choice(base), " ".join(text.split()[:words]), rng), b.name))
    return out


# ----------------------------------------------------------------------------- datatrove adapter


def _hash_func(fn):
    """datatrove's default hash (xxhash64 via ``xxhash.xxh64_intdigest``) is called with ``str``;
    xxhash >= 4 (installed here) refuses str ("Strings must be encoded before hashing"), so the
    unmodified filter raises on the first document. xxhash < 4 hashed a str as its UTF-8 bytes:
    this wrapper restores exactly that, keeping datatrove's hash function and values."""
    try:
        fn("probe")
        return fn
    except TypeError:
        return lambda s: fn(s.encode("utf-8"))


class Datatrove:
    """Index written with datatrove's own ``NGramsDecontIndexer.compute_hashes`` and file layout,
    read back and applied by an unmodified ``NGramsDecontFilter``."""

    def __init__(self, folder: Path):
        from datatrove.pipeline.decont.n_grams import NGramsDecontConfig, NGramsDecontFilter, NGramsDecontIndexer
        from datatrove.utils.hashing import create_hash_func
        from datatrove.utils.word_tokenizers import load_word_tokenizer

        self.config = NGramsDecontConfig()
        self.folder = folder
        # The indexer's __init__ only stores these; its run() needs lighteval, compute_hashes does not.
        self.hash_func = _hash_func(create_hash_func(self.config.hash_config))
        self._indexer = SimpleNamespace(config=self.config, tokenizer=load_word_tokenizer("en"), hash_func=self.hash_func)
        self._compute = NGramsDecontIndexer.compute_hashes
        self._filter_cls = NGramsDecontFilter
        self.filter = None

    def build(self, benchmarks: list[dc.Benchmark]) -> dict:
        shutil.rmtree(self.folder, ignore_errors=True)
        t0 = time.perf_counter()
        n_hashes = 0
        for b in benchmarks:
            hashes: set[int] = set()
            for _, text in b.items:
                hashes.update(self._compute(self._indexer, text, None))
            arr = np.array(list(hashes), dtype=self.config.hash_config.np_descr)
            path = self.folder / f"{b.name.replace(' ', '_')}.index.hashes"  # "foundry/x" → subfolder, as the glob allows
            path.parent.mkdir(parents=True, exist_ok=True)
            with open(path, "wb") as f:
                arr.tofile(f)
            n_hashes += len(arr)
        t_index = time.perf_counter() - t0
        t0 = time.perf_counter()
        self.filter = self._filter_cls(str(self.folder), config=self.config)
        self.filter.hash_func = self.hash_func  # same wrapper on both sides (see _hash_func)
        self.filter.load_index_hashes()
        t_load = time.perf_counter() - t0
        return {"index_build_s": round(t_index, 2), "filter_load_s": round(t_load, 2),
                "hashes_written": n_hashes, "distinct_hashes_loaded": len(self.filter._index_hashes),
                "n_grams": self.config.n_grams}

    def check(self, text: str) -> str | None:
        """Task name when contaminated, else None."""
        from datatrove.data import Document

        doc = Document(text=text, id="x")
        r = self.filter.filter(doc)
        if r is True:
            return None
        return doc.metadata["contaminated_task"]


# ----------------------------------------------------------------------------- measurement


def _pass(fn, docs) -> tuple[float, float, list]:
    gc.collect()
    t0, c0 = time.perf_counter(), time.process_time()
    out = [fn(d) for d in docs]
    return len(docs) / (time.perf_counter() - t0), len(docs) / max(time.process_time() - c0, 1e-9), out


def _quality_ours(verdicts: list[dc.Verdict], labels: list[str | None]) -> dict:
    emb = [(v, lab) for v, lab in zip(verdicts, labels) if lab]
    clean = [v for v, lab in zip(verdicts, labels) if not lab]
    hit = sum(v.status == dc.CONTAMINATED for v, _ in emb)
    hit_any = sum(v.status != dc.CLEAN for v, _ in emb)
    by_kind = {k: f"{sum(v.status == dc.CONTAMINATED for v, lab in emb if lab == k)}/{sum(lab == k for _, lab in emb)}"
               for k in ("gsm8k", "arc")}
    fp = [v for v in clean if v.status == dc.CONTAMINATED]
    return {"embedded": len(emb), "recall_contaminated": round(hit / max(len(emb), 1), 4),
            "recall_contaminated_or_partial": round(hit_any / max(len(emb), 1), 4), "recall_by_kind": by_kind,
            "via_13gram": sum(v.status == dc.CONTAMINATED and v.ngram == 13 for v, _ in emb),
            "clean_docs": len(clean), "false_positives": len(fp),
            "false_positive_rate": round(len(fp) / max(len(clean), 1), 5),
            "clean_docs_partial": sum(v.status == dc.PARTIAL for v in clean),
            "false_positive_examples": [f"{v.benchmark} {v.item} n={v.ngram} r={v.ratio:.2f}" for v in fp[:5]]}


def _quality_dt(tasks: list[str | None], labels: list[str | None]) -> dict:
    emb = [(t, lab) for t, lab in zip(tasks, labels) if lab]
    clean = [t for t, lab in zip(tasks, labels) if not lab]
    hit = sum(t is not None for t, _ in emb)
    by_kind = {k: f"{sum(t is not None for t, lab in emb if lab == k)}/{sum(lab == k for _, lab in emb)}"
               for k in ("gsm8k", "arc")}
    fp = [t for t in clean if t is not None]
    return {"embedded": len(emb), "recall": round(hit / max(len(emb), 1), 4), "recall_by_kind": by_kind,
            "clean_docs": len(clean), "false_positives": len(fp),
            "false_positive_rate": round(len(fp) / max(len(clean), 1), 5), "false_positive_tasks": fp[:5]}


def compare(name: str, yaml_path: Path, docs: list[str], labels: list[str | None], rounds: int,
            data: Path, probe: int, probe_words: int, seed: int) -> dict:
    benchmarks = dc.load_benchmarks(dc.load_benchmark_specs(yaml_path))
    n_items = sum(len(b.items) for b in benchmarks)
    print(f"[{name}] {len(benchmarks)} benchmarks, {n_items} items", file=sys.stderr, flush=True)

    dc._TOKEN_CACHE.clear()
    t0 = time.perf_counter()
    index = dc.build_index(benchmarks)
    ours_build = time.perf_counter() - t0
    print(f"[{name}] ours index {ours_build:.1f}s", file=sys.stderr, flush=True)
    dt = Datatrove(WORK / f"dt_index_{name}")
    dt_info = dt.build(benchmarks)
    print(f"[{name}] datatrove index {dt_info}", file=sys.stderr, flush=True)

    tools = {"ours": lambda t: dc.check(t, index), "datatrove": dt.check}
    wall: dict[str, list[float]] = {k: [] for k in tools}
    cpu: dict[str, list[float]] = {k: [] for k in tools}
    outs: dict[str, list] = {}
    for r in range(rounds):
        order = list(tools) if r % 2 == 0 else list(tools)[::-1]
        for k in order:
            w, c, out = _pass(tools[k], docs)
            wall[k].append(round(w, 1))
            cpu[k].append(round(c, 1))
            outs[k] = out
            print(f"[{name}] round {r} {k}: {w:.1f} docs/s wall, {c:.1f} docs/cpu-s", file=sys.stderr, flush=True)
    med = {k: statistics.median(v) for k, v in wall.items()}
    medc = {k: statistics.median(v) for k, v in cpu.items()}

    result = {
        "benchmarks": len(benchmarks), "items": n_items,
        "ours": {"index_build_s": round(ours_build, 2), "ngrams_13": len(index.keys_long), "ngrams_7": len(index.keys_short),
                 "docs_per_s_median": med["ours"], "docs_per_cpu_s_median": medc["ours"],
                 "rounds_docs_per_s": wall["ours"], "rounds_docs_per_cpu_s": cpu["ours"],
                 "quality": _quality_ours(outs["ours"], labels)},
        "datatrove": {**dt_info, "docs_per_s_median": med["datatrove"], "docs_per_cpu_s_median": medc["datatrove"],
                      "rounds_docs_per_s": wall["datatrove"], "rounds_docs_per_cpu_s": cpu["datatrove"],
                      "quality": _quality_dt(outs["datatrove"], labels)},
        "ratio_ours_over_datatrove_wall": round(med["ours"] / med["datatrove"], 1),
        "ratio_ours_over_datatrove_cpu": round(medc["ours"] / medc["datatrove"], 1),
    }
    if probe:
        cases = probe_documents(data, benchmarks, probe, probe_words, seed)
        ours_ok = dt_ok = ours_any = 0
        for text, _bname in cases:
            v = dc.check(text, index)
            ours_ok += v.status == dc.CONTAMINATED
            ours_any += v.status != dc.CLEAN
            dt_ok += dt.check(text) is not None
        result["probe_all_benchmarks"] = {
            "docs": len(cases), "item_words_max": probe_words,
            "ours_recall_contaminated": round(ours_ok / len(cases), 4),
            "ours_recall_contaminated_or_partial": round(ours_any / len(cases), 4),
            "datatrove_recall": round(dt_ok / len(cases), 4)}
    dt.filter = None
    index = None  # frees it (the "ours" lambda above reads this variable, so it is rebound, not deleted)
    gc.collect()
    return result


# ----------------------------------------------------------------------------- spark


def spark_run(name: str, yaml_path: Path, jsonl: Path, timeout: float) -> dict:
    from _common import bench_env, run_measured, venv_python

    out = WORK / f"spark_out_{name}"
    shutil.rmtree(out, ignore_errors=True)
    log = WORK / f"spark_{name}.log"
    cmd = [venv_python(), "-m", "spark_jobs.decontaminate", "--input", str(jsonl), "--benchmarks", str(yaml_path),
           "--output", str(out), "--master", "local[1]"]
    m = run_measured(cmd, env=bench_env(), log_path=log, timeout=timeout)
    text = log.read_text(encoding="utf-8", errors="replace")
    found = re.search(r"benchmark index: .*\(([\d.]+)s\)", text)
    res = {"wall_s": round(m["wall_s"], 1), "rc": m["rc"], "peak_rss_mb": round(m["peak_rss_mb"]),
           "index_build_s_logged": float(found.group(1)) if found else None, "log": str(log)}
    acc = out / "_accounting.json"
    if acc.is_file():
        a = json.loads(acc.read_text())
        res["job_seconds"] = a.get("seconds")
        res["by_status"] = a.get("by_status")
    print(f"[spark {name}] {res}", file=sys.stderr, flush=True)
    return res


# ----------------------------------------------------------------------------- main


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--docs", type=int, default=3000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--embed-share", type=float, default=0.02)
    ap.add_argument("--sets", default="gsm8k_arc,full", help="comma list of: " + ",".join(BENCH_SETS))
    ap.add_argument("--probe", type=int, default=300, help="recall-probe docs over every benchmark (0: skip)")
    ap.add_argument("--probe-words", type=int, default=60)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--spark-timeout", type=float, default=600)
    ap.add_argument("--json", default=None)
    args = ap.parse_args(argv)

    data = Path(args.data)
    WORK.mkdir(parents=True, exist_ok=True)
    t_start = time.perf_counter()
    docs, labels = make_documents(data, args.docs, args.embed_share, args.seed)
    words = [len(d.split()) for d in docs]
    result: dict = {"docs": len(docs), "embedded": sum(x is not None for x in labels),
                    "mean_words": round(sum(words) / len(words), 1), "rounds": args.rounds,
                    "cpu_count": os.cpu_count(), "load_avg_1m_start": round(os.getloadavg()[0], 2), "sets": {}}
    yamls = {}
    for name in args.sets.split(","):
        yamls[name] = WORK / f"bench_{name}.yaml"
        yamls[name].write_text(BENCH_SETS[name].format(b=data / "benchmarks"))
    for name in yamls:
        result["sets"][name] = compare(name, yamls[name], docs, labels, args.rounds, data,
                                       args.probe if name == "full" else 0, args.probe_words, args.seed)
    if not args.skip_spark:
        jsonl = WORK / f"docs_{len(docs)}_{args.seed}.jsonl"
        with open(jsonl, "w", encoding="utf-8") as f:
            for i, d in enumerate(docs):
                f.write(json.dumps({"id": f"d{i}", "text": d}) + "\n")
        result["spark"] = {name: spark_run(name, yamls[name], jsonl, args.spark_timeout) for name in yamls}
    result["load_avg_1m_end"] = round(os.getloadavg()[0], 2)
    result["bench_seconds"] = round(time.perf_counter() - t_start, 1)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

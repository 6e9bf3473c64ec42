"""Near-duplicate detection: quality on real text, core speed against datasketch, Spark job scaling.

One JSON result with three parts:

1. ``quality`` (pure-Python core, no Spark): ``MinHasher`` signatures, LSH band keys grouped in a
   dict (every pair sharing a bucket is a *candidate*), and the job's verification (a candidate is
   *linked* when its signatures agree on >= ``round(0.7 * 112)`` hashes).

   a. Shakespeare: each modern edition (``*_gut.txt``) paired by title similarity with its First
      Folio edition (``*_gut_f.txt``): exact word-5-gram Jaccard, MinHash estimate, linked or not;
      plus any link between different titles. Milton: groups of byte-identical files.
   b. Perturbed copies of real documents (wikitext-2 paragraphs with > 120 words, DCLM dev texts)
      at several edit rates, mixed with all the distinct real documents: recall of planted pairs
      with exact Jaccard >= 0.8 (pair linked, and pair in one connected component as the job
      clusters), and precision = share of linked pairs (any two documents) whose exact Jaccard is
      >= 0.5.
   c. Agreement with datasketch ``MinHashLSH(num_perm=112, params=(14, 8))`` on the same shingles
      (lower-cased ``\\w+`` word 5-grams joined by spaces, UTF-8): candidate pairs found by both /
      only ours / only datasketch, and the same for linked pairs (datasketch's own estimate >= 0.7).

2. ``speed``: documents/s, one process, one thread, on ``--docs`` real ~330-word texts (DCLM dev
   texts repeated with 2% word edits so none is an exact copy). Ours: ``MinHasher.signatures`` +
   ``band_keys`` on batches of 2000 (text to band keys); datasketch: per document, tokenise, build
   the shingles, ``MinHash(num_perm=112).update_batch`` + ``MinHashLSH.insert``. Signatures-only
   variants too. Variants are alternated over ``--rounds`` rounds; medians and ratios reported.
   Also a stage breakdown of our core (tokenising, word hashing, shingle combining, the matrix step,
   band keys).

3. ``spark``: ``python -m spark_jobs.dedup DOCS.jsonl --output DIR --master local[1]`` on inputs of
   ``--scales`` documents (real paragraphs made distinct by 30% substitutions with real words, 10%
   of them planted near-duplicates of another document), wall time and peak RSS/PSS of the whole
   process tree; a tiny input gives the start-up cost.

    python bench/dedup.py [--docs 6000] [--rounds 3] [--scales 5000,10000,20000] [--skip-spark] [--json OUT]
"""

from __future__ import annotations

import argparse
import difflib
import hashlib
import itertools
import json
import os
import random
import re
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path

for _v in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_v, "1")

import numpy as np  # noqa: E402 - after the thread caps above, which BLAS reads when numpy loads

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "bench"))

from _common import emit  # noqa: E402
from curation import dedup as core  # noqa: E402
from curation.dedup import MinHasher, MinHashParams, exact_key, jaccard, perturb  # noqa: E402

WORK = REPO / "bench" / "_work" / "dedup"
_WORD = re.compile(r"\w+")
PARAMS = MinHashParams()  # 5-grams, 14 x 8
MIN_SIM = 0.7
AGREE = int(round(MIN_SIM * PARAMS.num_perm))  # the job's threshold: 78 of 112
PRECISION_J = 0.5
RECALL_J = 0.8


# ----------------------------------------------------------------------------- data

def wiki_paragraphs(data: Path, split: str = "test", min_words: int = 120) -> list[str]:
    text = (data / f"corpora/wikitext2/{split}.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.split()) > min_words]


def dclm_texts(data: Path) -> list[str]:
    dev = data / "labels" / "dclm-human-quality-dev.jsonl"
    return [json.loads(line)["text"] for line in dev.open(encoding="utf-8") if line.strip()]


def shingles(text: str, n: int = 5) -> list[bytes]:
    """The same shingles as ours (a text with fewer than n words is one shingle), for datasketch."""
    w = _WORD.findall(text.lower())
    if len(w) < n:
        return [" ".join(w).encode("utf-8", "surrogatepass")] if w else []
    return list({" ".join(w[i:i + n]).encode("utf-8", "surrogatepass") for i in range(len(w) - n + 1)})


# ----------------------------------------------------------------------------- our core, in Python

def our_signatures(texts: list[str], batch: int = 2000) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    mh = MinHasher(PARAMS)
    sigs, hass, bands = [], [], []
    for i in range(0, len(texts), batch):
        s, h = mh.signatures(texts[i:i + batch])
        sigs.append(s)
        hass.append(h)
        bands.append(mh.band_keys(s))
    return np.concatenate(sigs), np.concatenate(hass), np.concatenate(bands)


def bucket_pairs(band_rows) -> set[tuple[int, int]]:
    """Every pair of documents sharing a bucket in some band. ``band_rows``: iterable of
    (doc, [key per band]) with None for documents without a signature."""
    buckets: dict[tuple[int, object], list[int]] = defaultdict(list)
    for d, keys in band_rows:
        if keys is None:
            continue
        for b, k in enumerate(keys):
            buckets[(b, k)].append(d)
    pairs = set()
    for members in buckets.values():
        if len(members) > 1:
            pairs.update(itertools.combinations(sorted(set(members)), 2))
    return pairs


def our_pairs(texts: list[str]) -> tuple[set, set, np.ndarray]:
    sig, has, bands = our_signatures(texts)
    cand = bucket_pairs((i, bands[i].tolist() if has[i] else None) for i in range(len(texts)))
    linked = {p for p in cand if int((sig[p[0]] == sig[p[1]]).sum()) >= AGREE}
    return cand, linked, sig


def components(n: int, edges) -> list[int]:
    parent = list(range(n))

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[max(ra, rb)] = min(ra, rb)
    return [find(i) for i in range(n)]


# ----------------------------------------------------------------------------- 1. quality

def _title(name: str) -> str:
    return re.sub(r"_gut(_f)?\.txt$", "", name).replace("-", "_")


def shakespeare(data: Path) -> dict:
    works = data / "corpora/shakespeare/works"
    modern = sorted(works.glob("*_gut.txt"))
    folio = sorted(works.glob("*_gut_f.txt"))
    # greedy matching on title similarity, best first
    scored = sorted(((difflib.SequenceMatcher(None, _title(m.name), _title(f.name)).ratio(), m, f)
                     for m in modern for f in folio), key=lambda x: -x[0])
    used_m, used_f, pairs = set(), set(), []
    for r, m, f in scored:
        if r >= 0.6 and m not in used_m and f not in used_f:
            used_m.add(m)
            used_f.add(f)
            pairs.append((m, f, r))
    files = modern + folio
    texts = [p.read_text(encoding="utf-8", errors="replace") for p in files]
    idx = {p: i for i, p in enumerate(files)}
    cand, linked, sig = our_pairs(texts)
    rows = []
    for m, f, r in sorted(pairs, key=lambda x: x[0].name):
        i, j = sorted((idx[m], idx[f]))
        rows.append({"modern": m.name, "folio": f.name, "title_ratio": round(r, 2),
                     "jaccard": round(jaccard(texts[i], texts[j]), 4),
                     "minhash_estimate": round(float((sig[i] == sig[j]).mean()), 3),
                     "candidate": (i, j) in cand, "linked": (i, j) in linked})
    paired = {tuple(sorted((idx[m], idx[f]))) for m, f, _ in pairs}
    cross = sorted({p for p in cand if p not in paired})
    cross_rows = [{"a": files[a].name, "b": files[b].name, "jaccard": round(jaccard(texts[a], texts[b]), 4),
                   "minhash_estimate": round(float((sig[a] == sig[b]).mean()), 3), "linked": (a, b) in linked}
                  for a, b in cross]
    js = [r["jaccard"] for r in rows]
    out = {
        "pairs": len(rows), "unpaired_modern": sorted(p.name for p in modern if p not in used_m),
        "unpaired_folio": sorted(p.name for p in folio if p not in used_f),
        "jaccard_median": round(statistics.median(js), 4), "jaccard_max": max(js), "jaccard_min": min(js),
        "pairs_jaccard_ge_0.8": sum(j >= RECALL_J for j in js),
        "pairs_candidate": sum(r["candidate"] for r in rows), "pairs_linked": sum(r["linked"] for r in rows),
        "cross_title_candidates": cross_rows,
        "per_pair": rows,
    }
    # Milton: byte-identical files
    mdir = data / "corpora/shakespeare/milton"
    mfiles = sorted(p for p in mdir.glob("*.txt") if p.name != "metadata.txt")
    mtexts = [p.read_text(encoding="utf-8", errors="replace") for p in mfiles]
    groups: dict[str, list[int]] = defaultdict(list)
    for i, p in enumerate(mfiles):
        groups[hashlib.md5(p.read_bytes()).hexdigest()].append(i)
    mc, ml, _ = our_pairs(mtexts)
    dup_pairs = {p for g in groups.values() for p in itertools.combinations(g, 2)}
    out["milton"] = {
        "files": len(mfiles), "identical_groups": sum(len(g) > 1 for g in groups.values()),
        "identical_pairs": len(dup_pairs),
        "identical_pairs_same_exact_key": sum(exact_key(mtexts[a]) == exact_key(mtexts[b]) for a, b in dup_pairs),
        "identical_pairs_linked_by_minhash": len(dup_pairs & ml),
        "other_links": [[mfiles[a].name, mfiles[b].name, round(jaccard(mtexts[a], mtexts[b]), 4)] for a, b in sorted(ml - dup_pairs)],
    }
    return out


def synthetic_quality(data: Path, n_bases: int, rates: list[float], seed: int) -> tuple[dict, list[str], dict]:
    rnd = random.Random(seed)
    wiki = wiki_paragraphs(data, "test") + wiki_paragraphs(data, "valid")
    dclm = [t for t in dclm_texts(data) if len(t.split()) >= 50]
    distinct = wiki + dclm
    bases = rnd.sample(range(len(distinct)), min(n_bases, len(distinct)))
    texts = list(distinct)
    planted = []  # (a, b, rate)
    for k, b in enumerate(bases):
        rate = rates[k % len(rates)]
        texts.append(perturb(distinct[b], rate, rnd))
        planted.append((b, len(texts) - 1, rate))
    t0 = time.perf_counter()
    cand, linked, sig = our_pairs(texts)
    core_s = time.perf_counter() - t0
    comp = components(len(texts), linked)
    jac_cache: dict[tuple[int, int], float] = {}

    def J(a, b):
        key = (min(a, b), max(a, b))
        if key not in jac_cache:
            jac_cache[key] = jaccard(texts[key[0]], texts[key[1]])
        return jac_cache[key]

    per_rate = {}
    for rate in rates:
        ps = [(a, b) for a, b, r in planted if r == rate]
        js = [J(a, b) for a, b in ps]
        per_rate[str(rate)] = {"pairs": len(ps), "jaccard_median": round(statistics.median(js), 3),
                               "jaccard_min": round(min(js), 3),
                               "linked": sum((min(a, b), max(a, b)) in linked for a, b in ps)}
    bins = [(0.9, 1.01), (0.8, 0.9), (0.7, 0.8), (0.6, 0.7), (0.5, 0.6), (0.0, 0.5)]
    by_j = {}
    for lo, hi in bins:
        ps = [(a, b) for a, b, _ in planted if lo <= J(a, b) < hi]
        if ps:
            by_j[f"[{lo},{min(hi, 1.0)}{']' if hi > 1 else ')'}"] = {
                "pairs": len(ps),
                "candidate_share": round(sum((min(a, b), max(a, b)) in cand for a, b in ps) / len(ps), 4),
                "linked_share": round(sum((min(a, b), max(a, b)) in linked for a, b in ps) / len(ps), 4)}
    hi_pairs = [(a, b) for a, b, _ in planted if J(a, b) >= RECALL_J]
    rec_pair = sum((a, b) in linked for a, b in hi_pairs) / len(hi_pairs)
    rec_comp = sum(comp[a] == comp[b] for a, b in hi_pairs) / len(hi_pairs)
    link_j = {p: J(*p) for p in linked}
    true_links = sum(j >= PRECISION_J for j in link_j.values())
    n_d = len(distinct)
    among_distinct = sorted((p for p in linked if p[1] < n_d), key=lambda p: -link_j[p])
    cand_distinct = [p for p in cand if p[1] < n_d]
    res = {
        "definitions": {
            "candidate": "a pair of documents sharing a bucket in at least one of the 14 bands (all pairs of each bucket)",
            "linked": f"a candidate whose signatures agree on >= {AGREE}/112 hashes (the job's min_similarity {MIN_SIM})",
            "recall": f"share of planted pairs with exact word-5-gram Jaccard >= {RECALL_J} that are linked (pair) / "
                      "end up in one connected component of the linked graph (component, what the job clusters on)",
            "precision": f"share of all linked pairs (any two of the documents) whose exact Jaccard >= {PRECISION_J}",
        },
        "documents": len(texts), "distinct_real_documents": n_d,
        "distinct_sources": {"wikitext2_test_valid_paragraphs_gt120_words": len(wiki), "dclm_dev_ge50_words": len(dclm)},
        "planted_pairs": len(planted), "edit_rates": rates,
        "planted_pairs_jaccard_ge_0.8": len(hi_pairs),
        "recall_pair_j_ge_0.8": round(rec_pair, 4),
        "recall_component_j_ge_0.8": round(rec_comp, 4),
        "linked_pairs": len(linked), "candidate_pairs": len(cand),
        "precision_linked_j_ge_0.5": round(true_links / len(linked), 4) if linked else None,
        "linked_pairs_with_j_lt_0.5": sorted(round(j, 3) for j in link_j.values() if j < PRECISION_J),
        "linked_pairs_among_distinct_documents": len(among_distinct),
        "linked_distinct_examples": [[a, b, round(link_j[(a, b)], 3)] for a, b in among_distinct[:10]],
        "candidate_pairs_among_distinct_documents": len(cand_distinct),
        "by_edit_rate": per_rate, "by_jaccard_bin": by_j,
        "core_seconds": round(core_s, 2),
    }
    return res, texts, {"cand": cand, "linked": linked, "planted": planted, "J": J}


def datasketch_agreement(texts: list[str], ours: dict) -> dict:
    from datasketch import MinHash, MinHashLSH

    perms = MinHash(num_perm=PARAMS.num_perm, seed=1).permutations
    lsh = MinHashLSH(num_perm=PARAMS.num_perm, params=(PARAMS.bands, PARAMS.rows))
    mhs = []
    for i, t in enumerate(texts):
        m = MinHash(num_perm=PARAMS.num_perm, permutations=perms, scheme="affine32")
        sh = shingles(t)
        if sh:
            m.update_batch(sh)
            lsh.insert(i, m)
        mhs.append(m if sh else None)
    cand = set()
    for i, m in enumerate(mhs):
        if m is None:
            continue
        for j in lsh.query(m):
            if j != i:
                cand.add((min(i, j), max(i, j)))
    linked = {p for p in cand if mhs[p[0]].jaccard(mhs[p[1]]) >= AGREE / PARAMS.num_perm - 1e-9}
    oc, ol, J = ours["cand"], ours["linked"], ours["J"]
    hi = [(a, b) for a, b, _ in ours["planted"] if J(a, b) >= RECALL_J]

    def split(a: set, b: set) -> dict:
        u = len(a | b) or 1
        return {"both": len(a & b), "only_ours": len(a - b), "only_datasketch": len(b - a),
                "share_both": round(len(a & b) / u, 4)}

    only_ds_linked = sorted(linked - ol)
    only_our_linked = sorted(ol - linked)
    return {
        "setup": "datasketch MinHash(num_perm=112, seed=1) + MinHashLSH(num_perm=112, params=(14, 8)); "
                 "shingles: lower-cased \\w+ word 5-grams joined by ' ', UTF-8; linked = datasketch estimate >= 78/112",
        "candidate_pairs": split(oc, cand),
        "linked_pairs": split(ol, linked),
        "datasketch_recall_pair_j_ge_0.8": round(sum(p in linked for p in hi) / len(hi), 4),
        "datasketch_precision_linked_j_ge_0.5": round(sum(J(*p) >= PRECISION_J for p in linked) / len(linked), 4) if linked else None,
        "jaccard_of_linked_only_ours": sorted(round(J(*p), 3) for p in only_our_linked)[:40],
        "jaccard_of_linked_only_datasketch": sorted(round(J(*p), 3) for p in only_ds_linked)[:40],
    }


# ----------------------------------------------------------------------------- 2. speed

def speed(data: Path, n: int, rounds: int, batch: int, seed: int) -> dict:
    from datasketch import MinHash, MinHashLSH

    rnd = random.Random(seed)
    base = dclm_texts(data)
    texts = [perturb(base[i % len(base)], 0.02, rnd) for i in range(n)]
    words = sum(len(t.split()) for t in texts) / n
    mh = MinHasher(PARAMS)
    batches = [texts[i:i + batch] for i in range(0, n, batch)]

    def ours_sig():
        for b in batches:
            mh.signatures(b)

    def ours_e2e():
        for b in batches:
            s, h = mh.signatures(b)
            mh.band_keys(s)

    def ds_sig():
        for t in texts:
            m = MinHash(num_perm=PARAMS.num_perm)
            m.update_batch(shingles(t))

    def ds_e2e():
        lsh = MinHashLSH(num_perm=PARAMS.num_perm, params=(PARAMS.bands, PARAMS.rows))
        for i, t in enumerate(texts):
            m = MinHash(num_perm=PARAMS.num_perm)
            m.update_batch(shingles(t))
            lsh.insert(i, m)

    perms = MinHash(num_perm=PARAMS.num_perm).permutations

    def ds_e2e_shared_perms():
        lsh = MinHashLSH(num_perm=PARAMS.num_perm, params=(PARAMS.bands, PARAMS.rows))
        for i, t in enumerate(texts):
            m = MinHash(num_perm=PARAMS.num_perm, permutations=perms, scheme="affine32")
            m.update_batch(shingles(t))
            lsh.insert(i, m)

    variants = {"ours_end_to_end": ours_e2e, "ours_signatures_only": ours_sig,
                "datasketch_end_to_end": ds_e2e, "datasketch_signatures_only": ds_sig,
                "datasketch_end_to_end_shared_permutations": ds_e2e_shared_perms}
    ours_sig()  # warm up
    times: dict[str, list[float]] = {k: [] for k in variants}
    for r in range(rounds):
        order = list(variants) if r % 2 == 0 else list(reversed(variants))
        for k in order:
            t0 = time.perf_counter()
            variants[k]()
            times[k].append(time.perf_counter() - t0)
    med = {k: statistics.median(v) for k, v in times.items()}
    dps = {k: round(n / v, 1) for k, v in med.items()}

    # stage breakdown of our core on the same batches (median over rounds)
    stages = defaultdict(list)
    for _ in range(rounds):
        acc = defaultdict(float)
        for b in batches:
            t0 = time.perf_counter()
            for t in b:
                _WORD.findall(t.lower())
            acc["regex_lower_findall_only"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            wh, off = core._tokens(b)
            acc["tokens_total(findall+vocab+word_hash)"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            sh, soff = core._shingles(wh, off, PARAMS.ngram)
            acc["shingles_combine"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            s, _ = mh.signatures(b)
            acc["signatures_total"] += time.perf_counter() - t0
            t0 = time.perf_counter()
            mh.band_keys(s)
            acc["band_keys"] += time.perf_counter() - t0
        for k, v in acc.items():
            stages[k].append(v)
    st = {k: statistics.median(v) for k, v in stages.items()}
    st["matrix_minhash_step(signatures - tokens - shingles)"] = (
        st["signatures_total"] - st["tokens_total(findall+vocab+word_hash)"] - st["shingles_combine"])
    total = st["signatures_total"] + st["band_keys"]
    return {
        "docs": n, "mean_words": round(words, 1), "batch": batch, "rounds": rounds,
        "docs_per_s": dps,
        "ratio_ours_vs_datasketch_end_to_end": round(dps["ours_end_to_end"] / dps["datasketch_end_to_end"], 2),
        "ratio_ours_vs_datasketch_signatures_only": round(dps["ours_signatures_only"] / dps["datasketch_signatures_only"], 2),
        "ratio_ours_vs_datasketch_shared_perms": round(dps["ours_end_to_end"] / dps["datasketch_end_to_end_shared_permutations"], 2),
        "round_seconds": {k: [round(x, 3) for x in v] for k, v in times.items()},
        "ours_stage_seconds": {k: round(v, 3) for k, v in st.items()},
        "ours_stage_share_of_end_to_end": {k: round(v / total, 3) for k, v in st.items()
                                           if k not in ("signatures_total",)},
    }


# ----------------------------------------------------------------------------- 3. spark scaling

def write_spark_docs(data: Path, n: int, seed: int, path: Path, dup_share: float = 0.1) -> None:
    """n documents as JSONL at ``path``: real paragraphs made distinct by substituting 30% of words
    with words drawn from the corpus (so the vocabulary stays real), ``dup_share`` of them light-edit
    copies of another document (edit rate 1-5%), in shuffled order.

    Streamed with O(1) memory so 1,000,000 documents (~2 GB) can be made: document j is a function
    of (seed, j) alone, so a near-duplicate regenerates its original instead of keeping every text."""
    base = [p.split() for p in wiki_paragraphs(data, "test") + wiki_paragraphs(data, "valid") + dclm_texts(data)]
    pool = np.array(" ".join(" ".join(b) for b in base).split(), dtype=object)
    n_orig = n - int(n * dup_share)

    def original(j: int) -> str:
        r = np.random.default_rng((seed, n, j))
        words = np.array(base[int(r.integers(len(base)))], dtype=object)
        mask = r.random(len(words)) < 0.3
        words[mask] = pool[r.integers(len(pool), size=int(mask.sum()))]
        return " ".join(words)

    tmp = path.with_suffix(".tmp")
    with tmp.open("w", encoding="utf-8") as fh:
        for i in np.random.default_rng((seed, n)).permutation(n).tolist():
            if i < n_orig:
                row = {"id": f"d{i}", "text": original(i), "url": f"https://bench.test/{i}"}
            else:
                rnd = random.Random(seed * 1_000_003 + i)
                text = perturb(original(rnd.randrange(n_orig)), rnd.choice([0.01, 0.02, 0.03, 0.05]), rnd)
                row = {"id": f"d{i}", "text": text, "url": f"https://mirror.test/{i}"}
            fh.write(json.dumps(row) + "\n")
    tmp.rename(path)


def spark_scaling(data: Path, scales: list[int], repeats: int, seed: int, timeout: float,
                  master: str = "local[1]") -> dict:
    from _common import bench_env, run_measured, venv_python

    WORK.mkdir(parents=True, exist_ok=True)
    inputs = {}
    for n in [50] + scales:
        p = WORK / f"docs_{n}.jsonl"
        if not p.exists():
            t0 = time.perf_counter()
            write_spark_docs(data, n, seed + n, p)
            print(f"[spark] wrote {n:,} documents in {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        inputs[n] = p
    env = bench_env()
    runs: dict[int, list[dict]] = defaultdict(list)
    for r in range(repeats):
        order = [50] + (scales if r % 2 == 0 else list(reversed(scales)))
        for n in order:
            out = WORK / f"out_{n}"
            cmd = [venv_python(), "-m", "spark_jobs.dedup", str(inputs[n]), "--output", str(out), "--master", master]
            m = run_measured(cmd, env=env, log_path=WORK / f"log_{n}_{r}.txt", timeout=timeout)
            acc = {}
            try:
                acc = json.loads((out / "_accounting.json").read_text())
            except (OSError, ValueError):
                pass
            runs[n].append({"wall_s": round(m["wall_s"], 2), "rc": m["rc"], "peak_rss_mb": round(m["peak_rss_mb"]),
                            "peak_pss_mb": round(m["peak_pss_mb"]), "job_seconds": acc.get("seconds"),
                            "by_outcome": acc.get("by_outcome"), "label_rounds": acc.get("minhash_label_rounds"),
                            "phase_seconds": acc.get("phase_seconds"),
                            "loadavg_before": round(m["loadavg_1m_before"], 2)})
            print(f"[spark] n={n} round {r}: {m['wall_s']:.1f}s rc={m['rc']} rss={m['peak_rss_mb']:.0f}MB",
                  file=sys.stderr, flush=True)
    med = {n: statistics.median(x["wall_s"] for x in v) for n, v in runs.items()}
    startup = med[50]
    res = {
        "input": "JSONL; real wikitext/DCLM paragraphs with 30% words substituted by corpus words (distinct), "
                 f"10% light-edit near-duplicate copies; master {master}",
        "startup_tiny_input_50_docs_s": round(startup, 2),
        "sizes": {str(n): {"median_wall_s": round(med[n], 2),
                           "median_wall_minus_startup_s": round(med[n] - startup, 2),
                           "docs_per_s": round(n / med[n], 1),
                           "peak_rss_mb_max": max(x["peak_rss_mb"] for x in runs[n]),
                           "peak_pss_mb_max": max(x["peak_pss_mb"] for x in runs[n]),
                           "runs": runs[n]} for n in [50] + scales},
    }
    ratios = {}
    for a, b in zip(sorted(scales), sorted(scales)[1:]):
        ratios[f"time({b})/time({a})"] = round(med[b] / med[a], 3)
        if med[a] > startup:
            ratios[f"minus_startup_time({b})/time({a})"] = round((med[b] - startup) / (med[a] - startup), 3)
    res["ratios"] = ratios
    return res


# ----------------------------------------------------------------------------- main

def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--data", default=str((REPO / ".." / "shared" / "data").resolve()))
    ap.add_argument("--docs", type=int, default=6_000, help="documents for the speed comparison")
    ap.add_argument("--rounds", type=int, default=3, help="alternated rounds for the speed comparison")
    ap.add_argument("--batch", type=int, default=2000, help="our batch size (the job's batch_rows)")
    ap.add_argument("--quality-bases", type=int, default=700, help="real documents given a perturbed copy")
    ap.add_argument("--rates", default="0.005,0.01,0.02,0.03,0.05,0.08,0.12", help="edit rates of the copies")
    ap.add_argument("--scales", default="5000,10000,20000", help="Spark input sizes (documents), e.g. 1x,2x,4x")
    ap.add_argument("--spark-repeats", type=int, default=1, help="runs per Spark size (alternated order)")
    ap.add_argument("--spark-timeout", type=float, default=900)
    ap.add_argument("--spark-master", default="local[1]", help="e.g. local[2] for the 1M-document scale run (issue 21)")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--skip-quality", action="store_true")
    ap.add_argument("--skip-speed", action="store_true")
    ap.add_argument("--skip-spark", action="store_true")
    ap.add_argument("--json", default=None, help="also write the result here")
    args = ap.parse_args(argv)
    data = Path(args.data)
    result: dict = {"params": {"ngram": PARAMS.ngram, "bands": PARAMS.bands, "rows": PARAMS.rows,
                               "num_perm": PARAMS.num_perm, "min_similarity": MIN_SIM, "agree_needed": AGREE,
                               "lsh_threshold_approx": round(PARAMS.threshold(), 3)}}
    t0 = time.perf_counter()
    if not args.skip_quality:
        q = {"shakespeare_milton": shakespeare(data)}
        print(f"[quality] shakespeare done {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        rates = [float(x) for x in args.rates.split(",")]
        q["perturbed_real_documents"], texts, ours = synthetic_quality(data, args.quality_bases, rates, args.seed)
        print(f"[quality] perturbed done {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        q["datasketch_agreement"] = datasketch_agreement(texts, ours)
        print(f"[quality] datasketch done {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
        result["quality"] = q
    if not args.skip_speed:
        result["speed"] = speed(data, args.docs, args.rounds, args.batch, args.seed)
        print(f"[speed] done {time.perf_counter() - t0:.0f}s", file=sys.stderr, flush=True)
    if not args.skip_spark:
        scales = [int(x) for x in args.scales.split(",") if x]
        result["spark"] = spark_scaling(data, scales, args.spark_repeats, args.seed, args.spark_timeout,
                                        args.spark_master)
    result["bench_seconds"] = round(time.perf_counter() - t0, 1)
    emit(result, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())

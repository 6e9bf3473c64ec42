"""Deduplication: MinHash core on real text, and the Spark job end to end (exact, URL, near-dup)."""

from __future__ import annotations

import json
import random
from pathlib import Path

import duckdb
import numpy as np
import pytest

from curation.dedup import MinHasher, MinHashParams, estimated_jaccard, exact_key, jaccard, normalize_url, perturb


def _paragraphs(shared_data: Path, n: int) -> list[str]:
    text = (shared_data / "corpora/wikitext2/test.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.split()) > 120][:n]


def test_signature_is_batch_independent_and_estimates_jaccard(shared_data):
    paras = _paragraphs(shared_data, 150)
    mh = MinHasher()
    sig, has = mh.signatures(paras + ["", None, "two words"])
    assert sig.shape == (153, 112) and sig.dtype == np.uint32
    assert has.tolist() == [True] * 150 + [False, False, True]
    assert mh.signatures(["two words"])[1].tolist() == [True]  # a batch shorter than one n-gram
    alone, _ = mh.signatures([paras[7]])
    assert (alone[0] == sig[7]).all()
    rnd = random.Random(0)
    errors = []
    for p in paras[:120]:
        q = perturb(p, rnd.choice([0.01, 0.03, 0.06, 0.1]), rnd)
        s, _ = mh.signatures([p, q])
        errors.append(estimated_jaccard(s[0], s[1]) - jaccard(p, q))
    errors = np.asarray(errors)
    assert abs(errors.mean()) < 0.015 and errors.std() < 0.06  # unbiased, sd ~ sqrt(J(1-J)/112)
    # distinct paragraphs share almost nothing
    cross = [estimated_jaccard(sig[i], sig[i + 1]) for i in range(0, 100, 2)]
    assert max(cross) < 0.1
    bands = mh.band_keys(sig)
    assert bands.shape == (153, 14) and bands.dtype == np.int64
    assert MinHashParams().threshold() == pytest.approx((1 / 14) ** (1 / 8))


def test_keys_and_urls():
    assert exact_key("Hello  World\n") == exact_key("hello world") != exact_key("hello world!")
    assert exact_key("") is None and exact_key("   ") is None and exact_key(None) is None
    assert exact_key("x\ud800y") is not None  # lone surrogates do not crash
    assert normalize_url("HTTPS://www.Example.org:443/a/b/?utm_source=x&b=2&a=1#top") == "example.org/a/b?a=1&b=2"
    assert normalize_url("http://example.org") == "example.org/"
    assert normalize_url("http://example.org:8080/x") == "example.org:8080/x"
    assert normalize_url("not a url") is None and normalize_url(None) is None and normalize_url("http://[::1") is None


@pytest.fixture(scope="module")
def dedup_run(spark, shared_data, tmp_path_factory):
    """Real paragraphs, perturbed copies (exact Jaccard recorded), exact copies, same-URL pages,
    Milton's real duplicate files, hostile rows; run through the Spark job."""
    from spark_jobs.dedup import DedupJob

    work = tmp_path_factory.mktemp("dedup")
    rnd = random.Random(1)
    paras = _paragraphs(shared_data, 260)
    rows, pairs = [], []
    for i, p in enumerate(paras[:200]):
        rows.append({"id": f"p{i:03d}", "text": p, "url": f"http://www.wiki.test/p/{i}?utm_source=feed",
                     "scores": {"quality": 0.5}})
    for i in range(60):  # near-duplicates, some above and some below Jaccard 0.8
        q = perturb(paras[i], [0.005, 0.01, 0.02, 0.05][i % 4], rnd)
        rows.append({"id": f"zz-near{i:03d}", "text": q, "url": f"https://mirror.test/{i}", "scores": {"quality": 0.9}})
        pairs.append((f"p{i:03d}", f"zz-near{i:03d}", jaccard(paras[i], q)))
    for i in range(60, 80):
        rows.append({"id": f"exact{i:03d}", "text": "  " + paras[i].upper() + "\n", "url": None, "scores": {}})
    for i in range(80, 90):  # same page fetched again later: URL dedup keeps the newest crawl
        rows.append({"id": f"recrawl{i:03d}", "text": paras[i + 150], "url": f"https://wiki.test/p/{i}/",
                     "crawl_date": "2031-01-01T00:00:00Z", "scores": {}})
    milton = sorted((shared_data / "corpora/shakespeare/milton").glob("*.txt"))
    for f in milton:
        if f.name != "metadata.txt":
            rows.append({"id": f"milton/{f.name}", "text": f.read_text(encoding="utf-8", errors="replace"), "url": None, "scores": {}})
    rows += [{"id": "empty", "text": "", "scores": {}}, {"id": "none", "text": None, "scores": {}},
             {"id": "short", "text": "two words", "scores": {}}, {"id": "p000", "text": "a duplicate id", "scores": {}},
             {"id": "gone", "text": paras[0], "drop_reason": "lang.not_en", "scores": {}}]
    src = work / "docs.jsonl"
    src.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    out = work / "out"
    job = DedupJob()
    args = job.build_parser().parse_args(["--input", str(src), "--output", str(out)])
    assert job.run(spark, args, job.load_config(args)) == 0
    return rows, pairs, out


def test_every_row_comes_back_with_its_reason(dedup_run):
    rows, _, out = dedup_run
    acc = json.loads((out / "_accounting.json").read_text())
    con = duckdb.connect()
    n = con.execute(f"SELECT count(*) FROM '{out}/*.parquet'").fetchone()[0]
    assert n == len(rows) == acc["records_read"] == sum(acc["by_outcome"].values())
    reasons = dict(con.execute(f"SELECT coalesce(drop_reason, 'kept'), count(*) FROM '{out}/*.parquet' GROUP BY 1").fetchall())
    assert reasons == acc["by_outcome"]
    assert reasons["lang.not_en"] == 1  # upstream drops pass through untouched
    assert con.execute(f"SELECT count(*) FROM '{out}/*.parquet' WHERE id IN ('empty', 'none', 'short') AND drop_reason IS NULL").fetchone()[0] == 3
    assert con.execute(f"SELECT count(*) FROM '{out}/*.parquet' WHERE id = 'p000'").fetchone()[0] == 2


def test_exact_url_and_milton(dedup_run):
    _, _, out = dedup_run
    con = duckdb.connect()
    got = dict(con.execute(f"SELECT id, drop_reason FROM '{out}/*.parquet'").fetchall())
    clusters = dict(con.execute(f"SELECT id, dup_cluster FROM '{out}/*.parquet'").fetchall())
    for i in range(60, 80):  # exact copies (case/whitespace differ): one of each pair dropped, same cluster
        a, b = f"p{i:03d}", f"exact{i:03d}"
        assert sorted([got[a], got[b]], key=str) == ["dedup.exact", None] or sorted([got[a], got[b]], key=str) == [None, "dedup.exact"]
        assert clusters[a] == clusters[b] is not None
    for i in range(80, 90):  # the newer crawl of the same URL is kept
        assert got[f"recrawl{i:03d}"] is None and got[f"p{i:03d}"] == "dedup.url"
        assert clusters[f"p{i:03d}"] == f"recrawl{i:03d}"
    # Milton: areopagitica.txt == areopagitica_gut.txt etc. (byte-identical files): one kept per group
    milton = {k: v for k, v in got.items() if k.startswith("milton/")}
    for a, b in [("comus.txt", "comus_gut.txt"), ("poemata.txt", "poemata_gut.txt"), ("paradiselost.txt", "paradise_lost_no_introduction_gut.txt")]:
        assert {milton[f"milton/{a}"], milton[f"milton/{b}"]} == {None, "dedup.exact"}


def test_near_duplicates_recall_and_keep_rule(dedup_run):
    _, pairs, out = dedup_run
    con = duckdb.connect()
    got = dict(con.execute(f"SELECT id, drop_reason FROM '{out}/*.parquet' WHERE text IS DISTINCT FROM 'a duplicate id'").fetchall())
    clusters = dict(con.execute(f"SELECT id, dup_cluster FROM '{out}/*.parquet' WHERE text IS DISTINCT FROM 'a duplicate id' AND (drop_reason IS NULL OR drop_reason LIKE 'dedup.%')").fetchall())
    high = [(a, b) for a, b, j in pairs if j >= 0.8]
    assert len(high) >= 25
    found = [(a, b) for a, b in high if clusters.get(b) is not None and clusters.get(b) == clusters.get(a)]
    assert len(found) / len(high) >= 0.95
    # keep rule: the near copy scores 0.9 > 0.5, so it is kept and the original dropped, although
    # its id sorts last (as an
    # exact duplicate when the random edits happened to change nothing)
    for a, b in found:
        assert got[b] is None and got[a] in ("dedup.minhash", "dedup.exact") and clusters[a] == b
    # precision: distinct paragraphs are never clustered together
    originals = [f"p{i:03d}" for i in range(90, 200)]
    assert all(got[o] is None and clusters[o] is None for o in originals)


@pytest.mark.spark  # the dedup job starts a local session before it finds the missing id
def test_dedup_via_cli_and_bad_input(tmp_path, capsys, caplog):
    from curate import cli

    assert cli.main(["dedup", "--input", str(tmp_path / "missing.jsonl"), "--output", str(tmp_path / "o"), "--master", "local[1]"]) == 2
    assert "missing.jsonl" in capsys.readouterr().err + caplog.text
    bad = tmp_path / "noid.jsonl"
    bad.write_text(json.dumps({"text": "x"}) + "\n")
    assert cli.main(["dedup", "--input", str(bad), "--output", str(tmp_path / "o2"), "--master", "local[1]"]) == 2
    assert "missing id" in capsys.readouterr().err + caplog.text

"""Decontamination (phi-4 Algorithm 1): the pure core on real benchmarks and real text, then the Spark job."""

from __future__ import annotations

import bz2
import csv
import json
import random
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curation import config
from curation import decontam as d

ROOT = Path(__file__).resolve().parent.parent


# ------------------------------------------------------------------ fixtures (real data)


@pytest.fixture(scope="module")
def bench_yaml(shared_data, tmp_path_factory) -> Path:
    """GSM8K, HumanEval and the foundry world-knowledge + commonsense sets (ARC, TriviaQA, Jeopardy,
    wikidata QA, PIQA, SIQA, …): real layouts through the presets, relative paths."""
    folder = tmp_path_factory.mktemp("bench")
    rel = Path("../" * len(folder.parts[1:])) / shared_data.relative_to("/") / "benchmarks"
    (folder / "bench.yaml").write_text(f"""benchmarks:
  - preset: gsm8k
    path: {rel}/gsm8k/test.jsonl
  - preset: humaneval
    path: {rel}/humaneval/HumanEval.jsonl.gz
  - preset: foundry
    path: {rel}/foundry/world_knowledge/*.jsonl
  - preset: foundry
    path: {rel}/foundry/commonsense_reasoning/*.jsonl
""")
    return folder / "bench.yaml"


@pytest.fixture(scope="module")
def gsm_yaml(shared_data, tmp_path_factory) -> Path:
    """GSM8K alone: a small index keeps the Spark tests about Spark (the core is tested above)."""
    path = tmp_path_factory.mktemp("gsm") / "bench.yaml"
    path.write_text(f"benchmarks:\n  - {{preset: gsm8k, path: {shared_data}/benchmarks/gsm8k/test.jsonl}}\n"
                    f"  - {{preset: foundry, path: {shared_data}/benchmarks/foundry/world_knowledge/arc_*.jsonl}}\n")
    return path


@pytest.fixture(scope="module")
def benchmarks(bench_yaml):
    return d.load_benchmarks(d.load_benchmark_specs(bench_yaml))


@pytest.fixture(scope="module")
def index(benchmarks):
    return d.build_index(benchmarks)


@pytest.fixture(scope="module")
def paragraphs(shared_data) -> list[str]:
    text = (shared_data / "corpora/wikitext2/valid.txt").read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n") if len(p.split()) > 60 and not p.strip().startswith("=")]


def _jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def _embed(paragraph: str, snippet: str, rng: random.Random) -> str:
    words = paragraph.split()
    k = rng.randrange(len(words) + 1)
    return " ".join(words[:k] + [snippet] + words[k:])


def _reference_ratio(doc: str, item: str, n: int = 7) -> float:
    """Algorithm 1's ratio with Python sets of word tuples: the specification the hashes must meet."""
    def grams(t):
        w = d.normalize(t)
        return {tuple(w[i:i + n]) for i in range(len(w) - n + 1)}
    a, b = grams(doc), grams(item)
    return len(a & b) / min(len(a), len(b)) if a and b else 0.0


# ------------------------------------------------------------------ normalisation, hashing, bad text


def test_normalize_and_bad_texts(index):
    assert d.normalize("Janet’s ducks: 16 eggs/day — A_B") == ["janet", "s", "ducks", "16", "eggs", "day", "a", "b"]
    assert d.normalize(None) == d.normalize("") == [] and d.normalize("  ,.;  ") == []
    for text in (None, "", "   ", "one two three", "a b c d e f", "\ud800 lone surrogate \udfff " * 10, "\x00\x01 binary", "٣ ١٢ 数学"):
        v = d.check(text, index)
        assert v.status in (d.CLEAN, d.PARTIAL, d.CONTAMINATED) and 0.0 <= v.ratio <= 1.0
    assert d.check(None, index).status == d.CLEAN and d.check("a b c", index).ratio == 0.0
    assert len(d.text_ngrams("six words are not a seven", 7)) == 0
    assert len(d.text_ngrams("now there are seven words here ok", 7)) == 1


def test_hashes_are_stable():
    """Saved allow-lists depend on the exact hash scheme: pin it (bump HASH_VERSION if this changes)."""
    h = d.text_ngrams("The quick brown fox jumps over the lazy dog near the river bank today", 13)
    assert h.dtype == np.uint64 and len(h) == 2
    assert [f"{int(x):016x}" for x in h] == PINNED_HASHES


PINNED_HASHES = ['ba937668655e84e7', 'f4fbda5429b1feae']


def test_hashed_ratio_equals_set_reference(index, benchmarks, paragraphs):
    """Partial status for a controlled overlap, with the ratio equal to Algorithm 1 computed on sets."""
    gsm = next(b for b in benchmarks if b.name == "gsm8k")
    rng = random.Random(1)
    seen = set()
    for ref, item in gsm.items[:40]:
        words = d.normalize(item)
        # 12 consecutive item words: 6 shared 7-grams and no shared 13-gram.
        start = rng.randrange(len(words) - 12)
        doc = _embed(rng.choice(paragraphs), " ".join(words[start:start + 12]), rng)
        v = d.check(doc, index)
        expected = _reference_ratio(doc, item)
        if v.item == ref:
            assert v.ratio == pytest.approx(expected)
        assert v.ngram != 13
        assert v.ratio >= expected  # the max over items is at least this item's ratio
        seen.add(v.status)
        if d.DecontamConfig().info_threshold < expected < d.DecontamConfig().contaminated_threshold:
            assert v.status == d.PARTIAL and v.benchmark == "gsm8k"
    assert d.PARTIAL in seen
    # The same 12 words against a short item (few 7-grams) give a high ratio: contaminated by 7-grams.
    arc = next(b for b in benchmarks if b.name == "foundry/arc_easy")
    ref, item = next((r, t) for r, t in arc.items if 14 <= len(d.normalize(t)) <= 20)
    doc = _embed(paragraphs[0], " ".join(d.normalize(item)[:12]), rng)
    v = d.check(doc, index)
    assert v.status == d.CONTAMINATED and v.ngram == 7 and v.ratio >= _reference_ratio(doc, item) >= 0.35


# ------------------------------------------------------------------ recall and false positives on real data


def test_embedded_benchmark_items_are_flagged(index, shared_data, paragraphs):
    """Real GSM8K test questions and ARC items (question with its options, as a quiz page shows them)
    inside real Wikipedia paragraphs: recall >= 0.99."""
    rng = random.Random(0)
    gsm = [r["question"] for r in _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl")]
    arc = [r["query"] + " " + " ".join(r["choices"])
           for name in ("arc_easy", "arc_challenge") for r in _jsonl(shared_data / f"benchmarks/foundry/world_knowledge/{name}.jsonl")]
    cases = [(q, "gsm8k") for q in rng.sample(gsm, 300)] + [(q, "foundry/arc_") for q in rng.sample(arc, 300)]
    flagged = 0
    for snippet, bench in cases:
        v = d.check(_embed(rng.choice(paragraphs), snippet, rng), index)
        flagged += v.status == d.CONTAMINATED and v.benchmark.startswith(bench)
    assert flagged / len(cases) >= 0.99, flagged


@pytest.mark.slow  # ~3 s: real wikitext paragraphs against the benchmark index
def test_clean_real_text_is_rarely_contaminated(index, shared_data):
    """5,000 real ~300-word documents (WikiText-2 articles, then the Brown corpus): <= 0.1% contaminated."""
    docs = d.real_documents(shared_data, 5000, 300)
    assert len(docs) == 5000
    result = d.time_check(docs, index)
    assert result["status"].get(d.CONTAMINATED, 0) <= 5, result
    assert result["status"][d.CLEAN] >= 0.99 * len(docs)


# ------------------------------------------------------------------ allow-list


def test_allowlisted_13grams_do_not_trigger(shared_data, paragraphs, tmp_path):
    """The paper's example: multiple-choice option patterns are common 13-grams, not contamination."""
    pattern = "A) I only B) II only C) III only D) II and III E) I, II and III"
    # A reference corpus where the pattern is frequent (quiz pages), plus real Wikipedia paragraphs.
    reference = paragraphs[:300] + [p + " " + pattern for p in paragraphs[300:310]]
    allow = d.build_allowlist(reference, top_k=1000, min_count=3)
    assert set(d.allowlist_from_phrases([pattern]).tolist()) <= set(allow.tolist())
    # A long real GSM8K item (question + worked answer) that happens to carry the pattern.
    item = next(r for r in _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl") if len((r["question"] + r["answer"]).split()) > 170)
    bench = tmp_path / "b.jsonl"
    bench.write_text(json.dumps({"question": item["question"], "answer": item["answer"] + " " + pattern}) + "\n")
    benchmarks = [d.Benchmark("mc", (str(bench),), tuple(d._read_file(str(bench), d.BenchmarkSpec(str(bench), fields=("question", "answer")))))]
    doc = paragraphs[400] + " " + pattern
    assert d.check(doc, d.build_index(benchmarks)).ngram == 13
    # Saved as a plain text file of hashes and named in the config: the same index.
    path = tmp_path / "allow.txt"
    d.save_allowlist(path, allow)
    assert path.read_text().startswith(d.ALLOWLIST_HEADER + "13\n")
    assert np.array_equal(d.load_allowlist(path), allow)
    np.save(tmp_path / "allow.npy", allow)
    assert np.array_equal(d.load_allowlist(tmp_path / "allow.npy"), allow)
    cfg = d.DecontamConfig(allowlist=str(path))
    idx = d.build_index(benchmarks, cfg)
    assert idx.stats["mc"]["ngrams_long_allowlisted"] == len(d.allowlist_from_phrases([pattern]))
    v = d.check(doc, idx, cfg)
    assert v.ngram != 13 and v.status == d.CLEAN  # the 7-gram ratio of a long item stays low
    # A 13-gram of the item that is not allow-listed still triggers.
    assert d.check(paragraphs[400] + " " + item["question"], idx, cfg).ngram == 13
    with pytest.raises(d.BenchmarkError, match="n=13, config uses 7"):
        d.load_allowlist(path, n=7)


# ------------------------------------------------------------------ benchmark files


@pytest.mark.slow  # ~1.5 s: reads every benchmark preset's real files
def test_presets_read_real_layouts(shared_data, benchmarks, tmp_path):
    by_name = {b.name: b for b in benchmarks}
    assert len(by_name["gsm8k"].items) == 1319 and len(by_name["humaneval"].items) == 164
    assert len(by_name["foundry/arc_easy"].items) == 2376 and len(by_name["foundry/arc_challenge"].items) == 1172
    assert by_name["foundry/arc_easy"].items[0][0] == "arc_easy.jsonl:1"
    assert "photosynthesis" in by_name["foundry/arc_easy"].items[0][1] and "Sunlight" in by_name["foundry/arc_easy"].items[0][1]
    assert by_name["foundry/triviaqa_small"].items  # context/answer layout
    # Every foundry file loads through the one preset, whatever its fields.
    everything = d.load_benchmarks([d.BenchmarkSpec(str(shared_data / "benchmarks/foundry/**/*.jsonl"), **d.PRESETS["foundry"])])
    files = sorted((shared_data / "benchmarks/foundry").rglob("*.jsonl"))
    assert len(everything) == len(files) >= 60 and all(b.items for b in everything)
    # bz2 and a headerless MMLU-style CSV (columns: question, A, B, C, D, answer).
    raw = (shared_data / "benchmarks/gsm8k/test.jsonl").read_bytes()
    (tmp_path / "gsm.jsonl.bz2").write_bytes(bz2.compress(raw))
    with open(tmp_path / "arc_test.csv", "w", newline="") as f:
        for r in _jsonl(shared_data / "benchmarks/foundry/world_knowledge/arc_challenge.jsonl")[:50]:
            if len(r["choices"]) == 4:
                csv.writer(f).writerow([r["query"], *r["choices"], "ABCD"[r["gold"]]])
    (tmp_path / "b.yaml").write_text("benchmarks:\n  - {name: g, path: gsm.jsonl.bz2, fields: [question]}\n"
                                     "  - {preset: mmlu_csv, name: mmlu, path: '*.csv'}\n")
    g, mmlu = d.load_benchmarks(d.load_benchmark_specs(tmp_path / "b.yaml"))
    assert [t for _, t in g.items] == [r["question"] for r in _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl")]
    assert len(mmlu.items) > 40 and mmlu.items[0][0] == "arc_test.csv:1" and not mmlu.items[0][1].endswith((" A", " B", " C", " D"))


@pytest.mark.parametrize("content, fmt, message", [
    ('{"question": "a"}\n{"question": "b"}\n{"question": "c"\n', "jsonl", r"bad\.jsonl:3: invalid JSON"),
    ('{"question": "a"}\n{"answer": "b"}\n', "jsonl", r"bad\.jsonl:2: missing field 'question'"),
    ('["question"]\n', "jsonl", r"bad\.jsonl:1: expected a JSON object"),
    ('question,answer\n"a",1\n"b,2\n', "csv", r"bad\.csv:3: malformed CSV"),
    ('question,answer\na,1\nb,2,3\n', "csv", r"bad\.csv:3: 3 columns, header has 2"),
    ('text,answer\na,1\n', "csv", r"bad\.csv:1: header has no column\(s\) \['question'\]"),
    ('', "jsonl", r"bad\.jsonl: no benchmark items"),
])
def test_malformed_benchmark_file_names_file_and_line(tmp_path, content, fmt, message):
    (tmp_path / f"bad.{fmt}").write_text(content)
    (tmp_path / "b.yaml").write_text(f"benchmarks:\n  - {{name: x, path: bad.{fmt}, format: {fmt}, fields: [question]}}\n")
    with pytest.raises(d.BenchmarkError, match=message):
        d.load_benchmarks(d.load_benchmark_specs(tmp_path / "b.yaml"))


def test_bad_benchmark_list_errors(tmp_path):
    (tmp_path / "latin1.jsonl").write_bytes(b'{"question": "ok"}\n{"question": "caf\xe9"}\n')
    cases = {"benchmarks:\n  - {preset: nope, path: x}\n": "unknown preset 'nope'",
             "benchmarks:\n  - {name: x, path: missing/*.jsonl}\n": "matches no file",
             "benchmarks:\n  - {name: x, paht: a.jsonl}\n": "unknown key",
             "benchmarks: []\n": "non-empty 'benchmarks:' list",
             "benchmarks:\n  - {name: x, path: latin1.jsonl, fields: [question]}\n": r"latin1\.jsonl: not UTF-8.*line 2"}
    for text, message in cases.items():
        (tmp_path / "b.yaml").write_text(text)
        with pytest.raises(d.BenchmarkError, match=message):
            d.load_benchmarks(d.load_benchmark_specs(tmp_path / "b.yaml"))


def test_arrow_batches_keep_every_row(index, shared_data):
    """The mapInArrow body without Spark: columns kept, verdicts appended, dropped rows unchecked."""
    q = _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl")[5]["question"]
    batch = pa.RecordBatch.from_pydict({"id": ["a", "a", "b", "c", "d"], "text": [q, None, "", q, "plain words only here"],
                                        "drop_reason": [None, None, None, "x.y", None], "n": [1, 2, 3, 4, 5]})

    class Broadcast:  # what Spark hands the executor
        value = index

    (out,) = list(d.decontaminate_batches(iter([batch]), Broadcast(), d.DecontamConfig()))
    assert out.num_rows == 5 and out.schema.names == ["id", "text", "drop_reason", "n", *d.OUTPUT_COLUMNS]
    assert out.column("decontam_status").to_pylist() == ["contaminated", "clean", "clean", None, "clean"]
    assert out.column("decontam_item").to_pylist()[0] == "test.jsonl:6" and out.column("n").to_pylist() == [1, 2, 3, 4, 5]


# ------------------------------------------------------------------ the Spark job


def test_shipped_config_equals_defaults():
    from curation.decontam import DecontaminateJobConfig

    assert config.load(DecontaminateJobConfig, ROOT / "spark_jobs/configs/decontaminate.yaml") == DecontaminateJobConfig()


def test_job_config_errors_before_spark(tmp_path):
    from spark_jobs.decontaminate import DecontaminateJob

    job = DecontaminateJob()
    (tmp_path / "bad.jsonl").write_text('{"question": "a"}\nnot json\n')
    (tmp_path / "b.yaml").write_text("benchmarks:\n  - {name: x, path: bad.jsonl, fields: [question]}\n")
    for argv, message in ([["--input", "x", "--output", "y"], "no benchmarks"],
                          [["--input", "x", "--output", "y", "--benchmarks", str(tmp_path / "b.yaml")], r"bad\.jsonl:2: invalid JSON"],
                          [["--input", "x", "--output", "y", "--benchmarks", str(tmp_path / "b.yaml"),
                            "--set", "decontam.info_threshold=0.9"], "info_threshold"]):
        with pytest.raises(config.ConfigError, match=message):
            job.load_config(job.build_parser().parse_args(argv))


def _run(spark, argv):
    from spark_jobs.decontaminate import DecontaminateJob

    job = DecontaminateJob()
    args = job.build_parser().parse_args(argv)
    return job.run(spark, args, job.load_config(args))


@pytest.mark.spark
def test_job_parquet_end_to_end(spark, gsm_yaml, shared_data, paragraphs, tmp_path):
    import duckdb

    rng = random.Random(3)
    gsm = [r["question"] for r in _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl")]
    rows = [{"id": f"clean{i}", "text": p, "drop_reason": None, "url": f"https://x/{i}"} for i, p in enumerate(paragraphs[:150])]
    rows += [{"id": f"dirty{i}", "text": _embed(paragraphs[150 + i], gsm[i], rng), "drop_reason": None, "url": None} for i in range(40)]
    rows += [{"id": "dup", "text": None, "drop_reason": None, "url": None}, {"id": "dup", "text": "", "drop_reason": None, "url": None},
             {"id": "short", "text": "too short", "drop_reason": None, "url": None},
             {"id": "surrogate", "text": "bad \udc80 text " * 20, "drop_reason": None, "url": None},
             {"id": "dropped", "text": gsm[0], "drop_reason": "gopher_quality_v1.too_few_words", "url": None}]
    texts = [None if r["text"] is None else r["text"].encode("utf-8", "replace").decode("utf-8") for r in rows]
    table = pa.table({"id": [r["id"] for r in rows], "text": texts, "drop_reason": [r["drop_reason"] for r in rows],
                      "url": [r["url"] for r in rows]})
    src = tmp_path / "docs"
    src.mkdir()
    pq.write_table(table.slice(0, 100), src / "a.parquet")
    pq.write_table(table.slice(100), src / "b.parquet")
    out = tmp_path / "out"
    assert _run(spark, ["--input", str(src), "--benchmarks", str(gsm_yaml), "--output", str(out)]) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    report = json.loads((out / "_report.json").read_text())
    assert acc["records_read"] == acc["records_written"] == len(rows) == sum(acc["by_status"].values())
    assert acc["by_status"]["unchecked"] == 1 and acc["by_status"]["contaminated"] == 40
    con = duckdb.connect()
    got = {r[0]: r[1:] for r in con.execute(f"SELECT id, decontam_status, decontam_benchmark, decontam_ngram, url FROM '{out}/*.parquet'").fetchall()}
    assert len(con.execute(f"SELECT * FROM '{out}/*.parquet'").fetchall()) == len(rows)
    assert all(got[f"dirty{i}"][:3] == ("contaminated", "gsm8k", 13) for i in range(40))
    assert got["dropped"][0] is None and got["short"][0] == "clean" and got["clean0"][3] == "https://x/0"
    assert report["benchmarks"]["gsm8k"]["docs_contaminated"] == 40 and report["benchmarks"]["gsm8k"]["items"] == 1319
    assert report["benchmarks"]["foundry/arc_easy"]["ngrams_13"] > 0
    from curation.decontam import DecontaminateJobConfig

    assert config.load(DecontaminateJobConfig, out / "_config.yaml").benchmarks == str(gsm_yaml)


@pytest.mark.spark
def test_job_jsonl_with_broken_lines(spark, gsm_yaml, shared_data, paragraphs, tmp_path):
    import duckdb

    gsm = [r["question"] for r in _jsonl(shared_data / "benchmarks/gsm8k/test.jsonl")]
    src = tmp_path / "docs.jsonl"
    with open(src, "wb") as f:
        for i, p in enumerate(paragraphs[:20]):
            f.write((json.dumps({"id": str(i), "text": p + (" " + gsm[i] if i % 2 else "")}) + "\n").encode())
        f.write(b'{"id": "broken", "text": \n')  # not JSON
        f.write(b'{"id": "latin1", "text": "caf\xe9"}\n')  # not UTF-8
        f.write(b'{"id": "notext"}\n')
    out = tmp_path / "out"
    assert _run(spark, ["--input", str(src), "--benchmarks", str(gsm_yaml), "--output", str(out)]) == 0
    acc = json.loads((out / "_accounting.json").read_text())
    assert acc["records_read"] == acc["records_written"] == 23
    assert acc["by_status"]["contaminated"] == 10
    n = duckdb.sql(f"SELECT count(*) FROM '{out}/*.parquet'").fetchall()[0][0]  # valid UTF-8 everywhere
    assert n == 23
    # A foreign folder is refused (before any Spark work).
    from curation.output_dir import OutputRefused

    (tmp_path / "foreign").mkdir()
    (tmp_path / "foreign" / "keep.txt").write_text("x")
    with pytest.raises(OutputRefused, match="not made by curate"):
        _run(spark, ["--input", str(src), "--benchmarks", str(gsm_yaml), "--output", str(tmp_path / "foreign")])

"""The mixture job: token budgets per source within 1%, byte-identical reruns, clear refusals."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import pytest

from curation import config
from curation.errors import JobError
from curation.mixture.mix_config import PRESETS
from spark_jobs.mix import MixJob

pytestmark = pytest.mark.spark


@pytest.fixture(scope="module")
def docs(shared_data, tmp_path_factory) -> Path:
    paras = [p.strip() for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n") if len(p.split()) > 30]
    rows = [{"id": f"w{i}", "text": p, "kind": "wiki", "drop_reason": None} for i, p in enumerate(paras)]
    for i, line in enumerate((shared_data / "benchmarks/gsm8k/train.jsonl").open()):
        if i >= 1500:
            break
        r = json.loads(line)
        rows.append({"id": f"g{i}", "text": r["question"] + "\n" + r["answer"], "kind": "math", "drop_reason": None})
    rows.append({"id": "gone", "text": "a dropped page", "kind": "wiki", "drop_reason": "lang.x"})
    path = tmp_path_factory.mktemp("mix") / "docs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _yaml(tmp_path: Path, docs: Path, shared_data: Path, total: int, extra: str = "", wiki_share: float = 0.6) -> Path:
    p = tmp_path / "mix.yaml"
    p.write_text(f"""input: {docs}
tokenizer: {shared_data / 'tokenizers/gpt-neo-test-tokenizer.json'}
total_tokens: {total}
seed: 3
sources:
  - {{name: wiki, share: {wiki_share}, where: "kind = 'wiki' AND drop_reason IS NULL", max_epochs: 2}}
  - {{name: math, share: 0.4, where: "kind = 'math'", max_epochs: 3}}
{extra}""")
    return p


def run(spark, argv):
    job = MixJob()
    args = job.build_parser().parse_args(argv)
    return job.run(spark, args, job.load_config(args))


def _shard_hashes(out: Path) -> list[str]:
    return sorted(hashlib.sha256(f.read_bytes()).hexdigest() for f in out.glob("*.parquet"))


@pytest.mark.parametrize("total", [300_000, 700_000])  # below and above the unique tokens: repetition
def test_budgets_met_and_reruns_identical(spark, docs, shared_data, tmp_path, total):
    cfg = _yaml(tmp_path, docs, shared_data, total)
    out1, out2 = tmp_path / "a", tmp_path / "b"
    assert run(spark, ["--config", str(cfg), "--output", str(out1)]) == 0
    manifest = json.loads((out1 / "mixture_manifest.json").read_text())
    for name, share in (("wiki", 0.6), ("math", 0.4)):
        src = manifest["sources"][name]
        assert src["planned_tokens"] == round(share * total)
        assert abs(src["achieved_tokens"] - src["planned_tokens"]) / src["planned_tokens"] < 0.01
        assert src["epochs"] == pytest.approx(src["achieved_tokens"] / src["unique_tokens"])
    import duckdb

    assert duckdb.sql(f"SELECT count(*) FROM '{out1}/*.parquet' WHERE id = 'gone'").fetchall()[0][0] == 0
    got = dict(duckdb.sql(f"SELECT source, sum(n_tokens) FROM '{out1}/*.parquet' GROUP BY 1").fetchall())
    assert got == {n: s["achieved_tokens"] for n, s in manifest["sources"].items()}
    assert run(spark, ["--config", str(cfg), "--output", str(out2)]) == 0
    assert _shard_hashes(out1) == _shard_hashes(out2)  # same seed, same bytes


def test_refusals_before_work(spark, docs, shared_data, tmp_path):
    job = MixJob()
    bad_share = _yaml(tmp_path, docs, shared_data, 1000, wiki_share=0.5)
    with pytest.raises(config.ConfigError, match="shares sum to 90%, not 100%"):
        job.load_config(job.build_parser().parse_args(["--config", str(bad_share), "--output", str(tmp_path / "o")]))
    no_tok = tmp_path / "notok.yaml"
    no_tok.write_text(_yaml(tmp_path, docs, shared_data, 1000).read_text().replace("gpt-neo-test-tokenizer.json", "missing.json"))
    with pytest.raises(config.ConfigError, match="tokenizer file not found: .*missing.json"):
        job.load_config(job.build_parser().parse_args(["--config", str(no_tok), "--output", str(tmp_path / "o")]))
    with pytest.raises(JobError, match="epoch cap exceeded: .* at most .* total tokens are achievable"):
        run(spark, ["--config", str(_yaml(tmp_path, docs, shared_data, 10_000_000)), "--output", str(tmp_path / "o")])
    empty = tmp_path / "empty.yaml"
    empty.write_text(_yaml(tmp_path, docs, shared_data, 1000).read_text().replace("kind = 'math'", "kind = 'nothing'"))
    with pytest.raises(JobError, match="source 'math' has no tokens: its selection matched no rows"):
        run(spark, ["--config", str(empty), "--output", str(tmp_path / "o2")])


def test_phi4_organic_preset_shares():
    from curation.mixture.mix_config import MixJobConfig, MixSource, resolve_sources

    shares = PRESETS["phi4-organic"]
    assert sum(shares.values()) == pytest.approx(1.0)
    assert shares["code"] / shares["acquired"] == pytest.approx(2.0)  # phi-4: code 20 : acquired 10
    assert sum(v for k, v in shares.items() if k.startswith("web")) / shares["acquired"] == pytest.approx(1.5)  # web 15
    cfg = MixJobConfig(input="x", preset="phi4-organic", sources=tuple(MixSource(name=n) for n in shares))
    assert {s.name: s.share for s in resolve_sources(cfg)} == shares
    with pytest.raises(config.ConfigError, match="has no share"):
        resolve_sources(MixJobConfig(input="x", preset="phi4-organic", sources=(MixSource(name="forums"),)))


@pytest.mark.parametrize("token_format", ["megatron", "nanogpt"])
def test_tokenised_binary_shards(spark, docs, shared_data, tmp_path, token_format):
    """The shards read back with readers written from each format's description (tests/test_token_shards.py
    for Megatron's indexed dataset; nanoGPT's ``np.memmap(train.bin, dtype=np.uint16)``)."""
    import duckdb
    import numpy as np
    from tokenizers import Tokenizer

    from curation.ablations.token_streams import read_token_shards
    from tests.test_token_shards import read_megatron_spec

    cfg = _yaml(tmp_path, docs, shared_data, 200_000, extra=f"binary: true\nshards: 2\ntoken_format: {token_format}\n")
    out = tmp_path / "bin"
    assert run(spark, ["--config", str(cfg), "--output", str(out)]) == 0
    info = json.loads((out / "mixture_manifest.json").read_text())["token_shards"]
    shards = info["shards"]
    assert info["format"] == token_format and info["dtype"] == "uint16"
    assert [s["file"] for s in shards] == ["tokens-00000", "tokens-00001"] and {s["dtype"] for s in shards} == {"uint16"}
    rows = duckdb.sql(f"SELECT count(*), sum(n_tokens) FROM '{out}/*.parquet'").fetchall()[0]
    assert sum(s["docs"] for s in shards) == rows[0]
    assert sum(s["tokens"] for s in shards) == rows[1] + rows[0]  # each document's ids + one end-of-text
    tok = Tokenizer.from_file(str(shared_data / "tokenizers/gpt-neo-test-tokenizer.json"))
    eos = tok.token_to_id("<|endoftext|>")
    texts = [r[0] for r in duckdb.sql(f"SELECT text FROM read_parquet('{out}/part-*.parquet', filename=true, file_row_number=true) "
                                      "ORDER BY filename, file_row_number").fetchall()]
    expected = [tok.encode(t, add_special_tokens=False).ids + [eos] for t in texts]  # every document, in order
    if token_format == "megatron":
        assert sorted(p.name for p in (out / "_tokens").iterdir()) == [
            "tokens-00000.bin", "tokens-00000.idx", "tokens-00001.bin", "tokens-00001.idx"]
        got = read_megatron_spec(out / "_tokens/tokens-00000") + read_megatron_spec(out / "_tokens/tokens-00001")
        assert len(read_megatron_spec(out / "_tokens/tokens-00000")) == shards[0]["docs"]
        assert got == expected
    else:
        assert [p.name for p in (out / "_tokens").iterdir()] == ["train.bin"]
        flat = np.memmap(out / "_tokens/train.bin", dtype=np.uint16, mode="r")
        assert flat.tolist() == sum(expected, [])
    assert read_token_shards(out).tolist() == sum(expected, [])  # the proxy trainer's reader, either format


def test_long_documents_are_sampled_as_chunks(spark, docs, shared_data, tmp_path):
    from curation.mixture.token_counts import chunk_document

    text = "alpha beta gamma delta"
    offsets = [0, 6, 11, 17]  # token start characters
    assert chunk_document("d", text, offsets, 3) == [("d#0", "alpha beta gamma ", 3), ("d#1", "delta", 1)]
    assert chunk_document("d", text, offsets, 0) == [("d", text, 4)]
    cfg = _yaml(tmp_path, docs, shared_data, 100_000, extra="chunk_tokens: 64\n")
    out = tmp_path / "chunks"
    assert run(spark, ["--config", str(cfg), "--output", str(out)]) == 0
    manifest = json.loads((out / "mixture_manifest.json").read_text())
    for src in manifest["sources"].values():
        assert abs(src["achieved_tokens"] - src["planned_tokens"]) <= 64
    import duckdb

    ids = [r[0] for r in duckdb.sql(f"SELECT id FROM '{out}/*.parquet' WHERE source = 'wiki'").fetchall()]
    assert any("#" in i for i in ids)  # WikiText paragraphs over 64 tokens were split


@pytest.mark.slow
def test_demo_phi4_organic_mixture(spark, tmp_path):
    """The shipped demo mixture: demo pipeline output + this repository's code + its README."""
    import yaml

    from curate import cli

    root = Path(__file__).resolve().parent.parent
    run_dir = tmp_path / "demo"
    assert cli.main(["demo", "--output", str(run_dir)]) == 0
    assert cli.main(["ingest", "code", str(root / "curation"), "--output", str(run_dir / "code")]) == 0
    assert cli.main(["ingest", "text", str(root / "README.md"), "--output", str(run_dir / "acquired")]) == 0
    cfg = yaml.safe_load((root / "demo/mix-phi4-organic.yaml").read_text())
    cfg["input"] = str(run_dir / "annotate")
    for s in cfg["sources"]:
        if "input" in s:
            s["input"] = str(run_dir / s["input"].rsplit("/", 1)[-1])
    mix_yaml = tmp_path / "mix.yaml"
    mix_yaml.write_text(yaml.safe_dump(cfg))
    out = tmp_path / "mix"
    assert run(spark, ["--config", str(mix_yaml), "--output", str(out)]) == 0
    manifest = json.loads((out / "mixture_manifest.json").read_text())
    assert set(manifest["sources"]) == set(PRESETS["phi4-organic"])
    total = manifest["achieved_total_tokens"]
    for name, src in manifest["sources"].items():
        assert src["share"] == pytest.approx(PRESETS["phi4-organic"][name])
        assert abs(src["achieved_tokens"] - src["planned_tokens"]) / src["planned_tokens"] < 0.01, name
        assert abs(src["achieved_tokens"] / total - src["share"]) < 0.01, name  # achieved share within 1 point
    # The demo ablation runs on that mixture and proposes a mixture `curate mix` accepts.
    abl = yaml.safe_load((root / "demo/ablate-demo.yaml").read_text())
    abl["mixture"] = str(out)
    (tmp_path / "abl.yaml").write_text(yaml.safe_dump(abl))
    assert cli.main(["ablate", "--config", str(tmp_path / "abl.yaml"), "--output", str(tmp_path / "ablate")]) == 0
    best = yaml.safe_load((tmp_path / "ablate/best_mixture.yaml").read_text())
    assert {s["name"] for s in best["sources"]} == set(PRESETS["phi4-organic"]) and "preset" not in best
    assert sum(s["share"] for s in best["sources"]) == pytest.approx(1, abs=1e-9)
    assert run(spark, ["--config", str(tmp_path / "ablate/best_mixture.yaml"), "--output", str(tmp_path / "mix2")]) == 0


def test_token_counting_in_slices_gives_the_same_rows_as_one_encode(monkeypatch):
    # count_batches encodes a batch in slices of ENCODE_CHARS to bound a worker's memory; the rows
    # (chunk ids, texts, token counts, keys) must not depend on where the slices fall.
    import pyarrow as pa

    from curation.mixture import token_counts as counts

    texts = [f"Document {i}: " + " ".join(f"word{j} x={j * i}" for j in range(40 + 37 * i)) for i in range(12)]
    texts += ["", "naïve café 東京 " * 50]
    batch = pa.RecordBatch.from_pydict({"id": [f"d{i}" for i in range(len(texts))], "text": texts})

    def run(chars: int) -> pa.Table:
        monkeypatch.setattr(counts, "ENCODE_CHARS", chars)
        return pa.Table.from_batches(list(counts.count_batches(iter([batch]), tokenizer="bundled", seed=3, chunk_tokens=64)))

    whole, sliced = run(10**9), run(500)
    assert sliced.num_rows > len(texts)  # long documents were chunked
    assert sliced.equals(whole)
    assert [(lo, hi) for lo, hi in counts._slices(["aaa", "bb", "cccc", "d"], 5)] == [(0, 2), (2, 4)]

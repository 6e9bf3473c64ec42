"""``curate export``: kept rows of a stage as sharded, compressed JSONL or Parquet, read back here with
plain readers (gzip/zstandard + json, pyarrow) and with Hugging Face ``datasets`` offline."""

from __future__ import annotations

import gzip
import json
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from curate import cli
from curation import export as core
from curation.schema import DOC_SCHEMA


def _row(i: int, drop: str | None = None) -> dict:
    return {"id": f"d{i}", "text": f"document {i} says hello\nand \"quotes\"", "lang": "en" if i % 2 else "fr",
            "drop_reason": drop, "scores": [("quality", i / 10), ("reasoning", 0.5)] if i % 3 else None}


@pytest.fixture
def stage(tmp_path) -> Path:
    """A stage folder as the jobs leave it: two part files (kept and dropped rows) and side files."""
    d = tmp_path / "run" / "annotate"
    (d / "_parts").mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist([_row(i) for i in range(5)] + [_row(5, "gopher_quality_v1.too_few_words")],
                                        schema=DOC_SCHEMA), d / "part-00000.parquet")
    pq.write_table(pa.Table.from_pylist([_row(6, "error.decode"), _row(7), _row(8)], schema=DOC_SCHEMA),
                   d / "part-00001.parquet")
    pq.write_table(pa.Table.from_pylist([_row(99)], schema=DOC_SCHEMA), d / "_parts" / "x.parquet")  # not data
    (d / "_config.yaml").write_text("steps: []\n")
    (tmp_path / "run" / "_pipeline.json").write_text("{}")
    return d


KEPT_IDS = ["d0", "d1", "d2", "d3", "d4", "d7", "d8"]


def _jsonl(path: Path) -> list[dict]:
    if path.name.endswith(".gz"):
        raw = gzip.decompress(path.read_bytes())
    elif path.name.endswith(".zst"):
        import zstandard

        raw = zstandard.ZstdDecompressor().stream_reader(path.open("rb")).read()
    else:
        raw = path.read_bytes()
    return [json.loads(line) for line in raw.decode("utf-8").splitlines()]


def test_jsonl_gzip_shards_by_rows_kept_rows_only(stage, tmp_path, capsys):
    out = tmp_path / "out"
    assert cli.main(["export", str(stage), "--output", str(out), "--format", "jsonl", "--shard-rows", "3"]) == 0
    assert "exported 7 of 9 rows (2 dropped rows left out) into 3 .jsonl.gz file(s)" in capsys.readouterr().out
    files = sorted(out.glob("part-*"))
    assert [f.name for f in files] == ["part-00000.jsonl.gz", "part-00001.jsonl.gz", "part-00002.jsonl.gz"]
    rows = [r for f in files for r in _jsonl(f)]
    assert [len(_jsonl(f)) for f in files] == [3, 3, 1]
    assert [r["id"] for r in rows] == KEPT_IDS  # input order, dropped and failed rows left out
    assert rows[1]["text"] == _row(1)["text"]
    assert rows[1]["scores"] == {"quality": 0.1, "reasoning": 0.5} and rows[0]["scores"] is None  # maps are objects
    assert not list(out.glob("*.inprogress")) and not list(out.glob(".*inprogress"))


def test_jsonl_zstd_and_include_dropped_and_columns(stage, tmp_path):
    out = tmp_path / "z"
    res = core.export([str(stage)], str(out), core.ExportOptions(format="jsonl", compression="zstd",
                                                                 include_dropped=True, columns=("id", "drop_reason")))
    assert (res.rows_read, res.rows_written, res.rows_dropped) == (9, 9, 0)
    rows = _jsonl(out / "part-00000.jsonl.zst")
    assert [r["id"] for r in rows] == [f"d{i}" for i in range(9)]
    assert set(rows[0]) == {"id", "drop_reason"} and rows[5]["drop_reason"] == "gopher_quality_v1.too_few_words"


def test_parquet_zstd_by_size_from_a_glob(stage, tmp_path):
    out = tmp_path / "pq"
    # ~1 KB shards: every batch of these rows closes a shard, so the size bound makes several files
    res = core.export([str(stage / "part-*.parquet")], str(out), core.ExportOptions(shard_bytes=1))
    assert len(res.files) == 2 and res.rows_written == 7  # one per input batch here (each file is one batch)
    table = pa.concat_tables([pq.read_table(f) for f in sorted(out.glob("part-*.parquet"))])
    assert table.column("id").to_pylist() == KEPT_IDS
    # scores: a list of {key, value} (datasets cannot load a map), the same data
    assert table.column("scores").to_pylist()[1] == [{"key": "quality", "value": 0.1}, {"key": "reasoning", "value": 0.5}]
    meta = pq.ParquetFile(out / "part-00000.parquet").metadata
    assert meta.row_group(0).column(0).compression == "ZSTD"
    # the same input again into the same folder (curate's own): the same shards, nothing else left
    again = core.export([str(stage / "part-*.parquet")], str(out), core.ExportOptions(shard_bytes=1))
    assert again.files == res.files


def test_load_with_datasets_offline(stage, tmp_path, monkeypatch):
    """The README's example: an export, and a stage's Parquet directly, with Hugging Face ``datasets``."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    import pyarrow.dataset as pads
    from datasets import Features, Value

    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True)  # read at import time
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True)
    out = tmp_path / "export"
    assert cli.main(["export", str(stage), "-o", str(out), "--format", "parquet", "--shard-rows", "4"]) == 0
    ds = datasets.load_dataset("parquet", data_files=str(out / "*.parquet"), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds.num_rows == 7 and ds["id"] == KEPT_IDS
    assert ds[1]["scores"] == [{"key": "quality", "value": 0.1}, {"key": "reasoning", "value": 0.5}]

    js = tmp_path / "export-jsonl"
    assert cli.main(["export", str(stage), "-o", str(js), "--format", "jsonl"]) == 0
    ds = datasets.load_dataset("json", data_files=str(js / "*.jsonl.gz"), split="train", cache_dir=str(tmp_path / "hf"))
    assert ds["id"] == KEPT_IDS

    # a stage's own Parquet: name the columns (datasets has no type for the scores map) and skip dropped rows
    ds = datasets.load_dataset(
        "parquet", data_files=str(stage / "part-*.parquet"), split="train", cache_dir=str(tmp_path / "hf"),
        columns=["id", "text", "drop_reason"],
        features=Features({"id": Value("string"), "text": Value("large_string"), "drop_reason": Value("string")}),
        filters=pads.field("drop_reason").is_null())
    assert sorted(ds["id"]) == sorted(KEPT_IDS)


@pytest.mark.parametrize("argv, says", [
    (["{stage}/nothing"], "input '.*nothing' does not exist"),
    (["{run}"], "holds no Parquet files: it is a run directory, name one of its stage folders"),
    (["{stage}", "--columns", "id,nope"], "no column 'nope' in the input"),
    (["{stage}", "--format", "jsonl", "--compression", "snappy"], "compression 'snappy' is not one of jsonl's"),
    (["{stage}", "--shard-size", "lots"], "not a size: 'lots'"),
    (["{stage}/_config.yaml"], "is not Parquet"),
    ([], "no input given"),
])
def test_user_errors_are_one_line(stage, tmp_path, capsys, argv, says):
    import re

    argv = [a.replace("{stage}", str(stage)).replace("{run}", str(stage.parent)) for a in argv]
    assert cli.main(["export", *argv, "--output", str(tmp_path / "o")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("curate export: error: ") and err.count("\n") == 1 and re.search(says, err), err


def test_refuses_a_folder_it_did_not_make(stage, tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / "notes.txt").write_text("keep me")
    assert cli.main(["export", str(stage), "--output", str(out)]) == 2
    assert "not made by curate" in capsys.readouterr().err and (out / "notes.txt").read_text() == "keep me"


def test_parse_size():
    assert core.parse_size("256MB") == 256 << 20 and core.parse_size("1.5g") == int(1.5 * 2**30)
    assert core.parse_size("4096") == 4096 and core.parse_size("0") == 0

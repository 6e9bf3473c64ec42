"""Classifier scoring inside the annotate stage: batched, recorded as scores, thresholds drop."""

from __future__ import annotations

import pytest

from classifiers import fasttext_model, scoring_steps  # noqa: F401 - importing registers the steps
from curation import config
from curation.filters import steps
from curation.filters.annotate_task import StepSpec, annotate_batches
from curation.schema import Document, to_batch
from tests.conftest import slow_fixture


@pytest.fixture(scope="module")
@slow_fixture("builds the default training set and trains fastText: ~7 s")
def model_dir(shared_data, tmp_path_factory):
    """A tiny default-recipe model (real reference text vs real web pages), plus texts to score."""
    from classifiers.training_data import build_default_training_set
    from tests.test_fasttext_classifier import TINY

    work = tmp_path_factory.mktemp("tiny")
    train, valid, info = build_default_training_set(shared_data, work / "data", max_per_source=120)
    meta = fasttext_model.train(train, valid, work / "model", params=TINY, data_info=info)
    assert meta["valid_metrics"]["roc_auc"] > 0.75
    paras = [p.strip() for p in (shared_data / "corpora/wikitext2/test.txt").read_text().split("\n")
             if len(p.split()) > 80][:20]
    web = [ln.split(" ", 1)[1] for ln in valid.read_text().splitlines() if ln.startswith("__label__lq")][:20]
    return str(work / "model"), paras, web


def test_step_scores_in_one_batch_call_and_matches_per_document(model_dir, monkeypatch):
    path, paras, verse = model_dir
    calls = []
    real = fasttext_model.probabilities
    monkeypatch.setattr(fasttext_model, "probabilities",
                        lambda m, texts, **kw: calls.append(len(texts)) or real(m, texts, **kw))
    step = steps.create("fasttext_classifier_v1", model_dir=path, min_score=0.5)
    good = [Document(id=f"g{i}", text=p) for i, p in enumerate(paras[:20])]
    bad = [Document(id=f"b{i}", text=v) for i, v in enumerate(verse)]
    docs = steps.apply_batch(good + bad, [step])
    assert calls == [40]  # one forward pass for the whole batch
    kept_good = sum(d.drop_reason is None for d in docs[:20])
    dropped_web = sum(d.drop_reason == "fasttext_classifier_v1.below_threshold" for d in docs[20:])
    assert kept_good + dropped_web >= 30  # far better than chance (20)
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
    with pytest.raises(config.ConfigError, match="model directory not found: .*nope"):
        steps.create("fasttext_classifier_v1", model_dir=str(tmp_path / "nope"))


def test_foreign_version_or_wrong_kind_fails_before_work(model_dir, tmp_path):
    import json
    import shutil

    path, _, _ = model_dir
    old = tmp_path / "old"
    shutil.copytree(path, old)
    meta = json.loads((old / "meta.json").read_text())
    meta["version"] = 99
    (old / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(config.ConfigError, match=r"meta\.json: meta version 99"):
        steps.create("fasttext_classifier_v1", model_dir=str(old))
    with pytest.raises(config.ConfigError, match="a fasttext model, but this step needs a transformer"):
        steps.create("transformer_classifier_v1", model_dir=path)
    (old / "meta.json").write_text("{not json")
    with pytest.raises(config.ConfigError, match="not valid JSON"):
        steps.create("fasttext_classifier_v1", model_dir=str(old))


def test_all_classes_records_every_class(model_dir):
    path, paras, web = model_dir
    step = steps.create("fasttext_classifier_v1", model_dir=path, score_name="q", all_classes=True)
    docs = steps.apply_batch([Document(id="a", text=paras[0]), Document(id="b", text=web[0])], [step])
    for d in docs:
        assert abs(d.scores["q_hq"] + d.scores["q_lq"] - 1.0) < 1e-3
        assert d.scores["q"] == d.scores["q_hq"]


def test_a_text_without_a_score_is_null_not_nan_and_not_dropped():
    """Regression heads give NaN for empty text: the annotate map must hold no value (SQL NULL),
    and min_score must not drop the row for it."""
    import math

    from classifiers.scoring_steps import _record
    from curation.schema import Document

    docs = [Document(id="a", text=""), Document(id="b", text="x"), Document(id="c", text="y")]
    reasons = _record(docs, [math.nan, 0.2, 0.9], "edu", min_score=0.5)
    assert reasons == [None, "below_threshold", None]
    assert "edu" not in docs[0].scores and docs[1].scores["edu"] == 0.2 and docs[2].scores["edu"] == 0.9

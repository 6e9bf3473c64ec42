"""RegMix-style mixture search: sample mixtures, fit weights → metric, search the simplex.

Following RegMix (Liu et al., 2024): train many small proxies on mixtures drawn around a prior,
regress the target metric on the mixture weights, then propose the mixture the regression
predicts best, averaging the top predicted candidates for stability rather than trusting one
point. The candidates are ridge over the weights, their pairwise products (RegMix's linear model
with interactions) or their logs, and LightGBM (RegMix's chosen model). One cross-validation split
of the proxies scores them all, and the lowest error wins. Each candidate tunes its own knobs (the
ridge strength; LightGBM's leaves and rounds) on that same split. With a handful of proxies there
can be more features than points, and a tree model has too little data to split on. Nothing is
fixed in advance: the split decides, and with few proxies it picks a ridge form.

The regression itself is numpy; LightGBM is imported only when it is fitted, so that importing this
module stays cheap (lightgbm pulls in scikit-learn and pandas). The spearman, simplex and proposal
code is pure numpy and is unit-tested without training anything.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

LAMBDAS = tuple(10.0 ** k for k in range(-6, 3))


class InfeasibleMixtureError(ValueError):
    """No mixture near the prior respects the sources' epoch caps."""


#: Ridge feature forms. ``linear`` is w_i; ``interactions`` adds w_i·w_j (RegMix's linear model
#: with interactions); ``log`` is log(w_i + 0.01). A domain's loss falls roughly linearly in the log
#: of its share (the "data mixing laws" shape), which a linear model in w cannot follow near w = 0.
#: ``loglinear`` is both, w_i and log(w_i + 0.01): the own-share curve plus linear transfer between
#: sources, a superset of ``linear`` and ``log`` that the ridge strength shrinks back to either.
FORMS = ("linear", "interactions", "log", "loglinear")
LOG_FLOOR = 0.01
#: Every model family fit() compares: the ridge forms, then LightGBM. On a tie the earlier one wins,
#: so the simpler model is kept.
MODELS = (*(f"ridge({f})" for f in FORMS), "lightgbm")

#: Up to this many proxies the split is leave-one-out, which is exact for the few dozen proxies of a
#: CPU run and refits cheaply. Above it the split is CV_FOLDS folds: LightGBM refits once per fold,
#: and hundreds of LOO refits would cost more than they tell.
LOO_MAX = 30
CV_FOLDS = 10
CV_SEED = 0

#: LightGBM settings that make sense with tens of points rather than RegMix's hundreds. Leaves hold
#: a handful of points (min_data_in_leaf 3, min_data_in_bin 1), so a split can be found at all. Trees
#: are small and shrinkage is strong. There is no bagging or feature sampling, and it runs on one
#: thread with a fixed seed and deterministic=True, so the same proxies give the same model bit for
#: bit. (Bagging would also shrink the few points each tree sees.)
LGBM_PARAMS: dict[str, Any] = {
    "objective": "regression", "learning_rate": 0.05, "min_data_in_leaf": 3, "min_data_in_bin": 1,
    "min_sum_hessian_in_leaf": 1e-3, "lambda_l2": 1e-3, "feature_pre_filter": False, "force_col_wise": True,
    "deterministic": True, "num_threads": 1, "seed": 0, "verbose": -1,
}
#: What CV tunes for LightGBM: leaves per tree, and how many boosting rounds to keep. The rounds come
#: from one fit per fold, predicting with the first r trees.
LGBM_LEAVES = (4, 8)
LGBM_ROUNDS = (25, 50, 100, 200, 400)


def features(weights: np.ndarray, form: str = "interactions") -> np.ndarray:
    """The ridge regression's inputs per row (the intercept is handled by centring)."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if form == "linear":
        return w
    if form == "log":
        return np.log(w + LOG_FLOOR)
    if form == "loglinear":
        return np.hstack([w, np.log(w + LOG_FLOOR)])
    if form != "interactions":
        raise ValueError(f"unknown regression form {form!r} (one of {', '.join(FORMS)})")
    i, j = np.triu_indices(w.shape[1], k=1)
    return np.hstack([w, w[:, i] * w[:, j]])


class Predictor(Protocol):
    """Anything the proposal search can rank mixtures with: (n, k) weights → n predicted metrics."""

    def predict(self, weights: np.ndarray) -> np.ndarray: ...


@dataclass
class CrossValidation:
    """What fit() found: the split it used, every candidate's error on it, and the winner's
    out-of-fold predictions. Each candidate's error is at its own best setting."""

    scheme: str  # "leave-one-out" or "10-fold"
    #: Root-mean-square error of each candidate, in MODELS order.
    rmse: dict[str, float]
    #: The winner's prediction for each proxy from the fit that did not see it (input order).
    predictions: np.ndarray
    #: Spearman of those predictions against the metrics: the ranking skill over every proxy.
    spearman: float

    def to_dict(self) -> dict:
        return {"scheme": self.scheme, "spearman": self.spearman,
                "rmse": dict(self.rmse)}


@dataclass
class _Fitted:
    """The part both model kinds share: the error of the chosen setting and the CV record."""

    n_fit: int
    #: The chosen setting's cross-validated RMSE.
    cv_rmse: float
    #: This model's out-of-fold prediction per proxy, in input order.
    cv_predictions: np.ndarray | None
    #: Filled in by fit() on the winner: the comparison it won.
    cv: CrossValidation | None

    # The names from when the split was always leave-one-out (runner.summarise reads them).
    @property
    def loo_rmse(self) -> float:
        return self.cv_rmse

    @property
    def loo_predictions(self) -> np.ndarray | None:
        return self.cv_predictions

    def _common(self) -> dict:
        out: dict = {"cv_rmse": self.cv_rmse, "n_fit": self.n_fit}
        if self.cv is not None:
            out["cv"] = self.cv.to_dict()
        return out


@dataclass
class Regression(_Fitted):
    """Ridge over one feature form of the weights."""

    coef: np.ndarray = field(default_factory=lambda: np.zeros(0))
    intercept: float = 0.0
    x_mean: np.ndarray = field(default_factory=lambda: np.zeros(0))
    x_scale: np.ndarray = field(default_factory=lambda: np.ones(0))
    lam: float = 0.0
    form: str = "interactions"

    @property
    def name(self) -> str:
        return f"ridge({self.form})"

    def predict(self, weights: np.ndarray) -> np.ndarray:
        x = (features(weights, self.form) - self.x_mean) / self.x_scale
        return x @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"model": self.name, "lambda": self.lam, **self._common(), "intercept": self.intercept,
                "coef": self.coef.tolist()}


@dataclass
class GradientBoosting(_Fitted):
    """LightGBM on the raw weights. Trees do not change under a monotone transform of a feature, so
    the log form would add nothing here."""

    booster: Any = None  # lightgbm.Booster, trained for exactly `rounds` iterations
    num_leaves: int = 0
    rounds: int = 0

    @property
    def name(self) -> str:
        return "lightgbm"

    def predict(self, weights: np.ndarray) -> np.ndarray:
        return np.asarray(self.booster.predict(np.atleast_2d(np.asarray(weights, dtype=np.float64))), dtype=np.float64)

    def to_dict(self) -> dict:
        import lightgbm

        params = {**LGBM_PARAMS, "num_leaves": self.num_leaves}
        return {"model": self.name, "lightgbm_version": lightgbm.__version__, "rounds": self.rounds,
                "params": params, **self._common()}


Model = Regression | GradientBoosting


def cv_folds(n: int, seed: int = CV_SEED) -> np.ndarray:
    """The fold of each of n proxies. Up to LOO_MAX proxies each one is its own fold
    (leave-one-out). Above that there are CV_FOLDS folds, dealt from a seeded shuffle so that no
    fold is a run of consecutive proxies. The seed is fixed, so a rerun gets the same split."""
    if n <= LOO_MAX:
        return np.arange(n)
    folds = np.empty(n, dtype=np.int64)
    folds[np.random.default_rng(seed).permutation(n)] = np.arange(n) % CV_FOLDS
    return folds


def fit(weights: np.ndarray, metric: np.ndarray, lambdas: Sequence[float] = LAMBDAS,
        models: Sequence[str] = MODELS, folds: np.ndarray | None = None) -> Model:
    """Fit every one of ``models`` to ``metric`` given the weights and return the one with the
    lowest cross-validated RMSE. ``folds`` defaults to :func:`cv_folds`, and every candidate is
    scored on that same split.

    Each candidate's error is at its best setting on that split (ridge: strength; LightGBM: leaves
    and rounds), which makes it slightly optimistic. The ridge forms try more settings than
    LightGBM does, so this leans towards ridge, which is the safe side with few proxies. The winner
    is refitted on every proxy with its chosen setting."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    y = np.asarray(metric, dtype=np.float64)
    if len(y) < 3:
        raise ValueError(f"need at least 3 proxies to fit a regression, got {len(y)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("a proxy's metric is not finite (a diverged run?); fix or drop it before fitting")
    if len(w) != len(y):
        raise ValueError(f"got {len(w)} mixtures for {len(y)} metrics")
    unknown = [m for m in models if m not in MODELS]
    if unknown or not models:
        raise ValueError(f"unknown regression model(s) {unknown} (choose from {', '.join(MODELS)})")
    folds = cv_folds(len(y)) if folds is None else np.asarray(folds)
    n_folds = len(np.unique(folds))
    if len(folds) != len(y) or n_folds < 2:
        raise ValueError(f"need a fold per proxy and at least 2 folds, got {len(folds)} for {len(y)} proxies")
    fits: list[Model] = []
    for m in (m for m in MODELS if m in models):  # MODELS order, so ties go to the simpler model
        if m == "lightgbm":
            fits.append(_fit_lightgbm(w, y, folds))
        else:
            fits.append(_fit_ridge(w, y, lambdas, m.removeprefix("ridge(").removesuffix(")"), folds))
    best = fits[0]
    for f in fits[1:]:
        if f.cv_rmse < best.cv_rmse - 1e-12:
            best = f
    scheme = "leave-one-out" if n_folds == len(y) else f"{n_folds}-fold"
    best.cv = CrossValidation(scheme=scheme, rmse={f.name: f.cv_rmse for f in fits},
                              predictions=best.cv_predictions, spearman=spearman(best.cv_predictions, y))
    return best


def _fit_ridge(weights: np.ndarray, y: np.ndarray, lambdas: Sequence[float], form: str,
               folds: np.ndarray | None = None) -> Regression:
    x = features(weights, form)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = (x - mean) / scale
    folds = np.arange(len(y)) if folds is None else folds
    best = None
    for lam in lambdas:
        # Explicit refits per fold (n is a few dozen to a few hundred proxies, so this is cheap). The
        # closed-form leave-one-out breaks down exactly where it matters: with more features than
        # proxies a weak ridge interpolates the points (leverages of 1).
        pred = np.empty(len(y))
        for k in np.unique(folds):
            out = folds == k
            coef, y0 = _solve(xs[~out], y[~out], lam)
            pred[out] = xs[out] @ coef + y0
        rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
        if best is None or rmse < best[0] - 1e-12:
            best = (rmse, lam, pred)
    rmse, lam, pred = best
    coef, y0 = _solve(xs, y, lam)
    return Regression(n_fit=len(y), cv_rmse=rmse, cv_predictions=pred, cv=None, coef=coef, intercept=y0,
                      x_mean=mean, x_scale=scale, lam=lam, form=form)


def _solve(xs: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    xm, y0 = xs.mean(axis=0), float(y.mean())
    xc = xs - xm
    coef = np.linalg.solve(xc.T @ xc + lam * np.eye(xs.shape[1]), xc.T @ (y - y0))
    return coef, y0 - float(xm @ coef)


def _train_lightgbm(x: np.ndarray, y: np.ndarray, num_leaves: int, rounds: int) -> Any:
    try:
        import lightgbm
    except ImportError as exc:  # a pip install without the ml extra
        raise ImportError("the lightgbm regressor needs the lightgbm package (pip install 'curate[ml]'); "
                          "without it, fit with models=regmix.MODELS[:-1] (ridge only)") from exc

    params = {**LGBM_PARAMS, "num_leaves": num_leaves}
    return lightgbm.train(params, lightgbm.Dataset(x, y, params=params), num_boost_round=rounds)


def _fit_lightgbm(w: np.ndarray, y: np.ndarray, folds: np.ndarray) -> GradientBoosting:
    top = max(LGBM_ROUNDS)
    # One fit per fold and leaf count, for the most rounds. Fewer rounds are the first r trees of
    # that same fit, so the whole grid costs len(LGBM_LEAVES) fits per fold.
    preds = {(nl, r): np.empty(len(y)) for nl in LGBM_LEAVES for r in LGBM_ROUNDS}
    for nl in LGBM_LEAVES:
        for k in np.unique(folds):
            out = folds == k
            booster = _train_lightgbm(w[~out], y[~out], nl, top)
            for r in LGBM_ROUNDS:
                preds[nl, r][out] = booster.predict(w[out], num_iteration=r)
    best = None
    for (nl, r), pred in preds.items():  # fewest leaves and rounds first: ties keep the smaller model
        rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
        if best is None or rmse < best[0] - 1e-12:
            best = (rmse, nl, r, pred)
    rmse, nl, r, pred = best
    return GradientBoosting(n_fit=len(y), cv_rmse=rmse, cv_predictions=pred, cv=None,
                            booster=_train_lightgbm(w, y, nl, r), num_leaves=nl, rounds=r)


def spearman(a: Sequence[float], b: Sequence[float]) -> float:
    """Spearman rank correlation (average ranks for ties)."""
    ra, rb = _ranks(np.asarray(a, float)), _ranks(np.asarray(b, float))
    if ra.std() == 0 or rb.std() == 0:
        return float("nan")
    return float(np.corrcoef(ra, rb)[0, 1])


def _ranks(v: np.ndarray) -> np.ndarray:
    order = np.argsort(v, kind="stable")
    r = np.empty(len(v))
    r[order] = np.arange(len(v), dtype=float)
    for u in np.unique(v):  # ties share their mean rank
        m = v == u
        r[m] = r[m].mean()
    return r


@dataclass(frozen=True)
class Simplex:
    """Where mixtures may lie: around ``prior`` and under each source's cap (the largest weight its
    unique tokens allow at its epoch limit)."""

    prior: np.ndarray
    caps: np.ndarray
    concentration: float = 1.0
    names: tuple[str, ...] = field(default_factory=tuple)

    def sample(self, n: int, rng: np.random.Generator, max_tries: int = 200) -> np.ndarray:
        """``n`` Dirichlet(concentration × k × prior) mixtures within the caps (rejection sampling)."""
        alpha = np.maximum(self.concentration * len(self.prior) * self.prior, 1e-3)
        out: list[np.ndarray] = []
        if self.caps.sum() < 1.0:
            max_tries = 0  # no mixture at all fits: say so at once
        for _ in range(max_tries):
            w = rng.dirichlet(alpha, size=max(n, 256))
            out.extend(w[np.all(w <= self.caps + 1e-12, axis=1)])
            if len(out) >= n:
                return np.asarray(out[:n])
        tight = [f"{name} (≤ {cap:.3g})" for name, cap in zip(self.names or map(str, range(len(self.caps))), self.caps) if cap < 1]
        raise InfeasibleMixtureError(f"fewer than {n} of {max_tries * max(n, 256)} mixtures drawn around the prior respect the "
                                     f"epoch caps of {', '.join(tight)}: give those sources more tokens, a higher max_epochs, "
                                     "or a smaller prior weight")


def check_weights(weights: Sequence[float], names: Sequence[str] | int) -> np.ndarray:
    """The weights as an array, or a ValueError naming them: one per source, non-negative, sum 1."""
    names = [str(i) for i in range(names)] if isinstance(names, int) else list(names)
    w = np.asarray(weights, dtype=np.float64).ravel()
    if len(w) != len(names):
        raise ValueError(f"got {len(w)} mixture weights {list(weights)} for {len(names)} sources")
    if np.any(~np.isfinite(w)) or np.any(w < 0) or abs(w.sum() - 1.0) > 1e-6:
        shown = ", ".join(f"{n}={x:.4g}" for n, x in zip(names, w))
        raise ValueError(f"mixture weights must be non-negative and sum to 1 (got {shown}; sum {w.sum():.6g})")
    return w


def propose(model: Predictor | Callable[[np.ndarray], np.ndarray], simplex: Simplex, rng: np.random.Generator,
            candidates: int = 100_000, top: int = 100) -> tuple[np.ndarray, float]:
    """The mean of the ``top`` candidates with the lowest predicted metric (RegMix's averaging),
    and the prediction for that mean. A mean of feasible points is feasible (the caps are convex).
    ``model`` is anything with ``predict(weights)`` (any fit() result) or a plain function of the
    weights. Only its ranking of the candidates is used."""
    predict = model.predict if hasattr(model, "predict") else model
    w = simplex.sample(candidates, rng)
    pred = np.asarray(predict(w), dtype=np.float64).ravel()
    if len(pred) != len(w) or not np.all(np.isfinite(pred)):
        raise ValueError(f"the model gave {len(pred)} predictions for {len(w)} candidates, or non-finite ones")
    best = w[np.argsort(pred, kind="stable")[:top]].mean(axis=0)
    best = best / best.sum()
    return best, float(np.asarray(predict(best[None])).ravel()[0])

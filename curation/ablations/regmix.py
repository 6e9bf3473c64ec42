"""RegMix-style mixture search: sample mixtures, fit weights → metric, search the simplex.

Following RegMix (Liu et al., 2024): train many small proxies on mixtures drawn around a prior,
regress the target metric on the mixture weights, then propose the mixture the regression
predicts best, averaging the top predicted candidates for stability rather than trusting one
point. The regression here is ridge over the weights, their pairwise products (RegMix's linear
model with interactions) or their logs, whichever fits best out of sample (RegMix's other choice,
LightGBM, needs hundreds of proxies to beat these and is not part of the verified stack). With a
handful of proxies there can be more features than points, so the form and the ridge strength are
chosen by leave-one-out error, not fixed.

Everything here is pure numpy so it is unit-tested without training anything.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

LAMBDAS = tuple(10.0 ** k for k in range(-6, 3))


class InfeasibleMixtureError(ValueError):
    """No mixture near the prior respects the sources' epoch caps."""


#: Feature forms the fit chooses between (by leave-one-out error):
#: ``linear`` w_i; ``interactions`` w_i and w_i·w_j (RegMix's linear model with interactions);
#: ``log`` log(w_i + 0.01) — a domain's loss falls roughly linearly in the log of its share (the
#: "data mixing laws" shape), which a linear model in w cannot follow near w = 0.
FORMS = ("linear", "interactions", "log")
LOG_FLOOR = 0.01


def features(weights: np.ndarray, form: str = "interactions") -> np.ndarray:
    """The regression's inputs per row (the intercept is handled by centring)."""
    w = np.atleast_2d(np.asarray(weights, dtype=np.float64))
    if form == "linear":
        return w
    if form == "log":
        return np.log(w + LOG_FLOOR)
    if form != "interactions":
        raise ValueError(f"unknown regression form {form!r} (one of {', '.join(FORMS)})")
    i, j = np.triu_indices(w.shape[1], k=1)
    return np.hstack([w, w[:, i] * w[:, j]])


@dataclass
class Regression:
    coef: np.ndarray
    intercept: float
    x_mean: np.ndarray
    x_scale: np.ndarray
    lam: float
    loo_rmse: float
    n_fit: int
    form: str = "interactions"
    #: Each fitted proxy's prediction from a fit without it (leave-one-out), in input order.
    loo_predictions: np.ndarray | None = None

    def predict(self, weights: np.ndarray) -> np.ndarray:
        x = (features(weights, self.form) - self.x_mean) / self.x_scale
        return x @ self.coef + self.intercept

    def to_dict(self) -> dict:
        return {"model": f"ridge({self.form})", "lambda": self.lam, "loo_rmse": self.loo_rmse,
                "n_fit": self.n_fit, "intercept": self.intercept, "coef": self.coef.tolist()}


def fit(weights: np.ndarray, metric: np.ndarray, lambdas: Sequence[float] = LAMBDAS) -> Regression:
    """Ridge regression of ``metric`` on the weights in each of :data:`FORMS`; the form and
    strength with the lowest leave-one-out error win (with few proxies the interactions over-fit,
    with many they capture what a linear model cannot; the log form fits diminishing returns)."""
    y = np.asarray(metric, dtype=np.float64)
    if len(y) < 3:
        raise ValueError(f"need at least 3 proxies to fit a regression, got {len(y)}")
    if not np.all(np.isfinite(y)):
        raise ValueError("a proxy's metric is not finite (a diverged run?); fix or drop it before fitting")
    fits = [_fit_ridge(weights, y, lambdas, form) for form in FORMS]
    return min(fits, key=lambda r: r.loo_rmse)


def _fit_ridge(weights: np.ndarray, y: np.ndarray, lambdas: Sequence[float], form: str) -> Regression:
    x = features(weights, form)
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale == 0] = 1.0
    xs = (x - mean) / scale
    best = None
    for lam in lambdas:
        # Explicit leave-one-out refits (n is a few dozen proxies, so this is cheap): the closed form
        # breaks down exactly where it matters, when there are more features than proxies and a
        # weak ridge interpolates the points (leverages of 1).
        pred = np.empty(len(y))
        for i in range(len(y)):
            keep = np.arange(len(y)) != i
            coef, y0 = _solve(xs[keep], y[keep], lam)
            pred[i] = xs[i] @ coef + y0
        rmse = float(np.sqrt(np.mean((y - pred) ** 2)))
        if best is None or rmse < best[0] - 1e-12:
            best = (rmse, lam, pred)
    rmse, lam, pred = best
    coef, y0 = _solve(xs, y, lam)
    return Regression(coef=coef, intercept=y0, x_mean=mean, x_scale=scale, lam=lam, loo_rmse=rmse, n_fit=len(y),
                      form=form, loo_predictions=pred)


def _solve(xs: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    xm, y0 = xs.mean(axis=0), float(y.mean())
    xc = xs - xm
    coef = np.linalg.solve(xc.T @ xc + lam * np.eye(xs.shape[1]), xc.T @ (y - y0))
    return coef, y0 - float(xm @ coef)


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


def propose(model: Regression, simplex: Simplex, rng: np.random.Generator, candidates: int = 100_000,
            top: int = 100) -> tuple[np.ndarray, float]:
    """The mean of the ``top`` candidates with the lowest predicted metric (RegMix's averaging),
    and the prediction for that mean. A mean of feasible points is feasible (the caps are convex)."""
    w = simplex.sample(candidates, rng)
    pred = model.predict(w)
    best = w[np.argsort(pred)[:top]].mean(axis=0)
    best = best / best.sum()
    return best, float(model.predict(best)[0])

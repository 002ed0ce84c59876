"""Between-study variance (tau²) estimators for the random-effects model.

All functions work on a batch of meta-analyses at once: ``Y`` and ``V`` are (m, k) arrays,
``M`` a 0/1 mask of the studies present in each row (padding is masked out), ``k`` the
number of studies per row. Everything is O(k) per iteration: for the intercept-only model
the projection matrix P = W - w w'/sum(w) never needs to be formed, since
P y = w * (y - mu), y'P y = sum w (y - mu)², tr P = sum w - sum w²/sum w and
tr PP = sum w² - 2 sum w³/sum w + (sum w²)²/(sum w)².  metafor (rma.uni) builds k x k
matrices, which is why it cannot fit k = 100,000.

Definitions follow metafor (Viechtbauer 2005, 2010); the estimators are truncated at 0.
"""

from __future__ import annotations

import numpy as np

#: convergence tolerance for the iterative estimators (metafor uses 1e-5; ours is tighter,
#: so that the estimate is the exact maximiser / root and not metafor's stopping point)
TOL = 1e-10
MAX_ITER = 1000


def wmean(Y, w):
    return (w * Y).sum(axis=1) / w.sum(axis=1)


def q_gen(Y, V, M, tau2):
    """Generalised Q statistic sum w_i (y_i - mu(tau²))², w_i = 1/(v_i + tau²)."""
    w = M / (V + tau2[:, None])
    mu = wmean(Y, w)
    return (w * (Y - mu[:, None]) ** 2).sum(axis=1)


def solve_decreasing(f, target, active, lo=None):
    """Vectorised root of a decreasing function ``f(x) = target`` on x >= lo (default 0).

    Rows where ``f(lo) <= target`` get ``lo``. A bracket is found by doubling, then
    bisection runs to 1e-12 relative precision. Monotone, so bisection cannot fail.
    """
    m = target.shape[0]
    lo = np.zeros(m) if lo is None else lo.copy()
    out = lo.copy()
    need = active & (f(lo) > target)
    if not need.any():
        return out
    hi = np.where(need, np.maximum(lo, 0.0) + 1.0, lo)
    grow = need.copy()
    for _ in range(200):
        grow &= f(hi) > target
        if not grow.any():
            break
        hi = np.where(grow, hi * 4.0 + 1.0, hi)
    a, b = lo.copy(), hi.copy()
    for _ in range(200):
        mid = 0.5 * (a + b)
        above = f(mid) > target
        a = np.where(need & above, mid, a)
        b = np.where(need & ~above, mid, b)
        if np.all(~need | (b - a <= 1e-12 * np.maximum(1.0, b))):
            break
    return np.where(need, 0.5 * (a + b), out)


def fe(Y, V, M, k):
    return np.zeros(Y.shape[0]), np.ones(Y.shape[0], bool)


def dl(Y, V, M, k):
    """DerSimonian & Laird (1986), truncated at 0 (statsmodels' is not truncated)."""
    w = M / V
    sw, sw2 = w.sum(1), (w**2).sum(1)
    mu = wmean(Y, w)
    q = (w * (Y - mu[:, None]) ** 2).sum(1)
    tau2 = (q - (k - 1)) / (sw - sw2 / sw)
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def he(Y, V, M, k):
    """Hedges (1983) / Hedges & Olkin method-of-moments estimator with OLS residuals."""
    mu = (M * Y).sum(1) / k
    rss = (M * (Y - mu[:, None]) ** 2).sum(1)
    tau2 = rss / (k - 1) - (M * V).sum(1) / k
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def sj(Y, V, M, k):
    """Sidik & Jonkman (2005): one step from tau0² = sum (y - ybar)²/k."""
    mu = (M * Y).sum(1) / k
    tau0 = (M * (Y - mu[:, None]) ** 2).sum(1) / k
    tau2 = tau0 * q_gen(Y, V, M, tau0) / (k - 1)
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def pm(Y, V, M, k):
    """Paule & Mandel (1982): the root of Q_gen(tau²) = k - 1, 0 when Q_gen(0) < k - 1."""
    active = k > 1
    target = np.where(active, k - 1.0, 0.0)
    tau2 = solve_decreasing(lambda t: q_gen(Y, V, M, t), target, active)
    return tau2, np.ones_like(tau2, bool)


def eb(Y, V, M, k):
    """Empirical Bayes (Morris 1983; Berkey et al. 1995).

    metafor iterates tau² += (k/(k-1) y'Py - k) / sum w, whose fixed point solves
    Q_gen(tau²) = k - 1: the Paule-Mandel equation. We solve that equation exactly.
    """
    return pm(Y, V, M, k)


def _fisher(Y, V, M, k, tau2, reml: bool):
    """Fisher scoring for ML/REML with truncation at 0 (as metafor), vectorised over rows."""
    m = Y.shape[0]
    active = k > 1
    converged = ~active
    tau2 = np.where(active, tau2, 0.0)
    for _ in range(MAX_ITER):
        w = M / (V + tau2[:, None])
        sw = w.sum(1)
        sw2 = (w**2).sum(1)
        mu = (w * Y).sum(1) / sw
        ypp = (w**2 * (Y - mu[:, None]) ** 2).sum(1)
        if reml:
            sw3 = (w**3).sum(1)
            tr_p = sw - sw2 / sw
            tr_pp = sw2 - 2 * sw3 / sw + sw2**2 / sw**2
            adj = (ypp - tr_p) / tr_pp
        else:
            adj = (ypp - sw) / sw2
        new = np.maximum(tau2 + adj, 0.0)
        new = np.where(converged, tau2, new)
        done = np.abs(new - tau2) <= TOL * np.maximum(1.0, tau2)
        tau2 = new
        converged = converged | done
        if converged.all():
            break
    return tau2, converged | np.zeros(m, bool)


def ml(Y, V, M, k):
    """Maximum likelihood, Fisher scoring from the Hedges estimate (metafor's default start)."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=False)


def reml(Y, V, M, k):
    """Restricted maximum likelihood, Fisher scoring from the Hedges estimate."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=True)


ESTIMATORS = {"FE": fe, "DL": dl, "HE": he, "SJ": sj, "PM": pm, "EB": eb, "ML": ml, "REML": reml}

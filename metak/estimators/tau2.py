"""Between-study variance (tau²) estimators for the random-effects model.

All functions work on a batch of meta-analyses at once: ``Y`` and ``V`` are (m, k) arrays,
``M`` a 0/1 mask of the studies present in each row (padding is masked out), ``k`` the
number of studies per row. Everything is O(k) per iteration: for the intercept-only model
the projection matrix P = W - w w'/sum(w) never needs to be formed, since
P y = w * (y - mu), y'P y = sum w (y - mu)², tr P = sum w - sum w²/sum w and
tr PP = sum w² - 2 sum w³/sum w + (sum w²)²/(sum w)².  metafor (rma.uni) builds k x k
matrices, which is why it cannot fit k = 100,000.

Definitions follow metafor (Viechtbauer 2005, 2010); the estimators are truncated at 0.
The ML/REML iteration is in :mod:`metak.estimators.tau2_ml`, the row sums in
:mod:`metak.estimators.rowsums`.
"""

from __future__ import annotations

import numpy as np

from .rowsums import rsum, sub, wmean
from .tau2_ml import _fisher


def q_gen_slope(Y, V, M, tau2):
    """The generalised Q statistic Q_gen(tau²) = sum w (y - mu(tau²))², w = 1/(v + tau²), and its
    derivative -sum w² (y - mu)² (mu's own derivative term vanishes)."""
    w = M / (V + tau2[:, None])
    mu = wmean(Y, w)
    r2 = (Y - mu[:, None]) ** 2
    wr2 = w * r2
    return rsum(wr2), -rsum(w * wr2)


def solve_q(Y, V, M, target, active):
    """Vectorised root of Q_gen(tau²) = target on tau² >= 0 (Q_gen decreases in tau²).

    Rows where Q_gen(0) <= target get 0. Safeguarded Newton: a bracket [a, b] with
    Q_gen(a) > target >= Q_gen(b) is kept, and a Newton step leaving it is replaced by
    bisection, so the iteration cannot fail; it stops at 1e-12 relative change.
    """
    m = target.shape[0]
    out = np.zeros(m)
    q0, _ = q_gen_slope(Y, V, M, np.zeros(m))
    need = active & (q0 > target)
    if not need.any():
        return out
    idx = np.where(need)[0]
    y, v, mm, tg = sub(Y, idx), sub(V, idx), sub(M, idx), target[idx]
    a = np.zeros(idx.size)
    b = np.ones(idx.size)
    for _ in range(200):  # bracket: grow b until Q_gen(b) <= target
        qb, _ = q_gen_slope(y, v, mm, b)
        grow = qb > tg
        if not grow.any():
            break
        a = np.where(grow, b, a)
        b = np.where(grow, b * 4.0 + 1.0, b)
    x = a.copy()
    # a row that has converged is frozen, so that its answer never depends on which other
    # rows share the batch (metak batch: identical results whatever the partitioning)
    live = np.ones(idx.size, bool)
    for _ in range(200):
        f, df = q_gen_slope(y, v, mm, x)
        f = f - tg
        a = np.where(f > 0, x, a)
        b = np.where(f <= 0, x, b)
        with np.errstate(divide="ignore", invalid="ignore"):
            xn = x - f / df
        bad = ~np.isfinite(xn) | (xn <= a) | (xn >= b)
        xn = np.where(bad, 0.5 * (a + b), xn)
        done = np.abs(xn - x) <= 1e-12 * np.maximum(1.0, np.abs(x))
        x = np.where(live, xn, x)
        live &= ~done
        if not live.any():
            break
    out[idx] = x
    return out


def fe(Y, V, M, k):
    return np.zeros(Y.shape[0]), np.ones(Y.shape[0], bool)


def dl(Y, V, M, k):
    """DerSimonian & Laird (1986), truncated at 0 (statsmodels' is not truncated)."""
    w = M / V
    sw, sw2 = rsum(w), rsum(w * w)
    mu = rsum(w * Y) / sw
    q = rsum(w * (Y - mu[:, None]) ** 2)
    return dl_from_sums(q, k, sw, sw2)


def dl_from_sums(q, k, sw, sw2):
    """The DL estimate from Cochran's Q and the sums of the weights 1/v and of their squares
    (fit's common-effect part has them already)."""
    tau2 = (q - (k - 1)) / (sw - sw2 / sw)
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def he(Y, V, M, k):
    """Hedges (1983) / Hedges & Olkin method-of-moments estimator with OLS residuals."""
    mu = rsum(M * Y) / k
    rss = rsum(M * (Y - mu[:, None]) ** 2)
    tau2 = rss / (k - 1) - rsum(M * V) / k
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def sj(Y, V, M, k):
    """Sidik & Jonkman (2005): one step from tau0² = sum (y - ybar)²/k."""
    mu = rsum(M * Y) / k
    tau0 = rsum(M * (Y - mu[:, None]) ** 2) / k
    tau2 = tau0 * q_gen_slope(Y, V, M, tau0)[0] / (k - 1)
    return np.maximum(tau2, 0.0), np.ones_like(tau2, bool)


def pm(Y, V, M, k):
    """Paule & Mandel (1982): the root of Q_gen(tau²) = k - 1, 0 when Q_gen(0) < k - 1."""
    active = k > 1
    target = np.where(active, k - 1.0, 0.0)
    tau2 = solve_q(Y, V, M, target, active)
    return tau2, np.ones_like(tau2, bool)


def eb(Y, V, M, k):
    """Empirical Bayes (Morris 1983; Berkey et al. 1995).

    metafor iterates tau² += (k/(k-1) y'Py - k) / sum w, whose fixed point solves
    Q_gen(tau²) = k - 1: the Paule-Mandel equation. We solve that equation exactly.
    """
    return pm(Y, V, M, k)


def ml(Y, V, M, k):
    """Maximum likelihood, Newton/Fisher scoring from the Hedges estimate (metafor's default start)."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=False)


def reml(Y, V, M, k):
    """Restricted maximum likelihood, Newton/Fisher scoring from the Hedges estimate."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=True)


ESTIMATORS = {"FE": fe, "DL": dl, "HE": he, "SJ": sj, "PM": pm, "EB": eb, "ML": ml, "REML": reml}

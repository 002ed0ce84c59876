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
#: absolute floor of the convergence test: tau² of a risk difference is often ~1e-4, where a
#: test relative to max(1, tau²) would stop four digits early
TOL_ABS = 1e-15
MAX_ITER = 100


def wmean(Y, w):
    return (w * Y).sum(axis=1) / w.sum(axis=1)


def q_gen_slope(Y, V, M, tau2):
    """The generalised Q statistic Q_gen(tau²) = sum w (y - mu(tau²))², w = 1/(v + tau²), and its
    derivative -sum w² (y - mu)² (mu's own derivative term vanishes)."""
    w = M / (V + tau2[:, None])
    mu = wmean(Y, w)
    r2 = (Y - mu[:, None]) ** 2
    return (w * r2).sum(axis=1), -(w**2 * r2).sum(axis=1)


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
    rows = np.where(need)[0]
    y, v, mm, tg = Y[rows], V[rows], M[rows], target[rows]
    a = np.zeros(rows.size)
    b = np.ones(rows.size)
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
    live = np.ones(rows.size, bool)
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
    out[rows] = x
    return out


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


def _loglik(Y, V, M, tau2, reml: bool):
    """(Restricted) log-likelihood of the intercept-only random-effects model, up to a constant.

    Written for speed (it is most of the work of a batch REML fit): v + tau² once, in place
    operations, and the mask applied to the log only where there is padding."""
    d = V + tau2[:, None]
    w = np.divide(M, d)
    sw = w.sum(1)
    mu = np.einsum("ij,ij->i", w, Y) / sw
    r = Y - mu[:, None]
    np.multiply(r, r, out=r)
    np.log(d, out=d)
    if not _unpadded(M):
        np.multiply(d, M, out=d)
    ll = -0.5 * (d.sum(1) + np.einsum("ij,ij->i", w, r))
    if reml:
        ll -= 0.5 * np.log(sw)
    return ll


def _unpadded(M) -> bool:
    """Whether the mask is all ones (no padded cells), cheaply: its sum is its size."""
    return M.size == 0 or float(M.sum()) == M.size


def _fisher(Y, V, M, k, tau2, reml: bool, scan: bool = True):
    """Fisher scoring for ML/REML, truncated at 0, with step halving (as metafor) when a
    step lowers the likelihood — without it the iteration can cycle between 0 and a
    positive value. Vectorised over the rows that have not converged yet."""
    m = Y.shape[0]
    converged = ~(k > 1)
    tau2 = np.where(converged, 0.0, tau2)
    idx = np.where(~converged)[0]
    y, v, mm, t = Y[idx], V[idx], M[idx], tau2[idx]
    ll = _loglik(y, v, mm, t, reml)
    for _ in range(MAX_ITER):
        if idx.size == 0:
            break
        w = mm / (v + t[:, None])
        w2 = w * w
        sw = w.sum(1)
        sw2 = w2.sum(1)
        mu = np.einsum("ij,ij->i", w, y) / sw
        r = y - mu[:, None]
        ypp = np.einsum("ij,ij,ij->i", w2, r, r)
        if reml:
            sw3 = np.einsum("ij,ij->i", w2, w)
            step = (ypp - (sw - sw2 / sw)) / (sw2 - 2 * sw3 / sw + sw2**2 / sw**2)
        else:
            step = (ypp - sw) / sw2
        for _halving in range(60):
            new = np.maximum(t + step, 0.0)
            ll_new = _loglik(y, v, mm, new, reml)
            worse = ll_new < ll - 1e-12 * np.abs(ll)
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        done = np.abs(new - t) <= TOL * t + TOL_ABS
        tau2[idx] = new
        converged[idx[done]] = True
        keep = ~done
        idx, y, v, mm, t, ll = idx[keep], y[keep], v[keep], mm[keep], new[keep], ll_new[keep]
    if not converged.all():
        # Near the optimum, Fisher steps can cycle at a scale where the likelihood no longer
        # resolves them; the score itself does, so finish those rows by bisection on it.
        tau2, converged = _polish(Y, V, M, tau2, converged, reml)
    if scan:  # (a caller that scans for a second maximum itself passes scan=False)
        tau2 = _global_maximum(Y, V, M, k, tau2, reml)
    return tau2, converged | np.zeros(m, bool)


#: points of the likelihood scan that looks for a second maximum (see _global_maximum). The
#: scan is about half of a batch REML fit; on 200,000 meta-analyses with very unequal variances
#: 32 points missed the global maximum 7 times and 64 points twice (against 128), so 64 stay.
GRID = 64


def _global_maximum(Y, V, M, k, tau2, reml: bool):
    """The (restricted) likelihood of tau² can have two maxima, one at 0 and one inside
    (common with very unequal vi): Fisher scoring finds one of them, not always the higher.
    Scan the likelihood at 0 and on a geometric grid up to twice the largest squared
    deviation of the effects (beyond it the likelihood only falls), and where a grid point
    beats the Fisher solution, refine it by golden-section search between its neighbours;
    keep whichever is higher. O(k GRID) per row, all rows at once (tests/test_estimators_global.py)."""
    active = k > 1
    if not active.any():
        return tau2
    ll_hat = _loglik(Y, V, M, tau2, reml)
    mean = (M * Y).sum(1) / np.maximum(k, 1)
    top = 2 * (M * (Y - mean[:, None]) ** 2).max(1) + 1e-12
    steps = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, GRID)])
    grid = top[:, None] * steps[None, :]  # (m, GRID + 1)
    lls = np.stack([_loglik(Y, V, M, grid[:, j], reml) for j in range(grid.shape[1])], axis=1)
    j = lls.argmax(1)
    rows = np.arange(Y.shape[0])
    best = lls[rows, j]
    better = active & (best > ll_hat + 1e-10 * np.maximum(1.0, np.abs(ll_hat)))
    if not better.any():
        return tau2
    idx = np.where(better)[0]
    jj = j[idx]
    lo = grid[idx, np.maximum(jj - 1, 0)]
    hi = grid[idx, np.minimum(jj + 1, grid.shape[1] - 1)]
    y, v, mm = Y[idx], V[idx], M[idx]
    phi = (np.sqrt(5) - 1) / 2
    a, b = lo.copy(), hi.copy()
    c, d = b - phi * (b - a), a + phi * (b - a)
    fc, fd = _loglik(y, v, mm, c, reml), _loglik(y, v, mm, d, reml)
    live = np.ones(len(idx), bool)
    for _ in range(80):
        left = fc >= fd  # the maximum is in [a, d]
        b2 = np.where(left, d, b)
        a2 = np.where(left, a, c)
        c_new = b2 - phi * (b2 - a2)
        d_new = a2 + phi * (b2 - a2)
        c2, d2 = np.where(left, c_new, d), np.where(left, c, d_new)
        fc_new = _loglik(y, v, mm, c2, reml)
        fd_new = _loglik(y, v, mm, d2, reml)
        fc2, fd2 = np.where(left, fc_new, fd), np.where(left, fc, fd_new)
        # rows already narrow enough are frozen (results independent of the batch)
        a, b, c, d = (np.where(live, x2, x) for x2, x in ((a2, a), (b2, b), (c2, c), (d2, d)))
        fc, fd = np.where(live, fc2, fc), np.where(live, fd2, fd)
        # narrow enough for the score bisection below, which finishes the job to 1e-15
        live &= ~(b - a <= 1e-9 * np.maximum(1.0, b))
        if not live.any():
            break
    cand = 0.5 * (a + b)
    # golden section is good to ~sqrt(eps) (the likelihood is flat at its maximum): bisect the
    # score, which changes sign there, in a bracket around it
    width = np.maximum(b - a, 1e-6 * cand)
    lo, hi = np.maximum(0.0, cand - 10 * width), cand + 10 * width
    ok = (_score(y, v, mm, lo, reml) > 0) & (_score(y, v, mm, hi, reml) < 0)
    cand = np.where(ok, _bisect_score(y, v, mm, lo, hi, reml, 1e-15), cand)
    # the boundary itself may be the maximum (the grid's best point was 0 or its neighbour)
    cand = np.where(_loglik(y, v, mm, np.zeros(len(idx)), reml) >= _loglik(y, v, mm, cand, reml), 0.0, cand)
    out = tau2.copy()
    take = _loglik(y, v, mm, cand, reml) > ll_hat[idx]
    out[idx[take]] = cand[take]
    return out


def _score(Y, V, M, tau2, reml: bool):
    w = M / (V + tau2[:, None])
    sw = w.sum(1)
    mu = (w * Y).sum(1) / sw
    ypp = (w**2 * (Y - mu[:, None]) ** 2).sum(1)
    return ypp - (sw - (w**2).sum(1) / sw if reml else sw)


def _bisect_score(y, v, m, lo, hi, reml, rtol):
    """The root of the score in [lo, hi] (positive at lo, negative at hi), row by row."""
    live = ~(hi - lo <= rtol * np.maximum(1.0, hi))
    for _ in range(200):
        if not live.any():
            break
        mid = 0.5 * (lo + hi)
        pos = _score(y, v, m, mid, reml) > 0
        lo, hi = np.where(live & pos, mid, lo), np.where(live & ~pos, mid, hi)
        live &= ~(hi - lo <= rtol * np.maximum(1.0, hi))  # done rows are frozen
    return 0.5 * (lo + hi)


def _polish(Y, V, M, tau2, converged, reml):
    rows = np.where(~converged)[0]
    y, v, m = Y[rows], V[rows], M[rows]
    t = tau2[rows]
    at_zero = _score(y, v, m, np.zeros(len(rows)), reml) <= 0
    lo = np.where(at_zero, 0.0, np.maximum(t * 0.5 - 1e-8, 0.0))
    hi = t * 2 + 1e-8
    for _ in range(60):  # widen until the score changes sign (row by row: a row is widened only while it needs it)
        bad_lo = (~at_zero) & (_score(y, v, m, lo, reml) < 0)
        bad_hi = (~at_zero) & (_score(y, v, m, hi, reml) > 0)
        if not (bad_lo.any() or bad_hi.any()):
            break
        lo = np.where(bad_lo, lo / 4, lo)
        lo = np.where(bad_lo & (lo < 1e-12), 0.0, lo)
        hi = np.where(bad_hi, hi * 4, hi)
    out = tau2.copy()
    out[rows] = np.where(at_zero, 0.0, _bisect_score(y, v, m, lo, hi, reml, 1e-14))
    done = converged.copy()
    done[rows] = True
    return out, done


def ml(Y, V, M, k):
    """Maximum likelihood, Fisher scoring from the Hedges estimate (metafor's default start)."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=False)


def reml(Y, V, M, k):
    """Restricted maximum likelihood, Fisher scoring from the Hedges estimate."""
    start, _ = he(Y, V, M, k)
    return _fisher(Y, V, M, k, start, reml=True)


ESTIMATORS = {"FE": fe, "DL": dl, "HE": he, "SJ": sj, "PM": pm, "EB": eb, "ML": ml, "REML": reml}

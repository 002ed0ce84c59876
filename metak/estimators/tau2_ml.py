"""ML and REML estimates of tau² for a batch of intercept-only meta-analyses: the
(restricted) log-likelihood with its Newton / Fisher-scoring step (:func:`_stats`), the
iteration with step halving (:func:`_fisher`), and the scan of the score on a grid that finds
a second, higher maximum when the likelihood has one (:func:`_global_maximum`). The
estimators themselves (``ml``, ``reml``) are in :mod:`metak.estimators.tau2`."""

from __future__ import annotations

import numpy as np

from .rowsums import rsum, sub


#: convergence tolerance for the iterative estimators (metafor uses 1e-5; ours is tighter,
#: so that the estimate is the exact maximiser / root and not metafor's stopping point)
TOL = 1e-10
#: absolute floor of the convergence test: tau² of a risk difference is often ~1e-4, where a
#: test relative to max(1, tau²) would stop four digits early
TOL_ABS = 1e-15
MAX_ITER = 100


def _stats(Y, V, M, tau2, reml: bool, step: bool = False):
    """The (restricted) log-likelihood of the intercept-only random-effects model at tau², up to
    a constant, and with ``step`` also the step from there (Newton's where the likelihood is
    concave, Fisher scoring's elsewhere), from one set of weights."""
    d = V + tau2[:, None]
    w = M / d
    sw = rsum(w)
    mu = rsum(w * Y) / sw
    r = Y - mu[:, None]
    wr2 = w * r * r
    logd = np.log(d)
    if not _unpadded(M):
        logd *= M
    ll = -0.5 * (rsum(logd) + rsum(wr2))
    if reml:
        ll -= 0.5 * np.log(sw)
    if not step:
        return ll
    # the score is N/2 and the second derivative D/2; the expected information (Fisher) is I/2:
    #   REML  N = sum w²r² - sum w + sum w²/sum w,  I = sum w² - 2 sum w³/sum w + (sum w²/sum w)²
    #   ML    N = sum w²r² - sum w,                 I = sum w²
    #   D = I - 2 sum w³r² + 2 (sum w²r)²/sum w     (r = y - mu(tau²); checked by finite differences)
    # Newton's step -N/D where the likelihood is concave there (D < 0), else Fisher's N/I:
    # Fisher scoring alone converges only linearly, and a quarter of the rows of a batch then
    # need 30 to 100+ iterations to reach 1e-10; Newton's step converges quadratically.
    w2 = w * w
    sw2 = rsum(w2)
    w2r = w2 * r
    ypp = rsum(w2r * r)
    info = sw2
    n = ypp - sw
    if reml:
        sw3 = rsum(w2 * w)
        info = sw2 - 2 * sw3 / sw + sw2**2 / sw**2
        n = n + sw2 / sw
    b2 = rsum(w2r)
    d = info - 2 * rsum(w2r * w * r) + 2 * b2 * b2 / sw
    return ll, np.where(d < 0, -n / d, n / info)


def _loglik(Y, V, M, tau2, reml: bool):
    """(Restricted) log-likelihood of the intercept-only random-effects model, up to a constant."""
    return _stats(Y, V, M, tau2, reml)


def _unpadded(M) -> bool:
    """Whether the mask is all ones (no padded cells), cheaply: its sum is its size."""
    return M.size == 0 or float(M.sum()) == M.size


def _fisher(Y, V, M, k, tau2, reml: bool, scan: bool = True):
    """ML/REML by Newton steps where the likelihood is concave and Fisher scoring elsewhere
    (see _stats), truncated at 0, with step halving (as metafor) when a step lowers the
    likelihood — without it the iteration can cycle between 0 and a positive value. Stops at
    a relative change of 1e-10; vectorised over the rows that have not converged yet (a row
    that has is frozen); the likelihood at a new point and the step from it come from the
    same weights."""
    m = Y.shape[0]
    converged = ~(k > 1)
    tau2 = np.where(converged, 0.0, tau2)
    idx = np.where(~converged)[0]
    y, v, mm, t = sub(Y, idx), sub(V, idx), sub(M, idx), tau2[idx]
    ll, step = _stats(y, v, mm, t, reml, step=True)
    for _ in range(MAX_ITER):
        if idx.size == 0:
            break
        new = np.maximum(t + step, 0.0)
        ll_new, step_new = _stats(y, v, mm, new, reml, step=True)
        # a fall beyond rounding: relative to max(1, |ll|), as ll can be near 0 with terms of ~k
        worse = ll_new < ll - 1e-12 * np.maximum(1.0, np.abs(ll))
        if worse.any():  # halve the step of those rows only, until the likelihood no longer falls
            h = np.where(worse)[0]
            yh, vh, mh, th, sh, lh = sub(y, h), sub(v, h), sub(mm, h), t[h], step[h], ll[h]
            nh, lnh, snh = new[h], ll_new[h], step_new[h]
            live = np.ones(h.size, bool)
            for _halving in range(59):
                sh = np.where(live, sh / 2, sh)
                cand = np.maximum(th + sh, 0.0)
                lc, sc = _stats(yh, vh, mh, cand, reml, step=True)
                nh, lnh, snh = np.where(live, cand, nh), np.where(live, lc, lnh), np.where(live, sc, snh)
                live &= lnh < lh - 1e-12 * np.maximum(1.0, np.abs(lh))
                if not live.any():
                    break
            new[h], ll_new[h], step_new[h] = nh, lnh, snh
        done = np.abs(new - t) <= TOL * t + TOL_ABS
        tau2[idx] = new
        converged[idx[done]] = True
        keep = np.where(~done)[0]
        if keep.size < idx.size:
            idx, y, v, mm = idx[keep], sub(y, keep), sub(v, keep), sub(mm, keep)
            t, ll, step = new[keep], ll_new[keep], step_new[keep]
        else:
            t, ll, step = new, ll_new, step_new
    if not converged.all():
        # Near the optimum, Fisher steps can cycle at a scale where the likelihood no longer
        # resolves them; the score itself does, so finish those rows by bisection on it.
        tau2, converged = _polish(Y, V, M, tau2, converged, reml)
    if scan:  # (a caller that scans for a second maximum itself passes scan=False)
        tau2 = _global_maximum(Y, V, M, k, tau2, reml)
    return tau2, converged | np.zeros(m, bool)


#: points of the scan that looks for a second maximum (see _global_maximum)
GRID = 64
#: cells (rows x studies x grid points) per block of the scan: its temporaries stay in cache
#: for a batch of short meta-analyses, and a single meta-analysis of k = 100,000 is cut into
#: blocks of grid points instead of a (1, k, 65) array per temporary
SCAN_CELLS = 1 << 17


def _scan(Y, V, M, grid, reml: bool):
    """The score (twice the derivative of the (restricted) log-likelihood) at every tau² of
    ``grid`` (m, G), all rows at once.

    Each block of rows (and, for long rows, of grid points) forms its (rows, k, G) weights
    once, and the sums over studies run along the contiguous grid axis. The residuals are
    formed at each grid point's own mu, so that a study with a tiny variance (a huge weight)
    does not cancel the others away: the sign of the score is what the scan needs (every
    candidate is then solved and compared with _loglik)."""
    m, g = grid.shape
    out = np.empty((m, g))
    padded = not _unpadded(M)
    k = max(Y.shape[1], 1)
    rows = max(1, SCAN_CELLS // (k * g))
    cols = g if rows > 1 else max(1, min(g, SCAN_CELLS // k))
    for s in range(0, m, rows):
        e = min(s + rows, m)
        for c0 in range(0, g, cols):
            c1 = min(c0 + cols, g)
            w = V[s:e, :, None] + grid[s:e, None, c0:c1]          # (b, k, G)
            np.divide(1.0, w, out=w)
            if padded:
                w *= M[s:e, :, None]
            y = Y[s:e, :, None]
            sw = w.sum(1)
            mu = (w * y).sum(1) / sw
            r = y - mu[:, None, :]
            w *= w
            sw2 = w.sum(1)
            w *= r
            w *= r
            score = w.sum(1) - sw
            if reml:
                score += sw2 / sw
            out[s:e, c0:c1] = score
    return out


def other_maxima(sc, grid, tau2):
    """Where a scanned score (rows x grid points) shows a local maximum other than the one at
    tau2: ``peak[i, j]`` for each grid interval j of row i where the score goes from positive
    to negative without tau2[i] in it, ``zero[i]`` where the score at 0 is not positive (a
    maximum at the boundary) though tau2[i] is not 0. ``grid`` is (rows or 1) x grid points."""
    peak = (sc[:, :-1] > 0) & (sc[:, 1:] <= 0)
    peak &= ~((grid[:, :-1] <= tau2[:, None]) & (tau2[:, None] <= grid[:, 1:]))
    return peak, (sc[:, 0] <= 0) & (tau2 > 0)


def _global_maximum(Y, V, M, k, tau2, reml: bool):
    """The (restricted) likelihood of tau² can have two maxima, one at 0 and one inside
    (common with very unequal vi): Fisher scoring finds one of them, not always the higher.

    The score is scanned at 0 and on a geometric grid up to twice the largest squared
    deviation of the effects (beyond it the likelihood only falls). Every other local
    maximum it shows — the boundary where the score at 0 is negative, and each grid interval
    where the score goes from positive to negative — is solved by bisection on the score, and
    the highest likelihood wins (by more than rounding, else the iteration's answer stays).
    A sign change is seen even where the peak is narrower than the grid spacing, which a scan
    of the likelihood's values misses. O(k GRID) per row, all rows at once
    (tests/test_estimators_global.py)."""
    active = k > 1
    if not active.any():
        return tau2
    mean = rsum(M * Y) / np.maximum(k, 1)
    top = 2 * (M * (Y - mean[:, None]) ** 2).max(1) + 1e-12
    steps = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, GRID)])
    grid = top[:, None] * steps[None, :]  # (m, GRID + 1)
    peak, zero = other_maxima(_scan(Y, V, M, grid, reml), grid, tau2)
    peak &= active[:, None]
    zero &= active
    r_i, j_i = np.nonzero(peak)
    r_z = np.flatnonzero(zero)
    if r_i.size == 0 and r_z.size == 0:
        return tau2
    rows_c = np.concatenate([r_i, r_z])
    y, v, mm = sub(Y, rows_c), sub(V, rows_c), sub(M, rows_c)
    cand = np.zeros(rows_c.size)
    if r_i.size:
        lo, hi = grid[r_i, j_i], grid[r_i, j_i + 1]
        n = r_i.size
        cand[:n] = _bisect_score(sub(y, np.arange(n)), sub(v, np.arange(n)), sub(mm, np.arange(n)), lo, hi, reml, 1e-15)
    ll_c = _loglik(y, v, mm, cand, reml)
    # the best candidate of each row (rows_c may repeat a row)
    order = np.lexsort((-ll_c, rows_c))
    first = np.ones(order.size, bool)
    first[1:] = rows_c[order][1:] != rows_c[order][:-1]
    best = order[first]
    rr = rows_c[best]
    ll_hat = _loglik(sub(Y, rr), sub(V, rr), sub(M, rr), tau2[rr], reml)
    take = ll_c[best] > ll_hat + 1e-10 * np.maximum(1.0, np.abs(ll_hat))
    out = tau2.copy()
    out[rr[take]] = cand[best][take]
    return out


def _score(Y, V, M, tau2, reml: bool):
    w = M / (V + tau2[:, None])
    sw = rsum(w)
    mu = rsum(w * Y) / sw
    w2 = w * w
    ypp = rsum(w2 * (Y - mu[:, None]) ** 2)
    return ypp - (sw - rsum(w2) / sw if reml else sw)


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
    idx = np.where(~converged)[0]
    y, v, m = sub(Y, idx), sub(V, idx), sub(M, idx)
    t = tau2[idx]
    at_zero = _score(y, v, m, np.zeros(len(idx)), reml) <= 0
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
    out[idx] = np.where(at_zero, 0.0, _bisect_score(y, v, m, lo, hi, reml, 1e-14))
    done = converged.copy()
    done[idx] = True
    return out, done

"""tau² of one meta-analysis (metak.fit): the estimators of :mod:`metak.estimators.tau2` on
1-D arrays with Python-float scalars, bit for bit (split from tau2.py by meaning)."""

from __future__ import annotations

import math

import numpy as np

from .tau2 import ESTIMATORS  # the batch engine's estimators (tau2_one's fallback)
from .tau2_ml import GRID, MAX_ITER, TOL, TOL_ABS  # the batch engine's settings, shared bit for bit

# ---------------------------------------------------------------------------------------------
# One meta-analysis (metak.fit): the same algorithms on 1-D arrays with Python-float scalars.
#
# The batch functions above pay for their generality on a single row: every row sum is a
# cumsum over a (1, k) array, every scalar a masked 1-element array, every convergence test a
# np.where/any, so a REML fit with its Q-profile CI at k = 10 made ~250 numpy calls of ~2 us
# each (benchmarks/bench_small_fit.py). Here each sum is one np.add.accumulate (the batch's
# left-to-right order, ~0.4 us) and each scalar a Python float. Every expression is the batch
# one, operation for operation (x*x for numpy's **2, np.log for the log-likelihood's logs), and
# the iterations are the batch ones step for step (start, step, halving, bracket, stopping
# rules), so a fit gives the batch engine's numbers bit for bit (metak batch = metak.fit,
# tests/test_api_hardening.py; tests/test_small_fit_speed_parity.py). The rare cases this
# path does not cover (another likelihood maximum, no convergence) go to the batch functions.
# ---------------------------------------------------------------------------------------------

#: the scan grid of _global_maximum relative to its top (built once, not per fit)
_STEPS = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, GRID)])
_acc = np.add.accumulate


def rsum1(a) -> float:
    """rsum of one row: the sum added left to right (np.add.accumulate's last partial sum)."""
    return float(_acc(a)[-1])


def q_gen_one(y, v, t: float):
    """q_gen_slope for one meta-analysis."""
    w = 1.0 / (v + t)
    mu = rsum1(w * y) / rsum1(w)
    r = y - mu
    wr2 = w * (r * r)
    return rsum1(wr2), -rsum1(w * wr2)


def solve_q_one(y, v, target: float, q0: float) -> float:
    """solve_q for one meta-analysis; ``q0`` is Q_gen(0) (Cochran's Q)."""
    if not q0 > target:
        return 0.0
    a, b = 0.0, 1.0
    for _ in range(200):  # bracket: grow b until Q_gen(b) <= target
        qb, _ = q_gen_one(y, v, b)
        if not qb > target:
            break
        a, b = b, b * 4.0 + 1.0
    x = a
    for _ in range(200):
        f, df = q_gen_one(y, v, x)
        f = f - target
        if f > 0:
            a = x
        else:
            b = x
        xn = x - f / df if df != 0 else math.nan  # (the batch's inf or nan: bisection, below)
        if not (math.isfinite(xn) and a < xn < b):
            xn = 0.5 * (a + b)
        done = abs(xn - x) <= 1e-12 * max(1.0, abs(x))
        x = xn
        if done:
            break
    return x


def _stats_one(y, v, t: float, reml: bool):
    """_stats(..., step=True) for one meta-analysis: the log-likelihood and the step."""
    d = v + t
    w = 1.0 / d
    sw = rsum1(w)
    mu = rsum1(w * y) / sw
    r = y - mu
    wr2 = w * r * r
    ll = -0.5 * (rsum1(np.log(d)) + rsum1(wr2))
    if reml:
        ll -= 0.5 * float(np.log(sw))
    w2 = w * w
    sw2 = rsum1(w2)
    w2r = w2 * r
    ypp = rsum1(w2r * r)
    info = sw2
    n = ypp - sw
    if reml:
        sw3 = rsum1(w2 * w)
        info = sw2 - 2 * sw3 / sw + (sw2 * sw2) / (sw * sw)
        n = n + sw2 / sw
    b2 = rsum1(w2r)
    dd = info - 2 * rsum1(w2r * w * r) + 2 * b2 * b2 / sw
    return ll, (-n / dd if dd < 0 else n / info)


def _scan_one(y, v, grid, reml: bool):
    """_scan for one meta-analysis, with its order of operations (sums over the studies axis of
    a (k, G) array: left to right, as the batch's (rows, k, G) sums)."""
    w = v[:, None] + grid[None, :]
    np.divide(1.0, w, out=w)
    yy = y[:, None]
    sw = w.sum(0)
    mu = (w * yy).sum(0) / sw
    r = yy - mu[None, :]
    w *= w
    sw2 = w.sum(0)
    w *= r
    w *= r
    score = w.sum(0) - sw
    if reml:
        score += sw2 / sw
    return score


def _he_one(y, v) -> float:
    k = y.size
    mu = rsum1(y) / k
    r = y - mu
    return max(rsum1(r * r) / (k - 1) - rsum1(v) / k, 0.0)


def _fisher_one(y, v, reml: bool):
    """_fisher for one meta-analysis, or None where the batch form must finish the job (no
    convergence within MAX_ITER, or the scan shows another likelihood maximum)."""
    t = _he_one(y, v)
    ll, step = _stats_one(y, v, t, reml)
    for _ in range(MAX_ITER):
        new = max(t + step, 0.0)
        ll_new, step_new = _stats_one(y, v, new, reml)
        floor = ll - 1e-12 * max(1.0, abs(ll))
        if ll_new < floor:  # halve the step until the likelihood no longer falls
            sh = step
            for _halving in range(59):
                sh = sh / 2
                new = max(t + sh, 0.0)
                ll_new, step_new = _stats_one(y, v, new, reml)
                if not ll_new < floor:
                    break
        done = abs(new - t) <= TOL * t + TOL_ABS
        t, ll, step = new, ll_new, step_new
        if done:
            break
    else:
        return None
    if not math.isfinite(t):
        return None
    # _global_maximum's scan; any other maximum it shows goes to the batch search
    mean = rsum1(y) / y.size
    dev = y - mean
    grid = (2 * float((dev * dev).max()) + 1e-12) * _STEPS
    sc = _scan_one(y, v, grid, reml)
    if sc[0] <= 0 and t > 0:
        return None
    peak = (sc[:-1] > 0) & (sc[1:] <= 0) & ~((grid[:-1] <= t) & (t <= grid[1:]))
    if peak.any():
        return None
    return t


def tau2_one(y, v, method: str) -> tuple[float, bool]:
    """tau² of one meta-analysis (1-D float ``y``, ``v``, k >= 2): ESTIMATORS[method] on it as a
    one-row batch, bit for bit."""
    k = y.size
    try:
        if method == "FE":
            return 0.0, True
        if method in ("DL", "PM", "EB"):
            w = 1.0 / v
            sw = rsum1(w)
            mu = rsum1(w * y) / sw
            r = y - mu
            q = rsum1(w * (r * r))
            if method == "DL":
                return max((q - (k - 1)) / (sw - rsum1(w * w) / sw), 0.0), True
            return solve_q_one(y, v, k - 1.0, q), True
        if method == "HE":
            return _he_one(y, v), True
        if method == "SJ":
            mu = rsum1(y) / k
            r = y - mu
            tau0 = rsum1(r * r) / k
            return max(tau0 * q_gen_one(y, v, tau0)[0] / (k - 1), 0.0), True
        if method in ("ML", "REML"):
            t = _fisher_one(y, v, method == "REML")
            if t is not None:
                return t, True
    except (ArithmeticError, ValueError):  # Python floats overflow where numpy's give inf: the batch form
        pass
    tau2, conv = ESTIMATORS[method](y[None, :], v[None, :], np.ones((1, k)), np.array([float(k)]))
    return float(tau2[0]), bool(conv[0])

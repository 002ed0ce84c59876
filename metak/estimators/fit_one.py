"""fit() of one small meta-analysis without the batch machinery (see :func:`_fit_one`).

Split from :mod:`metak.estimators.fit` (which calls it first, and falls back to the batch
engine when it returns None); its numbers are the batch engine's bit for bit
(tests/test_small_fit_speed_parity.py)."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

from .distributions import _chi2_series, _norm_ppf
from .result import CommonEffect, MetaResult
from .tau2_one import rsum1, solve_q_one, tau2_one


def _fit_one(y, v, method, test, level) -> MetaResult | None:
    """fit() of k >= 2 studies without the batch machinery: _fit_arrays on one row, expression
    for expression (sums left to right by tau2_one.rsum1, x*x for numpy's **2), on 1-D arrays with
    Python-float scalars and scalar calls of scipy.special's ufuncs (~1 us each; scipy.stats'
    norm/t/chi2 objects cost ~50-100 us a call), so the numbers are the batch engine's bit for bit.

    The batch engine spent ~0.6-0.8 ms (1.5 ms on a busier machine) on one k = 10 REML fit with
    its CIs, nearly all of it the per-call overhead of ~250 numpy calls on (1, k) arrays: the
    two Q-profile root searches half of it, the REML iteration and its scan for a second
    maximum a third (cProfile; benchmarks/bench_small_fit.py). None (the caller then runs the
    batch engine) when tau² needs the batch's exact search or did not converge, or when a
    number comes out non-finite or overflows (extreme inputs: their handling and warnings stay
    the batch engine's)."""
    try:
        return _fit_one_numbers(y, v, method, test, level)
    except (ArithmeticError, ValueError):  # a Python float overflowed where numpy's gives inf
        return None


def _fit_one_numbers(y, v, method, test, level) -> MetaResult | None:
    k = y.size
    df = k - 1
    alpha = 1 - level
    w0 = 1.0 / v
    sw0 = rsum1(w0)
    fe_mu = rsum1(w0 * y) / sw0
    fe_se = 1 / math.sqrt(sw0)
    r0 = y - fe_mu
    q = rsum1(w0 * (r0 * r0))
    fe = method == "FE"
    sw02 = None if fe else rsum1(w0 * w0)
    if method == "DL":  # tau2.dl_from_sums, from the same sums
        tau2, converged = max((q - df) / (sw0 - sw02 / sw0), 0.0), True
    else:
        tau2, converged = tau2_one(y, v, method)
    if not converged:
        return None
    if fe:
        w, sw, mu = w0, sw0, fe_mu
    else:
        w = 1.0 / (v + tau2)
        sw = rsum1(w)
        mu = rsum1(w * y) / sw
    se = 1 / math.sqrt(sw)
    if test == "hksj":
        r = y - mu
        s2 = rsum1(w * (r * r)) / df
        se = math.sqrt(s2 / sw)
        crit = float(special.stdtrit(df, 1 - alpha / 2))
        stat = mu / se
        p = float(2 * special.stdtr(df, -abs(stat)))
    else:
        crit = float(_norm_ppf(1 - alpha / 2))
        stat = mu / se
        p = float(2 * special.ndtr(-abs(stat)))
    if 1 <= df <= 100 and 0 <= q <= 1000:  # chi2_sf, which takes the series there
        q_p = float(_chi2_series(df, np.array([q]))[0])
    else:
        q_p = float(special.chdtrc(df, q))
    z = float(_norm_ppf(0.5 + level / 2))
    ce = CommonEffect(fe_mu, fe_se, fe_mu - z * fe_se, fe_mu + z * fe_se)
    if fe:
        i2 = max(0.0, 100 * (q - df) / q) if q > 0 else 0.0
        h2 = q / df
        het = {}
        numbers = (mu, se, stat, p, i2, h2, q, q_p)
    else:
        s2 = df * sw0 / (sw0 * sw0 - sw02)
        i2 = 100 * tau2 / (tau2 + s2)
        h2 = (tau2 + s2) / s2
        # q_profile: Q_gen(tau²) at the chi² quantiles; Q_gen(0) is Cochran's Q
        lo = solve_q_one(y, v, float(special.chdtri(df, alpha / 2)), q)
        hi = solve_q_one(y, v, float(special.chdtri(df, 1 - alpha / 2)), q)
        pi_half = crit * math.sqrt(tau2 + se * se)
        het = dict(pi_lower=mu - pi_half, pi_upper=mu + pi_half, tau2=tau2, tau2_ci=(lo, hi),
                   tau=math.sqrt(tau2), tau_ci=(math.sqrt(lo), math.sqrt(hi)),
                   i2_ci=(100 * lo / (lo + s2), 100 * hi / (hi + s2)), h2_ci=((lo + s2) / s2, (hi + s2) / s2))
        numbers = (mu, se, stat, p, i2, h2, q, q_p, tau2, lo, hi, pi_half, s2)
    if not all(math.isfinite(x) for x in numbers):
        return None
    wt = 1 / (v + (0.0 if fe else tau2))
    return MetaResult(
        method=method, test=test, level=level, k=k, estimate=mu, se=se, ci_lower=mu - crit * se,
        ci_upper=mu + crit * se, statistic=stat, df=df if test == "hksj" else None, p_value=p,
        i2=i2, h2=h2, q=q, q_df=df, q_p=q_p, common_effect=ce,
        weights=tuple(np.clip(100 * wt / wt.sum(), 0.0, 100.0)), converged=True, **het)

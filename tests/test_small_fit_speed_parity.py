"""The fast single-fit path of metak.fit (estimators/fit_one._fit_one, tau2_one.tau2_one) gives the batch
engine's numbers bit for bit, and its Q-profile roots are the roots of the Q-profile equation.

No timing here: speed is measured by benchmarks/bench_small_fit.py."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import optimize, stats

import metak
from metak.estimators.fit import _fit_arrays
from metak.estimators.result import MetaResult

METHODS = ("FE", "DL", "HE", "SJ", "PM", "EB", "ML", "REML")
FIELDS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "p_value", "pi_lower", "pi_upper", "tau2",
          "tau2_ci", "tau", "tau_ci", "i2", "i2_ci", "h2", "h2_ci", "q", "q_p")


def batch_fit(y, v, method, test, level) -> MetaResult:
    """The previous route of fit(): the batch engine on one row."""
    with np.errstate(all="ignore"):
        res = _fit_arrays(y[None, :], v[None, :], np.ones((1, y.size)), method, test, level)
    tau2 = 0.0 if method == "FE" else res.tau2[0]
    w = 1 / (v + tau2)
    return res.result(0, weights=np.clip(100 * w / w.sum(), 0.0, 100.0))


def close(a, b):
    """Equal bit for bit (the fast path repeats the batch engine's operations in its order;
    metak batch must equal metak.fit exactly), NaN equal to NaN."""
    if a is None or b is None:
        return a is None and b is None
    if isinstance(a, tuple):
        return len(a) == len(b) and all(close(x, y) for x, y in zip(a, b))
    return a == b or (math.isnan(a) and math.isnan(b))


def cases(n=60, seed=24):
    rng = np.random.default_rng(seed)
    for i in range(n):
        k = int(rng.choice([2, 3, 5, 10, 10, 20, 60]))
        v = rng.uniform(0.005, 0.5, k) * (10.0 ** rng.uniform(-2, 1) if i % 7 == 0 else 1.0)
        tau2 = rng.choice([0.0, 0.02, 0.2, 1.0])
        y = rng.normal(rng.normal(0, 1), np.sqrt(v + tau2))
        yield y, v


@pytest.mark.parametrize("method", METHODS)
@pytest.mark.parametrize("test", ("z", "hksj"))
def test_the_fast_path_gives_the_batch_engines_numbers(method, test):
    for y, v in cases():
        fast = metak.fit(y, v, method=method, test=test, level=0.9)
        slow = batch_fit(y, v, method, test, 0.9)
        for key in FIELDS:
            assert close(getattr(fast, key), getattr(slow, key)), (method, test, key, getattr(fast, key),
                                                                    getattr(slow, key))
        assert close(tuple(fast.weights), tuple(slow.weights))
        assert close(fast.common_effect.ci_lower, slow.common_effect.ci_lower)
        assert (fast.k, fast.df, fast.q_df, fast.converged, fast.warnings) == \
               (slow.k, slow.df, slow.q_df, slow.converged, slow.warnings)


def q_gen(t, y, v):
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    return np.sum(w * (y - mu) ** 2)


@pytest.mark.parametrize("method", ("REML", "DL", "PM"))
def test_the_q_profile_bounds_are_the_roots_found_by_brentq(method):
    """An independent reference: scipy's brentq on Q_gen(tau²) = chi² quantile (scipy.stats)."""
    for y, v in cases(40, seed=5):
        k = y.size
        res = metak.fit(y, v, method=method)
        for bound, p in zip(res.tau2_ci, (0.975, 0.025)):
            target = stats.chi2.ppf(p, k - 1)
            if q_gen(0.0, y, v) <= target:
                assert bound == 0.0
                continue
            hi = 1.0
            while q_gen(hi, y, v) > target:
                hi = 4 * hi + 1
            ref = optimize.brentq(lambda t: q_gen(t, y, v) - target, 0.0, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
            assert bound == pytest.approx(ref, rel=1e-10, abs=1e-13)


def test_the_statistics_match_scipy_stats():
    y = np.array([0.1, 0.5, 0.3, 0.9, -0.2, 0.4])
    v = np.array([0.01, 0.02, 0.03, 0.05, 0.04, 0.02])
    for test in ("z", "hksj"):
        r = metak.fit(y, v, method="REML", test=test, level=0.9)
        crit = stats.t.ppf(0.95, 5) if test == "hksj" else stats.norm.ppf(0.95)
        assert r.ci_upper - r.estimate == pytest.approx(crit * r.se, rel=1e-13)
        dist = stats.t(5) if test == "hksj" else stats.norm
        assert r.p_value == pytest.approx(2 * dist.sf(abs(r.statistic)), rel=1e-12)
        assert r.q_p == pytest.approx(stats.chi2.sf(r.q, 5), rel=1e-12)
        assert r.pi_upper - r.estimate == pytest.approx(crit * math.sqrt(r.tau2 + r.se**2), rel=1e-13)


def test_extreme_inputs_still_go_through_the_batch_engine():
    """Non-finite numbers come back with the batch engine's reason (fit's note), as before."""
    r = metak.fit([0.1, 0.2, 0.3], [1e-320, 0.1, 0.1], method="REML")
    s = batch_fit(np.array([0.1, 0.2, 0.3]), np.array([1e-320, 0.1, 0.1]), "REML", "z", 0.95)
    assert close(r.estimate, s.estimate) and any("double precision" in w for w in r.warnings)

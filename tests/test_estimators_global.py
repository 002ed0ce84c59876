"""REML and ML return the global maximum of the likelihood of tau², also when it has two.

The cases (tests/reference/bimodal_cases.json, made by make_bimodal_cases.py from a seeded
simulation) are meta-analyses where Fisher scoring alone returned the lower of two maxima.
The expected value is found here independently: the likelihood written out from its
definition, scanned on a fine grid and polished with SciPy's bounded scalar optimiser.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize

import metak

CASES = json.loads((Path(__file__).parent / "reference" / "bimodal_cases.json").read_text())["cases"]


def loglik(t, y, v, reml):
    """The (restricted) log-likelihood of the random-effects model, up to a constant."""
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    ll = -0.5 * (np.sum(np.log(v + t)) + np.sum(w * (y - mu) ** 2))
    return ll - 0.5 * np.log(np.sum(w)) if reml else ll


def global_max(y, v, reml):
    grid = np.concatenate([[0.0], np.geomspace(1e-7, 50 * np.var(y) + 1, 4000)])
    lls = np.array([loglik(t, y, v, reml) for t in grid])
    j = int(lls.argmax())
    if j == 0:
        return 0.0, lls[0]
    r = optimize.minimize_scalar(lambda t: -loglik(t, y, v, reml), bounds=(grid[j - 1], grid[min(j + 1, 4000)]),
                                 method="bounded", options={"xatol": 1e-12})
    return (r.x, -r.fun) if -r.fun >= lls[0] else (0.0, lls[0])


@pytest.mark.parametrize("case", CASES, ids=[f"{c['method']}-row{c['row']}" for c in CASES])
def test_fit_returns_the_global_maximum(case):
    y, v = np.array(case["yi"]), np.array(case["vi"])
    reml = case["method"] == "REML"
    t_ref, ll_ref = global_max(y, v, reml)
    res = metak.fit(y, v, method=case["method"])
    assert loglik(res.tau2, y, v, reml) >= ll_ref - 1e-9, (res.tau2, t_ref)
    assert res.tau2 == pytest.approx(t_ref, abs=1e-6)
    batch = metak.fit_batch(np.array([y, y]), np.array([v, v]), method=case["method"])
    assert batch.tau2[0] == pytest.approx(res.tau2, abs=1e-12)


def test_the_cases_are_bimodal():
    """Each pinned case has a second maximum: a local one the Fisher iteration can stop at."""
    for case in CASES:
        y, v = np.array(case["yi"]), np.array(case["vi"])
        reml = case["method"] == "REML"
        grid = np.concatenate([[0.0], np.geomspace(1e-7, 50 * np.var(y) + 1, 4000)])
        lls = np.array([loglik(t, y, v, reml) for t in grid])
        # local maxima of the scan (the boundary counts when the likelihood falls from it)
        peaks = int(lls[0] > lls[1]) + int(np.sum((lls[1:-1] > lls[:-2]) & (lls[1:-1] > lls[2:])))
        assert peaks >= 2, case["row"]


@pytest.mark.parametrize("case", CASES, ids=[f"{c['method']}-row{c['row']}" for c in CASES])
def test_meta_regression_engine_finds_the_same_global_maximum(case):
    """X = 1 through the meta-regression engine: the same global maximum as fit()."""
    y, v = np.array(case["yi"]), np.array(case["vi"])
    f = metak.fit(y, v, method=case["method"])
    r = metak.fit_regression(y, v, np.ones((len(y), 1)), method=case["method"])
    assert (r.tau2 or 0.0) == pytest.approx(f.tau2, abs=1e-9)
    assert r.coefficients[0].estimate == pytest.approx(f.estimate, abs=1e-8)

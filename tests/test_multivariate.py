"""The multivariate (multi-arm) model against metafor 3.8.1's rma.mv.

``tests/reference/make_multivariate_reference.R`` simulates (seeded, SYNTHETIC) binary trials
with one to three dose arms against a shared control, builds V with the exact shared-control
covariance (OR: 1/c + 1/d of the control arm), and pins ``rma.mv(yi, V, random = ~ 1 |
trial/comp)`` for REML and ML x z and t, with and without ``mods = ~ dose``; the 25-trial
set is a hold-out made after the implementation was fixed. metafor ran Nelder-Mead with
reltol 1e-14; coefficients and SEs agree to 1e-6, variance components to 1e-6.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from metak.estimators.multivariate import fit_mv, shared_control_cov, smd_cov
from metak.records.model import BinaryArmData, ContinuousArmData

REF = json.loads((Path(__file__).parent / "reference" / "metafor_multivariate_reference.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_multivariate_matches_rma_mv(case):
    X = np.column_stack([np.ones(len(case["yi"])), case["dose"]]) if case["mods"] else None
    r = fit_mv(case["yi"], np.array(case["V"]), case["trial"], X, method=case["method"], test=case["test"])
    ref = {key: np.atleast_1d(case[key]) for key in ("b", "se", "pval", "ci_lower")}  # jsonlite unboxes length 1
    for j, c in enumerate(r.coefficients):
        assert c[1] == pytest.approx(ref["b"][j], abs=1e-6)
        assert c[2] == pytest.approx(ref["se"][j], abs=1e-6)
        assert c[4] == pytest.approx(ref["pval"][j], abs=1e-6)
        assert c[5] == pytest.approx(ref["ci_lower"][j], abs=1e-6)
    assert r.sigma2 == pytest.approx(case["sigma2"], abs=1e-6)
    assert r.qe == pytest.approx(case["qe"], rel=1e-9)
    assert r.loglik == pytest.approx(case["loglik"], abs=1e-6)  # metafor's, + 1/2 log|X'X| under REML
    assert (r.df is None) == (case["test"] == "z")


def test_the_shared_control_covariance_is_the_reference_v():
    """The R script's V off-diagonals are 1/c + 1/d of the shared control: as the function says."""
    case = REF["cases"][0]
    V = np.array(case["V"])
    for a in range(len(case["yi"])):
        for b in range(len(case["yi"])):
            if a != b and case["trial"][a] == case["trial"][b]:
                ctl = BinaryArmData(case["ci"][a], case["n2i"][a])
                assert V[a, b] == pytest.approx(shared_control_cov("OR", ctl))
    assert shared_control_cov("MD", ContinuousArmData(0.0, 2.0, 16)) == pytest.approx(0.25)
    assert shared_control_cov("RD", BinaryArmData(5, 20)) == pytest.approx(0.25 * 0.75 / 20)
    assert shared_control_cov("RR", BinaryArmData(5, 20)) == pytest.approx(1 / 5 - 1 / 20)
    assert smd_cov(0.5, 0.4, 20, 60) == pytest.approx(1 / 20 + 0.2 / 120)


def test_a_trial_with_one_comparison_is_the_univariate_model():
    """With one comparison per trial, sigma²_1 + sigma²_2 plays tau²: the estimate is the REML fit."""
    from metak.estimators import fit

    rng = np.random.default_rng(3)
    v = rng.uniform(0.02, 0.3, 15)
    y = rng.normal(0.3, np.sqrt(v + 0.1))
    r = fit_mv(y, np.diag(v), list(range(15)))
    u = fit(y, v, method="REML")
    assert r.estimate == pytest.approx(u.estimate, abs=1e-7)
    assert sum(r.sigma2) == pytest.approx(u.tau2, abs=1e-7)


def test_multivariate_1000_trials_of_3_arms_is_fast():
    rng = np.random.default_rng(11)
    groups, ys, V = [], [], np.zeros((2000, 2000))
    for i in range(1000):
        c = 1 / rng.integers(5, 20) + 1 / rng.integers(20, 40)
        for j in range(2):
            groups.append(i)
            ys.append(rng.normal(0.4, 0.5))
        idx = [2 * i, 2 * i + 1]
        V[np.ix_(idx, idx)] = c
        V[idx, idx] = c + 1 / rng.integers(5, 20, 2) + 1 / rng.integers(20, 40, 2)
    t0 = time.perf_counter()
    r = fit_mv(ys, V, groups)
    assert r.k == 2000 and r.n_trials == 1000
    assert time.perf_counter() - t0 < 30  # the benchmark (benchmarks/bench_multivariate.py) reports the time

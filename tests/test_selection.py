"""Selection models (metafor's selmodel) and PET/PEESE against pinned metafor 3.8.1 output
(tests/reference/make_selmodel_reference.R on metadat's datasets)."""

import json
from pathlib import Path

import numpy as np
import pytest

from metak.errors import MetakError
from metak.sensitivity.pet_peese import peese, pet, pet_peese
from metak.sensitivity.selection import selection_model
from metak.sensitivity.selection_lik import Likelihood, numderiv_hessian, pvalues, weight

REF = json.loads((Path(__file__).parent / "reference" / "metafor_selmodel_reference.json").read_text())
DATA = {name: (np.asarray(d["yi"], float), np.asarray(d["vi"], float)) for name, d in REF["datasets"].items()}
CASES = {c["id"]: c for c in REF["cases"]}
FITTED = [c for c in REF["cases"] if "error" not in c]
#: tolerances (absolute): the issue's 1e-4 for estimates, SEs, tau² and weights; PET/PEESE 1e-6
SEL_TOL = 1e-4
PET_TOL = 1e-6
#: cases run in the default suite (one fit each of a smooth family and the step function); the rest are slow
FAST = {"hackshaw_halfnorm", "hackshaw_stepfun", "hahn_power_less", "hackshaw_stepfun_fe"}


def _fit(case):
    y, v = DATA[case["dataset"]]
    steps = case.get("steps")
    steps = None if steps is None else [s for s in np.atleast_1d(steps) if s < 1]
    return selection_model(y, v, type=case["type"], steps=steps or None, alternative=case["alternative"],
                           method=case["method"])


def _check(case):
    res = _fit(case)
    assert res.estimate == pytest.approx(np.atleast_1d(case["estimate"])[0], abs=SEL_TOL)
    assert res.se == pytest.approx(np.atleast_1d(case["se"])[0], abs=SEL_TOL)
    if case["method"] != "FE":
        assert res.tau2 == pytest.approx(case["tau2"], abs=SEL_TOL)
        assert res.tau2_se == pytest.approx(case["se_tau2"], abs=SEL_TOL)
    delta = np.atleast_1d(case["delta"]).astype(float)
    assert np.allclose(res.delta, delta, atol=SEL_TOL, rtol=0)
    se_delta = np.array([np.nan if s is None else s for s in np.atleast_1d(case["se_delta"])], float)
    ours = np.array([np.nan if s is None else s for s in res.delta_se], float)
    assert np.allclose(ours, se_delta, atol=SEL_TOL, rtol=0, equal_nan=True)
    assert res.loglik == pytest.approx(case["ll"], abs=1e-6)
    assert res.loglik_unadjusted == pytest.approx(case["ll0"], abs=1e-6)
    assert res.lrt["statistic"] == pytest.approx(case["lrt"], abs=1e-5)
    assert res.lrt["df"] == case["lrt_df"]
    assert bool(res.warnings) == any("bound" in w for w in case["warnings"])


@pytest.mark.parametrize("case", [c for c in FITTED if c["id"] in FAST], ids=lambda c: c["id"])
def test_selmodel_matches_metafor(case):
    _check(case)


@pytest.mark.slow
@pytest.mark.parametrize("case", [c for c in FITTED if c["id"] not in FAST], ids=lambda c: c["id"])
def test_selmodel_matches_metafor_all(case):
    _check(case)


def test_empty_interval_refused_as_metafor():
    case = CASES["hahn_stepfun_empty"]
    assert "intervals do not contain" in case["error"]
    with pytest.raises(MetakError, match="no observed p-value"):
        _fit(case)


@pytest.mark.parametrize("steps, match", [([0.5, 0.025], "increasing"), ([0, 0.5], r"\(0, 1\)"),
                                          ([1.5], r"\(0, 1\)"), (None, "needs steps")])
def test_bad_steps(steps, match):
    y, v = DATA["hackshaw1998"]
    with pytest.raises(MetakError, match=match):
        selection_model(y, v, type="stepfun", steps=steps)


def test_too_few_studies():
    y, v = DATA["hackshaw1998"]
    with pytest.raises(MetakError, match="too small"):
        selection_model(y[:3], v[:3], type="stepfun", steps=[0.025, 0.5])  # 4 parameters, k = 3
    with pytest.raises(MetakError, match="type must be"):
        selection_model(y, v, type="cauchy")


def test_numderiv_hessian_of_a_quadratic_and_a_known_function():
    a = np.array([[2.0, 0.3], [0.3, 1.0]])
    assert np.allclose(numderiv_hessian(lambda x: 0.5 * x @ a @ x, np.array([0.4, -1.2])), a, atol=1e-9)
    h = numderiv_hessian(lambda x: np.exp(x[0]) * np.sin(x[1]), np.array([0.3, 0.7]))
    exact = np.exp(0.3) * np.array([[np.sin(0.7), np.cos(0.7)], [np.cos(0.7), -np.sin(0.7)]])
    assert np.allclose(h, exact, atol=1e-8)


def test_smooth_area_against_brute_force():
    """The panelled quadrature of A_i against scipy's adaptive quad per study."""
    from scipy import integrate, stats

    y, v = DATA["hackshaw1998"]
    for type_, delta, alt in (("beta", [0.6, 1.4], "greater"), ("halfnorm", [3.0], "two.sided"),
                              ("power", [2.0], "less")):
        lik = Likelihood(y, v, type_, (0.0,) if type_ != "beta" else (0.0, 1.0), alt, False)
        s = np.sqrt(v + 0.05)
        ours = lik.areas(0.2, s, np.array(delta))
        for i in (0, 5, 20):
            f = lambda t: weight(type_, pvalues(np.array([t]), v[i], alt), np.array(delta), lik.steps)[0] * \
                stats.norm.pdf(t, 0.2, s[i])  # noqa: E731
            # adaptive quadrature on y, split at the clamps' kinks (p = 1e-5, 1 - 1e-5) and the bulk
            kink = stats.norm.isf(1e-5 / (2 if alt == "two.sided" else 1)) * np.sqrt(v[i])
            edges = sorted({-60.0, 60.0, -kink, kink, 0.0, 0.2 - 12 * s[i], 0.2 + 12 * s[i]})
            ref = sum(integrate.quad(f, a, b, epsabs=1e-15, epsrel=1e-13, limit=1000)[0]
                      for a, b in zip(edges, edges[1:]))
            assert ours[i] == pytest.approx(ref, rel=1e-9)


@pytest.mark.parametrize("name", sorted(REF["pet_peese"]))
def test_pet_peese_match_metafor(name):
    y, v = DATA[name]
    for fun, key in ((pet, "pet"), (peese, "peese")):
        ref, ours = REF["pet_peese"][name][key], fun(y, v)
        assert ours["estimate"] == pytest.approx(ref["estimate"][0], abs=PET_TOL)
        assert ours["slope"] == pytest.approx(ref["estimate"][1], abs=PET_TOL)
        assert ours["se"] == pytest.approx(ref["se"][0], abs=PET_TOL)
        assert ours["slope_se"] == pytest.approx(ref["se"][1], abs=PET_TOL)
        assert ours["p_value"] == pytest.approx(ref["pval"][0], abs=PET_TOL)
        assert ours["ci_lower"] == pytest.approx(ref["ci_lower"][0], abs=PET_TOL)
        assert ours["ci_upper"] == pytest.approx(ref["ci_upper"][0], abs=PET_TOL)


def test_pet_peese_conditional_rule():
    y, v = DATA["hackshaw1998"]
    ref = REF["pet_peese"]["hackshaw1998"]["pet"]
    out = pet_peese(y, v, direction=1.0)
    z = ref["zval"][0]
    from scipy.stats import norm
    assert out.chosen == ("peese" if norm.sf(z) < 0.05 else "pet")
    assert out.estimate == (out.peese if out.chosen == "peese" else out.pet)["estimate"]
    # the other direction flips the one-sided test
    assert pet_peese(y, v, direction=-1.0).chosen == ("peese" if norm.cdf(z) < 0.05 else "pet")
    with pytest.raises(MetakError, match="same variance"):
        pet(y[:5], np.full(5, 0.1))

"""The profile-likelihood CI of tau² for UM.RS (two random effects; issue 27): metak's
(metak.glmm.rs_fit.RsTauProfile, the fit's own maximiser at each fixed tau) against the same
interval computed in R independently of metak and of lme4
(tests/reference/make_glmm_rs_profile_reference.R -> glmm_rs_profile_reference.json): the
textbook Laplace approximation (nagq=1) and an adaptive 15 x 15 Gauss-Hermite rule written in R
(metak's default), each profiled by optim + Newton on numDeriv's Richardson derivatives at fixed
tau and cut by uniroot on each side of tau_hat.

Tolerances, named:
- CI_REL: the bounds of tau² (relative). What limits it: the two sides agree on the likelihood
  to ~1e-10 (constants computed differently), and each root is found to 1e-10 (metak) and 1e-11
  (R) in tau; the profile maxima are exact to ~1e-12 in log-likelihood (metak's Laplace profile
  uses plain central differences for its gradient: the point found is ~1e-6 / curvature off the
  maximum, its value ~1e-12). Measured: within 1.8e-10 on every reference case (laplace and
  agq); 1e-5 leaves room for other platforms' rounding and for the root searches' brackets.
  The 15 x 15 rule itself is within 4.4e-9 of a 25 x 25 rule at the bounds (agq_rule_error).
- LME4_EXACT: the reference's own check that lme4's Laplace deviance (devFunOnly), profiled
  exactly, gives the textbook interval within 1e-5 (measured 3.4e-6, bcg); lme4's profile() +
  confint() is recorded but not required to agree (up to 7.3e-3 off: its spline interpolation
  and per-point optimiser, not the likelihood; the JSON's lme4_gap).
- TAU2_ABS, LOGLIK_ABS: tau² (absolute) and the maximised log-likelihood at the maximum, as in
  tests/test_glmm_rs.py (TEXTBOOK 1e-6, TEXTBOOK_LL 1e-8).
- CUTOFF: 2 (ll_hat - ll_p(bound)) against chi²_1(0.95) at metak's own bounds, absolute.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from glmm_corpus import analyze_with_methods as _analyze, write_tables
from metak.errors import MetakError
from metak.glmm import glmm, rs_fit
from metak.glmm.data import prepare

HERE = Path(__file__).parent / "reference"
PROFILE = json.loads((HERE / "glmm_rs_profile_reference.json").read_text())
CI_REL = 1e-5
TAU2_ABS = 1e-6
LOGLIK_ABS = 1e-8
CUTOFF = 1e-6
LME4_EXACT = 1e-5


def _inputs(name):
    return {k: PROFILE["inputs"][name][k] for k in ("ai", "n1i", "ci", "n2i")}


def _cases():
    return [pytest.param(f, id=f"{f['dataset']}-{f['rule']}") for f in PROFILE["fits"]]


def _fit(name, rule, **kw):
    return glmm(**_inputs(name), model="UM.RS", method="ML", nagq=1 if rule == "laplace" else None, **kw)


@pytest.mark.parametrize("f", _cases())
def test_um_rs_tau2_profile_ci_matches_the_r_reference(f):
    assert f["max_abs_gradient_profile"] < 1e-6 and f["max_abs_gradient_fit"] < 1e-6  # R at its maxima
    g = _fit(f["dataset"], f["rule"])
    assert g.k == f["k"] and g.nagq == f["nagq"]
    assert abs(g.tau2 - f["tau2_hat"]) < TAU2_ABS
    assert abs(g.loglik - f["loglik"]) < LOGLIK_ABS
    lo, hi = g.tau2_ci
    ref_lo, ref_hi = f["tau2_ci"]
    if ref_lo == 0:
        assert lo == 0.0
    else:
        assert abs(lo - ref_lo) < CI_REL * ref_lo
    assert ref_hi is not None and abs(hi - ref_hi) < CI_REL * ref_hi
    assert lo <= g.tau2 < hi


def test_reference_covers_a_zero_lower_bound_and_a_boundary_maximum():
    """collins1985a: tau_hat > 0 but the profile at tau = 0 is within the cutoff (lower bound 0);
    hahn2001: tau_hat = 0 (lower bound 0 by definition)."""
    by = {(f["dataset"], f["rule"]): f for f in PROFILE["fits"]}
    for rule in ("laplace", "agq"):
        c = by[("collins1985a", rule)]
        assert c["tau2_hat"] > 0.05 and c["tau2_ci"][0] == 0
        assert 0 < c["dev_profile_at_0_minus_dev_hat"] < PROFILE["chi2_cutoff"]
        h = by[("hahn2001", rule)]
        assert h["tau2_hat"] == 0 and h["tau2_ci"][0] == 0 and h["tau2_ci"][1] > 0
    for rule in ("laplace", "agq"):
        for name in ("collins1985a", "hahn2001"):
            assert _fit(name, rule).tau2_ci[0] == 0.0


def test_reference_lme4_deviance_gives_the_same_interval_and_agq_is_converged():
    """The reference itself: lme4's own Laplace deviance profiled exactly agrees with the textbook
    interval (its PIRLS offset moves the bounds by < 1e-5), so the larger gap of lme4's profile()
    is its interpolation; the 15 x 15 rule's bounds are those of 25 x 25 nodes."""
    for name, lm in PROFILE["lme4_profile"].items():
        tb = next(f for f in PROFILE["fits"] if f["dataset"] == name and f["rule"] == "laplace")
        for got, want in zip(lm["devfun_exact_tau2_ci"], tb["tau2_ci"]):
            assert (got == want == 0) or abs(got - want) < LME4_EXACT * want, name
        assert lm["rel_diff_devfun_exact_vs_textbook"] is not None
    assert max(abs(x) for lm in PROFILE["lme4_profile"].values() for x in lm["rel_diff_profile_vs_textbook"]
               if isinstance(x, float)) > 1e-3  # profile()'s gap is real (nielweise2007's lower bound)
    for err in PROFILE["agq_rule_error"].values():
        assert all(x < 1e-7 for x in err["rel_diff_tau2_ci_25_vs_15"] if isinstance(x, float))


@pytest.mark.parametrize("nodes", [15, 1])
def test_bounds_sit_on_the_chi2_cutoff(nodes):
    """At metak's bounds the profile log-likelihood is chi²_1(level) / 2 below the maximum, for
    level 0.95 and 0.8 (a narrower interval inside the wider one)."""
    cond = prepare("OR", "UM.RS", _inputs("bcg"), None).cond
    val, x, _ = rs_fit.fit_rs(cond, True, nodes)
    prof = rs_fit.RsTauProfile(cond, nodes, x, val)
    ci = {}
    for level in (0.95, 0.8):
        ci[level] = prof.interval(level)
        for bound in ci[level]:
            assert abs(2 * (val - prof(bound)) - stats.chi2.ppf(level, 1)) < CUTOFF
    assert ci[0.95][0] < ci[0.8][0] < x[3] < ci[0.8][1] < ci[0.95][1]


def test_upper_bound_not_found_below_the_search_limit_is_none(monkeypatch):
    """An upper bound beyond RS_TAU_MAX is reported as None (infinite), as Profile.interval
    does; bcg's upper bound of tau is 0.976, so a limit of 0.5 stands in for 20."""
    monkeypatch.setattr(rs_fit, "RS_TAU_MAX", 0.5)
    g = _fit("bcg", "agq")
    ref = next(f for f in PROFILE["fits"] if f["dataset"] == "bcg" and f["rule"] == "agq")
    assert g.tau2_ci[1] is None and abs(g.tau2_ci[0] - ref["tau2_ci"][0]) < CI_REL * ref["tau2_ci"][0]
    assert "to inf)" in g.summary()


def test_no_interval_when_not_asked_or_common_effect():
    assert _fit("bcg", "agq", tau2_ci=False).tau2_ci is None
    assert glmm(**_inputs("bcg"), model="UM.RS", method="FE").tau2_ci is None


def test_one_maximiser_for_the_fit_and_the_profile():
    """The quadrature fit and the profile both maximise through RsNewton.run (tau held at each
    value for the profile), the Laplace ones through newton_fd on rs_loglik."""
    import inspect

    src = inspect.getsource(rs_fit.RsTauProfile.__init__)
    assert "RsNewton(cond, nodes)" in src and ".run(x, [0, 1, 2])" in src and "rs_loglik(cond, nodes)" in src
    assert "q.run(" in inspect.getsource(rs_fit.fit_rs_newton)


def _spec(root, glmm_model="UM.RS"):
    return write_tables(root, _inputs("bcg"), glmm=glmm_model)


def test_spec_um_rs_records_the_interval_and_the_methods_text_says_so(tmp_path):
    ma, text = _analyze(_spec(tmp_path))
    ref = next(f for f in PROFILE["fits"] if f["dataset"] == "bcg" and f["rule"] == "agq")
    g = ma["model"]["glmm"]
    assert g["model"] == "UM.RS" and g["nagq"] == 15
    for got, want in zip(ma["tau2_ci"], ref["tau2_ci"]):
        assert abs(got - want) < CI_REL * want
    assert g["tau2_ci"] == ma["tau2_ci"]
    assert ma["tau_ci"] == pytest.approx([np.sqrt(b) for b in ma["tau2_ci"]], rel=1e-12)
    assert "Its τ² has a profile-likelihood confidence interval" in text
    assert "without a confidence interval" not in text and "none is computed" not in text


def test_spec_um_rs_methods_text_when_the_profile_fails(tmp_path, monkeypatch):
    def fail(self, level):
        raise MetakError("the profile likelihood of tau could not be maximised at tau = 3")

    monkeypatch.setattr(rs_fit.RsTauProfile, "interval", fail)
    ma, text = _analyze(_spec(tmp_path))
    assert ma["tau2_ci"] is None and ma["tau_ci"] is None and ma["tau2"] is not None
    assert any("profile-likelihood CI of tau² was not computed" in n for n in ma["model"]["glmm"]["notes"])
    assert "Its τ² is reported without a confidence interval (its profile likelihood could not be maximised" in text
    assert "has a profile-likelihood confidence interval" not in text

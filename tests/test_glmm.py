"""metak.glmm against metafor 3.8.1's rma.glmm (tests/reference/make_glmm_reference.R) and
against independent computations (scipy quad of scipy's pmfs; scipy's Fisher noncentral
hypergeometric variance).

Tolerances, named:
- REL: estimates and SEs of the models metafor fits with lme4 at nAGQ = 25 (UM.FS, CM.AL,
  PLO, IRR) and all common-effect fits: 1e-6 relative, except where metafor's SE comes from
  a numerical Hessian (CM.EL: numDeriv on integrate(), good to ~1e-4; REL_CMEL_SE), and
  where lme4 stopped short of the maximum (SHORT_EST 1e-5, SHORT_SE 1e-4; metak's
  log-likelihood is then shown higher than at metafor's estimates).
- TAU2: 1e-5 absolute.
- UM.RS: metafor forces lme4's Laplace approximation (nAGQ = 1), whose value differs from the
  textbook Laplace approximation metak's nagq=1 computes (their estimates differ by up to
  4e-4 relative, SEs by up to 2%; see docs/glmm.md). metak's own quadrature is checked
  instead against lme4 at nAGQ = 25 on UM.RS's common-effect model (one random effect) at 1e-6,
  and UM.RS against metafor at the stated looser tolerances.
- loglik: metafor's logLik of a glmer-based ML fit is ll(saturated glm) - deviance(glmer) / 2,
  not the marginal log-likelihood; metak's is the marginal one (checked against scipy's
  quad below). Compared directly where metafor computes the likelihood itself (FE fits and
  CM.EL), and everywhere metak's maximum must be >= its log-likelihood at metafor's estimates.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metak.errors import MetakError
from metak.glmm import glmm
from metak.glmm.data import prepare
from metak.glmm.fit import Profile

REF = json.loads((Path(__file__).parent / "reference" / "metafor_glmm_reference.json").read_text())
REL = 1e-6
REL_CMEL_SE = 1e-3
SHORT_EST, SHORT_SE = 1e-5, 1e-4
TAU2 = 1e-5
#: slow fits (over ~5 s): UM.RS by random effects with nagq=1 (the Laplace approximation: a
#: derivative-free search); li2007's CM.EL (ISIS-4's 4,320-point support) takes < 1 s since the
#: support is trimmed (test_cm_el_trimmed_support_equals_full)
SLOW: set = set()


def _inputs(name):
    return {k: v for k, v in REF["inputs"][name].items() if k != "measure"}


def _cases(models, methods=("ML", "FE")):
    out = []
    for f in REF["fits"]:
        if f["model"] in models and f["method"] in methods and "error" not in f:
            slow = (f["dataset"], f["model"]) in SLOW or (f["model"] == "UM.RS" and f["method"] == "ML")
            marks = [pytest.mark.slow] if slow else []
            out.append(pytest.param(f, id=f"{f['dataset']}-{f['model']}-{f['method']}", marks=marks))
    return out


def _fit(f, **kw):
    return glmm(**_inputs(f["dataset"]), measure=f["measure"], model=f["model"], method=f["method"],
                tau2_ci=False, **kw)


def _rel(a, b):
    return abs(a - b) / abs(b)


def _at_metafor(f, nagq):
    """metak's log-likelihood at metafor's (mu, tau), study intercepts maximised there."""
    prep = prepare(f["measure"], f["model"], _inputs(f["dataset"]), None)
    prof = Profile(prep.cond, nagq)
    tau = np.sqrt(f["tau2"]) if f["method"] == "ML" else 0.0
    prof.fit(tau)
    return prof.loglik_at(f["estimate"], tau) + float(prep.cond.lik.const.sum())


@pytest.mark.parametrize("f", _cases(("UM.FS", "CM.AL", "CM.EL")))
def test_matches_metafor(f):
    g = _fit(f)
    assert g.k == f["k"]
    # where lme4's bobyqa stopped short of the maximum (metak's log-likelihood higher than at
    # metafor's own estimates), its estimate is ~1e-6 away and its Hessian's SE ~1e-5: compared
    # at SHORT, and metak's maximum shown to be the higher one
    short = g.loglik - _at_metafor(f, g.nagq) > 1e-11
    rel_est, rel_se = (SHORT_EST, SHORT_SE) if short else (REL, REL)
    if f["model"] == "CM.EL":
        rel_se = REL_CMEL_SE
    assert _rel(g.estimate, f["estimate"]) < rel_est
    if not (f["dataset"] == "li2007" and f["model"] == "CM.EL" and f["method"] == "FE"):  # metafor wrong there
        assert _rel(g.se, f["se"]) < rel_se
    assert abs((g.tau2 or 0.0) - f["tau2"]) < TAU2
    if f["method"] == "FE" or f["model"] == "CM.EL":  # metafor's own log-likelihood
        assert abs(g.loglik - f["loglik"]) < 1e-7
    # heterogeneity: LRT always, the Wald test where metafor's is not a numerical Hessian's
    assert abs(g.qe_lrt - f["QE_LRT"]) < 1e-6
    assert g.qe_df == f["QE_df"]
    if f["model"] != "CM.EL":
        assert _rel(g.qe_wald, f["QE_Wld"]) < 1e-5


@pytest.mark.parametrize("f", _cases(("UM.FS", "CM.AL", "CM.EL", "UM.RS"), ("ML",)))
def test_loglik_at_least_metafors(f):
    """metak's maximum is at least the log-likelihood at metafor's (mu, tau), study intercepts
    maximised there (UM.RS: at least metafor's Laplace log-likelihood by metak's nagq=1)."""
    if f["model"] == "UM.RS":
        g = _fit(f, nagq=1)
        assert g.loglik >= f["loglik"] - 1e-8
        return
    g = _fit(f)
    assert g.loglik >= _at_metafor(f, g.nagq) - 1e-9


@pytest.mark.parametrize("f", _cases(("UM.RS",)))
def test_um_rs_laplace_near_metafor(f):
    g = _fit(f, nagq=1)
    assert _rel(g.estimate, f["estimate"]) < 5e-4
    assert _rel(g.se, f["se"]) < 3e-2
    assert abs((g.tau2 or 0.0) - f["tau2"]) < 2e-4
    assert abs(g.sigma2 - f["sigma2"]) / f["sigma2"] < 2e-3


@pytest.mark.parametrize("c", REF["lme4_checks"], ids=[c["dataset"] for c in REF["lme4_checks"]])
def test_um_rs_quadrature_matches_lme4_nagq25(c):
    g = glmm(**_inputs(c["dataset"]), model="UM.RS", method="FE", nagq=25)
    assert _rel(g.estimate, c["estimate"]) < 1e-6
    assert _rel(g.se, c["se"]) < 1e-5
    assert _rel(g.sigma2, c["sigma2"]) < 1e-5


def test_loglik_is_the_marginal_likelihood_by_scipy_quad():
    """Independent: the log of scipy.integrate.quad of scipy.stats.binom pmfs times the normal
    density, per study, at metak's estimates (bcg, UM.FS) and of nchypergeom_fisher (CM.EL)."""
    from scipy import integrate, stats

    inp = _inputs("nielweise2007")
    a, n1, c, n2 = (np.asarray(inp[k], float) for k in ("ai", "n1i", "ci", "n2i"))
    keep = ~((a == 0) & (c == 0))
    a, n1, c, n2 = a[keep], n1[keep], c[keep], n2[keep]
    g = glmm(**inp, model="CM.EL", method="ML", tau2_ci=False)
    tot = 0.0
    for i in range(len(a)):
        pmf = stats.nchypergeom_fisher(int(n1[i] + n2[i]), int(n1[i]), int(a[i] + c[i]), 1.0)
        f = lambda t, i=i: (stats.nchypergeom_fisher.pmf(a[i], n1[i] + n2[i], n1[i], a[i] + c[i], np.exp(t))  # noqa: E731
                            * stats.norm.pdf(t, g.estimate, g.tau))
        del pmf
        v, _ = integrate.quad(f, g.estimate - 12 * g.tau, g.estimate + 12 * g.tau, epsabs=0, epsrel=1e-12,
                              limit=400)
        tot += np.log(v)
    assert g.loglik == pytest.approx(tot, abs=1e-8)

    inp = _inputs("bcg")
    g = glmm(**inp, model="UM.FS", method="ML", tau2_ci=False)
    prep = prepare("OR", "UM.FS", inp, None)
    prof = Profile(prep.cond)
    _, alpha, mu = prof.fit(g.tau)
    a, n1, c, n2 = (np.asarray(inp[k], float) for k in ("ai", "n1i", "ci", "n2i"))
    tot = 0.0
    for i in range(len(a)):
        p = lambda z, s: 1 / (1 + np.exp(-(alpha[i, 0] + s * (mu + g.tau * z) / 2)))  # noqa: E731
        f = lambda z, i=i: (stats.binom.pmf(a[i], n1[i], p(z, 1)) * stats.binom.pmf(c[i], n2[i], p(z, -1))  # noqa: E731
                            * stats.norm.pdf(z))
        v, _ = integrate.quad(f, -12, 12, epsabs=0, epsrel=1e-13, limit=500)
        tot += np.log(v)
    assert g.loglik == pytest.approx(tot, abs=1e-8)


def test_cm_el_common_effect_se_by_scipy_variance():
    """CM.EL FE: information = sum of Var(a) under Fisher's NCH at the estimate (scipy). On
    li2007 metafor's numerical Hessian gives an SE 35% too small (0.0176 against 0.0274)."""
    from scipy import stats

    inp = _inputs("li2007")
    g = glmm(**inp, model="CM.EL", method="FE")
    a, n1, c, n2 = (np.asarray(inp[k], float) for k in ("ai", "n1i", "ci", "n2i"))
    info = sum(stats.nchypergeom_fisher.var(n1[i] + n2[i], n1[i], a[i] + c[i], np.exp(g.estimate))
               for i in range(len(a)) if not (a[i] == 0 and c[i] == 0))
    assert g.se == pytest.approx(1 / np.sqrt(info), rel=1e-7)
    ref = next(f for f in REF["fits"] if f["dataset"] == "li2007" and f["model"] == "CM.EL" and f["method"] == "FE")
    assert _rel(g.estimate, ref["estimate"]) < REL and g.se > 1.4 * ref["se"]


def test_quadrature_default_nodes_within_1e8_of_100():
    """The default 40-node adaptive rule against a 100-node one, near the optimum and at a
    large tau (2: the log odds ratios' SD), for the binomial (UM.FS), the exact conditional
    (CM.EL) and the approximate conditional (CM.AL) likelihoods, per study."""
    for model in ("UM.FS", "CM.EL", "CM.AL"):
        prep = prepare("OR", model, _inputs("nielweise2007"), None)
        for tau in (0.3, 0.8, 2.0):
            p40, p100 = Profile(prep.cond), Profile(prep.cond, 100)
            assert p40.nodes == 40
            ll, alpha, mu = p40.fit(tau)
            v40 = p40.evaluate(alpha, mu, tau, False)[0]
            v100 = p100.evaluate(alpha, mu, tau, False)[0]
            assert np.max(np.abs(v40 - v100)) < 1e-8


def test_tau2_zero_on_the_boundary_is_reported_as_zero():
    g = glmm(**_inputs("hart1999"), measure="IRR", model="UM.FS", method="ML")
    assert g.tau2 == 0.0 and g.tau == 0.0
    fe = glmm(**_inputs("hart1999"), measure="IRR", model="UM.FS", method="FE")
    assert g.estimate == pytest.approx(fe.estimate, rel=1e-10)
    assert any("boundary" in n for n in g.notes)
    assert g.tau2_ci[0] == 0.0 and g.tau2_ci[1] > 0


def test_profile_ci_for_tau2_bounds_the_likelihood_ratio():
    from scipy.stats import chi2

    inp = _inputs("bcg")
    g = glmm(**inp, model="UM.FS", method="ML")
    prep = prepare("OR", "UM.FS", inp, None)
    prof = Profile(prep.cond)
    ll_hat = g.loglik - float(prep.cond.lik.const.sum())
    for bound in g.tau2_ci:
        assert 2 * (ll_hat - prof.fit(np.sqrt(bound))[0]) == pytest.approx(chi2.ppf(0.95, 1), abs=1e-6)
    assert g.tau2_ci[0] < g.tau2 < g.tau2_ci[1]


def test_double_zero_trials_dropped_and_said():
    g = glmm(**_inputs("nielweise2007"), model="CM.EL", method="FE")
    assert g.k == 17 and [lab for lab, _ in g.excluded] == ["s15"]
    assert any("drop00" in n for n in g.notes)
    frame = g.to_frame()
    assert not frame.loc[14, "included"] and frame["included"].sum() == 17


def test_summary_and_dict():
    g = glmm(**_inputs("bcg"), model="UM.FS", method="ML")
    text = g.summary()
    assert "UM.FS" in text and "tau^2" in text and "LRT" in text
    d = g.to_dict()
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "loglik", "qe_wald", "qe_lrt"):
        assert key in d
    assert json.dumps(d)


@pytest.mark.parametrize("kwargs, match", [
    ({"ai": [1.5, 2], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10]}, "whole numbers"),
    ({"ai": [11, 2], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10]}, "more than n1i"),
    ({"ai": [-1, 2], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10]}, "negative"),
    ({"ai": [1, 2], "n1i": [10, 10], "ci": [1], "n2i": [10, 10]}, "has 1 values"),
    ({"ai": [0, 0], "n1i": [10, 10], "ci": [0, 0], "n2i": [10, 10]}, "every study was left out"),
    ({"ai": [1, 2], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10], "method": "REML"}, "not one of ML, FE"),
    ({"ai": [1, 2], "n1i": [10, 10], "ci": [1, 2], "n2i": [10, 10], "model": "UM.XX"}, "not one of"),
    ({"ai": [1, 2], "n1i": [10, 10], "measure": "PLO", "model": "CM.EL"}, "one arm"),
    ({"x1i": [1, 2], "t1i": [0, 10], "x2i": [1, 2], "t2i": [10, 10], "measure": "IRR"}, "person-time"),
])
def test_bad_input_clear_errors(kwargs, match):
    with pytest.raises(MetakError, match=match):
        glmm(**kwargs)


def test_all_event_trials_dropped():
    g = glmm([10, 3, 2], [10, 20, 30], [12, 5, 6], [12, 20, 30], model="UM.FS", method="FE")
    assert g.k == 2 and "every participant had the event" in g.excluded[0][1]


def test_flat_likelihood_clear_message():
    """No events in any treatment arm: the common log odds ratio runs off to -infinity."""
    with pytest.raises(MetakError, match="no maximum"):
        glmm([0, 0, 0], [20, 30, 25], [3, 5, 2], [20, 30, 25], model="UM.FS", method="FE")
    with pytest.raises(MetakError, match="no maximum"):
        glmm([0, 0, 0], [20, 30, 25], [3, 5, 2], [20, 30, 25], model="CM.EL", method="ML")


def _isis_tables():
    inp = _inputs("li2007")
    a, n1, c, n2 = (np.asarray(inp[k], float) for k in ("ai", "n1i", "ci", "n2i"))
    keep = ~((a == 0) & (c == 0))
    return a[keep], n1[keep], n2[keep], (a + c)[keep]


def _trim_gap(lik_trim, lik_full, theta):
    """Largest difference of (loglik, d/dtheta, d2/dtheta2) between the trimmed and the full
    support sums; the second and third relative to Var(a) (the information)."""
    lt, gt, ht = lik_trim.loglik(theta)
    lf, gf, hf = lik_full.loglik(theta)
    return (np.max(np.abs(lt - lf)), np.max(np.abs(gt - gf) / -hf), np.max(np.abs(ht - hf) / -hf))


def test_cm_el_trimmed_support_equals_full():
    """The CM.EL normaliser summed over the window of each support (TRIM = 50 log units below
    the largest weight at the study's extreme nodes) against the whole support, on dat.li2007
    (ISIS-4: 58,050 patients, a 4,320-point support): log-likelihood and its derivatives within
    1e-10, at a single node per study (the quadrature's mode search) and at adaptive rules
    from narrow to wide (tau up to 2: ISIS-4's window is then the whole support). With a
    margin of 5 log units instead of 50 the check fails: it does see the trimming."""
    from metak.glmm.likelihood import NoncentralHypergeometric

    a, n1, n2, m = _isis_tables()
    trimmed, full = NoncentralHypergeometric(a, n1, n2, m), NoncentralHypergeometric(a, n1, n2, m, trim=False)
    assert trimmed.trim and not full.trim and full.size.max() == 4320
    x = np.polynomial.hermite.hermgauss(40)[0]
    nodes = [np.full((len(a), 1), t) for t in (-0.6, 0.0, 1.5)]
    nodes += [-0.6 + s * x[None, :] + np.zeros((len(a), 1)) for s in (0.01, 0.05, 0.3, 2.0)]
    for theta in nodes:
        idx, _ = trimmed._window(theta)
        if theta.shape[1] == 1 or np.ptp(theta) < 1:  # narrow ranges: ISIS-4's window is a fraction
            assert idx is not None and len(idx) < 0.5 * len(full.u)
        assert max(_trim_gap(trimmed, full, theta)) < 1e-10
    loose = NoncentralHypergeometric(a, n1, n2, m)
    loose.TRIM = 5.0
    assert max(_trim_gap(loose, full, nodes[0])) > 1e-10


def test_cm_el_li2007_fit_trimmed_equals_full():
    """The whole profile at one tau (Newton in mu, 40-node adaptive quadrature) with the
    trimmed and the full supports: the same maximum to 1e-10."""
    from metak.glmm.data import Cond
    from metak.glmm.likelihood import NoncentralHypergeometric

    a, n1, n2, m = _isis_tables()
    tau = np.sqrt(next(f["tau2"] for f in REF["fits"] if f["dataset"] == "li2007" and f["model"] == "CM.EL"
                       and f["method"] == "ML"))
    ll_t, _, mu_t = Profile(Cond(NoncentralHypergeometric(a, n1, n2, m), False)).fit(tau)
    ll_f, _, mu_f = Profile(Cond(NoncentralHypergeometric(a, n1, n2, m, trim=False), False)).fit(tau)
    assert abs(ll_t - ll_f) < 1e-10 and abs(mu_t - mu_f) < 1e-10


def test_cm_el_li2007_tau2_profile_ci():
    """The profile CI of tau² on li2007 CM.EL (both bounds inside the grid's brackets, the
    lower one above 0): the likelihood-ratio statistic is the chi2 quantile at both bounds."""
    from scipy.stats import chi2

    inp = _inputs("li2007")
    g = glmm(**inp, model="CM.EL", method="ML")
    prof = Profile(prepare("OR", "CM.EL", inp, None).cond)
    assert 0 < g.tau2_ci[0] < g.tau2 < g.tau2_ci[1]
    for bound in g.tau2_ci:
        assert 2 * (g.loglik - prof.fit(np.sqrt(bound))[0]) == pytest.approx(chi2.ppf(0.95, 1), abs=1e-6)


def test_brent_refined_when_the_newton_polish_does_not_converge(monkeypatch):
    """If the joint Newton polish stops short, the bounded Brent search goes on to 1e-10
    around its point: the same maximum as with the polish (to 1e-8 in tau)."""
    prep = prepare("OR", "CM.EL", _inputs("bcg"), None)
    tau, ll, _, mu = Profile(prep.cond).maximise()
    polish = Profile.polish
    calls = []

    def stop_short(self, tau, ll, alpha, mu):
        calls.append(tau)
        if len(calls) == 1:
            self.polished = False
            return tau, ll, alpha, mu
        return polish(self, tau, ll, alpha, mu)

    monkeypatch.setattr(Profile, "polish", stop_short)
    tau2, ll2, _, mu2 = Profile(prep.cond).maximise()
    assert len(calls) == 2 and abs(calls[1] - calls[0]) > 0
    assert abs(tau2 - tau) < 1e-8 and abs(mu2 - mu) < 1e-8 and abs(ll2 - ll) < 1e-10

"""UM.RS (two random effects): the quadrature's analytic derivatives against finite differences;
metak's Laplace approximation (nagq=1) against the textbook Laplace approximation written out
in R independently of lme4, and against lme4's glmer(nAGQ = 1); metafor's heterogeneity tests
(QE.LRT, QE.Wld) for UM.RS (tests/reference/make_glmm_laplace_reference.R,
glmm_laplace_textbook.R).

Why lme4 is not the reference for the SEs: lme4's PIRLS evaluates the Laplace log-determinant
with the weights one iterate before the conditional modes (src/external.cpp, pwrssUpdate), so
its deviance is the textbook one plus an offset of up to 2.2e-5 that jumps where the number of
PIRLS iterations changes. Where PIRLS stops after 2 iterations at the optimum (collins1985a FE,
bcg ML and FE: ``pirls_iterations`` in the JSON) lme4's SEs are 1.1e-3 to 3.7e-3 off the
textbook ones; elsewhere within 3e-5. docs/glmm.md has the numbers.

Tolerances, named:
- DERIV: gradient and Hessian of the 15 x 15 rule's log-likelihood against central differences
  of its value (the derivatives are posterior expectations over the nodes, exact up to the
  rule's error; differences of the value carry ~1e-8 rounding).
- TEXTBOOK: estimates, sigma2, tau2 (absolute), SEs against the R textbook fit (Newton on
  numDeriv's Richardson derivatives; SEs from its Richardson Hessian), 1e-6 relative (measured:
  estimates <= 1e-9, SEs <= 5e-7). TEXTBOOK_LL: log-likelihood, absolute (measured 1e-10).
- LME4_EST: estimates, sigma2, tau2 against lme4's own Laplace fit, 1e-4 (the offset moves its
  optimum by up to 9e-5). LME4_SE: SEs against lme4 where its PIRLS takes 3 iterations at the
  optimum, 5e-5 (measured 2.6e-5); LME4_SE_TWO_STEP where it takes 2, 5e-3 (measured 3.7e-3).
- QE_LRT: QE.LRT against glmer (tolPwrss 1e-12 where PIRLS reaches it; OR and IRR) at
  nAGQ = 1 (metak nagq=1) and nAGQ = 25 (metak's default 15-node rule), 1e-6 relative
  (measured 2e-8).
- QE_WALD: QE.Wld against the textbook Laplace saturated fit in R (nAGQ = 1; measured <= 1e-7)
  and otherwise against lme4 where lme4's Hessian is positive definite, 1e-5 relative
  (measured: collins1985a 2.4e-9; IRR 1.6e-7 to 1.4e-6; bcg at nAGQ = 25 2e-6, 3e-7 against
  a Richardson Hessian of lme4's devfun).
- QE_WALD_RX: where lme4's Hessian is singular (a study with no treatment-arm events) lme4's
  vcov() falls back to the covariance given sigma from PIRLS (RX), and so does metafor's
  QE.Wld; metak reports the Wald test with the full information, and this test recomputes
  lme4's fallback from metak's saturated fit (measured <= 8e-7).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from scipy.special import expit

from metak.glmm import glmm
from metak.glmm.data import prepare
from metak.glmm.quadrature import _mode_1d, integrate_2d
from metak.glmm.rs import rs_heterogeneity
from metak.glmm.rs_fit import fit_rs

HERE = Path(__file__).parent / "reference"
REF = json.loads((HERE / "metafor_glmm_reference.json").read_text())
LAPLACE = json.loads((HERE / "glmm_laplace_reference.json").read_text())
DERIV = 1e-5
TEXTBOOK = 1e-6
TEXTBOOK_LL = 1e-8
LME4_EST = 1e-4
LME4_SE = 5e-5
LME4_SE_TWO_STEP = 5e-3
QE_LRT = 1e-6
QE_WALD = 1e-5
QE_WALD_RX = 1e-5


def _inputs(name):
    return {k: v for k, v in REF["inputs"][name].items() if k != "measure"}


@pytest.mark.parametrize("name", ["bcg", "li2007"])
def test_rs_derivatives_match_finite_differences(name):
    cond = prepare("OR", "UM.RS", _inputs(name), None).cond
    x = np.array([-3.5, -0.6, 1.2, 0.5])

    def ll(p):
        return float(integrate_2d(cond, *p, 15).sum())

    _, g, H, _ = integrate_2d(cond, *x, 15, derivs=True)
    g, H = g.sum(axis=0), H.sum(axis=0)
    h = 1e-4
    E = np.eye(4) * h
    g_fd = np.array([(ll(x + e) - ll(x - e)) / (2 * h) for e in E])
    H_fd = np.array([[(ll(x + a + b) - ll(x + a - b) - ll(x - a + b) + ll(x - a - b)) / (4 * h * h) for b in E]
                     for a in E])
    assert np.max(np.abs(g - g_fd)) < DERIV * (1 + np.max(np.abs(g_fd)))
    assert np.max(np.abs(H - H_fd)) < DERIV * np.max(np.abs(H_fd)) * 10


def _laplace_cases():
    return [pytest.param(f, id=f"{f['dataset']}-{f['method']}") for f in LAPLACE["fits"]]  # 0.2-1.2 s each


@pytest.mark.parametrize("f", _laplace_cases())
def test_rs_laplace_matches_textbook_and_lme4(f):
    g = glmm(**_inputs(f["dataset"]), model="UM.RS", method=f["method"], nagq=1, tau2_ci=False)
    assert g.k == f["k"]
    tb = f["textbook"]
    assert tb["max_abs_gradient"] < 1e-6  # the R reference is at its maximum
    assert abs(g.estimate - tb["estimate"]) < TEXTBOOK * abs(tb["estimate"])
    assert abs(g.se - tb["se"]) < TEXTBOOK * tb["se"]
    assert abs(g.sigma2 - tb["sigma2"]) < TEXTBOOK * tb["sigma2"]
    assert abs((g.tau2 or 0.0) - tb["tau2"]) < TEXTBOOK
    assert abs(g.loglik - tb["loglik"]) < TEXTBOOK_LL
    # lme4: its optimum of its own deviance, whose offset from the textbook one is pinned
    assert abs(g.estimate - f["estimate"]) < LME4_EST * abs(f["estimate"])
    assert abs(g.sigma2 - f["sigma2"]) < LME4_EST * f["sigma2"]
    assert abs((g.tau2 or 0.0) - f["tau2"]) < LME4_EST
    tol = LME4_SE if f["pirls_iterations"] >= 3 else LME4_SE_TWO_STEP
    assert abs(g.se - f["se"]) < tol * f["se"]
    assert g.loglik >= f["loglik"] - 1e-7  # lme4's deviance carries a non-negative offset here


def test_lme4_offset_explains_the_se_gaps():
    """The reference itself: the three fits whose lme4 SE is off by more than 1e-3 are exactly
    those where PIRLS stops after two iterations at the optimum, and glmer with tolPwrss 1e-12
    (where PIRLS reaches it) agrees with the textbook fit."""
    for f in LAPLACE["fits"]:
        gap = abs(f["se"] - f["textbook"]["se"]) / f["textbook"]["se"]
        assert (gap > 1e-3) == (f["pirls_iterations"] == 2), f["dataset"]
        assert f["lme4_minus_textbook_deviance"] > 0
    tight = [f for f in LAPLACE["fits"] if "se" in f["tolPwrss_1e-12"] and f["pirls_iterations"] >= 3]
    assert tight
    for f in tight:
        assert abs(f["tolPwrss_1e-12"]["se"] - f["textbook"]["se"]) < 3e-5 * f["textbook"]["se"]


def _het_cases():
    return [pytest.param(h, id=f"{h['dataset']}-nAGQ{h['nAGQ']}") for h in LAPLACE["heterogeneity"]]


@pytest.mark.parametrize("h", _het_cases())
def test_rs_heterogeneity(h):
    nagq = 1 if h["nAGQ"] == 1 else None
    g = glmm(**_inputs(h["dataset"]), model="UM.RS", method="FE", nagq=nagq, tau2_ci=False)
    assert g.qe_df == h["df"]
    assert abs(g.qe_lrt - h["QE_LRT"]) < QE_LRT * h["QE_LRT"]
    if "textbook" in h:  # nAGQ = 1: the textbook Laplace saturated fit, written out in R
        tb = h["textbook"]
        assert tb["max_abs_gradient"] < 1e-6
        assert abs(g.qe_lrt - tb["QE_LRT"]) < QE_LRT * tb["QE_LRT"]
        assert abs(g.qe_wald - tb["QE_Wld"]) < QE_WALD * tb["QE_Wld"]
        assert (f"{tb['studies_left_out_of_wald']} stud" in g.summary()) == (tb["studies_left_out_of_wald"] > 0)
    elif h["hessian_min_eigenvalue"] > 0:  # nAGQ = 25: lme4's vcov() from its Hessian
        assert abs(g.qe_wald - h["QE_Wld"]) < QE_WALD * h["QE_Wld"]
    if h["hessian_min_eigenvalue"] <= 0:
        # lme4's fallback covariance given sigma (RX), which metafor's QE.Wld then uses,
        # recomputed from metak's saturated fit; metak reports the full-information Wald test
        assert h["QE_Wld"] == h["QE_Wld_rx"]
        assert abs(_wald_given_sigma(h) - h["QE_Wld_rx"]) < QE_WALD_RX * h["QE_Wld_rx"]
        assert abs(g.qe_wald - h["QE_Wld"]) > 1e-3 * h["QE_Wld"]  # the documented difference
    assert "Wald test for heterogeneity" in g.summary() and "LRT for heterogeneity" in g.summary()


def _wald_given_sigma(h):
    """lme4's vcov(use.hessian = FALSE) Wald statistic, from metak's saturated fit: the
    information of (study log odds ratios, beta_c) given sigma, X'WX - X'Wz z'WX / (z'Wz + 1)
    per study with W the binomial weights at the conditional modes and z = sigma (1, 1)."""
    lik = prepare("OR", "UM.RS", _inputs(h["dataset"]), None).cond.lik
    nodes = 1 if h["nAGQ"] == 1 else 15
    fe = fit_rs(prepare("OR", "UM.RS", _inputs(h["dataset"]), None).cond, False, nodes)
    alpha, mu, sigma, cond = rs_heterogeneity(lik, nodes, fe[0], fe[1][2])["fit"]
    z, _ = _mode_1d(cond, alpha[:, None], mu, sigma, cond.k)
    c = mu + sigma * z[:, 0]
    n = cond.arms.size
    wT = n[:, 0] * expit(c + alpha) * (1 - expit(c + alpha))
    wC = n[:, 1] * expit(c) * (1 - expit(c))
    D = sigma**2 * (wT + wC) + 1
    keep = ~cond.edge  # wT = 0 there (treatment arm dropped); their control arms inform beta_c
    m = int(keep.sum())
    info = np.zeros((m + 1, m + 1))
    info[m, m] = np.sum(wT + wC - (sigma * (wT + wC)) ** 2 / D)
    wT, wC, D = wT[keep], wC[keep], D[keep]
    info[np.arange(m), np.arange(m)] = wT - (sigma * wT) ** 2 / D
    info[:m, m] = info[m, :m] = wT - sigma * wT * sigma * (wT + wC) / D
    V = np.linalg.inv(info)[:m, :m]
    C = np.hstack([np.eye(m - 1), -np.ones((m - 1, 1))])
    b = C @ alpha[keep]
    return float(b @ np.linalg.solve(C @ V @ C.T, b))


#: metafor's own rma.glmm call (metafor_glmm_reference.json) leaves glmer's PIRLS tolerance at
#: its default 1e-7: QE.LRT within 1e-5 relative (measured 2.3e-6)
METAFOR_QE_LRT = 1e-5


@pytest.mark.parametrize("name", ["nielweise2007", "li2007", "collins1985a", "bcg"])
def test_rs_heterogeneity_against_metafor_itself(name):
    """QE.LRT against rma.glmm(model = "UM.RS") itself. Its QE.Wld is not compared: on bcg lme4's
    Hessian is off by 0.36% (see the module docstring); on nielweise2007 and li2007 the
    coefficients of the studies without treatment-arm events stop where bobyqa stops (near -23
    at metafor's rhoend 1e-10, -35 at 1e-12) and lme4's covariance is then either its
    finite-difference Hessian or, where that is singular, the RX fallback (docs/glmm.md)."""
    f = next(f for f in REF["fits"] if f["dataset"] == name and f["model"] == "UM.RS" and f["method"] == "FE")
    g = glmm(**_inputs(name), model="UM.RS", method="FE", nagq=1, tau2_ci=False)
    assert abs(g.qe_lrt - f["QE_LRT"]) < METAFOR_QE_LRT * f["QE_LRT"]
    assert g.qe_df == f["QE_df"]
    if name == "collins1985a":  # sigma = 0 in the saturated model: Hessian and RX agree
        assert abs(g.qe_wald - f["QE_Wld"]) < 1e-4 * f["QE_Wld"]


@pytest.mark.parametrize("h", [pytest.param(h, id=f"{h['dataset']}-nAGQ{h['nAGQ']}")
                               for h in LAPLACE["heterogeneity_irr"]])
def test_rs_heterogeneity_irr(h):
    """IRR (Poisson counts, offset log person-time) against glmer with metafor's UM.RS model
    (rma.glmm's own IRR UM.RS fit fails in metafor 3.8.1); lme4's Hessian is positive definite
    on both data sets, so its vcov() is the Hessian's."""
    nagq = 1 if h["nAGQ"] == 1 else None
    g = glmm(**_inputs(h["dataset"]), measure="IRR", model="UM.RS", method="FE", nagq=nagq, tau2_ci=False)
    assert g.qe_df == h["df"] and h["hessian_min_eigenvalue"] > 0
    assert abs(g.qe_lrt - h["QE_LRT"]) < QE_LRT * h["QE_LRT"]
    assert abs(g.qe_wald - h["QE_Wld"]) < QE_WALD * h["QE_Wld"]

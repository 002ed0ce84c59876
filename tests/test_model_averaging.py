"""RoBMA-style Bayesian model averaging (metak.sensitivity.model_averaging): each kind of model's
marginal likelihood against an independent brute-force integral on the original parameter scale
(scipy's adaptive quadrature over every parameter, no analytic step), the ensemble's bookkeeping,
and the spec route."""

import json
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, stats

from metak.sensitivity import model_averaging as M
from metak.sensitivity.model_averaging_record import BmaModel, ModelAveraging

REF = json.loads((Path(__file__).parent / "reference" / "metafor_selmodel_reference.json").read_text())
# the first 10 studies of dat.hackshaw1998 (metadat), log odds ratios
Y = np.asarray(REF["datasets"]["hackshaw1998"]["yi"], float)[:10]
V = np.asarray(REF["datasets"]["hackshaw1998"]["vi"], float)[:10]


def _loglik(mu, tau, b, x):
    return np.sum(stats.norm.logpdf(Y, mu + b * x, np.sqrt(V + tau ** 2)))


def test_pet_model_without_effect_against_brute_force():
    """log p(y) of no effect + no heterogeneity + PET: one adaptive integral over b."""
    logml, _, _, _ = M.normal_model(Y, V, effect=False, heterogeneity=False, bias="PET")
    val, _ = integrate.quad(lambda b: np.exp(_loglik(0.0, 0.0, b, np.sqrt(V)) - logml) * 2 * stats.cauchy.pdf(b),
                            0, np.inf, epsrel=1e-10, epsabs=1e-12, limit=500)
    assert np.log(val) + logml == pytest.approx(logml, abs=1e-7)


@pytest.mark.slow
def test_peese_model_against_brute_force():
    """log p(y) of effect + no heterogeneity + PEESE: double adaptive integral over mu and b."""
    logml, se, _, _ = M.normal_model(Y, V, effect=True, heterogeneity=False, bias="PEESE")
    assert se == 0.0

    def f(b, mu):
        return np.exp(_loglik(mu, 0.0, b, V) - logml) * stats.norm.pdf(mu, 0, 1) * 2 * stats.cauchy.pdf(b, 0, 5)

    val, _ = integrate.nquad(f, [(0, 60), (-2, 2)], opts={"epsrel": 1e-6, "epsabs": 1e-9, "limit": 100})
    assert np.log(val) + logml == pytest.approx(logml, abs=1e-4)


@pytest.mark.slow
def test_pet_model_with_heterogeneity_against_brute_force():
    """log p(y) of effect + heterogeneity + PET: triple adaptive integral over mu, tau, b."""
    logml, se, m1, _ = M.normal_model(Y, V, effect=True, heterogeneity=True, bias="PET")
    shift = logml  # keep the integrand near 1

    def f(b, tau, mu):
        return np.exp(_loglik(mu, tau, b, np.sqrt(V)) - shift) * stats.norm.pdf(mu, 0, 1) * \
            stats.invgamma.pdf(tau, 1, scale=0.15) * 2 * stats.cauchy.pdf(b, 0, 1)

    val, _ = integrate.nquad(f, [(0, 3), (1e-6, 1.5), (-1.5, 1.5)], opts={"epsrel": 1e-5, "epsabs": 1e-8})
    assert np.log(val) + shift == pytest.approx(logml, abs=1e-3)


def test_no_bias_fixed_effect_model_is_closed_form():
    """effect present, no heterogeneity, no bias: y ~ N(0, V + 11') exactly."""
    logml, _, m1, var = M.normal_model(Y, V, effect=True, heterogeneity=False, bias="none")
    exact = stats.multivariate_normal.logpdf(Y, np.zeros(len(Y)), np.diag(V) + 1.0)
    assert logml == pytest.approx(exact, abs=1e-10)
    w = 1 / V
    assert m1 == pytest.approx(np.sum(w * Y) / (w.sum() + 1), rel=1e-10)
    assert var == pytest.approx(1 / (w.sum() + 1), rel=1e-10)


def test_weight_function_model_against_brute_force():
    """effect + no heterogeneity + one-sided (0.05): importance sampling against the double
    integral over mu and omega_2 ~ U(0, 1) of the weighted-normal likelihood."""
    logml, se, m1, _ = M.weight_function_model(Y, V, "one.sided", (0.05,), effect=True, heterogeneity=False,
                                               n_draws=4096)
    p = stats.norm.sf(Y / np.sqrt(V))
    sig = p <= 0.05

    def f(om, mu):
        crit = np.sqrt(V) * stats.norm.isf(0.05)
        p_sig = stats.norm.sf((crit - mu) / np.sqrt(V))
        area = p_sig + om * (1 - p_sig)
        ll = np.sum(np.where(sig, 0.0, np.log(om)) + stats.norm.logpdf(Y, mu, np.sqrt(V)) - np.log(area))
        return np.exp(ll - logml) * stats.norm.pdf(mu)

    val, _ = integrate.nquad(f, [(0, 1), (-1.5, 1.5)], opts={"epsrel": 1e-6, "epsabs": 1e-9})
    assert 0 < se < 0.05
    assert np.log(val) + logml == pytest.approx(logml, abs=max(4 * se, 1e-3))


def test_ensemble_bookkeeping():
    models = [BmaModel(e, h, b, pr, ll, 0.0, None, mu, 0.1) for (e, h, b, pr, ll, mu) in (
        (False, False, "none", 0.25, -10.0, 0.0), (True, False, "none", 0.25, -9.0, 0.3),
        (False, True, "PET", 0.25, -11.0, 0.0), (True, True, "PET", 0.25, -8.0, 0.2))]
    res = ModelAveraging.from_models(models, k=5, priors=M.PRIORS)
    post = np.array([m.posterior_prob for m in res.models])
    expect = np.exp([-10.0, -9.0, -11.0, -8.0])
    assert np.allclose(post, expect / expect.sum(), rtol=1e-12)
    pe = post[1] + post[3]
    assert res.inclusion["effect"]["bf_inclusion"] == pytest.approx(pe / (1 - pe), rel=1e-12)
    assert res.estimate == pytest.approx(post[1] * 0.3 + post[3] * 0.2, rel=1e-12)


@pytest.mark.slow
def test_full_ensemble_runs_and_probabilities_sum_to_one():
    res = M.model_averaging(Y, V)
    assert len(res.models) == 36
    assert sum(m.prior_prob for m in res.models) == pytest.approx(1.0)
    assert sum(m.posterior_prob for m in res.models) == pytest.approx(1.0)
    assert res.log_marglik_mc_error_max < 0.1
    assert res.ci_lb < res.median < res.ci_ub  # hackshaw: P(effect) ~ 1, so no atom at the median


@pytest.mark.parametrize("n_free", [1, 2])
def test_weight_prior_and_jacobian_integrate_to_one(n_free):
    """The cumulative Dirichlet(1, ..., 1) prior times the Jacobian of the stick-breaking map is a
    density on the unconstrained scale: it integrates to 1."""
    def dens(*x):
        _, logp = M._omega(np.array([x]))
        return float(np.exp(logp[0]))

    val, _ = integrate.nquad(dens, [(-40, 40)] * n_free, opts={"epsrel": 1e-8, "epsabs": 1e-10, "limit": 200})
    assert val == pytest.approx(1.0, abs=1e-6)


# --------------------------------------------------------------------------- RoBMA's printed numbers
ROBMA = json.loads((Path(__file__).parent / "reference" / "robma_vignette.json").read_text())
# RoBMA 2.0's README example is MCMC (JAGS: 3 chains x 5000 draws per model) with bridge-sampling
# marginal likelihoods, printed to 3 decimals. Tolerances: log inclusion BF 0.05 (bridge sampling's
# error of a log marginal likelihood on such runs is ~0.01-0.03, plus rounding: 0.0005 / 0.143 =
# 0.0035 on the log for the smallest BF); posterior probability 0.01 (the same errors on the
# probability scale); the model-averaged mean 0.003 (3 MC SEs, posterior SD 0.08 / sqrt(10000
# effective draws), plus rounding 0.0005); the 2.5% / 97.5% quantiles checked on the probability
# scale, where their MC error is known whatever the density: |F(q_RoBMA) - q| <= 3 sqrt(q (1 - q) /
# 10000) + the rounding of the printed quantile times the density there (< 2).
ROBMA_LOG_BF_TOL, ROBMA_PROB_TOL, ROBMA_MEAN_TOL, ROBMA_N_EFF = 0.05, 0.01, 0.003, 10_000


def test_reproduces_robma_bem2011_readme_example():
    d, se = np.asarray(ROBMA["data"]["d"]), np.asarray(ROBMA["data"]["se"])
    y, v = M.robma_cohens_d_scale(d, se)
    models, parts = M._ensemble(y, v, 4096, 20231)
    res = ModelAveraging.from_models(models, k=len(y), priors=M.PRIORS)
    for comp, ref in ROBMA["components"].items():
        got = res.inclusion[comp]
        assert got["prior_prob"] == pytest.approx(ref["prior_prob"], abs=1e-12)
        assert got["posterior_prob"] == pytest.approx(ref["posterior_prob"], abs=ROBMA_PROB_TOL), comp
        assert np.log(got["bf_inclusion"]) == pytest.approx(np.log(ref["bf_inclusion"]), abs=ROBMA_LOG_BF_TOL), comp
    mu = ROBMA["model_averaged_mu"]
    assert res.estimate == pytest.approx(mu["mean"], abs=ROBMA_MEAN_TOL)
    post = [m.posterior_prob for m in res.models]
    lb, med, ub = M.mixture_quantiles(parts, post)
    assert med == 0.0 == mu["median"]  # P(mu = 0) = 0.68 covers the median: RoBMA's 0.000
    for q, x in ((0.025, mu["ci_lb"]), (0.975, mu["ci_ub"])):
        assert M.mixture_cdf(parts, post, x) == pytest.approx(q, abs=3 * np.sqrt(q * (1 - q) / ROBMA_N_EFF) + 2 * 5e-4)
    assert lb < mu["ci_lb"] + 0.01 and ub == pytest.approx(mu["ci_ub"], abs=0.01)


# --------------------------------------------------------------------------- the averaged posterior
def _grid_cdf(mu, logdens2d, inner):
    """CDF of mu on its grid from an unnormalised log density over (mu, inner) by trapezoids."""
    dens = np.exp(logdens2d - logdens2d.max())
    marg = integrate.trapezoid(dens, inner, axis=1)
    cdf = integrate.cumulative_trapezoid(marg, mu, initial=0)
    return cdf / cdf[-1]


def test_mixture_quantiles_against_brute_force_grid():
    """Point mass at 0 + (effect, heterogeneity, no bias) + (effect, PET): the averaged posterior's
    median and 95% CrI against each model's posterior of mu by brute force on a (mu, tau) or
    (mu, b) grid (no analytic integration over mu), mixed with fixed model probabilities."""
    post = np.array([0.3, 0.45, 0.25])
    parts = [M.normal_model(Y, V, effect=False, heterogeneity=False, bias="none", mixture=True)[-1],
             M.normal_model(Y, V, effect=True, heterogeneity=True, bias="none", mixture=True)[-1],
             M.normal_model(Y, V, effect=True, heterogeneity=False, bias="PET", mixture=True)[-1]]
    mu = np.linspace(-2, 2.5, 3001)[:, None]
    tau = np.exp(np.linspace(np.log(1e-6), np.log(5), 1500))[None, :]
    s2 = V[:, None] + tau[0] ** 2  # (k, tau)
    quad = lambda a, b, c: a * mu ** 2 - 2 * b * mu + c  # noqa: E731  sum_i (y_i - mu)^2 / s2_i
    ll_tau = (-0.5 * np.sum(np.log(s2), 0) - 0.5 * quad((1 / s2).sum(0), (Y @ (1 / s2)), (Y ** 2 @ (1 / s2))))
    logd_het = ll_tau + stats.norm.logpdf(mu) + stats.invgamma.logpdf(tau, 1, scale=0.15)
    b = np.concatenate([[0.0], np.exp(np.linspace(np.log(1e-6), np.log(1e3), 2000))])[None, :]
    r = Y[:, None] - b * np.sqrt(V)[:, None]  # (k, b): y - b se
    ll_b = -0.5 * quad(np.sum(1 / V), (1 / V) @ r, (1 / V) @ r ** 2)
    logd_pet = ll_b + stats.norm.logpdf(mu) + np.log(2) + stats.cauchy.logpdf(b)
    grid = mu[:, 0]
    cont = post[1] * _grid_cdf(grid, logd_het, tau[0]) + post[2] * _grid_cdf(grid, logd_pet, b[0])
    c0 = float(np.interp(0.0, grid, cont))  # the continuous part's mass below 0; the atom adds post[0]
    probs = (0.025, 0.2, 0.5, 0.975)
    got = M.mixture_quantiles(parts, post, probs)
    for q, g in zip(probs, got):
        want = (np.interp(q, cont, grid) if q <= c0 else 0.0 if q <= c0 + post[0]
                else np.interp(q - post[0], cont, grid))
        assert g == pytest.approx(want, abs=2e-4), q
    assert got[1] == 0.0 and got[2] > 0  # 0.2 falls in the point mass's jump, the median above it


def test_mixture_quantiles_of_weighted_draws_and_point_mass_are_exact():
    """Weighted importance draws + the point mass: against sorting all atoms and cumulating."""
    part = M.weight_function_model(Y, V, "one.sided", (0.05,), effect=True, heterogeneity=False,
                                   n_draws=1024, mixture=True)[-1]
    _, draws, w = part
    for p0 in (0.1, 0.6):
        post = [p0, 1 - p0]
        atoms = np.concatenate([[0.0], draws])
        mass = np.concatenate([[p0], (1 - p0) * w])
        order = np.argsort(atoms, kind="stable")
        cum = np.cumsum(mass[order])
        probs = (0.025, 0.5, 0.975)
        for q, g in zip(probs, M.mixture_quantiles([("point",), part], post, probs)):
            assert g == pytest.approx(atoms[order][np.searchsorted(cum, q - 1e-12)], abs=1e-9), (p0, q)

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
    res = ModelAveraging.from_models(models, k=5)
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


@pytest.mark.parametrize("n_free", [1, 2])
def test_weight_prior_and_jacobian_integrate_to_one(n_free):
    """The cumulative Dirichlet(1, ..., 1) prior times the Jacobian of the stick-breaking map is a
    density on the unconstrained scale: it integrates to 1."""
    def dens(*x):
        _, logp = M._omega(np.array([x]))
        return float(np.exp(logp[0]))

    val, _ = integrate.nquad(dens, [(-40, 40)] * n_free, opts={"epsrel": 1e-8, "epsabs": 1e-10, "limit": 200})
    assert val == pytest.approx(1.0, abs=1e-6)

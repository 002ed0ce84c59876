"""Prior objects: densities integrate to one (with the tau^2 -> tau change of variables),
the CDF and quantile function used by the exact engine agree with the density, reprs read well."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import integrate

from metak.bayes import priors as P
from metak.bayes.prior_presets import preset_prior

TAU_PRIORS = [
    P.HalfNormal(0.5), P.HalfCauchy(0.5), P.HalfStudentT(3.0, 0.5), P.Exponential(2.0),
    P.Uniform(0.0, 2.0, on="tau"), P.Uniform(0.1, 2.0, on="tau"),
    P.LogNormal(-2.56, 1.74), P.LogStudentT(5.0, -3.44, 2.59),
    *(preset_prior("turner2015", o) for o in ("all", "withdrawals", "mental_health", "subjective")),
    *(preset_prior("rhodes2015", o) for o in ("general", "mental_health")),
]
DENSITY_TOL = 1e-8


def _density_mass(prior, upper=math.inf):
    """int_0^upper p(tau) dtau, done in log tau so the spikes of tau^2 priors near 0 are resolved."""
    f = lambda s: math.exp(float(prior.logpdf_tau(np.array([math.exp(s)]))[0]) + s) if s < 700 else 0.0
    top = math.log(upper) if upper < math.inf else math.inf
    return integrate.quad(f, -math.inf, top, epsabs=1e-13, epsrel=1e-12, limit=500)[0]


@pytest.mark.parametrize("prior", TAU_PRIORS, ids=repr)
def test_tau_density_integrates_to_one(prior):
    assert _density_mass(prior) == pytest.approx(1.0, abs=DENSITY_TOL)


@pytest.mark.parametrize("prior", TAU_PRIORS, ids=repr)
def test_tau_cdf_and_quantiles_agree_with_density(prior):
    for t in (0.05, 0.3, 1.0):
        assert float(prior.cdf_tau(np.array([t]))[0]) == pytest.approx(_density_mass(prior, t), abs=DENSITY_TOL)
    x = np.array([-30.0, -5.0, -1.0, 0.0, 0.7, 4.0, 25.0])
    tau = prior.tau_from_x(x)
    assert np.all(np.diff(tau) >= 0)
    inner = (tau > 1e-12) & (tau < 1e12) & np.isfinite(tau)
    # round trip in tau (x itself is not recoverable where tau's last bits set 1 - F)
    np.testing.assert_allclose(prior.tau_from_x(prior.logit_cdf_tau(tau[inner])), tau[inner], rtol=1e-9)
    np.testing.assert_allclose(prior.logit_cdf_tau(tau[inner & (np.abs(x) < 10)]), x[inner & (np.abs(x) < 10)],
                               atol=1e-8)


def test_tau2_priors_use_the_jacobian():
    """p_tau(t) = p_{log tau^2}(2 log t) * 2 / t for the log-scale priors."""
    from scipy import stats

    prior = P.LogNormal(-2.12, 1.53)
    t = 0.4
    want = stats.norm.pdf(2 * math.log(t), -2.12, 1.53) * 2 / t
    assert math.exp(float(prior.logpdf_tau(np.array([t]))[0])) == pytest.approx(want, rel=1e-12)
    prior = P.LogStudentT(5, -3.44, 2.59)
    want = stats.t.pdf(2 * math.log(t), 5, -3.44, 2.59) * 2 / t
    assert math.exp(float(prior.logpdf_tau(np.array([t]))[0])) == pytest.approx(want, rel=1e-12)


@pytest.mark.parametrize("prior,lo,hi", [(P.Normal(0.0, 10.0), -math.inf, math.inf),
                                         (P.StudentT(3.0, 0.2, 1.5), -math.inf, math.inf),
                                         (P.Uniform(-3.0, 2.0), -3.0, 2.0)], ids=["normal", "student_t", "uniform"])
def test_mu_density_integrates_to_one(prior, lo, hi):
    f = lambda m: math.exp(float(prior.logpdf(np.array([m]))[0]))
    assert integrate.quad(f, lo, hi, epsabs=1e-12, limit=200)[0] == pytest.approx(1.0, abs=DENSITY_TOL)


def test_presets_match_the_published_values():
    turner = preset_prior("turner2015", "mental_health")
    assert (turner.mu, turner.sigma) == (-2.12, 1.53) and turner.on == "tau2"
    rhodes = preset_prior("rhodes2015", "general")
    assert (rhodes.nu, rhodes.mu, rhodes.sigma) == (5.0, -3.44, 2.59)


def test_readable_repr_and_round_trip():
    assert repr(P.HalfNormal(0.5)) == "HalfNormal(sigma=0.5)"
    assert repr(P.Uniform()) == "Flat()"
    assert repr(preset_prior("turner2015", "all")) == "LogNormal(mu=-2.56, sigma=1.74) on tau^2 [turner2015/all]"
    assert preset_prior("rhodes2015", "general").to_dict() == {"preset": "rhodes2015", "outcome": "general"}
    assert P.HalfCauchy(0.3).to_dict() == {"dist": "half_cauchy", "beta": 0.3}

"""The exact engine against an independent computation with scipy.integrate.quad.

The reference below shares no code with metak.bayes.exact: it takes each prior's density from
scipy.stats directly, integrates tau with QUADPACK's adaptive quadrature (on tau for priors on
tau, on log(tau^2) for priors on tau^2), and gets p(y | tau) for a normal mu prior from the
multivariate normal y ~ N(m0 1, diag(v + tau^2) + s0^2 1 1'), for a Student-t or flat mu
prior by quadrature over mu.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import pytest
from scipy import integrate, optimize, stats

from metak.bayes import fit_bayes, parse_bayes_spec
from metak.bayes import priors as P
from metak.bayes.prior_presets import preset_prior
from metak.bayes.exact import exact_posterior

TOL = 1e-4            # the accuracy target, absolute, on the analysis scale
LEVEL_PROBS = (0.025, 0.5, 0.975)

DATASETS = {
    "k2": (np.array([0.52, -0.21]), np.array([0.10, 0.15])),
    "k3": (np.array([1.20, 0.31, 0.88]), np.array([0.30, 0.20, 0.50])),
    "k7": (np.array([2.05, 0.41, 1.10, -0.30, 0.75, 1.45, 0.20]),
           np.array([0.52, 0.18, 0.35, 0.40, 0.22, 0.61, 0.15])),
}


# --------------------------------------------------------------------------- reference

class Reference:
    """Posterior summaries by adaptive quadrature, one scalar integral at a time."""

    def __init__(self, y, v, mu_kind, mu_par, tau_kind, tau_par):
        self.y, self.v = y, v
        self.mu_kind, self.mu_par = mu_kind, mu_par
        self.tau_kind, self.tau_par = tau_kind, tau_par

    @functools.cached_property
    def z(self):
        return self.integrate_tau(lambda t: 1.0)

    # priors straight from scipy.stats
    def prior_tau_pdf(self, t):
        k, p = self.tau_kind, self.tau_par
        if k == "half_normal":
            return stats.halfnorm.pdf(t, scale=p[0])
        if k == "half_cauchy":
            return stats.halfcauchy.pdf(t, scale=p[0])
        if k == "half_t":
            return 2 * stats.t.pdf(t, p[0], scale=p[1])
        if k == "exponential":
            return stats.expon.pdf(t, scale=1 / p[0])
        if k == "uniform":
            return stats.uniform.pdf(t, p[0], p[1] - p[0])
        raise AssertionError(k)

    def prior_s_pdf(self, s):                          # density of s = log(tau^2)
        k, p = self.tau_kind, self.tau_par
        if k == "log_normal":
            return stats.norm.pdf(s, p[0], p[1])
        return stats.t.pdf(s, p[0], p[1], p[2])        # log_t: (nu, loc, scale)

    def prior_mu_pdf(self, m):
        if self.mu_kind == "normal":
            return stats.norm.pdf(m, *self.mu_par)
        if self.mu_kind == "student_t":
            nu, loc, scale = self.mu_par        # Student-t density, written out (fast for quad)
            z = (m - loc) / scale
            log_c = math.lgamma((nu + 1) / 2) - math.lgamma(nu / 2) - 0.5 * math.log(nu * math.pi)
            return math.exp(log_c - (nu + 1) / 2 * math.log1p(z * z / nu)) / scale
        return 1.0

    # p(y | tau), p(y | mu, tau) ---------------------------------------------------
    def lik(self, mu, t):
        d = self.v + t * t
        return math.exp(float(np.sum(-0.5 * np.log(2 * np.pi * d) - 0.5 * (self.y - mu) ** 2 / d)))

    @functools.lru_cache(maxsize=None)
    def marg(self, t):
        if self.mu_kind == "normal":
            m0, s0 = self.mu_par
            cov = np.diag(self.v + t * t) + s0**2
            return float(stats.multivariate_normal.pdf(self.y, np.full(len(self.y), m0), cov))
        if self.mu_kind == "flat":
            # completing the square in mu: int prod N(y_i; mu, d_i) dmu
            d = self.v + t * t
            w = 1 / d
            ybar = np.sum(w * self.y) / np.sum(w)
            q = np.sum(w * (self.y - ybar) ** 2)
            return float(np.prod(1 / np.sqrt(2 * np.pi * d)) * np.sqrt(2 * np.pi / np.sum(w)) * np.exp(-q / 2))
        return self.mu_integral(t, lambda m: 1.0)

    def mu_integral(self, t, f, upper=np.inf):
        """int f(mu) p(y | mu, t) p(mu) dmu; the integrand is negligible beyond 12 SDs of
        the likelihood's peak in mu."""
        w = 1 / (self.v + t * t)
        centre = float(np.sum(w * self.y) / np.sum(w))
        spread = 12.0 / math.sqrt(float(np.sum(w)))
        lo, hi = centre - spread, min(centre + spread, upper)
        if hi <= lo:
            return 0.0
        g = lambda m: f(m) * self.lik(m, t) * self.prior_mu_pdf(m)
        return integrate.quad(g, lo, hi, epsabs=0, epsrel=1e-10, limit=200)[0]

    # integrals over tau ---------------------------------------------------------
    def integrate_tau(self, f, upper=np.inf, marg=None):
        marg = marg or self.marg
        if self.tau_kind in ("log_normal", "log_t"):
            s_up = 2 * math.log(upper) if upper < np.inf else np.inf
            g = lambda s: f(math.exp(s / 2)) * marg(math.exp(s / 2)) * self.prior_s_pdf(s) if s < 600 else 0.0
            return integrate.quad(g, -np.inf, s_up, epsabs=0, epsrel=1e-10, limit=400)[0]
        g = lambda t: f(t) * marg(t) * self.prior_tau_pdf(t)
        hi = upper
        if self.tau_kind == "uniform":
            hi = min(upper, self.tau_par[1])
        return integrate.quad(g, 0, hi, epsabs=0, epsrel=1e-10, limit=400)[0]

    def tau_mean(self):
        return self.integrate_tau(lambda t: t) / self.z

    def tau_sd(self):
        return math.sqrt(self.integrate_tau(lambda t: t * t) / self.z - self.tau_mean() ** 2)

    def tau_cdf(self, x):
        return self.integrate_tau(lambda t: 1.0, upper=x) / self.z

    # mu | tau, y for normal / flat priors (textbook conjugate update)
    def mu_given_tau(self, t):
        w = 1 / (self.v + t * t)
        prec, num = w.sum(), (w * self.y).sum()
        if self.mu_kind == "normal":
            prec += 1 / self.mu_par[1] ** 2
            num += self.mu_par[0] / self.mu_par[1] ** 2
        return num / prec, 1 / prec

    def mu_mean(self):
        if self.mu_kind == "student_t":
            return self.integrate_tau(lambda t: self.mu_integral(t, lambda m: m) / self.marg(t)) / self.z
        return self.integrate_tau(lambda t: self.mu_given_tau(t)[0]) / self.z

    def mu_sd(self):
        second = self.integrate_tau(lambda t: self.mu_given_tau(t)[1] + self.mu_given_tau(t)[0] ** 2) / self.z
        return math.sqrt(second - self.mu_mean() ** 2)

    def mu_cdf(self, x):
        if self.mu_kind == "student_t":
            return self.integrate_tau(lambda t: self.mu_integral(t, lambda m: 1.0, upper=x) / self.marg(t)) / self.z

        def cond(t):
            m, var = self.mu_given_tau(t)
            return stats.norm.cdf(x, m, math.sqrt(var))
        return self.integrate_tau(cond) / self.z

    def predictive_cdf(self, x):
        def cond(t):
            m, var = self.mu_given_tau(t)
            return stats.norm.cdf(x, m, math.sqrt(var + t * t))
        return self.integrate_tau(cond) / self.z

    def log_evidence(self):
        return math.log(self.z)

    def bf01_tau(self):
        return self.marg(0.0) / self.z

    def bf01_mu(self):
        """Ratio of marginal likelihoods: p(y | mu = 0) / p(y), tau integrated under its prior."""
        num = self.integrate_tau(lambda t: 1.0, marg=lambda t: self.lik(0.0, t))
        return num / self.z

    def quantile(self, cdf, p, guess):
        width = 0.05 * max(abs(guess), 0.1)
        lo, hi = guess - width, guess + width
        while cdf(lo) > p:
            lo -= width
        while cdf(hi) < p:
            hi += width
        return optimize.brentq(lambda x: cdf(x) - p, max(lo, 0.0) if cdf is self.tau_cdf else lo, hi,
                               xtol=1e-9)


# --------------------------------------------------------------------------- cases

MU = {
    "normal10": (P.Normal(0.0, 10.0), "normal", (0.0, 10.0)),
    "normal1": (P.Normal(0.2, 1.0), "normal", (0.2, 1.0)),
    "flat": (P.Uniform(), "flat", ()),
    "t3": (P.StudentT(3.0, 0.0, 1.0), "student_t", (3.0, 0.0, 1.0)),
}
TAU = {
    "half_normal": (P.HalfNormal(0.5), "half_normal", (0.5,)),
    "half_cauchy": (P.HalfCauchy(0.5), "half_cauchy", (0.5,)),
    "half_t": (P.HalfStudentT(3.0, 0.5), "half_t", (3.0, 0.5)),
    "exponential": (P.Exponential(2.0), "exponential", (2.0,)),
    "uniform": (P.Uniform(0.0, 3.0, on="tau"), "uniform", (0.0, 3.0)),
    "turner": (preset_prior("turner2015", "mental_health"), "log_normal", (-2.12, 1.53)),
    "rhodes": (preset_prior("rhodes2015", "general"), "log_t", (5.0, -3.44, 2.59)),
}
CASES = [
    ("k2", "normal10", "half_normal"), ("k2", "flat", "half_cauchy"), ("k2", "normal1", "turner"),
    ("k3", "normal10", "half_normal"), ("k3", "normal10", "rhodes"), ("k3", "flat", "uniform"),
    ("k3", "normal1", "half_t"), ("k7", "normal10", "exponential"), ("k7", "flat", "turner"),
    ("k7", "normal10", "half_cauchy"),
]


def _setup(data, mu, tau):
    y, v = DATASETS[data]
    mu_prior, mu_kind, mu_par = MU[mu]
    tau_prior, tau_kind, tau_par = TAU[tau]
    return y, v, mu_prior, tau_prior, Reference(y, v, mu_kind, mu_par, tau_kind, tau_par)


@pytest.mark.parametrize("data,mu,tau", CASES, ids=["-".join(c) for c in CASES])
def test_exact_matches_adaptive_quadrature(data, mu, tau):
    y, v, mu_prior, tau_prior, ref = _setup(data, mu, tau)
    post = exact_posterior(y, v, mu_prior, tau_prior)
    assert post.converged

    # tau: moments (where they exist) and quantiles
    assert post.tau_moment(1) == pytest.approx(ref.tau_mean(), abs=TOL)
    if post.tau_moment(2) is not None:
        sd = math.sqrt(post.tau_moment(2) - post.tau_moment(1) ** 2)
        assert sd == pytest.approx(ref.tau_sd(), abs=TOL)
    else:   # k = 2, flat mu, half-Cauchy: E[tau^2] = infinity
        assert (data, mu, tau) == ("k2", "flat", "half_cauchy")
    for p, q in zip(LEVEL_PROBS, post.tau_quantiles(LEVEL_PROBS)):
        assert q == pytest.approx(ref.quantile(ref.tau_cdf, p, q), abs=TOL)

    # mu: moments, quantiles, P(mu > 0)
    assert post.mu_moment(1) == pytest.approx(ref.mu_mean(), abs=TOL)
    if post.mu_moment(2) is not None:
        sd = math.sqrt(post.mu_moment(2) - post.mu_moment(1) ** 2)
        assert sd == pytest.approx(ref.mu_sd(), abs=TOL)
    for p, q in zip(LEVEL_PROBS, post.mu_quantiles(LEVEL_PROBS)):
        assert q == pytest.approx(ref.quantile(ref.mu_cdf, p, q), abs=TOL)
    assert float(post.mu_cdf(np.array([0.0]))[0]) == pytest.approx(ref.mu_cdf(0.0), abs=TOL)

    # predictive interval for a new trial's true effect
    for p, q in zip((0.025, 0.975), post.predictive_quantiles([0.025, 0.975])):
        assert q == pytest.approx(ref.quantile(ref.predictive_cdf, p, q), abs=TOL)

    # marginal likelihood and Bayes factors
    assert post.log_lik_tau0 - post.log_evidence == pytest.approx(math.log(ref.bf01_tau()), abs=TOL)
    if mu != "flat":
        assert post.log_evidence == pytest.approx(ref.log_evidence(), abs=TOL)
        savage_dickey = post.mu_log_density(0.0) - float(mu_prior.logpdf(0.0))
        assert savage_dickey == pytest.approx(math.log(ref.bf01_mu()), abs=TOL)


def test_student_t_mu_prior_matches_quadrature():
    """Student-t on mu: the scale-mixture quadrature against quad over mu and tau."""
    y, v, mu_prior, tau_prior, ref = _setup("k3", "t3", "half_normal")
    post = exact_posterior(y, v, mu_prior, tau_prior)
    assert post.log_evidence == pytest.approx(ref.log_evidence(), abs=TOL)
    assert post.tau_moment(1) == pytest.approx(ref.tau_mean(), abs=TOL)
    assert post.mu_moment(1) == pytest.approx(ref.mu_mean(), abs=TOL)
    median = float(post.mu_quantiles([0.5])[0])
    assert ref.mu_cdf(median) == pytest.approx(0.5, abs=TOL)


def test_shrunken_estimates_match_quadrature():
    y, v, mu_prior, tau_prior, ref = _setup("k3", "normal10", "half_normal")
    post = exact_posterior(y, v, mu_prior, tau_prior)
    mean, sd, q = post.shrunken(y, v, [0.025, 0.975])
    for i in range(len(y)):
        def cond(t, i=i):
            m, var = ref.mu_given_tau(t)
            b = t * t / (v[i] + t * t)
            return b * y[i] + (1 - b) * m

        def cond2(t, i=i):
            m, var = ref.mu_given_tau(t)
            b = t * t / (v[i] + t * t)
            return b * v[i] + (1 - b) ** 2 * var + (b * y[i] + (1 - b) * m) ** 2

        ref_mean = ref.integrate_tau(cond) / ref.z
        ref_sd = math.sqrt(ref.integrate_tau(cond2) / ref.z - ref_mean**2)
        assert mean[i] == pytest.approx(ref_mean, abs=TOL)
        assert sd[i] == pytest.approx(ref_sd, abs=TOL)
        # shrinkage pulls each study towards the pooled mean
        assert abs(mean[i] - post.mu_moment(1)) < abs(y[i] - post.mu_moment(1))


@pytest.mark.parametrize("mu", ["normal1", "flat", "t3"])
def test_conditional_likelihood_matches_quadrature_over_mu(mu):
    """p(y | tau) with mu integrated out analytically (or by the lam mixture for Student-t)
    against quad over mu at a few tau values."""
    from metak.bayes.likelihood import _Conditional

    y, v = DATASETS["k3"]
    mu_prior, mu_kind, mu_par = MU[mu]
    ref = Reference(y, v, mu_kind, mu_par, "half_normal", (0.5,))
    cond = _Conditional(y, v, mu_prior)
    taus = np.array([0.0, 0.05, 0.4, 2.0])
    got = cond.log_marginal(taus)[0]
    for t, g in zip(taus, got):
        want = math.log(ref.mu_integral(float(t), lambda m: 1.0))
        assert g == pytest.approx(want, abs=1e-8)


def test_flat_mu_prior_has_no_marginal_likelihood_or_mu_bayes_factor():
    y, v = DATASETS["k3"]
    spec = parse_bayes_spec({"prior": {"mu": {"dist": "uniform"}, "tau": {"dist": "half_normal", "sigma": 0.5}}},
                            measure="OR")
    res = fit_bayes(y, v, spec)
    assert res["log_marginal_likelihood"] is None
    assert res["bayes_factors"]["mu_zero_bf01"] is None
    assert res["bayes_factors"]["tau_zero_bf01"] > 0
    assert any("flat" in w for w in res["warnings"])


def test_infinite_moments_are_null_with_a_warning():
    y, v = DATASETS["k2"]
    spec = parse_bayes_spec({"prior": {"mu": {"dist": "uniform"}, "tau": {"dist": "half_cauchy", "beta": 0.5}}},
                            measure="OR")
    res = fit_bayes(y, v, spec)
    assert res["tau"]["sd"] is None and res["tau"]["mean"] is not None
    assert res["mu"]["sd"] is None
    assert any("SD of tau is undefined" in w for w in res["warnings"])


def test_k1_runs():
    spec = parse_bayes_spec({}, measure="OR")
    res = fit_bayes([0.4], [0.2], spec)
    assert res["mu"]["ci_lower"] < 0.4 < res["mu"]["ci_upper"]
    assert len(res["shrunken"]) == 1


def test_prior_mass_at_tau_zero_under_log_t_is_handled():
    """Rhodes' log-t prior has a density on tau that piles up near 0; the CDF must still be right."""
    y, v, mu_prior, tau_prior, ref = _setup("k3", "normal10", "rhodes")
    post = exact_posterior(y, v, mu_prior, tau_prior)
    q05 = float(post.tau_quantiles([0.05])[0])
    assert ref.tau_cdf(q05) == pytest.approx(0.05, abs=TOL)


def test_large_k_is_fast_and_sane():
    rng = np.random.default_rng(11)
    v = rng.uniform(0.02, 0.5, 5000)
    y = rng.normal(0.3, np.sqrt(v + 0.09))
    post = exact_posterior(y, v, P.Normal(0, 10), P.HalfNormal(0.5))
    assert post.converged
    assert post.tau_moment(1) == pytest.approx(0.3, abs=0.03)
    assert post.mu_moment(1) == pytest.approx(0.3, abs=0.03)


def test_posterior_grid_for_plots_agrees_with_the_exact_summaries():
    from metak.bayes import fit_bayes, parse_bayes_spec

    spec = parse_bayes_spec({"likelihood": "normal", "prior": {"mu": {"dist": "normal", "mu": 0, "sigma": 10},
                                                               "tau": {"dist": "half_normal", "sigma": 0.5}}})
    r = fit_bayes(np.array([2.05, 0.22, 1.25]), np.array([0.52, 0.24, 0.37]), spec)
    g = r["posterior_grid"]
    for key in ("mu", "tau"):
        x, d = np.array(g[key]["x"]), np.array(g[key]["density"])
        assert np.all(d >= 0) and np.trapezoid(d, x) == pytest.approx(1.0, abs=2e-3)
        # the grid's mean matches the quadrature mean (the grid is cut at the 99.9% quantile)
        assert np.trapezoid(x * d, x) / np.trapezoid(d, x) == pytest.approx(r[key]["mean"], abs=5e-3)

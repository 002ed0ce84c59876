"""Exact Bayesian network meta-analysis (no MCMC).

Model: the contrast-based consistency model of :mod:`metak.network.model`,
``y ~ N(X d, V + tau^2 P)``, with independent Normal(m0, s0^2) priors (or a flat prior) on the
basic parameters d (every treatment vs the reference) and any tau prior of
:mod:`metak.bayes.priors`. Given tau, the posterior of d is Gaussian and p(y | tau) is closed
form; tau is integrated numerically, as in the pairwise exact engine (metak.bayes.exact): in
the prior's probability scale x = logit F(tau), tau = F^-1(expit x), on composite
Gauss-Legendre panels over the region where the integrand is within e^-45 of its peak, doubled
until the posterior means agree to 1e-10. The posterior of every contrast is then a finite
normal mixture: means and SDs by its moments, credible limits as mixture quantiles.
Rank probabilities and SUCRA (Salanti et al. 2011) are Monte Carlo over draws of that mixture
(seeded; their Monte Carlo SE, at most 0.5 / sqrt(draws), is stated).
"""

from __future__ import annotations

import math

import numpy as np

from ..bayes import priors as P
from ..bayes.summaries import mixture_quantiles, prune
from ..errors import MetakError

_GL_T, _GL_W = np.polynomial.legendre.leggauss(16)


class _Batched:
    """p(y | tau) and d | tau, y for many tau at once."""

    def __init__(self, data, X, d_prior):
        self.X, self.y, self.n, self.p = X, data.y, len(data.y), X.shape[1]
        starts = np.concatenate([[0], np.cumsum([len(b) for b in data.blocks])])
        sizes = np.array([len(b) for b in data.blocks])
        self.groups = []
        for m in np.unique(sizes):
            which = np.flatnonzero(sizes == m)
            rows = starts[which][:, None] + np.arange(m)[None, :]
            self.groups.append((self.y[rows], X[rows], np.stack([data.blocks[i] for i in which]),
                                (np.eye(m) + np.ones((m, m))) / 2))
        if isinstance(d_prior, P.Normal):
            self.prec0, self.m0 = 1.0 / d_prior.sigma**2, d_prior.mu
        elif isinstance(d_prior, P.Uniform) and d_prior.is_flat:
            self.prec0, self.m0 = 0.0, 0.0
        else:
            raise MetakError(f"network: the prior on the treatment effects must be Normal(mu, sigma) or flat, got "
                             f"{d_prior!r}")

    def evaluate(self, tau):
        """log p(y | tau) (up to a constant for a flat prior), posterior means (K, p), covs (K, p, p)."""
        tau2 = np.asarray(tau, float) ** 2
        K, p = len(tau2), self.p
        A = np.zeros((K, p, p))
        b = np.zeros((K, p))
        logdet = np.zeros(K)
        yWy = np.zeros(K)
        for y, X, V, Pm in self.groups:
            S = V[None] + tau2[:, None, None, None] * Pm                    # (K, g, m, m)
            sign, ld = np.linalg.slogdet(S)
            logdet += ld.sum(axis=1)
            Si = np.linalg.inv(S)
            WX = np.matmul(Si, X[None]).reshape(K, -1, p)                    # S^-1 X, stacked
            Wy = np.matmul(Si, y[None, ..., None]).reshape(K, -1)
            Xf, yf = X.reshape(-1, p), y.reshape(-1)
            A += np.matmul(Xf.T[None], WX)
            b += Wy @ Xf
            yWy += Wy @ yf
        prec = A + self.prec0 * np.eye(p)
        c = b + self.prec0 * self.m0
        C = np.linalg.cholesky(prec)
        mean = np.linalg.solve(prec, c[..., None])[..., 0]
        cov = np.linalg.inv(prec)
        logdet_prec = 2.0 * np.log(np.diagonal(C, axis1=1, axis2=2)).sum(axis=1)
        quad = yWy + p * self.prec0 * self.m0**2 - np.einsum("ki,ki->k", c, mean)
        prior_term = -p * math.log(self.prec0) if self.prec0 > 0 else 0.0
        loglik = -0.5 * (self.n * math.log(2 * math.pi) + logdet + prior_term + logdet_prec + quad)
        return loglik, mean, cov


def _log_integrand(batched, tau_prior, x):
    tau = tau_prior.tau_from_x(x)
    ll, mean, cov = batched.evaluate(tau)
    log_jac = -np.logaddexp(0.0, -x) - np.logaddexp(0.0, x)        # d u / d x = u (1 - u)
    return ll + log_jac, tau, mean, cov


def _nodes(lo, hi, panels):
    edges = np.linspace(lo, hi, panels + 1)
    half = np.diff(edges) / 2
    mid = (edges[:-1] + edges[1:]) / 2
    x = (mid[:, None] + half[:, None] * _GL_T[None, :]).ravel()
    w = (half[:, None] * _GL_W[None, :]).ravel()
    return x, w


def exact_network(data, d_prior=None, tau_prior=None, level=0.95, small_values="desirable",
                  draws=20000, seed=20261207):
    """The exact posterior of the network model; a dict in the contract's shape."""
    d_prior = P.Normal(0.0, 10.0) if d_prior is None else d_prior
    tau_prior = P.HalfNormal(0.5) if tau_prior is None else tau_prior
    X = data.design_matrix()
    batched = _Batched(data, X, d_prior)
    if batched.prec0 == 0 and np.linalg.matrix_rank(X) < X.shape[1]:
        raise MetakError("network: with a flat prior the treatment effects must be estimable from the data")
    # locate the mass: a scan in x, then the region within e^-45 of the peak
    with np.errstate(divide="ignore", over="ignore"):
        x_cap = float(np.asarray(tau_prior.logit_cdf_tau(np.array([1e6])))[0])
    x_cap = min(x_cap, 60.0) if np.isfinite(x_cap) else 60.0
    scan = np.linspace(-60.0, x_cap, 241)
    logg = _log_integrand(batched, tau_prior, scan)[0]
    top = np.nanmax(logg)
    inside = np.flatnonzero(logg > top - 45.0)
    lo = scan[max(inside[0] - 1, 0)]
    hi = scan[min(inside[-1] + 1, len(scan) - 1)]
    result, previous, panels = None, None, 16
    while panels <= 1024:
        x, w = _nodes(lo, hi, panels)
        lg, tau, mean, cov = _log_integrand(batched, tau_prior, x)
        weights = w * np.exp(lg - lg.max())
        weights /= weights.sum()
        post_mean = weights @ mean
        if previous is not None and np.max(np.abs(post_mean - previous)) < 1e-10 * (1 + np.max(np.abs(post_mean))):
            result = (weights, tau, mean, cov)
            break
        previous, panels = post_mean, panels * 2
    if result is None:
        raise MetakError("network: the exact posterior did not converge in 1024 quadrature panels")
    weights, tau, mean, cov = result
    return _summarise(data, weights, tau, mean, cov, level, small_values, draws, seed, d_prior, tau_prior)


def _summarise(data, w, tau, mean, cov, level, small_values, draws, seed, d_prior, tau_prior):
    T = len(data.treatments)
    ref = data.treatments.index(data.reference)
    others = [i for i in range(T) if i != ref]
    K = len(w)
    theta = np.zeros((K, T))
    theta[:, others] = mean
    S = np.zeros((K, T, T))
    S[np.ix_(range(K), others, others)] = cov
    probs = np.array([0.5 - level / 2, 0.5, 0.5 + level / 2])
    keep = w > 0
    rows = {}
    for i in range(T):
        for j in range(i + 1, T):
            m = theta[:, i] - theta[:, j]
            v = S[:, i, i] + S[:, j, j] - 2 * S[:, i, j]
            mu = float(w @ m)
            sd = math.sqrt(max(float(w @ (v + m**2)) - mu**2, 0.0))
            wk, mk, sk = prune(w[keep], m[keep], np.sqrt(v[keep]))
            q = mixture_quantiles(probs, wk, mk, sk)
            rows[(i, j)] = {"treatment": data.treatments[i], "versus": data.treatments[j], "estimate": mu,
                            "se": sd, "median": float(q[1]), "ci_lower": float(q[0]), "ci_upper": float(q[2])}
            # the reverse contrast is the negative (its quantiles mirror, as the level is symmetric)
            rows[(j, i)] = {"treatment": data.treatments[j], "versus": data.treatments[i], "estimate": -mu,
                            "se": sd, "median": -float(q[1]), "ci_lower": -float(q[2]), "ci_upper": -float(q[0])}
    rows = [rows[(i, j)] for i in range(T) for j in range(T) if i != j]
    tau_mean = float(w @ tau)
    tau2_mean = float(w @ tau**2)
    # rank probabilities by Monte Carlo over the mixture
    rng = np.random.default_rng(seed)
    comp = rng.choice(K, size=draws, p=w)
    z = rng.standard_normal((draws, len(others)))
    Lc = np.linalg.cholesky(cov + 1e-300 * np.eye(len(others)))
    d = mean[comp] + np.einsum("nij,nj->ni", Lc[comp], z)
    full = np.zeros((draws, T))
    full[:, others] = d
    sign = 1.0 if small_values == "desirable" else -1.0
    ranks = np.argsort(np.argsort(sign * full, axis=1, kind="stable"), axis=1)        # 0 = best
    rank_p = np.stack([(ranks == r).mean(axis=0) for r in range(T)], axis=1)       # (T, T): treatment x rank
    cum = np.cumsum(rank_p, axis=1)[:, :-1]
    sucra = cum.sum(axis=1) / (T - 1) if T > 1 else np.ones(T)
    return {"engine": "exact", "d_prior": repr(d_prior), "tau_prior": repr(tau_prior),
            "relative_effects": rows,
            "tau": {"mean": tau_mean, "tau2_mean": tau2_mean},
            "rank_probabilities": {data.treatments[i]: [float(p) for p in rank_p[i]] for i in range(T)},
            "sucra": {data.treatments[i]: float(sucra[i]) for i in range(T)},
            "rank_draws": int(draws), "rank_seed": int(seed), "rank_mc_se_max": 0.5 / math.sqrt(draws),
            "quadrature_nodes": int(K)}

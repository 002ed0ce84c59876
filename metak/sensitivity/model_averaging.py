"""Robust Bayesian model averaging (RoBMA-PSMA style) without MCMC.

The ensemble is RoBMA 2.x's default "PSMA" (Bartoš et al. 2023): effect absent (mu = 0) or
present (mu ~ N(0, 1)) x heterogeneity absent (tau = 0) or present (tau ~ InvGamma(1, 0.15))
x no bias, one of six weight functions, PET or PEESE; 36 models. Prior model probabilities: 1/2
effect, 1/2 heterogeneity, 1/2 bias; within bias 1/12 per weight function, 1/4 PET, 1/4 PEESE.

- weight functions (``omega`` = 1 for the most significant interval; the others a cumulative
  Dirichlet(1, ..., 1), i.e. non-increasing with p and uniform on that ordered region):
  two-sided (.05), two-sided (.05, .10), one-sided (.05), one-sided (.025, .05), one-sided
  (.05, .5), one-sided (.025, .05, .5); one-sided p-values in the positive direction;
- PET: y_i ~ N(mu + b se_i, v_i + tau^2), b ~ Cauchy(0, 1) on (0, inf);
  PEESE: y_i ~ N(mu + b v_i, v_i + tau^2), b ~ Cauchy(0, 5) on (0, inf).

The priors are applied on the analysis scale as it is (RoBMA states them on Cohen's d; give
SMDs, or rescale). Marginal likelihoods:

- no-bias, PET and PEESE models: mu integrated analytically (normal prior, normal likelihood),
  tau and b by tensor Gauss-Legendre quadrature on their prior CDF scale (InvGamma(1, s) has
  CDF exp(-s/tau), half-Cauchy (2/pi) atan(b/s), so the prior is uniform there), on 384
  panelled nodes per dimension: exact to the quadrature's error (checked against scipy's
  adaptive ``nquad`` in the tests);
- weight-function models (2 to 5 parameters, the likelihood of each study divided by its
  probability of publication): importance sampling from a multivariate t (5 df) at the
  posterior mode with the inverse Hessian as scale, on the unconstrained scale (mu, log tau,
  the ordered omegas by a stick-breaking logit), with scrambled-Sobol draws; its Monte Carlo
  standard error (delta method on the log) is reported per model.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
from scipy import optimize, special
from scipy.stats import chi2, qmc

from .model_averaging_record import BmaModel, ModelAveraging

EFFECT_SD = 1.0
TAU_SHAPE, TAU_SCALE = 1.0, 0.15
PET_SCALE, PEESE_SCALE = 1.0, 5.0
#: the priors in words, as results.json records them
PRIORS = {"effect": f"Normal(0, {EFFECT_SD:g})", "heterogeneity": f"InvGamma({TAU_SHAPE:g}, {TAU_SCALE:g}) on tau",
          "weight_functions": "cumulative Dirichlet(1, ..., 1) on the omegas of each weight function",
          "pet": f"Cauchy(0, {PET_SCALE:g}) on (0, inf)", "peese": f"Cauchy(0, {PEESE_SCALE:g}) on (0, inf)",
          "model_probabilities": "1/2 effect, 1/2 heterogeneity, 1/2 bias (1/12 per weight function, "
                                 "1/4 PET, 1/4 PEESE)"}
WEIGHT_FUNCTIONS = (("two.sided", (0.05,)), ("two.sided", (0.05, 0.10)), ("one.sided", (0.05,)),
                    ("one.sided", (0.025, 0.05)), ("one.sided", (0.05, 0.5)), ("one.sided", (0.025, 0.05, 0.5)))
_LOG2PI = np.log(2 * np.pi)


def _gl(n_panels=48, order=8):
    x, w = np.polynomial.legendre.leggauss(order)
    edges = np.linspace(0, 1, n_panels + 1)
    a, b = edges[:-1, None], edges[1:, None]
    return ((b - a) / 2 * x + (a + b) / 2).ravel(), ((b - a) / 2 * w).ravel()


def _logsumexp_weighted(logf, w):
    m = np.max(logf)
    return float(m + np.log(np.sum(w * np.exp(logf - m)))) if np.isfinite(m) else -np.inf


# --------------------------------------------------------------------------- normal models
def normal_model(y, v, *, effect, heterogeneity, bias, nodes=_gl(), mixture=False):
    """log marginal likelihood and the posterior mean and variance of mu of a no-bias, PET or
    PEESE model: y_i ~ N(mu + b x_i, v_i + tau^2) with mu ~ N(0, EFFECT_SD^2) integrated
    analytically (or mu = 0), tau and b by quadrature on their prior-CDF scale, where the prior
    is uniform. The sums over studies are taken once per tau and expanded in b. With
    ``mixture`` also the posterior of mu as a mixture of normals (one per node, see
    :func:`mixture_quantiles`)."""
    u, wu = nodes
    tau = -TAU_SCALE / np.log(u) if heterogeneity else np.zeros(1)
    wt = wu if heterogeneity else np.ones(1)
    if bias == "none":
        b, wb, x = np.zeros(1), np.ones(1), np.zeros_like(y)
    else:
        scale, x = (PET_SCALE, np.sqrt(v)) if bias == "PET" else (PEESE_SCALE, v)
        b, wb = scale * np.tan(np.pi * u / 2), wu
    s2 = v[None, :] + tau[:, None] ** 2
    w = 1 / s2
    base = -0.5 * np.sum(_LOG2PI + np.log(s2), axis=1)[:, None]
    sw, swy, swx = w.sum(1)[:, None], (w @ y)[:, None], (w @ x)[:, None]
    swy2, swxy, swx2 = (w @ (y * y))[:, None], (w @ (x * y))[:, None], (w @ (x * x))[:, None]
    B = b[None, :]
    swr, swr2 = swy - B * swx, swy2 - 2 * B * swxy + B * B * swx2  # r = y - b x
    if effect:
        prec = sw + 1 / EFFECT_SD ** 2
        mean, var = swr / prec, 1 / prec + 0 * B
        logml = base - 0.5 * (swr2 - swr ** 2 / prec) - 0.5 * np.log(EFFECT_SD ** 2 * prec)
    else:
        mean, var = np.zeros_like(swr), np.zeros_like(swr)
        logml = base - 0.5 * swr2
    wgt = wt[:, None] * wb[None, :]
    total = _logsumexp_weighted(logml, wgt)
    post = wgt * np.exp(logml - total)
    m1 = float(np.sum(post * mean))
    m2 = float(np.sum(post * (var + mean ** 2)))
    out = (total, 0.0, m1, max(m2 - m1 * m1, 0.0))
    if not mixture:
        return out
    if not effect:
        return out + (("point",),)
    keep = post > 1e-15 * post.max()  # nodes below this carry no visible probability
    return out + (("normal", mean[keep], np.sqrt(var[keep]), post[keep] / post[keep].sum()),)


# --------------------------------------------------------------------------- weight functions
def _pvals(y, v, sided):
    z = y / np.sqrt(v)
    return 2 * special.ndtr(-np.abs(z)) if sided == "two.sided" else special.ndtr(-z)


def _interval_probs(mu, tau, v, sided, steps):
    """P(p in interval j) for each draw (rows) and study (columns), intervals from the most
    significant; y ~ N(mu, v + tau^2)."""
    s = np.sqrt(v[None, :] + tau[:, None] ** 2)
    sv = np.sqrt(v)[None, :]
    cum = [np.zeros_like(s)]
    for c in steps:
        if sided == "two.sided":
            t = sv * special.ndtri(1 - c / 2)
            cum.append(special.ndtr((mu[:, None] - t) / s) + special.ndtr((-t - mu[:, None]) / s))
        else:
            cum.append(special.ndtr((mu[:, None] - sv * special.ndtri(1 - c)) / s))
    cum.append(np.ones_like(s))
    return np.diff(np.stack(cum, axis=-1), axis=-1)


def _omega(x):
    """Unconstrained x (n, J-1) -> omegas (n, J), non-increasing from omega_1 = 1, with the log
    Jacobian and the log prior (cumulative Dirichlet(1, ..., 1): (J-1)! on the ordered region)."""
    logq = -np.logaddexp(0, -x)  # log q_j, q = expit(x): each omega_{j+1} = q_j * omega_j
    cum = np.cumsum(logq, axis=1)
    om = np.concatenate([np.ones((len(x), 1)), np.exp(cum)], axis=1)
    # d omega_{j+1} / d x_j = omega_{j+1} (1 - q_j), triangular
    logjac = np.sum(cum - np.logaddexp(0, x), axis=1)  # log(1 - q) = log expit(-x)
    logprior = special.gammaln(x.shape[1] + 1)
    return om, logjac + logprior


def _wf_logpost(theta, y, v, sided, steps, effect, heterogeneity, groups):
    """log (likelihood x prior x Jacobian) on the unconstrained scale, rows of theta."""
    theta = np.atleast_2d(theta)
    i = 0
    mu = theta[:, i] if effect else np.zeros(len(theta))
    i += int(effect)
    if heterogeneity:
        lt = theta[:, i]
        tau = np.exp(lt)
        # InvGamma(shape 1, scale s) on tau, times the Jacobian tau of tau = exp(lt)
        lp_tau = np.log(TAU_SCALE) - 2 * lt - TAU_SCALE / tau + lt
        i += 1
    else:
        tau, lp_tau = np.zeros(len(theta)), 0.0
    om, lp_om = _omega(theta[:, i:])
    lp_mu = -0.5 * (_LOG2PI + 2 * np.log(EFFECT_SD) + (mu / EFFECT_SD) ** 2) if effect else 0.0
    s2 = v[None, :] + tau[:, None] ** 2
    lognorm = -0.5 * (_LOG2PI + np.log(s2) + (y[None, :] - mu[:, None]) ** 2 / s2)
    probs = _interval_probs(mu, tau, v, sided, steps)
    area = np.einsum("nkj,nj->nk", probs, om)
    ll = np.sum(np.log(om[:, groups]) + lognorm - np.log(area), axis=1)
    return ll + lp_mu + lp_tau + lp_om


def weight_function_model(y, v, sided, steps, *, effect, heterogeneity, n_draws=4096, seed=20231,
                          mixture=False):
    """log marginal likelihood (with its Monte Carlo SE) and the posterior mean and variance of
    mu of a weight-function model, by importance sampling from a t at the posterior mode; with
    ``mixture`` also the weighted draws of mu (its posterior, see :func:`mixture_quantiles`)."""
    groups = np.searchsorted(np.asarray(steps), _pvals(y, v, sided), side="left")
    dim = int(effect) + int(heterogeneity) + len(steps)
    f = lambda th: -_wf_logpost(th, y, v, sided, steps, effect, heterogeneity, groups)[0]  # noqa: E731
    start = np.r_[([np.average(y, weights=1 / v)] if effect else []), ([np.log(0.1)] if heterogeneity else []),
                  np.zeros(len(steps))]
    opt = optimize.minimize(f, start, method="BFGS", options={"gtol": 1e-6})
    cov = np.asarray(opt.hess_inv)  # BFGS's inverse-Hessian: the proposal's shape (IS corrects it)
    try:
        np.linalg.cholesky(cov)
    except np.linalg.LinAlgError:
        cov = np.eye(dim)
    cov = cov * 1.5 ** 2  # a wider proposal: heavier than the posterior in every direction
    chol = np.linalg.cholesky(cov)
    df = 5.0
    sob = qmc.Sobol(dim + 1, scramble=True, seed=seed).random(n_draws)
    sob = np.clip(sob, 1e-12, 1 - 1e-12)
    z = special.ndtri(sob[:, :dim])
    chi = chi2.ppf(sob[:, dim], df)
    draws = opt.x + (z * np.sqrt(df / chi)[:, None]) @ chol.T
    # multivariate t log density
    dev = np.linalg.solve(chol, (draws - opt.x).T).T
    logq = (special.gammaln((df + dim) / 2) - special.gammaln(df / 2) - dim / 2 * np.log(df * np.pi)
            - np.sum(np.log(np.diag(chol))) - (df + dim) / 2 * np.log1p(np.sum(dev ** 2, 1) / df))
    logp = _wf_logpost(draws, y, v, sided, steps, effect, heterogeneity, groups)
    logw = logp - logq
    logw[~np.isfinite(logw)] = -np.inf
    m = np.max(logw)
    w = np.exp(logw - m)
    mean_w = w.mean()
    logml = float(m + np.log(mean_w))
    se = float(np.std(w, ddof=1) / np.sqrt(n_draws) / mean_w)  # SE of log(mean) by the delta method
    mu = draws[:, 0] if effect else np.zeros(n_draws)
    pw = w / w.sum()
    m1 = float(np.sum(pw * mu))
    out = (logml, se, m1, float(np.sum(pw * (mu - m1) ** 2)))
    if not mixture:
        return out
    return out + ((("draws", mu, pw) if effect else ("point",)),)


# --------------------------------------------------------------------------- averaged posterior
def _component_cdf(part, x):
    """P(mu <= x) of one model's posterior (``part`` as returned with ``mixture=True``)."""
    if part[0] == "point":
        return float(x >= 0)
    if part[0] == "normal":
        _, mean, sd, w = part
        return float(np.sum(w * special.ndtr((x - mean) / sd)))
    _, draws, w = part
    return float(np.sum(w[draws <= x]))


def mixture_cdf(parts, post, x):
    """P(mu <= x) under the model-averaged posterior sum_m post_m p_m(mu)."""
    return sum(p * _component_cdf(part, x) for part, p in zip(parts, np.asarray(post, float)) if p > 0)


def mixture_quantiles(parts, post, probs=(0.025, 0.5, 0.975)):
    """Quantiles of the model-averaged posterior of mu: the mixture sum_m post_m p_m(mu), where
    p_m is a point mass at 0 (null models), a mixture of normals (quadrature models) or weighted
    draws (weight-function models). The quantile is inf{x: F(x) >= q}, so it is exactly 0 when
    q falls in the jump of the point mass, as RoBMA's sample quantiles are."""
    cdf = lambda x: mixture_cdf(parts, post, x)  # noqa: E731
    lo, hi = -1.0, 1.0
    for _ in range(60):  # widen the bracket until it holds all but a sliver of the tails
        if cdf(lo) <= min(probs) * 1e-3:
            break
        lo *= 2
    for _ in range(60):
        if cdf(hi) >= 1 - (1 - max(probs)) * 1e-3:
            break
        hi *= 2
    out = []
    for q in probs:
        if cdf(-1e-300) < q <= cdf(0.0):  # q inside the point mass at zero (or an atom at zero)
            out.append(0.0)
            continue
        a, b = lo, hi
        for _ in range(200):  # bisection: the weighted-draw CDF is a step function
            m = 0.5 * (a + b)
            if cdf(m) >= q:
                b = m
            else:
                a = m
            if b - a < 1e-10:
                break
        out.append(float(b))
    return out


# --------------------------------------------------------------------------- the ensemble
def _prior_bias():
    out = [("none", None, 0.5)]
    out += [(f"weightfunction {sided} ({', '.join(f'{s:g}' for s in steps)})", (sided, steps), 0.5 / 12)
            for sided, steps in WEIGHT_FUNCTIONS]
    return out + [("PET", None, 0.5 / 4), ("PEESE", None, 0.5 / 4)]


def run(ctx, params) -> ModelAveraging | None:
    from ..errors import MetakError

    tab = ctx.table
    y, v = np.asarray(tab.yi, float), np.asarray(tab.vi, float)
    keep = np.isfinite(y) & np.isfinite(v) & (v > 0)
    if keep.sum() < 2:
        ctx.warnings.append(f"bayesian_model_averaging not run: k = {int(keep.sum())} < 2")
        return None
    try:
        return model_averaging(y[keep], v[keep], n_draws=int(params.get("draws") or 4096),
                               seed=int(params.get("seed") or 20231))
    except (MetakError, FloatingPointError, np.linalg.LinAlgError) as err:
        ctx.warnings.append(f"bayesian_model_averaging not run: {err}")
        return None


def model_averaging(y, v, *, n_draws=4096, seed=20231) -> ModelAveraging:
    """The 36-model RoBMA-PSMA ensemble on effects ``y`` with sampling variances ``v``."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    models, parts = _ensemble(y, v, n_draws, seed)
    res = ModelAveraging.from_models(models, k=len(y), priors=PRIORS)
    lb, med, ub = mixture_quantiles(parts, [m.posterior_prob for m in res.models])
    return replace(res, median=med, ci_lb=lb, ci_ub=ub)


def _ensemble(y, v, n_draws, seed):
    """The 36 models (posterior probabilities not yet set) and their posteriors of mu."""
    models, parts = [], []
    for effect in (False, True):
        for het in (False, True):
            for bias, wf, prior in _prior_bias():
                if wf is None:
                    logml, se, m1, var, part = normal_model(y, v, effect=effect, heterogeneity=het, bias=bias,
                                                            mixture=True)
                else:
                    logml, se, m1, var, part = weight_function_model(y, v, *wf, effect=effect, heterogeneity=het,
                                                                     n_draws=n_draws, seed=seed, mixture=True)
                parts.append(part)
                models.append(BmaModel(effect=effect, heterogeneity=het, bias=bias, prior_prob=0.25 * prior,
                                       log_marglik=logml, log_marglik_se=se, posterior_prob=float("nan"),
                                       mu_mean=m1, mu_sd=float(np.sqrt(var))))
    return models, parts


def robma_cohens_d_scale(d, se):
    """Cohen's d and its SE -> the scale RoBMA 2.x fits with its default priors on d: RoBMA turns
    d into Fisher's z (z = atanh(d / sqrt(d^2 + 4)), se_z = 1 / sqrt(n - 3) with
    n = (d^2 + 8) / (2 se^2)) and scales its d priors to z linearly (mu_z = mu_d / 2, tau_z =
    tau_d / 2, PEESE_z = 2 PEESE_d, PET unchanged). Fitting y = 2 z, v = (2 se_z)^2 with the
    priors on d is the same model (the Jacobian 2^k cancels in every ratio of marginal
    likelihoods, and p-values are unchanged), and mu is then on d's scale as RoBMA reports it."""
    d, se = np.asarray(d, float), np.asarray(se, float)
    n = (d ** 2 + 8) / (2 * se ** 2)
    return 2 * np.arctanh(d / np.sqrt(d ** 2 + 4)), 4 / (n - 3)

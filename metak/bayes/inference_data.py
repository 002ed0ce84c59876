"""Draws from the exact posterior of the normal-normal model, as ArviZ ``InferenceData``.

The exact engine (:mod:`metak.bayes.exact`) represents the posterior by quadrature; for
tools that want draws (ArviZ plots and summaries, posterior predictive checks) this draws an
independent sample from it, with no Markov chain:

* tau by inversion of its exact posterior CDF (:meth:`ExactPosterior.tau_quantiles` at
  uniform draws, the interpolating polynomial of the quadrature panels);
* mu | tau, y from its closed-form conditional (normal under a normal or flat prior on mu;
  under a Student-t prior, a normal mixture over the prior's scale-mixing nodes, whose
  component is drawn first);
* each study's true effect theta_i | mu, tau, y ~ Normal(b y_i + (1 - b) mu, b v_i) with
  b = tau² / (v_i + tau²).

The draws are independent, so ``chains`` only splits them for ArviZ's diagnostics. ArviZ
is imported here only.
"""

from __future__ import annotations

import numpy as np

from .exact import exact_posterior
from .likelihood import _Conditional


def posterior_draws(y, v, mu_prior, tau_prior, *, draws: int = 4000, seed=None, posterior=None) -> dict:
    """Independent draws of ``mu``, ``tau`` and ``theta`` (draws x k) from the exact posterior.

    Examples
    --------
    >>> from metak.bayes import Normal, HalfNormal
    >>> d = posterior_draws([0.1, 0.5, 0.3], [0.01, 0.02, 0.03], Normal(0, 10), HalfNormal(0.5),
    ...                     draws=5, seed=1)
    >>> sorted(d), d["theta"].shape
    (['mu', 'tau', 'theta'], (5, 3))
    """
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    if int(draws) < 1:
        raise ValueError(f"draws must be at least 1, got {draws!r}")
    post = posterior if posterior is not None else exact_posterior(y, v, mu_prior, tau_prior)
    rng = np.random.default_rng(seed)
    u = rng.random(int(draws))
    tau = np.asarray(post.tau_quantiles(u), float)
    cond = _Conditional(y, v, mu_prior)
    _, lw, mean, var = cond.log_marginal(tau)          # (n, L): the mixing components given tau
    if lw.shape[1] > 1:
        p = np.exp(lw - lw.max(axis=1, keepdims=True))
        cum = np.cumsum(p / p.sum(axis=1, keepdims=True), axis=1)
        j = np.minimum((cum < rng.random(len(tau))[:, None]).sum(axis=1), lw.shape[1] - 1)
    else:
        j = np.zeros(len(tau), int)
    rows = np.arange(len(tau))
    mu = mean[rows, j] + np.sqrt(var[rows, j]) * rng.standard_normal(len(tau))
    t2 = tau[:, None] ** 2
    b = t2 / (v[None, :] + t2)
    theta = b * y[None, :] + (1 - b) * mu[:, None] + np.sqrt(b * v[None, :]) * rng.standard_normal((len(tau), len(y)))
    return {"mu": mu, "tau": tau, "theta": theta}


def to_inference_data(y, v, mu_prior, tau_prior, *, draws: int = 4000, chains: int = 4, seed=None,
                      labels=None, posterior=None):
    """The exact posterior as ``arviz.InferenceData``: ``posterior`` with ``mu``, ``tau`` and
    ``theta`` (dimension ``study``), ``observed_data`` with ``y`` and ``constant_data`` with
    ``v``. ``draws`` in total, split into ``chains`` (independent draws, see the module notes).

    Parameters
    ----------
    y, v : array_like
        Effects on the analysis scale and their sampling variances.
    mu_prior, tau_prior
        Priors of :mod:`metak.bayes.priors` (e.g. ``spec.mu_prior`` of a parsed ``bayes:`` block).
    draws, chains : int
        Total draws and how many chains they are split into (``draws`` is rounded down to a
        multiple of ``chains``).
    seed : int, optional
        Seed of numpy's default generator.
    labels : list of str, optional
        Study names for the ``study`` coordinate.
    posterior : ExactPosterior, optional
        An already computed :func:`metak.bayes.exact.exact_posterior` of the same data and priors.

    Examples
    --------
    >>> from metak.bayes import Normal, HalfNormal
    >>> idata = to_inference_data([0.1, 0.5, 0.3], [0.01, 0.02, 0.03], Normal(0, 10), HalfNormal(0.5),
    ...                           draws=400, chains=2, seed=1)
    >>> dict(idata.posterior.sizes)
    {'chain': 2, 'draw': 200, 'study': 3}
    """
    import arviz as az

    chains = int(chains)
    per = int(draws) // chains
    if per < 1:
        raise ValueError(f"draws ({draws}) must be at least chains ({chains})")
    d = posterior_draws(y, v, mu_prior, tau_prior, draws=per * chains, seed=seed, posterior=posterior)
    k = len(np.asarray(y))
    labels = list(labels) if labels is not None else [f"s{i}" for i in range(k)]
    post = {"mu": d["mu"].reshape(chains, per), "tau": d["tau"].reshape(chains, per),
            "theta": d["theta"].reshape(chains, per, k)}
    return az.from_dict(posterior=post, observed_data={"y": np.asarray(y, float)},
                        constant_data={"v": np.asarray(v, float)},
                        coords={"study": labels}, dims={"theta": ["study"], "y": ["study"], "v": ["study"]})

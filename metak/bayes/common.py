"""What the Bayesian engines share: the benefit probability, and the exact engine's summary of
a posterior and its prior-sensitivity refit (used by ``fit.py``, ``mcmc.py`` for a normal
likelihood, and the blinding analysis's Bayesian bias model)."""

from __future__ import annotations

import math

import numpy as np

from .exact import ExactPosterior, exact_posterior

__all__ = ["benefit_prob", "summary_exact", "sensitivity_exact"]


def benefit_prob(cdf_at, direction):
    """P(effect beyond ``value`` in the benefit direction) from a CDF value."""
    return 1.0 - cdf_at if direction == "higher_is_better" else cdf_at


def summary_exact(post: ExactPosterior, level: float, warnings: list, what: str) -> tuple[dict, dict]:
    alpha = 1.0 - level
    probs = [alpha / 2, 0.5, 1 - alpha / 2]

    def block(m1, m2, q, name):
        sd = None
        if m1 is not None and m2 is not None:
            sd = math.sqrt(max(m2 - m1 * m1, 0.0))
        if m1 is None:
            warnings.append(f"{what}posterior mean of {name} is undefined (infinite) under this prior and k")
        if sd is None:
            warnings.append(f"{what}posterior SD of {name} is undefined (infinite) under this prior and k")
        return {"mean": m1, "sd": sd, "median": float(q[1]), "ci_lower": float(q[0]), "ci_upper": float(q[2])}

    mu = block(post.mu_moment(1), post.mu_moment(2), post.mu_quantiles(probs), "mu")
    tau = block(post.tau_moment(1), post.tau_moment(2), post.tau_quantiles(probs), "tau")
    return mu, tau


def sensitivity_exact(y, v, mu_prior, tau_prior, level, direction, warnings, V=None, groups=None) -> dict:
    """The exact posterior of mu and tau under ``mu_prior`` and ``tau_prior``: its summaries,
    predictive interval and P(benefit) (one entry of ``prior_sensitivity``)."""
    alpha = 1.0 - level
    post = exact_posterior(y, v, mu_prior, tau_prior, V=V, groups=groups)
    mu, tau = summary_exact(post, level, warnings, f"prior sensitivity ({tau_prior!r}): ")
    pq = post.predictive_quantiles([alpha / 2, 1 - alpha / 2])
    cdf0 = float(post.mu_cdf(np.array([0.0]))[0])
    return {"prior": repr(tau_prior), "method": "exact", "mu": mu, "tau": tau,
            "predictive": {"ci_lower": float(pq[0]), "ci_upper": float(pq[1])},
            "prob_benefit": benefit_prob(cdf0, direction)}

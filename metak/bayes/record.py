"""The ``bayes`` object of results.json as a record: its fields generate the schema fragment
(:mod:`metak.schema.generate`, the registry's ``record``) and :func:`metak.schema.record.from_dict`
checks a written object against it (tests/test_protocol.py).

:class:`metak.bayes.fit.BayesResult` is what the Bayesian block returns (a record that also
reads as a mapping); this record declares the same keys with their types. Parts whose contents
the engines vary (the prior's description, the thresholds, the shrunken estimates, the prior
sensitivity fits, the Bayes factors, the grid) are objects or arrays left undescribed.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, between, enum, optional


@dataclass(frozen=True)
class PosteriorSummary:
    """The posterior of mu or tau: mean, SD, median and the equal-tailed credible interval."""

    mean: float | None
    sd: float | None
    median: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True)
class PredictiveInterval:
    """The predictive interval of a new trial's effect."""

    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Diagnostics:
    """MCMC diagnostics (null for the exact engine) and, for the exact engine, the quadrature's."""

    rhat_max: float | None
    ess_bulk_min: float | None
    ess_tail_min: float | None = optional()
    divergences: int | None
    quadrature_panels: int | None = optional()
    quadrature_converged: bool | None = optional()
    mcse: dict = optional()  # {mu_mean: ..., tau_sd: ...}: Monte Carlo standard errors (MCMC)
    sampler: str = optional()  # the MCMC run: its sampler and settings
    chains: int = optional()
    draws: int = optional()
    tune: int = optional()
    seed: int | None = optional()
    target_accept: float = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BayesRecord:
    """The ``bayes`` object of a meta-analysis (docs/bayes.md); null when it has no ``bayes:``."""

    engine: str = enum("exact", "mcmc")
    likelihood: str = enum("normal", "binomial")
    level: float = between(0, 1)
    prior: dict  # the priors in words and which were defaults (metak.bayes.priors.describe_priors)
    mu: PosteriorSummary
    tau: PosteriorSummary
    predictive: PredictiveInterval
    prob_benefit: float | None = between(0, 1)
    prob_beyond: tuple  # P(mu beyond each threshold of the block): the block's own shapes
    shrunken: tuple  # each study's shrunken estimate
    log_marginal_likelihood: float | None
    bayes_factors: dict
    prior_sensitivity: tuple  # the fit under each alternative heterogeneity prior
    diagnostics: Diagnostics
    posterior_file: str = optional()
    posterior_grid: dict = optional()  # densities on grids, for the figures
    warnings: tuple[str, ...]

    to_dict = as_dict

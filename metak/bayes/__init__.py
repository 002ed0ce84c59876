"""Bayesian random-effects meta-analysis.

``parse_bayes_spec`` checks a spec's ``bayes:`` block; ``fit_bayes`` fits it with the exact
quadrature engine (normal likelihood; no PyMC) or the PyMC engine (binomial likelihood,
priors the exact engine cannot take, or ``engine: mcmc``).  See docs/bayes.md.
"""

from .fit import describe_priors, fit_bayes
from .prior_presets import preset_prior
from .priors import (Exponential, HalfCauchy, HalfNormal, HalfStudentT, LogNormal, LogStudentT,
                     Normal, StudentT, Uniform)
from .spec import BayesSpec, parse_bayes_spec
from .table import side_by_side

__all__ = [
    "parse_bayes_spec", "fit_bayes", "BayesSpec", "describe_priors", "side_by_side",
    "Normal", "StudentT", "Uniform", "HalfNormal", "HalfCauchy", "HalfStudentT", "Exponential",
    "LogNormal", "LogStudentT", "preset_prior",
]

"""Prior distributions for the random-effects model, as plain frozen objects.

Priors know nothing about any sampling backend (as in bambi): each one is a frozen
dataclass with a readable ``repr``, a ``to_dict`` that round-trips through the YAML
parser, and the numpy/scipy functions the exact engine needs.  ``metak.bayes.mcmc``
translates them into PyMC distributions; it is the only module that imports PyMC.

Two families of priors act on the heterogeneity:

* priors on ``tau`` (the between-study standard deviation): :class:`HalfNormal`,
  :class:`HalfCauchy`, :class:`HalfStudentT`, :class:`Uniform` (bounded), :class:`Exponential`;
* priors on ``tau^2`` (given under ``tau2:`` in the spec): :class:`LogNormal` and
  :class:`LogStudentT`, i.e. ``log(tau^2)`` is normal or Student-t.  Their density on ``tau``
  includes the Jacobian of ``tau -> tau^2``, ``p_tau(t) = p_{tau2}(t^2) * 2 t``, and the
  density of ``log tau^2`` at ``2 log t`` times ``2 / t`` for the log-scale forms.

Every tau prior exposes ``tau_from_x(x)``, the prior quantile function evaluated at
``u = expit(x)`` (with ``1 - u = expit(-x)`` computed separately so both tails keep full
relative precision); the exact engine integrates over ``x`` (see ``exact.py``).

The named presets and the YAML names of these distributions are in
:mod:`metak.bayes.prior_presets`.

References
----------
Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT (2015). Predictive distributions for
between-study heterogeneity and simple methods for their application in Bayesian
meta-analysis. Stat Med 34:984-998.
Rhodes KM, Turner RM, Higgins JPT (2015). Predictive distributions were developed for the
extent of heterogeneity in meta-analyses of continuous outcome data. J Clin Epidemiol
68:52-60.
Röver C, Bender R, Dias S, et al. (2021). On weakly informative prior distributions for the
heterogeneity parameter in Bayesian random-effects meta-analysis. Res Synth Methods
12:448-474.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np
from scipy import special, stats

__all__ = [
    "Normal", "StudentT", "Uniform", "HalfNormal", "HalfCauchy", "HalfStudentT",
    "Exponential", "LogNormal", "LogStudentT",
]


def _fmt(value: float) -> str:
    """Short, exact-enough number formatting for reprs (``0.5``, ``-2.56``, ``10``)."""
    return f"{value:g}"


class _Prior:
    """Shared behaviour: repr from the parameters, ``to_dict`` for the YAML form."""

    dist: str = ""          # the YAML name, e.g. "half_normal"
    on: str = "mu"          # "mu", "tau" or "tau2"

    def _params(self) -> dict:
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}

    def __repr__(self) -> str:
        inner = ", ".join(f"{k}={_fmt(v)}" for k, v in self._params().items())
        text = f"{type(self).__name__}({inner})"
        if self.on == "tau2":
            text += " on tau^2"
        source = getattr(self, "source", None)
        if source:
            text += f" [{source}]"
        return text

    def to_dict(self) -> dict:
        """The spec mapping that parses back to this prior (presets keep their name)."""
        preset = getattr(self, "preset", None)
        if preset is not None:
            return {"preset": preset[0], "outcome": preset[1]}
        return {"dist": self.dist, **{k: float(v) for k, v in self._params().items()}}


# --------------------------------------------------------------------------- mu priors

@dataclass(frozen=True, repr=False)
class Normal(_Prior):
    """Normal(mu, sigma) prior on the mean effect (analysis scale)."""

    mu: float = 0.0
    sigma: float = 10.0
    dist = "normal"

    def logpdf(self, x):
        return stats.norm.logpdf(x, self.mu, self.sigma)


@dataclass(frozen=True, repr=False)
class StudentT(_Prior):
    """Student-t(nu, mu, sigma) prior on the mean effect.

    The exact engine writes it as a scale mixture of normals,
    ``mu | lam ~ Normal(mu, sigma^2 / lam)``, ``lam ~ Gamma(nu/2, rate=nu/2)``.
    """

    nu: float = 3.0
    mu: float = 0.0
    sigma: float = 1.0
    dist = "student_t"

    def logpdf(self, x):
        return stats.t.logpdf(x, self.nu, self.mu, self.sigma)


@dataclass(frozen=True, repr=False)
class Uniform(_Prior):
    """Uniform(lower, upper).  For mu with no bounds it is the improper flat prior.

    For tau it needs a finite ``upper``; ``lower`` defaults to 0.
    """

    lower: float = -math.inf
    upper: float = math.inf
    on: str = "mu"
    dist = "uniform"

    def _params(self) -> dict:
        return {k: v for k, v in (("lower", self.lower), ("upper", self.upper)) if math.isfinite(v)}

    def __repr__(self) -> str:
        if self.is_flat:
            return "Flat()"
        return super().__repr__()

    @property
    def is_flat(self) -> bool:
        return not (math.isfinite(self.lower) or math.isfinite(self.upper))

    # tau-prior interface (bounded, 0 <= lower < upper < inf)
    tail_power = math.inf
    log_tail = False

    def logpdf(self, x):
        x = np.asarray(x, dtype=float)
        if self.is_flat:
            return np.zeros_like(x)
        inside = (x >= self.lower) & (x <= self.upper)
        return np.where(inside, -math.log(self.upper - self.lower), -np.inf)

    logpdf_tau = logpdf

    def cdf_tau(self, t):
        return np.clip((np.asarray(t, float) - self.lower) / (self.upper - self.lower), 0.0, 1.0)

    def logit_cdf_tau(self, t):
        t = np.clip(np.asarray(t, float), self.lower, self.upper)
        with np.errstate(divide="ignore"):
            return np.log(t - self.lower) - np.log(self.upper - t)

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        width = self.upper - self.lower
        return np.where(x < 0, self.lower + width * u, self.upper - width * uc)


# --------------------------------------------------------------------------- tau priors

class _TauPrior(_Prior):
    """A prior on tau (or on tau^2, mapped to tau).

    ``tail_power``: the density on tau falls like ``tau ** -tail_power`` (``inf`` for
    light tails); ``log_tail``: an extra ``(log tau) ** -(nu + 1)`` factor (log-t priors).
    Used to decide which posterior moments exist.
    """

    on = "tau"
    tail_power = math.inf
    log_tail = False

    def logpdf_tau(self, t):
        raise NotImplementedError

    def logit_cdf_tau(self, t):
        """``log F(t) - log(1 - F(t))`` with full precision in both tails."""
        raise NotImplementedError

    def tau_from_x(self, x):
        raise NotImplementedError

    def cdf_tau(self, t):
        return special.expit(self.logit_cdf_tau(t))


@dataclass(frozen=True, repr=False)
class HalfNormal(_TauPrior):
    """Half-normal prior on tau with scale ``sigma`` (Röver et al. 2021 suggest 0.5 for log-ORs)."""

    sigma: float = 0.5
    dist = "half_normal"

    def logpdf_tau(self, t):
        return stats.halfnorm.logpdf(t, scale=self.sigma)

    def logit_cdf_tau(self, t):
        z = np.asarray(t, float) / self.sigma
        with np.errstate(divide="ignore"):
            return stats.halfnorm.logcdf(z) - stats.halfnorm.logsf(z)

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        lo = math.sqrt(2.0) * special.erfinv(np.where(x < 0, u, 0.0))
        hi = math.sqrt(2.0) * special.erfcinv(np.where(x < 0, 1.0, uc))
        return self.sigma * np.where(x < 0, lo, hi)


@dataclass(frozen=True, repr=False)
class HalfCauchy(_TauPrior):
    """Half-Cauchy prior on tau with scale ``beta`` (PyMC's name)."""

    beta: float = 0.5
    dist = "half_cauchy"
    tail_power = 2.0

    def logpdf_tau(self, t):
        return stats.halfcauchy.logpdf(t, scale=self.beta)

    def logit_cdf_tau(self, t):
        # F = (2/pi) atan(z), 1 - F = (2/pi) atan(1/z): both accurate in their own tail.
        z = np.asarray(t, float) / self.beta
        with np.errstate(divide="ignore"):
            return np.log(np.arctan(z)) - np.log(np.arctan2(1.0, z))

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        with np.errstate(divide="ignore"):
            lo = np.tan(0.5 * math.pi * np.where(x < 0, u, 0.5))
            hi = 1.0 / np.tan(0.5 * math.pi * np.where(x < 0, 0.5, uc))
        return self.beta * np.where(x < 0, lo, hi)


@dataclass(frozen=True, repr=False)
class HalfStudentT(_TauPrior):
    """Half-Student-t prior on tau with ``nu`` degrees of freedom and scale ``sigma``."""

    nu: float = 3.0
    sigma: float = 0.5
    dist = "half_student_t"

    @property
    def tail_power(self) -> float:  # type: ignore[override]
        return self.nu + 1.0

    def logpdf_tau(self, t):
        return math.log(2.0) + stats.t.logpdf(t, self.nu, scale=self.sigma)

    def logit_cdf_tau(self, t):
        z = np.asarray(t, float) / self.sigma
        # F = 2 T(z) - 1 = 1 - 2 T(-z);  1 - F = 2 T(-z)
        sf2 = 2.0 * special.stdtr(self.nu, -z)
        with np.errstate(divide="ignore"):
            return np.log1p(-sf2) - np.log(sf2)

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        lo = special.stdtrit(self.nu, 0.5 + 0.5 * np.where(x < 0, u, 0.0))
        hi = -special.stdtrit(self.nu, 0.5 * np.where(x < 0, 1.0, uc))
        return self.sigma * np.where(x < 0, lo, hi)


@dataclass(frozen=True, repr=False)
class Exponential(_TauPrior):
    """Exponential prior on tau with rate ``lam`` (PyMC's name; mean 1/lam)."""

    lam: float = 1.0
    dist = "exponential"

    def logpdf_tau(self, t):
        return stats.expon.logpdf(t, scale=1.0 / self.lam)

    def logit_cdf_tau(self, t):
        z = np.asarray(t, float) * self.lam
        with np.errstate(divide="ignore"):
            return np.log(-np.expm1(-z)) + z

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        with np.errstate(divide="ignore"):
            lo = -np.log1p(-np.where(x < 0, u, 0.0))
            hi = -np.log(np.where(x < 0, 1.0, uc))
        return np.where(x < 0, lo, hi) / self.lam


@dataclass(frozen=True, repr=False)
class LogNormal(_TauPrior):
    """``log(tau^2) ~ Normal(mu, sigma)`` (Turner et al. 2015 use this form for log-ORs)."""

    mu: float = -2.56
    sigma: float = 1.74
    source: str | None = field(default=None, compare=False)
    preset: tuple | None = field(default=None, compare=False)
    dist = "log_normal"
    on = "tau2"

    def _params(self) -> dict:
        return {"mu": self.mu, "sigma": self.sigma}

    def logpdf_tau(self, t):
        t = np.asarray(t, float)
        pos = t > 0
        safe = np.where(pos, t, 1.0)
        s = 2.0 * np.log(safe)
        return np.where(pos, stats.norm.logpdf(s, self.mu, self.sigma) + math.log(2.0) - np.log(safe), -np.inf)

    def logit_cdf_tau(self, t):
        with np.errstate(divide="ignore"):
            z = (2.0 * np.log(np.asarray(t, float)) - self.mu) / self.sigma
        return special.log_ndtr(z) - special.log_ndtr(-z)

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        z = np.where(x < 0, special.ndtri(np.where(x < 0, u, 0.5)),
                     -special.ndtri(np.where(x < 0, 0.5, uc)))
        return np.exp(0.5 * (self.mu + self.sigma * z))


@dataclass(frozen=True, repr=False)
class LogStudentT(_TauPrior):
    """``log(tau^2) ~ Student-t(nu, mu, sigma)`` (Rhodes et al. 2015 use nu = 5 for SMDs)."""

    nu: float = 5.0
    mu: float = -3.44
    sigma: float = 2.59
    source: str | None = field(default=None, compare=False)
    preset: tuple | None = field(default=None, compare=False)
    dist = "log_t"
    on = "tau2"
    tail_power = 1.0
    log_tail = True

    def _params(self) -> dict:
        return {"nu": self.nu, "mu": self.mu, "sigma": self.sigma}

    def logpdf_tau(self, t):
        t = np.asarray(t, float)
        pos = t > 0
        safe = np.where(pos, t, 1.0)
        s = 2.0 * np.log(safe)
        return np.where(pos, stats.t.logpdf(s, self.nu, self.mu, self.sigma) + math.log(2.0) - np.log(safe), -np.inf)

    def logit_cdf_tau(self, t):
        with np.errstate(divide="ignore"):
            z = (2.0 * np.log(np.asarray(t, float)) - self.mu) / self.sigma
            lo, hi = special.stdtr(self.nu, z), special.stdtr(self.nu, -z)
            return np.log(lo) - np.log(hi)

    def tau_from_x(self, x):
        x = np.asarray(x, dtype=float)
        u, uc = special.expit(x), special.expit(-x)
        z = np.where(x < 0, special.stdtrit(self.nu, np.where(x < 0, u, 0.5)),
                     -special.stdtrit(self.nu, np.where(x < 0, 0.5, uc)))
        return np.exp(0.5 * (self.mu + self.sigma * z))

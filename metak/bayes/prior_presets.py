"""Named priors: the published heterogeneity presets (Turner et al. 2015 for log odds ratios,
Rhodes et al. 2015 for standardised mean differences) and the YAML names of the prior
distributions of :mod:`metak.bayes.priors` with their parameters, defaults and constraints
(the vocabulary :mod:`metak.bayes.spec` checks a ``bayes:`` block against)."""

from __future__ import annotations

from .priors import (Exponential, HalfCauchy, HalfNormal, HalfStudentT, LogNormal, LogStudentT, Normal, StudentT,
                     Uniform, _TauPrior)

__all__ = ["PRESETS", "preset_prior", "MU_DISTS", "TAU_DISTS", "TAU2_DISTS"]


# --------------------------------------------------------------------------- presets

# (measure the preset was derived for, {outcome: (location, scale)}, reference)
PRESETS: dict[str, tuple[str, dict[str, tuple[float, float]], str]] = {
    "turner2015": (
        "OR",
        {"all": (-2.56, 1.74), "withdrawals": (-2.99, 1.74),
         "mental_health": (-2.12, 1.53), "subjective": (-2.70, 1.52)},
        "Turner et al. 2015, Stat Med 34:984-998: log(tau^2) ~ Normal(location, scale) "
        "for log odds ratios",
    ),
    "rhodes2015": (
        "SMD",
        {"general": (-3.44, 2.59), "mental_health": (-2.99, 2.16)},
        "Rhodes et al. 2015, J Clin Epidemiol 68:52-60: log(tau^2) ~ t5(location, scale) "
        "for standardised mean differences",
    ),
}


def preset_prior(name: str, outcome: str) -> _TauPrior:
    """The tau^2 prior of a named preset (the caller has validated ``name`` and ``outcome``)."""
    _measure, table, _ref = PRESETS[name]
    loc, scale = table[outcome]
    source = f"{name}/{outcome}"
    if name == "turner2015":
        return LogNormal(mu=loc, sigma=scale, source=source, preset=(name, outcome))
    return LogStudentT(nu=5.0, mu=loc, sigma=scale, source=source, preset=(name, outcome))


# --------------------------------------------------------------------------- vocabularies

# YAML name -> (class, {parameter: (default or REQUIRED, constraint)})
REQUIRED = object()
_POS = "positive"
_ANY = "finite"

MU_DISTS = {
    "normal": (Normal, {"mu": (0.0, _ANY), "sigma": (REQUIRED, _POS)}),
    "student_t": (StudentT, {"nu": (REQUIRED, _POS), "mu": (0.0, _ANY), "sigma": (REQUIRED, _POS)}),
    "uniform": (Uniform, {"lower": (None, _ANY), "upper": (None, _ANY)}),
}
TAU_DISTS = {
    "half_normal": (HalfNormal, {"sigma": (REQUIRED, _POS)}),
    "half_cauchy": (HalfCauchy, {"beta": (REQUIRED, _POS)}),
    "half_student_t": (HalfStudentT, {"nu": (REQUIRED, _POS), "sigma": (REQUIRED, _POS)}),
    "uniform": (Uniform, {"lower": (0.0, _ANY), "upper": (REQUIRED, _POS)}),
    "exponential": (Exponential, {"lam": (REQUIRED, _POS)}),
}
TAU2_DISTS = {
    "log_normal": (LogNormal, {"mu": (REQUIRED, _ANY), "sigma": (REQUIRED, _POS)}),
    "log_t": (LogStudentT, {"nu": (5.0, _POS), "mu": (REQUIRED, _ANY), "sigma": (REQUIRED, _POS)}),
}

"""Parse one prior mapping of a ``bayes:`` block (``{dist: half_normal, sigma: 0.5}``, a bounded
or flat uniform, or a named ``preset``) into a prior of :mod:`metak.bayes.priors`, and the
warning when a preset was derived for another measure."""

from __future__ import annotations

from metak.errors import SpecValueError

from . import priors as P
from .checks import _check_keys, _hint, _mapping, _number
from .prior_presets import MU_DISTS, PRESETS, REQUIRED, TAU2_DISTS, TAU_DISTS, preset_prior

#: log(tau^2) priors (tau2: log_normal, log_t): their mean beyond +-100 puts tau beyond e^+-50
MAX_LOG_TAU2 = 100.0


def parse_prior(mapping, path, role):
    """Parse one prior mapping.

    ``role`` is ``"mu"``, ``"tau"``, ``"tau2"`` or ``"baseline"``; ``path`` is its key path.
    A ``preset`` mapping (``{preset: turner2015, outcome: mental_health}``) is accepted
    under ``tau`` and ``tau2``.
    """
    _mapping(mapping, path)
    if role in ("tau", "tau2") and "preset" in mapping:
        return _parse_preset(mapping, path)
    if "dist" not in mapping:
        raise SpecValueError(path, "needs 'dist' (or 'preset' for tau)" if role in ("tau", "tau2")
                             else "needs 'dist'")
    dist = mapping["dist"]
    if not isinstance(dist, str):
        raise SpecValueError(path + ("dist",), f"must be a distribution name, got {dist!r}")
    table = {"mu": MU_DISTS, "baseline": {"normal": MU_DISTS["normal"]},
             "tau": TAU_DISTS, "tau2": TAU2_DISTS}[role]
    if dist not in table:
        if role == "tau" and dist in TAU2_DISTS:
            raise SpecValueError(path + ("dist",), f"'{dist}' is a prior on tau^2: give it under tau2:")
        if role == "tau2" and dist in TAU_DISTS:
            raise SpecValueError(path + ("dist",), f"'{dist}' is a prior on tau: give it under tau:")
        raise SpecValueError(path + ("dist",), f"unknown distribution '{dist}' for {role}; "
                             f"{_hint(dist, list(table))}")
    cls, params = table[dist]
    _check_keys(mapping, ("dist",) + tuple(params), path)
    kwargs = {}
    for name, (default, constraint) in params.items():
        if name in mapping:
            kwargs[name] = _number(mapping[name], path + (name,), constraint)
        elif default is REQUIRED:
            raise SpecValueError(path + (name,), f"required for {dist}")
        elif default is not None:
            kwargs[name] = default
    if cls is P.Uniform:
        return _uniform(kwargs, mapping, path, role)
    if role == "tau2" and abs(kwargs.get("mu", 0.0)) > MAX_LOG_TAU2:
        raise SpecValueError(path + ("mu",), f"{kwargs['mu']:g} is implausibly large for the mean of log(tau^2) "
                             f"(more than {MAX_LOG_TAU2:g} in absolute value: tau beyond e^{MAX_LOG_TAU2 / 2:g})")
    return cls(**kwargs)


def _uniform(kwargs, mapping, path, role):
    if role == "mu":
        has_lo, has_hi = "lower" in mapping, "upper" in mapping
        if has_lo != has_hi:
            missing = "upper" if has_lo else "lower"
            raise SpecValueError(path + (missing,), "give both bounds, or neither for a flat prior")
        if not has_lo:
            return P.Uniform()
    lower, upper = kwargs["lower"], kwargs["upper"]
    if role == "tau" and lower < 0:
        raise SpecValueError(path + ("lower",), f"must be >= 0 for tau, got {lower:g}")
    if upper <= lower:
        raise SpecValueError(path + ("upper",), f"must be > lower ({lower:g}), got {upper:g}")
    return P.Uniform(lower=lower, upper=upper, on=role)


def _parse_preset(mapping, path):
    _check_keys(mapping, ("preset", "outcome"), path)
    name = mapping["preset"]
    if not isinstance(name, str) or name not in PRESETS:
        raise SpecValueError(path + ("preset",), f"unknown preset '{name}'; {_hint(name, list(PRESETS))}")
    outcomes = PRESETS[name][1]
    outcome = mapping.get("outcome", "all" if name == "turner2015" else "general")
    if not isinstance(outcome, str) or outcome not in outcomes:
        raise SpecValueError(path + ("outcome",),
                             f"unknown outcome '{outcome}' for {name}; {_hint(outcome, list(outcomes))}")
    return preset_prior(name, outcome)


def _tau_block(mapping, path):
    """``{tau: ...}`` or ``{tau2: ...}`` (exactly one) -> tau prior."""
    if "tau" in mapping and "tau2" in mapping:
        raise SpecValueError(path + ("tau2",), "give tau or tau2, not both")
    if "tau2" in mapping:
        return parse_prior(mapping["tau2"], path + ("tau2",), "tau2")
    return parse_prior(mapping["tau"], path + ("tau",), "tau")


def _preset_warning(prior, measure):
    preset = getattr(prior, "preset", None)
    if preset is None:
        return None
    meant_for = PRESETS[preset[0]][0]
    if measure != meant_for:
        return (f"prior preset {preset[0]} ({preset[1]}) was derived for {meant_for} "
                f"(log odds ratio)" if meant_for == "OR" else
                f"prior preset {preset[0]} ({preset[1]}) was derived for {meant_for}") + \
            f"; this analysis uses {measure}: its heterogeneity scale may not match"
    return None

"""Value checks of a ``bayes:`` block: known keys (with a "did you mean" hint), mappings,
finite numbers and integers within the plausibility limits below. Each raises
:class:`metak.errors.SpecValueError` with the key path of the bad value."""

from __future__ import annotations

import difflib
import math

from metak.errors import SpecValueError

from .prior_presets import _ANY, _POS


def _hint(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    allowed = ", ".join(str(c) for c in choices)
    if close:
        return f"did you mean '{close[0]}'? (allowed: {allowed})"
    return f"allowed: {allowed}"


def _check_keys(mapping, allowed, path):
    for key in mapping:
        if key not in allowed:
            raise SpecValueError(path + (key,), f"unknown key '{key}'; {_hint(key, allowed)}")


def _mapping(value, path, what="a mapping"):
    if not isinstance(value, dict):
        raise SpecValueError(path, f"must be {what}, got {type(value).__name__} {value!r}")
    return value


#: the largest magnitude of a prior parameter or threshold (as the trial records' cap on numbers)
MAX_ABS = 1e12
#: the smallest positive scale, rate or degrees of freedom of a prior: below it the prior is a
#: point mass the quadrature and the samplers cannot resolve (1e-300 ended in NaN or a crash)
MIN_POSITIVE = 1e-12
#: MCMC sizes: draws and tune per chain, chains, and every draw of every chain together
MAX_DRAWS = 1_000_000
MAX_TUNE = 1_000_000
MAX_CHAINS = 100
MAX_TOTAL_DRAWS = 10_000_000


def _number(value, path, constraint=_ANY):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecValueError(path, f"must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond a double
        raise SpecValueError(path, f"is implausibly large (more than {MAX_ABS:g} in absolute value)") from None
    if not math.isfinite(value):
        raise SpecValueError(path, f"must be finite, got {value!r}")
    if constraint == _POS and value <= 0:
        raise SpecValueError(path, f"must be > 0, got {value:g}")
    if abs(value) > MAX_ABS:
        raise SpecValueError(path, f"{value:g} is implausibly large (more than {MAX_ABS:g} in absolute value)")
    if constraint == _POS and value < MIN_POSITIVE:
        raise SpecValueError(path, f"{value:g} is implausibly small (less than {MIN_POSITIVE:g}; it must be > 0)")
    return value


def _integer(value, path, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecValueError(path, f"must be an integer, got {value!r}")
    if value < minimum:
        raise SpecValueError(path, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SpecValueError(path, f"{value:,} is implausibly large (more than {maximum:,})")
    return value

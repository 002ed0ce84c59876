"""Numbers for output, in one place: to the natural scale, NaN to null, fixed decimals.

Figures have their own typographic layer (``metak.plots._format``: the minus sign
U+2212, journal layouts) on top of :func:`fixed`; everything else — results.json, summary.csv, the terminal table,
``summary()`` printouts — formats through these functions.
"""

from __future__ import annotations

import math

import numpy as np

from .vocab import natural_of


class MeasureCode(str):
    """A measure code (``"PFT"``) that also carries what its back-transformation needs:
    ``n_harmonic``, the harmonic mean of the studies' sizes, for PFT (metafor's transf.ipft.hm)."""

    n_harmonic: float | None = None


def measure_of(ma) -> str:
    """The measure code of a results.json meta-analysis, carrying its ``n_harmonic`` (PFT)."""
    code = MeasureCode(ma.get("measure") or "")
    code.n_harmonic = ma.get("n_harmonic")
    return code


def harmonic_mean(ni) -> float:
    """1 / mean(1 / n) over the finite sizes (metafor's transf.ipft.hm)."""
    n = np.asarray(ni, dtype=float)
    n = n[np.isfinite(n)]
    return float(1 / np.mean(1 / n))


def _pft(p, n):
    x = p * n
    return 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))


def back_transform(kind: str, x, ni=None):
    """Analysis scale -> natural scale for arrays, as metafor's transf functions: ``exp``,
    ``expit`` (transf.ilogit), ``iarcsin`` (transf.iarcsin), ``ipft`` (transf.ipft.hm: the
    inverse Freeman-Tukey transformation at the harmonic mean ``ni``, one number or the
    studies' sizes), ``tanh`` (transf.ztor), ``""`` (none)."""
    from scipy import special

    x = np.asarray(x, dtype=float)
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if kind == "exp":
            return np.exp(x)
        if kind == "expit":
            return special.expit(x)
        if kind == "tanh":
            return np.tanh(x)
        if kind == "iarcsin":
            return np.where(x < 0, 0.0, np.where(x > np.pi / 2, 1.0, np.sin(x) ** 2))
        if kind == "ipft":
            if ni is None:
                from .errors import MetakError

                raise MetakError("the inverse Freeman-Tukey transformation needs the studies' sizes (their "
                                 "harmonic mean, as metafor's transf.ipft.hm)")
            nhm = harmonic_mean(np.atleast_1d(ni))
            s2 = np.sin(2 * x)
            z = 0.5 * (1 - np.sign(np.cos(2 * x)) * np.sqrt(1 - (s2 + (s2 - 1 / s2) / nhm) ** 2))
            return np.where(x > _pft(1.0, nhm), 1.0, np.where(x < _pft(0.0, nhm), 0.0, z))
        return x


def to_natural(measure, x, ni=None):
    """Analysis scale -> natural scale (exp for ratio measures, the inverse logit / arcsine /
    Freeman-Tukey for proportions, tanh for Fisher's z); None stays None. PFT needs ``ni`` (the
    sizes or their harmonic mean), else the code's ``n_harmonic`` (:func:`measure_of`); without
    either it gives None. A missing value (None, NaN, infinite) stays missing (None): figures,
    report and terminal all back-transform through this one function."""
    if is_missing(x):
        return None
    kind = natural_of(str(measure))
    if kind == "exp":
        return math.exp(x) if x < 709.0 else None  # beyond that exp overflows a double
    if not kind:
        return x
    if kind == "ipft" and ni is None:
        ni = getattr(measure, "n_harmonic", None)
        if ni is None:  # a bare "PFT": the sizes are unknown, so the proportion is too
            return None
    y = float(back_transform(kind, [x], ni)[0])
    return y if math.isfinite(y) else None


def clean(x):
    """A JSON-ready number: plain float/int/bool, None for NaN/inf/None."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


def clean_pair(pair):
    """A CI pair for JSON: [lower, upper], or None when both are undefined."""
    if pair is None:
        return None
    a, b = clean(pair[0]), clean(pair[1])
    return None if a is None and b is None else [a, b]


def as_floats(x, name: str):
    """``x`` as a float array, or a plain MetakError saying what ``name`` must be (for the
    Python API: ``fit(df, "vi")`` must not end in a NumPy traceback)."""
    from .errors import MetakError

    if isinstance(x, str) or (hasattr(x, "columns") and hasattr(x, "iloc")):
        kind = "a column name" if isinstance(x, str) else "a DataFrame"
        raise MetakError(f"{name} must be numbers (a list or array of floats), not {kind}; "
                         f"for a DataFrame pass df['{name}'] or use metak.escalc")
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError) as exc:
        raise MetakError(f"{name} must be numbers (a list or array of floats): {exc}") from None


def is_missing(x) -> bool:
    """True for None and for non-finite floats (the results document never holds NaN)."""
    return x is None or (isinstance(x, float) and not math.isfinite(x))


def fixed(x, digits: int = 4, missing: str = "NA") -> str:
    """``x`` with ``digits`` decimals, ``missing`` for None or non-finite values: the one
    fixed-decimal formatter (terminal, HTML/Markdown report, and figures through
    ``metak.plots._format.num``, which adds the typographic minus)."""
    if is_missing(x):
        return missing
    return f"{x:.{digits}f}"


def _half_up(x: float, decimals: int) -> str:
    """``x`` to ``decimals`` places, halves rounded away from zero from the shortest decimal
    form of the float (117/72 = 1.625 prints 1.63, as a reader rounds it, not 1.62)."""
    from decimal import ROUND_HALF_UP, Decimal

    return str(Decimal(repr(float(x))).quantize(Decimal(1).scaleb(-decimals), rounding=ROUND_HALF_UP))


def effect(x, missing: str = "—") -> str:
    """An effect or interval bound for a reader (report, summary of findings): two decimals
    from 0.01 to 1,000 ("0.22", "19.24"), whole numbers from 1,000 ("68981": no thousands comma,
    which would read as the comma between two bounds in "[0.0030, 1296]"), two significant digits
    below 0.01 ("0.000055"); never scientific notation, never a ratio bound printed as "0.00";
    halves round up (1.625 -> "1.63")."""
    if is_missing(x):
        return missing
    a = abs(x)
    if a == 0:
        return "0"
    if a >= 999.5:
        return str(int(_half_up(x, 0)))
    if a >= 0.01:
        return _half_up(x, 2)
    digits = 1 - math.floor(math.log10(a))  # two significant digits, written out in full
    text = _half_up(x, digits)
    return _half_up(x, 2) if abs(float(text)) >= 0.01 else text


def count(x, missing: str = "—") -> str:
    """A whole number with thousands separators ("1,000"), the way GRADE tables print them."""
    if is_missing(x):
        return missing
    return f"{round(x):,}"

"""Numbers for output, in one place: to the natural scale, NaN to null, fixed decimals.

Figures have their own typographic layer (``metak.plots._format``: the minus sign
U+2212, journal layouts) on top of :func:`fixed`; everything else — results.json, summary.csv, the terminal table,
``summary()`` printouts — formats through these functions.
"""

from __future__ import annotations

import math

import numpy as np

from .vocab import LOG_MEASURES


def to_natural(measure, x):
    """Analysis scale -> natural scale (exp for ratio measures); None stays None."""
    if x is None:
        return None
    if measure in LOG_MEASURES:
        return math.exp(x) if x < 709.0 else None  # beyond that exp overflows a double
    return x


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

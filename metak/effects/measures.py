"""The effect-size measures beyond OR/RR/RD/MD/SMD, with metafor's (3.8) names and definitions.

Each function takes arrays and returns ``(yi, vi)`` (NaN where metafor gives NA), with metafor's
default ``vtype="LS"`` variances. Written out rather than taken from a library: no maintained
Python package computes metafor's escalc measures with its continuity-correction rules, and the
formulas are one line each (checked against metafor at 1e-8 in tests/test_escalc_measures.py).

Single-arm proportions (``xi`` events of ``ni``): PR (raw proportion), PLN (log), PLO (logit),
PAS (arcsine square root), PFT (Freeman-Tukey double arcsine). The continuity correction ``add``
goes to ``xi`` and ``ni - xi`` as ``to`` says (``only0``: where either is 0); metafor's default
``add`` is 1/2, except 0 for PAS and PFT (see :func:`default_add`). metafor has no ``drop00``
for single-arm measures.

Person-time (``x1i`` events in ``t1i`` person-time vs ``x2i`` in ``t2i``): IRR (log incidence rate
ratio), IRD (incidence rate difference); ``add`` goes to both counts (``only0``: where either is
0); ``drop00`` drops studies with no events in either arm. Single-arm IRLN (log incidence rate,
``xi``, ``ti``).

Correlations (``ri``, ``ni``): COR (raw r, vi = (1 - r^2)^2 / (n - 1)), ZCOR (Fisher's z,
vi = 1 / (n - 3)); vi is NA for n <= 3.

Two-arm continuous (``m1i, sd1i, n1i, m2i, sd2i, n2i``): SMDH (SMD with heteroscedastic SDs,
Bonett 2009, bias-corrected), ROM (log ratio of means), VR (log variability ratio), CVR (log
coefficient-of-variation ratio).

Change scores in one group (``m1i`` post, ``m2i`` pre, ``sd1i``, ``sd2i``, ``ni``, ``ri`` the pre-post
correlation): MC (the raw mean change, m1i - m2i), SMCC (standardised by the SD of the change), SMCR (standardised by ``sd1i``, the
raw-score SD; ``sd2i`` not needed), SMCRH (Bonett 2008: standardised by ``sd1i``, variance allowing
unequal variances at the two occasions).
"""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from .hedges import hedges_j

PROPORTION_MEASURES = ("PR", "PLN", "PLO", "PAS", "PFT")
RATE_MEASURES = ("IRLN",)
PERSON_TIME_MEASURES = ("IRR", "IRD")
CORRELATION_MEASURES = ("COR", "ZCOR")
CONTINUOUS_EXTRA = ("SMDH", "ROM", "VR", "CVR")
CHANGE_MEASURES = ("MC", "SMCC", "SMCR", "SMCRH")


def default_add(measure: str) -> float:
    """metafor's default continuity correction: 0 for PAS and PFT (escalc sets add = 0 for them
    unless it is given), else 1/2."""
    return 0.0 if measure in ("PAS", "PFT") else 0.5


def _arrays(*xs):
    return tuple(np.asarray(x, dtype=float) for x in xs)


def _add_where(to: str, add: float, zero: np.ndarray) -> np.ndarray:
    """The amount added to each study's counts under ``to`` (metafor's only0 / all / if0all / none)."""
    if to == "all":
        return np.full(zero.shape, add)
    if to == "only0":
        return np.where(zero, add, 0.0)
    if to == "if0all":
        return np.full(zero.shape, add if zero.any() else 0.0)
    return np.zeros(zero.shape)


def _nan_bad(yi, vi, extra=None):
    bad = ~(np.isfinite(yi) & np.isfinite(vi)) | (vi < 0)
    if extra is not None:
        bad |= extra
    return np.where(bad, np.nan, yi), np.where(bad, np.nan, vi)


def escalc_proportion(measure, xi, ni, add=None, to="only0"):
    """yi, vi of single-arm proportions (PR, PLN, PLO, PAS, PFT) from ``xi`` events of ``ni``."""
    x, n = _arrays(xi, ni)
    if np.any(x < 0) or np.any(n - x < 0):
        raise MetakError("one or more event counts are negative or larger than the group size")
    if np.any(n <= 0):
        raise MetakError("one or more group sizes are <= 0")
    add = default_add(measure) if add is None else float(add)
    m = n - x
    with np.errstate(divide="ignore", invalid="ignore"):
        a = _add_where(to, add, (x == 0) | (m == 0))
        x, m = x + a, m + a
        n = x + m
        p = x / n
        if measure == "PR":
            yi, vi = p, p * (1 - p) / n
        elif measure == "PLN":
            yi, vi = np.log(p), 1 / x - 1 / n
        elif measure == "PLO":
            yi, vi = np.log(p / (1 - p)), 1 / x + 1 / m
        elif measure == "PAS":
            yi, vi = np.arcsin(np.sqrt(p)), 1 / (4 * n)
        elif measure == "PFT":
            yi = 0.5 * (np.arcsin(np.sqrt(x / (n + 1))) + np.arcsin(np.sqrt((x + 1) / (n + 1))))
            vi = 1 / (4 * n + 2)
        else:
            raise MetakError(f"measure {measure} is not a single-arm proportion measure")
    return _nan_bad(yi, vi)


def escalc_rate(measure, xi, ti, add=0.5, to="only0"):
    """yi, vi of a single-arm incidence rate (IRLN: log rate) from ``xi`` events in ``ti`` person-time."""
    x, t = _arrays(xi, ti)
    if np.any(x < 0):
        raise MetakError("one or more counts are negative")
    if np.any(t <= 0):
        raise MetakError("one or more person-times are <= 0")
    if measure != "IRLN":
        raise MetakError(f"measure {measure} is not a single-arm rate measure")
    with np.errstate(divide="ignore", invalid="ignore"):
        x = x + _add_where(to, 0.5 if add is None else add, x == 0)
        return _nan_bad(np.log(x / t), 1 / x)


def escalc_person_time(measure, x1i, t1i, x2i, t2i, add=0.5, to="only0", drop00=False):
    """yi, vi of two-arm person-time data: IRR (log rate ratio) or IRD (rate difference)."""
    x1, t1, x2, t2 = _arrays(x1i, t1i, x2i, t2i)
    if np.any(x1 < 0) or np.any(x2 < 0):
        raise MetakError("one or more counts are negative")
    if np.any(t1 <= 0) or np.any(t2 <= 0):
        raise MetakError("one or more person-times are <= 0")
    double_zero = (x1 == 0) & (x2 == 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        a = _add_where(to, 0.5 if add is None else add, (x1 == 0) | (x2 == 0))
        x1, x2 = x1 + a, x2 + a
        r1, r2 = x1 / t1, x2 / t2
        if measure == "IRR":
            yi, vi = np.log(r1) - np.log(r2), 1 / x1 + 1 / x2
        elif measure == "IRD":
            yi, vi = r1 - r2, r1 / t1 + r2 / t2
        else:
            raise MetakError(f"measure {measure} is not a person-time measure")
    return _nan_bad(yi, vi, double_zero if drop00 else None)


def escalc_correlation(measure, ri, ni):
    """yi, vi of correlations: COR (raw r) or ZCOR (Fisher's r-to-z)."""
    r, n = _arrays(ri, ni)
    if np.any(np.abs(r) > 1):
        raise MetakError("one or more correlations are > 1 or < -1")
    if np.any(n <= 0):
        raise MetakError("one or more sample sizes are <= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "COR":
            yi, vi = r, (1 - r**2) ** 2 / (n - 1)
        elif measure == "ZCOR":
            yi, vi = np.arctanh(r), 1 / (n - 3)
        else:
            raise MetakError(f"measure {measure} is not a correlation measure")
    return _nan_bad(yi, vi, n <= 3)


def _cmi(m):
    """metafor's .cmicalc: J(m), NA for m <= 1."""
    m = np.asarray(m, dtype=float)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(m <= 1, np.nan, hedges_j(np.where(m <= 1, 2.0, m)))


def escalc_continuous_extra(measure, m1, sd1, n1, m2, sd2, n2):
    """yi, vi of two-arm continuous data: SMDH, ROM, VR, CVR."""
    m1, sd1, n1, m2, sd2, n2 = _arrays(m1, sd1, n1, m2, sd2, n2)
    if np.any(sd1 < 0) or np.any(sd2 < 0):
        raise MetakError("one or more standard deviations are negative")
    if np.any(n1 <= 0) or np.any(n2 <= 0):
        raise MetakError("one or more group sizes are <= 0")
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "SMDH":
            c = _cmi(n1 + n2 - 2)
            s2 = sd1**2 + sd2**2
            yi = c * (m1 - m2) / np.sqrt(s2 / 2)
            vi = yi**2 * (sd1**4 / (n1 - 1) + sd2**4 / (n2 - 1)) / (2 * s2**2) \
                + (sd1**2 / (n1 - 1) + sd2**2 / (n2 - 1)) / (s2 / 2)
            vi = c**2 * vi
        elif measure == "ROM":
            yi = np.log(m1 / m2)
            vi = sd1**2 / (n1 * m1**2) + sd2**2 / (n2 * m2**2)
        elif measure == "VR":
            yi = np.log(sd1 / sd2) + 1 / (2 * (n1 - 1)) - 1 / (2 * (n2 - 1))
            vi = 1 / (2 * (n1 - 1)) + 1 / (2 * (n2 - 1))
        elif measure == "CVR":
            yi = np.log(sd1 / m1) + 1 / (2 * (n1 - 1)) - np.log(sd2 / m2) - 1 / (2 * (n2 - 1))
            vi = 1 / (2 * (n1 - 1)) + sd1**2 / (n1 * m1**2) + 1 / (2 * (n2 - 1)) + sd2**2 / (n2 * m2**2)
        else:
            raise MetakError(f"measure {measure} is not a two-arm continuous measure")
    return _nan_bad(yi, vi)


def escalc_change(measure, m1, m2, sd1, sd2, ni, ri):
    """yi, vi of a standardised mean change in one group (m1 post, m2 pre, r their correlation):
    SMCC (by the SD of the change scores) or SMCR (by sd1, the raw-score SD; sd2 unused)."""
    m1, m2, sd1, n, r = _arrays(m1, m2, sd1, ni, ri)
    sd2 = None if sd2 is None else np.asarray(sd2, dtype=float)
    if np.any(sd1 < 0) or (sd2 is not None and np.any(sd2 < 0)):
        raise MetakError("one or more standard deviations are negative")
    if np.any(np.abs(r) > 1):
        raise MetakError("one or more correlations are > 1 or < -1")
    if np.any(n <= 0):
        raise MetakError("one or more sample sizes are <= 0")
    c = _cmi(n - 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MC":
            if sd2 is None:
                raise MetakError("MC needs sd2i (the SD of the second measurement)")
            yi, vi = m1 - m2, (sd1**2 + sd2**2 - 2 * r * sd1 * sd2) / n
        elif measure == "SMCC":
            if sd2 is None:
                raise MetakError("SMCC needs sd2i (the SD of the second measurement)")
            yi = c * (m1 - m2) / np.sqrt(sd1**2 + sd2**2 - 2 * r * sd1 * sd2)
            vi = 1 / n + yi**2 / (2 * n)
        elif measure == "SMCR":
            yi = c * (m1 - m2) / sd1
            vi = 2 * (1 - r) / n + yi**2 / (2 * n)
        elif measure == "SMCRH":
            if sd2 is None:
                raise MetakError("SMCRH needs sd2i (the SD of the second measurement)")
            yi = c * (m1 - m2) / sd1
            vi = c**2 * ((sd1**2 + sd2**2 - 2 * r * sd1 * sd2) / (sd1**2 * (n - 1)) + yi**2 / (2 * (n - 1)))
        else:
            raise MetakError(f"measure {measure} is not a change-score measure")
    return _nan_bad(yi, vi)


#: the arguments each kind of measure takes (metafor's names); the first tuple is required
_ARGS = {
    "proportion": (("xi", "ni"), ()),
    "rate": (("xi", "ti"), ()),
    "person_time": (("x1i", "t1i", "x2i", "t2i"), ()),
    "correlation": (("ri", "ni"), ()),
    "change": (("m1i", "m2i", "sd1i", "ni", "ri"), ("sd2i",)),
}
_TWO_ARM = {"ai", "bi", "ci", "di", "n1i", "n2i", "x1i", "x2i", "t1i", "t2i", "m2i", "sd2i"}


def escalc_more(measure: str, cols: dict, add, to: str, drop00: bool):
    """yi, vi for the measures of this module from ``{metafor argument: array}`` (metak.escalc's
    dispatch), with a plain error for arguments the measure does not take."""
    from ..vocab import MEASURE_TABLE

    kind = MEASURE_TABLE[measure].data
    need, optional = _ARGS[kind]
    extra = sorted(set(cols) - set(need) - set(optional))
    if extra:
        single = kind in ("proportion", "rate", "correlation")
        why = (f"{measure} is a single-arm measure: give one arm's {', '.join(need)}, not "
               f"{', '.join(extra)}" if single and set(extra) & _TWO_ARM
               else f"{measure} takes {', '.join(need + optional)}, not {', '.join(extra)}")
        raise MetakError(f"escalc: {why}")
    if measure in ("MC", "SMCC", "SMCRH"):
        need = need + ("sd2i",)
    missing = [k for k in need if k not in cols]
    if missing:
        raise MetakError(f"escalc: measure {measure} needs {', '.join(need)} (missing: {', '.join(missing)})")
    try:
        if kind == "proportion":
            return escalc_proportion(measure, cols["xi"], cols["ni"], add, to)
        if kind == "rate":
            return escalc_rate(measure, cols["xi"], cols["ti"], add, to)
        if kind == "person_time":
            return escalc_person_time(measure, cols["x1i"], cols["t1i"], cols["x2i"], cols["t2i"], add, to, drop00)
        if kind == "correlation":
            return escalc_correlation(measure, cols["ri"], cols["ni"])
        return escalc_change(measure, cols["m1i"], cols["m2i"], cols["sd1i"], cols.get("sd2i"), cols["ni"],
                             cols["ri"])
    except MetakError as exc:
        raise MetakError(f"escalc ({measure}): {exc}") from None

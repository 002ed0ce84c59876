"""Effect sizes (yi) and sampling variances (vi) from arm data, as metafor's escalc (3.8).

yi is always experimental minus control on the analysis scale (log for ratio measures).

Binary outcomes (2x2 tables ai, bi | ci, di = events, non-events in the experimental arm |
control arm): OR (log odds ratio), RR (log risk ratio), RD (risk difference), PETO (Peto's
log OR, used only for the Q of rma.peto). Zero cells: ``add`` (0.5) is added to every cell
of a table as ``to`` says: ``only0`` tables with a zero cell (the default), ``all``,
``if0all`` all tables if any has a zero cell, ``none``. ``drop00`` makes tables without
events (or without non-events) in both arms missing. As in escalc, the correction also
changes RD's yi.

Continuous outcomes: MD (raw mean difference, vi = sd1²/n1 + sd2²/n2) and SMD (Hedges' g,
exact bias correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2)), m = n1 + n2 - 2,
vi = 1/n1 + 1/n2 + g²/(2 (n1 + n2)), metafor's ``vtype="LS"``).

Contrasts (a reported estimate with CI or SE): ratio measures go to the log scale; a CI at
level L gives SE = (upper - lower) / (2 z_{(1+L)/2}) on the analysis scale.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from ..errors import MetakError

from ..vocab import BINARY_MEASURES, CC_TO, CONTINUOUS_MEASURES, LOG_MEASURES, MEASURE_TABLE, MEASURES
from .hedges import hedges_j
from .measures import CONTINUOUS_EXTRA, escalc_continuous_extra, escalc_more


@dataclass(frozen=True)
class ContinuityCorrection:
    add: float = 0.5
    to: str = "only0"
    drop00: bool = False

    def to_dict(self):
        return {"add": self.add, "to": self.to, "drop00": self.drop00}


def _corrected(ai, bi, ci, di, cc: ContinuityCorrection):
    a, b, c, d = (np.asarray(x, dtype=float).copy() for x in (ai, bi, ci, di))
    double_zero = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    has_zero = (a == 0) | (b == 0) | (c == 0) | (d == 0)
    if cc.to == "all":
        which = np.ones_like(a, bool)
    elif cc.to == "only0":
        which = has_zero
    elif cc.to == "if0all":
        which = np.full_like(a, has_zero.any(), dtype=bool)
    else:
        which = np.zeros_like(a, bool)
    add = np.where(which, cc.add, 0.0)
    a, b, c, d = a + add, b + add, c + add, d + add
    return a, b, c, d, double_zero


def escalc_binary(measure, ai, bi, ci, di, cc: ContinuityCorrection = ContinuityCorrection()):
    """yi, vi for 2x2 tables (arrays). Non-estimable tables give NaN."""
    a, b, c, d, double_zero = _corrected(ai, bi, ci, di, cc)
    n1, n2 = a + b, c + d
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "OR":
            yi = np.log(a * d / (b * c))
            vi = 1 / a + 1 / b + 1 / c + 1 / d
        elif measure == "RR":
            yi = np.log((a / n1) / (c / n2))
            vi = 1 / a - 1 / n1 + 1 / c - 1 / n2
        elif measure == "RD":
            p1, p2 = a / n1, c / n2
            yi = p1 - p2
            vi = p1 * (1 - p1) / n1 + p2 * (1 - p2) / n2
        elif measure == "PETO":
            n = n1 + n2
            m1 = a + c
            v = n1 * n2 * m1 * (n - m1) / (n**2 * (n - 1))
            yi = (a - n1 * m1 / n) / v
            vi = 1 / v
        else:
            raise MetakError(f"measure {measure} is not a binary-outcome measure")
    bad = ~(np.isfinite(yi) & np.isfinite(vi) & (vi > 0))
    if cc.drop00:
        bad |= double_zero
    yi = np.where(bad, np.nan, yi)
    vi = np.where(bad, np.nan, vi)
    return yi, vi


def escalc_continuous(measure, m1, sd1, n1, m2, sd2, n2):
    """yi, vi for two-arm continuous data (arrays)."""
    m1, sd1, n1, m2, sd2, n2 = (np.asarray(x, dtype=float) for x in (m1, sd1, n1, m2, sd2, n2))
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "MD":
            return m1 - m2, sd1**2 / n1 + sd2**2 / n2
        if measure == "SMD":
            m = n1 + n2 - 2
            sp = np.sqrt(((n1 - 1) * sd1**2 + (n2 - 1) * sd2**2) / m)
            g = hedges_j(m) * (m1 - m2) / sp
            return g, 1 / n1 + 1 / n2 + g**2 / (2 * (n1 + n2))
    if measure in CONTINUOUS_EXTRA:
        return escalc_continuous_extra(measure, m1, sd1, n1, m2, sd2, n2)
    raise MetakError(f"measure {measure} is not a continuous-outcome measure")


def contrast_yi_vi(measure, estimate, ci=None, se=None, level=0.95):
    """A reported contrast -> (yi, vi) on the analysis scale."""
    log = measure in LOG_MEASURES
    yi = math.log(estimate) if log else float(estimate)
    if se is None:
        lo, hi = ci
        if log:
            lo, hi = math.log(lo), math.log(hi)
        se = (hi - lo) / (2 * float(special.ndtri(0.5 + level / 2)))
    return yi, se**2



def escalc(data, measure: str, *, ai=None, bi=None, ci=None, di=None, n1i=None, n2i=None, m1i=None, sd1i=None,
           m2i=None, sd2i=None, xi=None, ni=None, ti=None, ri=None, x1i=None, t1i=None, x2i=None, t2i=None,
           add: float | None = None, to: str = "only0", drop00: bool = False):
    """Effect sizes for a pandas DataFrame, as metafor's ``escalc(measure, ..., data = df)``.

    Arguments name the DataFrame's columns (or give array-likes), with metafor's names:

    - two-arm binary (OR, RR, RD): ``ai, bi, ci, di`` (or ``ai, n1i, ci, n2i``);
    - two-arm continuous (MD, SMD, SMDH, ROM, CVR): ``m1i, sd1i, n1i, m2i, sd2i, n2i``; VR: ``sd1i, n1i,
      sd2i, n2i``;
    - single-arm proportions (PR, PLN, PLO, PAS, PFT): ``xi, ni``;
    - person-time (IRR, IRD): ``x1i, t1i, x2i, t2i``; single-arm IRLN: ``xi, ti``;
    - correlations (COR, ZCOR): ``ri, ni``;
    - change scores in one group (MC, SMCC, SMCR, SMCRH): ``m1i, m2i, sd1i, sd2i, ni, ri`` (SMCR needs no ``sd2i``).

    ``add`` (metafor's default: 1/2, and 0 for PAS and PFT), ``to`` and ``drop00`` (binary and
    person-time measures) are metafor's continuity-correction arguments; variances are metafor's
    default ``vtype="LS"``. The result is a copy of ``data`` with columns ``yi`` and ``vi`` added
    (``NaN`` where an effect is not estimable), the input untouched.

    >>> import pandas as pd
    >>> import metak
    >>> df = pd.DataFrame({"tpos": [4, 6], "tneg": [119, 300], "cpos": [11, 29], "cneg": [128, 274]})
    >>> out = metak.escalc(df, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    >>> [round(x, 4) for x in out["yi"]], [round(x, 4) for x in out["vi"]]   # metafor's dat.bcg rows 1-2
    ([-0.8893, -1.5854], [0.3256, 0.1946])
    """
    import pandas as pd

    if not isinstance(data, pd.DataFrame):
        raise MetakError(f"escalc takes a pandas DataFrame, got {type(data).__name__}")
    measure = str(measure).upper()

    def not_a_number(values):
        """(position, value) of the first cell that is text or another non-number (empty cells and
        NaN are allowed: they make the effect not estimable)."""
        for i, value in enumerate(values):
            if value is None or (isinstance(value, str) and not value.strip()):
                continue
            try:
                float(value)
            except (TypeError, ValueError):
                return i, value
        return None

    def col(x, name):
        if x is None:
            return None
        if isinstance(x, str):
            if x not in data.columns:
                raise MetakError(f"escalc: {name}={x!r} is not a column; columns are {', '.join(map(str, data.columns))}")
            try:
                return data[x].to_numpy(dtype=float)
            except (TypeError, ValueError):
                found = not_a_number(data[x].tolist())
                if found is None:
                    raise MetakError(f"escalc: column {x!r} ({name}) must hold numbers") from None
                i, value = found
                raise MetakError(f"escalc: column {x!r} ({name}), row {i + 1} (index {data.index[i]!r}): {value!r} is "
                                 "not a number") from None
        try:
            arr = np.asarray(x, dtype=float)
        except (TypeError, ValueError):
            found = not_a_number(list(np.asarray(x, dtype=object).ravel()))
            where = f"value {found[0] + 1}: {found[1]!r} is not a number" if found else "must hold numbers"
            raise MetakError(f"escalc: {name} {where}") from None
        if arr.shape != (len(data),):
            raise MetakError(f"escalc: {name} has {arr.size} values for {len(data)} rows")
        return arr

    if to not in CC_TO:
        raise MetakError(f"escalc: to={to!r} is not one of {', '.join(CC_TO)}")
    a, b, c, d = col(ai, "ai"), col(bi, "bi"), col(ci, "ci"), col(di, "di")
    n1, n2 = col(n1i, "n1i"), col(n2i, "n2i")
    if measure in MEASURE_TABLE and MEASURE_TABLE[measure].data in ("proportion", "rate", "person_time",
                                                                     "correlation", "change"):
        given = {k: v for k, v in dict(ai=ai, bi=bi, ci=ci, di=di, n1i=n1i, n2i=n2i, m1i=m1i, sd1i=sd1i, m2i=m2i,
                                       sd2i=sd2i, xi=xi, ni=ni, ti=ti, ri=ri, x1i=x1i, t1i=t1i, x2i=x2i,
                                       t2i=t2i).items() if v is not None}
        yi, vi = escalc_more(measure, {k: col(v, k) for k, v in given.items()}, add, to, drop00)
        out = data.copy()
        out["yi"] = np.asarray(yi, dtype=float)
        out["vi"] = np.asarray(vi, dtype=float)
        return out
    if add is None:
        add = 0.5
    if measure in BINARY_MEASURES:
        if b is None and n1 is not None and a is not None:
            b = n1 - a
        if d is None and n2 is not None and c is not None:
            d = n2 - c
        if any(x is None for x in (a, b, c, d)):
            raise MetakError(f"escalc: measure {measure} needs ai, bi (or n1i), ci, di (or n2i)")
        yi, vi = escalc_binary(measure, a, b, c, d, ContinuityCorrection(add, to, drop00))
    elif measure in CONTINUOUS_MEASURES:
        args = [col(m1i, "m1i"), col(sd1i, "sd1i"), n1, col(m2i, "m2i"), col(sd2i, "sd2i"), n2]
        if measure == "VR":  # metafor's VR uses only the SDs and the group sizes
            if any(x is None for x in (args[1], n1, args[4], n2)):
                raise MetakError("escalc: measure VR needs sd1i, n1i, sd2i, n2i")
            args[0] = args[3] = np.ones(len(data))  # unused by VR's formula
        elif any(x is None for x in args):
            raise MetakError(f"escalc: measure {measure} needs m1i, sd1i, n1i, m2i, sd2i, n2i")
        yi, vi = escalc_continuous(measure, *args)
    else:
        raise MetakError(f"escalc: measure {measure!r} is not one of {', '.join(m for m in MEASURES if m != 'HR')}")
    out = data.copy()
    out["yi"] = np.asarray(yi, dtype=float)
    out["vi"] = np.asarray(vi, dtype=float)
    return out

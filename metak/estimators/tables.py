"""Mantel-Haenszel and Peto fixed-effect meta-analysis of 2x2 tables (metafor's rma.mh, rma.peto).

Tables are rows (ai, bi, ci, di): events and non-events of the experimental arm, then of
the control arm. The pooled estimate uses the raw tables (no continuity correction).
Heterogeneity is Cochran's Q around the MH (Peto) estimate, using the escalc yi/vi of the
tables (with the analysis's continuity correction), as metafor does; I² = max(0, (Q-df)/Q),
H² = Q/df.

Double-zero tables (no events in either arm, or only events) carry no information on the
OR or RR. With ``drop00=True`` (metak's default for MH and PETO) they are dropped from Q
and from the OR, RR and Peto estimates (where they add nothing anyway); the MH risk
difference keeps them, since they do inform it (weight n1 n2 / n at RD = 0), as metafor's
default ``drop00=c(TRUE, FALSE)`` and RevMan do. ``drop00_rd=True`` drops them from the
MH RD too (metafor's ``drop00=c(TRUE, TRUE)``).

References: Mantel & Haenszel (1959); Robins, Breslow & Greenland (1986) for the variance of
the MH log OR; Greenland & Robins (1985) for the MH log RR; Sato, Greenland & Robins (1989)
for the MH RD; Yusuf et al. (1985) for Peto's OR.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..errors import MetakError
from .fit import check_settings
from .result import CommonEffect, MetaResult

MH_MEASURES = ("OR", "RR", "RD")


def _mh(a, b, c, d, measure):
    n1, n2 = a + b, c + d
    n = n1 + n2
    if measure == "OR":
        r = a * d / n
        s = b * c / n
        R, S = r.sum(), s.sum()
        if R <= 0 or S <= 0:
            raise MetakError("the Mantel-Haenszel odds ratio is undefined (no events in one arm across all tables)")
        p = (a + d) / n
        q = (b + c) / n
        est = np.log(R / S)
        var = (p * r).sum() / (2 * R**2) + (p * s + q * r).sum() / (2 * R * S) + (q * s).sum() / (2 * S**2)
        w = s
    elif measure == "RR":
        r = a * n2 / n
        s = c * n1 / n
        R, S = r.sum(), s.sum()
        if R <= 0 or S <= 0:
            raise MetakError("the Mantel-Haenszel risk ratio is undefined (no events in one arm across all tables)")
        est = np.log(R / S)
        var = ((n1 * n2 * (a + c) - a * c * n) / n**2).sum() / (R * S)
        w = s
    else:  # RD, variance of Sato, Greenland & Robins (1989)
        W = (n1 * n2 / n).sum()
        est = ((a * n2 - c * n1) / n).sum() / W
        P = ((n1**2 * c - n2**2 * a + n1 * n2 * (n2 - n1) / 2) / n**2).sum()
        Q = ((a * (n2 - c) + c * (n1 - a)) / (2 * n)).sum()
        var = (est * P + Q) / W**2
        w = n1 * n2 / n
    return est, var, w


def _peto(a, b, c, d):
    n1, n2 = a + b, c + d
    n = n1 + n2
    m1 = a + c
    e = n1 * m1 / n
    v = n1 * n2 * m1 * (n - m1) / (n**2 * (n - 1))
    sv = v.sum()
    if sv <= 0:
        raise MetakError("Peto's odds ratio is undefined (no table with information)")
    oe = (a - e).sum()
    return oe / sv, 1 / sv, v


def fit_tables(tables, yi, vi, *, measure: str, method: str = "MH", test: str = "z", level: float = 0.95,
               drop00: bool = True, drop00_rd: bool = False) -> MetaResult:
    """Mantel-Haenszel (OR, RR, RD) or Peto (OR) fixed-effect meta-analysis.

    Parameters
    ----------
    tables : (k, 4) array of ai, bi, ci, di
    yi, vi : escalc effect sizes of the same tables (after the analysis's continuity
        correction; Peto's log OR (O - E)/V for PETO); used for Q, I² and H² (PETO: the
        raw tables' (O - E)/V, as metafor).
    """
    method, test, level = check_settings(method, test, level)
    if method not in ("MH", "PETO"):
        raise MetakError(f"fit_tables fits MH or PETO, not {method}")
    if method == "PETO" and measure != "OR":
        raise MetakError(f"method PETO gives an odds ratio; measure {measure} is not possible")
    if method == "MH" and measure not in MH_MEASURES:
        raise MetakError(f"method MH takes measure OR, RR or RD, not {measure}")
    t = np.asarray(tables, dtype=float)
    yi = np.asarray(yi, dtype=float)
    vi = np.asarray(vi, dtype=float)
    if t.ndim != 2 or t.shape[1] != 4 or len(yi) != len(t) or len(vi) != len(t):
        raise MetakError(f"fit_tables needs a (k, 4) array of ai, bi, ci, di and k yi, vi; got {t.shape}, "
                         f"{yi.shape}, {vi.shape}")
    warns = []
    complete = np.isfinite(t).all(axis=1)
    if not complete.all():  # as fit() drops non-finite pairs
        warns.append(f"{int((~complete).sum())} table(s) with missing counts left out of the {method} fit")
        t, yi, vi = t[complete], yi[complete], vi[complete]
    if not len(t):
        raise MetakError(f"no table with complete counts for the {method} estimate")
    a, b, c, d = t.T
    double_zero = ((a == 0) & (c == 0)) | ((b == 0) & (d == 0))
    if double_zero.all():
        what = "the risk difference is 0 with no variance" if measure == "RD" else \
            f"they carry no information on the {'odds' if measure == 'OR' else 'risk'} ratio"
        raise MetakError(f"every table has no events in both arms, or only events (double-zero): {what}; "
                         f"the {method} estimate is undefined")
    keep_rd = method == "MH" and measure == "RD" and not drop00_rd
    use = ~double_zero if drop00 and not keep_rd else np.ones(len(a), bool)
    if drop00 and double_zero.any():
        where = "Q" if keep_rd else f"the {method} estimate and Q"
        warns.append(f"{int(double_zero.sum())} double-zero table(s) dropped from {where}"
                     + ("; the MH risk difference keeps them (they inform an RD), as metafor and RevMan do"
                        if keep_rd else ""))
    if not use.any():
        raise MetakError(f"no table left for the {method} estimate")
    if method == "MH":
        est, var, w = _mh(a[use], b[use], c[use], d[use], measure)
    else:
        est, var, w = _peto(a[use], b[use], c[use], d[use])
    se = float(np.sqrt(var))
    crit = special.ndtri(0.5 + level / 2)
    z = est / se
    if method == "PETO":
        # metafor's rma.peto takes Q from the raw tables' (O - E)/V, not from the corrected yi
        from ..effects import ContinuityCorrection, escalc_binary

        yq, vq = escalc_binary("PETO", a, b, c, d, ContinuityCorrection(0.0, "none", drop00))
    else:
        yq, vq = yi, vi
    qy = (use & ~double_zero if drop00 else use) & np.isfinite(yq) & np.isfinite(vq)
    yi_q, vi_q = yq[qy], vq[qy]
    k_q = int(qy.sum())
    if k_q > 1:
        q = float(((yi_q - est) ** 2 / vi_q).sum())
        q_df = k_q - 1
        q_p = float(special.chdtrc(q_df, q))
        i2 = max(0.0, 100 * (q - q_df) / q) if q > 0 else 0.0
        h2 = q / q_df
    else:
        q = q_p = i2 = h2 = None
        q_df = None
    kept = np.full(len(a), np.nan)
    kept[use] = np.clip(100 * w / w.sum(), 0.0, 100.0)
    weights = np.full(len(complete), np.nan)  # aligned with the caller's tables: NaN where left out
    weights[complete] = kept
    if use.sum() == 1:
        warns.append(f"k = 1: a single table; the {method} estimate is that table's own, and heterogeneity is undefined")
    if not np.isfinite(se) or se <= 0:
        raise MetakError(f"the {method} estimate has no variance (no table with information)")
    return MetaResult(
        method=method, test=test, level=level, k=int(use.sum()), estimate=float(est), se=se,
        ci_lower=est - crit * se, ci_upper=est + crit * se, statistic=float(z), df=None,
        p_value=float(2 * special.ndtr(-abs(z))), q=q, q_df=q_df, q_p=q_p, i2=i2, h2=h2,
        common_effect=CommonEffect(float(est), se, est - crit * se, est + crit * se),
        weights=tuple(weights), warnings=tuple(warns),
    )

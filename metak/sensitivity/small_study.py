"""Small-study effects: regression tests, the rank correlation test and trim-and-fill.

As metafor 3.8 computes them with their defaults:

* ``egger``: Egger's classical test, ``regtest(model = "lm")``: weighted least squares of
  y_i on (1, sqrt(v_i)) with weights 1 / v_i and a free residual scale; the t test of the
  slope on k - 2 df, and the intercept (the effect of an infinitely precise study) as the
  limit estimate with its t interval.
* ``egger_rma``: the default ``regtest()``: the meta-regression of y_i on sqrt(v_i) with the
  analysis's method and test; the slope's z (or t) test and the intercept as the limit estimate.
* ``rank_test``: Begg & Mazumdar's ``ranktest()``: Kendall's tau between
  (y_i - mu_FE) / sqrt(v_i - 1 / sum w) and v_i, with the exact p-value when there are no ties
  (``cor.test(exact = TRUE)``), else the normal approximation with the tie-corrected variance.
* ``trim_fill``: Duval & Tweedie's ``trimfill()``: estimator L0, the side of the missing
  studies from the sign of the slope of y on sqrt(v) (negative: missing on the right), the
  iteration of the trimmed fits, the k0 mirrored studies filled in and the model refitted with
  the analysis's method and a z test (metafor's trimfill refits with ``rma.uni``'s default test).

The tests have little power below k = 10 (Sterne et al. 2011): below it metak warns and runs
nothing unless ``force: true``. Asymmetry is not proof of publication bias: small-study
effects also come from true heterogeneity (smaller trials in different patients or with more
intensive treatment), poorer methods in small trials, chance, and the artefactual correlation of
an odds ratio with its SE; trim-and-fill's filled studies are a sensitivity analysis, not an
estimate of the missing trials.

References
----------
Egger M, et al. BMJ 1997;315:629-634. Begg CB, Mazumdar M. Biometrics 1994;50:1088-1101.
Duval S, Tweedie R. Biometrics 2000;56:455-463. Sterne JAC, et al. BMJ 2011;343:d4002.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import special, stats

from ..format import clean
from ..schema.record import as_dict, enum, from_dict
from ..vocab import TESTS
from .refit import finite_rows, iv_model

MEANING = ("Funnel asymmetry can come from publication bias, but also from true heterogeneity (small trials "
           "in other patients or with more intensive treatment), poorer methods in small trials, chance, or "
           "the correlation of an odds ratio with its standard error; the tests have little power below "
           "k = 10. Trim-and-fill is a sensitivity analysis, not an estimate of the missing trials.")
MIN_K = 10


def egger_lm(y, v, level=0.95) -> dict:
    """``regtest(model = "lm")``: WLS of y on (1, sqrt(v)), weights 1/v, free scale."""
    k = len(y)
    X = np.column_stack([np.ones(k), np.sqrt(v)])
    w = 1 / v
    XtW = X.T * w
    cov = np.linalg.inv(XtW @ X)
    b = cov @ (XtW @ y)
    df = k - 2
    resid = y - X @ b
    sigma2 = float((w * resid**2).sum() / df)
    se = np.sqrt(np.diag(cov) * sigma2)
    t = b[1] / se[1]
    crit = special.stdtrit(df, 0.5 + level / 2)
    return {"statistic": clean(t), "df": df, "p_value": clean(2 * special.stdtr(df, -abs(t))),
            "slope": clean(b[1]), "limit_estimate": clean(b[0]), "limit_ci_lower": clean(b[0] - crit * se[0]),
            "limit_ci_upper": clean(b[0] + crit * se[0])}


def egger_rma(y, v, model) -> dict:
    """``regtest()``: meta-regression on sqrt(v) with the model's method and test."""
    from ..estimators.regression import fit_regression

    X = np.column_stack([np.ones(len(y)), np.sqrt(v)])
    reg = fit_regression(y, v, X, method=model.method, test=model.test, level=model.level,
                         names=["intercept", "sei"])
    c0, c1 = reg.coefficients
    return {"statistic": clean(c1.statistic), "df": reg.df, "p_value": clean(c1.p_value), "test": model.test,
            "slope": clean(c1.estimate), "limit_estimate": clean(c0.estimate), "limit_ci_lower": clean(c0.ci_lower),
            "limit_ci_upper": clean(c0.ci_upper)}


#: largest k for the exact Kendall distribution (beyond it the normal approximation is exact enough
#: and the exact recursion slow)
EXACT_MAX = 500


def rank_test(y, v) -> dict:
    """``ranktest()``: Kendall's tau of the standardised effects and the variances."""
    w = 1 / v
    theta = (w * y).sum() / w.sum()
    ys = (y - theta) / np.sqrt(v - 1 / w.sum())
    ties = len(np.unique(ys)) < len(ys) or len(np.unique(v)) < len(v)
    exact = not ties and len(y) <= EXACT_MAX
    res = stats.kendalltau(ys, v, method="exact" if exact else "asymptotic")
    return {"tau": clean(res.statistic), "p_value": clean(res.pvalue), "exact": exact}


def trim_fill(y, v, model, labels=()) -> dict:
    """``trimfill()`` with its defaults (estimator L0, side by metafor's rule)."""
    from ..estimators import fit
    from ..estimators.regression import fit_regression

    method = model.method
    X = np.column_stack([np.ones(len(y)), np.sqrt(v)])
    slope = fit_regression(y, v, X, method=method, test="z", level=model.level).coefficients[1].estimate
    side = "right" if slope < 0 else "left"
    yy = -y if side == "right" else y.copy()
    order = np.argsort(yy, kind="stable")
    ys, vs = yy[order], v[order]
    k = len(ys)
    k0, k0_prev, it = 0, -1, 0
    se_k0 = 0.0
    beta = None
    while k0 != k0_prev:
        k0_prev = k0
        it += 1
        if it > 100:
            break
        beta = fit(ys[: k - k0], vs[: k - k0], method=method).estimate
        c = ys - beta
        ranks = stats.rankdata(np.abs(c), method="ordinal")
        sr = float(ranks[c > 0].sum())
        k0_raw = (4 * sr - k * (k + 1)) / (2 * k - 1)
        var_sr = (k * (k + 1) * (2 * k + 1) + 10 * k0_raw**3 + 27 * k0_raw**2 + 17 * k0_raw
                  - 18 * k * k0_raw**2 - 18 * k * k0_raw + 6 * k**2 * k0_raw) / 24
        se_k0 = max(0.0, 4 * np.sqrt(var_sr) / (2 * k - 1)) if var_sr >= 0 else 0.0
        k0 = max(0, int(round(k0_raw)))  # half to even, as R's round()
    filled_y, filled_v = np.array([]), np.array([])
    if k0 > 0:
        mirror = 2 * beta - ys[k - k0:]
        filled_y = -mirror if side == "right" else mirror
        filled_v = vs[k - k0:]
    if k0 > 0:  # metafor refits the filled data with rma.uni's default test (z)
        r = fit(np.concatenate([y, filled_y]), np.concatenate([v, filled_v]), method=method, test="z",
                level=model.level)
    else:       # nothing filled: metafor returns the model itself
        from ..effects import EffectTable

        r = model.fit(EffectTable.from_arrays(y, v))
    return {"k0": int(k0), "se_k0": clean(se_k0), "side": side, "estimator": "L0", "k": int(r.k),
            "estimate": clean(r.estimate), "se": clean(r.se), "ci_lower": clean(r.ci_lower),
            "ci_upper": clean(r.ci_upper), "tau2": clean(r.tau2) if method != "FE" else None,
            "filled": [{"yi": clean(a), "vi": clean(b)} for a, b in zip(filled_y, filled_v)],
            "test": "z" if k0 > 0 else model.test}


@dataclass(frozen=True)
class Egger:
    """:func:`egger_lm`: the slope's t test on k - 2 df and the limit estimate with its t interval."""

    statistic: float | None
    df: int
    p_value: float | None
    slope: float | None
    limit_estimate: float | None
    limit_ci_lower: float | None
    limit_ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class EggerRma:
    """:func:`egger_rma`: the meta-regression's slope test (df null under z) and limit estimate."""

    statistic: float | None
    df: int | None
    p_value: float | None
    test: str = enum(*TESTS)
    slope: float | None
    limit_estimate: float | None
    limit_ci_lower: float | None
    limit_ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True)
class RankTest:
    tau: float | None
    p_value: float | None
    exact: bool

    to_dict = as_dict


@dataclass(frozen=True)
class Filled:
    yi: float | None
    vi: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class TrimFill:
    """:func:`trim_fill`: the k0 filled studies and the refit with them."""

    k0: int
    se_k0: float | None
    side: str = enum("left", "right")
    estimator: str = enum("L0")
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    filled: tuple[Filled, ...]
    test: str = enum(*TESTS)

    to_dict = as_dict


@dataclass(frozen=True)
class SmallStudy:
    """``sensitivity.small_study``: the tests (null when not run, with the reason)."""

    k: int
    run: bool
    reason: str | None
    egger: Egger | None
    egger_rma: EggerRma | None
    rank_test: RankTest | None
    trim_fill: TrimFill | None
    meaning: str

    to_dict = as_dict


def small_study(table, model, *, force: bool = False) -> tuple[dict, list[str]]:
    notes: list[str] = []
    tab = finite_rows(table)
    model = iv_model(model, notes, "small_study: ")
    k = tab.k
    out = {"k": k, "run": False, "reason": None, "egger": None, "egger_rma": None, "rank_test": None,
           "trim_fill": None, "meaning": MEANING}
    if k < 3:
        out["reason"] = f"k = {k}: the tests need at least 3 studies"
        notes.append(out["reason"])
        return out, notes
    if k < MIN_K and not force:
        out["reason"] = f"k = {k} < {MIN_K}: the tests have too little power to be informative (force: true runs them)"
        notes.append(f"small_study not run: {out['reason']}")
        return out, notes
    if k < MIN_K:
        notes.append(f"small_study run with k = {k} < {MIN_K} (force: true): the tests have little power")
    y, v = tab.yi, tab.vi
    if np.ptp(v) <= 1e-12 * np.max(v):
        out["reason"] = ("every study has the same variance: the regression tests and trim-and-fill's side rule "
                         "are undefined (no spread of precision); only the rank test is run")
        notes.append(f"small_study: {out['reason']}")
        out.update(run=True, rank_test=rank_test(y, v))
        return out, notes
    out.update(run=True, egger=egger_lm(y, v, model.level), egger_rma=egger_rma(y, v, model),
               rank_test=rank_test(y, v), trim_fill=trim_fill(y, v, model))
    return out, notes


def run(ctx, params) -> SmallStudy:
    body, notes = small_study(ctx.table, ctx.model, force=bool(params.get("force", False)))
    ctx.warnings.extend(n if n.startswith("small_study") else f"small_study: {n}" for n in notes)
    return from_dict(SmallStudy, body)

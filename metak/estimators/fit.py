"""Inverse-variance meta-analysis: fixed effect and random effects, one or many at once.

The whole computation is vectorised over a batch of meta-analyses (rows of a NaN-padded
2-D array), so :func:`fit` is :func:`fit_batch` on one row. Formulas follow metafor's
``rma.uni`` for the intercept-only model (Viechtbauer 2010):

* estimate = sum w y / sum w with w = 1/(v + tau²), SE = 1/sqrt(sum w);
* ``test="hksj"`` (metafor's ``test="knha"``; Hartung & Knapp 2001, Sidik & Jonkman 2002):
  SE_KH = sqrt(sum w (y - mu)² / ((k - 1) sum w)), t on k - 1 df, with no truncation of
  the scale factor at 1 (metafor's default);
* prediction interval mu ± crit sqrt(tau² + SE²) with crit z or t(k-1) (metafor ``predict``);
* Q = sum (y - mu_FE)²/v; I² = 100 tau²/(tau² + s²), H² = (tau² + s²)/s² with the typical
  within-study variance s² = (k-1) sum w / ((sum w)² - sum w²) (Higgins & Thompson 2002);
  fixed-effect fits report I² = max(0, (Q - df)/Q) and H² = Q/df;
* Q-profile CI of tau² (Viechtbauer 2007): Q_gen(tau²) at the chi² quantiles, with the
  I², H² and tau CIs transformed from it.
"""

from __future__ import annotations

import warnings as _warnings
import numpy as np
# scipy.special's ufuncs, not scipy.stats' distributions: same numbers, 100x less overhead
from scipy import special

from ..errors import ConvergenceWarning, MetakError
from ..format import as_floats
from ..vocab import IV_METHODS, METHODS, TEST_ALIASES, TESTS
from .distributions import _norm_ppf, _per_value, chi2_sf
from .fit_one import _fit_one
from .result import BatchResult, CommonEffect, MetaResult
from .rowsums import fortran, rsum
from .tau2 import ESTIMATORS, dl_from_sums, solve_q


def check_settings(method: str, test: str, level: float) -> tuple[str, str, float]:
    """Validate model settings at once (a typo must fail before any fitting)."""
    if not isinstance(method, str) or method.upper() not in METHODS:
        raise MetakError(f"method {method!r} is not one of {', '.join(METHODS)}")
    method = method.upper()
    test = TEST_ALIASES.get(test, test)
    if test not in TESTS:
        raise MetakError(f"test {test!r} is not one of {', '.join(TESTS)}")
    if not (isinstance(level, (int, float)) and 0 < level < 1):
        raise MetakError(f"level must be between 0 and 1 (e.g. 0.95), got {level!r}")
    if method in ("MH", "PETO") and test == "hksj":
        raise MetakError(f"test hksj (Knapp-Hartung) is not defined for method {method}; use test: z")
    return method, test, float(level)


def _as_2d(yi, vi):
    """Accept a 2-D NaN-padded array or a list of 1-D arrays; return Y, V, mask."""
    if isinstance(yi, (list, tuple)) and yi and np.ndim(yi[0]) == 1 and not np.isscalar(yi[0]):
        width = max(len(r) for r in yi)
        Y = np.full((len(yi), width), np.nan)
        V = np.full((len(yi), width), np.nan)
        if not isinstance(vi, (list, tuple)) or len(vi) != len(yi):
            raise MetakError("vi must be numbers in the same shape as yi (a list of arrays, one per meta-analysis)")
        for i, (a, b) in enumerate(zip(yi, vi)):
            Y[i, : len(a)] = as_floats(a, "yi")
            V[i, : len(b)] = as_floats(b, "vi")
    else:
        Y = np.array(as_floats(yi, "yi"), ndmin=2)
        V = np.array(as_floats(vi, "vi"), ndmin=2)
        for name, A in (("yi", Y), ("vi", V)):
            if A.ndim > 2:
                raise MetakError(f"{name} must be a 2-D array (one meta-analysis per row, NaN-padded) or a list of "
                                 f"1-D arrays; got an array of shape {A.shape}")
    if Y.shape != V.shape:
        raise MetakError(f"yi and vi have different shapes {Y.shape} and {V.shape}")
    M = np.isfinite(Y) & np.isfinite(V)
    if np.any(M & (V <= 0)):
        raise MetakError("every sampling variance vi must be greater than 0")
    Y = np.where(M, Y, 0.0)
    V = np.where(M, V, 1.0)
    return Y, V, M.astype(float)


def _fit_arrays(Y, V, M, method, test, level, intervals: bool = True, p_values: bool = True,
                tau2_given=None) -> BatchResult:
    """The engine behind fit, fit_batch, metak batch and simulate. ``intervals=False`` leaves the
    Q-profile CIs NaN, ``p_values=False`` the test's p-values (metak batch reports neither).
    ``tau2_given`` (one value per row) replaces the estimator: leave-one-out passes the deleted
    fits' tau² that :mod:`metak.estimators.deletion` finds from a warm start."""
    # column-major arrays: numpy then sums over studies a whole column at a time, in a fixed
    # order (see tau2.rsum), several times faster for the short rows of a batch
    Y, V, M = fortran(Y, V, M)
    k = rsum(M)
    m = Y.shape[0]
    with np.errstate(divide="ignore", invalid="ignore"):
        # common (fixed) effect and Cochran's Q
        w0 = M / V
        sw0 = rsum(w0)
        fe_mu = rsum(w0 * Y) / sw0
        fe_se = 1 / np.sqrt(sw0)
        q = rsum(w0 * (Y - fe_mu[:, None]) ** 2)
        sw02 = None if method == "FE" else rsum(w0 * w0)
        df = k - 1
        if tau2_given is not None:
            tau2, converged = np.asarray(tau2_given, float), np.ones(m, bool)
        elif method == "DL":  # tau2.dl from the same sums (the same numbers, not computed twice)
            tau2, converged = dl_from_sums(q, k, sw0, sw02)
        else:
            tau2, converged = ESTIMATORS[method](Y, V, M, k)
        tau2 = np.where(k > 1, tau2, 0.0)
        alpha = 1 - level
        q_p = np.where(df > 0, chi2_sf(np.maximum(df, 1), q), np.nan)
        # the model estimate (fixed effect: tau² = 0, so the weights, their sum and the estimate
        # are the common effect's, the same numbers; not computed twice)
        if method == "FE":
            w, sw, mu = w0, sw0, fe_mu
        else:
            w = M / (V + tau2[:, None])
            sw = rsum(w)
            mu = rsum(w * Y) / sw
        se = 1 / np.sqrt(sw)
        if test == "hksj":
            s2 = rsum(w * (Y - mu[:, None]) ** 2) / df
            se = np.sqrt(s2 / sw)
            crit = _per_value(special.stdtrit, np.maximum(df, 1), 1 - alpha / 2)
            stat = mu / se
            p = 2 * special.stdtr(np.maximum(df, 1), -np.abs(stat)) if p_values else np.full(m, np.nan)
            crit = np.where(df > 0, crit, np.nan)
            p = np.where(df > 0, p, np.nan)
        else:
            crit = np.full(m, _norm_ppf(1 - alpha / 2))
            stat = mu / se
            p = 2 * special.ndtr(-np.abs(stat)) if p_values else np.full(m, np.nan)
        ci_lo, ci_hi = mu - crit * se, mu + crit * se
        pi_half = crit * np.sqrt(tau2 + se**2)
        # heterogeneity
        # the typical within-study variance (I², H² of a random-effects fit and their CIs)
        s2_typ = np.full(m, np.nan) if method == "FE" else df * sw0 / (sw0**2 - sw02)
        if method == "FE":
            i2 = np.where(q > 0, np.maximum(0.0, 100 * (q - df) / q), 0.0)
            h2 = q / df
            tau2_ci = np.full((m, 2), np.nan)
        else:
            i2 = 100 * tau2 / (tau2 + s2_typ)
            h2 = (tau2 + s2_typ) / s2_typ
            tau2_ci = q_profile(Y, V, M, k, level) if intervals else np.full((m, 2), np.nan)
        i2_ci = 100 * tau2_ci / (tau2_ci + s2_typ[:, None])
        h2_ci = (tau2_ci + s2_typ[:, None]) / s2_typ[:, None]
    none = k < 2
    single = k == 1
    if single.any():
        # k = 1: the study's own estimate with a z interval, whatever the test (as fit())
        z = _norm_ppf(1 - alpha / 2)
        se = np.where(single, np.sqrt(1 / sw0), se)
        stat = np.where(single, mu / se, stat)
        if p_values:
            p = np.where(single, 2 * special.ndtr(-np.abs(stat)), p)
        ci_lo = np.where(single, mu - z * se, ci_lo)
        ci_hi = np.where(single, mu + z * se, ci_hi)
        pi_half = np.where(single, np.nan, pi_half)
    for arr in (i2, h2, q, q_p, tau2):
        arr[none] = np.nan
    tau2_ci[none] = np.nan
    i2_ci[none] = np.nan
    h2_ci[none] = np.nan
    return BatchResult(
        method=method, test=test, level=level, k=k.astype(int), estimate=mu, se=se, ci_lower=ci_lo,
        ci_upper=ci_hi, statistic=stat, df=np.where((test == "hksj") & (k > 1), df, np.nan), p_value=p,
        pi_lower=mu - pi_half, pi_upper=mu + pi_half, tau2=tau2, tau2_ci=tau2_ci, i2=i2, i2_ci=i2_ci,
        h2=h2, h2_ci=h2_ci, q=q, q_p=q_p, fe_estimate=fe_mu, fe_se=fe_se, converged=converged,
    )


def q_profile(Y, V, M, k, level):
    """Q-profile confidence interval for tau² (Viechtbauer 2007), vectorised over rows.

    Lower bound: Q_gen(tau²) = chi²_{k-1}(1 - alpha/2); upper: Q_gen(tau²) = chi²_{k-1}(alpha/2).
    Q_gen decreases in tau²; a bound whose equation has no root above 0 is 0 (metafor).
    """
    alpha = 1 - level
    active = k > 1
    dfs = np.maximum(k - 1, 1)
    hi_q = special.chdtri(dfs, alpha / 2)  # upper alpha/2 quantile of chi²(k-1)
    lo_q = special.chdtri(dfs, 1 - alpha / 2)
    lower = solve_q(Y, V, M, hi_q, active)
    upper = solve_q(Y, V, M, lo_q, active)
    return np.column_stack([lower, upper])


def fit_batch(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95, *,
              intervals: bool = True) -> BatchResult:
    """Fit many meta-analyses at once.

    Parameters
    ----------
    yi, vi : 2-D array-likes of shape (m, k) padded with NaN, or lists of 1-D arrays
        Effect sizes and sampling variances, one meta-analysis per row.
    method, test, level : as :func:`fit` (MH and PETO need 2x2 tables: use ``fit_tables``).
    intervals : bool
        Compute the Q-profile CIs of tau², I² and H² (the slowest part); False leaves them NaN.

    Returns
    -------
    BatchResult
        Arrays with one entry per meta-analysis; rows with k = 1 have NaN heterogeneity.
    """
    method, test, level = check_settings(method, test, level)
    if method not in IV_METHODS:
        raise MetakError(f"method {method} needs 2x2 tables; fit_batch takes yi/vi (use metak.estimators.fit_tables)")
    Y, V, M = _as_2d(yi, vi)
    with np.errstate(all="ignore"):  # extreme rows come back NaN, as documented, without numpy's noise
        res = _fit_arrays(Y, V, M, method, test, level, intervals)
    if not res.converged.all():
        _warnings.warn(f"{int((~res.converged).sum())} {method} fits did not converge", ConvergenceWarning, stacklevel=2)
    return res


def fit(yi, vi, method: str = "REML", test: str = "z", level: float = 0.95) -> MetaResult:
    """Fit a fixed- or random-effects meta-analysis of effect sizes ``yi`` with variances ``vi``.

    Parameters
    ----------
    yi, vi : array-like
        Effect sizes on the analysis scale (log for ratio measures) and their sampling
        variances. Non-finite pairs are dropped with a warning in the result.
    method : {"FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB"}
        Estimator of tau² (FE: fixed effect). MH and PETO need tables: ``fit_tables``.
    test : {"z", "hksj"}
        Normal-theory z test, or Knapp-Hartung (metafor's ``test="knha"``).
    level : float
        Confidence level, e.g. 0.95.

    Returns
    -------
    MetaResult
        Frozen result with the results.json field names.

    References
    ----------
    Viechtbauer W (2010). Conducting meta-analyses in R with the metafor package. J Stat Softw 36(3).
    """
    method, test, level = check_settings(method, test, level)
    if method not in IV_METHODS:
        raise MetakError(f"method {method} needs 2x2 tables (use metak.estimators.fit_tables)")
    y = as_floats(yi, "yi").ravel()
    v = as_floats(vi, "vi").ravel()
    if y.shape != v.shape:
        raise MetakError(f"yi and vi have different lengths ({y.size} and {v.size})")
    ok = np.isfinite(y) & np.isfinite(v)
    notes = []
    if not ok.all():
        notes.append(f"{int((~ok).sum())} stud(y/ies) with a non-finite yi or vi left out of the fit")
    y, v = y[ok], v[ok]
    if y.size == 0:
        raise MetakError("no study with a finite effect size and variance to fit")
    if np.any(v <= 0):
        raise MetakError("every sampling variance vi must be greater than 0")
    if y.size == 1:
        return single_study(y[0], v[0], method, test, level, extra=notes)
    with np.errstate(all="ignore"):  # extreme inputs: a null result with its reason below, not numpy's noise
        out = _fit_one(y, v, method, test, level)
        if out is None:  # what the fast path does not cover: the batch engine on one row
            res = _fit_arrays(y[None, :], v[None, :], np.ones((1, y.size)), method, test, level)
            tau2 = 0.0 if method == "FE" else res.tau2[0]
            w = 1 / (v + tau2)
            out = res.result(0, weights=np.clip(100 * w / w.sum(), 0.0, 100.0))
    extra = list(notes)
    if not all(np.isfinite(x) for x in (out.estimate, out.se, out.ci_lower, out.ci_upper)):
        extra.append(why_not_finite(y, v, method))
    if method != "FE":
        extra += _qp_warnings(out)
    if not out.converged:
        _warnings.warn(out.warnings[0], ConvergenceWarning, stacklevel=2)
    if extra:
        out = _with_warnings(out, extra)
    return out


#: below this a variance's squared weight 1/vi² overflows a double (sqrt of the largest double's inverse)
_SQUARE_LIMIT = 1.0 / np.sqrt(np.finfo(float).max)


def why_not_finite(y, v, method) -> str:
    """Why a fit of finite effects ``y`` with positive variances ``v`` came out without an
    estimate, SE or CI: which of its intermediate values leave double precision."""
    tiny = np.finfo(float).tiny
    vmin, vmax = float(np.min(v)), float(np.max(v))
    with np.errstate(all="ignore"):
        spread = float(np.max(y)) - float(np.min(y))
    if vmin < tiny:
        reason = f"the sampling variance {vmin:.3g} is subnormal, so its weight 1/vi overflows double precision"
    elif vmin < _SQUARE_LIMIT:
        reason = (f"the variances span {np.log10(vmax / vmin):.0f} orders of magnitude and the smallest, "
                  f"{vmin:.3g}, is so small that its squared weight 1/vi² overflows double precision")
    elif not np.isfinite(spread) or spread > 1e100:
        reason = (f"the effect sizes span {spread:.3g}, so their squared deviations, tau² and the weights "
                  "1/(vi + tau²)² overflow or underflow double precision")
    else:
        reason = (f"an intermediate value overflows or underflows double precision (variances {vmin:.3g} to "
                  f"{vmax:.3g}, effect sizes spanning {spread:.3g})")
    return (f"{method}: the estimate, its SE or its CI could not be computed: {reason}; "
            "rescale the effect sizes (other units) or check the input")


def _qp_warnings(res: MetaResult) -> list[str]:
    if res.tau2_ci is not None and res.tau2_ci[1] == 0:
        return ["the Q-profile confidence interval of tau² is empty (Q at tau² = 0 is below the lower "
                "quantile); it is set to [0, 0], as metafor does"]
    return []


def _with_warnings(res: MetaResult, extra) -> MetaResult:
    from dataclasses import replace

    return replace(res, warnings=tuple(res.warnings) + tuple(extra))


def single_study(y, v, method, test, level, extra=()) -> MetaResult:
    """k = 1: the study's own estimate and normal CI; heterogeneity undefined (null)."""
    se = float(np.sqrt(v))
    crit = _norm_ppf(0.5 + level / 2)
    z = y / se
    return MetaResult(
        method=method, test=test, level=level, k=1, estimate=float(y), se=se,
        ci_lower=y - crit * se, ci_upper=y + crit * se, statistic=z, df=None,
        p_value=float(2 * special.ndtr(-abs(z))),
        common_effect=CommonEffect(float(y), se, y - crit * se, y + crit * se),
        weights=(100.0,),
        warnings=tuple(extra) + ("k = 1: the result is the single study's own estimate and z-based CI; "
                                 "heterogeneity, the prediction interval and the Knapp-Hartung test are undefined",),
    )

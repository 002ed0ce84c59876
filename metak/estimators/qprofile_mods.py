"""The Q-profile confidence interval of the residual tau² of a meta-regression.

metafor's ``confint(res)`` for ``rma(yi, vi, mods = ...)`` (``confint.rma.uni``, type "QP";
Viechtbauer 2007, generalised to mixed-effects models): with the generalised residual
heterogeneity statistic

    Q_E(tau²) = y'P(tau²)y,  P = W - W X (X'WX)^-1 X'W,  W = diag(1 / (vi + tau²)),

which follows chi² on k - p df at the true tau², the bounds are the roots of
Q_E(tau²) = chi²_{k-p}(1 - alpha/2) (lower) and chi²_{k-p}(alpha/2) (upper). Q_E decreases
in tau², so a bound whose equation has no root above 0 is 0; when Q_E(0) is already below the
lower quantile both bounds are 0 and the interval is empty (metafor's ``ci.null``). With p = 1
(the intercept) this is :func:`metak.estimators.fit.q_profile`.

The I² and H² bounds are transformed with the typical within-study variance
s² = (k - p) / tr P(0) (metafor's ``vt``), the same s² that gives the fit's I² and H²;
tau's bounds are the square roots.

Differences from metafor: the roots are solved to 1e-12 relative (metafor's uniroot stops at
a tolerance of ~1e-4 by default, ``control = list(tol = ...)``), and the search is not capped
at metafor's ``tau2.max`` = max(100, 10 tau²) (metafor then reports the cap with ">"), as for
the intercept-only fit.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from .._blas import single_threaded
from ..errors import ConvergenceWarning, MetakError
from .tau2_mods import _solve_pm, _standardise
from .wls_mods import _Moments


@single_threaded
def q_profile_regression(yi, vi, X, tau2: float, level: float = 0.95) -> dict:
    """Q-profile CI of the residual tau² of the meta-regression with design ``X`` (k x p, with
    its intercept column), and the matching CIs of tau, I² and H².

    Parameters
    ----------
    yi, vi : array-like (k,)
        Effects and sampling variances (all vi > 0).
    X : array-like (k, p)
        The design matrix the model was fitted with.
    tau2 : float
        The fit's estimate of tau² (any estimator): the ``estimate`` column.
    level : float
        Confidence level.

    Returns
    -------
    dict
        ``tau2, tau, i2, h2``: each ``(estimate, ci_lower, ci_upper)``; ``ci_null``: True when
        the interval is empty (Q_E(0) below the lower quantile; both bounds are then 0);
        ``converged``: both root searches converged.
    """
    y = np.asarray(yi, float).ravel()
    v = np.asarray(vi, float).ravel()
    X = np.asarray(X, float)
    if X.ndim == 1:
        X = X[:, None]
    k, p = X.shape
    if k <= p:
        raise MetakError(f"confint: the Q-profile CI of tau² needs more studies ({k}) than coefficients ({p})")
    if np.any(v <= 0):
        raise MetakError("confint: the Q-profile CI of tau² needs every sampling variance vi > 0")
    Xs = _standardise(X)[0]
    df = k - p
    alpha = 1 - level
    crit_u = float(special.chdtri(df, alpha / 2))      # upper alpha/2 quantile
    crit_l = float(special.chdtri(df, 1 - alpha / 2))  # lower alpha/2 quantile
    m = _Moments(y, v, Xs)  # the weighted sums both root searches and Q_E(0) share
    lower, ok_l = _solve_pm(y, v, Xs, crit_u, m)
    upper, ok_u = _solve_pm(y, v, Xs, crit_l, m)
    rss0, _, tr_p0, *_ = m.at(0.0)
    ci_null = rss0 < crit_l
    s2 = df / tr_p0

    def i2(t):
        return 100 * t / (s2 + t)

    def h2(t):
        return t / s2 + 1

    t = float(tau2)
    return {"tau2": (t, lower, upper), "tau": (np.sqrt(t), np.sqrt(lower), np.sqrt(upper)),
            "i2": (i2(t), i2(lower), i2(upper)), "h2": (h2(t), h2(lower), h2(upper)),
            "ci_null": bool(ci_null), "converged": bool(ok_l and ok_u)}


#: what :func:`qprofile_notes` says (metafor's wording for the null set: "The upper and lower CI
#: bounds for tau^2 both fall below 0. The CIs are therefore equal to the null/empty set.")
NULL_SET_NOTE = ("the upper and lower CI bounds of the residual tau² both fall below 0: the CIs of tau², tau, I² and "
                 "H² are the null/empty set (shown as 0, and 1 for H², as metafor does)")
NOT_CONVERGED_NOTE = "the Q-profile root search for the CI of the residual tau² did not converge"


def qprofile_notes(qp: dict) -> list[tuple[str, type]]:
    """The notes a :func:`q_profile_regression` result needs, each with its warning category:
    the null/empty set, a root search that did not converge."""
    out = []
    if qp["ci_null"]:
        out.append((NULL_SET_NOTE, UserWarning))
    if not qp["converged"]:
        out.append((NOT_CONVERGED_NOTE, ConvergenceWarning))
    return out

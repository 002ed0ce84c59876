"""Meta-regression: the mixed-effects model y = X b + u + e with a k x p design matrix X.

This is metafor's ``rma(yi, vi, mods = ~ ..., method, test)`` (Viechtbauer 2010, sections 3.3
and 3.4), beside the O(k) intercept-only fast path of :mod:`metak.estimators.fit`, which stays.
Nothing here forms a k x k matrix: with W = diag(w) and A = X'WX (p x p), the projection
P = W - W X A^-1 X' W enters only through

* P y = w e with the weighted residuals e = y - X b, so y'P y = sum w e² and y'PP y = sum w² e²;
* tr P = sum w - tr(A^-1 X'W²X);
* tr PP = sum w² - 2 tr(A^-1 X'W³X) + tr((A^-1 X'W²X)²),

so one iteration costs O(k p²), and k = 100,000 fits in milliseconds.

The tau² estimators in their general forms (metafor's ``rma.uni``):

* DL (DerSimonian & Laird 1986; Raudenbush 2009): (QE - (k - p)) / tr P_FE, truncated at 0;
* HE (Hedges 1983; Raudenbush 2009): (RSS_OLS - tr(P_OLS V)) / (k - p), truncated at 0;
* SJ (Sidik & Jonkman 2005): tau0² y'P(tau0²) y / (k - p) with tau0² = sum (y - ybar)² / k
  (the variance of the raw effects, also with moderators, as metafor);
* PM (Paule & Mandel 1982): the root of y'P(tau²) y = k - p, 0 when there is none;
* EB (Morris 1983): metafor's iteration tau² += (k/(k - p) y'Py - k) / sum w has the PM
  equation as its fixed point, so it is solved exactly as PM;
* ML / REML: Fisher scoring from the HE estimate, truncated at 0, with step halving when a
  step lowers the (restricted) likelihood.

Tests of the coefficients: z, or Knapp & Hartung (2003) with vb scaled by
s² = y'Py / (k - p) (not truncated at 1, metafor's default), t on k - p df; the omnibus QM is
a Wald chi² on m df, or QM/m on F(m, k - p) under Knapp-Hartung. QE is the residual
heterogeneity test (inverse-variance weights), I² = 100 tau² / (tau² + s²) with the typical
variance s² = (k - p) / tr P_FE, H² = 1 + tau²/s²; fixed-effect fits report
I² = max(0, 100 (QE - df) / QE), H² = QE / df. R² = max(0, 100 (tau²_0 - tau²) / tau²_0)
(Raudenbush 2009), tau²_0 from the intercept-only model with the same estimator; 0 when
tau²_0 = 0; a fixed-effect meta-regression reports 100 x the adjusted R² of its weighted
least-squares fit (metafor 3.8).
"""

from __future__ import annotations

import itertools
import math
from dataclasses import dataclass, field

import numpy as np
from scipy import special

from ..errors import MetakError
from ..format import as_floats
from ..vocab import IV_METHODS
from .fit import check_settings

from .tau2_mods import _standardise, _tau2
from .wls_mods import _Moments
from .._blas import single_threaded


@dataclass(frozen=True)
class Coefficient:
    """One model coefficient, named as results.json names it ("intercept", "latitude", "allocation=random")."""

    name: str
    estimate: float
    se: float
    statistic: float
    p_value: float | None
    ci_lower: float
    ci_upper: float
    p_permutation: float | None = None

    def to_dict(self) -> dict:
        from ..format import clean

        out = {"name": self.name, "estimate": clean(self.estimate), "se": clean(self.se),
               "statistic": clean(self.statistic), "p_value": clean(self.p_value),
               "ci_lower": clean(self.ci_lower), "ci_upper": clean(self.ci_upper)}
        if self.p_permutation is not None:
            out["p_permutation"] = clean(self.p_permutation)
        return out


@dataclass(frozen=True)
class RegressionResult:
    """A fitted meta-regression (metafor's ``rma(mods = ...)``); names as in results.json."""

    method: str
    test: str
    level: float
    k: int
    coefficients: tuple[Coefficient, ...]
    vcov: np.ndarray = field(repr=False, compare=False)
    df: int | None
    tau2: float | None
    qm: float | None
    qm_df: object
    qm_p: float | None
    qe: float
    qe_df: int
    qe_p: float
    i2: float | None
    h2: float | None
    r2: float | None
    tau2_null: float | None = None
    converged: bool = True
    qm_p_permutation: float | None = None
    permutations: int | None = None
    permutation_exact: bool | None = None
    moderators: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def p(self) -> int:
        return len(self.coefficients)

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(c.name for c in self.coefficients)

    @property
    def beta(self) -> np.ndarray:
        return np.array([c.estimate for c in self.coefficients])

    def coefficient(self, name: str) -> Coefficient:
        for c in self.coefficients:
            if c.name == name:
                return c
        raise KeyError(name)

    def predict(self, x) -> dict:
        """The fitted effect at moderator row(s) ``x`` (with the intercept's 1), with CI and PI
        (metafor's ``predict(res, newmods = ...)``)."""
        x = np.atleast_2d(np.asarray(x, dtype=float))
        pred = x @ self.beta
        se = np.sqrt(np.einsum("ij,jk,ik->i", x, self.vcov, x))
        crit = _crit(self.test, self.level, self.df)
        tau2 = self.tau2 or 0.0
        half_pi = crit * np.sqrt(se**2 + tau2)
        return {"estimate": pred, "se": se, "ci_lower": pred - crit * se, "ci_upper": pred + crit * se,
                "pi_lower": pred - half_pi, "pi_upper": pred + half_pi}

    def to_dict(self) -> dict:
        """The ``meta_regression`` object of results.json (contract section 5)."""
        from ..format import clean

        out = {"moderators": list(self.moderators), "test": self.test, "k": self.k,
               "coefficients": [c.to_dict() for c in self.coefficients],
               "qm": clean(self.qm),
               "qm_df": list(self.qm_df) if isinstance(self.qm_df, tuple) else clean(self.qm_df),
               "qm_p": clean(self.qm_p), "qe": clean(self.qe), "qe_df": self.qe_df, "qe_p": clean(self.qe_p),
               "tau2": clean(self.tau2), "r2": clean(self.r2), "i2": clean(self.i2), "h2": clean(self.h2),
               "vcov": [[clean(v) for v in row] for row in np.asarray(self.vcov)]}
        if self.permutations is not None:
            out["permutation"] = {"permutations": self.permutations, "exact": self.permutation_exact,
                                  "qm_p": clean(self.qm_p_permutation)}
        return out

    def summary(self) -> str:
        """A metafor-like printout."""
        lines = [f"Mixed-effects meta-regression (k = {self.k}; tau² estimator: {self.method}; test: {self.test})"]
        if self.tau2 is not None:
            lines.append(f"tau² (residual) = {self.tau2:.4f}; I² (residual) = {self.i2:.2f}%; "
                         f"H² = {self.h2:.4f}" + (f"; R² = {self.r2:.2f}%" if self.r2 is not None else ""))
        lines.append(f"Residual heterogeneity: QE(df = {self.qe_df}) = {self.qe:.4f}, p = {self.qe_p:.4g}")
        if self.qm is not None:
            dfs = f"df1 = {self.qm_df[0]}, df2 = {self.qm_df[1]}" if isinstance(self.qm_df, tuple) else f"df = {self.qm_df}"
            name = "F" if self.test == "hksj" else "QM"
            lines.append(f"Test of moderators: {name}({dfs}) = {self.qm:.4f}, p = {self.qm_p:.4g}")
        width = max(len(c.name) for c in self.coefficients)
        stat = "tval" if self.test == "hksj" else "zval"
        lines.append(f"{'':{width}}  {'estimate':>9} {'se':>8} {stat:>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}")
        for c in self.coefficients:
            lines.append(f"{c.name:{width}}  {c.estimate:9.4f} {c.se:8.4f} {c.statistic:8.4f} {c.p_value:8.4f} "
                         f"{c.ci_lower:9.4f} {c.ci_upper:9.4f}")
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()


def _crit(test, level, df):
    if test == "hksj":
        return float(special.stdtrit(df, 0.5 + level / 2))
    return float(special.ndtri(0.5 + level / 2))


def check_design(X, names=None) -> tuple[np.ndarray, tuple[str, ...]]:
    """Validate a design matrix: finite, k > p, full column rank. Errors say which column."""
    X = np.asarray(X, dtype=float)
    if X.ndim == 1:
        X = X[:, None]
    if X.ndim != 2:
        raise MetakError(f"the design matrix X must be k x p, got shape {X.shape}")
    k, p = X.shape
    # np.allclose(X[:, 0], 1) without its ~15 us of generality (issue 24)
    names = tuple(names) if names is not None else (("intercept",) + tuple(f"x{j}" for j in range(1, p))
                                                    if k and np.abs(X[:, 0] - 1).max() <= 1e-8 + 1e-5
                                                    else tuple(f"x{j + 1}" for j in range(p)))
    if len(names) != p:
        raise MetakError(f"{len(names)} coefficient names for {p} columns of X")
    if not np.isfinite(X).all():
        bad = [names[j] for j in range(p) if not np.isfinite(X[:, j]).all()]
        raise MetakError(f"the design matrix has missing or non-finite values in {', '.join(bad)}")
    if k <= p:
        raise MetakError(f"{p} coefficient(s) ({', '.join(names)}) but only {k} stud(y/ies): a meta-regression "
                         f"needs more studies than coefficients")
    sv = np.linalg.svd(X, compute_uv=False)  # numpy.linalg.matrix_rank's rule, without its wrapper
    rank = int((sv > sv.max() * max(k, p) * np.finfo(float).eps).sum())
    if rank < p:
        const = [names[j] for j in range(p) if names[j] != "intercept" and np.ptp(X[:, j]) == 0]
        if const:
            raise MetakError(f"moderator {', '.join(const)} is constant across the {k} studies: its effect "
                             "cannot be told apart from the intercept")
        raise MetakError(f"the moderators are collinear (the design matrix has rank {rank} < {p} columns: "
                         f"{', '.join(names)}); drop one of them")
    return X, names


@single_threaded
def fit_regression(yi, vi, X, *, method: str = "REML", test: str = "z", level: float = 0.95, names=None,
                   btt=None, permutations: int | None = None, seed: int | None = None,
                   moderators=()) -> RegressionResult:
    """Fit a meta-regression, as metafor's ``rma(yi, vi, mods = X, intercept = FALSE, ...)``.

    Parameters
    ----------
    yi, vi : array-like (k,)
        Effects on the analysis scale and their sampling variances.
    X : array-like (k, p)
        The design matrix, with a column of ones for the intercept when there is one.
    method : one of FE, DL, REML, ML, PM, SJ, HE, EB
    test : "z" or "hksj" (Knapp-Hartung: t on k - p df, F for QM)
    names : coefficient names (default: "intercept", "x1", ...)
    btt : indices of the coefficients QM tests (default: all but an intercept column)
    permutations : int, optional
        Run a permutation test (metafor's ``permutest``): the rows of X are shuffled this many
        times (the first "permutation" is the observed order, as metafor) and p-values are
        the share of permuted statistics at least as extreme. When k! <= permutations every
        permutation is enumerated (the exact test).
    seed : int
        Seed of the permutations (numpy's default generator).

    References
    ----------
    Viechtbauer W (2010), J Stat Softw 36(3); Raudenbush SW (2009), in The Handbook of Research
    Synthesis and Meta-Analysis, 2nd ed.; Knapp G, Hartung J (2003), Stat Med 22:2693-2710;
    Higgins JPT, Thompson SG (2004), Stat Med 23:1663-1682 (permutation tests).
    """
    method, test, level = check_settings(method, test, level)
    if method not in IV_METHODS:
        raise MetakError(f"meta-regression is an inverse-variance model; method {method} is not possible "
                         f"(use one of {', '.join(IV_METHODS)})")
    y = as_floats(yi, "yi").ravel()
    v = as_floats(vi, "vi").ravel()
    X, names = check_design(as_floats(X, "X"), names)
    if not (y.size == v.size == X.shape[0]):
        raise MetakError(f"yi ({y.size}), vi ({v.size}) and X ({X.shape[0]} rows) differ in length")
    if not (np.isfinite(y).all() and np.isfinite(v).all()):
        raise MetakError("yi and vi must be finite for a meta-regression")
    if np.any(v <= 0):
        raise MetakError("every sampling variance vi must be greater than 0")
    k, p = X.shape
    has_int = bool(np.all(X[:, 0] == 1))
    if btt is None:
        btt = tuple(range(1, p)) if has_int and p > 1 else tuple(range(p))
    btt = tuple(btt)
    Xs, T = _standardise(X)
    Tinv = np.linalg.inv(T)
    m = _Moments(y, v, Xs)
    core = _fit_core(y, v, Xs, Tinv, method, test, level, btt, m)
    warns = []
    if not core["converged"]:
        warns.append(f"the {method} estimator of tau² did not converge in meta-regression; results may be inaccurate")
    # residual heterogeneity (inverse-variance weights, whatever the estimator)
    rss0, _, tr_p0, *_ = m.at(0.0)
    qe = max(0.0, rss0)
    qe_df = k - p
    qe_p = float(special.chdtrc(qe_df, qe))
    tau2 = core["tau2"]
    if method == "FE":
        i2 = max(0.0, 100 * (qe - qe_df) / qe) if qe > 0 else 0.0
        h2 = qe / qe_df
        tau2_out = None
    else:
        s2 = qe_df / tr_p0
        i2 = 100 * tau2 / (s2 + tau2)
        h2 = tau2 / s2 + 1
        tau2_out = tau2
    r2 = tau2_null = None
    if method == "FE" and has_int and p > 1:
        r2 = _adjusted_r2(y, v, Xs, rss0)
    elif has_int and p > 1:
        # the intercept-only model by the O(k) fast path (the same estimator; tested equal), in
        # its single-fit form (tau2_one.tau2_one: the batch estimator's value without its overhead)
        from .tau2_one import tau2_one

        tau2_null, _ = tau2_one(np.asarray(y, float), np.asarray(v, float), method)
        r2 = 0.0 if tau2_null <= 0 else max(0.0, 100 * (tau2_null - tau2) / tau2_null)
    p_perm = [None] * p
    qm_p_perm = None
    exact = None
    if permutations is not None:
        p_perm, qm_p_perm, permutations, exact = _permutation_test(y, v, Xs, Tinv, method, test, level, btt, core,
                                                                   int(permutations), seed)
    coefs = tuple(Coefficient(n, float(b), float(s), float(z), pv, float(lo), float(hi), pp)
                  for n, b, s, z, pv, lo, hi, pp in zip(names, core["b"], core["se"], core["z"], core["p"],
                                                        core["lo"], core["hi"], p_perm))
    return RegressionResult(
        method=method, test=test, level=level, k=k, coefficients=coefs, vcov=core["vb"],
        df=(k - p) if test == "hksj" else None, tau2=tau2_out, qm=core["qm"], qm_df=core["qm_df"],
        qm_p=core["qm_p"], qe=qe, qe_df=qe_df, qe_p=qe_p, i2=i2, h2=h2, r2=r2, tau2_null=tau2_null,
        converged=core["converged"], qm_p_permutation=qm_p_perm,
        permutations=permutations, permutation_exact=exact, moderators=tuple(moderators), warnings=tuple(warns))


def _adjusted_r2(y, v, X, rss):
    """metafor's R² of a fixed-effect meta-regression: 100 x the adjusted R² of the weighted
    least-squares fit (weights 1/vi, residual sum of squares ``rss``), truncated at 0; 0 when
    all yi are equal."""
    k, p = X.shape
    w = 1 / v
    ybar = (w * y).sum() / w.sum()
    tss = (w * (y - ybar) ** 2).sum()
    if tss <= 0:
        return 0.0
    adj = 1 - (rss / (k - p)) / (tss / (k - 1))
    return max(0.0, 100 * adj)


def _fit_core(y, v, Xs, Tinv, method, test, level, btt, mom=None):
    """Coefficients, their covariance and the tests at the estimated tau² (Xs = X T^-1 the
    standardised design; coefficients are mapped back to X's by T^-1; ``mom``: the data's
    :class:`~metak.estimators.tau2_mods._Moments`)."""
    k, p = Xs.shape
    mom = mom or _Moments(y, v, Xs)
    tau2, converged = _tau2(y, v, Xs, method, mom)
    bs, vbs, rss = mom.coef(tau2)
    b = Tinv @ bs
    vb = Tinv @ vbs @ Tinv.T
    if test == "hksj":
        s2w = 0.0 if rss <= np.finfo(float).eps else rss / (k - p)
        vb = s2w * vb
    se = np.sqrt(np.diag(vb))
    with np.errstate(divide="ignore", invalid="ignore"):
        z = b / se
    m = len(btt)
    if m == 1:  # a scalar Wald statistic (numpy.linalg.solve's checks cost more than a fit step)
        j = btt[0]
        qm = float(b[j] ** 2 / vb[j, j]) if vb[j, j] > 0 else math.nan
    else:
        idx = np.array(btt)
        try:
            sub = vb[np.ix_(idx, idx)]
            qm = float(b[idx] @ np.linalg.solve(sub, b[idx]))
        except np.linalg.LinAlgError:
            qm = math.nan
    if test == "hksj":
        df = k - p
        qm = qm / m
        qm_df = (m, df)
        qm_p = float(special.fdtrc(m, df, qm))
        pv = 2 * special.stdtr(df, -np.abs(z))
    else:
        qm_df = m
        qm_p = float(special.chdtrc(m, qm))
        pv = 2 * special.ndtr(-np.abs(z))
    crit = _crit(test, level, k - p)
    return {"tau2": tau2, "converged": converged, "b": b, "vb": vb, "se": se, "z": z, "p": [float(x) for x in pv],
            "lo": b - crit * se, "hi": b + crit * se, "qm": qm, "qm_df": qm_df, "qm_p": qm_p}


def _permutation_test(y, v, X, Tinv, method, test, level, btt, core, n, seed):
    """metafor's permutest: shuffle the rows of X, refit, compare |z| and QM with the observed."""
    k = X.shape[0]
    comptol = math.sqrt(np.finfo(float).eps)  # metafor's comptol
    exact = math.factorial(k) <= n
    if exact:
        orders = itertools.permutations(range(k))
        n = math.factorial(k)
    else:
        rng = np.random.default_rng(seed)
        orders = itertools.chain([tuple(range(k))], (rng.permutation(k) for _ in range(n - 1)))
    from ..progress import task

    zs = np.empty((n, X.shape[1]))
    qms = np.empty(n)
    with task("permutation test", n) as advance:
        for i, order in enumerate(orders):
            c = _fit_core(y, v, X[list(order)], Tinv, method, test, level, btt)
            zs[i] = c["z"]
            qms[i] = c["qm"]
            advance()
    p_coef = [float(np.mean(np.abs(zs[:, j]) >= abs(core["z"][j]) - comptol)) for j in range(X.shape[1])]
    qm_p = float(np.mean(qms >= core["qm"] - comptol))
    return p_coef, qm_p, n, exact

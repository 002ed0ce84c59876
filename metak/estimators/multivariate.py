"""Multivariate (multi-arm) random-effects model: metafor's
``rma.mv(yi, V, mods, random = ~ 1 | trial/comparison, method = "REML")``.

Comparisons of one trial that share a control group are correlated through it: their sampling
covariance matrix V is block-diagonal by trial (the off-diagonals are the control arm's
contribution, :func:`shared_control_cov`). The model adds a between-trial variance sigma²_1
(all comparisons of a trial share it) and a within-trial between-comparison variance
sigma²_2, so trial i's marginal covariance is

    M_i = V_i + sigma²_1 J + sigma²_2 I.

The (restricted) likelihood is summed over trials: every matrix is a trial's block (a few
comparisons), stacked by block size, so the cost is O(k) in the number of comparisons. (V is
passed as a dense k x k array of which only the trial blocks are read: at k in the tens of
thousands its memory, not the fit, is the limit.) 1,000 trials of 3 arms fit in ~30 ms
(``benchmarks/bench_multivariate.py``).
The variance components maximise it under sigma² >= 0 (L-BFGS-B with the analytic gradient,
then a check of the boundary), as metafor's ``rma.mv`` does with its optimiser.

Tests: ``test = "z"``, or ``"t"`` on k - p degrees of freedom (metafor's ``test = "t"`` for
rma.mv; there is no Knapp-Hartung rescaling in rma.mv, and metak's ``hksj`` maps to it,
stated in the output).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy import optimize, special

from ..errors import MetakError
from .._blas import single_threaded


@dataclass(frozen=True)
class MVResult:
    k: int
    n_trials: int
    coefficients: tuple        # ((name, estimate, se, statistic, p, ci_lower, ci_upper), ...)
    sigma2: tuple              # (between trials, between comparisons within trials)
    vb: np.ndarray = field(repr=False)
    beta: np.ndarray = field(repr=False)
    test: str = "z"
    df: int | None = None
    loglik: float | None = None
    qe: float | None = None
    qe_p: float | None = None
    converged: bool = True

    @property
    def estimate(self):
        return self.coefficients[0][1]

    def to_dict(self) -> dict:
        keys = ("name", "estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper")
        return {"k": self.k, "n_trials": self.n_trials, "test": self.test, "df": self.df,
                "coefficients": [dict(zip(keys, (c[0], *map(float, c[1:])))) for c in self.coefficients],
                "sigma2_trial": float(self.sigma2[0]), "sigma2_comparison": float(self.sigma2[1]),
                "qe": self.qe, "qe_p": self.qe_p, "loglik": self.loglik}


def shared_control_cov(measure: str, ctl, cc_add: float = 0.0) -> float:
    """Sampling covariance of two comparisons against the same control arm ``ctl``:
    OR 1/c + 1/d (cells after the continuity correction ``cc_add``), RR 1/c - 1/n_c,
    RD p_c (1 - p_c) / n_c, MD sd_c² / n_c. (SMD: :func:`smd_cov`.)"""
    if measure == "OR":
        c, d = ctl.events + cc_add, ctl.total - ctl.events + cc_add
        return 1 / c + 1 / d
    if measure == "RR":
        c, n = ctl.events + cc_add, ctl.total + 2 * cc_add
        return 1 / c - 1 / n
    if measure == "RD":
        p = ctl.events / ctl.total
        return p * (1 - p) / ctl.total
    if measure == "MD":
        return ctl.sd**2 / ctl.n
    raise MetakError(f"no shared-control covariance for measure {measure}")


def smd_cov(d1: float, d2: float, n_c: float, n_total: float) -> float:
    """Gleser & Olkin (2009): covariance of two SMDs sharing a control group,
    1/n_c + d1 d2 / (2 N), N the trial's total sample size."""
    return 1 / n_c + d1 * d2 / (2 * n_total)


def _blocks(groups):
    out: dict = {}
    for i, g in enumerate(groups):
        out.setdefault(g, []).append(i)
    return [np.array(v) for v in out.values()]


@single_threaded
def fit_mv(yi, V, groups, X=None, *, method: str = "REML", test: str = "z", level: float = 0.95,
           names=None) -> MVResult:
    """Fit the two-level model ``rma.mv(yi, V, mods = X, random = ~ 1 | trial/comparison)``.

    Parameters
    ----------
    yi : array_like, shape (k,)
        Effects on the analysis scale.
    V : array_like, shape (k, k)
        Sampling covariance, zero across trials (only each trial's block is read).
    groups : sequence, shape (k,)
        Each row's trial.
    X : array_like, shape (k, p), optional
        Design matrix (default: an intercept).
    method : {"REML", "ML", "FE"}
        FE sets both variance components to 0.
    test : {"z", "t"}
        ``t`` on k - p degrees of freedom (``hksj`` is taken as ``t``: rma.mv has no
        Knapp-Hartung rescaling).
    level : float
        Confidence level.
    names : list of str, optional
        Coefficient names (default ``intercept, x1, ...``).

    Returns
    -------
    MVResult
        Coefficients, ``sigma2`` (between trials, between comparisons within a trial), ``vb``,
        QE and the log-likelihood.
    """
    if test == "hksj":  # rma.mv has no Knapp-Hartung rescaling: its t test on k - p df
        test = "t"
    if test not in ("z", "t"):
        raise MetakError(f"test must be z or t for the multivariate model, got {test!r}")
    y = np.asarray(yi, float)
    V = np.asarray(V, float)
    k = len(y)
    X = np.ones((k, 1)) if X is None else np.asarray(X, float)
    p = X.shape[1]
    names = list(names or (["intercept"] + [f"x{j}" for j in range(1, p)]))
    blocks = _blocks(list(groups))
    # trials of equal size are stacked, so each likelihood evaluation is a few batched
    # (n_trials, s, s) linear-algebra calls instead of a Python loop over trials
    by_size: dict = {}
    for blk in blocks:
        by_size.setdefault(len(blk), []).append(blk)
    stacks = []
    for size, blks in by_size.items():
        idx = np.array(blks)                      # (n, s)
        stacks.append((size, V[idx[:, :, None], idx[:, None, :]], X[idx], y[idx]))
    reml = method == "REML"

    def parts(s1, s2):
        A = np.zeros((p, p))
        c = np.zeros(p)
        logdet = 0.0
        inv = []
        for size, Vs, Xs, ys in stacks:
            M = Vs + s1 + s2 * np.eye(size)
            sign, ld = np.linalg.slogdet(M)
            if np.any(sign <= 0):
                raise np.linalg.LinAlgError("not positive definite")
            Mi = np.linalg.inv(M)
            inv.append(Mi)
            logdet += ld.sum()
            W = Mi @ Xs                            # (n, s, p)
            A += np.einsum("nsp,nsq->pq", Xs, W)
            c += np.einsum("nsp,ns->p", W, ys)
        beta = np.linalg.solve(A, c)
        return A, beta, logdet, inv

    def nll(theta):
        s1, s2 = theta
        A, beta, logdet, inv = parts(s1, s2)
        Ainv = np.linalg.inv(A)
        rss = g1 = g2 = 0.0
        for (size, Vs, Xs, ys), Mi in zip(stacks, inv):
            r = ys - Xs @ beta                     # (n, s)
            u = np.einsum("nst,nt->ns", Mi, r)
            rss += np.einsum("ns,ns->", r, u)
            # d/dsigma² of log|M| and of r'M^-1 r (beta at its GLS value: envelope theorem)
            g1 += Mi.sum() - (u.sum(1) ** 2).sum()
            g2 += np.trace(Mi, axis1=1, axis2=2).sum() - (u * u).sum()
            if reml:  # d log|X'M^-1 X| = -tr(A^-1 X'M^-1 D M^-1 X)
                W = Mi @ Xs
                w1 = W.sum(1)                      # (n, p): 1'M^-1 X
                g1 -= np.einsum("pq,np,nq->", Ainv, w1, w1)
                g2 -= np.einsum("pq,nsp,nsq->", Ainv, W, W)
        val = logdet + rss + (np.linalg.slogdet(A)[1] if reml else 0.0)
        return 0.5 * val, 0.5 * np.array([g1, g2])

    if method == "FE":
        s1 = s2 = 0.0
        converged = True
    elif method in ("REML", "ML"):
        scale = max(float(np.var(y)), 1e-8)
        best = None
        for start in ((scale / 4, scale / 4), (scale, 1e-6), (1e-6, scale)):
            res = optimize.minimize(nll, np.array(start), jac=True, method="L-BFGS-B",
                                    bounds=[(0.0, None), (0.0, None)],
                                    options={"ftol": 1e-15, "gtol": 1e-12, "maxiter": 2000})
            if best is None or res.fun < best.fun:
                best = res
        s1, s2 = (float(v) for v in best.x)
        converged = bool(best.success)
    else:
        raise MetakError(f"method {method} is not available for the multivariate model; use REML, ML or FE")
    A, beta, _, _ = parts(s1, s2)
    vb = np.linalg.inv(A)
    se = np.sqrt(np.diag(vb))
    stat = beta / se
    alpha = 1 - level
    if test == "t":
        df = k - p
        crit = special.stdtrit(df, 1 - alpha / 2)
        pv = 2 * special.stdtr(df, -np.abs(stat))
    else:
        df = None
        crit = special.ndtri(1 - alpha / 2)
        pv = 2 * special.ndtr(-np.abs(stat))
    coefs = tuple((names[j], beta[j], se[j], stat[j], pv[j], beta[j] - crit * se[j], beta[j] + crit * se[j])
                  for j in range(p))
    # QE: the residual heterogeneity test with V alone (metafor's QE of rma.mv)
    A0 = np.zeros((p, p))
    c0 = np.zeros(p)
    V0inv = [np.linalg.inv(Vs) for _, Vs, _, _ in stacks]
    for Vi, (_, _, Xs, ys) in zip(V0inv, stacks):
        W = Vi @ Xs
        A0 += np.einsum("nsp,nsq->pq", Xs, W)
        c0 += np.einsum("nsp,ns->p", W, ys)
    b0 = np.linalg.solve(A0, c0)
    qe = 0.0
    for Vi, (_, _, Xs, ys) in zip(V0inv, stacks):
        r = ys - Xs @ b0
        qe += float(np.einsum("ns,nst,nt->", r, Vi, r))
    qe_p = float(special.chdtrc(k - p, qe)) if k > p else None
    ll = -nll(np.array([s1, s2]))[0] - 0.5 * (k - (p if reml else 0)) * np.log(2 * np.pi)
    if reml:  # metafor's REML log-likelihood includes + 1/2 log|X'X|
        ll += 0.5 * np.linalg.slogdet(X.T @ X)[1]
    return MVResult(k, len(blocks), coefs, (s1, s2), vb, beta, test, df, float(ll), qe, qe_p, converged)


def mv_covariance(table, measure: str, cc) -> np.ndarray:
    """V of the multivariate model: each row's vi on the diagonal and, between two comparisons
    of one trial that share their control group, the control arm's contribution (OR with the
    continuity correction when either table needed it)."""
    k = table.k
    V = np.diag(table.vi)
    rows = table.rows
    for i in range(k):
        for j in range(i + 1, k):
            a, b = rows[i], rows[j]
            if a.trial != b.trial or a.comparison is None or b.comparison is None:
                continue
            if a.comparison.control != b.comparison.control:
                continue
            ctl = a.comparison.ctl_data
            if measure == "SMD":
                n_total = sum(x.n for x in (a.comparison.exp_data, b.comparison.exp_data, ctl))
                cov = smd_cov(a.yi, b.yi, ctl.n, n_total)
            else:
                zero = any(min(r.table) == 0 for r in (a, b) if r.table is not None)
                cov = shared_control_cov(measure, ctl, cc.add if zero and cc.to != "none" else 0.0)
            V[i, j] = V[j, i] = cov
    return V


def mv_weights(V: np.ndarray, groups, sigma2) -> np.ndarray:
    """Each row's weight (percent) in the GLS estimate of the intercept-only model: its entry of
    1'M_i^-1 over the total, M_i = V_i + sigma2_trial + sigma2_comparison I for trial i's block."""
    s1, s2 = sigma2
    w = np.zeros(len(groups))
    trials = np.array(groups, dtype=object)
    for t in dict.fromkeys(groups):
        idx = np.where(trials == t)[0]
        M = V[np.ix_(idx, idx)] + s1 + s2 * np.eye(len(idx))
        w[idx] = np.linalg.solve(M, np.ones(len(idx)))
    return 100 * w / w.sum()

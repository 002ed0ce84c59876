"""Frequentist contrast-based network meta-analysis: metafor's
``rma.mv(yi, V, mods = X, intercept = FALSE, random = ~ comp | study, rho = 1/2)``.

Trial i's contrasts (vs its baseline arm) have marginal covariance
``V_i + tau^2 P_i``, ``P_i = (I + J) / 2``: one common heterogeneity variance tau^2 for every
contrast, correlation 1/2 between two contrasts of one trial (the consistency model with
homogeneous variances; Salanti 2012, Rücker 2012). tau^2 by REML or ML (maximised over
tau^2 >= 0: a scan, then bounded Brent), DL (the method-of-moments estimator
``max(0, (Q - df) / tr(R P))``, ``R = W - W X (X'WX)^-1 X'W`` with W = V^-1, Jackson, White &
Riley 2012; for a network of two-arm trials it is the DerSimonian-Laird estimator of the
meta-regression on the contrast matrix, which is netmeta's), or FE (tau^2 = 0).

Written here rather than with metak.estimators.multivariate: that engine fits the nested
``~ 1 | trial/comparison`` structure with two free variances; this model has one variance with a
fixed correlation. Trials are stacked by their number of contrasts so every linear-algebra step
is one batched call (500 trials, 30 treatments fit in milliseconds; benchmarks/bench_network.py).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import optimize, stats

from ..errors import MetakError

LOG2PI = math.log(2 * math.pi)


class Blocks:
    """Trials stacked by block size: y, X, V and the random-effect structure P per group."""

    def __init__(self, y, X, blocks, trial):
        self.y, self.X, self.n, self.p = y, X, len(y), X.shape[1]
        # metafor's restricted log-likelihood carries + log|X'X| / 2
        self.half_logdet_xx = 0.5 * np.linalg.slogdet(X.T @ X)[1] if self.p else 0.0
        starts = np.concatenate([[0], np.cumsum([len(b) for b in blocks])])
        sizes = np.array([len(b) for b in blocks])
        self.groups = []
        for m in np.unique(sizes):
            which = np.flatnonzero(sizes == m)
            rows = starts[which][:, None] + np.arange(m)[None, :]
            V = np.stack([blocks[i] for i in which])
            P = (np.eye(m) + np.ones((m, m))) / 2
            self.groups.append((rows, y[rows], X[rows], V, P))

    def solve(self, tau2):
        """GLS at tau2: (beta, vb, logdet Sigma, r' Sigma^-1 r, logdet X'Sigma^-1 X)."""
        p = self.p
        A = np.zeros((p, p))
        b = np.zeros(p)
        logdet = 0.0
        yWy = 0.0
        for rows, y, X, V, P in self.groups:
            L = np.linalg.cholesky(V + tau2 * P)
            logdet += 2.0 * np.log(np.diagonal(L, axis1=1, axis2=2)).sum()
            Ly = np.linalg.solve(L, y[..., None]).reshape(-1)         # L^-1 y, stacked
            LX = np.linalg.solve(L, X).reshape(-1, p)                 # L^-1 X, stacked
            A += LX.T @ LX
            b += LX.T @ Ly
            yWy += float(Ly @ Ly)
        try:
            C = np.linalg.cholesky(A)
        except np.linalg.LinAlgError:
            raise MetakError("network: the treatment effects are not estimable from these contrasts "
                             "(singular information matrix); check that the network is connected") from None
        beta = np.linalg.solve(C.T, np.linalg.solve(C, b))
        vb = np.linalg.inv(A)
        rss = yWy - float(b @ beta)
        return beta, vb, logdet, max(rss, 0.0), 2.0 * np.log(np.diag(C)).sum()

    def loglik(self, tau2, method):
        _, _, logdet, rss, logdet_a = self.solve(tau2)
        if method == "ML":
            return -0.5 * (self.n * LOG2PI + logdet + rss)
        return self.half_logdet_xx - 0.5 * ((self.n - self.p) * LOG2PI + logdet + logdet_a + rss)

    def score(self, tau2, method):
        """d loglik / d tau^2 (ML; REML adds the trace of the information term):
        -1/2 [tr(S^-1 P) - r'S^-1 P S^-1 r] (- tr((X'S^-1X)^-1 X'S^-1 P S^-1 X) for REML)."""
        beta, vb, *_ = self.solve(tau2)
        total = 0.0
        M = np.zeros((self.p, self.p))
        for rows, y, X, V, P in self.groups:
            Si = np.linalg.inv(V + tau2 * P)
            r = y - X @ beta
            Sr = np.einsum("gij,gj->gi", Si, r)
            total += float(np.einsum("gij,ji->", Si, P)) - float(np.einsum("gi,ij,gj->", Sr, P, Sr))
            if method == "REML":
                SX = Si @ X
                M += SX.reshape(-1, self.p).T @ (P @ SX).reshape(-1, self.p)
        if method == "REML":
            total -= float(np.trace(vb @ M))
        return -0.5 * total

    def q_and_trace(self):
        """FE Q and tr(R P) (for the moment estimator)."""
        beta, vb, _, rss, _ = self.solve(0.0)
        # tr(R P) = tr(W P) - tr((X'WX)^-1 X'W P W X)
        trWP = 0.0
        M = np.zeros((self.p, self.p))
        for rows, y, X, V, P in self.groups:
            W = np.linalg.inv(V)
            trWP += float(np.einsum("gij,ji->", W, P))
            WX = W @ X
            M += WX.reshape(-1, self.p).T @ (P @ WX).reshape(-1, self.p)
        return rss, trWP - float(np.trace(vb @ M))


def estimate_tau2(blocks: Blocks, method: str) -> float:
    if method == "FE":
        return 0.0
    df = blocks.n - blocks.p
    if method == "DL":
        q, tr = blocks.q_and_trace()
        return max(0.0, (q - df) / tr) if tr > 0 else 0.0
    if method not in ("REML", "ML"):
        raise MetakError(f"network: method {method!r} is not one of FE, DL, ML, REML")
    if df <= 0 and method == "REML":
        return 0.0
    vmax = max(float(np.max([np.max(np.diagonal(g[3], axis1=1, axis2=2)) for g in blocks.groups])), 1e-12)
    scale = max(float(np.var(blocks.y)), vmax)
    grid = np.concatenate([[0.0], scale * np.logspace(-8, 2, 41)])
    ll = np.array([blocks.loglik(t, method) for t in grid])
    best = int(np.argmax(ll))
    lo = grid[max(best - 1, 0)]
    hi = grid[min(best + 1, len(grid) - 1)]
    if hi == lo:
        return float(grid[best])
    res = optimize.minimize_scalar(lambda t: -blocks.loglik(t, method), bounds=(lo, hi), method="bounded",
                                   options={"xatol": 1e-14 * max(hi, 1e-300) + 1e-15, "maxiter": 500})
    cands = [(ll[best], grid[best]), (-res.fun, res.x)]
    if best == 0 or lo == 0.0:
        cands.append((blocks.loglik(0.0, method), 0.0))
    t = float(max(cands)[1])
    # polish: the root of the score (the log-likelihood is flat at its maximum, so its values
    # place the maximum only to ~1e-8 relative; the score places it to rounding)
    if t > 0:
        a, b = max(lo, t * (1 - 1e-4)), min(hi, t * (1 + 1e-4))
        sa, sb = blocks.score(a, method), blocks.score(b, method)
        if sa > 0 > sb:
            t = optimize.brentq(lambda u: blocks.score(u, method), a, b, xtol=1e-16, rtol=4 * np.finfo(float).eps)
    return float(t)


def tau2_profile_ci(blocks: Blocks, tau2: float, method: str, level: float = 0.95):
    """Profile (restricted) likelihood interval for tau^2 (metafor's confint for rma.mv)."""
    if method not in ("REML", "ML") or blocks.n - blocks.p <= 0:
        return None
    crit = stats.chi2.ppf(level, 1) / 2.0
    top = blocks.loglik(tau2, method)

    def f(t):
        return top - blocks.loglik(t, method) - crit

    lower = 0.0
    if tau2 > 0 and f(0.0) > 0:
        lower = optimize.brentq(f, 0.0, tau2, xtol=1e-12, rtol=1e-12)
    hi = max(tau2, 1e-4) * 2
    for _ in range(200):
        if f(hi) > 0:
            break
        hi *= 2
    else:
        return [lower, math.inf]
    upper = optimize.brentq(f, tau2, hi, xtol=1e-12, rtol=1e-12)
    return [float(lower), float(upper)]


def q_stat(q, df):
    return {"q": float(q), "df": int(df), "p_value": float(stats.chi2.sf(q, df)) if df > 0 else None}


def design_matrix_by_design(data) -> np.ndarray:
    """Design-by-treatment interaction model: one effect per (design, non-first treatment of the
    design), contrasts within a design relative to the design's first treatment."""
    designs = data.designs()
    cols = {}
    for i, d in enumerate(designs):
        for t in d[1:]:
            cols.setdefault((d, t), len(cols))
    X = np.zeros((data.n, len(cols)))
    for r in range(data.n):
        d = designs[int(data.trial[r])]
        for t, sign in ((int(data.trt[r]), 1.0), (int(data.base[r]), -1.0)):
            if t != d[0]:
                X[r, cols[(d, t)]] = sign
    return X


def decomposition(data, X, tau2_method):
    """Q total (FE consistency model), within designs (FE design-by-treatment model) and between
    designs (their difference), netmeta's decomp.design; plus the random-effects Wald test of
    the design-by-treatment interaction (Higgins 2012) at tau^2 within designs (the moment
    estimator from Q within)."""
    full = Blocks(data.y, X, data.blocks, data.trial)
    Xd = design_matrix_by_design(data)
    inc = Blocks(data.y, Xd, data.blocks, data.trial)
    q_total = full.solve(0.0)[3]
    q_within = inc.solve(0.0)[3]
    df_total, df_within = data.n - X.shape[1], data.n - Xd.shape[1]
    out = {"q_total": q_stat(q_total, df_total), "q_within": q_stat(q_within, df_within),
           "q_between_designs": q_stat(q_total - q_within, df_total - df_within)}
    if df_total - df_within > 0:
        # tau^2 within designs by the method of moments from Q within (netmeta's decomp.design tests
        # at a within-design tau^2 too); closed form, so the model with one parameter per design and treatment is solved twice only
        t_inc = estimate_tau2(inc, "DL") if df_within > 0 else 0.0
        q_r = full.solve(t_inc)[3] - inc.solve(t_inc)[3]
        out["q_between_designs"]["random"] = {**q_stat(q_r, df_total - df_within), "tau2_within": t_inc,
                                              "tau2_method": "DL"}
    return out

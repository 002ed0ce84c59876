"""tau² estimators of the mixed-effects model y = X b + u + e, in their general forms.

metafor's ``rma.uni`` with ``mods``: DL (DerSimonian & Laird 1986; Raudenbush 2009), HE
(Hedges 1983), SJ (Sidik & Jonkman 2005; start tau0² = the variance of the raw yi, as
metafor), PM (Paule & Mandel 1982: the root of y'P(tau²)y = k - p), EB (its fixed point is
the PM equation) and ML / REML by Newton / Fisher scoring from HE. All through
:mod:`.wls_mods` (``_Moments``, ``_WLS``), which never forms a k x k matrix (O(k p²) per
step). The intercept-only fast path is :mod:`metak.estimators.tau2`.
"""

from __future__ import annotations

import math

import numpy as np

from ..errors import MetakError
from .wls_mods import _WLS, _Moments, _solve_small, solve_triangular

TOL = 1e-12
MAX_ITER = 500


def _standardise(X):
    """X = Xs T: with an intercept column, every other column centred and scaled (by its mean
    and SD); without one, only scaled. The column space, so every fitted value, residual and
    tau² estimate, is unchanged; coefficients map back as b = T^-1 b_s, vb = T^-1 vb_s T^-T."""
    k, p = X.shape
    const = np.flatnonzero(np.all(X == X[0], axis=0) & (X[0] != 0))
    j0 = int(const[0]) if const.size else None
    c = X.mean(0) if j0 is not None else np.zeros(p)
    sd = np.sqrt(((X - c) ** 2).mean(0))
    sd[sd == 0] = 1.0
    if j0 is not None:
        c[j0], sd[j0] = 0.0, 1.0
    Xs = (X - c) / sd
    T = np.diag(sd)
    if j0 is not None:
        Xs[:, j0] = X[:, j0]
        T[j0] = c / X[0, j0]
        T[j0, j0] = 1.0
    return Xs, T


def _rss(y, v, X, tau2):
    f = _WLS(y, v + tau2, X)
    return f.rss, f.ypp


def _loglik(y, v, tau2, f: _WLS, reml):
    """(Restricted) log-likelihood, up to a constant, from the WLS fit at tau²."""
    ll = -0.5 * (np.log(v + tau2).sum() + f.rss)
    if reml:
        ll -= 0.5 * f.logdet()
    return ll


def _he(y, v, X):
    """(RSS_OLS - tr(P_OLS V)) / (k - p), with P_OLS = I - H_OLS: tr(P_OLS V) = sum v (1 - h)."""
    k, p = X.shape
    ols = _WLS(y, np.ones(k), X)
    h = (solve_triangular(ols.L, X.T, lower=True) ** 2).sum(0)
    return max(0.0, float((ols.rss - (v * (1 - h)).sum()) / (k - p)))


def _solve_pm(y, v, X, target, m: _Moments | None = None):
    """Root of y'P(tau²)y = target, 0 when y'P(0)y <= target.

    y'P(tau²)y decreases in tau² with derivative -y'PPy, so Newton from 0 climbs to the root
    from the left; a step that lands beyond it (the function is not guaranteed convex with
    moderators) sets the upper end of a bracket, and later steps outside it are bisections.
    """
    m = m or _Moments(y, v, X)
    a, b = 0.0, math.inf
    x = 0.0
    for _ in range(MAX_ITER):
        f, d, *_ = m.at(x, reml=False)
        f -= target
        if x == 0.0 and f <= 0:
            return 0.0, True
        if f > 0:
            a = x
        else:
            b = x
        xn = x + f / d if d > 0 else math.nan  # d/dtau² y'Py = -y'PPy
        if not (a < xn < b):
            xn = 0.5 * (a + b) if math.isfinite(b) else 2 * a + 1.0
        if abs(xn - x) <= TOL * max(1.0, abs(x)):
            return xn, True
        x = xn
    return x, False


def _fisher(y, v, X, reml, m: _Moments | None = None):
    """ML / REML from the HE estimate (metafor's start) by Newton steps where the observed
    information is positive and Fisher scoring steps elsewhere, truncated at 0, halving a step
    that lowers the likelihood; each step is one :meth:`_Moments.at`. Newton's quadratic
    convergence takes about half of Fisher scoring's steps to the same 1e-12 (issue 24); the
    maximum is the same (both stop where the score is 0).

    With twice the score s = y'PPy - tr P (ML: sum w for tr P), the Fisher information
    tr PP (ML: sum w²) and the observed one 2 y'PPPy - tr PP, the step is s / information."""
    m = m or _Moments(y, v, X)
    t = m.ols()[0]
    cur = m.at(t, reml, newton=True)
    ll = m.loglik(t, cur[0], cur[5], reml)
    for _ in range(MAX_ITER):
        rss, ypp, tr1, tr2, yppp, _ = cur
        obs = 2 * yppp - tr2
        step = (ypp - tr1) / (obs if obs > 0 else tr2)
        for _halving in range(60):
            new = max(0.0, t + step)
            nxt = m.at(new, reml, newton=True)
            ll_new = m.loglik(new, nxt[0], nxt[5], reml)
            if ll_new >= ll - 1e-13 * max(1.0, abs(ll)):  # a fall beyond rounding (ll may be near 0)
                break
            step /= 2
        done = abs(new - t) <= TOL * t + 1e-15
        t, cur, ll = new, nxt, ll_new
        if done:
            return _global_maximum(y, v, X, t, ll, reml, m), True
    return t, False


GRID = 64
_UNIT_GRID = np.concatenate([[0.0], np.geomspace(1e-6, 1.0, GRID)])


def _global_maximum(y, v, X, t, ll_hat, reml, m: _Moments | None = None):
    """As the fast path's (tau2_ml._global_maximum): the likelihood may have a second, higher
    maximum that Fisher scoring did not reach (one at 0 and one inside). The sign of the
    score is scanned at 0 and on a geometric grid up to twice the largest squared OLS
    residual; every other local maximum it shows (the boundary where the score at 0 is
    negative, each interval where it goes from positive to negative) is solved by bisection
    on the score, and the highest likelihood wins by more than rounding. A sign change shows
    a peak narrower than the grid spacing too."""
    m = m or _Moments(y, v, X)
    top = 2 * m.ols()[1] + 1e-12

    def ll(t2):
        r = m.at(t2, reml)
        return m.loglik(t2, r[0], r[5], reml)

    grid = top * _UNIT_GRID
    sc = _score_grid(y, v, X, grid, reml, m=m)
    cands = [0.0] if (sc[0] <= 0 and t > 0) else []
    for j in np.flatnonzero((sc[:-1] > 0) & (sc[1:] <= 0)):
        lo, hi = float(grid[j]), float(grid[j + 1])
        if lo <= t <= hi:
            continue  # the maximum the iteration found
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if _score(y, v, X, mid, reml, m) > 0:
                lo = mid
            else:
                hi = mid
            if hi - lo <= 1e-15 * max(1.0, hi):
                break
        cands.append(0.5 * (lo + hi))
    best, best_ll = t, ll_hat + 1e-10 * max(1.0, abs(ll_hat))
    for c in cands:
        lc = ll(c)
        if lc > best_ll:
            best, best_ll = c, lc
    return best


def _score_grid(y, v, X, grid, reml, block=None, m: _Moments | None = None):
    """Twice the score of the (restricted) likelihood at many tau² values at once, from the
    weighted sums of :class:`_Moments` (S_1 = W @ M, S_2 = W² @ M for a block of grid points:
    e'W²e = r'W²r - 2 b'X'W²r + b'Bb and tr P = sum w - tr(A^-1 B); memory: block x k)."""
    m = m or _Moments(y, v, X)
    k, p = X.shape
    q = p + 2
    block = block or max(1, min(len(grid), 2**18 // max(k, 1)))
    out = []
    for i in range(0, len(grid), block):
        g = grid[i:i + block]
        W = 1.0 / (v[None, :] + g[:, None])  # (b, k)
        S1 = (W @ m.M).reshape(len(g), q, q)
        S2 = ((W * W) @ m.M).reshape(len(g), q, q)
        rhs = np.concatenate((S1[:, :p, p:p + 1], S2[:, :p, :p + 1]), axis=2)
        sol = _solve_small(S1[:, :p, :p], rhs)
        b = sol[:, :, 0]
        B = S2[:, :p, :p]
        score = (S2[:, p, p] - 2 * (b * S2[:, :p, p]).sum(1) + np.einsum("gp,gpq,gq->g", b, B, b)
                 - S1[:, p + 1, p + 1])
        if reml:
            score += np.trace(sol[:, :, 1:], axis1=1, axis2=2)
        out.append(score)
    return np.concatenate(out)


def _score(y, v, X, t2, reml, m: _Moments | None = None):
    m = m or _Moments(y, v, X)
    _, ypp, tr1, *_ = m.at(t2, reml)
    return ypp - tr1


def tau2_regression(y, v, X, method: str) -> tuple[float, bool]:
    """tau² of the mixed-effects model with design matrix X, by the named estimator."""
    return _tau2(np.asarray(y, float), np.asarray(v, float), _standardise(np.asarray(X, float))[0], method)


def _tau2(y, v, X, method: str, m: _Moments | None = None) -> tuple[float, bool]:
    """tau² by the named estimator (X standardised); ``m``: the data's :class:`_Moments`, when
    the caller has it already (built here otherwise, for the estimators that iterate)."""
    k, p = X.shape
    if method == "FE":
        return 0.0, True
    if method == "HE":
        return (m.ols()[0] if m is not None else _he(y, v, X)), True
    if method == "DL":
        rss, _, tr_p, *_ = (m or _Moments(y, v, X)).at(0.0)
        return max(0.0, float((rss - (k - p)) / tr_p)), True
    if method == "SJ":
        tau0 = float(((y - y.mean()) ** 2).mean())
        rss, _ = _rss(y, v, X, tau0)
        return max(0.0, tau0 * rss / (k - p)), True
    if method in ("PM", "EB"):
        return _solve_pm(y, v, X, float(k - p), m)
    if method in ("ML", "REML"):
        return _fisher(y, v, X, reml=method == "REML", m=m)
    raise MetakError(f"method {method} has no meta-regression form")

"""tau² estimators of the mixed-effects model y = X b + u + e, in their general forms.

metafor's ``rma.uni`` with ``mods``: DL (DerSimonian & Laird 1986; Raudenbush 2009), HE
(Hedges 1983), SJ (Sidik & Jonkman 2005; start tau0² = the variance of the raw yi, as
metafor), PM (Paule & Mandel 1982: the root of y'P(tau²)y = k - p), EB (its fixed point is
the PM equation) and ML / REML by Fisher scoring from HE. All through :class:`_WLS`, which
never forms a k x k matrix (O(k p²) per step). The intercept-only fast path is
:mod:`metak.estimators.tau2`.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dtrtrs as _trtrs

from ..errors import MetakError

TOL = 1e-12
MAX_ITER = 500


class _WLS:
    """Weighted least squares with w = 1/v through the Cholesky factor L of A = X'WX.

    The hat matrix is H = W^1/2 X A^-1 X' W^1/2 with diagonal h_i = w_i x_i' A^-1 x_i, and
    P = W^1/2 (I - H) W^1/2, so tr P = sum w (1 - h) and tr PP = sum w² - 2 sum w² h +
    ||L^-1 X'W²X L^-T||². X is the standardised design of :func:`_standardise` (moderators
    centred and scaled): a raw moderator such as the year (values near 2000) would make A too
    ill-conditioned and move tau² in the 7th digit; standardised, the normal equations are
    accurate and 6x cheaper than a QR decomposition of the k x p matrix.
    """

    __slots__ = ("w", "X", "L", "b", "e")

    def __init__(self, y, v, X):
        w = 1.0 / v
        Xw = X * w[:, None]
        self.L = np.linalg.cholesky(Xw.T @ X)
        self.w, self.X = w, X
        self.b = _cho_solve(self.L, Xw.T @ y)
        self.e = y - X @ self.b

    @property
    def rss(self) -> float:
        """y'P y = sum w e²."""
        return float((self.w * self.e**2).sum())

    @property
    def ypp(self) -> float:
        """y'PP y = sum w² e²."""
        return float((self.w**2 * self.e**2).sum())

    def vcov(self) -> np.ndarray:
        """A^-1 = L^-T L^-1."""
        Linv = solve_triangular(self.L, np.eye(self.L.shape[0]), lower=True)
        return Linv.T @ Linv

    def traces(self) -> tuple[float, float]:
        """tr P and tr PP through p x p matrices: with A^-1 and B = X'W²X, h = w diag(X A^-1 X')
        and ||L^-1 B L^-T||² = tr((A^-1 B)²)."""
        w, X = self.w, self.X
        Ainv = self.vcov()
        h = w * ((X @ Ainv) * X).sum(1)
        tr_p = float((w * (1 - h)).sum())
        C = Ainv @ ((X * (w**2)[:, None]).T @ X)
        tr_pp = float((w**2).sum() - 2 * (w**2 * h).sum() + np.trace(C @ C))
        return tr_p, tr_pp

    def logdet(self) -> float:
        """log det X'WX (of the standardised X: a constant away from the raw one)."""
        return float(2 * np.log(np.diag(self.L)).sum())


def solve_triangular(A, b, lower=False):
    """scipy.linalg.solve_triangular(A, b, lower) by the LAPACK routine it calls (trtrs, with the
    same choice of layout and transposition flag, so bit for bit the same answer), without its
    input validation, which costs ~13 us a call against ~1 us for the p x p solve itself: a
    REML meta-regression fit at k = 10 makes ~50 of them (benchmarks/bench_small_fit.py)."""
    if A.flags.f_contiguous:
        x, info = _trtrs(A, b, lower=lower)
    else:
        x, info = _trtrs(A.T, b, lower=not lower, trans=1)
    if info > 0:
        raise np.linalg.LinAlgError(f"singular matrix: resolution failed at diagonal {info - 1}")
    if info < 0:  # pragma: no cover - an argument error, a bug
        raise ValueError(f"illegal value in argument {-info} of the LAPACK trtrs routine")
    return x


def _cho_solve(L, rhs):
    return solve_triangular(L.T, solve_triangular(L, rhs, lower=True), lower=False)


def _standardise(X):
    """X = Xs T: with an intercept column, every other column centred and scaled (by its mean
    and SD); without one, only scaled. The column space, so every fitted value, residual and
    tau² estimate, is unchanged; coefficients map back as b = T^-1 b_s, vb = T^-1 vb_s T^-T."""
    k, p = X.shape
    const = [j for j in range(p) if np.all(X[:, j] == X[0, j]) and X[0, j] != 0]
    j0 = const[0] if const else None
    T = np.eye(p)
    Xs = X.copy()
    for j in range(p):
        if j == j0:
            continue
        c = X[:, j].mean() if j0 is not None else 0.0
        sd = float(np.sqrt(((X[:, j] - c) ** 2).mean())) or 1.0
        Xs[:, j] = (X[:, j] - c) / sd
        T[j, j] = sd
        if j0 is not None:
            T[j0, j] = c / X[0, j0]
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


def _solve_pm(y, v, X, target):
    """Root of y'P(tau²)y = target, 0 when y'P(0)y <= target.

    y'P(tau²)y decreases in tau² with derivative -y'PPy, so Newton from 0 climbs to the root
    from the left; a step that lands beyond it (the function is not guaranteed convex with
    moderators) sets the upper end of a bracket, and later steps outside it are bisections.
    """
    a, b = 0.0, math.inf
    x = 0.0
    for _ in range(MAX_ITER):
        f, d = _rss(y, v, X, x)
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


def _fisher(y, v, X, reml):
    """ML / REML by Fisher scoring from the HE estimate (metafor's start), truncated at 0,
    halving a step that lowers the likelihood."""
    t = _he(y, v, X)
    f = _WLS(y, v + t, X)
    ll = _loglik(y, v, t, f, reml)
    for _ in range(MAX_ITER):
        if reml:
            tr_p, tr_pp = f.traces()
            step = (f.ypp - tr_p) / tr_pp
        else:
            step = (f.ypp - f.w.sum()) / (f.w**2).sum()
        for _halving in range(60):
            new = max(0.0, t + step)
            f_new = _WLS(y, v + new, X)
            ll_new = _loglik(y, v, new, f_new, reml)
            if ll_new >= ll - 1e-13 * max(1.0, abs(ll)):  # a fall beyond rounding (ll may be near 0)
                break
            step /= 2
        done = abs(new - t) <= TOL * t + 1e-15
        t, f, ll = new, f_new, ll_new
        if done:
            return _global_maximum(y, v, X, t, ll, reml), True
    return t, False


GRID = 64


def _global_maximum(y, v, X, t, ll_hat, reml):
    """As the fast path's (tau2_ml._global_maximum): the likelihood may have a second, higher
    maximum that Fisher scoring did not reach (one at 0 and one inside). The sign of the
    score is scanned at 0 and on a geometric grid up to twice the largest squared OLS
    residual; every other local maximum it shows (the boundary where the score at 0 is
    negative, each interval where it goes from positive to negative) is solved by bisection
    on the score, and the highest likelihood wins by more than rounding. A sign change shows
    a peak narrower than the grid spacing too."""
    e = _WLS(y, np.ones_like(v), X).e
    top = 2 * float((e**2).max()) + 1e-12

    def ll(t2):
        return _loglik(y, v, t2, _WLS(y, v + t2, X), reml)

    grid = top * np.concatenate([[0.0], np.geomspace(1e-6, 1.0, GRID)])
    sc = _score_grid(y, v, X, grid, reml)
    cands = [0.0] if (sc[0] <= 0 and t > 0) else []
    for j in np.flatnonzero((sc[:-1] > 0) & (sc[1:] <= 0)):
        lo, hi = float(grid[j]), float(grid[j + 1])
        if lo <= t <= hi:
            continue  # the maximum the iteration found
        for _ in range(200):
            mid = 0.5 * (lo + hi)
            if _score(y, v, X, mid, reml) > 0:
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


def _score_grid(y, v, X, grid, reml, block=16):
    """Twice the score of the (restricted) likelihood at many tau² values at once, by matrix
    products only: with W (grid x k), A = X'WX, B = X'W²X and b = A^-1 X'Wy,
    e'W²e = W² @ y² - 2 b'X'W²y + b'Bb and tr P = sum w - tr(A^-1 B) (memory: block x k)."""
    k, p = X.shape
    xx = (X[:, :, None] * X[:, None, :]).reshape(k, p * p)
    xy = X * y[:, None]
    yy = y**2
    out = []
    for i in range(0, len(grid), block):
        g = grid[i:i + block]
        W = 1.0 / (v[None, :] + g[:, None])  # (b, k)
        W2 = W * W
        A = (W @ xx).reshape(len(g), p, p)
        B = (W2 @ xx).reshape(len(g), p, p)
        b = np.linalg.solve(A, (W @ xy)[..., None])[..., 0]
        ypp = W2 @ yy - 2 * (b * (W2 @ xy)).sum(1) + np.einsum("gp,gpq,gq->g", b, B, b)
        score = ypp - W.sum(1)
        if reml:
            score += np.trace(np.linalg.solve(A, B), axis1=1, axis2=2)
        out.append(score)
    return np.concatenate(out)


def _score(y, v, X, t2, reml):
    f = _WLS(y, v + t2, X)
    return f.ypp - (f.traces()[0] if reml else f.w.sum())


def tau2_regression(y, v, X, method: str) -> tuple[float, bool]:
    """tau² of the mixed-effects model with design matrix X, by the named estimator."""
    return _tau2(np.asarray(y, float), np.asarray(v, float), _standardise(np.asarray(X, float))[0], method)


def _tau2(y, v, X, method: str) -> tuple[float, bool]:
    k, p = X.shape
    if method == "FE":
        return 0.0, True
    if method == "HE":
        return _he(y, v, X), True
    if method == "DL":
        f = _WLS(y, v, X)
        return max(0.0, float((f.rss - (k - p)) / f.traces()[0])), True
    if method == "SJ":
        tau0 = float(((y - y.mean()) ** 2).mean())
        rss, _ = _rss(y, v, X, tau0)
        return max(0.0, tau0 * rss / (k - p)), True
    if method in ("PM", "EB"):
        return _solve_pm(y, v, X, float(k - p))
    if method in ("ML", "REML"):
        return _fisher(y, v, X, reml=method == "REML")
    raise MetakError(f"method {method} has no meta-regression form")

"""Weighted least squares for the meta-regression tau² estimators (:mod:`.tau2_mods`).

:class:`_WLS` is one weighted fit through the Cholesky factor of X'WX; :class:`_Moments` gives
everything one step of an estimator needs at any tau² from one small matrix product (issue 24:
the k = 10 meta-regression's cost was numpy's per-call overhead on p x p arrays, not
arithmetic). Split from tau2_mods.py to keep modules under 400 lines.
"""

from __future__ import annotations

import math

import numpy as np
from scipy.linalg.lapack import dpotrf as _potrf
from scipy.linalg.lapack import dpotrs as _potrs
from scipy.linalg.lapack import dtrtrs as _trtrs


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


def _embed(S, one):
    """A 3 x 3 block of :class:`_Moments` sums for p = 1 as the 4 x 4 block of p = 2 with a dummy
    second column: zeros, and ``one`` on its diagonal (1 in A, so A^-1 has 1 there and the
    dummy adds nothing; 0 in B and G)."""
    return [[S[0][0], 0.0, S[0][1], S[0][2]], [0.0, one, 0.0, 0.0],
            [S[1][0], 0.0, S[1][1], S[1][2]], [S[2][0], 0.0, S[2][1], S[2][2]]]


class _Moments:
    """Every quantity one step of the tau² estimators needs, at any tau², from one matrix product.

    The residuals r = y - X b_FE of the fixed-effect fit stand in for y (P X = 0, so
    y'P y = r'P r; and with r nearly W-orthogonal to X the sums below do not cancel). With
    z_i = (x_i, r_i, 1) and the k x q² table M of the products z_i z_i' (q = p + 2), the
    weighted sums S_j = sum_i w_i^j z_i z_i' for j = 1, 2, 3 are the rows of (w, w², w³) @ M:
    A = X'WX, X'Wr, r'Wr, sum w (j = 1), B = X'W²X, ... (j = 2), G = X'W³X, ... (j = 3).
    One Cholesky factor of A (p x p) and one solve against [X'Wr, B, G, X'W²r, X'W³r] give

    * y'P y = r'Wr - c'b with c = X'Wr, b = A^-1 c (the residuals e = r - X b);
    * y'PP y = sum w² e² = r'W²r - 2 b'X'W²r + b'Bb;
    * y'PPP y = (We)'P(We) = sum w³ e² - d'A^-1 d with d = X'W²e = X'W²r - Bb;
    * tr P = sum w - tr(A^-1 B); tr PP = sum w² - 2 tr(A^-1 G) + tr((A^-1 B)²);
    * log det A from the factor's diagonal.

    A step costs about 15 numpy calls on p x p arrays, whatever k (the _WLS form took about 60,
    each with numpy.linalg's per-call checks, which cost more than the arithmetic at k = 10:
    issue 24, benchmarks/bench_small_fit.py). The products are small (3 x k by k x q²); at
    k = 10 OpenBLAS runs them on one thread by itself.
    """

    __slots__ = ("v", "y", "X", "p", "b0", "M", "Wp", "_ols")

    def __init__(self, y, v, X):
        k, p = X.shape
        self.v, self.y, self.X, self.p = v, y, X, p
        w = 1.0 / v
        Xw = X.T * w
        L, info = _potrf(Xw @ X, lower=1, clean=0)
        if info:
            raise np.linalg.LinAlgError("X'WX is not positive definite")
        self.b0 = _potrs(L, Xw @ y, lower=1)[0]
        Z = np.empty((k, p + 2))
        Z[:, :p] = X
        Z[:, p] = y - X @ self.b0
        Z[:, p + 1] = 1.0
        self.M = (Z[:, :, None] * Z[:, None, :]).reshape(k, (p + 2) ** 2)
        self.Wp = np.empty((3, k))
        self._ols = None

    def sums(self, t):
        """S_1, S_2, S_3 at tau² = t (3 x q x q)."""
        Wp = self.Wp
        np.add(self.v, t, out=Wp[0])
        np.reciprocal(Wp[0], out=Wp[0])
        np.multiply(Wp[0], Wp[0], out=Wp[1])
        np.multiply(Wp[1], Wp[0], out=Wp[2])
        q = self.p + 2
        return (Wp @ self.M).reshape(3, q, q)

    def ols(self):
        """(the HE estimate, the largest squared OLS residual), from one unweighted fit."""
        if self._ols is None:
            y, v, X = self.y, self.v, self.X
            k, p = X.shape
            L, info = _potrf(X.T @ X, lower=1, clean=1)
            if info:
                raise np.linalg.LinAlgError("X'X is not positive definite")
            e = y - X @ _potrs(L, X.T @ y, lower=1)[0]
            h = (solve_triangular(L, X.T, lower=True) ** 2).sum(0)  # the hat matrix's diagonal
            he = max(0.0, float(((e * e).sum() - (v * (1 - h)).sum()) / (k - p)))
            self._ols = he, float((e * e).max())
        return self._ols

    def at(self, t, reml=True, newton=False):
        """(y'Py, y'PPy, tr P or sum w, tr PP or sum w², y'PPPy or None, log det A) at tau² = t."""
        p = self.p
        S = self.sums(t)
        if p <= 2:
            return self._at_small(S.tolist(), reml, newton, t)
        L, info = _potrf(S[0, :p, :p], lower=1, clean=0)
        if info:
            raise np.linalg.LinAlgError("X'WX is not positive definite")
        rhs = np.concatenate((S[0, :p, p:p + 1], S[1, :p, :p + 1], S[2, :p, :p + 1]), axis=1)
        sol, _ = _potrs(L, rhs, lower=1)
        b = sol[:, 0]
        AiB = sol[:, 1:p + 1]
        c1, c2, c3 = S[0, :p, p], S[1, :p, p], S[2, :p, p]
        B = S[1, :p, :p]
        Bb = B @ b
        rss = S[0, p, p] - c1 @ b
        ypp = S[1, p, p] - 2 * (c2 @ b) + b @ Bb
        sw, sw2 = S[0, p + 1, p + 1], S[1, p + 1, p + 1]
        if reml:
            d1 = p + 1  # the diagonal's stride in a flattened p x p block
            tr1 = sw - AiB.ravel()[::d1].sum()
            tr2 = sw2 - 2 * sol[:, p + 2:2 * p + 2].ravel()[::d1].sum() + (AiB * AiB.T).sum()
        else:
            tr1, tr2 = sw, sw2
        yppp = None
        if newton:
            d = c2 - Bb
            G = S[2, :p, :p]
            Aid = _potrs(L, d, lower=1)[0]
            yppp = float(S[2, p, p] - 2 * (c3 @ b) + b @ (G @ b) - d @ Aid)
        logdet = 2 * float(np.log(L.ravel()[::p + 1]).sum())
        return float(rss), float(ypp), float(tr1), float(tr2), yppp, logdet

    def _at_small(self, S, reml, newton, t):
        """:meth:`at` for p = 1 or 2 (an intercept and one moderator, the common case) in Python
        floats, written out, with A^-1 by its adjugate: the same formulas in a few us instead of
        ~25 numpy calls on 2 x 2 arrays (issue 24). The design is standardised (A is well
        conditioned). p = 1 is p = 2 with the second column zero and A's [1, 1] entry 1."""
        S1, S2, S3 = S
        if self.p == 1:
            S1, S2, S3 = _embed(S1, 1.0), _embed(S2, 0.0), _embed(S3, 0.0)
        sw, sw2 = S1[3][3], S2[3][3]
        a, b_, d = S1[0][0], S1[0][1], S1[1][1]
        det = a * d - b_ * b_
        if not det > 0:
            raise np.linalg.LinAlgError("X'WX is not positive definite")
        i00, i01, i11 = d / det, -b_ / det, a / det
        c0, c1 = S1[0][2], S1[1][2]
        b0, b1 = i00 * c0 + i01 * c1, i01 * c0 + i11 * c1
        B00, B01, B11 = S2[0][0], S2[0][1], S2[1][1]
        e0, e1 = S2[0][2], S2[1][2]                     # X'W²r
        Bb0, Bb1 = B00 * b0 + B01 * b1, B01 * b0 + B11 * b1
        rss = S1[2][2] - c0 * b0 - c1 * b1
        ypp = S2[2][2] - 2 * (e0 * b0 + e1 * b1) + b0 * Bb0 + b1 * Bb1
        if reml:
            m00, m01 = i00 * B00 + i01 * B01, i00 * B01 + i01 * B11   # A^-1 B
            m10, m11 = i01 * B00 + i11 * B01, i01 * B01 + i11 * B11
            G00, G01, G11 = S3[0][0], S3[0][1], S3[1][1]
            tr1 = sw - m00 - m11
            tr2 = (sw2 - 2 * (i00 * G00 + 2 * i01 * G01 + i11 * G11)
                   + m00 * m00 + 2 * m01 * m10 + m11 * m11)
        else:
            tr1, tr2 = sw, sw2
        yppp = None
        if newton:
            G00, G01, G11 = S3[0][0], S3[0][1], S3[1][1]
            d0, d1 = e0 - Bb0, e1 - Bb1
            yppp = (S3[2][2] - 2 * (S3[0][2] * b0 + S3[1][2] * b1)
                    + G00 * b0 * b0 + 2 * G01 * b0 * b1 + G11 * b1 * b1
                    - (i00 * d0 * d0 + 2 * i01 * d0 * d1 + i11 * d1 * d1))
        return rss, ypp, tr1, tr2, yppp, math.log(det)

    def loglik(self, t, rss, logdet, reml):
        """(Restricted) log-likelihood up to a constant, as :func:`_loglik`."""
        ll = -0.5 * (float(np.log(self.v + t).sum()) + rss)
        return ll - 0.5 * logdet if reml else ll

    def coef(self, t):
        """b and (X'WX)^-1 of the weighted fit at tau² = t (of the standardised design)."""
        p = self.p
        S = self.sums(t)
        L, info = _potrf(S[0, :p, :p], lower=1, clean=1)
        if info:
            raise np.linalg.LinAlgError("X'WX is not positive definite")
        rhs = np.concatenate((S[0, :p, p:p + 1], np.eye(p)), axis=1)
        sol, _ = _potrs(L, rhs, lower=1)
        vb = sol[:, 1:]
        return self.b0 + sol[:, 0], 0.5 * (vb + vb.T), float(S[0, p, p] - S[0, :p, p] @ sol[:, 0])


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


def _solve_small(A, rhs):
    """A^-1 rhs for a stack of positive definite A: 1 x 1 and 2 x 2 by their adjugates (the
    grid's 65 solves in ~8 numpy calls instead of numpy.linalg.solve's ~30 us at k = 10; the
    design is standardised, so A is well conditioned), larger by numpy.linalg.solve."""
    p = A.shape[-1]
    if p == 1:
        return rhs / A
    if p == 2:
        a, b, c, d = A[:, 0, 0, None], A[:, 0, 1, None], A[:, 1, 0, None], A[:, 1, 1, None]
        det = a * d - b * c
        r0, r1 = rhs[:, 0], rhs[:, 1]
        return np.stack(((d * r0 - b * r1) / det, (a * r1 - c * r0) / det), axis=1)
    return np.linalg.solve(A, rhs)



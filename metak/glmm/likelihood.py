"""Conditional log-likelihoods of one study given its true effect, with their derivatives.

Each function returns, for arrays of the study's true effect ``theta`` (shape ``(k, m)``: k
studies, m quadrature nodes) and, for the unconditional models, the study's intercept
``alpha`` (``(k, m)`` or broadcastable), the log-likelihood and its first and second
derivatives. The quadrature (:mod:`metak.glmm.quadrature`) integrates them over the random
effect; the optimiser (:mod:`metak.glmm.fit`) needs the derivatives for Newton steps and for
the observed information (standard errors).

Why hand-written: statsmodels' GLM (or lme4) cannot be called inside a quadrature over
thousands of nodes, and scipy's ``nchypergeom_fisher`` evaluates one pmf at a time without
derivatives in the log odds ratio and overflows for large tables; the noncentral
hypergeometric normaliser here is a log-sum-exp over each support (trimmed to where the
weights are not negligible), vectorised over studies and nodes, whose derivatives are the
conditional mean and variance of the count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from scipy.special import expit, gammaln


def _lchoose(n, x):
    return gammaln(n + 1) - gammaln(x + 1) - gammaln(n - x + 1)


@dataclass(frozen=True)
class Arms:
    """Two-arm counts for the unconditional models: ``y`` events (k, 2), ``n`` totals
    (binomial) or ``t`` person-time (Poisson), arm 0 the treatment arm. The linear predictor of
    arm j is ``alpha + x_j * theta`` with ``x = (+1/2, -1/2)`` (metafor's ``group12`` coding of
    the random effect; the fixed effect's ``group1`` coding only moves the intercept)."""

    y: np.ndarray
    size: np.ndarray
    family: str  # "binomial" | "poisson"

    @property
    def const(self) -> np.ndarray:
        """The terms free of the parameters, per study (binomial coefficients, -log y! and
        y log t for Poisson), so the log-likelihood is metafor's full one."""
        if self.family == "binomial":
            return _lchoose(self.size, self.y).sum(axis=1)
        return (self.y * np.log(self.size) - gammaln(self.y + 1)).sum(axis=1)

    def loglik(self, alpha, theta, derivs=True):
        """(l, l_a, l_t, l_aa, l_at, l_tt) of each study at (alpha, theta), constants excluded."""
        out = [0.0] * 6
        for j, x in ((0, 0.5), (1, -0.5)):
            y = self.y[:, j, None]
            s = self.size[:, j, None]
            eta = alpha + x * theta
            if self.family == "binomial":
                # log(1 + e^eta) without overflow; mean n p, variance n p (1 - p)
                l = y * eta - s * np.logaddexp(0.0, eta)
                p = expit(eta)
                mean, var = s * p, s * p * (1 - p)
            else:
                mu = s * np.exp(eta)
                l = y * eta - mu
                mean = var = mu
            out[0] = out[0] + l
            if derivs:
                r = y - mean
                out[1] = out[1] + r
                out[2] = out[2] + x * r
                out[3] = out[3] - var
                out[4] = out[4] - x * var
                out[5] = out[5] - x * x * var
        return tuple(out)


@dataclass(frozen=True)
class Binomial1:
    """One binomial count per study with a known offset: logit p = offset + theta.

    CM.AL (metafor's approximate conditional model: ai out of ai + ci, offset log(n1i / n2i)),
    IRR's conditional model (x1i out of x1i + x2i, offset log(t1i / t2i): exact for Poisson
    counts) and the single-arm PLO model (xi out of ni, offset 0)."""

    y: np.ndarray
    n: np.ndarray
    offset: np.ndarray

    @property
    def const(self) -> np.ndarray:
        return _lchoose(self.n, self.y)

    def loglik(self, theta, derivs=True):
        y, n, o = self.y[:, None], self.n[:, None], self.offset[:, None]
        eta = o + theta
        l = y * eta - n * np.logaddexp(0.0, eta)
        if not derivs:
            return l, None, None
        p = expit(eta)
        return l, y - n * p, -n * p * (1 - p)


class NoncentralHypergeometric:
    """Fisher's noncentral hypergeometric likelihood of ``a`` given the margins (CM.EL).

    P(a | n1, n2, m; psi) = C(n1, a) C(n2, m - a) psi^a / sum_u C(n1, u) C(n2, m - u) psi^u,
    u from max(0, m - n2) to min(n1, m), theta = log psi; d/dtheta log P = a - E[u],
    d2 = -Var[u].

    The supports of all studies are laid end to end in one flat array (not padded to the
    widest: ISIS-4's table in dat.li2007 has 4,320 points, the other 21 tables 1,596
    together), and each call sums only the window of each support where a point's weight is
    within exp(-TRIM) of the largest at some theta among that study's nodes (``trim=False``:
    the whole support). Why the window is safe: log w(u; theta) = log C(n1, u) C(n2, m - u)
    + u theta is concave in u, and its mode moves up with theta. A point left of the window
    for the study's smallest theta, theta_lo (log w(u; theta_lo) < max - TRIM, u below the
    mode), stays more than TRIM below the maximum for every theta >= theta_lo (its gap to
    theta_lo's mode only grows); likewise right of the window for the largest theta. Past
    the window the weights fall at least geometrically, with ratio at most exp(-TRIM / N) (N
    the support's size: concavity), so the mass left out is below
    2 exp(-TRIM) (1 + N / TRIM) of the normaliser: with TRIM = 50 and N <= 10^6 under
    1e-17, far below the quadrature's 1e-8 (tests/test_glmm.py checks the trimmed
    log-likelihood and derivatives against the full sums on ISIS-4 to 1e-10).
    """

    #: log-weight margin of the support window (see the class docstring for the bound)
    TRIM = 50.0
    #: supports are trimmed only if one has more points than this (finding the window costs
    #: two passes over every support, more than it saves on small tables)
    TRIM_FROM = 256

    def __init__(self, a, n1, n2, m, trim=True):
        a, n1, n2, m = (np.asarray(v, float) for v in (a, n1, n2, m))
        lo = np.maximum(0, m - n2)
        hi = np.minimum(n1, m)
        size = (hi - lo).astype(np.int64) + 1
        self.k = len(a)
        self.starts = np.concatenate([[0], np.cumsum(size)[:-1]])
        self.seg = np.repeat(np.arange(self.k), size)
        self.pos = np.arange(int(size.sum())) - np.repeat(self.starts, size)  # index within the support
        u = lo[self.seg] + self.pos
        self.u = u
        self.base = _lchoose(n1[self.seg], u) + _lchoose(n2[self.seg], m[self.seg] - u)
        self.size = size
        self.trim = bool(trim) and int(size.max()) > self.TRIM_FROM
        self.a = a
        self.numer = _lchoose(n1, a) + _lchoose(n2, m - a)
        self.at_edge = (a == lo) | (a == hi)

    @property
    def const(self) -> np.ndarray:
        return np.zeros_like(self.a)

    def _window(self, theta):
        """Flat indices of the support points kept for ``theta`` (k, m), and their study
        starts in the kept array (see the class docstring)."""
        if not self.trim:
            return None, self.starts
        seg, starts = self.seg, self.starts
        lo, hi = theta.min(axis=1), theta.max(axis=1)
        if not (np.all(np.isfinite(lo)) and np.all(np.isfinite(hi))):
            return None, starts  # (a diverging search's step) the full sums, nan or inf as they come
        first, last = np.empty(self.k, np.int64), np.empty(self.k, np.int64)
        for t, out, red in ((lo, first, np.minimum), (hi, last, np.maximum)):
            w = self.base + self.u * t[seg]
            ok = w >= (np.maximum.reduceat(w, starts) - self.TRIM)[seg]
            out[:] = red.reduceat(np.where(ok, self.pos, -1 if red is np.maximum else 1 << 62), starts)
        keep = last - first + 1
        if keep.sum() == len(self.u):
            return None, starts
        new_starts = np.concatenate([[0], np.cumsum(keep)[:-1]])
        idx = np.arange(int(keep.sum())) - np.repeat(new_starts - starts - first, keep)
        return idx, new_starts

    def loglik(self, theta, derivs=True):
        theta = np.asarray(theta, float)
        idx, starts = self._window(theta)
        if idx is None:
            base, u, seg = self.base, self.u, self.seg
        else:
            base, u, seg = self.base[idx], self.u[idx], self.seg[idx]
        # (points, m): log of each kept support point's unnormalised weight at each node
        w = base[:, None] + u[:, None] * theta[seg]
        top = np.maximum.reduceat(w, starts, axis=0)
        e = np.exp(w - top[seg])
        total = np.add.reduceat(e, starts, axis=0)
        lse = top + np.log(total)
        l = self.numer[:, None] + self.a[:, None] * theta - lse
        if not derivs:
            return l, None, None
        mean = np.add.reduceat(e * u[:, None], starts, axis=0) / total
        dev = u[:, None] - mean[seg]
        var = np.add.reduceat(e * dev * dev, starts, axis=0) / total
        return l, self.a[:, None] - mean, -var

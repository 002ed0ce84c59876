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
hypergeometric normaliser here is a log-sum-exp over the whole support, vectorised over
studies and nodes, whose derivatives are the conditional mean and variance of the count.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ._lse import logsumexp
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
    u from max(0, m - n2) to min(n1, m), theta = log psi. The support of every study is laid
    out in one padded array (``-inf`` outside its support), so the normaliser of all studies
    at all quadrature nodes is one log-sum-exp; d/dtheta log P = a - E[u], d2 = -Var[u].
    """

    def __init__(self, a, n1, n2, m):
        a, n1, n2, m = (np.asarray(v, float) for v in (a, n1, n2, m))
        lo = np.maximum(0, m - n2)
        hi = np.minimum(n1, m)
        width = int((hi - lo).max()) + 1
        u = lo[:, None] + np.arange(width)[None, :]
        inside = u <= hi[:, None]
        uu = np.where(inside, u, lo[:, None])
        base = np.where(inside, _lchoose(n1[:, None], uu) + _lchoose(n2[:, None], m[:, None] - uu), -np.inf)
        self.a = a
        self.u = np.where(inside, u, 0.0)
        self.base = base
        self.numer = _lchoose(n1, a) + _lchoose(n2, m - a)
        self.at_edge = (a == lo) | (a == hi)

    @property
    def const(self) -> np.ndarray:
        return np.zeros_like(self.a)

    def loglik(self, theta, derivs=True):
        theta = np.asarray(theta, float)
        # (k, m, width): log of each support point's unnormalised weight
        w = self.base[:, None, :] + self.u[:, None, :] * theta[:, :, None]
        lse = logsumexp(w, axis=2)
        l = self.numer[:, None] + self.a[:, None] * theta - lse
        if not derivs:
            return l, None, None
        prob = np.exp(w - lse[:, :, None])
        mean = (prob * self.u[:, None, :]).sum(axis=2)
        var = (prob * (self.u[:, None, :] - mean[:, :, None]) ** 2).sum(axis=2)
        return l, self.a[:, None] - mean, -var

"""The normal-normal likelihood given tau, with mu integrated out: ``p(y | tau)`` and
``mu | tau, y`` for a batch of tau values (:class:`_Conditional`), when posterior moments
exist (:func:`moment_exists`), and the block rotation that turns a block-diagonal sampling
covariance into independent rows (:func:`rotate`). Used by the exact engine
(:mod:`metak.bayes.exact`) and its InferenceData draws."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from scipy import special

from . import priors as P
from .quadrature import _TS_V, _TS_VC, _TS_W


LOG2PI = math.log(2.0 * math.pi)


def moment_exists(order: float, tau_prior, n_tail: int) -> bool:
    """Whether the posterior moment ``E[tau^order]`` (and ``E|mu|^order``) is finite.

    As tau grows, ``p(y | tau)`` falls like ``tau^-n_tail`` (``n_tail`` = k under a proper mu
    prior, k - 1 under a flat one) and the prior density like ``tau^-a``; the posterior
    moment of order m is finite when ``m < a + n_tail - 1`` (log-t priors on tau^2 add a
    ``(log tau)^-(nu+1)`` factor that makes the boundary case finite).
    """
    bound = tau_prior.tail_power + n_tail - 1
    return order < bound or (order == bound and tau_prior.log_tail)


class _Conditional:
    """p(y | tau) with mu integrated out, and mu | tau, y, for a batch of tau values."""

    def __init__(self, y, v, mu_prior, o=None):
        # y, v: the data and its variances; with a block covariance V (see ``rotate``) the
        # rotated data Q'y, the eigenvalues of V and o = Q'1
        self.y, self.v, self.k = y, v, len(y)
        self.o = np.ones_like(y) if o is None else o
        if isinstance(mu_prior, P.Uniform):
            self.kind = "flat"
            self.log_lam_w = np.zeros(1)
        elif isinstance(mu_prior, P.Normal):
            self.kind = "normal"
            self.m0, self.s0sq = mu_prior.mu, np.array([mu_prior.sigma**2])
            self.log_lam_w = np.zeros(1)
        elif isinstance(mu_prior, P.StudentT):
            self.kind = "normal"
            nu = mu_prior.nu
            # lam ~ Gamma(nu/2, rate nu/2): lam = (2/nu) * gammaincinv(nu/2, v)
            lam = np.where(_TS_V < 0.5, special.gammaincinv(nu / 2, _TS_V),
                           special.gammainccinv(nu / 2, _TS_VC)) * (2.0 / nu)
            keep = (lam > 0) & np.isfinite(lam) & (_TS_W > 0)
            self.m0 = mu_prior.mu
            self.s0sq = mu_prior.sigma**2 / lam[keep]
            self.log_lam_w = np.log(_TS_W[keep] / _TS_W[keep].sum())
        else:
            raise TypeError(f"the exact engine cannot take mu prior {mu_prior!r}")

    def __call__(self, tau):
        """For tau (n,): log p(y | tau, lam) (n, L), and mu | tau, lam, y mean and variance (n, L)."""
        tau = np.asarray(tau, float)
        d = self.v[None, :] + (tau**2)[:, None]
        w = 1.0 / d
        o = self.o
        sw = w @ (o * o)
        swy = w @ (o * self.y)
        ybar = swy / sw
        q = np.einsum("nk,nk->n", w, (self.y[None, :] - ybar[:, None] * o[None, :]) ** 2)
        base = -0.5 * self.k * LOG2PI - 0.5 * np.log(d).sum(axis=1) - 0.5 * q
        if self.kind == "flat":
            logl = (base + 0.5 * LOG2PI - 0.5 * np.log(sw))[:, None]
            return logl, ybar[:, None], (1.0 / sw)[:, None]
        prec = sw[:, None] + 1.0 / self.s0sq[None, :]
        s0p = self.s0sq[None, :] * prec
        logl = base[:, None] - 0.5 * np.log(s0p) - 0.5 * sw[:, None] * (ybar[:, None] - self.m0) ** 2 / s0p
        mean = (swy[:, None] + self.m0 / self.s0sq[None, :]) / prec
        return logl, mean, 1.0 / prec

    def log_marginal(self, tau):
        """log p(y | tau) summed over the lam mixture, with the per-lam pieces."""
        logl, mean, var = self(tau)
        lw = logl + self.log_lam_w[None, :]
        total = special.logsumexp(lw, axis=1)
        return total, lw, mean, var


@dataclass(frozen=True)
class Rotation:
    """A block-diagonal covariance V = Q diag(lam) Q' (one block per trial): with z = Q'y and
    o = Q'1, the likelihood y ~ Normal(mu 1, V + tau² I) is that of independent z_j ~
    Normal(o_j mu, lam_j + tau²), so the diagonal engine applies unchanged."""

    Q: np.ndarray
    z: np.ndarray
    o: np.ndarray
    lam: np.ndarray


def rotate(y, V, groups) -> Rotation:
    """Eigendecompose V blockwise (its blocks are the rows of each group, e.g. a trial)."""
    y = np.asarray(y, float)
    V = np.asarray(V, float)
    k = len(y)
    groups = np.asarray(list(groups), dtype=object)
    off = V.copy()
    same = groups[:, None] == groups[None, :]
    if np.any(off[~same] != 0):
        raise ValueError("V has covariance between rows of different groups; it must be block-diagonal by group")
    Q = np.zeros((k, k))
    lam = np.zeros(k)
    for g in dict.fromkeys(groups.tolist()):
        idx = np.flatnonzero(groups == g)
        w, q = np.linalg.eigh(V[np.ix_(idx, idx)])
        if np.any(w <= 0):
            raise ValueError(f"the covariance block of {g} is not positive definite")
        Q[np.ix_(idx, idx)] = q
        lam[idx] = w
    return Rotation(Q, Q.T @ y, Q.T @ np.ones(k), lam)

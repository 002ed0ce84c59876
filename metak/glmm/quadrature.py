"""Adaptive Gauss-Hermite quadrature over a study's random effect(s).

Why hand-written: the integral of a study's likelihood over its normal random effect has no
closed form, scipy has no adaptive Gauss-Hermite rule, and ``scipy.integrate.quad`` per study
and per likelihood evaluation would be thousands of times slower than one vectorised rule
over all studies. Each study's rule is centred at the mode of its integrand (Newton on the
log integrand, which is concave for every model here) and scaled by the curvature there
(Liu & Pierce 1994; lme4's nAGQ). With 1 node it is the Laplace approximation, which is
what lme4 (and so metafor) uses for UM.RS.

One dimension (UM.FS, CM.EL, CM.AL, PLO): theta = mu + tau z, z ~ N(0, 1), per study
L_i = int exp(l_i(alpha_i, mu + tau z)) phi(z) dz. Returned with the gradient and Hessian of
log L_i in (alpha_i, mu, tau), as posterior expectations over the nodes (the derivative of
the quadrature sum with the nodes held where they are; for an accurate rule this is the
derivative of the integral).

Two dimensions (UM.RS): alpha = beta0 + sigma z1, theta = mu + tau z2, a product rule along
the Cholesky axes of the curvature at the mode.
"""

from __future__ import annotations

from functools import lru_cache

import numpy as np

from ._lse import logsumexp

#: nodes of the one-dimensional rule (tests/test_glmm.py: within 1e-8 of 100 nodes up to tau = 2)
NODES_1D = 40
#: nodes per axis of the two-dimensional product rule (UM.RS; 15 x 15 = 225 per study)
NODES_2D = 15
_LOG_2PI = np.log(2 * np.pi)


@lru_cache(maxsize=None)
def _rule(n: int):
    x, w = np.polynomial.hermite.hermgauss(n)
    return x, np.log(w) + x * x  # exp(-x^2) weight folded back: sum w e^{x^2} f(x) ~ int f


def _mode_1d(cond, alpha, mu, tau, k):
    """Mode z of h(z) = l(alpha, mu + tau z) - z^2 / 2 per study, and -h'' there: Newton's
    method, each study's step halved until h does not decrease (plain Newton can oscillate
    on the nearly linear tails of a logistic log-likelihood)."""
    z = np.zeros((k, 1))
    d = cond(alpha, mu + tau * z)
    h = d["l"] - 0.5 * z * z
    for _ in range(100):
        h1 = tau * d["t"] - z
        h2 = tau * tau * d["tt"] - 1.0
        step = -h1 / h2
        for _ in range(30):
            zn = z + step
            dn = cond(alpha, mu + tau * zn)
            hn = dn["l"] - 0.5 * zn * zn
            worse = hn < h - 1e-12 * np.abs(h)
            if not worse.any():
                break
            step = np.where(worse, step / 2, step)
        z, d, h = zn, dn, hn
        if np.all(np.abs(step) < 1e-10 * (1 + np.abs(z))):
            break
    return z, 1.0 - tau * tau * d["tt"]


def integrate_1d(cond, alpha, mu, tau, nodes=NODES_1D, derivs=True):
    """log L_i per study (without the constant terms) and, with ``derivs``, the gradient
    (k, 3) and Hessian (k, 3, 3) of log L_i in (alpha_i, mu, tau).

    ``cond(alpha, theta)`` returns a dict with ``l, t, tt`` (and ``a, aa, at`` for models with
    study intercepts) at arrays of shape (k, m); ``alpha`` is (k, 1) or None."""
    k = cond.k
    if tau == 0.0:  # the integrand does not depend on z: one node is exact
        z = np.zeros((k, 1))
        logw = np.zeros((k, 1))
    else:
        zhat, curv = _mode_1d(cond, alpha, mu, tau, k)
        s = 1.0 / np.sqrt(curv)
        x, lw = _rule(nodes)
        z = zhat + np.sqrt(2.0) * s * x[None, :]
        logw = np.log(np.sqrt(2.0) * s) + lw[None, :] - 0.5 * z * z - 0.5 * _LOG_2PI
    d = cond(alpha, mu + tau * z, derivs)
    terms = logw + d["l"]
    logL = logsumexp(terms, axis=1)
    if not derivs:
        return logL, None, None
    pi = np.exp(terms - logL[:, None])
    zero = np.zeros_like(d["l"])
    a, aa, at = (d.get(key, zero) for key in ("a", "aa", "at"))
    S = np.stack([a, d["t"], d["t"] * z], axis=2)  # scores in (alpha, mu, tau) at each node
    Q = np.empty(S.shape + (3,))
    Q[..., 0, 0] = aa
    Q[..., 0, 1] = Q[..., 1, 0] = at
    Q[..., 0, 2] = Q[..., 2, 0] = at * z
    Q[..., 1, 1] = d["tt"]
    Q[..., 1, 2] = Q[..., 2, 1] = d["tt"] * z
    Q[..., 2, 2] = d["tt"] * z * z
    g = np.einsum("km,kmp->kp", pi, S)
    H = np.einsum("km,kmpq->kpq", pi, Q + S[..., :, None] * S[..., None, :]) - g[:, :, None] * g[:, None, :]
    return logL, g, H


def integrate_2d(cond, beta0, mu, sigma, tau, nodes=NODES_2D, derivs=False, start=None):
    """log L_i per study (without constants) for alpha = beta0 + sigma z1, theta = mu + tau z2,
    (z1, z2) ~ N(0, I): adaptive product rule (nodes = 1: the Laplace approximation).

    With ``derivs``: also the gradient (k, 4) and Hessian (k, 4, 4) of log L_i in
    (beta0, mu, sigma, tau), as posterior expectations over the nodes (as in
    :func:`integrate_1d`: the derivative of the integral, exact up to the rule's error; not
    the derivative of the Laplace approximation for nodes = 1), and the modes (z1, z2) to
    start the next call's Newton search from (``start``)."""
    k = cond.k
    if start is None:
        z1 = np.zeros((k, 1))
        z2 = np.zeros((k, 1))
    else:
        z1, z2 = start
    d = cond(beta0 + sigma * z1, mu + tau * z2)
    h = d["l"] - 0.5 * (z1 * z1 + z2 * z2)
    for _ in range(100):
        g1, g2 = sigma * d["a"] - z1, tau * d["t"] - z2
        a11 = 1.0 - sigma * sigma * d["aa"]
        a22 = 1.0 - tau * tau * d["tt"]
        a12 = -sigma * tau * d["at"]
        det = a11 * a22 - a12 * a12
        s1 = (a22 * g1 - a12 * g2) / det
        s2 = (a11 * g2 - a12 * g1) / det
        for _ in range(30):  # halve a study's step until its log integrand does not decrease
            n1, n2 = z1 + s1, z2 + s2
            dn = cond(beta0 + sigma * n1, mu + tau * n2)
            hn = dn["l"] - 0.5 * (n1 * n1 + n2 * n2)
            worse = hn < h - 1e-12 * np.abs(h)
            if not worse.any():
                break
            s1, s2 = np.where(worse, s1 / 2, s1), np.where(worse, s2 / 2, s2)
        z1, z2, d, h = n1, n2, dn, hn
        if np.all(np.abs(s1) < 1e-10 * (1 + np.abs(z1))) and np.all(np.abs(s2) < 1e-10 * (1 + np.abs(z2))):
            break
    d = cond(beta0 + sigma * z1, mu + tau * z2)
    a11 = 1.0 - sigma * sigma * d["aa"]
    a22 = 1.0 - tau * tau * d["tt"]
    a12 = -sigma * tau * d["at"]
    # A = L L' (lower Cholesky of the negative Hessian); z = zhat + sqrt(2) L^{-T} x
    l11 = np.sqrt(a11)
    l21 = a12 / l11
    l22 = np.sqrt(a22 - l21 * l21)
    x, lw = _rule(nodes)
    X1 = np.repeat(x, nodes)[None, :]
    X2 = np.tile(x, nodes)[None, :]
    LW = (np.repeat(lw, nodes) + np.tile(lw, nodes))[None, :]
    # L^{-T} = [[1/l11, -l21/(l11 l22)], [0, 1/l22]]
    y2 = np.sqrt(2.0) * X2 / l22
    y1 = (np.sqrt(2.0) * X1 - l21 * y2) / l11
    Z1, Z2 = z1 + y1, z2 + y2
    logw = np.log(2.0) - np.log(l11 * l22) + LW - 0.5 * (Z1 * Z1 + Z2 * Z2) - _LOG_2PI
    d = cond(beta0 + sigma * Z1, mu + tau * Z2, derivs)
    terms = logw + d["l"]
    logL = logsumexp(terms, axis=1)
    if not derivs:
        return logL
    pi = np.exp(terms - logL[:, None])
    a, t, aa, at, tt = d["a"], d["t"], d["aa"], d["at"], d["tt"]
    S = np.stack([a, t, a * Z1, t * Z2], axis=2)  # scores in (beta0, mu, sigma, tau) per node
    Q = np.stack([aa, at, aa * Z1, at * Z2,
                  at, tt, at * Z1, tt * Z2,
                  aa * Z1, at * Z1, aa * Z1 * Z1, at * Z1 * Z2,
                  at * Z2, tt * Z2, at * Z1 * Z2, tt * Z2 * Z2], axis=2).reshape(S.shape + (4,))
    g = np.einsum("km,kmp->kp", pi, S)
    H = np.einsum("km,kmpq->kpq", pi, Q + S[..., :, None] * S[..., None, :]) - g[:, :, None] * g[:, None, :]
    return logL, g, H, (z1, z2)

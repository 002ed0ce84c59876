"""The likelihood of metafor's selection models (``selmodel``) and numDeriv's Hessian.

A study's observed effect y ~ N(mu, v + tau2) is published with relative probability
w(p), p its one-sided (or two-sided) p-value; its density given publication is
w(p(y)) phi(y; mu, s) / A, A = integral of w(p(y)) phi(y; mu, s) dy, s^2 = v + tau2
(Hedges 1992; Vevea & Hedges 1995; Citkowicz & Vevea 2017). The families and their
parameterisations are metafor 3.8.1's (``selmodel.rma.uni``):

- ``stepfun``: w = delta_j for p in (steps_{j-1}, steps_j], delta_1 = 1; A in closed form.
- ``beta``: w = p^(d1-1) (1-p)^(d2-1), p held in [1e-5, 1 - 1e-5].
- ``halfnorm`` exp(-d p^2), ``negexp`` exp(-d p), ``logistic`` 2 exp(-d p)/(1 + exp(-d p)),
  ``power`` (1-p)^d (p held in [1e-5, 1 - 1e-5]); each relative to its value at ``steps[0]``
  (0 unless given) and 1 for p <= steps[0].

The integral A of the smooth families is computed by panelled Gauss-Legendre on the studies'
z statistic (see :meth:`Likelihood.areas`) rather than R's adaptive ``integrate`` per study:
it is exact to rounding for these smooth weights and vectorised over studies (scipy's adaptive
``quad_vec`` took 27 s for one half-normal fit of 37 studies). The Hessian is numDeriv's ``hessian`` (Richardson extrapolation, d = 0.1,
eps = 1e-4, r = 6 as metafor sets it) re-implemented step for step, so that the SEs are those of
metafor, including where the likelihood is flat.
"""

from __future__ import annotations

import numpy as np
from scipy.special import ndtr, ndtri

FAMILIES = ("beta", "halfnorm", "negexp", "logistic", "power")
TYPES = ("stepfun", *FAMILIES)
ALTERNATIVES = ("greater", "less", "two.sided")
_EPS = np.finfo(float).eps
_U_MAX = 9.0
_GL_X, _GL_W = np.polynomial.legendre.leggauss(16)


def pvalues(y, v, alternative):
    """The studies' p-values as metafor's ``.selmodel.pval``."""
    z = np.asarray(y, float) / np.sqrt(v)
    if alternative == "two.sided":
        return 2 * ndtr(-np.abs(z))
    return ndtr(-z) if alternative == "greater" else ndtr(z)


def pval_min(type_):
    return 1e-5 if type_ in ("beta", "power") else 0.0


def weight(type_, p, delta, steps):
    """The selection function w(p) of a smooth family (metafor's ``wi.fun``; precision 1)."""
    p = np.clip(p, pval_min(type_), 1 - pval_min(type_))
    if type_ == "beta":
        return p ** (delta[0] - 1) * (1 - p) ** (delta[1] - 1)
    d, a = delta[0], steps[0]
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        if type_ == "halfnorm":
            w = np.exp(-d * p ** 2) / np.exp(-d * a ** 2)
        elif type_ == "negexp":
            w = np.exp(-d * p) / np.exp(-d * a)
        elif type_ == "logistic":
            w = (2 * np.exp(-d * p) / (1 + np.exp(-d * p))) / (2 * np.exp(-d * a) / (1 + np.exp(-d * a)))
        else:  # power
            w = (1 - p) ** d / (1 - a) ** d
    return np.where(p <= a, 1.0, w)


def step_weight(p, delta, steps):
    """w(p) of the step function: the weight of the first interval (lo, hi] holding p."""
    return np.asarray(delta, float)[np.searchsorted(steps, p, side="left")]


def _prob_p_le(c, mu, s, v, alternative):
    """P(p <= c) when y ~ N(mu, s^2) and p is y's p-value with sampling variance v."""
    sv = np.sqrt(v)
    if alternative == "greater":
        return ndtr((mu - sv * ndtri(1 - c)) / s)
    if alternative == "less":
        return ndtr((sv * ndtri(c) - mu) / s)
    t = sv * ndtri(1 - c / 2)
    return ndtr((mu - t) / s) + ndtr((-t - mu) / s)


class Likelihood:
    """The selection-model log-likelihood of ``y, v`` for one type, as a function of the
    natural parameters (mu, tau2, delta...) or of the optimiser's transformed ones."""

    def __init__(self, y, v, type_, steps, alternative, fixed_effect):
        self.y, self.v = np.asarray(y, float), np.asarray(v, float)
        self.type, self.steps, self.alt, self.fe = type_, np.asarray(steps, float), alternative, fixed_effect
        pm = pval_min(type_)
        self.p = np.clip(pvalues(self.y, self.v, alternative), pm, 1 - pm)
        if type_ == "stepfun":
            self.group = np.searchsorted(self.steps, self.p, side="left")
            self.n_delta = len(self.steps)
        else:
            self.n_delta = 2 if type_ == "beta" else 1
        # metafor's delta.min / delta.max and the logistic map between them
        lo = 1e-5 if type_ == "beta" else 0.0
        self.dmin, self.dmax = np.full(self.n_delta, lo), np.full(self.n_delta, 100.0)
        self.free = np.ones(self.n_delta, bool)
        if type_ == "stepfun":
            self.free[0] = False  # delta_1 = 1

    # -- natural scale ---------------------------------------------------------------------
    def loglik(self, mu, tau2, delta):
        tau2 = 0.0 if tau2 < _EPS * 10 else tau2
        s = np.sqrt(self.v + tau2)
        log_dens = -0.5 * np.log(2 * np.pi) - np.log(s) - 0.5 * ((self.y - mu) / s) ** 2
        delta = np.asarray(delta, float)
        if self.type == "stepfun":
            cum = np.vstack([np.zeros_like(self.y)]
                            + [_prob_p_le(c, mu, s, self.v, self.alt) for c in self.steps[:-1]]
                            + [np.ones_like(self.y)])
            area = (np.diff(cum, axis=0) * delta[:, None]).sum(axis=0)
            with np.errstate(divide="ignore", invalid="ignore"):
                return float(np.sum(np.log(delta[self.group]) + log_dens - np.log(area)))
        w_obs = weight(self.type, self.p, delta, self.steps)
        area = self.areas(mu, s, delta)
        with np.errstate(divide="ignore", invalid="ignore"):
            return float(np.sum(np.log(w_obs) + log_dens - np.log(area)))

    def areas(self, mu, s, delta):
        """A_i = E[w(p(y_i))] for y_i ~ N(mu, s_i^2), all studies at once.

        w depends on y only through the study's z statistic u = y / sqrt(v), so A_i is an
        integral over u ~ N(mu / sqrt(v_i), s_i^2 / v_i) (an SD of at least 1) of one function
        w(p(u)), smooth between its kinks (p at its clamps and at steps[0]; u = 0 when
        two-sided) and constant beyond |u| = 9 (p < 1e-19): Gauss-Legendre on panels of width
        <= 0.25 between the kinks, the two constant tails exactly by the normal CDF."""
        nodes, wts, w_lo, w_hi = self._grid(tuple(np.atleast_1d(delta)))
        sv = np.sqrt(self.v)
        m, sd = mu / sv, s / sv
        zz = (nodes[None, :] - m[:, None]) / sd[:, None]
        dens = np.exp(-0.5 * zz * zz) / (np.sqrt(2 * np.pi) * sd[:, None])
        return dens @ (wts * self._w_nodes) + w_lo * ndtr((-_U_MAX - m) / sd) + w_hi * ndtr((m - _U_MAX) / sd)

    def _grid(self, delta):
        if getattr(self, "_grid_key", None) != delta:
            alt, pm = self.alt, pval_min(self.type)
            kinks = {-_U_MAX, _U_MAX}
            for p in {pm, 1 - pm, self.steps[0]} - {0.0, 1.0}:
                if alt == "two.sided":
                    kinks.update({ndtri(1 - p / 2), -ndtri(1 - p / 2)})
                else:
                    kinks.add(ndtri(1 - p) if alt == "greater" else ndtri(p))
            if alt == "two.sided":
                kinks.add(0.0)
            edges = sorted(u for u in kinks if -_U_MAX <= u <= _U_MAX)
            nodes, wts = [], []
            for a, b in zip(edges, edges[1:]):
                n = max(1, int(np.ceil((b - a) / 0.25)))
                for lo, hi in zip(np.linspace(a, b, n + 1)[:-1], np.linspace(a, b, n + 1)[1:]):
                    nodes.append(0.5 * (hi - lo) * _GL_X + 0.5 * (hi + lo))
                    wts.append(0.5 * (hi - lo) * _GL_W)
            nodes, wts = np.concatenate(nodes), np.concatenate(wts)
            pv = lambda u: pvalues(np.asarray(u, float), 1.0, alt)  # noqa: E731
            self._w_nodes = weight(self.type, pv(nodes), delta, self.steps)
            self._grid_cache = (nodes, wts, float(weight(self.type, pv([-_U_MAX]), delta, self.steps)[0]),
                                float(weight(self.type, pv([_U_MAX]), delta, self.steps)[0]))
            self._grid_key = delta
        return self._grid_cache

    # -- the optimiser's scale (metafor's: log tau2, logistic map of delta) ------------------
    def unpack(self, par):
        mu, i = par[0], 1
        if self.fe:
            tau2 = 0.0
        else:
            tau2, i = float(np.exp(par[1])), 2
        delta = np.ones(self.n_delta)
        x = np.asarray(par[i:], float)
        delta[self.free] = self.dmin[self.free] + (self.dmax[self.free] - self.dmin[self.free]) / (1 + np.exp(-x))
        return mu, tau2, delta

    def start(self, mu0, tau20):
        init = np.array([1.0, 1.0]) if self.type == "beta" else np.ones(self.n_delta)
        x = np.log((init - self.dmin) / (self.dmax - init))[self.free]
        return np.r_[mu0, ([] if self.fe else [np.log(tau20 + 1e-3)]), x]

    def negll(self, par):
        val = self.loglik(*self.unpack(par))
        return -val if np.isfinite(val) else 1e100

    # -- the natural parameters the Hessian is taken over -----------------------------------
    def natural(self, mu, tau2, delta):
        return np.r_[mu, ([] if self.fe else [tau2]), np.asarray(delta)[self.free]]

    def negll_natural(self, theta):
        mu, i = theta[0], 1
        tau2 = 0.0
        if not self.fe:
            tau2, i = theta[1], 2
        delta = np.ones(self.n_delta)
        delta[self.free] = theta[i:]
        val = self.loglik(mu, tau2, delta)
        return -val


def numderiv_hessian(func, x, d=0.1, eps=1e-4, r=6):
    """numDeriv's ``hessian(func, x, method.args = list(r = r))``: central differences with
    Richardson extrapolation (v = 2), the diagonal first, then the cross terms from it."""
    x = np.asarray(x, float)
    n = len(x)
    zero_tol = np.sqrt(_EPS / 7e-7)
    h0 = np.abs(d * x) + eps * (np.abs(x) < zero_tol)
    f0 = func(x)
    hdiag = np.zeros(n)

    def richardson(a):
        a = list(a)
        for m in range(1, r):
            for k in range(r - m):
                a[k] = (a[k + 1] * 4 ** m - a[k]) / (4 ** m - 1)
        return a[0]

    for i in range(n):
        h, approx = h0.copy(), []
        for _ in range(r):
            e = np.zeros(n)
            e[i] = h[i]
            approx.append((func(x + e) - 2 * f0 + func(x - e)) / h[i] ** 2)
            h = h / 2
        hdiag[i] = richardson(approx)
    hess = np.diag(hdiag)
    for i in range(n):
        for j in range(i):
            h, approx = h0.copy(), []
            for _ in range(r):
                e = np.zeros(n)
                e[i], e[j] = h[i], h[j]
                approx.append((func(x + e) - 2 * f0 + func(x - e) - hdiag[i] * h[i] ** 2 - hdiag[j] * h[j] ** 2)
                              / (2 * h[i] * h[j]))
                h = h / 2
            hess[i, j] = hess[j, i] = richardson(approx)
    return hess

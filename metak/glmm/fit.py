"""Maximum likelihood for the GLMMs: the profile likelihood of tau, maximised globally.

Why hand-written (and not lme4-style joint optimisation of every parameter): for a fixed tau
the log-likelihood of the one-random-effect models is concave in (study intercepts, mu)
(the integrand is log-concave in them and in z; Prekopa's theorem), so Newton's method with
step halving finds that profile's maximum for certain, in O(k) per step through the arrow
structure of the information matrix. The profile in tau is not concave and may be maximal
at tau = 0: it is evaluated on a grid from 0 to 10, and a bounded Brent search is run in the
bracket around the grid's best point; tau = 0 is compared directly, so a boundary maximum is
reported as exactly 0. A last joint Newton step polishes (mu, tau) and the observed
information there gives the standard error. The fixed-effect fits (tau = 0) are the same
Newton iterations without quadrature (statsmodels is not a dependency of metak, and these
logistic / Poisson / conditional likelihoods with study intercepts are a few lines here).

UM.RS (two variance components) is fitted in :mod:`.rs_fit`, its heterogeneity tests in
:mod:`.rs`; both build on :class:`Profile` here, which imports neither.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..errors import MetakError
from .quadrature import NODES_1D, integrate_1d

#: tau grid of the global search (SD of the log odds ratio): 0 and 0.01 to 10
TAU_GRID = np.concatenate([[0.0], np.geomspace(0.01, 10.0, 16)])
#: tolerance in tau of the bounded Brent search before the Newton polish
BRENT_XATOL = 1e-6
FLAT_MESSAGE = ("the likelihood has no maximum: {what} (with these counts the estimate runs off to infinity; "
         "e.g. no events in any treatment arm or in any control arm)")


class Profile:
    """Maximiser over (study intercepts, mu) at fixed tau, with warm starts."""

    def __init__(self, cond, nodes=NODES_1D):
        self.cond = cond
        self.nodes = nodes
        self.k = cond.k
        self.alpha = np.zeros((self.k, 1)) if cond.nuisance else None
        if cond.nuisance:  # start at each study's pooled log odds (or log rate)
            lik = cond.lik
            y, s = lik.y.sum(axis=1), lik.size.sum(axis=1)
            p = (y + 0.5) / (s + 1.0)
            self.alpha = (np.log(p / (1 - p)) if lik.family == "binomial" else np.log((y + 0.5) / s))[:, None]
        self.mu = 0.0
        #: profile fits by tau: the grid's, Brent's and the CI's searches revisit points
        self.cache = {}
        #: tau of the global search's grid points (their fits cached), to bracket the CI's roots
        self.grid = []

    def evaluate(self, alpha, mu, tau, derivs=True):
        return integrate_1d(self.cond, alpha, mu, tau, self.nodes, derivs)

    def newton_step(self, g, H, dense=(1,)):
        """Newton direction from per-study gradients g (k, 3) and Hessians H (k, 3, 3) in
        (alpha_i, mu, tau), for the shared parameters ``dense`` (indices into 1, 2)."""
        idx = list(dense)
        J = -H
        G = g[:, idx].sum(axis=0)
        C = J[:, idx][:, :, idx].sum(axis=0)
        if self.cond.nuisance:
            D = J[:, 0, 0]
            B = J[:, 0, idx]  # (k, p)
            C = C - (B[:, :, None] * B[:, None, :] / D[:, None, None]).sum(axis=0)
            G = G - (B * (g[:, 0] / D)[:, None]).sum(axis=0)
            dshared = np.linalg.solve(C, G)
            dalpha = (g[:, 0] - B @ dshared) / D
            return dalpha, dshared
        return None, np.linalg.solve(C, G)

    def fit(self, tau, alpha=None, mu=None):
        """max over (alpha, mu) of the log-likelihood at tau: (loglik, alpha, mu)."""
        if float(tau) in self.cache:  # the maximum is unique (concave): the start does not matter
            tot, self.alpha, self.mu = self.cache[float(tau)]
            return tot, self.alpha, self.mu
        alpha = self.alpha if alpha is None else alpha
        mu = self.mu if mu is None else mu
        ll, g, H = self.evaluate(alpha, mu, tau)
        tot = ll.sum()
        for _ in range(200):
            try:
                dalpha, (dmu,) = self.newton_step(g, H)
            except np.linalg.LinAlgError:
                raise MetakError(FLAT_MESSAGE.format(what="the information about the pooled effect is zero")) from None
            # Newton decrement: the ascent still available (from the gradient, not from differences
            # of the log-likelihood, so it resolves steps of 1e-11 in mu); below it, the maximum
            decrement = dmu * g[:, 1].sum() + (0.0 if dalpha is None else float(dalpha @ g[:, 0]))
            if decrement < 1e-20 * max(1.0, abs(tot)):
                break
            t = 1.0
            while True:
                na = None if dalpha is None else alpha + t * dalpha[:, None]
                nm = mu + t * dmu
                nll, ng, nH = self.evaluate(na, nm, tau)
                ntot = nll.sum()
                if ntot >= tot - 1e-12 * max(1.0, abs(tot)):
                    break
                t /= 2
                if t < 1e-3:  # no ascent left at the quadrature's resolution: converged
                    break
            if t < 1e-3:
                break
            done = abs(t * dmu) < 1e-11 and (dalpha is None or np.max(np.abs(t * dalpha)) < 1e-10)
            alpha, mu, tot, g, H = na, nm, ntot, ng, nH
            if abs(mu) > 60:
                raise MetakError(FLAT_MESSAGE.format(what=f"the pooled log effect passes {mu:+.0f}"))
            if done:
                break
        self.alpha, self.mu = alpha, mu
        self.cache[float(tau)] = (tot, alpha, mu)
        return tot, alpha, mu

    def loglik_at(self, mu, tau):
        """The log-likelihood at given (mu, tau), study intercepts maximised (e.g. at another
        program's estimates; constants excluded)."""
        alpha = None if self.alpha is None else self.alpha.copy()
        for _ in range(100):
            ll, g, H = self.evaluate(alpha, mu, tau)
            if alpha is None:
                return float(ll.sum())
            step = g[:, 0] / -H[:, 0, 0]
            alpha = alpha + step[:, None]
            if np.max(np.abs(step)) < 1e-11:
                break
        return float(self.evaluate(alpha, mu, tau, False)[0].sum())

    def maximise(self, random=True):
        """Global maximum over tau >= 0: (tau, loglik, alpha, mu)."""
        if not random:
            ll, a, m = self.fit(0.0)
            return 0.0, ll, a, m
        fits = []
        for tau in TAU_GRID:
            ll, a, m = self.fit(float(tau))
            fits.append((ll, float(tau), a, m))
            self.grid.append(float(tau))
            if ll < max(f[0] for f in fits) - 50:  # 50 log-likelihood units below the best: stop
                break
        j = int(np.argmax([f[0] for f in fits]))
        if j == len(TAU_GRID) - 1:
            raise MetakError(FLAT_MESSAGE.format(what=f"the likelihood still increases at tau = {TAU_GRID[-1]:g}"))
        best = fits[j]
        lo = TAU_GRID[max(j - 1, 0)]
        hi = TAU_GRID[j + 1]
        self.alpha, self.mu = best[2], best[3]

        def neg(tau):
            return -self.fit(float(tau))[0]

        # Brent to 1e-6 only: the joint Newton polish below converges quadratically from there
        # (the last digits by Brent cost ~5 more profile fits); if the polish does not converge,
        # Brent goes on to 1e-10 around its point
        r = optimize.minimize_scalar(neg, bounds=(lo, hi), method="bounded", options={"xatol": BRENT_XATOL})
        cand = [(-r.fun, float(r.x)), (fits[0][0], 0.0)]
        if best[0] > -r.fun:
            cand.append((best[0], best[1]))
        ll, tau = max(cand)
        if tau < 1e-6:  # the boundary: tau = 0 within the search's resolution; report 0 exactly
            tau = 0.0
        ll, a, m = self.fit(tau, fits[0][2] if tau == 0 else None, fits[0][3] if tau == 0 else None)
        if tau > 0:
            start = tau
            tau, ll, a, m = self.polish(tau, ll, a, m)
            if not self.polished:
                near = (max(lo, start - 4 * BRENT_XATOL), min(hi, start + 4 * BRENT_XATOL))
                r = optimize.minimize_scalar(neg, bounds=near, method="bounded", options={"xatol": 1e-10})
                if -r.fun > ll:
                    tau = float(r.x)
                    ll, a, m = self.fit(tau)
                    tau, ll, a, m = self.polish(tau, ll, a, m)
        return tau, ll, a, m

    def polish(self, tau, ll, alpha, mu):
        """Joint Newton steps in (alpha, mu, tau) from the Brent solution; ``self.polished``
        says whether the last Newton step in tau was below 1e-8 (converged)."""
        self.polished = False
        for _ in range(5):
            lli, g, H = self.evaluate(alpha, mu, tau)
            try:
                dalpha, (dmu, dtau) = self.newton_step(g, H, dense=(1, 2))
            except np.linalg.LinAlgError:
                break
            if not np.isfinite(dtau) or tau + dtau <= 0 or abs(dtau) > 0.1 * tau:
                break
            self.polished = abs(dtau) < 1e-8
            na = None if dalpha is None else alpha + dalpha[:, None]
            nll = self.evaluate(na, mu + dmu, tau + dtau, False)[0].sum()
            if nll < ll - 1e-12 * max(1.0, abs(ll)):
                break
            alpha, mu, tau, ll = na, mu + dmu, tau + dtau, nll
            if abs(dtau) < 1e-12 and abs(dmu) < 1e-12:
                break
        return tau, ll, alpha, mu

    def variance(self, alpha, mu, tau):
        """Var(mu) from the observed information in (alpha, mu, tau) (tau left out at 0),
        the study intercepts profiled out through the Schur complement."""
        _, g, H = self.evaluate(alpha, mu, tau)
        dense = [1, 2] if tau > 0 else [1]
        J = -H
        C = J[:, dense][:, :, dense].sum(axis=0)
        if self.cond.nuisance:
            B = J[:, 0, dense]
            C = C - (B[:, :, None] * B[:, None, :] / J[:, 0, 0][:, None, None]).sum(axis=0)
        try:
            V = np.linalg.inv(C)
        except np.linalg.LinAlgError:
            raise MetakError(FLAT_MESSAGE.format(what="the information matrix is singular")) from None
        return float(V[0, 0]), (float(V[1, 1]) if tau > 0 else None)

    def interval(self, tau, ll, level):
        """Profile-likelihood CI for tau: where 2 (ll - pl(tau)) = chi2_1 quantile."""
        from scipy.stats import chi2

        crit = chi2.ppf(level, 1) / 2
        f = lambda t: self.fit(float(t))[0] - (ll - crit)  # noqa: E731
        # the global search's grid points (cached fits, no new work) narrow both brackets
        grid = [float(t) for t in self.grid]
        lower = 0.0
        if tau > 0 and f(0.0) < 0:
            a = max([t for t in grid if t < tau and f(t) < 0], default=0.0)
            b = min([t for t in grid if a < t < tau and f(t) > 0], default=tau)
            lower = optimize.brentq(f, a, b, xtol=1e-10)
        lo = tau
        for t in (t for t in grid if t > tau):
            if f(t) < 0:
                return lower, optimize.brentq(f, lo, t, xtol=1e-10)
            lo = t
        hi = max(2 * lo, 0.1)
        while f(hi) > 0:
            lo = hi
            hi *= 2
            if hi > 100:
                return lower, None
        upper = optimize.brentq(f, lo, hi, xtol=1e-10)
        return lower, upper

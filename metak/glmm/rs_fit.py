"""Maximum likelihood for UM.RS (two random effects: the study intercepts and the treatment
effect): trust-region Newton on the quadrature's analytic derivatives, the maximum of the
Laplace approximation (``nagq=1``) by Newton steps on finite differences, and a
derivative-free search if both fail; the profile-likelihood CI of tau by the same rules
(:class:`RsTauProfile`).

Why finite differences for the Laplace approximation: the quadrature's analytic derivatives are
posterior expectations over the nodes; with one node they are the score at the mode, not the
derivative of the Laplace approximation (which also carries the derivative of its
log-determinant). The Laplace value itself is smooth and exact to rounding (the modes are found
to 1e-10, so the value's error is ~1e-20), so central differences with Richardson extrapolation
(steps h and h/2) give its gradient and Hessian to ~1e-8 relative, and Newton's method from the
adaptive-quadrature maximum (a few 1e-3 away) converges in a few steps.

This is the textbook Laplace approximation. lme4 (and so metafor) evaluates the log-determinant
with the PIRLS weights one iterate before the conditional modes (src/external.cpp,
pwrssUpdate), so its deviance carries an offset of up to ~1e-5 that jumps where the number of
PIRLS iterations changes; its finite-difference Hessian amplifies that (docs/glmm.md;
tests/reference/make_glmm_laplace_reference.R pins both and an independent textbook fit).

Dependencies go one way: :mod:`.fit` (the one-random-effect profile) <- this module <-
:mod:`.rs` (the UM.RS heterogeneity tests) <- the package.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize

from ..errors import MetakError
from .fit import FLAT_MESSAGE
from .quadrature import NODES_2D, integrate_1d, integrate_2d

#: finite-difference step (Richardson with h and h / 2) in (beta0, mu, sigma, tau) or
#: (log odds ratio, beta_c, sigma): truncation ~h^4, rounding ~1e-13 / h^2
FD_STEP = 1e-3


def fd_derivs(f, x, h=FD_STEP, richardson=True):
    """Gradient and Hessian of scalar ``f`` at ``x``: central differences, Richardson-
    extrapolated from steps h and h / 2 (error O(h^4))."""
    def once(h):
        n = len(x)
        E = np.eye(n) * h
        f0 = f(x)
        fp = np.array([f(x + e) for e in E])
        fm = np.array([f(x - e) for e in E])
        g = (fp - fm) / (2 * h)
        H = np.diag((fp - 2 * f0 + fm) / h**2)
        for i in range(n):
            for j in range(i + 1, n):
                H[i, j] = H[j, i] = (f(x + E[i] + E[j]) - f(x + E[i] - E[j]) - f(x - E[i] + E[j])
                                     + f(x - E[i] - E[j])) / (4 * h * h)
        return g, H

    g1, H1 = once(h)
    if not richardson:
        return g1, H1
    g2, H2 = once(h / 2)
    return (4 * g2 - g1) / 3, (4 * H2 - H1) / 3


def newton_fd(f, x0, max_iter=40, richardson=True):
    """Maximise smooth ``f`` from ``x0`` by Newton steps (Richardson gradient, central-difference
    Hessian) with step halving. Returns (value, x, Hessian) at the maximum, or None if the
    Hessian is not negative definite or the steps do not converge.

    ``richardson=False`` (the profile likelihood, which needs the maximum's value, not its
    location or curvature): the gradient by plain central differences, from the same 19
    evaluations as the Hessian (3 parameters; 57 with Richardson), and the Hessian returned is
    that of the last step. The gradient's error (~h^2 = 1e-6 relative) moves the point found by
    ~1e-6 / curvature, and the maximum's value by its square: ~1e-12."""
    x = np.asarray(x0, float).copy()
    fx = f(x)
    for _ in range(max_iter):
        if richardson:
            g = fd_derivs(f, x)[0]
            H = fd_derivs(f, x, richardson=False)[1]
        else:
            g, H = fd_derivs(f, x, richardson=False)
        if not np.all(np.isfinite(H)) or np.max(np.linalg.eigvalsh(H)) >= 0:
            return None
        d = -np.linalg.solve(H, g)
        t = 1.0
        while t > 1e-6:
            fn = f(x + t * d)
            if np.isfinite(fn) and fn >= fx - 1e-12 * max(1.0, abs(fx)):
                break
            t /= 2
        else:
            return None
        x, fx = x + t * d, fn
        if np.max(np.abs(t * d)) < 1e-10 * (1 + np.max(np.abs(x))):
            if not richardson:
                return fx, x, H
            H = fd_derivs(f, x)[1]
            return (fx, x, H) if np.max(np.linalg.eigvalsh(H)) < 0 else None
    return None


def rs_loglik(cond, nodes):
    """The UM.RS log-likelihood (constants excluded) at (beta0, mu, sigma, tau)."""
    def ll(par):
        b0, mu, sg, tau = par[0], par[1], abs(par[2]), abs(par[3])
        if sg == 0.0 and tau == 0.0:
            v = integrate_1d(cond, np.full((cond.k, 1), b0), mu, 0.0, derivs=False)[0]
        else:
            v = integrate_2d(cond, b0, mu, max(sg, 1e-300), tau, nodes)
        tot = float(v.sum())
        return tot if np.isfinite(tot) else -1e300
    return ll


def fit_rs_laplace(cond, random, nodes, start_b):
    """UM.RS by the maximum of the rule with ``nodes`` (< 5: the Laplace approximation for 1),
    by :func:`newton_fd` from the adaptive-quadrature (15 x 15) maximum, tau free and at the
    boundary tau = 0. Returns (loglik, x, cov of the free parameters) or None."""
    agq = fit_rs_newton(cond, random, NODES_2D, start_b)
    if agq is None:
        return None
    ll = rs_loglik(cond, nodes)
    x0 = agq[1].copy()
    # tau free (from the adaptive rule's tau, or 0.1 if that is on the boundary) and tau = 0
    starts = [([0, 1, 2], 0.0)] + ([([0, 1, 2, 3], x0[3] if x0[3] > 0 else 0.1)] if random else [])
    best = None
    for free, tau0 in starts:
        x = x0.copy()
        x[3] = tau0
        r = newton_fd(lambda q: ll(put(x, free, q)), x[free])  # noqa: B023
        if r is None:
            continue
        xr = put(x, free, r[1])
        if 3 in free and abs(xr[3]) < 1e-6:  # drifted to the boundary: the tau = 0 start has it
            continue
        if best is None or r[0] > best[0]:
            best = (r[0], xr, r[2])
    if best is None:
        return None
    val, x, H = best
    x[2], x[3] = abs(x[2]), abs(x[3])
    V = np.linalg.inv(-H)
    if not np.all(np.isfinite(V)) or np.any(np.diag(V) <= 0):
        return None
    return val, x, V


def fit_rs(cond, random=True, nodes=NODES_2D):
    """UM.RS: (loglik, beta0, mu, sigma, tau, cov of (beta0, mu, sigma[, tau]))."""
    lik = cond.lik
    y, s = lik.y.sum(axis=1), lik.size.sum(axis=1)
    p = (y + 0.5) / (s + 1.0)
    start_b = float(np.mean(np.log(p / (1 - p)) if lik.family == "binomial" else np.log((y + 0.5) / s)))
    if nodes >= RS_NEWTON_MIN_NODES:
        out = fit_rs_newton(cond, random, nodes, start_b)
        if out is not None:
            return out  # else Newton did not converge: the derivative-free search below
    else:  # the Laplace approximation: Newton on finite differences from the 15 x 15 maximum
        out = fit_rs_laplace(cond, random, nodes, start_b)
        if out is not None:
            return out

    # the search below passes tau = 0 whenever random is False (three free parameters, tau
    # appended as 0), so the common-effect fit needs no flag of its own
    ll = rs_loglik(cond, nodes)

    def run(x0):
        f = lambda x: -ll(np.append(x, 0.0) if len(x) == 3 else x)  # noqa: E731
        r = optimize.minimize(f, x0, method="Nelder-Mead",
                              options={"xatol": 1e-5, "fatol": 1e-9, "maxiter": 20000, "adaptive": True})
        # then quasi-Newton with central-difference gradients for the last digits
        grad = lambda x: np.array([(f(x + e) - f(x - e)) / 2e-6 for e in np.eye(len(x)) * 1e-6])  # noqa: E731
        r2 = optimize.minimize(f, r.x, jac=grad, method="BFGS", options={"gtol": 1e-7, "maxiter": 500})
        return (-r2.fun, r2.x) if r2.fun <= r.fun else (-r.fun, r.x)

    start = [start_b, 0.0, 0.5]
    if random:
        results = [run(np.array(start + [t])) for t in (0.5, 0.1)]
        results.append(run(np.array(start)))  # the boundary tau = 0
        best = max(results, key=lambda r: r[0])
    else:
        best = run(np.array(start))
    val, x = best
    x, free = _settle(np.append(x, 0.0) if len(x) == 3 else x)
    H = central_hessian(lambda q: ll(put(x, free, q)), x[free])
    return val, x, _covariance(H)


def _settle(x):
    """The maximum ``x`` (beta0, mu, sigma, tau) as reported: the SDs' signs dropped, a tau
    below 1e-6 on the boundary 0, and the free parameters of the covariance (tau only when
    positive); a pooled log effect beyond +-60 is a flat likelihood (MetakError)."""
    x = x.copy()
    x[2], x[3] = abs(x[2]), abs(x[3])
    if abs(x[1]) > 60:
        raise MetakError(FLAT_MESSAGE.format(what=f"the pooled log effect passes {x[1]:+.0f}"))
    if x[3] < 1e-6:
        x[3] = 0.0
    return x, [0, 1, 2] + ([3] if x[3] > 0 else [])


def _covariance(H):
    """The inverse of the observed information -H (MetakError when it is singular)."""
    try:
        return np.linalg.inv(-H)
    except np.linalg.LinAlgError:
        raise MetakError(FLAT_MESSAGE.format(what="the information matrix is singular")) from None


#: from this many nodes per axis UM.RS is maximised by trust-region Newton on the quadrature's
#: analytic derivatives (accurate rules only: with 1 node, the Laplace approximation, the
#: posterior-expectation derivatives are not the approximation's, so rs.fit_rs_laplace uses
#: finite differences of its value, and the derivative-free search above is the fallback)
RS_NEWTON_MIN_NODES = 5


class RsNewton:
    """The quadrature rule's UM.RS log-likelihood with its analytic gradient and Hessian in
    (beta0, mu, sigma, tau), memoised by parameter; each call's conditional modes start the
    next call's mode search. :meth:`run` maximises it over the parameters ``free`` (the others
    held) by scipy's trust-exact Newton: the one maximiser of the fit (tau free, and tau = 0)
    and of the profile likelihood of tau (tau held, :class:`RsTauProfile`)."""

    def __init__(self, cond, nodes):
        self.cond, self.nodes, self.cache = cond, nodes, {}

    def evaluate(self, par):
        cache = self.cache
        key = par.tobytes()
        if key not in cache:
            start = cache.get("modes")
            b0, mu, sg, tau = par
            logL, g, H, modes = integrate_2d(self.cond, b0, mu, sg, tau, self.nodes, derivs=True, start=start)
            tot = float(logL.sum())
            ok = np.isfinite(tot) and all(np.all(np.isfinite(m)) for m in modes)
            if len(cache) > 64:
                cache.clear()
            cache[key] = (tot if ok else -1e300, g.sum(axis=0), H.sum(axis=0))
            if ok:
                cache["modes"] = modes
        return cache[key]

    def run(self, x0, free):
        """(maximum, or -inf if Newton did not converge; the full parameter vector there)."""
        evaluate = self.evaluate
        full = lambda q: put(x0, free, q)  # noqa: E731
        r = optimize.minimize(lambda q: -evaluate(full(q))[0], x0[free],
                              jac=lambda q: -evaluate(full(q))[1][free],
                              hess=lambda q: -evaluate(full(q))[2][np.ix_(free, free)],
                              method="trust-exact", options={"gtol": 1e-9, "maxiter": 200})
        converged = bool(np.max(np.abs(r.jac)) < 1e-6 * max(1.0, abs(r.fun)))
        return (-r.fun if converged else -np.inf), full(r.x)


def fit_rs_newton(cond, random, nodes, start_b):
    """UM.RS by scipy's trust-exact Newton (handles an indefinite Hessian away from the
    maximum) on (beta0, mu, sigma, tau) with the gradient and Hessian of the quadrature, from
    two starts in tau and the boundary tau = 0 (tau held there); each call's conditional modes
    start the next call's mode search. The observed information at the maximum gives the
    covariance. ~50 x fewer likelihood evaluations than Nelder-Mead."""
    q = RsNewton(cond, nodes)
    x0 = np.array([start_b, 0.0, 0.5, 0.0])
    if random:
        results = [q.run(np.array([start_b, 0.0, 0.5, t]), [0, 1, 2, 3]) for t in (0.5, 0.1)]
        results.append(q.run(x0, [0, 1, 2]))
        val, x = max(results, key=lambda r: r[0])
    else:
        val, x = q.run(x0, [0, 1, 2])
    if not np.isfinite(val):
        return None
    x, free = _settle(x)
    q.cache.pop("modes", None)
    V = _covariance(q.evaluate(x)[2][np.ix_(free, free)])
    if not np.all(np.isfinite(V)) or np.any(np.diag(V) <= 0):
        return None
    return q.evaluate(x)[0], x, V


def put(x, free, q):
    y = x.copy()
    y[free] = q
    return y


def central_hessian(f, x, h=1e-4):
    """Central-difference Hessian (Richardson-free; steps 1e-4 give ~1e-7 relative accuracy
    for these smooth likelihoods)."""
    n = len(x)
    H = np.empty((n, n))
    f0 = f(x)
    for i in range(n):
        for j in range(i, n):
            ei, ej = np.eye(n)[i] * h, np.eye(n)[j] * h
            if i == j:
                H[i, i] = (f(x + ei) - 2 * f0 + f(x - ei)) / h**2
            else:
                H[i, j] = H[j, i] = (f(x + ei + ej) - f(x + ei - ej) - f(x - ei + ej) + f(x - ei - ej)) / (4 * h * h)
    return H


#: the upper bound's search gives up above this tau (the SD of the log odds ratio): the bound is
#: then reported as None (infinite), as Profile.interval does above tau = 100
RS_TAU_MAX = 20.0


class RsTauProfile:
    """The profile log-likelihood of tau for UM.RS, ll_p(tau) = max over (beta0, mu, sigma) at
    fixed tau, by the fit's rule: :meth:`RsNewton.run` with tau held for the quadrature (nodes
    >= RS_NEWTON_MIN_NODES), :func:`newton_fd` on the Laplace value for ``nodes=1``. Each fit
    starts from the fit at the nearest tau done so far (the last one in a root search), so it
    takes a few Newton steps; a fit that does not converge is retried from the maximum.

    Hand-written because no library profiles this likelihood: lme4's profile() works on its
    own Laplace deviance (nAGQ = 1 only for two random effects, with its PIRLS offset:
    docs/glmm.md), and metafor's rma.glmm has no profile CI for tau² at all."""

    def __init__(self, cond, nodes, x_hat, ll_hat):
        self.x_hat = np.asarray(x_hat, float).copy()
        self.fits = {float(self.x_hat[3]): (float(ll_hat), self.x_hat)}
        if nodes >= RS_NEWTON_MIN_NODES:
            newton = RsNewton(cond, nodes)  # one instance: its conditional modes carry over too
            self._maximise = lambda x: newton.run(x, [0, 1, 2])
        else:
            ll = rs_loglik(cond, nodes)

            def laplace(x):
                r = newton_fd(lambda q: ll(put(x, [0, 1, 2], q)), x[:3], richardson=False)
                return (-np.inf, x) if r is None else (r[0], put(x, [0, 1, 2], r[1]))

            self._maximise = laplace

    def __call__(self, tau):
        tau = float(tau)
        if tau not in self.fits:
            near = min(self.fits, key=lambda t: abs(t - tau))
            for start in (self.fits[near][1], self.x_hat):
                x = start.copy()
                x[3] = tau
                val, xr = self._maximise(x)
                if np.isfinite(val):
                    break
            else:
                raise MetakError(f"the profile likelihood of tau could not be maximised at tau = {tau:.6g}")
            xr = xr.copy()
            xr[2] = abs(xr[2])
            self.fits[tau] = (float(val), xr)
        return self.fits[tau][0]

    def interval(self, level):
        """The profile-likelihood CI of tau, {tau : 2 (ll_hat - ll_p(tau)) <= chi2_1(level)}:
        (lower, upper), by Brent's root search on each side of tau_hat. The lower bound is 0
        when ll_p(0) is within the cutoff (and when tau_hat = 0); the upper is None when the
        profile is still within it at RS_TAU_MAX."""
        from scipy.stats import chi2

        tau_hat = float(self.x_hat[3])
        cut = self.fits[tau_hat][0] - chi2.ppf(level, 1) / 2
        f = lambda t: self(t) - cut  # noqa: E731
        lower = 0.0
        if tau_hat > 0 and f(0.0) < 0:
            lower = optimize.brentq(f, 0.0, tau_hat, xtol=1e-10)
        lo, hi = tau_hat, min(max(2 * tau_hat, 0.1), RS_TAU_MAX)
        while f(hi) > 0:
            if hi >= RS_TAU_MAX:
                return lower, None
            lo, hi = hi, min(2 * hi, RS_TAU_MAX)
        return lower, optimize.brentq(f, lo, hi, xtol=1e-10)

"""metafor's heterogeneity tests (QE.Wld, QE.LRT) for UM.RS (the fit itself: :mod:`.rs_fit`).

Heterogeneity (rma.glmm, model UM.RS): the common-effect model (random study intercepts, one
log odds ratio) against the saturated model: every study its own fixed log odds ratio, the
control arms' log odds N(beta_c, sigma^2) (metafor's ``~ -1 + X.fit + const + study:group1 +
(1 | study)``, the study:group1 coefficients fixed). QE.LRT = 2 (ll_saturated - ll_FE), QE.Wld
the Wald test that all study log odds ratios are equal, with their covariance from the
saturated model's observed information (sigma and beta_c included, as lme4's vcov). A study
with no events (or only events) in its treatment arm has an infinite log odds ratio there: its
treatment arm contributes its supremum (0 to the log-likelihood) and it is left out of the Wald
test, the limit of metafor's value (whose estimate for it stops near -35, with a variance that
makes its share of the statistic vanish).
"""

from __future__ import annotations

import numpy as np

from .fit import Profile
from .likelihood import Arms
from .quadrature import NODES_2D, integrate_1d
from .rs_fit import FD_STEP


class ControlArms:
    """The saturated model's ``cond(alpha, theta)``: ``alpha`` (k, 1) the study's fixed log odds
    ratio (log rate ratio), ``theta`` the control arm's log odds (log rate), random; the
    treatment arm's linear predictor is theta + alpha. Through :class:`Arms` (whose predictor is
    A + x T, x = +-1/2) with A = theta + alpha / 2, T = alpha, by the chain rule. A study whose
    treatment arm has no events (or only events) has its treatment arm dropped (the supremum
    over its log odds ratio, at infinity) and a dummy curvature -1 in alpha, so it decouples."""

    nuisance = True

    def __init__(self, lik):
        y, size = lik.y.copy(), lik.size.copy()
        edge = (y[:, 0] == 0) | ((y[:, 0] == size[:, 0]) if lik.family == "binomial" else False)
        y[edge, 0] = 0
        size[edge, 0] = 0
        self.lik = lik  # the original counts (Profile's starting values)
        self.arms = Arms(y, size, lik.family)
        self.edge = edge
        self.k = len(y)

    def __call__(self, alpha, theta, derivs=True):
        l, lA, lT, lAA, lAT, lTT = self.arms.loglik(theta + alpha / 2, alpha, derivs)
        if not derivs:
            return {"l": l}
        edge = self.edge[:, None]
        return {"l": l, "t": lA, "a": lA / 2 + lT, "tt": lAA, "at": lAA / 2 + lAT,
                "aa": lAA / 4 + lAT + lTT - edge}


class LaplaceProfile(Profile):
    """:class:`Profile` with the derivatives of the one-node rule (the Laplace approximation)
    by central differences instead of posterior expectations (see the module docstring). Each
    study's log-likelihood depends on its own alpha only, so one perturbation of all alphas at
    once gives every study's derivatives: 19 vectorised evaluations per call (twice that with
    Richardson extrapolation, for the final information)."""

    richardson = False

    def evaluate(self, alpha, mu, tau, derivs=True):
        def f(da, dm, dt):
            return integrate_1d(self.cond, alpha + da, mu + dm, abs(tau + dt), self.nodes, False)[0]

        if not derivs:
            return f(0.0, 0.0, 0.0), None, None

        def once(h):
            E = np.eye(3) * h
            f0 = f(0.0, 0.0, 0.0)
            fp = [f(*e) for e in E]
            fm = [f(*(-e)) for e in E]
            g = np.stack([(p - m) / (2 * h) for p, m in zip(fp, fm)], axis=1)
            H = np.empty((len(f0), 3, 3))
            for i in range(3):
                H[:, i, i] = (fp[i] - 2 * f0 + fm[i]) / h**2
                for j in range(i + 1, 3):
                    H[:, i, j] = H[:, j, i] = (f(*(E[i] + E[j])) - f(*(E[i] - E[j])) - f(*(E[j] - E[i]))
                                               + f(*(-E[i] - E[j]))) / (4 * h * h)
            return f0, g, H

        f0, g, H = once(FD_STEP)
        if self.richardson:
            _, g2, H2 = once(FD_STEP / 2)
            g, H = (4 * g2 - g) / 3, (4 * H2 - H) / 3
        H[:, 0, 0] -= self.cond.edge  # the dummy curvature of ControlArms (alpha has no effect there)
        return f0, g, H


def _saturated(prof, sigma_fe):
    """The saturated model's maximum over sigma >= 0: a bounded Brent search of the profile
    log-likelihood in sigma from 0 to 4 sigma_fe + 0.5 (rma.glmm starts glmer at the
    common-effect model's sigma; the profile is smooth and the saturated sigma is near it),
    then joint Newton steps, against the boundary sigma = 0. (Profile.maximise's grid over
    tau would cost ~17 profile fits; this ~20 warm-started ones.)"""
    from scipy import optimize

    ll0, a0, m0 = prof.fit(0.0)
    best = (ll0, 0.0, a0, m0)
    r = optimize.minimize_scalar(lambda t: -prof.fit(float(t))[0], bounds=(0.0, 4 * sigma_fe + 0.5), method="bounded",
                                 options={"xatol": 1e-6})
    sigma = float(r.x)
    if sigma > 1e-6:
        ll, a, m = prof.fit(sigma)
        for _ in range(10):
            new = prof.polish(sigma, ll, a, m)
            done = abs(new[0] - sigma) < 1e-12
            sigma, ll, a, m = new
            if done:
                break
        if ll > best[0]:
            best = (ll, sigma, a, m)
    ll, sigma, a, m = best
    return sigma, ll, a, m


def _newton_joint(prof, sigma, alpha, mu):
    """Joint Newton steps in (alpha, mu, sigma) with step halving (sigma held at 0 on the
    boundary), from a nearby start: (sigma, loglik, alpha, mu)."""
    dense = (1, 2) if sigma > 0 else (1,)
    ll = prof.evaluate(alpha, mu, sigma, False)[0].sum()
    for _ in range(30):
        _, g, H = prof.evaluate(alpha, mu, sigma)
        dalpha, dshared = prof.newton_step(g, H, dense=dense)
        dmu, dsig = dshared[0], (dshared[1] if sigma > 0 else 0.0)
        t = 1.0
        while t > 1e-4:
            na, nm, ns = alpha + t * dalpha[:, None], mu + t * dmu, abs(sigma + t * dsig)
            nll = prof.evaluate(na, nm, ns, False)[0].sum()
            if nll >= ll - 1e-12 * max(1.0, abs(ll)):
                break
            t /= 2
        else:
            break
        step = max(np.max(np.abs(t * dalpha)), abs(t * dmu), abs(t * dsig))
        alpha, mu, sigma, ll = na, nm, ns, nll
        if step < 1e-9:
            break
    return sigma, ll, alpha, mu


def rs_heterogeneity(lik, nodes, ll_fe, sigma_fe):
    """metafor's QE.LRT and QE.Wld for UM.RS (module docstring): dict with ``lrt``, ``wald``,
    ``wald_n`` (the studies in the Wald statistic), ``sigma2`` of the saturated model, ``notes`` and ``fit`` (its log odds ratios, beta_c, sigma
    and the ControlArms likelihood); ``ll_fe`` and ``sigma_fe`` the common-effect
    model's log-likelihood (constants excluded) and sigma by the same rule."""
    cond = ControlArms(lik)
    prof = Profile(cond, nodes if nodes >= 5 else NODES_2D)
    y, s = lik.y, lik.size
    if lik.family == "binomial":
        lo = np.log((y + 0.5) / (s - y + 0.5))
    else:
        lo = np.log((y + 0.5) / s)
    prof.alpha = np.where(cond.edge, 0.0, lo[:, 0] - lo[:, 1])[:, None]
    prof.mu = float(np.mean(lo[:, 1]))
    sigma, ll, alpha, mu = _saturated(prof, sigma_fe)
    if nodes < 5:  # from the adaptive rule's maximum to the Laplace approximation's
        prof = LaplaceProfile(cond, nodes)
        sigma, ll, alpha, mu = _newton_joint(prof, sigma, alpha, mu)
        prof.richardson = True
    notes = []
    _, g, H = prof.evaluate(alpha, mu, sigma)
    keep = ~cond.edge
    shared = [1, 2] if sigma > 0 else [1]
    k = cond.k
    J = np.zeros((k + len(shared), k + len(shared)))
    J[np.arange(k), np.arange(k)] = -H[:, 0, 0]
    for c, p in enumerate(shared):
        J[:k, k + c] = J[k + c, :k] = -H[:, 0, p]
        for c2, p2 in enumerate(shared):
            J[k + c, k + c2] = -H[:, p, p2].sum()
    V = np.linalg.inv(J)[np.ix_(keep, keep)]
    b = alpha[keep, 0]
    m = int(keep.sum())
    if cond.edge.any():
        notes.append(f"QE.Wld for UM.RS: {int(cond.edge.sum())} stud(y/ies) with no events (or only events) in the "
                     "treatment arm have an infinite log odds ratio in the saturated model and are left out of the "
                     "Wald test (the limit of rma.glmm's value)")
    if m >= 2:
        C = np.hstack([np.eye(m - 1), -np.ones((m - 1, 1))])
        cb = C @ b
        wald = float(cb @ np.linalg.solve(C @ V @ C.T, cb))
    else:
        wald = None
    return {"lrt": max(float(2 * (ll - ll_fe)), 0.0), "wald": None if wald is None else max(wald, 0.0),
            "wald_n": m,
            "sigma2": sigma * sigma, "notes": notes, "fit": (alpha[:, 0], mu, sigma, cond)}

"""Exact posterior of the normal-normal random-effects model by quadrature.

Model (on the analysis scale)::

    y_i | theta_i ~ Normal(theta_i, v_i)        (v_i known)
    theta_i | mu, tau ~ Normal(mu, tau^2)
    mu ~ prior (normal, Student-t or flat), tau ~ prior (any in ``priors.py``)

Given tau, the study effects integrate out (``y_i | mu, tau ~ Normal(mu, v_i + tau^2)``) and
mu's conditional posterior is normal in closed form under a normal or flat prior; a
Student-t prior on mu is written as a scale mixture of normals
(``mu | lam ~ Normal(m0, s0^2/lam)``, ``lam ~ Gamma(nu/2, rate nu/2)``) whose mixing
integral is done by tanh-sinh quadrature.  The joint posterior is therefore a mixture of
normals in mu indexed by quadrature nodes in tau (and lam), as in R's bayesmeta
(Röver 2020), and every summary — moments, quantiles, predictive interval, shrunken
estimates, tail probabilities, marginal likelihood — follows from it.

The tau integral is done in the variable ``x = logit F(tau)``, F the prior CDF, so that
``dF = u (1 - u) dx`` with ``u = expit(x)``: heavy prior tails (half-Cauchy, log-t) map onto
a finite stretch of x where the integrand decays exponentially.  It is integrated by
vectorised adaptive Gauss-Kronrod (7/15) quadrature, starting from panels placed around the
posterior mode found by a scan in log tau, and split until every panel's Kronrod-Gauss
difference is below ``PANEL_TOL`` (1e-9) of the posterior mass and of the first two moments of tau and
mu.  Tau quantiles come from the panel's interpolating polynomial (the same one the Kronrod
rule integrates exactly), so no further likelihood evaluations are needed.

References
----------
Röver C (2020). Bayesian random-effects meta-analysis using the bayesmeta R package.
J Stat Softw 93(6):1-51.
Piessens R, de Doncker-Kapenga E, Überhuber C, Kahaner D (1983). QUADPACK.
Takahasi H, Mori M (1974). Double exponential formulas for numerical integration.

The likelihood given tau lives in :mod:`metak.bayes.likelihood`, the quadrature rules in
:mod:`metak.bayes.quadrature`; this module holds the adaptive integration and the posterior.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from numpy.polynomial import legendre
from scipy import special

from . import priors as P
from .likelihood import Rotation, _Conditional, moment_exists, rotate
from .quadrature import _CUM, _GRID_T, _GRID_V, _INTERP, G7_W, GK_T, GK_W
from .summaries import mixture_cdf, mixture_quantiles, prune

__all__ = ["ExactPosterior", "exact_posterior"]

PANEL_TOL = 1e-9        # Kronrod-Gauss difference allowed per panel, relative to each total
MAX_PANELS = 4000
X_LOWER = -60.0          # u = expit(-60) ~ 9e-27: prior mass below is negligible
X_CAP = 300.0            # tau(x) stays far from overflow ...
TAU_CAP = 1e100          # ... and so does tau^2: p(y | tau) < TAU_CAP^-(k-1) beyond it


@dataclass(frozen=True)
class ExactPosterior:
    """The posterior as quadrature nodes in tau and a normal mixture in mu.

    Components ``c`` (one per tau node and lam node) carry weight ``comp_w[c]``, tau value
    ``comp_tau[c]`` and ``mu | tau, lam, y ~ Normal(comp_m[c], comp_s2[c])``.
    """

    comp_w: np.ndarray
    comp_tau: np.ndarray
    comp_m: np.ndarray
    comp_s2: np.ndarray
    panel_a: np.ndarray          # panels in x, with the posterior density at their 15 nodes,
    panel_b: np.ndarray          # normalised so that the panel integrals sum to 1
    panel_g: np.ndarray
    log_evidence: float          # log p(y) (up to a constant under a flat mu prior)
    log_lik_tau0: float          # log p(y | tau = 0)
    tau_prior: object
    mu_prior: object
    n_tail: int
    n_panels: int
    converged: bool
    #: the block rotation when V is not diagonal (multi_arm: multivariate), else None
    rotation: Rotation | None = None

    # ---------------------------------------------------------------- tau
    def tau_moment(self, order):
        if not moment_exists(order, self.tau_prior, self.n_tail):
            return None
        return float(self.comp_w @ self.comp_tau**order)

    def tau_quantiles(self, probs):
        """Quantiles of tau from the panels' interpolating polynomials."""
        probs = np.atleast_1d(np.asarray(probs, float))
        half = 0.5 * (self.panel_b - self.panel_a)
        coef = (self.panel_g @ _CUM.T) * half[:, None]          # (P, 16) antiderivative coefs
        mass = legendre.legval(1.0, coef.T)                    # panel integrals
        cum = np.concatenate([[0.0], np.cumsum(mass)])
        total = cum[-1]
        target = probs * total
        idx = np.clip(np.searchsorted(cum, target, side="right") - 1, 0, len(mass) - 1)
        need = target - cum[idx]
        # locate on a grid of the panel's cumulative polynomial, then polish by Newton
        # steps whose derivative is the interpolated density itself
        c = coef[idx]                                           # (q, 16)
        cum_grid = c @ _GRID_V.T                                # (q, G)
        j = np.array([np.clip(np.searchsorted(row, n) - 1, 0, len(_GRID_T) - 2)
                      for row, n in zip(cum_grid, need)])
        rows = np.arange(len(probs))
        c0, c1 = cum_grid[rows, j], cum_grid[rows, j + 1]
        frac = np.where(c1 > c0, (need - c0) / np.where(c1 > c0, c1 - c0, 1.0), 0.5)
        t = _GRID_T[j] + np.clip(frac, 0.0, 1.0) * (_GRID_T[j + 1] - _GRID_T[j])
        dens = (self.panel_g[idx] @ _INTERP.T) * half[idx][:, None]   # (q, 15) Legendre coefs
        for _ in range(4):
            f = legendre.legval(t, c.T, tensor=False) - need
            d = legendre.legval(t, dens.T, tensor=False)
            step = np.where(d > 0, f / np.where(d > 0, d, 1.0), 0.0)
            t = np.clip(t - step, _GRID_T[j], _GRID_T[j + 1])
        x = 0.5 * (self.panel_a[idx] + self.panel_b[idx]) + half[idx] * t
        return self.tau_prior.tau_from_x(x)

    # ---------------------------------------------------------------- mu
    def mu_moment(self, order):
        if not self._mu_moment_exists(order):
            return None
        if order == 1:
            return float(self.comp_w @ self.comp_m)
        return float(self.comp_w @ (self.comp_s2 + self.comp_m**2))

    def _mu_moment_exists(self, order):
        if isinstance(self.mu_prior, P.Normal):
            return True
        if isinstance(self.mu_prior, P.StudentT):
            bound = self.mu_prior.nu + self.tau_prior.tail_power + self.n_tail - 1
            return order < bound
        return moment_exists(order, self.tau_prior, self.n_tail)

    def mu_quantiles(self, probs):
        return mixture_quantiles(probs, *prune(self.comp_w, self.comp_m, np.sqrt(self.comp_s2)))

    def mu_cdf(self, x):
        return mixture_cdf(x, self.comp_w, self.comp_m, np.sqrt(self.comp_s2))

    def mu_log_density(self, x):
        """log posterior density of mu at the scalar ``x`` (for the Savage-Dickey ratio)."""
        z = (x - self.comp_m) / np.sqrt(self.comp_s2)
        return float(special.logsumexp(-0.5 * z * z - 0.5 * np.log(2 * math.pi * self.comp_s2),
                                       b=self.comp_w))

    def density_grid(self, y, v, n: int = 161) -> dict:
        """Posterior densities of mu and tau on grids, for plots (not used for any summary).

        mu: the normal mixture evaluated exactly. tau: p(y | tau) p(tau), normalised by the
        trapezoid rule over [0, the 99.9% quantile] (the plotted range).
        """
        lo, hi = self.mu_quantiles([0.0005, 0.9995])
        xm = np.linspace(float(lo), float(hi), n)
        sd = np.sqrt(self.comp_s2)
        dm = (self.comp_w[None, :] * np.exp(-0.5 * ((xm[:, None] - self.comp_m[None, :]) / sd[None, :]) ** 2)
              / (sd[None, :] * math.sqrt(2 * math.pi))).sum(axis=1)
        top = float(self.tau_quantiles([0.999])[0])
        xt = np.linspace(0.0, top, n)
        rot = self.rotation
        cond = (_Conditional(np.asarray(y, float), np.asarray(v, float), self.mu_prior) if rot is None
                else _Conditional(rot.z, rot.lam, self.mu_prior, rot.o))
        with np.errstate(divide="ignore"):
            lp = cond.log_marginal(xt)[0] + np.asarray(self.tau_prior.logpdf_tau(xt), float)
        lp = np.where(np.isfinite(lp), lp, -np.inf)
        dt = np.exp(lp - lp.max())
        dt = dt / np.trapezoid(dt, xt)
        return {"mu": {"x": xm.tolist(), "density": dm.tolist()},
                "tau": {"x": xt.tolist(), "density": dt.tolist()},
                "note": "posterior densities on grids for plotting; mu on the analysis scale"}

    # ---------------------------------------------------------------- new trial
    def predictive_sd(self):
        return np.sqrt(self.comp_s2 + self.comp_tau**2)

    def predictive_quantiles(self, probs):
        return mixture_quantiles(probs, *prune(self.comp_w, self.comp_m, self.predictive_sd()))

    def predictive_cdf(self, x):
        return mixture_cdf(x, self.comp_w, self.comp_m, self.predictive_sd())

    # ---------------------------------------------------------------- studies
    def shrunken(self, y, v, probs):
        """Posterior mean, SD and quantiles of each study's true effect theta_i."""
        w, tau, m, s2 = prune(self.comp_w, self.comp_tau, self.comp_m, self.comp_s2, drop=1e-11)
        t2 = tau**2
        if self.rotation is None:
            b = t2[None, :] / (v[:, None] + t2[None, :])                  # (k, C) shrinkage factor
            mean_c = b * y[:, None] + (1.0 - b) * m[None, :]
            var_c = b * v[:, None] + (1.0 - b) ** 2 * s2[None, :]
        else:
            # theta | mu, tau, y ~ Normal(B y + (I - B) 1 mu, tau² I - tau⁴ M^-1), B = tau² M^-1,
            # M = V + tau² I = Q diag(lam + tau²) Q'
            r = self.rotation
            W = 1.0 / (r.lam[:, None] + t2[None, :])                    # (k, C)
            By = t2[None, :] * (r.Q @ (W * r.z[:, None]))
            one_minus_b1 = 1.0 - t2[None, :] * (r.Q @ (W * r.o[:, None]))
            mean_c = By + one_minus_b1 * m[None, :]
            var_c = t2[None, :] - t2[None, :] ** 2 * ((r.Q**2) @ W) + one_minus_b1**2 * s2[None, :]
        mean = mean_c @ w
        var = (var_c + mean_c**2) @ w - mean**2
        sd = np.sqrt(np.maximum(var, 0.0))
        x0 = mean[:, None] + special.ndtri(np.asarray(probs, float))[None, :] * sd[:, None]
        q = mixture_quantiles(probs, w, mean_c, np.sqrt(var_c), x0=x0)
        return mean, sd, q


def _x_cap(tau_prior):
    with np.errstate(divide="ignore", over="ignore"):
        x = float(np.asarray(tau_prior.logit_cdf_tau(np.array([TAU_CAP])))[0])
    return min(X_CAP, x) if not math.isnan(x) else X_CAP


def _scan_breakpoints(cond, tau_prior, y, v, x_cap):
    """x positions around the posterior mode, from a scan in log tau and in prior quantiles."""
    spread = max(float(np.ptp(y)), float(np.sqrt(v.max())), 1e-8)
    log_tau = np.linspace(math.log(1e-3 * math.sqrt(v.min())), math.log(20.0 * spread), 120)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        x_scan = tau_prior.logit_cdf_tau(np.exp(log_tau))
    x_scan = np.concatenate([x_scan[np.isfinite(x_scan)], np.linspace(-40.0, 40.0, 41)])
    x_scan = np.unique(np.clip(x_scan, X_LOWER, x_cap))
    logg = _log_integrand(cond, tau_prior, x_scan)[0]
    best = int(np.nanargmax(logg))
    lo_i, hi_i = max(best - 1, 0), min(best + 1, len(x_scan) - 1)
    fine = np.linspace(x_scan[lo_i], x_scan[hi_i], 9)
    fine_g = _log_integrand(cond, tau_prior, fine)[0]
    mode = fine[int(np.nanargmax(fine_g))]
    peak = x_scan[logg > np.nanmax(logg) - 30.0]
    region = np.linspace(peak.min(), peak.max(), 9) if len(peak) else np.empty(0)
    return mode, np.concatenate([region, [x_scan[lo_i], mode, x_scan[hi_i]]])


def _log_integrand(cond, tau_prior, x):
    """log of p(y | tau(x)) u (1 - u) at x, plus tau and the mu | tau pieces."""
    tau = tau_prior.tau_from_x(x)
    total, lw, mean, var = cond.log_marginal(tau)
    log_jac = -np.logaddexp(0.0, -x) - np.logaddexp(0.0, x)
    return total + log_jac, tau, lw + log_jac[:, None], mean, var


def exact_posterior(y, v, mu_prior, tau_prior, V=None, groups=None) -> ExactPosterior:
    """Compute the exact posterior of the normal-normal model.

    Parameters
    ----------
    y, v : array_like
        Effect estimates and their (known) sampling variances, on the analysis scale.
    mu_prior : Normal, StudentT or flat Uniform.
    tau_prior : any tau or tau^2 prior from :mod:`metak.bayes.priors`.
    V, groups : optional
        A known sampling covariance, block-diagonal by ``groups`` (e.g. comparisons sharing a
        control within a trial): then y ~ Normal(mu 1, V + tau² I), each comparison's true effect
        Normal(mu, tau²) independently (``rma.mv(yi, V, random = ~ 1 | comparison)``); ``v`` is
        ignored for the likelihood.
    """
    y = np.asarray(y, float)
    v = np.asarray(v, float)
    rot = None
    if V is not None:
        rot = rotate(y, V, groups if groups is not None else range(len(y)))
        cond = _Conditional(rot.z, rot.lam, mu_prior, rot.o)
        v = np.diag(np.asarray(V, float)).copy()
    else:
        cond = _Conditional(y, v, mu_prior)
    n_tail = len(y) - (1 if cond.kind == "flat" else 0)
    if not moment_exists(0, tau_prior, n_tail):
        raise ValueError(f"the posterior is improper with k = {len(y)}, a flat mu prior and {tau_prior!r}")
    mu_orders = [o for o in (1, 2) if (isinstance(mu_prior, P.Normal) or moment_exists(o, tau_prior, n_tail))]
    tau_orders = [o for o in (1, 2) if moment_exists(o, tau_prior, n_tail)]

    x_cap = _x_cap(tau_prior)
    mode, bps = _scan_breakpoints(cond, tau_prior, y, v, x_cap)
    x_lo = min(X_LOWER, mode - 40.0)
    x_hi = min(max(40.0, mode + 40.0), x_cap)
    edges = np.unique(np.clip(np.concatenate([np.arange(x_lo, x_hi, 4.0), [x_hi], bps]), x_lo, x_hi))
    edges = edges[np.concatenate([[True], np.diff(edges) > 1e-9])]
    panels_a, panels_b = edges[:-1], edges[1:]

    store = {"a": np.empty(0), "b": np.empty(0), "logg": np.empty((0, 15)), "tau": np.empty((0, 15)),
             "lw": None, "m": None, "s2": None}

    def evaluate(a, b):
        x = 0.5 * (a + b)[:, None] + 0.5 * (b - a)[:, None] * GK_T[None, :]
        logg, tau, lw, mean, var = _log_integrand(cond, tau_prior, x.ravel())
        n = len(a)
        nl = lw.shape[1]
        return (logg.reshape(n, 15), tau.reshape(n, 15), lw.reshape(n, 15, nl),
                np.broadcast_to(mean, lw.shape).reshape(n, 15, nl),
                np.broadcast_to(var, lw.shape).reshape(n, 15, nl))

    def append(a, b):
        logg, tau, lw, mean, var = evaluate(a, b)
        store["a"] = np.concatenate([store["a"], a])
        store["b"] = np.concatenate([store["b"], b])
        store["logg"] = np.concatenate([store["logg"], logg])
        store["tau"] = np.concatenate([store["tau"], tau])
        for key, arr in (("lw", lw), ("m", mean), ("s2", var)):
            store[key] = arr if store[key] is None else np.concatenate([store[key], arr])

    def remove(mask):
        for key in ("a", "b", "logg", "tau", "lw", "m", "s2"):
            store[key] = store[key][mask]

    append(panels_a, panels_b)
    converged = False
    extended = False
    for _ in range(60):
        shift = np.max(store["logg"])
        g = np.exp(store["logg"] - shift)                          # (P, 15)
        half = 0.5 * (store["b"] - store["a"])
        # control integrands: mass, tau moments, mu moments (those that exist)
        wl = np.exp(store["lw"] - shift)                           # (P, 15, L)
        controls = [g]
        controls += [g * store["tau"] ** o for o in tau_orders]
        mu1 = np.sum(wl * store["m"], axis=2)
        mu2 = np.sum(wl * (store["s2"] + store["m"] ** 2), axis=2)
        if 1 in mu_orders:
            controls.append(mu1)
        if 2 in mu_orders:
            controls.append(mu2)
        err = np.zeros(len(half))
        tail_big = False
        for f in controls:
            kron = (f @ GK_W) * half
            gauss = (f @ G7_W) * half
            scale = np.sum(np.abs(kron))
            if f is mu1 and 2 in mu_orders:
                scale = max(scale, math.sqrt(np.sum((mu2 @ GK_W) * half) * np.sum((g @ GK_W) * half)))
            if scale <= 0 or not np.isfinite(scale):
                continue
            err = np.maximum(err, np.abs(kron - gauss) / scale)
            right = int(np.argmax(store["b"]))
            if abs(f[right, -1]) * 10.0 > 1e-13 * scale:
                tail_big = True
        if tail_big and not extended and np.max(store["b"]) < x_cap:
            start = np.max(store["b"])
            stop = min(x_cap, start + 120.0)
            new_edges = np.arange(start, stop + 1e-9, 4.0)
            if len(new_edges) > 1:
                append(new_edges[:-1], new_edges[1:])
                extended = True
                continue
        bad = err > PANEL_TOL
        if not np.any(bad):
            converged = True
            break
        if len(store["a"]) + np.sum(bad) > MAX_PANELS:
            break
        a_bad, b_bad = store["a"][bad], store["b"][bad]
        mid = 0.5 * (a_bad + b_bad)
        remove(~bad)
        append(np.concatenate([a_bad, mid]), np.concatenate([mid, b_bad]))

    order = np.argsort(store["a"])
    remove(order)
    shift = np.max(store["logg"])
    half = 0.5 * (store["b"] - store["a"])
    g = np.exp(store["logg"] - shift)
    z = float(np.sum((g @ GK_W) * half))
    nodes_w = (GK_W[None, :] * half[:, None])                         # (P, 15)
    comp_w = (np.exp(store["lw"] - shift) * nodes_w[:, :, None]).ravel() / z
    nl = store["lw"].shape[2]
    comp_tau = np.repeat(store["tau"].ravel(), nl)
    keep = comp_w > 0
    log_l0 = float(cond.log_marginal(np.zeros(1))[0][0])
    return ExactPosterior(
        comp_w=comp_w[keep], comp_tau=comp_tau[keep], comp_m=store["m"].ravel()[keep],
        comp_s2=store["s2"].ravel()[keep], panel_a=store["a"], panel_b=store["b"],
        panel_g=g / z, log_evidence=math.log(z) + float(shift), log_lik_tau0=log_l0,
        tau_prior=tau_prior, mu_prior=mu_prior, n_tail=n_tail, n_panels=len(store["a"]),
        converged=converged, rotation=rot,
    )

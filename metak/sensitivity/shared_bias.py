"""A bias shared by the poorly blinded trials (contract §6.3; Welton et al. 2009, Dias et al. 2010).

Marginal model on the analysis scale, z_i = 1 for a trial classified compromised or unknown
(0 for adequately blinded)::

    y_i ~ N(mu + z_i beta, v_i + tau² + z_i kappa²)

mu is the effect an adequately blinded trial estimates (the bias-corrected effect), beta the
mean bias the compromised trials share, kappa the spread of their biases around it.

Frequentist (:func:`reml`): either beta and kappa **estimated** by REML (needs trials of both
kinds; kappa needs >= 2 of each), or beta **fixed** at a published estimate b with its
uncertainty Var(b) = se² + phi² entered *as shared*: the covariance of the compromised trials
gets Var(b) z z' (every compromised trial moves with the same beta), which is what the
independent adjustment (``bias_adjusted``) leaves out. tau² (and kappa² when estimated) maximise
the restricted likelihood; mu (and beta) are generalised least squares at those values, with
the SEs of (X' Sigma^-1 X)^-1 and z-based intervals. With kappa = 0 and beta estimated this is
metafor's ``rma(yi, vi, mods = ~ z, method = "REML")``.

Exact Bayesian (:func:`posterior`): normal priors on mu (or flat) and beta make (mu, beta)
conditionally Gaussian given (tau, kappa), so they integrate out in closed form; tau and kappa
are integrated numerically on a tensor Gauss-Kronrod (7/15) grid in x = logit F(.) of each
prior (the exact engine's variable and nodes, :mod:`metak.bayes.exact`), refined until the
Kronrod and Gauss tensor rules agree to 1e-5 in the mass and the first two moments (the
Kronrod rule's own error is orders of magnitude below that difference: tests check the result
against a refinement to 1e-12 and against a brute-force 4-D grid at 1e-6).
"""

from __future__ import annotations

import math

import numpy as np
from scipy import linalg, optimize, special

from ..bayes import priors as P
from ..bayes.quadrature import G7_W, GK_T, GK_W
from ..bayes.summaries import mixture_cdf, mixture_quantiles

LOG2PI = math.log(2.0 * math.pi)


# ------------------------------------------------------------------------------ REML
def _design(z, estimate_beta):
    k = len(z)
    return np.column_stack([np.ones(k), z]) if estimate_beta else np.ones((k, 1))


def _sigma(v, z, tau2, kappa2, beta_var):
    """Sigma: a vector (its diagonal) when no variance is shared, else the matrix."""
    d = v + tau2 + z * kappa2
    return d if beta_var == 0 else np.diag(d) + beta_var * np.outer(z, z)


def _restricted(y, X, S, grad_mats=()):
    """-2 x the restricted log-likelihood (up to a constant), its gradient in the parameters
    whose dSigma/dtheta are ``grad_mats``, and the GLS pieces. ``S`` a vector: Sigma is diagonal
    (and so are the ``grad_mats``, given as vectors), done in O(k) without matrices."""
    if S.ndim == 1:
        w = 1.0 / S
        wX = X * w[:, None]
        cov = np.linalg.inv(X.T @ wX)
        theta = cov @ (wX.T @ y)
        r = y - X @ theta
        val = float(np.sum(np.log(S)) + np.linalg.slogdet(X.T @ wX)[1] + np.sum(w * r * r))
        p_diag = w - np.sum((wX @ cov) * wX, axis=1)           # diag of P = W - W X cov X' W
        Pr = w * r
        grad = [float(np.sum(p_diag * D) - np.sum(Pr * Pr * D)) for D in grad_mats]
        return val, np.array(grad), theta, cov
    c = linalg.cho_factor(S, lower=True)
    Si_X = linalg.cho_solve(c, X)
    XtSiX = X.T @ Si_X
    cov = np.linalg.inv(XtSiX)
    theta = cov @ (Si_X.T @ y)
    r = y - X @ theta
    Si_r = linalg.cho_solve(c, r)
    logdet = 2.0 * np.sum(np.log(np.diag(c[0])))
    val = logdet + float(np.linalg.slogdet(XtSiX)[1]) + float(r @ Si_r)
    grad = []
    if grad_mats:
        Pm = linalg.cho_solve(c, np.eye(len(y))) - Si_X @ cov @ Si_X.T
        for D in grad_mats:
            grad.append(float(np.sum(Pm * D.T)) - float(Si_r @ D @ Si_r))
    return val, np.array(grad), theta, cov


def reml(y, v, z, *, beta=None, beta_var=0.0, kappa2=None, level=0.95) -> dict:
    """Fit the shared-bias model. ``beta=None``: beta estimated (GLS); else fixed at ``beta``
    with shared variance ``beta_var``. ``kappa2=None``: kappa² estimated by REML; else fixed.
    Returns mu's estimate, se and CI, beta's and kappa's, and tau²."""
    y, v, z = (np.asarray(a, float) for a in (y, v, z))
    est_beta = beta is None
    X = _design(z, est_beta)
    yy = y if est_beta else y - z * beta
    free = ["tau2"] + (["kappa2"] if kappa2 is None else [])
    D = {"tau2": np.ones(len(y)), "kappa2": z} if beta_var == 0 else {"tau2": np.eye(len(y)), "kappa2": np.diag(z)}

    def unpack(p):
        vals = dict(zip(free, p))
        return vals["tau2"], vals.get("kappa2", kappa2)

    def f(p):
        t2, k2 = unpack(np.maximum(p, 0.0))
        val, g, _, _ = _restricted(yy, X, _sigma(v, z, t2, k2, beta_var), [D[n] for n in free])
        return val, g

    scale = max(float(np.var(y)), float(np.mean(v)), 1e-8)
    if len(free) == 1:
        # one variance: bounded Brent, then the boundary 0 compared
        res = optimize.minimize_scalar(lambda t: f([t])[0], bounds=(0.0, 100.0 * scale), method="bounded",
                                       options={"xatol": 1e-14 * scale, "maxiter": 2000})
        p = np.array([res.x if f([res.x])[0] < f([0.0])[0] else 0.0])
    else:
        # two variances: L-BFGS-B with the analytic gradient from several starts, the best kept,
        # then Fisher scoring on the interior ones (L-BFGS-B alone stops ~1e-7 short in the variances)
        best = None
        for start in ([0.5 * scale, 0.5 * scale], [0.1 * scale, 0.0], [0.0, 0.1 * scale], [scale, scale]):
            r = optimize.minimize(f, start, jac=True, method="L-BFGS-B", bounds=[(0.0, None)] * 2,
                                  options={"ftol": 1e-15, "gtol": 1e-13, "maxiter": 2000})
            if best is None or r.fun < best.fun:
                best = r
        p = _polish(f, np.maximum(best.x, 0.0), yy, X, v, z, beta_var, D, free)
    t2, k2 = unpack(p)
    S = _sigma(v, z, t2, k2, beta_var)
    val, _, theta, cov = _restricted(yy, X, S)
    zc = float(special.ndtri(0.5 + level / 2))
    se = math.sqrt(cov[0, 0])
    out = {"estimate": float(theta[0]), "se": se, "ci_lower": float(theta[0] - zc * se),
           "ci_upper": float(theta[0] + zc * se), "tau2": float(t2), "k": int(len(y)),
           "k_compromised": int(z.sum()), "neg2_restricted_loglik": val + (len(y) - X.shape[1]) * LOG2PI}
    if est_beta:
        bse = math.sqrt(cov[1, 1])
        out["bias"] = {"estimate": float(theta[1]), "se": bse, "ci_lower": float(theta[1] - zc * bse),
                       "ci_upper": float(theta[1] + zc * bse), "kind": "estimated (GLS at the REML variances)"}
    else:
        bse = math.sqrt(beta_var)
        out["bias"] = {"estimate": float(beta), "se": bse, "ci_lower": float(beta - zc * bse),
                       "ci_upper": float(beta + zc * bse), "kind": "fixed (shared uncertainty)"}
    out["kappa"] = {"estimate": math.sqrt(k2), "kappa2": float(k2),
                    "kind": "estimated (REML)" if kappa2 is None else "fixed"}
    return out


def _polish(f, p, y, X, v, z, beta_var, D, free, steps=100):
    """Fisher scoring on the variances not at their bound 0 (with step halving)."""
    p = p.copy()
    cur = f(p)[0]
    for _ in range(steps):
        t2, k2 = p[0], p[1]
        S = np.atleast_2d(np.diag(_sigma(v, z, t2, k2, 0.0))) if beta_var == 0 else _sigma(v, z, t2, k2, beta_var)
        c = linalg.cho_factor(S, lower=True)
        Si_X = linalg.cho_solve(c, X)
        Pm = linalg.cho_solve(c, np.eye(len(y))) - Si_X @ np.linalg.solve(X.T @ Si_X, Si_X.T)
        g = f(p)[1]
        act = [i for i in range(2) if p[i] > 0 or g[i] < 0]
        if not act:
            break
        PD = [Pm @ (np.diag(D[free[i]]) if np.ndim(D[free[i]]) == 1 else D[free[i]]) for i in act]
        info = np.array([[np.sum(a * b.T) for b in PD] for a in PD])
        step = np.zeros(2)
        step[act] = -np.linalg.solve(info, g[act])   # info = 2 x Fisher information of -2 l
        h = 1.0
        while h > 1e-8:
            q = np.maximum(p + h * step, 0.0)
            new = f(q)[0]
            if new <= cur + 1e-15 * abs(cur):
                break
            h /= 2
        else:
            break
        moved = np.max(np.abs(q - p))
        p, cur = q, new
        if moved < 1e-15 * max(1.0, np.max(p)):
            break
    return p


# ---------------------------------------------------------------------- exact Bayes
def _cond(y, v, z, m0, p0, tau, kap):
    """On the grid tau (nt,) x kappa (nk,) (flattened, tau major): log p(y | tau, kappa) with
    (mu, beta) integrated out, and the conditional posterior mean (N, 2) and covariance (N, 2, 2)
    of (mu, beta). Prior (mu, beta) ~ N(m0, diag(1/p0)); p0[0] = 0 is the flat prior on mu.
    z is 0/1, so the adequate trials' sums depend on tau alone and are done once per tau."""
    a, c = z == 0, z == 1
    t2, k2 = (tau**2)[:, None], (kap**2)[None, :]
    d0 = v[a][None, :] + t2                                          # (nt, k0)
    d1 = v[c][None, None, :] + t2[:, :, None] + k2[:, :, None]       # (nt, nk, k1)
    w0, w1 = 1.0 / d0, 1.0 / d1
    y0, y1 = y[a], y[c]
    s1 = w1.sum(2)
    a11 = (w0.sum(1)[:, None] + s1).ravel()
    a12 = a22 = s1.ravel()
    b2 = (w1 @ y1).ravel()
    b1 = (w0 @ y0)[:, None].repeat(len(kap), 1).ravel() + b2
    yy = ((w0 @ (y0 * y0))[:, None] + w1 @ (y1 * y1)).ravel()
    logdet = (np.log(d0).sum(1)[:, None] + np.log(d1).sum(2)).ravel()
    l11, l12, l22 = a11 + p0[0], a12, a22 + p0[1]
    h1, h2 = b1 + p0[0] * m0[0], b2 + p0[1] * m0[1]
    det = l11 * l22 - l12 * l12
    c11, c12, c22 = l22 / det, -l12 / det, l11 / det
    m1, m2 = c11 * h1 + c12 * h2, c12 * h1 + c22 * h2
    quad = yy + p0[0] * m0[0] ** 2 + p0[1] * m0[1] ** 2 - (h1 * m1 + h2 * m2)
    proper = [x for x in p0 if x > 0]
    n_flat = 2 - len(proper)
    logl = (-0.5 * (len(y) - n_flat) * LOG2PI - 0.5 * logdet - 0.5 * quad - 0.5 * np.log(det)
            + 0.5 * sum(math.log(x) for x in proper))
    return logl, np.stack([m1, m2], 1), np.stack([np.stack([c11, c12], 1), np.stack([c12, c22], 1)], 1)


def _edges(xs, logm):
    """Panel edges in x for one axis from its scanned log marginal: wide panels (6) over the
    region within 40 of the top (8 wide), and the peak's half-width around its mode."""
    keep = np.flatnonzero(logm > np.max(logm) - 40.0)
    lo, hi = xs[max(keep[0] - 2, 0)], xs[min(keep[-1] + 2, len(xs) - 1)]
    mode = xs[int(np.argmax(logm))]
    near = xs[logm > np.max(logm) - 3.0]
    hw = max(0.5 * (near.max() - near.min()), 0.25)
    e = np.concatenate([np.arange(lo, hi, 8.0), [hi], mode + hw * np.arange(-3.0, 3.01, 1.0)])
    e = np.unique(np.clip(e, lo, hi))
    return e[np.concatenate([[True], np.diff(e) > 1e-9])]


def _nodes(edges):
    lo, hi = edges[:-1], edges[1:]
    half = 0.5 * (hi - lo)
    x = (0.5 * (lo + hi))[:, None] + half[:, None] * GK_T[None, :]
    return x.ravel(), (half[:, None] * GK_W[None, :]).ravel(), (half[:, None] * G7_W[None, :]).ravel()


def _log_jac(x):
    return -np.logaddexp(0.0, -x) - np.logaddexp(0.0, x)


def posterior(y, v, z, mu_prior, beta_prior, tau_prior, kappa_prior, level=0.95, direction="higher_is_better",
              tol=1e-5) -> dict:
    """The exact posterior of mu, beta, tau and kappa (see the module notes). ``mu_prior``: a
    :class:`~metak.bayes.priors.Normal` or flat :class:`~metak.bayes.priors.Uniform`;
    ``beta_prior``: Normal; ``tau_prior``, ``kappa_prior``: any tau prior."""
    y, v, z = (np.asarray(a, float) for a in (y, v, z))
    if isinstance(mu_prior, P.Normal):
        m_mu, p_mu = mu_prior.mu, mu_prior.sigma**-2
    elif isinstance(mu_prior, P.Uniform) and mu_prior.is_flat:
        m_mu, p_mu = 0.0, 0.0
    else:
        raise ValueError(f"the shared-bias posterior takes a normal or flat prior on mu, not {mu_prior!r}")
    m0 = np.array([m_mu, beta_prior.mu])
    p0 = np.array([p_mu, beta_prior.sigma**-2])

    def logg(xt, xk):
        t, k = tau_prior.tau_from_x(xt), kappa_prior.tau_from_x(xk)
        logl, mean, cov = _cond(y, v, z, m0, p0, t, k)
        lj = (_log_jac(xt)[:, None] + _log_jac(xk)[None, :]).ravel()
        T, K = np.meshgrid(t, k, indexing="ij")
        return (logl + lj).reshape(T.shape), T.ravel(), K.ravel(), mean, cov

    # the region and the peak of each marginal: a coarse scan in x of both
    xs = np.linspace(-45.0, 45.0, 91)
    g0 = logg(xs, xs)[0]
    edges = [_edges(xs, special.logsumexp(g0, axis=1)), _edges(xs, special.logsumexp(g0, axis=0))]
    res = None
    for _ in range(5):
        xt, wt, gt = _nodes(edges[0])
        xk, wk, gk = _nodes(edges[1])
        lg, t, k, mean, cov = logg(xt, xk)
        top = np.max(lg)
        g = np.exp(lg - top)
        W = (wt[:, None] * wk[None, :] * g).ravel()
        G = (gt[:, None] * gk[None, :] * g).ravel()
        ctrl = np.stack([np.ones_like(t), t, t * t, k, k * k, mean[:, 0], mean[:, 0] ** 2 + cov[:, 0, 0],
                         mean[:, 1], mean[:, 1] ** 2 + cov[:, 1, 1]])
        kron, gauss = (ctrl * W).sum(1), (ctrl * G).sum(1)
        err = float(np.max(np.abs(kron - gauss) / np.maximum(np.abs(kron), 1e-300)))
        res = (W / kron[0], t, k, mean, cov, math.log(kron[0]) + top, err, [e.copy() for e in edges], (wt, wk))
        if err < tol:
            break
        edges = [np.sort(np.concatenate([e, 0.5 * (e[1:] + e[:-1])])) for e in edges]
    w, t, k, mean, cov, log_ev, err, edges, (wt, wk) = res
    out = _summaries(w, t, k, mean, cov, level, direction, beta_prior, log_ev, err, len(w))
    a = 1.0 - level
    Wm = w.reshape(len(wt), len(wk))
    for name, prior, e, marg, wx in (("tau", tau_prior, edges[0], Wm.sum(1), wt), ("kappa", kappa_prior, edges[1],
                                                                                  Wm.sum(0), wk)):
        q = prior.tau_from_x(np.array(_axis_quantiles(e, marg / wx, [a / 2, 0.5, 1 - a / 2])))
        out[name].update(median=float(q[1]), ci_lower=float(q[0]), ci_upper=float(q[2]))
    return out


def _axis_quantiles(edges, f, probs):
    """Quantiles in x of a 1-D marginal whose density at the panels' Kronrod nodes is ``f``:
    the CDF within a panel is the antiderivative of the degree-14 interpolant through its 15
    nodes (the polynomial the Kronrod rule integrates exactly), as in the exact engine."""
    from numpy.polynomial import legendre

    from ..bayes.quadrature import _CUM

    f = f.reshape(len(edges) - 1, 15)
    half = 0.5 * np.diff(edges)
    coefs = (_CUM @ f.T).T * half[:, None]                 # antiderivative from each panel's left end
    mass = np.array([legendre.legval(1.0, c) for c in coefs])
    cum = np.concatenate([[0.0], np.cumsum(mass)])
    out = []
    for p in probs:
        target = p * cum[-1]
        i = int(np.clip(np.searchsorted(cum, target) - 1, 0, len(mass) - 1))
        c, need = coefs[i], target - cum[i]
        g = lambda t, c=c, need=need: legendre.legval(t, c) - need
        t = optimize.brentq(g, -1.0, 1.0, xtol=1e-14) if g(-1.0) * g(1.0) < 0 else (1.0 if g(1.0) < 0 else -1.0)
        out.append(0.5 * (edges[i] + edges[i + 1]) + half[i] * t)
    return out


def _moments(w, x, extra_var=None):
    # elementwise sums, not BLAS dot products: on a busy machine BLAS's threads cost more than they save here
    m = float(np.sum(w * x))
    m2 = float(np.sum(w * (x * x + (0.0 if extra_var is None else extra_var))))
    return m, math.sqrt(max(m2 - m * m, 0.0))


def _summaries(w, t, k, mean, cov, level, direction, beta_prior, log_ev, err, n_nodes):
    a = 1.0 - level
    probs = [a / 2, 0.5, 1 - a / 2]
    out = {}
    order = np.argsort(w)
    keep = np.ones(len(w), bool)
    keep[order[np.cumsum(w[order]) < 1e-10]] = False   # for quantiles and densities only (moments: all)
    for j, name in ((0, "mu"), (1, "beta")):
        m, sd = _moments(w, mean[:, j], cov[:, j, j])
        ww = w[keep] / w[keep].sum()
        q = mixture_quantiles(probs, ww, mean[keep, j], np.sqrt(cov[keep, j, j]))
        out[name] = {"mean": m, "sd": sd, "median": float(q[1]), "ci_lower": float(q[0]), "ci_upper": float(q[2])}
    cdf0 = float(mixture_cdf(np.array([0.0]), w[keep] / w[keep].sum(), mean[keep, 0], np.sqrt(cov[keep, 0, 0]))[0])
    out["mu"]["prob_benefit"] = 1.0 - cdf0 if direction == "higher_is_better" else cdf0
    for x, name in ((t, "tau"), (k, "kappa")):
        m, sd = _moments(w, x)
        out[name] = {"mean": m, "sd": sd}   # quantiles: posterior() adds them from the axis marginals
    # beta's prior and posterior densities on a grid, for the figure
    lo = min(out["beta"]["mean"] - 5 * out["beta"]["sd"], beta_prior.mu - 4 * beta_prior.sigma)
    hi = max(out["beta"]["mean"] + 5 * out["beta"]["sd"], beta_prior.mu + 4 * beta_prior.sigma)
    grid = np.linspace(lo, hi, 81)
    s = np.sqrt(cov[keep, 1, 1])
    dens = (np.exp(-0.5 * ((grid[:, None] - mean[keep, 1]) / s) ** 2) / (s * math.sqrt(2 * math.pi))) @ (
        w[keep] / w[keep].sum())
    bs = beta_prior.sigma
    prior = np.exp(-0.5 * ((grid - beta_prior.mu) / bs) ** 2) / (bs * math.sqrt(2 * math.pi))
    out["beta"]["density"] = {"x": grid.tolist(), "posterior": dens.tolist(), "prior": prior.tolist()}
    out.update({"engine": "exact (2-D Gauss-Kronrod quadrature in tau and kappa)", "log_evidence": log_ev,
                "quadrature_error": err, "n_nodes": int(n_nodes)})
    return out

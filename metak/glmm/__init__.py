"""Exact-likelihood meta-analysis of sparse counts: metafor's ``rma.glmm`` models.

``metak.glmm(ai, n1i, ci, n2i, measure="OR", model="UM.FS", method="ML")`` (contract 6.2):

- ``UM.FS``: logistic model with fixed study intercepts and a normal random treatment effect;
- ``UM.RS``: random study intercepts and an independent random treatment effect (metafor's
  default, uncorrelated);
- ``CM.EL``: conditional on each table's margins, Fisher's noncentral hypergeometric
  likelihood with a normal random log odds ratio (exact);
- ``CM.AL``: its approximation, ai out of ai + ci binomial with offset log(n1i / n2i);

by maximum likelihood (``method="ML"``) or as common-effect models (``"FE"``). IRR (``x1i,
t1i, x2i, t2i``; Poisson) takes UM.FS, UM.RS and the conditional model; PLO (``xi, ni``) the
random-intercept logistic model. References: Stijnen, Hamza & Ozdemir (2010); Jackson et al.
(2018); Viechtbauer (2010), metafor.
"""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from .data import METHODS, prepare
from .quadrature import NODES_1D, NODES_2D
from .result import GlmmResult

__all__ = ["glmm", "GlmmResult"]

_LIKELIHOOD = {
    "UM.FS": "binomial likelihood with fixed study intercepts",
    "UM.RS": "binomial likelihood with random study intercepts",
    "CM.EL": "exact conditional (noncentral hypergeometric) likelihood",
    "CM.AL": "approximate conditional (binomial) likelihood",
}


def glmm(ai=None, n1i=None, ci=None, n2i=None, *, xi=None, ni=None, x1i=None, t1i=None, x2i=None, t2i=None,
         measure="OR", model="UM.FS", method="ML", level=0.95, nagq=None, slab=None, tau2_ci=True):
    """Fit one of metafor's ``rma.glmm`` models by maximum likelihood.

    Parameters
    ----------
    ai, n1i, ci, n2i : array-like of counts
        Events and totals in the treatment and control arms (measure OR).
    xi, ni : array-like
        Events and totals of a single arm (measure PLO).
    x1i, t1i, x2i, t2i : array-like
        Events and person-time per arm (measure IRR).
    measure : {"OR", "IRR", "PLO"}
    model : {"UM.FS", "UM.RS", "CM.EL", "CM.AL"}
    method : {"ML", "FE"}
        Random effects by maximum likelihood, or the common-effect model.
    level : float
        Confidence level.
    nagq : int, optional
        Quadrature nodes per random effect: adaptive Gauss-Hermite with 40 nodes by default
        (15 x 15 for UM.RS); 1 is the Laplace approximation (``nagq=1`` with UM.RS is the model
        rma.glmm fits, which cannot use more there; metak's is the textbook approximation, lme4's
        differs by up to 1e-4 in estimates and 0.4% in SEs: docs/glmm.md).
    slab : sequence of str, optional
        Study labels.
    tau2_ci : bool
        Compute the profile-likelihood CI of tau² (every model; for UM.RS the profile maximises
        over beta0, mu and sigma, the study intercepts' SD, at each tau).

    Returns
    -------
    GlmmResult

    Raises
    ------
    MetakError
        Counts that are not whole numbers, events above totals, a model the measure does not
        take, or a likelihood without a maximum (the estimate runs off to infinity).
    """
    from scipy import special, stats

    from .fit import Profile
    from .rs_fit import RsTauProfile, fit_rs

    if method not in METHODS:
        raise MetakError(f"glmm: method {method!r} is not one of {', '.join(METHODS)} (the GLMMs are fitted by "
                         "maximum likelihood, or as common-effect models)")
    if not isinstance(level, (int, float)) or not 0 < level < 1:
        raise MetakError(f"glmm: level must be between 0 and 1, got {level!r}")
    if measure == "PLO" and model in ("CM.EL", "CM.AL"):
        raise MetakError(f"glmm: model {model} conditions on a 2x2 table; measure PLO has one arm (use UM.FS)")
    if nagq is not None and (isinstance(nagq, bool) or not isinstance(nagq, int) or nagq < 1 or nagq > 200):
        raise MetakError(f"glmm: nagq must be a whole number from 1 to 200, got {nagq!r}")
    args = {"ai": ai, "n1i": n1i, "ci": ci, "n2i": n2i, "xi": xi, "ni": ni, "x1i": x1i, "t1i": t1i, "x2i": x2i,
            "t2i": t2i}
    prep = prepare(measure, model, args, slab)
    cond = prep.cond
    k = int(prep.included.sum())
    random = method == "ML"
    two_d = model == "UM.RS" and measure != "PLO"
    notes = list(prep.notes)
    warnings: list[str] = []
    if random and k == 1:
        # rma.glmm refuses a random-effects model on one study ("Number of parameters to be
        # estimated is larger than the number of observations"; tests/reference/
        # glmm_one_study_reference.json) and fits method="EE"; rma.uni fixes tau² at 0. tau² is
        # not identified by one study, so metak fits the common-effect GLMM and reports tau² null
        random, method = False, "FE"
        why = ("one study: tau² cannot be estimated (rma.glmm refuses the random-effects model), so the "
               "common-effect GLMM was fitted (method FE) and tau² is not reported")
        notes.append(why)
        warnings.append(why)
    const = float(cond.lik.const.sum())
    sigma2 = tau2_se = fe_rs = None
    ci_tau2 = None
    if two_d:
        nodes = nagq or NODES_2D
        val, x, V = fit_rs(cond, random, nodes)
        loglik = val + const
        # the common-effect model by the same rule, for the heterogeneity tests
        fe_rs = (val, x) if not random else fit_rs(cond, False, nodes)[:2]
        est, se = float(x[1]), (float(np.sqrt(V[1, 1])) if V[1, 1] > 0 else float("nan"))
        tau = float(x[3]) if random else None
        sigma2 = float(x[2] ** 2)
        if random and tau2_ci:
            try:
                lo, hi = RsTauProfile(cond, nodes, x, val).interval(level)
                ci_tau2 = [lo * lo, None if hi is None else hi * hi]
            except MetakError as exc:
                notes.append(f"the profile-likelihood CI of tau² was not computed: {exc}")
        qr = "the Laplace approximation" if nodes == 1 else f"adaptive Gauss-Hermite quadrature ({nodes} x {nodes} nodes)"
        # the common-effect model (tau = 0) integrates over the study intercepts only
        quad = f"{qr} over the two random effects" if random else f"{qr} over the random study intercepts"
    else:
        nodes = nagq or NODES_1D
        prof = Profile(cond, nodes)
        tau, ll, alpha, mu = prof.maximise(random)
        loglik = ll + const
        var_mu, var_tau = prof.variance(alpha, mu, tau)
        est, se = float(mu), float(np.sqrt(var_mu))
        if random and var_tau is not None:
            tau2_se = float(2 * tau * np.sqrt(var_tau))
        if random and tau2_ci:
            lo, hi = prof.interval(tau, ll, level)
            ci_tau2 = [lo * lo, None if hi is None else hi * hi]
        quad = ("no quadrature (common effect)" if not random else
                ("the Laplace approximation" if nodes == 1 else f"adaptive Gauss-Hermite quadrature ({nodes} nodes)"))
        tau = tau if random else None
    if not (np.isfinite(se) and abs(est) < 25 and se < 100):
        # a pooled log effect beyond +-25 with a huge or undefined SE: the likelihood keeps rising
        # towards infinity (e.g. no events in any treatment arm); no estimate exists
        raise MetakError(f"glmm: the likelihood has no maximum (flat towards infinity): the pooled log effect runs "
                         f"to {est:+.0f} with SE {se:.3g}; with these counts ({measure}, {model}) the estimate does not "
                         "exist (e.g. no events in any treatment arm, or in any control arm)")
    if random and tau == 0.0:
        notes.append("tau² = 0: the maximum of the likelihood is on the boundary (no heterogeneity beyond chance)")
    crit = float(special.ndtri(0.5 + level / 2))
    z = est / se
    het = heterogeneity(prep, method) if not two_d else _rs_heterogeneity(prep, nodes, fe_rs)
    # QE.LRT on k - 1 df (metafor's QE.df); QE.Wld on (studies in the statistic) - 1: studies whose
    # saturated estimate is infinite are left out of it (metafor keeps k - 1 there, docs/glmm.md)
    df = k - 1
    wald_df = None if het["wald"] is None or df < 1 else het["wald_n"] - 1
    if wald_df is not None and wald_df < df:
        het["notes"].append(f"QE.Wld is referred to chi² on {wald_df} df (the {het['wald_n']} studies in the "
                            f"statistic, minus 1); QE.LRT keeps {df} df (k - 1). rma.glmm gives both k - 1 df")

    def chi(q, d):
        return None if q is None or d is None or d < 1 else float(stats.chi2.sf(q, d))

    studies = tuple(_study_rows(prep))
    return GlmmResult(
        measure=measure, model=model if measure != "PLO" else "UM.FS", method=method, level=level, k=k,
        estimate=est, se=se, statistic=float(z), p_value=float(2 * special.ndtr(-abs(z))),
        ci_lower=est - crit * se, ci_upper=est + crit * se,
        tau2=None if tau is None else tau * tau, tau=tau, tau2_ci=ci_tau2, tau2_se=tau2_se, sigma2=sigma2,
        loglik=float(loglik), qe_wald=het["wald"] if df >= 1 else None, qe_wald_p=chi(het["wald"], wald_df),
        qe_lrt=het["lrt"] if df >= 1 else None, qe_lrt_p=chi(het["lrt"], df), qe_df=df, qe_wald_df=wald_df,
        nagq=nodes,
        likelihood=f"{_LIKELIHOOD[model] if measure != 'PLO' else 'binomial likelihood'}, {quad}",
        studies=studies, excluded=tuple(prep.reasons), notes=tuple(notes + het["notes"]), warnings=tuple(warnings))


def _study_rows(prep):
    reasons = iter(why for _, why in prep.reasons)  # in the order of the rows left out
    return [{"label": lab, "included": bool(keep), "reason": None if keep else next(reasons)}
            for lab, keep in zip(prep.labels, prep.included)]


def _xlogy(x, y):
    from scipy.special import xlogy

    return xlogy(x, y)


def heterogeneity(prep, method) -> dict:
    """metafor's QE.Wld and QE.LRT: the saturated model (each study its own effect) against
    the common-effect model. The saturated log-likelihood has a closed form for every model
    but CM.EL (a conditional MLE per study, by Newton; 0 for a table at the edge of its
    support); the Wald statistic is the test that all per-study ML estimates are equal, i.e.
    Cochran's Q with their inverse-information weights, over the studies whose estimate is
    finite (a zero cell makes it infinite: then the Wald test is reported over the others
    and a note says so)."""
    from .fit import Profile

    raw, model, measure = prep.raw, prep.model, prep.measure
    notes = []
    prof = Profile(prep.cond)
    ll_fe = prof.fit(0.0)[0]
    if measure == "OR" and model == "UM.FS":
        a, b, c, d = raw["a"], raw["b"], raw["c"], raw["d"]
        n1, n2 = a + b, c + d
        sat = (_xlogy(a, a / n1) + _xlogy(b, b / n1) + _xlogy(c, c / n2) + _xlogy(d, d / n2))
        with np.errstate(divide="ignore"):
            y = np.log(a) - np.log(b) - np.log(c) + np.log(d)
            v = 1 / a + 1 / b + 1 / c + 1 / d
    elif measure == "IRR" and model == "UM.FS":
        x1, t1, x2, t2 = raw["x1"], raw["t1"], raw["x2"], raw["t2"]
        sat = _xlogy(x1, x1 / t1) - x1 + _xlogy(x2, x2 / t2) - x2
        with np.errstate(divide="ignore"):
            y = np.log(x1 / t1) - np.log(x2 / t2)
            v = 1 / x1 + 1 / x2
    elif model == "CM.EL" and measure == "OR":
        sat, y, v = _cm_el_saturated(prep.cond.lik)
    else:  # one binomial per study: CM.AL, IRR's conditional model, PLO
        lik = prep.cond.lik
        yv, n, off = lik.y, lik.n, lik.offset
        # the log-likelihood without constants, y eta - n log(1 + e^eta), at p = y / n
        sat = _xlogy(yv, yv / n) + _xlogy(n - yv, (n - yv) / n)
        with np.errstate(divide="ignore"):
            y = np.log(yv) - np.log(n - yv) - off
            v = 1 / yv + 1 / (n - yv)
    lrt = float(2 * (np.sum(sat) - ll_fe))
    fin = np.isfinite(y) & np.isfinite(v)
    if not fin.all():
        notes.append(f"QE.Wld: {int((~fin).sum())} stud(y/ies) with a zero cell have no finite saturated estimate "
                     "and are left out of the Wald test (rma.glmm's value there depends on where glm stopped)")
    if fin.sum() >= 2:
        w = 1 / v[fin]
        ybar = np.sum(w * y[fin]) / np.sum(w)
        wald = float(np.sum(w * (y[fin] - ybar) ** 2))
    else:
        wald = None
    return {"wald": wald, "wald_n": int(fin.sum()), "lrt": max(lrt, 0.0), "notes": notes}


def _rs_heterogeneity(prep, nodes, fe):
    """QE.Wld and QE.LRT for UM.RS as rma.glmm computes them: the saturated model (every study
    its own log odds ratio, random control-arm intercepts) against the common-effect model
    ``fe`` = (loglik without constants, (beta0, mu, sigma, tau)), both by the fit's rule
    (:func:`metak.glmm.rs.rs_heterogeneity`)."""
    from .rs import rs_heterogeneity

    if prep.cond.k < 2:
        return {"wald": None, "wald_n": 0, "lrt": None, "notes": []}
    try:
        out = rs_heterogeneity(prep.cond.lik, nodes, fe[0], float(fe[1][2]))
    except (MetakError, np.linalg.LinAlgError) as exc:  # as rma.glmm: "Cannot fit saturated model"
        return {"wald": None, "wald_n": 0, "lrt": None,
                "notes": [f"QE.Wld and QE.LRT not computed: the saturated model could not be fitted ({exc})"]}
    ratio = "log odds ratio" if prep.measure == "OR" else "log rate ratio"
    notes = out["notes"] + [f"QE for UM.RS: saturated model (each study its own {ratio}, random control-arm "
                            f"intercepts; sigma^2 = {out['sigma2']:.4g}) against the common-effect model, as rma.glmm"]
    return {"wald": out["wald"], "wald_n": out["wald_n"], "lrt": out["lrt"], "notes": notes}


def _cm_el_saturated(lik):
    """Per study: the maximised conditional log-likelihood, the conditional MLE of the log
    odds ratio and 1 / its information (inf at the edge of the support)."""
    k = len(lik.a)
    theta = np.zeros((k, 1))
    edge = lik.at_edge
    for _ in range(100):
        l, s, h = lik.loglik(theta)
        step = np.where(edge[:, None], 0.0, np.clip(-s / np.minimum(h, -1e-300), -2, 2))
        theta = theta + step
        if np.all(np.abs(step) < 1e-12):
            break
    l, s, h = lik.loglik(theta)
    sat = np.where(edge, 0.0, l[:, 0])
    y = np.where(edge, np.inf, theta[:, 0])
    v = np.where(edge, np.inf, -1 / h[:, 0])
    return sat, y, v


class _CallableModule(__import__("types").ModuleType):
    """``metak.glmm`` is both this package and the function: importing the package sets the
    attribute ``metak.glmm`` to the module, so the module calls :func:`glmm`."""

    def __call__(self, *args, **kwargs):
        return glmm(*args, **kwargs)


__import__("sys").modules[__name__].__class__ = _CallableModule

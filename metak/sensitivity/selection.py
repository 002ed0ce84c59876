"""Selection models for publication bias: metafor's ``selmodel`` by maximum likelihood.

``sensitivity: [{selection_model: {type: stepfun, steps: [0.025, 0.5]}}]`` (or ``beta``,
``halfnorm``, ``negexp``, ``logistic``, ``power``), and ``MetaFit.selection_model(type=,
steps=)``. The random-effects model is refitted with ML (as metafor does for a REML fit), tau2
estimated jointly with the selection parameters; a common-effect (FE) fit keeps tau2 = 0. SEs
come from numDeriv's Hessian on the natural scale (mu, tau2, delta), the likelihood-ratio test
compares with the unadjusted ML (or FE) model on the number of free selection parameters, and a
warning is recorded when a delta sits at its bound (metafor's message). The likelihood is
:mod:`metak.sensitivity.selection_lik`; PET-PEESE is :mod:`metak.sensitivity.pet_peese`.

Refusals follow metafor 3.8.1: fewer studies than parameters, a step interval without an
observed p-value, steps outside [0, 1] (here (0, 1): a cut-point at 0 or 1 is no cut-point).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy import optimize
from scipy.stats import chi2, norm

from ..errors import MetakError
from ..format import clean
from ..schema.record import keys
from .selection_lik import ALTERNATIVES, FAMILIES, TYPES, Likelihood, numderiv_hessian

def _newton_polish(f, x, steps: int = 4):
    """Newton steps on ``f`` from the optimiser's answer, with central-difference gradients and
    numDeriv's Hessian. BFGS and Nelder-Mead stop at a tolerance along a path that another CPU's
    rounding changes (numpy at baseline SIMD moved the BCG example's estimate by 7.6e-9); Newton
    from there converges quadratically to the root of the same deterministic gradient, so the
    answer no longer depends on the path (to ~1e-10). A step that raises f, or is not small, is refused."""
    x = np.asarray(x, float)
    fx = f(x)
    for _ in range(steps):
        h = 1e-4 * np.maximum(1.0, np.abs(x))  # rounding noise ~eps f / h, truncation ~h² f''' (the same on every CPU)
        eye = np.diag(h)
        g = np.array([(f(x + e) - f(x - e)) / (2 * hi) for e, hi in zip(eye, h)])
        try:
            step = np.linalg.solve(numderiv_hessian(f, x), g)
        except np.linalg.LinAlgError:
            break
        if not np.all(np.isfinite(step)):
            break
        xn = x - step
        fn = f(xn)
        # near the optimum f is flat to its last bits (a step of 1e-8 changes it by ~1e-16): a
        # step is refused only when it raises f beyond that, or is not small (a polish, not a search)
        if not np.isfinite(fn) or fn > fx + 1e-12 * max(1.0, abs(fx)) or np.max(np.abs(step)) > 1e-3:
            break
        x, fx = xn, fn
        if np.max(np.abs(step)) <= 1e-12 * max(1.0, float(np.max(np.abs(x)))):
            break
    return x


BOUND_WARNING = ("one or more delta estimates are (almost) equal to their lower or upper bound; treat the "
                 "results with caution")


@dataclass(frozen=True)
class SelectionModel:
    """results.json ``sensitivity.selection_model`` (contract §6.5)."""

    type: str
    alternative: str
    method: str
    steps: tuple[float, ...] | None
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    z: float | None
    p_value: float | None
    tau2: float | None
    tau2_se: float | None
    delta: tuple[float | None, ...]
    delta_se: tuple[float | None, ...]
    delta_fixed: tuple[bool, ...]
    p_counts: tuple[int, ...] | None
    loglik: float | None
    loglik_unadjusted: float | None
    lrt: dict[str, float | None] = keys("statistic", "df", "p_value")
    unadjusted: dict[str, float | None]
    warnings: tuple[str, ...]

    def to_dict(self) -> dict:
        d = asdict(self)
        for key in ("steps", "delta", "delta_se", "delta_fixed", "p_counts", "warnings"):
            d[key] = None if d[key] is None else list(d[key])
        return d


def check_steps(type_, steps):
    """The steps as metafor uses them (sorted, unique, ending at 1), or MetakError."""
    if type_ not in TYPES:
        raise MetakError(f"selection_model: type must be one of {', '.join(TYPES)}, got {type_!r}")
    if steps is None or (not isinstance(steps, (str, bytes)) and len(steps) == 0):
        if type_ == "stepfun":
            raise MetakError("selection_model: type 'stepfun' needs steps, the one-sided p-value cut-points, "
                             "e.g. [0.025, 0.5]")
        return (0.0,) if type_ != "beta" else (0.0, 1.0)
    try:
        vals = [float(s) for s in (steps if np.ndim(steps) else [steps])]
    except (TypeError, ValueError):
        raise MetakError(f"selection_model: steps must be numbers in (0, 1), got {steps!r}") from None
    if any(not np.isfinite(s) or s <= 0 or s > 1 for s in vals):
        raise MetakError(f"selection_model: steps must lie in (0, 1), got {vals}")
    if any(b <= a for a, b in zip(vals, vals[1:])):
        raise MetakError(f"selection_model: steps must be strictly increasing, got {vals}")
    if type_ == "beta":
        raise MetakError("selection_model: type 'beta' takes no steps (metafor 3.8.1)")
    if vals[-1] != 1.0:
        vals.append(1.0)
    if type_ != "stepfun" and len(vals) != 2:
        raise MetakError(f"selection_model: type '{type_}' takes a single step (the p-value below which the "
                         f"weight is 1), got {vals[:-1]}")
    return tuple(vals) if type_ == "stepfun" else (vals[0],)


def _unadjusted(y, v, fixed_effect):
    """The unadjusted ML (or FE) fit: mu, tau2, se and the log-likelihood."""
    from ..estimators.fit import fit as _fit

    res = _fit(y, v, method="FE" if fixed_effect else "ML")
    tau2 = 0.0 if fixed_effect else float(res.tau2)
    s2 = v + tau2
    ll = float(np.sum(norm.logpdf(y, res.estimate, np.sqrt(s2))))
    return {"estimate": float(res.estimate), "se": float(res.se), "ci_lower": float(res.ci_lower),
            "ci_upper": float(res.ci_upper), "tau2": None if fixed_effect else tau2, "loglik": ll}


def selection_model(y, v, *, type="stepfun", steps=None, alternative="greater", method="ML",
                    level=0.95) -> SelectionModel:
    """Fit metafor's ``selmodel(rma(y, v, method=ML|FE), type=, steps=, alternative=)``."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    if alternative not in ALTERNATIVES:
        raise MetakError(f"selection_model: alternative must be one of {', '.join(ALTERNATIVES)}, "
                         f"got {alternative!r}")
    if not (len(y) == len(v) and np.all(np.isfinite(y)) and np.all(np.isfinite(v)) and np.all(v > 0)):
        raise MetakError("selection_model: needs finite effects and positive sampling variances")
    steps = check_steps(type, steps)
    fe = method in ("FE", "EE", "CE")
    lik = Likelihood(y, v, type, steps, alternative, fe)
    k, n_par = len(y), 1 + (0 if fe else 1) + int(lik.free.sum())
    if k < n_par:
        raise MetakError(f"selection_model: the number of studies (k = {k}) is too small to fit the selection "
                         f"model ({n_par} parameters)")
    counts = None
    if type == "stepfun":
        counts = tuple(int(c) for c in np.bincount(lik.group, minlength=len(steps)))
        empty = [f"({lo:g}, {hi:g}]" for lo, hi, c in zip((0.0, *steps[:-1]), steps, counts) if c == 0]
        if empty:
            raise MetakError(f"selection_model: no observed p-value in the interval(s) {', '.join(empty)}: their "
                             f"weights cannot be estimated (metafor refuses too); choose other steps")
    base = _unadjusted(y, v, fe)
    start = lik.start(base["estimate"], base["tau2"] or 0.0)
    best = optimize.minimize(lik.negll, start, method="BFGS", options={"gtol": 1e-9, "maxiter": 5000})
    best = optimize.minimize(lik.negll, best.x, method="Nelder-Mead",
                             options={"xatol": 1e-10, "fatol": 1e-13, "maxiter": 20000, "maxfev": 40000})
    best = optimize.minimize(lik.negll, best.x, method="BFGS", options={"gtol": 1e-10, "maxiter": 5000})
    if np.isfinite(best.fun) and best.fun < 1e99:
        best.x = _newton_polish(lik.negll, best.x)
    if not np.isfinite(best.fun) or best.fun >= 1e99:
        raise MetakError(f"selection_model: the '{type}' selection model did not converge (the likelihood is not "
                         f"finite at any point the optimiser tried)")
    mu, tau2, delta = lik.unpack(best.x)
    tau2 = 0.0 if tau2 < np.finfo(float).eps * 10 else tau2
    ll = lik.loglik(mu, tau2, delta)
    warnings = []
    if not best.success and np.linalg.norm(getattr(best, "jac", np.zeros(1)), np.inf) > 1e-4:
        warnings.append(f"the optimiser did not converge ({best.message}); treat the '{type}' model's estimates "
                        f"with caution")
    free = lik.free
    if np.any(delta[free] <= lik.dmin[free] + np.finfo(float).eps ** 0.25) or \
            np.any(delta[free] >= lik.dmax[free] - 100 * np.finfo(float).eps ** 0.25):
        warnings.append(BOUND_WARNING)
    theta = lik.natural(mu, tau2, delta)
    se_all = np.full(len(theta), np.nan)
    try:
        hess = numderiv_hessian(lik.negll_natural, theta)
        if np.all(np.isfinite(hess)):
            chol = np.linalg.cholesky(hess)
            inv = np.linalg.inv(chol)
            se_all = np.sqrt(np.diag(inv.T @ inv))
        else:
            warnings.append("the Hessian is not finite at the estimates: no standard errors")
    except np.linalg.LinAlgError:
        warnings.append("the Hessian could not be inverted (not positive definite): no standard errors")
    se = se_all[0]
    tau2_se = None if fe else se_all[1]
    delta_se = np.full(lik.n_delta, np.nan)
    delta_se[free] = se_all[(1 if fe else 2):]
    crit = norm.ppf(0.5 + level / 2)
    z = mu / se if np.isfinite(se) else np.nan
    stat = max(0.0, -2 * (base["loglik"] - ll))
    df = int(free.sum())
    lrt = {"statistic": clean(stat), "df": df, "p_value": clean(chi2.sf(stat, df))}
    return SelectionModel(
        type=type, alternative=alternative, method="FE" if fe else "ML",
        steps=tuple(steps) if type == "stepfun" else (None if type == "beta" else tuple(steps)), k=k,
        estimate=clean(mu), se=clean(se), ci_lower=clean(mu - crit * se), ci_upper=clean(mu + crit * se),
        z=clean(z), p_value=clean(2 * norm.sf(abs(z))), tau2=None if fe else clean(tau2), tau2_se=clean(tau2_se),
        delta=tuple(clean(d) for d in delta), delta_se=tuple(clean(d) for d in delta_se),
        delta_fixed=tuple(bool(not f) for f in free), p_counts=counts, loglik=clean(ll),
        loglik_unadjusted=clean(base["loglik"]), lrt=lrt,
        unadjusted={key: clean(val) for key, val in base.items() if key != "loglik"}, warnings=tuple(warnings))


# --------------------------------------------------------------------------- the protocol
def parse_steps(c, path, value, _measure):
    """The ``steps`` parameter: p-value cut-points in (0, 1), strictly increasing."""
    seq = c.sequence(path)
    if seq is None:
        return None
    vals = [c.number(path + (j,)) for j in range(len(seq))]
    if None in vals:
        return None
    if not vals or any(not 0 < s < 1 for s in vals if s != 1) or vals[0] >= 1:
        c.add(path, f"every step must lie in (0, 1), got {vals}")
        return None
    if any(b <= a for a, b in zip(vals, vals[1:])):
        c.add(path, f"steps must be strictly increasing, got {vals}")
        return None
    return [float(s) for s in vals]


def check(c, path, values, meta) -> None:
    """The parameters together: stepfun needs steps; beta takes none; the others at most one."""
    type_, steps = values.get("type") or "stepfun", values.get("steps")
    if type_ == "stepfun" and not steps:
        c.add(path, "type stepfun needs steps, the one-sided p-value cut-points, e.g. steps: [0.025, 0.5]")
    if type_ == "beta" and steps:
        c.add(path + ("steps",), "type beta takes no steps")
    if type_ in FAMILIES and type_ != "beta" and steps and len([s for s in steps if s < 1]) > 1:
        c.add(path + ("steps",), f"type {type_} takes a single step, got {steps}")


def run(ctx, params) -> SelectionModel:
    tab = ctx.table
    y, v = np.asarray(tab.yi, float), np.asarray(tab.vi, float)
    keep = np.isfinite(y) & np.isfinite(v) & (v > 0)
    method = "FE" if ctx.model.method in ("FE", "MH", "PETO") else "ML"
    try:
        out = selection_model(y[keep], v[keep], type=params.get("type") or "stepfun", steps=params.get("steps"),
                              alternative=params.get("alternative") or "greater", method=method,
                              level=ctx.model.level)
    except MetakError as err:
        ctx.warnings.append(f"selection_model not run: {err}".replace("not run: selection_model: ", "not run: "))
        return SelectionModel(type=params.get("type") or "stepfun", alternative=params.get("alternative") or "greater",
                              method=method, steps=None, k=int(keep.sum()), estimate=None, se=None, ci_lower=None,
                              ci_upper=None, z=None, p_value=None, tau2=None, tau2_se=None, delta=(), delta_se=(),
                              delta_fixed=(), p_counts=None, loglik=None, loglik_unadjusted=None,
                              lrt={"statistic": None, "df": None, "p_value": None}, unadjusted={},
                              warnings=(str(err),))
    ctx.warnings.extend(f"selection_model: {w}" for w in out.warnings)
    return out


def methods_sentence(result: dict, cite) -> str:
    if result.get("estimate") is None:
        return ""
    kind = ("a step-function selection model with one-sided p-value cut-points at "
            + ", ".join(f"{s:g}" for s in result["steps"][:-1]) if result["type"] == "stepfun"
            else f"a {result['type']} selection model")
    return (f"Publication bias was assessed with {kind} (Vevea and Hedges 1995; Citkowicz and Vevea 2017), fitted by "
            f"maximum likelihood as metafor's selmodel (p-values {result['alternative']}"
            + ("" if result["method"] == "FE" else "; tau² estimated jointly")
            + "), with standard errors from the numerical Hessian and a likelihood-ratio test against the "
              "unadjusted model.")

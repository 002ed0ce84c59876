"""PET, PEESE and the conditional PET-PEESE estimate (Stanley and Doucouliagos 2014).

PET is the common-effect meta-regression of the effects on their standard errors,
metafor's ``rma(yi, vi, mods = ~ sqrt(vi), method = "FE")``; PEESE the same on the sampling
variances, ``mods = ~ vi``. Each intercept is the effect "limit" of a study with no sampling
error, with its z test and Wald CI. The conditional estimate takes PEESE when PET's intercept
is significant one-sided at ``alpha`` (default 0.05) in the direction of the unadjusted pooled
estimate (PET's test of H0: no effect beyond bias, as Stanley and Doucouliagos 2014 use it),
else PET. ``sensitivity: [pet_peese]`` and ``MetaFit.pet()`` / ``.peese()``.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np
from scipy.stats import norm

from ..errors import MetakError
from ..format import clean
from ..schema.record import enum, keys


def limit_regression(y, v, predictor, level=0.95) -> dict:
    """The FE meta-regression y ~ 1 + predictor with weights 1/v: the intercept (the limit
    estimate) and the slope, each with se, z, p and CI (metafor's z test)."""
    y, v, x = (np.asarray(a, float) for a in (y, v, predictor))
    if len(y) < 3:
        raise MetakError(f"PET/PEESE: needs at least 3 studies, got k = {len(y)}")
    if np.ptp(x) <= 1e-12 * np.max(np.abs(x)):
        raise MetakError("PET/PEESE: every study has the same variance; the regression on precision is undefined")
    w = 1 / v
    X = np.column_stack([np.ones_like(y), x])
    xtwx = X.T @ (w[:, None] * X)
    cov = np.linalg.inv(xtwx)
    beta = cov @ (X.T @ (w * y))
    se = np.sqrt(np.diag(cov))
    z = beta / se
    crit = norm.ppf(0.5 + level / 2)
    out = {}
    for i, pre in enumerate(("", "slope_")):
        out.update({f"{pre}estimate": clean(beta[i]), f"{pre}se": clean(se[i]), f"{pre}z": clean(z[i]),
                    f"{pre}p_value": clean(2 * norm.sf(abs(z[i]))), f"{pre}ci_lower": clean(beta[i] - crit * se[i]),
                    f"{pre}ci_upper": clean(beta[i] + crit * se[i])})
    out["slope"] = out.pop("slope_estimate")
    return out


def pet(y, v, level=0.95) -> dict:
    """PET: ``rma(yi, vi, mods = ~ sqrt(vi), method = "FE")``; ``estimate`` is the intercept."""
    return {"model": "yi ~ sqrt(vi), FE", **limit_regression(y, v, np.sqrt(v), level)}


def peese(y, v, level=0.95) -> dict:
    """PEESE: ``rma(yi, vi, mods = ~ vi, method = "FE")``; ``estimate`` is the intercept."""
    return {"model": "yi ~ vi, FE", **limit_regression(y, v, v, level)}


@dataclass(frozen=True)
class PetPeese:
    """results.json ``sensitivity.pet_peese``."""

    k: int
    pet: dict[str, float | str | None] | None = keys("estimate", "se", "p_value")
    peese: dict[str, float | str | None] | None = keys("estimate", "se", "p_value")
    rule: str
    chosen: str | None = enum("pet", "peese")
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    reason: str | None

    def to_dict(self) -> dict:
        return asdict(self)


def pet_peese(y, v, *, direction=1.0, alpha=0.05, level=0.95) -> PetPeese:
    """PET, PEESE and the conditional estimate; ``direction`` is the sign of the unadjusted
    pooled estimate (the side of PET's one-sided test)."""
    y, v = np.asarray(y, float), np.asarray(v, float)
    rule = (f"PEESE if PET's intercept is significant one-sided at {alpha:g} in the direction of the unadjusted "
            f"estimate (Stanley and Doucouliagos 2014), else PET")
    p, q = pet(y, v, level), peese(y, v, level)
    sign = 1.0 if direction >= 0 else -1.0
    p_one = norm.sf(sign * p["z"]) if p["z"] is not None else None
    chosen = "peese" if p_one is not None and p_one < alpha else "pet"
    best = q if chosen == "peese" else p
    return PetPeese(k=len(y), pet={**p, "p_value_one_sided": clean(p_one)}, peese=q, rule=rule, chosen=chosen,
                    estimate=best["estimate"], se=best["se"], ci_lower=best["ci_lower"], ci_upper=best["ci_upper"],
                    tau2=None, reason=None)


def run(ctx, params) -> PetPeese:
    tab = ctx.table
    y, v = np.asarray(tab.yi, float), np.asarray(tab.vi, float)
    keep = np.isfinite(y) & np.isfinite(v) & (v > 0)
    est = getattr(ctx.result, "estimate", None)
    try:
        return pet_peese(y[keep], v[keep], direction=1.0 if est is None or est >= 0 else -1.0,
                         alpha=float(params.get("alpha") or 0.05), level=ctx.model.level)
    except MetakError as err:
        ctx.warnings.append(f"pet_peese not run: {err}")
        return PetPeese(k=int(keep.sum()), pet=None, peese=None, rule="", chosen=None, estimate=None, se=None,
                        ci_lower=None, ci_upper=None, tau2=None, reason=str(err))


def methods_sentence(result: dict, cite) -> str:
    if result.get("estimate") is None:
        return ""
    return ("Small-study effects were also adjusted for by PET and PEESE, the common-effect meta-regressions of the "
            "effects on their standard errors and on their sampling variances (Stanley and Doucouliagos 2014); the "
            f"conditional PET-PEESE estimate took {result['rule']}.")

"""How much the pooled estimate depends on the assumed within-participant correlation of the
crossover trials that have no paired data (Elbourne et al. 2002's sensitivity analysis).

Every comparison analysed by the rho approximation, or as parallel groups for lack of pairing
information, is recomputed with each rho (:func:`metak.effects.crossover.rho_effect`); paired,
first-period and parallel-trial comparisons keep their effects. rho = 0 is the parallel
approximation for MD."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects.crossover import rho_effect
from ..records.model import ContinuousArmData
from ..schema.record import as_dict, flat, from_dict
from .refit import iv_model, null_fit, refit
from .refit_record import Refit

DEFAULT_VALUES = (0.0, 0.25, 0.5, 0.75, 0.9)


@dataclass(frozen=True)
class RhoFit:
    """The refit with every rho-approximated comparison recomputed at correlation ``rho``."""

    rho: float
    fit: Refit = flat()

    to_dict = as_dict


@dataclass(frozen=True)
class CrossoverRho:
    """``sensitivity.crossover_rho``: a refit per rho, the comparisons recomputed (their
    labels), or the reason there are none."""

    values: tuple[RhoFit, ...]
    studies: tuple[str, ...]
    reason: str | None

    to_dict = as_dict


def run(ctx, params) -> CrossoverRho:
    table, measure = ctx.table, ctx.spec.measure
    values = params.get("values") or DEFAULT_VALUES
    which = [i for i, r in enumerate(table.rows)
             if r.design_method in ("rho", "parallel") and r.comparison is not None
             and isinstance(r.comparison.exp_data, ContinuousArmData)]
    body = {"values": [], "studies": [table.rows[i].label for i in which], "reason": None}
    if measure not in ("MD", "SMD"):
        body["reason"] = f"the rho approximation is for continuous outcomes (MD, SMD), not {measure}"
    elif not which:
        body["reason"] = "no crossover comparison without paired or first-period data"
    if body["reason"]:
        ctx.warnings.append(f"crossover_rho: {body['reason']}")
        return from_dict(CrossoverRho, body)
    model = iv_model(ctx.model)
    for rho in values:
        yi, vi = table.yi.copy(), table.vi.copy()
        for i in which:
            c = table.rows[i].comparison
            y, v, _ = rho_effect(measure, c.exp_data, c.ctl_data, rho)
            yi[i], vi[i] = y, v
        ok = np.isfinite(yi) & np.isfinite(vi)
        sub = table.subset(np.flatnonzero(ok)).replace(yi=yi[ok], vi=vi[ok])
        fit, why = refit(model, sub)
        body["values"].append({"rho": rho, **(fit or null_fit(int(ok.sum()), why))})
    return from_dict(CrossoverRho, body)


def parse_values(c, path, value, measure):
    """``values: [0, 0.5, 0.9]``: correlations in (-1, 1)."""
    items = value if isinstance(value, list) else [value]
    if not items:
        c.add(path, "must not be empty")
        return None
    out = []
    for j, _ in enumerate(items):
        x = c.number(path + (j,) if isinstance(value, list) else path, open_interval=(-1, 1))
        if x is None:
            return None
        out.append(x)
    if measure is not None and measure not in ("MD", "SMD"):
        c.add(path, f"the rho approximation is for continuous outcomes (MD, SMD), not {measure}")
        return None
    return tuple(out)

"""Risk of bias (RoB 2): the analysis restricted to trials at low overall risk, subgroups by
overall risk with Cochrane's test, and the per-domain summary the RoB figures draw.

Each row's judgements are those of the outcome it comes from (``risk_of_bias:`` in the trial
record; ``overall`` derived by RoB 2's algorithm when only the domains are given). Rows of an
outcome without a block are "not assessed": they stay out of the restricted analysis and form
their own subgroup.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..records.model import ROB_DOMAINS, ROB_LEVELS
from ..schema.record import as_dict, enum, from_dict
from .refit import refit
from .refit_record import Refit
from .subgroups import Subgroups

NOT_ASSESSED = "not_assessed"


@dataclass(frozen=True, kw_only=True)
class RobStudy:
    """A comparison's RoB 2 judgements (null: its outcome has no risk_of_bias block); one field
    per domain of :data:`metak.records.model.ROB_DOMAINS` (a test keeps them equal)."""

    trial: str
    label: str
    randomization: str | None = enum(*ROB_LEVELS)
    deviations: str | None = enum(*ROB_LEVELS)
    missing_data: str | None = enum(*ROB_LEVELS)
    measurement: str | None = enum(*ROB_LEVELS)
    reporting: str | None = enum(*ROB_LEVELS)
    overall: str | None = enum(*ROB_LEVELS)
    #: overall derived from the domains by RoB 2's algorithm
    overall_derived: bool

    to_dict = as_dict


@dataclass(frozen=True)
class LevelSummary:
    """The number of comparisons at each level (and not assessed) and, after a fit, the share of
    weight (%) at each."""

    counts: dict[str, int]
    weight: dict[str, float] | None

    to_dict = as_dict


@dataclass(frozen=True)
class RiskOfBiasResult:
    """``sensitivity.risk_of_bias``: judgements, per-domain summary, restricted fit, subgroups."""

    domains: tuple[str, ...]
    studies: tuple[RobStudy, ...]
    #: per domain and "overall"
    summary: dict[str, LevelSummary]
    restricted: Refit | None
    subgroups: Subgroups
    reasons: dict[str, str]

    to_dict = as_dict


def summary(table, weights=None) -> dict:
    """Per domain (and overall): the number of comparisons at each level and, with ``weights``
    (the analysis's, in %), the share of weight at each level."""
    from ..document import rob_of

    out = {}
    robs = [rob_of(r) for r in table.rows]
    for name in ROB_DOMAINS + ("overall",):
        counts = {lv: 0 for lv in ROB_LEVELS + (NOT_ASSESSED,)}
        weight = {lv: 0.0 for lv in counts}
        for i, rob in enumerate(robs):
            lv = (rob.overall if name == "overall" else rob.domain(name)) if rob is not None else None
            lv = lv or NOT_ASSESSED
            counts[lv] += 1
            if weights is not None and np.isfinite(weights[i]):
                weight[lv] += float(weights[i])
        out[name] = {"counts": counts, "weight": weight if weights is not None else None}
    return out


def run(ctx, params) -> RiskOfBiasResult:
    from ..document import rob_of
    from .subgroups import subgroup_analysis

    table = ctx.table
    robs = [rob_of(r) for r in table.rows]
    reasons = {}
    if all(r is None for r in robs):
        ctx.warnings.append("risk_of_bias: no included outcome has a risk_of_bias block; nothing to restrict or compare")
    low = np.array([r is not None and r.overall == "low" for r in robs], bool)
    restricted, why = refit(ctx.model, table.subset(low))
    if restricted is None:
        reasons["restricted"] = "no comparison is at low overall risk of bias" if not low.any() else why
    derived = sorted({r.trial for r, rob in zip(table.rows, robs) if rob is not None and rob.derived})
    if derived:
        ctx.warnings.append(f"risk_of_bias: overall judgement derived from the domains (RoB 2 algorithm) for "
                            f"{', '.join(derived)}")
    sub = subgroup_analysis(table, ctx.model, "risk_of_bias", missing=NOT_ASSESSED)
    if len(sub.groups) < 2:
        reasons["subgroups"] = "every comparison has the same overall risk of bias: no test for differences"
    weights = np.asarray(ctx.result.weights, float) if ctx.result is not None else None
    studies = [{"trial": r.trial, "label": r.label,
                **({d: rob.domain(d) for d in ROB_DOMAINS} if rob else {d: None for d in ROB_DOMAINS}),
                "overall": rob.overall if rob else None, "overall_derived": bool(rob and rob.derived)}
               for r, rob in zip(table.rows, robs)]
    body = {"domains": list(ROB_DOMAINS), "studies": studies, "summary": summary(table, weights),
            "restricted": restricted, "subgroups": sub.to_dict(), "reasons": reasons}
    return from_dict(RiskOfBiasResult, body)

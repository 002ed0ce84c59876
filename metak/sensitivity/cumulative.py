"""Cumulative meta-analysis: the studies added one at a time in a stated order (metafor's
``cumul``), each step refitted with the meta-analysis's model. By year by default, so the
steps show how the evidence accumulated; ties broken by label."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..effects.table import order_rows
from ..errors import MetakError
from ..format import clean
from ..schema.record import optional


@dataclass(frozen=True)
class CumulativeStep:
    added: str
    label: str
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    i2: float | None
    note: str | None = optional(None)

    def to_dict(self) -> dict:
        out = {"added": self.added, "label": self.label, "k": self.k, "estimate": clean(self.estimate),
               "se": clean(self.se), "ci_lower": clean(self.ci_lower), "ci_upper": clean(self.ci_upper),
               "tau2": clean(self.tau2), "i2": clean(self.i2)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class Cumulative:
    order: str
    steps: tuple[CumulativeStep, ...] = ()

    def to_dict(self) -> dict:
        return {"order": self.order, "steps": [s.to_dict() for s in self.steps]}


def cumulative(table, model, order: str = "year") -> Cumulative:
    """Refit the first 1, 2, ..., k studies of ``table`` in ``order`` (see
    :func:`metak.effects.table.order_rows`); a step without an estimate keeps its reason."""
    weights = np.asarray(model.fit(table).weights, float) if order == "weight" else None
    ordered = table.subset(order_rows(table, order, weights))
    steps = []
    for i in range(1, ordered.k + 1):
        row = ordered.rows[i - 1]
        part = ordered.subset(np.arange(ordered.k) < i)
        try:
            r = model.fit(part)
        except MetakError as exc:
            steps.append(CumulativeStep(row.trial, row.label, i, None, None, None, None, None, None,
                                        note=f"not estimable: {exc}"))
            continue
        steps.append(CumulativeStep(row.trial, row.label, r.k, r.estimate, r.se, r.ci_lower, r.ci_upper,
                                    r.tau2, r.i2))
    return Cumulative(order, tuple(steps))


def run(ctx, params) -> Cumulative:
    order = params.get("order", "year")
    if order not in ("label", "year", "effect", "weight") and order not in ctx.table.covariate_names:
        raise MetakError(f"cumulative: order '{order}' is not label, year, effect, weight or a characteristic "
                         "of the included trials")
    if order == "year" and any(v is None for v in ctx.table.column("year")):
        ctx.warnings.append("cumulative: some trials have no citation year; they are added last")
    return cumulative(ctx.table, ctx.model, order)

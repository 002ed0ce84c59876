"""Leave-one-out: the model refitted without each study in turn (metafor's ``leave1out``)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MetakError
from ..estimators.result import clean


@dataclass(frozen=True)
class LeaveOneOutRow:
    """The fit without one study. ``omitted`` is the trial id (the contract's key); ``label``
    names the comparison, which tells apart the comparisons of one multi-arm trial."""

    omitted: str
    label: str
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    p_value: float | None
    tau2: float | None
    i2: float | None
    q: float | None
    #: why the refit has no estimate (e.g. an MH odds ratio undefined without this study)
    note: str | None = None

    def to_dict(self) -> dict:
        out = {"omitted": self.omitted, "label": self.label, "k": self.k, "estimate": clean(self.estimate),
               "se": clean(self.se), "ci_lower": clean(self.ci_lower), "ci_upper": clean(self.ci_upper),
               "p_value": clean(self.p_value), "tau2": clean(self.tau2), "i2": clean(self.i2), "q": clean(self.q)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class LeaveOneOut:
    rows: tuple[LeaveOneOutRow, ...] = ()

    def to_dict(self) -> list:
        return [r.to_dict() for r in self.rows]


def leave_one_out(table, model, by: str = "comparison") -> LeaveOneOut:
    """Refit ``table`` with ``model`` leaving out each row in turn, or (``by="trial"``) all the
    comparisons of one trial together, so a multi-arm trial leaves as a whole."""
    trials = table.trials
    if by == "trial":
        units = list(dict.fromkeys(trials))
        groups = [(t, np.array([x == t for x in trials]), table.rows[trials.index(t)]) for t in units]
    else:
        groups = [(r.trial, np.arange(table.k) == i, r) for i, r in enumerate(table.rows)]
    if len(groups) < 2:
        return LeaveOneOut()
    rows = []
    for trial, drop, first in groups:
        label = first.record.label if by == "trial" and first.record is not None else first.label
        rest = table.subset(~drop)
        try:
            r = model.fit(rest)
        except MetakError as exc:  # one refit without an estimate must not stop the others
            rows.append(LeaveOneOutRow(trial, label, rest.k, None, None, None, None, None, None, None, None,
                                       note=f"not estimable: {exc}"))
            continue
        rows.append(LeaveOneOutRow(trial, label, r.k, r.estimate, r.se, r.ci_lower, r.ci_upper, r.p_value,
                                   r.tau2, r.i2, r.q))
    return LeaveOneOut(tuple(rows))


def run(ctx, params) -> LeaveOneOut:
    by = params.get("by", "comparison")
    units = ctx.table.k if by == "comparison" else len(set(ctx.table.trials))
    if units < 2:
        ctx.warnings.append(f"leave_one_out needs at least 2 {'studies' if by == 'comparison' else 'trials'}")
    return leave_one_out(ctx.table, ctx.model, by)

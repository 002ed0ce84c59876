"""Leave-one-out: the model refitted without each study in turn (metafor's ``leave1out``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..errors import MetakError
from ..format import clean
from ..schema.record import optional


@dataclass(frozen=True)
class LeaveOneOutRow:
    """The fit without one study. ``omitted`` is the trial id (the contract's key); ``label``
    names the comparison, which tells apart the comparisons of one multi-arm trial."""

    omitted: str
    label: str
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    p_value: float | None
    tau2: float | None
    i2: float | None
    q: float | None
    #: why the refit has no estimate (e.g. an MH odds ratio undefined without this study)
    note: str | None = optional(None)

    def to_dict(self) -> dict:
        out = {"omitted": self.omitted, "label": self.label, "k": self.k, "estimate": clean(self.estimate),
               "se": clean(self.se), "ci_lower": clean(self.ci_lower), "ci_upper": clean(self.ci_upper),
               "p_value": clean(self.p_value), "tau2": clean(self.tau2), "i2": clean(self.i2), "q": clean(self.q)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class LeaveOneOut:
    """``sensitivity.leave_one_out``: an array of one row per study left out."""

    json_array: ClassVar[str] = "rows"
    rows: tuple[LeaveOneOutRow, ...] = ()

    def to_dict(self) -> list:
        return [r.to_dict() for r in self.rows]


#: deletions fitted together by the batch engine (bounds memory at 8 * BLOCK * k bytes per array)
BLOCK = 256


def _batched(table, model, drops) -> list:
    """The fits without each group of rows, all at once: the batch engine (the engine of
    ``fit``, whose numbers it gives bit for bit) on a (groups x k) array whose row g masks the
    rows of group g. k refits at k = 1,000 cost ~k times the per-fit overhead; this costs a few
    array passes (benchmarks/bench_influence.py). None for a deletion whose fit needs ``fit``'s
    own handling (a single study left, a non-finite number): the caller refits it."""
    from ..estimators.deletion import deleted_tau2
    from ..estimators.fit import _fit_arrays

    yi, vi = np.asarray(table.yi, float), np.asarray(table.vi, float)
    drops = np.asarray(drops, bool)
    tau2 = None
    if model.method in ("ML", "REML") and len(yi) > 2 and (drops.sum(1) == 1).all():
        # one study out per deletion: ML/REML from the full fit's tau², as influence() does
        # (a warm start and one shared scan for other maxima; ~4x faster at k = 1,000 than the
        # batch's own search from scratch, equal to it to ~1e-14 relative)
        full = model.fit(table).tau2
        per_row = deleted_tau2(yi, vi, model.method, full)
        tau2 = per_row[drops.argmax(1)]
    out = []
    for start in range(0, len(drops), BLOCK):
        keep = ~drops[start:start + BLOCK]
        Y = np.where(keep, yi, 0.0)
        V = np.where(keep, vi, 1.0)
        with np.errstate(all="ignore"):
            r = _fit_arrays(Y, V, keep.astype(float), model.method, model.test, model.level, intervals=False,
                            tau2_given=None if tau2 is None else tau2[start:start + BLOCK])
        for g in range(keep.shape[0]):
            nums = (r.estimate[g], r.se[g], r.ci_lower[g], r.ci_upper[g], r.p_value[g])
            ok = r.k[g] >= 2 and np.isfinite(nums).all() and bool(r.converged[g])
            out.append(r.result(g) if ok else None)
    return out


def leave_one_out(table, model, by: str = "comparison") -> LeaveOneOut:
    """Refit ``table`` with ``model`` leaving out each row in turn, or (``by="trial"``) all the
    comparisons of one trial together, so a multi-arm trial leaves as a whole.

    Inverse-variance models are fitted all at once (:func:`_batched`); MH and Peto (2x2
    tables), and any deletion the batch leaves to ``fit``, are refitted one by one."""
    trials = table.trials
    if by == "trial":
        units = list(dict.fromkeys(trials))
        groups = [(t, np.array([x == t for x in trials]), table.rows[trials.index(t)]) for t in units]
    else:
        groups = [(r.trial, np.arange(table.k) == i, r) for i, r in enumerate(table.rows)]
    if len(groups) < 2:
        return LeaveOneOut()
    fast = [None] * len(groups)
    yv = np.concatenate([np.asarray(table.yi, float), np.asarray(table.vi, float)])
    if not model.uses_tables and np.isfinite(yv).all() and (np.asarray(table.vi, float) > 0).all():
        fast = _batched(table, model, [drop for _, drop, _ in groups])
    rows = []
    for (trial, drop, first), r in zip(groups, fast):
        label = first.record.label if by == "trial" and first.record is not None else first.label
        if r is not None:
            rows.append(LeaveOneOutRow(trial, label, r.k, r.estimate, r.se, r.ci_lower, r.ci_upper, r.p_value,
                                       r.tau2, r.i2, r.q))
            continue
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

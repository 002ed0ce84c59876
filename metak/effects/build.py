"""Records + a meta-analysis's rules -> the :class:`EffectTable` it pools, in one place.

The rules, in order: the spec's ``select`` (trial fields) picks trials; each trial's outcome
is found (``outcome``, else ``fallback_outcomes``, complemented where asked) or, for a
dropout meta-analysis, built from randomized - completed; the arms are compared as
``multi_arm`` says (:mod:`metak.effects.comparisons`); escalc gives yi and vi; rows whose
direction differs from the first are harmonised; rows with no finite effect are excluded
with the reason. What was left out, and why, is returned beside the table.

This module is the loop over trials; its steps live in :mod:`metak.effects.selection` (trials
and outcomes), :mod:`metak.effects.rows` (one trial's effect rows),
:mod:`metak.effects.covariates` (moderators) and :mod:`metak.effects.reasons` (exclusions).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MetakError
from .escalc import ContinuityCorrection
from .reasons import Reason, ReasonCode, excluded_entry
from .rows import rows_for_trial
from .selection import dropout_outcome, find_outcome, select, unmatched
from .table import Effect, EffectTable


@dataclass
class Built:
    """An effect table and what building it found: exclusions, warnings, the outcome's label."""

    table: EffectTable
    excluded: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    outcome_label: str | None = None
    #: the trials the spec's select kept (before their data were looked at)
    selected: tuple = ()


def not_estimable(r: Effect, cc: ContinuityCorrection) -> Reason:
    """Why a study of the table has no finite effect size."""
    if r.table is None:
        return Reason("effect size not estimable from the reported data", ReasonCode.NOT_ESTIMABLE)
    a, b, c, d = r.table
    if cc.drop00 and ((a == 0 and c == 0) or (b == 0 and d == 0)):
        what = "no events" if a == 0 and c == 0 else "only events"
        return Reason(f"{what} in both arms: the table carries no information on the effect and is dropped "
                      "(drop00: true)", ReasonCode.DOUBLE_ZERO)
    return Reason(f"effect size not estimable: a zero cell with continuity correction to: {cc.to}",
                  ReasonCode.NOT_ESTIMABLE)


def _no_overlapping_records(kept, pooled: set, ms) -> None:
    """Two records linked by ``overlaps:`` (the same participants) in one pool would count
    those participants twice: a spec error naming both, whichever record declares the link."""
    for t in kept:
        both = sorted(o for o in t.overlaps if t.id in pooled and o in pooled)
        if both:
            raise ms.error("select", f"trials '{t.id}' and '{both[0]}' report overlapping participants "
                                     f"({t.id}: overlaps); exclude one of them (select.exclude)")


def build_table(trials, ms, cc: ContinuityCorrection) -> Built:
    """The effect table of one meta-analysis from the loaded trial records."""
    warnings: list[str] = unmatched(trials, ms)
    kept, excluded = select(trials, ms)
    rows: list[Effect] = []
    outcome_label = None
    for t in kept:
        outcome, note = dropout_outcome(t, ms) if ms.dropout else find_outcome(t, ms)
        if outcome is None:
            excluded.append(excluded_entry(t.id, note))
            continue
        if note:
            warnings.append(f"{t.id}: {note}")
        trial_rows, why = rows_for_trial(t, outcome, ms, cc)
        if not trial_rows:
            excluded.append(excluded_entry(t.id, why))
            continue
        outcome_label = outcome_label or outcome.label
        for r in trial_rows:
            if r.design_note:
                warnings.append(f"{r.label}: {r.design_note}")
            if r.measure_conversion:
                warnings.append(f"{r.label}: {r.measure_conversion} (flagged: the conversion assumes a logistic "
                                "distribution underlying the binary outcome)")
        if isinstance(outcome.data, dict):
            for arm_id, d in outcome.data.items():
                if getattr(d, "conversion", None):
                    warnings.append(f"{t.id}: arm {arm_id}: mean and SD converted from {d.conversion}: "
                                    f"mean {d.mean:.4g}, SD {d.sd:.4g}")
        for r in trial_rows:
            if r.split_control > 1:
                warnings.append(f"{r.label}: the control group is split across {r.split_control} comparisons "
                                "(multi_arm: split_control)")
        rows.extend(trial_rows)
    _no_overlapping_records(kept, {r.trial for r in rows}, ms)
    default = "lower_is_better" if ms.dropout else "higher_is_better"
    table = EffectTable(ms.measure, tuple(rows), rows[0].direction if rows else default)
    if ms.method in ("MH", "PETO") and ms.measure == "RR":
        odd = [r for r in rows if r.direction != table.direction and r.table is not None]
        if odd:
            raise MetakError(f"meta-analysis '{ms.id}': {odd[0].trial}'s outcome direction differs from the "
                             "others and an MH risk ratio cannot be harmonised; use OR or RD, or method FE")
    table, notes = table.harmonise()
    warnings.extend(notes)
    finite = np.isfinite(table.yi) & np.isfinite(table.vi) if rows else np.zeros(0, bool)
    dropped00 = set()
    if ms.dropout:
        for i, r in enumerate(table.rows):
            if r.table is None or not (r.table[0] == 0 and r.table[2] == 0):
                continue
            if ms.measure in ("OR", "RR"):
                # as RevMan: with no dropouts in either arm the ratio is not estimable, and the
                # continuity correction would invent one; the trial is listed, not pooled
                finite[i] = False
                dropped00.add(i)
                excluded.append(excluded_entry(r.trial, Reason(
                    f"{r.label}: no dropouts in either arm: the dropout {ms.measure} is not estimable (as RevMan; "
                    "an RD analysis keeps it as 0)", ReasonCode.DOUBLE_ZERO)))
                warnings.append(f"{r.label}: no dropouts in either arm; left out of the dropout {ms.measure} "
                                "(not estimable, as RevMan); a dropout RD would keep it")
            elif ms.measure == "RD":
                warnings.append(f"{r.label}: no dropouts in either arm; kept in the dropout RD (about 0, and it "
                                "adds weight), as RevMan")
    for i, (r, ok) in enumerate(zip(table.rows, finite)):
        if i in dropped00:
            continue
        if ok:
            continue
        if ms.method == "MH" and ms.measure == "RD" and r.table is not None and _double_zero(r.table):
            # the MH risk difference keeps double-zero tables (metafor's drop00 = c(TRUE, FALSE));
            # only Q, from the rows' yi, leaves them out
            finite[i] = True
            warnings.append(f"{r.label}: no events (or only events) in both arms: kept in the MH risk "
                            "difference (it informs an RD of 0), left out of Q; its own effect size is not estimable")
            continue
        why = not_estimable(r, cc)
        excluded.append(excluded_entry(r.trial, Reason(f"{r.label}: {why}", why.code)))
    return Built(table.subset(finite), excluded, warnings, outcome_label, tuple(kept))


def _double_zero(table) -> bool:
    a, b, c, d = table
    return (a == 0 and c == 0) or (b == 0 and d == 0)

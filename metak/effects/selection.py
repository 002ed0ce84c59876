"""Which trials a meta-analysis pools and which of their outcomes: the spec's ``select``
block, names in the spec that match no trial, the outcome (``outcome``, else
``fallback_outcomes``, complemented where asked) and, for a dropout meta-analysis, the
dropout outcome built from randomized - completed."""

from __future__ import annotations

from dataclasses import replace as _replace

from ..errors import MetakError
from ..records.model import BinaryArmData, Outcome, Source, Trial
from .reasons import Reason, ReasonCode, excluded_entry


def unmatched(trials, ms) -> list[str]:
    """Names in the spec that match no loaded trial: a typo there would silently change nothing."""
    s = ms.select
    ids = {t.id for t in trials}
    out = []
    named = [("select.trials", x) for x in s.trials] + [("select.exclude", x) for x, _ in s.exclude] + \
            [("arms", tid) for tid, _, _ in ms.arms]
    out += [f"{where} names trial '{x}', which is not among the loaded trials" for where, x in named if x not in ids]
    for key in ("condition", "design", "allocation", "masking"):
        have = {getattr(t, key) for t in trials}
        out += [f"select.{key} value '{v}' matches no loaded trial" for v in getattr(s, key) if v not in have]
    types = {ct for t in trials for ct in t.control_types}
    out += [f"select.control_type value '{v}' matches no loaded trial" for v in s.control_type if v not in types]
    for tid, exp, ctl in ms.arms:
        t = next((t for t in trials if t.id == tid), None)
        if t is not None:
            arm_ids = {a.id for a in t.arms}
            out += [f"arms.{tid} names arm '{a}', which {tid} does not have" for a in exp + ctl if a not in arm_ids]
    return out


def select(trials, ms):
    """(kept trials, excluded entries) by the spec's ``select`` block."""
    s = ms.select
    excluded = []
    kept = []
    reasons = dict(s.exclude)
    for t in trials:
        if t.id in reasons:
            excluded.append(excluded_entry(t.id, Reason(reasons[t.id] or "excluded by the analysis spec",
                                                        ReasonCode.EXCLUDED_BY_SPEC)))
            continue
        why = None
        if s.trials and t.id not in s.trials:
            why = "not among select.trials"
        elif s.design and t.design not in s.design:
            why = f"design {t.design} not in select.design [{', '.join(s.design)}]"
        elif s.condition and t.condition not in s.condition:
            why = f"condition '{t.condition}' not in select.condition"
        elif s.allocation and t.allocation not in s.allocation:
            why = f"allocation {t.allocation} not in select.allocation [{', '.join(s.allocation)}]"
        elif s.masking and t.masking not in s.masking:
            why = f"masking {t.masking} not in select.masking [{', '.join(s.masking)}]"
        elif s.control_type and not set(t.control_types) & set(s.control_type):
            why = f"control type(s) {', '.join(t.control_types) or 'none'} not in select.control_type"
        if why:
            excluded.append(excluded_entry(t.id, Reason(f"left out by select: {why}", ReasonCode.NOT_SELECTED)))
        else:
            kept.append(t)
    return kept, excluded


def complement(outcome: Outcome) -> Outcome:
    """The complementary binary outcome (events -> total - events), or an OR/RD contrast inverted."""
    flipped = "lower_is_better" if outcome.direction == "higher_is_better" else "higher_is_better"
    if outcome.type == "binary":
        data = {a: BinaryArmData(d.total - d.events, d.total) for a, d in outcome.data.items()}
    elif outcome.type == "contrast" and outcome.data.measure in ("OR", "RD"):
        c = outcome.data
        if c.measure == "OR":
            est = 1 / c.estimate
            ci = (1 / c.ci[1], 1 / c.ci[0]) if c.ci else None
        else:
            est = -c.estimate
            ci = (-c.ci[1], -c.ci[0]) if c.ci else None
        data = _replace(c, estimate=est, ci=ci)
    else:
        raise MetakError(f"the complement of a {outcome.type} outcome is not defined")
    return _replace(outcome, data=data, direction=flipped, label=f"not: {outcome.label}")


def find_outcome(trial: Trial, ms):
    """(outcome, note) for a trial: the spec's outcome, else the first fallback that exists."""
    o = trial.outcome(ms.outcome)
    if o is not None:
        return o, None
    for fb in ms.fallback_outcomes:
        o = trial.outcome(fb.outcome)
        if o is None:
            continue
        if fb.complement:
            if o.type == "continuous" or (o.type == "contrast" and o.data.measure not in ("OR", "RD")):
                return None, Reason(f"outcome '{fb.outcome}' cannot be complemented ({o.type} "
                                    f"{getattr(o.data, 'measure', '')})", ReasonCode.NO_COMPLEMENT)
            return complement(o), (f"no outcome '{ms.outcome}': its outcome '{fb.outcome}' ({o.label}) used instead, "
                                   "as its complement (the spec's fallback_outcomes)")
        return o, (f"no outcome '{ms.outcome}': its outcome '{fb.outcome}' ({o.label}) used instead "
                   "(the spec's fallback_outcomes)")
    names = [ms.outcome] + [f.outcome for f in ms.fallback_outcomes]
    return None, Reason(f"no outcome {' or '.join(repr(n) for n in names)}", ReasonCode.NO_OUTCOME)


DROPOUT_SOURCE = Source("arms: randomized - completed", True, "dropouts = randomized - completed per arm")


def dropout_outcome(trial: Trial, ms):
    """The dropout 'outcome' of a trial: per arm, dropouts (all-cause, or for ms.dropout_reason)
    over randomized, from randomized - completed or the arm's dropouts block."""
    reason = getattr(ms, "dropout_reason", "all")
    arms = {a.id: BinaryArmData(a.dropouts_for(reason), a.randomized) for a in trial.arms
            if a.dropouts_for(reason) is not None and a.randomized is not None}
    if len(arms) >= 2:
        from_block = any(a.dropout_reasons and (reason != "all" or a.completed is None) for a in trial.arms)
        source = (Source("arms: dropouts block", False, f"dropouts ({reason.replace('_', ' ')}) / randomized per arm")
                  if from_block else DROPOUT_SOURCE)
        label = "All-cause dropout" if reason == "all" else f"Dropout: {reason.replace('_', ' ')}"
        return Outcome("dropout", label, "binary", "lower_is_better", source, arms), None
    if reason != "all":
        return None, Reason(f"no per-arm dropouts for reason '{reason}' with the arms' randomized numbers",
                            ReasonCode.NO_DATA)
    o = trial.outcome(ms.dropout_outcome)
    if o is not None and o.type == "binary":
        return o, f"dropouts from outcome '{ms.dropout_outcome}' (per-arm randomized/completed not recorded)"
    return None, Reason(f"no per-arm randomized and completed numbers, and no binary outcome '{ms.dropout_outcome}'",
                        ReasonCode.NO_DATA)

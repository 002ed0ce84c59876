"""Records + a meta-analysis's rules -> the :class:`EffectTable` it pools, in one place.

The rules, in order: the spec's ``select`` (trial fields) picks trials; each trial's outcome
is found (``outcome``, else ``fallback_outcomes``, complemented where asked) or, for a
dropout meta-analysis, built from randomized - completed; the arms are compared as
``multi_arm`` says (:mod:`metak.effects.comparisons`); escalc gives yi and vi; rows whose
direction differs from the first are harmonised; rows with no finite effect are excluded
with the reason. What was left out, and why, is returned beside the table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from enum import Enum
from dataclasses import replace as _replace

import numpy as np

from ..errors import MetakError
from ..records.model import BinaryArmData, ContrastData, Outcome, Source, Trial
from .comparisons import build as build_comparisons
from .comparisons import split
from .crossover import paired_effect, rho_effect
from ..sensitivity import blinding_index
from .escalc import (
    BINARY_MEASURES, CONTINUOUS_MEASURES, ContinuityCorrection, contrast_yi_vi, escalc_binary, escalc_continuous,
)
from .table import Effect, EffectTable
from ..vocab import SINGLE_ARM_MEASURES

#: trial fields usable as moderators and subgroups beside the record's ``characteristics``
TRIAL_FIELDS = ("year", "design", "allocation", "masking", "condition", "control_type", "dose", "bang",
                "risk_of_bias")


class ReasonCode(str, Enum):
    """Why a trial or study is in ``excluded``: the stable ``reason_code`` beside the words of
    ``reason`` (code may test the code; the words may be reworded)."""

    EXCLUDED_BY_SPEC = "excluded_by_spec"   # select.exclude names it
    NOT_SELECTED = "not_selected"           # a select filter leaves it out
    NO_OUTCOME = "no_outcome"               # neither the outcome nor a fallback is recorded
    NO_COMPLEMENT = "no_complement"         # the fallback outcome cannot be complemented
    NO_DATA = "no_data"                     # dropout: no per-arm randomized/completed numbers
    MEASURE_MISMATCH = "measure_mismatch"   # the measure does not fit the outcome's data
    NEEDS_TABLES = "needs_tables"           # a reported contrast under MH or PETO
    ARMS = "arms"                           # no experimental/control pair to compare
    CROSSOVER = "crossover"                 # a crossover's paired or rho effect not computable
    DOUBLE_ZERO = "double_zero"             # no events (or only events) in both arms, dropped
    NOT_ESTIMABLE = "not_estimable"         # no finite effect size from the data


#: every ``reason_code`` value (results.schema.json lists the same)
REASON_CODES = tuple(c.value for c in ReasonCode)


class Reason(str):
    """An exclusion's words (the ``str`` itself) with its :class:`ReasonCode` as ``.code``."""

    code: ReasonCode

    def __new__(cls, text: str, code: ReasonCode):
        self = super().__new__(cls, text)
        self.code = code
        return self


def excluded_entry(trial: str, reason: Reason) -> dict:
    """The ``excluded`` entry ``{trial, reason, reason_code}`` of a left-out trial or study."""
    return {"trial": trial, "reason": str(reason), "reason_code": reason.code.value}


@dataclass
class Built:
    """An effect table and what building it found: exclusions, warnings, the outcome's label."""

    table: EffectTable
    excluded: list = field(default_factory=list)
    warnings: list = field(default_factory=list)
    outcome_label: str | None = None
    #: the trials the spec's select kept (before their data were looked at)
    selected: tuple = ()


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
            return complement(o), f"outcome '{fb.outcome}' used as its complement (fallback_outcomes)"
        return o, f"outcome '{fb.outcome}' used (fallback_outcomes)"
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


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _arm_json(d):
    if isinstance(d, BinaryArmData):
        return {"events": _num(d.events), "total": _num(d.total)}
    if hasattr(d, "person_time"):  # issue 27's person-time arm data
        return {"events": _num(d.events), "person_time": _num(d.person_time),
                **({"n": _num(d.n)} if d.n is not None else {})}
    out = {"mean": d.mean, "sd": d.sd, "n": _num(d.n)}
    if getattr(d, "conversion", None):
        out["converted_from"] = d.conversion
    return out


def _control_type(trial: Trial, arm_ids) -> str | None:
    """The control type(s) of the compared control arms, e.g. 'active_placebo'."""
    return ",".join(sorted({trial.arm(a).control_type for a in arm_ids} - {None})) or None


def _participants(trial: Trial, n_exp, n_ctl):
    """People in a comparison: a crossover trial's participants received both arms."""
    return max(n_exp, n_ctl) if trial.design == "crossover" else n_exp + n_ctl


def covariates(trial: Trial, experimental, control_type, outcome: Outcome | None = None) -> dict:
    """A row's moderators: the trial's characteristics, then its fields (TRIAL_FIELDS), with
    ``risk_of_bias`` the overall RoB 2 judgement of the outcome the row comes from."""
    out = dict(trial.characteristics)
    fields = {"year": trial.citation.year, "design": trial.design, "allocation": trial.allocation,
              "masking": trial.masking, "condition": trial.condition, "control_type": control_type}
    if outcome is not None and outcome.risk_of_bias is not None:
        fields["risk_of_bias"] = outcome.risk_of_bias.overall
    doses = {trial.arm(a).dose.value for a in experimental if trial.arm(a).dose is not None}
    if len(doses) == 1 and len(experimental) == 1:
        fields["dose"] = doses.pop()
    # the experimental arm's Bang index from participants' guesses (None when no one answered)
    guesses = [g for g in (trial.blinding.guesses if trial.blinding else ())
               if g.assessor == "participant" and len(experimental) == 1 and g.arm == experimental[0]]
    if len(guesses) == 1:
        g = guesses[0]
        fields["bang"] = blinding_index.bang(g.guessed_experimental, g.guessed_control, g.dont_know)["estimate"]
    for key, value in fields.items():
        if value is not None:
            out.setdefault(key, value)
    return out


#: Chinn (2000): SMD = ln(OR)·√3/π, so var(SMD) = var(ln OR)·3/π²
CHINN = math.sqrt(3) / math.pi


def _other_measure(outcome: Outcome, measure: str) -> str | None:
    """The measure this outcome's data give when it is not ``measure`` (OR <-> SMD only)."""
    if measure == "SMD" and (outcome.type == "binary" or (outcome.type == "contrast" and outcome.data.measure == "OR")):
        return "OR"
    if measure == "OR" and (outcome.type == "continuous" or (outcome.type == "contrast" and outcome.data.measure == "SMD")):
        return "SMD"
    return None


def _needs(measure: str, default: str) -> str:
    """The data a measure needs, in words (issue 27: person-time measures read person_time outcomes;
    the change measures are read from reported contrasts only, in this version)."""
    from ..vocab import MEASURE_TABLE

    kind = getattr(MEASURE_TABLE.get(measure), "data", None)
    return {"person_time": "person-time (type: person_time) or contrast",
            "change": "pre-post change (via metak.escalc) or contrast"}.get(kind, default)


def _rows_for_trial(trial: Trial, outcome: Outcome, ms, cc: ContinuityCorrection):
    """The effects (comparisons with yi/vi) of one trial, or (None, reason)."""
    other = _other_measure(outcome, ms.measure) if ms.mix_measures == "chinn2000" else None
    if other:
        rows, why = _rows_for_trial(trial, outcome, _replace(ms, measure=other, mix_measures=None), cc)
        if not rows:
            return rows, why
        f = CHINN if ms.measure == "SMD" else 1 / CHINN
        note = (f"{other} converted to {ms.measure} by Chinn (2000): "
                + ("SMD = ln(OR) x sqrt(3)/pi, var x 3/pi^2" if ms.measure == "SMD" else
                   "ln(OR) = SMD x pi/sqrt(3), var x pi^2/3"))
        return [_replace(r, yi=r.yi * f, vi=r.vi * f * f, table=None, measure_conversion=note) for r in rows], None
    if ms.measure in SINGLE_ARM_MEASURES:
        from . import single_arm

        if outcome.type == "contrast":
            return None, Reason(f"outcome '{outcome.id}' is a reported contrast; {ms.measure} is a single-arm measure "
                                "of one arm's own data", ReasonCode.MEASURE_MISMATCH)
        return single_arm.rows(trial, outcome, ms, cc, effect=Effect, reason=Reason, codes=ReasonCode,
                               covariates=covariates)
    if outcome.type == "contrast":
        c: ContrastData = outcome.data
        if c.measure != ms.measure:
            return None, Reason(f"outcome '{outcome.id}' is a {c.measure} contrast; this meta-analysis pools "
                                f"{ms.measure}", ReasonCode.MEASURE_MISMATCH)
        if ms.method in ("MH", "PETO"):
            return None, Reason(f"outcome '{outcome.id}' is a reported contrast; {ms.method} needs 2x2 tables",
                                ReasonCode.NEEDS_TABLES)
        yi, vi = contrast_yi_vi(c.measure, c.estimate, c.ci, c.se, c.level)
        sizes = [trial.arm(a).randomized for a in c.experimental + c.control]
        n = sum(sizes) if None not in sizes else None
        if n is None and len(c.experimental + c.control) == len(trial.arms):
            n = trial.randomized_total
        data = {"measure": c.measure, "estimate": c.estimate, "ci": list(c.ci) if c.ci else None,
                "se": c.se, "level": c.level}
        control_type = _control_type(trial, c.control) or (",".join(trial.control_types) or None)
        return [Effect(trial.id, trial.label, " + ".join(c.experimental), " + ".join(c.control), float(yi), float(vi),
                       data, n=n, control_type=control_type, direction=outcome.direction, outcome=outcome.id,
                       covariates=covariates(trial, c.experimental, control_type, outcome), record=trial)], None
    if outcome.type == "binary" and ms.measure not in BINARY_MEASURES:
        need = _needs(ms.measure, "continuous" if ms.measure in CONTINUOUS_MEASURES else "contrast")
        return None, Reason(f"outcome '{outcome.id}' is binary; measure {ms.measure} needs {need} data",
                            ReasonCode.MEASURE_MISMATCH)
    if outcome.type == "continuous" and ms.measure not in CONTINUOUS_MEASURES:
        return None, Reason(f"outcome '{outcome.id}' is continuous; measure {ms.measure} needs "
                            f"{_needs(ms.measure, 'binary')} data", ReasonCode.MEASURE_MISMATCH)
    if outcome.type in ("person_time", "correlation") and ms.measure not in ("IRR", "IRD"):
        return None, Reason(f"outcome '{outcome.id}' is {outcome.type.replace('_', '-')} data; measure {ms.measure} "
                            f"needs {_needs(ms.measure, 'binary or continuous')} data", ReasonCode.MEASURE_MISMATCH)
    arm_data, first = outcome.data, False
    if trial.design == "crossover" and outcome.first_period and not (
            outcome.paired is not None and ms.measure in ("MD", "SMD")):
        arm_data, first = outcome.first_period, True
    override = ms.arms_for(trial.id)
    rule = ms.multi_arm  # a factorial's margin is multi_arm: combine (contract section 2)
    comps, why = build_comparisons(trial, arm_data, rule, override)
    if not comps:
        return None, Reason(why, ReasonCode.ARMS)
    de = trial.cluster.effect if trial.design == "cluster" and trial.cluster is not None else 1.0
    rows = []
    for comp in comps:
        e, c = comp.exp_data, comp.ctl_data
        method, note = _design_method(trial, outcome, comp, ms, first, rule)
        size = (lambda d: d.total) if outcome.type == "binary" else (lambda d: d.n)  # noqa: E731
        # people, before any design effect (a person-time arm's n is optional)
        n = None if None in (size(e), size(c)) else _participants(trial, size(e), size(c))
        # a cluster trial's effective sample sizes: counts and sizes divided by the design effect
        e, c = split(e, de), split(c, de)
        if outcome.type == "binary":
            table = (e.events, e.total - e.events, c.events, c.total - c.events)
            yi, vi = escalc_binary(ms.measure, *[np.array([x], float) for x in table], cc)
        elif outcome.type == "person_time":  # issue 27: IRR, IRD
            from .measures import escalc_person_time

            table = None
            yi, vi = escalc_person_time(ms.measure, [e.events], [e.person_time], [c.events], [c.person_time],
                                        cc.add, cc.to, cc.drop00)
        else:
            table = None
            yi, vi = escalc_continuous(ms.measure, [e.mean], [e.sd], [e.n], [c.mean], [c.sd], [c.n])
            if method in ("paired", "rho"):
                if method == "paired":
                    y, v, why = paired_effect(ms.measure, outcome.paired, e, c)
                else:
                    y, v, why = rho_effect(ms.measure, e, c, ms.crossover_rho)
                if y is None:
                    return None, Reason(f"crossover: {why}", ReasonCode.CROSSOVER)
                yi, vi, note = np.array([y]), np.array([v]), why
                if method == "paired":
                    n = outcome.paired.n
        label = trial.label
        if len(comps) > 1:
            label = f"{trial.label} ({trial.arm(comp.experimental[0]).label})"
        control_type = _control_type(trial, comp.control)
        rows.append(Effect(trial.id, label, comp.exp_name, comp.ctl_name, float(yi[0]), float(vi[0]),
                           {comp.exp_name: _arm_json(e), comp.ctl_name: _arm_json(c)}, table=table, n=n,
                           control_type=control_type, direction=outcome.direction, outcome=outcome.id,
                           split_control=comp.split, covariates=covariates(trial, comp.experimental, control_type, outcome),
                           record=trial, comparison=comp, design_method=method, design_note=note))
    return rows, None


def _design_method(trial: Trial, outcome: Outcome, comp, ms, first: bool, rule: str):
    """(design_method, note) of one comparison: how its trial's design is handled."""
    if trial.design == "crossover":
        p = outcome.paired
        if p is not None and ms.measure in ("MD", "SMD") and comp.experimental == (p.experimental,) \
                and comp.control == (p.control,):
            return "paired", None  # the note comes with the effect
        if first:
            return "first_period", "crossover analysed from its first-period data only, as a parallel trial"
        if ms.crossover_rho is not None and outcome.type == "continuous":
            return "rho", None
        hint = ("; give the record a paired block or first_period data, or the meta-analysis crossover: {rho: ...}"
                if outcome.type == "continuous" else "; give the record first_period data")
        return "parallel", ("crossover analysed as if its arms were independent groups (no pairing information"
                            " and no rho): its weight is conservative" + hint)
    if trial.design == "cluster":
        cl = trial.cluster
        if cl is None:
            return "unadjusted", ("cluster-randomised trial analysed without a design effect (no cluster block): a "
                                  "unit-of-analysis error unless the recorded numbers already allow for clustering; "
                                  "its CI is too narrow")
        if cl.adjusted:
            return "adjusted", "cluster-randomised; the recorded numbers already allow for clustering (as recorded)"
        how = (f"ICC {cl.icc:g}, mean cluster size {cl.mean_cluster_size:g}" if cl.icc is not None
               else "as recorded")
        return "design_effect", (f"cluster-randomised; effective sample sizes: counts and sizes divided by the "
                                 f"design effect {cl.effect:.4g} ({how})")
    if trial.design == "factorial" and ms.arms_for(trial.id) is None:
        if rule == "combine" and (len(comp.experimental) > 1 or len(comp.control) > 1):
            return "margin", ("factorial: the margin comparison, every experimental cell ("
                              + ", ".join(comp.experimental) + ") against every control cell ("
                              + ", ".join(comp.control) + "); this assumes no interaction with the other "
                              "factor; name cells under arms: for a cell comparison")
        if comp.split > 1:
            return "cells", (f"factorial: each experimental cell against the control cells, split {comp.split} ways "
                             "(multi_arm: split_control); the margin is multi_arm: combine, a cell comparison "
                             "arms:")
    return None, None


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
        trial_rows, why = _rows_for_trial(t, outcome, ms, cc)
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
                            "difference (it informs an RD of 0), left out of Q; its own yi is null")
            continue
        why = not_estimable(r, cc)
        excluded.append(excluded_entry(r.trial, Reason(f"{r.label}: {why}", why.code)))
    return Built(table.subset(finite), excluded, warnings, outcome_label, tuple(kept))


def _double_zero(table) -> bool:
    a, b, c, d = table
    return (a == 0 and c == 0) or (b == 0 and d == 0)

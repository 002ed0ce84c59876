"""One trial's outcome -> its effect rows (:class:`~metak.effects.table.Effect` with yi and vi).

The arms are compared as ``multi_arm`` says (:mod:`metak.effects.comparisons`), the trial's
design (crossover, cluster, factorial) is handled as recorded, escalc gives yi and vi, a
reported contrast is read as it is, and OR <-> SMD are converted by Chinn (2000) where the spec
mixes measures. A trial whose data do not give the pooled measure is returned with its
:class:`~metak.effects.reasons.Reason`.
"""

from __future__ import annotations

import math
from dataclasses import replace as _replace

import numpy as np

from ..records.model import BinaryArmData, ContrastData, Outcome, Trial
from ..vocab import BINARY_MEASURES, CONTINUOUS_MEASURES, SINGLE_ARM_MEASURES
from .comparisons import build as build_comparisons
from .comparisons import split
from .covariates import covariates
from .crossover import paired_effect, rho_effect
from .escalc import ContinuityCorrection, contrast_yi_vi, escalc_binary, escalc_continuous
from .reasons import Reason, ReasonCode
from .table import Effect


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
    the change measures one arm's pre_post data)."""
    from ..vocab import MEASURE_TABLE

    kind = getattr(MEASURE_TABLE.get(measure), "data", None)
    return {"person_time": "person-time (type: person_time) or contrast",
            "change": "one arm's pre-post (type: pre_post)"}.get(kind, default)


def _two_arm(measure: str) -> str:
    """The arm data a two-arm measure reads: binary for OR/RR/RD, continuous for MD/SMD (and
    the other continuous measures)."""
    return "binary" if measure in BINARY_MEASURES else "continuous" if measure in CONTINUOUS_MEASURES \
        else "binary or continuous"


def rows_for_trial(trial: Trial, outcome: Outcome, ms, cc: ContinuityCorrection):
    """The effects (comparisons with yi/vi) of one trial, or (None, reason)."""
    other = _other_measure(outcome, ms.measure) if ms.mix_measures == "chinn2000" else None
    if other:
        rows, why = rows_for_trial(trial, outcome, _replace(ms, measure=other, mix_measures=None), cc)
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
    if outcome.type in ("person_time", "correlation", "pre_post") and not (
            outcome.type == "person_time" and ms.measure in ("IRR", "IRD")):
        return None, Reason(f"outcome '{outcome.id}' is {outcome.type.replace('_', '-')} data; measure {ms.measure} "
                            f"needs {_needs(ms.measure, _two_arm(ms.measure))} data", ReasonCode.MEASURE_MISMATCH)
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

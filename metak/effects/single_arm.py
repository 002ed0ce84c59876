"""Effect rows of a single-arm measure: each pooled arm's own data (PLO, PR, PLN, PAS, PFT from
a binary outcome's events/total; IRLN from a person_time outcome; COR, ZCOR from a correlation
outcome's r and n; MC, SMCC, SMCR, SMCRH from a pre_post outcome's baseline and final mean and SD, r
and n).

A meta-analysis of a single-arm measure pools one arm type (contract section 6.2): with
``select: {control_type: [...]}`` the control arms of those types (e.g. the placebo arms'
response), else the experimental arms. Each such arm with data for the outcome is one row: its
data give yi, vi by metafor's escalc (:mod:`metak.effects.measures`); a trial with
two such arms (two dose arms) gives two rows, of different participants. A cluster trial's
counts are divided by its design effect as for two-arm measures.
"""

from __future__ import annotations

import math

from ..records.model import BinaryArmData
from ..vocab import MEASURE_TABLE
from .comparisons import split
from .measures import escalc_change, escalc_correlation, escalc_proportion, escalc_rate

#: the outcome type each kind of single-arm measure reads, and its arm data in words
OUTCOME_TYPE = {"proportion": "binary", "rate": "person_time", "correlation": "correlation", "change": "pre_post"}
_DATA_WORDS = {"binary": "events/total", "person_time": "events/person_time", "correlation": "r/n",
               "pre_post": "baseline and final mean/sd, r, n"}


def arm_type(ms) -> str | None:
    """Which arms a single-arm meta-analysis pools, in words (results.json ``arm_type``); None
    for a fit of given yi, vi (``metak.fit(..., measure="PLO")``): no arms were selected."""
    select = getattr(ms, "select", None)
    if select is None:
        return None
    types = tuple(select.control_type)
    return f"control arms: {', '.join(types)}" if types else "experimental arms"


def pooled_arms(trial, ms):
    """The arms of ``trial`` of the pooled type (see the module docstring)."""
    types = set(ms.select.control_type)
    if types:
        return [a for a in trial.arms if a.role == "control" and a.control_type in types]
    return [a for a in trial.arms if a.role == "experimental"]


def rows(trial, outcome, ms, cc, *, effect, reason, codes, covariates):
    """(rows, None) or (None, reason) for one trial; ``effect``, ``reason``, ``codes`` and
    ``covariates`` are build.py's Effect, Reason, ReasonCode and covariates (passed in to keep
    the import one way)."""
    kind = MEASURE_TABLE[ms.measure].data
    want = OUTCOME_TYPE.get(kind)
    if outcome.type != want:
        return None, reason(f"outcome '{outcome.id}' is {outcome.type}; {ms.measure} is a single-arm measure of "
                            f"{want} arm data ({_DATA_WORDS[want]})", codes.MEASURE_MISMATCH)
    arms = [a for a in pooled_arms(trial, ms) if a.id in outcome.data]
    if not arms:
        return None, reason(f"no {arm_type(ms).replace('arms', 'arm')} with data for outcome '{outcome.id}'",
                            codes.ARMS)
    de = trial.cluster.effect if trial.design == "cluster" and trial.cluster is not None else 1.0
    out, why = [], []
    for arm in arms:
        d = outcome.data[arm.id]
        yi, vi, data, n = _effect(ms.measure, kind, d, de, cc)
        if kind == "change" and not (math.isfinite(yi[0]) and math.isfinite(vi[0])):
            text, code = _change_not_estimable(ms.measure, d, de)
            if text is not None:
                why.append((f"arm '{arm.id}': {text}" if len(arms) > 1 else text, code))
        label = trial.label if len(arms) == 1 else f"{trial.label} ({arm.label})"
        ctype = arm.control_type if arm.role == "control" else None
        note = (f"cluster-randomised; counts divided by the design effect {de:.4g}" if de != 1.0 else None)
        out.append(effect(trial.id, label, arm.id, "", float(yi[0]), float(vi[0]), {arm.id: data}, table=None, n=n,
                          control_type=ctype, direction=outcome.direction, outcome=outcome.id,
                          covariates=covariates(trial, (arm.id,) if arm.role == "experimental" else (), ctype,
                                                outcome),
                          record=trial, design_method="design_effect" if de != 1.0 else None, design_note=note))
    if why and len(why) == len(out):  # no arm estimable: the trial is left out, saying why
        return None, reason("; ".join(t for t, _ in why), why[0][1])
    return out, None


def _change_not_estimable(measure, d, de):
    """(words, ReasonCode) saying why a change-score measure of one pre_post arm is not finite, as
    metafor's escalc gives NA there; (None, None) when no rule explains it. The standardised
    measures multiply by metafor's bias correction c(m) = Γ(m/2) / (√(m/2) Γ((m − 1)/2)) with
    m = n − 1 (.cmicalc), NA for m <= 1: they need n >= 3. (A record's SDs are > 0 and its r lies in
    (-1, 1), so the SDs they divide by are never 0.)"""
    from .reasons import ReasonCode

    n = d.n / de
    if measure in ("SMCC", "SMCR", "SMCRH") and n - 1 <= 1:
        return (f"{measure} needs n >= 3: its small-sample bias correction c(n - 1) = Γ((n - 1)/2) / "
                f"(√((n - 1)/2) Γ((n - 2)/2)) is undefined for n <= 2 (here n = {_num(n):g}; metafor's escalc "
                "gives NA)", ReasonCode.SMALL_SAMPLE)
    return None, None


def _effect(measure, kind, d, de, cc):
    """(yi, vi, the arm's data as results.json writes it, participants) of one arm; a cluster
    trial's counts, person-time and n are divided by its design effect ``de``."""
    if kind == "proportion":
        e: BinaryArmData = split(d, de)
        yi, vi = escalc_proportion(measure, [e.events], [e.total], cc.add, cc.to)
        return yi, vi, {"events": _num(e.events), "total": _num(e.total)}, d.total
    if kind == "rate":
        e = split(d, de)
        yi, vi = escalc_rate(measure, [e.events], [e.person_time], cc.add, cc.to)
        data = {"events": _num(e.events), "person_time": _num(e.person_time)}
        return yi, vi, {**data, **({"n": _num(e.n)} if e.n is not None else {})}, d.n
    if kind == "change":
        return _change(measure, d, de)
    n = d.n / de
    yi, vi = escalc_correlation(measure, [d.r], [n])
    return yi, vi, {"r": d.r, "n": _num(n)}, d.n


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _change(measure, d, de):
    """A (standardised) mean change of one arm (m1i the final mean, m2i the baseline mean, as
    metafor's change measures are final - baseline). SMCR and SMCRH standardise by ``sd1i``, which
    metafor's documentation says is usually the pre-test SD: the baseline SD here (sd2i the final
    SD); MC's and SMCC's change-score SD is symmetric in the two (sd1i the final SD, as in
    metafor's Morris (2008) example). A cluster trial's n is divided by its design effect."""
    n = d.n / de
    b, f = d.baseline_sd, d.final_sd
    sd1, sd2 = (f, b) if measure in ("MC", "SMCC") else (b, f)
    yi, vi = escalc_change(measure, [d.final_mean], [d.baseline_mean], [sd1], [sd2], [n], [d.r])
    data = {"baseline": {"mean": d.baseline_mean, "sd": b}, "final": {"mean": d.final_mean, "sd": f}, "r": d.r,
            "n": _num(n)}
    return yi, vi, data, d.n

"""The summary of findings of one meta-analysis, as GRADE tables print it, and its sensitivity
analyses as a structured table (read from results.json; nothing is computed but the absolute
effects).

Absolute effects (GRADE Handbook 5.2; Cochrane Handbook 14.1.5): an assumed control risk — the
pooled control-arm risk of the included studies (their control events over their control
participants) unless the author states one — is turned into the risk with the intervention
under the pooled effect and its CI bounds, per 1,000, and the difference is written "193 more
per 1,000 (57 fewer to 495 more)". A control risk of 0 or 1 makes ratio effects meaningless:
then the absolute effect is "not estimable". The NNT is given only when the CI of the
difference excludes no difference (an NNT whose CI runs through infinity is not a number a
reader can use).
"""

from __future__ import annotations

import math

from .certainty.report import sof_rows as certainty_rows
from .certainty.size import control_arm
from .format import count, effect, fixed, measure_of, to_natural
from .methods import title
from .schema.record import as_dict
from .sensitivity.missing_outcome import scenario_label

BINARY = ("OR", "RR", "RD")


def pooled_control_risk(ma) -> tuple[float, int, int] | None:
    """(risk, events, participants) over the control arms with binary data, or None (the study
    rows read as :class:`metak.study_rows.StudyRow` records)."""
    from .typed import records

    ev = n = 0
    for row in records(ma).studies:
        d = control_arm(row)
        if d is not None:
            ev += d["events"]
            n += d["total"]
    return (ev / n, ev, n) if n else None


def _risk_e(measure, cr, eff):
    """The intervention-arm risk at control risk cr under a natural-scale effect."""
    if eff is None:
        return None
    if measure == "RR":
        return min(1.0, cr * eff)
    if measure == "OR":
        return eff * cr / (1 - cr + eff * cr)
    return min(1.0, max(0.0, cr + eff))


def _nnt(d, good_is_event) -> dict:
    benefit = (d > 0) == good_is_event
    # rounded up, as NNTs are; the rounding to 9 places keeps 1000/99.99999999999994 at 10
    return {"value": math.ceil(round(1000 / abs(d), 9)), "kind": "NNTB" if benefit else "NNTH"}


def absolute_effects(ma, cr=None) -> dict | None:
    """Per 1,000: the assumed control risk and where it comes from, the risk with the
    intervention with its CI, the difference with its CI, and the NNT (with its CI) when the
    CI of the difference excludes 0. None for a continuous measure or no pooled estimate;
    ``{"not_estimable": reason}`` when no usable control risk exists."""
    from .typed import records

    m = measure_of(ma)
    p = records(ma).pooled
    if m not in BINARY or p.estimate is None:
        return None
    if cr is not None:
        source = "stated by the author"
    else:
        pooled = pooled_control_risk(ma)
        if pooled is None:
            return {"not_estimable": "no control arm has event counts"}
        cr, ev, n = pooled
        source = f"pooled control-arm risk, {count(ev)}/{count(n)}"
        if cr in (0.0, 1.0):
            return {"not_estimable": f"the control arms had {'no' if cr == 0 else 'only'} events ({ev}/{n})"}
    nat = [to_natural(m, x) for x in (p.estimate, p.ci_lower, p.ci_upper)]
    re_ = [_risk_e(m, cr, e) for e in nat]
    diff = [None if r is None else 1000 * (r - cr) for r in re_]
    d = diff[0]
    lo, hi = sorted(diff[1:]) if None not in diff[1:] else (None, None)
    good_is_event = _direction(ma) == "higher_is_better"
    nnt = None
    if d and lo is not None and (lo > 0 or hi < 0):  # the CI excludes no difference
        nnt = _nnt(d, good_is_event)
        bounds = sorted(math.ceil(round(1000 / abs(x), 9)) for x in (lo, hi))
        nnt["ci"] = bounds
    return {"control_risk": cr, "control_risk_source": source, "per_1000_control": 1000 * cr,
            "per_1000_intervention": [None if r is None else 1000 * r for r in re_],
            "difference_per_1000": {"estimate": d, "ci_lower": lo, "ci_upper": hi}, "nnt": nnt}


def more_fewer(x) -> str:
    """GRADE wording of a difference per 1,000: "57 fewer", "495 more", "0 more"."""
    n = round(abs(x))
    return f"{count(n)} {'fewer' if x < 0 and n else 'more'}"


def _direction(ma) -> str:
    """The outcome's direction (document metadata, no analysis's record): as written."""
    return ma.get("direction", "higher_is_better")


def _is_dropout(ma) -> bool:
    """Whether the meta-analysis is of dropout itself (the spec's ``dropout`` flag, document
    metadata written as is)."""
    return bool(ma.get("dropout"))


def _level(ma) -> float:
    """The model's confidence level (document metadata ``model.level``), as written."""
    return (ma.get("model") or {}).get("level", 0.95)


def _prior_fit_row(m, k, alt) -> tuple[str, str, str, str]:
    """The row of one prior-sensitivity fit: an object the Bayesian record leaves undescribed
    (``BayesRecord.prior_sensitivity`` is a bare tuple), so read as written."""
    from .methods_words import prior_text

    mu = alt.get("mu") or {}
    nat = lambda x: effect(to_natural(m, x))  # noqa: E731
    return (f"Bayesian, {prior_text(alt.get('prior', ''))[0]}", str(k),
            f"{nat(mu.get('median'))} [{nat(mu.get('ci_lower'))}, {nat(mu.get('ci_upper'))}]",
            f"P(benefit) = {fixed(alt.get('prob_benefit'), 2, '—')}")


def sof_rows(ma, cr=None) -> list[tuple[str, str]]:
    """(label, value) rows of the summary-of-findings table: the pooled numbers, the Bayesian
    block and the dropout rates read from their records (:func:`metak.typed.records`)."""
    from .typed import records

    m = measure_of(ma)
    view = records(ma)
    p = view.pooled
    rows = [("Outcome", title(ma)),
            ("Studies (k)", str(p.k)),
            ("Participants", count(p.n_participants))]
    if p.estimate is None:
        rows.append(("Effect", "not estimable"))
        return rows
    lv = f"{_level(ma) * 100:g}%"
    rows.append((f"{m} [{lv} CI]", _record_ci(m, p)))
    if p.pi_lower is not None:
        rows.append((f"{lv} prediction interval",
                     f"[{effect(to_natural(m, p.pi_lower))}, {effect(to_natural(m, p.pi_upper))}]"))
    if p.i2 is not None:
        rows.append(("Heterogeneity", f"I² = {fixed(p.i2, 0)}%, τ² = {fixed(p.tau2, 2, '—')}, "
                                      f"Q p = {fixed(p.q_p, 2, '—')}"))
    b = view.get("bayes")
    if b and b.prob_benefit is not None and b.mu:
        mu = b.mu
        nat = lambda x: effect(to_natural(m, x))  # noqa: E731
        rows.append(("Bayesian", f"median {m} {nat(mu.median)} [{nat(mu.ci_lower)}, {nat(mu.ci_upper)}]; "
                                 f"P(benefit) = {fixed(b.prob_benefit, 2)}"))
    dr = view.get("dropout_rates")
    if dr and dr.rates and not _is_dropout(ma):
        rows.append(("Dropout", "; ".join(
            f"{d.label or d.trial}: {count(d.experimental.dropouts)}/{count(d.experimental.randomized)} experimental "
            f"vs {count(d.control.dropouts)}/{count(d.control.randomized)} control" for d in dr.rates)))
    ab = absolute_effects(ma, cr)
    if ab and "not_estimable" in ab:
        rows.append(("Absolute effect", f"not estimable: {ab['not_estimable']}"))
    elif ab:
        d = ab["difference_per_1000"]
        ie = ab["per_1000_intervention"]
        rows.append(("Assumed control risk", f"{count(ab['per_1000_control'])} per 1,000 ({ab['control_risk_source']})"))
        rows.append(("Risk with intervention", f"{count(ie[0])} per 1,000 ({count(ie[1])} to {count(ie[2])})"))
        if d["ci_lower"] is not None:
            rows.append(("Absolute effect", f"{more_fewer(d['estimate'])} per 1,000 "
                                            f"({more_fewer(d['ci_lower'])} to {more_fewer(d['ci_upper'])})"))
        if ab["nnt"]:
            n = ab["nnt"]
            rows.append((n["kind"], f"{n['value']} ({n['ci'][0]} to {n['ci'][1]})"))
    if view.get("certainty"):  # filled by the GRADE-certainty analysis when it runs
        rows += certainty_rows(ma)
    return rows


# --------------------------------------------------------------------------- sensitivity table

SENSITIVITY_COLUMNS = ("Analysis", "Studies", "Estimate [CI]", "Note")


def _record_ci(m, r) -> str:
    """``estimate [ci_lower, ci_upper]`` of a record (a refit, a scenario), natural scale."""
    nat = lambda x: effect(to_natural(m, x))  # noqa: E731
    return f"{nat(r.estimate)} [{nat(r.ci_lower)}, {nat(r.ci_upper)}]"


def sensitivity_rows(ma) -> list[tuple[str, str, str, str]]:
    """(analysis, k, estimate [CI] on the natural scale, note) for each sensitivity result, read
    from the analyses' records (:func:`metak.typed.records`)."""
    from .methods_sentences import BIAS_SOURCES
    from .typed import records

    m = measure_of(ma)
    view = records(ma)
    rows = []

    def fit(name, r, note="", k=None):
        if r and r.estimate is not None:
            rows.append((name, str(r.k if k is None else k), _record_ci(m, r), note))

    loo = view.get("leave_one_out")
    for r in loo.rows if loo else ():
        fit(f"Leaving out {r.label or r.omitted}", r)
    b = view.get("blinding")
    if b:
        fit("Adequately blinded trials only", b.restricted)
        if not b.restricted and b.reasons.get("restricted"):
            rows.append(("Adequately blinded trials only", "0", "—", b.reasons["restricted"]))
        for e in b.by_source:
            fit(f"Bias-adjusted: {BIAS_SOURCES.get(e.source, (e.source,))[0]}", e, f"{e.k_adjusted} trials adjusted")
        t = b.tipping_point
        if t.bias is not None:
            rows.append(("Tipping point", "—", "—", f"a bias of {fixed(t.bias, 2)} in the {t.k_shifted} trials "
                                                   "not adequately blinded brings the CI to the null"))
    ap = view.get("active_placebo")
    if ap:
        fit("Active-placebo-controlled trials only", ap.restricted)
        if ap.p_between is not None:
            rows.append(("Active vs inert placebo", "—", "—", f"test for subgroup differences p = "
                                                              f"{fixed(ap.p_between, 2)}"))
        effs = ap.assumed_effect or ()
        for e in (effs if len(effs) <= 3 else [effs[0], effs[len(effs) // 2], effs[-1]]):
            fit(f"Active placebo's own effect {e.effect:g} added back", e.fit, f"{e.k_shifted} comparisons shifted")
    mo = view.get("missing_outcome")
    for sc in mo.scenarios if mo else ():
        name = scenario_label(as_dict(sc)) if sc.name in ("imor", "imdom") else sc.name.replace("_", " ")
        fit(f"Missing outcome data: {name}", sc)
    rob = view.get("risk_of_bias")
    if rob:
        fit("Low risk of bias only", rob.restricted)
    ss = view.get("small_study")
    if ss and ss.run and ss.trim_fill:
        tf = ss.trim_fill
        fit("Trim-and-fill", tf, f"{tf.k0} studies filled on the {tf.side}", k=(view.pooled.k or 0) + (tf.k0 or 0))
    b = view.get("bayes")
    for alt in (b.prior_sensitivity if b else ()) or ():
        rows.append(_prior_fit_row(m, view.pooled.k, alt))
    return rows

"""The GRADE rules: a suggested rating per domain from the results of the meta-analysis, with
the rule that produced it and its numbers. Randomized trials start at high certainty; each
domain rates down 0, 1 or 2 levels (Guyatt et al. 2011, GRADE guidelines 3, J Clin Epidemiol
64:401). Every rule reads the results of the meta-analysis and nothing else, so a reader can check
each reason against the numbers: the pooled numbers, the study rows and the analyses' records
(:func:`metak.typed.records`; a rule given a results.json meta-analysis object reads it as
records, :func:`suggest` builds them once). docs/certainty.md lists the rules with their sources.
"""

from __future__ import annotations

from ..format import effect, to_natural
from ..schema.record import ABSENT

RATING_OF = {0: "not_serious", 1: "serious", 2: "very_serious"}
WORDS = {1: "one level", 2: "two levels"}

# -- risk of bias (GRADE guidelines 4, Guyatt 2011, J Clin Epidemiol 64:407; Cochrane Handbook 14.2.2)
#: share of the analysis weight (%) from trials at high overall RoB 2 risk: rate down one, two
ROB_HIGH_ONE, ROB_HIGH_TWO = 25.0, 50.0
#: share of weight at high risk or some concerns that rates down one level
ROB_CONCERNS_ONE = 50.0
#: share of weight in trials whose blinding the Bang index classified as compromised
BLIND_COMPROMISED_ONE = 50.0
# -- inconsistency (GRADE guidelines 7, Guyatt 2011, J Clin Epidemiol 64:1294; Handbook 10.10.2)
I2_SERIOUS, I2_VERY_SERIOUS = 50.0, 75.0
# -- publication bias (GRADE guidelines 5, Guyatt 2011, 64:1277; Sterne 2011, BMJ 343:d4002)
MIN_K_PUBLICATION = 10
EGGER_P = 0.10


def _pct(x) -> str:
    return f"{x:.0f}%"


def _view(ma):
    """``ma`` read as records (:func:`metak.typed.records`), or ``ma`` when it already is."""
    from ..typed import MetaRecords, records

    return ma if isinstance(ma, MetaRecords) else records(ma)


def _given(value):
    """None for an optional record field that was not written (:data:`ABSENT`)."""
    return None if value is ABSENT else value


def _nat(ma, x) -> str:
    v = to_natural(_view(ma).measure, x)
    return "NA" if v is None else effect(v)  # the one formatter: "0.00017", never "0.00" for a ratio


def _ci_text(ma, lo, hi) -> str:
    return f"{_nat(ma, lo)} to {_nat(ma, hi)}"


def _weight(ma, trials) -> float:
    """The study rows' weights (%) of ``trials``, summed."""
    return sum(row.weight or 0.0 for row in _view(ma).studies if row.trial in trials)


def _criterion(levels: int, rule: str, reason: str, **numbers) -> dict:
    return {"levels": levels, "rule": rule, "reason": reason, "numbers": numbers}


# --- risk of bias --------------------------------------------------------------------------

def rob2(ma) -> dict | None:
    view = _view(ma)
    rob = view.get("risk_of_bias")
    if not rob:
        return None
    overall = rob.summary["overall"] if "overall" in rob.summary else None
    w = {"high": 0.0, "some_concerns": 0.0, "not_assessed": 0.0, **((overall.weight if overall else None) or {})}
    high, sc, na = w["high"], w["some_concerns"], w["not_assessed"]
    nums = {"weight_high": high, "weight_some_concerns": sc, "weight_not_assessed": na}
    text = f"{_pct(high)} of the weight from trials at high risk of bias (RoB 2), {_pct(sc)} with some concerns"
    if na >= 50.0:
        return _criterion(0, "rob2_not_assessed", f"RoB 2 not assessed for {_pct(na)} of the weight: not rated "
                                                  "from it", **nums)
    if high >= ROB_HIGH_TWO:
        return _criterion(2, f"rob2_high_weight>={ROB_HIGH_TWO:g}%", text, **nums)
    if high >= ROB_HIGH_ONE or high + sc >= ROB_CONCERNS_ONE:
        return _criterion(1, f"rob2_high_weight>={ROB_HIGH_ONE:g}% or high+some_concerns>={ROB_CONCERNS_ONE:g}%",
                          text, **nums)
    return _criterion(0, "rob2_mostly_low", text, **nums)


def blinding(ma) -> dict | None:
    view = _view(ma)
    bl = view.get("blinding")
    if not bl:
        return None
    status = {c.trial: c.status for c in bl.classification or ()}
    comp = _weight(ma, {t for t, s in status.items() if s == "compromised"})
    unknown = _weight(ma, {t for t, s in status.items() if s == "unknown"})
    nums = {"weight_compromised": comp, "weight_unknown": unknown}
    if comp >= BLIND_COMPROMISED_ONE:
        return _criterion(1, f"blinding_compromised_weight>={BLIND_COMPROMISED_ONE:g}%",
                          f"{_pct(comp)} of the weight from trials whose blinding was compromised (Bang index)", **nums)
    text = f"blinding compromised in {_pct(comp)} of the weight"
    if unknown > 0:
        text += f", unknown (no allocation guesses) in {_pct(unknown)}: not rated down for unknown blinding alone"
    return _criterion(0, "blinding_adequate_or_unknown", text, **nums)


def _excludes_null(lo, hi) -> bool:
    return lo is not None and hi is not None and (lo > 0 or hi < 0)


def missing_outcome(ma, sign: int) -> dict | None:
    """GRADE guidelines 17 (Guyatt et al. 2017, J Clin Epidemiol 87:14): re-analyse under
    plausible assumptions about the missing participants (the IMOR/IMDOM scenarios the spec
    gives, not the extreme best/worst case) and rate down when the plausible worst case changes
    the inference: the CI's exclusion of the null, or the direction of the estimate."""
    view = _view(ma)
    mo = view.get("missing_outcome")
    if not mo:
        return None
    scenarios = mo.scenarios or ()
    base = next((sc for sc in reversed(scenarios) if sc.name == "available_case"), None)
    plausible = [sc for sc in scenarios if sc.name in ("imor", "imdom") and sc.estimate is not None]
    if base is None or base.estimate is None or not plausible:
        return _criterion(0, "missing_no_plausible_scenario", "missing outcome data: no plausible-scenario "
                          "(imor/imdom) re-analysis to judge it by (GRADE 17); not rated down for it")
    worst = min(plausible, key=lambda sc: sign * sc.estimate)
    label = (f"IMOR {worst.imor_experimental:g}/{worst.imor_control:g}" if worst.imor_experimental is not None
             else f"IMDOM {_given(worst.imdom_experimental)}/{_given(worst.imdom_control)}")
    nums = {"scenario": label, "estimate": worst.estimate, "ci_lower": worst.ci_lower,
            "ci_upper": worst.ci_upper, "available_case_estimate": base.estimate}
    text = (f"plausible worst case ({label}, experimental/control) {_nat(ma, worst.estimate)} "
            f"[{_ci_text(ma, worst.ci_lower, worst.ci_upper)}] vs available case {_nat(ma, base.estimate)} "
            f"[{_ci_text(ma, base.ci_lower, base.ci_upper)}]")
    changed = (_excludes_null(base.ci_lower, base.ci_upper)
               != _excludes_null(worst.ci_lower, worst.ci_upper)
               or (base.estimate > 0) != (worst.estimate > 0))
    if changed:
        return _criterion(1, "missing_plausible_worst_case_changes_inference", text + ": the inference changes",
                          **nums)
    return _criterion(0, "missing_plausible_worst_case_same_inference",
                      text + ": the inference does not change", **nums)


def risk_of_bias(ma, sign: int) -> dict:
    """The worst of its criteria: RoB 2, the blinding classification, missing outcome data."""
    r = rob2(ma)
    if r is None:
        r = _criterion(0, "rob2_not_run", "no RoB 2 assessment in this analysis (sensitivity: [risk_of_bias]): "
                       "not rated from it")
    return _domain([c for c in (r, blinding(ma), missing_outcome(ma, sign)) if c is not None])


def _domain(crit: list[dict]) -> dict:
    levels = min(2, max((cr["levels"] for cr in crit), default=0))
    return {"rating": RATING_OF[levels], "levels": levels, "source": "rule",
            "rule": "; ".join(cr["rule"] for cr in crit), "reason": "; ".join(cr["reason"] for cr in crit),
            "criteria": crit}


# --- inconsistency -------------------------------------------------------------------------

def _crosses(lo, hi, at=0.0) -> bool:
    return lo is not None and hi is not None and lo < at < hi


def inconsistency(ma) -> dict:
    view = _view(ma)
    p = view.pooled
    k, i2 = p.k or 0, p.i2
    if k < 2 or i2 is None:
        return _domain([_criterion(0, "single_study", f"k = {k}: no between-study inconsistency to assess")])
    pil, piu = p.pi_lower, p.pi_upper
    pi_text = (f"prediction interval {_ci_text(ma, pil, piu)} {'crosses' if _crosses(pil, piu) else 'does not cross'} "
               "the null") if pil is not None else "no prediction interval (common-effect model)"
    crosses = _crosses(pil, piu) if pil is not None else (p.q_p is not None and p.q_p < 0.10)
    nums = {"i2": i2, "pi_lower": pil, "pi_upper": piu, "q_p": p.q_p}
    text = f"I² = {_pct(i2)}, {pi_text}"
    levels = 0
    if i2 >= I2_VERY_SERIOUS and crosses:
        levels = 2
    elif i2 >= I2_SERIOUS and crosses:
        levels = 1
    rule = (f"I2>={I2_VERY_SERIOUS:g}% and PI crosses null" if levels == 2 else
            f"I2>={I2_SERIOUS:g}% and PI crosses null" if levels == 1 else
            f"I2<{I2_SERIOUS:g}% or PI on one side of the null")
    if not levels:
        text += (f": I² below {I2_SERIOUS:g}%, not rated down" if i2 < I2_SERIOUS
                 else ", not rated down" if pil is not None else ": Q p >= 0.10, not rated down")
    crit = [_criterion(levels, rule, text, **nums)]
    sub = view.get("subgroups")
    test = sub.test if sub else None
    if levels and test and test.p_between is not None and test.p_between < 0.05:
        crit.append(_criterion(-1, "explained_by_subgroups",
                               f"subgroups by {test.by} explain part of it (test for subgroup differences "
                               f"p = {test.p_between:.3f}): one level less", p_between=test.p_between))
        levels -= 1
    out = _domain([cr for cr in crit if cr["levels"] >= 0])
    out.update(levels=levels, rating=RATING_OF[levels], criteria=crit,
               reason="; ".join(cr["reason"] for cr in crit), rule="; ".join(cr["rule"] for cr in crit))
    return out


# --- imprecision ---------------------------------------------------------------------------

def imprecision(ma, mid: float | None, info: dict | None, tsa: dict | None) -> dict:
    """GRADE guidelines 6 (Guyatt et al. 2011, J Clin Epidemiol 64:1283): rate down when the CI
    includes the null (no threshold given) or an important effect and its absence (one
    level), both an important benefit and an important harm (two levels), or when the
    participants fall short of the optimal information size. The trial sequential boundaries
    are reported beside it, not used to rate (Cochrane Handbook 22.4)."""
    p = _view(ma).pooled
    lo, hi = p.ci_lower, p.ci_upper
    ci = f"CI {_ci_text(ma, lo, hi)}"
    if mid is None:
        cr = _crosses(lo, hi)
        crit = [_criterion(int(cr), "ci_crosses_null" if cr else "ci_excludes_null",
                           f"{ci} {'includes' if cr else 'excludes'} the null (no minimal important difference "
                           "given: threshold = null)", ci_lower=lo, ci_upper=hi)]
    else:
        n_cross = sum(_crosses(lo, hi, t) for t in (-mid, 0.0, mid))
        both = _crosses(lo, hi, -mid) and _crosses(lo, hi, mid)
        levels = 2 if both else (1 if n_cross else 0)
        thr = f"{_nat(ma, -mid)} and {_nat(ma, mid)}"
        crit = [_criterion(levels, "ci_crosses_both_mid" if both else ("ci_crosses_threshold" if n_cross else
                                                                         "ci_within_one_side"),
                           f"{ci} {'includes both' if both else ('crosses' if n_cross else 'does not cross')} "
                           f"the minimal important differences {thr}{'' if both or n_cross else ' or the null'}",
                           ci_lower=lo, ci_upper=hi, mid=mid)]
    if info is None or info.get("required") is None:
        crit.append(_criterion(0, "ois_not_computed", (info or {}).get("reason") or "optimal information size "
                               "not computed"))
    else:
        n, ris = info["n_participants"], info["required"]
        short = n is not None and n < ris
        text = (f"{n:,.0f} participants of an optimal information size of {ris:,} ({_pct(100 * n / ris)}; "
                f"{info['basis']}, D² = {_pct(100 * info['d2'])})") if n is not None else "participants unknown"
        crit.append(_criterion(int(short), "ois_not_met" if short else "ois_met", text, n_participants=n,
                               required=ris))
    out = _domain(crit)
    if tsa is not None:
        seq = ("the cumulative Z curve crossed the O'Brien-Fleming monitoring boundary at " + tsa["crossed_at"]
               if tsa.get("crossed_at") else "the cumulative Z curve did not cross the O'Brien-Fleming monitoring "
               "boundary")
        out["reason"] += f"; TSA (an aid, not a stopping rule): {seq}"
    return out


# --- publication bias ----------------------------------------------------------------------

def publication_bias(ma) -> dict:
    view = _view(ma)
    k = view.pooled.k or 0
    ss = view.get("small_study")
    if k < MIN_K_PUBLICATION and not (ss and ss.run):
        return _na(f"not assessable: k = {k} < {MIN_K_PUBLICATION}, too few studies for the small-study tests "
                   "(Sterne 2011); not rated down", "k<10")
    crit = []
    if ss and ss.run and ss.egger:
        p = ss.egger.p_value
        tf = ss.trim_fill
        k0 = tf.k0 if tf else None
        extra = (f"; trim-and-fill adds {k0} stud{'y' if k0 == 1 else 'ies'}, estimate {_nat(ma, tf.estimate)}"
                 if k0 else "")
        crit.append(_criterion(int(p is not None and p < EGGER_P), f"egger_p<{EGGER_P:g}" if p is not None and
                               p < EGGER_P else f"egger_p>={EGGER_P:g}",
                               f"Egger's test p = {p:.3f}{extra}", egger_p=p, k=k))
    sm = view.get("selection_model")
    if sm:
        p = sm.lrt["p_value"]
        if isinstance(p, (int, float)):
            crit.append(_criterion(int(p < 0.05), "selection_model_lrt_p<0.05" if p < 0.05 else
                                   "selection_model_lrt_p>=0.05",
                                   f"selection model likelihood-ratio test p = {p:.3f}"
                                   + (f", adjusted estimate {_nat(ma, sm.estimate)}"
                                      if isinstance(sm.estimate, (int, float)) else ""), lrt_p=p))
    if not crit:
        return _na(f"not assessed: k = {k} but no small-study test or selection model was asked for "
                   "(sensitivity: [small_study]); not rated down", "no_test")
    return _domain(crit)


def _na(reason: str, rule: str) -> dict:
    return {"rating": "not_assessed", "levels": 0, "source": "rule", "rule": rule, "reason": reason,
            "criteria": []}


def indirectness() -> dict:
    return _na("not assessed: indirectness is the authors' judgement (certainty: {indirectness: {rating, "
               "reason}}); not rated down", "authors_judgement_not_given")


def overall(domains: dict) -> tuple[str, int]:
    down = sum(d["levels"] for d in domains.values())
    return {0: "high", 1: "moderate", 2: "low"}.get(down, "very_low"), down


SYMBOLS = {"high": "⊕⊕⊕⊕", "moderate": "⊕⊕⊕◯", "low": "⊕⊕◯◯", "very_low": "⊕◯◯◯"}


def footnotes(domains: dict) -> list[str]:
    """GRADEpro-style footnotes: one per domain rated down (or rated by the authors)."""
    out = []
    for name, d in domains.items():
        if d["levels"] == 0 and d["source"] == "rule":
            continue
        letter = chr(ord("a") + len(out))
        what = name.replace("_", " ")
        how = f"Rated down {WORDS[d['levels']]}" if d["levels"] else "Not rated down"
        who = " (authors' judgement)" if d["source"] == "spec" else ""
        out.append(f"{letter}. {how} for {what}{who}: {d['reason']}.")
    return out


def suggest(ma: dict, sign: int, mid, info, tsa) -> dict:
    """Every domain's suggested rating from the results (``ma`` read as records once)."""
    ma = _view(ma)
    return {"risk_of_bias": risk_of_bias(ma, sign), "inconsistency": inconsistency(ma),
            "indirectness": indirectness(), "imprecision": imprecision(ma, mid, info, tsa),
            "publication_bias": publication_bias(ma)}



"""The methods sentences of the registered sensitivity analyses: each analysis's registry
``methods`` hook, ``sentence(result, cite) -> str | None``, written from its result in
results.json (what ran), never from its settings. None when the result shows nothing ran.

Each hook reads the analysis's typed record (:func:`metak.typed.record_of`: its results.json
value rebuilt as the record its registry entry declares, or the record itself), not raw keys: a
value that does not match its record is a :class:`metak.typed.ResultsMismatch`, never a
sentence written from a missing key."""

from __future__ import annotations

from .methods_words import names
from .schema.record import ABSENT
from .typed import record_of

#: a bias preset's references: the source study, and Page et al. 2016 where the ROR is theirs
BIAS_SOURCES = {
    "savovic2012": ("Savović et al.", ("savovic2012", "page2016")),
    "hrobjartsson2012": ("Hróbjartsson et al. (2012)", ("hrobjartsson2012", "page2016")),
    "hrobjartsson2014": ("Hróbjartsson et al. (2014)", ("hrobjartsson2014", "page2016")),
    "metablind2020_participants": ("MetaBLIND (lack of patient blinding)", ("moustgaard2020",)),
    "metablind2020_double": ("MetaBLIND (lack of double blinding)", ("moustgaard2020",)),
    "metablind2020_pro_benefit": ("MetaBLIND (patient-reported benefit outcomes)", ("moustgaard2020",)),
}


def _source(name, cite) -> str:
    if name in BIAS_SOURCES:
        text, keys = BIAS_SOURCES[name]
        return f"{text} {cite(*keys)}"
    return "the bias stated in the analysis spec"


def _given(value):
    """None for an optional field that was not written (:data:`ABSENT`)."""
    return None if value is ABSENT else value


def leave_one_out(result, cite):
    if not record_of("leave_one_out", result).rows:
        return None
    return f"Each study was left out in turn (leave-one-out analysis) {cite('vc2010')}."


def influence(result, cite):
    if not record_of("influence", result).rows:
        return None
    return ("Influence diagnostics (studentised residuals, DFFITS, Cook's distances, covariance ratios) and a Baujat "
            f"plot identified influential studies {cite('vc2010')}.")


def small_study(result, cite):
    r = record_of("small_study", result)
    if not r.run:
        return f"Tests for small-study effects were not run ({r.reason})." if r.reason else None
    return ("Small-study effects were tested by Egger's regression test, the mixed-effects regression test and the "
            f"rank correlation test, and trim-and-fill was applied {cite('egger1997', 'begg1994', 'duval2000')}.")


def cumulative(result, cite):
    r = record_of("cumulative", result)
    if not r.steps:
        return None
    order = str(r.order).replace("_", " ")
    return f"Studies were added one at a time in order of {order} (cumulative meta-analysis) {cite('lau1992')}."


def missing_outcome(result, cite):
    r = record_of("missing_outcome", result)
    scen = r.scenarios
    if not scen:
        return None
    kinds = []
    seen = {s.name for s in scen}
    continuous = r.measure in ("MD", "SMD") or "imdom" in seen
    for name, text in (("available_case", "available cases"), ("missing_as_failure", "missing counted as failure"),
                       ("missing_as_success", "missing counted as success"), ("best_case", "best case"),
                       ("worst_case", "worst case")):
        if name in seen:
            kinds.append(text)
    if continuous:
        vals = sorted({_given(s.imdom_experimental) for s in scen if s.name == "imdom"} - {None})
        kinds.append("informative missingness differences of means" + (f" of {names([f'{v:g}' for v in vals])}"
                                                                       if vals else ""))
        ref = cite("mavridis2015")
    else:
        vals = sorted({s.imor_experimental for s in scen if s.name == "imor"} - {None})
        if vals:
            kinds.append(f"informative missingness odds ratios of {names([f'{v:g}' for v in vals])}")
        ref = cite("hww2008")
    tip = r.tipping_imdom or r.tipping_imor
    found = tip and (tip.imdom if hasattr(tip, "imdom") else tip.imor) is not None
    extra = "; the common value at which the conclusion changes was sought" if found else ""
    return f"Missing outcome data were handled as {names(kinds)} {ref}{extra}."


def crossover_rho(result, cite):
    r = record_of("crossover_rho", result)
    vals = [v.rho for v in r.values]
    if not vals:
        return None
    who = list(r.studies)
    return (f"The crossover trials without paired data{' (' + names(who) + ')' if who else ''} were refitted under "
            f"assumed within-participant correlations of {names([f'{v:g}' for v in vals])} {cite('elbourne2002')}.")


def risk_of_bias(result, cite):
    r = record_of("risk_of_bias", result)
    out = f"Risk of bias was assessed with RoB 2 {cite('sterne2019')}"
    parts = []
    if r.restricted:
        parts.append("the analysis was restricted to trials at low overall risk")
    if r.subgroups.q_between is not None:
        parts.append("trials were compared by overall risk")
    return out + ("; " + " and ".join(parts) if parts else "") + "."


def active_placebo(result, cite):
    r = record_of("active_placebo", result)
    out = []
    if r.q_between is not None:
        out.append(f"Trials were compared by control type (active or inert placebo) by Cochran's Q between subgroups "
                   f"{cite('borenstein2013')}")
    if r.restricted:
        out.append("the pooled estimate was also computed over the active-placebo-controlled trials alone")
    rows = r.assumed_effect or ()
    if rows:
        eff = sorted(e.effect for e in rows)
        rng = f"{eff[0]:g}" if len(eff) == 1 else f"from {eff[0]:g} to {eff[-1]:g}"
        out.append(f"an assumed own effect of the active placebo ({rng} on the analysis scale) was added back to the "
                   "comparisons against it")
    if not out:
        return None
    text = "; ".join(out)
    return text[0].upper() + text[1:] + "."


def blinding(result, cite):
    r = record_of("blinding", result)
    who = r.rule.assessor
    assessed = [c for c in r.classification if c.status != "unknown"]
    if assessed:
        out = [f"Blinding was assessed from {who}s' allocation guesses by the Bang and James indices "
               f"{cite('bang2004', 'james1996')}; a trial was taken as adequately blinded when |Bang index| ≤ "
               f"{r.rule.max_bang:g} in every compared arm"]
    else:
        out = [f"No included trial reported {who}s' allocation guesses, so every trial was taken as at risk of "
               "unblinding"]
    if r.restricted:
        out.append("the analysis was repeated in the adequately blinded trials alone")
    a = r.bias_adjusted
    if a:
        bay = " (frequentist and Bayesian)" if a.bayes else ""
        out.append(f"the pooled estimate was adjusted{bay} for bias in the {a.k_adjusted} trials not adequately "
                   f"blinded {cite('turner2009')} under the bias estimate of {_source(a.shift.source, cite)}")
        others = [e.source for e in r.by_source if e.source != a.shift.source]
        if others:
            out.append(f"and, for comparison, under {names([_source(s, cite) for s in others])}")
    if r.tipping_point.bias is not None:
        out.append("the tipping point is the bias at which the confidence interval reaches the null")
    out += _shared_and_cgrc(r, cite)
    return out[0] + ("; " + "; ".join(out[1:]).replace("; and,", " and,") if len(out) > 1 else "") + "."


def _shared_and_cgrc(r, cite) -> list:
    """The shared-bias model and the CGRC (metak/sensitivity/shared_bias_analysis.py, cgrc.py), as ran."""
    out = []
    sb = r.shared_bias
    if sb and sb.estimate is not None and sb.beta_mode in ("fixed", "estimate"):
        b, kap = sb.bias, sb.kappa
        beta = (f"fixed at the estimate of {_source(_given(getattr(b, 'source', None)), cite)} with its uncertainty "
                "shared by those trials" if sb.beta_mode == "fixed" else "estimated by REML from the adequately and "
                "the not adequately blinded trials")
        kind, est = (kap.kind, kap.estimate) if kap is not None else (None, 0)
        k = "estimated by REML" if kind == "estimated (REML)" else f"fixed at {est:.3g}"
        bay = " and by its exact posterior (numerical integration over tau and kappa)" if sb.bayes else ""
        out.append(f"a bias shared by the {sb.k_compromised} trials not adequately blinded was modelled as a "
                   f"common mean bias (beta) with a between-trial SD (kappa) {cite('welton2009')}, beta {beta} and "
                   f"kappa {k}, fitted by REML with z-based intervals{bay}")
    cg = r.cgrc
    n = sum(t.estimate is not None for t in cg.trials) if cg else 0
    if n:
        pooled = cg.pooled is not None and cg.pooled.estimate is not None
        out.append(f"for the {n} trial(s) reporting outcomes by allocation guess, the effect at a chance-level correct "
                   "guess rate (0.5) was estimated by the Correct Guess Rate Curve of Szigeti et al. (2023)"
                   + (" and pooled" if pooled and n > 1 else ""))
    return out

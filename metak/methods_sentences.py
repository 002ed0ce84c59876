"""The methods sentences of the registered sensitivity analyses: each analysis's registry
``methods`` hook, ``sentence(result, cite) -> str | None``, written from its result in
results.json (what ran), never from its settings. None when the result shows nothing ran."""

from __future__ import annotations

from .methods_words import names

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


def leave_one_out(result, cite):
    if not result:
        return None
    return f"Each study was left out in turn (leave-one-out analysis) {cite('vc2010')}."


def influence(result, cite):
    if not result:
        return None
    return ("Influence diagnostics (studentised residuals, DFFITS, Cook's distances, covariance ratios) and a Baujat "
            f"plot identified influential studies {cite('vc2010')}.")


def small_study(result, cite):
    if not result.get("run"):
        return f"Tests for small-study effects were not run ({result.get('reason')})." if result.get("reason") else None
    return ("Small-study effects were tested by Egger's regression test, the mixed-effects regression test and the "
            f"rank correlation test, and trim-and-fill was applied {cite('egger1997', 'begg1994', 'duval2000')}.")


def cumulative(result, cite):
    if not result.get("steps"):
        return None
    order = str(result.get("order", "year")).replace("_", " ")
    return f"Studies were added one at a time in order of {order} (cumulative meta-analysis) {cite('lau1992')}."


def missing_outcome(result, cite):
    scen = result.get("scenarios") or []
    if not scen:
        return None
    kinds = []
    seen = {s["name"] for s in scen}
    continuous = result.get("measure") in ("MD", "SMD") or "imdom" in seen
    for name, text in (("available_case", "available cases"), ("missing_as_failure", "missing counted as failure"),
                       ("missing_as_success", "missing counted as success"), ("best_case", "best case"),
                       ("worst_case", "worst case")):
        if name in seen:
            kinds.append(text)
    if continuous:
        vals = sorted({s.get("imdom_experimental") for s in scen if s["name"] == "imdom"} - {None})
        kinds.append("informative missingness differences of means" + (f" of {names([f'{v:g}' for v in vals])}"
                                                                       if vals else ""))
        ref = cite("mavridis2015")
    else:
        vals = sorted({s.get("imor_experimental") for s in scen if s["name"] == "imor"} - {None})
        if vals:
            kinds.append(f"informative missingness odds ratios of {names([f'{v:g}' for v in vals])}")
        ref = cite("hww2008")
    tip = result.get("tipping_imdom") or result.get("tipping_imor") or {}
    extra = "; the common value at which the conclusion changes was sought" if any(
        tip.get(k) is not None for k in ("imor", "imdom")) else ""
    return f"Missing outcome data were handled as {names(kinds)} {ref}{extra}."


def crossover_rho(result, cite):
    vals = [v.get("rho") for v in result.get("values") or []]
    if not vals:
        return None
    who = result.get("studies") or []
    who = [s if isinstance(s, str) else (s.get("label") or s.get("trial")) for s in who]
    return (f"The crossover trials without paired data{' (' + names(who) + ')' if who else ''} were refitted under "
            f"assumed within-participant correlations of {names([f'{v:g}' for v in vals])} {cite('elbourne2002')}.")


def risk_of_bias(result, cite):
    out = f"Risk of bias was assessed with RoB 2 {cite('sterne2019')}"
    parts = []
    if result.get("restricted"):
        parts.append("the analysis was restricted to trials at low overall risk")
    if (result.get("subgroups") or {}).get("q_between") is not None:
        parts.append("trials were compared by overall risk")
    return out + ("; " + " and ".join(parts) if parts else "") + "."


def active_placebo(result, cite):
    out = []
    if result.get("q_between") is not None:
        out.append(f"Trials were compared by control type (active or inert placebo) by Cochran's Q between subgroups "
                   f"{cite('borenstein2013')}")
    if result.get("restricted"):
        out.append("the pooled estimate was also computed over the active-placebo-controlled trials alone")
    rows = result.get("assumed_effect") or []
    if rows:
        eff = sorted(r["effect"] for r in rows)
        rng = f"{eff[0]:g}" if len(eff) == 1 else f"from {eff[0]:g} to {eff[-1]:g}"
        out.append(f"an assumed own effect of the active placebo ({rng} on the analysis scale) was added back to the "
                   "comparisons against it")
    if not out:
        return None
    text = "; ".join(out)
    return text[0].upper() + text[1:] + "."


def blinding(result, cite):
    cls = result.get("classification") or []
    rule = result.get("rule") or {}
    who = rule.get("assessor", "participant")
    assessed = [c for c in cls if c.get("status") != "unknown"]
    if assessed:
        out = [f"Blinding was assessed from {who}s' allocation guesses by the Bang and James indices "
               f"{cite('bang2004', 'james1996')}; a trial was taken as adequately blinded when |Bang index| ≤ "
               f"{rule.get('max_bang', 0.2):g} in every compared arm"]
    else:
        out = [f"No included trial reported {who}s' allocation guesses, so every trial was taken as at risk of "
               "unblinding"]
    if result.get("restricted"):
        out.append("the analysis was repeated in the adequately blinded trials alone")
    a = result.get("bias_adjusted")
    if a:
        bay = " (frequentist and Bayesian)" if (a.get("bayes") or {}).get("mu") else ""
        out.append(f"the pooled estimate was adjusted{bay} for bias in the {a.get('k_adjusted')} trials not adequately "
                   f"blinded {cite('turner2009')} under the bias estimate of {_source(a.get('source'), cite)}")
        others = [e["source"] for e in result.get("by_source") or [] if e.get("source") != a.get("source")]
        if others:
            out.append(f"and, for comparison, under {names([_source(s, cite) for s in others])}")
    if (result.get("tipping_point") or {}).get("bias") is not None:
        out.append("the tipping point is the bias at which the confidence interval reaches the null")
    out += _shared_and_cgrc(result, cite)
    return out[0] + ("; " + "; ".join(out[1:]).replace("; and,", " and,") if len(out) > 1 else "") + "."


def _shared_and_cgrc(result, cite) -> list:
    """The shared-bias model and the CGRC (metak/sensitivity/shared_bias_analysis.py, cgrc.py), as ran."""
    out = []
    sb = result.get("shared_bias")
    if sb and sb.get("estimate") is not None and sb.get("beta_mode") in ("fixed", "estimate"):
        b, kap = sb.get("bias") or {}, sb.get("kappa") or {}
        beta = (f"fixed at the estimate of {_source(b.get('source'), cite)} with its uncertainty shared by those trials"
                if sb["beta_mode"] == "fixed" else "estimated by REML from the adequately and the not adequately "
                "blinded trials")
        k = "estimated by REML" if kap.get("kind") == "estimated (REML)" else f"fixed at {kap.get('estimate', 0):.3g}"
        bay = " and by its exact posterior (numerical integration over tau and kappa)" if sb.get("bayes") else ""
        out.append(f"a bias shared by the {sb.get('k_compromised')} trials not adequately blinded was modelled as a "
                   f"common mean bias (beta) with a between-trial SD (kappa) {cite('welton2009')}, beta {beta} and "
                   f"kappa {k}, fitted by REML with z-based intervals{bay}")
    cg = result.get("cgrc")
    n = sum(t.get("estimate") is not None for t in (cg or {}).get("trials", []))
    if n:
        out.append(f"for the {n} trial(s) reporting outcomes by allocation guess, the effect at a chance-level correct "
                   "guess rate (0.5) was estimated by the Correct Guess Rate Curve of Szigeti et al. (2023)"
                   + (" and pooled" if (cg.get("pooled") or {}).get("estimate") is not None and n > 1 else ""))
    return out

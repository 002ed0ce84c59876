"""A methods paragraph generated from the settings a results document records, with its
citations (numbered in order of first use) and the reference list.

Everything is read from results.json — the estimator, CI method, prediction interval,
continuity correction, multi-arm handling, priors, sensitivity analyses and software versions —
so the text describes what was run, not what a spec meant to run."""

from __future__ import annotations

from .registry import KEYED

REFERENCES = {
    "dl1986": "DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials 1986;7:177-188.",
    "viechtbauer2005": "Viechtbauer W. Bias and efficiency of meta-analytic variance estimators in the random-effects "
                       "model. J Educ Behav Stat 2005;30:261-293.",
    "pm1982": "Paule RC, Mandel J. Consensus values and weighting factors. J Res Natl Bur Stand 1982;87:377-385.",
    "sj2005": "Sidik K, Jonkman JN. Simple heterogeneity variance estimation for meta-analysis. J R Stat Soc C "
              "2005;54:367-384.",
    "hedges1985": "Hedges LV, Olkin I. Statistical Methods for Meta-Analysis. Academic Press; 1985.",
    "morris1983": "Morris CN. Parametric empirical Bayes inference: theory and applications. J Am Stat Assoc "
                  "1983;78:47-55.",
    "mh1959": "Mantel N, Haenszel W. Statistical aspects of the analysis of data from retrospective studies of disease. "
              "J Natl Cancer Inst 1959;22:719-748.",
    "rbg1986": "Robins J, Breslow N, Greenland S. Estimators of the Mantel-Haenszel variance consistent in both sparse "
               "data and large-strata limiting models. Biometrics 1986;42:311-323.",
    "yusuf1985": "Yusuf S, Peto R, Lewis J, Collins R, Sleight P. Beta blockade during and after myocardial infarction: "
                 "an overview of the randomized trials. Prog Cardiovasc Dis 1985;27:335-371.",
    "hk2001": "Hartung J, Knapp G. A refined method for the meta-analysis of controlled clinical trials with binary "
              "outcome. Stat Med 2001;20:3875-3889.",
    "sj2002": "Sidik K, Jonkman JN. A simple confidence interval for meta-analysis. Stat Med 2002;21:3153-3159.",
    "ht2002": "Higgins JPT, Thompson SG. Quantifying heterogeneity in a meta-analysis. Stat Med 2002;21:1539-1558.",
    "viechtbauer2007": "Viechtbauer W. Confidence intervals for the amount of heterogeneity in meta-analysis. Stat Med "
                       "2007;26:37-52.",
    "hts2009": "Higgins JPT, Thompson SG, Spiegelhalter DJ. A re-evaluation of random-effects meta-analysis. J R Stat "
               "Soc A 2009;172:137-159.",
    "inthout2014": "IntHout J, Ioannidis JPA, Borm GF. The Hartung-Knapp-Sidik-Jonkman method for random effects "
                   "meta-analysis is straightforward and considerably outperforms the standard DerSimonian-Laird "
                   "method. BMC Med Res Methodol 2014;14:25.",
    "inthout2016": "IntHout J, Ioannidis JPA, Rovers MM, Goeman JJ. Plea for routinely presenting prediction intervals "
                   "in meta-analysis. BMJ Open 2016;6:e010247.",
    "handbook2023": "Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for Systematic Reviews of "
                    "Interventions, version 6.4. Cochrane; 2023.",
    "gleser2009": "Gleser LJ, Olkin I. Stochastically dependent effect sizes. In: Cooper H, Hedges LV, Valentine JC "
                  "(eds). The Handbook of Research Synthesis and Meta-Analysis, 2nd ed. Russell Sage; 2009:357-376.",
    "viechtbauer2010": "Viechtbauer W. Conducting meta-analyses in R with the metafor package. J Stat Softw "
                       "2010;36(3):1-48.",
    "turner2015": "Turner RM, Jackson D, Wei Y, Thompson SG, Higgins JPT. Predictive distributions for between-study "
                  "heterogeneity and simple methods for their application in Bayesian meta-analysis. Stat Med "
                  "2015;34:984-998.",
    "rhodes2015": "Rhodes KM, Turner RM, Higgins JPT. Predictive distributions were developed for the extent of "
                  "heterogeneity in meta-analyses of continuous outcome data. J Clin Epidemiol 2015;68:52-60.",
    "rover2020": "Röver C. Bayesian random-effects meta-analysis using the bayesmeta R package. J Stat Softw "
                 "2020;93(6):1-51.",
    "pymc2023": "Abril-Pla O, Andreani V, Carroll C, et al. PyMC: a modern and comprehensive probabilistic programming "
                "framework in Python. PeerJ Comput Sci 2023;9:e1516.",
    "vc2010": "Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis. Res Synth Methods "
              "2010;1:112-125.",
    "lau1992": "Lau J, Antman EM, Jimenez-Silva J, et al. Cumulative meta-analysis of therapeutic trials for "
               "myocardial infarction. N Engl J Med 1992;327:248-254.",
    "egger1997": "Egger M, Davey Smith G, Schneider M, Minder C. Bias in meta-analysis detected by a simple, graphical "
                 "test. BMJ 1997;315:629-634.",
    "begg1994": "Begg CB, Mazumdar M. Operating characteristics of a rank correlation test for publication bias. "
                "Biometrics 1994;50:1088-1101.",
    "duval2000": "Duval S, Tweedie R. Trim and fill: a simple funnel-plot-based method of testing and adjusting for "
                 "publication bias in meta-analysis. Biometrics 2000;56:455-463.",
    "hww2008": "Higgins JPT, White IR, Wood AM. Imputation methods for missing outcome data in meta-analysis of "
               "clinical trials. Clin Trials 2008;5:225-239.",
    "mavridis2015": "Mavridis D, White IR, Higgins JPT, Cipriani A, Salanti G. Allowing for uncertainty due to missing "
                    "continuous outcome data in pairwise and network meta-analysis. Stat Med 2015;34:721-741.",
    "bang2004": "Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. Control Clin Trials "
                "2004;25:143-156.",
    "james1996": "James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing blindness in a "
                 "multi-centre clinical trial: disulfiram for alcohol cessation. Stat Med 1996;15:1421-1434.",
    "savovic2012": "Savović J, Jones HE, Altman DG, et al. Influence of reported study design characteristics on "
                   "intervention effect estimates from randomized, controlled trials. Ann Intern Med "
                   "2012;157:429-438.",
    "turner2009": "Turner RM, Spiegelhalter DJ, Smith GCS, Thompson SG. Bias modelling in evidence synthesis. J R Stat "
                  "Soc A 2009;172:21-47.",
    "borenstein2013": "Borenstein M, Higgins JPT. Meta-analysis and subgroups. Prev Sci 2013;14:134-143.",
    "sterne2019": "Sterne JAC, Savović J, Page MJ, et al. RoB 2: a revised tool for assessing risk of bias in "
                  "randomised trials. BMJ 2019;366:l4898.",
    "elbourne2002": "Elbourne DR, Altman DG, Higgins JPT, Curtin F, Worthington HV, Vail A. Meta-analyses involving "
                    "cross-over trials: methodological issues. Int J Epidemiol 2002;31:140-149.",
    "ht2004": "Higgins JPT, Thompson SG. Controlling the risk of spurious findings from meta-regression. Stat Med "
              "2004;23:1663-1682.",
    "orsini2012": "Orsini N, Li R, Wolk A, Khudyakov P, Spiegelman D. Meta-analysis for linear and nonlinear "
                  "dose-response relations: examples, an evaluation of approximations, and software. Am J Epidemiol "
                  "2012;175:66-73.",
    "chinn2000": "Chinn S. A simple method for converting an odds ratio to effect size for use in meta-analysis. Stat "
                 "Med 2000;19:3127-3131.",
}

MEASURES = {"OR": "odds ratios", "RR": "risk ratios", "RD": "risk differences", "MD": "mean differences",
            "SMD": "standardised mean differences (Hedges' g)", "HR": "hazard ratios"}
ESTIMATORS = {"DL": ("the DerSimonian-Laird estimator", "dl1986"),
              "REML": ("restricted maximum likelihood (REML)", "viechtbauer2005"),
              "ML": ("maximum likelihood (ML)", "viechtbauer2005"),
              "PM": ("the Paule-Mandel estimator", "pm1982"),
              "SJ": ("the Sidik-Jonkman estimator", "sj2005"),
              "HE": ("the Hedges estimator", "hedges1985"),
              "EB": ("the empirical Bayes estimator", "morris1983")}


class _Cites:
    def __init__(self):
        self.order: list[str] = []

    def __call__(self, *keys) -> str:
        nums = []
        for k in keys:
            if k not in self.order:
                self.order.append(k)
            nums.append(self.order.index(k) + 1)
        return "[" + ", ".join(str(n) for n in sorted(nums)) + "]"

    def references(self) -> list[str]:
        return [f"{i + 1}. {REFERENCES[k]}" for i, k in enumerate(self.order)]


def _cc(cc: dict, measure: str) -> str | None:
    if measure not in ("OR", "RR", "RD") or not cc:
        return None
    to = cc.get("to", "only0")
    add = cc.get("add", 0.5)
    if to == "none" or add == 0:
        text = "No continuity correction was applied"
    else:
        where = {"only0": "to every cell of a 2×2 table with a zero cell", "all": "to every cell of every table",
                 "if0all": "to every cell of every table when any table had a zero cell"}.get(to, to)
        text = f"{add:g} was added {where}"
    if cc.get("drop00"):
        text += "; tables with no events (or only events) in both arms were left out"
    return text + "."


def _model(ma, cite) -> list[str]:
    m = ma["model"]
    method, test, level = m["method"], m["test"], m["level"]
    pct = f"{level * 100:g}%"
    out = []
    measure = ma["measure"]
    if method == "FE":
        out.append(f"{MEASURES.get(measure, measure).capitalize()} were pooled with the inverse-variance "
                   "common-effect (fixed-effect) model.")
    elif method == "MH":
        extra = f" with the variance of Robins, Breslow and Greenland {cite('rbg1986')}" if measure == "OR" else ""
        out.append(f"{MEASURES.get(measure, measure).capitalize()} were pooled by the Mantel-Haenszel method "
                   f"{cite('mh1959')}{extra}.")
    elif method == "PETO":
        out.append(f"Odds ratios were pooled by Peto's one-step method {cite('yusuf1985')}.")
    else:
        name, key = ESTIMATORS[method]
        out.append(f"{MEASURES.get(measure, measure).capitalize()} were pooled with a random-effects model, the "
                   f"between-study variance τ² estimated by {name} {cite(key)}.")
    if test == "hksj":
        out.append(f"{pct} confidence intervals and tests of the pooled effect used the Hartung-Knapp-Sidik-Jonkman "
                   f"method (a t distribution on k − 1 degrees of freedom) {cite('hk2001', 'sj2002', 'inthout2014')}.")
    else:
        out.append(f"{pct} confidence intervals and tests of the pooled effect were Wald-type (normal distribution).")
    if method not in ("FE", "MH", "PETO"):
        crit = "t on k − 1 degrees of freedom" if test == "hksj" else "the normal quantile"
        out.append(f"Heterogeneity was described by Cochran's Q, I² {cite('ht2002')} and τ² with its Q-profile "
                   f"confidence interval {cite('viechtbauer2007')}; the {pct} prediction interval is "
                   f"μ̂ ± c·√(τ̂² + SE²) with c from {crit} {cite('hts2009', 'inthout2016')}.")
    else:
        out.append(f"Heterogeneity was described by Cochran's Q and I² {cite('ht2002')}.")
    cc = _cc(m.get("cc") or {}, measure)
    if cc:
        out.append(cc)
    multi = m.get("multi_arm")
    studies = ma.get("studies") or []
    several = any((st.get("split_control") or 1) > 1 or any(" + " in a for a in (st.get("data") or {}))
                  for st in studies) or multi == "multivariate"
    if not several:
        pass
    elif multi == "split_control":
        out.append("In trials with several experimental arms, each was compared with the control group, whose "
                   f"participants were split evenly between the comparisons {cite('handbook2023')}.")
    elif multi == "combine":
        out.append(f"Arms of the same role within a trial were combined into one group {cite('handbook2023')}.")
    elif multi == "select":
        out.append("In trials with several arms of one role, the arms compared were chosen in the analysis spec.")
    elif multi == "multivariate":
        out.append("Multi-arm trials kept every comparison against the whole control group; the covariance between "
                   "comparisons sharing a control was computed exactly and the model fitted as a multilevel model "
                   f"(trials, comparisons within trials) {cite('gleser2009', 'viechtbauer2010')}.")
    return out


def _bayes(ma, cite) -> list[str]:
    b = ma.get("bayes")
    if not b:
        return []
    pr = b.get("prior") or {}
    tau = pr.get("tau", "")
    keys = []
    if "turner2015" in tau:
        keys.append("turner2015")
    if "rhodes2015" in tau:
        keys.append("rhodes2015")
    src = f" {cite(*keys)}" if keys else ""
    lik = ("a binomial likelihood on the arm-level counts" if b.get("likelihood") == "binomial"
           else "a normal likelihood on the study estimates")
    engine = (f"computed exactly by numerical integration over τ {cite('rover2020')}" if b.get("engine") == "exact"
              else f"sampled by MCMC (NUTS) in PyMC {cite('pymc2023')}")
    return [f"A Bayesian random-effects model with {lik} used the priors μ ~ {pr.get('mu')} and τ ~ {tau}{src}; "
            f"the posterior was {engine}. Posterior medians with {b.get('level', 0.95) * 100:g}% equal-tailed "
            "credible intervals, the predictive interval for a new trial and the probability of benefit are "
            "reported."]


SENSITIVITY = {
    "leave_one_out": lambda c: f"a leave-one-out analysis {c('vc2010')}",
    "cumulative": lambda c: f"a cumulative meta-analysis {c('lau1992')}",
    "influence": lambda c: f"influence diagnostics (studentised residuals, DFFITS, Cook's distances) {c('vc2010')}",
    "small_study": lambda c: ("tests for small-study effects (Egger's regression test, the rank correlation test) and "
                              f"trim-and-fill {c('egger1997', 'begg1994', 'duval2000')}"),
    "missing_outcome": lambda c, ma: (
        f"missing-outcome sensitivity analyses with informative missingness differences of means {c('mavridis2015')}"
        if ma.get("measure") in ("MD", "SMD") else
        "missing-outcome sensitivity analyses (available case, missing as failure or success, best and worst case, "
        f"informative missingness odds ratios) {c('hww2008')}"),
    "blinding": lambda c: ("blinding indices from participants' and assessors' guesses and bias-adjusted analyses "
                           f"for trials with compromised blinding {c('bang2004', 'james1996', 'savovic2012', 'turner2009')}"),
    "active_placebo": lambda c: (f"a comparison of active- and inert-placebo-controlled trials {c('borenstein2013')} "
                                 "with an assumed own effect of the active placebo"),
    "risk_of_bias": lambda c: f"analyses by RoB 2 risk of bias {c('sterne2019')}",
    "crossover_rho": lambda c: f"a sensitivity analysis over the assumed within-participant correlation of crossover "
                               f"trials {c('elbourne2002')}",
}


def _extras(ma, cite) -> list[str]:
    out = []
    sens = [k for k in (ma.get("sensitivity") or {}) if k in SENSITIVITY]
    if sens:
        parts = [SENSITIVITY[k](cite, ma) if k == "missing_outcome" else SENSITIVITY[k](cite) for k in sens]
        out.append("Sensitivity analyses: " + "; ".join(parts) + ".")
    if ma.get("meta_regression"):
        mr = ma["meta_regression"]
        names = ", ".join(c["name"] for c in mr.get("coefficients", []) if c["name"] != "intercept")
        perm = f", with a permutation test {cite('ht2004')}" if mr.get("permutation") else ""
        out.append(f"A mixed-effects meta-regression on {names} was fitted{perm}.")
    if ma.get("subgroups"):
        out.append(f"Subgroup differences were tested by Cochran's Q between subgroups {cite('borenstein2013')}.")
    for name, kind in KEYED.items():  # each registered analysis writes its own sentence
        sentence = kind.sentence() if ma.get(name) else None
        if sentence is not None:
            out.append(sentence(ma[name], cite))
    if ma.get("dropout"):
        out.append("Dropout was analysed as its own outcome; trials without dropouts in either arm were left out of "
                   f"ratio measures, as RevMan does {cite('handbook2023')}.")
    designs = {s.get("design", {}).get("method") for s in ma.get("studies") or []} - {None}
    if designs & {"paired", "rho", "parallel", "first_period"}:
        out.append(f"Crossover trials were analysed by paired methods where the data allowed {cite('elbourne2002')}.")
    if designs & {"design_effect"}:
        out.append(f"Cluster-randomised trials entered with effective sample sizes {cite('handbook2023')}.")
    return out


def methods(doc: dict) -> tuple[list[str], list[str]]:
    """(paragraphs, references) for a results document: one paragraph per meta-analysis and
    one on software, citations numbered in order of first use."""
    cite = _Cites()
    paras = []
    for ma in doc["meta_analyses"]:
        title = ma.get("title") or ma["id"]
        body = _model(ma, cite) + _bayes(ma, cite) + _extras(ma, cite)
        paras.append(f"{title}. " + " ".join(body))
    env = doc.get("environment") or {}
    paras.append(f"Analyses were run with metak {doc.get('metak_version')} (Python {env.get('python')}, NumPy "
                 f"{env.get('numpy')}, SciPy {env.get('scipy')}), whose frequentist estimates are checked against R's "
                 f"metafor {cite('viechtbauer2010')}; every number can be re-derived from the trial files with "
                 "`metak verify`.")
    return paras, cite.references()

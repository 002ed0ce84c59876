"""A methods paragraph generated from what a results document shows was run, with its citations
(numbered in order of first use) and the reference list.

Every sentence is written from a result that exists, never from a setting alone: the test
actually used (a Knapp-Hartung request with k = 1 ran as z, and the document has no df), the
prediction interval only when one was computed, a continuity correction only when a table had a
zero cell it applied to (the trials named), crossover and cluster trials as their rows say they
were analysed, every prior in words with its source, the prior-sensitivity priors, and each
sensitivity analysis from its own result (the sentences of the registered analyses are their
registry ``methods`` hooks, :mod:`metak.methods_sentences`). ``tests/test_methods_claims.py``
checks each claim against the results for a matrix of settings.

The references are CSL-JSON records (:mod:`metak.references`), exportable as BibTeX and RIS.
"""

from __future__ import annotations

from .methods_words import _g, names
from .references import RECORDS, vancouver
from .registry import KEYED, SENSITIVITY
from .typed import records

#: every reference metak can cite, by id, in the report's Vancouver form
REFERENCES = {k: vancouver(k) for k in RECORDS}

MEASURES = {"OR": "odds ratios", "RR": "risk ratios", "RD": "risk differences", "MD": "mean differences",
            "SMD": "standardised mean differences (Hedges' g)", "HR": "hazard ratios"}
ONE_MEASURE = {"OR": "odds ratio", "RR": "risk ratio", "RD": "risk difference", "MD": "mean difference",
               "SMD": "standardised mean difference", "HR": "hazard ratio"}
#: issue 27's measures (metak.effects.measures), in the same two forms
MEASURES.update({
    "PLO": "logit-transformed proportions", "PR": "raw proportions", "PLN": "log-transformed proportions",
    "PAS": "arcsine-square-root-transformed proportions",
    "PFT": "Freeman-Tukey double-arcsine-transformed proportions", "IRR": "incidence rate ratios",
    "IRD": "incidence rate differences", "IRLN": "log incidence rates", "COR": "correlation coefficients",
    "ZCOR": "Fisher's z-transformed correlation coefficients",
    "SMDH": "standardised mean differences allowing for unequal variances (Bonett 2009)", "ROM": "ratios of means",
    "VR": "variability ratios", "CVR": "coefficient of variation ratios",
    "SMCC": "standardised mean changes (change-score standardisation)", "MC": "raw mean changes",
    "SMCR": "standardised mean changes (raw-score standardisation)",
    "SMCRH": "standardised mean changes (raw-score standardisation, with the variances at the two occasions "
             "allowed to differ)"})
ONE_MEASURE.update({
    "PLO": "logit-transformed proportion", "PR": "proportion", "PLN": "log-transformed proportion",
    "PAS": "arcsine-transformed proportion", "PFT": "Freeman-Tukey-transformed proportion",
    "IRR": "incidence rate ratio", "IRD": "incidence rate difference", "IRLN": "log incidence rate",
    "COR": "correlation coefficient", "ZCOR": "Fisher's z-transformed correlation", "SMDH": "standardised mean "
    "difference (unequal variances)", "ROM": "ratio of means", "VR": "variability ratio",
    "CVR": "coefficient of variation ratio", "SMCC": "standardised mean change", "SMCR": "standardised mean change",
    "MC": "mean change",
    "SMCRH": "standardised mean change"})
ESTIMATORS = {"DL": ("the DerSimonian-Laird estimator", "dl1986"),
              "REML": ("restricted maximum likelihood (REML)", "viechtbauer2005"),
              "ML": ("maximum likelihood (ML)", "viechtbauer2005"),
              "PM": ("the Paule-Mandel estimator", "pm1982"),
              "SJ": ("the Sidik-Jonkman estimator", "sj2005"),
              "HE": ("the Hedges estimator", "hedges1985"),
              "EB": ("the empirical Bayes estimator", "morris1983")}
COMMON = ("FE", "MH", "PETO")


class Cites:
    """``cite("a", "b") -> "[1, 2]"``, numbering references in order of first use."""

    def __init__(self):
        self.order: list[str] = []

    def __call__(self, *keys) -> str:
        nums = []
        for k in keys:
            if k not in REFERENCES:
                raise KeyError(f"methods text cites an unknown reference {k!r}")
            if k not in self.order:
                self.order.append(k)
            nums.append(self.order.index(k) + 1)
        return "[" + ", ".join(str(n) for n in sorted(set(nums))) + "]"

    def references(self) -> list[str]:
        return [f"{i + 1}. {REFERENCES[k]}" for i, k in enumerate(self.order)]


_Cites = Cites  # the name the registry's hooks were written against


# --------------------------------------------------------------------------- the model

def _meta(ma, *path):
    """Document metadata of a meta-analysis as written (``measure``, ``model.method``, ...: the
    spec's settings, which no analysis's record holds); a KeyError when a key is absent."""
    node = ma
    for key in path:
        node = node[key]
    return node


def _opt(ma, *path):
    """Optional document metadata as written (``arm_type``, ``title``, ``model.test``, ...),
    None when absent."""
    node = ma
    for key in path:
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _cc(ma) -> tuple[str, float]:
    """The continuity correction's settings (``model.cc``, metadata): (to, add)."""
    cc = _meta(ma, "model").get("cc") or {}
    return cc.get("to", "only0"), cc.get("add", 0.5)


def _arms(row):
    """(experimental, control) arm data of a study row (a StudyRow record's ``data``: the trial
    record's numbers, which the record leaves undescribed), or (None, None)."""
    d = row.data or {}
    return d.get(row.experimental), d.get(row.control)


def _name(row) -> str:
    """A study row's label, else its trial id."""
    return row.label or row.trial


def zero_cell_trials(ma) -> list[str]:
    """Labels of the studies whose 2x2 table has a zero cell (no events or only events in an arm)."""
    out = []
    for row in records(ma).studies:
        e, c = _arms(row)
        if all(isinstance(x, dict) and "events" in x and "total" in x for x in (e, c)):
            if any(x["events"] == 0 or x["events"] == x["total"] for x in (e, c)):
                out.append(_name(row))
    return out


def _tables(ma) -> int:
    return sum(all(isinstance(x, dict) and "events" in x for x in _arms(row)) for row in records(ma).studies)


def cc_sentence(ma, cite) -> str | None:
    """The continuity correction, only when it changed a table."""
    measure, method = _meta(ma, "measure"), _meta(ma, "model", "method")
    to, add = _cc(ma)
    if measure not in ("OR", "RR", "RD") or not _tables(ma):
        return None
    zero = zero_cell_trials(ma)
    applies = add and to != "none" and (to == "all" or zero)
    if not applies:
        return None
    if to == "only0":
        what = (f"{_g(add)} was added to every cell of the 2×2 table{'s' if len(zero) > 1 else ''} with a zero cell "
                f"({names(zero)})")
    else:
        what = f"{_g(add)} was added to every cell of every 2×2 table"
        if to == "if0all":
            what += f", since {names(zero)} had a zero cell"
    if method in ("MH", "PETO"):
        what += (" for the study estimates and the heterogeneity statistics; the pooled "
                 f"{'Mantel-Haenszel' if method == 'MH' else 'Peto'} estimate used the counts as recorded")
    return what[0].upper() + what[1:] + f" {cite('handbook2023')}."


def _df(df) -> str:
    return f"{df:g} degree{'' if df == 1 else 's'} of freedom"


def _cap(text: str) -> str:
    """The first letter upper case, the rest kept (str.capitalize would write "hedges' g")."""
    return text[:1].upper() + text[1:]


def _arms_pooled(ma) -> str | None:
    """The sentence saying which arms a single-arm measure pooled (results.json ``arm_type``)."""
    kind = _opt(ma, "arm_type")
    if not kind:
        return None
    if kind.startswith("control arms: "):
        return (f"Each study contributed the data of its {kind[len('control arms: '):].replace('_', ' ')} "
                "control arm(s) alone (one row per arm), not a comparison between arms.")
    return "Each study contributed the data of its experimental arm(s) alone (one row per arm), not a comparison " \
           "between arms."


def _model(ma, cite) -> list[str]:
    method, level, measure = _meta(ma, "model", "method"), _meta(ma, "model", "level"), _meta(ma, "measure")
    pct = f"{level * 100:g}%"
    pooled = MEASURES.get(measure, measure)
    view = records(ma)
    p = view.pooled
    k = p.k or 0
    if k == 1:
        rows = view.studies
        return [f"Only one trial ({_name(rows[0]) if rows else None}) contributed, so its "
                f"{ONE_MEASURE.get(measure, measure)} is reported with a Wald-type {pct} confidence interval (normal "
                "distribution); between-study heterogeneity and a prediction interval cannot be estimated from one "
                "trial."] + ([_arms_pooled(ma)] if _arms_pooled(ma) else []) + _data_handling(ma, cite)
    out = []
    if method == "FE":
        out.append(f"{_cap(pooled)} were pooled with the inverse-variance common-effect (fixed-effect) model.")
    elif method == "MH":
        mh = cite("mh1959")  # numbered first: it comes first in the sentence
        extra = f" with the variance of Robins, Breslow and Greenland {cite('rbg1986')}" if measure == "OR" else ""
        out.append(f"{_cap(pooled)} were pooled by the Mantel-Haenszel method {mh}{extra}.")
    elif method == "PETO":
        out.append(f"Odds ratios were pooled by Peto's one-step method {cite('yusuf1985')}.")
    else:
        name, key = ESTIMATORS[method]
        out.append(f"{_cap(pooled)} were pooled with a random-effects model, the between-study variance τ² "
                   f"estimated by {name} {cite(key)}.")
    if _arms_pooled(ma):  # issue 27: a single-arm measure pools one arm type
        out.append(_arms_pooled(ma))
    hksj = _opt(ma, "model", "test") == "hksj" and p.df is not None  # what ran, not what was asked for
    if hksj:
        out.append(f"{pct} confidence intervals and tests of the pooled effect used the Hartung-Knapp-Sidik-Jonkman "
                   f"method (a t distribution on k − 1 = {_df(p.df)}) "
                   f"{cite('hk2001', 'sj2002', 'inthout2014')}.")
    else:
        out.append(f"{pct} confidence intervals and tests of the pooled effect were Wald-type (normal distribution).")
    het = []
    if p.q is not None:
        het.append("Cochran's Q")
    if p.i2 is not None:
        het.append(f"I² {cite('ht2002')}")
    if method not in COMMON and p.tau2 is not None:
        het.append(f"τ² with its Q-profile confidence interval {cite('viechtbauer2007')}"
                   if p.tau2_ci is not None else "τ²")
    if het:
        out.append(f"Heterogeneity was described by {names(het)}.")
    if p.pi_lower is not None:
        crit = f"t on {_df(p.df)}" if hksj else "the normal quantile"
        out.append(f"The {pct} prediction interval is μ̂ ± c·√(τ̂² + SE²) with c from {crit} "
                   f"{cite('hts2009', 'inthout2016')}.")
    return out + _data_handling(ma, cite)


def _data_handling(ma, cite) -> list[str]:
    cc = cc_sentence(ma, cite)
    return ([cc] if cc else []) + _multi_arm(ma, cite) + _designs(ma, cite) + _conversions(ma, cite)


def _multi_arm(ma, cite) -> list[str]:
    multi = _opt(_meta(ma, "model"), "multi_arm")
    rows = records(ma).studies
    split = [row.label for row in rows if (row.split_control or 1) > 1]
    combined = [row.label for row in rows if any(" + " in a for a in (row.data or {}))]
    if multi == "multivariate" and len({row.trial for row in rows}) < len(rows):
        return ["Multi-arm trials kept every comparison against the whole control group; the covariance between "
                "comparisons sharing a control was computed exactly and the model fitted as a multilevel model "
                f"(trials, comparisons within trials) {cite('gleser2009', 'viechtbauer2010')}."]
    if split:
        return [f"In {names(sorted(set(split)))}, each experimental arm was compared with the control group, whose "
                f"participants were split evenly between the comparisons {cite('handbook2023')}."]
    if combined:
        return [f"Arms of the same role were combined into one group in {names(sorted(set(combined)))} "
                f"{cite('handbook2023')}."]
    return []


_DESIGN = {  # (one trial, several)
    "paired": ("was analysed by its paired (within-participant) data", "were analysed by their paired data"),
    "first_period": ("was analysed from its first-period data only, as a parallel trial",
                     "were analysed from their first-period data only, as parallel trials"),
    "rho": ("was analysed with an assumed within-participant correlation",
            "were analysed with an assumed within-participant correlation"),
    "parallel": ("was analysed as if its arms were independent groups (no pairing data were available), which "
                 "gives it a conservative weight",
                 "were analysed as if their arms were independent groups (no pairing data were available), which "
                 "gives them a conservative weight"),
}


def _designs(ma, cite) -> list[str]:
    by = {}
    for row in records(ma).studies:
        method = row.design.method if row.design else None
        if method:
            by.setdefault(method, []).append(_name(row))
    by = {k: sorted(set(v)) for k, v in by.items()}
    out = []
    cross = [f"{lab[0]}, a crossover trial, {_DESIGN[meth][0]}" if len(lab) == 1 else
             f"the crossover trials {names(lab)} {_DESIGN[meth][1]}" for meth, lab in by.items() if meth in _DESIGN]
    if cross:
        text = "; ".join(cross)
        out.append(f"{text[0].upper()}{text[1:]} {cite('elbourne2002')}.")
    if by.get("design_effect"):
        out.append(f"Cluster-randomised trials ({names(by['design_effect'])}) entered with effective "
                   f"sample sizes, their counts divided by the design effect {cite('handbook2023')}.")
    if by.get("unadjusted"):
        out.append(f"{names(by['unadjusted'])} (cluster-randomised) entered without a design effect.")
    if by.get("margin") or by.get("cells"):
        labels = sorted(set(by.get("margin", []) + by.get("cells", [])))
        out.append(f"Factorial trials ({names(labels)}) entered by the comparisons of their cells stated in the "
                   f"results {cite('handbook2023')}.")
    return out


def _conversions(ma, cite) -> list[str]:
    out = []
    rows = records(ma).studies
    chinn = [row.label for row in rows if row.converted]
    if chinn:  # effects/rows.py converts either way, to the analysis's measure
        to_smd = str(_meta(ma, "measure") or "").upper() == "SMD"
        what = ("Odds ratios", "standardised mean differences") if to_smd else (
            "Standardised mean differences", "log odds ratios")
        out.append(f"{what[0]} of {names(chinn)} were converted to {what[1]} {cite('chinn2000')}.")
    med = [row.label for row in rows if any(_from_median(d) for d in (row.data or {}).values())]
    if med:
        out.append(f"Means and standard deviations of {names(med)} were estimated from the reported medians with "
                   f"interquartile range or range {cite('luo2018', 'wan2014')}.")
    return out


def _from_median(arm) -> bool:
    """Whether an arm's numbers (the trial record's own object in a study row's ``data``, which
    the StudyRow record leaves undescribed) were estimated from a median (``converted_from``)."""
    return isinstance(arm, dict) and bool(arm.get("converted_from"))


# --------------------------------------------------------------------------- the rest

def _extras(ma, cite) -> list[str]:
    from .typed import records

    out = []
    records(ma).sensitivity  # noqa: B018 (each result against its record first: a mismatch names the meta-analysis)
    for name, result in (ma.get("sensitivity") or {}).items():
        kind = SENSITIVITY.get(name)
        hook = kind.sentence() if kind is not None else None
        if hook is not None and result is not None:
            sentence = hook(result, cite)
            if sentence:
                out.append(sentence)
    return out + _keyed(ma, cite, first=False)


def _keyed(ma, cite, first: bool) -> list[str]:
    """The sentences of the registered analyses with their own results.json key, each from its
    ``methods`` hook (those with ``methods_first`` right after the model's: the Bayesian block)."""
    out = []
    for name, kind in KEYED.items():
        if kind.methods_first != first:
            continue
        found = ma.get(name) or (ma.get("model") or {}).get(name)  # the GLMM's record is model.glmm
        text = kind.describe(found, cite, ma)
        if text:
            out.append(text)
    return out


def _human(name: str) -> str:
    return str(name).replace("_", " ")


def title(ma) -> str:
    """The meta-analysis's name: its spec title, else its outcome and measure ("Dropout (risk
    ratio)"); never the first trial's outcome label, which need not describe the pool."""
    if _opt(ma, "title"):
        return _meta(ma, "title")
    what = _human(_opt(ma, "outcome") or _meta(ma, "id"))
    measure = _meta(ma, "measure")
    return f"{what[0].upper()}{what[1:]} ({ONE_MEASURE.get(measure, measure)})"


def methods_text(doc: dict) -> tuple[list[str], list[str]]:
    """(paragraphs, cited reference ids in order of first use)."""
    cite = Cites()
    paras = []
    for ma in doc["meta_analyses"]:
        if records(ma).pooled.estimate is None:
            body = ["No trial had data that could be pooled; nothing was estimated."]
        else:
            body = _model(ma, cite) + _keyed(ma, cite, first=True) + _extras(ma, cite)
        paras.append(f"{title(ma)}. " + " ".join(body))
    env = doc.get("environment") or {}
    paras.append(f"Analyses were run with metak {doc.get('metak_version')} (Python {env.get('python')}, NumPy "
                 f"{env.get('numpy')}, SciPy {env.get('scipy')}), whose frequentist estimates are checked against R's "
                 f"metafor {cite('viechtbauer2010')}; every number can be re-derived from the trial files with "
                 "metak verify.")
    return paras, list(cite.order)


def methods(doc: dict) -> tuple[list[str], list[str]]:
    """(paragraphs, references) for a results document: one paragraph per meta-analysis and
    one on software, citations numbered in order of first use."""
    paras, keys = methods_text(doc)
    return paras, [f"{i + 1}. {REFERENCES[k]}" for i, k in enumerate(keys)]

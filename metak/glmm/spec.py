"""``glmm: UM.FS | UM.RS | CM.EL | CM.AL`` in a meta-analysis (contract 6.2): the registered
analysis (stage "model", spec "key") whose record replaces the pooled numbers.

:func:`check` refuses what the GLMMs cannot be (a method other than ML or FE, a measure other
than OR, the multivariate model); :func:`run` fits :func:`metak.glmm.glmm` on the meta-analysis's
2x2 tables; the pipeline then applies :func:`pooled` (the registry's ``pooled`` hook), which moves the record to
``model.glmm`` and writes its estimate, SE, CI, tau² and heterogeneity test over the
inverse-variance ones; :func:`methods_sentence` says what ran.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import numpy as np

from ..errors import MetakError
from ..format import clean


@dataclass(frozen=True)
class GlmmExcluded:
    """A trial the GLMM left out, and why."""

    label: str
    reason: str


@dataclass(frozen=True)
class GlmmRecord:
    """results.json ``model.glmm``: the GLMM that produced the pooled estimate."""

    model: str
    method: str
    measure: str
    likelihood: str
    nagq: int
    k: int
    estimate: float | None
    se: float | None
    statistic: float | None
    p_value: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    tau2_ci: tuple[float | None, ...] | None
    loglik: float | None
    qe_wald: float | None
    qe_wald_p: float | None
    qe_lrt: float | None
    qe_lrt_p: float | None
    qe_df: int
    excluded: tuple[GlmmExcluded, ...]
    notes: tuple[str, ...]
    #: the Wald test's degrees of freedom: the studies in its statistic minus 1 (qe_df, k - 1, is
    #: QE.LRT's and metafor's); None without a Wald test
    qe_wald_df: int | None = None

    def to_dict(self) -> dict:
        out = asdict(self)
        out["tau2_ci"] = None if self.tau2_ci is None else list(self.tau2_ci)
        out["excluded"] = [asdict(e) for e in self.excluded]
        out["notes"] = list(self.notes)
        return out


#: the measures a spec's glmm takes (metafor's rma.glmm: OR every model, IRR UM.FS / UM.RS / CM.EL,
#: PLO UM.FS)
SPEC_MEASURES = ("OR", "IRR", "PLO")
#: the models a spec's glmm names (the registry's Param choices)
MODELS = ("UM.FS", "UM.RS", "CM.EL", "CM.AL")


def check(c, path, values, meta) -> None:
    """The GLMMs are fitted by ML (random effects) or as common-effect models, on 2x2 tables."""
    method = meta.get("method")
    model = values.get("model")
    if method is not None and method not in ("ML", "FE"):
        # an invalid model name has its own message (the schema's, listing the models)
        what = f"{model} is" if model in MODELS else f"the GLMMs ({', '.join(MODELS)}) are"
        c.add(path[:-1] + ("method",), f"glmm: {what} fitted by maximum likelihood: method must be ML (random "
                                       f"effects) or FE (common effect), not {method}")
    measure = meta.get("measure")
    if measure is not None and measure not in SPEC_MEASURES:
        c.add(path, f"glmm in a spec takes measure OR (2x2 tables), IRR (events and person-time of two arms) or PLO "
                    f"(events and totals of one arm), not {measure}")
    elif measure == "PLO" and values.get("model") not in (None, "UM.FS"):
        c.add(path, f"glmm: measure PLO (one arm per study) takes model UM.FS only (as rma.glmm), not "
                    f"{values.get('model')}")
    if meta.get("multi_arm") == "multivariate":
        c.add(path, "glmm fits one comparison per trial; it cannot be combined with multi_arm: multivariate")


def run(ctx, params) -> GlmmRecord:
    """Fit the GLMM on the meta-analysis's 2x2 tables (``ctx.table.tables``: a, b, c, d)."""
    from . import glmm

    ms, table = ctx.spec, ctx.table
    model, method = params["model"], ctx.model.method
    if method not in ("ML", "FE"):  # a default method the spec's check could not see
        raise ms.error("glmm", f"glmm: {model} is fitted by maximum likelihood: set method: ML (random effects) or "
                               f"FE (common effect) in this meta-analysis, not {method}")
    measure = table.measure
    if measure not in SPEC_MEASURES:  # the spec's check refuses these; a table built otherwise
        raise ms.error("glmm", f"glmm takes measure OR, IRR or PLO, not {measure}")
    try:
        counts = _counts(table, measure)
    except (KeyError, TypeError, ValueError):
        counts = None
    if counts is None:
        need = {"OR": "the events and totals of both arms", "IRR": "the events and person-time of both arms",
                "PLO": "the events and total of its arm"}[measure]
        raise ms.error("glmm", f"glmm ({measure}) needs {need} of every study")
    try:
        g = glmm(**counts, measure=measure, model=model, method=method, level=ctx.model.level,
                 slab=list(table.labels))
    except MetakError as exc:
        raise ms.error("glmm", str(exc)) from None
    ctx.warnings.extend(f"glmm: {lab}: left out of the GLMM ({why})" for lab, why in g.excluded)
    ctx.warnings.extend(f"glmm: {w}" for w in g.warnings)
    ctx.warnings.append(f"glmm: the pooled estimate, CI, tau² and Q are from the GLMM ({g.model}, {g.method}); the "
                        "study weights, the common-effect row and the sensitivity analyses are those of the "
                        "inverse-variance model")
    return GlmmRecord(
        model=g.model, method=g.method, measure=g.measure, likelihood=g.likelihood, nagq=g.nagq, k=g.k,
        estimate=clean(g.estimate), se=clean(g.se), statistic=clean(g.statistic), p_value=clean(g.p_value),
        ci_lower=clean(g.ci_lower), ci_upper=clean(g.ci_upper), tau2=clean(g.tau2),
        tau2_ci=None if g.tau2_ci is None else tuple(clean(x) for x in g.tau2_ci), loglik=clean(g.loglik),
        qe_wald=clean(g.qe_wald), qe_wald_p=clean(g.qe_wald_p), qe_lrt=clean(g.qe_lrt), qe_lrt_p=clean(g.qe_lrt_p),
        qe_df=g.qe_df, qe_wald_df=g.qe_wald_df, excluded=tuple(GlmmExcluded(lab, why) for lab, why in g.excluded), notes=tuple(g.notes))


def _counts(table, measure):
    """glmm()'s count arguments from the effect table's rows (None if a row lacks them)."""
    if measure == "OR":
        t = table.tables
        if t is None or not np.all(np.isfinite(t)):
            return None
        a, b, c, d = (np.asarray(t[:, j], float) for j in range(4))
        return {"ai": a, "n1i": a + b, "ci": c, "n2i": c + d}
    if measure == "PLO":
        arms = [r.data[r.experimental] for r in table.rows]
        out = {"xi": [float(x["events"]) for x in arms], "ni": [float(x["total"]) for x in arms]}
    else:
        e = [r.data[r.experimental] for r in table.rows]
        c = [r.data[r.control] for r in table.rows]
        out = {"x1i": [float(x["events"]) for x in e], "t1i": [float(x["person_time"]) for x in e],
               "x2i": [float(x["events"]) for x in c], "t2i": [float(x["person_time"]) for x in c]}
    return out if all(np.all(np.isfinite(v)) for v in out.values()) else None


def pooled(record, out: dict) -> dict:
    """The registry's ``pooled`` hook: the keys of the meta-analysis object the GLMM replaces. Its
    record goes to ``model.glmm`` and its pooled numbers over the inverse-variance ones; the
    heterogeneity test becomes metafor's QE.Wld; I², H² (defined for the inverse-variance model) are
    null. The study weights and sensitivity analyses stay those of the inverse-variance model
    (:func:`run` warns so)."""
    from scipy import special

    g = record.to_dict()
    new = {"model": {**out["model"], "glmm": g}}
    random = g["method"] == "ML"
    tau2 = g["tau2"] if random else None
    new.update({key: g[key] for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper")})
    new.update({"df": None, "k": g["k"], "tau2": tau2, "tau": None if tau2 is None else clean(np.sqrt(tau2)),
                "tau2_ci": g["tau2_ci"] if random else None,
                "tau_ci": None if not random or g["tau2_ci"] is None else
                [clean(np.sqrt(x)) if x is not None else None for x in g["tau2_ci"]],
                "i2": None, "i2_ci": None, "h2": None, "h2_ci": None,
                "q": g["qe_wald"], "q_df": g["qe_wald_df"], "q_p": g["qe_wald_p"]})
    if random and g["se"] is not None:
        crit = float(special.ndtri(0.5 + out["model"].get("level", 0.95) / 2))
        half = crit * np.sqrt(tau2 + g["se"] ** 2)
        new["pi_lower"], new["pi_upper"] = clean(g["estimate"] - half), clean(g["estimate"] + half)
    else:
        new["pi_lower"] = new["pi_upper"] = None
    return new


def methods_sentence(result: dict, cite) -> str:
    """Its sentence in the methods text, from the record."""
    random = {"UM.FS": "an unconditional logistic model with fixed study intercepts and a normal random treatment effect",
              "UM.RS": "an unconditional logistic model with random study intercepts and a normal random treatment "
                       "effect",
              "CM.EL": "the conditional model with the exact noncentral hypergeometric likelihood and a normal random "
                       "log odds ratio",
              "CM.AL": "the conditional model with its approximate (binomial) likelihood and a normal random log odds "
                       "ratio"}
    common = {"UM.FS": "an unconditional logistic model with fixed study intercepts and a common log odds ratio",
              "UM.RS": "an unconditional logistic model with random study intercepts and a common log odds ratio",
              "CM.EL": "the conditional model with the exact noncentral hypergeometric likelihood and a common log odds "
                       "ratio",
              "CM.AL": "the conditional model with its approximate (binomial) likelihood and a common log odds ratio"}
    measure = result.get("measure", "OR")
    if measure == "IRR":
        random = {"UM.FS": "an unconditional Poisson model with fixed study intercepts and a normal random log rate ratio",
                  "UM.RS": "an unconditional Poisson model with random study intercepts and a normal random log rate "
                           "ratio",
                  "CM.EL": "the conditional binomial model, exact for Poisson counts, with a normal random log rate "
                           "ratio"}
        common = {key: text.replace("a normal random", "a common") for key, text in random.items()}
    elif measure == "PLO":
        random = {"UM.FS": "a logistic model with a normal random logit of each study's proportion"}
        common = {"UM.FS": "a logistic model with a common logit of the proportion"}
    name = {"OR": "odds ratio", "IRR": "incidence rate ratio", "PLO": "proportion"}.get(measure, "effect")
    what = (random if result["method"] == "ML" else common)[result["model"]]
    quad = result["likelihood"].split(", ", 1)[-1]
    dropped = len(result.get("excluded") or [])
    drop = (f"; {dropped} trial(s) without events (or with only events) in both arms carry no information on the "
            f"{name} and were left out, as rma.glmm does") if dropped and measure != "PLO" else (
        f"; {dropped} study(ies) were left out (see the excluded studies)" if dropped else "")
    random = result["method"] == "ML"
    integral = f"the random effect integrated by {quad}" if "quadrature (" in quad or "Laplace" in quad else f"with {quad}"
    how = "by maximum likelihood" if random else "by maximum likelihood as a common-effect model"
    return (f"The pooled {name}{', its confidence interval and tau²' if random else ' and its CI'}"
            f" were estimated with a generalized linear mixed model ({result['model']}: {what}) {how}, {integral} "
            f"{cite('stijnen2010', 'jackson2018', 'viechtbauer2010')}{drop}. " + _heterogeneity_sentence(result))


def _heterogeneity_sentence(result: dict) -> str:
    """What the record holds about tau² and the heterogeneity test, and only that."""
    k, random = result["k"], result["method"] == "ML"
    if k == 1:
        return ("With one trial, tau² cannot be estimated and there is no heterogeneity test: the common-effect GLMM "
                "was fitted (rma.glmm refuses the random-effects model on one trial), and no τ², Q or I² is "
                "reported.")
    parts = []
    if random:
        failed = any("profile-likelihood CI of tau² was not computed" in n for n in result.get("notes") or ())
        parts.append("Its τ² has a profile-likelihood confidence interval" if result.get("tau2_ci") is not None else
                     "Its τ² is reported without a confidence interval" + (
                         " (its profile likelihood could not be maximised; see the GLMM's notes)" if failed else ""))
    if result.get("qe_wald") is not None:
        df, m = result.get("qe_wald_df"), (result.get("qe_wald_df") or 0) + 1
        q = f"Q is the Wald test of the saturated GLMM (metafor's QE.Wld) on {df} degree(s) of freedom"
        if m < k:
            q += (f", over the {m} of {k} trials whose own estimate is finite (in the others a zero cell makes it "
                  "infinite, and they are left out of the statistic)")
        parts.append(q)
    else:
        parts.append("no heterogeneity test of the GLMM could be computed (see its notes), so no Q is reported")
    if random:
        return "; ".join(parts) + "; these replace the inverse-variance τ² interval and Q above, and I² is not reported."
    q = parts[0][0].upper() + parts[0][1:]
    return q + (", in place of the inverse-variance Q." if result.get("qe_wald") is not None else ".")

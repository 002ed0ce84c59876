"""One registry of the analyses and figures a meta-analysis can ask for.

The spec parser checks ``sensitivity:`` entries and their parameters against it, the pipeline
runs them from it, the renderer draws figures from it and the CLI's help lists it. Adding an
analysis is one module under ``metak/sensitivity/`` (with ``run(ctx, params) -> record``,
the record having ``to_dict()``) plus its entry here (docs/extending.md is the recipe); a
figure is a function in ``metak/plots/`` plus its entry. This module imports neither SciPy nor matplotlib: the run
and plot functions are named as ``"module:function"`` and imported when used.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Param:
    """A parameter of a registered analysis, with its declared constraints."""

    name: str
    kind: str  # "int" | "number" | "bool" | "str" | "block"
    default: object = None
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    #: the parameter must be given (a keyed analysis's mapping names it)
    required: bool = False
    #: for kind "block": "module:function" parsing the value, ``parse(checker, path, value,
    #: measure) -> parsed | None``; it reports problems on the checker (with their lines)
    parse: str = ""

    def parser(self):
        return _resolve(self.parse)

    def check(self, value) -> str | None:
        """None when ``value`` is allowed, else what is wrong with it (kind "block" is
        checked by its parser)."""
        if self.kind == "block":
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind in ("int", "number"):
            ok = isinstance(value, int) if self.kind == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                return f"must be {'a whole number' if self.kind == 'int' else 'a number'}, got {value!r}"
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum}, got {value!r}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum}, got {value!r}"
            return None
        if not isinstance(value, str):
            return f"must be text, got {value!r}"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of: {', '.join(self.choices)}"
        return None


def _resolve(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


#: the stages of an analysis, in the order the pipeline runs them
STAGES = ("model", "after_fit")


@dataclass(frozen=True)
class AnalysisKind:
    """A registered analysis. ``run(ctx, params)`` returns a frozen record with ``to_dict()``.

    - ``stage``: ``"model"`` fits its own model on the meta-analysis's table (and, for the
      multivariate model, its covariance ``ctx.covariance``); ``"after_fit"`` refits the table
      once the meta-analysis is fitted (``ctx.result``).
    - ``spec``: ``"sensitivity"``: asked for as an entry of ``sensitivity: [...]``, its result
      written under ``sensitivity.<name>``; ``"key"``: asked for by its own key of the
      meta-analysis (``<name>: {params}``), its result written under ``<name>``.
    - ``params`` are checked by the spec parser from their declarations; ``check(checker, path,
      values, meta)`` ("module:function", optional) checks them together and against the rest of
      the meta-analysis mapping ``meta``.
    - ``methods(result_dict, cite)`` ("module:function", optional) is its sentence in the methods
      text; ``record`` ("module:Class", optional) is the record type whose fields give its
      results.json schema fragment (``metak.schema.generate``).
    """

    name: str
    summary: str
    run: str  # "module:function"
    params: tuple[Param, ...] = ()
    needs: str = ""  # what it needs, in words (for the help and the docs)
    #: JSON Schema fragment of its result (results.schema.json keeps the full schema)
    schema: dict = field(default_factory=dict)
    stage: str = "after_fit"
    spec: str = "sensitivity"
    check: str = ""
    methods: str = ""
    record: str = ""

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def runner(self):
        return _resolve(self.run)

    def checker(self):
        return _resolve(self.check) if self.check else None

    def sentence(self):
        return _resolve(self.methods) if self.methods else None

    def record_type(self):
        return _resolve(self.record) if self.record else None


@dataclass(frozen=True)
class FigureKind:
    """A registered figure: ``plot(ma, ax, **options)`` draws one meta-analysis of results.json."""

    name: str
    summary: str
    plot: str  # "module:function"
    #: what the spec must ask for: ("sensitivity", name) | ("bayes", attr or None) | ("dropout",)
    #: | ("key", spec attribute) ; any one of the alternatives suffices
    needs: tuple = ()
    needs_text: str = ""

    def plotter(self):
        return _resolve(self.plot)


#: results.schema.json fragments of the bias analyses (kept equal to the schema by a test)
_NUM = {"type": ["number", "null"]}
_EST = {key: _NUM for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2")}
#: a refit of some of the studies, or null (with the reason under "reasons")
_FIT = {"type": ["object", "null"], "required": ["k", "estimate", "se", "ci_lower", "ci_upper", "tau2"],
        "properties": {"k": {"type": ["integer", "null"]}, **_EST}}
BLINDING_SCHEMA = {
    "type": "object",
    "required": ["indices", "rule", "classification", "restricted", "bias_adjusted", "tipping_point"],
    "properties": {
        "indices": {"type": "array"},
        "rule": {"type": "object", "required": ["max_bang", "assessor", "text"]},
        "classification": {"type": "array", "items": {
            "type": "object", "required": ["trial", "status", "reason"],
            "properties": {"status": {"enum": ["adequate", "compromised", "unknown"]}, "reason": {"type": "string"}}}},
        "restricted": _FIT,
        "bang_regression": {"type": ["object", "null"]},
        "bias_adjusted": {
            "type": ["object", "null"],
            "required": ["source", "log_ror", "log_ror_se", "k_adjusted", "estimate", "se", "ci_lower", "ci_upper",
                         "tau2"],
            "properties": {"source": {"type": "string"}, "log_ror": _NUM, "log_ror_se": _NUM,
                           "k_adjusted": {"type": "integer"}, "shift": {"type": "number"},
                           "shift_se": {"type": "number"}, "bayes": {"type": ["object", "null"]}}},
        "by_source": {"type": "array", "items": {
            "type": "object", "required": ["source", "shift", "k_adjusted", "estimate", "ci_lower", "ci_upper"]}},
        "tipping_point": {"type": "object", "required": ["bias", "ror", "k_shifted", "reason", "curve"],
                          "properties": {"bias": _NUM, "ror": _NUM, "reason": {"type": ["string", "null"]},
                                         "curve": {"type": "array"}}},
        "reasons": {"type": "object", "additionalProperties": {"type": "string"}},
        "notes": {"type": "array", "items": {"type": "string"}}}}
ACTIVE_PLACEBO_SCHEMA = {
    "type": "object",
    "required": ["subgroups", "q_between", "df_between", "p_between", "i2_between"],
    "properties": {
        "restricted": _FIT,
        "assumed_effect": {"type": ["array", "null"], "items": {
            "type": "object", "required": ["effect", "estimate", "se", "ci_lower", "ci_upper", "tau2"],
            "properties": {"effect": {"type": "number"}, **_EST}}}}}

_SENSITIVITY = (
    AnalysisKind(
        "leave_one_out", "refit without each study in turn (metafor's leave1out)",
        "metak.sensitivity.leave_one_out:run",
        params=(Param("by", "str", "comparison", ("comparison", "trial"),
                      doc="leave out one comparison at a time, or every comparison of one trial together"),),
        needs="k >= 2",
        schema={"type": "array", "items": {"type": "object", "required": ["omitted", "estimate", "se", "ci_lower",
                                                                          "ci_upper", "tau2", "i2", "q"]}}),
    AnalysisKind(
        "influence", "metafor's influence() per study: studentized residuals, DFFITS, Cook's distance, "
                     "covariance ratio, hat, weight, tau² and QE deleted, the influential flag; Baujat coordinates",
        "metak.sensitivity.influence:run", needs="k >= 2",
        schema={"type": "array", "items": {"type": "object", "required": [
            "trial", "rstudent", "dffits", "cook_d", "cov_r", "hat", "weight", "tau2_del", "qe_del", "influential"]}}),
    AnalysisKind(
        "small_study", "small-study effects: Egger's test (lm), the mixed-effects regression test, the rank "
                       "test and trim-and-fill (metafor's regtest, ranktest, trimfill)",
        "metak.sensitivity.small_study:run",
        params=(Param("force", "bool", False, doc="run below k = 10, where the tests have little power"),),
        needs="k >= 10 (or force: true)",
        schema={"type": "object", "required": ["k", "run", "reason", "egger", "egger_rma", "rank_test",
                                               "trim_fill", "meaning"]}),
    AnalysisKind(
        "missing_outcome", "missing outcome data: available case, missing as failure or success, best and worst "
                           "case, and informative-missingness odds ratios (Higgins et al. 2008; metasens metamiss); "
                           "for continuous outcomes informative-missingness differences of means (Mavridis et al. "
                           "2015; metamiss2)",
        "metak.sensitivity.missing_outcome:run",
        params=(Param("imor", "block", None, parse="metak.sensitivity.missing_outcome:parse_imor",
                      doc="binary: IMORs to try: [0.5, 2] (both arms) or [{experimental: 2, control: 0.5}]"),
                Param("imdom", "block", None, parse="metak.sensitivity.missing_outcome:parse_imdom",
                      doc="continuous: IMDOMs to try (Mavridis et al. 2015; MD in outcome units, SMD in SD units): "
                          "[-0.5, 0.5] (both arms) or [{experimental: -0.5, control: 0.5}]"),
                Param("imdom_sd", "block", None, parse="metak.sensitivity.missing_outcome:parse_imdom_sd",
                      doc="continuous: the SD of the IMDOM (its uncertainty), >= 0; a number or {experimental, "
                          "control}; default 0"),
                Param("imdom_correlation", "block", None,
                      parse="metak.sensitivity.missing_outcome:parse_imdom_correlation",
                      doc="continuous: the correlation of the IMDOMs between arms, in [-1, 1]; default 0")),
        needs="arm data with missing (or arms' randomized): binary (OR, RR, RD) or continuous (MD, SMD)",
        schema={"type": "object", "required": ["scenarios"], "properties": {"scenarios": {"type": "array", "items": {
            "type": "object", "required": ["name", "imor_experimental", "imor_control", "k", "estimate", "se",
                                           "ci_lower", "ci_upper", "tau2"]}}}}),
    AnalysisKind(
        "crossover_rho", "the crossover trials without paired data refitted under several assumed "
                         "within-participant correlations (Elbourne et al. 2002)",
        "metak.sensitivity.crossover_rho:run",
        params=(Param("values", "block", None, parse="metak.sensitivity.crossover_rho:parse_values",
                      doc="correlations to try, each in (-1, 1); default [0, 0.25, 0.5, 0.75, 0.9]"),),
        needs="a continuous outcome (MD, SMD) with crossover trials analysed by rho or as parallel groups",
        schema={"type": "object", "required": ["values", "studies", "reason"], "properties": {"values": {
            "type": "array", "items": {"type": "object", "required": ["rho", "k", "estimate", "se", "ci_lower",
                                                                     "ci_upper", "tau2"]}}}}),
    AnalysisKind(
        "risk_of_bias", "risk of bias (RoB 2): restricted to low overall risk, subgroups by overall risk, "
                        "the per-domain summary",
        "metak.sensitivity.risk_of_bias:run", needs="risk_of_bias blocks in the trial records' outcomes",
        schema={"type": "object", "required": ["domains", "studies", "summary", "restricted", "subgroups",
                                               "reasons"]}),
    AnalysisKind(
        "active_placebo", "subgroups by control type (active vs inert placebo) with Cochrane's test",
        "metak.sensitivity.subgroups:run_active_placebo", needs="control arms with control_type",
        params=(Param("assumed_effect", "block", None, parse="metak.sensitivity.bias:parse_effects",
                      doc="the active placebo's own effect on the analysis scale, added back to the comparisons "
                          "against it: a number, a list, or {from, to, steps}"),),
        schema=ACTIVE_PLACEBO_SCHEMA),
    AnalysisKind(
        "cumulative", "studies added one at a time in a stated order (metafor's cumul)",
        "metak.sensitivity.cumulative:run",
        params=(Param("order", "str", "year",
                      doc="year (default), label, effect, weight or a characteristic; ties by label"),),
        needs="k >= 1",
        schema={"type": "object", "required": ["order", "steps"]}),
    AnalysisKind(
        "blinding", "blinding indices, classification by the Bang index, and the bias analyses: restricted to "
                    "adequately blinded trials, bias-adjusted, tipping point",
        "metak.sensitivity.blinding:run", needs="blinding.guesses in the trial records (else every trial is unknown)",
        params=(Param("rule", "block", None, parse="metak.sensitivity.bias:parse_rule",
                      doc="{max_bang: 0.2, assessor: participant}: adequate when |Bang index| <= max_bang in "
                          "every compared arm"),
                Param("bias", "block", None, parse="metak.sensitivity.bias:parse_bias",
                      doc="{ror: 0.77, ci: [0.61, 0.93]}, {smd: d, ci: [..]}, {difference: b, ci: [..]} or "
                          "{preset: savovic2012 | hrobjartsson2012 | hrobjartsson2014 | metablind2020_participants "
                          "| metablind2020_double | metablind2020_pro_benefit}")),
        schema=BLINDING_SCHEMA),
)

#: the analyses asked for by their own key of a meta-analysis
_KEYED = (
    AnalysisKind(
        "dose_response", "dose-response: rma.mv(yi, V, mods = ~ dose, random = ~ 1 | trial/comparison) on every dose "
                         "comparison against its shared control (linear, log-linear or restricted cubic spline)",
        "metak.sensitivity.dose_response:run", stage="model", spec="key",
        params=(Param("model", "str", None, ("linear", "log_linear", "spline"), required=True,
                      doc="linear, log_linear (~ log dose) or spline (restricted cubic spline)"),
                Param("knots", "block", None, parse="metak.sensitivity.dose_response:parse_knots",
                      doc="spline knots: three or more increasing doses (default: the 10th, 50th and 90th "
                          "percentiles)")),
        needs="multi_arm: multivariate and arms with doses",
        check="metak.sensitivity.dose_response:check", methods="metak.sensitivity.dose_response:methods_sentence",
        record="metak.sensitivity.dose_response:DoseResponse"),
)

#: every registered analysis, by name
ANALYSES: dict[str, AnalysisKind] = {k.name: k for k in (*_SENSITIVITY, *_KEYED)}
#: those listed under ``sensitivity:`` (results under ``sensitivity.<name>``)
SENSITIVITY: dict[str, AnalysisKind] = {k.name: k for k in _SENSITIVITY}
#: those asked for by their own key (results under ``<name>``)
KEYED: dict[str, AnalysisKind] = {k.name: k for k in _KEYED}

FIGURES: dict[str, FigureKind] = {f.name: f for f in (
    FigureKind("forest", "forest plot of the studies and the pooled estimates", "metak.plots.forest:forest"),
    FigureKind("funnel", "funnel plot (optionally contour-enhanced)", "metak.plots.funnel:funnel"),
    FigureKind("leave_one_out", "leave-one-out estimates", "metak.plots.sensitivity:leave_one_out",
               (("sensitivity", "leave_one_out"),), "sensitivity: [leave_one_out]"),
    FigureKind("dropout", "per-arm dropout beside the pooled ratio", "metak.plots.sensitivity:dropout",
               (("dropout",),), "dropout: true"),
    FigureKind("cumulative", "cumulative forest plot: the pooled estimate as each study is added",
               "metak.plots.sensitivity:cumulative", (("sensitivity", "cumulative"),), "sensitivity: [cumulative]"),
    FigureKind("blinding", "blinding indices per trial and arm", "metak.plots.sensitivity:blinding",
               (("sensitivity", "blinding"),), "sensitivity: [blinding]"),
    FigureKind("baujat", "Baujat plot: each study's contribution to heterogeneity against its influence on the result",
               "metak.plots.diagnostics:baujat", (("sensitivity", "influence"),), "sensitivity: [influence]"),
    FigureKind("influence", "influence panel: the eight influence() statistics by study, influential ones marked",
               "metak.plots.diagnostics:influence_panel", (("sensitivity", "influence"),), "sensitivity: [influence]"),
    FigureKind("trim_fill", "funnel plot with the studies trim-and-fill imputes (open circles)",
               "metak.plots.diagnostics:trim_fill", (("sensitivity", "small_study"),), "sensitivity: [small_study]"),
    FigureKind("dose_response", "each comparison's effect by dose with the fitted multilevel dose-response line and CI",
               "metak.plots.dose:dose_response", (("key", "dose_response"),), "dose_response: {model: linear}"),
    FigureKind("missing_outcome", "the pooled estimate under each missing-outcome scenario and IMOR",
               "metak.plots.missing:missing_outcome", (("sensitivity", "missing_outcome"),),
               "sensitivity: [missing_outcome]"),
    FigureKind("rob_summary", "risk-of-bias summary: the share of studies (or weight) at each level, per domain "
               "(robvis style)", "metak.plots.rob:rob_summary", (("sensitivity", "risk_of_bias"),),
               "sensitivity: [risk_of_bias]"),
    FigureKind("blinding_forest", "forest plot with each trial's blinding status and Bang indices beside its effect",
               "metak.plots.bias:blinding_forest", (("sensitivity", "blinding"),), "sensitivity: [blinding]"),
    FigureKind("tipping_point", "the pooled estimate and CI against the assumed bias in trials not adequately "
               "blinded, with the published estimates marked", "metak.plots.bias:tipping_point",
               (("sensitivity", "blinding"),), "sensitivity: [blinding]"),
    FigureKind("assumed_effect", "the pooled estimate and CI against the active placebo's assumed own effect",
               "metak.plots.bias:assumed_effect", (("sensitivity", "active_placebo"),),
               "sensitivity: [{active_placebo: {assumed_effect: ...}}]"),
    FigureKind("subgroup", "forest plot by subgroup with subtotals and the test for differences",
               "metak.plots.forest:subgroup_forest",
               (("key", "subgroups"), ("sensitivity", "active_placebo")),
               "subgroups: or sensitivity: [active_placebo]"),
    FigureKind("prior_sensitivity", "the posterior under alternative heterogeneity priors",
               "metak.plots.bayes:prior_sensitivity", (("bayes", "prior_sensitivity"),),
               "a bayes: block with prior_sensitivity"),
    FigureKind("posterior", "posterior densities of mu and tau", "metak.plots.bayes:posterior",
               (("bayes", None),), "a bayes: block"),
    FigureKind("bubble", "meta-regression bubble plot: effect against a continuous moderator, fitted line and CI",
               "metak.plots.bubble:bubble", (("key", "moderators"),), "moderators:"),
)}

SENSITIVITY_KINDS = tuple(SENSITIVITY)
KEYED_KINDS = tuple(KEYED)
FIGURE_KINDS = tuple(FIGURES)


def help_text() -> str:
    """The analyses and figures, for ``metak analyze --help``."""
    lines = ["Sensitivity analyses (sensitivity: [...]):"]
    for k in SENSITIVITY.values():
        params = ", ".join(f"{p.name}: {'|'.join(p.choices) if p.choices else p.kind}"
                           + (f" (default {p.default})" if p.default is not None else "") for p in k.params)
        lines.append(f"  {k.name:16} {k.summary}" + (f"; parameters {params}" if params else ""))
    lines.append("Analyses by their own key (<name>: {parameters}):")
    for k in KEYED.values():
        params = ", ".join(f"{p.name}: {'|'.join(p.choices) if p.choices else p.kind}" for p in k.params)
        lines.append(f"  {k.name:16} {k.summary}; parameters {params}; needs {k.needs}")
    lines.append("Figures (figures: [...]):")
    for f in FIGURES.values():
        lines.append(f"  {f.name:16} {f.summary}" + (f" (needs {f.needs_text})" if f.needs_text else ""))
    return "\n".join(lines)

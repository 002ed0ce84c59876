"""One registry of the analyses and figures a meta-analysis can ask for.

The spec parser checks ``sensitivity:`` entries and their parameters against it, the pipeline
runs them from it, the renderer draws figures from it and the CLI's help lists it. Adding an
analysis is one module under ``metak/sensitivity/`` (with ``run(ctx, params) -> record``,
the record having ``to_dict()``) plus its entry here (docs/extending.md is the recipe); a
figure is a function in ``metak/plots/`` plus its entry. This module imports neither SciPy nor matplotlib: the run
and plot functions are named as ``"module:function"`` and imported when used.
"""

from __future__ import annotations

from .kinds import AnalysisKind, FigureKind, Param


_SENSITIVITY = (
    AnalysisKind(
        "leave_one_out", "refit without each study in turn (metafor's leave1out)",
        "metak.sensitivity.leave_one_out:run", methods="metak.methods_sentences:leave_one_out",
        params=(Param("by", "str", "comparison", ("comparison", "trial"),
                      doc="leave out one comparison at a time, or every comparison of one trial together"),),
        needs="k >= 2",
        record="metak.sensitivity.leave_one_out:LeaveOneOut"),
    AnalysisKind(
        "influence", "metafor's influence() per study: studentized residuals, DFFITS, Cook's distance, "
                     "covariance ratio, hat, weight, tau² and QE deleted, the influential flag; Baujat coordinates",
        "metak.sensitivity.influence:run", methods="metak.methods_sentences:influence", needs="k >= 2",
        record="metak.sensitivity.influence:Influence"),
    AnalysisKind(
        "small_study", "small-study effects: Egger's test (lm), the mixed-effects regression test, the rank "
                       "test and trim-and-fill (metafor's regtest, ranktest, trimfill)",
        "metak.sensitivity.small_study:run", methods="metak.methods_sentences:small_study",
        params=(Param("force", "bool", False, doc="run below k = 10, where the tests have little power"),),
        needs="k >= 10 (or force: true)",
        record="metak.sensitivity.small_study:SmallStudy"),
    AnalysisKind(
        "missing_outcome", "missing outcome data: available case, missing as failure or success, best and worst "
                           "case, and informative-missingness odds ratios (Higgins et al. 2008; metasens metamiss); "
                           "for continuous outcomes informative-missingness differences of means (Mavridis et al. "
                           "2015; metamiss2)",
        "metak.sensitivity.missing_outcome:run", methods="metak.methods_sentences:missing_outcome",
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
        record="metak.sensitivity.missing_outcome_record:MissingOutcome"),
    AnalysisKind(
        "crossover_rho", "the crossover trials without paired data refitted under several assumed "
                         "within-participant correlations (Elbourne et al. 2002)",
        "metak.sensitivity.crossover_rho:run", methods="metak.methods_sentences:crossover_rho",
        params=(Param("values", "block", None, parse="metak.sensitivity.crossover_rho:parse_values",
                      doc="correlations to try, each in (-1, 1); default [0, 0.25, 0.5, 0.75, 0.9]"),),
        needs="a continuous outcome (MD, SMD) with crossover trials analysed by rho or as parallel groups",
        record="metak.sensitivity.crossover_rho:CrossoverRho"),
    AnalysisKind(
        "risk_of_bias", "risk of bias (RoB 2): restricted to low overall risk, subgroups by overall risk, "
                        "the per-domain summary",
        "metak.sensitivity.risk_of_bias:run", methods="metak.methods_sentences:risk_of_bias", needs="risk_of_bias blocks in the trial records' outcomes",
        record="metak.sensitivity.risk_of_bias:RiskOfBiasResult"),
    AnalysisKind(
        "active_placebo", "subgroups by control type (active vs inert placebo) with Cochrane's test",
        "metak.sensitivity.subgroups:run_active_placebo", methods="metak.methods_sentences:active_placebo", needs="control arms with control_type",
        params=(Param("assumed_effect", "block", None, parse="metak.sensitivity.bias:parse_effects",
                      doc="the active placebo's own effect on the analysis scale, added back to the comparisons "
                          "against it: a number, a list, or {from, to, steps}"),),
        record="metak.sensitivity.subgroups:ActivePlacebo"),
    AnalysisKind(
        "cumulative", "studies added one at a time in a stated order (metafor's cumul)",
        "metak.sensitivity.cumulative:run", methods="metak.methods_sentences:cumulative",
        params=(Param("order", "str", "year",
                      doc="year (default), label, effect, weight or a characteristic; ties by label"),),
        needs="k >= 1",
        record="metak.sensitivity.cumulative:Cumulative"),
    AnalysisKind(
        "blinding", "blinding indices, classification by the Bang index, and the bias analyses: restricted to "
                    "adequately blinded trials, bias-adjusted, tipping point",
        "metak.sensitivity.blinding:run", methods="metak.methods_sentences:blinding", needs="blinding.guesses in the trial records (else every trial is unknown)",
        check="metak.sensitivity.blinding:check",
        params=(Param("rule", "block", None, parse="metak.sensitivity.bias:parse_rule",
                      doc="{max_bang: 0.2, assessor: participant}: adequate when |Bang index| <= max_bang in "
                          "every compared arm"),
                Param("bias", "block", None, parse="metak.sensitivity.bias:parse_bias",
                      doc="{ror: 0.77, ci: [0.61, 0.93]}, {smd: d, ci: [..]}, {difference: b, ci: [..]} or "
                          "{preset: savovic2012 | hrobjartsson2012 | hrobjartsson2014 | metablind2020_participants "
                          "| metablind2020_double | metablind2020_pro_benefit}"),
                Param("bias_model", "str", "independent", ("independent", "shared"),
                      doc="shared: also fit a bias common to the trials not adequately blinded, y_i ~ N(mu + z_i "
                          "beta, v_i + tau² + z_i kappa²), frequentist and exact Bayesian (sensitivity.blinding."
                          "shared_bias)"),
                Param("shared", "block", None, parse="metak.sensitivity.shared_bias_analysis:parse_shared",
                      doc="{beta: estimate | fixed, kappa: estimate | number, beta_prior: {mean, sd}, kappa_prior: "
                          "half-normal scale > 0, compromised: {trial: true | false}} for bias_model: shared")),
        record="metak.sensitivity.blinding_record:BlindingResult"),
    AnalysisKind(
        "selection_model", "a selection model for publication bias by ML (metafor's selmodel): step function of "
                           "one-sided p-value cut-points or the beta, half-normal, negative-exponential, logistic or "
                           "power family, with SEs and the likelihood-ratio test against the unadjusted model",
        "metak.sensitivity.selection:run",
        params=(Param("type", "str", "stepfun", ("stepfun", "beta", "halfnorm", "negexp", "logistic", "power"),
                      doc="stepfun (default; needs steps) or a smooth family"),
                Param("steps", "block", None, parse="metak.sensitivity.selection:parse_steps",
                      doc="p-value cut-points in (0, 1), increasing, e.g. [0.025, 0.5] (1 is added)"),
                Param("alternative", "str", "greater", ("greater", "less", "two.sided"),
                      doc="the side of the studies' p-values (metafor's default: greater)")),
        needs="k >= the number of parameters; every step interval holding an observed p-value",
        check="metak.sensitivity.selection:check", methods="metak.sensitivity.selection:methods_sentence",
        record="metak.sensitivity.selection:SelectionModel"),
    AnalysisKind(
        "pet_peese", "PET and PEESE: the FE meta-regressions on sqrt(vi) and vi, their limit estimates and the "
                     "conditional PET-PEESE estimate (Stanley and Doucouliagos 2014)",
        "metak.sensitivity.pet_peese:run",
        params=(Param("alpha", "number", 0.05, minimum=0.0001, maximum=0.5,
                      doc="one-sided level of PET's test that selects PEESE (default 0.05)"),),
        needs="k >= 3 with differing variances",
        methods="metak.sensitivity.pet_peese:methods_sentence", record="metak.sensitivity.pet_peese:PetPeese"),
    AnalysisKind(
        "bayesian_model_averaging", "robust Bayesian model averaging (RoBMA-PSMA's 36 models: effect x "
                                    "heterogeneity x no bias / six weight functions / PET / PEESE), by quadrature and "
                                    "importance sampling: posterior model probabilities, inclusion Bayes factors, the "
                                    "model-averaged effect",
        "metak.sensitivity.model_averaging:run",
        params=(Param("draws", "int", 4096, minimum=256, maximum=1048576,
                      doc="importance-sampling draws per weight-function model (default 4096)"),
                Param("seed", "int", 20231, minimum=0, doc="seed of the scrambled Sobol draws")),
        needs="k >= 2; priors on the analysis scale as RoBMA's on Cohen's d (use SMD or rescale)",
        methods="metak.sensitivity.model_averaging_record:methods_sentence",
        record="metak.sensitivity.model_averaging_record:ModelAveraging"),
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
    AnalysisKind(
        "certainty", "certainty of the evidence (GRADE): a suggested rating per domain with its rule and numbers, "
                     "the authors' overrides with their reasons, the overall certainty, the optimal information size "
                     "and trial sequential monitoring boundaries (an imprecision aid)",
        "metak.certainty:run", stage="after_fit", spec="key", reads_results=True,
        default="metak.certainty.spec:default_on",
        params=(*(Param(d, "block", None, parse="metak.certainty.spec:parse_override",
                        doc=f"{{rating: not_serious | serious | very_serious, reason: ...}}: the authors' rating of "
                            f"{d.replace('_', ' ')} (overrides the suggested one)") for d in (
                    "risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")),
                Param("mid", "block", None, parse="metak.certainty.spec:parse_mid",
                      doc="the minimal important difference: a ratio for OR/RR (e.g. 1.25), else in the outcome's "
                          "units; default: the null is the threshold"),
                Param("information_size", "block", None, parse="metak.certainty.spec:parse_information_size",
                      doc="{control_risk, rrr, alpha, beta, sd}: the optimal information size's assumptions "
                          "(default: pooled control risk, 25% relative change, alpha 0.05, beta 0.20)"),
                Param("tsa", "bool", True, doc="trial sequential monitoring boundaries on the cumulative Z curve")),
        needs="on by default with sensitivity: risk_of_bias, blinding, missing_outcome, small_study, "
              "selection_model or pet_peese",
        check="metak.certainty.spec:check", methods="metak.certainty:methods_sentence",
        record="metak.certainty:Certainty"),
    AnalysisKind(
        "network", "network meta-analysis of every arm of every selected trial: rma.mv(yi, V, mods = contrasts, "
                   "random = ~ comp | study, rho = 1/2), design-by-treatment Q, node splitting, P-scores, and the "
                   "exact Bayesian network (rank probabilities, SUCRA)",
        "metak.network.spec:run", stage="model", spec="key",
        params=(Param("reference", "str", None, doc="the reference node (case-insensitive; default: the first "
                                                    "node alphabetically)"),
                Param("nodes", "block", None, parse="metak.network.spec:parse_nodes",
                      doc="intervention (default), intervention+control_type, or a mapping {node: [interventions]}"),
                Param("bayes", "bool", True, doc="also the exact Bayesian network (OR/RR; MD/RD need a bayes: "
                                                 "block for the heterogeneity prior)"),
                Param("small_values", "str", None, ("desirable", "undesirable"),
                      doc="for P-scores and ranks (default: from the outcome's direction)"),
                Param("contribution", "bool", None, doc="the net contribution of each design to each estimate "
                                                        "(default: on for networks of up to 15 nodes)")),
        needs="arm-level data or reported contrasts (OR, RR, RD, MD) and method FE, DL, ML or REML",
        check="metak.network.spec:check", methods="metak.network.spec:methods_sentence",
        record="metak.network.record:Network"),
    AnalysisKind(
        "glmm", "exact-likelihood GLMM for sparse 2x2 tables (metafor's rma.glmm: UM.FS, UM.RS, CM.EL, CM.AL); its "
                "pooled estimate, CI and tau² replace the inverse-variance ones, the model under model.glmm",
        "metak.glmm.spec:run", stage="model", spec="key",
        params=(Param("model", "str", None, ("UM.FS", "UM.RS", "CM.EL", "CM.AL"), required=True,
                      doc="UM.FS | UM.RS | CM.EL | CM.AL (also as the shorthand glmm: UM.FS)"),),
        needs="measure OR with both arms' events and totals, IRR with both arms' events and person-time, or PLO "
              "(UM.FS only) with one arm's events and total; method ML (random effects) or FE (common effect)",
        check="metak.glmm.spec:check", methods="metak.glmm.spec:methods_sentence",
        record="metak.glmm.spec:GlmmRecord", pooled="metak.glmm.spec:pooled"),
)

#: the analyses asked for by the spec's existing keys (``asked_by``), run before the keyed ones
_ASKED_BY_KEYS = (
    AnalysisKind(
        "multivariate", "the multivariate model rma.mv(yi, V, random = ~ 1 | trial/comparison) with the exact "
                        "shared-control covariance; its pooled estimate replaces the univariate one",
        "metak.analyses.multivariate:run", stage="model", spec="key", asked_by=("multi_arm",),
        default="metak.analyses.multivariate:default", pooled="metak.analyses.multivariate:pooled",
        record="metak.analyses.multivariate:Multivariate",
        needs="multi_arm: multivariate; method REML, ML or FE"),
    AnalysisKind(
        "dropout_rates", "per comparison, each side's dropouts, randomized and rate (a dropout meta-analysis, or "
                         "beside an efficacy result when the arms give their dropouts)",
        "metak.analyses.dropout:run", stage="model", spec="key", asked_by=("dropout",),
        default="metak.analyses.dropout:default", needs="dropout: true, or arms with randomized and dropouts",
        record="metak.analyses.dropout:DropoutRates", methods="metak.analyses.dropout:methods_sentence"),
    AnalysisKind(
        "meta_regression", "mixed-effects meta-regression rma(yi, vi, mods = ~ ...) with an optional permutation "
                           "test (permutest)",
        "metak.analyses.meta_regression:run", stage="model", spec="key", asked_by=("moderators", "permutations"),
        params=(Param("moderators", "block", (), parse="metak.analyses.meta_regression:parse_moderators",
                      doc="characteristics or trial fields: [latitude, year] or one name"),
                Param("permutations", "block", None, parse="metak.analyses.meta_regression:parse_permutations",
                      doc="a permutation test of the moderators: iterations, or {iterations, seed}")),
        check="metak.analyses.meta_regression:check",
        default="metak.analyses.meta_regression:default", methods="metak.analyses.meta_regression:methods_sentence",
        needs="moderators: characteristics or trial fields; an inverse-variance method",
        record="metak.analyses.meta_regression:MetaRegression"),
    AnalysisKind(
        "subgroups", "each subgroup fitted on its own and Cochran's Q between subgroups",
        "metak.analyses.subgroups:run", stage="model", spec="key", asked_by=("subgroups",),
        params=(Param("subgroups", "block", None, parse="metak.analyses.subgroups:parse_by",
                      doc="the characteristic or trial field to form subgroups by"),),
        check="metak.analyses.subgroups:check",
        default="metak.analyses.subgroups:default", methods="metak.analyses.subgroups:methods_sentence",
        needs="subgroups: a characteristic or trial field", record="metak.analyses.subgroups:Subgroups"),
    AnalysisKind(
        "bayes", "the Bayesian random-effects model of the bayes: block (exact by quadrature, or MCMC)",
        "metak.analyses.bayes:run", stage="model", spec="key", asked_by=("bayes",),
        params=(Param("bayes", "block", None, parse="metak.analyses.bayes:parse_block",
                      doc="{prior: {mu, tau}, likelihood, engine, ...} (docs/bayes.md)"),),
        check="metak.analyses.bayes:check",
        default="metak.analyses.bayes:default", null_when_off=True, needs="a bayes: block",
        record="metak.bayes.record:BayesRecord", methods="metak.analyses.bayes:methods_sentence", methods_first=True),
)

#: every registered analysis, by name
ANALYSES: dict[str, AnalysisKind] = {k.name: k for k in (*_SENSITIVITY, *_ASKED_BY_KEYS, *_KEYED)}
#: those listed under ``sensitivity:`` (results under ``sensitivity.<name>``)
SENSITIVITY: dict[str, AnalysisKind] = {k.name: k for k in _SENSITIVITY}
#: those asked for by their own key (results under ``<name>``)
KEYED: dict[str, AnalysisKind] = {k.name: k for k in (*_ASKED_BY_KEYS, *_KEYED)}


def own_keys() -> tuple[str, ...]:
    """The keys of a meta-analysis that name a registered analysis (``dose_response:`` ...)."""
    return tuple(name for name, k in KEYED.items() if not k.asked_by)


FIGURES: dict[str, FigureKind] = {f.name: f for f in (
    FigureKind("forest", "forest plot of the studies and the pooled estimates", "metak.plots.forest:forest"),
    FigureKind("funnel", "funnel plot (optionally contour-enhanced)", "metak.plots.funnel:funnel"),
    FigureKind("leave_one_out", "leave-one-out estimates", "metak.plots.sensitivity:leave_one_out",
               (("sensitivity", "leave_one_out"),)),
    FigureKind("dropout", "per-arm dropout beside the pooled ratio", "metak.plots.sensitivity:dropout",
               (("analysis", "dropout_rates"),)),
    FigureKind("cumulative", "cumulative forest plot: the pooled estimate as each study is added",
               "metak.plots.sensitivity:cumulative", (("sensitivity", "cumulative"),)),
    FigureKind("blinding", "blinding indices per trial and arm", "metak.plots.sensitivity:blinding",
               (("sensitivity", "blinding"),)),
    FigureKind("baujat", "Baujat plot: each study's contribution to heterogeneity against its influence on the result",
               "metak.plots.diagnostics:baujat", (("sensitivity", "influence"),)),
    FigureKind("influence", "influence panel: the eight influence() statistics by study, influential ones marked",
               "metak.plots.diagnostics:influence_panel", (("sensitivity", "influence"),)),
    FigureKind("trim_fill", "funnel plot with the studies trim-and-fill imputes (open circles)",
               "metak.plots.diagnostics:trim_fill", (("sensitivity", "small_study"),)),
    FigureKind("dose_response", "each comparison's effect by dose with the fitted multilevel dose-response line and CI",
               "metak.plots.dose:dose_response", (("analysis", "dose_response"),)),
    FigureKind("missing_outcome", "the pooled estimate under each missing-outcome scenario and IMOR",
               "metak.plots.missing:missing_outcome", (("sensitivity", "missing_outcome"),)),
    FigureKind("rob_summary", "risk-of-bias summary: the share of studies (or weight) at each level, per domain "
               "(robvis style)", "metak.plots.rob:rob_summary", (("sensitivity", "risk_of_bias"),)),
    FigureKind("blinding_forest", "forest plot with each trial's blinding status and Bang indices beside its effect",
               "metak.plots.bias:blinding_forest", (("sensitivity", "blinding"),)),
    FigureKind("tipping_point", "the pooled estimate and CI against the assumed bias in trials not adequately "
               "blinded, with the published estimates marked", "metak.plots.bias:tipping_point",
               (("sensitivity", "blinding"),)),
    FigureKind("assumed_effect", "the pooled estimate and CI against the active placebo's assumed own effect",
               "metak.plots.bias:assumed_effect", (("sensitivity", "active_placebo"),)),
    FigureKind("subgroup", "forest plot by subgroup with subtotals and the test for differences",
               "metak.plots.forest:subgroup_forest",
               (("analysis", "subgroups"), ("sensitivity", "active_placebo")),),
    FigureKind("prior_sensitivity", "the posterior under alternative heterogeneity priors",
               "metak.plots.bayes:prior_sensitivity", (("analysis", "bayes", "prior_sensitivity"),)),
    FigureKind("posterior", "posterior densities of mu and tau", "metak.plots.bayes:posterior",
               (("analysis", "bayes"),)),
    FigureKind("bubble", "meta-regression bubble plot: effect against a continuous moderator, fitted line and CI",
               "metak.plots.bubble:bubble", (("analysis", "meta_regression"),)),
    FigureKind("selection_model", "the estimated selection function (relative probability of publication by "
               "p-value) beside the unadjusted and bias-adjusted estimates (selection model, PET, PEESE)",
               "metak.plots.selection:selection", (("sensitivity", "selection_model"),)),
    FigureKind("shared_bias", "the bias-corrected estimate of the shared-bias model (REML and exact Bayes) beside the "
               "unadjusted and the independent-bias ones", "metak.plots.shared_bias:shared_bias",
               (("sensitivity", "blinding"),), "with bias_model: shared"),
    FigureKind("bias_posterior", "prior and posterior density of the mean bias beta shared by the trials not "
               "adequately blinded", "metak.plots.shared_bias:bias_posterior", (("sensitivity", "blinding"),),
               "with bias_model: shared and its exact Bayesian fit"),
    FigureKind("cgrc", "Correct Guess Rate Curve: each trial's effect had the correct guess rate been c (Szigeti et al. "
               "2023), from outcomes by arm x guess", "metak.plots.shared_bias:cgrc", (("sensitivity", "blinding"),),
               "by_guess blocks in the trial records"),
    FigureKind("tsa", "trial sequential analysis: the cumulative Z curve against the O'Brien-Fleming monitoring "
               "boundaries and the required information size (an imprecision aid)", "metak.plots.tsa:tsa",
               (("analysis", "certainty"),)),
    FigureKind("network_graph", "the network: node area proportional to participants, line width to the number of "
               "trials comparing two nodes", "metak.plots.network:graph", (("analysis", "network"),)),
    FigureKind("network_forest", "every treatment vs the network's reference: frequentist CI and exact Bayesian "
               "CrI side by side, with the evidence each estimate rests on", "metak.plots.network:forest",
               (("analysis", "network"),)),
    FigureKind("network_league", "league table, row vs column: frequentist above the diagonal, exact Bayes below",
               "metak.plots.network:league", (("analysis", "network"),)),
    FigureKind("network_node_split", "node-split forest: direct, indirect and network estimates of every comparison "
               "with both kinds of evidence", "metak.plots.network:node_split", (("analysis", "network"),),
               "with a closed loop"),
    FigureKind("network_rankogram", "rank probabilities of the exact Bayesian network, SUCRA in the legend",
               "metak.plots.network:rankogram", (("analysis", "network"),),
               "with its exact Bayesian network"),
)}

SENSITIVITY_KINDS = tuple(SENSITIVITY)
KEYED_KINDS = tuple(KEYED)
FIGURE_KINDS = tuple(FIGURES)

"""The field's vocabulary, in one table: measures, methods, tests, zero-cell rules.

Measure codes and method names are metafor's (``OR``, ``SMD``, ``REML``, ``DL``); every
module that needs a list of them (escalc, the estimators, the spec and record parsers, the
Bayesian priors, the plots' axis labels, the results schema) takes it from here, and a
completeness test keeps the schema's enums in step.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Measure:
    code: str
    #: "log" for ratio measures (analysed as log ratios), else "identity"
    scale: str
    #: the arm data it is computed from: "binary", "continuous", or "contrast" (reported only)
    data: str
    label: str
    short: str
    #: analysis scale -> the scale a reader sees: "exp", "expit", "iarcsin", "ipft" (metafor's
    #: transf.ipft.hm, harmonic mean of the n), "tanh" (Fisher's z to r), "" (none)
    natural: str = ""
    #: in the outcome's own units (a difference of raw means or rates): MD, MC, IRD; a prior on
    #: its scale (tau, mu) depends on those units
    raw_units: bool = False


MEASURE_TABLE: dict[str, Measure] = {m.code: m for m in (
    Measure("OR", "log", "binary", "Odds ratio", "OR"),
    Measure("RR", "log", "binary", "Risk ratio", "RR"),
    Measure("RD", "identity", "binary", "Risk difference", "RD"),
    Measure("MD", "identity", "continuous", "Mean difference", "MD", raw_units=True),
    Measure("SMD", "identity", "continuous", "Standardised mean difference (Hedges' g)", "SMD"),
    Measure("HR", "log", "contrast", "Hazard ratio", "HR"),
    # issue 27: metafor's further measures (metak.effects.measures); "data" says what they are
    # computed from: one arm's events/total ("proportion"), person-time ("person_time", two arms;
    # "rate", one arm), a correlation and its n ("correlation"), two arms' means/SDs
    # ("continuous") or one group's pre-post summaries ("change")
    Measure("PLO", "logit", "proportion", "Proportion (logit)", "Proportion", "expit"),
    Measure("PR", "identity", "proportion", "Proportion", "Proportion"),
    Measure("PLN", "log", "proportion", "Proportion (log)", "Proportion"),
    Measure("PAS", "arcsine", "proportion", "Proportion (arcsine)", "Proportion", "iarcsin"),
    Measure("PFT", "freeman_tukey", "proportion", "Proportion (Freeman-Tukey)", "Proportion", "ipft"),
    Measure("IRR", "log", "person_time", "Incidence rate ratio", "IRR"),
    Measure("IRD", "identity", "person_time", "Incidence rate difference", "IRD", raw_units=True),
    Measure("IRLN", "log", "rate", "Incidence rate (log)", "Rate"),
    Measure("COR", "identity", "correlation", "Correlation", "r"),
    Measure("ZCOR", "fisher_z", "correlation", "Correlation (Fisher's z)", "r", "tanh"),
    Measure("SMDH", "identity", "continuous", "Standardised mean difference (heteroscedastic)", "SMDH"),
    Measure("ROM", "log", "continuous", "Ratio of means", "ROM"),
    Measure("VR", "log", "continuous", "Variability ratio", "VR"),
    Measure("CVR", "log", "continuous", "Coefficient of variation ratio", "CVR"),
    Measure("SMCC", "identity", "change", "Standardised mean change (change-score SD)", "SMCC"),
    Measure("MC", "identity", "change", "Mean change", "MC", raw_units=True),
    Measure("SMCR", "identity", "change", "Standardised mean change (raw-score SD)", "SMCR"),
    Measure("SMCRH", "identity", "change", "Standardised mean change (raw-score SD, heteroscedastic)", "SMCRH"),
)}
#: Peto's log odds ratio: a method's effect size (rma.peto's Q), not a measure a spec asks for
PETO = Measure("PETO", "log", "binary", "Peto odds ratio", "OR")

MEASURES = tuple(MEASURE_TABLE)
BINARY_MEASURES = tuple(c for c, m in MEASURE_TABLE.items() if m.data == "binary")
CONTINUOUS_MEASURES = tuple(c for c, m in MEASURE_TABLE.items() if m.data == "continuous")
CONTRAST_ONLY = tuple(c for c, m in MEASURE_TABLE.items() if m.data == "contrast")
#: ratio measures a record reports on the natural scale (a contrast's estimate and CI)
RATIO_MEASURES = tuple(c for c, m in MEASURE_TABLE.items() if m.scale == "log")
#: measures analysed on the log scale, Peto's included
LOG_MEASURES = RATIO_MEASURES + ("PETO",)
MEASURE_LABELS = {c: m.label for c, m in MEASURE_TABLE.items()}
#: measures in the outcome's own units (Measure.raw_units)
RAW_UNIT_MEASURES = tuple(c for c, m in MEASURE_TABLE.items() if m.raw_units)
#: measures computed from one arm's own data (a meta-analysis of them pools one arm type)
SINGLE_ARM_MEASURES = tuple(c for c, m in MEASURE_TABLE.items()
                            if m.data in ("proportion", "rate", "correlation", "change"))
#: every value of a meta-analysis's ``scale`` (results.json)
SCALES = ("log", "identity", "logit", "arcsine", "freeman_tukey", "fisher_z")

METHODS = ("FE", "MH", "PETO", "DL", "REML", "ML", "PM", "SJ", "HE", "EB")
#: inverse-variance methods (fit, fit_batch, meta-regression)
IV_METHODS = ("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB")
RE_METHODS = ("DL", "REML", "ML", "PM", "SJ", "HE", "EB")
FIXED_METHODS = ("FE", "MH", "PETO")
TABLE_METHODS = ("MH", "PETO")
#: how a figure or a methods text names the fixed-effect methods
METHOD_LABELS = {"FE": "inverse variance", "MH": "Mantel\u2013Haenszel", "PETO": "Peto"}

TESTS = ("z", "hksj")
#: aliases accepted for the Knapp-Hartung test (metafor calls it "knha")
TEST_ALIASES = {"knha": "hksj", "kh": "hksj", "hk": "hksj"}

#: where escalc adds the continuity correction (metafor's ``to``)
CC_TO = ("only0", "all", "if0all", "none")


def scale_of(measure: str) -> str:
    """'log' for ratio measures (and Peto's OR); the transformation of a proportion ('logit',
    'arcsine', 'freeman_tukey') or correlation ('fisher_z'); else 'identity'."""
    if measure in LOG_MEASURES:
        return "log"
    m = MEASURE_TABLE.get(measure)
    return m.scale if m is not None else "identity"


def natural_of(measure: str) -> str:
    """The back-transformation to the scale a reader sees: 'exp' for log-scale measures, else the
    measure's own ('expit', 'iarcsin', 'ipft', 'tanh'), '' for none."""
    if measure in LOG_MEASURES:
        return "exp"
    m = MEASURE_TABLE.get(measure)
    return m.natural if m is not None else ""

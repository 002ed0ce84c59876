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


MEASURE_TABLE: dict[str, Measure] = {m.code: m for m in (
    Measure("OR", "log", "binary", "Odds ratio", "OR"),
    Measure("RR", "log", "binary", "Risk ratio", "RR"),
    Measure("RD", "identity", "binary", "Risk difference", "RD"),
    Measure("MD", "identity", "continuous", "Mean difference", "MD"),
    Measure("SMD", "identity", "continuous", "Standardised mean difference (Hedges' g)", "SMD"),
    Measure("HR", "log", "contrast", "Hazard ratio", "HR"),
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
    """'log' for ratio measures (and Peto's OR), else 'identity'."""
    return "log" if measure in LOG_MEASURES else "identity"

"""Why a trial or study is left out of a meta-analysis: the stable :class:`ReasonCode`, the
:class:`Reason` (words + code) and the ``excluded`` entry written from them."""

from __future__ import annotations

from enum import Enum


class ReasonCode(str, Enum):
    """Why a trial or study is in ``excluded``: the stable ``reason_code`` beside the words of
    ``reason`` (code may test the code; the words may be reworded)."""

    EXCLUDED_BY_SPEC = "excluded_by_spec"   # select.exclude names it
    NOT_SELECTED = "not_selected"           # a select filter leaves it out
    NO_OUTCOME = "no_outcome"               # neither the outcome nor a fallback is recorded
    NO_COMPLEMENT = "no_complement"         # the fallback outcome cannot be complemented
    NO_DATA = "no_data"                     # dropout: no per-arm randomized/completed numbers
    MEASURE_MISMATCH = "measure_mismatch"   # the measure does not fit the outcome's data
    NEEDS_TABLES = "needs_tables"           # a reported contrast under MH or PETO
    ARMS = "arms"                           # no experimental/control pair to compare
    CROSSOVER = "crossover"                 # a crossover's paired or rho effect not computable
    DOUBLE_ZERO = "double_zero"             # no events (or only events) in both arms, dropped
    NOT_ESTIMABLE = "not_estimable"         # no finite effect size from the data
    SMALL_SAMPLE = "small_sample"           # too few participants for the measure (SMCC etc. need n >= 3)


#: every ``reason_code`` value (results.schema.json lists the same)
REASON_CODES = tuple(c.value for c in ReasonCode)


class Reason(str):
    """An exclusion's words (the ``str`` itself) with its :class:`ReasonCode` as ``.code``."""

    code: ReasonCode

    def __new__(cls, text: str, code: ReasonCode):
        self = super().__new__(cls, text)
        self.code = code
        return self


def excluded_entry(trial: str, reason: Reason) -> dict:
    """The ``excluded`` entry ``{trial, reason, reason_code}`` of a left-out trial or study."""
    return {"trial": trial, "reason": str(reason), "reason_code": reason.code.value}

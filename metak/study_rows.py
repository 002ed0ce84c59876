"""The record of a study row: one entry of a meta-analysis's ``studies`` in results.json.

:func:`metak.document.study_entry` builds a :class:`StudyRow` and writes its ``to_dict()``;
:mod:`metak.schema.generate` writes the ``studies`` schema from these fields; the figures, the
report and the summary of findings read rows back as records (``metak.typed.records(ma).studies``)
instead of raw keys. One declaration: the object, its check and its schema.
"""

from __future__ import annotations

from dataclasses import dataclass

from .records.model import ROB_LEVELS
from .schema.record import ABSENT, as_dict, between, enum, optional

__all__ = ["DesignNote", "RobRow", "StudyRow"]


@dataclass(frozen=True)
class DesignNote:
    """How a design changed the row's variance (a design effect for a cluster or crossover
    trial, ...): the method's code and the sentence saying what was done."""

    method: str
    note: str | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class RobRow:
    """The RoB 2 judgements of the outcome the row comes from (contract section 5): each domain
    (null: not assessed), the overall risk, and whether that overall follows from the domains
    by RoB 2's algorithm (``overall_derived``) rather than being given."""

    randomization: str | None = enum(*ROB_LEVELS, default=None)
    deviations: str | None = enum(*ROB_LEVELS, default=None)
    missing_data: str | None = enum(*ROB_LEVELS, default=None)
    measurement: str | None = enum(*ROB_LEVELS, default=None)
    reporting: str | None = enum(*ROB_LEVELS, default=None)
    overall: str = enum(*ROB_LEVELS)
    overall_derived: bool = False

    to_dict = as_dict


@dataclass(frozen=True)
class StudyRow:
    """One study row (a comparison of a trial; contract section 3): who was compared, the data
    as the trial record gives them, the effect ``yi`` and its variance ``vi`` on the analysis
    scale, the row's own CI at the analysis level, and its weight in percent (null when the
    model gives no weights)."""

    trial: str
    label: str
    experimental: str
    control: str
    control_type: str | None
    #: the outcome id used (null for effect sizes given directly, e.g. ``metak.fit(yi=, vi=)``)
    outcome: str | None
    #: the trial record's numbers for this comparison (their keys depend on the outcome type)
    data: dict
    #: null for a table whose own effect is not estimable but which the pooled model keeps (a
    #: double-zero table in a Mantel-Haenszel risk difference), and so for vi, se and the CI
    yi: float | None
    vi: float | None = between(exclusive_minimum=0)
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    weight: float | None = between(0, 100, default=None)
    #: a control arm shared by this many comparisons (multi_arm: split_control), when > 1
    split_control: int = optional()
    #: ``{"experimental": "ketamine", "control": "midazolam"}`` from the arms' interventions
    interventions: dict[str, str] = optional()
    #: how the row was converted to the analysis measure (e.g. SMD -> log OR), when it was
    converted: str = optional()
    design: DesignNote = optional()
    risk_of_bias: RobRow = optional()

    to_dict = as_dict

    def ci(self) -> tuple[float, float]:
        return self.ci_lower, self.ci_upper

    @property
    def has_rob(self) -> bool:
        return self.risk_of_bias is not ABSENT

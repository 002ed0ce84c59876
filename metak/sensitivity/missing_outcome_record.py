"""The frozen ``sensitivity.missing_outcome`` record: binary outcomes' IMOR scenarios
(Higgins et al. 2008), continuous outcomes' IMDOM scenarios (Mavridis et al. 2015), or only
the reason none could be made. Its fields generate the schema fragment (``python -m
metak.schema.generate``); :mod:`metak.sensitivity.missing_outcome` builds the dict and
:meth:`MissingOutcome.of` checks it against these fields."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, enum, from_dict, optional

SCENARIOS = ("available_case", "missing_as_failure", "missing_as_success", "best_case", "worst_case", "imor",
             "imdom")
#: what changes at the tipping point
CHANGES = ("the CI reaches the null", "the CI comes to exclude the null")


@dataclass(frozen=True, kw_only=True)
class Study:
    """A study's missing participants per arm (with where the numbers come from), or why it
    has none to impute (a reported contrast)."""

    trial: str
    label: str
    applicable: bool
    missing_experimental: float | None = optional()
    missing_control: float | None = optional()
    source_experimental: str = optional()
    source_control: str = optional()
    note: str | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Scenario:
    """The pooled fit under one assumption about the missing participants. The IMDOM fields
    are written for continuous outcomes; ``i2`` and ``p_value`` for the refitted scenarios
    (not the available-case one, which is the analysis itself)."""

    name: str = enum(*SCENARIOS)
    imor_experimental: float | None
    imor_control: float | None
    imdom_experimental: float = optional()
    imdom_control: float = optional()
    imdom_sd_experimental: float = optional()
    imdom_sd_control: float = optional()
    imdom_correlation: float = optional()
    k: int | None
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    i2: float | None = optional()
    p_value: float | None = optional()
    reason: str = optional()
    #: studies whose effect is undefined under the scenario
    left_out: tuple[str, ...] = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class TippingImor:
    """The common IMOR nearest 1 in [1/100, 100] at which the conclusion changes."""

    imor: float | None
    change: str | None = enum(*CHANGES)
    reason: str | None
    all: tuple[float, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class TippingImdom:
    """The common IMDOM nearest 0 in ``range`` at which the conclusion changes."""

    imdom: float | None
    change: str | None = enum(*CHANGES)
    reason: str | None
    all: tuple[float, ...]
    range: tuple[float, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class MissingOutcome:
    measure: str = optional()
    direction: str = optional()
    #: "imdom" for continuous outcomes
    method: str = optional(enum=("imdom",))
    studies: tuple[Study, ...] = optional()
    scenarios: tuple[Scenario, ...]
    tipping_imor: TippingImor = optional()
    tipping_imdom: TippingImdom = optional()
    #: why no scenario could be made
    reason: str = optional()
    notes: tuple[str, ...] = optional()

    to_dict = as_dict

    @classmethod
    def of(cls, body: dict) -> MissingOutcome:
        """The record of the dict :func:`metak.sensitivity.missing_outcome.run` built."""
        return from_dict(cls, body)

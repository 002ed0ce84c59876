"""The record of one refit (:func:`metak.sensitivity.refit.refit`, or
:func:`~metak.sensitivity.refit.null_fit` when the refit could not be made), shared by the
post-fit analyses' records: restricted analyses, bias-adjusted fits, scenarios."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, optional


@dataclass(frozen=True)
class Refit:
    """``{k, estimate, se, ci_lower, ci_upper, tau2, i2, p_value}``; all null (with ``reason``)
    when the refit could not be made."""

    k: int | None
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    i2: float | None
    p_value: float | None
    #: why there is no estimate (null_fit's reason)
    reason: str = optional()

    to_dict = as_dict

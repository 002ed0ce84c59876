"""Frozen result records of a fitted meta-analysis."""

from __future__ import annotations

import math
from dataclasses import dataclass, field, fields

import numpy as np


def clean(x):
    """A JSON-ready number: plain float/int, None for NaN/inf/None."""
    if x is None:
        return None
    if isinstance(x, (bool, np.bool_)):
        return bool(x)
    if isinstance(x, (int, np.integer)):
        return int(x)
    x = float(x)
    return x if math.isfinite(x) else None


def clean_pair(pair):
    if pair is None:
        return None
    a, b = clean(pair[0]), clean(pair[1])
    return None if a is None and b is None else [a, b]


@dataclass(frozen=True)
class CommonEffect:
    """The fixed-/common-effect (inverse-variance) estimate reported beside a random-effects fit."""

    estimate: float
    se: float
    ci_lower: float
    ci_upper: float

    def to_dict(self):
        return {f.name: clean(getattr(self, f.name)) for f in fields(self)}


@dataclass(frozen=True)
class MetaResult:
    """A fitted meta-analysis; field names and meanings are those of results.json.

    Numbers that are undefined for the model (e.g. ``tau2`` of a fixed-effect fit, ``df``
    under a z test) are ``None``; :meth:`to_dict` never emits NaN.
    """

    method: str
    test: str
    level: float
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    statistic: float | None
    df: int | None
    p_value: float | None
    pi_lower: float | None = None
    pi_upper: float | None = None
    tau2: float | None = None
    tau2_ci: tuple | None = None
    tau: float | None = None
    tau_ci: tuple | None = None
    i2: float | None = None
    i2_ci: tuple | None = None
    h2: float | None = None
    h2_ci: tuple | None = None
    q: float | None = None
    q_df: int | None = None
    q_p: float | None = None
    common_effect: CommonEffect | None = None
    #: per-study weights in percent (NaN for a table MH/Peto dropped)
    weights: tuple = ()
    converged: bool = True
    warnings: tuple = field(default=())

    MODEL_KEYS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "df", "p_value", "pi_lower",
                  "pi_upper", "tau2", "tau2_ci", "tau", "tau_ci", "i2", "i2_ci", "h2", "h2_ci", "q",
                  "q_df", "q_p")

    def to_dict(self) -> dict:
        """The model fields of a results.json meta-analysis object (contract section 3)."""
        out = {"k": self.k}
        for key in self.MODEL_KEYS:
            value = getattr(self, key)
            out[key] = clean_pair(value) if key.endswith("_ci") else clean(value)
        out["common_effect"] = self.common_effect.to_dict() if self.common_effect else None
        return out

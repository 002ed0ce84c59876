"""A fitted-model specification: ``Model(method, test, level, cc).fit(table, X=None)``.

The model is frozen and validated when it is built, so a typo fails before any fitting. Its
``fit`` dispatches: MH and PETO to the 2x2-table estimators, inverse-variance methods to the
O(k) intercept-only fast path, and to the meta-regression engine when a design matrix X is
given. Results carry no inputs and never refit themselves: an analysis that needs a refit
(leave-one-out, subgroups, restricted analyses) transforms the table and calls ``fit`` again.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..effects.escalc import ContinuityCorrection
from ..errors import MetakError
from ..vocab import CC_TO
from .fit import check_settings, fit
from .regression import RegressionResult, fit_regression
from .result import MetaResult
from .tables import fit_tables


@dataclass(frozen=True)
class Model:
    """Method, test, level and zero-cell handling of a meta-analysis (contract section 2)."""

    method: str = "REML"
    test: str = "z"
    level: float = 0.95
    cc: ContinuityCorrection = field(default_factory=ContinuityCorrection)

    def __post_init__(self):
        method, test, level = check_settings(self.method, self.test, self.level)
        if self.cc.to not in CC_TO:
            raise MetakError(f"cc.to {self.cc.to!r} is not one of {', '.join(CC_TO)}")
        if not self.cc.add >= 0:
            raise MetakError(f"cc.add must be >= 0, got {self.cc.add!r}")
        object.__setattr__(self, "method", method)
        object.__setattr__(self, "test", test)
        object.__setattr__(self, "level", level)

    @property
    def uses_tables(self) -> bool:
        return self.method in ("MH", "PETO")

    def fit(self, table, X=None, *, names=None, moderators=(), permutations=None, seed=None
            ) -> MetaResult | RegressionResult:
        """Fit the effect table (intercept-only, or with design matrix X: a meta-regression)."""
        if X is not None:
            if self.uses_tables:
                raise MetakError(f"method {self.method} has no meta-regression; use an inverse-variance method")
            return fit_regression(table.yi, table.vi, X, method=self.method, test=self.test, level=self.level,
                                  names=names, moderators=moderators, permutations=permutations, seed=seed)
        if table.k == 0:
            raise MetakError("no study to fit")
        if self.uses_tables:
            tables = table.tables
            if tables is None:
                raise MetakError(f"method {self.method} needs a 2x2 table for every study")
            # yi/vi are the escalc values of the (harmonised) tables; they serve MH's Q,
            # and fit_tables takes Peto's Q from the raw tables itself
            return fit_tables(tables, table.yi, table.vi, measure=table.measure, method=self.method,
                              test=self.test, level=self.level, drop00=self.cc.drop00)
        return fit(table.yi, table.vi, method=self.method, test=self.test, level=self.level)

    def to_dict(self) -> dict:
        return {"method": self.method, "test": self.test, "level": self.level, "cc": self.cc.to_dict()}


def study_ci(yi, vi, level):
    """Each study's own normal-theory CI."""
    from scipy import special

    crit = float(special.ndtri(0.5 + level / 2))
    se = np.sqrt(np.asarray(vi, float))
    return yi - crit * se, yi + crit * se

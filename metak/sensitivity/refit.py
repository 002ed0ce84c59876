"""The refit helpers every post-fit analysis shares: refit a model on a (sub)table and report
``{k, estimate, se, ci_lower, ci_upper, tau2, i2, p_value}`` or why not; shift rows' effects by
a bias; the inverse-variance model to refit shifted effects with; the benefit sign."""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from ..estimators.model import Model
from ..format import clean

__all__ = ["FIT_KEYS", "benefit_sign", "finite_rows", "iv_model", "null_fit", "refit", "shifted"]


def benefit_sign(direction: str) -> int:
    """s = +1 when higher is better, -1 otherwise."""
    return 1 if direction == "higher_is_better" else -1


def iv_model(model, notes: list | None = None, what: str = ""):
    """The model itself when it is inverse-variance; else the common-effect inverse-variance
    model (a shifted yi has no 2x2 table for Mantel-Haenszel or Peto), with a note."""
    if not model.uses_tables:
        return model
    if notes is not None:
        notes.append(f"{what}{model.method} works on the 2x2 tables; the shifted effects are refitted by the "
                     "inverse-variance common-effect model (FE)")
    return Model("FE", model.test, model.level, model.cc)


FIT_KEYS = ("estimate", "se", "ci_lower", "ci_upper", "tau2")


def refit(model, table) -> tuple[dict | None, str | None]:
    """``{k, estimate, se, ci_lower, ci_upper, tau2, i2}`` of ``model`` on ``table``, or
    (None, reason)."""
    if table.k == 0:
        return None, "no study"
    try:
        r = model.fit(table)
    except MetakError as exc:
        return None, f"not estimable: {exc}"
    return {"k": r.k, **{key: clean(getattr(r, key)) for key in FIT_KEYS}, "i2": clean(r.i2),
            "p_value": clean(r.p_value)}, None


def null_fit(k=None, reason: str | None = None) -> dict:
    """The keys of :func:`refit` with no estimate (a refit that could not be made), and why."""
    out = {"k": k, **dict.fromkeys(FIT_KEYS), "i2": None, "p_value": None}
    if reason:
        out["reason"] = reason
    return out


def finite_rows(table):
    """Rows with an effect size of their own (MH RD keeps double-zero tables, which have none)."""
    return table.subset(np.isfinite(table.yi) & np.isfinite(table.vi))


def shifted(table, mask, shift: float, added_var: float, s: int):
    """yi - s shift and vi + added_var in the rows of ``mask``."""
    m = np.asarray(mask, bool)
    return table.replace(yi=table.yi - s * shift * m, vi=table.vi + added_var * m)

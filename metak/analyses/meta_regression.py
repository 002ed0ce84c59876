"""Meta-regression (``moderators:``, ``permutations:``): metafor's ``rma(yi, vi, mods = ~ ...)``
on the meta-analysis's table, with the bubble plot's curve for one continuous moderator."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..errors import MetakError
from ..estimators.regression import RegressionResult


class ExclusionCode(str, Enum):
    """Why a study is left out of the meta-regression (``reason_code`` beside ``reason``)."""

    MISSING_MODERATOR = "missing_moderator"  # a moderator is not recorded for its trial


@dataclass(frozen=True)
class RegressionExclusion:
    trial: str
    label: str
    reason: str
    reason_code: str

    def to_dict(self) -> dict:
        return {"trial": self.trial, "label": self.label, "reason": self.reason, "reason_code": self.reason_code}


@dataclass(frozen=True)
class RegressionStudy:
    """A study the meta-regression used: its moderator values, yi, vi and weight (percent)."""

    trial: str
    label: str
    values: tuple  # ((moderator, value), ...) in the spec's order
    yi: float
    vi: float
    weight: float

    def to_dict(self) -> dict:
        return {"trial": self.trial, "label": self.label, "values": dict(self.values), "yi": self.yi,
                "vi": self.vi, "weight": self.weight}


@dataclass(frozen=True)
class RegressionCurve:
    """The fitted line over one continuous moderator (101 points), with CI and PI (null for FE)."""

    moderator: str
    x: tuple[float, ...]
    estimate: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]
    pi_lower: tuple[float, ...] | None
    pi_upper: tuple[float, ...] | None

    def to_dict(self) -> dict:
        seq = lambda v: None if v is None else list(v)  # noqa: E731
        return {"moderator": self.moderator, "x": list(self.x), "estimate": list(self.estimate),
                "ci_lower": list(self.ci_lower), "ci_upper": list(self.ci_upper),
                "pi_lower": seq(self.pi_lower), "pi_upper": seq(self.pi_upper)}


@dataclass(frozen=True)
class MetaRegression:
    """The ``meta_regression`` object of results.json (contract section 5)."""

    fit: RegressionResult
    excluded: tuple[RegressionExclusion, ...]
    studies: tuple[RegressionStudy, ...]
    curve: RegressionCurve | None

    def to_dict(self) -> dict:
        return {**self.fit.to_dict(), "excluded": [e.to_dict() for e in self.excluded],
                "studies": [s.to_dict() for s in self.studies],
                "curve": None if self.curve is None else self.curve.to_dict()}


def default(meta: dict) -> bool:
    """Asked for by ``moderators:``."""
    return "moderators" in meta


def run(ctx, params) -> MetaRegression:
    from ..effects.design import design_matrix

    ms, table, model = ctx.spec, ctx.table, ctx.model
    try:
        d = design_matrix(table, ms.moderators)
        sub = table.subset(d.keep)
        n, seed = ms.permutations or (None, None)
        reg = model.fit(sub, d.X, names=d.names, moderators=ms.moderators, permutations=n, seed=seed)
    except MetakError as exc:
        raise ms.error("moderators[0]", str(exc)) from None
    for trial, label, why in d.excluded:
        ctx.warnings.append(f"{label}: {why}")
    ctx.warnings.extend(f"meta-regression: {w}" for w in reg.warnings)
    excluded = tuple(RegressionExclusion(t, lab, why, ExclusionCode.MISSING_MODERATOR.value)
                     for t, lab, why in d.excluded)
    w = 1 / (sub.vi + (reg.tau2 or 0.0))
    studies = tuple(RegressionStudy(r.trial, r.label, tuple((m, r.covariates.get(m)) for m in ms.moderators),
                                    r.yi, r.vi, float(100 * wi / w.sum())) for r, wi in zip(sub.rows, w))
    continuous = [m for m, kind in d.kinds if kind == "continuous"]
    curve = None
    if len(ms.moderators) == 1 and continuous:
        j = d.names.index(continuous[0])
        x = np.linspace(d.X[:, j].min(), d.X[:, j].max(), 101)
        pred = reg.predict(np.column_stack([np.ones_like(x), x]))
        band = {key: tuple(pred[key].tolist()) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")}
        if model.method == "FE":
            band["pi_lower"] = band["pi_upper"] = None
        curve = RegressionCurve(continuous[0], tuple(x.tolist()), **band)
    return MetaRegression(reg, excluded, studies, curve)


def methods_sentence(mr: dict, cite) -> str:
    """Its sentence in the methods text: the moderators fitted, and the permutation test if run."""
    from ..methods_words import names

    mods = [str(c["name"]).replace("_", " ") for c in mr.get("coefficients", []) if c["name"] != "intercept"]
    perm = f", with a permutation test {cite('ht2004')}" if mr.get("permutation") else ""
    return f"A mixed-effects meta-regression on {names(mods)} was fitted{perm}."

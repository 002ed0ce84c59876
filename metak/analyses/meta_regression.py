"""Meta-regression (``moderators:``, ``permutations:``): metafor's ``rma(yi, vi, mods = ~ ...)``
on the meta-analysis's table, with the bubble plot's curve for one continuous moderator."""

from __future__ import annotations

from dataclasses import dataclass
from enum import Enum

import numpy as np

from ..errors import MetakError
from ..schema.record import as_dict, enum, flat, from_dict, optional
from ..vocab import TESTS


class ExclusionCode(str, Enum):
    """Why a study is left out of the meta-regression (``reason_code`` beside ``reason``)."""

    MISSING_MODERATOR = "missing_moderator"  # a moderator is not recorded for its trial


@dataclass(frozen=True)
class RegressionExclusion:
    trial: str
    label: str
    reason: str
    reason_code: str = enum(*(c.value for c in ExclusionCode))

    to_dict = as_dict


@dataclass(frozen=True)
class RegressionCoefficient:
    """One coefficient (:meth:`metak.estimators.regression.Coefficient.to_dict`), named as
    results.json names it ("intercept", "latitude", "allocation=random")."""

    name: str
    estimate: float | None
    se: float | None
    statistic: float | None
    p_value: float | None
    ci_lower: float | None
    ci_upper: float | None
    #: written with a permutation test
    p_permutation: float | None = optional()

    to_dict = as_dict


@dataclass(frozen=True)
class RegressionPermutation:
    """The permutation test of QM (metafor's ``permutest``)."""

    permutations: int
    exact: bool | None
    qm_p: float | None

    to_dict = as_dict


@dataclass(frozen=True)
class RegressionFitNumbers:
    """:meth:`metak.estimators.regression.RegressionResult.to_dict`: the fit's numbers (QM on df,
    or [df1, df2] under Knapp-Hartung; I² and H² residual, in percent and as a ratio)."""

    moderators: tuple[str, ...]
    test: str = enum(*TESTS)
    k: int
    coefficients: tuple[RegressionCoefficient, ...]
    qm: float | None
    qm_df: int | tuple[int, int]
    qm_p: float | None
    qe: float | None
    qe_df: int
    qe_p: float | None
    tau2: float | None
    r2: float | None
    i2: float | None
    h2: float | None
    vcov: tuple[tuple[float | None, ...], ...]
    permutation: RegressionPermutation = optional()

    to_dict = as_dict


@dataclass(frozen=True)
class RegressionStudy:
    """A study the meta-regression used: its moderator values, yi, vi and weight (percent)."""

    trial: str
    label: str
    values: dict  # {moderator: its value (text or number)} in the spec's order
    yi: float
    vi: float
    weight: float

    to_dict = as_dict


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
    """The ``meta_regression`` object of results.json (contract section 5): the fit's numbers
    (inline), the Q-profile CIs of the residual tau², tau, I² and H² (null for FE, or when not
    computable: the reason in the warnings), the studies left out and used, the bubble plot's
    curve."""

    fit: RegressionFitNumbers = flat()
    tau2_ci: tuple[float, float] | None = None
    tau_ci: tuple[float, float] | None = None
    i2_ci: tuple[float, float] | None = None
    h2_ci: tuple[float, float] | None = None
    excluded: tuple[RegressionExclusion, ...] = ()
    studies: tuple[RegressionStudy, ...] = ()
    curve: RegressionCurve | None = None

    to_dict = as_dict


def default(meta: dict) -> bool:
    """Asked for by ``moderators:``."""
    return "moderators" in meta


def parse_moderators(c, path, value, measure) -> tuple:
    """``moderators: [latitude, year]`` (or one name): characteristics or trial fields, each once
    (their names are checked against the loaded trials by :mod:`metak.spec.against`)."""
    from ..spec.blocks import _string_list

    moderators = _string_list(c, path) or ()
    if len(set(moderators)) != len(moderators):
        c.add(path, "a moderator is named twice")
    if not moderators:
        c.add(path, "name at least one moderator, e.g. moderators: [latitude]")
    return tuple(moderators)


def parse_permutations(c, path, value, measure):
    """``permutations: 1000`` or ``{iterations: 1000, seed: 1}`` -> (iterations, seed)."""
    from ..spec.blocks import _permutations

    return _permutations(c, path)


def check(c, path, values, meta: dict) -> None:
    """The parameters together (``path`` is the meta-analysis's): a permutation test needs
    moderators, and the multivariate model has no meta-regression yet. (Method MH or PETO, which
    has none either, is checked by the spec parser with the defaults' method.)"""
    if "permutations" in meta and not values.get("moderators"):
        c.add(path + ("permutations",), "a permutation test needs moderators: (it tests the meta-regression)")
    if meta.get("multi_arm") == "multivariate":
        for key in ("moderators", "permutations"):
            if key in meta:
                c.add(path + (key,), f"'{key}' is not yet available with multi_arm: multivariate (it would refit a "
                                     "different, univariate model); use multi_arm: split_control for it")


def run(ctx, params) -> MetaRegression:
    from ..effects.design import design_matrix

    ms, table, model = ctx.spec, ctx.table, ctx.model
    moderators = params["moderators"]
    try:
        d = design_matrix(table, moderators)
        sub = table.subset(d.keep)
        n, seed = params["permutations"] or (None, None)
        reg = model.fit(sub, d.X, names=d.names, moderators=moderators, permutations=n, seed=seed)
    except MetakError as exc:
        raise ms.error("moderators[0]", str(exc)) from None
    for trial, label, why in d.excluded:
        ctx.warnings.append(f"{label}: {why}")
    ctx.warnings.extend(f"meta-regression: {w}" for w in reg.warnings)
    excluded = tuple(RegressionExclusion(t, lab, why, ExclusionCode.MISSING_MODERATOR.value)
                     for t, lab, why in d.excluded)
    w = 1 / (sub.vi + (reg.tau2 or 0.0))
    studies = tuple(RegressionStudy(r.trial, r.label, {m: r.covariates.get(m) for m in moderators},
                                    r.yi, r.vi, float(100 * wi / w.sum())) for r, wi in zip(sub.rows, w))
    continuous = [m for m, kind in d.kinds if kind == "continuous"]
    curve = None
    if len(moderators) == 1 and continuous:
        j = d.names.index(continuous[0])
        x = np.linspace(d.X[:, j].min(), d.X[:, j].max(), 101)
        pred = reg.predict(np.column_stack([np.ones_like(x), x]))
        band = {key: tuple(pred[key].tolist()) for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")}
        if model.method == "FE":
            band["pi_lower"] = band["pi_upper"] = None
        curve = RegressionCurve(continuous[0], tuple(x.tolist()), **band)
    cis = _residual_cis(sub, d.X, reg, model, ctx.warnings)
    return MetaRegression(from_dict(RegressionFitNumbers, reg.to_dict()), *cis, excluded, studies, curve)


def _residual_cis(sub, X, reg, model, warnings) -> tuple:
    """The Q-profile CIs of the residual tau², tau, I² and H² (metafor's ``confint(res)`` of an
    ``rma(mods = ...)`` fit, :func:`metak.estimators.qprofile_mods.q_profile_regression`): four
    nulls for FE, or when the interval cannot be computed (the reason in the warnings)."""
    from ..estimators.qprofile_mods import NOT_CONVERGED_NOTE, q_profile_regression, qprofile_notes
    from ..format import clean

    if model.method == "FE" or reg.tau2 is None:
        return (None,) * 4
    try:
        qp = q_profile_regression(sub.yi, sub.vi, X, reg.tau2, level=model.level)
    except MetakError as exc:
        warnings.append(f"meta-regression: no Q-profile CI of the residual tau²: {exc}")
        return (None,) * 4
    warnings.extend(f"meta-regression: {note}" for note, _ in qprofile_notes(qp) if note != NOT_CONVERGED_NOTE)
    if not qp["converged"]:
        warnings.append(f"meta-regression: {NOT_CONVERGED_NOTE}; its CIs (tau2_ci, tau_ci, i2_ci, h2_ci) are reported "
                        "as null")
        return (None,) * 4
    return tuple((clean(qp[key][1]), clean(qp[key][2])) for key in ("tau2", "tau", "i2", "h2"))


def methods_sentence(mr: dict, cite) -> str:
    """Its sentence in the methods text: the moderators fitted, and the permutation test if run."""
    from ..methods_words import names

    mods = [str(c["name"]).replace("_", " ") for c in mr.get("coefficients", []) if c["name"] != "intercept"]
    perm = f", with a permutation test {cite('ht2004')}" if mr.get("permutation") else ""
    return f"A mixed-effects meta-regression on {names(mods)} was fitted{perm}."

"""Subgroup analyses by any trial characteristic or field, and the active- vs inert-placebo test.

Cochrane's test for subgroup differences (contract section 3): each subgroup is fitted with
the analysis's method and test (a single-study subgroup keeps its study's estimate and SE);
Q_between = sum (theta_g - theta_bar)² / SE_g², theta_bar their inverse-variance mean,
df = G - 1, I²_between = max(0, (Q - df) / Q). Beside it, the mixed-effects QM: the
meta-regression on the subgroup's dummies (metafor's ``rma(mods = ~ factor(group))``), whose
single tau² is shared by the subgroups.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np
from scipy import stats

from ..effects.design import design_matrix, level_text
from ..errors import MetakError
from ..format import clean
from ..schema.record import as_dict, enum, flat, from_dict, optional
from ..vocab import TESTS
from .refit import benefit_sign, finite_rows, iv_model, null_fit, refit
from .refit_record import Refit


@dataclass(frozen=True)
class SubgroupFit:
    value: str
    k: int
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    tau2: float | None
    i2: float | None
    #: why the group has no estimate (then it is left out of the test for differences)
    note: str | None = None

    def to_dict(self, key: str = "value") -> dict:
        out = {key: self.value, "k": self.k, "estimate": clean(self.estimate), "se": clean(self.se),
               "ci_lower": clean(self.ci_lower), "ci_upper": clean(self.ci_upper), "tau2": clean(self.tau2),
               "i2": clean(self.i2)}
        if self.note:
            out["note"] = self.note
        return out


@dataclass(frozen=True)
class SubgroupResult:
    by: str
    groups: tuple[SubgroupFit, ...]
    q_between: float | None = None
    df_between: int | None = None
    p_between: float | None = None
    i2_between: float | None = None
    qm: float | None = None
    qm_df: object = None
    qm_p: float | None = None
    test: str = "z"
    #: (trial, label, reason) of rows without a value for ``by``
    excluded: tuple = ()

    def to_dict(self) -> dict:
        """The ``subgroups`` object of results.json (contract section 5)."""
        return {"by": self.by, "groups": [g.to_dict() for g in self.groups],
                "q_between": clean(self.q_between), "df_between": self.df_between,
                "p_between": clean(self.p_between), "i2_between": clean(self.i2_between),
                "mixed_effects": {"qm": clean(self.qm),
                                  "qm_df": list(self.qm_df) if isinstance(self.qm_df, tuple) else self.qm_df,
                                  "qm_p": clean(self.qm_p), "test": self.test},
                "excluded": [{"trial": t, "label": lab, "reason": why} for t, lab, why in self.excluded]}


def subgroup_analysis(table, model, by: str, *, missing: str | None = None, mixed: bool = True) -> SubgroupResult:
    """Fit each subgroup of covariate ``by`` separately and test the differences.

    Rows without a value for ``by`` are left out with a reason, or grouped as ``missing``
    when that is given (the active-placebo test groups them as "unspecified").
    """
    values = [None if v is None else level_text(v) for v in table.column(by)]
    if missing is not None:
        values = [missing if v is None else v for v in values]
    excluded = tuple((r.trial, r.label, f"'{by}' not recorded for this trial; left out of the subgroup analysis")
                     for r, v in zip(table.rows, values) if v is None)
    keep = np.array([v is not None for v in values], bool)
    sub = table.subset(keep)
    values = [v for v in values if v is not None]
    groups = np.asarray(values, dtype=object)
    fits = []
    for g in sorted(set(values), key=str):
        part = sub.subset(groups == g)
        try:
            r = model.fit(part)
        except MetakError as exc:  # e.g. an MH odds ratio undefined in this group alone
            fits.append(SubgroupFit(g, part.k, None, None, None, None, None, None, note=f"not estimable: {exc}"))
            continue
        fits.append(SubgroupFit(g, r.k, r.estimate, r.se, r.ci_lower, r.ci_upper, r.tau2, r.i2))
    out = {}
    usable = [f for f in fits if f.estimate is not None]
    if len(usable) >= 2:
        th = np.array([f.estimate for f in usable])
        se = np.array([f.se for f in usable])
        w = 1 / se**2
        bar = (w * th).sum() / w.sum()
        q = float((w * (th - bar) ** 2).sum())
        df = len(usable) - 1
        out.update(q_between=q, df_between=df, p_between=float(stats.chi2.sf(q, df)),
                   i2_between=(max(0.0, 100 * (q - df) / q) if q > 0 else 0.0))
        if mixed and not model.uses_tables:
            try:
                # the groups as text, so that a numeric characteristic is a factor here too
                cov_rows = tuple(replace(r, covariates={**r.covariates, by: v}) for r, v in zip(sub.rows, values))
                d = design_matrix(replace(sub, rows=cov_rows), [by])
                reg = model.fit(sub, d.X, names=d.names)
                out.update(qm=reg.qm, qm_df=reg.qm_df, qm_p=reg.qm_p)
            except MetakError:
                pass  # more groups than the studies allow: the Cochrane test stands alone
    return SubgroupResult(by, tuple(fits), test=model.test, excluded=excluded, **out)


def active_placebo_dict(res: SubgroupResult) -> dict:
    """The ``sensitivity.active_placebo`` object (contract section 3): groups keyed by control_type."""
    return {"subgroups": [g.to_dict("control_type") for g in res.groups], "q_between": clean(res.q_between),
            "df_between": res.df_between, "p_between": clean(res.p_between), "i2_between": clean(res.i2_between)}


# --- the records of results.json (their fields generate the schema: metak.schema.generate) ---

@dataclass(frozen=True)
class GroupRow:
    """:meth:`SubgroupFit.to_dict`: one subgroup's fit (null estimate with a ``note`` when it has
    none)."""

    value: str
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    i2: float | None
    note: str = optional()

    to_dict = as_dict


@dataclass(frozen=True)
class ControlTypeRow:
    """A subgroup of the active-placebo test, keyed by its control type."""

    control_type: str
    k: int
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None
    i2: float | None
    note: str = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class MixedEffects:
    """The meta-regression on the subgroups' dummies: QM on df (or [df1, df2] under
    Knapp-Hartung), null when not fitted."""

    qm: float | None
    qm_df: int | tuple[int, ...] | None
    qm_p: float | None
    test: str = enum(*TESTS)

    to_dict = as_dict


@dataclass(frozen=True)
class Excluded:
    trial: str
    label: str
    reason: str

    to_dict = as_dict


@dataclass(frozen=True)
class Subgroups:
    """:meth:`SubgroupResult.to_dict`, the ``subgroups`` object (contract section 5)."""

    by: str
    groups: tuple[GroupRow, ...]
    q_between: float | None
    df_between: int | None
    p_between: float | None
    i2_between: float | None
    mixed_effects: MixedEffects
    excluded: tuple[Excluded, ...]

    to_dict = as_dict


@dataclass(frozen=True)
class AssumedEffect:
    """The refit with the active placebo's assumed own effect added back."""

    effect: float
    k_shifted: int
    fit: Refit = flat()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class ActivePlacebo:
    """``sensitivity.active_placebo``: subgroups by control type with Cochrane's test, the fit
    restricted to active placebos and the assumed-effect refits (null when none was given)."""

    subgroups: tuple[ControlTypeRow, ...]
    q_between: float | None
    df_between: int | None
    p_between: float | None
    i2_between: float | None
    restricted: Refit | None
    assumed_effect: tuple[AssumedEffect, ...] | None
    #: +1 when higher is better, -1 otherwise
    sign: int = enum(1, -1)
    reasons: dict[str, str]

    to_dict = as_dict


def assumed_effect_fits(model, table, effects, s: int) -> list[dict]:
    """Comparisons against an active placebo get yi + s x effect (the placebo's own effect, on
    the analysis scale, added back: what the drug would show against an inert placebo) and the
    table is refitted, once per effect."""
    active = np.array([r.control_type == "active_placebo" for r in table.rows], bool)
    out = []
    for e in effects:
        fit, why = refit(model, table.replace(yi=table.yi + s * e * active))
        row = {"effect": float(e), "k_shifted": int(active.sum())}
        row.update(fit or null_fit(reason=why))
        out.append(row)
    return out


def run_active_placebo(ctx, params) -> ActivePlacebo:
    res = subgroup_analysis(ctx.table, ctx.model, "control_type", missing="unspecified", mixed=False)
    if len(res.groups) < 2:
        ctx.warnings.append("active_placebo: all studies share one control type; no subgroup test")
    table = ctx.table
    active = np.array([r.control_type == "active_placebo" for r in table.rows], bool)
    reasons, notes = {}, []
    restricted, why = refit(ctx.model, table.subset(active))
    if restricted is None:
        reasons["restricted"] = "no comparison is against an active placebo" if not active.any() else why
    effects = params.get("assumed_effect")
    assumed = None
    if effects:
        fin = finite_rows(table)
        if not any(r.control_type == "active_placebo" for r in fin.rows):
            reasons["assumed_effect"] = "no comparison is against an active placebo: nothing to add back"
            ctx.warnings.append("active_placebo: an assumed effect was given, but no comparison is against an "
                                "active placebo")
        assumed = assumed_effect_fits(iv_model(ctx.model, notes, "assumed effect: "), fin, effects,
                                      benefit_sign(table.direction))
    else:
        reasons["assumed_effect"] = "no assumed_effect given"
    ctx.warnings.extend(f"active_placebo: {n}" for n in notes)
    return from_dict(ActivePlacebo, {**active_placebo_dict(res), "restricted": restricted, "assumed_effect": assumed,
                                     "sign": benefit_sign(table.direction), "reasons": reasons})

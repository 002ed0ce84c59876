"""Dose-response: the multilevel model of every dose comparison against its shared control.

``dose_response: {model: linear | log_linear | spline, knots: [...]}`` in a meta-analysis with
``multi_arm: multivariate`` fits ``rma.mv(yi, V, mods = ~ dose, random = ~ 1 | trial/comparison)``
(``~ log(dose)``; a restricted cubic spline ``rcspline.eval(dose, knots, inclx = TRUE)``) on the
comparisons that carry a dose, with the exact shared-control covariance V (Orsini et al. 2012).
The dose of a comparison is the experimental arm's dose minus the control's when the control
is the same intervention at a lower dose, else minus 0.

This module is the whole analysis: its parameters are declared in its registry entry
(:data:`metak.registry.ANALYSES`), :func:`check` checks them together, :func:`run` fits it on the
model stage's context and returns the frozen :class:`DoseResponse`, whose fields give
results.json's ``dose_response`` object and its JSON-schema fragment; :func:`methods_sentence`
is its sentence in the methods text. Its figure is :func:`metak.plots.dose.dose_response`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format import clean

MODELS = ("linear", "log_linear", "spline")
_MODS = {"log_linear": "log(dose)", "linear": "dose", "spline": "rcspline.eval(dose, knots, inclx = TRUE)"}


@dataclass(frozen=True)
class DoseCoefficient:
    """One coefficient of the dose-response model (analysis scale)."""

    name: str
    estimate: float | None
    se: float | None
    statistic: float | None
    p_value: float | None
    ci_lower: float | None
    ci_upper: float | None


@dataclass(frozen=True)
class DosePoint:
    """One comparison in the model: its dose (difference) and effect."""

    trial: str
    label: str
    dose: float | None
    yi: float | None
    vi: float | None


@dataclass(frozen=True)
class DoseCurve:
    """The fitted curve on 101 doses from the lowest (or 0) to the highest, with its CI."""

    dose: tuple[float, ...]
    estimate: tuple[float, ...]
    ci_lower: tuple[float, ...]
    ci_upper: tuple[float, ...]


@dataclass(frozen=True)
class DoseResponse:
    """results.json ``dose_response`` (contract v2): the model, the fit and its curve."""

    model: str
    unit: str
    fit: str
    knots: tuple[float, ...] | None
    k: int
    n_trials: int
    test: str
    df: int | None
    coefficients: tuple[DoseCoefficient, ...]
    sigma2_trial: float | None
    sigma2_comparison: float | None
    points: tuple[DosePoint, ...]
    curve: DoseCurve

    def to_dict(self) -> dict:
        from dataclasses import asdict

        out = asdict(self)
        out["knots"] = None if self.knots is None else list(self.knots)
        out["coefficients"] = [asdict(c) for c in self.coefficients]
        out["points"] = [asdict(p) for p in self.points]
        out["curve"] = {k: list(v) for k, v in asdict(self.curve).items()}
        return out


def parse_knots(c, path, value, _measure):
    """``knots: [0.1, 0.5, 1]``: three or more increasing numbers (the parameter's parser)."""
    seq = c.sequence(path)
    if seq is None:
        return None
    vals = [c.number(path + (j,)) for j in range(len(seq))]
    if None in vals:
        return None
    if len(vals) < 3 or any(b <= a for a, b in zip(vals, vals[1:])):
        c.add(path, f"a restricted cubic spline needs at least 3 increasing knots, got {vals}")
        return None
    return tuple(vals)


def check(c, path, values, meta) -> None:
    """The parameters together, and what the meta-analysis must be for this model."""
    if values.get("knots") is not None and values.get("model") != "spline":
        c.add(path + ("knots",), "knots are for model: spline")
    if meta.get("multi_arm") != "multivariate":
        c.add(path, "dose_response fits every dose arm against its shared control: it needs multi_arm: multivariate")


def dose_of(row):
    """(dose difference, unit) of a comparison: the experimental arm's dose minus the control's
    when the control is the same intervention (e.g. a low dose), else minus 0."""
    comp, t = row.comparison, row.record
    if comp is None or t is None or len(comp.experimental) != 1:
        return None, None
    e = t.arm(comp.experimental[0])
    if e is None or e.dose is None:
        return None, None
    ctl = [t.arm(a) for a in comp.control]
    base = 0.0
    if len(ctl) == 1 and ctl[0] is not None and ctl[0].intervention == e.intervention and ctl[0].dose is not None:
        if ctl[0].dose.unit != e.dose.unit:
            return None, None
        base = ctl[0].dose.value
    return e.dose.value - base, e.dose.unit


def run(ctx, params) -> DoseResponse:
    """Fit the model on the model stage's table and covariance (``ctx.table``, ``ctx.covariance``)."""
    from scipy import special

    from ..estimators.multivariate import fit_mv

    ms, table, V, warnings = ctx.spec, ctx.table, ctx.covariance, ctx.warnings
    model, user_knots = params["model"], params.get("knots")
    method = ctx.model.method
    test = "t" if ctx.model.test == "hksj" else "z"
    level = ctx.model.level
    doses, units = zip(*(dose_of(r) for r in table.rows)) if table.k else ((), ())
    keep = np.array([d is not None for d in doses], bool)
    for r, d in zip(table.rows, doses):
        if d is None:
            warnings.append(f"dose_response: {r.label}: no dose for the experimental arm (or a control dose in "
                            "another unit); left out of the dose-response model")
    used_units = {u for u, k in zip(units, keep) if k}
    if len(used_units) > 1:
        raise ms.error("dose_response", f"doses are in different units across trials ({', '.join(sorted(used_units))}); "
                                        "convert them to one unit in the records")
    x = np.array([d if d is not None else np.nan for d in doses], float)
    if model == "log_linear":
        if np.any(x[keep] <= 0):
            raise ms.error("dose_response", "log_linear needs every dose above the control's (> 0)")
        x = np.log(np.where(keep, x, 1.0))
    distinct = np.unique(x[keep])
    if distinct.size < 2:
        raise ms.error("dose_response", f"a dose-response needs at least two distinct doses; "
                                        f"the comparisons have {distinct.size}")
    if model == "spline" and distinct.size < 4:
        raise ms.error("dose_response", f"a restricted cubic spline needs at least 4 distinct doses; the "
                                        f"comparisons have {distinct.size} (use model: linear or log_linear)")
    idx = np.where(keep)[0]
    sub = table.subset(keep)
    Vs = V[np.ix_(idx, idx)]
    knots = None
    if model == "spline":
        from ..estimators.spline import default_knots, rcs_basis, term_names

        knots = np.asarray(user_knots if user_knots else default_knots(x[idx]), float)
        if user_knots and not (knots[0] >= x[idx].min() - 1e-12 and knots[-1] <= x[idx].max() + 1e-12):
            warnings.append("dose_response: some knots lie outside the doses observed")
        basis = lambda z: np.column_stack([np.ones(len(z)), rcs_basis(z, knots)])  # noqa: E731
        names = ["intercept", *term_names(knots.size)]
    else:
        basis = lambda z: np.column_stack([np.ones(len(z)), z])  # noqa: E731
        names = ["intercept", "dose"]
    r = fit_mv(sub.yi, Vs, sub.trials, basis(x[idx]), method=method, test=test, level=level, names=names)
    grid = np.linspace(min(0.0, x[idx].min()) if model != "log_linear" else x[idx].min(), x[idx].max(), 101)
    G = basis(grid)
    est = G @ r.beta
    se = np.sqrt(np.einsum("ij,jk,ik->i", G, r.vb, G))
    crit = float(special.stdtrit(r.df, 0.5 + level / 2) if r.df else special.ndtri(0.5 + level / 2))
    dose_axis = np.exp(grid) if model == "log_linear" else grid
    return DoseResponse(
        model=model, unit=used_units.pop(), fit=f"rma.mv(yi, V, mods = ~ {_MODS[model]}, random = ~ 1 | trial/comparison)",
        knots=None if knots is None else tuple(float(t) for t in knots),
        k=r.k, n_trials=r.n_trials, test=r.test, df=r.df,
        coefficients=tuple(DoseCoefficient(c[0], *(float(v) for v in c[1:])) for c in r.coefficients),
        sigma2_trial=clean(r.sigma2[0]), sigma2_comparison=clean(r.sigma2[1]),
        points=tuple(DosePoint(row.trial, row.label, clean(d), clean(row.yi), clean(row.vi))
                     for row, d in zip(sub.rows, np.asarray(doses, dtype=object)[idx])),
        curve=DoseCurve(tuple(dose_axis.tolist()), tuple(est.tolist()), tuple((est - crit * se).tolist()),
                        tuple((est + crit * se).tolist())))


def methods_sentence(result: dict, cite) -> str:
    """Its sentence in the methods text, from what results.json records of the run."""
    what = {"linear": "linear", "log_linear": "log-linear", "spline": "restricted cubic spline"}.get(
        result.get("model"), result.get("model"))
    return f"A {what} dose-response model was fitted to every dose comparison with the multilevel model {cite('orsini2012')}."

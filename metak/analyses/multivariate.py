"""``multi_arm: multivariate``: rma.mv(yi, V, random = ~ 1 | trial/comparison) on every
comparison with the exact shared-control covariance V (:mod:`metak.estimators.multivariate`).

It replaces the pooled numbers (:func:`pooled`, the registry's ``pooled`` hook): the studies'
weights, estimate, CI, PI and Q become the multivariate model's, its own numbers go under
``multivariate``; the analyses after it (dose-response, the Bayesian block) see its finite rows,
its fit and V (:meth:`MultivariateFit.context`)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import numpy as np

from ..schema.record import enum

MODEL = "rma.mv(yi, V, random = ~ 1 | trial/comparison)"


@dataclass(frozen=True)
class Multivariate:
    """The ``multivariate`` object of results.json."""

    model: str
    method: str = enum("REML", "ML", "FE")
    test: str = enum("z", "t")
    n_trials: int
    sigma2_trial: float | None
    sigma2_comparison: float | None
    loglik: float | None
    shared_control_pairs: int

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MultivariateFit:
    """What :func:`run` returns: the record, the pooled numbers that replace the univariate
    ones, each row's weight, and the fit the later analyses see."""

    record: Multivariate
    numbers: tuple  # ((results.json key, value), ...) in results.json's order
    weights: tuple[float, ...]
    table: object = field(repr=False, compare=False)
    result: object = field(repr=False, compare=False)
    covariance: np.ndarray = field(repr=False, compare=False)

    def to_dict(self) -> dict:
        return self.record.to_dict()

    def context(self) -> dict:
        """The Context fields the analyses after it see."""
        return {"table": self.table, "result": self.result, "covariance": self.covariance}


def default(meta: dict) -> bool:
    """Asked for by ``multi_arm: multivariate``."""
    return meta.get("multi_arm") == "multivariate"


def run(ctx, params) -> MultivariateFit:
    from scipy import special

    from ..estimators.multivariate import fit_mv, mv_covariance, mv_weights
    from ..format import clean

    ms, model, warnings = ctx.spec, ctx.model, ctx.warnings
    table = ctx.table.subset(np.isfinite(ctx.table.yi) & np.isfinite(ctx.table.vi))
    V = mv_covariance(table, ms.measure, model.cc)
    method = model.method
    test = "t" if model.test == "hksj" else "z"
    if model.test == "hksj":
        warnings.append("multi_arm: multivariate: rma.mv has no Knapp-Hartung test; a t test on k - 1 df is used")
    r = fit_mv(table.yi, V, table.trials, method=method, test=test, level=model.level)
    name, est, se, stat, pv, lo, hi = r.coefficients[0]
    s1, s2 = r.sigma2
    crit = float(special.stdtrit(r.df, 0.5 + model.level / 2) if r.df else special.ndtri(0.5 + model.level / 2))
    half = crit * np.sqrt(s1 + s2 + se**2)
    numbers = {"k": r.k, "estimate": clean(est), "se": clean(se), "ci_lower": clean(lo), "ci_upper": clean(hi),
               "statistic": clean(stat), "df": r.df, "p_value": clean(pv),
               "pi_lower": clean(est - half) if method != "FE" else None,
               "pi_upper": clean(est + half) if method != "FE" else None,
               "tau2": None, "tau2_ci": None, "tau": None, "tau_ci": None, "i2": None, "i2_ci": None, "h2": None,
               "h2_ci": None, "q": clean(r.qe), "q_df": r.k - 1, "q_p": clean(r.qe_p), "common_effect": None}
    record = Multivariate(MODEL, method, test, r.n_trials, clean(s1), clean(s2), clean(r.loglik),
                          int(((V != 0) & ~np.eye(table.k, dtype=bool)).sum() // 2))
    multi = [t for t in dict.fromkeys(table.trials) if table.trials.count(t) > 1]
    if multi:
        warnings.append(f"multi_arm: multivariate: {', '.join(multi)} compare several arms with one shared control; "
                        "the control is not split, its covariance enters V")
    weights = mv_weights(V, table.trials, r.sigma2)
    return MultivariateFit(record, tuple(numbers.items()), tuple(weights.tolist()), table, r, V)


def pooled(fit: MultivariateFit, out: dict) -> dict:
    """The keys of the meta-analysis object it replaces: the studies (its rows, its weights), the
    pooled numbers, and its own record under ``multivariate``."""
    from ..document import study_entry

    level = out["model"]["level"]
    return {"studies": [study_entry(row, w, level) for row, w in zip(fit.table.rows, fit.weights)],
            **dict(fit.numbers), "multivariate": fit.to_dict()}

"""Frozen result records of a fitted meta-analysis: one fit (:class:`MetaResult`, with its
:class:`CommonEffect`) and many intercept-only fits at once (:class:`BatchResult`)."""

from __future__ import annotations

from dataclasses import dataclass, field, fields

import numpy as np

from ..format import clean, clean_pair, fixed
from .distributions import _norm_ppf


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

    def to_frame(self):
        """A one-row pandas DataFrame of the model fields (pandas is imported here only)."""
        import pandas as pd

        d = self.to_dict()
        ce = d.pop("common_effect") or {}
        for key in ("tau2_ci", "tau_ci", "i2_ci", "h2_ci"):
            pair = d.pop(key) or [None, None]
            d[f"{key}_lower"], d[f"{key}_upper"] = pair
        d.update({f"common_{k}": v for k, v in ce.items()})
        return pd.DataFrame([{"method": self.method, "test": self.test, "level": self.level, **d}])

    def summary(self) -> str:
        """A metafor-like printout of the fit (analysis scale)."""
        kind = {"FE": "Fixed-effect", "MH": "Mantel-Haenszel fixed-effect", "PETO": "Peto fixed-effect"}
        lines = [f"{kind.get(self.method, 'Random-effects')} model (k = {self.k}; "
                 + (f"tau² estimator: {self.method}" if self.method not in kind else f"method: {self.method}") + ")"]
        if self.tau2 is not None:
            ci = "" if self.tau2_ci is None else f" [{_f(self.tau2_ci[0])}, {_f(self.tau2_ci[1])}]"
            lines.append(f"tau² = {_f(self.tau2)}{ci}; tau = {_f(self.tau)}; I² = {_f(self.i2, 2)}%; H² = {_f(self.h2)}")
        elif self.i2 is not None:
            lines.append(f"I² = {_f(self.i2, 2)}%; H² = {_f(self.h2)}")
        if self.q is not None:
            lines.append(f"Test for heterogeneity: Q(df = {self.q_df}) = {_f(self.q)}, p = {_g(self.q_p)}")
        stat = "tval" if self.df is not None else "zval"
        lines.append(f"{'estimate':>9} {'se':>8} {stat:>8} {'pval':>8} {'ci.lb':>9} {'ci.ub':>9}")
        lines.append(f"{_f(self.estimate):>9} {_f(self.se):>8} {_f(self.statistic):>8} {_f(self.p_value):>8} "
                     f"{_f(self.ci_lower):>9} {_f(self.ci_upper):>9}")
        if self.pi_lower is not None:
            lines.append(f"Prediction interval: [{_f(self.pi_lower)}, {_f(self.pi_upper)}]")
        lines.extend(f"note: {w}" for w in self.warnings)
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

    def __repr__(self) -> str:
        het = "" if self.tau2 is None else f", tau2={_f(self.tau2)}"
        return (f"MetaResult(method={self.method!r}, test={self.test!r}, k={self.k}, estimate={_f(self.estimate)}, "
                f"se={_f(self.se)}, ci=[{_f(self.ci_lower)}, {_f(self.ci_upper)}]{het})")


def _f(x, nd=4):
    return fixed(x, nd)


def _g(x):
    return "NA" if x is None else f"{x:.4g}"


@dataclass(frozen=True)
class BatchResult:
    """Many meta-analyses fitted at once: each attribute is an array with one entry per row.

    ``tau2_ci`` etc. are (m, 2) arrays. ``result(i)`` gives row i as a :class:`MetaResult`.
    """

    method: str
    test: str
    level: float
    k: np.ndarray
    estimate: np.ndarray
    se: np.ndarray
    ci_lower: np.ndarray
    ci_upper: np.ndarray
    statistic: np.ndarray
    df: np.ndarray
    p_value: np.ndarray
    pi_lower: np.ndarray
    pi_upper: np.ndarray
    tau2: np.ndarray
    tau2_ci: np.ndarray
    i2: np.ndarray
    i2_ci: np.ndarray
    h2: np.ndarray
    h2_ci: np.ndarray
    q: np.ndarray
    q_p: np.ndarray
    fe_estimate: np.ndarray
    fe_se: np.ndarray
    converged: np.ndarray

    def __len__(self):
        return len(self.estimate)

    @property
    def tau(self) -> np.ndarray:
        return np.sqrt(self.tau2)

    @property
    def tau_ci(self) -> np.ndarray:
        return np.sqrt(self.tau2_ci)

    @property
    def q_df(self) -> np.ndarray:
        return self.k - 1

    #: the per-meta-analysis columns of :meth:`to_dict`, named as MetaResult and results.json name them
    COLUMNS = ("k", "estimate", "se", "ci_lower", "ci_upper", "statistic", "df", "p_value", "pi_lower", "pi_upper",
               "tau2", "tau", "i2", "h2", "q", "q_df", "q_p", "converged")

    def to_dict(self) -> dict:
        """Columns as lists (NaN -> None), with ``*_ci`` as [lower, upper] pairs; the settings beside."""
        out = {"method": self.method, "test": self.test, "level": self.level}
        for key in self.COLUMNS:
            out[key] = [clean(x) for x in np.asarray(getattr(self, key)).tolist()]
        fe = self.method == "FE"
        for key in ("tau2_ci", "tau_ci", "i2_ci", "h2_ci"):
            out[key] = [None if fe else clean_pair(p) for p in np.asarray(getattr(self, key)).tolist()]
        out["common_effect"] = {"estimate": [clean(x) for x in self.fe_estimate.tolist()],
                                "se": [clean(x) for x in self.fe_se.tolist()]}
        return out

    def to_frame(self):
        """One row per meta-analysis (pandas is imported here only)."""
        import pandas as pd

        d = self.to_dict()
        cols = {key: d[key] for key in self.COLUMNS}
        for key in ("tau2_ci", "i2_ci"):
            cols[f"{key}_lower"] = [p[0] if p else None for p in d[key]]
            cols[f"{key}_upper"] = [p[1] if p else None for p in d[key]]
        return pd.DataFrame(cols)

    def result(self, i: int, weights=()) -> MetaResult:
        fe = self.method == "FE"
        k = int(self.k[i])
        crit = _norm_ppf(0.5 + self.level / 2)
        tau2 = None if fe else self.tau2[i]
        tau2_ci = None if fe else tuple(self.tau2_ci[i])
        warns = []
        if not self.converged[i]:
            warns.append(f"the {self.method} estimator of tau² did not converge; results may be inaccurate")
        return MetaResult(
            method=self.method, test=self.test, level=self.level, k=k,
            estimate=self.estimate[i], se=self.se[i], ci_lower=self.ci_lower[i], ci_upper=self.ci_upper[i],
            statistic=self.statistic[i], df=(k - 1 if self.test == "hksj" else None), p_value=self.p_value[i],
            pi_lower=None if fe else self.pi_lower[i], pi_upper=None if fe else self.pi_upper[i],
            tau2=tau2, tau2_ci=tau2_ci,
            tau=None if fe else np.sqrt(self.tau2[i]),
            tau_ci=None if fe else tuple(np.sqrt(self.tau2_ci[i])),
            i2=self.i2[i], i2_ci=None if fe else tuple(self.i2_ci[i]),
            h2=self.h2[i], h2_ci=None if fe else tuple(self.h2_ci[i]),
            q=self.q[i], q_df=k - 1, q_p=self.q_p[i],
            common_effect=CommonEffect(self.fe_estimate[i], self.fe_se[i],
                                       self.fe_estimate[i] - crit * self.fe_se[i],
                                       self.fe_estimate[i] + crit * self.fe_se[i]),
            weights=tuple(weights),
            converged=bool(self.converged[i]), warnings=tuple(warns),
        )

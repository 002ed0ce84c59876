"""Frozen result records of a fitted meta-analysis."""

from __future__ import annotations

from dataclasses import dataclass, field, fields



from ..format import clean, clean_pair, fixed  # noqa: F401  (clean, clean_pair re-exported)


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

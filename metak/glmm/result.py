"""The result of :func:`metak.glmm`: the fit's numbers, ``summary()``, ``to_frame()``, ``to_dict()``."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class GlmmResult:
    """A generalized linear mixed model fit (metafor's ``rma.glmm`` object).

    ``estimate`` is the pooled log odds ratio (OR), log incidence rate ratio (IRR) or logit
    proportion (PLO); ``tau2`` the between-study variance of the true effects (None for
    ``method="FE"``); ``loglik`` the full log-likelihood (binomial coefficients included, as
    metafor's ``logLik``). ``qe_wald`` / ``qe_lrt`` are metafor's ``QE.Wld`` / ``QE.LRT``
    tests for heterogeneity (the saturated model against the common-effect one); ``qe_df`` is
    metafor's k - 1 (QE.LRT's), ``qe_wald_df`` the Wald test's: the studies in its statistic
    minus 1 (a study whose saturated estimate is infinite is left out of it)."""

    measure: str
    model: str
    method: str
    level: float
    k: int
    estimate: float
    se: float
    statistic: float
    p_value: float
    ci_lower: float
    ci_upper: float
    tau2: float | None
    tau: float | None
    tau2_ci: list | None
    tau2_se: float | None
    sigma2: float | None
    loglik: float
    qe_wald: float | None
    qe_wald_p: float | None
    qe_lrt: float | None
    qe_lrt_p: float | None
    qe_df: int
    qe_wald_df: int | None
    nagq: int
    likelihood: str
    studies: tuple = field(repr=False)
    excluded: tuple = ()
    notes: tuple = ()
    warnings: tuple = ()

    def to_dict(self) -> dict:
        """The fit's numbers with results.json's key names (the ``model.glmm`` object and the
        pooled keys)."""
        from ..format import clean

        out = {}
        for key, value in asdict(self).items():
            if key == "studies":
                continue
            if isinstance(value, float):
                value = clean(value)
            elif isinstance(value, tuple):
                value = [list(v) if isinstance(v, tuple) else v for v in value]
            out[key] = value
        out["excluded"] = [{"label": lab, "reason": why} for lab, why in self.excluded]
        return out

    def to_frame(self):
        """One row per study given: label, its counts, whether it entered the model and why not."""
        import pandas as pd

        return pd.DataFrame([dict(s) for s in self.studies])

    def summary_frame(self):
        """The model's numbers as one row."""
        import pandas as pd

        d = self.to_dict()
        return pd.DataFrame([{k: v for k, v in d.items() if not isinstance(v, (list, dict))}])

    def summary(self) -> str:
        """A printed summary in the spirit of metafor's ``print(rma.glmm)``."""
        eff = {"OR": "log odds ratio", "IRR": "log incidence rate ratio", "PLO": "logit proportion"}[self.measure]
        head = "Common-effect" if self.method == "FE" else "Random-effects"
        lines = [f"{head} GLMM ({self.model}, {self.method}; k = {self.k}); {self.likelihood}",
                 f"logLik = {self.loglik:.4f}"]
        if self.tau2 is not None:
            ci = "" if self.tau2_ci is None else (
                f" (profile CI {self.tau2_ci[0]:.4f} to " + ("inf" if self.tau2_ci[1] is None else
                                                             f"{self.tau2_ci[1]:.4f}") + ")")
            lines.append(f"tau^2 = {self.tau2:.4f}{ci}, tau = {self.tau:.4f}")
        if self.sigma2 is not None:
            lines.append(f"sigma^2 (study intercepts) = {self.sigma2:.4f}")
        if self.qe_wald is not None:
            lines.append(f"Wald test for heterogeneity: QE({self.qe_wald_df}) = {self.qe_wald:.4f}, p = {self.qe_wald_p:.4g}")
        if self.qe_lrt is not None:
            lines.append(f"LRT for heterogeneity: QE({self.qe_df}) = {self.qe_lrt:.4f}, p = {self.qe_lrt_p:.4g}")
        pct = round(100 * self.level)
        lines.append(f"{eff}: estimate {self.estimate:.4f}, se {self.se:.4f}, z {self.statistic:.4f}, "
                     f"p {self.p_value:.4g}, {pct}% CI {self.ci_lower:.4f} to {self.ci_upper:.4f}")
        lines += [f"note: {n}" for n in self.notes]
        lines += [f"warning: {w}" for w in self.warnings]
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()

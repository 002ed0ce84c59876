"""The fitted meta-regression of :func:`metak.fit` with ``mods``: :class:`RegressionFit`
(metafor's ``rma(yi, vi, mods = ~ ...)`` object) with metafor's functions as methods. Split
from :mod:`metak.fitted` by meaning; every method calls the code the spec route calls."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .errors import MetakError
from .estimators.regression import RegressionResult
from .fitted import _FitMethods


@dataclass(frozen=True, repr=False)
class RegressionFit(_FitMethods, RegressionResult):
    """A fitted meta-regression (metafor's ``rma(yi, vi, mods = ~ ...)``): every
    :class:`~metak.estimators.regression.RegressionResult` field and method, plus
    :meth:`predict` with new moderator values, :meth:`confint`, :meth:`to_frame`.

    Examples
    --------
    >>> import pandas as pd, metak
    >>> df = pd.DataFrame({"yi": [0.1, 0.5, 0.3, 0.9, 0.2], "vi": [0.01, 0.02, 0.03, 0.05, 0.02],
    ...                    "dose": [1, 2, 3, 4, 1]})
    >>> reg = metak.fit(data=df, yi="yi", vi="vi", mods="~ dose")
    >>> reg.predict(pd.DataFrame({"dose": [2.5]}))[["estimate", "ci_lower", "ci_upper"]].round(4)
       estimate  ci_lower  ci_upper
    0    0.4499    0.2808    0.6189
    """

    table: object = field(default=None, repr=False, compare=False)
    model: object = field(default=None, repr=False, compare=False)
    frame: object = field(default=None, repr=False, compare=False)
    formula: str | None = field(default=None, repr=False, compare=False)
    spec: object = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return (f"RegressionFit(method={self.method!r}, test={self.test!r}, k={self.k}, "
                f"mods='~ {self.formula}', tau2={self.tau2!r})")

    def _weights(self):
        w = 1 / (self.table.vi + (self.tau2 or 0.0))   # as results.json's meta_regression.studies
        return 100 * w / w.sum()

    def to_frame(self):
        """One row per study (label, yi, vi, se, ci_lower, ci_upper, weight)."""
        return self.studies_frame()

    def coefficients_frame(self):
        """One row per coefficient: name, estimate, se, statistic, p_value, ci_lower, ci_upper."""
        return self._frame(c.to_dict() for c in self.coefficients)

    def _design(self):
        return np.asarray(self.spec.get_model_matrix(self.frame), float)

    def confint(self, fixed=True, random=None):
        """CIs of the coefficients and of the residual heterogeneity (metafor's
        ``confint(res, fixed = TRUE)``), a DataFrame with ``estimate, ci_lower, ci_upper``:
        one row per coefficient (its Wald CI: z, or t on k - p df under Knapp-Hartung), then
        ``tau2, tau, i2, h2``: the residual tau² with its generalised Q-profile CI (the roots
        of y'P(tau²)y at the chi²(k - p) quantiles) and the CIs of tau, I² and H² from it;
        :func:`metak.estimators.qprofile_mods.q_profile_regression`.

        As metafor, it says when the interval is the null/empty set (Q_E(0) below the lower
        chi² quantile: both bounds of tau² fall below 0 and are shown as 0, those of H² as 1) and
        when a root search did not converge (the bounds of tau², tau, I² and H² are then NaN):
        each as a line of ``frame.attrs["notes"]`` and a Python warning (``UserWarning``,
        :class:`metak.errors.ConvergenceWarning`). results.json's ``meta_regression`` says the
        same in its warnings.

        ``fixed=False`` leaves out the coefficients (metafor's default ``confint(res)``);
        ``random=False`` the heterogeneity rows; ``random=None`` gives them when the model
        has a tau² (not for ``method="FE"``). The example's numbers are metafor 3.8.1's
        ``confint(rma(yi, vi, mods = ~ dose), fixed = TRUE)`` (to 6 digits).

        Examples
        --------
        >>> import pandas as pd, metak
        >>> df = pd.DataFrame({"yi": [0.1, 0.5, 0.3, 0.9, 0.2, 0.6], "vi": [0.01, 0.02, 0.03, 0.05, 0.02, 0.04],
        ...                    "dose": [1, 2, 3, 4, 1, 2]})
        >>> print(metak.fit(data=df, yi="yi", vi="vi", mods="~ dose").confint().round(4))
                   estimate  ci_lower  ci_upper
        intercept   -0.0285   -0.3185    0.2615
        dose         0.2034    0.0626    0.3442
        tau2         0.0060    0.0000    0.2986
        tau          0.0772    0.0000    0.5464
        i2          20.4439    0.0000   92.8004
        h2           1.2570    1.0000   13.8897
        """
        import warnings

        import pandas as pd

        from .estimators.qprofile_mods import q_profile_regression, qprofile_notes

        if random is None:
            random = self.method != "FE"
        elif random and self.method == "FE":
            raise MetakError("confint: a fixed-effect meta-regression has no tau²; use confint(random=False)")
        if not (fixed or random):
            raise MetakError("confint: at least one of fixed and random must be True")
        rows, notes = {}, []
        if fixed:
            rows.update({c.name: (c.estimate, c.ci_lower, c.ci_upper) for c in self.coefficients})
        if random:
            qp = q_profile_regression(self.table.yi, self.table.vi, self._design(), self.tau2, self.level)
            rows.update({k: tuple(float(x) for x in qp[k]) for k in ("tau2", "tau", "i2", "h2")})
            for note, category in qprofile_notes(qp):
                notes.append(note)
                warnings.warn(f"confint: {note}", category, stacklevel=2)
            if not qp["converged"]:
                rows.update({k: (rows[k][0], np.nan, np.nan) for k in ("tau2", "tau", "i2", "h2")})
        frame = pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_lower", "ci_upper"])
        frame.attrs["notes"] = notes
        return frame

    def predict(self, newmods=None, transf=None):
        """Fitted values with CI and PI (metafor's ``predict(res, newmods=)``): ``newmods`` is a
        DataFrame with the formula's columns, or rows of moderator values without the
        intercept (as metafor's ``newmods``); ``None``: each study's fitted value."""
        import pandas as pd

        if newmods is None:
            X = self._design()
        elif isinstance(newmods, pd.DataFrame):
            try:
                X = np.asarray(self.spec.get_model_matrix(newmods), float)
            except Exception as exc:
                raise MetakError(f"predict: newmods does not fit the formula '~ {self.formula}': "
                                 f"{str(exc).splitlines()[0]}") from None
        else:
            X = np.atleast_2d(np.asarray(newmods, float))
            if X.shape[1] == self.p - 1:
                X = np.column_stack([np.ones(X.shape[0]), X])
            if X.shape[1] != self.p:
                raise MetakError(f"predict: newmods needs {self.p - 1} values per row ({', '.join(self.names[1:])})")
        out = RegressionResult.predict(self, X)
        if self.method == "FE":
            out["pi_lower"] = out["pi_upper"] = np.full(X.shape[0], np.nan)
        frame = pd.DataFrame(out)
        if transf is not None:
            frame = frame.drop(columns="se").apply(lambda c: c.map(lambda x: float(transf(x))))
        return frame

    def _not(self, what, metafor):
        raise MetakError(f"{what} is not available for a meta-regression ({metafor}); fit the model without mods")

    def leave_one_out(self):
        self._not("leave_one_out", "metak's leave-one-out refits the intercept-only model")

    def influence(self):
        """metafor's ``influence(res)`` of a model with moderators: ``label, rstudent, dffits,
        cook_d, cov_r, tau2_del, qe_del, hat, weight, influential`` and one ``dfbetas_<coefficient>``
        column per coefficient; :func:`metak.sensitivity.influence_regression.influence_regression`
        (k refits, as metafor)."""
        from .sensitivity.influence_regression import influence_regression

        X = self._design()
        rows = influence_regression(self.table.yi, self.table.vi, X, method=self.method, test=self.test,
                                    level=self.level, labels=list(self.table.labels), names=self.names)
        flat = [{**{k: v for k, v in r.items() if k != "dfbetas"},
                 **{f"dfbetas_{n}": x for n, x in r["dfbetas"].items()}} for r in rows]
        return self._frame(flat)

    def cumulative(self, order=None):
        self._not("cumulative", "metafor's cumul() is not applicable to models with moderators either")

    def regtest(self, model="rma"):
        self._not("regtest", "metak's Egger test regresses on the standard error alone")

    def ranktest(self):
        self._not("ranktest", "metafor's ranktest() takes a model without moderators")

    def trimfill(self, side=None):
        self._not("trimfill", "metafor's trimfill() is not implemented for models with moderators either")

    def subgroups(self, by):
        self._not("subgroups", "use a categorical moderator in mods instead")

    def forest(self, **options):
        self._not("forest", "draw the studies with metak.fit(...) without mods")

    def funnel(self, **options):
        self._not("funnel", "draw the studies with metak.fit(...) without mods")

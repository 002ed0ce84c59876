"""The fitted object of :func:`metak.fit` without moderators: :class:`MetaFit` (metafor's ``rma``
object) with metafor's functions as methods, :class:`TestResult`, and what both fitted objects
share (:class:`_FitMethods`). The meta-regression's is :class:`metak.fitted_regression.RegressionFit`.
Every method calls the code the spec route calls (see :mod:`metak.api`)."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from types import SimpleNamespace

import numpy as np

from .errors import MetakError
from .estimators.result import MetaResult


class TestResult(dict):
    """A test's result: a dict whose keys also read as attributes (``res.statistic``,
    ``res["p_value"]``)."""

    __test__ = False  # not a pytest class

    def __getattr__(self, name):
        try:
            return self[name]
        except KeyError:
            raise AttributeError(name) from None

    def __repr__(self) -> str:
        body = ", ".join(f"{k}={_short(v)}" for k, v in self.items() if not isinstance(v, (list, dict)))
        return f"TestResult({body})"


def _short(v):
    return f"{v:.6g}" if isinstance(v, float) else repr(v)


def _plain(v):
    """A DataFrame cell as the effect table's covariates hold it (None for missing)."""
    if v is None:
        return None
    if isinstance(v, (np.floating, float)):
        return None if np.isnan(v) else float(v)
    if isinstance(v, (np.integer,)):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    try:
        import pandas as pd

        if v is pd.NA or v is pd.NaT:
            return None
    except ImportError:  # pragma: no cover
        pass
    return v


# --------------------------------------------------------------------------- shared methods


class _FitMethods:
    """What both fitted objects have: the per-study table and the figures' mapping."""

    def _frame(self, records):
        import pandas as pd

        return pd.DataFrame.from_records(list(records))

    def _weights(self):
        raise NotImplementedError

    def studies_frame(self):
        """One row per study: ``label, yi, vi, se, ci_lower, ci_upper, weight`` (percent), the
        keys of results.json ``studies``."""
        from .document import study_entry

        keys = ("label", "yi", "vi", "se", "ci_lower", "ci_upper", "weight")
        rows = [study_entry(r, w, self.level) for r, w in zip(self.table.rows, self._weights())]
        return self._frame({k: e[k] for k in keys} for e in rows)

    def _yv(self):
        return self.table.yi, self.table.vi


@dataclass(frozen=True, repr=False)
class MetaFit(_FitMethods, MetaResult):
    """A fitted intercept-only meta-analysis (metafor's ``rma`` object).

    Every :class:`~metak.estimators.result.MetaResult` field and method, plus metafor's
    functions as methods: :meth:`predict`, :meth:`confint`, :meth:`leave_one_out`,
    :meth:`influence`, :meth:`cumulative`, :meth:`regtest`, :meth:`ranktest`,
    :meth:`trimfill`, :meth:`subgroups`, :meth:`forest`, :meth:`funnel`.

    Examples
    --------
    >>> import metak
    >>> res = metak.fit([0.1, 0.5, 0.3, 0.9, 0.2], [0.01, 0.02, 0.03, 0.05, 0.02])
    >>> res.leave_one_out()[["omitted", "estimate"]].round(4)
      omitted  estimate
    0      s0    0.4445
    1      s1    0.3358
    2      s2    0.3895
    3      s3    0.2575
    4      s4    0.4156
    >>> print(res.confint().round(4))
          estimate  ci_lower  ci_upper
    tau2    0.0564    0.0051    0.7892
    tau     0.2374    0.0717    0.8884
    i2     72.6180   19.4888   97.3769
    h2      3.6520    1.2421   38.1227
    """

    table: object = field(default=None, repr=False, compare=False)
    model: object = field(default=None, repr=False, compare=False)
    frame: object = field(default=None, repr=False, compare=False)
    #: an array fit without labels: to_frame() keeps MetaResult's one-row model frame
    legacy: bool = field(default=False, repr=False, compare=False)

    def _weights(self):
        return np.asarray(self.weights, float) if len(self.weights) == self.table.k else \
            np.full(self.table.k, np.nan)

    def to_frame(self):
        """One row per study (:meth:`studies_frame`). An array fit without ``slab`` or ``data``
        (``metak.fit(yi, vi)``, as before the API) keeps the one-row model frame of
        :meth:`MetaResult.to_frame <metak.estimators.result.MetaResult.to_frame>`, which
        :meth:`summary_frame` always gives."""
        return MetaResult.to_frame(self) if self.legacy else self.studies_frame()

    def summary_frame(self):
        """The model's numbers as one row (estimate, se, CIs, tau², I², Q ...)."""
        return MetaResult.to_frame(self)

    # -- metafor's predict / confint ---------------------------------------------------------
    def predict(self, transf=None):
        """The pooled estimate with its CI and prediction interval (metafor's ``predict(res)``),
        as a one-row DataFrame; ``transf`` (e.g. ``numpy.exp``) maps the estimate and bounds."""
        row = {k: getattr(self, k) for k in ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper")}
        if transf is not None:
            row = {k: (None if v is None else float(transf(v))) for k, v in row.items() if k != "se"}
        return self._frame([row])

    def confint(self):
        """Q-profile CIs of tau², tau, I² and H² (metafor's ``confint(res)``): a DataFrame
        indexed by ``tau2, tau, i2, h2`` with ``estimate, ci_lower, ci_upper``."""
        import pandas as pd

        if self.tau2_ci is None:
            raise MetakError("confint: a fixed-effect model has no tau²; its estimate's CI is ci_lower/ci_upper")
        rows = {k: (getattr(self, k), *getattr(self, f"{k}_ci")) for k in ("tau2", "tau", "i2", "h2")}
        return pd.DataFrame.from_dict(rows, orient="index", columns=["estimate", "ci_lower", "ci_upper"])

    # -- refits -----------------------------------------------------------------------------
    def leave_one_out(self):
        """Each study left out in turn (metafor's ``leave1out``): one row per omitted study
        with ``omitted, label, k, estimate, se, ci_lower, ci_upper, p_value, tau2, i2, q``;
        :func:`metak.sensitivity.leave_one_out.leave_one_out`."""
        from .sensitivity.leave_one_out import leave_one_out

        return self._frame(leave_one_out(self.table, self.model).to_dict())

    def influence(self):
        """metafor's ``influence(res)``: ``rstudent, dffits, cook_d, cov_r, tau2_del, qe_del,
        hat, weight, dfbetas, influential`` per study (with Baujat's coordinates);
        :func:`metak.sensitivity.influence.influence` (the vectorised deletion fits)."""
        from .sensitivity.influence import influence

        rows, _ = influence(self.table, self.model)
        return self._frame(rows)

    def cumulative(self, order=None):
        """Cumulative meta-analysis (metafor's ``cumul(res, order=)``): the studies added one
        at a time. ``order`` is a column of ``data`` or a sequence of sort keys, one per
        study, sorted as R's ``order()`` does (stable: ties keep the data's order); ``None``
        keeps the data's order; ``"label"``, ``"effect"`` and ``"weight"`` (when not columns)
        are the spec's orders. One row per step: ``added, label, k, estimate, se,
        ci_lower, ci_upper, tau2, i2``; :func:`metak.sensitivity.cumulative.cumulative`."""
        from .sensitivity.cumulative import cumulative

        table, how = self.table, None
        if isinstance(order, str) and self.frame is not None and order in self.frame.columns:
            keys = list(self.frame[order])
        elif isinstance(order, str):
            if order not in ("label", "effect", "weight", "year"):
                cols = "" if self.frame is None else f"; columns: {', '.join(map(str, self.frame.columns))}"
                raise MetakError(f"cumulative: order '{order}' is not a column of data nor label, effect or weight"
                                 + cols)
            how = order
        elif order is None:
            keys = list(range(table.k))
        else:
            keys = list(order)
            if len(keys) != table.k:
                raise MetakError(f"cumulative: order has {len(keys)} sort keys for {table.k} studies")
        if how is None:
            rank = _r_order(keys)
            table = self._with_column("_order", {i: r for r, i in enumerate(rank)})
            how = "_order"
        res = cumulative(table, self.model, how)
        return self._frame(s.to_dict() for s in res.steps)

    def _with_column(self, name, values):
        rows = tuple(replace(r, covariates={**r.covariates, name: values[i]}) for i, r in enumerate(self.table.rows))
        return replace(self.table, rows=rows)

    # -- small-study effects ---------------------------------------------------------------
    def regtest(self, model="rma"):
        """Egger's regression test (metafor's ``regtest(res)``; ``model="lm"``: the classical
        weighted regression): ``statistic, df, p_value, limit_estimate`` and its CI;
        :mod:`metak.sensitivity.small_study`."""
        from .sensitivity.small_study import egger_lm, egger_rma

        y, v = self._yv()
        if model == "rma":
            return TestResult(egger_rma(y, v, self.model))
        if model == "lm":
            return TestResult(egger_lm(y, v, self.level))
        raise MetakError(f"regtest: model must be 'rma' or 'lm', got {model!r}")

    def ranktest(self):
        """Begg and Mazumdar's rank correlation test (metafor's ``ranktest(res)``): ``tau``
        (Kendall's tau, also as ``statistic``) and ``p_value``."""
        from .sensitivity.small_study import rank_test

        out = rank_test(*self._yv())
        return TestResult({"statistic": out["tau"], **out})

    def trimfill(self, side=None):
        """Trim-and-fill (metafor's ``trimfill(res)``, estimator L0): ``k0``, ``side`` and the
        refitted ``estimate, se, ci_lower, ci_upper, tau2``; ``filled`` lists the filled
        studies. ``side`` may only confirm the side metafor's rule picks (see below)."""
        from .sensitivity.small_study import trim_fill

        out = trim_fill(*self._yv(), self.model)
        if side is not None and side != out["side"]:
            raise MetakError(f"trimfill: side='{side}' is not available: metak's trim_fill picks the side by "
                             f"metafor's rule (here '{out['side']}') and has no side argument yet")
        return TestResult(out)

    def selection_model(self, type="stepfun", steps=None, alternative="greater"):
        """A selection model (metafor's ``selmodel(res, type=, steps=, alternative=)``), by ML
        (FE when this fit is FE): ``estimate, se, ci_lower, ci_upper, tau2, delta, delta_se``,
        ``lrt`` {statistic, df, p_value} against the unadjusted model and ``warnings``;
        :func:`metak.sensitivity.selection.selection_model`."""
        from .sensitivity.selection import selection_model

        y, v = self._yv()
        method = "FE" if self.method in ("FE", "MH", "PETO") else "ML"
        return TestResult(selection_model(y, v, type=type, steps=steps, alternative=alternative, method=method,
                                          level=self.level).to_dict())

    def pet(self):
        """PET: the intercept of ``rma(yi, vi, mods = ~ sqrt(vi), method = "FE")`` as the
        limit ``estimate`` with ``se, z, p_value, ci_lower, ci_upper`` (and the slope's)."""
        from .sensitivity.pet_peese import pet

        return TestResult(pet(*self._yv(), self.level))

    def peese(self):
        """PEESE: the intercept of ``rma(yi, vi, mods = ~ vi, method = "FE")``, as :meth:`pet`."""
        from .sensitivity.pet_peese import peese

        return TestResult(peese(*self._yv(), self.level))

    def model_averaging(self, draws=4096, seed=20231):
        """Robust Bayesian model averaging (RoBMA-PSMA's 36 models, priors on this scale):
        ``models`` (a list of per-model dicts), ``inclusion`` Bayes factors of effect,
        heterogeneity and bias, the model-averaged ``estimate`` and ``sd``, its ``median`` and
        95% credible interval ``ci_lb``, ``ci_ub`` (the null models' point mass at 0 included);
        :func:`metak.sensitivity.model_averaging.model_averaging`."""
        from .sensitivity.model_averaging import model_averaging

        return TestResult(model_averaging(*self._yv(), n_draws=draws, seed=seed).to_dict())

    def subgroups(self, by):
        """Subgroup analysis with the test for subgroup differences: ``by`` is a column of
        ``data`` or a sequence of group values, one per study. Returns a :class:`TestResult`
        with ``groups`` (a DataFrame: value, k, estimate, se, ci_lower, ci_upper, tau2, i2),
        ``statistic``/``q_between``, ``df_between``, ``p_value``/``p_between`` and the
        mixed-effects ``qm``; :func:`metak.sensitivity.subgroups.subgroup_analysis`."""
        from .sensitivity.subgroups import subgroup_analysis

        if isinstance(by, str):
            if self.frame is None or by not in self.frame.columns:
                raise MetakError(f"subgroups: '{by}' is not a column of data")
            table, name = self.table, by
        else:
            values = list(by)
            if len(values) != self.table.k:
                raise MetakError(f"subgroups: {len(values)} group values for {self.table.k} studies")
            table, name = self._with_column("group", [_plain(x) for x in values]), "group"
        d = subgroup_analysis(table, self.model, name).to_dict()
        groups = self._frame(d.pop("groups"))
        return TestResult({"by": name, "groups": groups, "statistic": d["q_between"], "p_value": d["p_between"],
                           **d})

    # -- figures ---------------------------------------------------------------------------
    def to_meta_dict(self) -> dict:
        """This fit as one meta-analysis of the results document (what :mod:`metak.plots`
        draws), built by :func:`metak.document.meta_head` and :func:`metak.document.study_entry`
        as the spec route builds it."""
        from .document import meta_head, study_entry

        measure = self.table.measure
        ms = SimpleNamespace(id="fit", title=None, dropout=False, outcome=None, measure=measure,
                             method=self.method, test=self.test, level=self.level, multi_arm=None, figures=())
        out = meta_head(ms, self.table, None, None)
        out["studies"] = [study_entry(r, w, self.level) for r, w in zip(self.table.rows, self._weights())]
        out["excluded"] = []
        out.update(self.to_dict())
        out.update({"bayes": None, "sensitivity": None, "warnings": list(self.warnings)})
        return out

    def forest(self, **options):
        """A forest plot (:func:`metak.plots.forest`; its options, e.g. ``xlim``, ``digits``)
        as a matplotlib Figure."""
        from .plots.render import draw_kind

        # favours, arm_labels, xlim, font and width as in the spec's figures: options (issue 25)
        return draw_kind(self.to_meta_dict(), "forest", **options).figure

    def funnel(self, **options):
        """A funnel plot (:func:`metak.plots.funnel`) as a matplotlib Figure."""
        from .plots import funnel

        return funnel(self.to_meta_dict(), **options).figure

    # -- Bayesian ----------------------------------------------------------------------------
    def to_inference_data(self, bayes=None, *, draws=4000, chains=4, seed=None):
        """Draws from the exact Bayesian posterior as ArviZ ``InferenceData``
        (:func:`metak.bayes.inference_data.to_inference_data`); ``bayes`` is a spec's
        ``bayes:`` block (a dict; default priors when None)."""
        from .bayes import parse_bayes_spec
        from .bayes.inference_data import to_inference_data

        spec = parse_bayes_spec(bayes, measure=self.table.measure, outcome_type="contrast")
        y, v = self._yv()
        return to_inference_data(y, v, spec.mu_prior, spec.tau_prior, draws=draws, chains=chains, seed=seed,
                                 labels=list(self.table.labels))


def _r_order(keys) -> list[int]:
    """R's ``order(keys)``: ascending, stable, missing values last."""
    def key(i):
        k = keys[i]
        missing = k is None or (isinstance(k, float) and np.isnan(k))
        return (missing, 0 if missing else k, i)

    try:
        return sorted(range(len(keys)), key=key)
    except TypeError:
        raise MetakError("cumulative: the sort keys mix kinds (numbers and text)") from None

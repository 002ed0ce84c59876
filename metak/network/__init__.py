"""Network meta-analysis: the contrast-based model of metafor's
``rma.mv(yi, V, mods = contrasts, random = ~ comp | study, rho = 1/2)`` (netmeta's model), with
the Q decomposition, node splitting, P-scores and an exact Bayesian counterpart.

    fit = metak.network(df, study="study", treatment="trt", measure="OR", events="xi", total="ni",
                        reference="placebo")
    fit.relative_effects; fit.tau2; fit.league(); fit.to_frame(); fit.to_dict()

See docs/network.md.
"""

from __future__ import annotations

from .data import build_from_arms, build_from_contrasts  # noqa: F401
from ..errors import MetakError

__all__ = ["network", "NetworkFit", "fit_network"]

_METHODS = ("FE", "DL", "ML", "REML")


def fit_network(data, *, method="REML", level=0.95, small_values="desirable", bayes=True, d_prior=None,
                tau_prior=None, nodes_rule="treatment", draws=20000, seed=20261207, contribution=None):
    """Fit built :class:`~metak.network.data.NetworkData`; returns the frozen record."""
    from .bayes import exact_network
    from .frequentist import fit_frequentist
    from .record import build_record

    if method not in _METHODS:
        raise MetakError(f"network: method {method!r} is not one of {', '.join(_METHODS)}")
    if small_values not in ("desirable", "undesirable"):
        raise MetakError(f"network: small_values must be 'desirable' or 'undesirable', got {small_values!r}")
    if not 0 < level < 1:
        raise MetakError(f"network: level must be in (0, 1), got {level!r}")
    freq = fit_frequentist(data, method, level, small_values, contribution)
    post = exact_network(data, d_prior, tau_prior, level, small_values, draws, seed) if bayes else None
    return build_record(data, freq, post, nodes_rule=nodes_rule, level=level, small_values=small_values)


def _column(df, name, what):
    if name is None:
        return None
    if name not in df.columns:
        raise MetakError(f"network: {what}={name!r} is not a column of the data; columns: "
                         f"{', '.join(map(str, df.columns))}")
    return df[name].tolist()


def network(data, study="study", treatment="treatment", measure="OR", reference=None, method="REML", *,
            events=None, total=None, mean=None, sd=None, n=None, yi=None, vi=None, versus=None, cov=None,
            level=0.95, small_values="desirable", bayes=True, d_prior=None, tau_prior=None, draws=20000,
            seed=20261207, contribution=None):
    """Network meta-analysis of a long DataFrame.

    Arm level: one row per arm, ``study`` and ``treatment`` columns and ``events``/``total``
    (OR, RR, RD) or ``mean``/``sd``/``n`` (MD). Contrast level: one row per contrast with
    ``yi``, ``vi`` and ``versus`` (the arm it is against: all contrasts of a trial share it) and,
    for multi-arm trials, ``cov`` (the shared arm's variance). ``method``: FE, DL, ML or REML
    (one common tau^2). ``small_values``: "desirable" (netmeta's default) or "undesirable", for
    P-scores and ranks. ``bayes``: also the exact Bayesian network (priors: ``d_prior`` on each
    basic parameter, default Normal(0, 10); ``tau_prior``, default HalfNormal(0.5)).
    ``contribution``: the net contribution of each design to every estimate (``.contribution()``;
    default: computed for networks of up to 15 nodes).
    """
    if not (hasattr(data, "columns") and hasattr(data, "iloc")):
        raise MetakError(f"network: data must be a pandas DataFrame (long format), got {type(data).__name__}")
    sid = _column(data, study, "study")
    trt = _column(data, treatment, "treatment")
    if sid is None or trt is None:
        raise MetakError("network: study and treatment columns are needed")
    if yi is not None:
        ys, vs, vsr = _column(data, yi, "yi"), _column(data, vi, "vi"), _column(data, versus, "versus")
        if vs is None or vsr is None:
            raise MetakError("network: contrast-level data need yi, vi and versus columns")
        cv = _column(data, cov, "cov") if cov is not None else [None] * len(ys)
        rows = [{"trial": s, "treatment": t, "versus": v, "yi": a, "vi": b, "cov": c}
                for s, t, v, a, b, c in zip(sid, trt, vsr, ys, vs, cv)]
        built = build_from_contrasts(rows, measure, reference)
    else:
        need = ("events", "total") if measure in ("OR", "RR", "RD") else ("mean", "sd", "n")
        given = {"events": events, "total": total, "mean": mean, "sd": sd, "n": n}
        missing = [k for k in need if given[k] is None]
        if missing:
            raise MetakError(f"network: measure {measure} on arm-level data needs the columns "
                             f"{', '.join(f'{k}=' for k in need)}; missing: {', '.join(missing)}")
        cols = {k: _column(data, given[k], k) for k in need}
        trials: dict = {}
        for i, (s, t) in enumerate(zip(sid, trt)):
            arm = {"treatment": str(t)}
            for k in need:
                v = cols[k][i]
                arm[k] = None if v is None else float(v)
            trials.setdefault(str(s), []).append(arm)
        built = build_from_arms(trials, measure, reference)
    rec = fit_network(built, method=method, level=level, small_values=small_values, bayes=bayes, d_prior=d_prior,
                      tau_prior=tau_prior, draws=draws, seed=seed, contribution=contribution)
    return NetworkFit(rec, built)


class NetworkFit:
    """A fitted network: ``.relative_effects`` (DataFrame, contract columns), ``.tau2``,
    ``.league()``, ``.to_frame()``, ``.forest()``, ``.to_dict()`` (results.json's ``network``)."""

    def __init__(self, record, data):
        self.record = record
        self.data = data

    @property
    def tau2(self) -> float:
        return self.record.tau2

    @property
    def treatments(self) -> list:
        return list(self.record.treatments)

    @property
    def reference(self) -> str:
        return self.record.reference

    @property
    def relative_effects(self):
        import pandas as pd

        return pd.DataFrame(self.to_dict()["relative_effects"])

    def to_dict(self) -> dict:
        return self.record.to_dict()

    def to_frame(self):
        """One row per treatment against the reference: estimate, SE, CI, PI, P-score (and the
        posterior mean, credible interval and SUCRA when the Bayesian network ran)."""
        import pandas as pd

        d = self.to_dict()
        rows = [dict(r) for r in d["relative_effects"] if r["versus"] == d["reference"]]
        for r in rows:
            r["p_score"] = d["p_scores"][r["treatment"]]
            if d["bayes"] is not None:
                b = next(x for x in d["bayes"]["relative_effects"]
                         if x["treatment"] == r["treatment"] and x["versus"] == d["reference"])
                r.update(bayes_estimate=b["estimate"], bayes_ci_lower=b["ci_lower"], bayes_ci_upper=b["ci_upper"],
                         sucra=d["bayes"]["sucra"][r["treatment"]])
        return pd.DataFrame(rows)

    def league(self, digits: int = 2, values: str = "text"):
        """League table: the cell in row i, column j is treatment i versus treatment j
        (``values="text"``: "estimate [ci_lower, ci_upper]"; or "estimate", "se", "ci_lower", ...)."""
        import pandas as pd

        names = self.treatments
        table = pd.DataFrame("", index=names, columns=names, dtype=object)
        for r in self.to_dict()["relative_effects"]:
            if values == "text":
                cell = f"{r['estimate']:.{digits}f} [{r['ci_lower']:.{digits}f}, {r['ci_upper']:.{digits}f}]"
            elif values in r:
                cell = r[values]
            else:
                raise MetakError(f"league: values must be 'text' or a column of relative_effects, got {values!r}")
            table.loc[r["treatment"], r["versus"]] = cell
        for t in names:
            table.loc[t, t] = t if values == "text" else None
        return table

    def contribution(self):
        """The contribution matrix: one row per pair (treatment, versus), one column per design,
        the percentage contribution of the design's direct evidence (rows sum to 100)."""
        import pandas as pd

        rows = self.to_dict()["contribution"]
        if not rows:
            raise MetakError("network: the contribution matrix was not computed (pass contribution=True)")
        table = pd.DataFrame([r["designs"] for r in rows],
                             index=pd.MultiIndex.from_tuples([(r["treatment"], r["versus"]) for r in rows],
                                                             names=["treatment", "versus"]))
        return table.fillna(0.0)

    def forest(self, **options):
        """Forest plot of every treatment against the reference (metak.plots.network)."""
        import importlib

        try:
            mod = importlib.import_module("metak.plots.network")
        except ModuleNotFoundError:
            mod = None
        fn = getattr(mod, "forest", None) or getattr(mod, "network_forest", None) if mod else None
        if fn is None:
            raise NotImplementedError("NetworkFit.forest: the network figures (metak.plots.network) are not "
                                      "available in this version of metak")
        import inspect

        params = list(inspect.signature(fn).parameters)
        # a registered figure's form is plot(ma, ax, **options) on the meta-analysis object of
        # results.json; otherwise the function takes the "network" object itself
        arg = {"network": self.to_dict()} if params and params[0] == "ma" else self.to_dict()
        if "ax" in params and "ax" not in options:
            import matplotlib.pyplot as plt

            fig, ax = plt.subplots(figsize=(7.2, 0.4 * len(self.treatments) + 1.5))
            out = fn(arg, ax, **options)
            return out if out is not None and hasattr(out, "savefig") else fig
        return fn(arg, **options)

    def summary(self) -> str:
        d = self.to_dict()
        lines = [f"Network meta-analysis ({d['measure']}, {d['method']}): {d['k_trials']} trials, "
                 f"{d['k_contrasts']} contrasts, {len(d['treatments'])} treatments; reference {d['reference']}",
                 f"tau^2 = {d['tau2']:.4g}; Q total {d['q_total']['q']:.3f} on {d['q_total']['df']} df, "
                 f"within designs {d['q_within']['q']:.3f} on {d['q_within']['df']} df, between designs "
                 f"{d['q_between_designs']['q']:.3f} on {d['q_between_designs']['df']} df"]
        lines.append(self.to_frame().to_string(index=False))
        return "\n".join(lines)

    def __repr__(self):
        d = self.record
        return (f"<NetworkFit {d.measure} {d.method}: {d.k_trials} trials, {len(d.treatments)} treatments, "
                f"reference {d.reference!r}, tau2={d.tau2:.4g}>")


# ``metak.network`` is both this package and the function: importing a submodule (metak.network.data)
# makes the attribute ``metak.network`` the package, so the package itself is made callable.
import sys as _sys  # noqa: E402
import types as _types  # noqa: E402


class _CallableModule(_types.ModuleType):
    def __call__(self, *args, **kwargs):
        return network(*args, **kwargs)


_sys.modules[__name__].__class__ = _CallableModule

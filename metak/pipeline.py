"""The analysis pipeline: spec -> effect table -> model fit -> registered analyses -> document.

Data flow one way: records (validated) -> effects (:func:`metak.effects.build.build_table`)
-> estimators (:class:`metak.estimators.model.Model`) -> meta-regression / subgroups and the
registered sensitivity analyses (refits of the table) -> the results document
(:mod:`metak.document`); report and plots read the document and compute nothing.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .document import empty, header, meta_head, rel, study_entry
from .effects.build import TRIAL_FIELDS, build_table
from .effects.table import order_rows
from .effects.escalc import ContinuityCorrection
from .errors import InvalidSpec, MetakError, Problem
from .estimators.model import Model
from .progress import stage as show_stage
from .records import load_trials
from .records.checker import did_you_mean
from .registry import ANALYSES
from .spec import ORDERS, AnalysisSpec, MetaSpec, load_spec
from ._blas import single_threaded


@dataclass
class Context:
    """What a registered analysis gets: the table, the model, the fit, the spec and where to
    put warnings."""

    table: object
    model: Model
    result: object
    spec: MetaSpec
    warnings: list = field(default_factory=list)
    #: the sampling covariance of the multivariate model (multi_arm: multivariate), else None
    covariance: object = None
    #: the meta-analysis's results so far (its results.json object); an analysis with
    #: ``reads_results`` sees them with its own stage's other results added
    document: dict | None = None
    #: the trials the spec's select kept (the network meta-analysis reads their arms)
    trials: tuple = ()


def run_stage(stage: str, ctx: Context) -> dict:
    """Run the registered analyses of one stage that the spec asks for, in the registry's order:
    ``{results.json key: record.to_dict()}`` (``sensitivity`` analyses are gathered under it)."""
    ms = ctx.spec
    out, sens = {}, {}
    # those that read the others' results run last (a stable sort keeps the order otherwise)
    for e in sorted((*ms.analyses, *ms.sensitivity), key=lambda e: ANALYSES[e.name].reads_results):
        kind = ANALYSES[e.name]
        if kind.stage != stage:
            continue
        if kind.reads_results:
            ctx.document = {**(ctx.document or {}), **out, "sensitivity": dict(sens) or None}
        show_stage(f"{ms.id}: {e.name.replace('_', ' ')}")
        value = kind.runner()(ctx, e.kwargs).to_dict()
        if kind.spec == "sensitivity":
            sens[e.name] = value
        else:
            out[e.name] = value
    if sens:
        out["sensitivity"] = sens
    return out


def _spec_error(ms: MetaSpec, key: str, message: str) -> InvalidSpec:
    return ms.error(key, message)


def check_names(ms: MetaSpec, trials) -> None:
    """Moderator, subgroup and order names must be characteristics or trial fields of some
    loaded trial: a typo is a spec error with its line and a did-you-mean."""
    known = set(TRIAL_FIELDS) | {name for t in trials for name, _ in t.characteristics}
    asked = [(f"moderators[{j}]", m) for j, m in enumerate(ms.moderators)]
    if ms.subgroups is not None:
        asked.append(("subgroups", ms.subgroups))
    if ms.order not in ORDERS:
        asked.append(("order", ms.order))
    for key, name in asked:
        if name not in known:
            choices = sorted(known | (set(ORDERS) if key == "order" else set()))
            raise _spec_error(ms, key, f"'{name}' is not a characteristic or trial field of any loaded trial"
                                       f"{did_you_mean(name, choices)}; known: {', '.join(choices)}")


def run_meta(ms: MetaSpec, trials, *, out_dir: Path | None = None) -> dict:
    """One meta-analysis of the spec -> its results.json object."""
    check_names(ms, trials)
    cc_dict = ms.cc.resolved(ms.method)
    cc = ContinuityCorrection(cc_dict["add"], cc_dict["to"], cc_dict["drop00"])
    model = Model(ms.method, ms.test, ms.level, cc)
    built = build_table(trials, ms, cc)
    table, excluded, warnings = built.table, built.excluded, built.warnings
    out = meta_head(ms, table, cc_dict, built.outcome_label)
    if table.k and out["n_participants"] is None:
        warnings.append("n_participants is null: some studies report only a contrast without arm sizes")
    if not ms.dropout and table.k and not any(t.outcome(ms.outcome) for t in trials):
        _no_outcome(ms, built.selected)  # an outcome no loaded trial has (a typo) must not pass on fallbacks
    if not table.k:
        if not ms.dropout:
            _no_data(ms, built.selected, excluded)
        warnings.append("no study has data for this meta-analysis; nothing was fitted")
        return empty(out, excluded, warnings)
    try:
        # rows are ordered first and the model fitted in that order, so that every number
        # equals a fit of the studies as results.json lists them (to the last bit)
        weights = np.asarray(model.fit(table).weights, float) if ms.order == "weight" else None
        table = table.subset(order_rows(table, ms.order, weights))
        res = model.fit(table)
    except MetakError as exc:  # e.g. an MH estimate undefined for these tables: null, with the reason
        warnings.append(f"not estimable: {exc}")
        return empty(out, excluded, warnings, studies=[study_entry(r, None, ms.level) for r in table.rows])
    warnings.extend(res.warnings)
    weights = np.asarray(res.weights, dtype=float)
    if ms.multi_arm == "multivariate":
        return _multivariate(ms, table, model, cc, out, excluded, warnings)
    out["studies"] = [study_entry(r, w, ms.level) for r, w in zip(table.rows, weights)]
    out["excluded"] = excluded
    out.update(res.to_dict())
    if ms.dropout:
        out["dropout_rates"] = _dropout_rates(table)
    else:
        beside = _dropout_beside(table)
        if beside:
            out["dropout_rates"] = beside
    if ms.moderators:
        out["meta_regression"] = _meta_regression(ms, table, model, warnings)
    if ms.subgroups is not None:
        out["subgroups"] = _subgroups(ms, table, model, warnings)
    out["bayes"] = _bayes(ms, table, out_dir, warnings) if ms.bayes is not None else None
    ctx = Context(table, model, res, ms, warnings, document=out, trials=tuple(built.selected))
    out.update(run_stage("model", ctx))
    if "glmm" in out:  # the GLMM's pooled numbers replace the inverse-variance ones, model under model.glmm
        from .glmm.spec import replace_pooled

        replace_pooled(out)
    after = run_stage("after_fit", ctx)
    out["sensitivity"] = after.pop("sensitivity", None)
    out.update(after)
    out["warnings"] = warnings
    return out


def mv_covariance(table, measure: str, cc) -> np.ndarray:
    """V of the multivariate model: each row's vi on the diagonal and, between two comparisons
    of one trial that share their control group, the control arm's contribution (OR with the
    continuity correction when either table needed it)."""
    from .estimators.multivariate import shared_control_cov, smd_cov

    k = table.k
    V = np.diag(table.vi)
    rows = table.rows
    for i in range(k):
        for j in range(i + 1, k):
            a, b = rows[i], rows[j]
            if a.trial != b.trial or a.comparison is None or b.comparison is None:
                continue
            if a.comparison.control != b.comparison.control:
                continue
            ctl = a.comparison.ctl_data
            if measure == "SMD":
                n_total = sum(x.n for x in (a.comparison.exp_data, b.comparison.exp_data, ctl))
                cov = smd_cov(a.yi, b.yi, ctl.n, n_total)
            else:
                zero = any(min(r.table) == 0 for r in (a, b) if r.table is not None)
                cov = shared_control_cov(measure, ctl, cc.add if zero and cc.to != "none" else 0.0)
            V[i, j] = V[j, i] = cov
    return V


def _multivariate(ms, table, model, cc, out, excluded, warnings) -> dict:
    """``multi_arm: multivariate``: rma.mv(yi, V, random = ~ 1 | trial/comparison)."""
    from scipy import special

    from .estimators.multivariate import fit_mv

    fin = np.isfinite(table.yi) & np.isfinite(table.vi)
    table = table.subset(fin)
    V = mv_covariance(table, ms.measure, cc)
    method = "FE" if model.method == "FE" else model.method
    test = "t" if model.test == "hksj" else "z"
    if model.test == "hksj":
        warnings.append("multi_arm: multivariate: rma.mv has no Knapp-Hartung test; a t test on k - 1 df is used")
    r = fit_mv(table.yi, V, table.trials, method=method, test=test, level=model.level)
    name, est, se, stat, pv, lo, hi = r.coefficients[0]
    # each row's weight in the GLS estimate: its entry of 1'M_i^-1 over the total
    s1, s2 = r.sigma2
    w = np.zeros(table.k)
    trials = np.array(table.trials, dtype=object)
    for t in dict.fromkeys(table.trials):
        idx = np.where(trials == t)[0]
        M = V[np.ix_(idx, idx)] + s1 + s2 * np.eye(len(idx))
        w[idx] = np.linalg.solve(M, np.ones(len(idx)))
    w = 100 * w / w.sum()
    from .format import clean

    crit = float(special.stdtrit(r.df, 0.5 + model.level / 2) if r.df else special.ndtri(0.5 + model.level / 2))
    half = crit * np.sqrt(s1 + s2 + se**2)
    out["studies"] = [study_entry(row, wi, ms.level) for row, wi in zip(table.rows, w)]
    out["excluded"] = excluded
    out.update({"k": r.k, "estimate": clean(est), "se": clean(se), "ci_lower": clean(lo), "ci_upper": clean(hi),
                "statistic": clean(stat), "df": r.df, "p_value": clean(pv),
                "pi_lower": clean(est - half) if method != "FE" else None,
                "pi_upper": clean(est + half) if method != "FE" else None,
                "tau2": None, "tau2_ci": None, "tau": None, "tau_ci": None, "i2": None, "i2_ci": None, "h2": None,
                "h2_ci": None, "q": clean(r.qe), "q_df": r.k - 1, "q_p": clean(r.qe_p), "common_effect": None})
    out["multivariate"] = {"model": "rma.mv(yi, V, random = ~ 1 | trial/comparison)", "method": method,
                           "test": test, "n_trials": r.n_trials, "sigma2_trial": clean(s1),
                           "sigma2_comparison": clean(s2), "loglik": clean(r.loglik),
                           "shared_control_pairs": int(((V != 0) & ~np.eye(table.k, dtype=bool)).sum() // 2)}
    multi = [t for t in dict.fromkeys(table.trials) if table.trials.count(t) > 1]
    if multi:
        warnings.append(f"multi_arm: multivariate: {', '.join(multi)} compare several arms with one shared control; "
                        "the control is not split, its covariance enters V")
    ctx = Context(table, model, r, ms, warnings, covariance=V)
    out.update(run_stage("model", ctx))
    out["bayes"] = None
    if ms.bayes is not None:
        from .bayes import fit_bayes

        result = fit_bayes(table.yi, table.vi, ms.bayes, level=ms.level, direction=table.direction,
                           measure=ms.measure, labels=list(table.labels), analysis_id=ms.id, V=V,
                           groups=table.trials)
        warnings.append("bayes: multivariate: each comparison's true effect ~ Normal(mu, tau²) with the exact "
                        "shared-control covariance V (rma.mv(yi, V, random = ~ 1 | comparison)); the frequentist "
                        "model's separate trial-level component is not in the Bayesian model")
        warnings.extend(f"bayes: {w}" for w in result.warnings)
        out["bayes"] = result.to_dict()
    out["sensitivity"] = None
    out["warnings"] = warnings
    return out


def _dropout_rates(table) -> list[dict]:
    """Per comparison, each side's dropouts, randomized and rate (dropouts / randomized)."""
    out = []
    for r in table.rows:
        if r.table is None:
            continue
        a, b, c, d = r.table
        side = lambda e, n: {"dropouts": e, "randomized": n, "rate": e / n if n else None}  # noqa: E731
        out.append({"trial": r.trial, "label": r.label, "experimental": side(a, a + b), "control": side(c, c + d)})
    return out


def _dropout_beside(table) -> list[dict]:
    """Beside an efficacy result: all-cause dropout per compared side of the included
    comparisons whose arms give it (randomized - completed, or a dropouts block)."""
    out = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        if t is None or comp is None:
            continue
        sides = {}
        for role, ids in (("experimental", comp.experimental), ("control", comp.control)):
            arms = [t.arm(a) for a in ids]
            if any(a is None or a.dropouts is None or a.randomized is None for a in arms):
                break
            e, n = sum(a.dropouts for a in arms), sum(a.randomized for a in arms)
            sides[role] = {"dropouts": e, "randomized": n, "rate": e / n}
        if len(sides) == 2:
            out.append({"trial": r.trial, "label": r.label, **sides})
    return out


def _no_outcome(ms, kept) -> None:
    """Called when no loaded trial has the spec's ``outcome``: with trials selected (``kept``) it
    is a typo, a spec error with a did-you-mean, whatever its fallback_outcomes find."""
    have = sorted({o.id for t in kept for o in t.outcomes})
    if kept:
        raise _spec_error(ms, "outcome", f"no selected trial has outcome '{ms.outcome}'"
                                         f"{did_you_mean(ms.outcome, have)}; their outcomes: {', '.join(have) or 'none'}")


def _no_data(ms, kept, excluded) -> None:
    """A meta-analysis left with no study is a spec error: an outcome id no selected trial
    (``kept``) has (a typo, with a did-you-mean over their outcome ids), or a measure that
    fits none of their data (with each trial's reason)."""
    from .effects.build import ReasonCode

    if not kept:
        return  # select: or exclude: left nothing; the excluded list says why
    names = [ms.outcome] + [f.outcome for f in ms.fallback_outcomes]
    have = sorted({o.id for t in kept for o in t.outcomes})
    if not any(t.outcome(n) for t in kept for n in names):
        raise _spec_error(ms, "outcome", f"no selected trial has outcome '{ms.outcome}'"
                                         f"{did_you_mean(ms.outcome, have)}; their outcomes: {', '.join(have) or 'none'}")
    ids = {t.id for t in kept}
    mine = [e for e in excluded if e["trial"] in ids and e.get("reason_code") != ReasonCode.NO_OUTCOME]
    if not mine or not all(e.get("reason_code") == ReasonCode.MEASURE_MISMATCH for e in mine):
        return  # arms, zero cells ...: the excluded list says why, as for any k = 0 result
    reasons = "; ".join(f"{e['trial']}: {e['reason']}" for e in mine)
    raise _spec_error(ms, "measure" if any(k == "measure" for k, _, _ in ms.where) else "outcome",
                      f"measure {ms.measure} fits none of the selected trials' data for outcome '{ms.outcome}' "
                      f"({reasons})")


def _meta_regression(ms, table, model, warnings) -> dict:
    from .effects.design import design_matrix

    try:
        d = design_matrix(table, ms.moderators)
        sub = table.subset(d.keep)
        n, seed = ms.permutations or (None, None)
        reg = model.fit(sub, d.X, names=d.names, moderators=ms.moderators, permutations=n, seed=seed)
    except MetakError as exc:
        raise _spec_error(ms, "moderators[0]", str(exc)) from None
    for trial, label, why in d.excluded:
        warnings.append(f"{label}: {why}")
    warnings.extend(f"meta-regression: {w}" for w in reg.warnings)
    out = reg.to_dict()
    out["excluded"] = [{"trial": t, "label": lab, "reason": why} for t, lab, why in d.excluded]
    tau2 = reg.tau2 or 0.0
    w = 1 / (sub.vi + tau2)
    out["studies"] = [{"trial": r.trial, "label": r.label, "values": {m: r.covariates.get(m) for m in ms.moderators},
                       "yi": r.yi, "vi": r.vi, "weight": float(100 * wi / w.sum())}
                      for r, wi in zip(sub.rows, w)]
    continuous = [m for m, kind in d.kinds if kind == "continuous"]
    out["curve"] = None
    if len(ms.moderators) == 1 and continuous:
        j = d.names.index(continuous[0])
        x = np.linspace(d.X[:, j].min(), d.X[:, j].max(), 101)
        pred = reg.predict(np.column_stack([np.ones_like(x), x]))
        out["curve"] = {"moderator": continuous[0], "x": x.tolist(),
                        **{key: pred[key].tolist() for key in ("estimate", "ci_lower", "ci_upper", "pi_lower", "pi_upper")}}
        if model.method == "FE":
            out["curve"]["pi_lower"] = out["curve"]["pi_upper"] = None
    return out


def _subgroups(ms, table, model, warnings) -> dict:
    from .effects.design import level_text
    from .sensitivity.subgroups import subgroup_analysis

    res = subgroup_analysis(table, model, ms.subgroups)
    for trial, label, why in res.excluded:
        warnings.append(f"{label}: {why}")
    if len(res.groups) < 2:
        warnings.append(f"subgroups: every study has the same {ms.subgroups}; no test for subgroup differences")
    out = res.to_dict()
    out["values"] = [None if v is None else level_text(v) for v in table.column(ms.subgroups)]
    return out


def _bayes(ms, table, out_dir, warnings):
    from .bayes import fit_bayes

    mcmc = getattr(ms.bayes, "resolved_engine", "exact") == "mcmc"
    show_stage(f"{ms.id}: Bayesian model" + (" (PyMC: compiling the model, then sampling)" if mcmc else ""))

    finite = np.isfinite(table.yi) & np.isfinite(table.vi)
    if not finite.all():  # MH RD keeps double-zero tables, which have no yi of their own
        warnings.append(f"bayes: {int((~finite).sum())} stud(y/ies) without an effect size of their own "
                        "(double-zero tables) left out of the Bayesian model")
        table = table.subset(finite)
    tables = None
    if ms.bayes.likelihood == "binomial":
        t = table.tables
        if t is None:
            raise MetakError(f"meta-analysis '{ms.id}': the binomial likelihood needs per-arm binary data for every study")
        tables = np.column_stack([t[:, 0], t[:, 0] + t[:, 1], t[:, 2], t[:, 2] + t[:, 3]])
    result = fit_bayes(table.yi, table.vi, ms.bayes, level=ms.level, direction=table.direction, measure=ms.measure,
                       tables=tables, labels=list(table.labels), out_dir=out_dir, analysis_id=ms.id)
    for w in result.warnings:
        warnings.append(f"bayes: {w}")
    return result.to_dict()


def _check_trial_paths(spec: AnalysisSpec) -> None:
    """``trials:`` entries that name nothing are the spec's error, at its line."""
    from .records import expand_paths

    problems = []
    for raw, line in zip(spec.trials, spec.trials_lines or (None,) * len(spec.trials)):
        _, missing = expand_paths([raw], base=spec.base)
        for p in missing:
            where = (spec.base / raw).resolve()
            problems.append(Problem(spec.path, line, "trials", f"'{raw}': {p.message} (looked for {where})"))
    if problems:
        raise InvalidSpec(problems)


@single_threaded
def analyze(spec_path, *, out_dir=None) -> dict:
    """Run every meta-analysis of an analysis spec; return the results document (a dict)."""
    if not isinstance(spec_path, (str, Path)):
        raise MetakError(f"analyze takes the path of an analysis spec (a YAML file), not {type(spec_path).__name__}")
    spec_path = Path(spec_path)
    spec: AnalysisSpec = load_spec(spec_path, rel(spec_path))
    _check_trial_paths(spec)
    show_stage("reading the trial records")
    trials = load_trials(spec.trials, base=spec.base)
    doc = header(spec, spec_path, trials)
    from .progress import note, task

    with task("meta-analyses", len(spec.meta_analyses)) as advance:
        for i, ms in enumerate(spec.meta_analyses, 1):
            show_stage(f"{ms.id}: fitting (meta-analysis {i} of {len(spec.meta_analyses)})")
            doc["meta_analyses"].append(run_meta(ms, trials, out_dir=out_dir))
            note(f"  {ms.id}: k = {doc['meta_analyses'][-1].get('k')}")
            advance()
    from .api import AnalysisResults  # a dict, with studies_frame(), summary_frame(), plot() and write()
    return AnalysisResults(doc, staging=out_dir)

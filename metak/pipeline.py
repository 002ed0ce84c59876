"""The analysis pipeline: spec -> effect table -> model fit -> registered analyses -> document.

Data flow one way: records (validated) -> effects (:func:`metak.effects.build.build_table`)
-> the registered analyses (:mod:`metak.registry`), stage by stage: ``table`` (transform the
effect table), the inverse-variance fit (:class:`metak.estimators.model.Model`), ``model``
(analyses that fit their own model; one may replace the pooled numbers) and ``after_fit``
(refits of the fitted table) -> the results document (:mod:`metak.document`); report and plots
read the document and compute nothing. This module runs the loop; it names no analysis and
computes no statistic.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .document import empty, header, meta_head, rel, study_entry
from .effects.build import build_table
from .effects.escalc import ContinuityCorrection
from .effects.table import order_rows
from .errors import InvalidSpec, MetakError, Problem
from .estimators.model import Model
from .progress import stage as show_stage
from .records import load_trials
from .registry import ANALYSES
from .spec import AnalysisSpec, MetaSpec, load_spec
from .spec.against import check_found, check_names
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
    #: the meta-analysis's results so far (its results.json object, written as the analyses run)
    document: dict | None = None
    #: the trials the spec's select kept (the network meta-analysis reads their arms)
    trials: tuple = ()
    #: where a run may stage files (MCMC traces), or None
    out_dir: object = None


def run_stage(stage: str, ctx: Context, out: dict) -> Context:
    """Run the registered analyses of one stage that the spec asks for (keyed ones in the
    registry's order, ``sensitivity:`` entries in the spec's), writing each record into the
    meta-analysis object ``out``: under ``<name>``, under ``sensitivity.<name>``, or over the pooled
    numbers (a kind with ``pooled``). Returns the Context the next analyses see (a record's
    ``context()`` replaces its fields)."""
    ms = ctx.spec
    entries = [e for e in (*ms.analyses, *ms.sensitivity) if ANALYSES[e.name].stage == stage]
    rank = {name: i for i, name in enumerate(ANALYSES)}
    asked = {e.name for e in entries}
    nulls = [k.name for k in ANALYSES.values() if k.stage == stage and k.null_when_off and k.name not in asked]

    def write_nulls(before: float) -> None:  # keys written as null keep their place in the registry's order
        while nulls and rank[nulls[0]] < before:
            out[nulls.pop(0)] = None

    # those that read the others' results run last (a stable sort keeps the order otherwise)
    for e in sorted(entries, key=lambda e: ANALYSES[e.name].reads_results):
        kind = ANALYSES[e.name]
        write_nulls(rank[e.name])
        ctx.document = out
        show_stage(f"{ms.id}: {e.name.replace('_', ' ')}")
        record = kind.runner()(ctx, e.kwargs)
        if record is None:
            continue
        if kind.replaces_pooled:
            out.update(kind.pooler()(record, out))
        elif kind.spec == "sensitivity":
            out["sensitivity"] = {**(out.get("sensitivity") or {}), e.name: record.to_dict()}
        else:
            out[e.name] = record.to_dict()
        if hasattr(record, "context"):
            ctx = replace(ctx, **record.context())
    write_nulls(float("inf"))
    return ctx


def run_meta(ms: MetaSpec, trials, *, out_dir: Path | None = None) -> dict:
    """One meta-analysis of the spec -> its results.json object."""
    check_names(ms, trials)
    cc_dict = ms.cc.resolved(ms.method)
    cc = ContinuityCorrection(cc_dict["add"], cc_dict["to"], cc_dict["drop00"])
    model = Model(ms.method, ms.test, ms.level, cc)
    built = build_table(trials, ms, cc)
    excluded, warnings = built.excluded, built.warnings
    ctx = Context(built.table, model, None, ms, warnings, trials=tuple(built.selected), out_dir=out_dir)
    early: dict = {}
    ctx = run_stage("table", ctx, early)
    table = ctx.table
    out = {**meta_head(ms, table, cc_dict, built.outcome_label), **early}
    if table.k and out["n_participants"] is None:
        warnings.append("the number of participants is not given: some studies report only a contrast without arm sizes")
    check_found(ms, trials, table, built.selected, excluded)  # a typo in outcome, or why nothing is left
    if not table.k:
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
    out["studies"] = [study_entry(r, w, ms.level) for r, w in zip(table.rows, np.asarray(res.weights, float))]
    out["excluded"] = excluded
    out.update(res.to_dict())
    ctx = replace(ctx, table=table, result=res, document=out)
    ctx = run_stage("model", ctx, out)
    out["sensitivity"] = None
    run_stage("after_fit", ctx, out)
    out["warnings"] = warnings
    return out


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
    from .analyzed import AnalysisResults  # a dict, with studies_frame(), summary_frame(), plot() and write()
    return AnalysisResults(doc, staging=out_dir)

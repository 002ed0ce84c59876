"""The analysis pipeline: spec -> trials -> comparisons -> effects -> fits -> results document.

Data flow one way: records (validated) -> comparisons (from arms) -> effects (yi, vi) ->
estimators / bayes -> sensitivity (refits of the fitted model) -> report (JSON, CSV, table)
and plots (read results, compute nothing).
"""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from . import __version__
from .comparisons import Comparison, build
from .effects import (
    BINARY_MEASURES, CONTINUOUS_MEASURES, LOG_MEASURES, ContinuityCorrection, contrast_yi_vi,
    escalc_binary, escalc_continuous, scale_of,
)
from .errors import MetakError
from .estimators import fit, fit_tables
from .estimators.result import clean
from .records import display_path, load_trials
from .records.model import BinaryArmData, ContrastData, Outcome, Source, Trial
from .spec import AnalysisSpec, MetaSpec, load_spec


@dataclass
class Row:
    """One comparison entering a meta-analysis."""

    comparison: Comparison | None
    trial: Trial
    label: str
    yi: float
    vi: float
    data: dict
    experimental: str
    control: str
    table: tuple | None = None  # (ai, bi, ci, di) for binary arm data
    n: float | None = None
    control_type: str | None = None
    direction: str = "higher_is_better"
    extra: dict = field(default_factory=dict)


def _unmatched(trials, ms: MetaSpec) -> list[str]:
    """Names in the spec that match no loaded trial: a typo there would silently change nothing."""
    s = ms.select
    ids = {t.id for t in trials}
    out = []
    named = [("select.trials", x) for x in s.trials] + [("select.exclude", x) for x, _ in s.exclude] + \
            [("arms", tid) for tid, _, _ in ms.arms]
    out += [f"{where} names trial '{x}', which is not among the loaded trials" for where, x in named if x not in ids]
    for key in ("condition", "design", "allocation", "masking"):
        have = {getattr(t, key) for t in trials}
        out += [f"select.{key} value '{v}' matches no loaded trial" for v in getattr(s, key) if v not in have]
    types = {ct for t in trials for ct in t.control_types}
    out += [f"select.control_type value '{v}' matches no loaded trial" for v in s.control_type if v not in types]
    for tid, exp, ctl in ms.arms:
        t = next((t for t in trials if t.id == tid), None)
        if t is not None:
            arm_ids = {a.id for a in t.arms}
            out += [f"arms.{tid} names arm '{a}', which {tid} does not have" for a in exp + ctl if a not in arm_ids]
    return out


def _select(trials, ms: MetaSpec):
    s = ms.select
    excluded = []
    kept = []
    reasons = dict(s.exclude)
    for t in trials:
        if t.id in reasons:
            excluded.append({"trial": t.id, "reason": reasons[t.id] or "excluded by the analysis spec"})
            continue
        why = None
        if s.trials and t.id not in s.trials:
            why = "not among select.trials"
        elif s.design and t.design not in s.design:
            why = f"design {t.design} not in select.design [{', '.join(s.design)}]"
        elif s.condition and t.condition not in s.condition:
            why = f"condition '{t.condition}' not in select.condition"
        elif s.allocation and t.allocation not in s.allocation:
            why = f"allocation {t.allocation} not in select.allocation [{', '.join(s.allocation)}]"
        elif s.masking and t.masking not in s.masking:
            why = f"masking {t.masking} not in select.masking [{', '.join(s.masking)}]"
        elif s.control_type and not set(t.control_types) & set(s.control_type):
            why = f"control type(s) {', '.join(t.control_types) or 'none'} not in select.control_type"
        if why:
            excluded.append({"trial": t.id, "reason": f"left out by select: {why}"})
        else:
            kept.append(t)
    return kept, excluded


def _complement(outcome: Outcome) -> Outcome:
    """The complementary binary outcome (events -> total - events), or an OR/RD contrast inverted."""
    from dataclasses import replace

    flipped = "lower_is_better" if outcome.direction == "higher_is_better" else "higher_is_better"
    if outcome.type == "binary":
        data = {a: BinaryArmData(d.total - d.events, d.total) for a, d in outcome.data.items()}
    elif outcome.type == "contrast" and outcome.data.measure in ("OR", "RD"):
        c = outcome.data
        if c.measure == "OR":
            est = 1 / c.estimate
            ci = (1 / c.ci[1], 1 / c.ci[0]) if c.ci else None
        else:
            est = -c.estimate
            ci = (-c.ci[1], -c.ci[0]) if c.ci else None
        data = replace(c, estimate=est, ci=ci)
    else:
        raise MetakError(f"the complement of a {outcome.type} outcome is not defined")
    return replace(outcome, data=data, direction=flipped, label=f"not: {outcome.label}")


def _find_outcome(trial: Trial, ms: MetaSpec):
    o = trial.outcome(ms.outcome)
    if o is not None:
        return o, None
    for fb in ms.fallback_outcomes:
        o = trial.outcome(fb.outcome)
        if o is None:
            continue
        if fb.complement:
            if o.type == "continuous" or (o.type == "contrast" and o.data.measure not in ("OR", "RD")):
                return None, f"outcome '{fb.outcome}' cannot be complemented ({o.type} {getattr(o.data, 'measure', '')})"
            return _complement(o), f"outcome '{fb.outcome}' used as its complement (fallback_outcomes)"
        return o, f"outcome '{fb.outcome}' used (fallback_outcomes)"
    names = [ms.outcome] + [f.outcome for f in ms.fallback_outcomes]
    return None, f"no outcome {' or '.join(repr(n) for n in names)}"


DROPOUT_SOURCE = Source("arms: randomized - completed", True, "dropouts = randomized - completed per arm")


def _dropout_outcome(trial: Trial, ms: MetaSpec):
    arms = {a.id: BinaryArmData(a.dropouts, a.randomized) for a in trial.arms if a.dropouts is not None}
    if len(arms) >= 2:
        return Outcome("dropout", "All-cause dropout", "binary", "lower_is_better", DROPOUT_SOURCE, arms), None
    o = trial.outcome(ms.dropout_outcome)
    if o is not None and o.type == "binary":
        return o, f"dropouts from outcome '{ms.dropout_outcome}' (per-arm randomized/completed not recorded)"
    return None, "no per-arm randomized and completed numbers, and no binary outcome " f"'{ms.dropout_outcome}'"


def _arm_json(d):
    if isinstance(d, BinaryArmData):
        return {"events": _num(d.events), "total": _num(d.total)}
    return {"mean": d.mean, "sd": d.sd, "n": _num(d.n)}


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def _control_type(trial: Trial, arm_ids) -> str | None:
    """The control type(s) of the compared control arms, e.g. 'active_placebo'."""
    return ",".join(sorted({trial.arm(a).control_type for a in arm_ids} - {None})) or None


def _participants(trial: Trial, n_exp, n_ctl):
    """People in a comparison: a crossover trial's participants received both arms."""
    return max(n_exp, n_ctl) if trial.design == "crossover" else n_exp + n_ctl


def _rows_for_trial(trial: Trial, outcome: Outcome, ms: MetaSpec, cc: ContinuityCorrection):
    """Rows (comparisons with yi/vi) of one trial, or (None, reason)."""
    if outcome.type == "contrast":
        c: ContrastData = outcome.data
        if c.measure != ms.measure:
            return None, f"outcome '{outcome.id}' is a {c.measure} contrast; this meta-analysis pools {ms.measure}"
        if ms.method in ("MH", "PETO"):
            return None, f"outcome '{outcome.id}' is a reported contrast; {ms.method} needs 2x2 tables"
        yi, vi = contrast_yi_vi(c.measure, c.estimate, c.ci, c.se, c.level)
        sizes = [trial.arm(a).randomized for a in c.experimental + c.control]
        n = sum(sizes) if None not in sizes else None
        if n is None and len(c.experimental + c.control) == len(trial.arms):
            n = trial.randomized_total
        data = {"measure": c.measure, "estimate": c.estimate, "ci": list(c.ci) if c.ci else None,
                "se": c.se, "level": c.level}
        control_type = _control_type(trial, c.control) or (",".join(trial.control_types) or None)
        return [Row(None, trial, trial.label, yi, vi, data, " + ".join(c.experimental), " + ".join(c.control),
                    n=n, control_type=control_type, direction=outcome.direction)], None
    if outcome.type == "binary" and ms.measure not in BINARY_MEASURES:
        return None, f"outcome '{outcome.id}' is binary; measure {ms.measure} needs {('continuous' if ms.measure in CONTINUOUS_MEASURES else 'contrast')} data"
    if outcome.type == "continuous" and ms.measure not in CONTINUOUS_MEASURES:
        return None, f"outcome '{outcome.id}' is continuous; measure {ms.measure} needs binary data"
    comps, why = build(trial, outcome.data, ms.multi_arm, ms.arms_for(trial.id))
    if not comps:
        return None, why
    rows = []
    for comp in comps:
        e, c = comp.exp_data, comp.ctl_data
        if outcome.type == "binary":
            table = (e.events, e.total - e.events, c.events, c.total - c.events)
            yi, vi = escalc_binary(ms.measure, *[np.array([x], float) for x in table], cc)
            n = _participants(trial, e.total, c.total)
        else:
            table = None
            yi, vi = escalc_continuous(ms.measure, [e.mean], [e.sd], [e.n], [c.mean], [c.sd], [c.n])
            n = _participants(trial, e.n, c.n)
        label = trial.label
        if len(comps) > 1:
            arm = trial.arm(comp.experimental[0])
            label = f"{trial.label} ({arm.label})"
        data = {comp.exp_name: _arm_json(e), comp.ctl_name: _arm_json(c)}
        rows.append(Row(comp, trial, label, float(yi[0]), float(vi[0]), data, comp.exp_name, comp.ctl_name,
                        table=table, n=n, control_type=_control_type(trial, comp.control),
                        direction=outcome.direction,
                        extra={"split_control": comp.split} if comp.split > 1 else {}))
    return rows, None


def run_meta(ms: MetaSpec, trials, *, out_dir: Path | None = None) -> dict:
    """One meta-analysis of the spec -> its results.json object."""
    warnings: list[str] = _unmatched(trials, ms)
    kept, excluded = _select(trials, ms)
    method = ms.method
    cc_dict = ms.cc.resolved(method)
    cc = ContinuityCorrection(cc_dict["add"], cc_dict["to"], cc_dict["drop00"])
    rows: list[Row] = []
    outcome_label = None
    for t in kept:
        if ms.dropout:
            outcome, note = _dropout_outcome(t, ms)
        else:
            outcome, note = _find_outcome(t, ms)
        if outcome is None:
            excluded.append({"trial": t.id, "reason": note})
            continue
        if note:
            warnings.append(f"{t.id}: {note}")
        trial_rows, why = _rows_for_trial(t, outcome, ms, cc)
        if not trial_rows:
            excluded.append({"trial": t.id, "reason": why})
            continue
        outcome_label = outcome_label or outcome.label
        if t.design == "crossover":
            warnings.append(f"{t.id}: crossover trial analysed as if its arms were independent groups "
                            "(paired data not recorded); its weight is conservative")
        elif t.design == "cluster":
            warnings.append(f"{t.id}: cluster-randomised trial analysed without a design effect; its CI is too "
                            "narrow unless the recorded numbers are already adjusted for clustering")
        for r in trial_rows:
            r.extra["outcome"] = outcome.id
            if r.comparison and r.comparison.split > 1:
                warnings.append(f"{r.label}: the control group is split across {r.comparison.split} comparisons (multi_arm: split_control)")
        rows.extend(trial_rows)
    direction = rows[0].direction if rows else ("lower_is_better" if ms.dropout else "higher_is_better")
    for r in rows:
        if r.direction != direction:
            r.yi = -r.yi
            if r.table is not None and method in ("MH", "PETO") and ms.measure == "RR":
                raise MetakError(f"meta-analysis '{ms.id}': {r.trial.id}'s outcome direction differs from the "
                                 "others and an MH risk ratio cannot be harmonised; use OR or RD, or method FE")
            if r.table is not None:  # the 2x2 table of the complementary event, so MH/Peto agree
                a, b, c, d = r.table
                r.table = (b, a, d, c)
            warnings.append(f"{r.trial.id}: outcome direction {r.direction} differs from {direction}; "
                            f"its effect is harmonised ({'reciprocal' if ms.measure in LOG_MEASURES else 'sign flipped'})")
    dropped = [r for r in rows if not (np.isfinite(r.yi) and np.isfinite(r.vi))]
    for r in dropped:
        excluded.append({"trial": r.trial.id, "reason": f"{r.label}: {_not_estimable(r, cc)}"})
    rows = [r for r in rows if r not in dropped]
    out = {
        "id": ms.id, "title": ms.title, "outcome": "dropout" if ms.dropout else ms.outcome,
        "outcome_label": outcome_label, "measure": ms.measure, "scale": scale_of(ms.measure),
        "direction": direction,
        "model": {"method": method, "test": ms.test, "level": ms.level, "cc": cc_dict, "multi_arm": ms.multi_arm},
        "k": len(rows),
        "dropout": ms.dropout,
        "figures": list(ms.figures),
    }
    known_n = [r.n for r in rows if r.n is not None]
    out["n_participants"] = _num(sum(known_n)) if rows and len(known_n) == len(rows) else None
    if rows and len(known_n) != len(rows):
        warnings.append("n_participants is null: some studies report only a contrast without arm sizes")
    if not rows:
        warnings.append("no study has data for this meta-analysis; nothing was fitted")
        return _empty(out, excluded, warnings)
    yi = np.array([r.yi for r in rows])
    vi = np.array([r.vi for r in rows])
    try:
        if method in ("MH", "PETO"):
            # yi/vi are already the escalc values of the (harmonised) tables; they serve MH's Q,
            # and fit_tables takes Peto's Q from the raw tables itself
            tables = np.array([r.table for r in rows], dtype=float)
            res = fit_tables(tables, yi, vi, measure=ms.measure, method=method, test=ms.test, level=ms.level,
                             drop00=cc.drop00)
        else:
            res = fit(yi, vi, method=method, test=ms.test, level=ms.level)
    except MetakError as exc:  # e.g. an MH estimate undefined for these tables: null, with the reason
        warnings.append(f"not estimable: {exc}")
        return _empty(out, excluded, warnings, studies=[_study_entry(r, None, ms.level) for r in rows])
    warnings.extend(res.warnings)
    out["studies"] = [_study_entry(r, w, ms.level) for r, w in zip(rows, res.weights)]
    out["excluded"] = excluded
    out.update(res.to_dict())
    out["bayes"] = None
    if ms.bayes is not None:
        out["bayes"] = _bayes(ms, rows, yi, vi, direction, out_dir, warnings)
    sens = {}
    labels = [r.label for r in rows]
    if "leave_one_out" in ms.sensitivity:
        from .sensitivity.refits import leave_one_out

        sens["leave_one_out"] = leave_one_out(res, labels, [r.trial.id for r in rows])
        if len(rows) < 2:
            warnings.append("leave_one_out needs k >= 2")
    if "active_placebo" in ms.sensitivity:
        from .sensitivity.refits import subgroup_test

        groups = [r.control_type or "unspecified" for r in rows]
        sens["active_placebo"] = subgroup_test(res, groups)
        if len(set(groups)) < 2:
            warnings.append("active_placebo: all studies share one control type; no subgroup test")
    if "blinding" in ms.sensitivity:
        sens["blinding"] = _blinding(rows, ms.level, warnings)
    out["sensitivity"] = sens or None
    out["warnings"] = warnings
    return out


def _not_estimable(r: Row, cc: ContinuityCorrection) -> str:
    if r.table is None:
        return "effect size not estimable from the reported data"
    a, b, c, d = r.table
    if cc.drop00 and ((a == 0 and c == 0) or (b == 0 and d == 0)):
        what = "no events" if a == 0 and c == 0 else "only events"
        return f"{what} in both arms: the table carries no information on the effect and is dropped (drop00: true)"
    return f"effect size not estimable: a zero cell with continuity correction to: {cc.to}"


def _study_entry(r: Row, weight, level) -> dict:
    from scipy import special

    crit = float(special.ndtri(0.5 + level / 2))
    se = float(np.sqrt(r.vi))
    entry = {"trial": r.trial.id, "label": r.label, "experimental": r.experimental, "control": r.control,
             "control_type": r.control_type, "outcome": r.extra.get("outcome"), "data": r.data,
             "yi": clean(r.yi), "vi": clean(r.vi), "se": clean(se),
             "ci_lower": clean(r.yi - crit * se), "ci_upper": clean(r.yi + crit * se), "weight": clean(weight)}
    if "split_control" in r.extra:
        entry["split_control"] = r.extra["split_control"]
    return entry


MODEL_KEYS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "df", "p_value", "pi_lower", "pi_upper", "tau2",
              "tau2_ci", "tau", "tau_ci", "i2", "i2_ci", "h2", "h2_ci", "q", "q_df", "q_p", "common_effect")


def _empty(out, excluded, warnings, studies=()):
    """A meta-analysis with nothing fitted: every model number null, the reason in warnings."""
    out.update({"studies": list(studies), "excluded": excluded})
    out.update({k: None for k in MODEL_KEYS})
    out["bayes"] = None
    out["sensitivity"] = None
    out["warnings"] = warnings
    return out


def _blinding(rows, level, warnings):
    from .sensitivity.blinding import bang, james

    indices = []
    seen = set()
    for r in rows:
        t = r.trial
        if r.comparison is None or t.blinding is None or not t.blinding.guesses:
            continue
        exp, ctl = r.comparison.experimental, r.comparison.control
        if len(exp) != 1 or len(ctl) != 1:
            continue
        assessors = sorted({g.assessor for g in t.blinding.guesses})
        for who in assessors:
            ge = [g for g in t.blinding.guesses if g.arm == exp[0] and g.assessor == who]
            gc = [g for g in t.blinding.guesses if g.arm == ctl[0] and g.assessor == who]
            if not ge or not gc or (t.id, who, exp[0], ctl[0]) in seen:
                continue
            seen.add((t.id, who, exp[0], ctl[0]))
            e, c = ge[0], gc[0]
            table = [[e.guessed_experimental, c.guessed_experimental], [e.guessed_control, c.guessed_control],
                     [e.dont_know, c.dont_know]]
            indices.append({
                "trial": t.id, "assessor": who, "experimental": exp[0], "control": ctl[0],
                "james": james(table, level=level),
                "bang": {exp[0]: bang(e.guessed_experimental, e.guessed_control, e.dont_know, level=level),
                         ctl[0]: bang(c.guessed_control, c.guessed_experimental, c.dont_know, level=level)},
            })
    if not indices:
        warnings.append("blinding: no included trial reports allocation guesses for both compared arms")
    return {"indices": indices}


def _bayes(ms, rows, yi, vi, direction, out_dir, warnings):
    from .bayes import fit_bayes

    tables = None
    if ms.bayes.likelihood == "binomial":
        if any(r.table is None for r in rows):
            raise MetakError(f"meta-analysis '{ms.id}': the binomial likelihood needs per-arm binary data for every study")
        tables = np.array([(a, a + b, c, c + d) for a, b, c, d in (r.table for r in rows)], dtype=float)
    result = fit_bayes(yi, vi, ms.bayes, level=ms.level, direction=direction, measure=ms.measure, tables=tables,
                       labels=[r.label for r in rows], out_dir=out_dir, analysis_id=ms.id)
    for w in result.get("warnings", []) or []:
        warnings.append(f"bayes: {w}")
    return result


def _rel(path: Path) -> str:
    """A path as results.json records it: normalised, relative to the working directory when inside it."""
    import os

    return os.path.normpath(display_path(Path(os.path.normpath(path)))).replace("\\", "/")


def analyze(spec_path, *, out_dir=None) -> dict:
    """Run every meta-analysis of an analysis spec; return the results document (a dict)."""
    import scipy

    spec_path = Path(spec_path)
    spec: AnalysisSpec = load_spec(spec_path, _rel(spec_path))
    trials = load_trials(spec.trials, base=spec.base)
    doc = {
        "metak_version": __version__,
        "analysis": {"title": spec.title, "description": spec.description, "path": _rel(spec_path),
                     "sha256": spec.sha256},
        "trials": [{"id": t.id, "path": _rel(Path(t.path)), "sha256": t.sha256} for t in trials],
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__},
        "meta_analyses": [],
    }
    for ms in spec.meta_analyses:
        doc["meta_analyses"].append(run_meta(ms, trials, out_dir=out_dir))
    return doc


def _check_out(out: Path):
    """Refuse an output folder that cannot be one, before any work is done."""
    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise MetakError(f"--out {out}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise MetakError(f"--out {out}: {parent} is not writable")
            return


def run_cli(spec_path, out_dir, *, as_json=False, figures=True):
    """``metak analyze``: fit, draw, then write results.json, summary.csv and figures.

    Everything is produced in a scratch folder first; ``out`` (and its parents) are created
    and filled only when every file exists, so a failing run leaves nothing behind.
    """
    import tempfile

    import click

    from .report import dumps, terminal_table, write_outputs

    spec_path = Path(spec_path)
    out = Path(out_dir) if out_dir else Path("results") / spec_path.stem
    _check_out(out)
    with tempfile.TemporaryDirectory(prefix="metak-") as tmp:
        doc = analyze(spec_path, out_dir=Path(tmp))
        write_outputs(doc, out, Path(tmp), figures=figures)
    if as_json:
        click.echo(dumps(doc))
    else:
        click.echo(terminal_table(doc))
        click.echo(f"\nwrote {out / 'results.json'}")

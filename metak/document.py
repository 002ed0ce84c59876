"""The results document (contract section 3): assembled from the pipeline's records.

Nothing here fits anything: it turns an effect table, a fitted model and the analyses'
records (each with ``to_dict()``) into the JSON objects of results.json.
"""

from __future__ import annotations

import os
import platform
from pathlib import Path

import numpy as np

from . import __version__
from .format import clean
from .vocab import scale_of
from .records import display_path

#: the model fields of a meta-analysis object, null when nothing could be fitted
MODEL_KEYS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "df", "p_value", "pi_lower", "pi_upper", "tau2",
              "tau2_ci", "tau", "tau_ci", "i2", "i2_ci", "h2", "h2_ci", "q", "q_df", "q_p", "common_effect")


def rel(path: Path) -> str:
    """A path as results.json records it: normalised, relative to the working directory when inside it."""
    return os.path.normpath(display_path(Path(os.path.normpath(path)))).replace("\\", "/")


def header(spec, spec_path: Path, trials) -> dict:
    import scipy

    return {
        "metak_version": __version__,
        "analysis": {"title": spec.title, "description": spec.description, "path": rel(spec_path),
                     "sha256": spec.sha256},
        "trials": [{"id": t.id, "path": rel(Path(t.path)), "sha256": t.sha256} for t in trials],
        "environment": {"python": platform.python_version(), "numpy": np.__version__, "scipy": scipy.__version__},
        "meta_analyses": [],
    }


def _num(x):
    return int(x) if float(x).is_integer() else float(x)


def meta_head(ms, table, cc_dict, outcome_label) -> dict:
    """The descriptive keys of a meta-analysis object, before any fit."""
    out = {
        "id": ms.id, "title": ms.title, "outcome": "dropout" if ms.dropout else ms.outcome,
        "outcome_label": outcome_label, "measure": ms.measure, "scale": scale_of(ms.measure),
        "direction": table.direction,
        "model": {"method": ms.method, "test": ms.test, "level": ms.level, "cc": cc_dict, "multi_arm": ms.multi_arm},
        "k": table.k,
        "dropout": ms.dropout,
        "figures": list(ms.figures),
    }
    known = [r.n for r in table.rows if r.n is not None]
    out["n_participants"] = _num(sum(known)) if table.k and len(known) == table.k else None
    return out


def study_entry(r, weight, level) -> dict:
    """One ``studies`` entry: the row's data, yi, vi, its own CI and its weight (percent)."""
    from scipy import special

    crit = float(special.ndtri(0.5 + level / 2))
    se = float(np.sqrt(r.vi))
    entry = {"trial": r.trial, "label": r.label, "experimental": r.experimental, "control": r.control,
             "control_type": r.control_type, "outcome": r.outcome, "data": dict(r.data),
             "yi": clean(r.yi), "vi": clean(r.vi), "se": clean(se),
             "ci_lower": clean(r.yi - crit * se), "ci_upper": clean(r.yi + crit * se), "weight": clean(weight)}
    if r.split_control > 1:
        entry["split_control"] = r.split_control
    if getattr(r, "measure_conversion", None):
        entry["converted"] = r.measure_conversion
    if getattr(r, "design_method", None):
        entry["design"] = {"method": r.design_method, "note": r.design_note}
    rob = rob_of(r)
    if rob is not None:
        entry["risk_of_bias"] = {**dict(rob.domains), "overall": rob.overall, "overall_derived": rob.derived}
    return entry


def rob_of(r):
    """The RoB 2 judgements of the outcome an effect row comes from, or None."""
    if r.record is None or r.outcome is None:
        return None
    o = r.record.outcome(r.outcome)
    return None if o is None else o.risk_of_bias


def empty(out, excluded, warnings, studies=()) -> dict:
    """A meta-analysis with nothing fitted: every model number null, the reason in warnings."""
    out.update({"studies": list(studies), "excluded": excluded})
    out.update({k: None for k in MODEL_KEYS})
    out["bayes"] = None
    out["sensitivity"] = None
    out["warnings"] = warnings
    return out

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
from .registry import KEYED

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
        **({"figure_options": {k: list(v) if isinstance(v, tuple) else v for k, v in ms.figure_options}}
           if getattr(ms, "figure_options", None) else {}),
    }
    known = [r.n for r in table.rows if r.n is not None]
    out["n_participants"] = _num(sum(known)) if table.k and len(known) == table.k else None
    from .vocab import SINGLE_ARM_MEASURES

    if ms.measure in SINGLE_ARM_MEASURES:  # issue 27: which arms a single-arm measure pooled
        from .effects.single_arm import arm_type

        out["arm_type"] = arm_type(ms)
    if ms.measure == "PFT" and known:  # the back-transformation's n (metafor's transf.ipft.hm)
        from .format import harmonic_mean

        out["n_harmonic"] = harmonic_mean(known)
    return out


def study_entry(r, weight, level) -> dict:
    """One ``studies`` entry (:class:`metak.study_rows.StudyRow`): the row's data, yi, vi, its
    own CI and its weight (percent)."""
    from scipy import special

    from .schema.record import ABSENT
    from .study_rows import DesignNote, RobRow, StudyRow

    crit = float(special.ndtri(0.5 + level / 2))
    se = float(np.sqrt(r.vi))
    rob = rob_of(r)
    design = getattr(r, "design_method", None)
    row = StudyRow(
        trial=r.trial, label=r.label, experimental=r.experimental, control=r.control,
        control_type=r.control_type, outcome=r.outcome, data=dict(r.data),
        yi=clean(r.yi), vi=clean(r.vi), se=clean(se),
        ci_lower=clean(r.yi - crit * se), ci_upper=clean(r.yi + crit * se), weight=clean(weight),
        split_control=r.split_control if r.split_control > 1 else ABSENT,
        # the arms' interventions, for figure labels ("Favours ketamine", issue 25)
        interventions=interventions_of(r) or ABSENT,
        converted=getattr(r, "measure_conversion", None) or ABSENT,
        design=DesignNote(design, r.design_note) if design else ABSENT,
        risk_of_bias=ABSENT if rob is None else RobRow(**dict(rob.domains), overall=rob.overall,
                                                       overall_derived=rob.derived))
    return row.to_dict()


def interventions_of(r) -> dict | None:
    """``{"experimental": "ketamine", "control": "midazolam"}`` from the trial record's arms
    (combined arms joined with " + "), or None without a record."""
    rec = getattr(r, "record", None)
    if rec is None:
        return None
    out = {}
    for role in ("experimental", "control"):
        names = []
        for a in str(getattr(r, role) or "").split(" + "):
            try:
                arm = rec.arm(a.strip())
            except Exception:  # an arm id the record does not hold (derived rows): no name
                return None
            iv = arm.intervention
            if str(iv).strip().lower() in ("none", "no intervention", "no treatment", "nothing") and arm.label:
                label = str(arm.label)   # "No vaccine" reads "Favours no vaccine", not "Favours none"
                iv = label[:1].lower() + label[1:] if label[1:2].islower() else label
            if iv and iv not in names:
                names.append(iv)
        if not names:
            return None
        out[role] = " + ".join(names)
    return out


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
    out.update({name: None for name, kind in KEYED.items() if kind.null_when_off})  # bayes: null
    out["sensitivity"] = None
    out["warnings"] = warnings
    return out


# -- reading a results.json back (metak report, metak plot; typed records: metak.typed) -------------

#: numbers of a meta-analysis object (null when not estimable)
_MA_NUMBERS = ("estimate", "se", "ci_lower", "ci_upper", "statistic", "df", "p_value", "pi_lower", "pi_upper",
               "tau2", "tau", "i2", "h2", "q", "q_df", "q_p", "k", "n_participants")
_STUDY_NUMBERS = ("yi", "vi", "se", "ci_lower", "ci_upper", "weight")
_MA_TEXTS = ("title", "outcome", "outcome_label", "measure", "scale", "direction")
_MA_OBJECTS = ("sensitivity", "model")  # + the registered analyses' keys (KEYED), but for lists
_MA_LISTS = {"studies": dict, "excluded": dict, "dropout_rates": dict, "warnings": str, "figures": str}


class NotResults(Exception):
    """A file that is not a readable metak results.json; ``problem`` says what is wrong."""

    def __init__(self, file, problem: str):
        self.file, self.problem = file, problem
        super().__init__(f"{file}: not a metak results.json ({problem})")


def _is_number(x) -> bool:
    import math

    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)


def results_problem(doc) -> str | None:
    """What makes ``doc`` (a parsed results.json) unusable for ``metak report`` and ``metak
    plot``, or None: the shapes and types of what they read, and ids as ``metak analyze``
    writes them (plot builds file names from them). One check, before any work, instead of a
    KeyError or TypeError in the middle of a report."""
    from .records.checker import ID_PATTERN

    if not isinstance(doc, dict):
        return f"the top level is {type(doc).__name__}, not an object"
    a = doc.get("analysis")
    if a is not None:
        if not isinstance(a, dict):
            return "'analysis' is not an object"
        for key in ("title", "description"):
            if a.get(key) is not None and not isinstance(a[key], str):
                return f"analysis.{key} is not text"
    mas = doc.get("meta_analyses")
    if not isinstance(mas, list):
        return "no 'meta_analyses' list" if mas is None else "'meta_analyses' is not a list"
    for i, ma in enumerate(mas):
        at = f"meta_analyses[{i}]"
        if not isinstance(ma, dict):
            return f"{at} is {type(ma).__name__}, not a meta-analysis object"
        mid = ma.get("id")
        if not isinstance(mid, str) or not ID_PATTERN.fullmatch(mid):
            return (f"{at}.id {mid!r} is not a meta-analysis id (a-z, 0-9, '_' and '-')" if "id" in ma
                    else f"{at} has no id")
        at = f"meta_analyses[{i}] ({mid})"
        for key in ("measure", "model"):
            if key not in ma:
                return f"{at} has no '{key}'"
        for key in _MA_TEXTS:
            if ma.get(key) is not None and not isinstance(ma[key], str):
                return f"{at}.{key} is not text"
        for key in (*_MA_OBJECTS, *(k for k in KEYED if k not in _MA_LISTS)):
            if ma.get(key) is not None and not isinstance(ma[key], dict):
                return f"{at}.{key} is not an object"
        for key in _MA_NUMBERS:
            if ma.get(key) is not None and not _is_number(ma[key]):
                return f"{at}.{key} is {ma[key]!r}, not a number"
        level = (ma.get("model") or {}).get("level")
        if level is not None and not (_is_number(level) and 0 < level < 1):
            return f"{at}.model.level is {level!r}, not a number between 0 and 1"
        for key, kind in _MA_LISTS.items():
            items = ma.get(key)
            if items is None:
                continue
            if not isinstance(items, list) or not all(isinstance(x, kind) for x in items):
                return f"{at}.{key} is not a list of {'objects' if kind is dict else 'texts'}"
        for j, s in enumerate(ma.get("studies") or []):
            for key in ("label", "trial"):
                if s.get(key) is not None and not isinstance(s[key], str):
                    return f"{at}.studies[{j}].{key} is not text"
            for key in _STUDY_NUMBERS:
                if s.get(key) is not None and not _is_number(s[key]):
                    return f"{at}.studies[{j}].{key} is {s[key]!r}, not a number"
            if s.get("data") is not None and not isinstance(s["data"], dict):
                return f"{at}.studies[{j}].data is not an object"
    return None


def load_results(path) -> dict:
    """Read and check a results.json; :class:`NotResults` (never a traceback) when it is not one."""
    import json

    f = Path(path)
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except OSError as exc:
        raise NotResults(f, f"cannot be read: {exc.strerror or exc}") from None
    except (UnicodeDecodeError, ValueError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        what = "nested too deeply" if isinstance(exc, RecursionError) else f"{type(exc).__name__}: {str(exc)[:200]}"
        raise NotResults(f, what) from None
    problem = results_problem(doc)
    if problem:
        raise NotResults(f, problem)
    return doc

"""Reading one meta-analysis of the results document, for every kind of figure."""

from __future__ import annotations

import math
from collections.abc import Mapping
from statistics import NormalDist

from metak.errors import AnalysisError

from . import _format as fmt

from metak.vocab import LOG_MEASURES as _LOG_MEASURES  # noqa: E402


def require(ok, ma: Mapping, kind: str, what: str) -> None:
    """Raise AnalysisError('<kind> plot of <id> needs <what>') unless ``ok``."""
    if not ok:
        raise AnalysisError(f"{kind} plot of meta-analysis {ma.get('id', '?')!r} needs {what}")


def view(ma: Mapping, kind: str):
    """The typed records of ``ma`` (:func:`metak.typed.records`) for a ``kind`` figure: the
    pooled numbers as ``view.pooled`` and each analysis's record by ``view.get(name)``. A value
    that does not fit its record is a :class:`metak.typed.ResultsMismatch` naming the key path."""
    from metak.typed import records

    require_ma(ma, kind)
    return records(ma)


def rows(ma: Mapping) -> tuple:
    """The study rows of ``ma`` as :class:`metak.study_rows.StudyRow` records (document order);
    a row that does not fit the record is a :class:`metak.typed.ResultsMismatch` naming it."""
    from metak.typed import records

    return records(ma).studies


def row_label(row, i: int) -> str:
    """The label a study row (a :class:`~metak.study_rows.StudyRow`) shows: its label, else its
    trial id, else ``Study <i + 1>``."""
    return str(row.label or row.trial or f"Study {i + 1}")


def row_labels(ma: Mapping) -> dict:
    """trial id -> the label its study row shows, from the rows' records."""
    return {r.trial: row_label(r, i) for i, r in enumerate(rows(ma))}


def measure(ma: Mapping) -> str | None:
    """The effect measure code as written (``OR``, ``SMD``, ...; None when absent)."""
    return ma.get("measure")


def model_setting(ma: Mapping, key: str):
    """``model.<key>`` of the document (method, test, level, cc, multi_arm): the analysis's
    settings, not an analysis's record."""
    return (ma.get("model") or {}).get(key)


def method(ma: Mapping) -> str | None:
    """The estimator of the pooled model (``model.method``: REML, DL, FE, MH, PETO, ...).
    (It used to read a top-level ``method`` that no results.json writes, so the Baujat plot of a
    common-effect model was labelled as a random-effects one.)"""
    return model_setting(ma, "method")


def require_ma(ma, kind: str) -> None:
    if not isinstance(ma, Mapping):
        raise AnalysisError(f"{kind} plot needs one meta-analysis (a mapping from "
                            f"results.json 'meta_analyses'), not {type(ma).__name__}")


def is_log(ma: Mapping) -> bool:
    scale = ma.get("scale")
    if scale is not None:
        return scale == "log"
    return str(ma.get("measure", "")).upper() in _LOG_MEASURES


def natural(ma: Mapping):
    """``v -> to_natural(measure, v)`` for this meta-analysis: analysis scale -> the scale a reader
    sees, by :func:`metak.format.to_natural` (the one back-transformation; missing stays None)."""
    from functools import partial

    from metak.format import measure_of, to_natural

    return partial(to_natural, measure_of(ma))


def null_value(ma: Mapping) -> float:
    return 1.0 if is_log(ma) else 0.0


def level(ma: Mapping) -> float:
    lv = (ma.get("model") or {}).get("level")
    return 0.95 if fmt.is_missing(lv) else float(lv)


def measure_names(ma: Mapping) -> tuple[str, str]:
    code = str(ma.get("measure") or "GEN").upper()
    return fmt.MEASURES.get(code, (code, code))


def row_ci(row, lv: float) -> tuple[float | None, float | None]:
    """A StudyRow's CI on the analysis scale: its own, else yi -/+ z se (se from vi)."""
    if has(row.ci_lower) and has(row.ci_upper):
        return row.ci_lower, row.ci_upper
    se = row.se if has(row.se) else (math.sqrt(row.vi) if has(row.vi) else None)
    if not has(row.yi) or se is None:
        return None, None
    z = NormalDist().inv_cdf(0.5 + lv / 2)
    return row.yi - z * se, row.yi + z * se


def arm_names(ma: Mapping, override=None) -> tuple[str, str]:
    """Names of the compared arms: ``override``; else the arms' interventions when every study
    agrees ("ketamine" although the arm ids are ket, ket_low ...); else the arm id when every
    study shares it; else 'experimental' / 'control'.  Names are kept as written ("BCG")."""
    if override is None:
        override = (ma.get("figure_options") or {}).get("arm_labels")
    if override is not None:
        e, c = override
        return str(e), str(c)
    studies = rows(ma)

    def common(key: str, default: str) -> str:
        ivs = {str((s.interventions or {}).get(key) or "") for s in studies}
        if len(ivs) == 1 and "" not in ivs:
            (only,) = ivs
            return only
        ids = {str(getattr(s, key)) for s in studies if getattr(s, key)}
        if len(ids) == 1:
            (only,) = ids
            if " + " not in only:
                return fmt.pretty_id(only)
        return default

    e, c = common("experimental", "experimental"), common("control", "control")
    if e == c:
        return "experimental", "control"
    return e, c


def header_name(name: str) -> str:
    """A column header from an arm name: the first letter capitalised unless the name is an
    intervention written with capitals already ("BCG", "iTBS"), so "bcg" is never "Bcg"."""
    return name if any(ch.isupper() for ch in name) else fmt.capitalise(name)


def single_arm(ma: Mapping) -> bool:
    """A meta-analysis of one arm type's own data (PLO, PR, ...): no comparison, no null, no 'favours'."""
    from metak.vocab import SINGLE_ARM_MEASURES

    return str(ma.get("measure") or "").upper() in SINGLE_ARM_MEASURES


def favours(ma: Mapping, names: tuple[str, str]) -> tuple[str, str] | None:
    """(left, right) labels: for higher_is_better, effects above the null favour the
    experimental arm; for lower_is_better, below it. None for a single-arm measure."""
    if single_arm(ma):
        return None
    given = (ma.get("figure_options") or {}).get("favours")
    if given is not None:  # (left, right) as the author wrote them
        return str(given[0]), str(given[1])
    e, c = names
    if (ma.get("direction") or "higher_is_better") == "lower_is_better":
        return f"Favours {e}", f"Favours {c}"
    return f"Favours {c}", f"Favours {e}"


def arm_data(row, role: str):
    """A StudyRow's arm: the arm's numbers in ``row.data`` (a bare dict: the trial
    record's, keyed by arm id), None when the row has none for that arm."""
    arm_id = getattr(row, role)
    return row.data[arm_id] if arm_id is not None and isinstance(row.data, Mapping) and arm_id in row.data else None


#: the kinds of arm data a forest plot shows, and how its column is headed
DATA_KINDS = {"binary": "n/N", "continuous": "Mean (SD) n", "change": "Change (SD) n",
              "rate": "Events/PT", "correlation": "r (n)"}


def arm_kind(d: Mapping) -> str | None:
    """The kind of one arm's data as results.json writes them: events/total (``binary``),
    events/person_time (``rate``), mean/sd/n (``continuous``), a pre_post arm's baseline and
    final mean/sd with r and n (``change``, issue 27's single-arm change scores), r/n
    (``correlation``)."""
    if "events" in d:
        return "rate" if "person_time" in d else "binary"
    if "mean" in d:
        return "continuous"
    if "baseline" in d and "final" in d:
        return "change"
    if "r" in d and "n" in d:
        return "correlation"
    return None


def data_kind(ma: Mapping) -> str | None:
    """The kind of arm data (:data:`DATA_KINDS`) most studies carry."""
    kinds = []
    for s in rows(ma):
        for role in ("experimental", "control"):
            d = arm_data(s, role)
            if isinstance(d, Mapping) and arm_kind(d) is not None:
                kinds.append(arm_kind(d))
    if not kinds:
        return None
    return max(DATA_KINDS, key=kinds.count)


def arm_totals(rows, shared: bool, role: str, kind: str | None) -> str:
    """The summed arm data of the StudyRows ``rows`` for the total row (``shared``: a
    multivariate model, where a shared arm counts once)."""
    ev, tot, n, any_, seen = 0, 0, 0, False, set()
    for row in rows:
        d = arm_data(row, role)
        if not isinstance(d, Mapping):
            return ""
        if shared:
            if (row.trial, getattr(row, role)) in seen:
                continue
            seen.add((row.trial, getattr(row, role)))
        if kind == "binary" and "events" in d:
            ev, tot, any_ = ev + d["events"], tot + d["total"], True
        elif kind in ("continuous", "change", "correlation") and "n" in d:
            n, any_ = n + d["n"], True
    if not any_:
        return ""
    return f"{fmt.general(ev)}/{fmt.general(tot)}" if kind == "binary" else fmt.general(n)


def has(x) -> bool:
    return not fmt.is_missing(x)


def centre(summary):
    """The point shown for a posterior summary record (:class:`metak.bayes.record.PosteriorSummary`),
    on every scale: the median, which goes with the equal-tailed interval (and exp(median) is
    the posterior median ratio, exp(mean) is neither). The mean only for a summary without a
    median (a normal approximation, where the two coincide)."""
    return summary.median if has(summary.median) else summary.mean

"""What the binary (IMOR) and continuous (IMDOM) missing-outcome analyses share: the number
missing per arm (:func:`arm_missing`), the ``studies`` entries, the refit of one scenario with
each applicable study's re-computed effect (:func:`_pool`), the search for the tipping point
where the conclusion changes (:func:`_tipping`), and the parsing of per-arm values given as
one number or ``{experimental, control}`` (:func:`_pairs`, :func:`_pair`)."""

from __future__ import annotations

import numpy as np

from ..format import clean
from .refit import iv_model, null_fit, refit


def arm_missing(trial, outcome, arm_ids):
    """(missing, source) summed over ``arm_ids`` (None when unknown for one of them)."""
    total, sources = 0, set()
    for a in arm_ids:
        d = outcome.data.get(a)
        arm = trial.arm(a)
        if d is not None and getattr(d, "missing", None) is not None:
            total += d.missing
            sources.add("reported")
        elif d is not None and arm is not None and arm.randomized is not None:
            observed, name = (d.total, "total") if hasattr(d, "total") else (d.n, "n")
            total += arm.randomized - observed
            sources.add(f"randomized - {name}")
        else:
            return None, "not reported"
    return total, " + ".join(sorted(sources))


def _studies(table, rows, notes, at) -> list[dict]:
    """The ``studies`` entries; ``at`` gives where each input tuple keeps (missing
    experimental, missing control, their two sources). A study's note also goes to ``notes``."""
    me, mc, se, sc = at
    out = []
    for r, (x, note) in zip(table.rows, rows):
        entry = {"trial": r.trial, "label": r.label}
        if x is None:
            entry.update(applicable=False, note=note)
        else:
            entry.update(applicable=True, missing_experimental=clean(x[me]), missing_control=clean(x[mc]),
                         source_experimental=x[se], source_control=x[sc], note=note)
            if note:
                notes.append(f"{r.label}: {note}")
        out.append(entry)
    return out


def _pool(ctx, rows, compute, why_undefined):
    """Refit with each applicable row's effect from ``compute(inputs) -> (yi, vi)`` and the
    others (reported contrasts) with their own."""
    table = ctx.table
    keep, ys, vs, undefined = [], [], [], []
    for i, (x, _) in enumerate(rows):
        if x is None:
            r = table.rows[i]
            if np.isfinite(r.yi) and np.isfinite(r.vi):
                keep.append(i)
                ys.append(r.yi)
                vs.append(r.vi)
            continue
        y, v = compute(x)
        if not (np.isfinite(y) and np.isfinite(v) and v > 0):
            undefined.append(table.rows[i].label)
            continue
        keep.append(i)
        ys.append(float(y))
        vs.append(float(v))
    if not any(x is not None for x, _ in rows):
        return null_fit(0, "no study with arm data to impute")
    if not keep:
        return null_fit(0, "no study has a defined effect")
    sub = table.subset(np.array(keep))
    fit, why = refit(iv_model(ctx.model), sub.replace(yi=ys, vi=vs))
    out = fit or null_fit(len(keep), why)
    if undefined:
        out["left_out"] = [f"{lab}: effect undefined under {why_undefined}" for lab in undefined]
    return out


def _tipping(fit_at, bound, steps=100) -> dict:
    """The parameter t nearest 0 in [-bound, bound] where the conclusion of ``fit_at(t)``
    changes (t = 0 is the available-case assumption): a grid search away from 0 on each side,
    then Brent's method on the first change of side."""
    from scipy.optimize import brentq

    def side(t):
        f = fit_at(t)
        if f.get("estimate") is None:
            return np.nan
        return max(f["ci_lower"], -f["ci_upper"])  # > 0 while the CI excludes the null (0)

    out = {"at": None, "change": None, "reason": None, "all": [], "significant": None}
    s0 = side(0.0)
    if not np.isfinite(s0):
        out["reason"] = "no applicable study"
        return out
    sig0 = out["significant"] = bool(s0 > 0)
    found = []
    for sign in (1, -1):
        prev = 0.0
        for g in sign * np.linspace(0, bound, steps + 1)[1:]:
            v = side(g)
            if not np.isfinite(v):
                continue  # no estimate here: the bracket starts at the last one with
            if (v > 0) != sig0:
                try:
                    found.append(float(brentq(side, min(prev, g), max(prev, g), xtol=1e-10)))
                except ValueError:
                    pass
                break
            prev = g
    if not found:
        out["reason"] = "none in range"
        return out
    out["at"] = min(found, key=abs)
    out["change"] = "the CI reaches the null" if sig0 else "the CI comes to exclude the null"
    out["all"] = sorted(found)
    return out


def _pairs(c, path, value, **number):
    """A number or ``{experimental, control}``, or a non-empty list of them -> ((e, c), ...)."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        c.add(path, "must not be empty")
        return None
    out = []
    for j, item in enumerate(items):
        pair = _pair(c, path + (j,) if isinstance(value, list) else path, item, **number)
        if pair is None:
            return None
        out.append(pair)
    return tuple(out)


def _pair(c, p, item, **number):
    """A number (both arms) or ``{experimental, control}`` -> (e, c), checked by
    ``c.number(..., **number)`` (e.g. ``minimum=0`` or ``positive=True``)."""
    if isinstance(item, dict):
        if c.mapping(p, ("experimental", "control")) is None:
            return None
        e = c.number(p + ("experimental",), **number)
        k = c.number(p + ("control",), **number)
        return None if e is None or k is None else (e, k)
    x = c.number(p, **number)
    return None if x is None else (x, x)

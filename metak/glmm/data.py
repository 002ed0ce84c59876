"""Inputs of :func:`metak.glmm`: checked counts, the trials left out (as metafor leaves them
out) and the conditional likelihood of each model."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MetakError
from .likelihood import Arms, Binomial1, NoncentralHypergeometric

MODELS = ("UM.FS", "UM.RS", "CM.EL", "CM.AL")
METHODS = ("ML", "FE")
MEASURES = ("OR", "IRR", "PLO")


class Cond:
    """``cond(alpha, theta, derivs)`` -> dict of the conditional log-likelihood and its
    derivatives, the interface the quadrature integrates (``alpha`` ignored without study
    intercepts)."""

    def __init__(self, lik, nuisance: bool):
        self.lik = lik
        self.nuisance = nuisance
        self.k = len(lik.const)

    def __call__(self, alpha, theta, derivs=True):
        if self.nuisance:
            l, a, t, aa, at, tt = self.lik.loglik(alpha, theta, derivs)
            return {"l": l, "a": a, "t": t, "aa": aa, "at": at, "tt": tt}
        l, t, tt = self.lik.loglik(np.broadcast_to(theta, np.broadcast_shapes(np.shape(theta), (self.k, 1))), derivs)
        return {"l": l, "t": t, "tt": tt}


@dataclass
class Prepared:
    measure: str
    model: str
    labels: list
    included: np.ndarray  # bool per input row
    reasons: list  # (label, reason) of the rows left out
    notes: list
    cond: Cond
    #: per-study closed-form saturated quantities for the heterogeneity tests
    raw: dict


def _counts(name, values, n=None, integer=True):
    try:
        x = np.asarray(values, dtype=float).ravel()
    except (TypeError, ValueError):
        raise MetakError(f"glmm: {name} must be numbers, got {values!r}") from None
    if n is not None and len(x) != n:
        raise MetakError(f"glmm: {name} has {len(x)} values, the first argument {n}")
    if not np.all(np.isfinite(x)):
        raise MetakError(f"glmm: {name} has missing or infinite values at position(s) "
                         f"{', '.join(str(i + 1) for i in np.where(~np.isfinite(x))[0])}")
    if np.any(x < 0):
        raise MetakError(f"glmm: {name} must not be negative (position {int(np.argmax(x < 0)) + 1}: {x[x < 0][0]:g})")
    if integer and np.any(x != np.round(x)):
        i = int(np.argmax(x != np.round(x)))
        raise MetakError(f"glmm: {name} must be whole numbers (counts); position {i + 1} is {x[i]:g}")
    return x


def _not_more(ev, tot, ename, tname, labels):
    bad = np.where(ev > tot)[0]
    if len(bad):
        i = bad[0]
        raise MetakError(f"glmm: {labels[i]}: {ename} = {ev[i]:g} is more than {tname} = {tot[i]:g}")


def prepare(measure, model, args, slab) -> Prepared:
    """Check the counts and build the model's likelihood on the trials it keeps."""
    if measure not in MEASURES:
        raise MetakError(f"glmm: measure {measure!r} is not one of {', '.join(MEASURES)}")
    if model not in MODELS:
        raise MetakError(f"glmm: model {model!r} is not one of {', '.join(MODELS)}")
    notes: list[str] = []
    if measure == "OR":
        need = ("ai", "n1i", "ci", "n2i")
    elif measure == "IRR":
        need = ("x1i", "t1i", "x2i", "t2i")
    else:
        need = ("xi", "ni")
    missing = [a for a in need if args.get(a) is None]
    if missing:
        raise MetakError(f"glmm: measure {measure} needs {', '.join(need)}; missing {', '.join(missing)}")
    first = _counts(need[0], args[need[0]], integer=True)
    n = len(first)
    if n == 0:
        raise MetakError("glmm: no studies")
    cols = {a: _counts(a, args[a], n, integer=not a.startswith("t")) for a in need}
    labels = [str(s) for s in slab] if slab is not None else [f"s{i + 1}" for i in range(n)]
    if len(labels) != n:
        raise MetakError(f"glmm: slab has {len(labels)} labels for {n} studies")
    keep = np.ones(n, bool)
    reasons = []
    if measure == "OR":
        a, n1, c, n2 = cols["ai"], cols["n1i"], cols["ci"], cols["n2i"]
        _not_more(a, n1, "ai", "n1i", labels)
        _not_more(c, n2, "ci", "n2i", labels)
        b, d = n1 - a, n2 - c
        for i in range(n):
            if n1[i] == 0 or n2[i] == 0:
                keep[i] = False
                reasons.append((labels[i], "an arm with no participants"))
            elif a[i] == 0 and c[i] == 0:
                keep[i] = False
                reasons.append((labels[i], "no events in either arm (double zero)"))
            elif b[i] == 0 and d[i] == 0:
                keep[i] = False
                reasons.append((labels[i], "every participant had the event in both arms"))
        if not keep.all():
            notes.append(f"{int((~keep).sum())} trial(s) with no events (or only events) in both arms left out, as "
                         "rma.glmm does for every model (drop00 = TRUE): they carry no information on the odds ratio")
        a, b, c, d, n1, n2 = (v[keep] for v in (a, b, c, d, n1, n2))
        if model == "UM.FS" or model == "UM.RS":
            lik = Arms(np.column_stack([a, c]), np.column_stack([n1, n2]), "binomial")
            cond = Cond(lik, True)
        elif model == "CM.EL":
            cond = Cond(NoncentralHypergeometric(a, n1, n2, a + c), False)
        else:
            cond = Cond(Binomial1(a, a + c, np.log(n1 / n2)), False)
        raw = {"a": a, "b": b, "c": c, "d": d, "n1": n1, "n2": n2}
    elif measure == "IRR":
        x1, t1, x2, t2 = cols["x1i"], cols["t1i"], cols["x2i"], cols["t2i"]
        for i in range(n):
            if t1[i] <= 0 or t2[i] <= 0:
                raise MetakError(f"glmm: {labels[i]}: person-time must be positive (t1i = {t1[i]:g}, t2i = {t2[i]:g})")
            if x1[i] == 0 and x2[i] == 0:
                keep[i] = False
                reasons.append((labels[i], "no events in either arm (double zero)"))
        if not keep.all():
            notes.append(f"{int((~keep).sum())} trial(s) with no events in either arm left out, as rma.glmm does "
                         "(drop00 = TRUE)")
        x1, t1, x2, t2 = (v[keep] for v in (x1, t1, x2, t2))
        if model in ("CM.EL", "CM.AL"):
            if model == "CM.AL":
                notes.append("IRR: CM.AL is CM.EL (the conditional binomial likelihood is exact for Poisson counts), "
                             "as in rma.glmm")
            cond = Cond(Binomial1(x1, x1 + x2, np.log(t1 / t2)), False)
        else:
            cond = Cond(Arms(np.column_stack([x1, x2]), np.column_stack([t1, t2]), "poisson"), True)
        raw = {"x1": x1, "t1": t1, "x2": x2, "t2": t2}
    else:
        x, m = cols["xi"], cols["ni"]
        _not_more(x, m, "xi", "ni", labels)
        for i in range(n):
            if m[i] == 0:
                keep[i] = False
                reasons.append((labels[i], "no participants"))
        x, m = x[keep], m[keep]
        if model != "UM.FS":
            notes.append(f"PLO: one arm per study, so model {model} is the same random-intercept logistic model "
                         "(rma.glmm ignores model for PLO)")
        cond = Cond(Binomial1(x, m, np.zeros_like(x)), False)
        raw = {"x": x, "n": m}
    if keep.sum() == 0:
        raise MetakError("glmm: every study was left out (" + "; ".join(f"{lab}: {why}" for lab, why in reasons) + ")")
    return Prepared(measure, model, labels, keep, reasons, notes, cond, raw)

"""Missing outcome data in binary outcomes: imputation scenarios and informative-missingness
odds ratios (IMORs), as Higgins, White & Wood (2008) define them and R's
``metasens::metamiss`` computes them.

For one arm with e events among n observed and m missing (m + n randomized), the risk among the
observed is p = (e + c) / (n + c) with c = 0.5 when the trial has a zero or full cell in either
arm (metamiss's increment), the proportion missing a = m / (n + m), and the IMOR ``x`` is the
odds of the event among the missing over the odds among the observed. Then (Higgins et al.
2008, eq. 3-4, metamiss's code)::

    p* = p (1 - a) + a p x / (p x + 1 - p)
    var(p*) = p(1-p)/n (1 - a + a x / (p x + 1 - p)²)² + a(1-a)/(n+m) (p(1-p)(x-1) / (p x + 1 - p))²

and the effect of the trial is the OR, RR or RD of p*_E against p*_C, with the delta-method
variance, refitted with the meta-analysis's method and test. x = 0 imputes every missing
participant as a non-event, x = ∞ (1e8, as metamiss) as an event, x = 1 assumes the missing
are like the observed.

Scenarios: ``available_case`` (the meta-analysis itself), ``missing_as_failure`` (the
addiction convention: missing = using; failure is the outcome the direction marks as bad),
``missing_as_success``, ``best_case`` (missing experimental as success, control as failure),
``worst_case`` (the reverse), and one per given IMOR (the same in both arms, or per arm).

The number missing per arm is the record's ``missing``; when absent and the arm's
``randomized`` is known, randomized - total (stated per study); else unknown and taken as 0
(stated, with a warning). Reported contrasts have no arm data: not applicable, per study.

References
----------
Higgins JPT, White IR, Wood AM. Imputation methods for missing outcome data in meta-analysis
of clinical trials. Clin Trials 2008;5:225-239.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format import clean

#: metamiss's stand-in for an infinite IMOR (every missing participant an event)
INF = 1e8


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
            total += arm.randomized - d.total
            sources.add("randomized - total")
        else:
            return None, "not reported"
    return total, " + ".join(sorted(sources))


def p_star(e, n, m, x, incr):
    """Higgins et al. (2008): the arm's risk among all randomized under IMOR x, and its variance.

    Written with q, the risk among the missing (odds(q) = x odds(p)), so that an arm with p = 0
    or 1 has its limits instead of 0/0:
    p* = (1 - a) p + a q and var = var(p) (1 - a + a x / d²)² + a(1 - a)/(n + m) (q - p)², with
    d = p x + 1 - p (the first term is 0 when var(p) = p(1 - p)/n is 0).
    """
    p = (e + incr) / (n + incr)
    a = m / (n + m)
    d = p * x + 1 - p
    # metamiss's own arithmetic (x = 1e8 for "all events"); d = 0 only when p = 1 and x = 0,
    # where the missing are non-events: q = 0
    q = p * x / d if d > 0 else 0.0
    ps = p * (1 - a) + a * q
    vp = p * (1 - p) / n
    var = (vp * (1 - a + a * x / d**2) ** 2 if vp > 0 else 0.0) + a * (1 - a) / (n + m) * (q - p) ** 2
    return ps, var


def effect(measure, pe, ve, pc, vc):
    """The trial's effect of p*_E vs p*_C and its delta-method variance (NaN when undefined,
    e.g. an OR with a risk of 0 or 1)."""
    pe, ve, pc, vc = (np.float64(z) for z in (pe, ve, pc, vc))  # numpy floats: inf/nan, not an exception
    with np.errstate(divide="ignore", invalid="ignore"):
        if measure == "RD":
            return pe - pc, ve + vc
        if measure == "RR":
            return np.log(pe / pc), ve / pe**2 + vc / pc**2
        return (np.log(pe / (1 - pe)) - np.log(pc / (1 - pc)),
                ve / (pe * (1 - pe)) ** 2 + vc / (pc * (1 - pc)) ** 2)


def scenario_imors(name, direction):
    """(IMOR experimental, IMOR control) of a named scenario; 'good' is the event when higher
    is better."""
    good_is_event = direction == "higher_is_better"
    success, failure = (INF, 0.0) if good_is_event else (0.0, INF)
    return {"missing_as_failure": (failure, failure), "missing_as_success": (success, success),
            "best_case": (success, failure), "worst_case": (failure, success)}[name]


@dataclass(frozen=True)
class MissingOutcome:
    body: dict

    def to_dict(self) -> dict:
        return dict(self.body)


def _inputs(table):
    """Per row: ((ae, ne, me, ac, nc, mc, source_e, source_c, flipped), note), or (None, reason).

    A row whose outcome direction was harmonised keeps the record's own event here (the
    harmonised table is the complementary event's): its effect is computed on the record's
    scale and negated, with each IMOR inverted (the odds of the complement are 1 / odds), so
    that the scenario is the same event as the analysis's and, for RR, the reciprocal is
    exact."""
    out = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        o = t.outcome(r.outcome) if t is not None and r.outcome else None
        if r.table is None or comp is None or o is None or o.type != "binary":
            out.append((None, "not applicable: a reported contrast has no arm data to impute"))
            continue
        ai, bi, ci, di = r.table
        flipped = o.direction != table.direction  # harmonised: the table is the complementary event's
        if flipped:
            ai, bi, ci, di = bi, ai, di, ci
        me, se = arm_missing(t, o, comp.experimental)
        mc, sc = arm_missing(t, o, comp.control)
        if mc is not None and r.split_control > 1:
            mc = mc / r.split_control  # the shared control's missing split as its counts are
        notes = []
        if me is None or mc is None:
            notes.append("missing not reported and randomized unknown for "
                         + " and ".join(side for side, v in (("experimental", me), ("control", mc)) if v is None)
                         + ": taken as 0")
        out.append(((ai, ai + bi, me or 0, ci, ci + di, mc or 0, se, sc, flipped), "; ".join(notes) or None))
    return out


def fit_scenario(ctx, rows, ie, ic, measure):
    """The scenario's pooled fit: every applicable row's effect recomputed under the IMORs, the
    others (reported contrasts, nothing to impute) with their own effect."""
    from .blinding import iv_model, null_fit, refit

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
        ae, ne, me, ac, nc, mc, _, _, flipped = x
        incr = 0.5 if min(ae, ne - ae, ac, nc - ac) == 0 else 0.0
        xe, xc = (_inverse(ie), _inverse(ic)) if flipped else (ie, ic)
        pe, ve = p_star(ae, ne, me, xe, incr)
        pc, vc = p_star(ac, nc, mc, xc, incr)
        y, v = effect(measure, pe, ve, pc, vc)
        if flipped:  # back to the analysis's event: the reciprocal ratio, or minus the difference
            y = -y
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
        out["left_out"] = [f"{lab}: effect undefined under these IMORs (a risk of 0 or 1)" for lab in undefined]
    return out


def _inverse(x):
    """The IMOR of the complementary event: 1/x, with 0 and INF exchanged."""
    return INF if x == 0 else 0.0 if x >= INF else 1.0 / x


def run(ctx, params) -> MissingOutcome:
    from .blinding import FIT_KEYS

    measure = ctx.spec.measure
    table = ctx.table
    direction = table.direction
    rows = _inputs(table)
    notes = []
    if measure not in ("OR", "RR", "RD"):
        body = {"scenarios": [], "reason": f"missing-outcome scenarios need a binary measure, not {measure}"}
        ctx.warnings.append(f"missing_outcome: {body['reason']}")
        return MissingOutcome(body)
    studies = []
    for r, (x, note) in zip(table.rows, rows):
        entry = {"trial": r.trial, "label": r.label}
        if x is None:
            entry.update(applicable=False, note=note)
        else:
            entry.update(applicable=True, missing_experimental=clean(x[2]), missing_control=clean(x[5]),
                         source_experimental=x[6], source_control=x[7], note=note)
            if note:
                notes.append(f"{r.label}: {note}")
        studies.append(entry)
    scen = [{"name": "available_case", "imor_experimental": 1.0, "imor_control": 1.0,
             **{"k": ctx.result.k, **{key: clean(getattr(ctx.result, key)) for key in FIT_KEYS}}}]
    for name in ("missing_as_failure", "missing_as_success", "best_case", "worst_case"):
        ie, ic = scenario_imors(name, direction)
        scen.append({"name": name, "imor_experimental": ie, "imor_control": ic, **fit_scenario(ctx, rows, ie, ic, measure)})
    for item in params.get("imor") or ():
        ie, ic = item
        scen.append({"name": "imor", "imor_experimental": ie, "imor_control": ic, **fit_scenario(ctx, rows, ie, ic, measure)})
    tip = _tipping_imor(ctx, rows, measure)
    if any(not s["applicable"] for s in studies):
        notes.append("reported contrasts have no arm data to impute: they keep their reported effect in every "
                     "scenario")
    if all(s.get("missing_experimental", 0) == 0 and s.get("missing_control", 0) == 0 for s in studies if s["applicable"]):
        notes.append("no applicable study has missing participants: the imputed scenarios all give the observed "
                     "risks (they can differ from available_case only through metamiss's 0.5 increment and the "
                     "inverse-variance refit)")
    ctx.warnings.extend(f"missing_outcome: {n}" for n in notes)
    return MissingOutcome({"measure": measure, "direction": direction, "studies": studies, "scenarios": scen,
                           "tipping_imor": tip, "notes": notes})


def _tipping_imor(ctx, rows, measure) -> dict:
    """The common IMOR (both arms) nearest 1, in [1/100, 100], at which the conclusion changes:
    the CI reaches the null when it excludes it at IMOR = 1, or comes to exclude it when it
    includes it. A log-grid search away from 1 on each side, then Brent's method."""
    from scipy.optimize import brentq

    def side(log_x):
        f = fit_scenario(ctx, rows, float(np.exp(log_x)), float(np.exp(log_x)), measure)
        if f.get("estimate") is None:
            return np.nan
        return max(f["ci_lower"], -f["ci_upper"])  # > 0 while the CI excludes the null (0)

    s0 = side(0.0)
    out = {"imor": None, "change": None, "reason": None, "all": []}
    if not np.isfinite(s0):
        out["reason"] = "no applicable study"
        return out
    sig0 = s0 > 0
    found = []
    for sign in (1, -1):
        prev = 0.0
        for g in sign * np.linspace(0, np.log(100), 101)[1:]:
            v = side(g)
            if not np.isfinite(v):
                continue  # no estimate at this IMOR: the bracket starts at the last one with
            if (v > 0) != sig0:
                try:
                    found.append(float(np.exp(brentq(side, min(prev, g), max(prev, g), xtol=1e-10))))
                except ValueError:
                    pass
                break
            prev = g
    if not found:
        out["reason"] = ("no common IMOR between 1/100 and 100 brings the CI to the null" if sig0 else
                         "no common IMOR between 1/100 and 100 makes the CI exclude the null")
        return out
    out["imor"] = min(found, key=lambda x: abs(np.log(x)))
    out["change"] = "the CI reaches the null" if sig0 else "the CI comes to exclude the null"
    out["all"] = sorted(found)
    return out


def parse_imor(c, path, value, measure):
    """``imor: [0.5, 2]`` (the same in both arms) or ``[{experimental: 2, control: 0.5}]``;
    every IMOR > 0 -> ((imor_e, imor_c), ...)."""
    items = value if isinstance(value, list) else [value]
    if isinstance(value, list) and not value:
        c.add(path, "must not be empty")
        return None
    out = []
    for j, item in enumerate(items):
        p = path + (j,) if isinstance(value, list) else path
        if isinstance(item, dict):
            if c.mapping(p, ("experimental", "control")) is None:
                return None
            e, k = c.number(p + ("experimental",), positive=True), c.number(p + ("control",), positive=True)
            if e is None or k is None:
                return None
            out.append((e, k))
        else:
            x = c.number(p, positive=True)
            if x is None:
                return None
            out.append((x, x))
    if measure is not None and measure not in ("OR", "RR", "RD"):
        c.add(path, f"IMORs apply to binary outcomes (OR, RR, RD), not measure {measure}")
        return None
    return tuple(out)

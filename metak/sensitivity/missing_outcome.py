"""Missing outcome data. Binary outcomes: imputation scenarios and informative-missingness
odds ratios (IMORs), as Higgins, White & Wood (2008) define them and R's
``metasens::metamiss`` computes them. Continuous outcomes: informative-missingness
differences of means (IMDOMs), as Mavridis et al. (2015) define them and Stata's ``metamiss2``
computes them (see :func:`mean_star` and :func:`effect_continuous`).

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
Mavridis D, White IR, Higgins JPT, Cipriani A, Salanti G. Allowing for uncertainty due to
missing continuous outcome data in pairwise and network meta-analysis. Stat Med
2015;34:721-741.
Chaimani A, Mavridis D, Higgins JPT, Salanti G, White IR. Allowing for informative missingness
in aggregate data meta-analysis with continuous or binary outcomes: extensions to metamiss.
Stata J 2018;18:716-740.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..format import clean
from .refit import FIT_KEYS, iv_model, null_fit, refit

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
            observed, name = (d.total, "total") if hasattr(d, "total") else (d.n, "n")
            total += arm.randomized - observed
            sources.add(f"randomized - {name}")
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


def _fmt_imor(x) -> str:
    return "\u221e" if x >= 1e7 else f"{x:.3g}"


def scenario_label(sc) -> str:
    """A scenario's name for people: 'Missing as failure', 'IMOR 2', 'IMOR 2 / 0.5',
    'IMDOM -2 (SD 1)', 'IMDOM 5 / 0'."""
    name = sc.get("name")
    if name == "imor":
        e, c = sc["imor_experimental"], sc["imor_control"]
        return f"IMOR {_fmt_imor(e)}" if e == c else f"IMOR {_fmt_imor(e)} / {_fmt_imor(c)}"
    if name == "imdom":
        e, c = sc["imdom_experimental"], sc["imdom_control"]
        text = f"IMDOM {e:.3g}" if e == c else f"IMDOM {e:.3g} / {c:.3g}"
        se, sd = sc.get("imdom_sd_experimental") or 0, sc.get("imdom_sd_control") or 0
        if se or sd:
            text += f" (SD {se:.3g})" if se == sd else f" (SD {se:.3g} / {sd:.3g})"
        return text
    return str(name).replace("_", " ").capitalize()


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


def fit_scenario(ctx, rows, ie, ic, measure):
    """The scenario's pooled fit: every applicable row's effect recomputed under the IMORs, the
    others (reported contrasts, nothing to impute) with their own effect."""
    def compute(x):
        ae, ne, me, ac, nc, mc, _, _, flipped = x
        incr = 0.5 if min(ae, ne - ae, ac, nc - ac) == 0 else 0.0
        xe, xc = (_inverse(ie), _inverse(ic)) if flipped else (ie, ic)
        pe, ve = p_star(ae, ne, me, xe, incr)
        pc, vc = p_star(ac, nc, mc, xc, incr)
        y, v = effect(measure, pe, ve, pc, vc)
        return (-y if flipped else y), v  # flipped: back to the analysis's event

    return _pool(ctx, rows, compute, "these IMORs (a risk of 0 or 1)")


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


def _inverse(x):
    """The IMOR of the complementary event: 1/x, with 0 and INF exchanged."""
    return INF if x == 0 else 0.0 if x >= INF else 1.0 / x


def run(ctx, params) -> MissingOutcome:
    measure = ctx.spec.measure
    if measure in ("MD", "SMD"):
        return _run_continuous(ctx, params)
    table = ctx.table
    direction = table.direction
    notes = []
    if measure not in ("OR", "RR", "RD"):
        body = {"scenarios": [], "reason": f"missing-outcome scenarios need arm-level data (OR, RR, RD, MD or SMD), "
                                          f"not measure {measure}"}
        ctx.warnings.append(f"missing_outcome: {body['reason']}")
        return MissingOutcome(body)
    rows = _inputs(table)
    studies = _studies(table, rows, notes, (2, 5, 6, 7))
    scen = [{"name": "available_case", "imor_experimental": 1.0, "imor_control": 1.0,
             "k": ctx.result.k, **{key: clean(getattr(ctx.result, key)) for key in FIT_KEYS}}]
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
    def fit_at(log_x):
        return fit_scenario(ctx, rows, float(np.exp(log_x)), float(np.exp(log_x)), measure)

    t = _tipping(fit_at, np.log(100))
    out = {"imor": None, "change": t["change"], "reason": t["reason"], "all": [float(np.exp(g)) for g in t["all"]]}
    if t["at"] is not None:
        out["imor"] = float(np.exp(t["at"]))
    elif t["reason"] == "none in range":
        out["reason"] = ("no common IMOR between 1/100 and 100 brings the CI to the null" if t["significant"] else
                         "no common IMOR between 1/100 and 100 makes the CI exclude the null")
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


def parse_imor(c, path, value, measure):
    """``imor: [0.5, 2]`` (the same in both arms) or ``[{experimental: 2, control: 0.5}]``;
    every IMOR > 0 -> ((imor_e, imor_c), ...)."""
    out = _pairs(c, path, value, positive=True)
    if out is not None and measure is not None and measure not in ("OR", "RR", "RD"):
        c.add(path, f"IMORs apply to binary outcomes (OR, RR, RD), not measure {measure}")
        return None
    return out


# --- continuous outcomes: informative missingness difference of means (Mavridis et al. 2015) ---

def mean_star(y, sd, n, m, lam, lam_sd):
    """Mavridis et al. (2015), IMDOM ~ N(lam, lam_sd²): the arm's mean among all randomized and
    its variance (the Taylor-series form of metamiss2), with pi = n/(n + m) observed::

        y* = y + (1 - pi) lam
        var(y*) = sd²/n + pi(1 - pi)/(n + m) (lam² + lam_sd²) + (1 - pi)² lam_sd²
    """
    pi = n / (n + m)
    return (y + (1 - pi) * lam,
            sd**2 / n + pi * (1 - pi) / (n + m) * (lam**2 + lam_sd**2) + (1 - pi) ** 2 * lam_sd**2)


def effect_continuous(measure, e, c, me, mc, lam, lam_sd, rho):
    """The trial's MD or SMD under IMDOMs ``lam = (exp, ctrl)`` with SDs ``lam_sd`` and their
    correlation ``rho`` between arms; ``e``/``c`` the observed (mean, sd, n).

    MD: each arm with its own SD. SMD: the IMDOMs are in units of the trial's pooled observed SD
    s (lam_raw = lam·s), both arms use s (metamiss2's sdpool), d = (y*_E - y*_C)/s, and then, so
    that IMDOM 0 with SD 0 is exactly the analysis's Hedges' g, g = J·d with variance
    var(d) + g²/(2(n_E + n_C)) (metamiss2 reports d with var(d) alone)."""
    (ye, se, ne), (yc, sc, nc) = e, c
    if measure == "SMD":
        s = np.sqrt(((ne - 1) * se**2 + (nc - 1) * sc**2) / (ne + nc - 2))
        se = sc = s
        lam = (lam[0] * s, lam[1] * s)
        lam_sd = (lam_sd[0] * s, lam_sd[1] * s)
    me_, ve = mean_star(ye, se, ne, me, lam[0], lam_sd[0])
    mc_, vc = mean_star(yc, sc, nc, mc, lam[1], lam_sd[1])
    cov = rho * lam_sd[0] * lam_sd[1] * (1 - ne / (ne + me)) * (1 - nc / (nc + mc))
    y, v = me_ - mc_, ve + vc - 2 * cov
    if measure == "SMD":
        from ..effects.escalc import hedges_j

        g = float(hedges_j(ne + nc - 2)) * y / s
        return g, v / s**2 + g**2 / (2 * (ne + nc))
    return y, v


def _inputs_continuous(table):
    """Per row: (((y, sd, n) exp, (y, sd, n) ctrl, me, mc, source_e, source_c), note) or (None, reason)."""
    from ..records.model import ContinuousArmData

    out = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        o = t.outcome(r.outcome) if t is not None and r.outcome else None
        if comp is None or o is None or o.type != "continuous" or not isinstance(comp.exp_data, ContinuousArmData):
            out.append((None, "not applicable: a reported contrast has no arm data to impute"))
            continue
        e, c = comp.exp_data, comp.ctl_data
        me, se = arm_missing(t, o, comp.experimental)
        mc, sc = arm_missing(t, o, comp.control)
        if mc is not None and r.split_control > 1:
            mc = mc / r.split_control
        note = None
        if me is None or mc is None:
            note = ("missing not reported and randomized unknown for "
                    + " and ".join(side for side, v in (("experimental", me), ("control", mc)) if v is None)
                    + ": taken as 0")
        out.append((((e.mean, e.sd, e.n), (c.mean, c.sd, c.n), me or 0, mc or 0, se, sc), note))
    return out


def fit_scenario_continuous(ctx, rows, lam, lam_sd, rho, measure):
    def compute(x):
        e, c, me, mc, _, _ = x
        return effect_continuous(measure, e, c, me, mc, lam, lam_sd, rho)

    return _pool(ctx, rows, compute, "these IMDOMs")


def _run_continuous(ctx, params) -> MissingOutcome:
    measure = ctx.spec.measure
    table = ctx.table
    rows = _inputs_continuous(table)
    lam_sd = params.get("imdom_sd") or (0.0, 0.0)
    rho = params.get("imdom_correlation") or 0.0
    unit = "the trial's pooled SD" if measure == "SMD" else "the outcome's units"
    notes = [f"IMDOM: the mean among the missing minus the mean among the observed, in {unit}"]
    studies = _studies(table, rows, notes, (2, 3, 4, 5))

    def scenario(name, lam, sd):
        return {"name": name, "imor_experimental": None, "imor_control": None,
                "imdom_experimental": lam[0], "imdom_control": lam[1],
                "imdom_sd_experimental": sd[0], "imdom_sd_control": sd[1], "imdom_correlation": rho}

    scen = [{**scenario("available_case", (0.0, 0.0), (0.0, 0.0)),
             "k": ctx.result.k, **{key: clean(getattr(ctx.result, key)) for key in FIT_KEYS}}]
    for lam in params.get("imdom") or ():
        scen.append({**scenario("imdom", lam, lam_sd), **fit_scenario_continuous(ctx, rows, lam, lam_sd, rho, measure)})
    if not params.get("imdom"):
        notes.append("no imdom values given: only the available-case scenario "
                     "(e.g. missing_outcome: {imdom: [-0.5, 0.5]} for SMD, in SD units)")
    if measure == "SMD":
        bound = 10.0
    else:
        sds = [max(x[0][1], x[1][1]) for x, _ in rows if x is not None]
        bound = 10.0 * max(sds) if sds else 0.0
    tip = {"imdom": None, "change": None, "reason": "no applicable study", "all": [], "range": [-bound, bound]}
    if bound > 0:
        t = _tipping(lambda g: fit_scenario_continuous(ctx, rows, (g, g), lam_sd, rho, measure), bound)
        tip.update(imdom=t["at"], change=t["change"], reason=t["reason"], all=t["all"])
        if t["reason"] == "none in range":
            tip["reason"] = (f"no common IMDOM between {-bound:g} and {bound:g} "
                             + ("brings the CI to the null" if t["significant"] else "makes the CI exclude the null"))
    if any(not s["applicable"] for s in studies):
        notes.append("reported contrasts have no arm data to impute: they keep their reported effect in every "
                     "scenario")
    if all(s.get("missing_experimental", 0) == 0 and s.get("missing_control", 0) == 0 for s in studies if s["applicable"]):
        notes.append("no applicable study has missing participants: every IMDOM gives the observed means")
    ctx.warnings.extend(f"missing_outcome: {n}" for n in notes[1:])
    return MissingOutcome({"measure": measure, "direction": table.direction, "method": "imdom", "studies": studies,
                           "scenarios": scen, "tipping_imdom": tip, "notes": notes})


def parse_imdom(c, path, value, measure):
    """``imdom: [-2, 2]`` (the same in both arms) or ``[{experimental: -2, control: 2}]``; any
    real numbers -> ((imdom_e, imdom_c), ...)."""
    out = _pairs(c, path, value)
    if out is not None and measure is not None and measure not in ("MD", "SMD"):
        c.add(path, f"IMDOMs apply to continuous outcomes (MD, SMD), not measure {measure}; use imor for binary ones")
        return None
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


def parse_imdom_sd(c, path, value, measure):
    """``imdom_sd: 1`` or ``{experimental: 1, control: 2}``, each >= 0: the uncertainty in the IMDOM."""
    pair = _pair(c, path, value, minimum=0.0)
    if pair is not None and measure is not None and measure not in ("MD", "SMD"):
        c.add(path, f"imdom_sd applies to continuous outcomes (MD, SMD), not measure {measure}")
        return None
    return pair


def parse_imdom_correlation(c, path, value, measure):
    x = c.number(path, minimum=-1.0)
    if x is not None and x > 1:
        c.add(path, f"must be a correlation between -1 and 1, got {x}")
        return None
    return x


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

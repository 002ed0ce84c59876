"""Missing outcome data. Binary outcomes: imputation scenarios and informative-missingness
odds ratios (IMORs), as Higgins, White & Wood (2008) define them and R's
``metasens::metamiss`` computes them. Continuous outcomes: informative-missingness
differences of means (IMDOMs), as Mavridis et al. (2015) define them and Stata's ``metamiss2``
computes them (:mod:`metak.sensitivity.missing_continuous`). What both share is in
:mod:`metak.sensitivity.missing_scenarios`; this module holds the binary analysis, the entry
point ``run`` and the parsers of the analysis's parameters.

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

import numpy as np

from ..format import clean
from .missing_continuous import _run_continuous
from .missing_outcome_record import MissingOutcome
from .missing_scenarios import _pair, _pairs, _pool, _studies, _tipping, arm_missing
from .refit import FIT_KEYS

#: metamiss's stand-in for an infinite IMOR (every missing participant an event)
INF = 1e8


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
    def compute(x):
        ae, ne, me, ac, nc, mc, _, _, flipped = x
        incr = 0.5 if min(ae, ne - ae, ac, nc - ac) == 0 else 0.0
        xe, xc = (_inverse(ie), _inverse(ic)) if flipped else (ie, ic)
        pe, ve = p_star(ae, ne, me, xe, incr)
        pc, vc = p_star(ac, nc, mc, xc, incr)
        y, v = effect(measure, pe, ve, pc, vc)
        return (-y if flipped else y), v  # flipped: back to the analysis's event

    return _pool(ctx, rows, compute, "these IMORs (a risk of 0 or 1)")


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
        return MissingOutcome.of(body)
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
    return MissingOutcome.of({"measure": measure, "direction": direction, "studies": studies, "scenarios": scen,
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


def parse_imor(c, path, value, measure):
    """``imor: [0.5, 2]`` (the same in both arms) or ``[{experimental: 2, control: 0.5}]``;
    every IMOR > 0 -> ((imor_e, imor_c), ...)."""
    out = _pairs(c, path, value, positive=True)
    if out is not None and measure is not None and measure not in ("OR", "RR", "RD"):
        c.add(path, f"IMORs apply to binary outcomes (OR, RR, RD), not measure {measure}")
        return None
    return out


def parse_imdom(c, path, value, measure):
    """``imdom: [-2, 2]`` (the same in both arms) or ``[{experimental: -2, control: 2}]``; any
    real numbers -> ((imdom_e, imdom_c), ...)."""
    out = _pairs(c, path, value)
    if out is not None and measure is not None and measure not in ("MD", "SMD"):
        c.add(path, f"IMDOMs apply to continuous outcomes (MD, SMD), not measure {measure}; use imor for binary ones")
        return None
    return out


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

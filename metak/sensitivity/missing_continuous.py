"""Missing continuous outcome data: informative-missingness differences of means (IMDOMs),
as Mavridis et al. (2015) define them and Stata's ``metamiss2`` computes them — each arm's mean
among all randomized (:func:`mean_star`), the trial's MD or SMD under the IMDOMs
(:func:`effect_continuous`), and the scenarios and tipping IMDOM of ``sensitivity:
missing_outcome`` for an MD or SMD meta-analysis (run by :mod:`metak.sensitivity.missing_outcome`).

References
----------
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
from .missing_outcome_record import MissingOutcome
from .missing_scenarios import _pool, _studies, _tipping, arm_missing
from .refit import FIT_KEYS


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
        from ..effects.hedges import hedges_j

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
    return MissingOutcome.of({"measure": measure, "direction": table.direction, "method": "imdom", "studies": studies,
                              "scenarios": scen, "tipping_imdom": tip, "notes": notes})

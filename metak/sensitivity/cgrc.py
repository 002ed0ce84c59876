"""The Correct Guess Rate Curve (CGRC; Szigeti et al. 2023): the effect a trial would have
shown had its participants' correct guess rate been c, in particular c = 0.5 (chance).

An outcome's optional ``by_guess`` block gives its results by arm x end-of-trial guess::

    by_guess:
      assessor: participant            # optional, the default
      e:                               # arm id: experimental arm
        guessed_experimental: {mean: 19.56, sd: 8.43, n: 48}      # or {events, total}
        guessed_control:      {mean: 12.33, sd: 10.73, n: 43}
      c:                               # control arm
        guessed_experimental: {mean: 18.36, sd: 7.29, n: 39}
        guessed_control:      {mean: 10.93, sd: 9.80, n: 102}

Four strata: AA (experimental arm, guessed experimental), AP (experimental, guessed control),
PA (control, guessed experimental), PP (control, guessed control). With r = n_PP / (n_PP + n_AA)
and s = n_AP / (n_AP + n_PA), the stratum weights at correct guess rate c are
w_AA = c (1 - r), w_PP = c r, w_AP = (1 - c) s, w_PA = (1 - c)(1 - s) -- the "all_prop"
sampling of Szigeti's research code (github.com/szb37/CorrectGuessRateCurve, src/cgrc/core.py,
``get_strata_sample_sizes``). Each arm's outcome is the weighted mean of its two strata and
Delta(c) = arm E - arm C. At the observed rate, Delta is the ordinary difference between the
arms among those who guessed. Szigeti et al. draw pseudo-trials from a kernel density estimate of
each stratum and average the fitted effects; Delta(c) here is the expectation of that procedure
(without its Monte Carlo noise and the rounding of stratum sizes).

Interval: the stratum weights are taken as fixed (the guess proportions' own uncertainty is not
propagated) and the strata are independent samples, so Var Delta = sum_j a_j² var_j, a_j the
within-arm weight, var_j = sd_j² / n_j (means) or p_j (1 - p_j) / n_j (risks; for the OR and RR
by the delta method on the arm's weighted risk). Participants who answered "don't know" or were
not asked are not in the strata and do not enter.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

CELLS = ("guessed_experimental", "guessed_control")


# ----------------------------------------------------------------------------- records
def parse_by_guess(c, p, otype: str, arms: dict, data):
    """The ``by_guess`` block of an outcome -> {"assessor", arm id: {cell: arm data}}; cell data
    are checked as arm data and against the arm's totals in ``data``."""
    from ..records.arm_data import parse_arm_data
    from ..records.model import ASSESSORS

    m = c.get(p)
    if otype not in ("binary", "continuous"):
        c.add(p, f"outcomes by guess are read for binary and continuous outcomes; this outcome is {otype}")
        return None
    if not isinstance(m, dict):
        c.add(p, "must be a mapping: {arm id: {guessed_experimental: {...}, guessed_control: {...}}}")
        return None
    out, ok = {"assessor": "participant"}, True
    if "assessor" in m:
        out["assessor"] = c.enum(p + ("assessor",), ASSESSORS)
        ok &= out["assessor"] is not None
    for arm_id in (k for k in m if k != "assessor"):
        ap = p + (arm_id,)
        if arm_id not in arms:
            c.add(ap, f"unknown arm '{arm_id}'{c.hint(arm_id, arms)}")
            ok = False
            continue
        if c.mapping(ap, CELLS) is None:
            ok = False
            continue
        cells = {cell: parse_arm_data(c, ap + (cell,), otype, arms, arm_id) for cell in CELLS if cell in m[arm_id]}
        if len(cells) < 2 or None in cells.values():
            ok = False
            continue
        total = (data or {}).get(arm_id)
        if total is not None:
            ok &= _against_arm(c, ap, otype, cells, total)
        out[arm_id] = cells
    return out if ok else None


def _against_arm(c, ap, otype, cells, total) -> bool:
    n_key = "total" if otype == "binary" else "n"
    n_sum = sum(getattr(x, n_key) for x in cells.values())
    arm_n = getattr(total, n_key)
    parts = " + ".join(f"{cell} {getattr(x, n_key)}" for cell, x in cells.items())
    if n_sum > arm_n:
        c.add(ap, f"the guess strata hold more participants than the arm: {parts} = {n_sum} > the arm's "
                  f"{n_key} {arm_n} under data")
        return False
    if otype == "binary":
        e_sum = sum(x.events for x in cells.values())
        if e_sum > total.events:
            c.add(ap, f"the guess strata hold more events than the arm: "
                      f"{' + '.join(str(x.events) for x in cells.values())} = {e_sum} > the arm's events {total.events}")
            return False
    return True


# ---------------------------------------------------------------------------- the curve
def strata(by_guess, exp: str, ctl: str, otype: str) -> dict:
    """{AA, AP, PA, PP: (value, variance of the value, n)} for the compared arms."""
    out = {}
    for key, arm, cell in (("AA", exp, "guessed_experimental"), ("AP", exp, "guessed_control"),
                           ("PA", ctl, "guessed_experimental"), ("PP", ctl, "guessed_control")):
        d = by_guess[arm][cell]
        if otype == "binary":
            p = d.events / d.total if d.total else float("nan")
            pv = p if 0 < d.events < d.total else (d.events + 0.5) / (d.total + 1.0)   # no zero variance
            out[key] = (p, pv * (1 - pv) / d.total if d.total else float("nan"), d.total)
        else:
            out[key] = (d.mean, d.sd**2 / d.n if d.n else float("nan"), d.n)
    return out


def observed_rate(st) -> float:
    n = sum(v[2] for v in st.values())
    return (st["AA"][2] + st["PP"][2]) / n


def _arms(st, cgr):
    nAA, nAP, nPA, nPP = (st[k][2] for k in ("AA", "AP", "PA", "PP"))
    r = nPP / (nPP + nAA)
    s = nAP / (nAP + nPA)
    w = {"AA": cgr * (1 - r), "PP": cgr * r, "AP": (1 - cgr) * s, "PA": (1 - cgr) * (1 - s)}
    res = []
    for a, b in (("AA", "AP"), ("PP", "PA")):
        tot = w[a] + w[b]
        if tot <= 0:
            return None
        xa, xb = w[a] / tot, w[b] / tot
        val = xa * st[a][0] + xb * st[b][0] if xa and xb else (st[a][0] if xa else st[b][0])
        var = (xa**2 * st[a][1] if xa else 0.0) + (xb**2 * st[b][1] if xb else 0.0)
        res.append((val, var))
    return res


def delta(st, cgr: float, measure: str = "MD") -> tuple[float, float] | None:
    """(effect at correct guess rate ``cgr``, its variance) on the analysis scale of ``measure``."""
    arms = _arms(st, cgr)
    if arms is None:
        return None
    (pe, ve), (pc, vc) = arms
    if measure in ("MD", "RD"):
        return pe - pc, ve + vc
    if not (0 < pe < 1 and 0 < pc < 1):
        return None
    if measure == "OR":
        return float(special.logit(pe) - special.logit(pc)), ve / (pe * (1 - pe)) ** 2 + vc / (pc * (1 - pc)) ** 2
    if measure == "RR":
        return math.log(pe / pc), ve / pe**2 + vc / pc**2
    raise ValueError(f"CGRC is computed for MD, RD, OR and RR, not {measure}")


def trial(by_guess, exp, ctl, otype, measure, level=0.95, grid=21) -> dict:
    """One trial's CGRC: the estimate at chance (c = 0.5) with its interval, at the observed
    rate, and the curve over c in [0, 1]."""
    st = strata(by_guess, exp, ctl, otype)
    if any(st[k][2] == 0 for k in st):
        empty = [k for k in st if st[k][2] == 0]
        return {"estimate": None, "reason": f"empty guess stratum {', '.join(empty)}: the curve is not defined"}
    z = float(special.ndtri(0.5 + level / 2))

    def point(cg):
        d = delta(st, cg, measure)
        if d is None:
            return {"cgr": cg, "estimate": None, "se": None, "ci_lower": None, "ci_upper": None}
        se = math.sqrt(d[1])
        return {"cgr": cg, "estimate": d[0], "se": se, "ci_lower": d[0] - z * se, "ci_upper": d[0] + z * se}

    obs = observed_rate(st)
    out = point(0.5)
    out.update(observed_cgr=obs, at_observed=point(obs), curve=[point(float(x)) for x in np.linspace(0, 1, grid)],
               strata={k: {"value": v[0], "n": v[2]} for k, v in st.items()})
    return out


# ------------------------------------------------------------------------- the analysis
def run(ctx, notes: list) -> dict | None:
    """``sensitivity.blinding.cgrc``: every analysed comparison whose record gives its outcome by
    arm x guess (``by_guess``), and the estimate at chance pooled across them."""
    from .refit import iv_model, refit

    table = ctx.table
    measure = ctx.spec.measure
    per, keep, yi, vi = [], [], [], []
    for i, r in enumerate(table.rows):
        o = r.record.outcome(r.outcome) if r.record is not None and r.outcome else None
        bg = getattr(o, "by_guess", None)
        if bg is None:
            keep.append(False); yi.append(np.nan); vi.append(np.nan)
            continue
        comp = r.comparison
        entry = {"trial": r.trial, "label": r.label, "assessor": bg["assessor"]}
        if comp is None or len(comp.experimental) != 1 or len(comp.control) != 1 or not (
                comp.experimental[0] in bg and comp.control[0] in bg):
            entry.update(estimate=None, reason="by_guess does not give both compared (single) arms")
        elif measure not in ("MD", "RD", "OR", "RR"):
            entry.update(estimate=None, reason=f"CGRC is computed for MD, RD, OR and RR, not {measure}")
        else:
            entry.update(trial(bg, comp.experimental[0], comp.control[0], o.type, measure, ctx.model.level))
        ok = entry.get("estimate") is not None
        keep.append(ok); yi.append(entry["estimate"] if ok else np.nan); vi.append(entry["se"] ** 2 if ok else np.nan)
        per.append(entry)
    if not per:
        return None
    mask = np.array(keep, bool)
    pooled, why = (None, "no trial with a CGRC estimate")
    if mask.any():
        sub = table.subset(mask)
        sub = sub.replace(yi=np.asarray(yi, float)[mask], vi=np.asarray(vi, float)[mask])
        pooled, why = refit(iv_model(ctx.model, notes, "cgrc: "), sub)
    out = {"trials": per, "pooled": pooled, "cgr": 0.5}
    if pooled is None:
        out["reason"] = why
    return out

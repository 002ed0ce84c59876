"""The optimal information size and the trial sequential monitoring of one meta-analysis, from
its fitted table and its results (:mod:`metak.certainty.information_size`, :mod:`.tsa`)."""

from __future__ import annotations

import math
from dataclasses import dataclass

from .information_size import BINARY, binary_size, continuous_size, diversity, intervention_risk
from .tsa import cumulative_z, monitor

#: GRADE guidelines 6's default for the optimal information size: a relative risk reduction
#: (here: a relative change in the direction of benefit) of 25%, α = 0.05, β = 0.20
DEFAULT_RRR, DEFAULT_ALPHA, DEFAULT_BETA = 0.25, 0.05, 0.20


@dataclass(frozen=True)
class InformationSize:
    """The optimal/required information size (participants, both arms)."""

    basis: str
    control_risk: float | None
    intervention_risk: float | None
    mid: float | None
    sd: float | None
    alpha: float
    beta: float
    side: int
    d2: float
    fixed: int
    required: int
    required_exact: float
    n_participants: float | None
    fraction: float | None


@dataclass(frozen=True)
class Look:
    added: str
    label: str
    n_cumulative: float | None
    z: float | None
    fraction: float
    upper: float | None
    lower: float | None


@dataclass(frozen=True)
class Ahead:
    """The boundary a next look would face at this information (given the looks so far)."""

    fraction: float
    n_cumulative: float
    upper: float


@dataclass(frozen=True)
class Sequential:
    """Trial sequential monitoring (an imprecision aid, not a stopping rule)."""

    alpha: float
    side: int
    spending: str
    ris: float
    order: str
    looks: tuple[Look, ...]
    crossed_at: str | None
    ris_reached: bool
    fraction: float
    next_look: tuple[Ahead, ...]


def pooled_control_risk(ma) -> float | None:
    """Events over participants in the control arms with binary arm data (TSA's p_C), from the
    study rows' records (:func:`metak.typed.records`)."""
    from ..typed import records

    ev = tot = 0.0
    for row in records(ma).studies:
        d = control_arm(row)
        if d is not None:
            ev, tot = ev + d["events"], tot + d["total"]
    return ev / tot if tot else None


def control_arm(row) -> dict | None:
    """The control arm's numbers of a study row (its ``data``: the trial record's own object,
    which the StudyRow record leaves undescribed) when they are binary counts, else None."""
    arm = (row.data or {}).get(row.control)
    return arm if isinstance(arm, dict) and "events" in arm and arm.get("total") else None


def information_size(ctx, ma, sign: int, mid, opts: dict):
    """-> (InformationSize or None, why not)."""
    from ..typed import records

    view = records(ma)
    measure = view.measure
    alpha, beta = opts.get("alpha", DEFAULT_ALPHA), opts.get("beta", DEFAULT_BETA)
    res, table = ctx.result, ctx.table
    tau2 = getattr(res, "tau2", None)
    d2 = diversity(table.vi, tau2) if table.k >= 2 and tau2 is not None and math.isfinite(tau2) else 0.0
    cr = pi = sd = None
    if measure in BINARY:
        cr = opts.get("control_risk") or pooled_control_risk(ma)
        if cr is None or not 0 < cr < 1:
            return None, ("no control-arm events to take the control risk from (or a risk of 0 or 1); give "
                          "certainty: {information_size: {control_risk: ...}}")
        src = "as given" if opts.get("control_risk") else "in the pooled control arms"
        if "rrr" in opts or mid is None:
            rrr = opts.get("rrr", DEFAULT_RRR)
            pi = intervention_risk(measure, cr, rrr=-rrr if sign > 0 else rrr)
            basis = (f"control risk {100 * cr:.1f}% {src}, relative {'increase' if sign > 0 else 'reduction'} "
                     f"{100 * rrr:g}%")
        elif measure == "RD":
            pi = cr + sign * mid
            basis = f"control risk {100 * cr:.1f}% {src}, risk difference {mid:g}"
        else:
            pi = intervention_risk(measure, cr, ratio=math.exp(sign * mid))
            basis = f"control risk {100 * cr:.1f}% {src}, {measure} {math.exp(sign * mid):.3g}"
        if not 0 < pi < 1:
            return None, f"the intervention risk {pi:.3g} implied by the effect is not a probability"
    elif measure in ("MD", "SMD", "SMDH"):
        if mid is None:
            return None, "a continuous outcome needs certainty: {mid: ...} (the minimal important difference)"
        sd = 1.0 if measure != "MD" else opts.get("sd")
        if sd is None:
            return None, "measure MD needs certainty: {information_size: {sd: ...}} (the outcome's SD)"
        basis = f"minimal important difference {mid:g}, SD {sd:g}"
    else:
        return None, f"not computed for measure {measure}"
    nf = (binary_size(cr, pi, alpha=alpha, beta=beta) if measure in BINARY
          else continuous_size(mid, sd, alpha=alpha, beta=beta))
    fixed = int(math.ceil(nf))
    required = int(math.ceil(fixed / (1.0 - d2)))  # RTSA: ceiling(NF / (1 - D2)), NF rounded up
    n = view.pooled.n_participants
    return InformationSize(basis, cr, pi, mid, sd, alpha, beta, 2, d2, fixed, required, nf / (1.0 - d2),
                           None if n is None else float(n), None if n is None else n / required), None


def sequential(ctx, sign: int, info):
    """-> (Sequential or None, why not): the cumulative Z curve (by year) against the
    boundaries at the cumulative participants' fractions of the RIS."""
    if any(r.n is None for r in ctx.table.rows):
        return None, "needs every study's participants (a reported contrast without arm sizes has none)"
    steps = cumulative_z(ctx.table, ctx.model, sign, "year")
    m = monitor(steps, info.required, info.alpha, info.side)
    looks = tuple(Look(lk["added"], lk["label"], lk["n_cumulative"], lk["z"], lk["fraction"], lk["upper"],
                       lk["lower"]) for lk in m["looks"])
    return Sequential(m["alpha"], m["side"], m["spending"], float(m["ris"]), "year", looks, m["crossed_at"],
                      bool(m["ris_reached"]), m["fraction"],
                      tuple(Ahead(a["fraction"], a["n_cumulative"], a["upper"]) for a in m["next_look"])), None

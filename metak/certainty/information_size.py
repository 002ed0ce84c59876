"""The required (optimal) information size of a meta-analysis.

GRADE rates imprecision down when the participants pooled fall short of the *optimal
information size* (OIS), the number a single adequately powered trial would need (Guyatt et al.
2011, GRADE guidelines 6, J Clin Epidemiol 64:1283). Trial sequential analysis calls it the
*required information size* (RIS) and inflates it for heterogeneity by the diversity D²
(Wetterslev et al. 2009, BMC Med Res Methodol 9:86). The formulas are RTSA's ``ris()``
(R/ris.R, RTSA 0.2.2) and the TSA manual's (Thorlund et al. 2011/2017):

- binary (RR, OR, RD), with control risk p_C and relative risk reduction RRR:
  p_I = p_C (1 - RRR), p̄ = (p_C + p_I) / 2, RIS = 4 (z_{1-α/side} + z_{1-β})² p̄(1 - p̄) / (p_C - p_I)²
  (two arms of equal size: 2 × the per-arm size). For an odds-ratio threshold ``mid`` the
  intervention risk is logit⁻¹(logit p_C + log OR), for a risk-ratio threshold p_C × RR.
- continuous (MD, SMD), with the minimal important difference δ and the SD σ:
  RIS = 4 (z_{1-α/side} + z_{1-β})² σ² / δ²   (SMD: σ = 1).
- heterogeneity: RIS_D² = RIS / (1 - D²), D² = (V_R - V_F) / V_R with V_F and V_R the variances
  of the common-effect and random-effects pooled estimates (Wetterslev 2009, eq. 4).

RTSA rounds up (``ceiling``); so do we, and keep the unrounded value beside it.
"""

from __future__ import annotations

import math

import numpy as np
from scipy import special

BINARY = ("OR", "RR", "RD")
CONTINUOUS = ("MD", "SMD", "SMDH")


def z(p: float) -> float:
    return float(special.ndtri(p))


def intervention_risk(measure: str, control_risk: float, *, rrr: float | None = None,
                      ratio: float | None = None) -> float:
    """p_I from the control risk and a relative risk reduction or a ratio threshold (RR or OR)."""
    if rrr is not None:
        return control_risk * (1.0 - rrr)
    if measure == "OR":
        lo = math.log(control_risk / (1 - control_risk)) + math.log(ratio)
        return 1.0 / (1.0 + math.exp(-lo))
    return control_risk * ratio


def binary_size(p_c: float, p_i: float, *, alpha: float = 0.05, beta: float = 0.2, side: int = 2) -> float:
    """4 (z_{1-α/side} + z_{1-β})² p̄(1 - p̄) / (p_C - p_I)², p̄ = (p_C + p_I) / 2 (unrounded)."""
    zz = (z(1 - alpha / side) + z(1 - beta)) ** 2
    p = (p_c + p_i) / 2
    return 4 * zz * p * (1 - p) / (p_c - p_i) ** 2


def continuous_size(mid: float, sd: float, *, alpha: float = 0.05, beta: float = 0.2, side: int = 2) -> float:
    """4 (z_{1-α/side} + z_{1-β})² σ² / δ² (unrounded)."""
    zz = (z(1 - alpha / side) + z(1 - beta)) ** 2
    return 4 * zz * sd**2 / mid**2


def fixed_information_size(*, measure: str, alpha: float = 0.05, beta: float = 0.2, side: int = 2,
                           control_risk: float | None = None, rrr: float | None = None,
                           ratio: float | None = None, mid: float | None = None, sd: float | None = None) -> float:
    """The unrounded information size of a common-effect analysis (participants, both arms),
    with RTSA ``ris()``'s arguments: binary ``control_risk`` (pC) and ``rrr`` or ``ratio`` (mc,
    an RR or OR); continuous ``mid`` (mc) and ``sd`` (sd_mc)."""
    if measure in BINARY:
        p_i = intervention_risk(measure, control_risk, rrr=rrr, ratio=ratio)
        return binary_size(control_risk, p_i, alpha=alpha, beta=beta, side=side)
    sd = 1.0 if measure in ("SMD", "SMDH") and sd is None else sd
    return continuous_size(mid, sd, alpha=alpha, beta=beta, side=side)


def diversity(vi, tau2: float) -> float:
    """D² = (V_R - V_F) / V_R (Wetterslev et al. 2009): the share of the random-effects
    variance of the pooled estimate due to between-study variation; 0 when τ² = 0."""
    v = np.asarray(vi, float)
    v_f = 1.0 / np.sum(1.0 / v)
    v_r = 1.0 / np.sum(1.0 / (v + max(tau2, 0.0)))
    return float(max(0.0, (v_r - v_f) / v_r))


def required_information_size(*, d2: float = 0.0, **kwargs) -> dict:
    """RIS, heterogeneity-adjusted by D²: ``{"fixed", "fixed_exact", "required", "required_exact", "d2"}``."""
    nf = fixed_information_size(**kwargs)
    fixed = int(math.ceil(nf))
    # as RTSA: NR_D2 = ceiling(NF / (1 - D2)) with NF already rounded up
    return {"fixed": fixed, "fixed_exact": nf, "required": int(math.ceil(fixed / (1.0 - d2))),
            "required_exact": nf / (1.0 - d2), "d2": d2}

"""Influence diagnostics of each study: metafor's ``influence()`` and ``baujat()``.

For the intercept-only model with weights w_i = 1 / (v_i + tau²), the full fit mu, its
variance vb (times s²_w under Knapp-Hartung) and hat values h_i = w_i / sum w, and the fit
without study i (tau²_(-i), mu_(-i), vb_(-i), s²_w(-i); :mod:`metak.estimators.deletion`)
(Viechtbauer & Cheung 2010; metafor 3.8 ``influence.rma.uni``):

* studentized deleted residual  (y_i - mu_(-i)) / sqrt(v_i s²_w(-i) + vb_(-i) + tau²_(-i) s²_w(-i))
* DFFITS   (mu - mu_(-i)) / sqrt(s²_w(-i) h_i (tau²_(-i) + v_i))
* Cook's distance   (mu - mu_(-i))² / vb
* covariance ratio   vb_(-i) / vb
* DFBETAS   (mu - mu_(-i)) / sqrt(s²_w(-i) / sum_j 1 / (v_j + tau²_(-i)))
* tau² and QE with the study deleted, the hat value and the weight (%)
* ``influential`` by metafor's rule: |DFFITS| > 3 sqrt(p / (k - p)), or P(chi²_1 <= Cook) > 0.5,
  or hat > 3 p / k, or |DFBETAS| > 1 (p = 1 here)
* Baujat (2002): x = (y_i - mu)² / (v_i + tau²), the study's contribution to heterogeneity;
  y = (mu_(-i) - mu)² / vb_(-i), its influence on the pooled result.

References
----------
Viechtbauer W, Cheung MWL. Outlier and influence diagnostics for meta-analysis. Res Synth
Methods 2010;1:112-125. Baujat B, et al. A graphical method for exploring heterogeneity in
meta-analyses. Stat Med 2002;21:2641-2652.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy as np
from scipy import special

from ..estimators.deletion import deleted_fits
from ..format import clean
from ..schema.record import as_dict, from_dict
from .refit import finite_rows, iv_model


@dataclass(frozen=True)
class InfluenceRow:
    """One study's diagnostics (tau2_del null for the common-effect model)."""

    trial: str
    label: str
    rstudent: float | None
    dffits: float | None
    cook_d: float | None
    cov_r: float | None
    hat: float | None
    weight: float | None
    tau2_del: float | None
    qe_del: float | None
    dfbetas: float | None
    influential: bool
    baujat_x: float | None
    baujat_y: float | None

    to_dict = as_dict


@dataclass(frozen=True)
class Influence:
    """``sensitivity.influence``: an array of one row per study."""

    json_array: ClassVar[str] = "rows"
    rows: tuple[InfluenceRow, ...] = ()

    to_dict = as_dict


def influence(table, model) -> tuple[list[dict], list[str]]:
    """The per-study diagnostics of ``model`` on ``table`` (rows with an effect size of their own)."""
    notes: list[str] = []
    tab = finite_rows(table)
    model = iv_model(model, notes, "influence: ")
    k = tab.k
    if k < 2:
        return [], ["influence needs at least 2 studies"]
    res = model.fit(tab)
    y, v = tab.yi, tab.vi
    tau2 = float(res.tau2 or 0.0)
    w = 1 / (v + tau2)
    sw = w.sum()
    mu = float(res.estimate)
    vb = float(res.se) ** 2
    hat = w / sw
    d = deleted_fits(y, v, model.method, model.test, tau2)
    with np.errstate(divide="ignore", invalid="ignore"):
        resid = y - d.estimate
        resid = np.where(np.abs(resid) < 100 * np.finfo(float).eps, 0.0, resid)
        rstudent = resid / np.sqrt(v * d.s2w + d.vb + d.tau2 * d.s2w)
        diff = mu - d.estimate
        dffits = diff / np.sqrt(d.s2w * hat * (d.tau2 + v))
        cook = diff**2 / vb
        cov_r = d.vb / vb
        vb_del = 1 / (d.sw + 1 / (v + d.tau2))   # the full data with tau²_(-i)
        dfbetas = diff / np.sqrt(d.s2w * vb_del)
        infl = ((np.abs(dffits) > 3 * np.sqrt(1 / (k - 1))) | (special.chdtr(1, cook) > 0.5)
                | (hat > 3 / k) | (np.abs(dfbetas) > 1))
        bx = (y - mu) ** 2 / (v + tau2)
        by = diff**2 / d.vb
    out = []
    for i, r in enumerate(tab.rows):
        out.append({"trial": r.trial, "label": r.label, "rstudent": clean(rstudent[i]), "dffits": clean(dffits[i]),
                    "cook_d": clean(cook[i]), "cov_r": clean(cov_r[i]), "hat": clean(hat[i]),
                    "weight": clean(100 * hat[i]), "tau2_del": clean(d.tau2[i]) if model.method != "FE" else None,
                    "qe_del": clean(d.qe[i]), "dfbetas": clean(dfbetas[i]),
                    "influential": bool(infl[i]) if np.isfinite([dffits[i], cook[i], dfbetas[i]]).all() else False,
                    "baujat_x": clean(bx[i]), "baujat_y": clean(by[i])})
    return out, notes


def run(ctx, params) -> Influence:
    rows, notes = influence(ctx.table, ctx.model)
    ctx.warnings.extend(f"influence: {n}" if not n.startswith("influence") else n for n in notes)
    flagged = [r["label"] for r in rows if r["influential"]]
    if flagged:
        ctx.warnings.append(f"influence: influential by metafor's rule: {', '.join(flagged)}")
    return from_dict(Influence, rows)

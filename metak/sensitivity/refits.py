"""Leave-one-out and the active- vs inert-placebo subgroup test: refits of a fitted model."""

from __future__ import annotations

import numpy as np
from scipy import stats

from ..estimators.result import MetaResult, clean


def leave_one_out(res: MetaResult, labels, trials=None) -> list[dict]:
    """Refit without each study in turn (metafor's ``leave1out``).

    ``omitted`` is the trial id (the contract's key); ``label`` names the comparison, which
    tells apart the several comparisons of one multi-arm trial.
    """
    trials = list(trials) if trials is not None else list(labels)
    out = []
    k = len(res.yi)
    if k < 2:
        return out
    for i in range(k):
        keep = np.ones(k, bool)
        keep[i] = False
        r = res.refit(keep)
        out.append({"omitted": trials[i], "label": labels[i], "k": r.k, "estimate": clean(r.estimate), "se": clean(r.se),
                    "ci_lower": clean(r.ci_lower), "ci_upper": clean(r.ci_upper), "p_value": clean(r.p_value),
                    "tau2": clean(r.tau2), "i2": clean(r.i2), "q": clean(r.q)})
    return out


def subgroup_test(res: MetaResult, groups, order=None) -> dict:
    """Cochrane's test for subgroup differences (contract: active-placebo subgroup test).

    Each subgroup is fitted with the analysis's method and test (a single-study subgroup keeps
    its study's estimate and SE); Q_between = sum (theta_g - theta_bar)² / SE_g² with theta_bar
    their inverse-variance mean, df = G - 1, I²_between = max(0, (Q - df)/Q).
    """
    groups = np.asarray(groups, dtype=object)
    names = order or sorted(set(groups.tolist()), key=str)
    subgroups = []
    for g in names:
        keep = groups == g
        if not keep.any():
            continue
        r = res.refit(keep)
        subgroups.append({"control_type": g, "k": r.k, "estimate": clean(r.estimate), "se": clean(r.se),
                          "ci_lower": clean(r.ci_lower), "ci_upper": clean(r.ci_upper), "tau2": clean(r.tau2),
                          "i2": clean(r.i2)})
    out = {"subgroups": subgroups, "q_between": None, "df_between": None, "p_between": None, "i2_between": None}
    if len(subgroups) >= 2:
        th = np.array([s["estimate"] for s in subgroups])
        se = np.array([s["se"] for s in subgroups])
        w = 1 / se**2
        bar = (w * th).sum() / w.sum()
        q = float((w * (th - bar) ** 2).sum())
        df = len(subgroups) - 1
        out.update(q_between=q, df_between=df, p_between=float(stats.chi2.sf(q, df)),
                   i2_between=(max(0.0, 100 * (q - df) / q) if q > 0 else 0.0))
    return out

"""Influence diagnostics of a meta-regression: metafor's ``influence()`` for ``rma(mods = ...)``.

The intercept-only model's diagnostics (:mod:`metak.sensitivity.influence`) come from the
vectorised deletion code; a meta-regression refits the model without each study (k fits of
``fit_regression``, what metafor does), then, as metafor 3.8's ``influence.rma.uni`` (with
b the coefficients, V their covariance, W = diag(1 / (v + tau²)), hat values
h = diag(X (X'WX)⁻¹ X'W), and ``_(-i)`` the fit without study i):

* studentized deleted residual (y_i - x_i b_(-i)) / sqrt(v_i s²_w(-i) + x_i V_(-i) x_i' + tau²_(-i) s²_w(-i))
* DFFITS  (x_i b - x_i b_(-i)) / sqrt(s²_w(-i) h_i (tau²_(-i) + v_i))
* Cook's distance  (b - b_(-i))' V⁻¹ (b - b_(-i)) and the covariance ratio det V_(-i) / det V,
  over every coefficient (the intercept included, as metafor's influence() by default)
* DFBETAS  (b - b_(-i)) / sqrt(s²_w(-i) diag((X' W_(-i) X)⁻¹)) with W_(-i) = diag(1 / (v + tau²_(-i)))
  over all k studies
* ``influential``: |DFFITS| > 3 sqrt(p / (k - p)), P(chi²_m <= Cook) > 0.5, hat > 3 p / k or any
  |DFBETAS| > 1.

References: Viechtbauer W, Cheung MWL (2010). Res Synth Methods 1:112-125; metafor 3.8
``influence.rma.uni``.
"""

from __future__ import annotations

import numpy as np
from scipy import special

from ..errors import MetakError
from ..estimators.regression import fit_regression
from ..format import clean


def influence_regression(yi, vi, X, *, method: str, test: str, level: float, labels=None, names=None) -> list[dict]:
    """One row per study: ``label, rstudent, dffits, cook_d, cov_r, tau2_del, qe_del, hat, weight,
    influential`` and ``dfbetas`` (a mapping coefficient name -> value)."""
    y, v, X = np.asarray(yi, float), np.asarray(vi, float), np.atleast_2d(np.asarray(X, float))
    k, p = X.shape
    if k - 1 <= p:
        raise MetakError(f"influence of a meta-regression needs more than p + 1 = {p + 1} studies (k = {k})")
    full = fit_regression(y, v, X, method=method, test=test, level=level, names=names)
    names = full.names
    btt = list(range(p))  # metafor: .set.btt(NULL, p, int.incl = FALSE) -> every coefficient
    m = len(btt)
    b, V = full.beta, np.asarray(full.vcov, float)
    tau2 = float(full.tau2 or 0.0)
    w = 1 / (v + tau2)
    XtWX_inv = np.linalg.inv(X.T @ (w[:, None] * X))
    hat = np.einsum("ij,jk,ik->i", X, XtWX_inv, X) * w
    weight = 100 * w / w.sum()
    V_btt_inv = np.linalg.inv(V[np.ix_(btt, btt)])
    det_full = np.linalg.det(V[np.ix_(btt, btt)])
    rows = []
    for i in range(k):
        keep = np.arange(k) != i
        try:
            d = fit_regression(y[keep], v[keep], X[keep], method=method, test=test, level=level, names=names)
        except MetakError:
            rows.append(None)
            continue
        bd, Vd = d.beta, np.asarray(d.vcov, float)
        t2d = float(d.tau2 or 0.0)
        wd = 1 / (v[keep] + t2d)
        resid_d = y[keep] - X[keep] @ bd
        s2w = float(wd @ (resid_d * resid_d)) / (k - 1 - p) if test == "hksj" else 1.0
        xi = X[i]
        delpred = float(xi @ bd)
        vdelpred = float(xi @ Vd @ xi)
        resid = y[i] - delpred
        resid = 0.0 if abs(resid) < 100 * np.finfo(float).eps else resid
        rstudent = resid / np.sqrt(v[i] * s2w + vdelpred + t2d * s2w)
        dffits = (float(xi @ b) - delpred) / np.sqrt(s2w * hat[i] * (t2d + v[i]))
        vb_del = np.linalg.inv(X.T @ (X / (v + t2d)[:, None]))
        dfb = b - bd
        dfbetas = dfb / np.sqrt(s2w * np.diag(vb_del))
        cook = float(dfb[btt] @ V_btt_inv @ dfb[btt])
        cov_r = float(np.linalg.det(Vd[np.ix_(btt, btt)]) / det_full)
        infl = (abs(dffits) > 3 * np.sqrt(p / (k - p)) or special.chdtr(m, cook) > 0.5 or hat[i] > 3 * p / k
                or bool(np.any(np.abs(dfbetas) > 1)))
        rows.append({"rstudent": rstudent, "dffits": dffits, "cook_d": cook, "cov_r": cov_r,
                     "tau2_del": t2d if method != "FE" else None, "qe_del": float(d.qe), "dfbetas": dfbetas,
                     "influential": bool(infl)})
    out = []
    for i, r in enumerate(rows):
        label = labels[i] if labels is not None else f"s{i + 1}"
        base = {"label": label, "hat": clean(hat[i]), "weight": clean(weight[i])}
        if r is None:
            out.append({**base, "rstudent": None, "dffits": None, "cook_d": None, "cov_r": None, "tau2_del": None,
                        "qe_del": None, "dfbetas": {n: None for n in names}, "influential": False,
                        "note": "the model could not be refitted without this study"})
            continue
        out.append({**base, "rstudent": clean(r["rstudent"]), "dffits": clean(r["dffits"]),
                    "cook_d": clean(r["cook_d"]), "cov_r": clean(r["cov_r"]), "tau2_del": clean(r["tau2_del"]),
                    "qe_del": clean(r["qe_del"]),
                    "dfbetas": {n: clean(x) for n, x in zip(names, r["dfbetas"])},
                    "influential": r["influential"]})
    return out

"""Everything the frequentist network model reports: relative effects of every pair, the Q
decomposition, node splitting and P-scores."""

from __future__ import annotations

import math

import numpy as np
from scipy import special, stats

from .._blas import single_threaded
from .contribution import contributions
from .model import Blocks, decomposition, estimate_tau2, tau2_profile_ci


def _full_effects(data, beta, vb):
    """theta (every treatment vs the reference; reference 0) and its covariance."""
    T = len(data.treatments)
    ref = data.treatments.index(data.reference)
    others = [i for i in range(T) if i != ref]
    theta = np.zeros(T)
    theta[others] = beta
    cov = np.zeros((T, T))
    cov[np.ix_(others, others)] = vb
    return theta, cov


def pair_table(data, theta, cov, tau2, level):
    """Every ordered pair (treatment, versus), estimate = theta_t - theta_v."""
    z = special.ndtri(0.5 + level / 2)
    T = len(theta)
    d = theta[:, None] - theta[None, :]
    var = np.diag(cov)[:, None] + np.diag(cov)[None, :] - 2 * cov
    se = np.sqrt(np.maximum(var, 0.0))
    pse = np.sqrt(np.maximum(var, 0.0) + tau2)
    rows = []
    for i in range(T):
        for j in range(T):
            if i != j:
                rows.append({"treatment": data.treatments[i], "versus": data.treatments[j],
                             "estimate": float(d[i, j]), "se": float(se[i, j]),
                             "ci_lower": float(d[i, j] - z * se[i, j]), "ci_upper": float(d[i, j] + z * se[i, j]),
                             "pi_lower": float(d[i, j] - z * pse[i, j]), "pi_upper": float(d[i, j] + z * pse[i, j])})
    return rows, d, se


def p_scores(names, d, se, small_values="desirable"):
    """Rücker & Schwarzer (2015): P_i = mean over j != i of Phi((theta_i - theta_j) / se_ij)
    (larger is better), or of Phi((theta_j - theta_i) / se_ij) when small values are desirable."""
    T = len(names)
    sign = -1.0 if small_values == "desirable" else 1.0
    with np.errstate(divide="ignore", invalid="ignore"):
        z = sign * d / se
    P = special.ndtr(z)
    np.fill_diagonal(P, 0.0)
    return {names[i]: float(P[i].sum() / (T - 1)) for i in range(T)}


def node_split(data, blocks, tau2, theta, cov, level):
    """netsplit's back-calculation (Dias et al. 2010; König et al. 2013): the direct estimate of
    A vs B pools the A-B contrasts of the trials with both arms (inverse variance, each contrast's
    variance from its trial's arm data plus tau^2); the indirect estimate is back-calculated from
    the network and direct estimates, (v_dir theta_nma - v_nma theta_dir) / (v_dir - v_nma), with
    variance 1 / (1/v_nma - 1/v_dir). Exact for two-arm trials (it equals the network fitted
    without the A-B trials, at the same tau^2); for multi-arm trials an approximation, as in netmeta."""
    z = special.ndtri(0.5 + level / 2)
    per_pair: dict = {}
    for i in range(len(data.trials)):
        rows = np.flatnonzero(data.trial == i)
        arms = [int(data.base[rows[0]])] + [int(t) for t in data.trt[rows]]
        V = data.blocks[i]
        y = np.concatenate([[0.0], data.y[rows]])
        Vf = np.zeros((len(arms), len(arms)))
        Vf[1:, 1:] = V
        for a in range(len(arms)):
            for b in range(a + 1, len(arms)):
                ta, tb = arms[a], arms[b]
                est = y[a] - y[b]
                var = Vf[a, a] + Vf[b, b] - 2 * Vf[a, b] + tau2
                key, sgn = ((ta, tb), 1.0) if ta < tb else ((tb, ta), -1.0)
                per_pair.setdefault(key, []).append((sgn * est, var))
    out = []
    for (a, b), items in sorted(per_pair.items()):
        est = np.array([e for e, _ in items])
        w = 1.0 / np.array([v for _, v in items])
        v_dir = 1.0 / w.sum()
        d_dir = float((w * est).sum() * v_dir)
        d_nma = theta[a] - theta[b]
        v_nma = cov[a, a] + cov[b, b] - 2 * cov[a, b]
        prec_ind = 1.0 / v_nma - 1.0 / v_dir
        if not prec_ind > 1e-9 / v_nma:
            continue                      # all the evidence on this pair is direct
        v_ind = 1.0 / prec_ind
        d_ind = (v_dir * d_nma - v_nma * d_dir) / (v_dir - v_nma)
        diff = d_dir - d_ind
        se_diff = math.sqrt(v_dir + v_ind)

        def part(e, v):
            s = math.sqrt(v)
            return {"estimate": float(e), "se": s, "ci_lower": float(e - z * s), "ci_upper": float(e + z * s)}

        out.append({"treatment": data.treatments[a], "versus": data.treatments[b],
                    "k_direct": len(items), "proportion_direct": float(v_nma / v_dir),
                    "network": part(d_nma, v_nma), "direct": part(d_dir, v_dir), "indirect": part(d_ind, v_ind),
                    "difference": float(diff), "difference_se": se_diff,
                    "p_value": float(2 * stats.norm.sf(abs(diff) / se_diff))})
    return out


#: above this many nodes the contribution matrix (pairs x paths, in Python) is computed only on request
CONTRIBUTION_MAX_NODES = 15


@single_threaded
def fit_frequentist(data, method="REML", level=0.95, small_values="desirable", contribution=None):
    X = data.design_matrix()
    blocks = Blocks(data.y, X, data.blocks, data.trial)
    tau2 = estimate_tau2(blocks, method)
    beta, vb, *_ = blocks.solve(tau2)
    theta, cov = _full_effects(data, beta, vb)
    rows, d, se = pair_table(data, theta, cov, tau2, level)
    out = {"method": method, "tau2": tau2, "tau2_ci": tau2_profile_ci(blocks, tau2, method, level),
           "beta": beta, "vb": vb, "theta": theta, "cov": cov, "relative_effects": rows,
           "loglik": blocks.loglik(tau2, method) if method in ("REML", "ML") else None}
    out.update(decomposition(data, X, method))
    out["node_split"] = node_split(data, blocks, tau2, theta, cov, level)
    out["p_scores"] = p_scores(data.treatments, d, se, small_values)
    out["notes"] = []
    if contribution is None:
        contribution = len(data.treatments) <= CONTRIBUTION_MAX_NODES
        if not contribution:
            out["notes"].append(f"the net contribution of each design was not computed (more than "
                              f"{CONTRIBUTION_MAX_NODES} nodes; ask for it with contribution: true)")
    out["contribution"] = contributions(data, tau2) if contribution else []
    return out

"""The shared-bias scenario of ``metak simulate`` (metak/scale/simulate.py): trials not
adequately blinded share one bias.

``scenarios: {shared_bias: {beta: 0.3, beta_sd: 0.15, kappa: 0.1, fraction: 0.5}}``: the first
round(fraction k) trials of each meta-analysis are compromised (z_i = 1). Per meta-analysis the
mean bias B ~ N(beta, beta_sd²) is drawn once -- the published estimate beta is right on average
but this meta-analysis's trials share their own B -- and each compromised trial's bias is
b_i ~ N(B, kappa²); y_i = theta_i + z_i b_i + e_i. The analyst knows beta, beta_sd and kappa.

Estimators: ``INDEPENDENT_BIAS`` -- metak's bias_adjusted: y_i - z_i beta with
v_i + z_i (beta_sd² + kappa²) added to each trial independently, REML, z interval;
``SHARED_BIAS`` -- the shared model with beta fixed and Var(beta) = beta_sd² shared
(:func:`metak.sensitivity.shared_bias.reml`), z interval. The target is mu.
"""

from __future__ import annotations

import numpy as np

from ..scale.summaries import Summaries

ESTIMATORS = ("INDEPENDENT_BIAS", "SHARED_BIAS")
KEYS = ("beta", "beta_sd", "kappa", "fraction")


#: the scenario's values when the block leaves them out
DEFAULTS = {"beta": 0.3, "beta_sd": 0.15, "kappa": 0.0, "fraction": 0.5}


def check(c, path=("scenarios", "shared_bias")) -> dict | None:
    """The scenario block, checked by the simulation spec's Checker (``c``, problems reported at
    their lines): the values with :data:`DEFAULTS` for those left out, or None when wrong."""
    block = c.mapping(path, optional=KEYS)
    if block is None:
        return None
    out = dict(DEFAULTS)
    for key in block:
        if key in KEYS:
            value = c.number(path + (key,), open_interval=(0, 1) if key == "fraction" else None,
                             minimum=None if key == "beta" else 0)
            out[key] = value
    return None if None in out.values() else out


def z_of(k: int, sb: dict) -> np.ndarray:
    n = min(max(int(round(sb["fraction"] * k)), 1), k - 1)
    return (np.arange(k) < n).astype(float)


def add_bias(Y, scenario, rng):
    """Y plus the compromised trials' biases (a shared B per meta-analysis, b_i around it)."""
    sb = scenario["shared_bias"]
    n_rep, k = Y.shape
    z = z_of(k, sb)
    B = sb["beta"] + sb["beta_sd"] * rng.standard_normal((n_rep, 1))
    b = B + sb["kappa"] * rng.standard_normal((n_rep, k))
    return Y + z * b


def fit_arrays(Y, V, scenario, estimator, level) -> Summaries:
    """Each replicate's fit by ``estimator`` (one of :data:`ESTIMATORS`)."""
    from ..estimators.fit import _fit_arrays
    from .shared_bias import reml

    sb = scenario["shared_bias"]
    z = z_of(Y.shape[1], sb)
    nan = np.full(len(Y), np.nan)
    if estimator == "INDEPENDENT_BIAS":
        r = _fit_arrays(Y - z * sb["beta"], V + z * (sb["beta_sd"] ** 2 + sb["kappa"] ** 2), np.ones_like(Y),
                        "REML", "z", level, intervals=False)
        return Summaries(r.estimate, r.ci_lower, r.ci_upper, nan, nan, r.tau2)
    est, lo, hi, t2 = (np.empty(len(Y)) for _ in range(4))
    for i in range(len(Y)):
        f = reml(Y[i], V[i], z, beta=sb["beta"], beta_var=sb["beta_sd"] ** 2, kappa2=sb["kappa"] ** 2, level=level)
        est[i], lo[i], hi[i], t2[i] = f["estimate"], f["ci_lower"], f["ci_upper"], f["tau2"]
    return Summaries(est, lo, hi, nan, nan, t2)

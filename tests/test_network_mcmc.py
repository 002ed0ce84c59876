"""The exact Bayesian network against a long PyMC (NUTS) run of the same model (slow)."""

import math

import numpy as np
import pytest
from scipy import linalg

from metak.bayes import priors as P
from metak.network.bayes import exact_network
from test_network import built

pytestmark = pytest.mark.slow


def test_exact_network_matches_mcmc_within_monte_carlo_error():
    pm = pytest.importorskip("pymc")
    az = pytest.importorskip("arviz")
    data = built("hasselblad1998")
    X, y = data.design_matrix(), data.y
    V = linalg.block_diag(*data.blocks)
    n = len(y)
    Pm = 0.5 * np.eye(n)
    for i in range(len(data.trials)):
        r = np.flatnonzero(data.trial == i)
        Pm[np.ix_(r, r)] += 0.5
    exact = exact_network(data, P.Normal(0.0, 2.0), P.HalfNormal(0.5))
    with pm.Model():
        d = pm.Normal("d", 0.0, 2.0, shape=X.shape[1])
        tau = pm.HalfNormal("tau", 0.5)
        pm.MvNormal("y", mu=pm.math.dot(X, d), cov=V + tau**2 * Pm, observed=y)
        idata = pm.sample(draws=1200, tune=800, chains=2, cores=1, random_seed=20261207, progressbar=False,
                          target_accept=0.9, compute_convergence_checks=False)
    post = idata.posterior["d"].values.reshape(-1, X.shape[1])
    ess = az.ess(idata, var_names=["d"])["d"].values
    others = [t for t in data.treatments if t != data.reference]
    eff = {(r["treatment"], r["versus"]): r for r in exact["relative_effects"]}
    for j, t in enumerate(others):
        r = eff[(t, data.reference)]
        mcse = r["se"] / math.sqrt(ess[j])
        assert abs(post[:, j].mean() - r["estimate"]) < 4 * mcse, t
        assert abs(post[:, j].std() - r["se"]) < 4 * r["se"] / math.sqrt(2 * ess[j]) + 1e-3, t
    tau_draws = idata.posterior["tau"].values.ravel()
    tau_ess = float(az.ess(idata, var_names=["tau"])["tau"].values)
    assert abs(tau_draws.mean() - exact["tau"]["mean"]) < 4 * tau_draws.std() / math.sqrt(tau_ess)

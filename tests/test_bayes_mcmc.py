"""MCMC engine: the normal model against the exact engine (MCSE-based tolerances), the
binomial model's structure, and a short end-to-end binomial fit that writes InferenceData."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest

# PyMC comes with the `bayes` extra, which the README's set-up command and CI install: a
# missing PyMC is a failure here, not a skip.
from metak.bayes import fit_bayes, parse_bayes_spec           # noqa: E402
from metak.bayes.mcmc import build_model                     # noqa: E402

N_MCSE = 4.0   # |MCMC - exact| <= 4 Monte Carlo SEs: fails by chance about 1 time in 16,000

K3 = (np.array([1.20, 0.31, 0.88]), np.array([0.30, 0.20, 0.50]))
K2 = (np.array([2.05, 0.22]), np.array([0.52, 0.24]))
K6 = (np.array([0.45, -0.10, 0.80, 0.30, 0.05, 0.62]), np.array([0.04, 0.09, 0.12, 0.05, 0.02, 0.20]))
TABLES = np.array([[13, 27, 3, 28], [8, 40, 5, 41], [0, 22, 2, 20]])    # a zero cell, no correction


@pytest.mark.slow
@pytest.mark.parametrize("data", [K2, K3, K6], ids=["k2", "k3", "k6"])
def test_normal_model_mcmc_agrees_with_exact(data):
    y, v = data
    block = {"prior": {"mu": {"dist": "normal", "mu": 0, "sigma": 10}, "tau": {"dist": "half_normal", "sigma": 0.5}},
             "draws": 2000, "tune": 1000, "seed": 7}
    exact = fit_bayes(y, v, parse_bayes_spec(block, measure="OR"))
    mcmc = fit_bayes(y, v, parse_bayes_spec({**block, "engine": "mcmc"}, measure="OR"))
    assert exact["engine"] == "exact" and mcmc["engine"] == "mcmc"
    d = mcmc["diagnostics"]
    assert d["divergences"] == 0
    assert d["rhat_max"] < 1.02        # a short run: R-hat's own noise is about 0.005 here
    assert d["target_accept"] == 0.95             # raised for small k (k < 20)
    for name in ("mu", "tau"):
        assert abs(mcmc[name]["mean"] - exact[name]["mean"]) <= N_MCSE * d["mcse"][f"{name}_mean"]
        assert abs(mcmc[name]["sd"] - exact[name]["sd"]) <= N_MCSE * d["mcse"][f"{name}_sd"]
    # the study effects are recovered from the marginal model; compare with exact shrinkage
    for s_mcmc, s_exact in zip(mcmc["shrunken"], exact["shrunken"]):
        assert abs(s_mcmc["mean"] - s_exact["mean"]) <= N_MCSE * d["mcse"]["mu_mean"] + 0.02
    assert mcmc["log_marginal_likelihood"] is None


def test_binomial_model_structure():
    spec = parse_bayes_spec({"likelihood": "binomial"}, measure="OR")
    model = build_model(spec, tables=TABLES, labels=["a", "b", "c"])
    assert {rv.name for rv in model.free_RVs} == {"mu", "tau", "alpha", "z"}
    assert {rv.name for rv in model.observed_RVs} == {"events_exp", "events_ctl"}
    assert [d.name for d in model.deterministics] == ["theta"]
    assert list(model.coords["study"]) == ["a", "b", "c"]
    # the log-density at a point equals the model written out by hand:
    # logit p_exp = alpha + theta/2, logit p_ctl = alpha - theta/2, theta = mu + tau z
    from scipy import special, stats

    point = {"mu": 0.3, "tau_log__": math.log(0.4), "alpha": np.array([-1.0, -0.5, -2.0]),
             "z": np.array([0.5, -1.0, 0.2])}
    logp = model.compile_logp(jacobian=False)(point)
    theta = 0.3 + 0.4 * point["z"]
    e1, n1, e2, n2 = TABLES.T
    want = (stats.binom.logpmf(e1, n1, special.expit(point["alpha"] + theta / 2)).sum()
            + stats.binom.logpmf(e2, n2, special.expit(point["alpha"] - theta / 2)).sum()
            + stats.norm.logpdf(point["alpha"], 0, 10).sum() + stats.norm.logpdf(point["z"]).sum()
            + stats.norm.logpdf(0.3, 0, 10) + stats.halfnorm.logpdf(0.4, scale=0.5))
    # abs 1e-6: PyTensor's binomial log-coefficient differs from scipy's in the 7th digit; any
    # mix-up of arms, signs or the theta/2 split moves the value by far more
    assert float(logp) == pytest.approx(want, abs=1e-6)


def test_binomial_fit_writes_inference_data(tmp_path):
    import arviz as az

    spec = parse_bayes_spec({"likelihood": "binomial", "draws": 300, "tune": 300, "chains": 2, "seed": 3,
                             "thresholds": [1.5], "prior_sensitivity": [{"dist": "half_normal", "sigma": 1.0}]},
                            measure="OR")
    res = fit_bayes(np.zeros(3), np.ones(3), spec, tables=TABLES, labels=["a", "b", "c"],
                    out_dir=tmp_path, analysis_id="abstinence")
    json.dumps(res.to_dict(), allow_nan=False)
    assert res["engine"] == "mcmc" and res["likelihood"] == "binomial"
    assert "baseline" in res["prior"] and "Normal(mu=0, sigma=10)" in res["prior"]["baseline"]
    assert res["posterior_file"] == "abstinence.posterior.nc"
    assert [s["label"] for s in res["shrunken"]] == ["a", "b", "c"]
    assert res["prior_sensitivity"][0]["method"] == "psis_reweighting"
    assert 0 <= res["prob_beyond"][0]["prob"] <= res["prob_benefit"] <= 1
    for key in ("rhat_max", "ess_bulk_min", "ess_tail_min", "divergences"):
        assert res["diagnostics"][key] is not None
    idata = az.from_netcdf(tmp_path / "abstinence.posterior.nc")
    attrs = idata.posterior.attrs
    assert "metak_version" in attrs and json.loads(attrs["metak_bayes_spec"])["likelihood"] == "binomial"
    assert idata.posterior["theta"].shape == (2, 300, 3)
    # few draws: the engine says so rather than staying silent
    assert any("ESS" in w for w in res["warnings"])

"""The shared-bias model (metak/sensitivity/shared_bias.py): REML against metafor (pinned by
tests/reference/make_shared_bias_reference.R), kappa > 0 against a direct maximisation of the
restricted likelihood, and the exact posterior against a brute-force 4-D grid."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import optimize, stats

from metak.bayes import priors as P
from metak.sensitivity import shared_bias as S

REF = json.loads((Path(__file__).parent / "reference" / "metafor_shared_bias_reference.json").read_text())
TOL_METAFOR = 1e-6      # metafor's optimisers converge to ~1e-8 here
TOL_DIRECT = 1e-6       # against the Nelder-Mead maximisation below
TOL_BRUTE = 1e-6        # exact posterior against the brute-force grid


def _data(case):
    d = REF["cases"][case]["data"]
    return np.array(d["yi"], float), np.array(d["vi"], float), np.array(d["z"], float)


@pytest.mark.parametrize("name", ["raudenbush1985", "bcg"])
def test_reml_kappa0_is_metafor_meta_regression(name):
    c = REF["cases"][f"{name}_reg"]
    r = S.reml(*_data(f"{name}_reg"), kappa2=0.0)
    assert r["estimate"] == pytest.approx(c["mu"], abs=TOL_METAFOR)
    assert r["se"] == pytest.approx(c["se_mu"], abs=TOL_METAFOR)
    assert r["bias"]["estimate"] == pytest.approx(c["beta"], abs=TOL_METAFOR)
    assert r["bias"]["se"] == pytest.approx(c["se_beta"], abs=TOL_METAFOR)
    assert r["tau2"] == pytest.approx(c["tau2"], abs=TOL_METAFOR)


@pytest.mark.parametrize("name", ["raudenbush1985", "bcg"])
def test_reml_fixed_shared_beta_is_metafor_rma_mv(name):
    c = REF["cases"][f"{name}_fixed"]
    r = S.reml(*_data(f"{name}_fixed"), beta=c["beta"], beta_var=c["beta_var"], kappa2=c["kappa2"])
    assert r["estimate"] == pytest.approx(c["mu"], abs=TOL_METAFOR)
    assert r["se"] == pytest.approx(c["se_mu"], abs=TOL_METAFOR)
    assert r["tau2"] == pytest.approx(c["tau2"], abs=TOL_METAFOR)


def test_reml_kappa_estimated_is_metafor_diag_when_interior():
    # raudenbush1985: tau1^2 >= tau0^2 in the DIAG fit, so it is the shared model's optimum
    c = REF["cases"]["raudenbush1985_diag"]
    r = S.reml(*_data("raudenbush1985_diag"))
    assert r["kappa"]["kappa2"] > 0
    assert r["estimate"] == pytest.approx(c["mu"], abs=TOL_METAFOR)
    assert r["bias"]["estimate"] == pytest.approx(c["beta"], abs=TOL_METAFOR)
    assert r["se"] == pytest.approx(c["se_mu"], abs=TOL_METAFOR)
    assert r["tau2"] == pytest.approx(c["tau2_z0"], abs=TOL_METAFOR)
    assert r["kappa"]["kappa2"] == pytest.approx(c["tau2_z1"] - c["tau2_z0"], abs=TOL_METAFOR)


def _neg2_restricted(y, v, z, t2, k2):
    """-2 restricted log-likelihood written out with dense matrices (independent of the module)."""
    X = np.column_stack([np.ones_like(y), z])
    S_ = np.diag(v + t2 + z * k2)
    Si = np.linalg.inv(S_)
    A = X.T @ Si @ X
    b = np.linalg.solve(A, X.T @ Si @ y)
    r = y - X @ b
    return np.linalg.slogdet(S_)[1] + np.linalg.slogdet(A)[1] + r @ Si @ r


@pytest.mark.parametrize("seed", [3, 11])
def test_reml_kappa_positive_matches_direct_maximisation(seed):
    rng = np.random.default_rng(seed)
    k = 16
    z = (np.arange(k) % 2).astype(float)
    v = rng.uniform(0.01, 0.05, k)
    y = 0.2 + 0.3 * z + rng.normal(0, np.sqrt(v + 0.04 + 0.15 * z))
    r = S.reml(y, v, z)
    assert r["kappa"]["kappa2"] > 1e-3 and r["tau2"] > 1e-3     # an interior optimum
    f = lambda p: _neg2_restricted(y, v, z, p[0] ** 2, p[1] ** 2)
    d = optimize.minimize(f, [0.2, 0.3], method="Nelder-Mead",
                          options={"xatol": 1e-12, "fatol": 1e-15, "maxiter": 20000, "maxfev": 40000})
    assert r["tau2"] == pytest.approx(d.x[0] ** 2, abs=TOL_DIRECT)
    assert r["kappa"]["kappa2"] == pytest.approx(d.x[1] ** 2, abs=TOL_DIRECT)


# ------------------------------------------------------------------ exact Bayesian posterior
def _brute(y, v, z, mu_prior, beta_prior, tau_prior, kappa_prior, n_mb=81, h=0.02):
    """Posterior moments by a 4-D trapezoid grid over (mu, beta, tau, kappa), no closed forms:
    the integrand is analytic and Gaussian-tailed in mu, beta and even in tau, kappa, so the
    trapezoid rule (half weight at 0) converges geometrically -- except for E[tau] and E[kappa],
    whose integrand t p(t) has a kink at 0 when extended evenly: their Euler-Maclaurin term
    h²/12 p(0) (p the unnormalised marginal density at 0) is added, leaving O(h^4)."""
    mus = np.linspace(-2.0, 2.0, n_mb)
    betas = np.linspace(-2.0, 2.0, n_mb)
    taus = np.arange(0.0, 2.5 + h / 2, h)
    kaps = np.arange(0.0, 2.0 + h / 2, h)
    wt = np.full(len(taus), h); wt[0] = h / 2
    wk = np.full(len(kaps), h); wk[0] = h / 2
    M, B = np.meshgrid(mus, betas, indexing="ij")
    lp_mb = (mu_prior.logpdf(M) if isinstance(mu_prior, P.Normal) else 0.0) + beta_prior.logpdf(B)
    mean = M[:, :, None] + B[:, :, None] * z                     # (mu, beta, k)
    acc = {key: 0.0 for key in ("1", "mu", "mu2", "b", "b2", "t", "t2", "k", "k2", "p_t0", "p_k0")}
    logs = []
    for i, t in enumerate(taus):
        var = v + t * t + z * (kaps * kaps)[:, None]                      # (kappa, k)
        r2 = (y - mean)[None] ** 2 / var[:, None, None, :]
        ll = -0.5 * np.sum(np.log(2 * np.pi * var), axis=1)[:, None, None] - 0.5 * r2.sum(axis=3) + lp_mb
        logs.append(ll)                                                   # (kappa, mu, beta)
    top = max(np.max(ll) for ll in logs)
    dmb = (mus[1] - mus[0]) * (betas[1] - betas[0])
    lpk = np.array([float(kappa_prior.logpdf_tau(kp)) for kp in kaps])
    for i, ll in enumerate(logs):
        t = taus[i]
        g = np.exp(ll - top) * (np.exp(float(tau_prior.logpdf_tau(t)) + lpk) * wt[i] * wk)[:, None, None] * dmb
        sk = g.sum(axis=(1, 2))                                           # per kappa
        s = sk.sum()
        acc["1"] += s
        acc["mu"] += (g * M).sum(); acc["mu2"] += (g * M * M).sum()
        acc["b"] += (g * B).sum(); acc["b2"] += (g * B * B).sum()
        acc["t"] += s * t; acc["t2"] += s * t * t
        acc["k"] += sk @ kaps; acc["k2"] += sk @ (kaps * kaps)
        if i == 0:
            acc["p_t0"] += s / wt[0]     # the marginal density of tau at 0
        acc["p_k0"] += sk[0] / wk[0]     # ... and of kappa
    acc["t"] += h * h / 12 * acc["p_t0"]
    acc["k"] += h * h / 12 * acc["p_k0"]
    n = acc["1"]
    out = {}
    for name, a, a2 in (("mu", "mu", "mu2"), ("beta", "b", "b2"), ("tau", "t", "t2"), ("kappa", "k", "k2")):
        m = acc[a] / n
        out[name] = (m, math.sqrt(acc[a2] / n - m * m))
    out["log_evidence"] = math.log(n) + top
    return out


CASE = dict(rows=[0, 1, 2, 4, 5, 6, 7, 8])   # eight trials of raudenbush1985: both kinds


@pytest.mark.slow
@pytest.mark.parametrize("mu_prior", [P.Normal(0.0, 1.0), P.Uniform()], ids=["normal", "flat"])
def test_exact_posterior_matches_brute_force_grid(mu_prior):
    y, v, z = (a[CASE["rows"]] for a in _data("raudenbush1985_reg"))
    assert 0 < z.sum() < len(z)
    priors = (mu_prior, P.Normal(0.1, 0.2), P.HalfNormal(0.5), P.HalfNormal(0.3))
    ex = S.posterior(y, v, z, *priors)
    bf = _brute(y, v, z, *priors)
    for name in ("mu", "beta", "tau", "kappa"):
        assert ex[name]["mean"] == pytest.approx(bf[name][0], abs=TOL_BRUTE), name
        assert ex[name]["sd"] == pytest.approx(bf[name][1], abs=TOL_BRUTE), name
    if isinstance(mu_prior, P.Normal):
        assert ex["log_evidence"] == pytest.approx(bf["log_evidence"], abs=TOL_BRUTE)


def test_exact_posterior_against_its_own_refinement():
    y, v, z = _data("raudenbush1985_reg")
    pri = (P.Normal(0.0, 1.0), P.Normal(0.1, 0.2), P.HalfNormal(0.5), P.HalfNormal(0.3))
    a = S.posterior(y, v, z, *pri)
    b = S.posterior(y, v, z, *pri, tol=1e-8)
    assert b["n_nodes"] > a["n_nodes"]
    for name in ("mu", "beta", "tau", "kappa"):
        for key in ("mean", "sd", "median", "ci_lower", "ci_upper"):
            # moments and mu/beta quantiles (normal mixtures) to 1e-8; tau/kappa quantiles come
            # from the interpolating polynomial of each panel, good to ~1e-7
            tol = 1e-7 if name in ("tau", "kappa") and key not in ("mean", "sd") else 1e-8
            assert a[name][key] == pytest.approx(b[name][key], abs=tol), (name, key)


def test_exact_posterior_mu_quantiles_and_benefit_are_the_mixture():
    """The median's CDF is 1/2 and P(benefit) agrees with the normal approximation's sign."""
    y, v, z = _data("raudenbush1985_reg")
    ex = S.posterior(y, v, z, P.Normal(0.0, 1.0), P.Normal(0.1, 0.2), P.HalfNormal(0.5), P.HalfNormal(0.3),
                     direction="higher_is_better")
    mu = ex["mu"]
    assert mu["ci_lower"] < mu["median"] < mu["ci_upper"]
    approx = 1 - stats.norm.cdf(0, mu["mean"], mu["sd"])
    assert abs(mu["prob_benefit"] - approx) < 0.02
    lo = ex["kappa"]["ci_lower"]
    assert 0 < lo < ex["kappa"]["median"] < ex["kappa"]["ci_upper"]


# ------------------------------------------------------------------ through the pipeline
def _run(tmp_path, blinding: str, bayes: bool = False):
    from test_bias_analyses import CASES, write_case

    from metak.pipeline import analyze

    extra = ("    bayes:\n      likelihood: normal\n      prior:\n        tau: {dist: half_normal, sigma: 0.5}\n"
             if bayes else "")
    case = CASES[0]     # bcg, RR, REML: 5 adequate, 8 compromised or unknown (synthetic guesses)
    doc = analyze(write_case(case, tmp_path, f"      - {{blinding: {blinding}}}\n", extra))
    return doc["meta_analyses"][0], case


def _yvz(ma, case):
    """yi, vi of the analysis (metak's own table) and z from the R reference's classification."""
    rows = ma["studies"]
    y = np.array([r["yi"] for r in rows]); v = np.array([r["vi"] for r in rows])
    z = np.array([s != "adequate" for s in case["status"]], float)
    return y, v, z


def test_pipeline_fixed_beta_is_the_model_with_the_source(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    ma, case = _run(tmp_path, "{bias: {preset: savovic2012}, bias_model: shared}", bayes=True)
    sb = ma["sensitivity"]["blinding"]["shared_bias"]
    y, v, z = _yvz(ma, case)
    # savovic2012: ROR 0.77 (0.61-0.93) -> log scale; lower is better for this outcome, so beta = +log 0.77
    b, se = -math.log(0.77), (math.log(0.93) - math.log(0.61)) / (2 * stats.norm.ppf(0.975))
    s = 1 if ma["direction"] == "higher_is_better" else -1
    ref = S.reml(y, v, z, beta=s * b, beta_var=se**2, kappa2=0.0)
    assert sb["beta_mode"] == "fixed" and sb["k_compromised"] == int(z.sum())
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        assert sb[key] == pytest.approx(ref[key], abs=1e-12), key
    assert sb["bias"]["estimate"] == pytest.approx(s * b, abs=1e-12)
    assert sb["independent"]["source"] == "savovic2012"
    assert sb["independent"]["estimate"] == ma["sensitivity"]["blinding"]["bias_adjusted"]["estimate"]
    bay = sb["bayes"]
    assert bay["mu"]["ci_lower"] < bay["mu"]["median"] < bay["mu"]["ci_upper"]
    assert "sqrt(se² + phi²)" in bay["priors"]["beta_from"]


def test_pipeline_estimated_beta_is_metafor_style_meta_regression(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    ma, case = _run(tmp_path, "{bias_model: shared, shared: {kappa: 0}}")
    sb = ma["sensitivity"]["blinding"]["shared_bias"]
    y, v, z = _yvz(ma, case)
    ref = S.reml(y, v, z, kappa2=0.0)
    assert sb["beta_mode"] == "estimate"
    assert sb["estimate"] == pytest.approx(ref["estimate"], abs=1e-12)
    assert sb["bias"]["estimate"] == pytest.approx(ref["bias"]["estimate"], abs=1e-12)
    assert sb["bayes"] is None


def test_no_adequate_trial_says_not_identifiable(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    over = ", ".join(f"t{i:02d}: true" for i in range(1, 14))
    ma, _ = _run(tmp_path, f"{{bias_model: shared, shared: {{compromised: {{{over}}}}}}}")
    sb = ma["sensitivity"]["blinding"]["shared_bias"]
    assert sb["estimate"] is None and sb["beta_mode"] == "not identifiable"
    assert "not identifiable" in sb["notes"][0] and "no bias source" in sb["notes"][0]
    assert any("not identifiable" in w for w in ma["warnings"])


def test_no_adequate_trial_with_a_source_falls_back_to_fixed(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    over = ", ".join(f"t{i:02d}: true" for i in range(1, 14))
    ma, _ = _run(tmp_path, f"{{bias: {{preset: savovic2012}}, bias_model: shared, shared: {{beta: estimate, "
                           f"compromised: {{{over}}}}}}}")
    sb = ma["sensitivity"]["blinding"]["shared_bias"]
    assert sb["beta_mode"] == "fixed" and sb["estimate"] is not None
    assert "fixed at the source's value (savovic2012) instead" in sb["notes"][0]


def test_no_compromised_trial_is_the_plain_model(tmp_path):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    over = ", ".join(f"t{i:02d}: false" for i in range(1, 14))
    ma, _ = _run(tmp_path, f"{{bias_model: shared, shared: {{compromised: {{{over}}}}}}}")
    sb = ma["sensitivity"]["blinding"]["shared_bias"]
    assert sb["beta_mode"] == "none" and "does not enter" in sb["notes"][0]
    assert sb["estimate"] == pytest.approx(ma["estimate"], abs=1e-7)     # REML of all trials, z interval


@pytest.mark.parametrize("block, key, words", [
    ("{bias_model: shared, shared: {kappa_prior: 0}}", "kappa_prior", "must be > 0"),
    ("{bias_model: shared, shared: {kappa_prior: -0.2}}", "kappa_prior", "must be > 0"),
    ("{bias_model: shared, shared: {beta: guess}}", "beta", "is not one of"),
    ("{bias_model: joint}", "bias_model", "joint"),
])
def test_bad_shared_block_is_a_spec_error_with_its_line(tmp_path, block, key, words):
    import sys
    sys.path.insert(0, str(Path(__file__).parent))
    from metak.errors import InvalidInput

    with pytest.raises(InvalidInput) as e:
        _run(tmp_path, block)
    msg = str(e.value)
    assert "spec.yaml:" in msg and key in msg and words in msg, msg


# ------------------------------------------------------------------ the simulation scenario
SIM = """metak: 1
simulation: sb
seed: 7
replicates: 40
block: 20
scenarios:
  k: [8]
  tau2: [0.02]
  vi: {dist: uniform, low: 0.01, high: 0.1}
  shared_bias: {beta: 0.26, beta_sd: 0.15, kappa: 0.1, fraction: FRACTION}
estimators: [INDEPENDENT_BIAS, SHARED_BIAS]
tests: [z]
"""


def test_simulation_scenario_runs_both_adjustments(tmp_path):
    from metak.scale.simulate import run_simulation
    from metak.scale.spec import load_spec
    from metak.sensitivity import shared_bias_sim

    p = tmp_path / "s.yaml"
    p.write_text(SIM.replace("FRACTION", "0.5"))
    spec = load_spec(p)
    assert spec.scenarios[0]["shared_bias"]["beta_sd"] == 0.15
    t = run_simulation(spec)
    assert set(t["estimator"]) == {"INDEPENDENT_BIAS", "SHARED_BIAS"}
    assert (t["replicates"] == 40).all() and t["coverage"].between(0, 1).all()
    # the shared model's interval is the wider: the shared Var(beta) does not average away
    w = dict(zip(t["estimator"], t["ci_width"]))
    assert w["SHARED_BIAS"] > w["INDEPENDENT_BIAS"]
    assert shared_bias_sim.z_of(8, spec.scenarios[0]["shared_bias"]).sum() == 4


def test_simulation_scenario_bad_fraction_is_an_error_with_its_line(tmp_path):
    from metak.errors import InvalidSpec
    from metak.scale.spec import load_spec

    p = tmp_path / "s.yaml"
    p.write_text(SIM.replace("FRACTION", "1.5"))
    with pytest.raises(InvalidSpec) as e:
        load_spec(p)
    assert "s.yaml:10:" in str(e.value) and "fraction" in str(e.value), str(e.value)

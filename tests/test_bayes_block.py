"""The exact Bayesian engine with a block covariance (multi_arm: multivariate):
y ~ Normal(mu 1, V + tau² I), V block-diagonal by trial (shared controls).

The reference is a brute-force 2-D integration of the full multivariate normal likelihood over
a dense (mu, tau) grid, computed here with numpy's solve and slogdet for every tau: it knows
nothing of the rotation the engine uses. A diagonal V must give the ordinary engine's answer.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate, stats

from metak.bayes import priors as P
from metak.bayes.exact import exact_posterior

# two three-arm trials and a two-arm one: shared-control covariances off the diagonal
Y = np.array([0.42, 0.61, 0.15, 0.30, 0.05, 0.55])
GROUPS = ["a", "a", "b", "b", "b", "c"]
V = np.diag([0.08, 0.10, 0.05, 0.06, 0.07, 0.12])
V[0, 1] = V[1, 0] = 0.04
for i, j in ((2, 3), (2, 4), (3, 4)):
    V[i, j] = V[j, i] = 0.025


def brute(mu_prior, tau_prior, n_mu=1601, n_tau=2001):
    taus = np.linspace(0.0, 3.0, n_tau)
    mus = np.linspace(-3.25, 3.25, n_mu)  # 0 is a node: P(mu > 0) integrates a smooth piece
    logp = np.empty((n_tau, n_mu))
    for i, t in enumerate(taus):
        M = V + t**2 * np.eye(len(Y))
        _, logdet = np.linalg.slogdet(M)
        R = Y[None, :] - mus[:, None]
        quad = np.einsum("ni,ni->n", R, np.linalg.solve(M, R.T).T)
        logp[i] = -0.5 * (logdet + quad) + mu_prior.logpdf(mus)
    logp += np.asarray(tau_prior.logpdf_tau(taus), float)[:, None]
    p = np.exp(logp - logp.max())
    z = integrate.simpson(integrate.simpson(p, x=mus, axis=1), x=taus)
    mu_marg = integrate.simpson(p, x=taus, axis=0) / z
    tau_marg = integrate.simpson(p, x=mus, axis=1) / z
    return {"mu_mean": integrate.simpson(mus * mu_marg, x=mus), "tau_mean": integrate.simpson(taus * tau_marg, x=taus),
            "p_mu_pos": integrate.simpson(mu_marg[mus >= 0], x=mus[mus >= 0]),
            "mu_sd": np.sqrt(integrate.simpson((mus - integrate.simpson(mus * mu_marg, x=mus)) ** 2 * mu_marg, x=mus))}


@pytest.mark.parametrize("tau_prior", [P.HalfNormal(0.5), P.HalfCauchy(0.3)])
def test_block_posterior_matches_brute_force_integration(tau_prior):
    mu_prior = P.Normal(0.0, 1.0)
    post = exact_posterior(Y, np.diag(V), mu_prior, tau_prior, V=V, groups=GROUPS)
    ref = brute(mu_prior, tau_prior)
    assert post.converged
    assert float(post.mu_moment(1)) == pytest.approx(ref["mu_mean"], abs=2e-6)
    assert float(np.sqrt(post.mu_moment(2) - post.mu_moment(1) ** 2)) == pytest.approx(ref["mu_sd"], abs=2e-6)
    assert float(post.tau_moment(1)) == pytest.approx(ref["tau_mean"], abs=5e-5)  # the grid stops at tau = 3
    assert 1 - float(post.mu_cdf(np.array([0.0]))[0]) == pytest.approx(ref["p_mu_pos"], abs=2e-6)


def test_the_covariance_matters_and_a_diagonal_v_is_the_ordinary_engine():
    mu_prior, tau_prior = P.Normal(0.0, 1.0), P.HalfNormal(0.5)
    plain = exact_posterior(Y, np.diag(V), mu_prior, tau_prior)
    diag = exact_posterior(Y, np.diag(V), mu_prior, tau_prior, V=np.diag(np.diag(V)), groups=GROUPS)
    block = exact_posterior(Y, np.diag(V), mu_prior, tau_prior, V=V, groups=GROUPS)
    assert float(diag.mu_moment(1)) == pytest.approx(float(plain.mu_moment(1)), abs=1e-12)
    assert float(diag.tau_moment(1)) == pytest.approx(float(plain.tau_moment(1)), abs=1e-12)
    # positively correlated comparisons carry less information than independent ones
    assert float(block.mu_moment(2) - block.mu_moment(1) ** 2) > float(plain.mu_moment(2) - plain.mu_moment(1) ** 2)


def test_block_shrunken_estimates_match_brute_force():
    """E[theta_i | y] by integrating theta's conditional normal mean over the brute-force
    posterior of (mu, tau)."""
    mu_prior, tau_prior = P.Normal(0.0, 1.0), P.HalfNormal(0.5)
    post = exact_posterior(Y, np.diag(V), mu_prior, tau_prior, V=V, groups=GROUPS)
    mean, sd, _ = post.shrunken(Y, np.diag(V), [0.025, 0.975])
    taus = np.linspace(0.0, 3.0, 1201)
    mus = np.linspace(-3.0, 3.5, 801)
    # Simpson weights on both grids
    wt = integrate.simpson(np.eye(taus.size), x=taus, axis=1)
    wm = integrate.simpson(np.eye(mus.size), x=mus, axis=1)
    num = np.zeros(len(Y))
    sq = np.zeros(len(Y))
    tot = 0.0
    for t, a in zip(taus, wt):
        M = V + t**2 * np.eye(len(Y))
        Minv = np.linalg.inv(M)
        _, logdet = np.linalg.slogdet(M)
        R = Y[None, :] - mus[:, None]
        w = a * wm * np.exp(-0.5 * (logdet + np.einsum("ni,ij,nj->n", R, Minv, R)) + mu_prior.logpdf(mus)
                            + float(tau_prior.logpdf_tau(np.array([t]))[0]))
        cm = mus[:, None] + t**2 * (R @ Minv.T)                    # E[theta | mu, tau, y]
        cv = np.diag(t**2 * np.eye(len(Y)) - t**4 * Minv)           # Var[theta | mu, tau, y]
        num += (w[:, None] * cm).sum(axis=0)
        sq += (w[:, None] * (cm**2 + cv[None, :])).sum(axis=0)
        tot += w.sum()
    ref_mean = num / tot
    ref_sd = np.sqrt(sq / tot - ref_mean**2)
    assert mean == pytest.approx(ref_mean, abs=1e-6)
    assert sd == pytest.approx(ref_sd, abs=1e-6)


def test_a_covariance_across_groups_is_refused():
    W = V.copy()
    W[0, 5] = W[5, 0] = 0.01
    with pytest.raises(ValueError, match="block-diagonal"):
        exact_posterior(Y, np.diag(V), P.Normal(0.0, 1.0), P.HalfNormal(0.5), V=W, groups=GROUPS)


def test_pipeline_multivariate_with_bayes_uses_the_block_covariance(tmp_path):
    import json
    from pathlib import Path

    from test_multivariate import _write_trials

    from metak.estimators.multivariate import mv_covariance  # noqa: F401  (the V the fit uses)
    from metak.pipeline import analyze

    ref = json.loads((Path(__file__).parent / "reference" / "metafor_multivariate_reference.json").read_text())
    case = next(c for c in ref["cases"] if c["id"] == "or12_REML_z")
    _write_trials(tmp_path, case)
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    "    multi_arm: multivariate\n    bayes: {prior: {mu: {dist: normal, mu: 0, sigma: 2}, "
                    "tau: {dist: half_normal, sigma: 0.5}}}\n")
    ma = analyze(spec)["meta_analyses"][0]
    post = exact_posterior(case["yi"], np.diag(case["V"]), P.Normal(0.0, 2.0), P.HalfNormal(0.5),
                           V=np.array(case["V"]), groups=case["trial"])
    assert ma["bayes"]["mu"]["mean"] == pytest.approx(float(post.mu_moment(1)), abs=1e-9)
    assert ma["bayes"]["engine"] == "exact" and len(ma["bayes"]["shrunken"]) == len(case["yi"])
    assert any("random = ~ 1 | comparison" in w for w in ma["warnings"])
    spec.write_text(spec.read_text().replace("bayes: {", "bayes: {engine: mcmc, "))
    from metak.errors import InvalidSpec

    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("needs the normal likelihood and engine exact" in p.message for p in exc.value.problems)

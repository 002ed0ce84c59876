"""Network meta-analysis (metak.network) against metafor's rma.mv on four metadat networks
(tests/reference/make_network_reference.R), an independent quadrature for the exact Bayesian
network, and the bad inputs."""

import functools
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from scipy import integrate, linalg, special, stats

import metak
from metak.bayes import priors as P
from metak.errors import MetakError
from metak.network import build_from_arms, build_from_contrasts, network
from metak.network.bayes import exact_network
from metak.network.frequentist import fit_frequentist

REF = json.loads((Path(__file__).parent / "reference" / "metafor_network_reference.json").read_text())
NETS = REF["networks"]
TOL = 1e-6          # estimates, SEs, Q
TOL_TAU2 = 1e-5     # tau^2 and its profile CI


def arms_frame(name):
    return pd.DataFrame(NETS[name]["arms"])


def built(name, reference=None, method=None):
    net = NETS[name]
    trials = {}
    for a in net["arms"]:
        arm = {"treatment": a["trt"]}
        if net["measure"] == "OR":
            arm.update(events=a["xi"], total=a["ni"])
        else:
            arm.update(mean=a["mi"], sd=a["sdi"], n=a["ni"])
        trials.setdefault(a["study"], []).append(arm)
    return build_from_arms(trials, net["measure"], reference or net["reference"])


@pytest.mark.parametrize("name", sorted(NETS))
@pytest.mark.parametrize("method", ["REML", "ML", "FE"])
def test_against_metafor(name, method):
    net, data = NETS[name], built(name)
    r = net[method]
    f = fit_frequentist(data, method)
    assert data.n == net["n_contrasts"] and len(data.trials) == net["n_trials"]
    assert np.max(np.abs(f["beta"] - r["beta"])) < TOL
    assert np.max(np.abs(np.sqrt(np.diag(f["vb"])) - r["se"])) < TOL
    assert np.max(np.abs(f["vb"] - np.array(r["vb"]))) < TOL
    assert abs(f["tau2"] - r.get("tau2", 0.0)) < TOL_TAU2
    if "loglik" in r:
        assert abs(f["loglik"] - r["loglik"]) < TOL
    if "tau2_ci" in r:
        assert np.max(np.abs(np.array(f["tau2_ci"]) - r["tau2_ci"])) < TOL_TAU2
    assert abs(f["q_total"]["q"] - net["FE"]["q_total"]) < TOL and f["q_total"]["df"] == net["FE"]["q_total_df"]
    dbt = net["design_by_treatment"]
    assert abs(f["q_within"]["q"] - dbt["q_within"]) < TOL and f["q_within"]["df"] == dbt["q_within_df"]
    qb = f["q_between_designs"]
    assert abs(qb["q"] - (net["FE"]["q_total"] - dbt["q_within"])) < TOL
    assert qb["df"] == net["FE"]["q_total_df"] - dbt["q_within_df"]
    rnd = dbt["random"]      # the random-effects design-by-treatment Wald test
    assert abs(qb["random"]["tau2_within"] - rnd["tau2_within"]) < TOL_TAU2
    assert abs(qb["random"]["q"] - rnd["q"]) < TOL and qb["random"]["df"] == rnd["df"]


@pytest.mark.parametrize("name", sorted(NETS))
def test_dl_moment_estimator(name):
    """DL: max(0, (Q - df) / tr(R P)) with Q from metafor's rma.mv FE, then rma.mv at that tau^2."""
    net, data = NETS[name], built(name)
    f = fit_frequentist(data, "DL")
    assert abs(f["tau2"] - net["DL"]["tau2"]) < TOL_TAU2
    assert np.max(np.abs(f["beta"] - net["DL"]["beta"])) < TOL
    assert np.max(np.abs(np.sqrt(np.diag(f["vb"])) - net["DL"]["se"])) < TOL
    assert f["tau2_ci"] is None


def test_reference_choice_does_not_change_the_fit():
    """With rho = 1/2 the model does not depend on which arm is a trial's baseline."""
    a = fit_frequentist(built("hasselblad1998"), "REML")
    b = fit_frequentist(built("hasselblad1998", reference="self_help"), "REML")
    key = lambda r: (r["treatment"], r["versus"])  # noqa: E731
    ea = {key(r): r for r in a["relative_effects"]}
    for r in b["relative_effects"]:
        assert abs(r["estimate"] - ea[key(r)]["estimate"]) < 1e-8
        assert abs(r["se"] - ea[key(r)]["se"]) < 1e-8
    assert abs(a["tau2"] - b["tau2"]) < 1e-9


def test_relative_effects_are_antisymmetric_and_complete():
    f = fit_frequentist(built("senn2013"), "REML")
    T = len(built("senn2013").treatments)
    eff = {(r["treatment"], r["versus"]): r for r in f["relative_effects"]}
    assert len(eff) == T * (T - 1)
    for (t, v), r in eff.items():
        assert eff[(v, t)]["estimate"] == pytest.approx(-r["estimate"], abs=1e-14)
        assert eff[(v, t)]["se"] == pytest.approx(r["se"], abs=1e-14)
        z = special.ndtri(0.975)
        assert r["pi_upper"] - r["estimate"] == pytest.approx(z * math.sqrt(r["se"] ** 2 + f["tau2"]), rel=1e-12)


def test_node_split_back_calculation_equals_fit_without_direct_trials():
    """Two-arm trials, tau^2 fixed (FE): the back-calculated indirect estimate is the network
    fitted without the trials comparing the pair directly."""
    df = arms_frame("hasselblad1998")
    two = df.groupby("study")["trt"].transform("size") == 2
    df = df[two]
    fit = network(df, study="study", treatment="trt", measure="OR", events="xi", total="ni",
                  reference="no_contact", method="FE", bayes=False)
    splits = fit.to_dict()["node_split"]
    assert splits
    for s in splits:
        pair = {s["treatment"], s["versus"]}
        studies = df.groupby("study")["trt"].apply(set)
        rest = df[df["study"].isin(studies[studies.apply(lambda x: x != pair)].index)]
        try:
            other = network(rest, study="study", treatment="trt", measure="OR", events="xi", total="ni",
                            reference=s["versus"], method="FE", bayes=False)
        except MetakError:
            continue
        r = other.relative_effects
        row = r[(r.treatment == s["treatment"]) & (r.versus == s["versus"])].iloc[0]
        assert s["indirect"]["estimate"] == pytest.approx(row["estimate"], abs=1e-9)
        assert s["indirect"]["se"] == pytest.approx(row["se"], abs=1e-9)
        # the direct estimate: the inverse-variance pool of the direct trials
        direct = df[df["study"].isin(studies[studies.apply(lambda x: x == pair)].index)]
        d = network(direct, study="study", treatment="trt", measure="OR", events="xi", total="ni",
                    reference=s["versus"], method="FE", bayes=False).relative_effects
        drow = d[(d.treatment == s["treatment"]) & (d.versus == s["versus"])].iloc[0]
        assert s["direct"]["estimate"] == pytest.approx(drow["estimate"], abs=1e-9)


def test_p_scores_formula():
    f = fit_frequentist(built("senn2013"), "REML", small_values="desirable")
    eff = {(r["treatment"], r["versus"]): r for r in f["relative_effects"]}
    names = sorted({t for t, _ in eff})
    for t in names:   # small values desirable: P(t better than v) = Phi(-(d_tv) / se_tv)
        expect = np.mean([stats.norm.cdf(-eff[(t, v)]["estimate"] / eff[(t, v)]["se"]) for v in names if v != t])
        assert f["p_scores"][t] == pytest.approx(expect, abs=1e-14)
    assert sum(f["p_scores"].values()) == pytest.approx(len(names) / 2, abs=1e-12)
    g = fit_frequentist(built("senn2013"), "REML", small_values="undesirable")
    for t in names:
        assert g["p_scores"][t] == pytest.approx(1 - f["p_scores"][t], abs=1e-12)


# ----------------------------------------------------------------------------- exact Bayes

def _brute_force(data, s0, tau_prior_pdf):
    """Independent: dense matrices, y ~ N(0, V + tau^2 P + s0^2 X X') for the evidence, scipy quad over tau."""
    X, y = data.design_matrix(), data.y
    V = linalg.block_diag(*data.blocks)
    n = len(y)
    Pm = 0.5 * np.eye(n)
    for i in range(len(data.trials)):
        r = np.flatnonzero(data.trial == i)
        Pm[np.ix_(r, r)] += 0.5
    p = X.shape[1]

    @functools.lru_cache(maxsize=None)
    def parts(tau):
        S = V + tau**2 * Pm
        lp = stats.multivariate_normal.logpdf(y, np.zeros(n), S + s0**2 * X @ X.T)
        Si = np.linalg.inv(S)
        prec = X.T @ Si @ X + np.eye(p) / s0**2
        cov = np.linalg.inv(prec)
        return lp, cov @ X.T @ Si @ y, cov

    lp0 = parts(0.3)[0]

    def integrand(tau, fn):
        lp, m, c = parts(tau)
        return math.exp(lp - lp0) * tau_prior_pdf(tau) * fn(m, c)

    def post(fn):
        return integrate.quad(integrand, 0, np.inf, args=(fn,), epsabs=0, epsrel=1e-12, limit=400)[0]

    Z = post(lambda m, c: 1.0)
    return post, Z


@pytest.mark.parametrize("name", ["senn2013", "hasselblad1998"])
def test_exact_bayes_against_independent_quadrature(name):
    data = built(name)
    s0 = 2.0
    tau_prior = P.HalfNormal(0.5)
    b = exact_network(data, P.Normal(0.0, s0), tau_prior)
    post, Z = _brute_force(data, s0, lambda t: stats.halfnorm.pdf(t, scale=0.5))
    ref = data.reference
    others = [t for t in data.treatments if t != ref]
    eff = {(r["treatment"], r["versus"]): r for r in b["relative_effects"]}
    for j, t in enumerate(others[:4]):
        mean = post(lambda m, c: m[j]) / Z
        second = post(lambda m, c: c[j, j] + m[j] ** 2) / Z
        r = eff[(t, ref)]
        assert r["estimate"] == pytest.approx(mean, abs=1e-6)
        assert r["se"] == pytest.approx(math.sqrt(second - mean**2), abs=1e-6)
        for q, p in ((r["ci_lower"], 0.025), (r["ci_upper"], 0.975)):
            cdf = post(lambda m, c: stats.norm.cdf((q - m[j]) / math.sqrt(c[j, j]))) / Z
            assert cdf == pytest.approx(p, abs=1e-6)


def test_exact_bayes_tau_mean_against_quadrature():
    data = built("senn2013")
    b = exact_network(data, P.Normal(0.0, 2.0), P.HalfNormal(0.5))
    num = integrate.quad(lambda t: t * _dens(data, 2.0, t), 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0]
    den = integrate.quad(lambda t: _dens(data, 2.0, t), 0, np.inf, epsabs=0, epsrel=1e-12, limit=400)[0]
    assert b["tau"]["mean"] == pytest.approx(num / den, abs=1e-6)


def _dens(data, s0, tau):
    X, y = data.design_matrix(), data.y
    V = linalg.block_diag(*data.blocks)
    n = len(y)
    Pm = 0.5 * np.eye(n)
    for i in range(len(data.trials)):
        r = np.flatnonzero(data.trial == i)
        Pm[np.ix_(r, r)] += 0.5
    lp = stats.multivariate_normal.logpdf(y, np.zeros(n), V + tau**2 * Pm + s0**2 * X @ X.T)
    return math.exp(lp + 10.0) * stats.halfnorm.pdf(tau, scale=0.5)


def test_rank_probabilities_two_treatments_within_monte_carlo_error():
    """Two treatments: P(rank 1) is the posterior probability that the contrast favours it,
    exactly the mixture CDF at 0; the Monte Carlo ranks agree within 4 MC SEs."""
    df = arms_frame("hasselblad1998")
    keep = df.groupby("study")["trt"].apply(lambda s: set(s) == {"no_contact", "ind_counseling"})
    df = df[df["study"].isin(keep[keep].index)]
    data = build_from_arms({s: [{"treatment": r.trt, "events": r.xi, "total": r.ni} for r in g.itertuples()]
                            for s, g in df.groupby("study", sort=False)}, "OR", "no_contact")
    b = exact_network(data, P.Normal(0, 10), P.HalfNormal(0.5), draws=40000)
    post, Z = _brute_force(data, 10.0, lambda t: stats.halfnorm.pdf(t, scale=0.5))
    p_less = post(lambda m, c: stats.norm.cdf(-m[0] / math.sqrt(c[0, 0]))) / Z   # P(ind - no < 0)
    mc = b["rank_probabilities"]["ind_counseling"][0]
    assert abs(mc - p_less) < 4 * math.sqrt(p_less * (1 - p_less) / 40000)
    assert b["sucra"]["ind_counseling"] == pytest.approx(mc, abs=1e-12)   # T = 2: SUCRA = P(rank 1)
    for probs in b["rank_probabilities"].values():
        assert sum(probs) == pytest.approx(1.0, abs=1e-12)


# ----------------------------------------------------------------------------- API

def test_api_shape_and_contract_keys():
    df = arms_frame("senn2013")
    fit = metak.network(df, study="study", treatment="trt", measure="MD", mean="mi", sd="sdi", n="ni",
                        reference="placebo", method="REML")
    d = fit.to_dict()
    for key in ("reference", "treatments", "trials", "k_trials", "k_contrasts", "tau2", "tau2_ci",
                "relative_effects", "q_total", "q_within", "q_between_designs", "node_split", "p_scores", "bayes"):
        assert key in d
    for key in ("relative_effects", "rank_probabilities", "sucra"):
        assert key in d["bayes"]
    assert list(fit.relative_effects.columns) == ["treatment", "versus", "estimate", "se", "ci_lower", "ci_upper",
                                                  "pi_lower", "pi_upper", "evidence"]
    assert fit.tau2 == pytest.approx(NETS["senn2013"]["REML"]["tau2"], abs=TOL_TAU2)
    json.dumps(d)
    lg = fit.league(values="estimate")
    assert lg.loc["metformin", "placebo"] == pytest.approx(-lg.loc["placebo", "metformin"])
    assert set(fit.to_frame()["treatment"]) == set(d["treatments"]) - {"placebo"}
    assert "placebo" in fit.summary()


def test_api_contrast_level_equals_arm_level():
    data = built("senn2013")
    rows = []
    for i, tid in enumerate(data.trials):
        r = np.flatnonzero(data.trial == i)
        V = data.blocks[i]
        for j, k in enumerate(r):
            rows.append({"study": tid, "trt": data.treatments[data.trt[k]], "base": data.treatments[data.base[k]],
                         "yi": data.y[k], "vi": V[j, j], "cov": V[0, 1] if len(r) > 1 else None})
    df = pd.DataFrame(rows)
    a = network(df, study="study", treatment="trt", measure="MD", yi="yi", vi="vi", versus="base", cov="cov",
                reference="placebo", bayes=False)
    assert a.tau2 == pytest.approx(NETS["senn2013"]["REML"]["tau2"], abs=TOL_TAU2)


def test_lazy_export():
    import subprocess
    import sys
    code = ("import metak, sys; assert 'metak.network' not in sys.modules; metak.network; "
            "import metak.network.data; assert callable(metak.network); print('ok')")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.stdout.strip() == "ok", out.stderr


# ----------------------------------------------------------------------------- bad input

def _arms(rows):
    return {s: [{"treatment": t, "events": x, "total": n} for (s2, t, x, n) in rows if s2 == s]
            for s in dict.fromkeys(r[0] for r in rows)}


def test_disconnected_network_lists_components():
    rows = [("a", "A", 5, 20), ("a", "B", 8, 20), ("b", "C", 5, 20), ("b", "D", 9, 20)]
    with pytest.raises(MetakError, match=r"disconnected into 2 components: \{A, B\}; \{C, D\}"):
        build_from_arms(_arms(rows), "OR", "A")


def test_reference_not_a_node():
    rows = [("a", "A", 5, 20), ("a", "B", 8, 20)]
    with pytest.raises(MetakError, match="reference 'placebo' is not a node.*A, B"):
        build_from_arms(_arms(rows), "OR", "placebo")


def test_single_arm_and_one_node_trials_excluded_with_reason():
    rows = [("a", "A", 5, 20), ("a", "B", 8, 20), ("b", "A", 5, 20), ("c", "B", 3, 20), ("c", "B", 4, 20),
            ("d", "A", 6, 30), ("d", "B", 9, 30), ("d", "B", 2, 10)]
    data = build_from_arms(_arms(rows), "OR", "A")
    assert data.trials == ["a", "d"]
    assert {e["trial"]: e["reason"] for e in data.exclusions} == {
        "b": "it has one arm", "c": "all its arms map to one node ('B')"}
    assert any("combined" in n for n in data.notes)
    assert data.y[1] == pytest.approx(math.log(11 / 29) - math.log(6 / 24))   # arms of d on B pooled


def test_inconsistent_arm_data():
    with pytest.raises(MetakError, match="events 25 of total 20"):
        build_from_arms(_arms([("a", "A", 25, 20), ("a", "B", 8, 20)]), "OR", "A")
    with pytest.raises(MetakError, match="sd .* must be positive"):
        build_from_arms({"a": [{"treatment": "A", "mean": 1, "sd": -1, "n": 10},
                               {"treatment": "B", "mean": 1, "sd": 1, "n": 10}]}, "MD", "A")


def test_inconsistent_contrast_covariance():
    rows = [{"trial": "t", "treatment": "B", "versus": "A", "yi": 0.1, "vi": 0.1, "cov": 0.5},
            {"trial": "t", "treatment": "C", "versus": "A", "yi": 0.2, "vi": 0.1, "cov": 0.5}]
    with pytest.raises(MetakError, match="not positive definite"):
        build_from_contrasts(rows, "OR", "A")
    rows = [{k: v for k, v in r.items() if k != "cov"} for r in rows]
    with pytest.raises(MetakError, match="give 'cov'"):
        build_from_contrasts(rows, "OR", "A")


def test_api_bad_arguments():
    df = arms_frame("hasselblad1998")
    with pytest.raises(MetakError, match="events=, total="):
        network(df, study="study", treatment="trt", measure="OR")
    with pytest.raises(MetakError, match="'xx' is not a column"):
        network(df, study="study", treatment="xx", measure="OR", events="xi", total="ni")
    with pytest.raises(MetakError, match="method 'PM'"):
        network(df, study="study", treatment="trt", measure="OR", events="xi", total="ni", method="PM")
    with pytest.raises(MetakError, match="DataFrame"):
        network([1, 2], study="study")


def test_forest_delegates_or_says_why():
    fit = network(arms_frame("franchini2012"), study="study", treatment="trt", measure="MD", mean="mi",
                  sd="sdi", n="ni", reference="Placebo", bayes=False)
    try:
        import metak.plots.network  # noqa: F401
    except ModuleNotFoundError:
        with pytest.raises(NotImplementedError, match="metak.plots.network"):
            fit.forest()

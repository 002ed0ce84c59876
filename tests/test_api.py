"""The Python API (contract section 6.4): metafor's workflow on a DataFrame gives metafor's
numbers, and the same numbers as the spec route.

The reference is tests/reference/api_reference.json, written by api_reference.R (metafor
3.8.1 on dat.molloy2014, a dataset no other reference file uses; the JSON holds the data
rows, the calls and the versions)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import metak
from metak.errors import MetakError

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")

ROOT = Path(__file__).resolve().parent.parent
REF = json.loads((ROOT / "tests" / "reference" / "api_reference.json").read_text())

#: metafor's estimates and the closed-form quantities built from them
RTOL = 1e-6
#: an absolute floor for values near 0. api_reference.R fits with control = list(threshold =
#: 1e-12): at metafor's default (a change of 1e-5 in tau²) the estimate is 6e-6 off (relative)
#: and the comparison would measure that stopping rule, not metak
ATOL = 1e-8
#: Q-profile bounds: api_reference.R runs confint() with uniroot's tol = 1e-12 (its default,
#: .Machine$double.eps^0.25 ~ 1e-4, would be the looser of the two), so 1e-6 holds here too
CI_RTOL = 1e-6
#: trimfill()'s refit stops at metafor's default threshold, a change of 1e-5 in tau² (see
#: test_small_study_tests): its numbers are compared in absolute terms at that threshold
TF_ATOL = 1e-5


def close(got, want, rtol=RTOL, atol=ATOL):
    np.testing.assert_allclose(np.asarray(got, float), np.asarray(want, float), rtol=rtol, atol=atol)


@pytest.fixture(scope="module")
def df():
    d = REF["data"]
    return pd.DataFrame({k: d[k] for k in ("study", "year", "ni", "ri", "meanage", "design", "quality", "yi", "vi")})


@pytest.fixture(scope="module")
def res(df):
    return metak.fit(data=df, yi="yi", vi="vi", slab="study", method="REML")


def test_reference_records_its_versions_and_calls():
    assert REF["dataset"] == "dat.molloy2014" and REF["metafor_version"].startswith("3.")
    assert REF["calls"]["rma"] == 'rma(yi, vi, data = dat, slab = study, method = "REML", control = ctl)'
    assert len(REF["data"]["yi"]) == 16


def test_rma(res):
    r = REF["rma"]
    assert isinstance(res, metak.MetaFit) and res.k == r["k"] == 16
    for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper", "tau2", "i2", "h2", "q", "q_p"):
        close(getattr(res, key), r[key])
    f = res.to_frame()
    assert list(f.columns) == ["label", "yi", "vi", "se", "ci_lower", "ci_upper", "weight"]
    assert f["label"].tolist() == REF["data"]["study"]
    close(f["weight"], r["weights"])
    assert "tau² estimator: REML" in res.summary()


def test_rma_knha(df):
    r = REF["rma_knha"]
    res = metak.fit(data=df, yi="yi", vi="vi", slab="study", test="knha")
    assert res.df == r["df"]
    for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper"):
        close(getattr(res, key), r[key])


def test_predict_and_confint(res):
    p = res.predict()
    for key in ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        close(p.loc[0, key], REF["predict"][key])
    assert res.predict(transf=np.exp).loc[0, "estimate"] == pytest.approx(np.exp(res.estimate))
    ci = res.confint()
    assert list(ci.index) == ["tau2", "tau", "i2", "h2"]
    for key in ("tau2", "tau", "i2", "h2"):
        close(ci.loc[key].to_numpy(), REF["confint"][key], rtol=CI_RTOL, atol=CI_RTOL)


@pytest.mark.parametrize("test", ["z", "knha"])
def test_meta_regression_with_a_formula(df, test):
    r = REF["rma_mods" if test == "z" else "rma_mods_knha"]
    reg = metak.fit(data=df, yi="yi", vi="vi", mods="~ meanage + design", test=test)
    assert isinstance(reg, metak.RegressionFit)
    assert reg.names == ("intercept", "meanage", "design=prospective")
    c = reg.coefficients_frame()
    for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper"):
        close(c[key], r["coefficients"][key])
    for key in ("tau2", "qm", "qm_p", "qe", "i2", "r2"):
        close(getattr(reg, key), r[key])
    if test == "knha":
        assert list(reg.qm_df) == r["qm_df"]
    # a list of column names is the same model
    same = metak.fit(data=df, yi="yi", vi="vi", mods=["meanage", "design"], test=test)
    close(same.beta, reg.beta, rtol=0, atol=0)


def test_predict_newmods(df):
    r = REF["predict_newmods"]
    reg = metak.fit(data=df, yi="yi", vi="vi", mods="~ meanage + design")
    for new in (r["newmods"], pd.DataFrame({"meanage": [30, 60], "design": ["cross-sectional", "prospective"]})):
        p = reg.predict(new)
        for key in ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
            close(p[key], r[key])
    assert len(reg.predict()) == 16 and len(reg.to_frame()) == 16


def test_leave_one_out(res):
    r = REF["leave1out"]
    f = res.leave_one_out()
    assert f["omitted"].tolist() == REF["data"]["study"]
    for key in ("estimate", "se", "p_value", "ci_lower", "ci_upper", "q", "tau2", "i2"):
        close(f[key], r[key])


def test_influence(res):
    r = REF["influence"]
    f = res.influence()
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "dfbetas"):
        close(f[key], r[key])
    close(f["weight"], r["weight"])
    assert f["influential"].tolist() == r["influential"]


def test_cumulative_by_year_keeps_ties_in_data_order(res, df):
    r = REF["cumul"]
    for order in ("year", df["year"].tolist()):
        f = res.cumulative(order=order)
        assert f["added"].tolist() == r["slab"]
        for key in ("estimate", "se", "ci_lower", "ci_upper"):
            close(f[key], r[key])
        # the first step (k = 1) has no tau² or I² in metak (null), 0 in metafor
        close(f["tau2"].fillna(0.0), r["tau2"])
        close(f["i2"].fillna(0.0), np.nan_to_num(np.asarray(r["i2"], float)))


def test_small_study_tests(res):
    eg = res.regtest()
    for key in ("statistic", "p_value", "limit_estimate", "limit_ci_lower", "limit_ci_upper"):
        close(eg[key], REF["regtest"][key])
    assert eg.statistic == eg["statistic"]
    rk = res.ranktest()
    close([rk.tau, rk.p_value], [REF["ranktest"]["tau"], REF["ranktest"]["p_value"]])
    tf = res.trimfill()
    t = REF["trimfill"]
    assert tf.k0 == t["k0"] and tf.side == t["side"] and tf.k == t["k"]
    # metafor's trimfill() refits the filled data with rma's default control (REML stops at a
    # change of 1e-5 in tau²), whatever the model's: metak agrees to 1e-6 with that refit run to
    # convergence, and to TF_ATOL with trimfill()'s own numbers
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        close(tf[key], REF["trimfill_refit"][key])
        close(tf[key], t[key], rtol=0, atol=TF_ATOL)
    assert res.trimfill(side=t["side"]).k0 == t["k0"]
    with pytest.raises(MetakError, match="no side argument"):
        res.trimfill(side="right" if t["side"] == "left" else "left")


def test_subgroups_by_column_or_sequence(res, df):
    by_col = res.subgroups("design")
    by_seq = res.subgroups(df["design"].tolist())
    assert by_col.groups["value"].tolist() == ["cross-sectional", "prospective"]
    assert by_col.statistic == by_seq.statistic == by_col.q_between
    for g, part in by_col.groups.groupby("value"):
        alone = metak.fit(data=df[df["design"] == g], yi="yi", vi="vi")
        assert part["estimate"].iloc[0] == pytest.approx(alone.estimate, rel=1e-12)


def test_figures(res):
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib.figure import Figure

    assert isinstance(res.forest(digits=3), Figure) and isinstance(res.funnel(), Figure)


def test_errors_are_metak_errors(df):
    with pytest.raises(MetakError, match="'yii' .* not a column of data"):
        metak.fit(data=df, yi="yii", vi="vi")
    with pytest.raises(MetakError, match="column 'design' \\(vi\\) must be numeric"):
        metak.fit(data=df, yi="yi", vi="design")
    with pytest.raises(MetakError, match="'latitude' is not a column of data"):
        metak.fit(data=df, yi="yi", vi="vi", mods="~ latitude + year")
    with pytest.raises(MetakError, match="data must be a pandas DataFrame"):
        metak.fit(data={"yi": [1]}, yi="yi", vi="vi")
    with pytest.raises(MetakError, match="needs data="):
        metak.fit([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], mods="~ x")
    with pytest.raises(MetakError, match="not available for a meta-regression"):
        metak.fit(data=df, yi="yi", vi="vi", mods="~ meanage").leave_one_out()
    with pytest.raises(MetakError, match="cumulative: order 'nope'"):
        metak.fit(data=df, yi="yi", vi="vi").cumulative(order="nope")


def test_missing_values_are_left_out_with_a_note(df):
    d = df.copy()
    d.loc[3, "meanage"] = np.nan
    reg = metak.fit(data=d, yi="yi", vi="vi", mods="~ meanage")
    assert reg.k == 15 and any("left out" in w for w in reg.warnings)


def test_array_call_is_unchanged():
    from metak.estimators import MetaResult
    from metak.estimators import fit as engine

    y, v = [0.1, 0.5, 0.3, 0.9], [0.01, 0.02, 0.03, 0.05]
    a, b = metak.fit(y, v, method="PM", test="hksj", level=0.9), engine(y, v, method="PM", test="hksj", level=0.9)
    assert isinstance(a, MetaResult) and a.to_dict() == b.to_dict() and a.summary() == b.summary()
    assert a.to_frame().equals(b.to_frame())
    assert len(a.leave_one_out()) == 4
    # with labels the API's per-study frame
    c = metak.fit(y, v, slab=["a", "b", "c", "d"])
    assert c.to_frame()["label"].tolist() == ["a", "b", "c", "d"] and c.estimate == engine(y, v).estimate


def test_same_numbers_as_the_spec_route():
    """The bundled substance-use analysis: the API on its studies gives results.json's
    estimate and leave-one-out."""
    doc = json.loads((ROOT / "results" / "substance_use" / "results.json").read_text())
    ma = doc["meta_analyses"][0]
    m = ma["model"]
    studies = pd.DataFrame(ma["studies"])
    res = metak.fit(data=studies, yi="yi", vi="vi", slab="label", method=m["method"], test=m["test"],
                    level=m["level"])
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "i2", "q"):
        close(getattr(res, key), ma[key], rtol=1e-9, atol=1e-12)
    loo = res.leave_one_out()
    want = ma["sensitivity"]["leave_one_out"]
    assert loo["label"].tolist() == [r["label"] for r in want]
    for key in ("estimate", "se", "ci_lower", "ci_upper"):
        close(loo[key], [r[key] for r in want], rtol=1e-9, atol=1e-12)
    close(res.to_frame()["weight"], studies["weight"], rtol=1e-9, atol=1e-12)


def test_analyze_returns_a_dict_with_views(tmp_path):
    import matplotlib

    matplotlib.use("Agg")
    doc = metak.analyze(ROOT / "analyses" / "substance_use.yaml")
    assert isinstance(doc, dict)
    s = doc.summary_frame()
    assert len(s) == len(doc["meta_analyses"]) and s.loc[0, "estimate"] == pytest.approx(
        doc["meta_analyses"][0]["estimate"], rel=1e-9)
    st = doc.studies_frame(doc["meta_analyses"][0]["id"])
    assert len(st) == doc["meta_analyses"][0]["k"]
    from matplotlib.figure import Figure

    assert isinstance(doc.plot("forest"), Figure)
    out = doc.write(tmp_path / "out")
    assert (out / "results.json").is_file() and (out / "summary.csv").is_file()


def test_exact_posterior_as_inference_data():
    """The draws' mean and quantiles match the exact posterior's summaries within Monte Carlo
    error (4 standard errors of the mean; quantiles within 4 SE of a quantile estimate)."""
    pytest.importorskip("arviz")
    from metak.bayes import HalfNormal, Normal
    from metak.bayes.exact import exact_posterior
    from metak.bayes.inference_data import to_inference_data

    d = REF["data"]
    y, v = np.asarray(d["yi"]), np.asarray(d["vi"])
    mu_p, tau_p = Normal(0, 1), HalfNormal(0.5)
    post = exact_posterior(y, v, mu_p, tau_p)
    n = 20000
    idata = to_inference_data(y, v, mu_p, tau_p, draws=n, chains=4, seed=7, labels=d["study"])
    mu = idata.posterior["mu"].values.ravel()
    tau = idata.posterior["tau"].values.ravel()
    assert idata.posterior["theta"].shape == (4, n // 4, 16)
    for draws, mean, sd_sq, q in ((mu, post.mu_moment(1), post.mu_moment(2), post.mu_quantiles),
                                  (tau, post.tau_moment(1), post.tau_moment(2), post.tau_quantiles)):
        sd = np.sqrt(sd_sq - mean**2)
        assert abs(draws.mean() - mean) < 4 * sd / np.sqrt(n)
        qs = np.asarray(q([0.05, 0.5, 0.95]), float)
        # SE of a sample quantile: sqrt(p(1-p)/n) / density; density ~ normal's at that point
        for p, want in zip((0.05, 0.5, 0.95), qs):
            dens = np.exp(-0.5 * ((want - mean) / sd) ** 2) / (sd * np.sqrt(2 * np.pi))
            assert abs(np.quantile(draws, p) - want) < 5 * np.sqrt(p * (1 - p) / n) / dens
    # the shrunken study effects: the draws' means match the exact ones
    m_exact, _, _ = post.shrunken(y, v, [0.5])
    theta = idata.posterior["theta"].values.reshape(-1, 16)
    assert np.all(np.abs(theta.mean(0) - m_exact) < 4 * theta.std(0) / np.sqrt(n))
    # the API's method gives the default priors' draws
    res = metak.fit(y, v, slab=d["study"], measure="ZCOR")
    block = {"prior": {"mu": {"dist": "normal", "mu": 0, "sigma": 1}, "tau": {"dist": "half_normal", "sigma": 0.5}}}
    assert res.to_inference_data(block, draws=40, chains=2, seed=1).posterior["mu"].shape == (2, 20)

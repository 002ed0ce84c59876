"""metafor's whole workflow through the Python API on a dataset no other test uses
(issue 24, "Done when": the Python workflow on an unseen dataset gives metafor's numbers to 1e-6).

The reference is tests/reference/api_workflow_reference.json, written by
make_api_workflow_reference.R: metafor 3.8.1 on dat.assink2016 (k = 100 standardised mean
differences; its first level only, the effects taken as independent), moderators year and
pubstatus, grouping column deltype. The JSON holds the data rows, the exact calls and the R,
metafor and metadat versions; the DataFrame is built from it, so R is not needed here.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

import metak

pd = pytest.importorskip("pandas")
pytest.importorskip("formulaic")

ROOT = Path(__file__).resolve().parent.parent
REF = json.loads((ROOT / "tests" / "reference" / "api_workflow_reference.json").read_text())

#: metafor's estimates and everything computed from them (REML run to convergence in R with
#: control = list(threshold = 1e-12, maxiter = 1000), so 1e-6 measures metak, not R's stopping rule)
RTOL = 1e-6
#: absolute floor for values that are near 0 (dffits, DFBETAS, statistics of small effects)
ATOL = 1e-9
#: tau² where metafor's is exactly 0 (the estimate is truncated there): compared absolutely
TAU2_ATOL = 1e-6
#: Q-profile bounds: R's confint() ran with uniroot tol = 1e-12 (default ~1e-4)
CI_RTOL = 1e-6
#: trimfill() on the REML fit refits at rma's default threshold (a change of 1e-5 in tau²)
TF_ATOL = 1e-5


def close(got, want, rtol=RTOL, atol=ATOL):
    """|got - want| <= atol + rtol |want| elementwise; where metafor's value is exactly 0 (a
    truncated tau² and what follows from it) the absolute tolerance is TAU2_ATOL."""
    got, want = np.atleast_1d(np.asarray(got, float)), np.atleast_1d(np.asarray(want, float))
    assert got.shape == want.shape, (got.shape, want.shape)
    tol = np.where(want == 0, max(atol, TAU2_ATOL), atol) + rtol * np.abs(want)
    bad = ~(np.abs(got - want) <= tol) & ~(np.isnan(got) & np.isnan(want))
    assert not bad.any(), f"{int(bad.sum())} differ: got {got[bad][:5]}, want {want[bad][:5]}"


@pytest.fixture(scope="module")
def df():
    return pd.DataFrame(REF["data"])


@pytest.fixture(scope="module")
def res(df):
    return metak.fit(data=df, yi="yi", vi="vi", slab="label", method="REML")


@pytest.fixture(scope="module")
def dlk(df):
    return metak.fit(data=df, yi="yi", vi="vi", slab="label", method="DL", test="knha")


@pytest.fixture(scope="module")
def reg(df):
    return metak.fit(data=df, yi="yi", vi="vi", slab="label", mods="~ year + pubstatus")


def test_reference_records_its_versions_calls_and_data():
    assert REF["dataset"] == "dat.assink2016" and REF["metafor_version"] == "3.8.1"
    assert REF["calls"]["rma"] == 'rma(yi, vi, data = dat, slab = label, method = "REML", control = ctl)'
    assert REF["calls"]["confint_mods"] == "confint(reg, control = qp)"
    assert len(REF["data"]["yi"]) == 100 and len(set(REF["data"]["label"])) == 100


@pytest.mark.parametrize("name", ["rma", "rma_dl_knha"])
def test_rma(name, res, dlk):
    fit, r = (res if name == "rma" else dlk), REF[name]
    assert isinstance(fit, metak.MetaFit) and fit.k == r["k"] == 100
    for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper", "tau2", "i2", "h2", "q", "q_p"):
        close(getattr(fit, key), r[key])
    if name == "rma":
        f = fit.to_frame()
        assert f["label"].tolist() == REF["data"]["label"]
        close(f["weight"], r["weights"])
    else:
        assert fit.df == r["df"] == 99


@pytest.mark.parametrize("name, kwargs", [("rma_mods", {}), ("rma_mods_knha", {"test": "knha"}),
                                          ("rma_mods_dl", {"method": "DL"})])
def test_meta_regression(df, name, kwargs):
    r = REF[name]
    fit = metak.fit(data=df, yi="yi", vi="vi", mods="~ year + pubstatus", **kwargs)
    assert isinstance(fit, metak.RegressionFit) and fit.names == ("intercept", "year", "pubstatus")
    c = fit.coefficients_frame()
    for key in ("estimate", "se", "statistic", "p_value", "ci_lower", "ci_upper"):
        close(c[key], r["coefficients"][key])
    for key in ("tau2", "qm", "qm_p", "qe", "qe_p", "i2", "h2", "r2"):
        close(getattr(fit, key), r[key])
    want_df = r["qm_df"][0] if name != "rma_mods_knha" else tuple(r["qm_df"])
    assert fit.qm_df == want_df


@pytest.mark.parametrize("name", ["predict", "predict_dl_knha"])
def test_predict(name, res, dlk):
    p = (res if name == "predict" else dlk).predict()
    for key in ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
        close(p.loc[0, key], REF[name][key])


def test_predict_meta_regression_fitted_values_and_newmods(reg):
    for new, r in ((None, REF["predict_mods"]),
                   (REF["predict_newmods"]["newmods"], REF["predict_newmods"]),
                   (pd.DataFrame({"year": [-5, 3], "pubstatus": [0, 1]}), REF["predict_newmods"])):
        p = reg.predict(new)
        assert len(p) == len(r["estimate"])
        for key in ("estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper"):
            close(p[key], r[key])


@pytest.mark.parametrize("name", ["confint", "confint_dl_knha"])
def test_confint_intercept_only(name, res, dlk):
    ci = (res if name == "confint" else dlk).confint()
    assert list(ci.index) == ["tau2", "tau", "i2", "h2"]
    for key in ("tau2", "tau", "i2", "h2"):
        close(ci.loc[key].to_numpy(), REF[name][key], rtol=CI_RTOL)


@pytest.mark.parametrize("name, kwargs", [("confint_mods", {}), ("confint_mods_knha", {"test": "knha"}),
                                          ("confint_mods_dl", {"method": "DL"})])
def test_confint_meta_regression_residual_tau2(df, name, kwargs):
    """metafor's generalised Q-profile CI of the residual tau² (roots of y'P(tau²)y at the
    chi²(k - p) quantiles), with tau, I² and H² from it, beside the coefficients' CIs."""
    r = REF[name]
    fit = metak.fit(data=df, yi="yi", vi="vi", mods="~ year + pubstatus", **kwargs)
    ci = fit.confint()
    assert list(ci.index) == ["intercept", "year", "pubstatus", "tau2", "tau", "i2", "h2"]
    assert list(ci.columns) == ["estimate", "ci_lower", "ci_upper"]
    for key in ("tau2", "tau", "i2", "h2"):
        close(ci.loc[key].to_numpy(), r[key], rtol=CI_RTOL)
    assert r["ci_null"] is False
    # the coefficients' rows: metafor's confint(fixed = TRUE) (for DL: the fit's ci.lb, ci.ub, the same)
    fixed = {"confint_mods": REF["confint_mods_fixed"], "confint_mods_knha": r.get("fixed"),
             "confint_mods_dl": REF["rma_mods_dl"]["coefficients"]}[name]
    assert fixed["names"] == ["intrcpt", "year", "pubstatus"]
    for j, key in enumerate(("estimate", "ci_lower", "ci_upper")):
        close(ci.iloc[:3, j], fixed[key])
    assert list(fit.confint(fixed=False).index) == ["tau2", "tau", "i2", "h2"]
    assert list(fit.confint(random=False).index) == ["intercept", "year", "pubstatus"]


def test_confint_errors_and_empty_interval(df):
    fe = metak.fit(data=df, yi="yi", vi="vi", mods="~ year", method="FE")
    assert list(fe.confint().index) == ["intercept", "year"]
    with pytest.raises(metak.MetakError, match="fixed-effect meta-regression has no tau²"):
        fe.confint(random=True)
    with pytest.raises(metak.MetakError, match="at least one of fixed and random"):
        metak.fit(data=df, yi="yi", vi="vi", mods="~ year").confint(fixed=False, random=False)
    # homogeneous effects: y'P(0)y below the lower quantile -> both bounds 0 (metafor's ci.null)
    from metak.estimators.qprofile_mods import q_profile_regression

    x = np.arange(8.0)
    out = q_profile_regression(0.1 * x, np.full(8, 1.0), np.column_stack([np.ones(8), x]), 0.0)
    assert out["ci_null"] and out["tau2"] == (0.0, 0.0, 0.0)


def test_leave_one_out(res):
    r = REF["leave1out"]
    f = res.leave_one_out()
    assert f["omitted"].tolist() == r["slab"] == REF["data"]["label"]
    for key in ("estimate", "se", "p_value", "ci_lower", "ci_upper", "q", "tau2", "i2"):
        close(f[key], r[key])


def test_influence(res):
    r = REF["influence"]
    f = res.influence()
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight", "dfbetas"):
        close(f[key], r[key])
    assert f["influential"].tolist() == r["influential"]
    assert f["influential"].tolist() == [m == "*" for m in r["inf"]]  # inf$inf's marker column


def test_cumulative_by_year_with_ties(res, df):
    r = REF["cumul"]
    assert len(set(r["order"])) < len(r["order"])  # ties: R's order() keeps the data's order
    for order in ("year", df["year"].tolist()):
        f = res.cumulative(order=order)
        assert f["added"].tolist() == r["slab"]
        for key in ("estimate", "se", "ci_lower", "ci_upper"):
            close(f[key], r[key])
        # the first step (k = 1) has no tau² or I² in metak (null), 0 in metafor
        close(f["tau2"].fillna(0.0), r["tau2"])
        close(f["i2"].fillna(0.0), np.nan_to_num(np.asarray(r["i2"], float)))


def test_regtest_and_ranktest(res):
    eg = res.regtest()
    for key in ("statistic", "p_value", "limit_estimate", "limit_ci_lower", "limit_ci_upper"):
        close(eg[key], REF["regtest"][key])
    rk = res.ranktest()
    close([rk.statistic, rk.tau, rk.p_value], [REF["ranktest"]["tau"], REF["ranktest"]["tau"],
                                               REF["ranktest"]["p_value"]])


def test_trimfill_fills_nothing_on_the_reml_fit(res):
    t = res.trimfill()
    r = REF["trimfill"]
    assert t.k0 == r["k0"] == 0 and t.side == r["side"] and t.k == r["k"]
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        close(t[key], REF["trimfill_refit"][key])
        close(t[key], r[key], rtol=0, atol=TF_ATOL)


def test_trimfill_fills_25_studies_on_the_dl_knha_fit(dlk):
    t = dlk.trimfill()
    r = REF["trimfill_dl_knha"]
    assert t.k0 == r["k0"] == 25 and t.side == r["side"] == "left" and t.k == r["k"] == 125
    # metafor 3.8.1's trimfill() refits the filled data with a z test whatever the model's test
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        close(t[key], r[key])
    close([s["yi"] for s in t.filled], r["yi"][100:])
    close([s["vi"] for s in t.filled], r["vi"][100:])


def test_subgroups(res, df):
    r = REF["subgroups"]
    for by in ("deltype", df["deltype"].tolist()):
        s = res.subgroups(by)
        g = s.groups
        assert g["value"].tolist() == r["value"] and g["k"].tolist() == r["k"]
        for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "i2"):
            close(g[key], r[key])
        close([s.statistic, s.q_between, s.p_value], [r["q_between"], r["q_between"], r["p_between"]])
        assert s.df_between == r["df_between"] == 2
        me = s.mixed_effects
        close([me["qm"], me["qm_p"]], [r["qm"], r["qm_p"]])
        assert me["qm_df"] == r["qm_df"][0]


@pytest.mark.parametrize("name", ["fitted.py", "fitted_regression.py", "api.py", "analyzed.py",
                                  "estimators/qprofile_mods.py"])
def test_the_fitted_objects_modules_stay_under_400_lines(name):
    n = len((ROOT / "metak" / name).read_text().splitlines())
    assert n <= 400, f"metak/{name}: {n} lines"


def test_the_regression_q_profile_with_an_intercept_alone_is_the_intercept_only_one(res):
    """p = 1: the generalised Q-profile is the intercept-only fit's (metak.estimators.fit.q_profile),
    two implementations of one statistic that must not drift apart."""
    from metak.estimators.qprofile_mods import q_profile_regression

    y, v = np.asarray(REF["data"]["yi"]), np.asarray(REF["data"]["vi"])
    out = q_profile_regression(y, v, np.ones((y.size, 1)), res.tau2, res.level)
    ci = res.confint()
    for key in ("tau2", "tau", "i2", "h2"):
        np.testing.assert_allclose(out[key], ci.loc[key].to_numpy(), rtol=1e-10)

"""Influence diagnostics and small-study tests against metafor 3.8.1.

``tests/reference/make_diagnostics_reference.R`` pins ``influence()``, ``baujat()``,
``regtest(model = "lm")``, ``regtest()``, ``ranktest()`` and ``trimfill()`` of
``rma(yi, vi, method, test)`` on dat.bcg (RR; REML, DL, FE, PM x z, knha) and dat.normand1999
(SMD), with hold-outs made after the implementation was fixed (dat.egger2001 OR with REML/ML,
dat.hackshaw1998, dat.pritz1997 proportions). metafor ran with ``threshold = tol = 1e-12``.
Tolerance ``TOL`` = 1e-6 (absolute + relative), as the other metafor references.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from metak.effects import EffectTable
from metak.estimators.model import Model
from metak.sensitivity.influence import influence
from metak.sensitivity.small_study import small_study

REF = json.loads((Path(__file__).parent / "reference" / "metafor_diagnostics_reference.json").read_text())
CASES = REF["cases"]
TOL = 1e-6


def close(a, b, tol=TOL):
    if b is None:
        return a is None
    return a is not None and abs(a - b) <= tol * (1 + abs(b))


def table_of(yi, vi):
    return EffectTable.from_arrays(yi, vi)


def _model(case):
    return Model(case["method"], "hksj" if case["test"] == "knha" else "z")


#: deletions where metafor's Fisher scoring stops at the boundary tau² = 0 although the
#: likelihood is higher inside (dat.egger2001 without study 14 under ML: log-likelihood -28.71
#: at 0 against -18.96 at 0.295, checked with rma(tau2 = 0.29525)); metak finds the global
#: maximum, as fit() does (tests/test_estimators_global.py)
METAFOR_LOCAL_MAXIMUM = {("holdout_egger2001_OR_ML_z", 13), ("holdout_egger2001_OR_ML_knha", 13)}


def _loglik(y, v, t, reml):
    w = 1 / (v + t)
    mu = (w * y).sum() / w.sum()
    return -0.5 * (np.log(v + t).sum() + (w * (y - mu) ** 2).sum() + (np.log(w.sum()) if reml else 0.0))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_influence_matches_metafor(case):
    rows, _ = influence(table_of(case["yi"], case["vi"]), _model(case))
    ref = case["influence"]
    y, v = np.array(case["yi"]), np.array(case["vi"])
    skip = set()
    for i, r in enumerate(rows):
        if not close(r["tau2_del"] or 0.0, ref["tau2_del"][i]):
            # only where metafor stopped at a lower maximum, and metak's is the higher one
            assert (case["id"], i) in METAFOR_LOCAL_MAXIMUM, ("tau2_del", i, r["tau2_del"], ref["tau2_del"][i])
            yd, vd = np.delete(y, i), np.delete(v, i)
            reml = case["method"] == "REML"
            assert _loglik(yd, vd, r["tau2_del"], reml) > _loglik(yd, vd, ref["tau2_del"][i], reml) + 1.0
            skip.add(i)
    assert {i for c, i in METAFOR_LOCAL_MAXIMUM if c == case["id"]} == skip
    for key in ("rstudent", "dffits", "cook_d", "cov_r", "hat", "weight", "qe_del", "dfbetas"):
        for i, r in enumerate(rows):
            if i not in skip or key in ("hat", "weight", "qe_del"):
                assert close(r[key], ref[key][i]), (key, i, r[key], ref[key][i])
    for i, r in enumerate(rows):
        if i in skip:
            continue
        assert r["influential"] == ref["influential"][i], i
        assert close(r["baujat_x"], case["baujat"]["x"][i]) and close(r["baujat_y"], case["baujat"]["y"][i]), i


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_small_study_tests_match_metafor(case):
    out, _ = small_study(table_of(case["yi"], case["vi"]), _model(case), force=True)
    for block in ("egger", "egger_rma"):
        for key in ("statistic", "p_value", "limit_estimate", "limit_ci_lower", "limit_ci_upper"):
            assert close(out[block][key], case[block][key]), (block, key, out[block][key], case[block][key])
    assert out["egger"]["df"] == case["egger"]["df"]
    assert close(out["rank_test"]["tau"], case["rank_test"]["tau"])
    assert close(out["rank_test"]["p_value"], case["rank_test"]["p_value"])
    tf, rt = out["trim_fill"], case["trim_fill"]
    assert tf["k0"] == rt["k0"] and tf["side"] == rt["side"] and close(tf["se_k0"], rt["se_k0"])
    for key in ("estimate", "se", "ci_lower", "ci_upper"):
        assert close(tf[key], rt[key]), (key, tf[key], rt[key])
    assert close(tf["tau2"] or 0.0, rt["tau2"] or 0.0)
    assert np.allclose([f["yi"] for f in tf["filled"]], rt["filled_yi"] or [], atol=1e-6)


def test_small_study_is_not_run_below_k10_unless_forced():
    case = CASES[-1]  # any; cut to 8 studies
    tab = table_of(case["yi"][:8], case["vi"][:8])
    out, notes = small_study(tab, Model("REML"))
    assert out["run"] is False and out["egger"] is None and "k = 8 < 10" in out["reason"]
    assert any("not run" in n for n in notes) and "publication bias" in out["meaning"]
    out, notes = small_study(tab, Model("REML"), force=True)
    assert out["run"] is True and out["egger"]["df"] == 6 and any("little power" in n for n in notes)


def test_deleted_tau2_finds_a_second_maximum_like_a_refit():
    """The fast leave-one-out tau² agrees with k separate fits, including bimodal likelihoods."""
    from metak.estimators import fit
    from metak.estimators.deletion import deleted_tau2

    cases = json.loads((Path(__file__).parent / "reference" / "bimodal_cases.json").read_text())["cases"]
    for c in cases[:6]:
        yi, vi = np.array(c["yi"]), np.array(c["vi"])
        method = c.get("method", "REML")
        full = fit(yi, vi, method=method).tau2
        fast = deleted_tau2(yi, vi, method, full)
        slow = [fit(np.delete(yi, i), np.delete(vi, i), method=method).tau2 for i in range(len(yi))]
        assert np.allclose(fast, slow, rtol=1e-7, atol=1e-10), (c.get("id"), fast, slow)


def test_influence_at_k_1000_is_fast_and_equals_refits():
    rng = np.random.default_rng(7)
    k = 1000
    vi = rng.uniform(0.01, 0.5, k)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05))
    tab = table_of(yi, vi)
    t0 = time.perf_counter()
    rows, _ = influence(tab, Model("REML", "hksj"))
    elapsed = time.perf_counter() - t0
    from metak.estimators import fit

    for i in (0, 123, 999):  # spot-check against an actual refit without study i
        r = fit(np.delete(yi, i), np.delete(vi, i), method="REML")
        assert abs(rows[i]["tau2_del"] - r.tau2) < 1e-9
    assert len(rows) == k
    # the benchmark (benchmarks/bench_influence.py) reports the time; here only a generous bound
    assert elapsed < 20


def test_bcg_example_pipeline_diagnostics_match_metafor():
    """The committed BCG example (records -> pipeline -> results.json) against the pinned
    bcg_RR_REML_z case, row by row (the pipeline orders rows by label, metafor by dat.bcg)."""
    doc = json.loads((Path(__file__).resolve().parents[1] / "docs" / "examples" / "bcg" / "results" /
                      "results.json").read_text())
    ma = next(m for m in doc["meta_analyses"] if m["id"] == "diagnostics")
    case = next(c for c in CASES if c["id"] == "bcg_RR_REML_z")
    index = {round(y, 9): i for i, y in enumerate(case["yi"])}
    rows = ma["sensitivity"]["influence"]
    for s, r in zip(ma["studies"], rows):
        assert s["trial"] == r["trial"]
        i = index[round(s["yi"], 9)]
        for key in ("rstudent", "dffits", "cook_d", "cov_r", "hat", "tau2_del", "qe_del"):
            assert close(r[key], case["influence"][key][i]), (key, r["label"])
    ss = ma["sensitivity"]["small_study"]
    assert close(ss["egger"]["p_value"], case["egger"]["p_value"])
    assert close(ss["egger_rma"]["statistic"], case["egger_rma"]["statistic"])
    assert close(ss["rank_test"]["p_value"], case["rank_test"]["p_value"])
    assert ss["trim_fill"]["k0"] == case["trim_fill"]["k0"] and close(ss["trim_fill"]["estimate"],
                                                                       case["trim_fill"]["estimate"])

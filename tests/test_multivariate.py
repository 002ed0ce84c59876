"""The multivariate (multi-arm) model against metafor 3.8.1's rma.mv.

``tests/reference/make_multivariate_reference.R`` simulates (seeded, SYNTHETIC) binary trials
with one to three dose arms against a shared control, builds V with the exact shared-control
covariance (OR: 1/c + 1/d of the control arm), and pins ``rma.mv(yi, V, random = ~ 1 |
trial/comp)`` for REML and ML x z and t, with and without ``mods = ~ dose``; the 25-trial
set is a hold-out made after the implementation was fixed. metafor ran Nelder-Mead with
reltol 1e-14; coefficients and SEs agree to 1e-6, variance components to 1e-6.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pytest

from metak.estimators.multivariate import fit_mv, shared_control_cov, smd_cov
from metak.records.model import BinaryArmData, ContinuousArmData

REF = json.loads((Path(__file__).parent / "reference" / "metafor_multivariate_reference.json").read_text())


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_multivariate_matches_rma_mv(case):
    X = np.column_stack([np.ones(len(case["yi"])), case["dose"]]) if case["mods"] else None
    r = fit_mv(case["yi"], np.array(case["V"]), case["trial"], X, method=case["method"], test=case["test"])
    ref = {key: np.atleast_1d(case[key]) for key in ("b", "se", "pval", "ci_lower")}  # jsonlite unboxes length 1
    for j, c in enumerate(r.coefficients):
        assert c[1] == pytest.approx(ref["b"][j], abs=1e-6)
        assert c[2] == pytest.approx(ref["se"][j], abs=1e-6)
        assert c[4] == pytest.approx(ref["pval"][j], abs=1e-6)
        assert c[5] == pytest.approx(ref["ci_lower"][j], abs=1e-6)
    assert r.sigma2 == pytest.approx(case["sigma2"], abs=1e-6)
    assert r.qe == pytest.approx(case["qe"], rel=1e-9)
    assert r.loglik == pytest.approx(case["loglik"], abs=1e-6)  # metafor's, + 1/2 log|X'X| under REML
    assert (r.df is None) == (case["test"] == "z")


def test_the_shared_control_covariance_is_the_reference_v():
    """The R script's V off-diagonals are 1/c + 1/d of the shared control: as the function says."""
    case = REF["cases"][0]
    V = np.array(case["V"])
    for a in range(len(case["yi"])):
        for b in range(len(case["yi"])):
            if a != b and case["trial"][a] == case["trial"][b]:
                ctl = BinaryArmData(case["ci"][a], case["n2i"][a])
                assert V[a, b] == pytest.approx(shared_control_cov("OR", ctl))
    assert shared_control_cov("MD", ContinuousArmData(0.0, 2.0, 16)) == pytest.approx(0.25)
    assert shared_control_cov("RD", BinaryArmData(5, 20)) == pytest.approx(0.25 * 0.75 / 20)
    assert shared_control_cov("RR", BinaryArmData(5, 20)) == pytest.approx(1 / 5 - 1 / 20)
    assert smd_cov(0.5, 0.4, 20, 60) == pytest.approx(1 / 20 + 0.2 / 120)


def test_a_trial_with_one_comparison_is_the_univariate_model():
    """With one comparison per trial, sigma²_1 + sigma²_2 plays tau²: the estimate is the REML fit."""
    from metak.estimators import fit

    rng = np.random.default_rng(3)
    v = rng.uniform(0.02, 0.3, 15)
    y = rng.normal(0.3, np.sqrt(v + 0.1))
    r = fit_mv(y, np.diag(v), list(range(15)))
    u = fit(y, v, method="REML")
    assert r.estimate == pytest.approx(u.estimate, abs=1e-7)
    assert sum(r.sigma2) == pytest.approx(u.tau2, abs=1e-7)


def test_multivariate_1000_trials_of_3_arms_is_fast():
    rng = np.random.default_rng(11)
    groups, ys, V = [], [], np.zeros((2000, 2000))
    for i in range(1000):
        c = 1 / rng.integers(5, 20) + 1 / rng.integers(20, 40)
        for j in range(2):
            groups.append(i)
            ys.append(rng.normal(0.4, 0.5))
        idx = [2 * i, 2 * i + 1]
        V[np.ix_(idx, idx)] = c
        V[idx, idx] = c + 1 / rng.integers(5, 20, 2) + 1 / rng.integers(20, 40, 2)
    t0 = time.perf_counter()
    r = fit_mv(ys, V, groups)
    assert r.k == 2000 and r.n_trials == 1000
    assert time.perf_counter() - t0 < 30  # the benchmark (benchmarks/bench_multivariate.py) reports the time


def _write_trials(root, case):
    """The R case's arm data as trial records: a control and one to three dose arms per trial."""
    (root / "trials").mkdir(parents=True)
    trials: dict = {}
    for t, comp, dose, ai, n1, ci, n2 in zip(case["trial"], case["comp"], case["dose"], case["ai"], case["n1i"],
                                             case["ci"], case["n2i"]):
        trials.setdefault(t, {"ctl": (ci, n2), "arms": []})["arms"].append((comp, dose, ai, n1))
    for t, d in trials.items():
        arms = "".join(f"  - {{id: e{c}, label: \"dose {dose}\", role: experimental, intervention: drug, "
                       f"dose: {{value: {dose}, unit: mg/kg}}}}\n" for c, dose, _, _ in d["arms"])
        data = "".join(f"      e{c}: {{events: {a}, total: {n}}}\n" for c, _, a, n in d["arms"])
        (root / "trials" / f"t{t:02d}.yaml").write_text(
            f"metak: 1\nid: t{t:02d}\ntitle: t{t}\ncondition: c\ndesign: parallel\narms:\n{arms}"
            "  - {id: c, label: control, role: control, intervention: placebo, control_type: placebo}\n"
            "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: higher_is_better\n    data:\n"
            f"{data}      c: {{events: {d['ctl'][0]}, total: {d['ctl'][1]}}}\n    source: {{where: synthetic}}\n")


@pytest.mark.parametrize("cid", ["or12_REML_z", "holdout_or25_REML_z", "or12_ML_t"])
def test_pipeline_multi_arm_multivariate_matches_rma_mv(tmp_path, cid):
    from metak.pipeline import analyze

    case = next(c for c in REF["cases"] if c["id"] == cid)
    _write_trials(tmp_path, case)
    test = "hksj" if case["test"] == "t" else "z"
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    f"    method: {case['method']}\n    test: {test}\n    multi_arm: multivariate\n")
    ma = analyze(spec)["meta_analyses"][0]
    b, se = np.atleast_1d(case["b"]), np.atleast_1d(case["se"])
    assert ma["k"] == len(case["yi"])
    assert ma["estimate"] == pytest.approx(b[0], abs=1e-6) and ma["se"] == pytest.approx(se[0], abs=1e-6)
    mv = ma["multivariate"]
    assert [mv["sigma2_trial"], mv["sigma2_comparison"]] == pytest.approx(case["sigma2"], abs=1e-6)
    assert sum(s["weight"] for s in ma["studies"]) == pytest.approx(100.0)
    # no control split: each comparison uses the whole control group, and a total counts it once
    assert all("split_control" not in s for s in ma["studies"])
    from metak.plots import _common as C

    ctl = {}
    for t, ci, n2 in zip(case["trial"], case["ci"], case["n2i"]):
        ctl[t] = (ci, n2)
    assert C.arm_totals(C.rows(ma), True, "control", "binary") == f"{sum(c for c, _ in ctl.values())}/{sum(n for _, n in ctl.values())}"


def test_multivariate_refuses_analyses_that_would_refit_another_model(tmp_path):
    from metak.errors import InvalidSpec
    from metak.pipeline import analyze

    _write_trials(tmp_path, REF["cases"][0])
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    "    method: DL\n    multi_arm: multivariate\n    sensitivity: [leave_one_out]\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    msgs = [(p.path, p.line, p.message) for p in exc.value.problems]
    assert any(path.endswith("method") and "REML, ML or FE" in m for path, _, m in msgs)
    assert any(path.endswith("sensitivity") and line == 10 and "not yet available" in m for path, line, m in msgs)


@pytest.mark.parametrize("cid", ["or12_REML_z_dose", "holdout_or25_REML_z_dose", "or12_REML_t_dose"])
def test_dose_response_matches_rma_mv_with_mods_dose(tmp_path, cid):
    from metak.pipeline import analyze

    case = next(c for c in REF["cases"] if c["id"] == cid)
    _write_trials(tmp_path, case)
    test = "hksj" if case["test"] == "t" else "z"
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    f"    test: {test}\n    multi_arm: multivariate\n    dose_response: {{model: linear}}\n")
    dr = analyze(spec)["meta_analyses"][0]["dose_response"]
    assert [c["name"] for c in dr["coefficients"]] == ["intercept", "dose"] and dr["unit"] == "mg/kg"
    for j, c in enumerate(dr["coefficients"]):
        assert c["estimate"] == pytest.approx(case["b"][j], abs=1e-6)
        assert c["se"] == pytest.approx(case["se"][j], abs=1e-6)
        assert c["p_value"] == pytest.approx(case["pval"][j], abs=1e-6)
    assert [dr["sigma2_trial"], dr["sigma2_comparison"]] == pytest.approx(case["sigma2"], abs=1e-6)
    # the curve is the fitted line: at dose 0 the intercept
    assert dr["curve"]["dose"][0] == 0 and dr["curve"]["estimate"][0] == pytest.approx(case["b"][0], abs=1e-6)


def test_dose_response_bad_input(tmp_path):
    from metak.errors import InvalidSpec
    from metak.pipeline import analyze

    case = REF["cases"][0]
    _write_trials(tmp_path, case)
    spec = tmp_path / "s.yaml"
    base = "metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
    spec.write_text(base + "    dose_response: {model: linear}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("needs multi_arm: multivariate" in p.message and p.line == 8 for p in exc.value.problems)
    # different units
    f = tmp_path / "trials" / "t02.yaml"
    f.write_text(f.read_text().replace("unit: mg/kg}", "unit: mg}", 1))
    spec.write_text(base + "    multi_arm: multivariate\n    dose_response: {model: linear}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("different units" in p.message and p.line == 9 for p in exc.value.problems)
    # one distinct dose
    for g in (tmp_path / "trials").glob("*.yaml"):
        g.write_text(__import__("re").sub(r"value: [0-9.]+, unit: mg(/kg)?", "value: 1, unit: mg/kg", g.read_text()))
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("at least two distinct doses" in p.message for p in exc.value.problems)

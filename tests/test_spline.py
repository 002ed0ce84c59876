"""Restricted cubic spline dose-response against R: rms 6.5's ``rcspline.eval`` basis and
metafor 3.8.1's ``rma.mv(yi, V, mods = ~ rcspline.eval(dose, knots, inclx = TRUE), random =
~ 1 | trial/comp)`` (``tests/reference/make_spline_reference.R``; SYNTHETIC seeded dose-arm
trials with an Emax-shaped truth, four or five distinct doses; the 30-trial set is a hold-out
made after the implementation was fixed). Basis to 1e-12; coefficients, SEs and variance
components to 1e-6 (metafor's Nelder-Mead at reltol 1e-14)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from metak.estimators.multivariate import fit_mv
from metak.estimators.spline import default_knots, rcs_basis, term_names

from test_multivariate import _write_trials

REF = json.loads((Path(__file__).parent / "reference" / "metafor_spline_reference.json").read_text())
CASES = {c["id"]: c for c in REF["cases"]}


@pytest.mark.parametrize("cid", list(CASES))
def test_basis_and_default_knots_match_rms(cid):
    case = CASES[cid]
    if "4knots" not in cid:
        assert default_knots(case["dose"]) == pytest.approx(case["knots"], abs=1e-15)
    B = rcs_basis(case["dose"], case["knots"])
    assert B == pytest.approx(np.array(case["basis"]).reshape(B.shape), abs=1e-12)


@pytest.mark.parametrize("cid", list(CASES))
def test_spline_fit_matches_rma_mv(cid):
    case = CASES[cid]
    X = np.column_stack([np.ones(len(case["yi"])), rcs_basis(case["dose"], case["knots"])])
    r = fit_mv(case["yi"], np.array(case["V"]), case["trial"], X, method=case["method"], test=case["test"])
    for j, c in enumerate(r.coefficients):
        assert c[1] == pytest.approx(case["b"][j], abs=1e-6)
        assert c[2] == pytest.approx(case["se"][j], abs=1e-6)
        assert c[4] == pytest.approx(case["pval"][j], abs=1e-6)
    assert r.sigma2 == pytest.approx(case["sigma2"], abs=1e-6)


@pytest.mark.parametrize("cid,knots", [("spline20_REML_z", None), ("holdout_spline30_REML_z", None),
                                       ("spline20_ML_z_4knots", "[0.1, 0.25, 0.5, 1.0]")])
def test_pipeline_spline_dose_response_matches_rma_mv(tmp_path, cid, knots):
    from metak.pipeline import analyze

    case = CASES[cid]
    _write_trials(tmp_path, case)
    kn = f", knots: {knots}" if knots else ""
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    f"    method: {case['method']}\n    multi_arm: multivariate\n"
                    f"    dose_response: {{model: spline{kn}}}\n    figures: [dose_response]\n")
    ma = analyze(spec)["meta_analyses"][0]
    dr = ma["dose_response"]
    assert [c["name"] for c in dr["coefficients"]] == ["intercept", *term_names(len(case["knots"]))]
    assert dr["knots"] == pytest.approx(case["knots"])
    for j, c in enumerate(dr["coefficients"]):
        assert c["estimate"] == pytest.approx(case["b"][j], abs=1e-6)
        assert c["se"] == pytest.approx(case["se"][j], abs=1e-6)
    # the curve is the fitted spline: at each knot the model's prediction
    b = np.array(case["b"])
    grid = np.array(dr["curve"]["dose"])
    pred = np.column_stack([np.ones(grid.size), rcs_basis(grid, case["knots"])]) @ b
    assert dr["curve"]["estimate"] == pytest.approx(pred.tolist(), abs=1e-6)
    pytest.importorskip("matplotlib")
    from metak.plots.dose import dose_response

    art = dose_response(ma)  # draws the points and the spline curve without error
    assert art is not None


def test_spline_needs_four_doses_and_increasing_knots(tmp_path):
    from metak.errors import InvalidSpec
    from metak.pipeline import analyze

    case = json.loads((Path(__file__).parent / "reference" / "metafor_multivariate_reference.json").read_text())
    three = next(c for c in case["cases"] if c["id"] == "or12_REML_z_dose")  # doses 0.25, 0.5, 1
    _write_trials(tmp_path, three)
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                    "    multi_arm: multivariate\n    dose_response: {model: spline}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("at least 4 distinct doses" in p.message and "have 3" in p.message for p in exc.value.problems)
    spec.write_text(spec.read_text().replace("{model: spline}", "{model: spline, knots: [0.5, 0.25, 1]}"))
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any(p.path.endswith("knots") and "increasing" in p.message and p.line == 9 for p in exc.value.problems), \
        [(p.path, p.line, p.message) for p in exc.value.problems]
    spec.write_text(spec.read_text().replace("{model: spline, knots: [0.5, 0.25, 1]}", "{model: linear, knots: [1, 2, 3]}"))
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("knots are for model: spline" in p.message for p in exc.value.problems)

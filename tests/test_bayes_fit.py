"""fit_bayes as the pipeline calls it: the contract's keys, JSON-ready values, direction and
thresholds, prior sensitivity, no PyMC import for the exact engine, and speed."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from metak.bayes import fit_bayes, parse_bayes_spec, side_by_side

ROOT = Path(__file__).resolve().parents[1]
Y = np.array([2.05, 0.41, 1.10, -0.30, 0.75])
V = np.array([0.52, 0.18, 0.35, 0.40, 0.22])
CONTRACT_KEYS = {"engine", "mu", "tau", "predictive", "prob_benefit", "diagnostics"}


def _walk(obj):
    if isinstance(obj, dict):
        for v in obj.values():
            yield from _walk(v)
    elif isinstance(obj, list):
        for v in obj:
            yield from _walk(v)
    else:
        yield obj


def test_result_has_the_contract_keys_and_plain_types():
    spec = parse_bayes_spec({"thresholds": [1.5, 2],
                             "prior_sensitivity": [{"preset": "turner2015", "outcome": "mental_health"},
                                                   {"dist": "half_cauchy", "beta": 0.5}]}, measure="OR")
    res = fit_bayes(Y, V, spec, labels=[f"s{i}" for i in range(5)])
    assert CONTRACT_KEYS <= set(res)
    assert set(res["mu"]) == {"mean", "sd", "median", "ci_lower", "ci_upper"}
    assert set(res["predictive"]) == {"ci_lower", "ci_upper"}
    assert res["diagnostics"]["rhat_max"] is None and res["diagnostics"]["divergences"] is None
    json.dumps(res.to_dict(), allow_nan=False)
    for value in _walk(res.to_dict()):
        assert value is None or type(value) in (str, float, int, bool)
    assert [s["label"] for s in res["shrunken"]] == [f"s{i}" for i in range(5)]
    assert [p["prior"] for p in res["prior_sensitivity"]] == [
        "LogNormal(mu=-2.12, sigma=1.53) on tau^2 [turner2015/mental_health]", "HalfCauchy(beta=0.5)"]
    assert res["bayes_factors"]["mu_zero_method"] == "savage_dickey"
    mu = res["mu"]
    assert mu["ci_lower"] < mu["median"] < mu["ci_upper"]
    assert res["predictive"]["ci_lower"] < mu["ci_lower"] and res["predictive"]["ci_upper"] > mu["ci_upper"]


def test_direction_and_thresholds():
    spec = parse_bayes_spec({"thresholds": [1.0, 1.5]}, measure="OR")
    up = fit_bayes(Y, V, spec, direction="higher_is_better")
    down = fit_bayes(Y, V, spec, direction="lower_is_better")
    assert up["prob_benefit"] + down["prob_benefit"] == pytest.approx(1.0, abs=1e-12)
    # OR threshold 1 on the natural scale is 0 on the log scale: P(OR > 1) = P(mu > 0)
    t1, t15 = up["prob_beyond"]
    assert t1["scale"] == "natural" and t1["analysis_value"] == 0.0
    assert t1["prob"] == pytest.approx(up["prob_benefit"], abs=1e-12)
    assert t15["analysis_value"] == pytest.approx(math.log(1.5))
    assert t15["prob"] < t1["prob"]
    assert down["prob_beyond"][1]["prob"] == pytest.approx(1 - t15["prob"], abs=1e-12)
    smd = fit_bayes(Y / 4, V / 16, parse_bayes_spec({"thresholds": [0.2]}, measure="SMD",
                                                    outcome_type="continuous"), measure="SMD")
    assert smd["prob_beyond"][0]["scale"] == "analysis" and smd["prob_beyond"][0]["analysis_value"] == 0.2


def test_preset_mismatch_warning_reaches_the_results():
    spec = parse_bayes_spec({"prior": {"tau": {"preset": "rhodes2015"}}}, measure="OR")
    res = fit_bayes(Y, V, spec)
    assert any("rhodes2015" in w for w in res["warnings"])


def test_same_inputs_give_identical_json():
    spec = parse_bayes_spec({"thresholds": [2]}, measure="OR")
    a = json.dumps(fit_bayes(Y, V, spec).to_dict(), sort_keys=True)
    b = json.dumps(fit_bayes(Y, V, spec).to_dict(), sort_keys=True)
    assert a == b


def test_exact_engine_does_not_import_pymc():
    code = (
        "import sys, numpy as np\n"
        "from metak.bayes import fit_bayes, parse_bayes_spec\n"
        "spec = parse_bayes_spec({'prior_sensitivity': [{'preset': 'turner2015'}]}, measure='OR')\n"
        "fit_bayes(np.array([0.1, 0.5, 0.3]), np.array([0.1, 0.2, 0.1]), spec)\n"
        "heavy = [m for m in ('pymc', 'pytensor', 'arviz', 'matplotlib') if m in sys.modules]\n"
        "print(','.join(heavy))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""



def test_bad_inputs_raise_analysis_errors():
    from metak.errors import AnalysisError

    spec = parse_bayes_spec({}, measure="OR")
    with pytest.raises(AnalysisError):
        fit_bayes([], [], spec)
    with pytest.raises(AnalysisError):
        fit_bayes([0.1, 0.2], [0.1, -0.2], spec)
    with pytest.raises(AnalysisError):
        fit_bayes([0.1, 0.2], [0.1, 0.2], spec, direction="up")
    binom = parse_bayes_spec({"likelihood": "binomial"}, measure="OR")
    with pytest.raises(AnalysisError, match="tables"):
        fit_bayes([0.1, 0.2], [0.1, 0.2], binom)
    with pytest.raises(AnalysisError, match="more events"):
        fit_bayes([0.1], [0.1], binom, tables=[[5, 4, 1, 10]])


def test_side_by_side_table():
    spec = parse_bayes_spec({}, measure="OR")
    ma = {"measure": "OR", "model": {"method": "REML", "level": 0.95}, "estimate": 0.6, "ci_lower": 0.1,
          "ci_upper": 1.1, "tau": 0.3, "tau_ci": [0.0, 1.2], "pi_lower": -0.5, "pi_upper": 1.7,
          "bayes": fit_bayes(Y, V, spec)}
    text = side_by_side(ma)
    lines = text.splitlines()
    assert "REML" in lines[0] and "Bayes (exact)" in lines[0]
    assert any(line.startswith("OR (natural scale): estimate") for line in lines)
    assert "1.82" in text          # exp(0.6), the frequentist OR
    assert "P(benefit)" in lines[-1]

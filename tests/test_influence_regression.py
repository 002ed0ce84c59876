"""influence() of a meta-regression against metafor's influence(rma(yi, vi, mods = ...))
(tests/reference/make_influence_regression_reference.R): dat.bcg ~ ablat under REML, DL, ML and
FE with z and Knapp-Hartung tests, ~ ablat + year, and dat.molloy2014 ~ meanage."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import metak
from metak.sensitivity.influence_regression import influence_regression

REF = json.loads((Path(__file__).parent / "reference" / "metafor_influence_regression_reference.json").read_text())
CASES = {c["id"]: c for c in REF["cases"]}
#: refits converge to metafor's within its threshold (1e-12 on tau²): the diagnostics agree to ~1e-10
TOL = 1e-8
KEYS = ("rstudent", "dffits", "cook_d", "cov_r", "tau2_del", "qe_del", "hat", "weight")


@pytest.mark.parametrize("case_id", sorted(CASES))
def test_matches_metafor(case_id):
    c = CASES[case_id]
    rows = influence_regression(c["yi"], c["vi"], np.array(c["X"]), method=c["method"],
                                test="hksj" if c["test"] == "knha" else "z", level=0.95)
    for key in KEYS:
        if key == "tau2_del" and c["method"] == "FE":
            assert all(r[key] is None for r in rows)
            continue
        got = np.array([r[key] for r in rows], float)
        np.testing.assert_allclose(got, np.array(c[key], float), rtol=TOL, atol=TOL, err_msg=key)
    got = np.array([list(r["dfbetas"].values()) for r in rows])
    np.testing.assert_allclose(got, np.array(c["dfbetas"]), rtol=TOL, atol=TOL)
    assert [r["influential"] for r in rows] == c["influential"]


def test_the_python_api_gives_the_same_frame():
    c = CASES["bcg_ablat_REML_knha"]
    X = np.array(c["X"])
    df = pd.DataFrame({"yi": c["yi"], "vi": c["vi"], "ablat": X[:, 1]})
    frame = metak.fit(data=df, yi="yi", vi="vi", mods="~ ablat", method="REML", test="knha").influence()
    assert {"dfbetas_intercept", "dfbetas_ablat"} <= set(frame.columns)
    np.testing.assert_allclose(frame["cook_d"], c["cook_d"], rtol=TOL)
    np.testing.assert_allclose(frame["dfbetas_ablat"], np.array(c["dfbetas"])[:, 1], rtol=TOL, atol=TOL)


def test_too_few_studies_is_a_clear_error():
    with pytest.raises(metak.MetakError, match="more than p"):
        influence_regression([0.1, 0.2, 0.3], [0.1, 0.1, 0.1], np.column_stack([np.ones(3), [1, 2, 3]]),
                             method="REML", test="z", level=0.95)

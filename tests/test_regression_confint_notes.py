"""The Q-profile CI of a meta-regression's residual tau² says, as metafor does, when it is the
null/empty set and when its root search did not converge: in ``RegressionFit.confint()`` (a note
in ``frame.attrs["notes"]`` and a Python warning) and in results.json's ``meta_regression``
(its warnings; the CIs null when the search did not converge)."""

from __future__ import annotations

import warnings

import numpy as np
import pandas as pd
import pytest

import metak
from metak.errors import ConvergenceWarning
from metak.estimators import qprofile_mods
from test_protocol import review, spec  # noqa: F401  (review: the fixture)

RANDOM = ["tau2", "tau", "i2", "h2"]


def _on_a_line():
    """Effects exactly on a line: the residual Q at tau² = 0 is 0, below any lower chi² quantile,
    so the CI is empty (metafor: "The upper and lower CI bounds for tau^2 both fall below 0")."""
    x = np.arange(1.0, 9.0)
    return pd.DataFrame({"yi": 0.1 + 0.2 * x, "vi": 0.04, "x": x})


def _bcg_like():
    return pd.DataFrame({"yi": [0.1, 0.5, 0.3, 0.9, 0.2, 0.6], "vi": [0.01, 0.02, 0.03, 0.05, 0.02, 0.04],
                         "dose": [1, 2, 3, 4, 1, 2]})


def test_an_empty_q_profile_ci_is_said_in_a_note_and_a_warning():
    fit = metak.fit(data=_on_a_line(), yi="yi", vi="vi", mods="~ x")
    with pytest.warns(UserWarning, match="null/empty set") as rec:
        frame = fit.confint(fixed=False)
    assert not any(issubclass(w.category, ConvergenceWarning) for w in rec)
    assert frame.attrs["notes"] == [qprofile_mods.NULL_SET_NOTE]
    assert frame.loc["tau2"].tolist() == [0.0, 0.0, 0.0]
    assert frame.loc["h2"].tolist() == [1.0, 1.0, 1.0]


def test_an_ordinary_ci_has_no_note_and_no_warning():
    fit = metak.fit(data=_bcg_like(), yi="yi", vi="vi", mods="~ dose")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        frame = fit.confint()
    assert frame.attrs["notes"] == []
    assert frame.loc["tau2", "ci_upper"] > 0   # 0.2986 (metafor 3.8.1, the docstring's example)


def _not_converging(monkeypatch):
    real = qprofile_mods._solve_pm

    def solve(*args, **kwargs):   # the root search's answer, flagged as not converged
        value, _ = real(*args, **kwargs)
        return value, False

    monkeypatch.setattr(qprofile_mods, "_solve_pm", solve)


def test_a_root_search_that_did_not_converge_gives_nan_bounds_a_note_and_a_convergence_warning(monkeypatch):
    fit = metak.fit(data=_bcg_like(), yi="yi", vi="vi", mods="~ dose")
    _not_converging(monkeypatch)
    with pytest.warns(ConvergenceWarning, match="did not converge"):
        frame = fit.confint()
    assert frame.attrs["notes"] == [qprofile_mods.NOT_CONVERGED_NOTE]
    assert frame.loc[RANDOM, ["ci_lower", "ci_upper"]].isna().all().all()
    assert frame.loc["dose", "ci_lower"] == pytest.approx(0.0626, abs=1e-4)   # the coefficients keep their CIs
    assert frame.loc["tau2", "estimate"] == pytest.approx(fit.tau2)


def test_results_json_says_when_the_search_did_not_converge(review, monkeypatch):  # noqa: F811
    _not_converging(monkeypatch)
    ma = metak.analyze(spec(review, "moderators: [year]\n"))["meta_analyses"][0]
    mr = ma["meta_regression"]
    assert (mr["tau2_ci"], mr["tau_ci"], mr["i2_ci"], mr["h2_ci"]) == (None, None, None, None)
    assert any(qprofile_mods.NOT_CONVERGED_NOTE in w and "reported as null" in w for w in ma["warnings"])


def test_results_json_says_when_the_ci_is_the_null_set(review, monkeypatch):  # noqa: F811
    """The record passes the Q-profile's null-set flag on as a warning (the flag itself is
    computed as in the API test above; here it is set on the real result)."""
    plain = metak.analyze(spec(review, "moderators: [year]\n"))["meta_analyses"][0]
    assert not any("null/empty" in w for w in plain["warnings"])
    real = qprofile_mods.q_profile_regression

    def null(*args, **kwargs):
        return {**real(*args, **kwargs), "ci_null": True}

    monkeypatch.setattr(qprofile_mods, "q_profile_regression", null)
    ma = metak.analyze(spec(review, "moderators: [year]\n", name="y.yaml"))["meta_analyses"][0]
    assert f"meta-regression: {qprofile_mods.NULL_SET_NOTE}" in ma["warnings"]

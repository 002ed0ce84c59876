"""Engine behaviour beyond the metafor references: batch form, settings, edge cases."""

from __future__ import annotations

import numpy as np
import pytest

import metak
from metak.errors import MetakError
from metak.estimators import METHODS, fit_tables


def test_batch_equals_single_fits_for_every_method():
    rng = np.random.default_rng(3)
    Y = rng.normal(0.3, 0.4, (40, 8))
    V = rng.uniform(0.01, 0.3, (40, 8))
    Y[5, 6:] = np.nan  # ragged rows: NaN padding
    V[5, 6:] = np.nan
    for method in ("FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB"):
        for test in ("z", "hksj"):
            b = metak.fit_batch(Y, V, method=method, test=test)
            for i in (0, 5, 17):
                ok = np.isfinite(Y[i])
                r = metak.fit(Y[i][ok], V[i][ok], method=method, test=test)
                assert b.estimate[i] == pytest.approx(r.estimate, abs=1e-12)
                assert b.se[i] == pytest.approx(r.se, abs=1e-12)
                assert b.k[i] == r.k
                if method != "FE":
                    assert b.tau2[i] == pytest.approx(r.tau2, abs=1e-12)
                    assert b.result(i).tau2_ci == pytest.approx(r.tau2_ci, abs=1e-12)


def test_batch_accepts_a_list_of_arrays():
    b = metak.fit_batch([np.array([0.1, 0.4, 0.2]), np.array([0.5, 0.1])], [np.array([0.01, 0.02, 0.03]), np.array([0.1, 0.2])])
    assert b.k.tolist() == [3, 2]


def test_settings_are_checked_at_once():
    with pytest.raises(MetakError, match="method 'REMLL'"):
        metak.fit([0.1, 0.2], [0.1, 0.1], method="REMLL")
    with pytest.raises(MetakError, match="test 'zz'"):
        metak.fit([0.1, 0.2], [0.1, 0.1], test="zz")
    with pytest.raises(MetakError, match="level"):
        metak.fit([0.1, 0.2], [0.1, 0.1], level=95)
    with pytest.raises(MetakError, match="greater than 0"):
        metak.fit([0.1, 0.2], [0.1, 0.0])
    tables = [[4, 46, 8, 42], [10, 90, 15, 85]]
    with pytest.raises(MetakError, match="hksj"):
        fit_tables(tables, [0, 0], [1, 1], measure="OR", method="MH", test="hksj")
    with pytest.raises(MetakError, match="PETO"):
        fit_tables(tables, [0, 0], [1, 1], measure="RR", method="PETO")
    assert metak.fit([0.1, 0.5], [0.1, 0.1], test="knha").test == "hksj"  # metafor's name is accepted


def test_fe_with_hksj_is_accepted_as_metafor_does():
    r = metak.fit([0.1, 0.5, 0.3], [0.01, 0.02, 0.03], method="FE", test="hksj")
    assert r.df == 2 and r.tau2 is None and r.pi_lower is None


def test_k1_gives_the_study_and_null_heterogeneity():
    r = metak.fit([0.4], [0.04], method="REML", test="hksj")
    d = r.to_dict()
    assert d["estimate"] == 0.4 and d["se"] == pytest.approx(0.2)
    assert d["ci_lower"] == pytest.approx(0.4 - 1.959963984540054 * 0.2)
    for key in ("tau2", "tau2_ci", "i2", "h2", "q", "q_p", "pi_lower", "df"):
        assert d[key] is None
    assert r.warnings


def test_non_finite_studies_are_dropped_with_a_warning():
    r = metak.fit([0.1, np.nan, 0.3, 0.2], [0.01, 0.02, np.inf, 0.02])
    assert r.k == 2 and any("non-finite" in w for w in r.warnings)


def test_to_dict_never_holds_nan():
    import json

    r = metak.fit([0.1, 0.1, 0.1], [0.01, 0.01, 0.01], method="DL")
    text = json.dumps(r.to_dict(), allow_nan=False)
    assert "NaN" not in text
    assert r.tau2 == 0 and r.tau2_ci == (0.0, 0.0)


def test_model_refits_a_subset_of_the_table():
    """Results carry no inputs: a refit is the model fitting a transformed table."""
    from metak.effects import Effect, EffectTable
    from metak.estimators.model import Model

    y, v = [0.1, 0.5, 0.3, 0.9], [0.01, 0.02, 0.03, 0.05]
    table = EffectTable("MD", tuple(Effect(f"t{i}", f"T{i}", "e", "c", a, b, {}) for i, (a, b) in enumerate(zip(y, v))))
    model = Model("PM", "hksj")
    r2 = model.fit(table.subset([True, True, False, True]))
    ref = metak.fit([0.1, 0.5, 0.9], [0.01, 0.02, 0.05], method="PM", test="hksj")
    assert r2.k == 3 and r2.method == "PM" and r2.test == "hksj"
    assert r2.estimate == ref.estimate and r2.tau2 == ref.tau2
    assert not hasattr(r2, "refit") and not hasattr(r2, "yi")
    shifted = model.fit(table.replace(yi=[x + 1 for x in y]))
    assert abs(shifted.estimate - (model.fit(table).estimate + 1)) < 1e-12


def test_vocabularies_are_complete():
    """Completeness: the measure codes, escalc functions, axis labels and schema enums agree."""
    import json
    from pathlib import Path

    from metak import effects, spec

    assert set(effects.MEASURES) == set(effects.MEASURE_LABELS)
    schema = json.loads((Path(metak.__file__).parent / "schema" / "results.schema.json").read_text())
    ma = schema["properties"]["meta_analyses"]["items"]["properties"]
    assert set(ma["measure"]["enum"]) == set(effects.MEASURES)
    assert set(ma["model"]["properties"]["method"]["enum"]) == set(METHODS)
    assert set(ma["model"]["properties"]["cc"]["properties"]["to"]["enum"]) == set(effects.CC_TO)
    from metak.records import arm_data

    assert set(arm_data.CONTRAST_MEASURES) == set(effects.MEASURES)   # a contrast may be any measure
    assert spec.FIGURE_KINDS


def test_spec_figure_kinds_are_the_plot_kinds():
    from metak import plots, spec

    assert tuple(spec.FIGURE_KINDS) == tuple(plots.KINDS)


def test_batch_rows_with_one_study_follow_the_single_study_rule():
    b = metak.fit_batch([[0.4, np.nan], [0.1, 0.3]], [[0.04, np.nan], [0.01, 0.02]], test="hksj")
    r = metak.fit([0.4], [0.04], test="hksj")
    assert b.ci_lower[0] == pytest.approx(r.ci_lower) and np.isnan(b.df[0]) and b.df[1] == 1


@pytest.mark.parametrize("measure,method", [("OR", "MH"), ("RR", "MH"), ("RD", "MH"), ("OR", "PETO")])
def test_degenerate_tables_get_the_reason_in_words_and_no_runtime_warning(measure, method):
    import warnings

    from metak.effects import ContinuityCorrection, escalc_binary

    t = np.array([[0, 10, 0, 10], [0, 5, 0, 7]], float)
    yi, vi = escalc_binary(measure, *t.T, ContinuityCorrection(0.5, "only0", True))
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(MetakError, match="every table has no events in both arms, or only events"):
            fit_tables(t, yi, vi, measure=measure, method=method)
        # a table with a missing count is left out, as fit() leaves out a non-finite pair
        t2 = np.array([[3, 7, 2, 8], [np.nan, 5, 1, 9], [4, 6, 2, 8]], float)
        y2, v2 = escalc_binary(measure, *t2.T, ContinuityCorrection())
        r = fit_tables(t2, y2, v2, measure=measure, method=method)
        assert r.k == 2 and any("missing counts" in w for w in r.warnings)
        assert len(r.weights) == 3 and np.isnan(r.weights[1]) and abs(np.nansum(r.weights) - 100) < 1e-9

"""The middle layer end to end: records -> EffectTable -> Model -> meta-regression / subgroups.

The BCG example (docs/examples/bcg: dat.bcg as 13 trial records) is run through the whole
pipeline and compared with metafor's ``rma(yi, vi, mods = ~ ablat)`` and separate subgroup
fits (tests/reference/metafor_regression_reference.json); bad specs must fail with the spec
line, never a traceback.
"""

from __future__ import annotations

import json
import math
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import numpy as np
import pytest

import metak
from metak.effects import Effect, EffectTable
from metak.effects.design import design_matrix
from metak.errors import InvalidSpec, MetakError
from metak.estimators.model import Model

ROOT = Path(__file__).resolve().parent.parent
BCG = ROOT / "docs" / "examples" / "bcg"
REF = json.loads((ROOT / "tests" / "reference" / "metafor_regression_reference.json").read_text())
CASES = {c["id"]: c for c in REF["regression_cases"]}
SUB = {c["id"]: c for c in REF["subgroup_cases"]}
TOL = 1e-6


@pytest.fixture()
def bcg(tmp_path):
    """A writable copy of the BCG example (trials/ and a spec folder)."""
    shutil.copytree(BCG / "trials", tmp_path / "trials")
    (tmp_path / "analyses").mkdir()
    return tmp_path


def write_spec(root, body):
    p = root / "analyses" / "s.yaml"
    p.write_text(textwrap.dedent(body))
    return p


HEAD = """\
    metak: 1
    title: t
    trials: ../trials
    meta_analyses:
      - id: m
        outcome: tb
        measure: RR
"""


def _by_label(ma):
    """metafor's case order is dat.bcg's row order: map study labels to reference rows."""
    return [s["label"] for s in ma["studies"]]


@pytest.mark.parametrize("method,test", [("REML", "z"), ("DL", "knha"), ("PM", "z"), ("FE", "z")])
def test_bcg_latitude_pipeline_matches_metafor(bcg, method, test):
    p = write_spec(bcg, HEAD + f"        method: {method}\n        test: {test}\n        moderators: [latitude]\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    ref = CASES[f"bcg_ablat_{method}_{test}"]
    reg = ma["meta_regression"]
    assert [c["name"] for c in reg["coefficients"]] == ["intercept", "latitude"]
    for c, b, se in zip(reg["coefficients"], ref["b"], ref["se"]):
        assert abs(c["estimate"] - b) < TOL and abs(c["se"] - se) < TOL
    assert abs(reg["qm"] - ref["qm"]) < TOL and abs(reg["qe"] - ref["qe"]) < TOL
    assert abs((reg["tau2"] or 0.0) - ref["tau2"]) < TOL
    assert abs(reg["r2"] - ref["r2"]) < 1e-4
    # the studies' yi are escalc's RR, the same set as metafor's (order may differ)
    assert sorted(round(s["yi"], 10) for s in ma["studies"]) == sorted(round(y, 10) for y in ref["yi"])


def test_bcg_categorical_moderator_is_dummy_coded_against_the_first_level(bcg):
    p = write_spec(bcg, HEAD + "        moderators: [allocation]\n")
    reg = metak.analyze(p)["meta_analyses"][0]["meta_regression"]
    ref = CASES["bcg_alloc_REML_z"]
    assert [c["name"] for c in reg["coefficients"]] == ["intercept", "allocation=random", "allocation=systematic"]
    for c, b in zip(reg["coefficients"], ref["b"]):
        assert abs(c["estimate"] - b) < TOL
    assert reg["qm_df"] == 2 and abs(reg["qm_p"] - ref["qm_p"]) < TOL


@pytest.mark.parametrize("method,test", [("REML", "z"), ("REML", "knha"), ("DL", "z"), ("FE", "z")])
def test_bcg_subgroups_pipeline_match_metafor(bcg, method, test):
    p = write_spec(bcg, HEAD + f"        method: {method}\n        test: {test}\n        subgroups: allocation\n")
    sub = metak.analyze(p)["meta_analyses"][0]["subgroups"]
    ref = SUB[f"bcg_by_alloc_{method}_{test}"]
    assert [g["value"] for g in sub["groups"]] == [f["value"] for f in ref["fits"]]
    for g, f in zip(sub["groups"], ref["fits"]):
        assert g["k"] == f["k"] and abs(g["estimate"] - f["estimate"]) < TOL and abs(g["se"] - f["se"]) < TOL
    assert abs(sub["q_between"] - ref["cochrane"]["q_between"]) < TOL
    if method != "FE":
        assert abs(sub["mixed_effects"]["qm"] - ref["mixed_qm"]["qm"]) < TOL
    assert len(sub["values"]) == 13


def test_unknown_moderator_is_a_spec_error_with_its_line_and_a_hint(bcg):
    p = write_spec(bcg, HEAD + "        moderators: [latitude, lattitude]\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    (problem,) = exc.value.problems
    assert problem.line == 8 and problem.file.endswith("s.yaml")
    assert "'lattitude' is not a characteristic" in problem.message and "did you mean 'latitude'" in problem.message


def test_unknown_subgroup_and_order_names_fail_with_their_lines(bcg):
    p = write_spec(bcg, HEAD + "        subgroups: alocation\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    assert exc.value.problems[0].line == 8 and "did you mean 'allocation'" in exc.value.problems[0].message
    p = write_spec(bcg, HEAD + "        order: yeer\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    assert exc.value.problems[0].line == 8 and "did you mean 'year'" in exc.value.problems[0].message


def test_a_moderator_missing_in_some_trials_excludes_them_with_the_reason(bcg):
    f = bcg / "trials" / "aronson1948.yaml"
    f.write_text(f.read_text().replace("  latitude: 44            # absolute latitude of the study location (degrees)\n", ""))
    p = write_spec(bcg, HEAD + "        moderators: [latitude]\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    reg = ma["meta_regression"]
    assert reg["k"] == 12 and ma["k"] == 13
    assert reg["excluded"] == [{"trial": "aronson1948", "label": "Aronson 1948",
                                "reason": "moderator 'latitude' not recorded for this trial; left out of the meta-regression",
                                "reason_code": "missing_moderator"}]
    assert any("Aronson 1948: moderator 'latitude' not recorded" in w for w in ma["warnings"])
    # the same as metafor on the other 12 studies
    ref = CASES["bcg_ablat_REML_z"]
    keep = [i for i, row in enumerate(ref["X"]) if not (row[1] == 44 and abs(ref["yi"][i] - (-0.889311333920205)) < 1e-9)]
    direct = metak.fit_regression(np.array(ref["yi"])[keep], np.array(ref["vi"])[keep], np.array(ref["X"])[keep])
    assert abs(reg["coefficients"][1]["estimate"] - direct.coefficients[1].estimate) < 1e-12


def test_a_constant_moderator_is_a_clear_error(bcg, tmp_path):
    p = write_spec(bcg, HEAD + "        moderators: [design]\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    msg = str(exc.value)
    assert "s.yaml:8" in msg and "moderator 'design' has one value ('parallel')" in msg


def test_more_coefficients_than_trials_is_a_clear_error(bcg):
    p = write_spec(bcg, HEAD + "        select: {trials: [aronson1948, ferguson1949]}\n        moderators: [latitude]\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    assert "2 coefficient(s) (intercept, latitude) but only 2 stud(y/ies)" in str(exc.value)


def test_cli_bad_moderator_exits_1_without_traceback_and_writes_nothing(bcg):
    p = write_spec(bcg, HEAD + "        moderators: [lattitude]\n")
    out = bcg / "out"
    r = subprocess.run([sys.executable, "-m", "metak.cli", "analyze", str(p), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and "did you mean 'latitude'" in r.stderr
    assert not out.exists()


def test_spec_rejects_regression_with_mh_and_checks_permutations(bcg):
    p = write_spec(bcg, HEAD + "        method: MH\n        moderators: [latitude]\n        permutations: 0\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    msgs = [q.message for q in exc.value.problems]
    assert any("method MH has no meta-regression" in m for m in msgs)
    assert any("at least 1" in m or "1 or more" in m or ">= 1" in m for m in msgs), msgs


def test_order_year_sorts_rows_and_ties_by_label(bcg):
    p = write_spec(bcg, HEAD + "        order: year\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    years = [int(s["label"].rsplit(" ", 1)[1]) for s in ma["studies"]]
    assert years == sorted(years)
    assert abs(sum(s["weight"] for s in ma["studies"]) - 100) < 1e-9


def test_permutation_test_is_seeded_and_bounded(bcg):
    p = write_spec(bcg, HEAD + "        moderators: [latitude]\n        permutations: {iterations: 200, seed: 7}\n")
    a = metak.analyze(p)["meta_analyses"][0]["meta_regression"]
    b = metak.analyze(p)["meta_analyses"][0]["meta_regression"]
    assert a == b
    pp = a["coefficients"][1]["p_permutation"]
    assert 1 / 200 <= pp <= 1 and a["permutation"] == {"permutations": 200, "exact": False, "qm_p": pp}


# --------------------------------------------------------------------------- registry


def test_leave_one_out_by_trial_drops_every_comparison_of_a_trial():
    rows = tuple(Effect(t, f"{t} {j}", "e", "c", y, 0.04, {}) for t, j, y in
                 (("a", 1, 0.1), ("a", 2, 0.3), ("b", 1, 0.5), ("c", 1, 0.2)))
    table = EffectTable("MD", rows)
    from metak.sensitivity.leave_one_out import leave_one_out

    by_trial = leave_one_out(table, Model("FE"), by="trial")
    assert [r.omitted for r in by_trial.rows] == ["a", "b", "c"]
    assert by_trial.rows[0].k == 2 and abs(by_trial.rows[0].estimate - 0.35) < 1e-12
    assert [r.k for r in leave_one_out(table, Model("FE")).rows] == [3, 3, 3, 3]


def test_registry_parameters_are_checked_with_their_line(bcg):
    p = write_spec(bcg, HEAD + "        sensitivity: [{leave_one_out: {by: study}}, {blinding: {x: 1}}]\n")
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    msgs = {(q.path, q.message) for q in exc.value.problems}
    assert ("meta_analyses[0].sensitivity[0].leave_one_out.by", "'study' is not one of: comparison, trial") in msgs
    assert any(path == "meta_analyses[0].sensitivity[1].blinding.x" and m.startswith("unknown parameter of blinding")
               for path, m in msgs)


def test_registry_drives_the_spec_the_renderer_and_the_help():
    from metak import registry, spec
    from metak.plots import KINDS

    assert spec.SENSITIVITY_KINDS == tuple(registry.SENSITIVITY) and KINDS == tuple(registry.FIGURES)
    for kind in registry.SENSITIVITY.values():
        assert callable(kind.runner())
    for fig in registry.FIGURES.values():
        assert callable(fig.plotter())
    r = subprocess.run([sys.executable, "-m", "metak.cli", "analyze", "--help"], capture_output=True, text=True)
    assert all(name in r.stdout for name in registry.SENSITIVITY_KINDS + registry.FIGURE_KINDS)


# --------------------------------------------------------------------------- table, design, model


def _table():
    rows = (Effect("a", "A", "e", "c", 0.2, 0.04, {}, table=(4, 6, 2, 8), direction="higher_is_better",
                   covariates={"dose": 0.5, "site": "x"}),
            Effect("b", "B", "e", "c", -0.1, 0.09, {}, table=(3, 7, 5, 5), direction="lower_is_better",
                   covariates={"dose": 1.0, "site": "y"}),
            Effect("c", "C", "e", "c", 0.4, 0.05, {}, table=(6, 4, 3, 7), direction="higher_is_better",
                   covariates={"dose": 0.5, "site": "y", "flag": True}))
    return EffectTable("OR", rows)


def test_effect_table_is_frozen_and_transforms_into_new_tables():
    t = _table()
    with pytest.raises(Exception):
        t.measure = "RR"
    h, notes = t.harmonise()
    assert list(h.yi) == [0.2, 0.1, 0.4] and h.rows[1].table == (7, 3, 5, 5) and len(notes) == 1
    assert "reciprocal" in notes[0] and list(t.yi) == [0.2, -0.1, 0.4]
    assert t.subset([0, 2]).labels == ("A", "C") and t.subset(lambda r: r.vi < 0.06).k == 2
    r = t.replace(yi=[1, 2, 3], vi=[0.1, 0.2, 0.3])
    assert list(r.yi) == [1, 2, 3] and list(t.vi) == [0.04, 0.09, 0.05]
    with pytest.raises(MetakError):
        t.replace(yi=[1])
    assert t.column("flag") == [None, None, True]


def test_design_matrix_codes_text_and_booleans_and_drops_missing_rows():
    from dataclasses import replace

    t = _table()
    extra = Effect("d", "D", "e", "c", 0.0, 0.05, {}, covariates={"dose": 2.0, "site": "x", "flag": False})
    t4 = replace(t, rows=t.rows + (extra,))
    d = design_matrix(t4, ["dose", "site"])
    assert d.names == ("intercept", "dose", "site=y")
    np.testing.assert_array_equal(d.X, [[1, 0.5, 0], [1, 1.0, 1], [1, 0.5, 1], [1, 2.0, 0]])
    with pytest.raises(MetakError, match="more studies than coefficients"):
        design_matrix(t, ["dose", "site"])
    d = design_matrix(t4, ["flag"], intercept=False)
    assert d.names == ("flag=true",) and list(d.keep) == [False, False, True, True]
    assert [e[0] for e in d.excluded] == ["a", "b"] and "not recorded" in d.excluded[0][2]


def test_model_validates_settings_when_built_and_dispatches():
    with pytest.raises(MetakError, match="method 'REMLL'"):
        Model("REMLL")
    with pytest.raises(MetakError, match="hksj"):
        Model("MH", "hksj")
    t = _table().harmonise()[0]
    mh = Model("MH").fit(t)
    assert mh.method == "MH" and mh.k == 3
    with pytest.raises(MetakError, match="no meta-regression"):
        Model("MH").fit(t, np.ones((3, 1)))
    reg = Model("FE").fit(t, np.column_stack([np.ones(3), [0.5, 1.0, 0.5]]), names=("intercept", "dose"))
    assert reg.names == ("intercept", "dose") and reg.tau2 is None


# --------------------------------------------------------------------------- API


def test_escalc_takes_a_dataframe_and_matches_metafor():
    pd = pytest.importorskip("pandas")
    ref = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())
    case = next(c for c in ref["cases"] if c["id"] == "bcg_RR_REML_z")
    d = ref["datasets"]["bcg"]
    df = pd.DataFrame({"tpos": d["ai"], "tneg": d["bi"], "cpos": d["ci"], "cneg": d["di"]})
    out = metak.escalc(df, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    np.testing.assert_allclose(out["yi"], case["yi"], atol=1e-12)
    np.testing.assert_allclose(out["vi"], case["vi"], atol=1e-12)
    assert "yi" not in df.columns
    with pytest.raises(MetakError, match="'tpoz' is not a column"):
        metak.escalc(df, "RR", ai="tpoz", bi="tneg", ci="cpos", di="cneg")


def test_result_records_print_and_convert():
    r = metak.fit([0.1, 0.5, 0.3, 0.9], [0.01, 0.02, 0.03, 0.05], method="REML", test="hksj")
    assert repr(r).startswith("MetaResult(method='REML', test='hksj', k=4, estimate=")
    text = r.summary()
    assert "tau² estimator: REML" in text and "tval" in text and f"{r.estimate:.4f}" in text
    frame = r.to_frame()
    assert frame.loc[0, "estimate"] == r.estimate and frame.loc[0, "tau2_ci_upper"] == r.tau2_ci[1]
    b = metak.fit_batch([[0.1, 0.5, 0.3, 0.9], [0.2, 0.1, np.nan, np.nan]], [[0.01, 0.02, 0.03, 0.05]] * 2,
                        method="REML", test="hksj")
    d = b.to_dict()
    for key in ("estimate", "se", "tau2", "tau", "i2", "q", "q_df", "tau2_ci"):
        assert len(d[key]) == 2
    assert d["estimate"][0] == pytest.approx(r.estimate, abs=1e-12) and d["q_df"] == [3, 1]
    reg = metak.fit_regression([0.1, 0.5, 0.3, 0.9], [0.01, 0.02, 0.03, 0.05],
                               [[1, 1], [1, 2], [1, 3], [1, 4]], names=("intercept", "dose"))
    assert "Test of moderators: QM(df = 1)" in reg.summary() and "dose" in str(reg)


def test_results_json_numbers_have_12_significant_digits():
    """Contract section 5: written numbers are rounded to 12 significant digits (the last bits
    of a sum depend on the machine); the returned document keeps full precision."""
    import re

    from metak.results_json import dumps

    text = dumps({"a": 1 / 3, "b": [2 / 3, 1e-20 / 3, 123456789.123456789], "c": {"d": 7, "e": None}})
    doc = json.loads(text)
    assert doc["a"] == 0.333333333333 and doc["b"][1] == 3.33333333333e-21 and doc["b"][2] == 123456789.123
    assert doc["c"] == {"d": 7, "e": None}
    for path in [*ROOT.glob("results/*/results.json"), BCG / "results" / "results.json"]:
        for num in re.findall(r"(?<![\w.\"])-?\d+\.\d+(?:e[-+]?\d+)?", path.read_text()):
            mantissa = num.lstrip("-").split("e")[0].replace(".", "").lstrip("0")
            assert len(mantissa) <= 12, (path, num)


def test_schema_holds_the_registry_fragments_and_validates_the_committed_results():
    jsonschema = pytest.importorskip("jsonschema")
    from metak.schema.generate import sensitivity_fragments

    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    sens = schema["properties"]["meta_analyses"]["items"]["properties"]["sensitivity"]["properties"]
    assert sens == sensitivity_fragments()  # generated from the records: python -m metak.schema.generate
    for path in [*ROOT.glob("results/*/results.json")]:
        jsonschema.validate(json.loads(path.read_text()), schema)
    doc = json.loads((BCG / "results" / "results.json").read_text())
    jsonschema.validate(doc, schema)
    broken = json.loads(json.dumps(doc))
    del broken["meta_analyses"][0]["meta_regression"]["qm"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_a_bayes_block_reports_every_problem_with_its_line(bcg):
    p = write_spec(bcg, HEAD + """\
        bayes:
          likelihood: binomal
          prior:
            tau: {dist: half_normal, sigma: -1}
          draws: 3
          engine: exactly
    """)
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    got = {(q.line, q.path) for q in exc.value.problems}
    assert {(9, "meta_analyses[0].bayes.likelihood"), (11, "meta_analyses[0].bayes.prior.tau.sigma"),
            (12, "meta_analyses[0].bayes.draws"), (13, "meta_analyses[0].bayes.engine")} <= got, got
    assert any("did you mean 'binomial'" in q.message for q in exc.value.problems)


def test_bang_index_is_a_moderator_equal_to_the_library_value(bcg):
    from metak.sensitivity.blinding_index import bang

    f = bcg / "trials" / "aronson1948.yaml"
    f.write_text(f.read_text().replace("arms:\n", """blinding:
  masking: double
  guesses:
    - {arm: bcg, assessor: participant, guessed_experimental: 48, guessed_control: 4, dont_know: 330}
    - {arm: control, assessor: participant, guessed_experimental: 22, guessed_control: 30, dont_know: 319}
arms:
""", 1))
    p = write_spec(bcg, HEAD + "        subgroups: allocation\n        sensitivity: [blinding]\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    trials = metak.load_trials(bcg / "trials")
    from metak.effects.covariates import covariates

    t = next(t for t in trials if t.id == "aronson1948")
    cov = covariates(t, ("bcg",), None)
    # the contract's check: Bang 0.115 for the E arm of [[48, 22], [4, 30], [330, 319]]
    assert cov["bang"] == pytest.approx(bang(48, 4, 330)["estimate"]) == pytest.approx(0.1152, abs=1e-4)
    (idx,) = ma["sensitivity"]["blinding"]["indices"]
    assert idx["bang"]["bcg"]["estimate"] == pytest.approx(0.1152, abs=1e-4)
    assert idx["bang"]["control"]["estimate"] == pytest.approx(0.0216, abs=1e-3)
    assert idx["james"]["estimate"] == pytest.approx(0.896, abs=1e-3)


def test_an_outcome_typo_is_a_spec_error_with_a_hint(bcg):
    p = write_spec(bcg, HEAD.replace("outcome: tb", "outcome: tbb"))
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    (q,) = exc.value.problems
    assert q.line == 6 and "no selected trial has outcome 'tbb' (did you mean 'tb'?); their outcomes: tb" in q.message


def test_a_measure_that_fits_no_trial_is_a_spec_error(bcg):
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: SMD"))
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    (q,) = exc.value.problems
    assert q.line == 7 and "measure SMD fits none of the selected trials' data" in q.message
    assert "aronson1948: outcome 'tb' is binary; measure SMD needs continuous data" in q.message


def test_mh_risk_difference_keeps_double_zero_tables_as_metafor(bcg):
    """metafor's rma.mh(measure = "RD") default (drop00 = c(TRUE, FALSE)) on the 'zeros' data:
    the double-zero table stays in the estimate, is left out of Q."""
    ref_all = json.loads((ROOT / "tests" / "reference" / "metafor_reference.json").read_text())
    case = next(c for c in ref_all["cases"] if c["id"] == "zeros_RD_MH_z")
    ds = ref_all["datasets"]["zeros"]
    for f in (bcg / "trials").glob("*.yaml"):
        f.unlink()
    template = (BCG / "trials" / "aronson1948.yaml").read_text()
    for i, (a, b, c, d) in enumerate(zip(ds["ai"], ds["bi"], ds["ci"], ds["di"])):
        text = template.replace("aronson1948", f"z{i}").replace('"Aronson 1948"', f'"Z {i}"')
        text = text.replace("bcg:     {events: 4, total: 123}", f"bcg:     {{events: {a}, total: {a + b}}}")
        text = text.replace("control: {events: 11, total: 139}", f"control: {{events: {c}, total: {c + d}}}")
        (bcg / "trials" / f"z{i}.yaml").write_text(text)
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: RD") + "        method: MH\n        test: z\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    assert ma["k"] == 6 and abs(ma["estimate"] - case["estimate"]) < 1e-9 and abs(ma["se"] - case["se"]) < 1e-9
    assert abs(ma["q"] - case["q"]) < 1e-9 and ma["q_df"] == case["q_df"] == 4
    assert any("kept in the MH risk difference" in w for w in ma["warnings"])


def test_python_api_errors_are_plain_metak_errors():
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame({"yi": [0.1, 0.2], "vi": [0.01, 0.02]})
    with pytest.raises(MetakError, match="analyze takes the path of an analysis spec"):
        metak.analyze({"title": "x"})
    with pytest.raises(MetakError, match=r"yi must be numbers .* not a DataFrame; for a DataFrame pass df\['yi'\]"):
        metak.fit(df, "vi")
    with pytest.raises(MetakError, match="trial records are read from paths"):
        metak.load_trials(df)
    with pytest.raises(MetakError, match="could not convert string to float: 'x'"):
        metak.fit([1, 2, "x"], [1, 1, 1])
    with pytest.raises(MetakError, match="vi must be numbers"):
        metak.fit_batch([[0.1, 0.2]], "vi")
    assert metak.fit(df["yi"], df["vi"]).k == 2


def _tables_corpus(root, tables, latitudes=None):
    for f in (root / "trials").glob("*.yaml"):
        f.unlink()
    template = (BCG / "trials" / "aronson1948.yaml").read_text()
    for i, (a, b, c, d) in enumerate(tables):
        text = template.replace("aronson1948", f"z{i}").replace('"Aronson 1948"', f'"Z {i}"')
        text = text.replace("bcg:     {events: 4, total: 123}", f"bcg:     {{events: {a}, total: {a + b}}}")
        text = text.replace("control: {events: 11, total: 139}", f"control: {{events: {c}, total: {c + d}}}")
        if latitudes is not None:
            text = text.replace("latitude: 44 ", f"latitude: {latitudes[i]} ")
        (root / "trials" / f"z{i}.yaml").write_text(text)


def test_refits_without_an_estimate_do_not_stop_the_analysis(bcg):
    """Found in review: an MH refit that is undefined (leave-one-out, a subgroup) used to abort
    every meta-analysis; it is a null row with the reason. Double-zero rows of an MH risk
    difference sort last by effect and stay out of the Bayesian model."""
    _tables_corpus(bcg, [(1, 9, 3, 7), (0, 10, 2, 8), (2, 8, 5, 5)], latitudes=[1, 2, 1])
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: OR") +
                   "        method: MH\n        test: z\n        sensitivity: [leave_one_out]\n        subgroups: latitude\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    assert ma["estimate"] is not None
    loo = {e["omitted"]: e for e in ma["sensitivity"]["leave_one_out"]}
    assert all(e["estimate"] is not None for e in loo.values())
    _tables_corpus(bcg, [(1, 9, 3, 7), (0, 10, 0, 10), (2, 8, 5, 5)], latitudes=[1, 2, 1])
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: RD") +
                   "        method: MH\n        test: z\n        order: effect\n        sensitivity: [leave_one_out]\n"
                   "        subgroups: latitude\n        bayes: {prior: {tau: {dist: half_normal, sigma: 0.5}}}\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    assert [s["yi"] for s in ma["studies"]] == sorted(s["yi"] for s in ma["studies"] if s["yi"] is not None) + [None]
    g2 = next(g for g in ma["subgroups"]["groups"] if g["value"] == "2")
    assert g2["estimate"] is None and g2["note"].startswith("not estimable: every table has no events")
    assert ma["subgroups"]["q_between"] is None  # one estimable group: no test
    assert ma["bayes"]["mu"]["median"] is not None
    assert any("left out of the Bayesian model" in w for w in ma["warnings"])
    from metak.plots import forest, leave_one_out as loo_plot, subgroup_forest

    loo_plot(ma)
    subgroup_forest(ma)
    # the forest draws the double-zero row without a square, "Not estimable", and says why (it
    # refused the whole figure: "needs an effect 'yi' for every study")
    art = forest(ma)
    blank = [i for i in art.study_rows if art.cells[(i, "ci")].get_text() == "Not estimable"]
    assert len(blank) == 1 and (blank[0], "effect") not in art.marks
    assert len([i for i in art.study_rows if (i, "effect") in art.marks]) == len(ma["studies"]) - 1
    assert any(t.get_text().startswith("Not estimable: no events") for t in art.footer)


def test_leave_one_out_row_without_an_estimate_says_why(bcg):
    _tables_corpus(bcg, [(1, 9, 3, 7), (0, 10, 2, 8)])
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: OR") +
                   "        method: MH\n        test: z\n        sensitivity: [leave_one_out]\n")
    loo = {e["omitted"]: e for e in metak.analyze(p)["meta_analyses"][0]["sensitivity"]["leave_one_out"]}
    assert loo["z0"]["estimate"] is None and loo["z0"]["k"] == 1
    assert "the Mantel-Haenszel odds ratio is undefined" in loo["z0"]["note"]
    assert loo["z1"]["estimate"] is not None and "note" not in loo["z1"]


CUM = json.loads((ROOT / "tests" / "reference" / "metafor_cumulative_reference.json").read_text())["cases"]


@pytest.mark.parametrize("case", CUM, ids=[c["id"] for c in CUM])
def test_cumulative_matches_metafor_cumul(bcg, case):
    """metafor's cumul(res, order = order(year, author)) on dat.bcg (the R call is in the JSON)."""
    test = "hksj" if case["test"] == "knha" else case["test"]
    p = write_spec(bcg, HEAD + f"        method: {case['method']}\n        test: {test}\n"
                              "        sensitivity: [cumulative]\n        figures: [cumulative]\n")
    cum = metak.analyze(p)["meta_analyses"][0]["sensitivity"]["cumulative"]
    assert cum["order"] == "year"
    steps = cum["steps"]
    assert [s["label"] for s in steps] == [f"{a} {y}" for a, y in zip(case["author"], case["year"])]
    assert [s["k"] for s in steps] == list(range(1, 14))
    for s, est, se, lo, hi, t2 in zip(steps, case["estimate"], case["se"], case["ci_lower"], case["ci_upper"],
                                     case["tau2"]):
        if s["k"] == 1 and test == "hksj":
            continue  # one study: metak keeps the study's z interval (contract), metafor's t on 0 df is undefined
        assert abs(s["estimate"] - est) < 1e-6 and abs(s["se"] - se) < 1e-6
        assert abs(s["ci_lower"] - lo) < 1e-6 and abs(s["ci_upper"] - hi) < 1e-6
        if s["k"] > 1 and case["method"] != "FE":
            assert abs(s["tau2"] - t2) < 1e-6


def test_cumulative_forest_draws_each_step(bcg):
    from metak.plots import cumulative

    p = write_spec(bcg, HEAD + "        sensitivity: [{cumulative: {order: latitude}}]\n")
    ma = metak.analyze(p)["meta_analyses"][0]
    steps = ma["sensitivity"]["cumulative"]["steps"]
    assert ma["sensitivity"]["cumulative"]["order"] == "latitude"
    assert abs(steps[-1]["estimate"] - ma["estimate"]) < 1e-12
    art = cumulative(ma, size="double_column")
    assert len(art.rows("study")) == 12 and len(art.rows("pooled")) == 1
    (last,) = art.rows("pooled")
    assert art.cells[(last, "ci")].get_text() == __import__("metak.plots._format", fromlist=["x"]).effect_ci(
        math.exp(ma["estimate"]), math.exp(ma["ci_lower"]), math.exp(ma["ci_upper"]), ratio=True)
    p = write_spec(bcg, HEAD + "        sensitivity: [{cumulative: {order: 3}}]\n")
    with pytest.raises(InvalidSpec, match="must be text"):
        metak.analyze(p)

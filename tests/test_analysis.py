"""`metak analyze`: spec validation, comparisons from arms, results.json against the contract."""

from __future__ import annotations

import json
import subprocess
import textwrap
from pathlib import Path

import jsonschema
import numpy as np
import pytest

import metak
from metak.errors import InvalidSpec
from metak.estimators import fit

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())

MULTI = textwrap.dedent("""\
    metak: 1
    id: multi2024
    title: "Three-arm dose trial (synthetic test data)"
    citation: {authors: [Smith A], year: 2024}
    condition: depression
    design: parallel
    arms:
      - {id: low, label: "Low dose", role: experimental, intervention: ketamine, randomized: 30}
      - {id: high, label: "High dose", role: experimental, intervention: ketamine, randomized: 30}
      - {id: pbo, label: "Saline", role: control, control_type: placebo, intervention: saline, randomized: 30}
    outcomes:
      - id: response
        label: Response
        type: binary
        direction: higher_is_better
        data:
          low: {events: 12, total: 30}
          high: {events: 18, total: 30}
          pbo: {events: 6, total: 30}
        source: {where: "synthetic"}
      - id: nonresponse
        label: Non-response
        type: binary
        direction: lower_is_better
        data:
          low: {events: 18, total: 30}
          pbo: {events: 24, total: 30}
        source: {where: "synthetic"}
    """)

TWO = textwrap.dedent("""\
    metak: 1
    id: two{n}
    title: "Two-arm trial {n} (synthetic test data)"
    citation: {{authors: [Jones B], year: 20{n}}}
    condition: depression
    design: parallel
    arms:
      - {{id: ket, label: Ketamine, role: experimental, intervention: ketamine, randomized: 40, completed: {ce}}}
      - {{id: ctl, label: Control, role: control, control_type: {ct}, intervention: x, randomized: 40, completed: {cc}}}
    outcomes:
      - id: response
        label: Response
        type: binary
        direction: higher_is_better
        data:
          ket: {{events: {e}, total: 40}}
          ctl: {{events: {c}, total: 40}}
        source: {{where: "synthetic"}}
    """)


@pytest.fixture
def project(tmp_path):
    trials = tmp_path / "trials"
    trials.mkdir()
    (trials / "multi2024.yaml").write_text(MULTI)
    for n, e, c, ct, ce, cc in ((10, 20, 10, "placebo", 38, 30), (11, 15, 12, "active_placebo", 39, 35),
                                (12, 25, 9, "placebo", 36, 31)):
        (trials / f"two{n}.yaml").write_text(TWO.format(n=n, e=e, c=c, ct=ct, ce=ce, cc=cc))
    (tmp_path / "analyses").mkdir()
    return tmp_path


def spec(project, body, name="x"):
    p = project / "analyses" / f"{name}.yaml"
    p.write_text(textwrap.dedent(body))
    return p


BASIC = """\
    metak: 1
    title: "Test analysis"
    trials: ../trials
    defaults: {method: REML, test: hksj}
    meta_analyses:
      - id: response
        outcome: response
        measure: OR
        sensitivity: [leave_one_out, active_placebo]
      - id: dropout
        dropout: true
"""


def test_results_match_the_contract_schema_and_the_engine(project):
    doc = metak.analyze(spec(project, BASIC))
    jsonschema.validate(doc, SCHEMA)
    ma = doc["meta_analyses"][0]
    # the multi-arm trial is split into two comparisons sharing the control group
    # rows in label order (the contract's default `order:`), a trial's arms in the record's order
    labels = [s["label"] for s in ma["studies"]]
    assert labels == sorted(labels[:3]) + ["Smith 2024 (Low dose)", "Smith 2024 (High dose)"]
    assert ma["studies"][3]["data"]["pbo"] == {"events": 3, "total": 15}
    assert ma["k"] == 5 and ma["n_participants"] == 90 + 3 * 80
    assert abs(sum(s["weight"] for s in ma["studies"]) - 100) < 1e-9
    ref = fit([s["yi"] for s in ma["studies"]], [s["vi"] for s in ma["studies"]], method="REML", test="hksj")
    assert ma["estimate"] == ref.estimate and ma["tau2_ci"] == list(ref.tau2_ci)
    assert ma["df"] == 4 and ma["model"]["cc"] == {"add": 0.5, "to": "only0", "drop00": False}
    loo = ma["sensitivity"]["leave_one_out"]
    assert len(loo) == 5 and loo[3]["omitted"] == "multi2024" and loo[3]["label"] == "Smith 2024 (Low dose)"
    ap = ma["sensitivity"]["active_placebo"]
    assert {s["control_type"] for s in ap["subgroups"]} == {"placebo", "active_placebo"}
    assert ap["df_between"] == 1 and 0 <= ap["p_between"] <= 1
    # dropout: randomized - completed per arm, RR by default, lower is better
    d = doc["meta_analyses"][1]
    assert d["measure"] == "RR" and d["direction"] == "lower_is_better"
    assert [s["trial"] for s in d["studies"]] == ["two10", "two11", "two12"]
    assert d["studies"][0]["data"] == {"ket": {"events": 2, "total": 40}, "ctl": {"events": 10, "total": 40}}
    assert {e["trial"] for e in d["excluded"]} == {"multi2024"}


def test_multi_arm_rules_and_arm_selection(project):
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - {id: combine, outcome: response, measure: RR, multi_arm: combine, select: {trials: [multi2024]}}
          - {id: select, outcome: response, measure: RR, multi_arm: select, select: {trials: [multi2024]}}
          - id: named
            outcome: response
            measure: RR
            select: {trials: [multi2024]}
            arms: {multi2024: {experimental: high, control: pbo}}
        """))
    comb, sel, named = doc["meta_analyses"]
    assert comb["studies"][0]["data"] == {"low + high": {"events": 30, "total": 60}, "pbo": {"events": 6, "total": 30}}
    reasons = {e["trial"]: e["reason"] for e in sel["excluded"]}
    assert sel["k"] == 0 and "multi_arm: select" in reasons["multi2024"] and sel["estimate"] is None
    assert reasons["two10"] == "left out by select: not among select.trials"
    assert named["studies"][0]["experimental"] == "high"
    assert named["studies"][0]["yi"] == pytest.approx(np.log(18 / 6))


def test_direction_is_harmonised_with_a_warning(project):
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - id: r
            outcome: response
            measure: OR
            fallback_outcomes: [{outcome: nonresponse}]
            select: {trials: [two10, multi2024]}
            arms: {multi2024: {experimental: low, control: pbo}}
        """))
    ma = doc["meta_analyses"][0]
    assert ma["direction"] == "higher_is_better"
    # multi2024 has 'response' itself; make a second spec preferring the lower-is-better outcome
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - id: r
            outcome: nonresponse
            measure: OR
            fallback_outcomes: [{outcome: response}]
            select: {trials: [two10, multi2024]}
            arms: {multi2024: {experimental: low, control: pbo}}
        """, "y"))
    ma = doc["meta_analyses"][0]
    assert ma["direction"] == "lower_is_better"  # multi2024 comes first
    s = {x["trial"]: x for x in ma["studies"]}
    assert s["two10"]["yi"] == pytest.approx(-np.log((20 / 20) / (10 / 30)))
    assert any("harmonised" in w and "two10" in w for w in ma["warnings"])


def test_complement_inverts_or_and_is_refused_for_rr(project):
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - id: r
            outcome: nonresponse
            measure: OR
            fallback_outcomes: [{outcome: response, complement: true}]
            select: {trials: [two10]}
        """))
    ma = doc["meta_analyses"][0]
    assert ma["studies"][0]["yi"] == pytest.approx(-np.log((20 / 20) / (10 / 30)))
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(project, """\
            metak: 1
            title: t
            trials: ../trials
            meta_analyses:
              - id: r
                outcome: missing_outcome
                measure: RR
                fallback_outcomes: [{outcome: response, complement: true}]
            """, "z"))
    (p,) = exc.value.problems
    assert p.path == "meta_analyses[0].fallback_outcomes[0].complement" and p.line == 8


def test_bad_spec_names_file_line_and_key(project):
    p = spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        defaults: {method: REMLL, test: knha}
        meta_analyses:
          - id: a
            outcome: response
            measure: ORR
            figures: [forrest]
          - id: b
            outcome: response
            measure: OR
            method: MH
            test: hksj
          - id: a
            outcme: response
            measure: OR
        """)
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    got = {(q.line, q.path) for q in exc.value.problems}
    assert (4, "defaults.method") in got
    assert (8, "meta_analyses[0].measure") in got
    assert (9, "meta_analyses[0].figures[0]") in got
    assert (14, "meta_analyses[1].test") in got
    assert (16, "meta_analyses[2].outcme") in got
    assert any("did you mean 'forest'" in q.message for q in exc.value.problems)


def test_cli_writes_byte_identical_results_and_nothing_on_failure(project, metak_cmd):
    good = spec(project, BASIC)
    out = project / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    runs = []
    for _ in range(2):
        p = subprocess.run([metak_cmd, "analyze", str(good), "--out", str(out), "--no-figures"],
                           capture_output=True, text=True)
        assert p.returncode == 0, p.stderr
        runs.append((out / "results.json").read_bytes())
    assert runs[0] == runs[1]
    assert (out / "keep.txt").read_text() == "mine"
    csv = (out / "summary.csv").read_text().splitlines()
    assert csv[0].startswith("id,outcome,measure") and len(csv) == 3
    assert "response" in p.stdout and "Q (p)" in p.stdout
    bad = spec(project, BASIC.replace("measure: OR", "measure: ODDS"), "bad")
    p = subprocess.run([metak_cmd, "analyze", str(bad), "--out", str(out), "--no-figures"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and "Traceback" not in p.stderr
    assert "bad.yaml:8: meta_analyses[0].measure: 'ODDS' is not one of" in p.stderr
    assert (out / "results.json").read_bytes() == runs[0]
    p = subprocess.run([metak_cmd, "analyze", str(bad), "--out", str(project / "new"), "--no-figures"],
                       capture_output=True, text=True)
    assert p.returncode == 1 and not (project / "new").exists()
    p = subprocess.run([metak_cmd, "analyze", str(good), "--json", "--out", str(project / "o2"), "--no-figures"],
                       capture_output=True, text=True)
    assert json.loads(p.stdout) == json.loads(runs[0])


def test_k1_and_mh_in_an_analysis(project):
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - {id: one, outcome: response, measure: OR, select: {trials: [two10]}}
          - {id: mh, outcome: response, measure: RD, method: MH, select: {trials: [two10, two11, two12]}}
        """))
    one, mh = doc["meta_analyses"]
    jsonschema.validate(doc, SCHEMA)
    assert one["k"] == 1 and one["tau2"] is None and one["i2"] is None and one["pi_lower"] is None
    assert any("k = 1" in w for w in one["warnings"])
    assert mh["model"]["cc"]["drop00"] is True and mh["tau2"] is None and mh["q_df"] == 2


def test_an_undefined_mh_estimate_is_null_with_the_reason(project, tmp_path):
    t = (project / "trials" / "two10.yaml").read_text()
    (project / "trials" / "two10.yaml").write_text(t.replace("events: 20, total: 40", "events: 0, total: 40"))
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - {id: mh, outcome: response, measure: OR, method: MH, select: {trials: [two10]}}
        """))
    ma = doc["meta_analyses"][0]
    assert ma["estimate"] is None and ma["studies"][0]["weight"] is None
    assert any("not estimable" in w for w in ma["warnings"])
    jsonschema.validate(doc, SCHEMA)


def test_names_that_match_no_trial_are_warned_about(project):
    doc = metak.analyze(spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - id: r
            outcome: response
            measure: OR
            select: {trials: [two10, tow11], condition: [depresion]}
            arms: {multi2024: {experimental: hihg, control: pbo}}
        """))
    w = "\n".join(doc["meta_analyses"][0]["warnings"])
    assert "select.trials names trial 'tow11'" in w
    assert "select.condition value 'depresion' matches no loaded trial" in w


def test_terminal_table_puts_bayes_beside_the_frequentist_fit(project, metak_cmd):
    p = spec(project, BASIC.replace("        sensitivity: [leave_one_out, active_placebo]\n",
                                    "        bayes: {likelihood: normal, seed: 1}\n"), "b")
    r = subprocess.run([metak_cmd, "analyze", str(p), "--out", str(project / "ob"), "--no-figures"],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert "Bayes (exact)" in r.stdout and "REML" in r.stdout and "P(benefit)" in r.stdout
    doc = json.loads((project / "ob" / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    assert doc["meta_analyses"][0]["bayes"]["engine"] == "exact"


def test_figures_the_spec_cannot_have_fail_at_once_with_their_line(project):
    p = spec(project, """\
        metak: 1
        title: t
        trials: ../trials
        meta_analyses:
          - id: r
            outcome: response
            measure: OR
            figures: [forest, posterior, subgroup]
        """)
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    got = {(q.line, q.path, q.message) for q in exc.value.problems}
    assert (8, "meta_analyses[0].figures[1]", "the posterior figure needs the bayes analysis (bayes:)") in got
    assert (8, "meta_analyses[0].figures[2]", "the subgroup figure needs the subgroups analysis (subgroups:) or the "
                                              "active_placebo analysis (sensitivity: [active_placebo])") in got


def test_a_figure_the_data_cannot_support_is_skipped_with_a_warning(project, metak_cmd):
    p = spec(project, BASIC.replace("sensitivity: [leave_one_out, active_placebo]",
                                    "sensitivity: [blinding]\n        figures: [forest, blinding]"), "fig")
    out = project / "of"
    r = subprocess.run([metak_cmd, "analyze", str(p), "--out", str(out)], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    ma = json.loads((out / "results.json").read_text())["meta_analyses"][0]
    assert any(w.startswith("figure 'blinding' not drawn") for w in ma["warnings"])
    assert (out / "figures" / "response-forest.pdf").exists()
    assert not (out / "figures" / "response-blinding.pdf").exists()


def test_out_must_be_a_folder_and_failures_create_nothing(project, metak_cmd):
    good = spec(project, BASIC)
    afile = project / "afile"
    afile.write_text("x")
    for target in (afile, afile / "sub"):
        r = subprocess.run([metak_cmd, "analyze", str(good), "--out", str(target), "--no-figures"],
                           capture_output=True, text=True)
        assert r.returncode == 1 and "is a file, not a folder" in r.stderr and "Traceback" not in r.stderr
    assert afile.read_text() == "x"
    bad = spec(project, BASIC.replace("trials: ../trials", "trials: ../nothere"), "nt")
    r = subprocess.run([metak_cmd, "analyze", str(bad), "--out", str(project / "deep" / "x" / "o")],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "no such file or folder" in r.stderr
    assert not (project / "deep").exists()

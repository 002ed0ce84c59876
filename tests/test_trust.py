"""Paths a deliberate mistake once slipped through: each test has an independent expected value
(worked by hand here, or a plain refit of the numbers the document lists).

Mistakes each test catches: a contrast's CI ``level`` ignored; combined arms' SD without the
between-means term; study CIs fixed at 95%; summary.csv CI columns swapped; leave-one-out
dropping the wrong study; the I²-between formula; crossover participants summed.
"""

from __future__ import annotations

import csv
import io
import math
from statistics import NormalDist

import pytest

import metak
from metak.report import summary_csv

TRIAL = """\
metak: 1
id: {id}
title: "Synthetic test trial {id}"
citation: {{authors: [Test A], year: {year}}}
condition: test condition
design: {design}
arms:
  - {{id: e1, label: "Dose 1", role: experimental, intervention: drug, randomized: 20}}
  - {{id: e2, label: "Dose 2", role: experimental, intervention: drug, randomized: 20}}
  - {{id: c, label: "Placebo", role: control, control_type: {ct}, intervention: saline, randomized: 20}}
outcomes:
  - id: score
    label: Score
    type: continuous
    direction: higher_is_better
    data:
      e1: {{mean: {m1}, sd: 2, n: 10}}
      e2: {{mean: {m2}, sd: 2, n: 10}}
      c: {{mean: 9, sd: 3, n: 16}}
    source: {{where: "synthetic"}}
  - id: odds
    label: Response (reported OR)
    type: contrast
    direction: higher_is_better
    data: {{measure: OR, experimental: [e1, e2], control: c, estimate: 2.0, ci: [1.0, 4.0], level: {level}}}
    source: {{where: "synthetic"}}
"""


@pytest.fixture()
def corpus(tmp_path):
    (tmp_path / "trials").mkdir()
    (tmp_path / "analyses").mkdir()
    specs = [("t1", 2001, "parallel", "placebo", 10, 14, 0.9), ("t2", 2002, "parallel", "active_placebo", 11, 12, 0.95),
             ("t3", 2003, "parallel", "placebo", 12, 16, 0.95), ("t4", 2004, "crossover", "active_placebo", 9, 13, 0.95)]
    for tid, year, design, ct, m1, m2, level in specs:
        (tmp_path / "trials" / f"{tid}.yaml").write_text(TRIAL.format(id=tid, year=year, design=design, ct=ct, m1=m1,
                                                                      m2=m2, level=level))
    return tmp_path


def analyze(root, body):
    p = root / "analyses" / "s.yaml"
    p.write_text(body)
    return metak.analyze(p)


HEAD = """\
metak: 1
title: t
trials: ../trials
meta_analyses:
"""


def test_a_contrasts_ci_level_sets_its_se(corpus):
    doc = analyze(corpus, HEAD + "  - {id: o, outcome: odds, measure: OR, method: FE}\n")
    s = {x["trial"]: x for x in doc["meta_analyses"][0]["studies"]}
    z90, z95 = NormalDist().inv_cdf(0.95), NormalDist().inv_cdf(0.975)
    assert s["t1"]["se"] == pytest.approx(math.log(4) / (2 * z90), rel=1e-12)
    assert s["t2"]["se"] == pytest.approx(math.log(4) / (2 * z95), rel=1e-12)
    assert s["t1"]["yi"] == pytest.approx(math.log(2))


def test_combined_arms_keep_the_between_means_variance(corpus):
    """Cochrane Handbook Table 6.5.a: two arms of n = 10, means 10 and 14, SD 2 each ->
    n = 20, mean 12, SD = sqrt((9·4 + 9·4 + 10·10/20·16) / 19) = sqrt(8)."""
    doc = analyze(corpus, HEAD + "  - {id: c, outcome: score, measure: MD, method: FE, multi_arm: combine}\n")
    s = next(x for x in doc["meta_analyses"][0]["studies"] if x["trial"] == "t1")
    arm = s["data"]["e1 + e2"]
    assert arm["n"] == 20 and arm["mean"] == pytest.approx(12.0) and arm["sd"] == pytest.approx(math.sqrt(8))
    assert s["yi"] == pytest.approx(12 - 9) and s["vi"] == pytest.approx(8 / 20 + 9 / 16)


def test_study_cis_follow_the_level(corpus):
    doc = analyze(corpus, HEAD + "  - {id: c, outcome: score, measure: MD, method: FE, level: 0.9, multi_arm: combine}\n")
    z = NormalDist().inv_cdf(0.95)
    for s in doc["meta_analyses"][0]["studies"]:
        assert s["ci_lower"] == pytest.approx(s["yi"] - z * math.sqrt(s["vi"]), rel=1e-12)
        assert s["ci_upper"] == pytest.approx(s["yi"] + z * math.sqrt(s["vi"]), rel=1e-12)


def test_summary_csv_columns_hold_their_numbers(corpus):
    doc = analyze(corpus, HEAD + "  - {id: o, outcome: odds, measure: OR, method: REML}\n")
    row = next(csv.DictReader(io.StringIO(summary_csv(doc))))
    ma = doc["meta_analyses"][0]
    assert float(row["ci_lower"]) == pytest.approx(ma["ci_lower"]) and float(row["ci_upper"]) == pytest.approx(ma["ci_upper"])
    assert float(row["ci_lower"]) < float(row["estimate"]) < float(row["ci_upper"])
    assert float(row["ci_lower_natural"]) == pytest.approx(math.exp(ma["ci_lower"]))
    assert float(row["ci_upper_natural"]) == pytest.approx(math.exp(ma["ci_upper"]))


def test_leave_one_out_drops_the_study_it_names(corpus):
    doc = analyze(corpus, HEAD + "  - {id: c, outcome: score, measure: MD, method: REML, multi_arm: combine,\n"
                                 "     sensitivity: [leave_one_out]}\n")
    ma = doc["meta_analyses"][0]
    studies = ma["studies"]
    for entry in ma["sensitivity"]["leave_one_out"]:
        rest = [s for s in studies if s["trial"] != entry["omitted"]]
        ref = metak.fit([s["yi"] for s in rest], [s["vi"] for s in rest], method="REML")
        assert entry["estimate"] == pytest.approx(ref.estimate, rel=1e-10)
        assert entry["k"] == 3


def test_i2_between_by_hand():
    """Two single-study subgroups: 0 (SE 1) and 2.5 (SE 1): theta_bar = 1.25,
    Q = 2 x 1.25² = 3.125 on 1 df, I² = (3.125 - 1) / 3.125 = 68%."""
    from metak.effects import Effect, EffectTable
    from metak.estimators.model import Model
    from metak.sensitivity.subgroups import subgroup_analysis

    table = EffectTable("MD", (Effect("a", "A", "e", "c", 0.0, 1.0, {}, covariates={"g": "x"}),
                               Effect("b", "B", "e", "c", 2.5, 1.0, {}, covariates={"g": "y"})))
    res = subgroup_analysis(table, Model("FE"), "g")
    assert res.q_between == pytest.approx(3.125) and res.df_between == 1
    assert res.i2_between == pytest.approx(100 * 2.125 / 3.125)
    assert res.p_between == pytest.approx(math.erfc(math.sqrt(3.125 / 2)))


def test_crossover_participants_are_counted_once(corpus):
    doc = analyze(corpus, HEAD + "  - {id: c, outcome: score, measure: MD, method: FE, multi_arm: combine}\n")
    ma = doc["meta_analyses"][0]
    # parallel trials: 20 + 16 each; the crossover t4: max(20, 16) = 20 people who had both
    assert ma["n_participants"] == 3 * (20 + 16) + 20
    label = next(s["label"] for s in ma["studies"] if s["trial"] == "t4")
    assert any(w.startswith(f"{label}: crossover analysed as if its arms were independent groups (no pairing "
                            "information and no rho)") for w in ma["warnings"])

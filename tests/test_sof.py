"""The summary of findings in GRADE style, against hand arithmetic: the assumed control risk
(pooled control-arm risk, stated, never 0), risk with the intervention and the difference per
1,000 written "57 fewer to 495 more", the NNT only when the difference's CI excludes 0 (with its
CI), the outcome named by the analysis, dropout rows naming their trials, and the sensitivity
analyses as rows of a table."""

from __future__ import annotations

import math

import pytest

from metak.format import effect
from metak.sof import absolute_effects, more_fewer, sensitivity_rows, sof_rows
from metak.study_rows import StudyRow
from record_examples import complete, fill


def ma(measure="RR", est=1.5, lo=1.1, hi=2.0, direction="higher_is_better", risks=((10, 50), (30, 100), (20, 100)),
       **extra):
    f = math.log if measure in ("RR", "OR") else (lambda x: x)
    out = {"id": "m", "outcome": "abstinence", "outcome_label": "First trial's own label", "measure": measure,
           "direction": direction, "estimate": f(est), "ci_lower": f(lo), "ci_upper": f(hi), "k": len(risks),
           "n_participants": 1500, "model": {"level": 0.95},
           "studies": [fill(StudyRow, {"label": f"T{i}", "control": "p", "data": {"p": {"events": e, "total": n}}})
                       for i, (e, n) in enumerate(risks)]}
    out.update(extra)
    return out


def test_pooled_control_risk_absolute_effects_and_nnt_with_its_ci_by_hand():
    # control arms 60/250 = 0.24; RR 1.5 [1.1, 2.0]: 360 (264 to 480) per 1,000; +120 (+24 to +240)
    ab = absolute_effects(ma())
    assert ab["per_1000_control"] == pytest.approx(240)
    assert ab["control_risk_source"] == "pooled control-arm risk, 60/250"
    assert ab["per_1000_intervention"] == pytest.approx([360, 264, 480])
    assert ab["difference_per_1000"] == pytest.approx({"estimate": 120, "ci_lower": 24, "ci_upper": 240})
    # NNT 1000/120 = 8.3 -> 9; its CI 1000/240 = 4.2 -> 5 to 1000/24 = 41.7 -> 42
    assert ab["nnt"] == {"value": 9, "kind": "NNTB", "ci": [5, 42]}
    rows = dict(sof_rows(ma()))
    assert rows["Assumed control risk"] == "240 per 1,000 (pooled control-arm risk, 60/250)"
    assert rows["Risk with intervention"] == "360 per 1,000 (264 to 480)"
    assert rows["Absolute effect"] == "120 more per 1,000 (24 more to 240 more)"
    assert rows["NNTB"] == "9 (5 to 42)"
    # OR 2 at a stated control risk 0.25: 2*0.25/(0.75+0.5) = 0.4; an adverse outcome: NNT to harm
    ab = absolute_effects(ma("OR", 2.0, 1.2, 3.0, direction="lower_is_better"), 0.25)
    assert ab["per_1000_intervention"][0] == pytest.approx(400) and ab["nnt"]["kind"] == "NNTH"
    assert ab["control_risk_source"] == "stated by the author"
    # RD -0.1 [-0.18, -0.02] at 0.4: 300 (220 to 380), 100 fewer (180 fewer to 20 fewer)
    rows = dict(sof_rows(ma("RD", -0.1, -0.18, -0.02, direction="lower_is_better"), 0.4))
    assert rows["Absolute effect"] == "100 fewer per 1,000 (180 fewer to 20 fewer)" and rows["NNTB"] == "10 (6 to 50)"
    assert absolute_effects({**ma(), "measure": "MD"}) is None


def test_a_ci_through_the_null_reads_fewer_to_more_and_has_no_nnt():
    # RR 1.5 [0.8, 2.0] at 0.2: +100 (-40 to +200)
    rows = dict(sof_rows(ma(est=1.5, lo=0.8, hi=2.0), 0.2))
    assert rows["Absolute effect"] == "100 more per 1,000 (40 fewer to 200 more)"
    assert "NNTB" not in rows and "NNTH" not in rows
    assert more_fewer(-57.2) == "57 fewer" and more_fewer(495.4) == "495 more" and more_fewer(-0.3) == "0 more"
    assert more_fewer(1234) == "1,234 more"


def test_a_control_risk_of_zero_is_not_estimable_not_zero_per_1000():
    rows = dict(sof_rows(ma("OR", 19.24, 0.99, 373.01, risks=((0, 18),))))
    assert rows["Absolute effect"] == "not estimable: the control arms had no events (0/18)"
    assert "Assumed control risk" not in rows and "Risk with intervention" not in rows
    assert rows["OR [95% CI]"] == "19.24 [0.99, 373.01]"


def test_outcome_named_by_the_analysis_dropout_rows_name_their_trials_numbers_one_style():
    dr = [{"trial": "d20", "label": "Dakwar 2020", "experimental": {"dropouts": 0, "randomized": 17},
           "control": {"dropouts": 6, "randomized": 23}}]
    rows = dict(sof_rows(ma("OR", 0.22, 0.000055, 848.96, dropout_rates=complete("dropout_rates", dr))))
    assert rows["Outcome"] == "Abstinence (odds ratio)"
    assert rows["Dropout"] == "Dakwar 2020: 0/17 experimental vs 6/23 control"
    assert rows["OR [95% CI]"] == "0.22 [0.000055, 848.96]"
    assert rows["Participants"] == "1,500"
    rows = dict(sof_rows(ma(title="Ketamine vs control, abstinence")))
    assert rows["Outcome"] == "Ketamine vs control, abstinence"
    assert effect(68981.2) == "68981" and effect(1.625) == "1.63" and effect(0.0040) == "0.0040"
    assert effect(None) == "—" and effect(-0.5) == "-0.50" and effect(0.0099996) == "0.01"


def test_a_certainty_rating_gets_its_row_when_present():
    # the row belongs to metak.certainty (its own tests check its text); the SoF gives it its place
    c = {"overall": "low", "symbols": "⊕⊕◯◯", "footnotes": [],
         "domains": {"imprecision": {"rating": "very_serious", "levels": 2}}}
    rows = dict(sof_rows(ma(certainty=complete("certainty", c))))
    assert rows["Certainty of the evidence (GRADE)"].startswith("⊕⊕◯◯ Low")
    assert "Certainty of the evidence (GRADE)" not in dict(sof_rows(ma()))


def test_sensitivity_analyses_as_table_rows():
    sens = {"leave_one_out": [{"label": "T1", "k": 2, "estimate": math.log(1.2), "ci_lower": math.log(0.9),
                               "ci_upper": math.log(1.6)}],
            "blinding": {"restricted": None, "reasons": {"restricted": "no trial is adequately blinded"},
                         "by_source": [{"source": "savovic2012", "k": 3, "k_adjusted": 3, "estimate": 0.0,
                                        "ci_lower": -1.0, "ci_upper": 1.0}]}}
    rows = sensitivity_rows(ma(sensitivity={name: complete(name, value) for name, value in sens.items()}))
    assert rows[0] == ("Leaving out T1", "2", "1.20 [0.90, 1.60]", "")
    assert rows[1] == ("Adequately blinded trials only", "0", "—", "no trial is adequately blinded")
    assert rows[2] == ("Bias-adjusted: Savović et al.", "3", "1.00 [0.37, 2.72]", "3 trials adjusted")

"""The Correct Guess Rate Curve (metak/sensitivity/cgrc.py; Szigeti et al. 2023).

Definitions confirmed against Szigeti's research code (github.com/szb37/CorrectGuessRateCurve,
src/cgrc/core.py: ``get_strata_ratio`` and the default ``all_prop`` branch of
``get_strata_sample_sizes``). Checked by (1) a hand-worked example (every number below derived
by hand in the comments), (2) the PANAS week-1 strata of Szigeti's self-blinding microdosing
data as printed by a published reproduction of the method (stratum sizes and sums; Delta at the
observed rate 3.157042 and at 0.5 1.079847), (3) the record checks and the pipeline."""

from __future__ import annotations

import math

import pytest

from metak.records.model import BinaryArmData, ContinuousArmData
from metak.sensitivity import cgrc

TOL = 1e-9


def _cont(aa, ap, pa, pp):
    """by_guess for arms e, c from (mean, sd, n) per stratum."""
    return {"assessor": "participant",
            "e": {"guessed_experimental": ContinuousArmData(*aa), "guessed_control": ContinuousArmData(*ap)},
            "c": {"guessed_experimental": ContinuousArmData(*pa), "guessed_control": ContinuousArmData(*pp)}}


def test_hand_worked_example():
    # strata (mean, sd, n): AA 5/2/10, AP 3/2/10, PA 4/2/5, PP 1/2/15
    bg = _cont((5.0, 2.0, 10), (3.0, 2.0, 10), (4.0, 2.0, 5), (1.0, 2.0, 15))
    r = cgrc.trial(bg, "e", "c", "continuous", "MD")
    # r = 15/25 = 0.6, s = 10/15 = 2/3; at c = 0.5: w_AA = 0.2, w_AP = 1/3, w_PP = 0.3, w_PA = 1/6
    # arm E = (0.2*5 + 1/3*3) / (0.2 + 1/3) = 2 / (8/15) = 3.75
    # arm C = (0.3*1 + 1/6*4) / (0.3 + 1/6) = (29/30) / (14/30) = 29/14
    assert r["estimate"] == pytest.approx(3.75 - 29 / 14, abs=TOL)            # 1.678571...
    # within-arm weights E 3/8, 5/8; C 9/14 (PP), 5/14 (PA); var_j = 4/n_j
    var = (9 / 64 + 25 / 64) * 0.4 + (81 / 196) * (4 / 15) + (25 / 196) * (4 / 5)
    assert r["se"] == pytest.approx(math.sqrt(var), abs=TOL)
    # observed rate (10 + 15)/40 = 0.625: the plain difference among guessers, 4 - 1.75
    assert r["observed_cgr"] == pytest.approx(0.625, abs=TOL)
    assert r["at_observed"]["estimate"] == pytest.approx(2.25, abs=TOL)
    # c = 1: correct guessers only, 5 - 1; c = 0: wrong guessers only, 3 - 4
    ends = {p["cgr"]: p["estimate"] for p in r["curve"]}
    assert ends[1.0] == pytest.approx(4.0, abs=TOL) and ends[0.0] == pytest.approx(-1.0, abs=TOL)


def test_szigeti_microdosing_panas_reproduction_numbers():
    # PANAS week 1, self-blinding microdosing trial: n and sums per stratum (AA 48/939,
    # AP 43/530, PA 39/716, PP 102/1115); the reproduction prints Delta(c_obs) = 3.157042 and
    # Delta(0.5) = 1.079847 to 6 decimals
    bg = _cont((939 / 48, 8.4272, 48), (530 / 43, 10.7276, 43), (716 / 39, 7.2855, 39), (1115 / 102, 9.7962, 102))
    r = cgrc.trial(bg, "e", "c", "continuous", "MD")
    assert r["observed_cgr"] == pytest.approx(150 / 232, abs=TOL)
    assert r["at_observed"]["estimate"] == pytest.approx(3.157042, abs=5e-7)
    assert r["estimate"] == pytest.approx(1.079847, abs=5e-7)


def test_binary_risk_difference_and_log_odds_ratio():
    bg = {"assessor": "participant",
          "e": {"guessed_experimental": BinaryArmData(8, 10), "guessed_control": BinaryArmData(3, 10)},
          "c": {"guessed_experimental": BinaryArmData(2, 5), "guessed_control": BinaryArmData(3, 15)}}
    # same weights as the hand-worked example: E risk 0.375*0.8 + 0.625*0.3 = 0.4875;
    # C risk (9/14)*0.2 + (5/14)*0.4 = 3.8/14
    pe, pc = 0.4875, 3.8 / 14
    rd = cgrc.trial(bg, "e", "c", "binary", "RD")
    assert rd["estimate"] == pytest.approx(pe - pc, abs=TOL)
    ve = 0.375**2 * 0.8 * 0.2 / 10 + 0.625**2 * 0.3 * 0.7 / 10
    vc = (9 / 14) ** 2 * 0.2 * 0.8 / 15 + (5 / 14) ** 2 * 0.4 * 0.6 / 5
    assert rd["se"] == pytest.approx(math.sqrt(ve + vc), abs=TOL)
    lor = cgrc.trial(bg, "e", "c", "binary", "OR")
    assert lor["estimate"] == pytest.approx(math.log(pe / (1 - pe)) - math.log(pc / (1 - pc)), abs=TOL)
    assert lor["se"] == pytest.approx(math.sqrt(ve / (pe * (1 - pe)) ** 2 + vc / (pc * (1 - pc)) ** 2), abs=TOL)


TRIAL = """metak: 1
id: {id}
title: "synthetic CGRC test trial"
condition: test
design: parallel
arms:
  - {{id: e, label: E, role: experimental, intervention: drug}}
  - {{id: c, label: C, role: control, intervention: control, control_type: placebo}}
outcomes:
  - id: y
    label: y
    type: continuous
    direction: higher_is_better
    data:
      e: {{mean: 4.0, sd: 2.2, n: {ne}}}
      c: {{mean: 1.75, sd: 2.3, n: 22}}
    by_guess:
      e:
        guessed_experimental: {{mean: {m}, sd: 2, n: 10}}
        guessed_control: {{mean: 3, sd: 2, n: 10}}
      c:
        guessed_experimental: {{mean: 4, sd: 2, n: 5}}
        guessed_control: {{mean: 1, sd: 2, n: 15}}
    source: {{where: synthetic}}
"""


def test_guess_strata_exceeding_the_arm_is_an_error_with_its_line(tmp_path):
    from metak.records import load_trial

    f = tmp_path / "t1.yaml"
    f.write_text(TRIAL.format(id="t1", ne=18, m=5))
    trial, problems, _ = load_trial(f)
    assert trial is None
    msg = "\n".join(str(p) for p in problems)
    assert "t1.yaml:18:" in msg and "by_guess.e" in msg and "= 20 > the arm's n 18" in msg, msg


def test_pipeline_pools_the_trials_cgrc(tmp_path):
    from metak.pipeline import analyze

    (tmp_path / "trials").mkdir()
    for i, m in enumerate((5.0, 6.0)):
        (tmp_path / "trials" / f"t{i}.yaml").write_text(TRIAL.format(id=f"t{i}", ne=20, m=m))
    spec = tmp_path / "spec.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    "    measure: MD\n    method: FE\n    sensitivity:\n      - blinding\n")
    ma = analyze(spec)["meta_analyses"][0]
    cg = ma["sensitivity"]["blinding"]["cgrc"]
    est = [t["estimate"] for t in cg["trials"]]
    w = [1 / t["se"] ** 2 for t in cg["trials"]]
    assert est[0] == pytest.approx(3.75 - 29 / 14, abs=TOL)
    assert cg["pooled"]["estimate"] == pytest.approx(sum(a * b for a, b in zip(w, est)) / sum(w), abs=TOL)
    assert cg["pooled"]["se"] == pytest.approx(sum(w) ** -0.5, abs=TOL)


BINARY = """metak: 1
id: b1
title: "synthetic CGRC test trial, binary"
condition: test
design: parallel
arms:
  - {id: e, label: E, role: experimental, intervention: drug}
  - {id: c, label: C, role: control, intervention: control, control_type: placebo}
outcomes:
  - id: y
    label: y
    type: binary
    direction: higher_is_better
    data:
      e: {events: 9, total: 20}
      c: {events: 5, total: 20}
    by_guess:
      e:
        guessed_experimental: {events: 8, total: 10}
        guessed_control: {events: 3, total: 10}
      c:
        guessed_experimental: {events: 2, total: 5}
        guessed_control: {events: 3, total: 15}
    source: {where: synthetic}
"""


def test_guess_events_exceeding_the_arm_is_an_error_with_its_line(tmp_path):
    from metak.records import load_trial

    f = tmp_path / "b1.yaml"
    f.write_text(BINARY)
    trial, problems, _ = load_trial(f)
    assert trial is None
    msg = "\n".join(str(p) for p in problems)
    assert "b1.yaml:18:" in msg and "by_guess.e" in msg and "8 + 3 = 11 > the arm's events 9" in msg, msg
    f.write_text(BINARY.replace("{events: 9, total: 20}", "{events: 11, total: 20}"))
    trial, problems, _ = load_trial(f)
    assert trial is not None and trial.outcomes[0].by_guess["e"]["guessed_control"].events == 3, problems

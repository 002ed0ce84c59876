"""Crossover, cluster and factorial trials: what each contributes, checked against the
published formulas written out by hand.

* Crossover, paired (Elbourne et al. 2002, Int J Epidemiol 31:140; Cochrane Handbook 23.2.6):
  Var(MD) = (SD_E² + SD_C² − 2·r·SD_E·SD_C)/n, or SD_diff²/n, SE², the CI's width over
  2·t_{n−1}, (MD/t)²; SMD (Handbook 23.2.7.2): MD/SD_within with var (1/n + SMD²/2n)·2(1 − r).
* Crossover, first period only: the parallel-group escalc of those arms.
* Cluster: counts and sizes over the design effect 1 + (m − 1)·ICC (Handbook 23.1.4).
* Factorial: the margin (all experimental cells against all control cells), or the cells the
  spec names.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from scipy import stats

from metak.effects.escalc import escalc_continuous
from metak.pipeline import analyze

ARMS2 = ("  - {id: k, label: K, role: experimental, intervention: drug}\n"
         "  - {id: p, label: P, role: control, intervention: placebo, control_type: placebo}\n")


def trial(root: Path, tid, design, data, extra="", arms=ARMS2, otype="continuous", top=""):
    (root / "trials").mkdir(parents=True, exist_ok=True)
    (root / "trials" / f"{tid}.yaml").write_text(
        f"metak: 1\nid: {tid}\nlabel: \"{tid.upper()}\"\ntitle: t\ncondition: c\ndesign: {design}\n{top}arms:\n{arms}"
        f"outcomes:\n  - id: y\n    label: y\n    type: {otype}\n    direction: lower_is_better\n    data:\n{data}"
        f"    source: {{where: test data}}\n{extra}")


CONT = "      k: {mean: 20, sd: 8, n: 18}\n      p: {mean: 26, sd: 9, n: 18}\n"
PARALLEL = "      k: {mean: 21, sd: 7, n: 30}\n      p: {mean: 25, sd: 8, n: 31}\n"


def escalc_binary_table(measure, a, b, c, d):
    """log RR and its variance, by hand (no zero cells here)."""
    assert measure == "RR"
    return math.log(a / (a + b) / (c / (c + d))), 1 / a - 1 / (a + b) + 1 / c - 1 / (c + d)


def spec(root: Path, measure="MD", extra=""):
    p = root / "s.yaml"
    p.write_text(f"metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                 f"    measure: {measure}\n    method: FE\n{extra}")
    return p


def row(doc, tid):
    ma = doc["meta_analyses"][0]
    return next(s for s in ma["studies"] if s["trial"] == tid), ma


@pytest.mark.parametrize("paired,expected_var", [
    ("{correlation: 0.6, n: 18}", (8**2 + 9**2 - 2 * 0.6 * 8 * 9) / 18),
    ("{sd_difference: 7.5, n: 18}", 7.5**2 / 18),
    ("{se: 1.9, n: 18}", 1.9**2),
    ("{mean_difference: -6, ci: [-10, -2], n: 18}", (8 / (2 * stats.t.ppf(0.975, 17))) ** 2),
    ("{t: -3.2, n: 18}", (6 / 3.2) ** 2),
])
def test_paired_md_is_elbournes_formula(tmp_path, paired, expected_var):
    trial(tmp_path, "x", "crossover", CONT, f"    paired: {paired}\n")
    trial(tmp_path, "par", "parallel", PARALLEL)
    r, ma = row(analyze(spec(tmp_path)), "x")
    assert r["yi"] == pytest.approx(-6, abs=1e-12)
    assert r["vi"] == pytest.approx(expected_var, rel=1e-12)
    assert r["design"]["method"] == "paired"
    assert any(w.startswith("X: paired analysis from") for w in ma["warnings"])
    # the paired trial counts its 18 people once
    assert ma["n_participants"] == 18 + 61


def test_paired_smd_follows_the_handbook(tmp_path):
    trial(tmp_path, "x", "crossover", CONT, "    paired: {correlation: 0.6, n: 18}\n")
    trial(tmp_path, "par", "parallel", PARALLEL)
    r, _ = row(analyze(spec(tmp_path, "SMD")), "x")
    d = -6 / math.sqrt((64 + 81) / 2)
    assert r["yi"] == pytest.approx(d, rel=1e-12)
    assert r["vi"] == pytest.approx((1 / 18 + d**2 / 36) * 2 * 0.4, rel=1e-12)
    # an SD of the differences implies r = (SD_E² + SD_C² − SD_diff²)/(2 SD_E SD_C)
    trial(tmp_path, "x", "crossover", CONT, "    paired: {sd_difference: 7.5, n: 18}\n")
    r, _ = row(analyze(spec(tmp_path, "SMD")), "x")
    rr = (64 + 81 - 7.5**2) / (2 * 8 * 9)
    assert r["vi"] == pytest.approx((1 / 18 + d**2 / 36) * 2 * (1 - rr), rel=1e-12)


def test_rho_approximation_and_its_sensitivity(tmp_path):
    trial(tmp_path, "x", "crossover", CONT)
    trial(tmp_path, "par", "parallel", PARALLEL)
    doc = analyze(spec(tmp_path, extra="    crossover: {rho: 0.5}\n    sensitivity: [{crossover_rho: {values: [0, 0.8]}}]\n"))
    r, ma = row(doc, "x")
    assert r["vi"] == pytest.approx((64 + 81 - 2 * 0.5 * 72) / 18, rel=1e-12)
    assert r["design"]["method"] == "rho"
    sens = ma["sensitivity"]["crossover_rho"]
    assert sens["studies"] == ["X"] and [v["rho"] for v in sens["values"]] == [0, 0.8]
    for v in sens["values"]:  # the FE pool of the crossover under that rho and the parallel trial
        vx = (64 + 81 - 2 * v["rho"] * 72) / 18
        y0, v0 = escalc_continuous("MD", [21], [7], [30], [25], [8], [31])
        w = [1 / vx, 1 / float(v0[0])]
        est = (w[0] * -6 + w[1] * float(y0[0])) / sum(w)
        assert v["estimate"] == pytest.approx(est, abs=1e-10)
        assert v["se"] == pytest.approx(1 / math.sqrt(sum(w)), abs=1e-10)


def test_first_period_data_are_a_parallel_trial(tmp_path):
    trial(tmp_path, "x", "crossover", CONT, "    first_period:\n      k: {mean: 19, sd: 8.5, n: 9}\n"
                                            "      p: {mean: 27, sd: 9.5, n: 9}\n")
    trial(tmp_path, "par", "parallel", PARALLEL)
    r, ma = row(analyze(spec(tmp_path)), "x")
    y, v = escalc_continuous("MD", [19], [8.5], [9], [27], [9.5], [9])
    assert (r["yi"], r["vi"]) == (pytest.approx(float(y[0])), pytest.approx(float(v[0])))
    assert r["design"]["method"] == "first_period"
    assert any("first-period data only" in w for w in ma["warnings"])


def test_no_pairing_and_no_rho_is_parallel_with_a_warning(tmp_path):
    trial(tmp_path, "x", "crossover", CONT)
    trial(tmp_path, "par", "parallel", PARALLEL)
    r, ma = row(analyze(spec(tmp_path)), "x")
    y, v = escalc_continuous("MD", [20], [8], [18], [26], [9], [18])
    assert r["vi"] == pytest.approx(float(v[0])) and r["design"]["method"] == "parallel"
    assert any("no pairing information and no rho" in w and "crossover: {rho: ...}" in w for w in ma["warnings"])


BIN = "      k: {events: 30, total: 100}\n      p: {events: 45, total: 110}\n"


@pytest.mark.parametrize("block,de", [("cluster: {icc: 0.05, mean_cluster_size: 21}\n", 2.0),
                                      ("cluster: {design_effect: 1.6}\n", 1.6),
                                      ("cluster: {adjusted: true}\n", 1.0)])
def test_cluster_trials_use_effective_sample_sizes(tmp_path, block, de):
    trial(tmp_path, "cl", "cluster", BIN, otype="binary", top=block)
    trial(tmp_path, "par", "parallel", "      k: {events: 10, total: 40}\n      p: {events: 15, total: 41}\n",
          otype="binary")
    r, ma = row(analyze(spec(tmp_path, "RR")), "cl")
    y, v = escalc_binary_table("RR", 30 / de, 70 / de, 45 / de, 65 / de)
    assert r["yi"] == pytest.approx(y, rel=1e-12) and r["vi"] == pytest.approx(v, rel=1e-12)
    assert r["design"]["method"] == ("adjusted" if de == 1 else "design_effect")
    assert ma["n_participants"] == 210 + 81  # people, not effective sizes


def test_cluster_without_a_block_warns_of_a_unit_of_analysis_error(tmp_path):
    trial(tmp_path, "cl", "cluster", BIN, otype="binary")
    r, ma = row(analyze(spec(tmp_path, "RR")), "cl")
    assert r["design"]["method"] == "unadjusted"
    assert any("unit-of-analysis error" in w for w in ma["warnings"])


ARMS4 = ("  - {id: kt, label: K+T, role: experimental, intervention: drug}\n"
         "  - {id: ke, label: K+E, role: experimental, intervention: drug}\n"
         "  - {id: st, label: S+T, role: control, intervention: placebo}\n"
         "  - {id: se, label: S+E, role: control, intervention: placebo}\n")
CELLS = ("      kt: {events: 12, total: 24}\n      ke: {events: 10, total: 24}\n"
         "      st: {events: 6, total: 23}\n      se: {events: 5, total: 25}\n")


def test_factorial_margin_and_cell_comparisons(tmp_path):
    trial(tmp_path, "f", "factorial", CELLS, arms=ARMS4, otype="binary")
    # the contract's default rule: each experimental cell against the split control cells, said
    doc = analyze(spec(tmp_path, "RR"))
    rows = [s for s in doc["meta_analyses"][0]["studies"] if s["trial"] == "f"]
    assert len(rows) == 2 and all(s["design"]["method"] == "cells" for s in rows)
    assert rows[0]["data"]["st + se"] == {"events": 5.5, "total": 24}
    # multi_arm: combine is the margin
    r, ma = row(analyze(spec(tmp_path, "RR", "    multi_arm: combine\n")), "f")
    y, v = escalc_binary_table("RR", 22, 26, 11, 37)
    assert r["yi"] == pytest.approx(y) and r["vi"] == pytest.approx(v)
    assert r["design"]["method"] == "margin" and ma["n_participants"] == 96
    assert any("margin comparison" in w and "no interaction" in w for w in ma["warnings"])
    doc = analyze(spec(tmp_path, "RR", "    arms: {f: {experimental: [kt], control: [st]}}\n"))
    r, _ = row(doc, "f")
    y, v = escalc_binary_table("RR", 12, 12, 6, 17)
    assert r["yi"] == pytest.approx(y) and "design" not in r


BAD_RECORDS = [
    ("parallel", "    paired: {se: 1, n: 18}\n", "outcomes[0].paired", "for crossover trials"),
    ("crossover", "    paired: {se: 1, sd_difference: 2, n: 18}\n", "outcomes[0].paired", "exactly one of"),
    ("crossover", "    paired: {n: 18}\n", "outcomes[0].paired", "exactly one of"),
    ("crossover", "    paired: {correlation: 1.2, n: 18}\n", "outcomes[0].paired.correlation", "between -1 and 1"),
    ("crossover", "    paired: {t: 3, n: 18}\n", "outcomes[0].paired.t", "opposite signs"),
    ("crossover", "    paired: {mean_difference: -6, ci: [-4, -2], n: 18}\n", "outcomes[0].paired.ci",
     "does not contain"),
    ("parallel", "    first_period: {k: {mean: 1, sd: 1, n: 5}}\n", "outcomes[0].first_period", "for crossover"),
]


@pytest.mark.parametrize("design,extra,path,message", BAD_RECORDS)
def test_bad_design_data_are_record_errors(tmp_path, design, extra, path, message):
    from metak.errors import InvalidRecord

    trial(tmp_path, "x", design, CONT, extra)
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec(tmp_path))
    assert any(p.path.endswith(path) and message in p.message and p.line for p in exc.value.problems), \
        [(p.path, p.message) for p in exc.value.problems]


@pytest.mark.parametrize("top,message", [
    ("cluster: {icc: 0.05}\n", "missing required key 'mean_cluster_size'"),
    ("cluster: {icc: 0.05, mean_cluster_size: 10, design_effect: 1.4}\n", "exactly one"),
    ("cluster: {design_effect: 0.8}\n", "must be at least 1"),
    ("cluster: {icc: 1.5, mean_cluster_size: 10}\n", "must be in [0, 1)"),
])
def test_bad_cluster_blocks_are_record_errors(tmp_path, top, message):
    from metak.errors import InvalidRecord

    trial(tmp_path, "cl", "cluster", BIN, otype="binary", top=top)
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec(tmp_path, "RR"))
    assert any(message in p.message and p.line for p in exc.value.problems), [p.message for p in exc.value.problems]


def test_a_cluster_block_on_a_parallel_trial_is_an_error(tmp_path):
    from metak.errors import InvalidRecord

    trial(tmp_path, "cl", "parallel", BIN, otype="binary", top="cluster: {design_effect: 1.5}\n")
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec(tmp_path, "RR"))
    assert any("design: cluster" in p.message for p in exc.value.problems)


def test_crossover_rho_on_a_binary_measure_is_a_spec_error(tmp_path):
    from metak.errors import InvalidSpec

    trial(tmp_path, "x", "crossover", BIN, otype="binary")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec(tmp_path, "RR", "    crossover: {rho: 0.5}\n"))
    assert any("continuous outcomes" in p.message and p.line == 9 for p in exc.value.problems)

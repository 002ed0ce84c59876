"""Issue 25/27 follow-ups (task Q5): forest-plot ticks with one study, the pre_post arm data."""

from __future__ import annotations

import math
import re

import pytest

pytest.importorskip("matplotlib")

import metak  # noqa: E402
from metak.plots import _format as fmt  # noqa: E402
from metak.plots import _scales  # noqa: E402
from metak.plots.forest import forest  # noqa: E402

M = "\u2212"

# one study on each kind of scale: (measure, yi, vi); the intervals are tiny, wide, symmetric
# around the null, or far from it
ONE_STUDY = [
    ("OR", 0.3, 0.04), ("RR", 0.0, 1e-6), ("ROM", 1e-4, 1e-8),          # log ratio axes
    ("PLO", -1.2, 0.05), ("PR", 0.31, 0.0009), ("PR", 0.31, 1e-12),    # proportions: no null line
    ("MD", -0.2213021124, 1e-4), ("MD", 0.0, 0.01), ("SMD", 0.0, 1e-10),  # differences
    ("RD", 0.01, 1e-5), ("MD", 123.4, 2.0), ("ZCOR", 0.3, 1e-9),
]


def _decimals(label: str) -> int:
    return len(label.split(".")[1]) if "." in label else 0


@pytest.mark.parametrize("measure,yi,vi", ONE_STUDY)
@pytest.mark.parametrize("size", ["single_column", "double_column"])
def test_one_study_forest_ticks_are_round_numbers(measure, yi, vi, size):
    ma = metak.fit([yi], [vi], measure=measure).to_meta_dict()
    ax = forest(ma, size=size).panels["effect"]
    ticks = list(ax.get_xticks())
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert len(ticks) >= 2
    for t, s in zip(ticks, labels):
        assert re.fullmatch(rf"{M}?\d+(\.\d+)?", s), s
        # the label is the tick, in at most four decimals and three significant digits
        assert math.isclose(float(s.replace(M, "-")), t, rel_tol=1e-9, abs_tol=1e-12), (s, t)
        assert _decimals(s) <= 4, s
    if ax.get_xscale() == "log":
        allowed = [v for name in _scales.LOG_SETS for v in _scales.LOG_SETS[name]]
        assert all(any(math.isclose(t, v) for v in allowed) for t in ticks), ticks
    else:
        # round numbers: multiples of one step of 1, 2, 2.5 or 5 times a power of ten, every
        # label with the step's decimals
        steps = {round(b - a, 12) for a, b in zip(ticks, ticks[1:])}
        assert len(steps) == 1, steps
        step = steps.pop()
        mantissa = step / 10 ** math.floor(math.log10(step))
        assert any(math.isclose(mantissa, m) for m in (1, 2, 2.5, 5)), step
        assert all(math.isclose(t / step, round(t / step), abs_tol=1e-6) for t in ticks), ticks
        assert len({_decimals(s) for s in labels}) == 1, labels
    # the axis ends on labelled ticks and shows the study's point estimate
    lo, hi = ax.get_xlim()
    assert math.isclose(lo, ticks[0]) and math.isclose(hi, ticks[-1])
    from metak.format import measure_of, to_natural

    point = to_natural(measure_of(ma), ma["studies"][0]["yi"])
    assert lo <= point <= hi, (point, lo, hi)


def test_a_collapsed_core_takes_its_width_from_the_intervals():
    """One study and no null: the axis is as wide as the study's interval, not 1e-9."""
    lo, hi = _scales.data_range([0.2314752165], [0.17, 0.30], log=False, stretch=1.0)
    assert lo <= 0.17 and hi >= 0.30
    a, b, ticks, labels = _scales.linear_ticks(0.31 - 1e-9, 0.31 + 1e-9, 100.0,
                                               lambda s: 5.0 * len(s), null=None)
    assert all(_decimals(s) <= 4 for s in labels), labels


# -- a pre_post (change-score) meta-analysis shows each arm's data -----------------------------

def _morris_records(root, ni=None):
    """Morris (2008)'s treatment groups (metadat's dat.morris2008, as in
    tests/reference/metafor_escalc_reference.json) as one-arm pre_post records; ``ni`` replaces
    the sizes."""
    import json as _json
    from pathlib import Path

    ref = _json.loads((Path(__file__).parent / "reference" / "metafor_escalc_reference.json").read_text())
    d = ref["datasets"]["morris2008T"]
    ni = ni or d["ni"]
    (root / "trials").mkdir(exist_ok=True)
    for j in range(len(d["ni"])):
        (root / "trials" / f"m{j + 1}.yaml").write_text(
            f"metak: 1\nid: m{j + 1}\ntitle: m{j + 1}\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: e, label: drug, role: experimental, intervention: w}\n"
            "  - {id: c, label: placebo, role: control, intervention: p, control_type: placebo}\n"
            "outcomes:\n  - id: y\n    label: Y\n    type: pre_post\n    direction: higher_is_better\n"
            f"    data:\n      e: {{baseline: {{mean: {d['m_pre'][j]}, sd: {d['sd_pre'][j]}}}, "
            f"final: {{mean: {d['m_post'][j]}, sd: {d['sd_post'][j]}}}, r: {d['ri'][j]}, n: {ni[j]}}}\n"
            "    source: {where: x}\n")
    return d


def _analyze(root, measure):
    from metak.pipeline import analyze

    spec = root / "s.yaml"
    spec.write_text(f"metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n"
                    f"  - {{id: ch, outcome: y, measure: {measure}, method: REML}}\n")
    return analyze(spec)


@pytest.mark.parametrize("size", ["single_column", "double_column"])
def test_pre_post_forest_rows_show_the_mean_change_its_sd_and_n(tmp_path, size):
    d = _morris_records(tmp_path)
    ma = _analyze(tmp_path, "SMCC")["meta_analyses"][0]
    art = forest(ma, size=size)
    drawn = " | ".join(art.texts())
    assert "Change (SD) n" in drawn
    for j in range(len(d["ni"])):
        change = d["m_post"][j] - d["m_pre"][j]
        sd = math.sqrt(d["sd_pre"][j] ** 2 + d["sd_post"][j] ** 2
                       - 2 * d["ri"][j] * d["sd_pre"][j] * d["sd_post"][j])
        cell = f"{fmt._data(round(change, 10))} ({fmt._data(round(sd, 10))}) {d['ni'][j]}"
        assert cell in drawn, cell
    # the Total row sums the arms' participants, as for other continuous rows
    assert str(sum(d["ni"])) in drawn


def test_arm_data_of_each_single_arm_kind():
    assert fmt.arm_data({"events": 3, "total": 28}) == "3/28"
    assert fmt.arm_data({"events": 7, "person_time": 120.5}) == "7/120.5"
    assert fmt.arm_data({"r": -0.41, "n": 35}) == f"{M}0.41 (35)"
    # mean change 38.5 - 30.6 = 7.9; SD sqrt(15^2 + 11.6^2 - 2 0.47 15 11.6) = sqrt(196) = 14
    pre_post = {"baseline": {"mean": 30.6, "sd": 15}, "final": {"mean": 38.5, "sd": 11.6}, "r": 0.47, "n": 20}
    assert fmt.arm_data(pre_post) == "7.9 (14) 20"
    # 26.8 - 23.5 = 3.3; sqrt(3.1^2 + 4.1^2 - 2 0.64 3.1 4.1) = sqrt(10.1508) = 3.186...
    pre_post = {"baseline": {"mean": 23.5, "sd": 3.1}, "final": {"mean": 26.8, "sd": 4.1}, "r": 0.64, "n": 50}
    assert fmt.arm_data(pre_post) == "3.3 (3.19) 50"

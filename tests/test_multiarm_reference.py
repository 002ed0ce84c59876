"""multi_arm: split_control and combine against metafor on the same trials written out by hand
as two-arm data (``tests/reference/make_multiarm_reference.R``): split halves the shared
control's events and total for each of two dose arms, combine adds the dose arms together.
Per-comparison yi and vi to 1e-10, the REML pooled estimate, SE and tau² to 1e-6."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metak.pipeline import analyze

REF = json.loads((Path(__file__).parent / "reference" / "metafor_multiarm_reference.json").read_text())


def write(root: Path):
    (root / "trials").mkdir()
    for t in REF["trials"]:
        arms, data = [], []
        for name in ("lo", "hi"):
            if t[name] is not None:
                arms.append(f"  - {{id: {name}, label: {name}, role: experimental, intervention: drug}}\n")
                data.append(f"      {name}: {{events: {t[name][0]}, total: {t[name][1]}}}\n")
        (root / "trials" / f"{t['id']}.yaml").write_text(
            f"metak: 1\nid: {t['id']}\ntitle: t\ncondition: c\ndesign: parallel\narms:\n{''.join(arms)}"
            "  - {id: p, label: P, role: control, intervention: placebo}\n"
            "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: higher_is_better\n    data:\n"
            f"{''.join(data)}      p: {{events: {t['ctl'][0]}, total: {t['ctl'][1]}}}\n    source: {{where: synthetic}}\n")


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_split_and_combine_match_metafor_on_hand_built_two_arm_data(tmp_path, case):
    write(tmp_path)
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    f"    measure: {case['measure']}\n    method: REML\n    multi_arm: {case['rule']}\n")
    ma = analyze(spec)["meta_analyses"][0]
    assert [s["yi"] for s in ma["studies"]] == pytest.approx(case["yi"], abs=1e-10)
    assert [s["vi"] for s in ma["studies"]] == pytest.approx(case["vi"], abs=1e-10)
    for key in ("estimate", "se", "tau2", "ci_lower", "ci_upper"):
        assert ma[key] == pytest.approx(case[key], abs=1e-6), key

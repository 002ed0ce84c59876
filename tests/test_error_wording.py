"""Error messages say what is true and in one key-path style (the review of issue 24): a
two-arm measure names the one kind of arm data it reads; errors found against the loaded
trials name ``meta_analyses[i].key`` as the Checker's do; the simulation spec's estimators
error lists the shared-bias estimators too."""

from __future__ import annotations

import pytest

from metak.effects import rows
from metak.errors import InvalidSpec
from metak.pipeline import analyze
from metak.scale.spec import load_spec


@pytest.mark.parametrize("measure,needs", [("MD", "continuous"), ("SMD", "continuous"), ("ROM", "continuous"),
                                           ("OR", "binary"), ("RD", "binary")])
def test_a_two_arm_measure_names_the_data_it_reads(measure, needs):
    assert rows._two_arm(measure) == needs


TRIAL = """metak: 1
id: {id}
title: {id}
condition: c
design: parallel
arms:
  - {{id: e, label: e, role: experimental, intervention: x, randomized: 20}}
  - {{id: c, label: c, role: control, intervention: x, randomized: 20}}
outcomes:
  - id: y
    label: y
    type: binary
    direction: higher_is_better
    data:
      e: {{events: 5, total: 20}}
      c: {{events: 3, total: 20}}
    source: {{where: x}}
"""


def test_errors_against_the_trials_use_the_checkers_key_path_style(tmp_path):
    (tmp_path / "trials").mkdir()
    for i in range(3):
        (tmp_path / "trials" / f"t{i}.yaml").write_text(TRIAL.format(id=f"t{i}"))
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n"
                    "  - id: fine\n    outcome: y\n    measure: OR\n"
                    "  - id: wrong\n    outcome: y\n    measure: MD\n"
                    "    moderators: [lattitude]\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec, out_dir=tmp_path / "out")
    paths = [p.path for p in exc.value.problems]
    assert paths and all(p.startswith("meta_analyses[1].") for p in paths), paths
    assert "meta_analyses.wrong" not in str(exc.value)


def test_the_simulation_estimators_error_lists_the_shared_bias_estimators(tmp_path):
    f = tmp_path / "sim.yaml"
    f.write_text("metak: 1\nsimulation: t\nestimators: [XX]\n")
    with pytest.raises(InvalidSpec) as exc:
        load_spec(f)
    (p,) = exc.value.problems
    assert p.path == "estimators[0]"
    for name in ("FE", "BAYES", "INDEPENDENT_BIAS", "SHARED_BIAS"):
        assert name in p.message, p.message
    assert "scenarios.shared_bias" in p.message

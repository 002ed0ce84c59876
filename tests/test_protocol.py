"""The analysis protocol (metak.registry.AnalysisKind): an analysis is its module, its registry
entry and its tests. dose_response is one (moved out of the pipeline); a toy analysis registered
at run time is parsed, run, written and described without touching any other code; the schema
fragment of a keyed analysis is generated from its record."""

from __future__ import annotations

import json
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import metak
from metak import registry
from metak.errors import InvalidSpec
from metak.registry import AnalysisKind, Param

ROOT = Path(__file__).resolve().parent.parent

TRIAL = """\
metak: 1
id: {id}
title: "Dose trial {id} (synthetic test data)"
citation: {{authors: [Test A], year: {year}}}
condition: test condition
design: parallel
arms:
  - {{id: low, label: "Low dose", role: experimental, intervention: drug, dose: {{value: 0.5, unit: mg/kg}}, randomized: 30}}
  - {{id: high, label: "High dose", role: experimental, intervention: drug, dose: {{value: 1.0, unit: mg/kg}}, randomized: 30}}
  - {{id: pbo, label: Placebo, role: control, intervention: placebo, control_type: placebo, randomized: 30}}
outcomes:
  - id: response
    label: Response
    type: binary
    direction: higher_is_better
    source: {{where: "synthetic"}}
    data:
      low: {{events: {a}, total: 30}}
      high: {{events: {b}, total: 30}}
      pbo: {{events: {c}, total: 30}}
"""


@pytest.fixture
def review(tmp_path):
    (tmp_path / "trials").mkdir()
    for i, (a, b, c) in enumerate([(8, 14, 5), (10, 16, 6), (7, 12, 6), (9, 15, 4)]):
        (tmp_path / "trials" / f"dose{i}.yaml").write_text(TRIAL.format(id=f"dose{i}", year=2020 + i, a=a, b=b, c=c))
    (tmp_path / "analyses").mkdir()
    return tmp_path


def spec(root, extra: str, name="x.yaml") -> Path:
    p = root / "analyses" / name
    p.write_text(textwrap.dedent("""\
        metak: 1
        title: "Protocol test"
        trials: ../trials
        meta_analyses:
          - id: response
            outcome: response
            measure: OR
        """) + textwrap.indent(textwrap.dedent(extra), "    "))
    return p


def test_dose_response_runs_from_its_module_and_its_schema_is_its_records(review):
    jsonschema = pytest.importorskip("jsonschema")
    from metak.schema.generate import fragments

    doc = metak.analyze(spec(review, "multi_arm: multivariate\ndose_response: {model: linear}\n"))
    dr = doc["meta_analyses"][0]["dose_response"]
    assert dr["model"] == "linear" and dr["k"] == 8 and dr["n_trials"] == 4 and len(dr["curve"]["dose"]) == 101
    assert [c["name"] for c in dr["coefficients"]] == ["intercept", "dose"]
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    props = schema["properties"]["meta_analyses"]["items"]["properties"]
    for name, frag in fragments().items():  # run `python -m metak.schema.generate` when this fails
        assert props[name] == frag, name
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    broken = json.loads(json.dumps(doc))
    del broken["meta_analyses"][0]["dose_response"]["curve"]["ci_lower"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    from metak.methods import methods

    assert any("A linear dose-response model was fitted" in p for p in methods(doc)[0])


@pytest.mark.parametrize("extra, where, message", [
    ("multi_arm: multivariate\ndose_response: {model: cubic}\n", "dose_response.model",
     "'cubic' is not one of: linear, log_linear, spline"),
    ("multi_arm: multivariate\ndose_response: {knots: [0.1, 0.5, 1]}\n", "dose_response",
     "missing required key 'model'"),
    ("multi_arm: multivariate\ndose_response: {model: linear, knots: [0.1, 0.5, 1]}\n", "dose_response.knots",
     "knots are for model: spline"),
    ("dose_response: {model: linear}\n", "dose_response", "it needs multi_arm: multivariate"),
    ("multi_arm: multivariate\ndose_response: {model: spline, knots: [1, 0.5, 2]}\n", "dose_response.knots",
     "at least 3 increasing knots"),
    ("multi_arm: multivariate\ndose_response: {model: linear, slope: 1}\n", "dose_response.slope",
     "unknown parameter of dose_response"),
])
def test_dose_response_parameters_are_checked_from_their_declarations(review, extra, where, message):
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(review, extra))
    text = "\n".join(map(str, exc.value.problems))
    assert f"meta_analyses[0].{where}" in text or f"meta_analyses.response.{where}" in text, text
    assert message in text and "x.yaml:" in text


# --- a new analysis, registered at run time: no other code changes --------------------------------

@dataclass(frozen=True)
class Shifted:
    shift: float
    estimate: float

    def to_dict(self):
        return {"shift": self.shift, "estimate": self.estimate}


def _run(ctx, params):
    return Shifted(params["shift"], ctx.result.estimate + params["shift"])


def _sentence(result, cite):
    return f"The pooled estimate was shifted by {result['shift']:g} {cite('vc2010')}."


@pytest.fixture
def toy(monkeypatch):
    module = types.ModuleType("metak_toy_analysis")
    module.run, module.sentence, module.Shifted = _run, _sentence, Shifted
    monkeypatch.setitem(sys.modules, "metak_toy_analysis", module)
    kind = AnalysisKind("shifted", "the pooled estimate plus a stated shift", "metak_toy_analysis:run",
                        params=(Param("shift", "number", 0.0, minimum=-5, maximum=5),), spec="key",
                        methods="metak_toy_analysis:sentence", record="metak_toy_analysis:Shifted")
    monkeypatch.setitem(registry.KEYED, "shifted", kind)
    monkeypatch.setitem(registry.ANALYSES, "shifted", kind)
    return kind


def test_a_registered_analysis_is_parsed_run_written_and_described(review, toy):
    from metak.methods import methods
    from metak.schema.generate import fragment

    doc = metak.analyze(spec(review, "shifted: {shift: 0.5}\n"))
    ma = doc["meta_analyses"][0]
    assert ma["shifted"] == {"shift": 0.5, "estimate": pytest.approx(ma["estimate"] + 0.5, abs=1e-15)}
    assert any("shifted by 0.5" in p for p in methods(doc)[0])
    assert fragment(Shifted) == {"type": "object", "required": ["shift", "estimate"],
                                 "properties": {"shift": {"type": "number"}, "estimate": {"type": "number"}}}
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(review, "shifted: {shift: 9}\n", "bad.yaml"))
    assert "must be at most 5" in str(exc.value.problems[0])
    assert "shifted" in registry.help_text()


ACTIVE_LOW = """\
metak: 1
id: lowctl
title: "Two doses against a lower dose of the same drug (synthetic test data)"
citation: {authors: [Test B], year: 2025}
condition: test condition
design: parallel
arms:
  - {id: mid, label: "Mid dose", role: experimental, intervention: drug, dose: {value: 0.5, unit: mg/kg}, randomized: 30}
  - {id: high, label: "High dose", role: experimental, intervention: drug, dose: {value: 1.0, unit: mg/kg}, randomized: 30}
  - {id: low, label: "Low dose", role: control, intervention: drug, control_type: active_comparator, dose: {value: 0.25, unit: mg/kg}, randomized: 30}
outcomes:
  - id: response
    label: Response
    type: binary
    direction: higher_is_better
    source: {where: "synthetic"}
    data:
      mid: {events: 11, total: 30}
      high: {events: 15, total: 30}
      low: {events: 8, total: 30}
"""


def test_dose_response_doses_and_curve_against_hand_values(review):
    """Independent expected values: a comparison against a lower dose of the same drug enters
    with the dose difference (0.5 - 0.25 and 1.0 - 0.25, by hand), one against placebo with the
    dose itself; the curve at dose 0 is the intercept with the intercept's own CI (the grid row
    [1, 0] has the intercept's SE and critical value), and the line through it has the slope."""
    (review / "trials" / "lowctl.yaml").write_text(ACTIVE_LOW)
    dr = metak.analyze(spec(review, "multi_arm: multivariate\ndose_response: {model: linear}\n"))["meta_analyses"][0][
        "dose_response"]
    doses = {(p["trial"], p["label"]): p["dose"] for p in dr["points"]}
    assert doses[("lowctl", "Test 2025 (Mid dose)")] == pytest.approx(0.25, abs=1e-15)
    assert doses[("lowctl", "Test 2025 (High dose)")] == pytest.approx(0.75, abs=1e-15)
    assert doses[("dose0", "Test 2020 (High dose)")] == 1.0
    b0, b1 = (c for c in dr["coefficients"])
    curve = dr["curve"]
    assert curve["dose"][0] == 0.0 and curve["dose"][-1] == 1.0
    assert curve["estimate"][0] == pytest.approx(b0["estimate"], rel=1e-12)
    assert curve["ci_lower"][0] == pytest.approx(b0["ci_lower"], rel=1e-9)
    assert curve["ci_upper"][0] == pytest.approx(b0["ci_upper"], rel=1e-9)
    assert curve["estimate"][-1] == pytest.approx(b0["estimate"] + b1["estimate"], rel=1e-12)

"""The analysis protocol (metak.kinds.AnalysisKind): an analysis is its module, its registry
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
from metak import kinds, registry
from metak.errors import InvalidSpec
from metak.kinds import AnalysisKind, Param

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


# --- the pipeline is a loop: the analyses the spec's existing keys ask for are registered --------

def test_the_pipeline_names_no_analysis_and_computes_nothing():
    """metak/pipeline.py runs the registry's stages: no registered analysis's name, no spec key
    that asks for one, no statistics library in its code (a branch such as ``if "glmm" in out``
    or ``if ms.moderators`` fails this)."""
    import io
    import re
    import tokenize

    src = (ROOT / "metak" / "pipeline.py").read_text()
    asked_by = {key for kind in registry.ANALYSES.values() for key in kind.asked_by}
    names = set(registry.ANALYSES) | asked_by | {"glmm", "multivariate", "mv_covariance"}
    found = set()
    for tok in tokenize.generate_tokens(io.StringIO(src).readline):
        if tok.type == tokenize.NAME:
            found |= {tok.string} & names
        elif tok.type == tokenize.STRING:
            found |= set(re.findall(r"[A-Za-z_]+", tok.string)) & names
    assert not found, found
    assert "scipy" not in src and "linalg" not in src and "special." not in src
    assert len(src.splitlines()) < 300
    assert kinds.STAGES == ("table", "model", "after_fit")


ASKED = {  # registered name: (the spec's existing keys that ask for it, what to check of its result)
    "meta_regression": ("moderators: [year]\n",
                        lambda r: [c["name"] for c in r["coefficients"]] == ["intercept", "year"] and r["k"] == 8),
    "subgroups": ("subgroups: year\n", lambda r: len(r["groups"]) == 4 and len(r["values"]) == 8),
    "bayes": ("bayes: {prior: {mu: {dist: normal, mu: 0, sigma: 2}, tau: {dist: half_normal, sigma: 0.5}}}\n",
              lambda r: r["engine"] == "exact" and r["mu"]["mean"] is not None),
    "multivariate": ("multi_arm: multivariate\n",
                     lambda r: r["model"].startswith("rma.mv") and r["n_trials"] == 4 and r["shared_control_pairs"] == 4),
}


@pytest.mark.parametrize("name", sorted(ASKED))
def test_each_moved_analysis_runs_when_its_spec_key_asks_and_not_otherwise(review, name):
    jsonschema = pytest.importorskip("jsonschema")
    extra, ok = ASKED[name]
    doc = json.loads(json.dumps(metak.analyze(spec(review, extra))))
    ma = doc["meta_analyses"][0]
    assert ma[name] is not None and ok(ma[name]), ma.get(name)
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    jsonschema.validate(doc, schema)  # its record's dict is what the schema describes
    assert name in schema["properties"]["meta_analyses"]["items"]["properties"]
    import yaml

    kind = registry.KEYED[name]
    assert kind.asked_by and kind.on_by_default(yaml.safe_load(extra)) and not kind.on_by_default({})
    plain = metak.analyze(spec(review, "", "plain.yaml"))["meta_analyses"][0]
    if registry.KEYED[name].null_when_off:
        assert plain[name] is None
    else:
        assert name not in plain
    assert "dropout_rates" not in plain  # these arms give no dropouts
    if name not in kind.asked_by:
        with pytest.raises(InvalidSpec) as exc:  # its registered name is no key of the spec's
            metak.analyze(spec(review, f"{name}: true\n", "own.yaml"))
        assert f"meta_analyses[0].{name}: unknown key" in str(exc.value.problems[0])


def test_dropout_rates_are_written_when_the_arms_give_them(review):
    for f in (review / "trials").glob("dose*.yaml"):
        f.write_text(f.read_text().replace("role: control, intervention: placebo, control_type: placebo, randomized: 30}",
                                           "role: control, intervention: placebo, control_type: placebo, randomized: 30, "
                                           "completed: 24}")
                                  .replace("dose: {value: 0.5, unit: mg/kg}, randomized: 30}",
                                           "dose: {value: 0.5, unit: mg/kg}, randomized: 30, completed: 27}")
                                  .replace("dose: {value: 1.0, unit: mg/kg}, randomized: 30}",
                                           "dose: {value: 1.0, unit: mg/kg}, randomized: 30, completed: 27}"))
    ma = metak.analyze(spec(review, ""))["meta_analyses"][0]
    rates = ma["dropout_rates"]
    assert len(rates) == 8
    assert {r["experimental"]["rate"] for r in rates} == {3 / 30} and {r["control"]["rate"] for r in rates} == {6 / 30}
    assert all(r["control"]["dropouts"] == 6 and r["control"]["randomized"] == 30 for r in rates)
    mv = metak.analyze(spec(review, "multi_arm: multivariate\n", "mv.yaml"))["meta_analyses"][0]
    assert "dropout_rates" not in mv  # the multivariate model writes none (as before the move)


def test_the_multivariate_model_replaces_the_pooled_numbers_through_its_pooled_hook(review):
    """The studies' weights written are the GLS weights of the multivariate model (each row's entry
    of 1'M^-1 over the total), so the weighted mean of the written yi is the written estimate; the
    univariate numbers it replaces are gone."""
    assert registry.KEYED["multivariate"].replaces_pooled and registry.KEYED["glmm"].replaces_pooled
    split = metak.analyze(spec(review, "", "split.yaml"))["meta_analyses"][0]
    ma = metak.analyze(spec(review, "multi_arm: multivariate\n"))["meta_analyses"][0]
    w = [s["weight"] for s in ma["studies"]]
    y = [s["yi"] for s in ma["studies"]]
    assert len(y) == 8 and ma["k"] == 8 and sum(w) == pytest.approx(100, abs=1e-9)
    assert sum(wi * yi for wi, yi in zip(w, y)) / 100 == pytest.approx(ma["estimate"], rel=1e-9)
    assert abs(ma["estimate"] - split["estimate"]) > 1e-3  # not the split-control fit
    assert ma["multivariate"]["sigma2_trial"] is not None and ma["tau2"] is None and ma["i2"] is None
    assert ma["q_df"] == 7 and ma["sensitivity"] is None and ma["bayes"] is None
    assert "glmm" not in ma and "glmm" not in ma["model"]


def test_a_meta_regression_exclusion_has_its_reason_code(review):
    from metak.analyses.meta_regression import ExclusionCode

    (review / "trials" / "dose0.yaml").write_text(
        (review / "trials" / "dose0.yaml").read_text().replace("condition: test condition",
                                                               "condition: test condition\ncharacteristics: {}"))
    for i in (1, 2, 3):
        f = review / "trials" / f"dose{i}.yaml"
        f.write_text(f.read_text().replace("condition: test condition",
                                           f"condition: test condition\ncharacteristics: {{weeks: {4 + i}}}"))
    ma = metak.analyze(spec(review, "moderators: [weeks]\n"))["meta_analyses"][0]
    excl = ma["meta_regression"]["excluded"]
    assert [e["trial"] for e in excl] == ["dose0", "dose0"]
    assert {e["reason_code"] for e in excl} == {ExclusionCode.MISSING_MODERATOR.value}
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    items = schema["properties"]["meta_analyses"]["items"]["properties"]["meta_regression"]["properties"]["excluded"]
    assert items["items"]["properties"]["reason_code"]["enum"] == [c.value for c in ExclusionCode]
    assert "reason_code" in items["items"]["required"]


# --- a "table" stage analysis transforms the effect table before the fit -------------------------

@dataclass(frozen=True)
class Dropped:
    trial: str
    table: object

    def to_dict(self):
        return {"trial": self.trial}

    def context(self):
        return {"table": self.table}


def _drop_first_trial(ctx, params):
    keep = [r.trial != params["trial"] for r in ctx.table.rows]
    return Dropped(params["trial"], ctx.table.subset(keep))


def test_a_table_stage_analysis_transforms_the_table_before_the_fit(review, monkeypatch):
    module = types.ModuleType("metak_toy_table")
    module.run = _drop_first_trial
    monkeypatch.setitem(sys.modules, "metak_toy_table", module)
    kind = AnalysisKind("drop_trial", "leave one trial out before the fit", "metak_toy_table:run", stage="table",
                        spec="key", params=(Param("trial", "str", None, required=True),))
    monkeypatch.setitem(registry.KEYED, "drop_trial", kind)
    monkeypatch.setitem(registry.ANALYSES, "drop_trial", kind)
    ma = metak.analyze(spec(review, "drop_trial: {trial: dose0}\n"))["meta_analyses"][0]
    ref = metak.analyze(spec(review, "select: {trials: [dose1, dose2, dose3]}\n", "ref.yaml"))["meta_analyses"][0]
    assert ma["drop_trial"] == {"trial": "dose0"}
    assert ma["k"] == ref["k"] == 6
    assert ma["estimate"] == pytest.approx(ref["estimate"], rel=1e-12)
    assert [s["trial"] for s in ma["studies"]] == [s["trial"] for s in ref["studies"]]


# --- sensitivity analyses: typed records, their schema fragments generated (issue 24, P2) -------

SENSITIVITY_ALL = """\
sensitivity:
  - leave_one_out
  - influence
  - {small_study: {force: true}}
  - cumulative
  - active_placebo
  - {blinding: {bias: {preset: savovic2012}}}
  - risk_of_bias
  - missing_outcome
  - crossover_rho
"""


def test_every_sensitivity_record_writes_its_block_and_generates_its_schema(review):
    """A real run of the sensitivity analyses: every block is its record's ``to_dict()`` (rebuilt
    from the block it is byte for byte the same, key order included), validates against the
    committed schema, and the committed sensitivity fragments are the records' (run
    ``python -m metak.schema.generate`` when this fails)."""
    jsonschema = pytest.importorskip("jsonschema")
    from metak.schema.generate import sensitivity_fragments
    from metak.schema.record import from_dict

    doc = metak.analyze(spec(review, SENSITIVITY_ALL))
    sens = doc["meta_analyses"][0]["sensitivity"]
    assert set(sens) == {"leave_one_out", "influence", "small_study", "cumulative", "active_placebo", "blinding",
                         "risk_of_bias", "missing_outcome", "crossover_rho"}
    for name, block in sens.items():
        record = from_dict(registry.SENSITIVITY[name].record_type(), block)
        assert json.dumps(record.to_dict()) == json.dumps(block), name
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    committed = schema["properties"]["meta_analyses"]["items"]["properties"]["sensitivity"]["properties"]
    assert committed == sensitivity_fragments()
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    broken = json.loads(json.dumps(doc))
    broken["meta_analyses"][0]["sensitivity"]["blinding"]["classification"][0]["status"] = "fine"
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)
    broken = json.loads(json.dumps(doc))
    del broken["meta_analyses"][0]["sensitivity"]["small_study"]["trim_fill"]["k0"]
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, schema)


def test_a_sensitivity_analysis_registered_at_run_time_gets_its_schema_fragment(monkeypatch):
    from metak.schema.generate import sensitivity_fragments

    module = types.ModuleType("metak_toy_sens")
    module.run, module.Shifted = _run, Shifted
    monkeypatch.setitem(sys.modules, "metak_toy_sens", module)
    kind = AnalysisKind("shifted_sens", "the pooled estimate plus a stated shift", "metak_toy_sens:run",
                        record="metak_toy_sens:Shifted")
    monkeypatch.setitem(registry.SENSITIVITY, "shifted_sens", kind)
    assert sensitivity_fragments()["shifted_sens"] == {
        "type": "object", "required": ["shift", "estimate"],
        "properties": {"shift": {"type": "number"}, "estimate": {"type": "number"}}}

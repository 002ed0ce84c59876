"""The analysis protocol (metak.kinds.AnalysisKind): an analysis is its module, its registry
entry and its tests. dose_response is one (moved out of the pipeline); a toy analysis registered
at run time is parsed, run, written and described without touching any other code; the schema
fragment of a keyed analysis is generated from its record."""

from __future__ import annotations

import json
import re
import sys
import textwrap
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

import metak
from metak import kinds, registry, registry_help
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
    assert f"meta_analyses[0].{where}" in text, text
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
    assert "shifted" in registry_help.help_text()


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


# --- the analyses the spec's keys ask for: records, schema, the residual tau² CI (issue 24, Q2) ---

MOVED_RECORDS = {"meta_regression": "moderators: [latitude]\n", "subgroups": "subgroups: latitude_band\n",
                 "dropout_rates": "", "bayes": "bayes: {prior: {tau: {dist: half_normal, sigma: 0.5}}}\n"}


@pytest.fixture
def moved(review):
    """The dose trials with a latitude characteristic and arms that give their dropouts."""
    for i, path in enumerate(sorted((review / "trials").glob("*.yaml"))):
        text = path.read_text().replace("randomized: 30}", "randomized: 30, completed: %d}" % (27 - i))
        path.write_text(text + f"characteristics: {{latitude: {20 + 7 * i}, latitude_band: {'north' if i % 2 else 'south'}}}\n")
    return review


@pytest.mark.parametrize("name", sorted(MOVED_RECORDS))
def test_each_moved_analysis_writes_its_record_and_its_schema_is_generated_from_it(moved, name):
    """meta_regression, subgroups, dropout_rates (a list) and bayes: the block of a real run is its
    record's ``to_dict()`` (rebuilt from the block, byte for byte), the committed fragment is the
    record's, and a block breaking the record's types, enums or bounds fails the schema."""
    jsonschema = pytest.importorskip("jsonschema")
    from metak.schema.generate import fragments
    from metak.schema.record import from_dict

    doc = metak.analyze(spec(moved, MOVED_RECORDS[name]))
    block = doc["meta_analyses"][0][name]
    assert block, name
    record = from_dict(registry.KEYED[name].record_type(), block)
    assert json.dumps(record.to_dict()) == json.dumps(block)
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    props = schema["properties"]["meta_analyses"]["items"]["properties"]
    assert props[name] == fragments()[name]  # run `python -m metak.schema.generate` when this fails
    breakers = {
        "meta_regression": [lambda b: b.__setitem__("qm_df", [1, 2, 3]), lambda b: b.__setitem__("test", "t"),
                            lambda b: b["excluded"].append({"trial": "x", "label": "x", "reason": "r",
                                                            "reason_code": "whim"}),
                            lambda b: b.pop("vcov")],
        "subgroups": [lambda b: b["groups"][0].pop("k"), lambda b: b["mixed_effects"].__setitem__("test", "t")],
        "dropout_rates": [lambda b: b[0]["control"].__setitem__("rate", 1.5), lambda b: b[0].pop("trial")],
        "bayes": [lambda b: b.__setitem__("prob_benefit", 1.2), lambda b: b["mu"].pop("median"),
                  lambda b: b.__setitem__("engine", "guess")],
    }[name]
    validator = jsonschema.Draft202012Validator(props[name])  # the block against its fragment (fast)
    validator.validate(json.loads(json.dumps(block)))
    for breaker in breakers:
        broken = json.loads(json.dumps(block))
        breaker(broken)
        with pytest.raises(jsonschema.ValidationError):
            validator.validate(broken)


def test_qm_df_is_an_integer_or_a_pair_and_dropout_rates_an_array_in_the_schema():
    from metak.schema.generate import fragments

    frags = fragments()
    assert frags["meta_regression"]["properties"]["qm_df"] == {"anyOf": [
        {"type": "integer"}, {"type": "array", "items": {"type": "integer"}, "minItems": 2, "maxItems": 2}]}
    assert frags["dropout_rates"]["type"] == "array"
    assert frags["bayes"]["type"] == ["object", "null"]  # null_when_off
    assert frags["meta_regression"]["type"] == "object" and frags["subgroups"]["type"] == "object"


ASSINK = ROOT / "tests" / "reference" / "api_workflow_reference.json"
ASSINK_TRIAL = """\
metak: 1
id: {id}
title: "dat.assink2016 study {study}, effect size {esid} (metadat)"
citation: {{authors: [Assink M], year: 2016}}
condition: delinquency
design: parallel
arms:
  - {{id: exp, label: Exposed, role: experimental, intervention: risk_factor}}
  - {{id: ctl, label: Unexposed, role: control, intervention: none, control_type: usual_care}}
characteristics: {{yr: {year!r}, pubstatus: {pubstatus}}}
outcomes:
  - id: delinquency
    label: Delinquency
    type: contrast
    direction: higher_is_better
    source: {{where: "metadat dat.assink2016 (yi, vi as a reported SMD)"}}
    data: {{measure: SMD, experimental: exp, control: ctl, estimate: {yi!r}, se: {se!r}}}
"""


@pytest.fixture(scope="module")
def assink(tmp_path_factory):
    """dat.assink2016 (metadat) as 100 contrast-only trial records: each effect size its own
    trial, year and pubstatus as characteristics (tests/reference/api_workflow_reference.json)."""
    import math

    ref = json.loads(ASSINK.read_text())
    data = ref["data"]
    root = tmp_path_factory.mktemp("assink")
    (root / "trials").mkdir()
    (root / "analyses").mkdir()
    for j in range(len(data["yi"])):
        tid = f"s{data['study'][j]}_{data['esid'][j]}"
        (root / "trials" / f"{tid}.yaml").write_text(ASSINK_TRIAL.format(
            id=tid, study=data["study"][j], esid=data["esid"][j], year=float(data["year"][j]),
            pubstatus=int(data["pubstatus"][j]), yi=float(data["yi"][j]), se=math.sqrt(data["vi"][j])))
    return root, ref


def _assink_spec(root, method, test="z"):
    p = root / "analyses" / f"mods_{method}_{test}.yaml"
    p.write_text(textwrap.dedent(f"""\
        metak: 1
        title: "dat.assink2016 meta-regression"
        trials: ../trials
        meta_analyses:
          - id: mods
            outcome: delinquency
            measure: SMD
            method: {method}
            test: {test}
            moderators: [yr, pubstatus]
        """))
    return p


#: Q-profile bounds: R's confint() ran with uniroot tol = 1e-12; the SE round trip (vi = se²) costs ~1e-16
CI_RTOL = 1e-6


@pytest.mark.parametrize("method, test, ref_key", [("REML", "z", "confint_mods"), ("REML", "hksj", "confint_mods_knha"),
                                                   ("DL", "z", "confint_mods_dl")])
def test_the_meta_regression_writes_metafors_q_profile_ci_of_the_residual_tau2(assink, method, test, ref_key):
    """confint(rma(yi, vi, mods = ~ year + pubstatus)) of metafor 3.8.1 on dat.assink2016, through
    a spec run: tau2_ci, tau_ci, i2_ci, h2_ci of ``meta_regression`` (and its tau², I², H²)."""
    root, ref = assink
    doc = metak.analyze(_assink_spec(root, method, test))
    mr = doc["meta_analyses"][0]["meta_regression"]
    want = ref[ref_key]
    assert mr["k"] == 100 and [c["name"] for c in mr["coefficients"]] == ["intercept", "yr", "pubstatus"]
    for key in ("tau2", "tau", "i2", "h2"):
        est, lo, hi = want[key]
        if key != "tau":
            assert mr[key] == pytest.approx(est, rel=CI_RTOL), key
        assert mr[f"{key}_ci"] == pytest.approx([lo, hi], rel=CI_RTOL), key


def test_a_common_effect_meta_regression_has_no_residual_tau2_ci_and_the_methods_text_claims_none(assink):
    from metak.methods import methods

    root, _ = assink
    doc = metak.analyze(_assink_spec(root, "FE"))
    mr = doc["meta_analyses"][0]["meta_regression"]
    assert mr["tau2"] is None or mr["tau2"] == 0
    assert (mr["tau2_ci"], mr["tau_ci"], mr["i2_ci"], mr["h2_ci"]) == (None, None, None, None)
    text = " ".join(methods(doc)[0])
    assert "residual" not in text


def test_the_dropout_and_bayes_sentences_are_their_hooks_and_a_hook_may_read_the_meta_analysis(monkeypatch):
    """The dropout sentence is the ``dropout_rates`` hook, called with the meta-analysis's dict even
    when no rates were written; the Bayesian block's hook is ``methods_first``: right after the
    model's, before every other analysis's sentence."""
    from metak.methods import Cites, _keyed

    assert registry.KEYED["bayes"].methods_first and not registry.KEYED["dropout_rates"].methods_first
    ma = {"dropout": True, "measure": "RR", "excluded": [{"trial": "t9", "reason_code": "double_zero"}]}
    cite = Cites()
    text = registry.KEYED["dropout_rates"].describe(None, cite, ma)
    assert text == ("Dropout was analysed as its own outcome; trials without dropouts in either arm (t9) were left "
                    "out of ratio measures, as RevMan does [1].") and cite.order == ["handbook2023"]
    assert registry.KEYED["dropout_rates"].describe(None, Cites(), {**ma, "measure": "RD"}) == \
        "Dropout was analysed as its own outcome."
    assert registry.KEYED["dropout_rates"].describe([{"trial": "a"}], Cites(), {"dropout": False}) == ""
    doc_ma = {**ma, "bayes": {"mu": {"mean": 0}, "engine": "exact", "likelihood": "normal", "level": 0.9,
                              "prior": {"mu": "Normal(mu=0, sigma=10)", "tau": "HalfNormal(sigma=0.5)"}},
              "subgroups": {"by": "x", "q_between": 1.0}}
    first, rest = _keyed(doc_ma, Cites(), first=True), _keyed(doc_ma, Cites(), first=False)
    assert len(first) == 1 and first[0].startswith("A Bayesian random-effects model with a normal likelihood")
    assert "90% equal-tailed credible intervals" in first[0]
    assert rest[0].startswith("Dropout was analysed") and rest[1].startswith("Subgroups by x")
    seen = []  # a two-parameter hook is not called without its result; a three-parameter one is
    monkeypatch.setattr(kinds, "_resolve", lambda target: (lambda r, c, m: seen.append((r, m)) or "three")
                        if target == "three" else (lambda r, c: seen.append((r,)) or "two"))
    three = AnalysisKind("t3", "", "x:y", methods="three")
    two = AnalysisKind("t2", "", "x:y", methods="two")
    assert three.describe(None, Cites(), {"id": "m"}) == "three" and seen == [(None, {"id": "m"})]
    assert two.describe(None, Cites(), {"id": "m"}) == "" and two.describe({"a": 1}, Cites(), {}) == "two"


@pytest.mark.parametrize("extra, line, where, message", [
    ("moderators: [latitude, latitude]\n", 8, "moderators", "a moderator is named twice"),
    ("moderators: []\n", 8, "moderators", "name at least one moderator"),
    ("title: t\npermutations: 100\n", 9, "permutations", "a permutation test needs moderators"),
    ("moderators: [latitude]\npermutations: {iterations: 0}\n", 9, "permutations.iterations", "at least 1"),
    ("subgroups: 5\n", 8, "subgroups", "must be non-empty text"),
    ("multi_arm: multivariate\nsubgroups: latitude\n", 9, "subgroups", "not yet available with multi_arm"),
    ("multi_arm: multivariate\nmoderators: [latitude]\n", 9, "moderators", "not yet available with multi_arm"),
    ("multi_arm: multivariate\nbayes: {engine: mcmc}\n", 9, "bayes", "fitted by the exact engine"),
    ("bayes: {prior: {tau: {sigma: 1}}}\n", 8, "bayes.prior.tau", "needs 'dist'"),
    ("method: MH\nmoderators: [latitude]\n", 9, "moderators", "method MH has no meta-regression"),
])
def test_the_keys_asking_for_the_moved_analyses_are_checked_from_their_params(moved, extra, line, where, message):
    """moderators:, permutations:, subgroups: and bayes: are the declared Params of the analyses they
    ask for (their names are the keys); each problem is reported with the file, its line and key path."""
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(moved, extra))
    hits = [p for p in exc.value.problems if message in p.message]
    assert hits, "\n".join(map(str, exc.value.problems))
    assert hits[0].line == line and hits[0].path.endswith(f"meta_analyses[0].{where}") and "x.yaml" in str(hits[0].file)


def test_the_moved_analyses_declare_their_keys_as_params_and_read_them_not_the_spec():
    """Each Param of an analysis asked for by the spec's keys is one of those keys; MetaSpec no longer
    carries moderators, permutations or subgroups (the analyses' run() reads its params)."""
    from metak.spec.model import MetaSpec

    for name in ("meta_regression", "subgroups", "bayes"):
        kind = registry.KEYED[name]
        assert kind.params and {p.name for p in kind.params} <= set(kind.asked_by), name
    fields = set(MetaSpec.__dataclass_fields__)
    assert not {"moderators", "permutations", "subgroups"} & fields
    for module in ("meta_regression", "subgroups", "bayes"):
        text = (ROOT / "metak" / "analyses" / f"{module}.py").read_text()
        assert "ms.moderators" not in text and "ms.subgroups" not in text and "ms.bayes" not in text
        assert "ms.permutations" not in text


def test_the_meta_regression_runs_with_its_parsed_params(moved):
    doc = metak.analyze(spec(moved, "moderators: latitude\npermutations: {iterations: 200, seed: 3}\n"))
    mr = doc["meta_analyses"][0]["meta_regression"]
    assert mr["moderators"] == ["latitude"] and mr["permutation"]["permutations"] == 200
    assert [c["name"] for c in mr["coefficients"]] == ["intercept", "latitude"]


def test_the_terminal_report_shows_the_residual_tau2_ci_of_the_meta_regression(assink):
    from metak.report import regression_lines

    root, ref = assink
    doc = metak.analyze(_assink_spec(root, "REML"))
    lo, hi = ref["confint_mods"]["tau2"][1:]
    assert f"residual tau2 = 0.1873 [{lo:.4f}, {hi:.4f}]" in "\n".join(regression_lines(doc["meta_analyses"][0]))
    fe = metak.analyze(_assink_spec(root, "FE"))
    assert "residual tau2" not in "\n".join(regression_lines(fe["meta_analyses"][0]))


# --------------------------------------------------------------------------- figures (issue 24, S2)
# A figure names the registered analyses it draws (FigureKind.needs), never a spec key; the spec
# check and the availability check of `metak plot` / AnalysisResults.plot read it by one rule
# (metak.figure_needs), the spec keys in their messages taken from the analyses' asked_by.

BAYES = "bayes: {prior: {mu: {dist: normal, mu: 0, sigma: 10}, tau: {dist: half_normal, sigma: 0.5}}}\n"
BAYES_PS = ("bayes: {prior: {mu: {dist: normal, mu: 0, sigma: 10}, tau: {dist: half_normal, sigma: 0.5}}, "
            "prior_sensitivity: [{dist: half_normal, sigma: 1.0}]}\n")


def _figure_problems(root, figure, extra):
    """The spec's problems (file, line, path, message) with ``figures: [forest, <figure>]``."""
    from metak.records.yamlload import load_located
    from metak.spec import parse_spec

    p = spec(root, extra + f"figures: [forest, {figure}]\n")
    if "dropout: true" in extra:  # a dropout meta-analysis takes no outcome
        p.write_text(p.read_text().replace("    outcome: response\n", "", 1))
    doc, problems = load_located(p, str(p))
    assert doc is not None, problems
    _, problems = parse_spec(doc, "", p.parent)
    line = next(i for i, text in enumerate(p.read_text().splitlines(), 1) if text.strip().startswith("figures:"))
    return problems, line


def test_no_figure_names_a_spec_key_only_registered_analyses():
    """Every need of every FIGURES entry is ("sensitivity", a sensitivity analysis), ("analysis", a keyed
    analysis) or ("analysis", name, a field of that analysis's results.json record); FigureKind has no
    hand-written text naming spec keys (its needs_text is built from the analyses' asked_by)."""
    from metak.figure_needs import TAGS, kind_of
    from metak.schema.generate import fragments
    from metak.spec.model import MA_OPTIONAL

    assert "needs_text" not in kinds.FigureKind.__dataclass_fields__
    frags = fragments()
    seen = set()
    for fig in registry.FIGURES.values():
        for need in fig.needs:
            assert need[0] in TAGS and len(need) in (2, 3), (fig.name, need)
            kind = kind_of(need)  # a registered analysis of the kind its tag says, else KeyError
            assert kind.name == need[1] and (need[0] == "sensitivity") == (kind.spec == "sensitivity"), fig.name
            if kind.asked_by and kind.name not in kind.asked_by:  # a name the spec's keys ask for is no key
                assert kind.name not in MA_OPTIONAL, (fig.name, need)
            if len(need) == 3:  # a field of the analysis's record, not a spec key
                assert need[2] in frags[kind.name]["properties"], (fig.name, need)
            seen.add(need[1])
        if fig.needs:
            assert registry_help.figure_text(fig).startswith("the "), fig.name
    assert {"meta_regression", "subgroups", "bayes", "dropout_rates", "certainty", "network"} <= seen


FIGURE_ASKED = [  # (figure, what the spec gives): the analysis it draws is asked for, the figure accepted
    ("bubble", "moderators: [latitude]\n"),
    ("subgroup", "subgroups: latitude_band\n"),
    ("subgroup", "sensitivity: [active_placebo]\n"),
    ("posterior", BAYES),
    ("prior_sensitivity", BAYES_PS),
    ("dropout", "dropout: true\n"),
    ("dropout", "dropout: true\nmulti_arm: multivariate\n"),  # no dropout rates of its own: still asked
    ("tsa", "sensitivity: [small_study]\n"),                  # certainty, on by default
    ("tsa", "certainty: true\n"),
    ("network_graph", "network: {}\n"),
    ("dose_response", "multi_arm: multivariate\ndose_response: {model: linear}\n"),
    ("leave_one_out", "sensitivity: [leave_one_out]\n"),
]
FIGURE_NOT_ASKED = [  # (figure, what the spec gives, the spec keys the message must name)
    ("bubble", "", ["moderators:"]),
    ("bubble", "title: t\npermutations: 100\n", ["moderators:"]),  # permutations: alone asks for no meta-regression
    ("subgroup", "", ["subgroups:", "sensitivity: [active_placebo]"]),
    ("posterior", "", ["bayes:"]),
    ("prior_sensitivity", BAYES, ["bayes:", "with prior_sensitivity"]),
    ("dropout", "", ["dropout:"]),
    ("tsa", "certainty: false\nsensitivity: [small_study]\n", ["certainty: {...}", "on by default"]),
    ("network_graph", "", ["network: {...}"]),
    ("leave_one_out", "sensitivity: [influence]\n", ["sensitivity: [leave_one_out]"]),
]


@pytest.mark.parametrize("figure, extra", FIGURE_ASKED)
def test_a_figure_whose_analysis_is_asked_for_is_accepted(review, figure, extra):
    problems, _ = _figure_problems(review, figure, extra)
    assert not problems, "\n".join(map(str, problems))


@pytest.mark.parametrize("figure, extra, keys", FIGURE_NOT_ASKED)
def test_a_figure_whose_analysis_is_not_asked_for_fails_at_its_line_naming_the_keys(review, figure, extra, keys):
    from metak.figure_needs import kind_of

    problems, line = _figure_problems(review, figure, extra)
    hits = [p for p in problems if p.path == "meta_analyses[0].figures[1]"]
    assert len(hits) == 1, "\n".join(map(str, problems))
    hit = hits[0]
    assert hit.line == line and "x.yaml" in str(hit.file)
    assert hit.message.startswith(f"the {figure} figure needs the ")
    for key in keys:
        assert key in hit.message, hit.message
    for need in registry.FIGURES[figure].needs:  # the analysis and its asking keys, from the registry
        kind = kind_of(need)
        assert f"the {kind.name} analysis" in hit.message
        assert all(f"{k}:" in hit.message for k in kind.asked_by if kind.on_by_default({k: True}))


def test_metak_plot_and_results_plot_read_the_same_rule_from_the_results():
    """check_available: the analysis's results.json object present (non-null, and its field when the
    need names one), or the key results.json echoes asking for it (dropout: true)."""
    from metak.errors import AnalysisError
    from metak.figure_needs import check_available

    ok = [("posterior", {"bayes": {"mu": {}}}), ("prior_sensitivity", {"bayes": {"prior_sensitivity": [{}]}}),
          ("bubble", {"meta_regression": {"k": 3}}), ("subgroup", {"sensitivity": {"active_placebo": {}}}),
          ("dropout", {"dropout": True}), ("dropout", {"dropout_rates": [{}]}), ("tsa", {"certainty": {}}),
          ("leave_one_out", {"sensitivity": {"leave_one_out": {}}}), ("forest", {})]
    for figure, ma in ok:
        check_available({"id": "m", **ma}, figure)
    refused = [("posterior", {"bayes": None}, "bayes:"), ("prior_sensitivity", {"bayes": {"prior_sensitivity": []}},
                                                           "with prior_sensitivity"),
               ("bubble", {}, "moderators:"), ("dropout", {"dropout": False}, "dropout:"),
               ("subgroup", {"sensitivity": {"leave_one_out": {}}}, "sensitivity: [active_placebo]"),
               ("leave_one_out", {"sensitivity": {"leave_one_out": None}}, "sensitivity: [leave_one_out]")]
    for figure, ma, key in refused:
        with pytest.raises(AnalysisError, match=rf"{figure} plot of meta-analysis 'm' needs the .*{re.escape(key)}"):
            check_available({"id": "m", **ma}, figure)


def test_analysis_results_plot_refuses_a_figure_whose_analysis_is_not_in_the_results():
    from metak.analyzed import AnalysisResults
    from metak.errors import AnalysisError

    doc = AnalysisResults(json.loads((ROOT / "docs" / "examples" / "bcg" / "results" / "results.json").read_text()))
    with pytest.raises(AnalysisError, match="needs the bayes analysis"):
        doc.plot("posterior")

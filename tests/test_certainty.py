"""GRADE certainty rules (metak.certainty.rules): each rule on a hand-worked results object, the
authors' overrides with their reasons, the spec's errors with their lines, and the analysis run
end to end (on by default where its inputs exist)."""

from __future__ import annotations

import math
import textwrap

import pytest

import metak
from metak.certainty import rules
from metak.errors import InvalidSpec
from metak.study_rows import StudyRow
from record_examples import complete, fill

TRIAL = """\
metak: 1
id: {id}
title: "Trial {id} (synthetic test data)"
citation: {{authors: [Test A], year: {year}}}
condition: test condition
design: parallel
arms:
  - {{id: drug, label: Drug, role: experimental, intervention: drug, randomized: {n}}}
  - {{id: pbo, label: Placebo, role: control, intervention: placebo, control_type: placebo, randomized: {n}}}
outcomes:
  - id: response
    label: Response
    type: binary
    direction: higher_is_better
    source: {{where: "synthetic"}}
    data:
      drug: {{events: {a}, total: {n}}}
      pbo: {{events: {c}, total: {n}}}
"""


@pytest.fixture
def review(tmp_path):
    (tmp_path / "trials").mkdir()
    for i, (a, c, n) in enumerate([(12, 6, 40), (20, 9, 50), (9, 8, 30), (25, 10, 60), (14, 7, 45)]):
        (tmp_path / "trials" / f"t{i}.yaml").write_text(TRIAL.format(id=f"t{i}", year=2010 + i, a=a, c=c, n=n))
    (tmp_path / "analyses").mkdir()
    return tmp_path


def spec(root, extra: str, name="x.yaml"):
    p = root / "analyses" / name
    p.write_text(textwrap.dedent("""\
        metak: 1
        title: "Certainty test"
        trials: ../trials
        meta_analyses:
          - id: response
            outcome: response
            measure: OR
        """) + textwrap.indent(textwrap.dedent(extra), "    "))
    return p


def ma(**kw):
    """A results.json meta-analysis with what the rules read (OR, higher is better)."""
    base = {"measure": "OR", "direction": "higher_is_better", "k": 5, "estimate": 0.5, "ci_lower": 0.1,
            "ci_upper": 0.9, "pi_lower": 0.05, "pi_upper": 0.95, "i2": 10.0, "q_p": 0.4, "n_participants": 450,
            "studies": [fill(StudyRow, {"trial": f"t{i}", "weight": w})
                        for i, w in enumerate([30.0, 25.0, 20.0, 15.0, 10.0])],
            "sensitivity": {}}
    base.update(kw)
    # the rules read the analyses as their records (metak.typed): each partial value completed
    base["sensitivity"] = {n: complete(n, v) for n, v in base["sensitivity"].items()}
    if base.get("subgroups"):
        base["subgroups"] = complete("subgroups", base["subgroups"])
    return base


def rob_summary(high, sc, na=0.0):
    return {"summary": {"overall": {"counts": {}, "weight": {"low": 100 - high - sc - na, "some_concerns": sc,
                                                             "high": high, "not_assessed": na}}}}


# --- risk of bias ---------------------------------------------------------------------------

@pytest.mark.parametrize("high, sc, levels", [(30.0, 0.0, 1), (55.0, 0.0, 2), (10.0, 45.0, 1), (10.0, 30.0, 0),
                                              (24.9, 0.0, 0)])
def test_rob2_weight_rule(high, sc, levels):
    d = rules.risk_of_bias(ma(sensitivity={"risk_of_bias": rob_summary(high, sc)}), 1)
    assert d["levels"] == levels and d["rating"] == rules.RATING_OF[levels]
    assert f"{high:.0f}% of the weight from trials at high risk of bias" in d["reason"]


def test_blinding_compromised_weight_rule():
    cls = [{"trial": "t0", "status": "compromised"}, {"trial": "t1", "status": "compromised"},
           {"trial": "t2", "status": "adequate"}, {"trial": "t3", "status": "unknown"},
           {"trial": "t4", "status": "unknown"}]
    d = rules.risk_of_bias(ma(sensitivity={"blinding": {"classification": cls}}), 1)
    # weights 30 + 25 = 55% compromised >= 50%: one level
    assert d["levels"] == 1 and "55% of the weight from trials whose blinding was compromised" in d["reason"]
    cls[1]["status"] = "adequate"  # 30% compromised, 25% unknown: not rated down
    d = rules.risk_of_bias(ma(sensitivity={"blinding": {"classification": cls}}), 1)
    assert d["levels"] == 0 and "unknown (no allocation guesses) in 25%" in d["reason"]
    assert "no RoB 2 assessment" in d["reason"]


def _scen(name, est, lo, hi, ie=1.0, ic=1.0):
    return {"name": name, "imor_experimental": ie, "imor_control": ic, "estimate": est, "ci_lower": lo,
            "ci_upper": hi}


def test_missing_outcome_plausible_worst_case_rule():
    # available case excludes the null; the least favourable IMOR scenario (estimate 0.30) does not
    sc = [_scen("available_case", 0.5, 0.1, 0.9), _scen("worst_case", -0.4, -1.0, 0.2, 0.0, 1e8),
          _scen("imor", 0.30, -0.05, 0.65, 2.0, 0.5), _scen("imor", 0.6, 0.2, 1.0, 0.5, 2.0)]
    d = rules.risk_of_bias(ma(sensitivity={"missing_outcome": {"scenarios": sc}}), 1)
    assert d["levels"] == 1 and "IMOR 2/0.5" in d["reason"] and "the inference changes" in d["reason"]
    # the extreme worst case is not the plausible one (GRADE 17): with both IMORs keeping the CI off the null
    sc[2] = _scen("imor", 0.35, 0.02, 0.7, 2.0, 0.5)
    d = rules.risk_of_bias(ma(sensitivity={"missing_outcome": {"scenarios": sc}}), 1)
    assert d["levels"] == 0 and "does not change" in d["reason"]
    # lower is better: the least favourable scenario is the highest estimate
    d = rules.missing_outcome(ma(ci_lower=-0.9, ci_upper=-0.1, sensitivity={"missing_outcome": {"scenarios": [
        _scen("available_case", -0.5, -0.9, -0.1), _scen("imor", -0.45, -0.85, 0.05, 2, 0.5),
        _scen("imor", -0.6, -1.0, -0.2, 0.5, 2)]}}), -1)
    assert d["levels"] == 1 and d["numbers"]["estimate"] == -0.45
    d = rules.missing_outcome(ma(sensitivity={"missing_outcome": {"scenarios": sc[:2]}}), 1)
    assert d["levels"] == 0 and "no plausible-scenario" in d["reason"]


# --- inconsistency ---------------------------------------------------------------------------

def test_inconsistency_rules():
    d = rules.inconsistency(ma(i2=61.0, pi_lower=-0.8, pi_upper=1.9))
    assert d["levels"] == 1 and d["reason"] == (f"I² = 61%, prediction interval {math.exp(-0.8):.2f} to "
                                               f"{math.exp(1.9):.2f} crosses the null")
    assert rules.inconsistency(ma(i2=80.0, pi_lower=-0.8, pi_upper=1.9))["levels"] == 2
    assert rules.inconsistency(ma(i2=61.0, pi_lower=0.1, pi_upper=1.9))["levels"] == 0  # consistent direction
    assert rules.inconsistency(ma(i2=49.0, pi_lower=-0.8, pi_upper=1.9))["levels"] == 0
    d = rules.inconsistency(ma(i2=61.0, pi_lower=-0.8, pi_upper=1.9, subgroups={"by": "dose", "p_between": 0.01}))
    assert d["levels"] == 0 and "subgroups by dose explain part of it" in d["reason"]
    assert rules.inconsistency(ma(k=1, i2=None))["reason"].startswith("k = 1")
    # a common-effect model has no PI: Q's p < 0.10 stands in for it
    assert rules.inconsistency(ma(i2=61.0, pi_lower=None, pi_upper=None, q_p=0.02))["levels"] == 1


# --- imprecision -----------------------------------------------------------------------------

INFO = {"required": 1000, "n_participants": 450.0, "basis": "control risk 20.0%", "d2": 0.3}


def test_imprecision_rules():
    d = rules.imprecision(ma(ci_lower=-0.1, ci_upper=0.9), None, None, None)
    assert d["levels"] == 1 and "includes the null" in d["reason"]
    d = rules.imprecision(ma(), None, {**INFO, "n_participants": 1200.0}, None)
    assert d["levels"] == 0 and "1,200 participants of an optimal information size of 1,000" in d["reason"]
    d = rules.imprecision(ma(), None, INFO, None)  # CI excludes the null but the OIS is not met
    assert d["levels"] == 1 and "450 participants of an optimal information size of 1,000 (45%" in d["reason"]
    mid = math.log(1.25)
    assert rules.imprecision(ma(ci_lower=-0.3, ci_upper=0.3), mid, None, None)["levels"] == 2  # both MIDs
    assert rules.imprecision(ma(ci_lower=0.1, ci_upper=0.3), mid, None, None)["levels"] == 1  # crosses one MID
    assert rules.imprecision(ma(ci_lower=0.25, ci_upper=0.9), mid, None, None)["levels"] == 0
    d = rules.imprecision(ma(), None, {**INFO, "n_participants": 1200.0}, {"crossed_at": "T3"})
    assert "TSA (an aid, not a stopping rule): the cumulative Z curve crossed" in d["reason"] and d["levels"] == 0


# --- publication bias and overall ------------------------------------------------------------

def test_publication_bias_rules():
    d = rules.publication_bias(ma(k=4))
    assert d["rating"] == "not_assessed" and "k = 4 < 10" in d["reason"]
    d = rules.publication_bias(ma(k=12))
    assert d["rating"] == "not_assessed" and "no small-study test" in d["reason"]
    ss = {"run": True, "egger": {"p_value": 0.03}, "trim_fill": {"k0": 3, "estimate": 0.2}}
    d = rules.publication_bias(ma(k=12, sensitivity={"small_study": ss}))
    assert d["levels"] == 1 and "Egger's test p = 0.030; trim-and-fill adds 3 studies" in d["reason"]
    ss["egger"]["p_value"] = 0.3
    assert rules.publication_bias(ma(k=12, sensitivity={"small_study": ss}))["levels"] == 0
    sm = {"lrt": {"p_value": 0.01}, "estimate": 0.1}
    assert rules.publication_bias(ma(k=12, sensitivity={"small_study": ss, "selection_model": sm}))["levels"] == 1


def test_overall_and_footnotes():
    doms = rules.suggest(ma(i2=61.0, pi_lower=-0.8, pi_upper=1.9, ci_lower=-0.1), 1, None, None, None)
    overall, down = rules.overall(doms)
    assert (overall, down) == ("low", 2)
    notes = rules.footnotes(doms)
    assert notes[0].startswith("a. Rated down one level for inconsistency: I² = 61%")
    assert notes[1].startswith("b. Rated down one level for imprecision")
    assert rules.overall({"x": {"levels": 2}, "y": {"levels": 2}})[0] == "very_low"
    assert rules.overall({"x": {"levels": 0}})[0] == "high"


# --- the spec and the run --------------------------------------------------------------------

def test_on_by_default_with_its_inputs_and_off_without(review):
    doc = metak.analyze(spec(review, "sensitivity: [blinding]\n"))
    c = doc["meta_analyses"][0]["certainty"]
    assert c["domains"]["indirectness"]["rating"] == "not_assessed"
    assert "indirectness is the authors' judgement" in c["domains"]["indirectness"]["reason"]
    assert c["domains"]["publication_bias"]["reason"].startswith("not assessable: k = 5 < 10")
    info = c["information_size"]
    # the pooled control risk 40/225 and a 25% relative increase (higher is better), D² from the fit
    assert info["control_risk"] == pytest.approx(40 / 225) and info["intervention_risk"] == pytest.approx(50 / 225)
    assert info["n_participants"] == 450 and info["required"] >= info["fixed"]
    assert c["tsa"]["looks"][-1]["n_cumulative"] == 450 and c["tsa"]["order"] == "year"
    from metak.methods import methods

    assert any("rated with GRADE" in p for p in methods(doc)[0])
    plain = metak.analyze(spec(review, "sensitivity: [leave_one_out]\n", "y.yaml"))["meta_analyses"][0]
    assert "certainty" not in plain
    off = metak.analyze(spec(review, "sensitivity: [blinding]\ncertainty: false\n", "z.yaml"))["meta_analyses"][0]
    assert "certainty" not in off
    on = metak.analyze(spec(review, "certainty: true\n", "w.yaml"))["meta_analyses"][0]["certainty"]
    assert on["domains"]["risk_of_bias"]["reason"].startswith("no RoB 2 assessment")


def test_override_with_reason(review):
    doc = metak.analyze(spec(review, """\
        certainty:
          indirectness: {rating: serious, reason: "adults only; the question includes adolescents"}
          imprecision: {rating: not_serious, reason: "checked against the MID by hand"}
          mid: 1.5
        """))
    c = doc["meta_analyses"][0]["certainty"]
    ind = c["domains"]["indirectness"]
    assert (ind["rating"], ind["levels"], ind["source"]) == ("serious", 1, "spec")
    assert ind["reason"] == "adults only; the question includes adolescents" and ind["suggested"] == "not_assessed"
    imp = c["domains"]["imprecision"]
    assert imp["source"] == "spec" and imp["levels"] == 0 and imp["suggested_reason"]
    assert c["mid"] == pytest.approx(math.log(1.5))
    assert any("(authors' judgement): adults only" in f for f in c["footnotes"])
    assert c["levels_down"] == sum(d["levels"] for d in c["domains"].values())


@pytest.mark.parametrize("extra, where, message", [
    ("certainty: {inconsistancy: {rating: serious, reason: x}}\n", "certainty.inconsistancy",
     "did you mean 'inconsistency'"),
    ("certainty: {indirectness: {rating: moderate, reason: x}}\n", "certainty.indirectness.rating",
     "is not one of: not_serious, serious, very_serious"),
    ("certainty: {indirectness: {rating: serious}}\n", "certainty.indirectness", "missing required key 'reason'"),
    ("certainty: {indirectness: {rating: serious, reason: x, why: y}}\n", "certainty.indirectness.why", "unknown key"),
    ("certainty: {mid: 1}\n", "certainty.mid", "is no difference"),
    ("certainty: {mid: -2}\n", "certainty.mid", "must be greater than 0"),
    ("certainty: {information_size: {control_risk: 1.5}}\n", "certainty.information_size.control_risk",
     "must be between 0 and 1"),
    ("certainty: {information_size: {sd: 3}}\n", "certainty.information_size.sd", "for continuous outcomes"),
    ("certainty: {tsa: maybe}\n", "certainty.tsa", "must be true or false"),
])
def test_bad_certainty_blocks_are_spec_errors_with_their_line(review, extra, where, message):
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(review, extra))
    text = "\n".join(map(str, exc.value.problems))
    assert f"meta_analyses[0].{where}" in text, text
    assert message in text and "x.yaml:" in text


def test_results_validate_report_rows_methods_and_figure(review, tmp_path):
    import json
    from pathlib import Path

    jsonschema = pytest.importorskip("jsonschema")
    doc = metak.analyze(spec(review, "sensitivity: [blinding]\ncertainty: {mid: 1.5}\nfigures: [forest, tsa]\n"))
    schema = json.loads((Path(metak.__file__).parent / "schema" / "results.schema.json").read_text())
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    m = doc["meta_analyses"][0]
    c = m["certainty"]
    # the MID as a ratio: OR 1.5 in the direction of benefit -> the intervention risk by hand
    cr = 40 / 225
    odds = cr / (1 - cr) * 1.5
    assert c["information_size"]["intervention_risk"] == pytest.approx(odds / (1 + odds), rel=1e-12)
    from metak.sof import sof_rows

    rows = dict(sof_rows(m))
    overall = c["overall"].replace("_", " ")
    assert rows["Certainty of the evidence (GRADE)"].startswith(f"{c['symbols']} {overall[0].upper()}{overall[1:]}")
    assert "indirectness: not assessed" in rows["GRADE domains"]
    from metak.methods import methods

    text = " ".join(methods(doc)[0])
    assert "against the minimal important difference and the optimal information size" in text
    assert "blinding classification" in text and "RoB 2" not in text  # only what the ratings read
    assert "not assessable with fewer than 10 studies" in text
    from metak.registry import FIGURES
    from metak.plots.render import save

    art = FIGURES["tsa"].plotter()(m, None, size="double_column")
    ys = art.line.get_ydata()
    assert list(ys[1:]) == pytest.approx([lk["z"] for lk in c["tsa"]["looks"]])
    save(art.figure, tmp_path / "tsa.png", dpi=60)


def test_continuous_information_size_needs_a_mid():
    from types import SimpleNamespace

    from metak.certainty.size import information_size

    ctx = SimpleNamespace(result=SimpleNamespace(tau2=0.0), table=SimpleNamespace(k=3, vi=[0.1, 0.2, 0.3]))
    base = {"measure": "SMD", "n_participants": 300, "studies": []}
    info, why = information_size(ctx, base, 1, None, {})
    assert info is None and "needs certainty: {mid" in why
    info, why = information_size(ctx, base, 1, 0.2, {})
    # 4 (1.959964 + 0.841621)^2 / 0.2^2 = 784.89 -> 785 (D² = 0 with tau² = 0)
    assert why is None and (info.fixed, info.required) == (785, 785) and info.fraction == pytest.approx(300 / 785)
    info, why = information_size(ctx, {**base, "measure": "MD"}, 1, 5.0, {})
    assert info is None and "sd" in why
    info, _ = information_size(ctx, {**base, "measure": "MD"}, 1, 5.0, {"sd": 10.0, "beta": 0.1})
    assert info.fixed == math.ceil(4 * (1.959963984540054 + 1.2815515655446004) ** 2 * 100 / 25)


def test_certainty_refused_with_the_multivariate_model(review):
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(review, "multi_arm: multivariate\ncertainty: true\n"))
    assert "not yet available with multi_arm: multivariate" in "\n".join(map(str, exc.value.problems))

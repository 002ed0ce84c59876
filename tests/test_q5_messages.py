"""Task Q5 (issues 25/27 follow-ups): the messages a user reads.

- blinding on a single-arm measure is a spec error at its line;
- a change-score trial metafor cannot estimate (n = 2 for SMCC) is excluded saying why, with a
  reason code, checked against metafor's escalc (tests/reference/change_small_n.json);
- the Bayesian "prior depends on the outcome's units" only for measures in the outcome's units;
- warnings name what the user wrote, not internal variables.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from metak.effects.measures import escalc_change
from metak.errors import InvalidSpec

REF = json.loads((Path(__file__).parent / "reference" / "change_small_n.json").read_text())
RTOL = 1e-10

# dat.morris2008 row 1 (treatment group), as in the R script
PRE, POST = {"mean": 30.6, "sd": 15}, {"mean": 38.5, "sd": 11.6}


def _trial(root: Path, tid: str, n, *, pre=PRE, post=POST, r=0.47, arms=1, oid="y") -> None:
    (root / "trials").mkdir(exist_ok=True)
    arm_lines = "".join(f"  - {{id: e{j}, label: dose {j}, role: experimental, intervention: w}}\n"
                        for j in range(arms))
    data = "".join(f"      e{j}: {{baseline: {{mean: {pre['mean']}, sd: {pre['sd']}}}, final: {{mean: {post['mean']}, "
                   f"sd: {post['sd']}}}, r: {r}, n: {n}}}\n" for j in range(arms))
    (root / "trials" / f"{tid}.yaml").write_text(
        f"metak: 1\nid: {tid}\ntitle: {tid}\ncondition: c\ndesign: parallel\narms:\n{arm_lines}"
        "  - {id: c, label: placebo, role: control, intervention: p, control_type: placebo}\n"
        f"outcomes:\n  - id: {oid}\n    label: {oid.upper()}\n    type: pre_post\n    direction: higher_is_better\n"
        f"    data:\n{data}    source: {{where: x}}\n")


def _spec(root: Path, body: str) -> Path:
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n" + body)
    return spec


# -- the reference: which change-score measures metafor cannot estimate ------------------------

@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_escalc_change_gives_na_exactly_where_metafor_does(case):
    call = case["call"]
    args = dict(a.split(" = ") for a in call[call.index(",") + 2:-1].split(", "))
    yi, vi = escalc_change(case["measure"], [float(args["m1i"])], [float(args["m2i"])], [float(args["sd1i"])],
                           [float(args["sd2i"])], [float(args["ni"])], [float(args["ri"])])
    if case["yi"] is None:
        assert not math.isfinite(yi[0]) or not math.isfinite(vi[0])
    else:
        assert yi[0] == pytest.approx(case["yi"], rel=RTOL) and vi[0] == pytest.approx(case["vi"], rel=RTOL)


# -- item 5: the exclusion says what is missing -------------------------------------------------

@pytest.mark.parametrize("measure", ["SMCC", "SMCR", "SMCRH"])
def test_a_standardised_change_with_n_2_is_excluded_saying_why(tmp_path, measure):
    from metak.pipeline import analyze

    assert next(c for c in REF["cases"] if c["id"] == f"{measure}_n2")["yi"] is None  # metafor: NA
    for j, n in enumerate((2, 20, 14)):
        _trial(tmp_path, f"t{j}", n)
    doc = analyze(_spec(tmp_path, f"  - {{id: ch, outcome: y, measure: {measure}, method: REML}}\n"))
    ma = doc["meta_analyses"][0]
    assert ma["k"] == 2
    (entry,) = [e for e in ma["excluded"] if e["trial"] == "t0"]
    assert entry["reason_code"] == "small_sample"
    assert f"{measure} needs n >= 3" in entry["reason"] and "bias correction" in entry["reason"]
    assert "n = 2" in entry["reason"]


def test_the_raw_mean_change_keeps_n_2(tmp_path):
    """MC has no bias correction: metafor estimates it at n = 2, and so does metak."""
    from metak.pipeline import analyze

    ref = next(c for c in REF["cases"] if c["id"] == "MC_n2")
    for j, n in enumerate((2, 20)):
        _trial(tmp_path, f"t{j}", n)
    ma = analyze(_spec(tmp_path, "  - {id: ch, outcome: y, measure: MC, method: REML}\n"))["meta_analyses"][0]
    assert ma["k"] == 2 and not ma["excluded"]
    assert ma["studies"][0]["yi"] == pytest.approx(ref["yi"], rel=RTOL)
    assert ma["studies"][0]["vi"] == pytest.approx(ref["vi"], rel=RTOL)


def test_two_dose_arms_name_the_arm(tmp_path):
    from metak.pipeline import analyze

    _trial(tmp_path, "t0", 2, arms=2)
    _trial(tmp_path, "t1", 20)
    _trial(tmp_path, "t2", 14)
    ma = analyze(_spec(tmp_path, "  - {id: ch, outcome: y, measure: SMCC, method: REML}\n"))["meta_analyses"][0]
    (entry,) = ma["excluded"]
    assert entry["reason"].count("SMCC needs n >= 3") == 2 and "arm 'e0'" in entry["reason"]


# -- item 3: blinding has nothing to compare in a single-arm measure ---------------------------

@pytest.mark.parametrize("measure", ["PLO", "PR", "MC", "SMCC"])
@pytest.mark.parametrize("entry", ["[blinding]", "[leave_one_out, {blinding: {bias: {preset: savovic2012}}}]"])
def test_blinding_on_a_single_arm_measure_is_a_spec_error_at_its_line(tmp_path, measure, entry):
    from metak.pipeline import analyze

    _trial(tmp_path, "t0", 20)
    spec = _spec(tmp_path, f"  - id: ch\n    outcome: y\n    measure: {measure}\n    sensitivity: {entry}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    text = str(exc.value)
    assert "s.yaml:8" in text and "sensitivity" in text
    assert f"{measure} is a single-arm measure" in text and "no between-arm effect" in text


def test_blinding_on_a_two_arm_measure_is_no_spec_error():
    from metak.sensitivity.blinding import check

    class C:
        def __init__(self):
            self.problems = []

        def add(self, path, msg):
            self.problems.append((path, msg))

    for measure, bad in (("OR", False), ("SMD", False), ("MD", False), ("PLO", True), ("ZCOR", True),
                         ("IRLN", True), (None, False)):
        c = C()
        check(c, ("meta_analyses", 0, "sensitivity", 0, "blinding"), {}, {"measure": measure})
        assert bool(c.problems) is bad, measure


# -- item 4: "depends on the outcome's units" only for raw-unit measures ------------------------

def _tau_message(measure):
    from metak.bayes.spec import parse_bayes_spec
    from metak.errors import MetakError

    with pytest.raises(MetakError) as exc:
        parse_bayes_spec({}, measure=measure, outcome_type="continuous")
    return str(exc.value)


@pytest.mark.parametrize("measure", ["MD", "MC", "IRD"])
def test_a_raw_unit_measure_needs_its_tau_prior_because_of_units(measure):
    text = _tau_message(measure)
    assert f"required for measure {measure}" in text and "outcome's units" in text


@pytest.mark.parametrize("measure", ["SMCC", "SMCR", "SMCRH", "PLO", "PR", "PAS", "COR", "RD"])
def test_a_unit_free_measure_without_a_default_is_not_told_about_units(measure):
    from metak.vocab import MEASURE_TABLE

    text = _tau_message(measure)
    assert f"required for measure {measure}" in text and "units" not in text
    assert MEASURE_TABLE[measure].label[1:] in text  # the scale it needs a prior for, by name


@pytest.mark.parametrize("measure", ["OR", "RR", "ROM", "SMD", "SMDH", "ZCOR", "IRR"])
def test_unit_free_measures_with_a_default_need_no_tau(measure):
    from metak.bayes.spec import parse_bayes_spec

    assert "tau" in parse_bayes_spec({}, measure=measure, outcome_type="continuous").to_dict()["prior"]


# -- item 6: warnings in the user's vocabulary ------------------------------------------------

def test_a_fallback_outcome_warning_says_what_replaced_what(tmp_path):
    from metak.pipeline import analyze

    for j, (n, oid) in enumerate(((20, "y"), (14, "main"), (10, "main"))):
        _trial(tmp_path, f"t{j}", n, oid=oid)
    body = "  - {id: ch, outcome: main, measure: MC, method: REML, fallback_outcomes: [{outcome: y}]}\n"
    ma = analyze(_spec(tmp_path, body))["meta_analyses"][0]
    notes = [w for w in ma["warnings"] if w.startswith("t0:")]
    assert notes == ["t0: no outcome 'main': its outcome 'y' (Y) used instead (the spec's fallback_outcomes)"]


def test_no_warning_names_a_results_field():
    """The warnings metak writes name spec keys the user wrote, never results.json fields or
    internal variables (the review's 'fallback_outcomes' without context, 'n_participants is null',
    'its own yi is null')."""
    import re

    root = Path(__file__).resolve().parents[1] / "metak"
    texts = []
    for path in root.rglob("*.py"):
        src = path.read_text()
        for m in re.finditer(r"warnings\.(?:append|extend)\((.*?)\)\n", src, re.S):
            texts.append((path.name, m.group(1)))
    assert len(texts) > 30
    internal = ("n_participants", "own yi", " yi is", "(fallback_outcomes)", "arm_type", "n_harmonic")
    bad = [(f, t) for f, t in texts if any(word in t for word in internal)]
    assert not bad, bad

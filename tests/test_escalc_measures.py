"""metafor's further escalc measures (issue 27): metak.escalc against pinned metafor 3.8.1 output
(tests/reference/metafor_escalc_reference.json, from make_escalc_reference.R), back-transforms
against metafor's transf functions, bad input, and single-arm measures through `metak analyze`."""

from __future__ import annotations

import json
import math
from pathlib import Path

import jsonschema
import numpy as np
import pandas as pd
import pytest

import metak
from metak.errors import MetakError

REF = json.loads((Path(__file__).parent / "reference" / "metafor_escalc_reference.json").read_text())
SCHEMA = json.loads((Path(metak.__file__).parent / "schema" / "results.schema.json").read_text())
#: escalc is closed-form: metak must agree with metafor to the JSON's 15 significant digits
ESCALC_RTOL = 1e-8
ESCALC_ATOL = 1e-12
#: rma fit (REML to 1e-12 in R) and its back-transformed summary
FIT_RTOL = 1e-6


def _frame(name):
    return pd.DataFrame(REF["datasets"][name])


def _agree(got, want, rtol=ESCALC_RTOL, atol=ESCALC_ATOL):
    want = np.array([np.nan if w is None else w for w in want], float)
    got = np.asarray(got, float)
    assert np.array_equal(np.isnan(got), np.isnan(want)), (got, want)
    ok = ~np.isnan(want)
    np.testing.assert_allclose(got[ok], want[ok], rtol=rtol, atol=atol)


@pytest.mark.parametrize("case", REF["cases"], ids=[c["id"] for c in REF["cases"]])
def test_escalc_matches_metafor(case):
    df = _frame(case["dataset"])
    opts = case["options"] or {}
    kw = {k: v for k, v in opts.items() if k in ("add", "to", "drop00")}
    out = metak.escalc(df, case["measure"], **case["args"], **kw)
    _agree(out["yi"], case["yi"])
    _agree(out["vi"], case["vi"])


def test_reference_covers_every_new_measure():
    from metak.effects.measures import (CHANGE_MEASURES, CONTINUOUS_EXTRA, CORRELATION_MEASURES,
                                        PERSON_TIME_MEASURES, PROPORTION_MEASURES, RATE_MEASURES)

    covered = {c["measure"] for c in REF["cases"]}
    assert set(PROPORTION_MEASURES + RATE_MEASURES + PERSON_TIME_MEASURES + CORRELATION_MEASURES
               + CONTINUOUS_EXTRA + CHANGE_MEASURES) <= covered


@pytest.mark.parametrize("tr", REF["transforms"], ids=[t["name"] for t in REF["transforms"]])
def test_back_transforms_match_metafor(tr):
    from metak.format import back_transform

    fn = {"ilogit": "expit", "iarcsin": "iarcsin", "ipft.hm": "ipft", "ztor": "tanh"}[tr["name"]]
    got = back_transform(fn, np.array(tr["x"], float), ni=tr.get("ni"))
    _agree(got, tr["y"])


@pytest.mark.parametrize("fit", REF["fits"], ids=[f["id"] for f in REF["fits"]])
def test_pooled_single_arm_measure_matches_rma(fit):
    from metak.format import to_natural

    df = metak.escalc(_frame(fit["dataset"]), fit["measure"], xi="xi", ni="ni")
    r = metak.fit(df["yi"], df["vi"], method="REML")
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        assert getattr(r, key) == pytest.approx(fit[key], rel=FIT_RTOL, abs=1e-10), key
    ni = list(df["ni"])
    nat = [to_natural(fit["measure"], getattr(r, k), ni=ni) for k in ("estimate", "ci_lower", "ci_upper")]
    np.testing.assert_allclose(nat, fit["natural"], rtol=FIT_RTOL)


def test_natural_scale_of_each_measure():
    from metak.format import to_natural
    from metak.vocab import natural_of, scale_of

    assert to_natural("PLO", 0.0) == 0.5 and to_natural("ZCOR", math.atanh(0.3)) == pytest.approx(0.3)
    assert to_natural("ROM", math.log(2)) == pytest.approx(2) and to_natural("IRR", 0.0) == 1.0
    assert to_natural("PAS", math.asin(math.sqrt(0.2))) == pytest.approx(0.2)
    assert to_natural("PR", 0.2) == 0.2 and to_natural("COR", -0.4) == -0.4
    assert [scale_of(m) for m in ("PLO", "ROM", "PFT", "ZCOR", "COR")] == \
        ["logit", "log", "freeman_tukey", "fisher_z", "identity"]
    assert natural_of("VR") == "exp" and natural_of("CVR") == "exp" and natural_of("SMDH") == ""
    assert to_natural("PFT", 1.0) is None   # no sizes, no proportion
    from metak.format import back_transform

    with pytest.raises(MetakError, match="harmonic"):
        back_transform("ipft", [1.0])


@pytest.mark.parametrize("measure,kw,match", [
    ("PLO", dict(xi=[5, 12], ni=[10, 11]), "larger than the group size"),
    ("PR", dict(xi=[-1, 2], ni=[10, 11]), "negative"),
    ("IRR", dict(x1i=[1, 2], t1i=[0, 5], x2i=[1, 1], t2i=[3, 3]), "person-times are <= 0"),
    ("IRLN", dict(xi=[1, 2], ti=[4, 0]), "person-times are <= 0"),
    ("ZCOR", dict(ri=[0.2, 1.3], ni=[20, 30]), "correlations are > 1"),
    ("PLO", dict(ai=[1, 2], n1i=[10, 10], ci=[3, 4], n2i=[10, 10]), "single-arm measure"),
    ("PLO", dict(xi=[1, 2], ni=[10, 10], x2i=[3, 4]), "single-arm measure"),
    ("SMCC", dict(m1i=[1, 2], m2i=[0, 1], sd1i=[1, 1], ni=[10, 10], ri=[0.5, 0.5]), "missing: sd2i"),
    ("ROM", dict(m1i=[1, 2], sd1i=[1, 1], n1i=[10, 10]), "needs"),
])
def test_bad_input_is_a_plain_error(measure, kw, match):
    df = pd.DataFrame({"row": [1, 2]})
    with pytest.raises(MetakError, match=match):
        metak.escalc(df, measure, **kw)


# -- single-arm measures in trial records and specs, through metak analyze -------------------------

def _records(root: Path, xi, ni, *, extra_active=True, pft=False):
    """One record per study of dat.pritz1997: the study's xi/ni as the placebo arm's events/total
    (the experimental arm's numbers are filler that a placebo-arm analysis must not read), and
    a trial whose only control is an active placebo (which select must leave out)."""
    (root / "trials").mkdir(parents=True)
    rows = list(zip(xi, ni)) + ([(1, 4)] if extra_active else [])
    for j, (x, n) in enumerate(rows):
        ct = "active_placebo" if j == len(xi) else "placebo"
        (root / "trials" / f"t{j + 1:02d}.yaml").write_text(
            f"metak: 1\nid: t{j + 1:02d}\ntitle: t{j + 1:02d}\ncondition: c\ndesign: parallel\narms:\n"
            f"  - {{id: k, label: ketamine, role: experimental, intervention: ketamine, randomized: {n + 3}}}\n"
            f"  - {{id: c, label: control, role: control, intervention: saline, control_type: {ct}, randomized: {n}}}\n"
            "outcomes:\n  - id: response\n    label: Response\n    type: binary\n    direction: higher_is_better\n"
            f"    data:\n      k: {{events: 2, total: {n + 3}}}\n      c: {{events: {x}, total: {n}}}\n"
            "    source: {where: x}\n")
    return root


def _spec(root: Path, body: str) -> Path:
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n" + body)
    return spec


@pytest.mark.parametrize("fit", REF["fits"], ids=[f["id"] for f in REF["fits"]])
def test_control_arm_proportion_pooled_by_control_type_matches_rma(tmp_path, fit):
    from metak.format import measure_of, to_natural
    from metak.pipeline import analyze

    data = REF["datasets"][fit["dataset"]]
    _records(tmp_path, data["xi"], data["ni"])
    body = (f"  - id: placebo_response\n    outcome: response\n    measure: {fit['measure']}\n    method: REML\n"
            "    select: {control_type: [placebo]}\n")
    doc = analyze(_spec(tmp_path, body))
    jsonschema.validate(doc, SCHEMA)
    ma = doc["meta_analyses"][0]
    assert ma["k"] == len(data["xi"]) and ma["arm_type"] == "control arms: placebo"
    assert [s["experimental"] for s in ma["studies"]] == ["c"] * ma["k"]
    assert any(e["trial"] == "t15" and e["reason_code"] == "not_selected" for e in ma["excluded"])
    for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
        assert ma[key] == pytest.approx(fit[key], rel=FIT_RTOL, abs=1e-10), key
    nat = [to_natural(measure_of(ma), ma[k]) for k in ("estimate", "ci_lower", "ci_upper")]
    np.testing.assert_allclose(nat, fit["natural"], rtol=FIT_RTOL)
    assert ma["scale"] == {"PLO": "logit", "PFT": "freeman_tukey"}[fit["measure"]]
    if fit["measure"] == "PFT":
        assert ma["n_harmonic"] == pytest.approx(1 / np.mean(1 / np.array(data["ni"], float)))
        assert ma["model"]["cc"]["add"] == 0.0   # metafor's default for PFT


def test_single_arm_without_control_type_pools_experimental_arms(tmp_path):
    from metak.pipeline import analyze

    _records(tmp_path, [3, 5], [10, 12], extra_active=False)
    body = "  - id: ket\n    outcome: response\n    measure: PR\n    method: FE\n"
    ma = analyze(_spec(tmp_path, body))["meta_analyses"][0]
    assert ma["arm_type"] == "experimental arms"
    # the filler: 2 of n + 3 in each ketamine arm, pooled by inverse variance (PR's vi = p(1 - p)/n)
    p = np.array([2 / 13, 2 / 15])
    w = 1 / (p * (1 - p) / np.array([13, 15]))
    assert ma["estimate"] == pytest.approx(float(np.sum(w * p) / np.sum(w)), rel=1e-12)


def test_single_arm_measure_given_two_arms_is_a_spec_error(tmp_path):
    from metak.errors import InvalidSpec
    from metak.pipeline import analyze

    _records(tmp_path, [3, 5], [10, 12], extra_active=False)
    body = ("  - id: ket\n    outcome: response\n    measure: PLO\n"
            "    arms: {t01: {experimental: k, control: c}}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(_spec(tmp_path, body))
    text = str(exc.value)
    assert "s.yaml:8: meta_analyses[0].arms: PLO is a single-arm measure" in text


def test_events_over_total_in_a_record_is_a_record_error(tmp_path):
    from metak.errors import InvalidRecord
    from metak.pipeline import analyze

    _records(tmp_path, [3, 13], [10, 12], extra_active=False)
    with pytest.raises(InvalidRecord) as exc:
        analyze(_spec(tmp_path, "  - id: p\n    outcome: response\n    measure: PLO\n"
                                "    select: {control_type: [placebo]}\n"))
    text = str(exc.value)
    assert "t02.yaml" in text and "events" in text and "13 is more than total 12" in text


def test_two_arm_continuous_measure_from_records_matches_escalc(tmp_path):
    """ROM (and the other new two-arm continuous measures) from continuous arm data: the rows'
    yi, vi are escalc's on the same numbers (dat.curtis1998's first three studies)."""
    from metak.pipeline import analyze

    d = {k: v[:3] for k, v in REF["datasets"]["curtis1998"].items()}
    (tmp_path / "trials").mkdir()
    for j in range(3):
        (tmp_path / "trials" / f"c{j}.yaml").write_text(
            f"metak: 1\nid: c{j}\ntitle: c{j}\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: e, label: e, role: experimental, intervention: x}\n"
            "  - {id: c, label: c, role: control, intervention: y, control_type: placebo}\n"
            "outcomes:\n  - id: mass\n    label: Mass\n    type: continuous\n    direction: higher_is_better\n"
            f"    data:\n      e: {{mean: {d['m1i'][j]}, sd: {d['sd1i'][j]}, n: {d['n1i'][j]}}}\n"
            f"      c: {{mean: {d['m2i'][j]}, sd: {d['sd2i'][j]}, n: {d['n2i'][j]}}}\n    source: {{where: x}}\n")
    case = next(c for c in REF["cases"] if c["id"] == "ROM_curtis1998")
    for measure in ("ROM",):
        ma = analyze(_spec(tmp_path, f"  - id: r\n    outcome: mass\n    measure: {measure}\n"))["meta_analyses"][0]
        _agree([s["yi"] for s in ma["studies"]], case["yi"][:3])
        _agree([s["vi"] for s in ma["studies"]], case["vi"][:3])
        assert ma["scale"] == "log"


def _write(root: Path, tid: str, arms: str, otype: str, data: str) -> None:
    (root / "trials").mkdir(exist_ok=True)
    (root / "trials" / f"{tid}.yaml").write_text(
        f"metak: 1\nid: {tid}\ntitle: {tid}\ncondition: c\ndesign: parallel\narms:\n{arms}"
        f"outcomes:\n  - id: y\n    label: Y\n    type: {otype}\n    direction: lower_is_better\n"
        f"    data:\n{data}    source: {{where: x}}\n")


_TWO_ARMS = ("  - {id: e, label: warfarin, role: experimental, intervention: w}\n"
             "  - {id: c, label: placebo, role: control, intervention: p, control_type: placebo}\n")


def test_person_time_records_give_metafor_irr_ird_and_irln(tmp_path):
    from metak.pipeline import analyze

    d = REF["datasets"]["hart1999"]
    for j in range(len(d["x1i"])):
        _write(tmp_path, f"h{j}", _TWO_ARMS, "person_time",
               f"      e: {{events: {d['x1i'][j]}, person_time: {d['t1i'][j]}}}\n"
               f"      c: {{events: {d['x2i'][j]}, person_time: {d['t2i'][j]}}}\n")
    body = ("  - {id: irr, outcome: y, measure: IRR}\n  - {id: ird, outcome: y, measure: IRD}\n"
            "  - {id: rate, outcome: y, measure: IRLN}\n")
    doc = analyze(_spec(tmp_path, body))
    jsonschema.validate(doc, SCHEMA)
    got = {ma["id"]: ma for ma in doc["meta_analyses"]}
    for mid, case in (("irr", "IRR_hart1999"), ("ird", "IRD_hart1999"), ("rate", "IRLN_hart1999")):
        ref = next(c for c in REF["cases"] if c["id"] == case)
        _agree([s["yi"] for s in got[mid]["studies"]], ref["yi"])
        _agree([s["vi"] for s in got[mid]["studies"]], ref["vi"])
    assert got["rate"]["arm_type"] == "experimental arms" and got["irr"]["scale"] == "log"
    from metak.errors import InvalidSpec

    with pytest.raises(InvalidSpec, match="measure OR fits none .* outcome 'y' is person-time data; measure OR needs"):
        analyze(_spec(tmp_path, "  - {id: odds, outcome: y, measure: OR}\n"))


def test_correlation_records_give_metafor_zcor_and_r_back(tmp_path):
    from metak.format import measure_of, to_natural
    from metak.pipeline import analyze

    d = REF["datasets"]["molloy2014"]
    for j in range(len(d["ri"])):
        _write(tmp_path, f"m{j:02d}", "  - {id: a, label: all, role: experimental, intervention: x}\n",
               "correlation", f"      a: {{r: {d['ri'][j]}, n: {d['ni'][j]}}}\n")
    doc = analyze(_spec(tmp_path, "  - {id: z, outcome: y, measure: ZCOR, method: REML}\n"))
    jsonschema.validate(doc, SCHEMA)
    ma = doc["meta_analyses"][0]
    ref = next(c for c in REF["cases"] if c["id"] == "ZCOR_molloy2014")
    _agree([s["yi"] for s in ma["studies"]], ref["yi"])
    _agree([s["vi"] for s in ma["studies"]], ref["vi"])
    assert ma["scale"] == "fisher_z"
    assert to_natural(measure_of(ma), ma["estimate"]) == pytest.approx(math.tanh(ma["estimate"]), rel=1e-15)


@pytest.mark.parametrize("otype,data,where,match", [
    ("person_time", "      e: {events: 3, person_time: 0}\n      c: {events: 1, person_time: 9}\n",
     "outcomes[0].data.e.person_time", "must be greater than 0"),
    ("person_time", "      e: {events: 2.5, person_time: 4}\n      c: {events: 1, person_time: 9}\n",
     "outcomes[0].data.e.events", "whole number"),
    ("correlation", "      e: {r: 1.0, n: 20}\n      c: {r: 0.2, n: 20}\n",
     "outcomes[0].data.e.r", "strictly between -1 and 1"),
    ("correlation", "      e: {r: -1.4, n: 20}\n      c: {r: 0.2, n: 20}\n",
     "outcomes[0].data.e.r", "strictly between -1 and 1"),
])
def test_bad_person_time_and_correlation_data_are_record_errors(tmp_path, otype, data, where, match):
    from metak.errors import InvalidRecord
    from metak.pipeline import analyze

    _write(tmp_path, "bad", _TWO_ARMS, otype, data)
    with pytest.raises(InvalidRecord) as exc:
        analyze(_spec(tmp_path, "  - {id: z, outcome: y, measure: IRR}\n"))
    text = str(exc.value)
    assert f"bad.yaml:{15 if '.e.' in where else 16}: {where}" in text and match in text


# -- change scores (MC, SMCC, SMCR, SMCRH) from one arm's pre_post data, through metak analyze ---

def _pre_post_arm(d, j):
    """metafor's m1i/sd1i are the final (post) values, m2i the baseline (pre) ones."""
    return (f"{{baseline: {{mean: {d['m_pre'][j]}, sd: {d['sd_pre'][j]}}}, "
            f"final: {{mean: {d['m_post'][j]}, sd: {d['sd_post'][j]}}}, r: {d['ri'][j]}, n: {d['ni'][j]}}}")


def test_change_scores_from_pre_post_records_match_metafor(tmp_path):
    """Morris (2008) as five two-arm trials (treatment groups as the experimental arms, control
    groups as placebo arms): `metak analyze` pools one arm type, and each row's yi, vi are metafor's
    escalc MC / SMCC / SMCR / SMCRH of that arm (SMCR and SMCRH standardised by the baseline SD, as in
    metafor's Morris example) at 1e-8."""
    from click.testing import CliRunner

    from metak.cli import main

    dT, dC = REF["datasets"]["morris2008T"], REF["datasets"]["morris2008C"]
    for j in range(len(dT["ni"])):
        _write(tmp_path, f"m{j + 1}", _TWO_ARMS, "pre_post",
               f"      e: {_pre_post_arm(dT, j)}\n      c: {_pre_post_arm(dC, j)}\n")
    body = "".join(f"  - {{id: {m.lower()}_{arms}, outcome: y, measure: {m}, method: REML{sel}}}\n"
                   for m in ("MC", "SMCC", "SMCR", "SMCRH")
                   for arms, sel in (("exp", ""), ("placebo", ", select: {control_type: [placebo]}")))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["analyze", str(_spec(tmp_path, body)), "--out", str(out), "--no-figures"])
    assert res.exit_code == 0, res.output
    doc = json.loads((out / "results.json").read_text())
    jsonschema.validate(doc, SCHEMA)
    got = {ma["id"]: ma for ma in doc["meta_analyses"]}
    assert len(got) == 8
    for m in ("MC", "SMCC", "SMCR", "SMCRH"):
        for arms, case_id, arm in (("exp", f"{m}_morris2008", "e"), ("placebo", f"{m}_morris2008C", "c")):
            ma = got[f"{m.lower()}_{arms}"]
            case = next(c for c in REF["cases"] if c["id"] == case_id)
            assert ma["measure"] == m and ma["k"] == 5 and ma["scale"] == "identity"
            assert ma["arm_type"] == ("experimental arms" if arms == "exp" else "control arms: placebo")
            assert [s["experimental"] for s in ma["studies"]] == [arm] * 5
            _agree([s["yi"] for s in ma["studies"]], case["yi"])
            _agree([s["vi"] for s in ma["studies"]], case["vi"])
            # the arm's data as results.json writes them
            assert ma["studies"][0]["data"][arm]["baseline"]["sd"] == (dT if arm == "e" else dC)["sd_pre"][0]
    # the pooled estimate is the REML fit of those rows (metak.fit, itself checked against rma)
    r = metak.fit([s["yi"] for s in got["smcc_placebo"]["studies"]], [s["vi"] for s in got["smcc_placebo"]["studies"]],
                  method="REML")
    assert got["smcc_placebo"]["estimate"] == pytest.approx(r.estimate, rel=1e-9)
    # the methods text says which arms were pooled, and names the measure as it ran
    from metak.methods import methods_text

    text = " ".join(methods_text(doc)[0])
    assert text.count("Each study contributed the data of its placebo control arm(s) alone") == 4
    assert text.count("Each study contributed the data of its experimental arm(s) alone") == 4
    assert "Raw mean changes were pooled" in text
    assert "Standardised mean changes (raw-score standardisation, with the variances at the two occasions " \
           "allowed to differ) were pooled" in text


def test_smcrh_is_not_smcr():
    """SMCRH shares SMCR's yi but not its variance (Bonett 2008): a check that the reference cases
    tell the two apart, so an SMCRH computed as SMCR would fail test_escalc_matches_metafor."""
    a = next(c for c in REF["cases"] if c["id"] == "SMCR_morris2008")
    b = next(c for c in REF["cases"] if c["id"] == "SMCRH_morris2008")
    np.testing.assert_allclose(a["yi"], b["yi"], rtol=1e-12)
    assert np.all(np.abs(np.array(a["vi"]) / np.array(b["vi"]) - 1) > 1e-3)

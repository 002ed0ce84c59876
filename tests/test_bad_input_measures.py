"""Issue 27's bad input, each through the command line (contract section 6.2; P7): a trial record
and a spec in a temporary folder, ``metak analyze`` on them. An error names the file, the line
and the key path, exits non-zero, prints no traceback and writes nothing; where metafor excludes
a trial instead (rma.glmm's double-zero and double-all tables) the exclusion is stated.

Which inputs: non-integer counts, events above the total, a trial with no events or only events
in both arms under ``glmm:``, a person-time of 0, a correlation outside (-1, 1), a proportion
measure given a two-arm comparison, a change-score (``pre_post``) correlation outside (-1, 1), an
SD <= 0. The expected line is found in the text the test wrote (the line holding the marker), so
each test fails if the reported line is not the offending one.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from metak.cli import main

REF = json.loads((Path(__file__).parent / "reference" / "metafor_glmm_reference.json").read_text())

_ARMS = ("  - {id: e, label: drug, role: experimental, intervention: x}\n"
         "  - {id: c, label: placebo, role: control, intervention: p, control_type: placebo}\n")


def _record(tid: str, otype: str, data: str, arms: str = _ARMS) -> str:
    return (f"metak: 1\nid: {tid}\ntitle: {tid}\ncondition: c\ndesign: parallel\narms:\n{arms}"
            f"outcomes:\n  - id: y\n    label: Y\n    type: {otype}\n    direction: higher_is_better\n"
            f"    data:\n{data}    source: {{where: x}}\n")


def _spec_text(body: str) -> str:
    return "metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n" + body


def _line(text: str, marker: str) -> int:
    """The 1-based line of ``text`` holding ``marker`` (exactly one)."""
    hits = [i + 1 for i, ln in enumerate(text.splitlines()) if marker in ln]
    assert len(hits) == 1, (marker, hits)
    return hits[0]


def _run(tmp_path: Path, records: dict, spec_body: str):
    (tmp_path / "trials").mkdir()
    for name, text in records.items():
        (tmp_path / "trials" / f"{name}.yaml").write_text(text)
    spec = tmp_path / "s.yaml"
    spec.write_text(_spec_text(spec_body))
    out = tmp_path / "out"
    res = CliRunner().invoke(main, ["analyze", str(spec), "--out", str(out), "--no-figures"])
    return res, out


def _assert_clear_error(res, out: Path, where: str):
    """Non-zero exit, ``where`` (file:line: key path) in the message, no traceback, nothing written."""
    text = res.output + (getattr(res, "stderr", "") or "")
    assert res.exit_code != 0, text
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert "Traceback" not in text, text
    assert where in text, text
    assert not out.exists(), "a failing run must write nothing"
    return text


# -- record errors: file, line, key path --------------------------------------------------------

_BINARY_OK = "      c: {events: 3, total: 12}\n"

RECORD_CASES = [
    # id, outcome type, arm data, marker (on the offending line), key path, message
    ("binary_non_integer_events", "binary", "      e: {events: 2.5, total: 10}\n" + _BINARY_OK,
     "events: 2.5", "outcomes[0].data.e.events", "must be a whole number"),
    ("binary_non_integer_total", "binary", "      e: {events: 2, total: 10.5}\n" + _BINARY_OK,
     "total: 10.5", "outcomes[0].data.e.total", "must be a whole number"),
    ("binary_events_over_total", "binary", "      e: {events: 13, total: 12}\n" + _BINARY_OK,
     "events: 13", "outcomes[0].data.e.events", "13 is more than total 12"),
    ("person_time_non_integer_events", "person_time",
     "      e: {events: 2.5, person_time: 4}\n      c: {events: 1, person_time: 9}\n",
     "events: 2.5", "outcomes[0].data.e.events", "must be a whole number"),
    ("person_time_zero", "person_time",
     "      e: {events: 3, person_time: 9}\n      c: {events: 1, person_time: 0}\n",
     "person_time: 0", "outcomes[0].data.c.person_time", "must be greater than 0"),
    ("correlation_one", "correlation", "      e: {r: 1.0, n: 20}\n      c: {r: 0.2, n: 20}\n",
     "r: 1.0", "outcomes[0].data.e.r", "strictly between -1 and 1"),
    ("correlation_below_minus_one", "correlation", "      e: {r: 0.1, n: 20}\n      c: {r: -1.4, n: 20}\n",
     "r: -1.4", "outcomes[0].data.c.r", "strictly between -1 and 1"),
    ("pre_post_r_above_one", "pre_post",
     "      e:\n        baseline: {mean: 30.6, sd: 15.0}\n        final: {mean: 38.5, sd: 11.6}\n"
     "        r: 1.2\n        n: 20\n",
     "r: 1.2", "outcomes[0].data.e.r", "strictly between -1 and 1"),
    ("pre_post_r_minus_one", "pre_post",
     "      e:\n        baseline: {mean: 30.6, sd: 15.0}\n        final: {mean: 38.5, sd: 11.6}\n"
     "        r: -1\n        n: 20\n",
     "r: -1", "outcomes[0].data.e.r", "strictly between -1 and 1"),
    ("pre_post_sd_zero", "pre_post",
     "      e:\n        baseline: {mean: 30.6, sd: 0}\n        final: {mean: 38.5, sd: 11.6}\n"
     "        r: 0.5\n        n: 20\n",
     "sd: 0}", "outcomes[0].data.e.baseline.sd", "must be greater than 0"),
    ("pre_post_sd_negative", "pre_post",
     "      e:\n        baseline: {mean: 30.6, sd: 15.0}\n        final: {mean: 38.5, sd: -2}\n"
     "        r: 0.5\n        n: 20\n",
     "sd: -2", "outcomes[0].data.e.final.sd", "must be greater than 0"),
    ("pre_post_non_integer_n", "pre_post",
     "      e:\n        baseline: {mean: 30.6, sd: 15.0}\n        final: {mean: 38.5, sd: 11.6}\n"
     "        r: 0.5\n        n: 20.5\n",
     "n: 20.5", "outcomes[0].data.e.n", "must be a whole number"),
    ("continuous_sd_zero", "continuous", "      e: {mean: 1.0, sd: 0, n: 10}\n      c: {mean: 0.5, sd: 1, n: 10}\n",
     "sd: 0", "outcomes[0].data.e.sd", "must be greater than 0"),
    ("continuous_sd_negative", "continuous",
     "      e: {mean: 1.0, sd: 1, n: 10}\n      c: {mean: 0.5, sd: -1.5, n: 10}\n",
     "sd: -1.5", "outcomes[0].data.c.sd", "must be greater than 0"),
]

_MEASURE_FOR = {"binary": "OR", "person_time": "IRR", "correlation": "ZCOR", "pre_post": "SMCC", "continuous": "MD"}


@pytest.mark.parametrize("case", RECORD_CASES, ids=[c[0] for c in RECORD_CASES])
def test_bad_record_data_is_a_located_error(tmp_path, case):
    _, otype, data, marker, key, message = case
    text = _record("bad", otype, data)
    good = _record("good", otype, data.replace(marker, _fix(otype, marker)))
    res, out = _run(tmp_path, {"bad": text, "good": good},
                    f"  - {{id: m, outcome: y, measure: {_MEASURE_FOR[otype]}}}\n")
    where = f"bad.yaml:{_line(text, marker)}: {key}"
    msg = _assert_clear_error(res, out, where)
    line = next(ln for ln in msg.splitlines() if where in ln)
    assert message in line, line
    assert "good.yaml" not in msg   # the valid record is not blamed


def _fix(otype, marker):
    """A valid value in place of the bad one (the second, valid record of each case)."""
    key = marker.split(":")[0]
    return {"events": "events: 2", "total": "total: 10", "person_time": "person_time: 5", "r": "r: 0.5",
            "sd": "sd: 1.0" + ("}" if marker.endswith("}") else ""), "n": "n: 20"}[key]


# -- spec errors: a proportion measure given a two-arm comparison -------------------------------

@pytest.mark.parametrize("measure", ["PLO", "PR"])
def test_proportion_measure_given_two_arms_is_a_spec_error(tmp_path, measure):
    body = (f"  - id: p\n    outcome: y\n    measure: {measure}\n"
            "    arms: {t1: {experimental: e, control: c}}\n")
    res, out = _run(tmp_path, {"t1": _record("t1", "binary", "      e: {events: 2, total: 10}\n" + _BINARY_OK)},
                    body)
    msg = _assert_clear_error(res, out, f"s.yaml:{_line(_spec_text(body), 'arms:')}: meta_analyses[0].arms")
    assert f"{measure} is a single-arm measure: it pools one arm type" in msg


@pytest.mark.parametrize("measure", ["PLO", "PR"])
def test_proportion_measure_on_a_reported_two_arm_contrast_is_a_stated_mismatch(tmp_path, measure):
    """A two-arm contrast (here a reported OR) has no arm's own proportion: the only trial is left
    out with its reason, so the spec's measure fits no trial -- an error at the measure's line."""
    contrast = ("    data: {measure: OR, experimental: e, control: c, estimate: 2.0, ci: [1.1, 3.6]}\n")
    text = _record("t1", "contrast", "").replace("    data:\n", contrast)
    body = f"  - id: p\n    outcome: y\n    measure: {measure}\n"
    res, out = _run(tmp_path, {"t1": text}, body)
    msg = _assert_clear_error(res, out, f"s.yaml:{_line(_spec_text(body), 'measure:')}: meta_analyses[0].measure")
    assert "t1: outcome 'y' is a reported contrast" in msg and "single-arm measure" in msg


def test_change_measure_on_binary_data_is_a_stated_mismatch(tmp_path):
    body = "  - id: c\n    outcome: y\n    measure: SMCR\n"
    res, out = _run(tmp_path, {"t1": _record("t1", "binary", "      e: {events: 2, total: 10}\n" + _BINARY_OK)}, body)
    msg = _assert_clear_error(res, out, f"s.yaml:{_line(_spec_text(body), 'measure:')}: meta_analyses[0].measure")
    assert "outcome 'y' is binary; SMCR is a single-arm measure of pre_post arm data" in msg


def test_two_arm_measure_on_pre_post_data_is_a_stated_mismatch(tmp_path):
    data = ("      e: {baseline: {mean: 1, sd: 1}, final: {mean: 2, sd: 1}, r: 0.5, n: 9}\n"
            "      c: {baseline: {mean: 1, sd: 1}, final: {mean: 1, sd: 1}, r: 0.5, n: 9}\n")
    body = "  - id: d\n    outcome: y\n    measure: MD\n"
    res, out = _run(tmp_path, {"t1": _record("t1", "pre_post", data)}, body)
    msg = _assert_clear_error(res, out, f"s.yaml:{_line(_spec_text(body), 'measure:')}: meta_analyses[0].measure")
    assert "outcome 'y' is pre-post data; measure MD needs continuous data" in msg   # not "binary or continuous"


# -- stated exclusions: no events or only events in both arms under glmm ------------------------

def test_glmm_double_zero_and_double_all_trials_are_dropped_and_said(tmp_path):
    """dat.nielweise2007 (metadat) as records, with one more trial made from its double-zero
    study 15 by counting every participant as an event (its complement: events = total - 0).
    rma.glmm drops both (escalc's drop00 = TRUE for no events *or only events* in both arms), so
    the fit is the one on the 16 informative studies that tests/reference/metafor_glmm_reference.json
    pins -- at the reference tolerance of tests/test_glmm_spec.py (UM.FS, ML: 1e-6)."""
    inp = REF["inputs"]["nielweise2007"]
    rows = list(zip(inp["ai"], inp["n1i"], inp["ci"], inp["n2i"]))
    zero = [i for i, (a, _, c, _) in enumerate(rows) if a == 0 and c == 0]
    assert zero == [14]
    _, n1, _, n2 = rows[14]
    rows.append((n1, n1, n2, n2))   # t19: every participant an event, in both arms
    data = "      e: {{events: {}, total: {}}}\n      c: {{events: {}, total: {}}}\n"
    records = {f"t{i + 1:02d}": _record(f"t{i + 1:02d}", "binary", data.format(*row)) for i, row in enumerate(rows)}
    res, out = _run(tmp_path, records, "  - {id: m, outcome: y, measure: OR, method: ML, test: z, glmm: UM.FS}\n")
    assert res.exit_code == 0, res.output
    ma = json.loads((out / "results.json").read_text())["meta_analyses"][0]
    g = ma["model"]["glmm"]
    excluded = {e["label"]: e["reason"] for e in g["excluded"]}
    assert set(excluded) == {"t15", "t19"}
    assert "no events in either arm" in excluded["t15"] and "every participant had the event" in excluded["t19"]
    assert g["k"] == 17
    for trial in ("t15", "t19"):
        assert any(w.startswith(f"glmm: {trial}: left out of the GLMM") for w in ma["warnings"]), trial
    assert any("left out, as rma.glmm does" in n for n in g["notes"])
    # the inverse-variance rows keep both, as rma on escalc's defaults does (drop00 = FALSE)
    assert {"t15", "t19"} <= {s["trial"] for s in ma["studies"]} and not ma["excluded"]
    ref = next(f for f in REF["fits"] if f["dataset"] == "nielweise2007" and f["model"] == "UM.FS"
               and f["method"] == "ML")
    assert ma["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ma["se"] == pytest.approx(ref["se"], rel=1e-6)
    assert ma["tau2"] == pytest.approx(ref["tau2"], abs=1e-5)


@pytest.mark.parametrize("otype,data", [
    ("correlation", "      e: {r: 0.3, n: 20}\n      c: {r: 0.2, n: 20}\n"),
    ("pre_post", "      e: {baseline: {mean: 1, sd: 1}, final: {mean: 2, sd: 1}, r: 0.5, n: 9}\n"
                 "      c: {baseline: {mean: 1, sd: 1}, final: {mean: 1, sd: 1}, r: 0.5, n: 9}\n"),
])
def test_person_time_measure_on_other_arm_data_is_a_stated_mismatch(tmp_path, otype, data):
    """IRR on correlation (or pre-post) data: once a traceback (the rows fell through to the
    continuous branch), now the trial's reason at the spec's measure line."""
    body = "  - id: r\n    outcome: y\n    measure: IRR\n"
    res, out = _run(tmp_path, {"t1": _record("t1", otype, data)}, body)
    msg = _assert_clear_error(res, out, f"s.yaml:{_line(_spec_text(body), 'measure:')}: meta_analyses[0].measure")
    assert f"outcome 'y' is {otype.replace('_', '-')} data; measure IRR needs person-time" in msg


@pytest.mark.parametrize("measure,kw,match", [
    ("SMCC", dict(ri=[0.5, 1.2]), "correlations are > 1 or < -1"),
    ("SMCR", dict(ri=[-1.5, 0.2]), "correlations are > 1 or < -1"),
    ("SMCRH", dict(sd1i=[1.0, -2.0]), "standard deviations are negative"),
    ("SMCRH", dict(sd2i=None), "missing: sd2i"),
    ("MC", dict(sd2i=None), "missing: sd2i"),
    ("MC", dict(ri=[0.5, -1.01]), "correlations are > 1 or < -1"),
    ("SMCC", dict(ni=[0, 10]), "sample sizes are <= 0"),
])
def test_change_measures_bad_input_in_escalc_is_a_plain_error(measure, kw, match):
    """metak.escalc's change measures refuse what metafor's escalc refuses, with its words."""
    import pandas as pd

    import metak
    from metak.errors import MetakError

    args = dict(m1i=[2.0, 3.0], m2i=[1.0, 1.0], sd1i=[1.0, 1.5], sd2i=[1.2, 1.1], ni=[10, 12], ri=[0.5, 0.4])
    args.update(kw)
    args = {k: v for k, v in args.items() if v is not None}
    if measure == "SMCR":
        args.pop("sd2i")
    with pytest.raises(MetakError, match=match):
        metak.escalc(pd.DataFrame({"row": [1, 2]}), measure, **args)


def test_change_measure_sd_of_zero_in_escalc_is_na_as_in_metafor():
    """An SD of 0 is not an error in metafor's escalc: the standardised change is NA. metak.escalc
    gives NaN there (a record refuses it at its line, above)."""
    import pandas as pd

    import metak

    out = metak.escalc(pd.DataFrame({"row": [1, 2]}), "SMCR", m1i=[2.0, 3.0], m2i=[1.0, 1.0], sd1i=[0.0, 1.5],
                       ni=[10, 12], ri=[0.5, 0.4])
    assert np.isnan(out["yi"][0]) and np.isfinite(out["yi"][1])

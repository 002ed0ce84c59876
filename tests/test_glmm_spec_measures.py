"""``glmm:`` in a spec for the single-arm PLO (dat.pritz1997) and the person-time IRR
(dat.hart1999), through ``metak analyze`` on a tmp corpus of trial records, against the
metafor rma.glmm reference of tests/test_glmm.py (UM.FS at nAGQ = 25: 1e-6 relative)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

REF = json.loads((Path(__file__).parent / "reference" / "metafor_glmm_reference.json").read_text())
REL = 1e-6
TAU2 = 1e-5
_ARMS = ("  - {id: e, label: e, role: experimental, intervention: drug}\n"
         "  - {id: c, label: control, role: control, intervention: placebo, control_type: placebo}\n")


def _corpus(root, dataset):
    inp = REF["inputs"][dataset]
    (root / "trials").mkdir(exist_ok=True)
    if inp["measure"] == "PLO":  # the study's proportion in the experimental arm, filler in the control arm
        rows = [("binary", f"      e: {{events: {x}, total: {n}}}\n      c: {{events: 1, total: 9}}\n")
                for x, n in zip(inp["xi"], inp["ni"])]
    else:
        rows = [("person_time", f"      e: {{events: {a}, person_time: {s}}}\n      c: {{events: {b}, person_time: {t}}}\n")
                for a, s, b, t in zip(inp["x1i"], inp["t1i"], inp["x2i"], inp["t2i"])]
    for i, (otype, data) in enumerate(rows):
        (root / "trials" / f"t{i + 1:02d}.yaml").write_text(
            f"metak: 1\nid: t{i + 1:02d}\ntitle: t{i + 1}\ncondition: c\ndesign: parallel\narms:\n{_ARMS}"
            f"outcomes:\n  - id: y\n    label: y\n    type: {otype}\n    direction: lower_is_better\n    data:\n"
            f"{data}    source: {{where: synthetic}}\n")
    return inp["measure"]


def _spec(root, measure, method, model):
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    f"    measure: {measure}\n    method: {method}\n    test: z\n    glmm: {model}\n")
    return spec


def _analyze(spec, out):
    from metak.cli import main

    res = CliRunner().invoke(main, ["analyze", str(spec), "--out", str(out), "--no-figures"])
    return res, (json.loads((out / "results.json").read_text()) if res.exit_code == 0 else None)


@pytest.mark.parametrize("dataset, method", [("pritz1997", "ML"), ("pritz1997", "FE"), ("hart1999", "ML"),
                                             ("hart1999", "FE")])
def test_metak_analyze_glmm_plo_irr_matches_metafor(tmp_path, dataset, method):
    measure = _corpus(tmp_path, dataset)
    res, doc = _analyze(_spec(tmp_path, measure, method, "UM.FS"), tmp_path / "out")
    assert res.exit_code == 0, res.output
    ma = doc["meta_analyses"][0]
    ref = next(f for f in REF["fits"] if f["dataset"] == dataset and f["model"] == "UM.FS" and f["method"] == method)
    g = ma["model"]["glmm"]
    assert g["measure"] == measure and g["model"] == "UM.FS" and g["method"] == method
    assert ma["estimate"] == pytest.approx(ref["estimate"], rel=REL)
    assert ma["se"] == pytest.approx(ref["se"], rel=REL)
    assert ma["k"] == ref["k"]
    if method == "ML":
        assert ma["tau2"] == pytest.approx(ref["tau2"], abs=TAU2)
    from metak.methods import methods_text

    text = " ".join(methods_text(doc)[0])
    assert {"PLO": "pooled proportion", "IRR": "pooled incidence rate ratio"}[measure] in text
    assert ("Poisson" in text) == (measure == "IRR")


def test_glmm_plo_other_model_is_a_spec_error(tmp_path):
    _corpus(tmp_path, "pritz1997")
    res, _ = _analyze(_spec(tmp_path, "PLO", "ML", "UM.RS"), tmp_path / "out")
    assert res.exit_code != 0
    assert "s.yaml" in res.output and "PLO" in res.output and "UM.FS only" in res.output
    assert "Traceback" not in res.output


def test_glmm_measure_not_taken_is_a_spec_error(tmp_path):
    _corpus(tmp_path, "hart1999")
    res, _ = _analyze(_spec(tmp_path, "IRD", "ML", "UM.FS"), tmp_path / "out")
    assert res.exit_code != 0 and "IRD" in res.output and "Traceback" not in res.output

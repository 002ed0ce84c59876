"""``glmm:`` in an analysis spec: the pooled numbers come from metak.glmm (checked against the
metafor reference of tests/test_glmm.py through the same data), ``model.glmm`` records the
model, the methods text and the forest plot's pooled row name it, and a method other than ML
or FE is a spec error at its line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from glmm_corpus import write_tables
from metak.errors import InvalidSpec

REF = json.loads((Path(__file__).parent / "reference" / "metafor_glmm_reference.json").read_text())


def _write(root, method="ML", glmm="UM.FS", extra=""):
    """dat.nielweise2007 (metadat) as trial records: one trial per study."""
    return write_tables(root, REF["inputs"]["nielweise2007"], method=method, glmm=glmm, extra=extra)


@pytest.mark.parametrize("model, method", [("UM.FS", "ML"), ("CM.EL", "FE"), ("CM.AL", "ML")])
def test_spec_glmm_replaces_the_pooled_numbers(tmp_path, model, method):
    from metak.pipeline import analyze

    ma = analyze(_write(tmp_path, method, model))["meta_analyses"][0]
    ref = next(f for f in REF["fits"] if f["dataset"] == "nielweise2007" and f["model"] == model
               and f["method"] == method)
    assert ma["model"]["glmm"]["model"] == model and ma["model"]["glmm"]["method"] == method
    assert ma["estimate"] == pytest.approx(ref["estimate"], rel=1e-6)
    assert ma["se"] == pytest.approx(ref["se"], rel=1e-3 if model == "CM.EL" else 1e-6)
    if method == "ML":
        assert ma["tau2"] == pytest.approx(ref["tau2"], abs=1e-5)
        assert ma["tau2_ci"][0] <= ma["tau2"] <= ma["tau2_ci"][1]
    else:
        assert ma["tau2"] is None
    assert ma["k"] == 17 and [e["label"] for e in ma["model"]["glmm"]["excluded"]] == ["t15"]
    assert any("glmm:" in w for w in ma["warnings"])
    assert "glmm" not in ma  # it lives under model.glmm


def test_spec_glmm_methods_sentence_and_forest_label(tmp_path):
    from metak.methods import methods_text
    from metak.pipeline import analyze
    from metak.plots.forest import build_forest

    doc = analyze(_write(tmp_path, "ML", "CM.EL"))
    text = " ".join(methods_text(doc)[0])
    assert "generalized linear mixed model (CM.EL" in text and "noncentral hypergeometric" in text
    assert "adaptive Gauss-Hermite quadrature (40 nodes)" in text
    table = build_forest(doc["meta_analyses"][0])
    labels = [r.cells.get("label") for r in table.rows]
    assert any(str(lab).startswith("GLMM (CM.EL), ML") for lab in labels)


@pytest.mark.parametrize("method", ["REML", "DL"])
def test_spec_glmm_refuses_other_methods_at_the_line(tmp_path, method):
    from metak.pipeline import analyze

    with pytest.raises(InvalidSpec) as err:
        analyze(_write(tmp_path, method, "UM.FS"))
    msg = str(err.value)
    assert "s.yaml:8: meta_analyses[0].method" in msg and "method must be ML" in msg  # the method line


def test_spec_glmm_unknown_model_is_a_spec_error(tmp_path):
    from metak.pipeline import analyze

    with pytest.raises(InvalidSpec, match="UM.XX"):
        analyze(_write(tmp_path, "ML", "UM.XX"))


def test_spec_glmm_with_the_default_method_is_refused_at_the_glmm_line(tmp_path):
    from metak.pipeline import analyze

    spec = _write(tmp_path, "ML", "UM.FS")
    spec.write_text(spec.read_text().replace("    method: ML\n", ""))
    with pytest.raises(InvalidSpec) as err:
        analyze(spec)
    assert "s.yaml:9" in str(err.value) and "set method: ML" in str(err.value) and "not REML" in str(err.value)

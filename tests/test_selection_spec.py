"""selection_model and pet_peese through the spec: parsed from their registry declarations,
run on the meta-analysis's table, written under sensitivity.<name>, described in the methods
text; bad parameters reported with the file, key path and line. The trials are SYNTHETIC."""

from __future__ import annotations

import textwrap

import numpy as np
import pytest

import metak
from metak.errors import InvalidSpec
from metak.sensitivity.pet_peese import pet_peese
from metak.sensitivity.selection import selection_model

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
#: (events drug, events placebo, n per arm): small trials with large effects, large ones smaller
ARMS = [(14, 5, 30), (12, 4, 25), (20, 12, 60), (30, 22, 90), (9, 3, 20), (40, 31, 120), (16, 9, 45),
        (11, 4, 28), (50, 41, 150), (8, 6, 22)]


@pytest.fixture
def review(tmp_path):
    (tmp_path / "trials").mkdir()
    for i, (a, c, n) in enumerate(ARMS):
        (tmp_path / "trials" / f"t{i}.yaml").write_text(TRIAL.format(id=f"t{i}", year=2010 + i, a=a, c=c, n=n))
    (tmp_path / "analyses").mkdir()
    return tmp_path


def spec(root, sensitivity: str):
    p = root / "analyses" / "x.yaml"
    p.write_text(textwrap.dedent("""\
        metak: 1
        title: "Selection test"
        trials: ../trials
        meta_analyses:
          - id: response
            outcome: response
            measure: OR
            method: REML
        """) + "    sensitivity: " + sensitivity + "\n")
    return p


def test_spec_route_gives_the_python_numbers(review):
    doc = metak.analyze(spec(review, "[{selection_model: {type: stepfun, steps: [0.05]}}, pet_peese]"))
    ma = doc["meta_analyses"][0]
    y = np.array([s["yi"] for s in ma["studies"]])
    v = np.array([s["vi"] for s in ma["studies"]])
    sm = ma["sensitivity"]["selection_model"]
    direct = selection_model(y, v, type="stepfun", steps=[0.05]).to_dict()
    assert sm["estimate"] == pytest.approx(direct["estimate"], rel=1e-9)
    assert sm["tau2"] == pytest.approx(direct["tau2"], rel=1e-9, abs=1e-12)
    assert sm["steps"] == [0.05, 1.0] and sum(sm["p_counts"]) == len(ARMS)
    pp = ma["sensitivity"]["pet_peese"]
    assert pp["pet"]["estimate"] == pytest.approx(pet_peese(y, v).pet["estimate"], rel=1e-9)
    # the API on the same studies
    res = metak.fit(y, v, method="REML")
    assert res.selection_model(type="stepfun", steps=[0.05]).estimate == pytest.approx(sm["estimate"], rel=1e-9)
    assert res.pet().estimate == pytest.approx(pp["pet"]["estimate"], rel=1e-12)
    from metak.methods import methods

    text = " ".join(methods(doc)[0])
    assert "step-function selection model with one-sided p-value cut-points at 0.05" in text
    assert "PEESE if PET's intercept is significant one-sided at 0.05" in text


def test_refused_model_is_recorded_not_raised(review):
    # 10 studies; steps that leave the interval (0, 0.0001] empty
    doc = metak.analyze(spec(review, "[{selection_model: {type: stepfun, steps: [0.0001, 0.5]}}]"))
    sm = doc["meta_analyses"][0]["sensitivity"]["selection_model"]
    assert sm["estimate"] is None and "no observed p-value" in sm["warnings"][0]


@pytest.mark.parametrize("entry, where, message", [
    ("[{selection_model: {type: stepfun, steps: [0.5, 0.05]}}]", "steps", "strictly increasing"),
    ("[{selection_model: {type: stepfun, steps: [0, 0.5]}}]", "steps", "(0, 1)"),
    ("[{selection_model: {type: stepfun}}]", "selection_model", "needs steps"),
    ("[{selection_model: {type: cauchy}}]", "type", "'cauchy' is not one of"),
])
def test_bad_parameters_reported_at_their_line(review, entry, where, message):
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(spec(review, entry))
    text = "\n".join(map(str, exc.value.problems))
    assert "x.yaml:" in text and where in text and message in text, text


def test_model_averaging_through_the_spec(review):
    doc = metak.analyze(spec(review, "[{bayesian_model_averaging: {draws: 1024}}]"))
    bma = doc["meta_analyses"][0]["sensitivity"]["bayesian_model_averaging"]
    assert len(bma["models"]) == 36
    assert sum(m["posterior_prob"] for m in bma["models"]) == pytest.approx(1.0, abs=1e-9)
    inc = bma["inclusion"]["effect"]
    pp = sum(m["posterior_prob"] for m in bma["models"] if m["effect"])
    assert inc["posterior_prob"] == pytest.approx(pp, abs=1e-9)
    assert inc["bf_inclusion"] == pytest.approx(pp / (1 - pp), rel=1e-6)
    ma = doc["meta_analyses"][0]
    y = np.array([s["yi"] for s in ma["studies"]])
    v = np.array([s["vi"] for s in ma["studies"]])
    api = metak.fit(y, v).model_averaging(draws=1024)  # the same seed: the same numbers
    assert api.estimate == pytest.approx(bma["estimate"], rel=1e-9)
    from metak.methods import methods

    assert "Robust Bayesian model averaging" in " ".join(methods(doc)[0])


def test_figures_from_results(review, tmp_path):
    """The selection_model figure and the funnel with the adjusted estimates, drawn from
    results.json; the funnel's legend names them only when the analyses ran."""
    from metak.plots.render import draw_kind, render

    doc = metak.analyze(spec(review, "[{selection_model: {type: halfnorm}}, pet_peese]"))
    ma = doc["meta_analyses"][0]
    for size in ("single_column", "double_column"):
        out = render(ma, "selection_model", tmp_path / f"sel_{size}.png", size=size, dpi=100)
        assert out.stat().st_size > 5000
    art = draw_kind(ma, "selection_model")
    assert [t.get_text() for t in art.ax_estimates.texts][:2] == ["Unadjusted", "Selection (half-normal)"]
    labels = [t.get_text() for t in draw_kind(ma, "funnel").legend.get_texts()]
    assert "Selection model" in labels and "PET-PEESE" in labels
    plain = metak.analyze(spec(review, "[leave_one_out]"))["meta_analyses"][0]
    labels = [t.get_text() for t in draw_kind(plain, "funnel").legend.get_texts()]
    assert "Selection model" not in labels

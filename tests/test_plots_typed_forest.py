"""The forest figures (forest, subgroup, blinding_forest) draw the records' numbers: the study rows
(StudyRow), the pooled numbers (Pooled), the GLMM, Bayes, subgroups, active-placebo and blinding
records. A value changed in a copy of a document moves what is drawn; a value that does not fit
its record is a ResultsMismatch naming its path. The record-based readers of metak.plots._readers
give what the mapping-based _common / _format helpers give."""

from __future__ import annotations

import copy
import dataclasses
import glob
import importlib
import inspect
import json
import math
from pathlib import Path

import pytest

from metak.plots import _common as C
from metak.plots import _format as fmt
from metak.plots import _readers as R
from metak.typed import ResultsMismatch, records

forest = importlib.import_module("metak.plots.forest")
bias = importlib.import_module("metak.plots.bias")

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "plots"


def _load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _doc(path, id_):
    return next(m for m in json.loads((ROOT / path).read_text())["meta_analyses"] if m["id"] == id_)


def _all_mas():
    out = []
    for f in sorted(glob.glob(str(FIXTURES / "*.json"))) + sorted(glob.glob(str(ROOT / "results/*/results.json"))) + \
            [str(ROOT / "docs/examples/bcg/results/results.json")]:
        d = json.loads(Path(f).read_text())
        out += [m for m in d.get("meta_analyses", [d]) if m.get("studies")]
    return out


def _rows(table, kind):
    return [r for r in table.rows if r.kind == kind]


def _mark(row, shape=None):
    return next(m for m in row.marks["effect"] if shape is None or m.shape == shape)


# --------------------------------------------------------------------------- forest


def test_forest_draws_the_study_rows_and_the_pooled_record():
    ma = _load("bcg_or")
    view = records(ma)
    t = forest.build_forest(ma, common=True)
    studies = _rows(t, "study")
    assert len(studies) == len(view.studies)
    for r, row in zip(studies, view.studies):
        m = _mark(r)
        assert [m.est, m.lo, m.hi] == pytest.approx([math.exp(row.yi), math.exp(row.ci_lower), math.exp(row.ci_upper)])
        assert m.size == row.weight and r.key == row.trial and r.cells["label"] == row.label
    p = view.pooled
    d = _mark(_rows(t, "pooled")[0])
    assert [d.est, d.lo, d.hi] == pytest.approx([math.exp(p.estimate), math.exp(p.ci_lower), math.exp(p.ci_upper)])
    ce = _mark(_rows(t, "common")[0])
    assert ce.est == pytest.approx(math.exp(p.common_effect.estimate))
    pi = _mark(_rows(t, "pi")[0])
    assert [pi.lo, pi.hi] == pytest.approx([math.exp(p.pi_lower), math.exp(p.pi_upper)])


def test_a_changed_record_value_moves_what_the_forest_draws():
    ma = copy.deepcopy(_load("bcg_or"))
    ma["studies"][0].update(yi=0.5, ci_lower=0.1, ci_upper=0.9)
    ma["estimate"], ma["pi_upper"] = -0.2, 0.7
    ma["common_effect"]["estimate"] = -0.1
    t = forest.build_forest(ma, common=True)
    assert _mark(_rows(t, "study")[0]).est == pytest.approx(math.exp(0.5))
    assert _mark(_rows(t, "study")[0]).hi == pytest.approx(math.exp(0.9))
    assert _mark(_rows(t, "pooled")[0]).est == pytest.approx(math.exp(-0.2))
    assert _mark(_rows(t, "common")[0]).est == pytest.approx(math.exp(-0.1))
    assert _mark(_rows(t, "pi")[0]).hi == pytest.approx(math.exp(0.7))
    # and on the drawn figure: the diamond's right-hand vertex is the pooled estimate
    art = forest.forest(ma)
    xs = [x for x, _ in art.diamond("pooled").get_xy()]
    assert min(abs(x - math.exp(-0.2)) for x in xs) < 1e-9


def test_the_footer_lines_come_from_the_pooled_record():
    ma = copy.deepcopy(_load("bcg_or"))
    t = forest.build_forest(ma)
    texts = [f.text for f in t.footer]
    # bcg_or: metafor's REML + Knapp-Hartung fit of dat.bcg (tests/fixtures/plots/make_fixtures.py)
    assert any(x.startswith("Heterogeneity: \u03c4\u00b2 = 0.3") and "Q = 163.16, df = 12" in x for x in texts)
    assert any(x.startswith("Test for overall effect (Hartung\u2013Knapp): t = ") and "df = 12" in x for x in texts)
    ma["tau2"], ma["statistic"] = 0.5, -2.5
    texts = [f.text for f in forest.build_forest(ma).footer]
    assert any("\u03c4\u00b2 = 0.50" in x for x in texts)
    assert any(": t = \u22122.50" in x or "z = \u22122.50" in x for x in texts)


def test_the_row_readers_and_text_lines_read_the_records():
    """The row readers and the footer lines against values computed here from the documents."""
    from statistics import NormalDist

    for ma in _all_mas():
        view = records(ma)
        lv = C.level(ma)
        for s, row in zip(ma["studies"], view.studies):
            assert C.row_ci(row, lv) == (s["ci_lower"], s["ci_upper"])
            for role in ("experimental", "control"):
                assert C.arm_data(row, role) == s["data"].get(s[role])
        p = view.pooled
        het = fmt.heterogeneity(p, view.get("multivariate"), p.k)
        if ma.get("tau2") is not None:
            assert f"\u03c4\u00b2 = {fmt.tau2(ma['tau2'])}" in het
        if ma.get("q") is not None:
            assert f"Q = {fmt.num(ma['q'])}" in het
        test = fmt.overall_test(p, C.model_setting(ma, "test"))
        if ma.get("statistic") is not None:
            assert fmt.num(ma["statistic"]) in test and ("t = " in test) == (ma.get("df") is not None)
    row = records(_load("bcg_or")).studies[0]
    bare = dataclasses.replace(row, ci_lower=None, ci_upper=None)  # a row without its CI: from se
    z = NormalDist().inv_cdf(0.975)
    assert C.row_ci(bare, 0.95) == pytest.approx((row.yi - z * row.se, row.yi + z * row.se))


def test_the_glmm_record_labels_the_diamond():
    ma = copy.deepcopy(_load("bcg_or"))
    ma["model"]["glmm"] = {"model": "UM.FS", "method": "ML", "measure": "OR", "likelihood": "binomial", "nagq": 7,
                           "k": 13, "estimate": -0.7, "se": 0.2, "statistic": -3.5, "p_value": 0.001,
                           "ci_lower": -1.1, "ci_upper": -0.3, "tau2": 0.3, "tau2_ci": None, "loglik": -50.0,
                           "qe_wald": 150.0, "qe_wald_p": 0.0, "qe_lrt": 160.0, "qe_lrt_p": 0.0, "qe_df": 12,
                           "excluded": [], "notes": [], "qe_wald_df": 12}
    assert _rows(forest.build_forest(ma), "pooled")[0].cells["label"] == "GLMM (UM.FS), ML"
    ma["model"]["glmm"]["nagq"] = "seven"
    with pytest.raises(ResultsMismatch, match=r"glmm.*nagq"):
        forest.build_forest(ma)


# --------------------------------------------------------------------------- Bayes


def test_the_bayesian_rows_and_shrunken_marks_come_from_the_bayes_record():
    ma = copy.deepcopy(_doc("results/depression_response/results.json", "response"))
    b = records(ma).get("bayes")
    t = forest.build_forest(ma)
    mu = _mark(_rows(t, "bayes")[0])
    assert [mu.est, mu.lo, mu.hi] == pytest.approx([math.exp(b.mu.median), math.exp(b.mu.ci_lower),
                                                    math.exp(b.mu.ci_upper)])
    pi = _mark(_rows(t, "bayes_pi")[0])
    assert [pi.lo, pi.hi] == pytest.approx([math.exp(b.predictive.ci_lower), math.exp(b.predictive.ci_upper)])
    hollow = [_mark(r, "hollow").est for r in _rows(t, "study")]
    assert hollow == pytest.approx([math.exp(x["mean"]) for x in b.shrunken])
    assert any(fmt.probability(b.prob_benefit) in f.text for f in t.footer)
    ma["bayes"]["mu"]["median"] = 0.25
    ma["bayes"]["shrunken"][0]["mean"] = -0.5
    t = forest.build_forest(ma)
    assert _mark(_rows(t, "bayes")[0]).est == pytest.approx(math.exp(0.25))
    assert _mark(_rows(t, "study")[0], "hollow").est == pytest.approx(math.exp(-0.5))
    assert not _rows(forest.build_forest(ma, bayes=False), "bayes")


@pytest.mark.parametrize("path,value,where", [
    (("bayes", "shrunken", 0, "mean"), "x", r"response\]\.bayes\.shrunken\[0\]\.mean"),
    (("bayes", "mu", "median"), "x", r"bayes\.mu\.median"),
    (("studies", 1, "weight"), "5%", r"studies\[1\]\.weight"),
])
def test_a_value_that_does_not_fit_its_record_is_named(path, value, where):
    ma = copy.deepcopy(_doc("results/depression_response/results.json", "response"))
    node = ma
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ResultsMismatch, match=where):
        forest.build_forest(ma)


# --------------------------------------------------------------------------- subgroups


@pytest.mark.parametrize("path,id_", [("docs/examples/bcg/results/results.json", "allocation"),
                                      ("results/suicidal_ideation/results.json", "si_improvement")])
def test_the_subgroup_forest_draws_the_subgroups_record(path, id_):
    ma = copy.deepcopy(_doc(path, id_))
    sg = records(ma).get("subgroups")
    t = forest.build_subgroup(ma)
    shown = [g for g in sg.test.groups if g.estimate is not None]
    subtotals = _rows(t, "subtotal")
    assert len(subtotals) == len(shown)
    nat = C.natural(ma)
    for r, g in zip(subtotals, shown):
        assert [_mark(r).est, _mark(r).lo, _mark(r).hi] == pytest.approx([nat(g.estimate), nat(g.ci_lower),
                                                                          nat(g.ci_upper)])
    heads = _rows(t, "subgroup_header")
    assert len(heads) == len(sg.test.groups)
    members = sum(v == g.value for g in sg.test.groups for v in sg.values)
    assert len(_rows(t, "study")) == members
    assert fmt.subgroup_test(sg.test) in [f.text for f in t.footer]
    ma["subgroups"]["groups"][0]["estimate"] = 0.123
    ma["subgroups"]["q_between"] = 9.87
    t = forest.build_subgroup(ma)
    assert _mark(_rows(t, "subtotal")[0]).est == pytest.approx(nat(0.123))
    assert any("Q = 9.87" in f.text for f in t.footer)


def test_the_subgroup_forest_by_control_type_reads_the_active_placebo_record():
    ma = copy.deepcopy(_load("bias_rr"))
    ap = records(ma).get("active_placebo")
    t = forest.build_subgroup(ma)
    assert [_mark(r).est for r in _rows(t, "subtotal")] == pytest.approx(
        [math.exp(g.estimate) for g in ap.subgroups if g.estimate is not None])
    ma["sensitivity"]["active_placebo"]["subgroups"][0]["estimate"] = 0.4
    assert _mark(_rows(forest.build_subgroup(ma), "subtotal")[0]).est == pytest.approx(math.exp(0.4))
    ma["sensitivity"]["active_placebo"]["subgroups"][0]["k"] = "two"
    with pytest.raises(ResultsMismatch, match=r"active_placebo\.subgroups\[0\]\.k"):
        forest.build_subgroup(ma)


# --------------------------------------------------------------------------- blinding forest


def test_the_blinding_forest_draws_the_study_rows_records():
    ma = copy.deepcopy(_load("bias_rr"))
    rows = records(ma).studies
    t = bias.build_blinding_forest(ma)
    drawn = _rows(t, "study")
    assert [r.key for r in drawn] == [row.trial for row in rows]
    for r, row in zip(drawn, rows):
        assert _mark(r).est == pytest.approx(math.exp(row.yi))
    ma["studies"][2].update(yi=1.0, ci_lower=0.5, ci_upper=1.5)
    m = _mark(_rows(bias.build_blinding_forest(ma), "study")[2])
    assert [m.est, m.lo, m.hi] == pytest.approx([math.exp(1.0), math.exp(0.5), math.exp(1.5)])


# --------------------------------------------------------------------------- the readers' source


#: the two readers that still read keys: a document setting (model.method / model.test: no record) and
#: the bare ``data`` dict of a study row (its keys depend on the outcome type: no record)
KEYED_READERS = {"model_setting", "reported_measure"}


def test_the_readers_read_records_not_keys():
    from test_plots_typed import DOC_PATH, _hand_reads

    for name, obj in vars(R).items():
        if inspect.isfunction(obj) and obj.__module__ == R.__name__ and name not in KEYED_READERS:
            src = inspect.getsource(obj)
            assert _hand_reads(src) == [] and not DOC_PATH.search(src), name

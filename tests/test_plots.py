"""Figures: content (labels, numbers, rows, geometry), formats and reproducibility.

The fixtures are results-document meta-analyses made by
tests/fixtures/plots/make_fixtures.py; bcg_or.json and normand_smd.json carry metafor
3.8.1's numbers (tests/reference/metafor_reference.json), so the strings checked below
are what metafor's forest() prints for dat.bcg, rounded to 2 decimals.
"""

from __future__ import annotations

import copy
import json
import math
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import numpy as np
import pytest

from metak.typed import ResultsMismatch

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.backends.backend_agg import FigureCanvasAgg  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from metak.errors import AnalysisError  # noqa: E402
from metak.plots import (KINDS, blinding, dropout, forest, funnel, leave_one_out,  # noqa: E402
                         posterior, prior_sensitivity, render, subgroup_forest)
from metak.plots import _format as fmt  # noqa: E402
from metak.plots import _scales  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "plots"
M = "\u2212"   # the minus sign figures print


def load(name: str) -> dict:
    bcg_index = {"bcg_regression": 0, "bcg_allocation": 2, "bcg_diagnostics": 3}
    if name in bcg_index:  # the docs example's committed results (dat.bcg)
        doc = json.loads((Path(__file__).parent.parent / "docs" / "examples" / "bcg" / "results" /
                          "results.json").read_text())
        return doc["meta_analyses"][bcg_index[name]]
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture(scope="module")
def bcg():
    return load("bcg_or")


@pytest.fixture(scope="module")
def ket():
    return load("ketamine_or")


@pytest.fixture(scope="module")
def smd():
    return load("normand_smd")


@pytest.fixture(scope="module")
def bcg_forest(bcg):
    return forest(bcg, size="double_column")


def svg_texts(path: Path) -> list[str]:
    root = ET.parse(path).getroot()
    return ["".join(el.itertext()) for el in root.iter("{http://www.w3.org/2000/svg}text")]


def cell(art, kind: str, key: str, n: int = 0) -> str:
    return art.cells[(art.rows(kind)[n], key)].get_text()


# --------------------------------------------------------------------------- forest: content


def test_forest_svg_holds_every_label_and_number(bcg, tmp_path):
    path = render(bcg, "forest", tmp_path / "forest.svg", size="double_column")
    texts = svg_texts(path)
    joined = "\n".join(texts)
    for s in bcg["studies"]:
        assert s["label"] in texts
        e, c = s["data"]["vaccine"], s["data"]["no_vaccine"]
        assert f"{e['events']}/{e['total']}" in texts
        assert f"{c['events']}/{c['total']}" in texts
        assert fmt.weight(s["weight"]) in texts
    # metafor 3.8.1, dat.bcg, rma(method="REML", test="knha"), exp() of yi and CIs
    for expected in ["0.39 [0.12, 1.26]", "0.19 [0.08, 0.46]", "1.56 [0.37, 6.55]",
                     "0.47 [0.32, 0.71]", "[0.13, 1.79]", "100.0%", "Total (95% CI)",
                     "OR [95% CI]", "Random effects (REML)", "Favours vaccine",
                     "Favours no vaccine", "Prediction interval"]:
        assert expected in texts, expected
    assert ("Heterogeneity: \u03c4\u00b2 = 0.34; I\u00b2 = 92%; Q = 163.16, df = 12 "
            "(p < 0.001)") in joined
    assert f"Test for overall effect (Hartung\u2013Knapp): t = {M}3.99, df = 12 (p = 0.002)" \
        in joined


def test_forest_numbers_equal_the_results(bcg, bcg_forest):
    art = bcg_forest
    for n, s in enumerate(bcg["studies"]):
        i = art.study_rows[n]
        assert art.cells[(i, "label")].get_text() == s["label"]
        want = fmt.effect_ci(math.exp(s["yi"]), math.exp(s["ci_lower"]),
                             math.exp(s["ci_upper"]), ratio=True)
        assert art.cells[(i, "ci")].get_text() == want
        assert art.cells[(i, "weight")].get_text() == f"{s['weight']:.1f}%"
    assert cell(art, "pooled", "ci") == fmt.effect_ci(
        math.exp(bcg["estimate"]), math.exp(bcg["ci_lower"]), math.exp(bcg["ci_upper"]), ratio=True)
    assert cell(art, "pi", "ci") == fmt.effect_ci(None, math.exp(bcg["pi_lower"]),
                                                  math.exp(bcg["pi_upper"]), ratio=True)
    tot_e = sum(s["data"]["vaccine"]["events"] for s in bcg["studies"])
    tot_n = sum(s["data"]["vaccine"]["total"] for s in bcg["studies"])
    assert cell(art, "pooled", "exp") == f"{tot_e}/{tot_n}"


def test_forest_row_count_matches_k(bcg, bcg_forest, ket, smd):
    for ma, art in [(bcg, bcg_forest), (ket, forest(ket)), (smd, forest(smd))]:
        assert len(art.study_rows) == ma["k"]
        assert len(art.squares["effect"].get_offsets()) == ma["k"]
        assert len(art.rows("pooled")) == 1


def test_forest_squares_sit_on_their_rows_and_grow_with_weight(bcg, bcg_forest):
    art = bcg_forest
    offsets = np.asarray(art.squares["effect"].get_offsets())
    np.testing.assert_allclose(offsets[:, 0], [math.exp(s["yi"]) for s in bcg["studies"]])
    np.testing.assert_allclose(offsets[:, 1], [art.row_y[i] for i in art.study_rows])
    weights = np.array([s["weight"] for s in bcg["studies"]])
    sizes = np.asarray(art.squares["effect"].get_sizes())
    order = np.argsort(weights)
    assert np.all(np.diff(sizes[order]) >= -1e-9)
    # area proportional to weight above the smallest size drawn
    big = weights >= np.median(weights)
    np.testing.assert_allclose(sizes[big] / sizes[big].max(), weights[big] / weights.max(),
                               rtol=1e-6)


def test_forest_diamond_spans_the_ci_in_data_coordinates(bcg, bcg_forest, smd):
    xy = bcg_forest.diamond("pooled").get_xy()
    assert xy[:, 0].min() == pytest.approx(math.exp(bcg["ci_lower"]), rel=1e-12)
    assert xy[:, 0].max() == pytest.approx(math.exp(bcg["ci_upper"]), rel=1e-12)
    apex = xy[np.argmin(xy[:, 1]), 0]
    assert apex == pytest.approx(math.exp(bcg["estimate"]), rel=1e-12)
    assert bcg_forest.panels["effect"].get_xscale() == "log"
    # identity scale: the CI itself
    xy = forest(smd).diamond("pooled").get_xy()
    assert xy[:, 0].min() == pytest.approx(smd["ci_lower"], abs=1e-12)
    assert xy[:, 0].max() == pytest.approx(smd["ci_upper"], abs=1e-12)


def test_forest_prediction_bar_spans_the_pi(bcg, bcg_forest):
    (i,) = bcg_forest.rows("pi")
    (bar,) = bcg_forest.marks[(i, "effect")]
    x0, x1 = bar.get_x(), bar.get_x() + bar.get_width()
    assert x0 == pytest.approx(math.exp(bcg["pi_lower"]))
    assert x1 == pytest.approx(math.exp(bcg["pi_upper"]))
    # under the diamond
    assert bcg_forest.row_y[i] > bcg_forest.row_y[bcg_forest.rows("pooled")[0]]


def test_forest_log_axis_ticks_are_journal_values(bcg_forest):
    ax = bcg_forest.panels["effect"]
    ticks = list(ax.get_xticks())
    allowed = set(_scales.LOG_SETS["1-2-5"]) | set(_scales.LOG_SETS["1-5-20"])
    assert ticks and all(any(math.isclose(t, a) for a in allowed) for t in ticks)
    assert any(math.isclose(t, 1.0) for t in ticks)
    lo, hi = ax.get_xlim()
    assert math.isclose(lo, ticks[0]) and math.isclose(hi, ticks[-1])
    assert [t.get_text() for t in ax.get_xticklabels()] == [_scales.tick_label(t) for t in ticks]


def test_forest_clipped_whiskers_end_in_arrows(bcg):
    art = forest(bcg, xlim=(0.1, 2))
    i = art.study_rows[[s["label"] for s in bcg["studies"]].index("Comstock & Webster 1969")]
    markers = [m.get_marker() for m in art.marks[(i, "effect")] if hasattr(m, "get_marker")]
    assert ">" in markers                       # CI upper 6.55 > 2
    i = art.study_rows[0]                       # Aronson: 0.12-1.26, inside
    markers = [m.get_marker() for m in art.marks[(i, "effect")] if hasattr(m, "get_marker")]
    assert "<" not in markers and ">" not in markers
    assert art.panels["effect"].get_xlim() == pytest.approx((0.1, 2))


def test_favours_labels_follow_the_direction(bcg, ket):
    left, right = forest(bcg).favours["effect"]          # lower_is_better: OR < 1 is good
    assert (left.get_text(), right.get_text()) == ("Favours vaccine", "Favours no vaccine")
    left, right = forest(ket).favours["effect"]          # higher_is_better
    assert (left.get_text(), right.get_text()) == ("Favours control", "Favours ketamine")
    assert left.get_position()[0] < right.get_position()[0]


def test_forest_bayesian_rows_and_shrunken_markers(ket):
    art = forest(ket, size="double_column")
    b = ket["bayes"]
    assert cell(art, "bayes", "ci") == fmt.effect_ci(
        *(math.exp(b["mu"][k]) for k in ("median", "ci_lower", "ci_upper")), ratio=True)  # median on ratio scales
    xy = art.diamond("bayes").get_xy()
    assert xy[:, 0].min() == pytest.approx(math.exp(b["mu"]["ci_lower"]))
    assert xy[:, 0].max() == pytest.approx(math.exp(b["mu"]["ci_upper"]))
    pred = b["predictive"]
    assert cell(art, "bayes_pi", "ci") == fmt.effect_ci(
        None, math.exp(pred["ci_lower"]), math.exp(pred["ci_upper"]), ratio=True)
    hollow = []
    for n, i in enumerate(art.study_rows):
        pts = [m for m in art.marks[(i, "effect")] if hasattr(m, "get_markerfacecolor")
               and m.get_marker() == "o"]
        assert len(pts) == 1 and pts[0].get_markerfacecolor() in ("white", (1, 1, 1, 1))
        hollow.append(pts[0].get_xdata()[0])
    np.testing.assert_allclose(hollow, [math.exp(x["mean"]) for x in b["shrunken"]])
    assert "Bayesian shrunken study estimates (posterior means)" in art.texts()
    plain = forest(ket, bayes=False)
    assert not plain.rows("bayes") and not plain.rows("bayes_pi")


def test_forest_k1_and_fixed_effect(tmp_path):
    k1 = load("murrough_dropout_k1")
    art = forest(k1)
    assert len(art.study_rows) == 1
    assert not art.rows("pi")
    assert cell(art, "study", "ci") == "0.33 [0.05, 2.09]"      # Cochrane 2021: 0.33, 0.05-2.09
    texts = art.texts()
    assert "Heterogeneity: not applicable" in texts
    assert f"Test for overall effect: z = {M}1.18 (p = 0.24)" in texts
    fe = copy.deepcopy(load("bcg_or"))
    fe["model"]["method"] = "FE"
    fe.update(tau2=None, tau=None, pi_lower=None, pi_upper=None, df=None)
    art = forest(fe)
    assert not art.rows("pi")
    het = [t for t in art.texts() if t.startswith("Heterogeneity")][0]
    assert "\u03c4" not in het and "I\u00b2 = 92%" in het
    assert "Common effect (inverse variance)" in art.texts()


def test_forest_draws_into_a_given_axes(bcg):
    fig = Figure(figsize=(7, 4))
    FigureCanvasAgg(fig)
    ax = fig.add_subplot(111)
    art = forest(bcg, ax)
    assert art.ax is ax and art.figure is fig
    assert art.panels["effect"] in ax.child_axes


def test_greyscale_uses_greys_only(bcg):
    art = forest(bcg, greyscale=True)
    r, g, b, _a = art.squares["effect"].get_facecolor()[0]
    assert r == g == b


# --------------------------------------------------------------------------- other kinds


def test_subgroup_forest(ket):
    art = subgroup_forest(ket, size="double_column")
    block = ket["sensitivity"]["active_placebo"]
    heads = [art.cells[(i, "label")].get_text() for i in art.rows("subgroup_header")]
    assert heads == ["Inert placebo", "Active placebo"]
    assert len(art.study_rows) == ket["k"]
    for n, g in enumerate(block["subgroups"]):
        i = art.rows("subtotal")[n]
        xy = art.diamonds[(i, "effect")].get_xy()
        assert xy[:, 0].min() == pytest.approx(math.exp(g["ci_lower"]))
        assert xy[:, 0].max() == pytest.approx(math.exp(g["ci_upper"]))
        assert art.cells[(i, "ci")].get_text() == fmt.effect_ci(
            math.exp(g["estimate"]), math.exp(g["ci_lower"]), math.exp(g["ci_upper"]), ratio=True)
    # studies sit under their own control type
    ctypes = [s["control_type"] for s in ket["studies"]]
    first_active = art.rows("subgroup_header")[1]
    n_inert = sum(1 for i in art.study_rows if i < first_active)
    assert n_inert == ctypes.count("placebo")
    q = f"Test for subgroup differences: Q = 10.94, df = 1 ({fmt.p_value(block['p_between'])}); I\u00b2 = "
    assert block["q_between"] == pytest.approx(10.94, abs=0.005) and block["df_between"] == 1
    assert any(t.startswith(q) for t in art.texts()), art.texts()


def test_subgroup_forest_by_any_characteristic():
    """The BCG example grouped by allocation: each study under its own group, subtotals equal
    to the separate fits, the Cochrane and the mixed-effects tests in the footer."""
    doc = json.loads((Path(__file__).parent.parent / "docs" / "examples" / "bcg" / "results" /
                      "results.json").read_text())
    ma = next(m for m in doc["meta_analyses"] if m["id"] == "allocation")
    art = subgroup_forest(ma, size="double_column")
    heads = [art.cells[(i, "label")].get_text() for i in art.rows("subgroup_header")]
    assert heads == ["Allocation: Alternate", "Allocation: Random", "Allocation: Systematic"]  # humanised (F16)
    sub = ma["subgroups"]
    starts = art.rows("subgroup_header") + [10**9]
    for n, g in enumerate(sub["groups"]):
        members = [i for i in art.study_rows if starts[n] < i < starts[n + 1]]
        assert len(members) == g["k"] == sub["values"].count(g["value"])
        xy = art.diamonds[(art.rows("subtotal")[n], "effect")].get_xy()
        assert xy[:, 0].min() == pytest.approx(math.exp(g["ci_lower"]))
    texts = art.texts()
    cochrane = (f"Test for subgroup differences: Q = {fmt.num(sub['q_between'])}, df = {sub['df_between']} "
                f"({fmt.p_value(sub['p_between'])}); I\u00b2 = {fmt.percent(sub['i2_between'])}")
    assert cochrane in texts and "Mixed-effects test (common \u03c4\u00b2): QM = 1.77, df = 2 (p = 0.41)" in texts


def test_one_bayesian_summary_everywhere_the_median(ket):
    """The posterior plot's headers and lines, the prior-sensitivity rows and the forest's
    Bayesian row all show the posterior median with the equal-tailed interval."""
    from metak.plots import posterior, prior_sensitivity

    b = ket["bayes"]
    art = posterior(ket)
    tau, mu = b["tau"], b["mu"]
    assert art.means["tau"].get_xdata()[0] == pytest.approx(tau["median"])
    assert art.axes["tau"].get_title(loc="left") == "\u03c4: " + fmt.effect_ci(tau["median"], tau["ci_lower"],
                                                                             tau["ci_upper"], 2)
    assert "Posterior median (line) and 95% equal-tailed credible interval" in art.caption.get_text()
    ps = prior_sensitivity(ket, size="double_column")
    texts = ps.texts()
    (top,) = ps.rows("pooled")
    assert ps.cells[(top, "tau_ci")].get_text() == fmt.effect_ci(tau["median"], tau["ci_lower"], tau["ci_upper"], 2)
    for i, e in zip(ps.rows("prior"), b["prior_sensitivity"]):
        centre = e["tau"].get("median", e["tau"]["mean"])  # the fixture's alternatives have no median
        assert ps.cells[(i, "tau_ci")].get_text() == fmt.effect_ci(centre, e["tau"]["ci_lower"],
                                                                  e["tau"]["ci_upper"], 2)
    assert any(t.startswith("Posterior median and 95%") for t in texts)
    fo = forest(ket, size="double_column")
    label = "Bayesian \u03bc, median (95% CrI)"
    (row,) = [i for i in fo.rows("bayes")]
    assert fo.cells[(row, "label")].get_text() == label
    assert fo.cells[(row, "ci")].get_text() == fmt.effect_ci(math.exp(mu["median"]), math.exp(mu["ci_lower"]),
                                                             math.exp(mu["ci_upper"]), ratio=True)


def test_normal_approximation_uses_the_results_level(ket):
    """Without a grid, the density's SD comes from the CI at the results' level, not at 95%."""
    from metak.plots.bayes import _density

    from dataclasses import replace

    from metak.typed import records

    b = records(ket).get("bayes")
    tau = replace(b.tau, mean=0.4, median=0.4, sd=None, ci_lower=0.4 - 1.6448536 * 0.1, ci_upper=0.4 + 1.6448536 * 0.1)
    b = replace(b, tau=tau, posterior_grid=None)
    x, y, source = _density(b, "tau", level=0.90)
    peak = max(y)
    # a normal with SD 0.1, truncated at 0 and renormalised: its peak is 1 / (0.1 sqrt(2 pi) P(X > 0))
    from statistics import NormalDist

    assert source == "normal"
    assert peak == pytest.approx(1 / (0.1 * math.sqrt(2 * math.pi) * (1 - NormalDist(0.4, 0.1).cdf(0))), rel=2e-3)


def test_bubble_plot_draws_the_meta_regression():
    from metak.plots import bubble

    ma = load("bcg_regression")
    reg = ma["meta_regression"]
    art = bubble(ma, size="double_column")
    offsets = art.points.get_offsets()
    assert len(offsets) == len(reg["studies"]) == 13
    np.testing.assert_allclose(offsets[:, 0], [s["values"]["latitude"] for s in reg["studies"]])
    np.testing.assert_allclose(offsets[:, 1], [math.exp(s["yi"]) for s in reg["studies"]])
    # areas proportional to the weights
    sizes = art.points.get_sizes()
    w = np.array([s["weight"] for s in reg["studies"]])
    np.testing.assert_allclose(sizes / sizes.max(), w / w.max())
    # the line is intercept + slope x latitude, on the natural scale
    b0, b1 = (c["estimate"] for c in reg["coefficients"])
    x, y = art.line.get_data()
    np.testing.assert_allclose(np.log(y), b0 + b1 * np.asarray(x), atol=1e-9)
    assert art.pi_band is not None and art.ax.get_yscale() == "log"
    assert art.ax.get_xlabel() == "Latitude" and "(log scale)" in art.ax.get_ylabel()
    labels = [t.get_text() for t in art.legend.get_texts()]
    assert labels == ["Fitted effect", "95% CI", "Prediction interval", "Study (area \u221d weight)"]  # F13: size key
    # the CI is drawn as its two bounds (no blended band matching neither legend swatch: F13)
    lo_line, hi_line = art.ci_band
    np.testing.assert_allclose(np.log(lo_line.get_ydata()), reg["curve"]["ci_lower"], atol=1e-9)
    np.testing.assert_allclose(np.log(hi_line.get_ydata()), reg["curve"]["ci_upper"], atol=1e-9)
    from metak.plots.bubble import _pretty
    assert _pretty("dose_mg") == "Dose (mg)" and _pretty("latitude") == "Latitude"
    no_curve = {**ma, "meta_regression": {**reg, "curve": None}}
    with pytest.raises(AnalysisError, match="one continuous moderator"):
        bubble(no_curve)


def test_leave_one_out(bcg):
    art = leave_one_out(bcg, size="double_column")
    loo = bcg["sensitivity"]["leave_one_out"]
    assert len(art.study_rows) == len(loo) == bcg["k"]
    for n, e in enumerate(loo):
        i = art.study_rows[n]
        assert art.cells[(i, "label")].get_text() == bcg["studies"][n]["label"]
        assert art.cells[(i, "ci")].get_text() == fmt.effect_ci(
            math.exp(e["estimate"]), math.exp(e["ci_lower"]), math.exp(e["ci_upper"]), ratio=True)
        assert art.cells[(i, "tau2")].get_text() == fmt.tau2(e["tau2"])
    assert cell(art, "pooled", "ci") == "0.47 [0.32, 0.71]"


def test_dropout(tmp_path):
    ma = load("dropout_rr")
    art = dropout(ma, size="double_column")
    assert len(art.study_rows) == ma["k"]
    for n, s in enumerate(ma["studies"]):
        i = art.study_rows[n]
        xs = sorted(m.get_xdata()[0] for m in art.marks[(i, "rates")])
        want = sorted(100 * d["events"] / d["total"] for d in s["data"].values())
        np.testing.assert_allclose(xs, want)
        e = s["data"]["ketamine"]
        assert art.cells[(i, "exp")].get_text() == \
            f"{e['events']}/{e['total']} ({100 * e['events'] / e['total']:.0f}%)"
    assert cell(art, "pooled", "ci") == fmt.effect_ci(
        math.exp(ma["estimate"]), math.exp(ma["ci_lower"]), math.exp(ma["ci_upper"]), ratio=True)
    left, right = art.favours["effect"]
    assert left.get_text() == "Favours ketamine"          # fewer dropouts is better
    with pytest.raises(AnalysisError, match="dropout plot .* needs a dropout meta-analysis"):
        dropout(load("bcg_or"))


def test_blinding(ket):
    art = blinding(ket, size="double_column")
    idx = ket["sensitivity"]["blinding"]["indices"]
    rows = art.rows("arm")
    assert len(rows) == 2 * len(idx)
    for n, e in enumerate(idx):
        for j, arm in enumerate((e["experimental"], e["control"])):
            i = rows[2 * n + j]
            b = e["bang"][arm]
            pt = [m for m in art.marks[(i, "bang")] if m.get_marker() == "o"][0]
            assert pt.get_xdata()[0] == pytest.approx(b["estimate"])
            assert art.cells[(i, "ci")].get_text() == fmt.effect_ci(
                b["estimate"], b["ci_lower"], b["ci_upper"])
    assert art.cells[(rows[0], "ci")].get_text() == "0.63 [0.38, 0.88]"  # contract example
    assert art.panels["bang"].get_xlim() == (-1.0, 1.0)


def test_prior_sensitivity(ket):
    art = prior_sensitivity(ket, size="double_column")
    sens = ket["bayes"]["prior_sensitivity"]
    labels = [art.cells[(i, "label")].get_text() for i in art.rows("prior")]
    assert labels == [e["prior"].replace("_", "-") for e in sens]
    for i, e in zip(art.rows("prior"), sens):
        assert art.cells[(i, "mu_ci")].get_text() == fmt.effect_ci(
            *(math.exp(e["mu"][k]) for k in ("mean", "ci_lower", "ci_upper")), ratio=True)
        assert art.cells[(i, "tau_ci")].get_text() == fmt.effect_ci(
            *(e["tau"][k] for k in ("mean", "ci_lower", "ci_upper")))
    assert art.rows("pooled") and art.rows("frequentist")


def test_posterior_from_grid_and_from_normal_approximation(ket, smd):
    art = posterior(ket)
    assert art.source == {"mu": "grid", "tau": "grid"}
    assert "posterior grid" in art.caption.get_text()
    xs = art.curves["mu"].get_xdata()
    grid = np.exp(ket["bayes"]["posterior_grid"]["mu"]["x"])
    assert np.all(np.isin(np.round(xs, 9), np.round(grid, 9)))
    assert art.axes["mu"].get_xscale() == "log"
    mean = art.means["mu"].get_xdata()[0]
    assert mean == pytest.approx(math.exp(ket["bayes"]["mu"]["median"]))  # exp(median): the posterior median OR
    art = posterior(smd)
    assert art.source == {"mu": "normal", "tau": "normal"}
    assert "normal approximation" in art.caption.get_text()


def test_funnel(bcg):
    art = funnel(bcg, contours=True)
    off = np.asarray(art.points.get_offsets())
    np.testing.assert_allclose(off[:, 0], [math.exp(s["yi"]) for s in bcg["studies"]])
    np.testing.assert_allclose(off[:, 1], [s["se"] for s in bcg["studies"]])
    lo, hi = art.ax.get_ylim()
    assert lo > hi == 0                                  # precise studies at the top
    assert len(art.contours) == 3
    assert art.estimate.get_xdata()[0] == pytest.approx(math.exp(bcg["estimate"]))
    left, right = art.pseudo_ci
    ymax = lo
    assert left.get_xdata()[1] == pytest.approx(math.exp(bcg["estimate"] - 1.959964 * ymax),
                                                rel=1e-5)
    labels = [t.get_text() for t in art.legend.get_texts()]
    assert labels == ["Pooled OR", "95% pseudo-CI", "p > 0.10", "0.05 < p \u2264 0.10",
                      "0.01 < p \u2264 0.05", "p \u2264 0.01"]
    assert funnel(bcg).contours == ()


@pytest.mark.parametrize("kind, fn", [("leave_one_out", leave_one_out), ("blinding", blinding),
                                      ("subgroup", subgroup_forest),
                                      ("prior_sensitivity", prior_sensitivity),
                                      ("posterior", posterior)])
def test_a_kind_without_its_data_says_what_it_needs(bcg, kind, fn):
    bare = {k: v for k, v in bcg.items() if k not in ("sensitivity", "bayes")}
    with pytest.raises(AnalysisError, match=r"needs"):
        fn(bare)


def test_forest_and_funnel_need_studies():
    with pytest.raises(AnalysisError, match="forest plot of meta-analysis 'x' needs"):
        forest({"id": "x", "studies": []})
    with pytest.raises(AnalysisError, match="funnel plot of meta-analysis 'x' needs"):
        funnel({"id": "x", "studies": []})
    with pytest.raises(ResultsMismatch, match=r"x\]\.studies\[0\]: StudyRow needs 'trial'"):
        funnel({"id": "x", "studies": [{"yi": 0.1}]})  # not a study row: named, not drawn


# --------------------------------------------------------------------------- render


def test_render_sizes(bcg, tmp_path):
    from PIL import Image

    p = render(bcg, "forest", tmp_path / "a.png", dpi=100)
    w, h = Image.open(p).size
    assert w == round(89 / 25.4 * 100)
    small = render(load("dropout_rr"), "forest", tmp_path / "b.png", dpi=100)
    assert Image.open(small).size[1] < h                  # height grows with the rows
    p = render(bcg, "forest", tmp_path / "c.png", size="double_column", dpi=100)
    assert Image.open(p).size[0] == round(183 / 25.4 * 100)
    p = render(bcg, "funnel", tmp_path / "d.png", size=120.0, dpi=100)
    assert Image.open(p).size[0] == round(120 / 25.4 * 100)


def test_render_formats(bcg, tmp_path):
    from PIL import Image

    pdf = render(bcg, "forest", tmp_path / "f.pdf").read_bytes()
    assert pdf.startswith(b"%PDF") and b"/FontFile2" in pdf        # TrueType embedded
    assert b"/CreationDate" not in pdf and b"Type3" not in pdf
    svg = render(bcg, "forest", tmp_path / "f.svg").read_text()
    assert "<text" in svg and "<dc:date>" not in svg
    tif = render(bcg, "forest", tmp_path / "f.tif", dpi=300)
    with Image.open(tif) as im:
        assert im.mode == "RGB" and round(im.info["dpi"][0]) == 300
    assert render(bcg, "forest", tmp_path / "noext", fmt="png").read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="format 'bmp'"):
        render(bcg, "forest", tmp_path / "f.bmp")
    with pytest.raises(ValueError, match="unknown figure kind 'forrest'"):
        render(bcg, "forrest", tmp_path / "f.pdf")
    with pytest.raises(ValueError, match="size 'A4'"):
        render(bcg, "forest", tmp_path / "f.pdf", size="A4")


@pytest.mark.parametrize("ext", ["svg", "pdf", "png"])
def test_render_is_byte_reproducible(ket, tmp_path, ext):
    a = render(ket, "forest", tmp_path / f"a.{ext}").read_bytes()
    b = render(ket, "forest", tmp_path / f"b.{ext}").read_bytes()
    assert a == b


FIXTURE_OF = {"forest": "bcg_or", "funnel": "bcg_or", "leave_one_out": "bcg_or",
              "dropout": "dropout_rr", "blinding": "ketamine_or", "subgroup": "ketamine_or",
              "prior_sensitivity": "ketamine_or", "posterior": "ketamine_or", "bubble": "bcg_regression",
              "cumulative": "bcg_allocation", "blinding_forest": "bias_rr", "tipping_point": "bias_rr",
              "assumed_effect": "bias_rr", "baujat": "bcg_diagnostics", "influence": "bcg_diagnostics",
              "trim_fill": "bcg_diagnostics", "rob_summary": "rob_rr",
              "missing_outcome": "missing_rr", "dose_response": "dose_or", "tsa": "tsa_rr",
              "shared_bias": "shared_bias_rr", "bias_posterior": "shared_bias_rr", "cgrc": "cgrc_md",
              "network_graph": "network_hasselblad_or", "network_forest": "network_hasselblad_or",
              "network_league": "network_hasselblad_or", "network_node_split": "network_hasselblad_or",
              "network_rankogram": "network_hasselblad_or", "selection_model": "selection_bcg"}


def test_every_kind_renders_and_leaves_global_state_alone(tmp_path):
    before = dict(matplotlib.rcParams)
    assert set(FIXTURE_OF) == set(KINDS)
    for kind in KINDS:
        p = render(load(FIXTURE_OF[kind]), kind, tmp_path / f"{kind}.svg")
        assert p.stat().st_size > 1000
    assert dict(matplotlib.rcParams) == before


def test_no_pyplot_and_no_backend_switch(tmp_path):
    code = ("import json, sys, matplotlib; from metak.plots import render; "
            f"render(json.load(open({str(FIXTURES / 'bcg_or.json')!r})), 'forest', "
            f"{str(tmp_path / 'x.pdf')!r}); "
            "print('matplotlib.pyplot' in sys.modules)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"


# --------------------------------------------------------------------------- helpers


def test_log_ticks_choose_journal_sets():
    w = lambda s: 4.0 * len(s)     # noqa: E731  (a 7 pt font's digits are ~4 pt wide)
    a, b, ticks, labels = _scales.log_ticks(0.15, 1.8, 150, w)
    assert labels == ["0.1", "0.2", "0.5", "1", "2"]
    # symmetric about 1 when that costs little room
    a, b, ticks, labels = _scales.log_ticks(0.15, 4.0, 300, w)
    assert labels == ["0.1", "0.2", "0.5", "1", "2", "5", "10"]
    a, b, ticks, labels = _scales.log_ticks(0.06, 15, 90, w)
    assert labels == ["0.05", "0.2", "1", "5", "20"]
    a, b, ticks, labels = _scales.log_ticks(0.02, 40, 60, w)
    assert labels == ["0.01", "1", "100"]
    a, b, ticks, labels = _scales.linear_ticks(-0.23, 0.61, 200, w)
    assert labels == [f"{M}0.4", f"{M}0.2", "0.0", "0.2", "0.4", "0.6", "0.8"]


def test_formatting():
    assert fmt.num(-0.004) == "0.00" and fmt.num(-1.5) == f"{M}1.50"
    assert fmt.p_value(0.0004) == "p < 0.001" and fmt.p_value(0.0949) == "p = 0.095"
    assert fmt.p_value(0.28) == "p = 0.28"
    assert fmt.tau2(0) == "0" and fmt.tau2(0.0042) == "0.0042" and fmt.tau2(0.3378) == "0.34"
    assert fmt.arm_data({"mean": 12.7, "sd": 7.6, "n": 20}) == "12.7 (7.6) 20"
    assert fmt.arm_data({"events": 13, "total": 27}) == "13/27"
    assert fmt.probability(0.9997) == "> 0.999"
    assert fmt.effect_ci(1.9589, 0.00297, 1295.7, ratio=True) == "1.96 [0.0030, 1296]"
    assert fmt.effect_ci(-0.004, -0.0041, 120.56) == "0.00 [0.00, 120.56]"  # one decimals rule per column (F11)
    assert fmt.effect_ci(0.22, 0.000055, 848.96, ratio=True) == "0.22 [0.000055, 848.96]"  # F5
    assert fmt.effect_ci(19.24, 0.99, 373.01, ratio=True) == "19.24 [0.99, 373.01]"  # F11
    assert fmt.effect_ci(1.625, 1.0, 2.0, ratio=True) == "1.63 [1.00, 2.00]"  # half up (F3)


def test_funnel_and_posterior_draw_into_given_axes(bcg, ket):
    fig = Figure(figsize=(6, 3))
    FigureCanvasAgg(fig)
    left, right = fig.add_subplot(121), fig.add_subplot(122)
    f = funnel(bcg, left)
    assert f.ax is left and f.figure is fig
    p = posterior(ket, right)
    assert p.ax is right and set(p.axes) == {"mu", "tau"}
    assert all(a in right.child_axes for a in p.axes.values())
    single = posterior(ket, params=("tau",))
    assert set(single.axes) == {"tau"}


def test_tiff_is_reproducible(ket, tmp_path):
    a = render(ket, "funnel", tmp_path / "a.tif", dpi=150).read_bytes()
    b = render(ket, "funnel", tmp_path / "b.tiff", dpi=150).read_bytes()
    assert a == b


def test_a_forest_of_thousands_of_rows_is_capped_with_a_warning(bcg):
    from metak.plots._figure import MAX_HEIGHT_IN, FigureWarning

    many = copy.deepcopy(bcg)
    many["studies"] = [dict(s, label=f"{s['label']} #{i}") for i in range(160) for s in bcg["studies"]]
    with pytest.warns(FigureWarning, match="2080 rows would make the figure"):
        art = forest(many, bayes=False)
    assert art.figure.get_size_inches()[1] <= MAX_HEIGHT_IN + 1e-9
    assert len(art.study_rows) == 2080


# --------------------------------------------------------------------------- bias figures


def test_blinding_forest_shows_each_trials_status_bang_and_the_rule():
    from metak.plots.bias import build_blinding_forest

    ma = load("bias_rr")
    t = build_blinding_forest(ma)
    status = {c["trial"]: c for c in ma["sensitivity"]["blinding"]["classification"]}
    studies = [r for r in t.rows if r.kind == "study"]
    assert len(studies) == len(ma["studies"])
    for r in studies:
        c = status[r.key]
        assert r.cells["status"].lower() == c["status"]
        e = c["bang"].get("e")
        assert r.cells["bang_e"] == ("\u2013" if e is None else f"{e:.2f}".replace("-", M))
        shape = r.marks["effect"][0].shape
        assert shape == {"adequate": "dot", "compromised": "point", "unknown": "open"}[c["status"]]
    pooled = [r for r in t.rows if r.kind == "pooled"]
    assert pooled[0].cells["label"].startswith("Adequate only (k = 6)")
    assert "|Bang index| <= 0.2" in t.footer[0].text


def test_tipping_point_plot_draws_the_curve_the_tipping_point_and_every_source(tmp_path):
    from metak.plots.bias import tipping_point

    ma = load("bias_rr")
    b = ma["sensitivity"]["blinding"]
    art = tipping_point(ma)
    xs, ys = art.line.get_data()
    assert list(xs) == [p["bias"] for p in b["tipping_point"]["curve"]]
    assert np.allclose(ys, np.exp([p["estimate"] for p in b["tipping_point"]["curve"]]))
    vlines = [m for m in art.marks if hasattr(m, "get_xdata") and len(m.get_xdata()) == 2]
    shifts = sorted(e["shift"] for e in b["by_source"] if e["shift"] <= xs[-1])
    assert sorted(float(m.get_xdata()[0]) for m in vlines) == pytest.approx(shifts)
    point = [m for m in art.marks if hasattr(m, "get_xdata") and len(m.get_xdata()) == 1]
    assert point and point[0].get_xdata()[0] == pytest.approx(b["tipping_point"]["bias"])
    assert point[0].get_ydata()[0] == pytest.approx(1.0)   # the CI reaches RR = 1 there
    texts = [t.get_text() for t in art.legend.get_texts()]
    assert any(t.startswith("Tipping point b = 0.56") for t in texts)


def test_assumed_effect_plot_draws_each_refit():
    from metak.plots.bias import assumed_effect

    ma = load("bias_rr")
    rows = ma["sensitivity"]["active_placebo"]["assumed_effect"]
    art = assumed_effect(ma)
    xs, ys = art.line.get_data()
    assert list(xs) == [r["effect"] for r in rows]
    assert np.allclose(ys, np.exp([r["estimate"] for r in rows]))
    assert art.band is not None and "7 comparisons shifted" in art.ax.get_xlabel().replace("\n", " ")


def test_baujat_and_influence_panel_draw_the_influence_numbers():
    from metak.plots.diagnostics import baujat, influence_panel

    ma = load("bcg_diagnostics")
    rows = ma["sensitivity"]["influence"]
    art = baujat(ma)
    offs = art.points[0].get_offsets()
    assert np.allclose(offs[:, 0], [r["baujat_x"] for r in rows]) and np.allclose(offs[:, 1], [r["baujat_y"] for r in rows])
    assert sorted(int(t.get_text()) for t in art.labels) == list(range(1, len(rows) + 1))
    key = " ".join(" ".join(t.get_text() for t in art.figure.texts).split())   # F14: the numbers' key
    assert all(f"{i} {r['label']}" in key for i, r in enumerate(rows, 1))
    assert {t.get_text() for t in baujat(ma, labels="labels").labels} == {r["label"] for r in rows}
    # labels do not overprint each other
    fig = art.figure
    fig.canvas.draw()
    from matplotlib.text import Text

    boxes = [Text.get_window_extent(t) for t in art.labels]  # the text itself, not its leader line
    assert not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1:])
    panel = influence_panel(ma)
    assert [a.get_title() for a in panel.axes][:3] == ["Studentized residual", "DFFITS", "Cook's distance"]
    key = " ".join(" ".join(t.get_text() for t in panel.figure.texts).split())   # the numbers' key (F14)
    assert all(f"{i} {r['label']}" in key for i, r in enumerate(rows, 1))
    assert np.allclose(panel.points[2].get_offsets()[:, 1], [r["cook_d"] for r in rows])


def test_trim_fill_funnel_marks_the_filled_studies_open():
    from metak.plots.diagnostics import trim_fill

    ma = load("bcg_diagnostics")
    tf = ma["sensitivity"]["small_study"]["trim_fill"]
    art = trim_fill(ma)
    pts = art.points[0]
    n = len(ma["studies"])
    assert len(pts.get_offsets()) == n + tf["k0"]
    assert np.allclose(pts.get_offsets()[n:, 0], np.exp([f["yi"] for f in tf["filled"]]))
    faces = pts.get_facecolors()
    assert (faces[n:, :3] == 1).all() and not (faces[:n, :3] == 1).all()
    assert any(t.get_text().startswith("Trim-and-fill RR (k0 = 1, right)") for t in art.legend.get_texts())


def test_missing_outcome_plot_shows_every_scenario_and_the_tipping_imor():
    from metak.plots.missing import build_missing_outcome

    ma = load("missing_rr")
    mo = ma["sensitivity"]["missing_outcome"]
    t = build_missing_outcome(ma)
    rows = [r for r in t.rows if r.kind in ("study", "pooled")]
    assert len(rows) == len(mo["scenarios"]) and rows[0].cells["label"] == "Available case"
    assert [r.cells["label"] for r in rows][-2:] == ["IMOR 0.5", "IMOR 2"]
    best = next(r for r in rows if r.cells["label"] == "Best case")
    assert best.cells["imor"] == "\u221e / 0"
    assert f"{mo['tipping_imor']['imor']:.3g}" in t.footer[-1].text


def test_dose_response_plot_draws_the_points_and_the_fitted_line():
    from metak.plots.dose import dose_response

    ma = load("dose_or")
    dr = ma["dose_response"]
    art = dose_response(ma)
    offs = art.marks[0].get_offsets()
    assert np.allclose(offs[:, 0], [p["dose"] for p in dr["points"]])
    assert np.allclose(offs[:, 1], np.exp([p["yi"] for p in dr["points"]]))
    x, y = art.line.get_data()
    assert np.allclose(y, np.exp(dr["curve"]["estimate"])) and "mg/kg" in art.ax.get_xlabel()

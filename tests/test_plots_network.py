"""The network figures (metak.plots.network), the evidence each network estimate rests on, and
the bundled ketamine network (analyses/network.yaml)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

from metak.errors import AnalysisError  # noqa: E402
from metak.format import effect  # noqa: E402
from metak.network.record import evidence_of  # noqa: E402
from metak.plots import network as N  # noqa: E402
from metak.plots.render import render  # noqa: E402

ROOT = Path(__file__).parent.parent
FIX = Path(__file__).parent / "fixtures" / "plots"
KINDS = ("network_graph", "network_forest", "network_league", "network_node_split", "network_rankogram")
SIZES = ("single_column", "double_column")
TOL = 1e-10


def load(name):
    return json.loads((FIX / f"{name}.json").read_text())


def _texts_inside(fig):
    """Every non-empty text artist lies inside the figure (nothing cut off at either width)."""
    fig.canvas.draw()
    r = fig.canvas.get_renderer()
    W, H = fig.bbox.width, fig.bbox.height
    out = []
    for t in fig.findobj(matplotlib.text.Text):
        if not t.get_visible() or not t.get_text().strip():
            continue
        b = t.get_window_extent(r)
        if b.x0 < -1 or b.y0 < -1 or b.x1 > W + 1 or b.y1 > H + 1:
            out.append((t.get_text(), tuple(round(v) for v in (b.x0, b.y0, b.x1, b.y1)), (W, H)))
    return out


def _all_text(fig):
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("fixture", ["network_hasselblad_or", "network_ketamine_or"])
def test_every_network_figure_renders_inside_its_frame(fixture, size, tmp_path):
    ma = load(fixture)
    for kind in KINDS:
        if kind == "network_node_split" and not ma["network"]["node_split"]:
            with pytest.raises(AnalysisError, match="closed loop"):
                N.node_split(ma, size=size)
            continue
        art = getattr(N, kind.removeprefix("network_"))(ma, size=size)
        assert _texts_inside(art.figure) == [], kind
        w_mm = art.figure.get_size_inches()[0] * 25.4
        assert w_mm == pytest.approx({"single_column": 89.0, "double_column": 183.0}[size])
        p = render(ma, kind, tmp_path / f"{kind}.png", size=size)
        assert p.stat().st_size > 2000


def test_graph_node_area_and_edge_width_proportional():
    net = load("network_hasselblad_or")["network"]
    art = N.graph({"network": net})
    sizes = art.nodes.get_sizes()
    parts = [n["participants"] for n in net["nodes"]]
    ratios = [s / p for s, p in zip(sizes, parts)]
    assert max(ratios) / min(ratios) == pytest.approx(1.0, abs=TOL)
    assert max(sizes) == pytest.approx(N.NODE_MAX_PT ** 2, abs=TOL)
    widths = [ln.get_linewidth() / e["k_trials"] for ln, e in zip(art.edges, net["edges"])]
    assert len(art.edges) == len(net["edges"]) == 6
    assert max(widths) / min(widths) == pytest.approx(1.0, abs=TOL)
    text = _all_text(art.figure)
    for n in net["nodes"]:   # every node's name, participants and trials are written
        assert f"{n['name'].replace('_', ' ')}\nn = {n['participants']:,.0f}, {n['k_trials']} trials" in text


def test_forest_rows_are_the_records_numbers():
    ma = load("network_hasselblad_or")
    net = ma["network"]
    art = N.forest(ma)
    ref = net["reference"]
    freq = [r for r in net["relative_effects"] if r["versus"] == ref]
    bay = [r for r in net["bayes"]["relative_effects"] if r["versus"] == ref]
    assert len(art.rows) == len(freq) + len(bay) == 2 * (len(net["treatments"]) - 1)
    text = _all_text(art.figure)
    for r in freq:
        row = next(x for x in art.rows if x[0].startswith(r["treatment"].replace("_", " ")))
        assert row[1:] == pytest.approx((math.exp(r["estimate"]), math.exp(r["ci_lower"]), math.exp(r["ci_upper"])),
                                        rel=TOL)
        assert f"{effect(math.exp(r['estimate']))} [{effect(math.exp(r['ci_lower']))}, " \
               f"{effect(math.exp(r['ci_upper']))}]" in text
        assert f"({r['evidence']})" in row[0]
    for r in bay:
        assert f"{effect(math.exp(r['median']))} [{effect(math.exp(r['ci_lower']))}, " \
               f"{effect(math.exp(r['ci_upper']))}]" in text


def test_league_upper_frequentist_lower_bayes_row_vs_column():
    ma = load("network_hasselblad_or")
    net = ma["network"]
    art = N.league(ma)
    cells = dict(art.rows)
    ts = net["treatments"]
    assert len(cells) == len(ts) * (len(ts) - 1)
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            if i == j:
                continue
            if j > i:
                r = next(x for x in net["relative_effects"] if (x["treatment"], x["versus"]) == (a, b))
                est = r["estimate"]
            else:
                r = next(x for x in net["bayes"]["relative_effects"] if (x["treatment"], x["versus"]) == (a, b))
                est = r["median"]
            assert cells[(a, b)] == (f"{effect(math.exp(est))}\n[{effect(math.exp(r['ci_lower']))}, "
                                     f"{effect(math.exp(r['ci_upper']))}]")


def test_node_split_rows_and_rankogram_bars():
    ma = load("network_hasselblad_or")
    net = ma["network"]
    art = N.node_split(ma)
    assert len(art.rows) == 3 * len(net["node_split"])
    for k, s in enumerate(net["node_split"]):
        for m, key in enumerate(("direct", "indirect", "network")):
            assert art.rows[3 * k + m][1] == pytest.approx(math.exp(s[key]["estimate"]), rel=TOL)
    rk = N.rankogram(ma)
    bars = [p for c in rk.ax.containers for p in c]
    probs = [v for t in net["treatments"] for v in net["bayes"]["rank_probabilities"][t]]
    assert [b.get_height() for b in bars] == pytest.approx(probs, abs=TOL)


def test_rankogram_without_bayes_is_a_clear_error():
    ma = load("network_ketamine_or")
    ma["network"]["bayes"] = None
    with pytest.raises(AnalysisError, match="exact Bayesian network"):
        N.rankogram(ma)
    with pytest.raises(AnalysisError, match="network"):
        N.forest({"id": "x", "measure": "OR"})


def test_evidence_of_pairs():
    # A-B, B-C trials and one A-B-C three-arm trial: A-C has both (the three-arm trial and the path via B
    # through the other trials); a chain A-B, B-C alone gives A-C indirect only
    assert evidence_of([(0, 1), (1, 2)], 0, 2) == "indirect"
    assert evidence_of([(0, 1), (1, 2)], 0, 1) == "direct"
    assert evidence_of([(0, 1), (1, 2), (0, 2)], 0, 2) == "both"
    # a three-arm trial is the only one with A and C: no indirect path without it
    assert evidence_of([(0, 1, 2)], 0, 2) == "direct"
    assert evidence_of([(0, 1, 2), (0, 1), (1, 2)], 0, 2) == "both"


def test_network_fit_forest_returns_a_figure():
    import pandas as pd

    import metak

    ref = json.loads((ROOT / "tests" / "reference" / "metafor_network_reference.json").read_text())
    net = ref["networks"]["hasselblad1998"]
    fit = metak.network(pd.DataFrame(net["arms"]), study="study", treatment="trt", measure="OR", events="xi",
                        total="ni", reference=net["reference"], bayes=False)
    fig = fit.forest()
    assert isinstance(fig, matplotlib.figure.Figure)
    assert {r["evidence"] for r in fit.to_dict()["relative_effects"]} == {"both"}


@pytest.fixture(scope="module")
def bundled():
    from metak.pipeline import analyze

    return analyze(ROOT / "analyses" / "network.yaml")


def test_bundled_ketamine_network(bundled):
    """analyses/network.yaml: ketamine, midazolam and inert placebo as separate nodes; midazolam vs
    inert placebo rests on indirect evidence only, so it is the consistency difference of the two
    direct estimates with their variances added (disjoint trials)."""
    ma = next(m for m in bundled["meta_analyses"] if m.get("network"))
    net = ma["network"]
    assert net["reference"] == "inert_placebo"
    assert net["treatments"] == ["inert_placebo", "ketamine", "midazolam"]
    assert sorted(net["trials"]) == ["arabzadeh2018", "karmadep2", "lii2023"]
    assert "response" in ma["title"].lower()
    eff = {(r["treatment"], r["versus"]): r for r in net["relative_effects"]}
    assert eff[("ketamine", "inert_placebo")]["evidence"] == "direct"
    assert eff[("ketamine", "midazolam")]["evidence"] == "direct"
    mid = eff[("midazolam", "inert_placebo")]
    assert mid["evidence"] == "indirect"
    a, b = eff[("ketamine", "inert_placebo")], eff[("ketamine", "midazolam")]
    assert mid["estimate"] == pytest.approx(a["estimate"] - b["estimate"], abs=TOL)
    assert mid["se"] ** 2 == pytest.approx(a["se"] ** 2 + b["se"] ** 2, abs=TOL)
    parts = {n["name"]: n["participants"] for n in net["nodes"]}
    assert parts["midazolam"] > 0 and parts["inert_placebo"] > 0
    for fig in ("network_graph", "network_forest", "network_league", "network_rankogram"):
        assert fig in ma["figures"] or any(fig in str(f) for f in ma["figures"])


def _arm(trial, outcome, arm):
    import yaml

    rec = yaml.safe_load((ROOT / "trials" / f"{trial}.yaml").read_text())
    d = next(o for o in rec["outcomes"] if o["id"] == outcome)["data"][arm]
    return d["events"], d["total"]


def test_bundled_control_arm_pool_by_hand(bundled):
    """The control arms' response on the logit scale, by control type: the one midazolam arm is its
    own logit; the two inert-placebo arms pool by inverse variance (tau² = 0 in that subgroup)."""
    ma = next(m for m in bundled["meta_analyses"] if m["id"] == "control_arm_response")
    assert ma["measure"] == "PLO" and ma["k"] == 3
    groups = {g["value"]: g for g in ma["subgroups"]["groups"]}
    x, n = _arm("karmadep2", "response", "midazolam")
    assert groups["active_placebo"]["estimate"] == pytest.approx(math.log(x / (n - x)), abs=TOL)
    assert groups["active_placebo"]["se"] == pytest.approx(math.sqrt(1 / x + 1 / (n - x)), abs=TOL)
    ys, ws = [], []
    for trial, outcome, arm in (("arabzadeh2018", "response", "placebo"), ("lii2023", "response_day1", "saline")):
        x, n = _arm(trial, outcome, arm)
        ys.append(math.log(x / (n - x)))
        ws.append(1 / (1 / x + 1 / (n - x)))
    assert groups["placebo"]["tau2"] == pytest.approx(0.0, abs=1e-8)
    assert groups["placebo"]["estimate"] == pytest.approx(sum(w * y for w, y in zip(ws, ys)) / sum(ws), abs=1e-8)

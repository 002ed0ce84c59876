"""The network figures (metak.plots.network) read the ``network`` record
(:class:`metak.network.record.Network`, through ``C.view(ma, kind).get("network")``), not its keys:
a value changed in a copy of the fixture moves the artist drawn from it, a record passed in place
of its dict draws the same figure, and a value that does not fit the record names its path."""

from __future__ import annotations

import copy
import inspect
import json
import math
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
from test_plots_typed import DOC_PATH, HAND_READ  # noqa: E402

from metak.errors import AnalysisError  # noqa: E402
from metak.format import effect  # noqa: E402
from metak.plots import network as N  # noqa: E402
from metak.typed import ResultsMismatch, records  # noqa: E402

FIX = Path(__file__).parent / "fixtures" / "plots"
TOL = 1e-10


@pytest.fixture
def ma():
    return json.loads((FIX / "network_hasselblad_or.json").read_text())


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _texts(fig) -> str:
    return "\n".join(t.get_text() for t in fig.findobj(matplotlib.text.Text))


def test_no_function_of_the_module_reads_a_key_by_hand():
    for fname, fn in inspect.getmembers(N, inspect.isfunction):
        if fn.__module__ != N.__name__:
            continue
        src = inspect.getsource(fn)
        bad = [ln.strip() for ln in src.splitlines() if HAND_READ.search(ln.split("#")[0])]
        assert bad == [], f"network.{fname} reads results.json keys by hand"
        assert not DOC_PATH.search(src)


@pytest.mark.parametrize("fig", ["graph", "forest", "league", "node_split", "rankogram"])
def test_the_record_draws_what_its_dict_draws(ma, fig):
    """The figure reads attributes: the Network record itself in place of results.json's dict
    (metak.typed passes a record through) gives the same rows, nodes and edges."""
    rec = records(ma).get("network")
    assert type(rec).__name__ == "Network"
    a = getattr(N, fig)(ma)
    b = getattr(N, fig)({"id": ma["id"], "network": rec})
    assert a.rows == b.rows
    if fig == "graph":
        assert list(a.nodes.get_sizes()) == list(b.nodes.get_sizes())
        assert [ln.get_linewidth() for ln in a.edges] == [ln.get_linewidth() for ln in b.edges]
    assert _texts(a.figure) == _texts(b.figure)


def test_graph_moves_with_the_nodes_and_edges(ma):
    base = N.graph(ma)
    bad = copy.deepcopy(ma)
    nodes, edges = bad["network"]["nodes"], bad["network"]["edges"]
    nodes[0]["participants"] = 300.0          # the smallest node shrinks (the largest keeps NODE_MAX_PT)
    nodes[0]["k_trials"] = 7
    edges[0]["k_trials"] = 30                 # the widest edge now
    art = N.graph(bad)
    pmax = max(n["participants"] for n in nodes)
    assert art.nodes.get_sizes()[0] == pytest.approx(N.NODE_MAX_PT ** 2 * 300.0 / pmax, rel=TOL)
    assert art.nodes.get_sizes()[0] != pytest.approx(base.nodes.get_sizes()[0])
    assert art.edges[0].get_linewidth() == pytest.approx(N.EDGE_MAX_PT, rel=TOL)
    assert art.edges[3].get_linewidth() == pytest.approx(N.EDGE_MAX_PT * edges[3]["k_trials"] / 30, rel=TOL)
    text = _texts(art.figure)
    assert "grp counseling\nn = 300, 7 trials" in text and "\n30\n" in f"\n{text}\n"


def test_graph_without_nodes_draws_equal_nodes(ma):
    ma["network"]["nodes"] = []
    art = N.graph(ma)
    assert len(set(art.nodes.get_sizes())) == 1
    assert "Node area" not in _texts(art.figure)


def test_forest_moves_with_the_relative_effects(ma):
    net = ma["network"]
    ref = net["reference"]
    i = next(k for k, r in enumerate(net["relative_effects"]) if r["versus"] == ref)
    j = next(k for k, r in enumerate(net["bayes"]["relative_effects"]) if r["versus"] == ref)
    t = net["relative_effects"][i]["treatment"]
    net["relative_effects"][i].update(estimate=-1.25, ci_lower=-2.5, ci_upper=0.5, evidence="indirect")
    net["bayes"]["relative_effects"][j].update(median=0.75, ci_lower=0.25, ci_upper=1.5)
    net["level"], net["method"] = 0.9, "DL"
    art = N.forest(ma)
    k = next(k for k, r in enumerate(art.rows) if r[0].startswith(N.name(t)))
    assert art.rows[k][0] == f"{N.name(t)} (indirect)"
    assert art.rows[k][1:] == pytest.approx((math.exp(-1.25), math.exp(-2.5), math.exp(0.5)), rel=TOL)
    bayes_t = net["bayes"]["relative_effects"][j]["treatment"]
    kb = next(k for k, r in enumerate(art.rows) if r[0].startswith(N.name(bayes_t))) + 1
    assert art.rows[kb][0] == "  exact Bayes"
    assert art.rows[kb][1:] == pytest.approx((math.exp(0.75), math.exp(0.25), math.exp(1.5)), rel=TOL)
    legend = [x.get_text() for x in art.legend.get_texts()]
    assert legend == ["DL network, 90% CI", "exact Bayes, median and 90% CrI"]


def test_forest_without_bayes_has_one_row_per_treatment(ma):
    ma["network"]["bayes"] = None
    art = N.forest(ma)
    assert len(art.rows) == len(ma["network"]["treatments"]) - 1
    assert all(not r[0].startswith("  exact") for r in art.rows)


def test_node_split_moves_with_the_split(ma):
    s = ma["network"]["node_split"][0]
    s["indirect"].update(estimate=1.1, ci_lower=0.1, ci_upper=2.1)
    s["k_direct"], s["p_value"] = 9, 0.003
    art = N.node_split(ma)
    assert art.rows[1][1:] == pytest.approx((math.exp(1.1), math.exp(0.1), math.exp(2.1)), rel=TOL)
    assert art.rows[0][0] == "  direct (9 trials)"
    assert f"{N.name(s['treatment'])} vs {N.name(s['versus'])}; direct vs indirect p = 0.003" in _texts(art.figure)


def test_league_moves_with_the_cells(ma):
    net = ma["network"]
    ts = net["treatments"]
    above = next(r for r in net["relative_effects"] if ts.index(r["treatment"]) < ts.index(r["versus"]))
    below = next(r for r in net["bayes"]["relative_effects"] if ts.index(r["treatment"]) > ts.index(r["versus"]))
    above.update(estimate=0.5, ci_lower=-0.25, ci_upper=1.25)
    below.update(median=-0.6, ci_lower=-1.6, ci_upper=0.4)
    cells = dict(N.league(ma).rows)
    cell = lambda e, lo, hi: f"{effect(math.exp(e))}\n[{effect(math.exp(lo))}, {effect(math.exp(hi))}]"  # noqa: E731
    assert cells[(above["treatment"], above["versus"])] == cell(0.5, -0.25, 1.25)
    assert cells[(below["treatment"], below["versus"])] == cell(-0.6, -1.6, 0.4)


def test_rankogram_moves_with_the_rank_probabilities(ma):
    b = ma["network"]["bayes"]
    t = ma["network"]["treatments"][0]
    b["rank_probabilities"][t] = [0.1, 0.2, 0.3, 0.4]
    b["sucra"][t] = 0.123
    art = N.rankogram(ma)
    assert dict(art.rows)[t] == (0.1, 0.2, 0.3, 0.4)
    assert [p.get_height() for p in art.ax.containers[0]] == pytest.approx([0.1, 0.2, 0.3, 0.4], abs=TOL)
    assert art.legend.get_texts()[0].get_text() == f"{N.name(t)} (SUCRA 0.12)"


@pytest.mark.parametrize("fig,path,value", [
    ("graph", ("edges", 0, "k_trials"), "3"),
    ("forest", ("relative_effects", 0, "ci_lower"), None),
    ("rankogram", ("bayes", "sucra"), [0.5]),
    ("node_split", ("node_split", 0, "direct", "estimate"), "0.1"),
])
def test_a_value_that_does_not_fit_the_record_names_its_path(ma, fig, path, value):
    node = ma["network"]
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ResultsMismatch) as err:
        getattr(N, fig)(ma)
    where = "network" + "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in path)
    assert f"meta_analyses[{ma['id']}].{where}" in str(err.value)


def test_no_network_or_no_treatments_is_a_clear_error(ma):
    with pytest.raises(AnalysisError, match="needs a network: block"):
        N.graph({"id": "x", "measure": "OR"})
    ma["network"]["treatments"] = []
    with pytest.raises(AnalysisError, match="needs a network: block"):
        N.league(ma)

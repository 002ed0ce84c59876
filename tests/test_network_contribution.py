"""Net contribution of each design (issue 26): the flow decomposition of Papakonstantinou et al.
(2018) on the hat matrix. Checked by hand on a three-node loop (and a node hanging off it), for a
comparison with direct evidence only, rows summing to 100 on dat.hasselblad1998 (multi-arm
trials), and in results.json through the spec route."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

import metak
from metak.errors import MetakError

ROOT = Path(__file__).resolve().parent.parent
HASS = json.loads((ROOT / "tests" / "reference" / "metafor_network_reference.json").read_text())["networks"][
    "hasselblad1998"]
TOL = 1e-9


def _contrasts(rows):
    return pd.DataFrame(rows, columns=["study", "trt", "versus", "yi", "vi"])


def _fit(df, **kw):
    return metak.network(df, study="study", treatment="trt", measure="MD", yi="yi", vi="vi", versus="versus",
                         reference="A", bayes=False, **kw)


def test_three_node_loop_by_hand():
    # A-B (v 0.2), A-C (v 0.3), C-B (v 0.5), common effect. B vs A: direct weight
    # w = (1/0.2) / (1/0.2 + 1/(0.3 + 0.5)) = 0.8 on the A-B trial, 1 - w = 0.2 through A -> C -> B.
    # Paths: A -> B carries 0.8 (length 1: all to A:B); A -> C -> B carries 0.2 (length 2: 0.1 each).
    df = _contrasts([("s1", "B", "A", 0.5, 0.2), ("s2", "C", "A", 0.2, 0.3), ("s3", "B", "C", 0.1, 0.5)])
    c = _fit(df, method="FE").contribution()
    assert c.loc[("A", "B"), "A:B"] == pytest.approx(80.0, abs=TOL)
    assert c.loc[("A", "B"), "A:C"] == pytest.approx(10.0, abs=TOL)
    assert c.loc[("A", "B"), "B:C"] == pytest.approx(10.0, abs=TOL)
    # C vs A: direct weight (1/0.3) / (1/0.3 + 1/0.7) = 0.7; the indirect path A -> B -> C carries 0.3
    assert c.loc[("A", "C"), "A:C"] == pytest.approx(70.0, abs=TOL)
    assert c.loc[("A", "C"), "A:B"] == pytest.approx(15.0, abs=TOL)
    assert c.loc[("A", "C"), "B:C"] == pytest.approx(15.0, abs=TOL)
    # with tau^2 the weights are 1 / (v + tau^2): the same formula at the fitted tau^2
    # (contributions depend on the variances only: an inconsistent loop gives tau^2 > 0)
    fit = _fit(_contrasts([("s1", "B", "A", 0.5, 0.2), ("s2", "C", "A", 0.2, 0.3), ("s3", "B", "C", 2.5, 0.5)]),
               method="DL")
    t2 = fit.tau2
    assert t2 > 0
    w = (1 / (0.2 + t2)) / (1 / (0.2 + t2) + 1 / (0.8 + 2 * t2))
    assert fit.contribution().loc[("A", "B"), "A:B"] == pytest.approx(100 * w, abs=TOL)


def test_direct_only_comparison_gets_all_from_its_design_and_paths_through_it():
    # D hangs off A by one trial: D vs A rests on it alone; D vs B runs B -> A -> D (flow 0.8,
    # length 2) and B -> C -> A -> D (flow 0.2, length 3)
    df = _contrasts([("s1", "B", "A", 0.5, 0.2), ("s2", "C", "A", 0.2, 0.3), ("s3", "B", "C", 0.1, 0.5),
                     ("s4", "D", "A", -0.3, 0.4)])
    c = _fit(df, method="FE").contribution()
    assert c.loc[("A", "D")].to_dict() == {"A:B": 0.0, "A:C": 0.0, "B:C": 0.0, "A:D": 100.0}
    assert c.loc[("B", "D"), "A:D"] == pytest.approx(100 * (0.8 / 2 + 0.2 / 3), abs=TOL)
    assert c.loc[("B", "D"), "A:B"] == pytest.approx(100 * 0.8 / 2, abs=TOL)
    assert c.loc[("B", "D"), "A:C"] == pytest.approx(100 * 0.2 / 3, abs=TOL)
    assert c.loc[("B", "D"), "B:C"] == pytest.approx(100 * 0.2 / 3, abs=TOL)
    # a tree (no loop at all): every estimate from the designs on its path only
    tree = _fit(_contrasts([("s1", "B", "A", 0.5, 0.2), ("s2", "C", "B", 0.2, 0.3)]), method="FE").contribution()
    assert tree.loc[("A", "B")].to_dict() == {"A:B": 100.0, "B:C": 0.0}
    assert tree.loc[("A", "C")].to_dict() == pytest.approx({"A:B": 50.0, "B:C": 50.0}, abs=TOL)


def test_rows_sum_to_100_with_multi_arm_trials():
    df = pd.DataFrame(HASS["arms"])
    fit = metak.network(df, study="study", treatment="trt", events="xi", total="ni", reference="no_contact",
                        bayes=False)
    c = fit.contribution()
    assert len(c) == 6 and "grp_counseling:ind_counseling:self_help" in c.columns     # a three-arm design
    assert (c.sum(axis=1) - 100).abs().max() < 1e-9
    assert (c.values >= 0).all()
    # the direct design dominates where most of the evidence is direct (node split: proportion direct)
    split = {(s["treatment"], s["versus"]): s["proportion_direct"] for s in fit.to_dict()["node_split"]}
    assert split[("ind_counseling", "no_contact")] > 0.8
    assert c.loc[("ind_counseling", "no_contact")].idxmax() == "ind_counseling:no_contact"


def test_contribution_can_be_switched_off():
    df = _contrasts([("s1", "B", "A", 0.5, 0.2), ("s2", "C", "A", 0.2, 0.3)])
    fit = _fit(df, method="FE", contribution=False)
    assert fit.to_dict()["contribution"] == []
    with pytest.raises(MetakError, match="not computed"):
        fit.contribution()


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    from test_network_spec import _trial

    root = tmp_path_factory.mktemp("netc")
    (root / "trials").mkdir()
    (root / "analyses").mkdir()
    by: dict = {}
    for a in HASS["arms"]:
        by.setdefault(a["study"], []).append(a)
    for tid, arms in by.items():
        (root / "trials" / f"t{tid}.yaml").write_text(_trial(tid, arms))
    return root


def test_spec_contribution_key(review):
    from test_network_spec import spec

    net = metak.analyze(spec(review, "network: {reference: no_contact, bayes: false}\n"))["meta_analyses"][0]["network"]
    assert len(net["contribution"]) == 6
    for row in net["contribution"]:
        assert abs(sum(row["designs"].values()) - 100) < 1e-9
    off = metak.analyze(spec(review, "network: {reference: no_contact, bayes: false, contribution: false}\n",
                             name="off.yaml"))["meta_analyses"][0]["network"]
    assert off["contribution"] == []

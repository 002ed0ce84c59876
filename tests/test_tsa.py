"""Required information size and trial sequential monitoring boundaries (metak.certainty).

References: the RTSA formulas (R/ris.R) evaluated in R for the RTSA vignette's calls and D² of
dat.bcg from metafor (tests/reference/tsa_information_size.json, made by
make_tsa_information_size_reference.R); the boundaries RTSA's futility vignette prints; an
independent adaptive quadrature of the crossing probabilities (scipy.integrate.quad, not the
fixed Simpson grid of metak.certainty.tsa); and hand-worked closed forms."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import integrate, optimize, special, stats

from metak.certainty.information_size import binary_size, diversity, fixed_information_size, required_information_size
from metak.certainty.tsa import boundaries, monitor, obf_spending

REF = json.loads((Path(__file__).parent / "reference" / "tsa_information_size.json").read_text())
#: tolerances: numbers against R at 1e-6 relative; boundaries against the quadrature at 1e-6
REL = 1e-6
BOUNDARY_ABS = 1e-6
#: RTSA's vignette prints three decimals
PRINTED = 5e-4 + 1e-9


@pytest.mark.parametrize("case", REF["cases"], ids=lambda c: c["name"])
def test_information_size_matches_rtsa_formulas_in_r(case):
    kw = {"measure": case["outcome"], "alpha": case["alpha"], "beta": case["beta"], "side": case["side"]}
    if case["outcome"] == "MD":
        kw.update(mid=case["mc"], sd=case["sd_mc"])
    else:
        kw.update(control_risk=case["pC"], ratio=case["mc"])
    got = required_information_size(d2=case["D2"], **kw)
    assert got["fixed_exact"] == pytest.approx(case["NF_exact"], rel=REL)
    assert got["fixed"] == case["NF"] and got["required"] == case["NR_D2"]


def test_information_size_by_hand():
    # RR 0.9 at a control risk of 10%, alpha 0.05 two-sided, beta 0.10 (the RTSA vignette's call):
    # p_I = 0.09, p-bar = 0.095, (1.959964 + 1.281552)^2 = 10.507423, 4 * 10.507423 * 0.095 * 0.905 / 0.01^2
    zz = (1.959963984540054 + 1.2815515655446004) ** 2
    hand = 4 * zz * 0.095 * 0.905 / 0.01**2
    assert fixed_information_size(measure="RR", control_risk=0.1, ratio=0.9, beta=0.1) == pytest.approx(hand, rel=1e-12)
    assert hand == pytest.approx(36135.0279, abs=1e-3)
    # a relative risk reduction is the same as the ratio 1 - RRR
    assert binary_size(0.1, 0.09, beta=0.1) == pytest.approx(hand, rel=1e-12)
    assert fixed_information_size(measure="RR", control_risk=0.1, rrr=0.1, beta=0.1) == pytest.approx(hand, rel=1e-12)
    # SMD: sigma = 1; MID 0.2 at alpha 0.05, beta 0.2: 4 * (1.959964 + 0.841621)^2 / 0.04 = 784.89
    assert fixed_information_size(measure="SMD", mid=0.2) == pytest.approx(
        4 * (1.959963984540054 + 0.8416212335729143) ** 2 / 0.04, rel=1e-12)


def test_diversity_matches_metafor():
    d = REF["diversity"]
    assert diversity(d["vi"], d["tau2"]) == pytest.approx(d["D2"], rel=REL)
    assert diversity(d["vi"], 0.0) == 0.0


def test_obf_spending_by_hand():
    # alpha(t) = 2 - 2 Phi(z_{1 - alpha/2} / sqrt t); one-sided 0.025 at t = 0.5: z = 2.241403 / 0.707107
    z = special.ndtri(1 - 0.0125) / math.sqrt(0.5)
    assert obf_spending(0.5, 0.025) == pytest.approx(2 * stats.norm.sf(z), rel=1e-12)
    assert obf_spending(1.0, 0.025) == pytest.approx(0.025, rel=1e-12)


def test_boundaries_match_rtsa_futility_vignette():
    ref = json.loads((Path(__file__).parent / "reference" / "tsa_rtsa_boundaries.json").read_text())
    got = boundaries(ref["timing"], alpha=ref["alpha"], side=ref["side"])["upper"]
    assert got == pytest.approx(ref["upper"], abs=PRINTED)


def test_first_and_single_look_boundaries_by_hand():
    b = boundaries([1.0], 0.05, 2)["upper"]
    assert b[0] == pytest.approx(special.ndtri(0.975), abs=1e-12)
    t1 = 0.3
    first = boundaries([t1, 1.0], 0.05, 2)["upper"][0]
    assert first == pytest.approx(-special.ndtri(obf_spending(t1, 0.025)), abs=1e-12)


def _upper_cross_quad(b1, t1, b2, t2, lower1):
    """P(lower1 < Z1 < b1, Z2 >= b2) by adaptive quadrature over Z1."""
    s = math.sqrt(t2 - t1)

    def f(z1):
        return stats.norm.pdf(z1) * stats.norm.sf((b2 * math.sqrt(t2) - z1 * math.sqrt(t1)) / s)
    return integrate.quad(f, lower1, b1, epsabs=1e-14, epsrel=1e-13, limit=200)[0]


@pytest.mark.parametrize("t1, t2, side", [(0.3, 1.0, 2), (0.5, 0.8, 2), (0.25, 1.0, 1), (0.6, 1.5, 2)])
def test_two_look_boundaries_against_independent_quadrature(t1, t2, side):
    got = boundaries([t1, t2], 0.05, side)
    st = np.array(got["spending_t"])
    spend = obf_spending(st, 0.05 / side)
    b1 = -special.ndtri(spend[0])
    lower1 = -b1 if side == 2 else -np.inf
    b2 = optimize.brentq(lambda b: _upper_cross_quad(b1, t1, b, t2, lower1) - (spend[1] - spend[0]), 0.5, 10,
                         xtol=1e-13)
    assert got["upper"] == pytest.approx([b1, b2], abs=BOUNDARY_ABS)
    if t2 > 1:  # RTSA rescales the spending to t / max t: all of alpha is spent at the last look
        assert got["spent"][-1] == pytest.approx(0.05 / side, rel=1e-12)


def test_three_look_boundary_against_independent_quadrature():
    t = [0.25, 0.6, 1.0]
    got = boundaries(t, 0.05, 2)["upper"]
    spend = obf_spending(np.array(t), 0.025)
    b1, b2 = got[0], got[1]
    s2, s3 = math.sqrt(t[1] - t[0]), math.sqrt(t[2] - t[1])

    r0, r1, r2 = (math.sqrt(x) for x in t)
    phi = lambda x: math.exp(-0.5 * x * x) / math.sqrt(2 * math.pi)  # noqa: E731

    def cross3(b3):
        def inner(z1):  # integrate over z2 in (-b2, b2) given z1, then the tail at look 3
            def g(z2):
                return (phi((z2 * r1 - z1 * r0) / s2) * r1 / s2 * special.ndtr((z2 * r1 - b3 * r2) / s3))
            return phi(z1) * integrate.quad(g, -b2, b2, epsabs=1e-13, epsrel=1e-12)[0]
        return integrate.quad(inner, -b1, b1, epsabs=1e-13, epsrel=1e-12)[0]

    b3 = optimize.brentq(lambda b: cross3(b) - (spend[2] - spend[1]), 1.0, 5.0, xtol=1e-12)
    assert got[2] == pytest.approx(b3, abs=BOUNDARY_ABS)


def test_monitor_crossing_and_ris():
    steps = [{"added": "a", "label": "A", "n_cumulative": 500.0, "z": 1.2},
             {"added": "b", "label": "B", "n_cumulative": 1000.0, "z": 2.4},
             {"added": "c", "label": "C", "n_cumulative": 2000.0, "z": 3.1}]
    m = monitor(steps, 1600.0, 0.05, 2)
    ups = [lk["upper"] for lk in m["looks"]]
    assert ups == pytest.approx(boundaries([500 / 1600, 1000 / 1600, 2000 / 1600], 0.05, 2)["upper"], abs=1e-12)
    assert m["crossed_at"] == ("B" if 2.4 >= ups[1] else "C") and m["ris_reached"] and m["next_look"] == []
    m2 = monitor(steps[:2], 4000.0, 0.05, 2)
    assert m2["crossed_at"] is None and not m2["ris_reached"]
    assert m2["next_look"][-1]["fraction"] == pytest.approx(1.0)
    assert m2["next_look"][-1]["upper"] == pytest.approx(
        boundaries([0.125, 0.25, 1.0], 0.05, 2)["upper"][-1], abs=1e-12)

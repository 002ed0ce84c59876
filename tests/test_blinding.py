"""Blinding indices (contract: "Blinding indices" and results ``sensitivity.blinding``)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest

from metak.sensitivity.blinding_index import bang, guess_table, indices, james

KEYS = {"estimate", "se", "ci_lower", "ci_upper"}
CHECK_TABLE = [[48, 22], [4, 30], [330, 319]]          # contract check (James et al. 1996 data)
EXAMPLE_TABLE = [[20, 6], [3, 15], [4, 7]]             # contract example trial, participant guesses


def _all_none(r):
    return set(r) == KEYS and all(v is None for v in r.values())


def _no_nan(obj):
    if isinstance(obj, dict):
        return all(_no_nan(v) for v in obj.values())
    if isinstance(obj, float):
        return math.isfinite(obj)
    return True


# --------------------------------------------------------------------- contract values
def test_contract_check_james():
    r = james(CHECK_TABLE)
    assert set(r) == KEYS
    assert round(r["estimate"], 3) == 0.896
    assert round(r["se"], 3) == 0.011
    # as printed by the R package BI / BlindingIndex.jl for this table
    assert round(r["ci_lower"], 3) == 0.875
    assert round(r["ci_upper"], 3) == 0.918


def test_contract_check_bang_both_arms():
    e = bang(48, 4, 330)        # experimental arm: correct = guessed E
    c = bang(30, 22, 319)       # control arm: correct = guessed C
    assert (round(e["estimate"], 3), round(e["se"], 3)) == (0.115, 0.018)
    assert (round(c["estimate"], 3), round(c["se"], 3)) == (0.022, 0.019)
    assert (round(e["ci_lower"], 2), round(e["ci_upper"], 2)) == (0.08, 0.15)
    assert (round(c["ci_lower"], 3), round(c["ci_upper"], 2)) == (-0.016, 0.06)


def test_contract_example_trial_bang():
    k = bang(20, 3, 4)
    assert round(k["estimate"], 4) == 0.6296
    assert round(k["se"], 4) == 0.1299
    assert (round(k["ci_lower"], 3), round(k["ci_upper"], 3)) == (0.375, 0.884)
    m = bang(15, 6, 7)          # midazolam (control) arm: correct = guessed_control
    assert round(m["estimate"], 4) == 0.3214
    assert round(m["se"], 4) == 0.1520
    # The contract prints 0.023 for the lower limit: 0.3214 - 1.96 * 0.1520 from the rounded
    # values; from unrounded ones it is 0.02357. Check both the exact value and the print.
    assert m["ci_lower"] == pytest.approx(m["estimate"] - 1.959963984540054 * m["se"], rel=1e-12)
    assert round(m["ci_lower"], 4) == 0.0236
    assert m["ci_lower"] == pytest.approx(0.023, abs=1e-3)
    assert round(m["ci_upper"], 3) == 0.619


def test_contract_example_trial_james():
    r = james(EXAMPLE_TABLE)
    assert round(r["estimate"], 3) == 0.365
    assert round(r["se"], 4) == 0.0647
    assert (round(r["ci_lower"], 3), round(r["ci_upper"], 3)) == (0.238, 0.492)


def test_exact_closed_forms():
    assert bang(20, 3, 4)["estimate"] == pytest.approx(17 / 27, abs=1e-15)
    pc, pw = 20 / 27, 3 / 27
    assert bang(20, 3, 4)["se"] == pytest.approx(math.sqrt((pc + pw - (pc - pw) ** 2) / 27), rel=1e-14)
    # Example table, 44 guessers: rows guess E 26 / guess C 18, columns actual E 23 / actual C 21;
    # P_dk = 11/55, P_do = 0.5*(6+3)/44, P_de = 0.5*(26*21 + 18*23)/44^2
    pdk, pdo, pde = 11 / 55, 0.5 * 9 / 44, 0.5 * (26 * 21 + 18 * 23) / 44**2
    kd = (pdo - pde) / pde
    assert james(EXAMPLE_TABLE)["estimate"] == pytest.approx((1 + pdk + (1 - pdk) * kd) / 2, rel=1e-14)


# --------------------------------------------------------------------- the SE is the delta method
def _james_of_p(p):
    p = np.asarray(p, float).reshape(3, 2)
    p = p / p.sum()
    pdk = p[2].sum()
    g = p[:2]
    w = np.array([[0, 0.5], [0.5, 0]])
    pdo = (w * g).sum() / (1 - pdk)
    pde = (w * np.outer(g.sum(1), g.sum(0))).sum() / (1 - pdk) ** 2
    return (1 + pdk + (1 - pdk) * (pdo - pde) / pde) / 2


def _delta_se(table):
    x = np.asarray(table, float)
    n = x.sum()
    p = (x / n).ravel()
    grad = np.empty(6)
    h = 1e-7
    for i in range(6):
        e = np.zeros(6)
        e[i] = h
        grad[i] = (_james_of_p(p + e) - _james_of_p(p - e)) / (2 * h)
    return math.sqrt(((p * grad**2).sum() - (p @ grad) ** 2) / n)


@pytest.mark.parametrize("table", [CHECK_TABLE, EXAMPLE_TABLE, [[10, 10], [10, 10], [5, 5]],
                                   [[30, 1], [2, 25], [0, 0]], [[3, 1], [34, 30], [33, 21]]])
def test_james_se_equals_multinomial_delta_method(table):
    assert james(table)["se"] == pytest.approx(_delta_se(table), rel=1e-6)


def test_james_estimate_matches_bruteforce_random():
    rng = np.random.default_rng(20240601)
    for _ in range(50):
        t = rng.integers(1, 60, size=(3, 2))
        r = james(t)
        assert r["estimate"] == pytest.approx(_james_of_p(t), rel=1e-12)
        assert r["se"] == pytest.approx(_delta_se(t), rel=1e-5)
        assert 0.0 <= r["estimate"] <= 1.0


# --------------------------------------------------------------------- interpretation anchors
def test_james_anchor_values():
    assert james([[10, 10], [10, 10], [0, 0]])["estimate"] == pytest.approx(0.5)   # random guessing
    r = james([[10, 0], [0, 10], [0, 0]])                                            # complete unblinding
    assert r["estimate"] == pytest.approx(0.0, abs=1e-15)
    assert r["se"] == 0.0
    # opposite guessing also scores 1 on James' index (a known property of kappa_d)
    assert james([[0, 10], [10, 0], [0, 0]])["estimate"] == pytest.approx(1.0)


def test_bang_anchor_values():
    assert bang(10, 0, 0)["estimate"] == 1.0 and bang(10, 0, 0)["se"] == 0.0
    assert bang(0, 10, 0)["estimate"] == -1.0
    assert bang(5, 5, 0)["estimate"] == 0.0


def test_level_changes_ci_only():
    a, b = james(CHECK_TABLE), james(CHECK_TABLE, level=0.9)
    assert a["estimate"] == b["estimate"] and a["se"] == b["se"]
    assert b["ci_upper"] - b["ci_lower"] < a["ci_upper"] - a["ci_lower"]
    assert b["ci_upper"] - b["estimate"] == pytest.approx(1.6448536269514722 * b["se"])


# --------------------------------------------------------------------- edge cases
def test_james_all_dont_know_is_one_with_zero_se():
    # P_dk = 1, so BI = (1 + 1 + 0 * kappa_d)/2 = 1 whatever kappa_d; the R package BI
    # returns 1 with SE 0, the limit of the variance formula as the guessers vanish.
    for t in ([[0, 0], [0, 0], [5, 5]], [[0, 0], [0, 0], [7, 0]]):
        r = james(t)
        assert r == {"estimate": 1.0, "se": 0.0, "ci_lower": 1.0, "ci_upper": 1.0}
    near = james([[1, 1], [1, 1], [10**6, 10**6]])
    assert near["estimate"] == pytest.approx(1.0, abs=1e-5) and near["se"] < 1e-5


def test_bang_all_dont_know_is_zero():
    assert bang(0, 0, 9) == {"estimate": 0.0, "se": 0.0, "ci_lower": 0.0, "ci_upper": 0.0}


def test_zero_answers_give_none():
    assert _all_none(bang(0, 0, 0))
    assert _all_none(james([[0, 0], [0, 0], [0, 0]]))


def test_james_undefined_kappa_gives_none():
    # every guesser was in the experimental arm and guessed it: P_de = P_do = 0, kappa 0/0
    assert _all_none(james([[5, 0], [0, 0], [3, 3]]))


def test_james_single_arm_is_half_with_zero_se():
    # only one arm answered: kappa_d = 0 identically, BI = 0.5, variance exactly 0 (no noise)
    r = james([[5, 0], [1, 0], [0, 0]])
    assert r["estimate"] == pytest.approx(0.5) and r["se"] == 0.0


def test_outputs_are_plain_floats_never_nan():
    for r in (james(CHECK_TABLE), bang(1, 2, 3), james([[0, 0], [0, 0], [1, 1]])):
        assert _no_nan(r)
        assert all(v is None or type(v) is float for v in r.values())


def test_two_by_two_table_means_no_dont_know_row():
    assert james([[20, 6], [3, 15]]) == james([[20, 6], [3, 15], [0, 0]])


@pytest.mark.parametrize("bad", [[[1, 2], [3, 4], [5, 6], [7, 8]], [1, 2, 3], [[1, 2, 3]] * 3])
def test_james_rejects_bad_shapes(bad):
    with pytest.raises(ValueError):
        james(bad)


def test_rejects_bad_counts_and_levels():
    with pytest.raises(ValueError):
        bang(-1, 2, 3)
    with pytest.raises(ValueError):
        bang(1.5, 2, 3)
    with pytest.raises(ValueError):
        james([[1, 2], [3, -4], [0, 0]])
    with pytest.raises(ValueError):
        james([[1, 2], [3, float("nan")], [0, 0]])
    for level in (0, 1, 1.5, -0.1):
        with pytest.raises(ValueError):
            bang(1, 2, 3, level=level)
        with pytest.raises(ValueError):
            james(CHECK_TABLE, level=level)
    assert bang(2.0, np.int64(1), 0)["estimate"] == pytest.approx(1 / 3)


# --------------------------------------------------------------------- convenience: indices()
ROWS = [
    {"arm": "ketamine", "assessor": "participant", "guessed_experimental": 20, "guessed_control": 3, "dont_know": 4},
    {"arm": "midazolam", "assessor": "participant", "guessed_experimental": 6, "guessed_control": 15, "dont_know": 7},
]


def test_guess_table_layout():
    np.testing.assert_array_equal(guess_table(ROWS[0], ROWS[1]), np.array(EXAMPLE_TABLE, float))


def test_indices_reproduces_contract_entry():
    out = indices("example2024", ROWS, "ketamine", "midazolam")
    assert {k: out[k] for k in ("trial", "assessor", "experimental", "control")} == {
        "trial": "example2024", "assessor": "participant", "experimental": "ketamine", "control": "midazolam"}
    assert round(out["james"]["estimate"], 3) == 0.365 and round(out["james"]["se"], 4) == 0.0647
    assert set(out["bang"]) == {"ketamine", "midazolam"}
    assert round(out["bang"]["ketamine"]["estimate"], 4) == 0.6296
    assert round(out["bang"]["ketamine"]["se"], 4) == 0.1299
    assert round(out["bang"]["midazolam"]["estimate"], 4) == 0.3214
    assert round(out["bang"]["midazolam"]["se"], 4) == 0.1520
    assert _no_nan(out)


def test_indices_accepts_objects_and_trial():
    from metak.records.model import GuessRow
    rows = [GuessRow(**r) for r in ROWS]
    trial = SimpleNamespace(id="example2024")
    a = indices(trial, rows, "ketamine", "midazolam")
    b = indices("example2024", ROWS, "ketamine", "midazolam")
    assert a == b


def test_indices_missing_arm_row():
    out = indices("t", ROWS[:1], "ketamine", "midazolam")
    assert out["james"] is None
    assert out["bang"]["midazolam"] is None
    assert round(out["bang"]["ketamine"]["estimate"], 4) == 0.6296


def test_indices_ignores_other_arms_and_validates():
    extra = ROWS + [{"arm": "other", "assessor": "participant", "guessed_experimental": 1,
                     "guessed_control": 1, "dont_know": 1}]
    assert indices("t", extra, "ketamine", "midazolam") == indices("t", ROWS, "ketamine", "midazolam")
    with pytest.raises(ValueError):
        indices("t", ROWS + [dict(ROWS[0])], "ketamine", "midazolam")        # two rows for one arm
    with pytest.raises(ValueError):
        indices("t", [ROWS[0], dict(ROWS[1], assessor="clinician")], "ketamine", "midazolam")
    with pytest.raises(ValueError):
        indices("t", ROWS, "ketamine", "ketamine")

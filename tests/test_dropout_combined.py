"""Dropout rates of a compared side that combines several arms (``multi_arm: combine``, or an
``arms:`` entry naming a list): the side's dropouts and randomized are the sums over its arms.
SYNTHETIC counts, written here as records; the expected values are hand sums."""

from __future__ import annotations

from pathlib import Path

import pytest

from metak.pipeline import analyze


def _arm(i, role, n, completed=None, dropouts=None):
    left = f"completed: {completed}" if completed is not None else f"dropouts: {{total: {dropouts}}}"
    return f"  - {{id: {i}, label: {i}, role: {role}, intervention: x, randomized: {n}, {left}}}\n"


def _trial(root, tid, arms, data):
    (root / "trials" / f"{tid}.yaml").write_text(
        f"metak: 1\nid: {tid}\ntitle: {tid}\ncondition: c\ndesign: parallel\narms:\n" + "".join(arms)
        + "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: higher_is_better\n    data:\n"
        + "".join(f"      {a}: {{events: {e}, total: {n}}}\n" for a, (e, n) in data.items())
        + "    source: {where: x}\n")


@pytest.fixture
def spec(tmp_path) -> Path:
    (tmp_path / "trials").mkdir()
    # two experimental arms against one control: 30 - 24 = 6 and a dropouts block of 3
    _trial(tmp_path, "two_exp", [_arm("k1", "experimental", 30, completed=24), _arm("k2", "experimental", 25, dropouts=3),
                                 _arm("c", "control", 40, completed=33)],
           {"k1": (10, 24), "k2": (9, 22), "c": (8, 33)})
    # one experimental arm against two controls: 22 - 20 = 2 and a block of 5
    _trial(tmp_path, "two_ctl", [_arm("k", "experimental", 20, completed=18), _arm("c1", "control", 22, completed=20),
                                 _arm("c2", "control", 19, dropouts=5)],
           {"k": (7, 18), "c1": (5, 20), "c2": (3, 14)})
    _trial(tmp_path, "plain", [_arm("k", "experimental", 50, completed=45), _arm("c", "control", 48, completed=44)],
           {"k": (20, 45), "c": (15, 44)})
    s = tmp_path / "s.yaml"
    s.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: OR\n"
                 "    multi_arm: combine\n")
    return s


def _side(d, n):
    return {"dropouts": d, "randomized": n, "rate": d / n}


def test_a_side_of_several_arms_sums_their_dropouts_and_randomized(spec):
    ma = analyze(spec)["meta_analyses"][0]
    rates = {r["trial"]: r for r in ma["dropout_rates"]}
    assert rates["two_exp"]["experimental"] == pytest.approx(_side(6 + 3, 30 + 25), rel=1e-12)   # 9/55
    assert rates["two_exp"]["control"] == pytest.approx(_side(7, 40), rel=1e-12)
    assert rates["two_ctl"]["experimental"] == pytest.approx(_side(2, 20), rel=1e-12)
    assert rates["two_ctl"]["control"] == pytest.approx(_side(2 + 5, 22 + 19), rel=1e-12)        # 7/41
    assert rates["plain"]["experimental"] == pytest.approx(_side(5, 50), rel=1e-12)
    assert rates["plain"]["control"] == pytest.approx(_side(4, 48), rel=1e-12)


def test_an_arms_entry_naming_a_list_sums_the_listed_arms_only(spec):
    spec.write_text(spec.read_text() + "    arms:\n      two_exp: {experimental: [k1, k2], control: c}\n"
                                       "      two_ctl: {experimental: k, control: [c2]}\n")
    rates = {r["trial"]: r for r in analyze(spec)["meta_analyses"][0]["dropout_rates"]}
    assert rates["two_exp"]["experimental"] == pytest.approx(_side(9, 55), rel=1e-12)
    assert rates["two_ctl"]["control"] == pytest.approx(_side(5, 19), rel=1e-12)   # c2 alone

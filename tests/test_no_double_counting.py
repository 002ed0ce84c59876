"""No participant is counted twice in any bundled analysis (issue 14).

For every meta-analysis of every committed ``results/`` document, and each trial in it, the
arm sizes its comparisons use (the ``data`` of its ``studies`` rows: split controls carry their
share) must add up to no more than the people in the arms they come from: the trial record's
arm data for that outcome (or, for dropout, the arms' ``randomized``). Exempt, as the issue
says: ``multi_arm: multivariate`` (the covariance between comparisons does that work) and
crossover trials (each person is in both arms by design; their rows are checked for using no
more than the people in the trial). The checker itself is shown to catch a double count."""

from __future__ import annotations

import copy
import json
from collections import defaultdict
from pathlib import Path

import pytest

from metak.records import load_trials

ROOT = Path(__file__).resolve().parent.parent
DOCS = sorted((ROOT / "results").glob("*/results.json"))


def size(d):
    return d.get("total", d.get("n"))


def record_people(t, outcome_id, arm_names):
    """People in the record's arms behind ``arm_names`` ('a + b' combined) for this outcome."""
    o = t.outcome(outcome_id) if outcome_id else None
    total = 0.0
    for name in arm_names:
        for a in name.split(" + "):
            d = o.data.get(a) if o is not None and isinstance(o.data, dict) else None
            if d is not None:
                total += d.total if hasattr(d, "total") else d.n
            else:
                total += t.arm(a).randomized
    return total


def double_counts(doc, trials) -> list[str]:
    out = []
    for ma in doc["meta_analyses"]:
        if (ma.get("model") or {}).get("multi_arm") == "multivariate":
            continue
        used, arms = defaultdict(float), defaultdict(set)
        for s in ma.get("studies") or []:
            if "measure" in s["data"]:  # a reported contrast: no arm data to count
                continue
            for name, d in s["data"].items():
                used[s["trial"]] += size(d)
                arms[s["trial"]].add((s["outcome"], name))
        for tid, n in used.items():
            t = trials[tid]
            names = {name for _, name in arms[tid]}
            outcome = next(iter(arms[tid]))[0]
            if t.design == "crossover":
                limit = 2 * (t.randomized_total or record_people(t, outcome, names))
            else:
                limit = record_people(t, outcome, names)
            if n > limit + 1e-9:
                out.append(f"{ma['id']}: {tid} uses {n:g} arm places for {limit:g} people")
    return out


@pytest.fixture(scope="module")
def trials():
    ts = load_trials(ROOT / "trials")
    return {t.id: t for t in ts}


@pytest.mark.parametrize("path", DOCS, ids=[p.parent.name for p in DOCS])
def test_no_bundled_analysis_counts_a_participant_twice(path, trials):
    doc = json.loads(path.read_text())
    assert doc["meta_analyses"], path
    assert double_counts(doc, trials) == []


def test_the_check_catches_a_shared_control_counted_twice(tmp_path):
    """A dose-arm trial split as metak splits it passes; its control used whole in every
    comparison (the double count split_control prevents) is caught."""
    from metak.pipeline import analyze

    (tmp_path / "trials").mkdir()
    (tmp_path / "trials" / "d.yaml").write_text(
        "metak: 1\nid: d\ntitle: t\ncondition: c\ndesign: parallel\narms:\n"
        "  - {id: lo, label: Lo, role: experimental, intervention: drug}\n"
        "  - {id: hi, label: Hi, role: experimental, intervention: drug}\n"
        "  - {id: p, label: P, role: control, intervention: placebo}\n"
        "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: higher_is_better\n    data:\n"
        "      lo: {events: 5, total: 20}\n      hi: {events: 8, total: 20}\n      p: {events: 3, total: 21}\n"
        "    source: {where: test}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - {id: m, outcome: y, measure: RR}\n")
    doc = analyze(spec)
    trials = {t.id: t for t in load_trials(tmp_path / "trials")}
    assert [s.get("split_control") for s in doc["meta_analyses"][0]["studies"]] == [2, 2]
    assert double_counts(doc, trials) == []
    bad = copy.deepcopy(doc)
    for s in bad["meta_analyses"][0]["studies"]:
        s["data"][s["control"]]["total"] = 21
    assert double_counts(bad, trials) == ["m: d uses 82 arm places for 61 people"]

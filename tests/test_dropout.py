"""Dropout meta-analyses: all-cause and by reason (the arms' dropouts block), zero-dropout
trials per measure, per-arm rates, control type as subgroups and moderator, and the default
Bayesian heterogeneity prior. Fits against metafor 3.8.1
(tests/reference/make_dropout_reference.R; SYNTHETIC counts, written here as records).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from metak.errors import InvalidRecord
from metak.pipeline import analyze

REF = json.loads((Path(__file__).parent / "reference" / "metafor_dropout_reference.json").read_text())
TOL = 1e-6


def _arm(i, role, n, d, ae=None, ct=None, block=False):
    extra = f", control_type: {ct}" if ct else ""
    if block:  # the dropouts block instead of completed
        reasons = f", adverse_events: {ae}" if ae is not None else ""
        return f"  - {{id: {i}, label: {i}, role: {role}, intervention: x, randomized: {n}, dropouts: {{total: {d}{reasons}}}{extra}}}\n"
    blk = f", dropouts: {{adverse_events: {ae}}}" if ae is not None else ""
    return f"  - {{id: {i}, label: {i}, role: {role}, intervention: x, randomized: {n}, completed: {n - d}{blk}{extra}}}\n"


def write(root: Path, body: str) -> Path:
    (root / "trials").mkdir(parents=True)
    for j, r in enumerate(REF["data"]):
        ae1 = r.get("ae1")
        ae2 = r.get("ae2")
        block = j == 3  # t4 gives its dropouts as a block with a total
        (root / "trials" / f"{r['trial']}.yaml").write_text(
            f"metak: 1\nid: {r['trial']}\ntitle: {r['trial']}\ncondition: c\ndesign: parallel\narms:\n"
            + _arm("k", "experimental", r["n1i"], r["ai"], ae1, block=block)
            + _arm("c", "control", r["n2i"], r["ci"], ae2, r["ct"], block=block)
            + "outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: higher_is_better\n    data:\n"
              "      k: {events: 1, total: 2}\n      c: {events: 1, total: 2}\n    source: {where: x}\n")
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n" + body)
    return spec


def close(a, b):
    return a is not None and abs(a - b) <= TOL * (1 + abs(b))


def test_dropout_meta_analyses_match_metafor(tmp_path):
    body = ""
    for c in REF["cases"]:
        test = "hksj" if c["test"] == "knha" else "z"
        drop = "true" if c["reason"] == "all" else f"{{reason: {c['reason']}}}"
        body += (f"  - id: {c['id'].lower()}\n    dropout: {drop}\n    measure: {c['measure']}\n    method: {c['method']}\n"
                 f"    test: {test}\n")
    doc = analyze(write(tmp_path, body))
    for c, ma in zip(REF["cases"], doc["meta_analyses"]):
        assert [s["trial"] for s in ma["studies"]] == c["trials"], c["id"]
        for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2"):
            assert close(ma[key] or 0.0, c[key]), (c["id"], key, ma[key], c[key])
        if c["measure"] in ("RR", "OR") and c["reason"] == "all":
            assert any(e["trial"] == "t3" and "no dropouts in either arm" in e["reason"] for e in ma["excluded"])
            assert any("t3: no dropouts in either arm; left out" in w for w in ma["warnings"])
        if c["measure"] == "RD" and c["reason"] == "all":
            assert any("t3: no dropouts in either arm; kept in the dropout RD" in w for w in ma["warnings"])
        rates = {r["trial"]: r for r in ma["dropout_rates"]}
        for r in REF["data"]:
            if r["trial"] in rates and c["reason"] == "all":
                e = rates[r["trial"]]["experimental"]
                assert (e["dropouts"], e["randomized"]) == (r["ai"], r["n1i"])
                assert e["rate"] == pytest.approx(r["ai"] / r["n1i"])


def test_dropout_by_control_type_as_subgroups_and_moderator(tmp_path):
    body = ("  - id: m\n    dropout: true\n    measure: RR\n    subgroups: control_type\n"
            "    moderators: [control_type]\n")
    ma = analyze(write(tmp_path, body))["meta_analyses"][0]
    ref = REF["moderator"]
    coef = ma["meta_regression"]["coefficients"]
    for j, c in enumerate(coef):
        assert close(c["estimate"], ref["b"][j]) and close(c["se"], ref["se"][j])
    assert close(ma["meta_regression"]["qm"], ref["qm"])
    groups = {g["value"]: g for g in ma["subgroups"]["groups"]}
    for g in REF["subgroups"]:
        assert groups[g["ct"]]["k"] == g["k"] and close(groups[g["ct"]]["estimate"], g["estimate"])


def test_bayesian_dropout_defaults_to_turners_withdrawal_prior(tmp_path):
    body = "  - id: rr\n    dropout: true\n    bayes: {}\n  - id: or\n    dropout: true\n    measure: OR\n    bayes: {}\n"
    doc = analyze(write(tmp_path, body))
    for ma in doc["meta_analyses"]:
        prior = ma["bayes"]["prior"]["tau"]
        assert "turner2015/withdrawals" in json.dumps(prior) or "-2.99" in json.dumps(prior), prior
    rr, or_ = doc["meta_analyses"]
    assert any("applied here to the log risk ratio" in w for w in rr["warnings"])
    assert any("for the log odds ratio" in w for w in or_["warnings"])


BAD = [
    ("{total: 3, adverse_events: 2, other: 2}", "dropouts", "the reasons add up to 4, more than total 3"),
    ("{total: 5}", "dropouts.total", "differs from randomized - completed = 4"),
    ("{adverse_event: 1}", "dropouts.adverse_event", "did you mean 'adverse_events'"),
    ("{adverse_events: -1}", "dropouts.adverse_events", "must not be negative"),
]


@pytest.mark.parametrize("block,key,message", BAD)
def test_bad_dropout_blocks_are_record_errors(tmp_path, block, key, message):
    spec = write(tmp_path, "  - id: m\n    dropout: true\n")
    f = tmp_path / "trials" / "t1.yaml"
    text = f.read_text().replace("completed: 23, dropouts: {adverse_events: 1}", f"completed: 23, dropouts: {block}")
    f.write_text(text)
    line = next(i + 1 for i, s in enumerate(text.splitlines()) if f"dropouts: {block}" in s)
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any(p.path.endswith(key) and message in p.message and p.line == line for p in exc.value.problems), \
        [(p.path, p.line, p.message) for p in exc.value.problems]


def test_unknown_dropout_reason_is_a_spec_error(tmp_path):
    from metak.errors import InvalidSpec

    spec = write(tmp_path, "  - id: m\n    dropout: {reason: side_effects}\n")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any(p.path.endswith("dropout.reason") and "adverse_events" in p.message and p.line == 6
               for p in exc.value.problems)


def test_dropout_is_shown_beside_an_efficacy_result(tmp_path):
    from metak.report import terminal_table

    spec = write(tmp_path, "  - id: eff\n    outcome: y\n    measure: OR\n")
    doc = analyze(spec)
    ma = doc["meta_analyses"][0]
    rates = {d["trial"]: d for d in ma["dropout_rates"]}
    assert set(rates) == {r["trial"] for r in REF["data"]}
    assert rates["t1"]["control"] == {"dropouts": 7, "randomized": 28, "rate": 0.25}
    assert "dropout in these trials: t1 4/27 vs 7/28" in terminal_table(doc)


@pytest.mark.parametrize("block,message", [
    ("{adverse_events: 10}", "the reasons add up to 10, more than randomized - completed 4"),
    ("{adverse_events: 1, lack_of_efficacy: 1, lost_to_follow_up: 1, other: 0}",
     "all four reasons are given but add up to 3, not randomized - completed 4"),
])
def test_dropout_reasons_must_agree_with_randomized_minus_completed(tmp_path, block, message):
    spec = write(tmp_path, "  - id: m\n    dropout: true\n")
    f = tmp_path / "trials" / "t1.yaml"
    f.write_text(f.read_text().replace("completed: 23, dropouts: {adverse_events: 1}", f"completed: 23, dropouts: {block}"))
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any(message in p.message for p in exc.value.problems), [p.message for p in exc.value.problems]

"""The bundled corpus after the 2026-12 evidence audit (issue 28): every outcome says what kind
of source its numbers come from, derived numbers show arithmetic that holds, each bundled
meta-analysis asks one question (no ketamine-vs-ketamine comparison in a ketamine-vs-control
pool, no two records of overlapping participants in one pool), and the arms are ready for a
network (ketamine, midazolam and saline/placebo told apart)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from metak.effects.build import build_table
from metak.effects.escalc import ContinuityCorrection
from metak.errors import InvalidRecord, InvalidSpec
from metak.records import load_trials, validate_paths
from metak.records.model import SOURCE_TYPES
from metak.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
TRIALS = load_trials([ROOT / "trials"])
BY_ID = {t.id: t for t in TRIALS}
SPECS = sorted((ROOT / "analyses").glob("*.yaml"))


# ------------------------------------------------------------------ source types

@pytest.mark.parametrize("trial", TRIALS, ids=[t.id for t in TRIALS])
def test_every_outcome_source_says_what_kind_of_source_it_is(trial):
    for o in trial.outcomes:
        assert o.source.type, f"{trial.id}:{o.id}: source has no type (one of {', '.join(SOURCE_TYPES)})"
        assert set(o.source.type) <= set(SOURCE_TYPES)


def test_news_report_numbers_are_not_labelled_abstract():
    """Audit D-2, D-3: Dakwar 2019's OR 5.7 and Grabski 2022's relapse OR 0.80 are in news
    reports, not in the abstracts."""
    for tid, oid in (("dakwar2019", "abstinence_adjusted"), ("grabski2022", "relapse_6m")):
        src = BY_ID[tid].outcome(oid).source
        assert src.type == ("secondary_report",), (tid, src.type)
        assert not src.where.lower().startswith("abstract"), src.where


def _record(tmp_path, extra_top="", source="{where: \"Table 2\"}"):
    text = f"""metak: 1
id: t1
title: "T"
condition: c
design: parallel
{extra_top}arms:
  - {{id: k, label: K, role: experimental, intervention: ketamine}}
  - {{id: m, label: M, role: control, control_type: active_placebo, intervention: midazolam}}
outcomes:
  - id: x
    label: X
    type: binary
    direction: higher_is_better
    data:
      k: {{events: 3, total: 10}}
      m: {{events: 1, total: 10}}
    source: {source}
"""
    path = tmp_path / "t1.yaml"
    path.write_text(text)
    return path


@pytest.mark.parametrize("source,line,path,message", [
    ('{where: "Table 2", type: abstrakt}', 17, "outcomes[0].source.type", "'abstrakt' is not one of"),
    ('{where: "Table 2", type: [abstract, news]}', 17, "outcomes[0].source.type[1]", "'news' is not one of"),
    ('{where: "Table 2", type: []}', 17, "outcomes[0].source.type", "must not be empty"),
    ('{where: "Table 2", type: 3}', 17, "outcomes[0].source.type", "must be a list"),
])
def test_a_wrong_source_type_is_an_error_with_file_line_and_key(tmp_path, source, line, path, message):
    f = _record(tmp_path, source=source)
    _, problems, _ = validate_paths([f])
    text = [str(p) for p in problems]
    assert any(s.startswith(f"{f}:{line}: {path}:") and message in s for s in text), text


def test_a_source_type_may_be_one_kind_or_a_list(tmp_path):
    for src, want in (('{where: "T", type: registry}', ("registry",)),
                      ('{where: "T", type: [abstract, review_table]}', ("abstract", "review_table"))):
        (t,) = load_trials([_record(tmp_path, source=src)])
        assert t.outcomes[0].source.type == want


# ------------------------------------------------------------------ derived arithmetic

#: "a/b = p%" or "a/b (p%)": the fraction rounds to the percentage as written
FRACTION = re.compile(r"(\d+)/(\d+) (?:= |\()(\d+(?:\.\d+)?)%")
#: "p% x n = v" or "p% of n = v": the product, to the decimals written
PRODUCT = re.compile(r"(\d+(?:\.\d+)?)% (?:x|×|of) (\d+) = (\d+(?:\.\d+)?)")
#: "a - b = c", "a + b = c" (whole numbers)
SUM = re.compile(r"(?<![\d.])(\d+) ([+-]) (\d+) = (\d+)(?![\d.])")
#: "(a x b) / (c x d) = [e / f =] r": an odds ratio from counts
ODDS = re.compile(r"\((\d+) x (\d+)\) / \((\d+) x (\d+)\) = (?:\d+ / \d+ = )?(\d+(?:\.\d+)?)")


def _decimals(s: str) -> int:
    return len(s.split(".")[1]) if "." in s else 0


def arithmetic_errors(note: str) -> list[str]:
    """Every checkable piece of arithmetic in a note that does not hold (rounded as written)."""
    bad = []
    for a, b, pct in FRACTION.findall(note):
        if round(100 * int(a) / int(b), _decimals(pct)) != float(pct):
            bad.append(f"{a}/{b} is not {pct}%")
    for pct, n, v in PRODUCT.findall(note):
        if abs(float(pct) * int(n) / 100 - float(v)) > 0.5 * 10 ** -_decimals(v) + 1e-9:
            bad.append(f"{pct}% of {n} is not {v}")
    for a, op, b, c in SUM.findall(note):
        if (int(a) + int(b) if op == "+" else int(a) - int(b)) != int(c):
            bad.append(f"{a} {op} {b} is not {c}")
    for a, b, c, d, r in ODDS.findall(note):
        if abs(int(a) * int(b) / (int(c) * int(d)) - float(r)) > 0.5 * 10 ** -_decimals(r) + 1e-9:
            bad.append(f"({a} x {b}) / ({c} x {d}) is not {r}")
    return bad


@pytest.mark.parametrize("note,wrong", [
    ("13/27 = 48.2%", "13/27 is not 48.2%"),
    ("48.2% x 27 = 13.10", "48.2% of 27 is not 13.10"),
    ("22 - 13 = 8", "22 - 13 is not 8"),
    ("(35 x 17) / (6 x 23) = 595 / 138 = 4.21", "(35 x 17) / (6 x 23) is not 4.21"),
])
def test_the_arithmetic_check_catches_a_wrong_note(note, wrong):
    assert arithmetic_errors(note) == [wrong]
    assert arithmetic_errors("13/27 = 48.1%; 48.2% x 27 = 13.01; 22 - 13 = 9; (35 x 17) / (6 x 23) = 4.31") == []


@pytest.mark.parametrize("trial", TRIALS, ids=[t.id for t in TRIALS])
def test_a_derived_number_shows_arithmetic_that_holds(trial):
    for o in trial.outcomes:
        note = o.source.note or ""
        if o.source.derived:
            assert re.search(r"\d", note) and re.search(r"[=/×x+-]", note), f"{trial.id}:{o.id}: no arithmetic"
        assert arithmetic_errors(note) == [], f"{trial.id}:{o.id}"


def test_the_new_evidence_of_the_audit_is_in():
    """Audit section 4: Arabzadeh week-6 response and remission (derived, reproducing the
    published ORs), Lii remission and HADS, Grunebaum's SSI contrast, KARMA-Dep 2's adjusted
    MD, Abbar 2022 and KADS 2023 (secondary report only)."""
    ar = BY_ID["arabzadeh2018"]
    assert {a: (d.events, d.total) for a, d in ar.outcome("response").data.items()} == {
        "ketamine": (35, 41), "placebo": (23, 40)}
    assert ar.outcome("response").source.derived and "secondary_report" in ar.outcome("response").source.type
    assert {a: (d.events, d.total) for a, d in ar.outcome("remission").data.items()} == {
        "ketamine": (9, 41), "placebo": (6, 40)}
    lii = BY_ID["lii2023"]
    assert lii.outcome("remission_day1") and lii.outcome("hads_day14") and lii.masking == "triple"
    assert BY_ID["grunebaum2018"].outcome("ssi_reduction_day1").data.estimate == 4.96
    assert BY_ID["karmadep2"].outcome("madrs_adjusted").data.ci == (-8.54, 2.22)
    ab = BY_ID["abbar2022"].outcome("si_remission_day3")
    assert (ab.data.estimate, ab.data.ci, ab.source.type) == (3.7, (1.9, 7.3), ("abstract",))
    kads = BY_ID["kads2023"]
    assert all(o.source.type == ("secondary_report",) for o in kads.outcomes)
    assert "secondary" in kads.notes
    assert BY_ID["glue2020"].allocation == "non_randomized"


# ------------------------------------------------------------------ one question per pool

def _pools():
    """(spec file, meta spec, pooled rows) for every bundled meta-analysis (tables only, no fit)."""
    out = []
    for path in SPECS:
        spec = load_spec(path)
        trials = load_trials(spec.trials, base=spec.base)
        for ms in spec.meta_analyses:
            cc = ms.cc.resolved(ms.method)
            built = build_table(trials, ms, ContinuityCorrection(cc["add"], cc["to"], cc["drop00"]))
            out.append((path.name, ms, built.table.rows))
    return out


POOLS = _pools()


def _control_interventions(row) -> set[str]:
    trial = BY_ID[row.trial]
    if row.comparison is not None:
        arms = row.comparison.control
    else:  # a reported contrast
        ctl = trial.outcome(row.outcome).data.control
        arms = (ctl,) if isinstance(ctl, str) else tuple(ctl)
    return {trial.arm(a).intervention.lower() for a in arms}


def is_ketamine_vs_ketamine(row) -> bool:
    return any("ketamine" in i for i in _control_interventions(row))


def test_krupitsky_is_a_ketamine_vs_ketamine_comparison():
    (row,) = next(rows for _, ms, rows in POOLS if ms.id == "krupitsky_sessions")
    assert row.trial == "krupitsky2007" and is_ketamine_vs_ketamine(row)


@pytest.mark.parametrize("name,ms,rows", POOLS, ids=[f"{n}:{m.id}" for n, m, _ in POOLS])
def test_no_ketamine_vs_ketamine_comparison_in_a_ketamine_vs_control_pool(name, ms, rows):
    from metak.vocab import SINGLE_ARM_MEASURES

    if ms.measure in SINGLE_ARM_MEASURES:  # a pool of arms, not comparisons: no ketamine arm among control arms
        arms = {r.trial: BY_ID[r.trial].arm(r.experimental) for r in rows}
        ket = [t for t, a in arms.items() if "ketamine" in a.intervention.lower()]
        assert not ("control" in (ms.title or "").lower() and ket), f"{name}:{ms.id} pools ketamine arms {ket}"
        assert all(a.role == "control" for a in arms.values()) or "control" not in (ms.title or "").lower()
        return
    kk = [r.trial for r in rows if is_ketamine_vs_ketamine(r)]
    if kk:
        assert len(kk) == len(rows), f"{name}:{ms.id} mixes {kk} (ketamine vs ketamine) with ketamine vs control"
        assert "ketamine vs ketamine" in (ms.title or "").lower(), f"{name}:{ms.id}: say so in the title"


@pytest.mark.parametrize("name,ms,rows", POOLS, ids=[f"{n}:{m.id}" for n, m, _ in POOLS])
def test_no_two_overlapping_records_in_one_pool(name, ms, rows):
    pooled = {r.trial for r in rows}
    for tid in pooled:
        assert not set(BY_ID[tid].overlaps) & pooled, f"{name}:{ms.id} pools {tid} with {BY_ID[tid].overlaps}"


@pytest.mark.parametrize("name,ms,rows", POOLS, ids=[f"{n}:{m.id}" for n, m, _ in POOLS])
def test_each_meta_analysis_states_its_one_question(name, ms, rows):
    assert ms.title and len(ms.title) > 20, f"{name}:{ms.id}: give the meta-analysis a title stating its question"
    assert rows or ms.dropout, f"{name}:{ms.id} pools nothing"
    # "ketamine vs control" alone hid a ketamine-vs-ketamine row before: name the control
    assert "vs control" not in ms.title, f"{name}:{ms.id}: say which control (non-ketamine, midazolam, saline)"


def test_price_and_murrough_are_linked_as_overlapping():
    assert "murrough2013" in BY_ID["price2014"].overlaps and "price2014" in BY_ID["murrough2013"].overlaps


def _overlap_corpus(tmp_path):
    folder = tmp_path / "trials"
    folder.mkdir()
    for tid, other in (("a1", "a2"), ("a2", None)):
        extra = f"overlaps: [{other}]\n" if other else ""
        text = _record(tmp_path, extra_top=extra).read_text().replace("id: t1", f"id: {tid}")
        (folder / f"{tid}.yaml").write_text(text)
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: S\ntrials: trials\nmeta_analyses:\n  - id: x\n    outcome: x\n    measure: OR\n"
                    "    select:\n      condition: [c]\n")
    return spec


def test_the_engine_refuses_to_pool_overlapping_records(tmp_path):
    from metak.pipeline import analyze as run

    spec = _overlap_corpus(tmp_path)
    with pytest.raises(InvalidSpec) as e:
        run(spec, out_dir=tmp_path / "out")
    msg = str(e.value)
    assert "s.yaml:" in msg and "meta_analyses[0].select" in msg and "'a1' and 'a2'" in msg, msg
    spec.write_text(spec.read_text() + "      exclude: {a2: \"overlaps a1\"}\n")
    doc = run(spec, out_dir=tmp_path / "out")
    assert [s["trial"] for s in doc["meta_analyses"][0]["studies"]] == ["a1"]


def test_an_overlaps_link_is_checked(tmp_path):
    f = _record(tmp_path, extra_top="overlaps: [t1]\n")
    _, problems, _ = validate_paths([f])
    assert any("overlaps[0]: a record cannot overlap itself" in str(p) for p in problems), problems
    f = _record(tmp_path, extra_top="overlaps: [nowhere]\n")
    trials, problems, warnings = validate_paths([f])
    assert not problems and any("overlaps: 'nowhere' is not among the loaded trial records" in w for w in warnings)
    f = _record(tmp_path, extra_top="overlaps: [Bad Id]\n")
    with pytest.raises(InvalidRecord):
        load_trials([f])


# ------------------------------------------------------------------ ready for a network

def test_arms_tell_ketamine_midazolam_and_placebo_apart():
    types = {"midazolam": "active_placebo", "saline": "placebo", "placebo": "placebo"}
    for t in TRIALS:
        for a in t.arms:
            if a.role == "control" and a.intervention in types:
                assert a.control_type == types[a.intervention], (t.id, a.id)
            if a.role == "experimental":
                assert "ketamine" in a.intervention, (t.id, a.id)
    assert BY_ID["abbar2022"].arm("saline").intervention == "saline"
    assert BY_ID["grunebaum2018"].arm("midazolam").intervention == "midazolam"
    assert BY_ID["krupitsky2007"].arm("ketamine_1_session").control_type == "active_comparator"


# ------------------------------------------------------------------ every bundled analysis runs

@pytest.mark.slow
@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_each_bundled_analysis_runs(spec, tmp_path):
    from metak.pipeline import analyze as run

    doc = run(spec, out_dir=tmp_path)
    assert all(m["k"] >= 1 for m in doc["meta_analyses"])

"""The bundled trial corpus and analyses: provenance, design facts, committed results not stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import metak
from metak.records import load_trials

ROOT = Path(__file__).resolve().parent.parent
TRIALS = load_trials([ROOT / "trials"])
SPECS = sorted((ROOT / "analyses").glob("*.yaml")) + [ROOT / "docs" / "examples" / "bcg" / "bcg.yaml"]


def committed_folder(spec: Path) -> Path:
    """Bundled analyses write to results/<name>/; a docs example keeps its results beside it."""
    return ROOT / "results" / spec.stem if spec.parent.name == "analyses" else spec.parent / "results"


def test_corpus_holds_every_trial_of_the_data_sheet():
    ids = {t.id for t in TRIALS}
    assert ids >= {"dakwar2019", "dakwar2020", "glue2017", "glue2020", "krupitsky2007", "murrough2013", "feder2021",
                   "grabski2022", "taylor2018", "lii2023", "fava2020", "abdallah2022", "grunebaum2018", "karmadep2"}


@pytest.mark.parametrize("trial", TRIALS, ids=[t.id for t in TRIALS])
def test_provenance_and_sizes(trial):
    for o in trial.outcomes:
        assert o.source.where.strip(), f"{trial.id}:{o.id} has no source"
        if o.source.derived:
            assert o.source.note and len(o.source.note) > 10, f"{trial.id}:{o.id} derived without saying how"
    sizes = [a.randomized for a in trial.arms if a.randomized is not None]
    if trial.randomized_total is not None and len(sizes) == len(trial.arms):
        if trial.design == "crossover":
            assert all(s <= trial.randomized_total for s in sizes)
        else:
            assert sum(sizes) == trial.randomized_total, f"{trial.id}: arms sum to {sum(sizes)}"
    assert trial.sources or any(True for _ in trial.outcomes) or trial.notes, f"{trial.id}: no source for its design"


#: "a/b = p%" (or "a/b (p%)") in a derived note: the fraction must round to the stated percentage
FRACTION = __import__("re").compile(r"(\d+)/(\d+) (?:= |\()(\d+(?:\.\d+)?)%")


@pytest.mark.parametrize("trial", TRIALS, ids=[t.id for t in TRIALS])
def test_derived_numbers_show_their_arithmetic_and_it_holds(trial):
    import re

    for o in trial.outcomes:
        if not o.source.derived:
            continue
        note = o.source.note or ""
        assert re.search(r"\d", note) and re.search(r"[=/×x+-]", note), f"{trial.id}:{o.id}: no arithmetic in the note"
        for a, b, pct in FRACTION.findall(note):
            decimals = len(pct.split(".")[1]) if "." in pct else 0
            assert round(100 * int(a) / int(b), decimals) == float(pct), f"{trial.id}:{o.id}: {a}/{b} is not {pct}%"


def test_the_alcohol_trial_is_in_a_bundled_meta_analysis():
    doc = json.loads((ROOT / "results" / "substance_use" / "results.json").read_text())
    ma = next(m for m in doc["meta_analyses"] if m["id"] == "abstinence")
    row = next(s for s in ma["studies"] if s["trial"] == "dakwar2020")
    assert row["data"] == {"ketamine": {"events": 9, "total": 17}, "midazolam": {"events": 9, "total": 22}}
    assert ma["k"] == 2  # ketamine vs midazolam at the end of treatment: Dakwar 2019 and 2020 (issue 28)
    assert {s["trial"] for s in ma["studies"]} == {"dakwar2019", "dakwar2020"}


def test_design_facts():
    t = {x.id: x for x in TRIALS}
    assert t["glue2017"].allocation == "non_randomized" and t["glue2017"].masking == "none"
    assert t["glue2020"].design == "crossover" and "active_placebo" in t["glue2020"].control_types
    assert "active_placebo" in t["dakwar2019"].control_types and "active_placebo" in t["dakwar2020"].control_types
    assert t["grabski2022"].design == "factorial" and len(t["grabski2022"].arms) == 4
    assert len(t["fava2020"].arms) == 5 and len(t["abdallah2022"].arms) == 3
    ab = t["dakwar2019"].outcome("abstinence")
    assert sorted((d.events, d.total) for d in ab.data.values()) == [(3, 28), (13, 27)]
    assert ab.source.derived


def _compare(a, b):
    """Committed results against a fresh run by verify's own comparison (contract §6.0: one rule
    for both; floating point differs in the last bits across CPUs and builds, anything beyond
    verify's tolerances is stale), and the same trial files (paths and hashes)."""
    from metak.results_json import Report, compare_documents

    assert a["trials"] == b["trials"], "the trial files changed since the results were written"
    assert a["metak_version"] == b["metak_version"]
    rep = compare_documents(a, b, Report())
    assert rep.ok, "; ".join(f"{m.path}: {m.old} -> {m.new}" for m in rep.moved[:20])


def _version(dist):
    from importlib.metadata import version

    return version(dist)


#: committed PNG figures against fresh renders (same tolerance as the plot baselines)
FIGURE_RMS_TOL = 2.0


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_committed_results_are_not_stale(spec, monkeypatch, tmp_path):
    from matplotlib.testing.compare import compare_images

    from metak.report import draw_figures

    committed = committed_folder(spec) / "results.json"
    assert committed.exists(), f"run `metak analyze {spec.relative_to(ROOT)}` and commit {committed.relative_to(ROOT)}"
    monkeypatch.chdir(ROOT)
    fresh = metak.analyze(spec.relative_to(ROOT), out_dir=tmp_path)
    files = draw_figures(fresh, tmp_path / "figures")  # may add figure warnings, as analyze does
    _compare(json.loads(committed.read_text()), json.loads(json.dumps(fresh)))
    folder = committed.parent / "figures"
    assert sorted(p.name for p in folder.iterdir()) == sorted(f.name for f in files), "stale or missing figures"
    for f in files:
        if f.suffix == ".png":
            assert compare_images(str(folder / f.name), str(f), tol=FIGURE_RMS_TOL) is None, f.name
        elif f.suffix == ".pdf":
            # byte for byte: the README's install pins matplotlib and fontTools (the font subsetter),
            # so `metak analyze` on a fresh install leaves the committed PDFs as they are
            assert (folder / f.name).read_bytes() == f.read_bytes(), (
                f"{f.name}: the PDF differs from the committed one (matplotlib {_version('matplotlib')}, "
                f"fontTools {_version('fonttools')}; pyproject's test extra pins the versions it was drawn with)")


@pytest.mark.parametrize("spec", SPECS, ids=[s.stem for s in SPECS])
def test_every_spec_says_what_it_answers(spec):
    import yaml

    doc = yaml.safe_load(spec.read_text())
    assert len(doc.get("description", "")) > 80

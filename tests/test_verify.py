"""``metak verify``: a reviewer's check that every recorded number follows from the recorded
inputs. On a copy of the repository's trials, analyses and committed results: untouched it
exits 0; with one trial number changed it exits 1, naming the file and the numbers that moved;
with a trial file gone, or no results.json, it exits 2 with a clear message."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.cli import main

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture()
def repo(repo_copy):
    return repo_copy("substance_use")


def run(*args):
    return CliRunner().invoke(main, list(args), catch_exceptions=False)


def test_untouched_inputs_verify(repo):
    r = run("verify", str(repo / "results" / "substance_use"))
    assert r.exit_code == 0, r.output
    assert re.search(r"verified: every input file unchanged, \d{3,} values identical", r.output)


def test_a_changed_trial_names_the_file_and_the_numbers_that_moved(repo):
    f = repo / "trials" / "dakwar2019.yaml"
    text = f.read_text()
    assert "events: 13" in text
    f.write_text(text.replace("events: 13", "events: 10", 1))
    old = json.loads((repo / "results" / "substance_use" / "results.json").read_text())
    est = next(m for m in old["meta_analyses"] if m["id"] == "abstinence")["estimate"]
    r = run("verify", str(repo / "results" / "substance_use"))
    assert r.exit_code == 1, r.output
    assert "input changed: trials/dakwar2019.yaml (sha256 " in r.output
    lines = r.output.splitlines()
    # the changed input first, then the headline numbers, the first meta-analysis's estimate among them
    assert lines[0].startswith("input changed: trials/dakwar2019.yaml")
    assert lines[1].startswith("headline numbers that moved (")
    line = next(ln for ln in lines if ln.startswith("  abstinence.estimate: "))
    assert lines.index(line) < next(i for i, ln in enumerate(lines) if ln.startswith("other values that moved"))
    before, after = (float(x) for x in re.match(r"  abstinence\.estimate: (\S+) -> (\S+)$", line).groups())
    assert before == pytest.approx(est, rel=1e-5) and after < before  # fewer ketamine abstinent: smaller OR
    assert "NOT verified: 1 input file(s) changed" in r.output
    # nothing was written next to the results
    assert json.loads((repo / "results" / "substance_use" / "results.json").read_text()) == old


def test_a_missing_trial_file_cannot_verify(repo):
    (repo / "trials" / "krupitsky2007.yaml").unlink()
    r = CliRunner().invoke(main, ["verify", str(repo / "results" / "substance_use")])
    assert r.exit_code == 2
    assert "cannot verify: trials/krupitsky2007.yaml: the recorded input file is missing" in r.stderr
    assert "Traceback" not in r.output + r.stderr


def test_no_results_json_cannot_verify(tmp_path):
    r = CliRunner().invoke(main, ["verify", str(tmp_path)])
    assert r.exit_code == 2 and "no results.json to verify" in r.stderr


def test_every_bundled_results_folder_verifies():
    for d in sorted(p.parent for p in (ROOT / "results").glob("*/results.json")):
        r = run("verify", str(d))
        assert r.exit_code == 0, (d, r.output)


def test_mcmc_summaries_get_the_stated_tolerance_and_nothing_else_does():
    from metak.results_json import MCMC_ABS_TOL, Report, _compare

    old = {"estimate": 1.0, "bayes": {"engine": "mcmc", "mu": {"median": 0.50}}}
    rep = Report()
    _compare(old, {"estimate": 1.0, "bayes": {"engine": "mcmc", "mu": {"median": 0.50 + MCMC_ABS_TOL / 2}}},
             "m", rep, mcmc_paths=("bayes",))
    assert rep.moved == [] and rep.tolerance_used == 1
    _compare(old, {"estimate": 1.0, "bayes": {"engine": "mcmc", "mu": {"median": 0.50 + 2 * MCMC_ABS_TOL}}},
             "m", rep, mcmc_paths=("bayes",))
    assert [m.line() for m in rep.moved] == ["m.bayes.mu.median: 0.5 -> 0.54 (MCMC, beyond the 0.02 tolerance)"]
    rep = Report()
    _compare(old, {"estimate": 1.0 + 1e-8, "bayes": old["bayes"]}, "m", rep, mcmc_paths=("bayes",))
    assert [m.line() for m in rep.moved] == ["m.estimate: 1.0 -> 1.00000001"]  # exact engines: beyond 1e-9 counts
    rep = Report()
    _compare(old, {"estimate": 1.0 + 1e-12, "bayes": old["bayes"]}, "m", rep, mcmc_paths=("bayes",))
    assert rep.moved == [] and rep.within_tolerance == 1  # last-bit noise between CPUs does not


def test_optimised_numbers_get_the_optimiser_tolerance_and_exact_ones_do_not():
    """A selection model's ML estimate (a numerical optimum) moved by 7.6e-9 relative on numpy's
    baseline SIMD: within OPTIMISER_REL_TOL it verifies; the same move of an exact-engine number
    does not, and neither does an optimised number moved beyond 1e-6."""
    from metak.results_json import EXACT_REL_TOL, OPTIMISER_REL_TOL, Report, compare_documents

    def doc(est, sel):
        return {"meta_analyses": [{"id": "d", "estimate": est,
                                   "sensitivity": {"selection_model": {"estimate": sel, "delta": [1.0, sel]}}}]}

    base = doc(-0.5, -0.62)
    assert EXACT_REL_TOL < 7.6e-9 < OPTIMISER_REL_TOL
    assert compare_documents(base, doc(-0.5, -0.62 * (1 + 7.6e-9)), Report()).ok
    assert not compare_documents(base, doc(-0.5, -0.62 * (1 + 1e-5)), Report()).ok
    moved = compare_documents(base, doc(-0.5 * (1 + 7.6e-9), -0.62), Report())
    assert [m.path for m in moved.moved] == ["d.estimate"]

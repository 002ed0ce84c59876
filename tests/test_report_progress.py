"""Feedback on long work: ``metak analyze`` names the stage under way on a terminal (stderr, only
on a TTY; task bars join the same display) and ends by listing the trials it excluded with their
reasons and the files it wrote."""

from __future__ import annotations

import io
import time
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak import progress
from metak.cli import main
from metak.report import excluded_lines, written_lines

ROOT = Path(__file__).resolve().parent.parent


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def restore():
    yield
    progress.set_mode("quiet")


def test_stages_on_a_terminal_with_task_bars_inside(monkeypatch):
    fake = TTY()
    monkeypatch.setattr("sys.stderr", fake)
    progress.set_mode("normal")
    with progress.stages("metak analyze x.yaml"):
        progress.stage("abstinence: fitting (meta-analysis 1 of 2)")
        time.sleep(0.3)  # the display refreshes 10 times a second
        with progress.task("permutations", 3) as advance:  # joins the display: no second live display
            for _ in range(3):
                advance()
        progress.stage("drawing figure 1 of 9: abstinence-forest")
        time.sleep(0.3)
    out = fake.getvalue()
    assert "abstinence: fitting (meta-analysis 1 of 2)" in out and "drawing figure 1 of 9" in out
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    with progress.stages("metak analyze x.yaml"):
        progress.stage("fitting")
    assert plain.getvalue() == ""  # not a terminal: nothing


def test_verbose_lists_each_stage(tmp_path):
    r = CliRunner().invoke(main, ["--verbose", "analyze", str(ROOT / "analyses" / "dropout.yaml"), "--no-figures",
                                  "--out", str(tmp_path / "v")])
    assert r.exit_code == 0, r.output
    assert "reading the trial records" in r.stderr and "dropout: fitting (meta-analysis 1 of" in r.stderr
    assert "dropout: Bayesian model" in r.stderr


def test_analyze_ends_with_the_excluded_trials_and_the_files_written(tmp_path):
    out = tmp_path / "o"
    r = CliRunner().invoke(main, ["analyze", str(ROOT / "analyses" / "dropout.yaml"), "--no-figures",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    lines = r.stdout.splitlines()
    assert f"wrote {out / 'summary.csv'}" in lines and lines[-1] == f"wrote {out / 'results.json'}"
    import json

    doc = json.loads((out / "results.json").read_text(encoding="utf-8"))
    for ma in doc["meta_analyses"]:
        for e in ma["excluded"]:
            if e["reason_code"] != "not_selected":
                assert f"  {e['trial']}: {e['reason']}" in lines


def test_excluded_and_written_lines():
    doc = {"meta_analyses": [
        {"id": "a", "excluded": [{"trial": "t1", "reason": "no outcome 'x'", "reason_code": "no_data"},
                                 {"trial": "t2", "reason": "left out by select", "reason_code": "not_selected"}]},
        {"id": "b", "excluded": []}]}
    assert excluded_lines(doc) == ["a: 1 trial(s) excluded (1 more not selected by the spec)", "  t1: no outcome 'x'"]
    assert written_lines(Path("o"), ["summary.csv", "figures/a-forest.png", "figures/a-forest.pdf"]) == [
        f"wrote {Path('o') / 'summary.csv'}", f"wrote 2 figure file(s) (pdf, png) in {Path('o') / 'figures'}"]

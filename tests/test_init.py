"""``metak init``: the scaffold validates, runs with ``metak analyze`` and verifies; an existing
non-empty folder is refused and left as it was."""

from __future__ import annotations

import os

from click.testing import CliRunner

from metak.cli import main


def test_init_scaffold_validates_runs_and_verifies(tmp_path):
    target = tmp_path / "review"
    r = CliRunner().invoke(main, ["init", str(target)])
    assert r.exit_code == 0, r.output
    assert (target / "trials" / "example2024.yaml").is_file() and (target / "analyses" / "example.yaml").is_file()
    cwd = os.getcwd()
    try:
        os.chdir(target)
        v = CliRunner().invoke(main, ["validate", "trials/"])
        assert v.exit_code == 0 and "2 trial record(s) valid." in v.output, v.output
        a = CliRunner().invoke(main, ["analyze", "analyses/example.yaml"])
        assert a.exit_code == 0, a.output
        assert (target / "results" / "example" / "results.json").is_file()
        assert (target / "results" / "example" / "figures" / "response-forest.png").is_file()
        ver = CliRunner().invoke(main, ["verify", "results/example"])
        assert ver.exit_code == 0, ver.output
    finally:
        os.chdir(cwd)


def test_init_refuses_a_folder_with_files(tmp_path):
    (tmp_path / "keep.txt").write_text("mine")
    r = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert r.exit_code == 1 and "nothing is overwritten" in r.stderr
    assert sorted(p.name for p in tmp_path.iterdir()) == ["keep.txt"]

"""Progress: silent unless stderr is a terminal and the user did not ask for --quiet; rich bars
on stderr otherwise; --verbose lines; --quiet drops the tables."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak import progress
from metak.cli import main

ROOT = Path(__file__).resolve().parent.parent


class TTY(io.StringIO):
    def isatty(self):
        return True


@pytest.fixture(autouse=True)
def restore():
    yield
    progress.set_mode("quiet")


def test_bars_on_a_terminal_only(monkeypatch):
    fake = TTY()
    monkeypatch.setattr("sys.stderr", fake)
    progress.set_mode("normal")
    with progress.task("permutation test", 5) as advance:
        for _ in range(5):
            advance()
    assert "permutation test" in fake.getvalue()
    plain = io.StringIO()
    monkeypatch.setattr("sys.stderr", plain)
    with progress.task("permutation test", 5) as advance:
        advance()
    assert plain.getvalue() == ""           # not a TTY: nothing
    monkeypatch.setattr("sys.stderr", fake)
    fake.truncate(0)
    fake.seek(0)
    progress.set_mode("quiet")
    with progress.task("permutation test", 5) as advance:
        advance()
    assert fake.getvalue() == ""            # --quiet: nothing


def test_the_library_is_silent_by_default(monkeypatch):
    fake = TTY()
    monkeypatch.setattr("sys.stderr", fake)
    import metak

    metak.analyze(ROOT / "docs" / "examples" / "bcg" / "bcg.yaml")
    assert fake.getvalue() == ""


def test_quiet_and_verbose_flags(tmp_path):
    spec = str(ROOT / "analyses" / "dropout.yaml")
    r = CliRunner().invoke(main, ["--quiet", "analyze", spec, "--out", str(tmp_path / "q")])
    assert r.exit_code == 0 and r.stdout.strip() == f"wrote {tmp_path / 'q' / 'results.json'}" and r.stderr == ""
    r = CliRunner().invoke(main, ["--verbose", "analyze", spec, "--out", str(tmp_path / "v")])
    assert r.exit_code == 0, r.output
    assert "meta-analyses: done in" in r.stderr and ": k = " in r.stderr, r.stderr
    r = CliRunner().invoke(main, ["-q", "-v", "analyze", spec])
    assert r.exit_code == 2 and "contradict" in r.stderr


def test_cite_prints_metak_and_the_methods():
    r = CliRunner().invoke(main, ["--cite"])
    assert r.exit_code == 0 and "@software{metak" in r.stdout
    assert "[dl1986] DerSimonian R, Laird N." in r.stdout and "[hk2001] Hartung J, Knapp G." in r.stdout

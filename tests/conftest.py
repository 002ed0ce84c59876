import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def metak_cmd():
    """The installed console script, run as a user runs it."""
    exe = shutil.which("metak", path=str(Path(sys.executable).parent)) or shutil.which("metak")
    assert exe, "the metak console script is not installed"
    return exe


@pytest.fixture
def repo_copy(tmp_path):
    """A copy of the repository's trials and analyses with the committed results of the named
    analyses, as a reviewer's clone holds them: ``repo_copy("dropout")`` -> the folder."""

    def make(*analyses):
        for d in ("trials", "analyses"):
            shutil.copytree(ROOT / d, tmp_path / d)
        for name in analyses:
            shutil.copytree(ROOT / "results" / name, tmp_path / "results" / name)
        return tmp_path

    return make

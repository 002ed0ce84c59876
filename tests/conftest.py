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

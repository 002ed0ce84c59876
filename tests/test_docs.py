"""The tutorial shows what the commands print: its table line is the bundled analysis's, its
Python block runs, and the number it quotes for verify is the recorded estimate."""

from __future__ import annotations

import json
import math
import os
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TUTORIAL = (ROOT / "docs" / "tutorial.md").read_text(encoding="utf-8")


def test_the_tutorial_table_line_is_what_analyze_prints():
    from metak.report import terminal_table

    doc = json.loads((ROOT / "results" / "substance_use" / "results.json").read_text())
    line = re.search(r"```text\n(abstinence .*)\n```", TUTORIAL).group(1)
    assert line in terminal_table(doc).splitlines()
    ma = doc["meta_analyses"][0]
    assert f"a pooled odds ratio of {math.exp(ma['estimate']):.2f} with a 95% CI of {math.exp(ma['ci_lower']):.2f}" in TUTORIAL
    assert f"I² = {ma['i2']:.1f}%" in TUTORIAL and f"k = {ma['k']} trials" in TUTORIAL
    assert f"abstinence.estimate: {ma['estimate']:.6g} -> ..." in TUTORIAL


def test_the_tutorial_python_block_runs():
    code = re.search(r"```python\n(.*?)```", TUTORIAL, re.S).group(1)
    cwd = os.getcwd()
    try:
        os.chdir(ROOT)
        exec(compile(code, "tutorial.md", "exec"), {})
    finally:
        os.chdir(cwd)


def test_the_api_page_names_objects_that_exist():
    import importlib

    api = (ROOT / "docs" / "api.md").read_text(encoding="utf-8")
    for target in re.findall(r"^::: (\S+)$", api, re.M):
        mod, _, name = target.rpartition(".")
        try:
            importlib.import_module(target)
        except ModuleNotFoundError:
            assert hasattr(importlib.import_module(mod), name), target

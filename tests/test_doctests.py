"""The examples in metak's docstrings run and print what they say (doctest), from the
installed package, as users import it."""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import metak

MODULES = sorted(m.name for m in pkgutil.walk_packages(metak.__path__, "metak.")
                 if not m.name.endswith("__main__"))


@pytest.mark.parametrize("name", MODULES)
def test_docstring_examples(name):
    module = importlib.import_module(name)
    result = doctest.testmod(module, optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE)
    assert result.failed == 0, f"{result.failed} of {result.attempted} examples in {name} failed"


def test_there_are_examples():
    attempted = sum(doctest.testmod(importlib.import_module(n)).attempted for n in MODULES)
    assert attempted >= 5

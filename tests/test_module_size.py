"""Modules stay under ~400 lines (issue 24): a module holds one concept, named for it. A
module that grows past the limit is split by meaning (see docs/development.md), never by
moving its tail into ``<name>_2.py``."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "metak"
LIMIT = 400

#: Modules allowed over the limit, each with its reason: none.
ALLOWED_OVER: dict[str, str] = {}


def _sizes() -> dict[str, int]:
    return {p.relative_to(PKG).as_posix(): len(p.read_text().splitlines()) for p in sorted(PKG.rglob("*.py"))}


def test_every_module_is_under_the_limit():
    over = {name: n for name, n in _sizes().items() if n > LIMIT and name not in ALLOWED_OVER}
    assert not over, f"modules over {LIMIT} lines (split them by meaning): {over}"


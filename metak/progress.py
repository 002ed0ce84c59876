"""Progress on long work — many meta-analyses, permutation tests, MCMC sampling — drawn by
rich on the terminal (stderr), and silent when stderr is not a TTY or the user asked for
``--quiet``. ``--verbose`` adds a line per finished step with its time.

Only the CLI sets the mode; the library itself is silent by default (``quiet``), so that
``metak.analyze`` in a script or notebook prints nothing."""

from __future__ import annotations

import sys
import time
from contextlib import contextmanager

_MODE = {"mode": "quiet"}


def set_mode(mode: str) -> None:
    """``quiet`` (nothing), ``normal`` (bars on a TTY) or ``verbose`` (bars and step lines)."""
    if mode not in ("quiet", "normal", "verbose"):
        raise ValueError(f"progress mode must be quiet, normal or verbose, not {mode!r}")
    _MODE["mode"] = mode


def mode() -> str:
    return _MODE["mode"]


def bars_enabled() -> bool:
    return _MODE["mode"] != "quiet" and sys.stderr.isatty()


def note(message: str) -> None:
    """A line on stderr in verbose mode only."""
    if _MODE["mode"] == "verbose":
        print(message, file=sys.stderr, flush=True)


@contextmanager
def task(description: str, total: int | None):
    """``with task("permutations", 1000) as advance: ... advance()``; a no-op when silent."""
    start = time.perf_counter()
    if not bars_enabled() or not total or total < 2:
        yield lambda n=1: None
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(file=sys.stderr, force_terminal=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True, console=console) as bar:
            tid = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(tid, n)
    note(f"{description}: done in {time.perf_counter() - start:.2f} s")

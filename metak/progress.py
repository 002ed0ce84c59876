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


#: the one live display of a long command (``stages``), which ``task`` bars join
_LIVE: dict = {"bar": None, "stage": None}


@contextmanager
def stages(description: str):
    """A status line on a terminal (stderr) for a long command, e.g. ``metak analyze``:
    ``stage(text)`` names the step under way (reading records, fitting, each sensitivity
    analysis, each figure) and :func:`task` bars appear under it. Silent when stderr is not a
    TTY or with --quiet; a no-op inside another ``stages``."""
    if not bars_enabled() or _LIVE["bar"] is not None:
        yield
        return
    from rich.console import Console
    from rich.progress import Progress, SpinnerColumn, TextColumn, TimeElapsedColumn

    console = Console(file=sys.stderr, force_terminal=True)
    with Progress(SpinnerColumn(), TextColumn("{task.description}"), TimeElapsedColumn(), transient=True,
                  console=console) as bar:
        _LIVE.update(bar=bar, stage=bar.add_task(description, total=None))
        try:
            yield
        finally:
            _LIVE.update(bar=None, stage=None)


def stage(text: str) -> None:
    """Name the step under way on the status line of :func:`stages` (nothing when none is
    shown); in verbose mode also a line on stderr."""
    note(f"  {text}")
    if _LIVE["bar"] is not None:
        _LIVE["bar"].update(_LIVE["stage"], description=text)


@contextmanager
def task(description: str, total: int | None):
    """``with task("permutations", 1000) as advance: ... advance()``; a no-op when silent."""
    start = time.perf_counter()
    if not bars_enabled() or not total or total < 2:
        yield lambda n=1: None
    elif _LIVE["bar"] is not None:  # a bar under the command's status line (one live display only)
        bar = _LIVE["bar"]
        tid = bar.add_task(description, total=total)
        try:
            yield lambda n=1: bar.advance(tid, n)
        finally:
            bar.remove_task(tid)
    else:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

        console = Console(file=sys.stderr, force_terminal=True)
        with Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
                      transient=True, console=console) as bar:
            tid = bar.add_task(description, total=total)
            yield lambda n=1: bar.advance(tid, n)
    note(f"{description}: done in {time.perf_counter() - start:.2f} s")

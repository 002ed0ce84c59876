"""All-or-nothing writes into an output folder, and what an interrupt did.

Every command that writes into ``--out`` (analyze, report, plot, simulate, batch) hands its
files to :func:`commit`:

1. each file is written into ``OUT/.metak-incoming/`` (on the same filesystem as ``OUT``, so a
   full disk or an interrupt is met here, while ``OUT`` is still untouched; the staging folder
   is then removed and nothing was written);
2. a journal listing the files to move is written into the staging folder;
3. with SIGINT and SIGTERM held back, each file is moved into place by ``os.replace`` (a
   rename: no space is needed, and 20 files take well under a millisecond), then the journal
   and the staging folder are removed, and only then are the held signals delivered.

Only a hard kill (SIGKILL, power loss) can stop step 3 half way. The journal then remains:
:func:`pending_write` says so (``metak verify`` refuses such a folder) and the next
:func:`commit` into the folder completes the interrupted moves before it starts its own.

A file whose bytes are already in place is not rewritten, and ``keep`` may declare other
files equivalent (results.json whose every number agrees within verify's tolerances): a run
on another CPU, whose numbers differ only in the last bits, leaves the committed results as
they are (``git status`` stays clean).
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import threading
from pathlib import Path

INCOMING = ".metak-incoming"
JOURNAL = "MOVING.json"

#: the folders a commit completed in this process (the CLI's interrupt message reads it)
completed: list[Path] = []


def pending_write(folder) -> str | None:
    """A sentence if an interrupted commit left ``folder`` half moved, else None."""
    if (Path(folder) / INCOMING / JOURNAL).is_file():
        return ("an earlier write into this folder was stopped while its files were being moved into place "
                f"({INCOMING}/{JOURNAL} remains); run the command that wrote it again to complete it")
    return None


def _finish(out: Path) -> None:
    """Complete an interrupted commit (roll forward), or drop an unfinished staging folder."""
    inc = out / INCOMING
    if not inc.exists():
        return
    journal = inc / JOURNAL
    if journal.is_file():
        try:
            names = json.loads(journal.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            names = []
        for rel in names:
            src = inc / rel
            if src.is_file():
                (out / rel).parent.mkdir(parents=True, exist_ok=True)
                os.replace(src, out / rel)
    shutil.rmtree(inc, ignore_errors=True)


@contextlib.contextmanager
def signals_held():
    """SIGINT and SIGTERM that arrive inside the block are delivered after it, to the handlers
    that were in place (Python-level handlers: a process-directed signal may be taken by any
    thread, so masking the main thread alone would not hold it). Outside the main thread
    signals cannot be handled in Python, and the block runs as it is."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pending = []

    def defer(signum, _frame):
        pending.append(signum)

    saved = {s: signal.signal(s, defer) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        yield
    finally:
        for s, handler in saved.items():
            signal.signal(s, handler)
        if pending:
            signal.raise_signal(pending[0])


def commit(out: Path, files: dict, *, keep=None) -> list[Path]:
    """Write ``files`` (relative name -> bytes, or a path to copy) into ``out``, all or nothing.

    ``keep(rel, old_bytes, new_bytes)`` may return True to leave an existing file in place.
    Returns the paths of ``out`` that now hold the files (written or kept). Raises OSError
    (with ``out`` unchanged) when a file cannot be staged.
    """
    out = Path(out)
    created = not out.exists()
    out.mkdir(parents=True, exist_ok=True)
    _finish(out)
    inc = out / INCOMING
    moves, made = [], []
    try:
        inc.mkdir()
        for rel, src in files.items():
            rel = Path(rel)
            if rel.is_absolute() or ".." in rel.parts or not rel.parts:
                raise ValueError(f"{rel}: an output name must stay inside the output folder")
            staged = inc / rel
            staged.parent.mkdir(parents=True, exist_ok=True)
            data = src if isinstance(src, bytes) else Path(src).read_bytes()
            target = out / rel
            if target.is_file() and not target.is_symlink():
                old = target.read_bytes()
                if old == data or (keep is not None and keep(str(rel), old, data)):
                    continue
            staged.write_bytes(data)
            moves.append(rel)
        for rel in moves:  # the folders the moves need, made before the journal (and removed on failure)
            for d in reversed([p for p in (out / rel).parents if p != out and out in p.parents]):
                if not d.exists():
                    d.mkdir()
                    made.append(d)
        (inc / JOURNAL).write_text(json.dumps([str(r) for r in moves]), encoding="utf-8")
    except BaseException:
        shutil.rmtree(inc, ignore_errors=True)
        for d in reversed(made):
            with contextlib.suppress(OSError):
                d.rmdir()
        if created:
            with contextlib.suppress(OSError):
                out.rmdir()
        raise
    with signals_held():
        for rel in moves:
            os.replace(inc / rel, out / rel)
        shutil.rmtree(inc, ignore_errors=True)
        completed.append(out)
    return [out / Path(rel) for rel in files]


def write(out: Path, files: dict, *, keep=None) -> list[Path]:
    """:func:`commit`, with a file system error (a full disk, no permission) turned into the
    MetakError every command prints: ``cannot write to OUT: ...; nothing was written``."""
    from .errors import MetakError

    try:
        return commit(out, files, keep=keep)
    except OSError as exc:
        raise MetakError(f"cannot write to {out}: {exc.strerror or exc}; nothing was written") from exc

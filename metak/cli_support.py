"""What the ``metak`` commands share: printing a list of problems, and refusing an output
folder that cannot be one before any work is done."""

from __future__ import annotations

import click


def _print_problems(problems) -> None:
    for p in problems:
        click.echo(str(p), err=True)


def _check_out(out):
    """Refuse an output folder that cannot be one, before any work is done."""
    import os

    from .errors import MetakError

    for parent in [out, *out.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise MetakError(f"--out {out}: {parent} is a file, not a folder")
            if not os.access(parent, os.W_OK):
                raise MetakError(f"--out {out}: {parent} is not writable")
            return

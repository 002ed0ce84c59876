"""``metak init DIR``: scaffold a new review that validates and runs as it is.

The example record and spec are marked as examples: their numbers are made up, to be replaced
by published ones (every number with its ``source.where``)."""

from __future__ import annotations

from pathlib import Path

TRIAL = """\
metak: 1
id: example2024
label: "Example 2024"
title: "EXAMPLE record: replace every value with the trial's published numbers"
citation:
  authors: [Example]
  year: 2024
condition: example condition
design: parallel
allocation: randomized
randomized_total: 60
blinding:
  masking: double
arms:
  - id: drug
    label: "Drug"
    role: experimental
    intervention: drug
    randomized: 30
  - id: placebo
    label: "Placebo"
    role: control
    control_type: placebo
    intervention: placebo
    randomized: 30
outcomes:
  - id: response
    label: "Response"
    type: binary
    direction: higher_is_better
    data:
      drug:    {events: 12, total: 28, missing: 2}
      placebo: {events: 6,  total: 27, missing: 3}
    source:
      where: "EXAMPLE: made-up numbers; give the table or page they come from"
notes: >-
  A scaffold written by metak init. Its numbers are invented for the example: replace them,
  or delete this file, before the review is run for real.
"""

TRIAL2 = TRIAL.replace("example2024", "example2025").replace("Example 2024", "Example 2025").replace(
    "year: 2024", "year: 2025").replace("{events: 12, total: 28, missing: 2}", "{events: 15, total: 29, missing: 1}").replace(
    "{events: 6,  total: 27, missing: 3}", "{events: 9,  total: 30, missing: 0}")

SPEC = """\
metak: 1
title: "Example review: drug vs placebo, response"
description: >-
  A scaffold written by metak init: two EXAMPLE trial records with made-up numbers. Replace
  them with real records (one YAML file per trial under trials/), then run
  `metak analyze analyses/example.yaml`.
trials: ../trials
defaults:
  method: REML
  test: hksj
meta_analyses:
  - id: response
    outcome: response
    measure: RR
    sensitivity:
      - leave_one_out
      - missing_outcome
    figures: [forest]
"""

README = """\
# A metak review

- `trials/`: one YAML record per trial (see the trial-record reference in metak's docs).
- `analyses/`: analysis specs.

    metak validate trials/
    metak analyze analyses/example.yaml      # writes results/example/
    metak verify results/example             # re-runs it and checks every number

The two example records hold made-up numbers: replace them with published ones.
"""


def scaffold(target) -> list[Path]:
    """Write the scaffold into ``target`` (created; must be absent or empty). Returns the files."""
    import contextlib
    import os

    from .errors import MetakError

    target = Path(target)
    try:
        if target.is_symlink() and not target.exists():
            raise MetakError(f"{target}: a symbolic link to {os.readlink(target)}, which does not exist; metak init "
                             "writes only into a new or an existing empty folder")
        if target.exists() and (not target.is_dir() or any(target.iterdir())):
            raise MetakError(f"{target}: exists and is not an empty folder; metak init writes only into a new or "
                             "empty one, so nothing is overwritten")
    except OSError as exc:
        raise MetakError(f"{target}: cannot be read: {exc.strerror or exc}") from None
    files = {target / "trials" / "example2024.yaml": TRIAL, target / "trials" / "example2025.yaml": TRIAL2,
             target / "analyses" / "example.yaml": SPEC, target / "README.md": README}
    made: list[Path] = []  # folders and files written here, removed again when a write fails
    try:
        for path, text in files.items():
            for d in reversed([path.parent, *path.parent.parents]):
                if not d.exists():
                    d.mkdir()
                    made.append(d)
            made.append(path)
            path.write_text(text, encoding="utf-8")
    except OSError as exc:  # a read-only or full disk: leave the folder as it was
        for p in reversed(made):
            with contextlib.suppress(OSError):
                if p in files:
                    p.unlink(missing_ok=True)
                else:
                    p.rmdir()
        raise MetakError(f"cannot write to {target}: {exc.strerror or exc}; nothing was written") from None
    return list(files)

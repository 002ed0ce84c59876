"""Trial records: loading YAML with line numbers, validation, frozen dataclasses."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from ..errors import InvalidRecord, Problem
from .model import (  # noqa: F401  (re-exported)
    Arm, BinaryArmData, Blinding, Citation, ContinuousArmData, ContrastData, Dose, GuessRow,
    Outcome, Source, Trial,
)
from .parse import load_trial, parse_trial  # noqa: F401

YAML_SUFFIXES = (".yaml", ".yml")


def expand_paths(paths, base: Path | None = None) -> tuple[list[Path], list[Problem]]:
    """Files named by ``paths``: files as given, folders' *.yaml/*.yml files, globs.

    Relative paths are taken relative to ``base`` (default: the working directory). The
    result is sorted within each folder or glob so that runs are reproducible.
    """
    out: list[Path] = []
    problems: list[Problem] = []
    if isinstance(paths, (str, os.PathLike)):
        paths = [paths]
    from ..errors import MetakError

    if isinstance(paths, dict) or hasattr(paths, "columns") or not all(isinstance(p, (str, os.PathLike)) for p in paths):
        raise MetakError("trial records are read from paths: a file, a folder or a glob, or a list of them "
                         f"(got {type(paths).__name__})")
    for raw in paths:
        p = Path(raw)
        if base is not None and not p.is_absolute():
            p = base / p
        if p.is_dir():
            found = sorted(f for f in p.iterdir() if f.suffix in YAML_SUFFIXES and f.is_file())
            if not found:
                problems.append(Problem(str(raw), None, "", "folder holds no .yaml trial files"))
            out.extend(found)
        elif p.is_file():
            out.append(p)
        elif any(ch in str(raw) for ch in "*?["):
            found = sorted(Path(f) for f in glob.glob(str(p)) if Path(f).suffix in YAML_SUFFIXES)
            if not found:
                problems.append(Problem(str(raw), None, "", "pattern matches no .yaml files"))
            out.extend(found)
        else:
            problems.append(Problem(str(raw), None, "", "no such file or folder"))
    seen = set()
    unique = []
    for f in out:
        key = f.resolve()
        if key not in seen:
            seen.add(key)
            unique.append(f)
    return unique, problems


def display_path(path: Path) -> str:
    """The path as the user gave it; an absolute path inside the working directory is shortened."""
    if path.is_absolute():
        try:
            return str(path.relative_to(Path.cwd()))
        except ValueError:
            return str(path)
    return str(path)


def validate_paths(paths, base: Path | None = None):
    """Load every trial file named; return (trials, problems, warnings) without raising."""
    files, problems = expand_paths(paths, base)
    trials: list[Trial] = []
    warnings: list[str] = []
    first_seen: dict = {}
    for f in files:
        name = display_path(f)
        trial, probs, warns = load_trial(f, name)
        problems.extend(probs)
        warnings.extend(warns)
        if trial is None:
            continue
        if trial.id in first_seen:
            problems.append(Problem(name, 1, "id", f"duplicate trial id '{trial.id}' (also in {first_seen[trial.id]})"))
            continue
        first_seen[trial.id] = name
        trials.append(trial)
    for t in trials:  # a link to a record not loaded here may be a typo, or a file not named
        warnings.extend(f"{first_seen[t.id]}: overlaps: '{o}' is not among the loaded trial records"
                        for o in t.overlaps if o not in first_seen)
    return trials, problems, warnings


def load_trials(paths, base: Path | None = None) -> list[Trial]:
    """Load and validate trial records; raise :class:`InvalidRecord` listing every problem."""
    trials, problems, _ = validate_paths(paths, base)
    if problems:
        raise InvalidRecord(problems)
    return trials

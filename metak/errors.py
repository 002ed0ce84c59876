"""Domain errors and warnings, in one place.

Every problem with user input is reported as a :class:`Problem` naming the file, the line
and the key path, e.g. ``trials/x.yaml:14: outcomes[0].data.ctl.events: 25 is more than
total 20``.  Code deep inside a parser that does not know the file or line raises
:class:`SpecValueError` with a key path relative to the block it parses; the loader that
called it adds the file and line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Problem:
    """One problem found in an input file."""

    file: str
    line: int | None
    path: str
    message: str

    def __str__(self) -> str:
        where = self.file if self.line is None else f"{self.file}:{self.line}"
        if self.path:
            return f"{where}: {self.path}: {self.message}"
        return f"{where}: {self.message}"


class MetakError(Exception):
    """Base class of every error metak raises on purpose."""


class InvalidInput(MetakError):
    """An input file (trial record or analysis spec) has one or more problems."""

    def __init__(self, problems: list[Problem]):
        self.problems = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))


class InvalidRecord(InvalidInput):
    """A trial record failed validation."""


class InvalidSpec(InvalidInput):
    """An analysis spec failed validation."""


class SpecValueError(MetakError):
    """A value inside a block is wrong; ``path`` is relative to that block.

    ``path`` is a tuple of keys and list indices, e.g. ``("prior", "tau", "sigma")``.
    """

    def __init__(self, path: tuple = (), message: str = ""):
        self.path = tuple(path)
        self.message = message
        super().__init__(f"{format_path(self.path)}: {message}" if self.path else message)


class SpecValueErrors(MetakError):
    """Several :class:`SpecValueError` found in one block (each with its own path)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("; ".join(str(p) for p in self.problems))


class AnalysisError(MetakError):
    """An analysis could not be run with the data and settings given (not a file syntax problem)."""


class ConvergenceWarning(UserWarning):
    """An iterative estimator did not converge; the result may be inaccurate."""


def format_path(path) -> str:
    """``("outcomes", 0, "data", "ctl")`` -> ``outcomes[0].data.ctl``."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out

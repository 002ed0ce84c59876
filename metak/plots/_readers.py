"""Figure readers of the parts of records that the records leave untyped: the measure of a row
entered as a reported effect (``StudyRow.data`` is the trial record's own dict) and the Bayes
block's shrunken estimates (``BayesRecord.shrunken`` is a bare tuple), for the forest figures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from metak.schema.record import from_dict



def reported_measure(row) -> str | None:
    """The measure of a row entered as a reported effect (``data`` holds an estimate, no arm
    counts), else None. ``data`` is a bare dict in StudyRow (its keys depend on the outcome type)."""
    d = row.data
    if isinstance(d, Mapping) and "estimate" in d:
        return str(d.get("measure") or "effect")
    return None


@dataclass(frozen=True)
class Shrunken:
    """One element of ``bayes.shrunken`` (BayesRecord types it as a bare tuple)."""

    label: str | None
    mean: float | None
    sd: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None


def shrunken(b, where: str = "") -> list:
    """``bayes.shrunken`` of a BayesRecord as :class:`Shrunken` records; an entry that does not fit
    is a :class:`~metak.typed.ResultsMismatch` naming it, as for every record."""
    from metak.typed import ResultsMismatch

    try:
        return [from_dict(Shrunken, x, f"{where}bayes.shrunken[{j}]") for j, x in enumerate(b.shrunken or ())]
    except TypeError as exc:
        raise ResultsMismatch(f"{exc} (this results.json does not match the records of this metak version)") from None

"""A meta-regression's design matrix from the effect table's covariates.

Numeric moderators enter as they are; text and true/false moderators are dummy-coded
against their first level in sorted order (as R's ``factor`` does), and their coefficients
are named ``"allocation=systematic"``. Rows without a value for some moderator are left out,
each with its reason. A moderator that is constant over the rows that remain, or more
coefficients than rows, is an error that says so (never a singular-matrix traceback).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..errors import MetakError
from .table import EffectTable


@dataclass(frozen=True)
class Design:
    X: np.ndarray
    names: tuple[str, ...]
    #: which rows of the table the matrix covers
    keep: np.ndarray
    #: (trial, label, reason) of the rows left out
    excluded: tuple = ()
    #: moderator -> "continuous" | "categorical"
    kinds: tuple = ()
    #: for categorical moderators: (moderator, levels in order, first = reference)
    levels: tuple = ()


def _is_number(v) -> bool:
    return isinstance(v, (int, float, np.integer, np.floating)) and not isinstance(v, (bool, np.bool_))


def level_text(v) -> str:
    """A categorical value as its level is named: true/false for booleans, else the text."""
    if isinstance(v, (bool, np.bool_)):
        return "true" if v else "false"
    return str(v)


def design_matrix(table: EffectTable, moderators, *, intercept: bool = True) -> Design:
    """X (k' x p) with an intercept column and one column per numeric moderator or level."""
    moderators = tuple(moderators)
    cols = {m: table.column(m) for m in moderators}
    keep = np.ones(table.k, bool)
    excluded = []
    for i, r in enumerate(table.rows):
        missing = [m for m in moderators if cols[m][i] is None]
        if missing:
            keep[i] = False
            excluded.append((r.trial, r.label, f"moderator {', '.join(repr(m) for m in missing)} not recorded for "
                                               f"this trial; left out of the meta-regression"))
    k = int(keep.sum())
    columns = [np.ones(k)] if intercept else []
    names = ["intercept"] if intercept else []
    kinds, levels = [], []
    for m in moderators:
        values = [v for v, ok in zip(cols[m], keep) if ok]
        if not values:
            raise MetakError(f"moderator '{m}' is recorded for none of the {table.k} studies")
        numeric = [_is_number(v) for v in values]
        if all(numeric):
            x = np.array(values, dtype=float)
            if np.ptp(x) == 0:
                raise MetakError(f"moderator '{m}' is constant ({values[0]}) across the {k} studies that record it: "
                                 "its effect cannot be estimated")
            columns.append(x)
            names.append(m)
            kinds.append((m, "continuous"))
            continue
        if any(numeric):
            raise MetakError(f"moderator '{m}' mixes numbers and text across trials "
                             f"({', '.join(sorted({level_text(v) for v in values}))}); make them one kind")
        labels = [level_text(v) for v in values]
        lv = sorted(set(labels))
        if len(lv) < 2:
            raise MetakError(f"moderator '{m}' has one value ('{lv[0]}') across the {k} studies that record it: "
                             "its effect cannot be estimated")
        for level in lv[1:]:
            columns.append(np.array([lab == level for lab in labels], dtype=float))
            names.append(f"{m}={level}")
        kinds.append((m, "categorical"))
        levels.append((m, tuple(lv)))
    X = np.column_stack(columns) if columns else np.zeros((k, 0))
    if k <= X.shape[1]:
        raise MetakError(f"{X.shape[1]} coefficient(s) ({', '.join(names)}) but only {k} stud(y/ies) with every "
                         "moderator recorded: a meta-regression needs more studies than coefficients")
    return Design(X, tuple(names), keep, tuple(excluded), tuple(kinds), tuple(levels))

"""The effect table: one row per comparison entering a meta-analysis.

Every analysis is "transform an effect table, fit it with a model, report a record": the
table is frozen, and :meth:`EffectTable.subset`, :meth:`EffectTable.replace` and
:meth:`EffectTable.harmonise` return new tables. A row keeps what later analyses need:
yi and vi, the 2x2 table or arm summaries, the number of participants, the compared arms
and per-row covariates (trial characteristics and fields such as year, design, masking,
control_type, dose) from which :func:`metak.effects.design.design_matrix` builds X.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from dataclasses import replace as _replace

import numpy as np

from ..errors import MetakError
from ..vocab import LOG_MEASURES


@dataclass(frozen=True)
class Effect:
    """One comparison: its effect size, variance and what it was computed from."""

    trial: str
    label: str
    experimental: str
    control: str
    yi: float
    vi: float
    #: arm id -> arm data as results.json writes it, or the reported contrast
    data: Mapping
    #: (ai, bi, ci, di) for binary arm data, else None
    table: tuple | None = None
    n: float | None = None
    control_type: str | None = None
    direction: str = "higher_is_better"
    outcome: str | None = None
    #: how many comparisons share this row's control group (multi_arm: split_control)
    split_control: int = 1
    #: how the trial's design was handled (v2): crossover "paired" | "first_period" | "rho" |
    #: "parallel"; cluster "design_effect" | "adjusted" | "unadjusted"; factorial "margin"; else None
    design_method: str | None = None
    #: what was done, in words (for the warnings and results.json)
    design_note: str | None = None
    #: (v2) the effect was converted from another measure (mix_measures: chinn2000), in words
    measure_conversion: str | None = None
    #: name -> value: the trial's characteristics and fields usable as moderators
    covariates: Mapping = field(default_factory=dict)
    #: the validated record and comparison this row came from (for blinding data etc.)
    record: object = field(default=None, repr=False, compare=False)
    comparison: object = field(default=None, repr=False, compare=False)


@dataclass(frozen=True)
class EffectTable:
    """A frozen table of effects of one measure (yi experimental minus control, analysis scale)."""

    measure: str
    rows: tuple[Effect, ...] = ()
    direction: str = "higher_is_better"

    @classmethod
    def from_arrays(cls, yi, vi, measure: str = "OR", labels=None) -> EffectTable:
        """A table of bare effect sizes (no arm data): study i is trial ``s{i}`` unless
        ``labels`` names them. For the estimators and diagnostics on given yi/vi."""
        labels = list(labels) if labels is not None else [f"s{i}" for i in range(len(yi))]
        return cls(measure, tuple(Effect(lab, lab, "e", "c", float(y), float(v), {})
                                  for lab, y, v in zip(labels, yi, vi)))

    # --- columns -------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.rows)

    @property
    def k(self) -> int:
        return len(self.rows)

    @property
    def yi(self) -> np.ndarray:
        return np.array([r.yi for r in self.rows], dtype=float)

    @property
    def vi(self) -> np.ndarray:
        return np.array([r.vi for r in self.rows], dtype=float)

    @property
    def labels(self) -> tuple[str, ...]:
        return tuple(r.label for r in self.rows)

    @property
    def trials(self) -> tuple[str, ...]:
        return tuple(r.trial for r in self.rows)

    @property
    def tables(self) -> np.ndarray | None:
        """(k, 4) array of ai, bi, ci, di, or None unless every row has a 2x2 table."""
        if not self.rows or any(r.table is None for r in self.rows):
            return None
        return np.array([r.table for r in self.rows], dtype=float)

    def column(self, name: str) -> list:
        """A covariate's value per row (None where a row does not have it)."""
        return [r.covariates.get(name) for r in self.rows]

    @property
    def covariate_names(self) -> tuple[str, ...]:
        return tuple(sorted({n for r in self.rows for n in r.covariates}))

    # --- transformations -----------------------------------------------------------------
    def subset(self, keep) -> EffectTable:
        """The rows where ``keep`` (a boolean mask, indices, or a predicate on a row) holds."""
        if callable(keep):
            rows = tuple(r for r in self.rows if keep(r))
        else:
            keep = np.asarray(keep)
            if keep.dtype == bool:
                if keep.shape != (self.k,):
                    raise MetakError(f"a subset mask needs {self.k} entries, got {keep.shape}")
                rows = tuple(r for r, k in zip(self.rows, keep) if k)
            else:
                rows = tuple(self.rows[int(i)] for i in keep)
        return _replace(self, rows=rows)

    def replace(self, *, yi=None, vi=None, **columns) -> EffectTable:
        """A copy with new yi and/or vi (array-likes of length k) or other per-row columns."""
        new = {}
        if yi is not None:
            new["yi"] = yi
        if vi is not None:
            new["vi"] = vi
        new.update(columns)
        for name, values in new.items():
            if len(values) != self.k:
                raise MetakError(f"replace({name}=...) needs {self.k} values, got {len(values)}")
        rows = tuple(_replace(r, **{n: (float(v[i]) if n in ("yi", "vi") else v[i]) for n, v in new.items()})
                     for i, r in enumerate(self.rows))
        return _replace(self, rows=rows)

    def harmonise(self, direction: str | None = None) -> tuple[EffectTable, list[str]]:
        """Make every row's effect point the same way as ``direction`` (default: the first row's).

        A row whose outcome direction differs has its yi negated (the reciprocal of a ratio),
        and its 2x2 table becomes the table of the complementary event (events <-> non-events),
        so that Mantel-Haenszel and Peto fits agree with the inverse-variance ones.
        """
        if not self.rows:
            return _replace(self, direction=direction or self.direction), []
        target = direction or self.rows[0].direction
        notes = []
        rows = []
        for r in self.rows:
            if r.direction == target:
                rows.append(r)
                continue
            table = None if r.table is None else (r.table[1], r.table[0], r.table[3], r.table[2])
            rows.append(_replace(r, yi=-r.yi, table=table, direction=target))
            how = "reciprocal" if self.measure in LOG_MEASURES else "sign flipped"
            notes.append(f"{r.trial}: outcome direction {r.direction} differs from {target}; its effect is harmonised ({how})")
        return _replace(self, rows=tuple(rows), direction=target), notes

    # --- views ---------------------------------------------------------------------------
    def to_frame(self):
        """A pandas DataFrame with one row per comparison (pandas is imported here only)."""
        import pandas as pd

        recs = []
        for r in self.rows:
            rec = {"trial": r.trial, "label": r.label, "experimental": r.experimental, "control": r.control,
                   "yi": r.yi, "vi": r.vi, "n": r.n, "control_type": r.control_type}
            if r.table is not None:
                rec.update(zip(("ai", "bi", "ci", "di"), r.table))
            rec.update(r.covariates)
            recs.append(rec)
        return pd.DataFrame.from_records(recs)

    def __repr__(self) -> str:
        return f"EffectTable(measure={self.measure!r}, k={self.k}, direction={self.direction!r})"


def order_rows(table, how: str, weights=None) -> list[int]:
    """Row order of the studies (forest plots, cumulative analysis), contract section 5.

    Ties are broken by the trial's label, then by the record's own order, so the dose arms
    of one trial stay in the order the record gives them.
    """
    rows = table.rows
    idx = list(range(table.k))
    tie = [(r.record.label if r.record is not None else r.label, i) for i, r in enumerate(rows)]
    if how == "label":
        key = lambda i: tie[i]  # noqa: E731
    elif how == "effect":  # a study without its own yi (an MH RD double-zero table) goes last
        key = lambda i: (not np.isfinite(rows[i].yi), rows[i].yi if np.isfinite(rows[i].yi) else 0.0, tie[i])  # noqa: E731
    elif how == "weight":  # heaviest first, as RevMan sorts by weight
        key = lambda i: (-(weights[i] if np.isfinite(weights[i]) else -1.0), tie[i])  # noqa: E731
    else:  # year or a characteristic: by value (numbers as numbers), rows without one last
        values = [r.covariates.get(how) for r in rows]
        numeric = all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values if v is not None)
        key = lambda i: (values[i] is None, 0 if values[i] is None else (values[i] if numeric else str(values[i])),  # noqa: E731
                         tie[i])
    return sorted(idx, key=key)

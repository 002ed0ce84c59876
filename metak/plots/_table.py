"""The table model behind every forest-style figure (the layout is in ``_layout.py``, the drawing
in ``_draw.py``, text measuring in ``_text.py``).

A figure is first described as a :class:`Table` (pure data: text columns, graphical panels,
rows of cells and marks, footer lines) by the function for its kind, then drawn here onto
one container Axes.  Text columns are measured, so nothing overlaps at any width; columns
that do not fit are dropped in a stated order before a panel gets too narrow.  Each panel is
an inset Axes spanning the body rows, with its own x scale (log for ratio measures) and the
same row coordinates as the text, so row ``i`` sits at ``y = i`` in both.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


# --------------------------------------------------------------------------- model


@dataclass(frozen=True)
class Column:
    """A text column.  ``drop``: when the panels lack room, columns are dropped in
    increasing ``drop`` order (``None``: never dropped)."""

    key: str
    header: str = ""
    group: str = ""
    align: str = "left"
    drop: int | None = None
    group_overflow: bool = False   # the group line may run over the columns to its left


@dataclass(frozen=True)
class Panel:
    """A graphical column: an x axis shared by the marks of every row."""

    key: str
    log: bool = False
    null: float | None = 0.0
    header: str = ""
    group: str = ""
    favours: tuple[str, str] | None = None
    xlabel: str = ""
    xlim: tuple[float, float] | None = None
    ticks: tuple[float, ...] | None = None
    symmetric: bool | None = None
    band: tuple[float, float, str] | None = None
    legend: tuple[tuple[str, str, str], ...] = ()   # (label, role, shape)
    share: float = 1.0
    min_width: float = 70.0                        # points asked for
    null_line: bool = True
    drop: int | None = None


@dataclass(frozen=True)
class Mark:
    """One thing drawn in a panel on a row, on the panel's (natural) scale.

    shape: ``square`` (sized by ``size``, a weight in %), ``point`` (a small filled square),
    ``dot`` (a filled circle), ``hollow`` / ``open`` (a white-filled circle: shrunken
    estimates, the second arm), ``diamond``, ``bar`` (an interval drawn as a band).
    ``core``: the mark must be fully inside the automatic axis limits; others may be
    clipped (with an arrow).
    """

    shape: str
    est: float | None
    lo: float | None = None
    hi: float | None = None
    role: str = "study"
    size: float | None = None
    dy: float = 0.0
    core: bool = False


@dataclass(frozen=True)
class Row:
    kind: str
    cells: Mapping[str, str] = field(default_factory=dict)
    marks: Mapping[str, tuple[Mark, ...]] = field(default_factory=dict)
    bold: bool = False
    italic: bool = False
    height: float = 1.0
    key: str | None = None
    span: bool = False          # first cell may run across the following text columns


@dataclass(frozen=True)
class Footer:
    text: str
    marker: tuple[str, str] | None = None   # (shape, role) drawn before the text
    requires: str | None = None             # shown only when this column is drawn


@dataclass(frozen=True)
class Table:
    columns: tuple
    rows: tuple[Row, ...]
    footer: tuple[Footer, ...] = ()

    @property
    def n_rows(self) -> float:
        return sum(r.height for r in self.rows)


# --------------------------------------------------------------------------- artists


@dataclass(frozen=True, eq=False)
class TableArtists:
    """What a forest-style figure drew, by name.

    ``cells[(i, key)]`` is the Text of row ``i`` in column ``key``; ``marks[(i, panel)]``
    the artists of row ``i`` in a panel; ``squares[panel]`` the one PathCollection of
    weight-sized study squares (in row order), ``diamonds[(i, panel)]`` each diamond.
    """

    figure: object
    ax: object
    table: Table
    columns: tuple            # the columns actually drawn (after dropping)
    panels: Mapping[str, object]
    header: tuple
    cells: Mapping[tuple[int, str], object]
    marks: Mapping[tuple[int, str], tuple]
    squares: Mapping[str, object]
    diamonds: Mapping[tuple[int, str], object]
    footer: tuple
    favours: Mapping[str, tuple]
    row_y: tuple[float, ...]

    def rows(self, kind: str) -> list[int]:
        """Indices of the rows of one kind (``study``, ``pooled``, ``pi`` ...)."""
        return [i for i, r in enumerate(self.table.rows) if r.kind == kind]

    @property
    def study_rows(self) -> list[int]:
        return self.rows("study")

    def diamond(self, kind: str = "pooled", panel: str = "effect"):
        """The diamond Polygon of the first row of ``kind``."""
        for i in self.rows(kind):
            if (i, panel) in self.diamonds:
                return self.diamonds[(i, panel)]
        raise KeyError(f"no diamond on a {kind!r} row in panel {panel!r}")

    def texts(self) -> list[str]:
        """Every string drawn (cells, headers, footer, favours labels, tick labels)."""
        out = [t.get_text() for t in self.header]
        out += [t.get_text() for t in self.cells.values()]
        out += [t.get_text() for t in self.footer]
        for pair in self.favours.values():
            out += [t.get_text() for t in pair]
        for p in self.panels.values():
            out += [t.get_text() for t in p.get_xticklabels()]
        return out


__all__ = ["Column", "Panel", "Mark", "Row", "Footer", "Table", "TableArtists"]

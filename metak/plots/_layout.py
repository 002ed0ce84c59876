"""The layout of a :class:`~metak.plots._table.Table`: which columns fit and how wide each is,
and how many rows tall the figure is."""

from __future__ import annotations

from dataclasses import dataclass

from ._table import Panel, Row, Table
from ._text import text_width, wrap

AXIS_ROWS = 1.3       # below a panel: ticks and tick labels
FAVOURS_ROWS = 1.05    # one line of favours labels or an x label


PANEL_PAD = 7.0   # points kept free inside each side of a panel for its end tick labels


def plan_columns(table: Table, width_pt: float, fontsize: float) -> list:
    """Measure the columns, drop those that leave the panels too little room, and give each
    column its width in points (:class:`_Measured`, in drawing order).

    A panel needs at least its header's width (its hard minimum) and asks for
    ``min_width``; droppable columns (text or panel) go, lowest ``drop`` first, until every
    panel gets what it asks for.  The room left is shared among the panels by ``share``.
    """
    gap = COLUMN_GAP * fontsize
    first = table.columns[0].key if table.columns else None
    measured = []
    for c in table.columns:
        if isinstance(c, Panel):
            hard = max(text_width(c.header, fontsize, "bold"), 30.0)
            measured.append(_Measured(c, hard, max(hard, c.min_width)))
            continue
        widths = [text_width(c.header, fontsize, "bold")]
        if not c.group_overflow:
            widths.append(text_width(c.group, fontsize, "bold"))
        for r in table.rows:
            s = r.cells.get(c.key, "")
            if s and not (r.span and c.key == first):
                f = cell_font(r, fontsize)
                widths.append(text_width(s, fontsize, f["fontweight"], f["fontstyle"]))
        w = max(widths)
        measured.append(_Measured(c, w, w))
    def need(hard_panels: bool) -> float:
        return sum(m.width if (m.is_panel and hard_panels) else m.soft for m in measured) \
            + gap * (len(measured) - 1)

    # text columns go while the panels lack the room they ask for; a panel goes only
    # when even its header would not fit
    for panel_phase in (False, True):
        while need(panel_phase) > width_pt:
            droppable = [m.spec.drop for m in measured
                         if m.spec.drop is not None and m.is_panel == panel_phase]
            if not droppable:
                break
            lowest = min(droppable)
            measured = [m for m in measured
                        if not (m.spec.drop == lowest and m.is_panel == panel_phase)]
    panels = [m for m in measured if m.is_panel]
    free = width_pt - sum(m.width for m in measured if not m.is_panel) - gap * (len(measured) - 1)
    hard = sum(m.width for m in panels)
    shares = sum(m.spec.share for m in panels) or 1.0
    for m in panels:
        if free >= hard:
            m.width = m.width + (free - hard) * m.spec.share / shares
        else:
            m.width = max(m.width * free / hard, 10.0) if hard > 0 else 10.0
    return measured


def layout_rows(table: Table, fontsize: float, width_pt: float | None = None) -> float:
    """Height of a table in rows (of ``1.5 * fontsize`` points), header to footer.

    With ``width_pt``, the columns that will be dropped and the footer lines that will be
    wrapped at that width are accounted for."""
    if width_pt is not None:
        cols = plan_columns(table, width_pt, fontsize)
        keys = {c.spec.key for c in cols}
        table = Table(tuple(c.spec for c in cols), table.rows,
                      tuple(f for f in table.footer if f.requires is None or f.requires in keys))
    n_header = 2 if any(c.group for c in table.columns) or any(
        isinstance(c, Panel) and c.legend for c in table.columns) else 1
    panels = [c for c in table.columns if isinstance(c, Panel)]
    below = 0.0
    if panels:
        below = AXIS_ROWS + (FAVOURS_ROWS if any(p.favours or p.xlabel for p in panels) else 0)
    n_footer = 0.0
    for f in table.footer:
        n = len(wrap(f.text, width_pt, fontsize * 0.93)) if width_pt else 1
        n_footer += n * 1.05
    return n_header + 0.35 + table.n_rows + 0.25 + below + (0.4 + n_footer if n_footer else 0) + 0.3


def row_height_pt(fontsize: float) -> float:
    return 1.5 * fontsize


COLUMN_GAP = 0.8   # gap between columns, in font sizes


@dataclass
class _Measured:
    spec: object
    width: float        # text: widest cell; panel: hard minimum, then the width allocated
    soft: float         # the width asked for before dropping columns

    @property
    def is_panel(self) -> bool:
        return isinstance(self.spec, Panel)


def cell_font(row: Row, fontsize: float) -> dict:
    return {"fontsize": fontsize, "fontweight": "bold" if row.bold else "normal",
            "fontstyle": "italic" if row.italic else "normal"}

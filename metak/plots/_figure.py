"""Figures without pyplot: a Figure with its own Agg canvas, so no global state is touched."""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._table import Table, draw_table, layout_rows, row_height_pt

MARGIN_MM = 1.5


def new_figure(width_in: float, height_in: float, margins_mm: tuple[float, float, float, float]
               = (MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM)):
    """A figure of the given size and one Axes inside margins (left, right, bottom, top)."""
    fig = Figure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    l, r, b, t = (m / MM_PER_INCH for m in margins_mm)
    ax = fig.add_axes([l / width_in, b / height_in, 1 - (l + r) / width_in,
                       1 - (b + t) / height_in])
    return fig, ax


def table_height_in(table: Table, fontsize: float, width_in: float) -> float:
    inner_w = (width_in - 2 * MARGIN_MM / MM_PER_INCH) * PT_PER_INCH
    rows = layout_rows(table, fontsize, inner_w)
    return rows * row_height_pt(fontsize) / PT_PER_INCH + 2 * MARGIN_MM / MM_PER_INCH


def draw(table: Table, ax, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
         size="single_column"):
    """Draw a table on ``ax``, or on a new figure of width ``size`` whose height fits it."""
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            _fig, ax = new_figure(w, table_height_in(table, fontsize, w))
        return draw_table(table, ax, fontsize=fontsize, colours=palette(greyscale))

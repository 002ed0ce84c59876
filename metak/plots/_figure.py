"""Figures without pyplot: a Figure with its own Agg canvas, so no global state is touched."""

from __future__ import annotations

from matplotlib import rc_context
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from ._draw import draw_table
from ._layout import fit_to_width, layout_rows, row_height_pt
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, UNHINTED, palette, rc, width_inches
from ._table import Table

MARGIN_MM = 1.5


class FigureWarning(UserWarning):
    """A figure was drawn, but not as asked (e.g. its height was capped)."""


class MetakFigure(Figure):
    """A Figure whose text is drawn without font hinting, at any resolution.

    The layout measures every label (:func:`._text.text_width`) to fit columns and wrap footers
    to the figure's width. With hinting, Agg rounds glyph advances to whole pixels, so the same
    5 pt line drew 7% wider at 100-150 dpi (a notebook, a screen preview) than measured, and
    footers ran off the right edge of an 89 mm figure; without it the drawn width is the
    measured one at every dpi (and vector output is unaffected). The setting is applied while
    the figure draws, so it holds when a caller saves or shows the figure later, under its own
    rcParams. (A figure drawn into the caller's own Axes keeps the caller's Figure.)"""

    def draw(self, renderer):
        with rc_context(UNHINTED):
            return super().draw(renderer)


def new_figure(width_in: float, height_in: float, margins_mm: tuple[float, float, float, float]
               = (MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM)):
    """A figure of the given size and one Axes inside margins (left, right, bottom, top)."""
    fig = MetakFigure(figsize=(width_in, height_in))
    FigureCanvasAgg(fig)
    l, r, b, t = (m / MM_PER_INCH for m in margins_mm)
    ax = fig.add_axes([l / width_in, b / height_in, 1 - (l + r) / width_in,
                       1 - (b + t) / height_in])
    return fig, ax


def table_height_in(table: Table, fontsize: float, width_in: float) -> float:
    inner_w = (width_in - 2 * MARGIN_MM / MM_PER_INCH) * PT_PER_INCH
    rows = layout_rows(table, fontsize, inner_w)
    return rows * row_height_pt(fontsize) / PT_PER_INCH + 2 * MARGIN_MM / MM_PER_INCH


#: the tallest figure metak draws (inches): 100 in at 300 dpi is 30,000 px, inside the
#: 2^16-pixel limit of the raster backends; a forest of thousands of rows shrinks to fit
MAX_HEIGHT_IN = 100.0


def draw(table: Table, ax, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
         size="single_column"):
    """Draw a table on ``ax``, or on a new figure of width ``size`` whose height fits it
    (capped at :data:`MAX_HEIGHT_IN`, the text shrunk to fit, with a warning)."""
    if ax is None:
        w = width_inches(size)
        table, fontsize = fit_to_width(table, (w - 2 * MARGIN_MM / MM_PER_INCH) * PT_PER_INCH,
                                       fontsize)
        h = table_height_in(table, fontsize, w)
        if h > MAX_HEIGHT_IN:
            import warnings

            shrunk = fontsize * MAX_HEIGHT_IN / h
            n_rows = sum(1 for r in table.rows if r.kind == "study")
            warnings.warn(f"{n_rows} rows would make the figure {h:.0f} in tall; it is capped at "
                          f"{MAX_HEIGHT_IN:.0f} in with {shrunk:.1f} pt text (draw subsets for a readable figure)",
                          FigureWarning, stacklevel=3)
            fontsize = shrunk
    with rc_context(rc(fontsize)):
        if ax is None:
            _fig, ax = new_figure(w, min(table_height_in(table, fontsize, w), MAX_HEIGHT_IN))
        return draw_table(table, ax, fontsize=fontsize, colours=palette(greyscale))

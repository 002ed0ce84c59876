"""The table-with-panels layout behind every forest-style figure.

A figure is first described as a :class:`Table` (pure data: text columns, graphical panels,
rows of cells and marks, footer lines) by the function for its kind, then drawn here onto
one container Axes.  Text columns are measured, so nothing overlaps at any width; columns
that do not fit are dropped in a stated order before a panel gets too narrow.  Each panel is
an inset Axes spanning the body rows, with its own x scale (log for ratio measures) and the
same row coordinates as the text, so row ``i`` sits at ``y = i`` in both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from . import _scales
from ._style import FONT_FAMILY, PT_PER_INCH


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


# --------------------------------------------------------------------------- measuring


@lru_cache(maxsize=8)
def _agg_renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, PT_PER_INCH)   # 72 dpi: one pixel is one point


@lru_cache(maxsize=4096)
def text_width(s: str, size: float, weight: str = "normal", style: str = "normal") -> float:
    """Width of ``s`` in points, measured with the Agg text engine that draws it."""
    if not s:
        return 0.0
    prop = FontProperties(family=FONT_FAMILY, size=size, weight=weight, style=style)
    w, _h, _d = _agg_renderer().get_text_width_height_descent(s, prop, ismath=False)
    return float(w)


def _wrap(text: str, width: float | None, size: float) -> list[str]:
    """Split a footer line so each piece fits ``width`` points: at '; ' where possible,
    else between words; continuation lines are indented."""
    if width is None or text_width(text, size) <= width:
        return [text]
    indent = "    "
    lines: list[str] = []
    cur = ""
    for chunk in _chunks(text):
        trial = cur + chunk
        if not cur or text_width(trial.rstrip(), size) <= width:
            cur = trial
            continue
        lines.append(cur.rstrip())
        cur = indent + chunk.lstrip()
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def _chunks(text: str) -> list[str]:
    """Words with their trailing space, so that joining them gives ``text`` back."""
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out


# --------------------------------------------------------------------------- layout


_AXIS_ROWS = 1.3       # below a panel: ticks and tick labels
_FAVOURS_ROWS = 1.05    # one line of favours labels or an x label


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
                f = _cell_font(r, fontsize)
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
        below = _AXIS_ROWS + (_FAVOURS_ROWS if any(p.favours or p.xlabel for p in panels) else 0)
    n_footer = 0.0
    for f in table.footer:
        n = len(_wrap(f.text, width_pt, fontsize * 0.93)) if width_pt else 1
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


def _cell_font(row: Row, fontsize: float) -> dict:
    return {"fontsize": fontsize, "fontweight": "bold" if row.bold else "normal",
            "fontstyle": "italic" if row.italic else "normal"}


def draw_table(table: Table, ax, *, fontsize: float, colours: Mapping[str, str]) -> TableArtists:
    """Draw ``table`` on the container ``ax`` (which it takes over entirely)."""
    fig = ax.figure
    fig_w, fig_h = fig.get_size_inches()
    pos = ax.get_position()
    W = pos.width * fig_w * PT_PER_INCH
    H = pos.height * fig_h * PT_PER_INCH
    small = fontsize * 0.93

    # ---- columns: measure, drop what does not fit, share the rest among the panels
    measured = plan_columns(table, W, fontsize)
    gap = COLUMN_GAP * fontsize
    x = 0.0
    spans: dict[str, tuple[float, float]] = {}
    for m in measured:
        spans[m.spec.key] = (x, x + m.width)
        x += m.width + gap
    panels = [m.spec for m in measured if m.is_panel]
    text_cols = [m.spec for m in measured if not m.is_panel]
    drawn_cols = tuple(m.spec for m in measured)

    # ---- rows: y in row units, growing downwards
    n_header = 2 if any(c.group for c in text_cols) or any(
        p.group or p.legend for p in panels) else 1
    footer_lines: list[tuple[str, Footer | None]] = []
    drawn_keys = {c.key for c in drawn_cols}
    for f in table.footer:
        if f.requires is not None and f.requires not in drawn_keys:
            continue
        for j, line in enumerate(_wrap(f.text, W - (7.0 if f.marker else 0.0), small)):
            footer_lines.append((line, f if j == 0 else None))
    total = layout_rows(Table(drawn_cols, table.rows, tuple(Footer(t) for t, _ in footer_lines)),
                        fontsize, None)
    body_top = n_header - 0.5 + 0.35
    row_y = []
    y = body_top
    for r in table.rows:
        row_y.append(y + r.height / 2)
        y += r.height
    body_bottom = y + 0.25
    y_limit = total - 0.5
    row_pt = H / total

    ax.set_xlim(0, W)
    ax.set_ylim(y_limit, -0.5)
    ax.set_axis_off()

    def yfrac(yv: float) -> float:
        return (y_limit - yv) / (y_limit + 0.5)

    def x_text(col: Column) -> tuple[float, str]:
        x0, x1 = spans[col.key]
        if col.align == "right":
            return x1, "right"
        if col.align == "center":
            return (x0 + x1) / 2, "center"
        return x0, "left"

    header = []
    text_kw = {"va": "center_baseline", "clip_on": False, "color": colours["text"]}
    for col in text_cols:
        xt, ha = x_text(col)
        if col.header:
            header.append(ax.text(xt, n_header - 1, col.header, ha=ha, fontsize=fontsize,
                                  fontweight="bold", **text_kw))
        if col.group:
            # a group allowed to overflow runs leftwards from the column's right edge
            gx, gha = (spans[col.key][1], "right") if col.group_overflow else (xt, ha)
            header.append(ax.text(gx, 0, col.group, ha=gha, fontsize=fontsize,
                                  fontweight="bold", **text_kw))
    for p in panels:
        x0, x1 = spans[p.key]
        if p.header:
            header.append(ax.text((x0 + x1) / 2, n_header - 1, p.header, ha="center",
                                  fontsize=fontsize, fontweight="bold", **text_kw))
        if p.group:
            header.append(ax.text((x0 + x1) / 2, 0, p.group, ha="center",
                                  fontsize=fontsize, fontweight="bold", **text_kw))
    rule_y = n_header - 0.5 + 0.1
    ax.add_line(Line2D([0, W], [rule_y, rule_y], lw=0.6, color=colours["rule"],
                       solid_capstyle="butt"))

    cells = {}
    first_key = table.columns[0].key if table.columns else None
    for i, r in enumerate(table.rows):
        for col in text_cols:
            s = r.cells.get(col.key, "")
            if not s:
                continue
            xt, ha = x_text(col)
            if r.span and col.key == first_key:
                xt, ha = spans[col.key][0], "left"
            cells[(i, col.key)] = ax.text(xt, row_y[i], s, ha=ha, **_cell_font(r, fontsize),
                                          **text_kw)

    # ---- panels
    panel_axes, marks, squares, diamonds, favours = {}, {}, {}, {}, {}
    for p in panels:
        x0, x1 = spans[p.key]
        pad = min(PANEL_PAD, (x1 - x0) / 6)
        x0, x1 = x0 + pad, x1 - pad
        pax = ax.inset_axes([x0 / W, yfrac(body_bottom), (x1 - x0) / W,
                             yfrac(body_top) - yfrac(body_bottom)])
        panel_axes[p.key] = pax
        _setup_panel(pax, p, table, x1 - x0, small)
        pax.set_ylim(body_bottom, body_top)
        a, b = pax.get_xlim()
        _draw_panel_marks(pax, p, table, row_y, row_pt, colours, marks, squares, diamonds, a, b)
        favours[p.key] = _draw_favours(ax, p, (x0, x1), a, b, body_bottom, small, colours)
        if p.legend:
            _draw_legend(ax, p, spans[p.key], 0, small, row_pt, colours)

    # ---- footer
    foot = []
    yf = body_bottom + (_AXIS_ROWS + (_FAVOURS_ROWS if any(p.favours or p.xlabel for p in panels)
                                      else 0) if panels else 0) + 0.4 + 0.5
    for line, f in footer_lines:
        xt = 0.0
        if f is not None and f.marker is not None:
            shape, role = f.marker
            _legend_marker(ax, 2.5, yf, shape, role, row_pt, colours)
            xt = 7.0
        foot.append(ax.text(xt, yf, line, ha="left", fontsize=small, **text_kw))
        yf += 1.05

    return TableArtists(
        figure=fig, ax=ax, table=table, columns=drawn_cols, panels=panel_axes,
        header=tuple(header), cells=cells, marks=marks, squares=squares, diamonds=diamonds,
        footer=tuple(foot), favours=favours, row_y=tuple(row_y))


def _panel_values(p: Panel, table: Table):
    core, extra = [], []
    for r in table.rows:
        for m in r.marks.get(p.key, ()):
            vals = [v for v in (m.est, m.lo, m.hi) if v is not None]
            if m.core or m.shape in ("diamond", "bar"):
                core += vals
            else:
                if m.est is not None:
                    core.append(m.est)
                extra += [v for v in (m.lo, m.hi) if v is not None]
    if p.null is not None:
        core.append(p.null)
    if p.band is not None:
        core += [p.band[0], p.band[1]]
    return core, extra


def _setup_panel(pax, p: Panel, table: Table, width_pt: float, small: float) -> None:
    for side in ("left", "right", "top"):
        pax.spines[side].set_visible(False)
    pax.patch.set_visible(False)
    pax.tick_params(axis="y", left=False, labelleft=False)
    pax.tick_params(axis="x", labelsize=small)

    def label_width(s: str) -> float:
        return text_width(s, small)

    if p.log:
        pax.set_xscale("log")
    core, extra = _panel_values(p, table)
    if p.xlim is not None:
        lo, hi = p.xlim
    else:
        lo, hi = _scales.data_range(core, extra, p.log)
    null = p.null if p.null is not None else None
    if p.log:
        a, b, ticks, labels = _scales.log_ticks(lo, hi, width_pt, label_width,
                                                symmetric=p.symmetric, null=null or 1.0)
    else:
        a, b, ticks, labels = _scales.linear_ticks(lo, hi, width_pt, label_width,
                                                   symmetric=p.symmetric, null=null)
    if p.xlim is not None:
        a, b = p.xlim
        keep = [(t, s) for t, s in zip(ticks, labels) if a * (1 - 1e-9) <= t <= b * (1 + 1e-9)
                or (not p.log and a - 1e-9 <= t <= b + 1e-9)]
        ticks, labels = [t for t, _ in keep], [s for _, s in keep]
    if p.ticks is not None:
        ticks = list(p.ticks)
        labels = [_scales.tick_label(t) for t in ticks]
    pax.set_xlim(a, b)
    pax.set_xticks(ticks)
    pax.set_xticklabels(labels)
    pax.minorticks_off()


_POINTS = ("point", "dot", "hollow", "open")


def _clip(v, a, b):
    return min(max(v, a), b)


def _draw_panel_marks(pax, p: Panel, table: Table, row_y, row_pt, colours, marks, squares,
                      diamonds, a, b) -> None:
    if p.band is not None:
        pax.axvspan(p.band[0], p.band[1], color=colours["band"], lw=0, zorder=0)
        if p.band[2]:
            pax.text((p.band[0] * p.band[1]) ** 0.5 if p.log else (p.band[0] + p.band[1]) / 2,
                     table_top_y(pax), p.band[2], ha="center", va="top",
                     fontsize=text_size(pax) * 0.9, fontstyle="italic", color="#4D4D4D",
                     zorder=1)
    if p.null is not None and p.null_line and a <= p.null <= b:
        pax.axvline(p.null, color=colours["null"], lw=0.6, zorder=1)

    max_side = 0.78 * row_pt
    min_side = 0.28 * row_pt
    weights = [m.size for r in table.rows for m in r.marks.get(p.key, ())
               if m.shape == "square" and m.size is not None]
    wmax = max(weights) if weights else None
    sq_x, sq_y, sq_s, sq_rows = [], [], [], []

    for i, r in enumerate(table.rows):
        out = []
        for m in r.marks.get(p.key, ()):
            y = row_y[i] + m.dy
            col = colours.get(m.role, colours["study"])
            if m.shape in _POINTS + ("square",) and m.lo is not None and m.hi is not None:
                lo_c, hi_c = _clip(m.lo, a, b), _clip(m.hi, a, b)
                if hi_c > lo_c:
                    wcol = colours["whisker"] if m.shape == "square" else col
                    ln = Line2D([lo_c, hi_c], [y, y], color=wcol, lw=0.7, zorder=2,
                                solid_capstyle="butt")
                    pax.add_line(ln)
                    out.append(ln)
                    for end, clipped, marker in ((lo_c, m.lo < a, "<"), (hi_c, m.hi > b, ">")):
                        if clipped:
                            arrow = Line2D([end], [y], marker=marker, markersize=0.32 * row_pt,
                                           color=wcol, markeredgewidth=0, clip_on=False,
                                           zorder=3)
                            pax.add_line(arrow)
                            out.append(arrow)
            if m.shape == "square" and m.est is not None:
                if a <= m.est <= b:
                    side = max_side * 0.55 if (m.size is None or not wmax) else \
                        max(min_side, max_side * math.sqrt(max(m.size, 0) / wmax))
                    sq_x.append(m.est), sq_y.append(y), sq_s.append(side ** 2), sq_rows.append(i)
            elif m.shape in _POINTS and m.est is not None:
                if a <= m.est <= b:
                    filled = m.shape in ("point", "dot")
                    mk = "s" if m.shape == "point" else "o"
                    size = 0.36 * row_pt if m.shape == "point" else 0.34 * row_pt
                    if m.shape in ("dot", "open"):
                        size = 0.4 * row_pt
                    pt = Line2D([m.est], [y], marker=mk, markersize=size,
                                markerfacecolor=col if filled else "white",
                                markeredgecolor=col, markeredgewidth=0.7, linestyle="none",
                                zorder=5 if m.shape == "hollow" else 4, clip_on=False)
                    pax.add_line(pt)
                    out.append(pt)
            elif m.shape == "diamond" and m.est is not None:
                h = 0.36
                hollow = m.role == "common"
                poly = Polygon([(m.lo, y), (m.est, y - h), (m.hi, y), (m.est, y + h)], closed=True,
                               facecolor="white" if hollow else col, edgecolor=col, lw=0.7,
                               zorder=3, joinstyle="miter")
                pax.add_patch(poly)
                diamonds[(i, p.key)] = poly
                out.append(poly)
            elif m.shape == "bar" and m.lo is not None and m.hi is not None:
                h = 0.26
                rect = Rectangle((m.lo, y - h / 2), m.hi - m.lo, h, facecolor=col, edgecolor=col,
                                 lw=0.5, zorder=3)
                pax.add_patch(rect)
                out.append(rect)
        if out:
            marks[(i, p.key)] = tuple(out)
    if sq_x:
        coll = pax.scatter(sq_x, sq_y, s=sq_s, marker="s", color=colours["study"], lw=0,
                           zorder=4)
        squares[p.key] = coll
        for j, i in enumerate(sq_rows):
            marks[(i, p.key)] = marks.get((i, p.key), ()) + (coll,)
    else:
        squares[p.key] = None


def table_top_y(pax) -> float:
    lo, hi = pax.get_ylim()
    return min(lo, hi) + 0.05


def text_size(pax) -> float:
    labels = pax.get_xticklabels()
    return labels[0].get_fontsize() if labels else 6.5


def _to_frac(v: float, a: float, b: float, log: bool) -> float:
    if log:
        return (math.log(v) - math.log(a)) / (math.log(b) - math.log(a))
    return (v - a) / (b - a)


def _draw_favours(ax, p: Panel, span, a, b, body_bottom, small, colours):
    x0, x1 = span
    y = body_bottom + _AXIS_ROWS + _FAVOURS_ROWS / 2
    kw = {"va": "center_baseline", "fontsize": small, "clip_on": False, "color": colours["text"]}
    W = ax.get_xlim()[1]
    if p.favours is not None:
        left, right = p.favours
        centre = p.null if (p.null is not None and a <= p.null <= b) else (
            math.sqrt(a * b) if p.log else (a + b) / 2)
        xc = x0 + _to_frac(centre, a, b, p.log) * (x1 - x0)
        pad = 3.0
        wl, wr = text_width(left, small), text_width(right, small)
        # keep both labels inside the figure, sliding the pair together when needed
        shift = 0.0
        if xc - pad - wl < 0:
            shift = -(xc - pad - wl)
        if xc + shift + pad + wr > W:
            shift -= xc + shift + pad + wr - W
        tl = ax.text(xc + shift - pad, y, left, ha="right", **kw)
        tr = ax.text(xc + shift + pad, y, right, ha="left", **kw)
        return (tl, tr)
    if p.xlabel:
        return (ax.text((x0 + x1) / 2, y, p.xlabel, ha="center", **kw),)
    return ()


def _legend_marker(ax, x, y, shape, role, row_pt, colours):
    col = colours.get(role, "#000000")
    if shape == "bar":
        ax.add_patch(Rectangle((x - 2.5, y - 0.13), 5.0, 0.26, facecolor=col, edgecolor=col,
                               lw=0.5, clip_on=False))
        return
    if shape == "diamond":
        ax.add_patch(Polygon([(x - 3, y), (x, y - 0.36), (x + 3, y), (x, y + 0.36)],
                             facecolor=col, edgecolor=col, lw=0.6, clip_on=False))
        return
    face = col if shape in ("point", "square", "dot") else "white"
    mk = "s" if shape in ("square", "point") else "o"
    ax.add_line(Line2D([x], [y], marker=mk, markersize=0.38 * row_pt, markerfacecolor=face,
                       markeredgecolor=col, markeredgewidth=0.7, linestyle="none",
                       clip_on=False))


def _draw_legend(ax, p: Panel, span, y, small, row_pt, colours):
    x0, x1 = span
    items = [(label, role, shape, text_width(label, small)) for label, role, shape in p.legend]
    total = sum(8.0 + w for *_, w in items) + 6.0 * (len(items) - 1)
    x = (x0 + x1) / 2 - total / 2
    for label, role, shape, w in items:
        _legend_marker(ax, x + 2.5, y, shape, role, row_pt, colours)
        ax.text(x + 8.0, y, label, ha="left", va="center_baseline", fontsize=small,
                clip_on=False, color=colours["text"])
        x += 8.0 + w + 6.0


__all__ = ["Column", "Panel", "Mark", "Row", "Footer", "Table", "TableArtists", "draw_table",
           "layout_rows", "row_height_pt", "text_width"]

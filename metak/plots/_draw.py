"""Drawing a :class:`~metak.plots._table.Table` onto one container Axes: text columns, each
panel an inset Axes spanning the body rows (row ``i`` at ``y = i`` in both), marks, favours
labels, legend and footer."""

from __future__ import annotations

import math
from collections.abc import Mapping

from matplotlib.lines import Line2D
from matplotlib.patches import Polygon, Rectangle

from . import _scales
from ._axis import clip_arrows as _clip_arrows, end_ticks as _end_ticks
from ._layout import AXIS_ROWS, COLUMN_GAP, FAVOURS_ROWS, PANEL_PAD, cell_font, layout_rows, plan_columns
from ._style import PT_PER_INCH
from ._table import Column, Footer, Panel, Table, TableArtists
from ._text import text_width, wrap


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
        for j, line in enumerate(wrap(f.text, W - (7.0 if f.marker else 0.0), small)):
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
            # (a left-aligned one rightwards from its left edge)
            gx, gha = (spans[col.key][1], "right") if col.group_overflow and col.align != "left" \
                else (xt, ha)
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
            kw = text_kw if "\n" not in s else {**text_kw, "va": "center", "linespacing": 1.05}
            cells[(i, col.key)] = ax.text(xt, row_y[i], s, ha=ha, **cell_font(r, fontsize), **kw)

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
    yf = body_bottom + (AXIS_ROWS + (FAVOURS_ROWS if any(p.favours or p.xlabel for p in panels)
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
    """What sets a panel's automatic range, in three tiers: ``core`` (the null, every point
    estimate, a band) is always shown; ``extra`` (study intervals) is shown up to a stretch
    beyond the core; ``pooled`` (diamonds, prediction bars) only up to a little beyond the
    range the studies set, so a k = 2 Knapp-Hartung subtotal of [0.00017, 68,981] is drawn
    clipped with arrows instead of squashing every study (issue 25: F4, F5, S6)."""
    core, extra, pooled = [], [], []
    for r in table.rows:
        for m in r.marks.get(p.key, ()):
            if m.est is not None:
                core.append(m.est)
            bounds = [v for v in (m.lo, m.hi) if v is not None]
            if m.shape in ("diamond", "bar"):
                pooled += bounds
            else:
                extra += bounds
    if p.null is not None:
        core.append(p.null)
    if p.band is not None:
        core += [p.band[0], p.band[1]]
    if not extra:   # only pooled intervals (leave-one-out, cumulative): they are the data
        extra, pooled = pooled, []
    return core, extra, pooled


def auto_range(p: Panel, table: Table) -> tuple[float, float]:
    core, extra, pooled = _panel_values(p, table)
    lo, hi = _scales.data_range(core, extra, p.log, stretch=1.0)
    if pooled:
        lo, hi = _scales.data_range([lo, hi], pooled, p.log, stretch=0.25)
    return lo, hi


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
    if p.xlim is not None:
        lo, hi = p.xlim
    else:
        lo, hi = auto_range(p, table)
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
        ticks, labels = _end_ticks([t for t, _ in keep], a, b, p, width_pt, label_width)
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
                out += _clip_arrows(pax, m, y, a, b, col, row_pt)
            elif m.shape == "bar" and m.lo is not None and m.hi is not None:
                h = 0.26
                rect = Rectangle((m.lo, y - h / 2), m.hi - m.lo, h, facecolor=col, edgecolor=col,
                                 lw=0.5, zorder=3)
                pax.add_patch(rect)
                out.append(rect)
                out += _clip_arrows(pax, m, y, a, b, col, row_pt)
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
    y = body_bottom + AXIS_ROWS + FAVOURS_ROWS / 2
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
    if p.xlabel:  # centred on the panel, slid inside the figure when it would run past an edge
        half = text_width(p.xlabel, small) / 2
        xc = min(max((x0 + x1) / 2, half), W - half)
        return (ax.text(xc, y, p.xlabel, ha="center", **kw),)
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


__all__ = ["draw_table"]

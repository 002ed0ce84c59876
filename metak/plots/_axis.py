"""Axis ends of the effect panels: labelled limits for a given ``xlim`` (F18) and arrow heads
where a diamond or bar runs past the axis (F4, F5, S6)."""

from __future__ import annotations

import math

from matplotlib.lines import Line2D

from . import _scales
from ._table import Panel


def end_ticks(ticks, a, b, p: Panel, width_pt, label_width):
    """Ticks for limits the author set: both ends labelled (the axis always ends on a labelled
    tick, F18: ``xlim=(0.5, 4)`` labels 4), dropping inner ticks that would touch an end's."""
    eps = 1e-9 * max(abs(a), abs(b), 1.0)
    ticks = sorted(set([a, b] + [t for t in ticks if abs(t - a) > eps and abs(t - b) > eps]))
    step = None
    if not p.log and len(ticks) > 2:
        step = min(y - x for x, y in zip(ticks, ticks[1:]))

    def lab(v):
        return _scales.tick_label(v, step) if step else _scales.tick_label(v)

    while len(ticks) > 2 and not _scales._fits(ticks, [lab(t) for t in ticks], a, b, p.log, width_pt,
                                                 label_width, 5.0):
        inner = [t for t in ticks[1:-1] if t != p.null] or ticks[1:-1]
        f = (lambda v: math.log(v)) if p.log else (lambda v: v)
        # drop the inner tick closest to an end
        ticks.remove(min(inner, key=lambda t: min(abs(f(t) - f(a)), abs(f(b) - f(t)))))
    return ticks, [lab(t) for t in ticks]


def clip_arrows(pax, m, y, a, b, colour, row_pt) -> list:
    """Arrow heads where a diamond or bar runs past the axis (the patch itself is clipped)."""
    out = []
    eps = 1e-9 * abs(b - a)
    for end, clipped, marker in ((a, m.lo is not None and m.lo < a - eps, "<"),
                                 (b, m.hi is not None and m.hi > b + eps, ">")):
        if clipped:
            arrow = Line2D([end], [y], marker=marker, markersize=0.36 * row_pt, color=colour,
                           markeredgewidth=0, clip_on=False, zorder=4)
            pax.add_line(arrow)
            out.append(arrow)
    return out

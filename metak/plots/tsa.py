"""Trial sequential analysis figure: the cumulative Z curve (positive favours the experimental
arm) against the Lan-DeMets O'Brien-Fleming monitoring boundaries at each look, the
conventional ±1.96 lines and the required information size (results.json ``certainty.tsa``).
An imprecision aid, not a stopping rule (Cochrane Handbook 22.4)."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib import rc_context
from matplotlib.lines import Line2D

from . import _common as C
from .bias import CurveArtists, _axes, _finish, _x_axis
from ._style import FONT_SIZE, palette, rc

#: the Z axis is cut here: boundaries at small information fractions are very large
Z_LIMIT = 8.0


def tsa(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
        size="single_column") -> CurveArtists:
    view = C.view(ma, "tsa")
    cert = view.get("certainty")
    seq = cert.tsa if cert is not None else None  # the Sequential record (metak.certainty.size)
    C.require(seq is not None and seq.looks, ma, "tsa",
              "certainty.tsa (certainty with a required information size and every study's participants)")
    colours = palette(greyscale)
    looks = [lk for lk in seq.looks if lk.n_cumulative is not None]
    ris = float(seq.ris)
    # thousands of participants on a wide axis, so that the tick labels fit an 89 mm figure
    unit = 1000.0 if max(ris, looks[-1].n_cumulative if looks else 0.0) >= 20000 else 1.0
    two_sided = seq.side == 2
    ahead = [(a.n_cumulative / unit, a.upper) for a in seq.next_look or ()]
    ris_x = ris / unit
    xs = [0.0] + [lk.n_cumulative / unit for lk in looks]
    zs = [0.0] + [lk.z if lk.z is not None else float("nan") for lk in looks]
    bx = [lk.n_cumulative / unit for lk in looks if lk.upper is not None]
    bu = [min(lk.upper, 1e3) for lk in looks if lk.upper is not None]
    x_end = max(ris_x, xs[-1]) * 1.04
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        conv = 1.959963984540054
        for s in (1, -1):
            ax.axhline(s * conv, color=colours["null_soft"], lw=0.6, ls=(0, (4, 2)), zorder=1)
        ax.axhline(0.0, color=colours["null"], lw=0.6, zorder=1)
        marks = []
        if bx:
            marks.append(ax.plot(bx, bu, "-", lw=1.0, color=colours["bayes"], marker="s", ms=2.5, zorder=2)[0])
            if two_sided:
                marks.append(ax.plot(bx, [-u for u in bu], "-", lw=1.0, color=colours["bayes"], marker="s", ms=2.5,
                                     zorder=2)[0])
        if ahead:
            ax_x = ([bx[-1]] if bx else []) + [x for x, _u in ahead]
            ax_u = ([bu[-1]] if bu else []) + [u for _x, u in ahead]
            for s in ((1, -1) if two_sided else (1,)):
                marks.append(ax.plot(ax_x, [s * u for u in ax_u], lw=0.9, ls=(0, (3, 1.5)), color=colours["bayes"],
                                     zorder=2)[0])
        marks.append(ax.axvline(ris_x, color=colours["null"], lw=0.8, ls=(0, (1, 1.5)), zorder=1))
        line = ax.add_line(Line2D(xs, zs, lw=1.2, color=colours["pooled"], marker="o", ms=3.0, zorder=3))
        every = [abs(z) for z in zs if z == z] + bu + [u for _x, u in ahead] + [conv]
        top = max(3.0, min(Z_LIMIT, max(every) + 0.5))
        ax.set_ylim(-top, top)
        _x_axis(ax, 0.0, x_end, fontsize)
        ax.text(ris_x, top * 0.97, f" RIS = {ris:,.0f} ", ha="left" if ris_x < 0.8 * x_end else "right", va="top",
                fontsize=fontsize * 0.9, color=colours["null"])
        ax.set_xlabel("Cumulative participants" + (" (thousands)" if unit > 1 else ""), fontsize=fontsize)
        ax.set_ylabel("Cumulative Z-score", fontsize=fontsize)
        e, c = C.arm_names(ma)  # the Z curve is oriented: positive favours the experimental arm
        for y, va, text in ((0.15, "bottom", f"Favours {e}"), (-0.15, "top", f"Favours {c}")):
            ax.text(x_end * 0.5, y, text, ha="center", va=va, fontsize=fontsize * 0.85, color=colours["null"])
        handles = [Line2D([], [], lw=1.2, color=colours["pooled"], marker="o", ms=3.0, label="Cumulative Z curve"),
                   Line2D([], [], lw=1.0, color=colours["bayes"], marker="s", ms=2.5,
                          label="O'Brien-Fleming boundary"),
                   Line2D([], [], lw=0.6, ls=(0, (4, 2)), color=colours["null_soft"], label="Z = \u00b11.96")]
        if ahead:
            handles.insert(2, Line2D([], [], lw=0.9, ls=(0, (3, 1.5)), color=colours["bayes"],
                                     label="Boundary for a next look"))
        legend = _finish(ax, handles, fontsize)
        return CurveArtists(ax.figure, ax, line, None, tuple(marks), legend)

"""Dose-response figure: each comparison's effect at its dose (circle area by precision,
1 / vi), the fitted multilevel dose-response line and its confidence band
(``dose_response`` of results.json). Computes nothing."""

from __future__ import annotations

from collections.abc import Mapping

from matplotlib import rc_context
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _common as C
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc
from .bias import CurveArtists, _axes, _finish, _x_axis, _y_axis


def dose_response(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
                  size="single_column") -> CurveArtists:
    """Dose-response plot: the comparisons' effects (natural scale) against the experimental
    arm's dose, the fitted curve of ``rma.mv(yi, V, mods = ~ dose)`` (or ~ log dose) and its CI."""
    view = C.view(ma, "dose_response")
    dr = view.get("dose_response")
    C.require(dr is not None and dr.points, ma, "dose_response",
              "dose_response (add dose_response: {model: linear} with multi_arm: multivariate)")
    colours = palette(greyscale)
    nat = C.natural(ma)
    pts = dr.points
    cur = dr.curve
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        band = ax.fill_between(cur.dose, [nat(v) for v in cur.ci_lower], [nat(v) for v in cur.ci_upper],
                               color=colours["pooled"], alpha=0.22, lw=0, zorder=1)
        line = ax.add_line(Line2D(cur.dose, [nat(v) for v in cur.estimate], lw=1.0, color=colours["pooled"],
                                  zorder=3))
        prec = [1 / p.vi for p in pts]
        big = max(prec)
        sizes = [(4.5 / MM_PER_INCH * PT_PER_INCH) ** 2 * w / big for w in prec]
        sc = ax.scatter([p.dose for p in pts], [nat(p.yi) for p in pts], s=sizes, facecolors=colours["study"],
                        edgecolors="white", linewidths=0.4, alpha=0.8, zorder=4, clip_on=False)
        ax.axhline(nat(0.0), color=colours["null"], lw=0.6, zorder=2)
        ys = [nat(p.yi) for p in pts] + [nat(v) for v in cur.ci_lower + cur.ci_upper]
        _y_axis(ax, ma, ys + [nat(0.0)], fontsize)
        xs = [p.dose for p in pts] + list(cur.dose)
        span = (max(xs) - min(xs)) or 1.0
        _x_axis(ax, min(xs) - 0.04 * span, max(xs) + 0.04 * span, fontsize)
        long, _ = C.measure_names(ma)
        ax.set_ylabel(long + (" (log scale)" if C.is_log(ma) else ""), fontsize=fontsize)
        ax.set_xlabel(f"Dose ({dr.unit}){'; log-linear model' if dr.model == 'log_linear' else ''}",
                      fontsize=fontsize)
        handles = [Line2D([], [], lw=1.0, color=colours["pooled"], label="Fitted dose-response"),
                   Patch(facecolor=colours["pooled"], alpha=0.22, label="95% CI"),
                   Line2D([], [], marker="o", ls="", ms=5, color=colours["study"], label="Comparison (area: 1/vi)")]
        legend = _finish(ax, handles, fontsize)
        return CurveArtists(ax.figure, ax, line, band, (sc,), legend)

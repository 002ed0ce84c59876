"""Funnel plot: study effects against their standard errors, with pseudo-confidence limits
around the pooled estimate and, optionally, significance contours around the null."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from matplotlib import rc_context
from matplotlib.lines import Line2D
from matplotlib.patches import Patch, Polygon

from . import _common as C
from . import _format as fmt
from . import _scales
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._text import text_width


@dataclass(frozen=True, eq=False)
class FunnelArtists:
    """What :func:`funnel` drew: the study ``points`` (one PathCollection, in study order),
    the pooled-``estimate`` line, the ``pseudo_ci`` lines, the significance ``contours``
    (outermost first) and the ``legend``."""

    figure: object
    ax: object
    points: object
    estimate: object
    pseudo_ci: tuple
    contours: tuple
    legend: object


def study_points(rows) -> list[tuple[float, float]]:
    """(yi, se) of the study rows (:class:`~metak.study_rows.StudyRow` records) a funnel can
    place: an effect and a positive standard error (sqrt(vi) when the row has no se), in the rows'
    order."""
    out = []
    for r in rows:
        se = r.se if C.has(r.se) else (math.sqrt(r.vi) if C.has(r.vi) and r.vi > 0 else None)
        if C.has(r.yi) and se:
            out.append((float(r.yi), float(se)))
    return out


def funnel(ma: Mapping, ax=None, *, contours: bool = False,
           levels: Sequence[float] = (0.90, 0.95, 0.99), pseudo_ci: bool = True,
           xlim: Sequence[float] | None = None, fontsize: float = FONT_SIZE,
           greyscale: bool = False, size="single_column") -> FunnelArtists:
    """Funnel plot of one meta-analysis.

    Each study is a point at its effect (natural scale; log axis for ratio measures) and
    its standard error (axis reversed: precise studies at the top).  Dashed lines are the
    pooled estimate ± z·SE (the region where 95% of studies would fall without
    heterogeneity or small-study effects).

    Parameters
    ----------
    contours : bool
        Contour-enhanced funnel plot (Peters et al. 2008): shade the regions where a study
        would be significant at each of ``levels`` (two-sided, around the null), so missing
        studies in the non-significant region suggest publication bias.
    levels : confidence levels of the contours (default 90%, 95%, 99%).
    pseudo_ci : bool
        Draw the pseudo-confidence limits around the pooled estimate.
    xlim : (low, high), optional, on the natural scale.

    References
    ----------
    Sterne JAC, Egger M (2001). Funnel plots for detecting bias in meta-analysis. J Clin
    Epidemiol 54:1046-1055.  Peters JL et al. (2008). Contour-enhanced meta-analysis funnel
    plots help distinguish publication bias from other causes of asymmetry. J Clin
    Epidemiol 61:991-996.
    """
    view = C.view(ma, "funnel")
    return funnel_points(ma, study_points(view.studies), view.pooled.estimate, ax, contours=contours,
                         levels=levels, pseudo_ci=pseudo_ci, xlim=xlim, fontsize=fontsize, greyscale=greyscale,
                         size=size)


def adjusted_lines(ma: Mapping) -> list:
    """The bias-adjusted estimates a funnel draws as lines (the selection model's and
    PET-PEESE's, when they ran): (name, value) pairs."""
    from .selection import adjusted_estimates

    return [a for a in adjusted_estimates(ma) if a[0].startswith(("Selection", "PET-PEESE"))]


def funnel_points(ma: Mapping, points: Sequence[tuple[float, float]], est: float | None, ax=None, *,
                  contours: bool = False, levels: Sequence[float] = (0.90, 0.95, 0.99), pseudo_ci: bool = True,
                  xlim: Sequence[float] | None = None, fontsize: float = FONT_SIZE, greyscale: bool = False,
                  size="single_column") -> FunnelArtists:
    """The funnel of ``points`` ((yi, se) on the analysis scale, drawn in their order) around
    the estimate ``est`` (None: no pooled line); ``ma`` gives only the measure, its scale and
    the bias-adjusted estimates (:func:`funnel` draws the studies and the pooled estimate;
    the trim-and-fill figure adds the filled studies and draws its own estimate)."""
    C.require(len(points) >= 3, ma, "funnel",
              f"at least 3 studies with an effect 'yi' and a standard error (it has {len(points)}): "
              "a funnel of fewer shows nothing")
    colours = palette(greyscale)
    log = C.is_log(ma)
    nat = C.natural(ma)
    null = 0.0
    small = fontsize * 0.93
    shown = adjusted_lines(ma)
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = min(w * 0.78, 110 / MM_PER_INCH)
            # every legend entry counted, the bias-adjusted lines too (they were not: the top row
            # of a 5-entry legend was cut off above the figure)
            n_leg = (2 if pseudo_ci else 1) + (len(levels) + 1 if contours else 0) + len(shown)
            rows = math.ceil(n_leg / 3)
            # 1.5 mm between the legend and the funnel's apex at the top (F15)
            margins = (11.0, 3.0, 9.0, 3.5 + rows * fontsize * 1.45 / PT_PER_INCH * MM_PER_INCH)
            h += (rows * fontsize * 1.45) / PT_PER_INCH + 1.5 / MM_PER_INCH
            _fig, ax = new_figure(w, h, margins)
        fig = ax.figure
        ax_w = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
        yi = [p[0] for p in points]
        se = [p[1] for p in points]
        z = NormalDist().inv_cdf(0.975)
        lv = sorted({float(x) for x in levels}, reverse=True) if contours else []
        z_lv = [NormalDist().inv_cdf(0.5 + x / 2) for x in lv]

        # y axis: standard error, 0 at the top
        y0, y1, yt, ylab = _scales.linear_ticks(0.0, max(se) * 1.02, 1e9, lambda s: 0.0,
                                                null=0.0, symmetric=False, max_ticks=6)
        ymax = y1
        # x range (analysis scale): the studies, the funnel's mouth, the contours
        xs = list(yi)
        if not fmt.is_missing(est) and pseudo_ci:
            xs += [est - z * ymax, est + z * ymax]
        if z_lv:
            xs += [null - z_lv[0] * ymax, null + z_lv[0] * ymax]
        lo, hi = nat(min(xs)), nat(max(xs))
        if xlim is not None:
            lo, hi = xlim
        if log:
            ax.set_xscale("log")
            a, b, ticks, labels = _scales.log_ticks(lo, hi, ax_w, lambda s: text_width(s, small),
                                                    null=1.0, symmetric=False)
        else:
            a, b, ticks, labels = _scales.linear_ticks(lo, hi, ax_w,
                                                       lambda s: text_width(s, small),
                                                       null=0.0, symmetric=False)
        if xlim is not None:
            a, b = xlim
        ax.set_xlim(a, b)
        ax.set_xticks(ticks)
        ax.set_xticklabels(labels)
        ax.set_ylim(ymax, 0.0)
        ax.set_yticks(yt)
        ax.set_yticklabels(ylab)
        ax.minorticks_off()
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)

        handles = []
        shapes = []
        if z_lv:
            shades = list(colours["contour"])
            # outside the widest contour: the most significant region
            ax.set_facecolor(shades[-1])
            names = _contour_names(lv)
            for j, zj in enumerate(z_lv):
                poly = Polygon([(nat(null - zj * ymax), ymax), (nat(null), 0.0),
                                (nat(null + zj * ymax), ymax)], closed=True,
                               facecolor=shades[len(z_lv) - 1 - j], edgecolor="none", zorder=0)
                ax.add_patch(poly)
                shapes.append(poly)
            handles += [Patch(facecolor=shades[i], edgecolor="#000000", lw=0.4, label=n)
                        for i, n in enumerate(names)]
        ax.axvline(nat(null), color=colours["null_soft"], lw=0.6, ls=(0, (1, 1.5)), zorder=1)
        pseudo = ()
        est_line = None
        if not fmt.is_missing(est):
            est_line = ax.add_line(Line2D([nat(est), nat(est)], [0, ymax], lw=0.8,
                                          color=colours["pooled"], zorder=2))
            handles.insert(0, Line2D([], [], lw=0.8, color=colours["pooled"],
                                     label=f"Pooled {C.measure_names(ma)[1]}"))
            if pseudo_ci:
                left = ax.add_line(Line2D([nat(est), nat(est - z * ymax)], [0, ymax], lw=0.7,
                                          ls=(0, (4, 2)), color=colours["funnel_line"], zorder=2))
                right = ax.add_line(Line2D([nat(est), nat(est + z * ymax)], [0, ymax], lw=0.7,
                                           ls=(0, (4, 2)), color=colours["funnel_line"], zorder=2))
                pseudo = (left, right)
                handles.insert(1, Line2D([], [], lw=0.7, ls=(0, (4, 2)),
                                         color=colours["funnel_line"], label="95% pseudo-CI"))
        pts = ax.scatter([nat(v) for v in yi], se, s=(0.55 * fontsize) ** 2,
                         color=colours["point"] if contours else colours["study"],
                         edgecolors="white", linewidths=0.3, zorder=4, clip_on=False)
        for (name, value), dash in zip(shown, ((0, (3, 1.5)), (0, (1, 1)))):
            ax.add_line(Line2D([nat(value)] * 2, [0, ymax], lw=0.8, ls=dash, color=colours["pooled"], zorder=2))
            handles.append(Line2D([], [], lw=0.8, ls=dash, color=colours["pooled"], label=name.split(" (")[0]
                                  .replace("Selection", "Selection model")))
        long, _short = C.measure_names(ma)
        ax.set_xlabel(long + (" (log scale)" if log else ""), fontsize=fontsize)
        ax.set_ylabel("Standard error", fontsize=fontsize)
        ax.tick_params(labelsize=small)
        # above the axes, never over a study
        pad = 1.5 / MM_PER_INCH / (ax.get_position().height * fig.get_size_inches()[1])
        legend = ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0 + pad),
                           ncol=min(3, len(handles)), fontsize=small, frameon=False,
                           borderaxespad=0.2, handlelength=1.8, borderpad=0.2,
                           labelspacing=0.25, columnspacing=1.2) if handles else None
        return FunnelArtists(figure=fig, ax=ax, points=pts, estimate=est_line, pseudo_ci=pseudo,
                             contours=tuple(shapes), legend=legend)


def _contour_names(levels: Sequence[float]) -> list[str]:
    """Legend labels from the widest-p to the smallest-p region: ``p > 0.10``,
    ``0.05 < p ≤ 0.10``, ``0.01 < p ≤ 0.05``, ``p ≤ 0.01``."""
    ps = [f"{1 - x:.2f}" if round(1 - x, 2) == round(1 - x, 6) else fmt.general(round(1 - x, 6))
          for x in sorted(levels)]   # 0.10, 0.05, 0.01
    names = [f"p > {ps[0]}"]
    for a, b in zip(ps[1:], ps[:-1]):
        names.append(f"{a} < p \u2264 {b}")
    names.append(f"p \u2264 {ps[-1]}")
    return names

"""Diagnostic figures: the Baujat plot, the influence panel (metafor's ``plot(influence(res))``)
and the trim-and-fill funnel. Each draws ``sensitivity.influence`` / ``sensitivity.small_study``
of results.json and computes nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.lines import Line2D

from . import _common as C
from . import _scales
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._text import text_width, wrap
from .funnel import adjusted_lines, funnel_points, study_points


@dataclass(frozen=True, eq=False)
class PanelArtists:
    figure: object
    axes: tuple
    points: tuple
    labels: tuple = ()
    legend: object = None


def _influence_rows(ma, kind):
    """The pooled numbers and the rows of ``sensitivity.influence`` (InfluenceRow records)."""
    view = C.view(ma, kind)
    infl = view.get("influence")
    C.require(infl is not None and infl.rows, ma, kind, "sensitivity.influence (add influence to 'sensitivity:')")
    return view.pooled, infl.rows


def _place_labels(ax, pts, size):
    """Each study's label beside its point: the first of a few positions (right, above, below,
    left) that overprints no earlier label, no other point and stays inside the axes."""
    fig = ax.figure
    scale = fig.dpi / 72
    line = size * 1.25
    box = ax.get_window_extent()
    dots = [ax.transData.transform((x, y)) for x, y, _ in pts]
    placed, out = [], []
    for x, y, label in sorted(pts, key=lambda p: -p[1]):
        px, py = ax.transData.transform((x, y))
        w = text_width(label, size)
        best = None
        for dx, dy, ha in ((3, 1, "left"), (3, line * 0.7, "left"), (3, -line * 0.9, "left"), (-3, 1, "right"),
                           (-3, -line * 0.9, "right"), (3, line * 1.6, "left"), (3, -line * 1.8, "left"),
                           (-3, line * 0.7, "right"), (-3, line * 1.6, "right"), (-3, -line * 1.8, "right"),
                           (3, line * 2.5, "left"), (3, line * 3.4, "left"), (-3, line * 2.5, "right")):
            x0 = px + dx * scale - (w * scale if ha == "right" else 0)
            y0 = py + dy * scale
            rect = (x0, y0, x0 + w * scale, y0 + size * scale)
            clash = any(rect[0] < q[2] and q[0] < rect[2] and rect[1] < q[3] and q[1] < rect[3] for q in placed)
            clash |= any(rect[0] - 2 < ex < rect[2] + 2 and rect[1] - 2 < ey < rect[3] + 2
                         for ex, ey in dots if (ex, ey) != (px, py))
            inside = box.x0 <= rect[0] and rect[2] <= fig.bbox.x1 - 2 * scale and box.y0 <= rect[1] \
                and rect[3] <= box.y1
            if not clash and inside:
                best = (dx, dy, ha, rect)
                break
        if best is None:  # nothing free: beside the point, on the side with room in the figure
            if px + (3 + w) * scale > fig.bbox.x1 - 2 * scale:
                best = (-3, 1, "right", (px - w * scale, py, px, py + size * scale))
            else:
                best = (3, 1, "left", (px, py, px + w * scale, py + size * scale))
        dx, dy, ha, rect = best
        placed.append(rect)
        far = abs(dy) > line  # a label moved off its point gets a thin leader line
        out.append(ax.annotate(label, (x, y), xytext=(dx, dy), textcoords="offset points", ha=ha, va="bottom",
                               fontsize=size, zorder=4,
                               arrowprops={"arrowstyle": "-", "lw": 0.3, "color": "#7F7F7F",
                                           "shrinkA": 0, "shrinkB": 2} if far else None))
    return tuple(out)


def baujat(ma: Mapping, ax=None, *, labels: str | None = "ids", fontsize: float = FONT_SIZE, greyscale: bool = False,
           size="single_column") -> PanelArtists:
    """Baujat plot (Baujat et al. 2002; metafor's ``baujat()``): each study's contribution to
    the heterogeneity, (y_i - mu)² / (v_i + tau²), against its influence on the pooled result,
    (mu_(-i) - mu)² / vb_(-i); studies flagged influential by metafor's rule in the accent colour.

    ``labels``: ``"ids"`` (default, as metafor): each point numbered by the study's row in the
    forest plot (the numbers of the influence panel), with the key of the numbers under the
    figure (F14); ``"labels"``: the study labels beside the points; None: none."""
    _pooled, rows = _influence_rows(ma, "baujat")
    colours = palette(greyscale)
    shown = [(r.baujat_x, r.baujat_y, str(i + 1) if labels == "ids" else r.label, r.influential)
             for i, r in enumerate(rows) if C.has(r.baujat_x) and C.has(r.baujat_y)]
    pts = [p[:3] for p in shown]
    influential = [p[3] for p in shown]
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = min(w * 0.8, 100 / MM_PER_INCH)
            key_h = 0.0
            if labels == "ids":
                key_lines, key_h = _key(rows, w, fontsize)
            _fig, ax = new_figure(w, h + key_h, (12.0, 4.0, 9.0 + key_h * MM_PER_INCH, 6.0))
            if labels == "ids":
                _draw_key(_fig, key_lines, w, h + key_h, key_h, fontsize)
        fig = ax.figure
        ax_w = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
        ax_h = ax.get_position().height * fig.get_size_inches()[1] * PT_PER_INCH
        xs, ys = [p[0] for p in pts], [p[1] for p in pts]
        cols = [colours["bayes"] if f else colours["study"] for f in influential]
        sc = ax.scatter(xs, ys, s=(0.6 * fontsize) ** 2, c=cols, edgecolors="white", linewidths=0.3, zorder=3,
                        clip_on=False)
        xa, xb, xt, xl = _scales.linear_ticks(0.0, max(xs) * 1.08, ax_w, lambda s: text_width(s, fontsize * 0.93),
                                              null=0.0, symmetric=False)
        ya, yb, yt, yl = _scales.linear_ticks(0.0, max(ys) * 1.08, ax_h, lambda s: fontsize * 1.2, null=0.0,
                                              symmetric=False)
        # a margin below 0 and left of it, so that points on an axis and their labels stay clear of it
        ax.set_xlim(xa - 0.02 * (xb - xa), xb), ax.set_ylim(ya - 0.08 * (yb - ya), yb)
        ax.set_xticks(xt), ax.set_xticklabels(xl), ax.set_yticks(yt), ax.set_yticklabels(yl)
        texts = []
        if labels:
            texts = _place_labels(ax, pts, fontsize * 0.8)
        fe = C.method(ma) in ("FE", "MH", "PETO")
        ax.set_xlabel("Contribution to overall heterogeneity" if fe else "Squared Pearson residual",
                      fontsize=fontsize)
        ax.set_ylabel("Influence on overall result", fontsize=fontsize)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        ax.tick_params(labelsize=fontsize * 0.93)
        legend = None
        if any(influential):
            handles = [Line2D([], [], marker="o", ls="", ms=0.6 * fontsize, color=colours["study"], label="Study"),
                       Line2D([], [], marker="o", ls="", ms=0.6 * fontsize, color=colours["bayes"],
                              label="Influential (metafor's rule)")]
            legend = ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                               fontsize=fontsize * 0.93, frameon=False, borderaxespad=0.2)
        return PanelArtists(fig, (ax,), (sc,), tuple(texts), legend)


#: the eight statistics of metafor's plot(influence(res)), with their reference lines
PANELS = (("rstudent", "Studentized residual"), ("dffits", "DFFITS"), ("cook_d", "Cook's distance"),
          ("cov_r", "Covariance ratio"), ("tau2_del", "\u03c4\u00b2 deleted"), ("qe_del", "QE deleted"),
          ("hat", "Hat value"), ("weight", "Weight (%)"))


def _key(rows, w, fontsize):
    """The key of the study numbers ("Studies: 1 Aronson 1948; 2 ..."), wrapped to the width
    ``w`` (inches), and its height in inches."""
    text = "Studies: " + "; ".join(f"{i} {r.label or r.trial or ''}".strip()
                                   for i, r in enumerate(rows, 1))
    lines = wrap(text, w * PT_PER_INCH - 2 * 4.0, fontsize * 0.85)
    return lines, (len(lines) * 1.2 * fontsize * 0.85 + 2.0) / PT_PER_INCH


def _draw_key(fig, lines, w, h, key_h, fontsize):
    for n, line in enumerate(lines):
        fig.text(4.0 / PT_PER_INCH / w, (key_h * PT_PER_INCH - (n + 1) * 1.2 * fontsize * 0.85) / PT_PER_INCH / h,
                 line, fontsize=fontsize * 0.85, ha="left", va="bottom")


def influence_panel(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
                    size="double_column") -> PanelArtists:
    """Influence panel (metafor's ``plot(influence(res))``): each of the eight statistics by
    study, studies flagged influential in the accent colour, with metafor's reference lines
    (±1.96 for residuals, 3 sqrt(1/(k-1)) for DFFITS, the chi²_1 median for Cook's distance,
    1 for the covariance ratio, the full tau² and QE, 3/k for hat values and 100/k for weights).
    ``ax`` is ignored (the panel makes its own figure of 8 axes)."""
    pooled, rows = _influence_rows(ma, "influence")
    colours = palette(greyscale)
    k = len(rows)
    refs = {"rstudent": (-1.959964, 1.959964), "dffits": (3 * math.sqrt(1 / max(k - 1, 1)),),
            "cook_d": (0.454936,), "cov_r": (1.0,), "tau2_del": (pooled.tau2,), "qe_del": (pooled.q,),
            "hat": (3 / k,), "weight": (100 / k,)}
    panels = [p for p in PANELS if any(C.has(getattr(r, p[0])) for r in rows)]
    with rc_context(rc(fontsize)):
        w = width_inches(size)
        nrow = math.ceil(len(panels) / 2)
        h = min(nrow * 1.25 * fontsize * 10 / PT_PER_INCH, 230 / MM_PER_INCH)
        # the key of the study numbers under the panels (F14), wrapped to the width
        key_lines, key_h = _key(rows, w, fontsize)
        h += key_h
        fig, ax0 = new_figure(w, h, (12.0, 3.0, 9.0 + key_h * MM_PER_INCH, 6.0))
        _draw_key(fig, key_lines, w, h, key_h, fontsize)
        ax0.set_visible(False)
        axes, points = [], []
        gs = fig.add_gridspec(nrow, 2, left=ax0.get_position().x0, right=ax0.get_position().x1,
                              bottom=ax0.get_position().y0, top=ax0.get_position().y1, hspace=0.55, wspace=0.28)
        x = list(range(1, k + 1))
        for j, (key, title) in enumerate(panels):
            ax = fig.add_subplot(gs[j // 2, j % 2])
            vals = [getattr(r, key) for r in rows]
            xs = [xi for xi, v in zip(x, vals) if C.has(v)]
            ys = [v for v in vals if C.has(v)]
            infl = [r.influential for r, v in zip(rows, vals) if C.has(v)]
            ax.plot(xs, ys, color=colours["null_soft"], lw=0.5, zorder=1)
            points.append(ax.scatter(xs, ys, s=(0.45 * fontsize) ** 2, zorder=3,
                                     c=[colours["bayes"] if f else colours["study"] for f in infl]))
            for ref in refs.get(key, ()):
                if C.has(ref):
                    ax.axhline(ref, color=colours["null_soft"], lw=0.5, ls=(0, (3, 2)), zorder=0)
            ax.set_title(title, fontsize=fontsize, pad=2)
            ax.set_xlim(0.5, k + 0.5)
            # as many study numbers as fit side by side (never "10111213")
            panel_w = ax.get_position().width * w * PT_PER_INCH
            step = max(1, math.ceil(k * (text_width(str(k), fontsize * 0.8) + 3.0) / panel_w))
            ax.set_xticks(list(range(1, k + 1, step)))
            ax.tick_params(labelsize=fontsize * 0.8)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            if j // 2 == nrow - 1:
                ax.set_xlabel("Study (order of the forest plot)", fontsize=fontsize * 0.9)
            axes.append(ax)
        return PanelArtists(fig, tuple(axes), tuple(points))


def trim_fill(ma: Mapping, ax=None, *, contours: bool = False, fontsize: float = FONT_SIZE, greyscale: bool = False,
              size="single_column") -> PanelArtists:
    """Trim-and-fill funnel plot (metafor's ``funnel(trimfill(res))``): the studies (filled
    circles) and the k0 studies trim-and-fill imputes (open circles), with the pseudo-CI around
    the trim-and-fill estimate and the original estimate as a dotted line."""
    view = C.view(ma, "trim_fill")
    ss = view.get("small_study")
    tf = ss.trim_fill if ss is not None else None
    C.require(tf is not None, ma, "trim_fill",
              "sensitivity.small_study.trim_fill (add small_study to 'sensitivity:'; it runs at k >= 10 or with "
              "force: true)")
    colours = palette(greyscale)
    # the studies' points (StudyRow records), then the filled ones (the record's yi and vi)
    studies = study_points(view.studies)
    filled = [(float(f.yi), math.sqrt(f.vi)) for f in tf.filled or () if C.has(f.yi) and C.has(f.vi) and f.vi > 0]
    n = len(studies)
    if ax is None:  # the funnel's own size, with room for its legend (two columns) above it
        with rc_context(rc(fontsize)):
            w = width_inches(size)
            entries = (2 + len(adjusted_lines(ma)) + (1 if C.has(view.pooled.estimate) else 0) + (1 if filled else 0)
                       + (4 if contours else 0))
            rows = math.ceil(entries / 2)
            h = min(w * 0.78, 110 / MM_PER_INCH) + rows * fontsize * 1.45 / PT_PER_INCH
            _fig, ax = new_figure(w, h, (11.0, 3.0, 9.0, 2.0 + rows * fontsize * 1.45 / PT_PER_INCH * MM_PER_INCH))
    # around the trim-and-fill estimate; the original one is the dotted line drawn below
    art = funnel_points(ma, studies + filled, tf.estimate, ax, contours=contours, fontsize=fontsize,
                        greyscale=greyscale, size=size)
    with rc_context(rc(fontsize)):
        face = [colours["point"] if contours else colours["study"]] * n + ["white"] * len(filled)
        edge = ["white"] * n + [colours["study"]] * len(filled)
        art.points.set_facecolors(face)
        art.points.set_edgecolors(edge)
        art.points.set_linewidths([0.3] * n + [0.8] * len(filled))
        nat = C.natural(ma)
        orig = view.pooled.estimate
        handles = list(art.legend.legend_handles) if art.legend else []
        labels = [t.get_text() for t in art.legend.get_texts()] if art.legend else []
        if C.has(orig):
            ymax = art.ax.get_ylim()[0]
            art.ax.add_line(Line2D([nat(orig)] * 2, [0, ymax], lw=0.8, ls=(0, (1, 1.2)), color=colours["pooled"],
                                   zorder=2))
            handles.append(Line2D([], [], lw=0.8, ls=(0, (1, 1.2)), color=colours["pooled"]))
            labels.append("Original estimate")
        if labels and C.has(tf.estimate):  # the funnel's first entry: its pooled line
            labels[0] = f"Trim-and-fill {C.measure_names(ma)[1]} (k0 = {tf.k0}, {tf.side})"
        if filled:
            handles.append(Line2D([], [], marker="o", ls="", ms=0.55 * fontsize, mfc="white",
                                  mec=colours["study"], mew=0.8))
            labels.append("Filled study")
        if art.legend:
            art.legend.remove()
        legend = art.ax.legend(handles, labels, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2,
                               fontsize=fontsize * 0.93, frameon=False, borderaxespad=0.2, handlelength=1.8)
        return PanelArtists(art.figure, (art.ax,), (art.points,), (), legend)

"""Meta-regression bubble plot: each study's effect against a continuous moderator, the
circle's area proportional to its weight in the meta-regression, with the fitted line, its
confidence band and the prediction band (metafor's ``regplot``). Draws the numbers of
``meta_regression`` (its ``studies`` and ``curve``); computes nothing."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _common as C
from . import _format as fmt
from . import _scales
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._text import text_width


@dataclass(frozen=True, eq=False)
class BubbleArtists:
    """What :func:`bubble` drew: the study ``points`` (one PathCollection, in the order of
    ``meta_regression.studies``), the fitted ``line``, the ``ci_band`` and ``pi_band``
    (None when absent) and the ``legend``."""

    figure: object
    ax: object
    points: object
    line: object
    ci_band: object
    pi_band: object
    legend: object
    labels: tuple = ()


_UNITS = {"mg": "mg", "mgkg": "mg/kg", "kg": "kg", "ml": "mL", "years": "years", "yrs": "years", "days": "days",
          "weeks": "weeks", "months": "months", "hours": "hours", "min": "min", "pct": "%", "percent": "%"}


def _pretty(name: str) -> str:
    """A moderator's id as an axis title: ``dose_mg`` -> "Dose (mg)", ``age_years`` -> "Age
    (years)", ``latitude`` -> "Latitude" (F13; ``moderator_label=`` sets any title)."""
    words = str(name).split("_")
    if len(words) > 1 and words[-1].lower() in _UNITS:
        return f"{fmt.capitalise(' '.join(words[:-1]))} ({_UNITS[words[-1].lower()]})"
    return fmt.capitalise(" ".join(words))


def bubble(ma: Mapping, ax=None, *, moderator_label: str | None = None, prediction: bool = True,
           labels: bool = False, xlim: Sequence[float] | None = None, fontsize: float = FONT_SIZE,
           greyscale: bool = False, size="single_column") -> BubbleArtists:
    """Bubble plot of a meta-regression on one continuous moderator.

    The y axis is the effect on the natural scale (log axis for ratio measures), the x axis
    the moderator; the line is the fitted effect with its confidence band (dark) and, for
    random-effects models, the prediction band (light). Circle areas are proportional to the
    studies' weights (1 / (vi + tau²)).

    Parameters
    ----------
    moderator_label : the x-axis title (default: the moderator's name, capitalised).
    prediction : draw the prediction band.
    labels : write each study's label beside its circle.
    """
    view = C.view(ma, "bubble")
    reg = view.get("meta_regression")
    C.require(reg is not None and reg.studies, ma, "bubble", "meta_regression (add moderators:)")
    curve = reg.curve
    C.require(curve is not None, ma, "bubble",
              "a meta-regression on exactly one continuous moderator (categorical moderators have no line)")
    name = curve.moderator
    studies = reg.studies
    colours = palette(greyscale)
    log = C.is_log(ma)
    nat = C.natural(ma)
    small = fontsize * 0.93
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = min(w * 0.72, 100 / MM_PER_INCH) + fontsize * 1.45 / PT_PER_INCH
            rows = 2 if w < 5.0 else 1   # legend rows above the axes
            h += (rows - 1) * fontsize * 1.45 / PT_PER_INCH
            _fig, ax = new_figure(w, h, (12.0, 3.0, 9.0, 2.0 + rows * fontsize * 1.45 / PT_PER_INCH * MM_PER_INCH))
        fig = ax.figure
        ax_h = ax.get_position().height * fig.get_size_inches()[1] * PT_PER_INCH
        ax_w = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
        xs = [float(s.values[name]) for s in studies]
        ys = [nat(s.yi) for s in studies]
        wts = [float(s.weight) for s in studies]
        band_ci = band_pi = None
        handles = []
        has_pi = prediction and curve.pi_lower is not None
        if has_pi:
            band_pi = ax.fill_between(curve.x, [nat(v) for v in curve.pi_lower],
                                      [nat(v) for v in curve.pi_upper], color=colours["pi"], alpha=0.25,
                                      lw=0, zorder=1)
            handles.append(Patch(facecolor=colours["pi"], alpha=0.25, label="Prediction interval"))
        # the CI as dashed bounds over the prediction band, so no blended colour appears that
        # matches neither legend entry (F13)
        band_ci = tuple(ax.add_line(Line2D(curve.x, [nat(v) for v in bound], color=colours["pooled"], lw=0.7,
                                           ls=(0, (3, 2)), zorder=2)) for bound in (curve.ci_lower, curve.ci_upper))
        handles.insert(0, Line2D([], [], lw=0.7, ls=(0, (3, 2)), color=colours["pooled"],
                                 label=f"{fmt.level_label(C.level(ma))} CI"))
        line = ax.add_line(Line2D(curve.x, [nat(v) for v in curve.estimate], lw=1.0,
                                  color=colours["pooled"], zorder=3))
        handles.insert(0, Line2D([], [], lw=1.0, color=colours["pooled"], label="Fitted effect"))
        wmax = max(wts) if wts else 1.0
        # area proportional to weight; the heaviest study 5 mm across
        sizes = [(5.0 / MM_PER_INCH * PT_PER_INCH) ** 2 * w / wmax for w in wts]
        pts = ax.scatter(xs, ys, s=sizes, facecolors=colours["study"], edgecolors="white", linewidths=0.4,
                         alpha=0.85, zorder=4, clip_on=False)
        ax.axhline(nat(0.0), color=colours["null_soft"], lw=0.6, ls=(0, (1, 1.5)), zorder=0)
        yvals = ys + [nat(v) for v in curve.ci_lower + curve.ci_upper]
        if has_pi:
            yvals += [nat(v) for v in curve.pi_lower + curve.pi_upper]
        lo, hi = min(yvals), max(yvals)
        if log:
            ax.set_yscale("log")
            a, b, ticks, tlabels = _scales.log_ticks(lo, hi, ax_h, lambda s: fontsize * 1.2, null=1.0,
                                                     symmetric=False)
        else:
            a, b, ticks, tlabels = _scales.linear_ticks(lo, hi, ax_h, lambda s: fontsize * 1.2, null=0.0,
                                                        symmetric=False)
        ax.set_ylim(a, b)
        ax.set_yticks(ticks)
        ax.set_yticklabels(tlabels)
        x0, x1 = min(xs), max(xs)
        pad = 0.04 * (x1 - x0 or 1.0)
        xa, xb, xt, xl = _scales.linear_ticks(x0 - pad, x1 + pad, ax_w, lambda s: text_width(s, small), null=x0,
                                              symmetric=False)
        if xlim is not None:
            xa, xb = xlim
        ax.set_xlim(xa, xb)
        ax.set_xticks(xt)
        ax.set_xticklabels(xl)
        ax.minorticks_off()
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        texts = []
        if labels:
            for s, x, y, sz in zip(studies, xs, ys, sizes):
                texts.append(ax.annotate(s.label, (x, y), xytext=(math.sqrt(sz) / 2 + 1.5, 0),
                                         textcoords="offset points", fontsize=small * 0.9, va="center", zorder=5))
        long, _short = C.measure_names(ma)
        ax.set_xlabel(moderator_label or _pretty(name), fontsize=fontsize)
        ax.set_ylabel(long + (" (log scale)" if log else ""), fontsize=fontsize)
        ax.tick_params(labelsize=small)
        handles.append(Line2D([], [], marker="o", ls="", ms=5.0 / MM_PER_INCH * PT_PER_INCH * 0.7,
                              markerfacecolor=colours["study"], markeredgecolor="white", alpha=0.85,
                              label="Study (area \u221d weight)"))
        legend = ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                           ncol=min(len(handles), 2 if fig.get_size_inches()[0] < 5.0 else 4),
                           fontsize=small, frameon=False, borderaxespad=0.2, handlelength=1.6, borderpad=0.2,
                           columnspacing=1.0)
        return BubbleArtists(fig, ax, pts, line, band_ci, band_pi, legend, tuple(texts))

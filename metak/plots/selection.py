"""The publication-bias figure: the estimated selection function (relative probability of
publication by p-value) beside the unadjusted and bias-adjusted pooled estimates (selection
model, PET, PEESE, the conditional PET-PEESE), from results.json's ``sensitivity.selection_model``
and ``sensitivity.pet_peese``."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
from matplotlib import rc_context
from matplotlib.ticker import FixedLocator, FormatStrFormatter, NullLocator

from . import _common as C
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, palette, rc, width_inches

NAMES = {"stepfun": "step function", "beta": "beta", "halfnorm": "half-normal", "negexp": "negative exponential",
         "logistic": "logistic", "power": "power"}


@dataclass(frozen=True)
class SelectionArtists:
    figure: object
    ax_weights: object
    ax_estimates: object


def selection_curve(sm, n: int = 400):
    """p-values and the fitted w(p) of a selection_model result (its record, or its results.json
    value), steps drawn as steps."""
    from metak.sensitivity.selection_lik import step_weight, weight
    from metak.typed import record_of

    sm = record_of("selection_model", sm)
    delta = np.array([1.0 if d is None else d for d in sm.delta], float)
    if sm.type == "stepfun":
        steps = np.asarray(sm.steps, float)
        p = np.sort(np.r_[np.linspace(1e-4, 1, n), steps, np.maximum(steps - 1e-9, 0)])
        return p, step_weight(p, delta, steps)
    steps = (0.0, 1.0) if sm.type == "beta" else tuple(sm.steps or (0.0,))
    p = np.linspace(1e-4, 1 - 1e-4, n)
    return p, weight(sm.type, p, delta, steps)


def _estimates(ma):
    view = C.view(ma, "selection_model")
    rows = []
    p = view.pooled
    if C.has(p.estimate):
        rows.append(("Unadjusted", p.estimate, p.ci_lower, p.ci_upper))
    sm = view.get("selection_model")
    if sm is not None and C.has(sm.estimate):
        rows.append((f"Selection ({NAMES.get(sm.type, sm.type)})", sm.estimate, sm.ci_lower, sm.ci_upper))
    pp = view.get("pet_peese")
    if pp is not None and C.has(pp.estimate):
        for fit, name in ((pp.pet, "PET"), (pp.peese, "PEESE")):
            # the record keeps PET's and PEESE's fits as objects of estimate, se, p_value (no CI)
            fit = fit or {}
            rows.append((name, fit.get("estimate"), fit.get("ci_lower"), fit.get("ci_upper")))
        rows.append((f"PET-PEESE ({pp.chosen.upper()})", pp.estimate, pp.ci_lower, pp.ci_upper))
    return rows


def adjusted_estimates(ma: Mapping):
    """(label, estimate) of the bias-adjusted estimates in a meta-analysis, for the funnel."""
    return [(name, est) for name, est, _, _ in _estimates(ma)[1:] if C.has(est)]


def selection(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
              size="single_column") -> SelectionArtists:
    """Left: the selection function w(p) with the p-value cut-points and the number of studies
    in each interval; right: the pooled estimate unadjusted and adjusted, with CIs."""
    view = C.view(ma, "selection_model")
    sm = view.get("selection_model")
    C.require(sm is not None and C.has(sm.estimate), ma, "selection_model",
              "a fitted sensitivity.selection_model (sensitivity: [{selection_model: {...}}])")
    colours = palette(greyscale)
    nat = C.natural(ma)
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            fig, ax = new_figure(w, min(w * 0.5, 75 / MM_PER_INCH) + 0.35, (11.0, 3.0, 10.0, 4.0))
        fig = ax.figure
        box = ax.get_position()
        ax.set_position([box.x0, box.y0, box.width * 0.46, box.height])
        ax2 = fig.add_axes([box.x0 + box.width * 0.56, box.y0, box.width * 0.44, box.height])
        p, wgt = selection_curve(sm)
        ax.plot(p, wgt, color=colours["pooled"], lw=1.1)
        ax.axhline(1.0, color=colours["null_soft"], lw=0.6, ls=(0, (4, 2)))
        if sm.type == "stepfun":
            for s in sm.steps[:-1]:
                ax.axvline(s, color=colours["null_soft"], lw=0.5, ls=":")
            counts = ", ".join(str(c) for c in sm.p_counts or ())
            ax.set_title(f"Studies per p-value interval: {counts}", fontsize=fontsize * 0.8, loc="left")
        ax.set_xlim(0, 1)
        ax.set_ylim(0, max(float(np.nanmax(wgt)), 1.0) * 1.18)
        ax.set_xlabel(f"p-value ({sm.alternative.replace('.', '-')})")
        ax.set_ylabel("Relative probability of publication")
        rows = [r for r in _estimates(ma) if C.has(r[1])]
        ys = np.arange(len(rows))[::-1].astype(float)
        values = []
        for y, (name, est, lo, hi) in zip(ys, rows):
            colour = colours["pooled"] if name == "Unadjusted" else colours.get("study", colours["pooled"])
            pts = [nat(x) for x in (lo, hi) if C.has(x)]
            if len(pts) == 2:
                ax2.plot(pts, [y, y], color=colour, lw=0.9)
            ax2.plot([nat(est)], [y], marker="s" if name == "Unadjusted" else "D", ms=3.5, color=colour)
            ax2.text(0.0, y + 0.22, name, transform=ax2.get_yaxis_transform(), fontsize=fontsize * 0.8,
                     va="bottom", ha="left")
            values += [nat(est), *pts]
        ax2.axvline(nat(0.0), color=colours["null"], lw=0.6)
        values.append(nat(0.0))
        ax2.set_yticks([])
        ax2.spines["left"].set_visible(False)
        ax2.set_ylim(-0.6, len(rows) - 0.1)
        lo, hi = min(values), max(values)
        if C.is_log(ma):
            ax2.set_xscale("log")
            ax2.set_xlim(lo / 1.15, hi * 1.15)
            nice = [t for t in (0.1, 0.2, 0.25, 0.5, 1, 1.5, 2, 3, 4, 5, 10, 20) if lo / 1.15 <= t <= hi * 1.15]
            ax2.xaxis.set_major_locator(FixedLocator(nice))
            ax2.xaxis.set_minor_locator(NullLocator())
            ax2.xaxis.set_major_formatter(FormatStrFormatter("%g"))
        else:
            pad = 0.08 * (hi - lo or 1.0)
            ax2.set_xlim(lo - pad, hi + pad)
        long, _ = C.measure_names(ma)
        ax2.set_xlabel(long + (" (log scale)" if C.is_log(ma) else ""))
        for a in (ax, ax2):
            for side in ("top", "right"):
                a.spines[side].set_visible(False)
            a.tick_params(labelsize=fontsize * 0.9)
    return SelectionArtists(fig, ax, ax2)

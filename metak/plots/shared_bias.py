"""Figures of the shared-bias model (``sensitivity.blinding.shared_bias``, contract §6.3):
the bias-corrected estimate beside the naive and the independent-bias ones, and the mean
bias beta's prior and posterior."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.lines import Line2D

from . import _common as C
from . import _scales
from ._style import FONT_SIZE, palette, rc
from .bias import SHORT, _axes, _finish


@dataclass(frozen=True)
class SharedArtists:
    figure: object
    ax: object
    rows: tuple = ()
    legend: object = None


def _blinding(ma, kind):
    """The blinding record (:class:`metak.sensitivity.blinding_record.BlindingResult`), or None."""
    view = C.view(ma, kind)
    return view.get("blinding")


def _shared(ma, kind):
    """The shared-bias model's record (``BlindingResult.shared_bias``: a ``SharedBias``), or
    None when blinding did not run or ran without ``bias_model: shared``."""
    blind = _blinding(ma, kind)
    return (blind.shared_bias or None) if blind is not None else None


def _scale_name(ma):
    m = C.measure(ma) or "analysis"
    return f"log {m}" if C.is_log(ma) else m


def shared_bias(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
                size="single_column") -> SharedArtists:
    """The pooled estimate and interval of all trials unadjusted, with each not adequately
    blinded trial's bias subtracted independently (bias_adjusted), under the shared-bias model
    (REML) and its exact posterior (median and credible interval), top to bottom."""
    sb = _shared(ma, "shared_bias")
    C.require(sb is not None, ma, "shared_bias",
              "sensitivity.blinding.shared_bias (add {blinding: {bias_model: shared}} to 'sensitivity:')")
    colours = palette(greyscale)
    nat = C.natural(ma)
    lv = f"{C.level(ma):.0%}"
    # (label, estimate, ci_lower, ci_upper, colour), top to bottom
    rows = [("All trials, unadjusted", *_interval(sb.naive), colours["pooled"])]
    ind = sb.independent
    if ind:
        rows.append((f"Independent bias ({SHORT.get(ind.source, ind.source)})", *_interval(ind), colours["pooled"]))
    rows.append((f"Shared bias (REML, {sb.beta_mode} β)", *_interval(sb), colours["bayes"]))
    if sb.bayes:
        mu = sb.bayes.mu
        rows.append(("Shared bias (Bayes, median)", mu.median, mu.ci_lower, mu.ci_upper, colours["bayes"]))
    rows = [r for r in rows if C.has(r[1])]
    C.require(bool(rows), ma, "shared_bias", "an estimate in sensitivity.blinding.shared_bias")
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        drawn = []
        n = len(rows)
        for i, (_, est, lo, hi, col) in enumerate(rows):
            yv = n - i
            drawn.append(ax.plot([nat(lo), nat(hi)], [yv, yv], lw=1.1, color=col, solid_capstyle="butt")[0])
            ax.plot([nat(est)], [yv], marker="s" if i < 2 else "D", ms=4.2, color=col, ls="")
        ax.axvline(nat(0.0), color=colours["null"], lw=0.6, zorder=0)
        from matplotlib.transforms import blended_transform_factory

        tr = blended_transform_factory(ax.transAxes, ax.transData)
        for i, (lab, est, lo, hi, _) in enumerate(rows):
            ax.text(0.0, n - i + 0.22, f"{lab}: {nat(est):.2f} [{nat(lo):.2f}, {nat(hi):.2f}]", transform=tr,
                    fontsize=fontsize * 0.93, va="bottom", ha="left")
        ax.set_yticks([])
        ax.set_ylim(0.5, n + 0.75)
        _x_axis(ax, ma, [nat(v) for _, _, lo, hi, _ in rows for v in (lo, hi)] + [nat(0.0)], fontsize)
        long, _ = C.measure_names(ma)
        ax.set_xlabel(f"{long} ({lv} CI / CrI)", fontsize=fontsize)
        handles = [Line2D([], [], marker="s", ls="", ms=4.2, color=colours["pooled"], label="Unadjusted / independent"),
                   Line2D([], [], marker="D", ls="", ms=4.2, color=colours["bayes"], label="Shared bias model")]
        legend = _finish(ax, handles, fontsize)
        ax.spines["left"].set_visible(False)
        ax.tick_params(axis="y", length=0)
        return SharedArtists(ax.figure, ax, tuple(drawn), legend)


def _interval(fit) -> tuple:
    """(estimate, ci_lower, ci_upper) of a fit record (naive, independent, shared)."""
    return fit.estimate, fit.ci_lower, fit.ci_upper


def _x_axis(ax, ma, values, fontsize):
    """Ticks as the tipping-point figure's y axis (log for ratio measures, the null included)."""
    from ._style import PT_PER_INCH
    from ._text import text_width

    w = ax.get_position().width * ax.figure.get_size_inches()[0] * PT_PER_INCH
    lo, hi = min(values), max(values)
    width = lambda s: text_width(s, fontsize * 0.93)
    if C.is_log(ma):
        ax.set_xscale("log")
        a, b, ticks, labels = _scales.log_ticks(lo, hi, w, width, null=1.0, symmetric=False)
    else:
        a, b, ticks, labels = _scales.linear_ticks(lo, hi, w, width, null=0.0, symmetric=False)
    ax.set_xlim(a, b)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.minorticks_off()


def bias_posterior(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
                   size="single_column") -> SharedArtists:
    """The prior (dashed) and exact posterior (solid) density of beta, the mean bias of the
    trials not adequately blinded, on the analysis scale."""
    sb = _shared(ma, "bias_posterior")
    bay = sb.bayes if sb is not None else None
    C.require(bay is not None and bool(bay.beta.density), ma, "bias_posterior",
              "the Bayesian shared-bias model (bias_model: shared with a bayes: block and a prior for beta)")
    colours = palette(greyscale)
    b = bay.beta
    d = b.density
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        post = ax.plot(d.x, d.posterior, lw=1.1, color=colours["bayes"])[0]
        prior = ax.plot(d.x, d.prior, lw=0.9, ls=(0, (3, 2)), color=colours["pooled"])[0]
        ax.axvline(0.0, color=colours["null"], lw=0.6, zorder=0)
        ax.set_ylim(0, 1.08 * max(max(d.posterior), max(d.prior)))
        ax.set_xlim(d.x[0], d.x[-1])
        ax.set_xlabel(f"Mean bias β in trials not adequately blinded ({_scale_name(ma)} scale)", fontsize=fontsize)
        ax.set_ylabel("Density", fontsize=fontsize)
        handles = [Line2D([], [], lw=0.9, ls=(0, (3, 2)), color=colours["pooled"], label="Prior"),
                   Line2D([], [], lw=1.1, color=colours["bayes"],
                          label=f"Posterior, median {b.median:.2f} [{b.ci_lower:.2f}, {b.ci_upper:.2f}]"
                          .replace("-", "\u2212"))]
        legend = _finish(ax, handles, fontsize)
        return SharedArtists(ax.figure, ax, (post, prior), legend)


def cgrc(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
         size="single_column") -> SharedArtists:
    """The Correct Guess Rate Curve of each trial with outcomes by arm x guess: the effect
    (and CI band) had the correct guess rate been c, the chance rate 0.5 (dashed) and each
    trial's observed rate (open circle)."""
    blind = _blinding(ma, "cgrc")
    cg = blind.cgrc if blind is not None else None
    trials = [t for t in (cg.trials if cg else ()) if t.curve]
    C.require(bool(trials), ma, "cgrc", "outcomes by arm x guess (by_guess) in the trial records, and blinding")
    colours = palette(greyscale)
    cycle = [colours["pooled"], colours["bayes"], colours.get("null_soft", "0.5")]
    nat = C.natural(ma)
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        lines, vals, handles = [], [nat(0.0)], []
        for i, t in enumerate(trials):
            col = cycle[i % len(cycle)]
            pts = [p for p in t.curve if C.has(p.estimate)]
            x = [p.cgr for p in pts]
            lo, hi = [nat(p.ci_lower) for p in pts], [nat(p.ci_upper) for p in pts]
            ax.fill_between(x, lo, hi, color=col, alpha=0.15, lw=0)
            lines.append(ax.plot(x, [nat(p.estimate) for p in pts], lw=1.0, color=col)[0])
            ob = t.at_observed
            ax.plot([ob.cgr], [nat(ob.estimate)], "o", mfc="white", mec=col, ms=4)
            vals += lo + hi
            handles.append(Line2D([], [], lw=1.0, color=col, label=t.label or t.trial))
        ax.axvline(0.5, color=colours["null"], lw=0.6, ls=(0, (3, 2)))
        ax.axhline(nat(0.0), color=colours["null"], lw=0.6)
        from .bias import _y_axis

        _y_axis(ax, ma, vals, fontsize)
        ax.set_xlim(0, 1)
        ax.set_xlabel("Correct guess rate (0.5: chance, as if perfectly blinded)", fontsize=fontsize)
        long, _ = C.measure_names(ma)
        ax.set_ylabel(long + (" (log scale)" if C.is_log(ma) else ""), fontsize=fontsize)
        handles.append(Line2D([], [], marker="o", ls="", mfc="white", mec="0.3", ms=4, label="Observed rate"))
        legend = _finish(ax, handles, fontsize)
        return SharedArtists(ax.figure, ax, tuple(lines), legend)

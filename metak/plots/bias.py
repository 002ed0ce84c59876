"""Bias-analysis figures: the blinding forest, the tipping-point plot and the assumed-placebo-
effect plot. Each draws ``sensitivity.blinding`` / ``sensitivity.active_placebo`` of
results.json and computes nothing."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.lines import Line2D
from matplotlib.patches import Patch

from . import _common as C
from . import _format as fmt
from . import _scales
from ._figure import draw, new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists
from ._text import text_width, wrap

STATUS_TEXT = {"adequate": "Adequate", "compromised": "Compromised", "unknown": "Unknown"}


# --------------------------------------------------------------------------- blinding forest

def _num(v, digits):
    return f"{v:.{digits}f}".replace("-", "\u2212") if C.has(v) else "\u2013"


def build_blinding_forest(ma: Mapping, *, xlim: Sequence[float] | None = None, digits: int = 2,
                          arm_labels: Sequence[str] | None = None) -> Table:
    view = C.view(ma, "blinding_forest")
    b = view.get("blinding")
    C.require(b is not None and b.classification is not None, ma, "blinding_forest",
              "sensitivity.blinding with its classification (add blinding to 'sensitivity:')")
    status = {c.trial: c for c in b.classification}
    # F8: a figure where every trial is "unknown" with no Bang index carries no information
    C.require(any(c.status in ("adequate", "compromised") or any(C.has(v) for v in (c.bang or {}).values())
                  for c in b.classification), ma, "blinding_forest",
              "at least one trial whose blinding was judged adequate or compromised, or with a Bang index (every "
              "trial is 'unknown': the figure would carry no information)")
    nat = C.natural(ma)
    long, short = C.measure_names(ma)
    names = C.arm_names(ma, arm_labels)
    lv = C.level(ma)
    cols = [Column("label", "Study"), Column("status", "Blinding", "", "left"),
            Column("bang_e", "BI exp.", "", "right", 1),
            Column("bang_c", "BI ctrl", "Bang index", "right", 1, group_overflow=True),
            Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long,
                  favours=C.favours(ma, names), xlim=tuple(xlim) if xlim else None),
            Column("ci", f"{short} [{fmt.level_label(lv)} CI]", "", "right", group_overflow=True)]
    rows = []
    for i, r in enumerate(view.studies):
        c = status.get(r.trial)
        bang = (c.bang if c is not None else None) or {}
        st = c.status if c is not None else None
        cells = {"label": C.row_label(r, i), "status": STATUS_TEXT.get(st, "Unknown"),
                 "bang_e": _num(bang.get(r.experimental), digits),
                 "bang_c": _num(bang.get(r.control), digits)}
        lo, hi = C.row_ci(r, lv)
        if not C.has(r.yi):
            cells["ci"] = "not estimable"
            rows.append(Row("study", cells, {}, key=r.trial))
            continue
        cells["ci"] = fmt.effect_ci(nat(r.yi), nat(lo), nat(hi), digits, ratio=C.is_log(ma))
        shape = {"adequate": "dot", "compromised": "point"}.get(st, "open")
        rows.append(Row("study", cells, {"effect": (Mark(shape, nat(r.yi), nat(lo), nat(hi), "point"),)},
                        key=r.trial))
    rows.append(Row("blank", height=0.5))
    for restricted, src, label in ((True, b.restricted, "Adequate only"), (False, view.pooled, "All trials")):
        if src is None or not C.has(src.estimate):
            if restricted:
                rows.append(Row("pooled", {"label": label, "ci": "none"}, {}, bold=True, span=True))
            continue
        rows.append(Row("pooled", {
            "label": f"{label} (k = {src.k})",
            "ci": fmt.effect_ci(nat(src.estimate), nat(src.ci_lower), nat(src.ci_upper), digits,
                                ratio=C.is_log(ma))},
            {"effect": (Mark("diamond", nat(src.estimate), nat(src.ci_lower), nat(src.ci_upper),
                             "pooled", core=True),)}, bold=True, span=True))
    rule = b.rule.text if b.rule is not None else ""
    judged = [status.get(r.trial) for r in view.studies]
    seen = {c.status if c is not None and c.status in ("adequate", "compromised") else "unknown" for c in judged}
    key = "; ".join(text for st, text in (("adequate", "filled circle: adequate"),   # only the symbols drawn
                                          ("compromised", "small square: compromised"),
                                          ("unknown", "open circle: unknown")) if st in seen)
    footer = [Footer(f"Blinding rule \u2014 {rule}."),
              Footer(key[:1].upper() + key[1:] + "."),
              Footer("BI: Bang index of the arm's participants (1 all guessed their own arm, 0 random guessing).",
                     requires="bang_e")]
    return Table(tuple(cols), tuple(rows), tuple(footer))


def blinding_forest(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None, digits: int = 2,
                    arm_labels: Sequence[str] | None = None, fontsize: float = FONT_SIZE,
                    greyscale: bool = False, size="single_column") -> TableArtists:
    """Blinding forest plot: each study's effect beside its blinding status and the Bang index
    of both arms, with the pooled estimate of the adequately blinded trials above that of all
    trials (``sensitivity.blinding``). The classification rule is printed under the plot."""
    table = build_blinding_forest(ma, xlim=xlim, digits=digits, arm_labels=arm_labels)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)


# --------------------------------------------------------------------------- curves

@dataclass(frozen=True, eq=False)
class CurveArtists:
    """What a curve figure drew: the estimate ``line``, the CI ``band`` and the ``marks``
    (vertical lines or points of the published sources / the tipping point)."""

    figure: object
    ax: object
    line: object
    band: object
    marks: tuple = ()
    legend: object = None


def _axes(ax, fontsize, size):
    if ax is None:
        w = width_inches(size)
        h = min(w * 0.72, 100 / MM_PER_INCH) + fontsize * 1.45 / PT_PER_INCH
        _fig, ax = new_figure(w, h, (12.0, 3.0, 11.0, 2.0 + fontsize * 2.6 / PT_PER_INCH * MM_PER_INCH))
    return ax


def _y_axis(ax, ma, values, fontsize, core=None):
    """The y axis: ticks that fit; with ``core`` (estimates and the null), the range is theirs
    plus the intervals (``values``) up to once their spread beyond, so a k = 2 Knapp-Hartung
    band of 0.0001-100,000 is clipped at the axis instead of flattening the curve (S6/F4)."""
    fig = ax.figure
    ax_h = ax.get_position().height * fig.get_size_inches()[1] * PT_PER_INCH
    values = [v for v in values if v is not None]
    if core:
        lo, hi = _scales.data_range([v for v in core if v is not None], values, C.is_log(ma), stretch=1.0)
    else:
        lo, hi = min(values), max(values)
    if C.is_log(ma):
        ax.set_yscale("log")
        a, b, ticks, labels = _scales.log_ticks(lo, hi, ax_h, lambda s: fontsize * 1.2, null=1.0, symmetric=False)
    else:
        a, b, ticks, labels = _scales.linear_ticks(lo, hi, ax_h, lambda s: fontsize * 1.2, null=0.0,
                                                   symmetric=False)
    ax.set_ylim(a, b)
    ax.clipped = min(values) < a * (1 - 1e-9) or max(values) > b * (1 + 1e-9)
    ax.set_yticks(ticks)
    ax.set_yticklabels(labels)
    ax.minorticks_off()


def _x_axis(ax, x0, x1, fontsize):
    fig = ax.figure
    ax_w = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
    xa, xb, xt, xl = _scales.linear_ticks(x0, x1, ax_w, lambda s: text_width(s, fontsize * 0.93), null=None,
                                          symmetric=False)
    ax.set_xlim(xa, xb)
    ax.set_xticks(xt)
    ax.set_xticklabels(xl)


def _xlabel(ax, text, fontsize):
    """An x-axis title wrapped to the axes' width (never clipped: S2)."""
    fig = ax.figure
    width = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
    lines = wrap(text, width, fontsize)
    return ax.set_xlabel("\n".join(line.strip() for line in lines), fontsize=fontsize, linespacing=1.1)


def _finish(ax, handles, fontsize):
    if getattr(ax, "clipped", False):  # say so when the interval runs past the axis
        for h in handles:
            if h.get_label().endswith(" CI"):
                h.set_label(h.get_label() + " (clipped at the axis)")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)
    ax.tick_params(labelsize=fontsize * 0.93)
    narrow = ax.figure.get_size_inches()[0] < 5.0
    return ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0),
                     ncol=min(len(handles), 2 if narrow else 3),
                     fontsize=fontsize * 0.93, frameon=False, borderaxespad=0.2, handlelength=1.6, borderpad=0.2,
                     columnspacing=1.0)


SHORT = {"savovic2012": "Savovi\u0107 2012", "hrobjartsson2012": "Hr\u00f3bjartsson 2012",
         "hrobjartsson2014": "Hr\u00f3bjartsson 2014",
         "metablind2020_participants": "MetaBLIND 2020 (participants)",
         "metablind2020_double": "MetaBLIND 2020 (double blinding)",
         "metablind2020_pro_benefit": "MetaBLIND 2020 (patient-reported)"}


def _source_lines(ax, sources, colours, fontsize):
    """Dotted vertical lines at each source's shift, labelled beside the line; sources closer
    than a label's height share one label."""
    fig = ax.figure
    ax_w = ax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
    x0, x1 = ax.get_xlim()
    gap = (fontsize * 0.8 * 1.25) * (x1 - x0) / ax_w   # one rotated label's height, in data units
    groups: list[list] = []
    for e in sorted(sources, key=lambda e: e.shift):
        if groups and e.shift - groups[-1][-1].shift < gap:
            groups[-1].append(e)
        else:
            groups.append([e])
    out = []
    for g in groups:
        for e in g:
            out.append(ax.axvline(e.shift, color=colours["null_soft"], lw=0.6, ls=(0, (1, 1.5)), zorder=0))
        # sources of one study share its name: "MetaBLIND 2020 (participants; patient-reported)"
        parts: dict[str, list[str]] = {}
        for e in g:
            name = SHORT.get(e.source, e.source)
            head, _, qual = name.partition(" (")
            parts.setdefault(head, [])
            if qual:
                parts[head].append(qual.rstrip(")"))
        text = ", ".join(h + (f" ({'; '.join(q)})" if q else "") for h, q in parts.items())
        out.append(ax.annotate(text, (g[-1].shift, 1.0), xycoords=("data", "axes fraction"), rotation=90,
                               xytext=(1.5, -2), textcoords="offset points", ha="left", va="top",
                               fontsize=fontsize * 0.8, color=colours["text"],
                               bbox={"facecolor": "white", "edgecolor": "none", "alpha": 0.8, "pad": 0.6}))
    return out


def tipping_point(ma: Mapping, ax=None, *, sources: bool = True, fontsize: float = FONT_SIZE,
                  greyscale: bool = False, size="single_column") -> CurveArtists:
    """Tipping-point plot: the pooled estimate and its CI (band) when the trials not adequately
    blinded are shifted toward the null by an assumed bias b (x axis, analysis scale; no added
    variance), the null line, the tipping point (where the CI reaches the null) and, as dotted
    vertical lines, the bias each published meta-epidemiological estimate implies."""
    view = C.view(ma, "tipping_point")
    b = view.get("blinding")
    tip = b.tipping_point if b is not None else None
    C.require(tip is not None and tip.curve, ma, "tipping_point",
              "sensitivity.blinding.tipping_point with trials to shift (add blinding to 'sensitivity:')")
    colours = palette(greyscale)
    nat = C.natural(ma)
    pts = [p for p in tip.curve if C.has(p.estimate)]
    x = [p.bias for p in pts]
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        band = ax.fill_between(x, [nat(p.ci_lower) for p in pts], [nat(p.ci_upper) for p in pts],
                               color=colours["pooled"], alpha=0.22, lw=0, zorder=1)
        line = ax.add_line(Line2D(x, [nat(p.estimate) for p in pts], lw=1.0, color=colours["pooled"], zorder=3))
        ax.axhline(nat(0.0), color=colours["null"], lw=0.6, zorder=2)
        handles = [Line2D([], [], lw=1.0, color=colours["pooled"], label="Pooled estimate"),
                   Patch(facecolor=colours["pooled"], alpha=0.22, label=f"{fmt.level_label(C.level(ma))} CI")]
        marks = []
        ymin = min(nat(p.ci_lower) for p in pts)
        ymax = max(nat(p.ci_upper) for p in pts)
        _y_axis(ax, ma, [ymin, ymax, nat(0.0)], fontsize,
                core=[nat(p.estimate) for p in pts] + [nat(0.0)])
        _x_axis(ax, 0.0, x[-1], fontsize)
        if sources:
            marks += _source_lines(ax, [e for e in b.by_source or () if 0 <= e.shift <= x[-1]],
                                   colours, fontsize)
            if b.by_source:
                handles.append(Line2D([], [], lw=0.6, ls=(0, (1, 1.5)), color=colours["null_soft"],
                                      label="Published bias estimates"))
        if C.has(tip.bias):
            marks.append(ax.plot([tip.bias], [nat(0.0)], "o", ms=4.5, color=colours["bayes"], zorder=4)[0])
            ror = f", ROR {tip.ror:.2f}" if C.has(tip.ror) else ""
            handles.append(Line2D([], [], marker="o", ls="", ms=4.5, color=colours["bayes"],
                                  label=f"Tipping point b = {tip.bias:.2f}{ror}"))
        long, _ = C.measure_names(ma)
        ax.set_ylabel(long + (" (log scale)" if C.is_log(ma) else ""), fontsize=fontsize)
        scale = "log " + (C.measure(ma) or "") if C.is_log(ma) else (C.measure(ma) or "analysis") + " "
        _xlabel(ax, f"Assumed bias in trials not adequately blinded ({scale.strip()} scale)", fontsize)
        legend = _finish(ax, handles, fontsize)
        return CurveArtists(ax.figure, ax, line, band, tuple(marks), legend)


def assumed_effect(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
                   size="single_column") -> CurveArtists:
    """Assumed-placebo-effect plot: the pooled estimate and CI when the active placebo's own
    effect (x axis, analysis scale) is added back to the comparisons against it, with the
    unadjusted estimate as a dashed line. A band for three or more assumed values, error bars
    otherwise."""
    view = C.view(ma, "assumed_effect")
    ap = view.get("active_placebo")
    rows = ap.assumed_effect if ap is not None else None
    C.require(bool(rows), ma, "assumed_effect",
              "sensitivity.active_placebo.assumed_effect (add {active_placebo: {assumed_effect: ...}})")
    colours = palette(greyscale)
    nat = C.natural(ma)
    pts = sorted((p for p in rows if C.has(p.fit.estimate)), key=lambda p: p.effect)
    x = [p.effect for p in pts]
    with rc_context(rc(fontsize)):
        ax = _axes(ax, fontsize, size)
        est = [nat(p.fit.estimate) for p in pts]
        lo = [nat(p.fit.ci_lower) for p in pts]
        hi = [nat(p.fit.ci_upper) for p in pts]
        handles = []
        if len(pts) >= 3:
            band = ax.fill_between(x, lo, hi, color=colours["pooled"], alpha=0.22, lw=0, zorder=1)
            line = ax.add_line(Line2D(x, est, lw=1.0, color=colours["pooled"], zorder=3))
            handles += [Line2D([], [], lw=1.0, color=colours["pooled"], label="Pooled estimate"),
                        Patch(facecolor=colours["pooled"], alpha=0.22, label=f"{fmt.level_label(C.level(ma))} CI")]
        else:
            band = None
            line = ax.errorbar(x, est, yerr=[[e - a for e, a in zip(est, lo)], [b - e for e, b in zip(est, hi)]],
                               fmt="s", ms=4, color=colours["pooled"], lw=0.9, capsize=2.5, zorder=3)
            handles.append(Line2D([], [], marker="s", ms=4, lw=0.9, color=colours["pooled"],
                                  label=f"Pooled estimate, {fmt.level_label(C.level(ma))} CI"))
        ax.axhline(nat(0.0), color=colours["null"], lw=0.6, zorder=2)
        marks = []
        unadjusted = view.pooled.estimate
        if C.has(unadjusted):
            marks.append(ax.axhline(nat(unadjusted), color=colours["null_soft"], lw=0.7, ls=(0, (4, 2)), zorder=2))
            handles.append(Line2D([], [], lw=0.7, ls=(0, (4, 2)), color=colours["null_soft"], label="Unadjusted"))
        _y_axis(ax, ma, lo + hi + [nat(0.0)], fontsize,
                core=est + [nat(0.0)] + ([nat(unadjusted)] if C.has(unadjusted) else []))
        span = (x[-1] - x[0]) or max(abs(x[0]), 0.1)
        pad = 0.0 if len(pts) >= 3 else 0.15 * span   # error bars need room at the ends
        _x_axis(ax, x[0] - pad, x[-1] + pad, fontsize)
        long, _ = C.measure_names(ma)
        ax.set_ylabel(long + (" (log scale)" if C.is_log(ma) else ""), fontsize=fontsize)
        scale = "log " + (C.measure(ma) or "") if C.is_log(ma) else (C.measure(ma) or "analysis")
        k = pts[0].k_shifted if pts else 0
        _xlabel(ax, f"Assumed effect of the active placebo ({scale.strip()} scale; {k} comparison"
                    f"{'s' if k != 1 else ''} shifted)", fontsize)
        legend = _finish(ax, handles, fontsize)
        return CurveArtists(ax.figure, ax, line, band, tuple(marks), legend)

"""Figures of a network meta-analysis (results.json ``network``, contract §6.1): the network
graph, every treatment against the reference (frequentist and exact Bayesian side by side),
the league table, the node-split forest and the rankogram.

Each takes one meta-analysis of results.json (``plot(ma, ax=None, ...)``, as every registered
figure); :meth:`metak.network.NetworkFit.forest` passes ``{"network": fit.to_dict()}``. They read
the analysis as its record, :class:`metak.network.record.Network` (``view.get("network")`` of
``C.view(ma, kind)``), never its keys.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.lines import Line2D

from metak.format import effect
from metak.network.record import Network, Node

from . import _common as C
from . import _scales
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, OKABE_ITO, PT_PER_INCH, palette, rc, width_inches

#: measure -> the axis name of its natural scale
_NAMES = {"OR": "Odds ratio", "RR": "Risk ratio", "RD": "Risk difference", "MD": "Mean difference"}
#: one colour per treatment (rankogram), colour-blind safe; cycled past eight
_CYCLE = tuple(OKABE_ITO[k] for k in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple",
                                       "sky_blue", "black", "yellow"))
#: largest node marker diameter (pt) and widest edge (pt) of the network graph
NODE_MAX_PT = 26.0
EDGE_MAX_PT = 4.0
#: space between the interval axis and the text columns beside it (pt)
GAP_PT = 4.0


@dataclass(frozen=True)
class NetworkArtists:
    figure: object
    ax: object
    nodes: object = None          # the graph's PathCollection (sizes: marker areas, pt²)
    edges: tuple = ()             # the graph's edge lines, in the record's edge order
    rows: tuple = ()              # forest / node-split rows: (label, estimate, lower, upper) on the natural scale
    legend: object = None


def _net(ma, kind: str) -> Network:
    """The network record of ``ma`` (an AnalysisError when the network did not run or has no
    treatments; a :class:`metak.typed.ResultsMismatch` when its value does not fit the record)."""
    view = C.view(ma, kind)
    net = view.get("network")
    C.require(net is not None and bool(net.treatments), ma, kind, "a network: block (network meta-analysis)")
    return net


def _log(net: Network) -> bool:
    return str(net.measure).upper() in ("OR", "RR")


def _level(net: Network) -> str:
    return f"{float(net.level):.0%}"


def _nat(net):
    return (lambda v: None if v is None else math.exp(v)) if _log(net) else (lambda v: v)


def name(t: str) -> str:
    return str(t).replace("_", " ")


def _text_w(s: str, fontsize: float) -> float:
    return 0.56 * fontsize * len(s)   # DejaVu Sans digits and letters, on average (pt)


def _interval_axis(ax, values, log: bool, fontsize: float, null: float):
    """Limits and ticks of an effect axis holding ``values`` and the null."""
    width_pt = ax.get_position().width * ax.figure.get_size_inches()[0] * PT_PER_INCH
    vals = [v for v in values if v is not None and math.isfinite(v) and (v > 0 or not log)] + [null]
    lo, hi = min(vals), max(vals)
    if log:
        ax.set_xscale("log")
        a, b, ticks, labels = _scales.log_ticks(lo, hi, width_pt, lambda s: _text_w(s, fontsize), null=null,
                                                symmetric=False)
    else:
        a, b, ticks, labels = _scales.linear_ticks(lo, hi, width_pt, lambda s: _text_w(s, fontsize), null=null,
                                                   symmetric=False)
    ax.set_xlim(a, b)
    ax.set_xticks(ticks)
    ax.set_xticklabels(labels)
    ax.minorticks_off()
    ax.axvline(null, color="#000000", lw=0.6, zorder=1)
    for side in ("top", "right", "left"):
        ax.spines[side].set_visible(False)
    ax.set_yticks([])


def _rows_figure(rows, ax, fontsize, size, label_w_pt, text_w_pt, legend_rows=1):
    """A figure for a table of interval rows: label column | axis | text column."""
    if ax is not None:
        return ax
    w = width_inches(size)
    row_pt = fontsize * 1.9
    h = ((len(rows) + 0.9) * row_pt + fontsize * (4.2 + 1.5 * legend_rows)) / PT_PER_INCH
    left_mm = (label_w_pt * 1.1 + GAP_PT) / PT_PER_INCH * MM_PER_INCH + 1.5
    right_mm = (text_w_pt * 1.1 + GAP_PT) / PT_PER_INCH * MM_PER_INCH + 1.5
    top_mm = fontsize * 1.5 * legend_rows / PT_PER_INCH * MM_PER_INCH + 2.0
    bottom_mm = fontsize * 2.9 / PT_PER_INCH * MM_PER_INCH + 1.5
    _fig, ax = new_figure(w, h, (left_mm, right_mm, bottom_mm, top_mm))
    return ax


def _draw_rows(ax, rows, net, fontsize, colours, header=None):
    """rows: (label, sublabel, est, lo, hi, style, bold) on the natural scale, top to bottom."""
    n = len(rows)
    ax.set_ylim(n - 0.4, -1.3)
    tr = ax.get_yaxis_transform()
    from matplotlib.transforms import blended_transform_factory, offset_copy

    left = blended_transform_factory(ax.figure.transFigure, ax.transData)
    before = offset_copy(tr, ax.figure, x=-GAP_PT, units="points")   # the label column ends GAP_PT left of the axis
    after = offset_copy(tr, ax.figure, x=GAP_PT, units="points")
    for i, (label, sub, est, lo, hi, style, bold) in enumerate(rows):
        if bold:   # a heading row: from the figure's left edge, across the axis if need be
            ax.text(0.01, i, label, transform=left, ha="left", va="center", fontsize=fontsize, fontweight="bold",
                    color=colours["text"])
        else:
            ax.text(0.0, i, label, transform=before, ha="right", va="center", fontsize=fontsize, color=colours["text"])
        if sub:
            ax.text(1.0, i, sub, transform=after, ha="left", va="center", fontsize=fontsize * 0.93,
                    color=colours["text"])
        if est is None:
            continue
        marker, colour = style
        ax.plot([lo, hi], [i, i], color=colour, lw=0.9, zorder=2, solid_capstyle="butt")
        ax.plot([est], [i], marker=marker, ms=4.0, color=colour, ls="none", zorder=3)
    if header:
        ax.text(1.0, -1.0, header, transform=after, ha="left", va="center", fontsize=fontsize * 0.93,
                fontweight="bold", color=colours["text"])


def _ci_text(est, lo, hi) -> str:
    return f"{effect(est)} [{effect(lo)}, {effect(hi)}]"


# --------------------------------------------------------------------------- graph

def graph(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
          size="single_column") -> NetworkArtists:
    """The network: one node per treatment (marker area proportional to its participants; all
    equal when the record has none), one line per directly compared pair (width proportional to
    the number of trials comparing them, the number written on it); nodes on a circle."""
    net = _net(ma, "network_graph")
    colours = palette(greyscale)
    nodes = list(net.nodes or [Node(t, None, 0) for t in net.treatments])
    names = [n.name for n in nodes]
    parts = [n.participants for n in nodes]
    known = all(p is not None and p > 0 for p in parts)
    pmax = max(parts) if known else 1.0
    areas = [NODE_MAX_PT ** 2 * (p / pmax if known else 0.5) for p in parts]
    t = len(names)
    pos = {nm: (math.sin(2 * math.pi * i / t), math.cos(2 * math.pi * i / t)) for i, nm in enumerate(names)}
    edges = list(net.edges)
    kmax = max([e.k_trials for e in edges] or [1])
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = min(w, 110 / MM_PER_INCH) * (0.62 if t == 3 else 0.85)
            _fig, ax = new_figure(w, h, (2.0, 2.0, 2.0, 2.0 + fontsize * 1.6 / PT_PER_INCH * MM_PER_INCH))
        lines = []
        for e in edges:
            (x0, y0), (x1, y1) = pos[e.treatment], pos[e.versus]
            lines.append(ax.add_line(Line2D([x0, x1], [y0, y1], lw=EDGE_MAX_PT * e.k_trials / kmax,
                                            color=colours["study"], solid_capstyle="butt", zorder=1)))
            # the count 40% along the line, so that two diagonals crossing at the centre keep theirs apart
            ax.text(x0 + 0.4 * (x1 - x0), y0 + 0.4 * (y1 - y0), str(e.k_trials), ha="center", va="center",
                    fontsize=fontsize * 0.9, zorder=4, color=colours["text"],
                    bbox={"boxstyle": "round,pad=0.15", "fc": "white", "ec": "none"})
        xs, ys = zip(*(pos[nm] for nm in names))
        pts = ax.scatter(xs, ys, s=areas, color=colours["pooled"], zorder=3, linewidths=0)
        side = 0.0   # the widest side label with its offset (pt): the x range must hold it
        for nm, p, n, area in zip(names, parts, nodes, areas):
            x, y = pos[nm]
            k = n.k_trials
            label = name(nm) + "\n" + (f"n = {p:,.0f}, " if p is not None else "") + f"{k} trial" + ("s" if k != 1 else "")
            ha = "center" if abs(x) < 0.3 else ("left" if x > 0 else "right")
            va = "bottom" if y > 0.3 else ("top" if y < -0.3 else "center")
            off = math.sqrt(area) / 2 + 2.5   # marker radius + a gap, in points, away from the centre
            if ha != "center":
                side = max(side, off + max(_text_w(x_, fontsize) for x_ in label.split("\n")))
            ax.annotate(label, (x, y), xytext=(off * x, off * y), textcoords="offset points", ha=ha, va=va,
                        fontsize=fontsize, zorder=5, color=colours["text"], linespacing=1.1)
        ax_w = ax.get_position().width * ax.figure.get_size_inches()[0] * PT_PER_INCH
        half = 1.0 / max(0.25, 1.0 - 2.0 * (side + 2.0) / ax_w) if side else 1.4
        ax.set_xlim(-half, half)
        ax.set_ylim(min(ys) - 0.55, max(ys) + 0.8)
        ax.axis("off")
        key = ("Node area \u221d participants; " if known else "") + "line width and number: trials"
        ax.text(0.5, 1.0, key, transform=ax.transAxes, ha="center", va="bottom", fontsize=fontsize * 0.9,
                color=colours["text"], wrap=True)
        return NetworkArtists(ax.figure, ax, pts, tuple(lines))


# --------------------------------------------------------------------------- forest

def forest(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
           size="single_column") -> NetworkArtists:
    """Every treatment against the reference: the frequentist estimate and CI (square) and,
    when the exact Bayesian network ran, the posterior median and credible interval (circle);
    each treatment's label says what evidence the frequentist estimate rests on."""
    net = _net(ma, "network_forest")
    colours = palette(greyscale)
    nat, ref = _nat(net), net.reference
    lv = _level(net)
    freq = {r.treatment: r for r in net.relative_effects if r.versus == ref}
    bay = {r.treatment: r for r in (net.bayes.relative_effects if net.bayes else ()) if r.versus == ref}
    rows = []
    for t in net.treatments:
        if t == ref or t not in freq:
            continue
        f = freq[t]
        ev = f.evidence
        rows.append((name(t) + (f" ({ev})" if ev else ""), _ci_text(nat(f.estimate), nat(f.ci_lower),
                     nat(f.ci_upper)), nat(f.estimate), nat(f.ci_lower), nat(f.ci_upper),
                     ("s", colours["pooled"]), False))
        if t in bay:
            b = bay[t]
            rows.append(("  exact Bayes", _ci_text(nat(b.median), nat(b.ci_lower), nat(b.ci_upper)),
                         nat(b.median), nat(b.ci_lower), nat(b.ci_upper), ("o", colours["bayes"]), False))
    label_w = max(_text_w(r[0], fontsize) for r in rows) if rows else 40.0
    text_w = max([_text_w(r[1], fontsize * 0.93) for r in rows] + [_text_w(f"{net.measure} [{lv} CI]", fontsize)])
    with rc_context(rc(fontsize)):
        ax = _rows_figure(rows, ax, fontsize, size, label_w, text_w, legend_rows=2 if bay else 1)
        _draw_rows(ax, rows, net, fontsize, colours, header=f"{net.measure} [{lv} {'CI' if not bay else 'CI / CrI'}]")
        _interval_axis(ax, [v for r in rows for v in r[2:5]], _log(net), fontsize, 1.0 if _log(net) else 0.0)
        ax.set_xlabel(f"{_NAMES.get(net.measure, net.measure)} vs {name(ref)}"
                      + (" (log scale)" if _log(net) else ""), fontsize=fontsize)
        handles = [Line2D([], [], marker="s", ms=4, color=colours["pooled"],
                          label=f"{net.method} network, {lv} CI")]
        if bay:
            handles.append(Line2D([], [], marker="o", ms=4, color=colours["bayes"],
                                  label=f"exact Bayes, median and {lv} CrI"))
        legend = ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), ncol=1, frameon=False,
                           fontsize=fontsize * 0.93, borderaxespad=0.2, handlelength=1.6)
        out = tuple((r[0], r[2], r[3], r[4]) for r in rows)
        return NetworkArtists(ax.figure, ax, rows=out, legend=legend)


# --------------------------------------------------------------------------- node split

def node_split(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
               size="single_column") -> NetworkArtists:
    """Per comparison with both direct and indirect evidence: the direct, indirect and network
    estimates with CIs and the p-value of direct vs indirect (netsplit's display)."""
    net = _net(ma, "network_node_split")
    colours = palette(greyscale)
    nat = _nat(net)
    lv = _level(net)
    splits = net.node_split
    C.require(bool(splits), ma, "network_node_split",
              "a comparison with both direct and indirect evidence (a closed loop); this network has none")
    rows = []
    for s in splits:
        p = s.p_value
        ptxt = "" if p is None else f"; direct vs indirect p = {p:.2f}" if p >= 0.01 else f"; direct vs indirect p = {p:.2g}"
        rows.append((f"{name(s.treatment)} vs {name(s.versus)}{ptxt}", "", None, None, None, None, True))
        for e, lab, style in ((s.direct, f"  direct ({s.k_direct} trials)", ("s", colours["study"])),
                              (s.indirect, "  indirect", ("D", colours["pi"])),
                              (s.network, "  network", ("o", colours["pooled"]))):
            rows.append((lab, _ci_text(nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper)),
                         nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper), style, False))
    label_w = max(_text_w(r[0], fontsize) for r in rows if not r[6])
    text_w = max(_text_w(r[1], fontsize * 0.93) for r in rows)
    with rc_context(rc(fontsize)):
        ax = _rows_figure(rows, ax, fontsize, size, label_w, text_w)
        _draw_rows(ax, rows, net, fontsize, colours, header=f"{net.measure} [{lv} CI]")
        _interval_axis(ax, [v for r in rows for v in r[2:5]], _log(net), fontsize, 1.0 if _log(net) else 0.0)
        ax.set_xlabel(_NAMES.get(net.measure, net.measure) + (" (log scale)" if _log(net) else ""),
                      fontsize=fontsize)
        out = tuple((r[0], r[2], r[3], r[4]) for r in rows if r[2] is not None)
        return NetworkArtists(ax.figure, ax, rows=out)


# --------------------------------------------------------------------------- league

def league(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
           size="single_column") -> NetworkArtists:
    """League table. Every off-diagonal cell is the ROW treatment versus the COLUMN treatment:
    above the diagonal the frequentist estimate and CI, below it the exact Bayesian posterior
    median and credible interval (frequentist there too when the Bayesian network did not run)."""
    net = _net(ma, "network_league")
    colours = palette(greyscale)
    nat = _nat(net)
    ts = list(net.treatments)
    n = len(ts)
    freq = {(r.treatment, r.versus): r for r in net.relative_effects}
    bay = {(r.treatment, r.versus): r for r in (net.bayes.relative_effects if net.bayes else ())}
    w = width_inches(size)
    cell_need = max([_text_w(f"[{effect(nat(r.ci_lower))}, {effect(nat(r.ci_upper))}]", 1.0)
                     for r in net.relative_effects] + [_text_w(name(t), 1.0) for t in ts]) + 1.0
    fs = min(fontsize, (w * PT_PER_INCH - 8) / n / cell_need)
    fs = max(fs, 4.0)
    cell_h = fs * 3.0
    lv = _level(net)
    caption = (f"Each cell: row vs column, {net.measure} [{lv} interval].\nAbove the diagonal: "
               f"{net.method} network [CI];\nbelow: " + ("exact Bayes, median [CrI]." if bay else
                                                                   "the same network."))
    with rc_context(rc(fs)):
        if ax is None:
            h = (n * cell_h + fs * 6.8) / PT_PER_INCH
            _fig, ax = new_figure(w, h, (1.5, 1.5, 1.5, fs * 4.6 / PT_PER_INCH * MM_PER_INCH + 1.0))
        ax.set_xlim(-0.01, n + 0.01)
        ax.set_ylim(n + 0.01, -0.01)
        ax.axis("off")
        cells = {}
        for i, a in enumerate(ts):
            for j, b in enumerate(ts):
                if i == j:
                    ax.add_patch(_rect(j, i, colours["band"]))
                    ax.text(j + 0.5, i + 0.5, name(a), ha="center", va="center", fontsize=fs, fontweight="bold",
                            color=colours["text"], wrap=False)
                    continue
                src = freq if (j > i or not bay) else bay
                r = src.get((a, b))
                if r is None:
                    continue
                est = nat(r.median if src is bay else r.estimate)
                txt = f"{effect(est)}\n[{effect(nat(r.ci_lower))}, {effect(nat(r.ci_upper))}]"
                cells[(a, b)] = txt
                ax.text(j + 0.5, i + 0.5, txt, ha="center", va="center", fontsize=fs, linespacing=1.15,
                        color=colours["bayes"] if src is bay and bay else colours["text"])
        for k in range(n + 1):
            ax.plot([0, n], [k, k], color="#BFBFBF", lw=0.4, clip_on=False)
            ax.plot([k, k], [0, n], color="#BFBFBF", lw=0.4, clip_on=False)
        ax.text(0.0, 1.0, caption, transform=ax.transAxes, ha="left", va="bottom", fontsize=fs * 0.93,
                color=colours["text"], linespacing=1.2)
        return NetworkArtists(ax.figure, ax, rows=tuple(sorted(cells.items())))


def _rect(x, y, colour):
    from matplotlib.patches import Rectangle

    return Rectangle((x, y), 1, 1, facecolor=colour, edgecolor="none", zorder=0)


# --------------------------------------------------------------------------- rankogram

def rankogram(ma: Mapping, ax=None, *, fontsize: float = FONT_SIZE, greyscale: bool = False,
              size="single_column") -> NetworkArtists:
    """The exact Bayesian network's rank probabilities: P(rank r) for each treatment (rank 1 the
    best, by the record's small_values), SUCRA in the legend."""
    net = _net(ma, "network_rankogram")
    b = net.bayes
    C.require(b is not None and bool(b.rank_probabilities), ma, "network_rankogram",
              "the exact Bayesian network (network: bayes: true, with OR or RR or a bayes: block)")
    probs = b.rank_probabilities   # treatment -> P(rank 1), P(rank 2), ... (a dict keyed by name)
    ts = [t for t in net.treatments if t in probs]
    n = len(ts)
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = min(w * 0.62, 90 / MM_PER_INCH) + fontsize * 1.5 * math.ceil(n / 2) / PT_PER_INCH
            top = fontsize * 1.5 * math.ceil(n / (2 if w < 5 else 3)) / PT_PER_INCH * MM_PER_INCH + 2.0
            _fig, ax = new_figure(w, h, (11.0, 3.0, 9.5, top))
        width = 0.8 / n
        handles = []
        for k, t in enumerate(ts):
            colour = "#000000" if greyscale else _CYCLE[k % len(_CYCLE)]
            xs = [r + 1 - 0.4 + width * (k + 0.5) for r in range(len(probs[t]))]
            bars = ax.bar(xs, probs[t], width=width, color=colour, edgecolor="white" if not greyscale else colour,
                          linewidth=0.3, alpha=1.0 if not greyscale else 0.25 + 0.75 * (k + 1) / n)
            bars.set_label(f"{name(t)} (SUCRA {b.sucra[t]:.2f})")
            handles.append(bars)
        ax.set_xticks(range(1, len(probs[ts[0]]) + 1))
        ax.set_xlim(0.5, len(probs[ts[0]]) + 0.5)
        ax.set_ylim(0, 1)
        ax.set_xlabel("Rank (1 = best)", fontsize=fontsize)
        ax.set_ylabel("Posterior probability", fontsize=fontsize)
        for side in ("top", "right"):
            ax.spines[side].set_visible(False)
        narrow = ax.figure.get_size_inches()[0] < 5.0
        legend = ax.legend(handles=handles, loc="lower left", bbox_to_anchor=(0.0, 1.0), frameon=False,
                           ncol=2 if narrow else 3, fontsize=fontsize * 0.93, borderaxespad=0.2, handlelength=1.2,
                           columnspacing=1.0)
        return NetworkArtists(ax.figure, ax, rows=tuple((t, tuple(probs[t])) for t in ts), legend=legend)

"""Risk-of-bias figures: the RoB 2 summary bar chart (robvis style) and the traffic-light
columns the forest plot adds (RevMan style) when the studies carry RoB 2 judgements."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from matplotlib import rc_context
from matplotlib.patches import Patch

from . import _common as C
from ._figure import new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, rc, width_inches
from ._text import text_width

#: RoB 2 domain names as robvis prints them
DOMAIN_LABELS = {"randomization": "Randomization process", "deviations": "Deviations from intended interventions",
                 "missing_data": "Missing outcome data", "measurement": "Measurement of the outcome",
                 "reporting": "Selection of the reported result", "overall": "Overall risk of bias"}
SHORT = {"randomization": "D1", "deviations": "D2", "missing_data": "D3", "measurement": "D4", "reporting": "D5",
         "overall": "O"}
LEVEL_TEXT = {"low": "Low risk", "some_concerns": "Some concerns", "high": "High risk", "not_assessed": "Not assessed"}
#: robvis / RevMan colours (colour) and greys that keep the order (greyscale)
COLOURS = {"low": "#02C100", "some_concerns": "#E2DF07", "high": "#BF0000", "not_assessed": "#D9D9D9"}
GREYS = {"low": "#E0E0E0", "some_concerns": "#A0A0A0", "high": "#404040", "not_assessed": "#FFFFFF"}
SYMBOL = {"low": "+", "some_concerns": "?", "high": "\u2212", "not_assessed": ""}


@dataclass(frozen=True, eq=False)
class RobArtists:
    figure: object
    ax: object
    bars: Mapping
    legend: object = None


def rob_summary(ma: Mapping, ax=None, *, weighted: bool = True, fontsize: float = FONT_SIZE,
                greyscale: bool = False, size="double_column") -> RobArtists:
    """RoB 2 summary plot (robvis ``rob_summary``): for each domain and overall, a bar split
    into the share of studies at low risk, some concerns and high risk (and not assessed),
    weighted by the studies' weights in the meta-analysis (``weighted=False``: by count)."""
    view = C.view(ma, "rob_summary")
    rob = view.get("risk_of_bias")
    C.require(rob is not None and rob.summary, ma, "rob_summary",
              "sensitivity.risk_of_bias (add risk_of_bias to 'sensitivity:')")
    summ = rob.summary   # domain -> LevelSummary record
    names = list(rob.domains or ()) + ["overall"]
    colours = GREYS if greyscale else COLOURS
    levels = ("low", "some_concerns", "high", "not_assessed")
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            h = (len(names) * 1.9 + 4.0) * fontsize / PT_PER_INCH
            left = max(text_width(DOMAIN_LABELS[n], fontsize) for n in names) / PT_PER_INCH * MM_PER_INCH + 4
            _fig, ax = new_figure(w, h, (left, 4.0, 8.0, 2.0 + 1.6 * fontsize / PT_PER_INCH * MM_PER_INCH))
        bars = {}
        for j, n in enumerate(names):
            y = len(names) - 1 - j
            use_w = weighted and summ[n].weight is not None and sum(summ[n].weight.values()) > 0
            src = summ[n].weight if use_w else summ[n].counts
            total = sum(src.values()) or 1
            left = 0.0
            for lv in levels:
                share = 100 * src.get(lv, 0) / total
                if share <= 0:
                    continue
                bars[(n, lv)] = ax.barh(y, share, left=left, height=0.62, color=colours[lv], edgecolor="#000000",
                                        lw=0.4)
                left += share
        ax.set_yticks(range(len(names)))
        ax.set_yticklabels([DOMAIN_LABELS[n] for n in reversed(names)])
        for t in ax.get_yticklabels():
            if t.get_text() == DOMAIN_LABELS["overall"]:
                t.set_fontweight("bold")
        ax.set_xlim(0, 100)
        ax.set_xticks([0, 25, 50, 75, 100])
        ax.set_xticklabels(["0%", "25%", "50%", "75%", "100%"])
        ax.set_ylim(-0.6, len(names) - 0.4)
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        ax.tick_params(axis="y", length=0, labelsize=fontsize)
        ax.tick_params(axis="x", labelsize=fontsize * 0.93)
        shown = [lv for lv in levels if any((n, lv) in bars for n in names)]
        handles = [Patch(facecolor=colours[lv], edgecolor="#000000", lw=0.4, label=LEVEL_TEXT[lv]) for lv in shown]
        any_w = weighted and any(summ[n].weight for n in names)
        ax.set_xlabel("Share of the meta-analysis weight" if any_w else "Share of studies", fontsize=fontsize)
        legend = ax.legend(handles=handles, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=len(handles),
                           fontsize=fontsize * 0.93, frameon=False, borderaxespad=0.2, handlelength=1.2)
        return RobArtists(ax.figure, ax, bars, legend)


def add_traffic_lights(art, ma: Mapping, keys, *, greyscale: bool = False, fontsize: float = FONT_SIZE) -> list:
    """Draw RevMan-style coloured circles with their symbol (+ low, ? some concerns, − high)
    over the placeholder cells of the RoB columns of a drawn forest plot."""
    colours = GREYS if greyscale else COLOURS
    out = []
    study_rows = art.rows("study")
    for i, row in zip(study_rows, C.rows(ma)):
        rob = row.risk_of_bias   # a RobRow record, or ABSENT (falsy) when the row has none
        for key in keys:
            cell = art.cells.get((i, key))
            if cell is None:
                continue
            # the domain's judgement (None: not assessed); key "rob_<domain>" names a RobRow field
            lv = (getattr(rob, key.removeprefix("rob_"), None) if rob else None) or "not_assessed"
            x, y = cell.get_position()
            tr = cell.get_transform()
            out.append(art.ax.plot([x], [y], "o", ms=fontsize * 1.15, mfc=colours[lv], mec="#000000", mew=0.3,
                                   transform=tr, zorder=5, clip_on=False)[0])
            if SYMBOL[lv]:
                out.append(art.ax.text(x, y, SYMBOL[lv], transform=tr, ha="center", va="center_baseline",
                                       fontsize=fontsize * 0.85, fontweight="bold", zorder=6,
                                       color="#FFFFFF" if lv == "high" or greyscale and lv == "high" else "#000000"))
    return out

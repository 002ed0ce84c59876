"""Missing-outcome figure: the pooled estimate under each scenario and IMOR (a forest of
``sensitivity.missing_outcome.scenarios``), the available-case analysis as the reference."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..sensitivity.missing_outcome import scenario_label
from . import _common as C
from . import _format as fmt
from ._figure import draw
from ._style import FONT_SIZE
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists

NAMES = {"available_case": "Available case", "missing_as_failure": "Missing as failure",
         "missing_as_success": "Missing as success", "best_case": "Best case", "worst_case": "Worst case",
         "imor": "IMOR"}


def _imor(x) -> str:
    if x is None:
        return ""
    if x >= 1e7:
        return "\u221e"
    return fmt.general(x, 3)


def _set(x):
    """An optional record field's value, None when it was not written (ABSENT)."""
    return x if x or x == 0 else None


def build_missing_outcome(ma: Mapping, *, xlim: Sequence[float] | None = None, digits: int = 2,
                          arm_labels: Sequence[str] | None = None) -> Table:
    view = C.view(ma, "missing_outcome")
    mo = view.get("missing_outcome")
    C.require(mo is not None and mo.scenarios, ma, "missing_outcome",
              "sensitivity.missing_outcome (add missing_outcome to 'sensitivity:')")
    nat = C.natural(ma)
    long, short = C.measure_names(ma)
    names = C.arm_names(ma, arm_labels)
    continuous = bool(mo.tipping_imdom)   # an optional field not written is ABSENT (falsy)
    par = "IMDOM" if continuous else "IMOR"
    cols = [Column("label", "Scenario"), Column("imor", f"{par} exp. / ctrl", "", "right", 1),
            Column("k", "k", "", "right", 2),
            Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long, favours=C.favours(ma, names),
                  xlim=tuple(xlim) if xlim else None),
            Column("ci", f"{short} [{fmt.level_label(C.level(ma))} CI]", fmt.model_label(ma), "right",
                   group_overflow=True)]
    rows = []
    for e in mo.scenarios:
        name = e.name
        label = NAMES.get(name, str(name))
        if name in ("imor", "imdom"):  # the value in the label too: the column is dropped on narrow figures
            label = scenario_label(e.to_dict()).replace("-", "\u2212")
        key = "imdom" if continuous else "imor"
        cells = {"label": label, "k": str(e.k or ""),
                 "imor": f"{_imor(_set(getattr(e, key + '_experimental')))} / "
                         f"{_imor(_set(getattr(e, key + '_control')))}"}
        if not C.has(e.estimate):
            cells["ci"] = "not estimable"
            rows.append(Row("study", cells, {}))
            continue
        cells["ci"] = fmt.effect_ci(nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper), digits,
                                    ratio=C.is_log(ma))
        ref = name == "available_case"
        mark = Mark("diamond" if ref else "point", nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper),
                    "pooled" if ref else "point", core=ref)
        rows.append(Row("pooled" if ref else "study", cells, {"effect": (mark,)}, bold=ref))
        if ref:
            rows.append(Row("blank", height=0.4))
    if continuous:
        unit = "SDs" if _set(mo.measure) == "SMD" else "outcome units"
        footer = [Footer(f"IMDOM: mean among the missing minus mean among the observed, in {unit}; SD: its "
                         "uncertainty (Mavridis et al. 2015).")]
        tip = mo.tipping_imdom
        if C.has(tip.imdom):
            footer.append(Footer(f"At a common IMDOM of {fmt.general(tip.imdom, 3)} {tip.change}."))
        elif tip.reason:
            footer.append(Footer(f"IMDOM tipping point: {tip.reason}."))
        return Table(tuple(cols), tuple(rows), tuple(footer))
    tip = mo.tipping_imor
    footer = [Footer("IMOR: odds of the event among the missing over the observed (0: all missing without the "
                     "event, \u221e: all with it); failure and success as the outcome's direction says.")]
    if tip and C.has(tip.imor):
        footer.append(Footer(f"At a common IMOR of {fmt.general(tip.imor, 3)} {tip.change}."))
    elif tip and tip.reason:
        footer.append(Footer(f"Conclusion unchanged for common IMORs from 1/100 to 100 ({tip.reason})."
                             if "no common IMOR" in tip.reason else f"IMOR tipping point: {tip.reason}."))
    return Table(tuple(cols), tuple(rows), tuple(footer))


def missing_outcome(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None, digits: int = 2,
                    arm_labels: Sequence[str] | None = None, fontsize: float = FONT_SIZE,
                    greyscale: bool = False, size="single_column") -> TableArtists:
    """Missing-outcome plot: the pooled estimate and CI under each imputation scenario and IMOR,
    the available-case analysis (diamond) first, and the IMOR at which the conclusion changes."""
    table = build_missing_outcome(ma, xlim=xlim, digits=digits, arm_labels=arm_labels)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)

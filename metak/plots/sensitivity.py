"""Sensitivity figures: leave-one-out, all-cause dropout and blinding integrity."""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from . import _common as C
from . import _format as fmt
from ._figure import draw
from ._style import FONT_SIZE
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists

# --------------------------------------------------------------------------- leave-one-out


def build_leave_one_out(ma: Mapping, *, xlim: Sequence[float] | None = None,
                        digits: int = 2, arm_labels: Sequence[str] | None = None) -> Table:
    view = C.view(ma, "leave_one_out")
    loo = view.get("leave_one_out")
    C.require(loo is not None and loo.rows, ma, "leave_one_out",
              "sensitivity.leave_one_out (add leave_one_out to 'sensitivity:')")
    nat = C.natural(ma)
    long, short = C.measure_names(ma)
    labels = C.study_labels(ma)
    names = C.arm_names(ma, arm_labels)
    cols = [Column("label", "Omitting"),
            Column("tau2", "\u03c4\u00b2", "", "right", 2),
            Column("i2", "I\u00b2", "", "right", 2),
            Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long,
                  favours=C.favours(ma, names),
                  xlim=tuple(xlim) if xlim else None),
            Column("ci", f"{short} [{fmt.level_label(C.level(ma))} CI]", fmt.model_label(ma),
                   "right", group_overflow=True)]
    rows = []
    for e in loo.rows:
        cells = {"label": labels.get(e.omitted, str(e.omitted)),
                 "ci": fmt.effect_ci(nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper), digits,
                                     ratio=C.is_log(ma)),
                 "tau2": fmt.tau2(e.tau2), "i2": fmt.percent(e.i2)}
        if not C.has(e.estimate):  # the refit had no estimate (its note says why)
            cells["ci"] = "not estimable"
            rows.append(Row("study", cells, {}, key=e.omitted))
            continue
        mark = Mark("point", nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper), "point")
        rows.append(Row("study", cells, {"effect": (mark,)}, key=e.omitted))
    rows.append(Row("blank", height=0.5))
    p = view.pooled
    if C.has(p.estimate):
        rows.append(Row("pooled", {
            "label": "None (all studies)",
            "ci": fmt.effect_ci(nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper), digits,
                                ratio=C.is_log(ma)),
            "tau2": fmt.tau2(p.tau2), "i2": fmt.percent(p.i2)},
            {"effect": (Mark("diamond", nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper),
                             "pooled", core=True),)}, bold=True))
    footer = [Footer(f"Each row: {fmt.model_label(ma)[0].lower()}{fmt.model_label(ma)[1:]} "
                     "refitted without the study named.")]
    return Table(tuple(cols), tuple(rows), tuple(footer))


def leave_one_out(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None, digits: int = 2,
                  arm_labels: Sequence[str] | None = None, fontsize: float = FONT_SIZE,
                  greyscale: bool = False, size="single_column") -> TableArtists:
    """Leave-one-out plot: the pooled estimate, its CI, tau² and I² with each study left out
    in turn (``sensitivity.leave_one_out``), above the estimate from all studies (the
    diamond).  metafor's ``forest(leave1out(res))``, with the heterogeneity beside it."""
    table = build_leave_one_out(ma, xlim=xlim, digits=digits, arm_labels=arm_labels)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)


# --------------------------------------------------------------------------- cumulative


def build_cumulative(ma: Mapping, *, xlim: Sequence[float] | None = None, digits: int = 2,
                     arm_labels: Sequence[str] | None = None) -> Table:
    view = C.view(ma, "cumulative")
    cum = view.get("cumulative")
    C.require(cum is not None and cum.steps, ma, "cumulative",
              "sensitivity.cumulative (add cumulative to 'sensitivity:')")
    nat = C.natural(ma)
    long, short = C.measure_names(ma)
    names = C.arm_names(ma, arm_labels)
    cols = [Column("label", "Adding"),
            Column("k", "k", "", "right", 2),
            Column("tau2", "\u03c4\u00b2", "", "right", 2),
            Column("i2", "I\u00b2", "", "right", 2),
            Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long,
                  favours=C.favours(ma, names), xlim=tuple(xlim) if xlim else None),
            Column("ci", f"{short} [{fmt.level_label(C.level(ma))} CI]", fmt.model_label(ma),
                   "right", group_overflow=True)]
    rows = []
    steps = cum.steps
    for n, e in enumerate(steps):
        cells = {"label": ("" if n == 0 else "+ ") + str(e.label), "k": str(e.k),
                 "tau2": fmt.tau2(e.tau2), "i2": fmt.percent(e.i2)}
        if not C.has(e.estimate):
            cells["ci"] = "not estimable"
            rows.append(Row("study", cells, {}, key=e.added))
            continue
        cells["ci"] = fmt.effect_ci(nat(e.estimate), nat(e.ci_lower), nat(e.ci_upper), digits,
                                    ratio=C.is_log(ma))
        last = n == len(steps) - 1
        mark = Mark("diamond" if last else "point", nat(e.estimate), nat(e.ci_lower),
                    nat(e.ci_upper), "pooled" if last else "point", core=last)
        rows.append(Row("pooled" if last else "study", cells, {"effect": (mark,)}, bold=last, key=e.added))
    footer = [Footer(f"Each row: {fmt.model_label(ma)[0].lower()}{fmt.model_label(ma)[1:]} of the studies "
                     f"down to that row, added in order of {cum.order}; the last row is the full analysis.")]
    return Table(tuple(cols), tuple(rows), tuple(footer))


def cumulative(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None, digits: int = 2,
               arm_labels: Sequence[str] | None = None, fontsize: float = FONT_SIZE,
               greyscale: bool = False, size="single_column") -> TableArtists:
    """Cumulative forest plot (metafor's ``forest(cumul(res))``): the pooled estimate, its CI,
    tau² and I² as each study is added (``sensitivity.cumulative``)."""
    table = build_cumulative(ma, xlim=xlim, digits=digits, arm_labels=arm_labels)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)


# --------------------------------------------------------------------------- dropout


def _is_dropout(ma: Mapping) -> bool:
    return bool(ma.get("dropout")) or ma.get("outcome") == "dropout"


def _total_rate(total: str) -> str:
    """``2/64`` -> ``2/64 (3%)``, as the study rows print their rates (F10)."""
    try:
        e, n = (float(x) for x in total.split("/"))
    except (ValueError, AttributeError):
        return total or ""
    return fmt.arm_rate({"events": e, "total": n}) if n else total


def build_dropout(ma: Mapping, *, xlim: Sequence[float] | None = None, digits: int = 2,
                  arm_labels: Sequence[str] | None = None, data: bool | None = None,
                  weights: bool | None = None) -> Table:
    C.require_ma(ma, "dropout")
    C.require(_is_dropout(ma), ma, "dropout",
              "a dropout meta-analysis ('dropout: true' in the spec)")
    studies = ma.get("studies") or []
    C.require(studies and all(isinstance(C.arm_data(s, r), Mapping) and
                              "events" in C.arm_data(s, r)
                              for s in studies for r in ("experimental", "control")),
              ma, "dropout", "per-arm dropouts and randomized numbers (data events/total) "
              "for every study")
    nat = C.natural(ma)
    lv = C.level(ma)
    long, short = C.measure_names(ma)
    names = C.arm_names(ma, arm_labels)
    drop_data = None if data else 1
    ma_dir = dict(ma)
    ma_dir.setdefault("direction", "lower_is_better")

    cols = [Column("label", "Study"),
            Column("exp", "n/N (%)", C.header_name(names[0]), "right", drop_data),
            Column("ctl", "n/N (%)", C.header_name(names[1]), "right", drop_data),
            Panel("rates", log=False, null=0.0, null_line=False, header="Dropout (%)",
                  xlim=None, symmetric=False, share=0.7, min_width=55.0, drop=3,
                  legend=((C.header_name(names[0]), "experimental", "dot"),
                          (C.header_name(names[1]), "control", "open"))),
            ]
    if weights is not False and any(C.has(s.get("weight")) for s in studies):
        cols.append(Column("weight", "Weight", "", "right", None if weights else 2))
    cols += [Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long,
                   favours=C.favours(ma_dir, names), xlim=tuple(xlim) if xlim else None),
             Column("ci", f"{short} [{fmt.level_label(lv)} CI]",
                    "" if len(studies) == 1 else fmt.model_label(ma), "right",
                    group_overflow=True)]
    rows = []
    for i, s in enumerate(studies):
        de, dc = C.arm_data(s, "experimental"), C.arm_data(s, "control")
        lo, hi = C.study_ci(s, lv)
        cells = {"label": C.study_label(s, i), "exp": fmt.arm_rate(de), "ctl": fmt.arm_rate(dc),
                 "weight": fmt.weight(s.get("weight")),
                 "ci": fmt.effect_ci(nat(s.get("yi")), nat(lo), nat(hi), digits,
                                     ratio=C.is_log(ma))}
        rate_marks = tuple(
            Mark(shape, 100.0 * d["events"] / d["total"], None, None, role, core=True)
            for d, shape, role in ((dc, "open", "control"), (de, "dot", "experimental"))
            if d.get("total"))
        marks = {"rates": rate_marks}
        if C.has(s.get("yi")):
            marks["effect"] = (Mark("square", nat(s["yi"]), nat(lo), nat(hi), "study",
                                    s.get("weight")),)
        rows.append(Row("study", cells, marks, key=s.get("trial")))
    rows.append(Row("blank", height=0.5))
    if C.has(ma.get("estimate")):
        cells = {"label": f"Total ({fmt.level_label(lv)} CI)",
                 "exp": _total_rate(C.arm_totals(ma, "experimental", "binary")),
                 "ctl": _total_rate(C.arm_totals(ma, "control", "binary")),
                 "ci": fmt.effect_ci(nat(ma["estimate"]), nat(ma.get("ci_lower")),
                                     nat(ma.get("ci_upper")), digits, ratio=C.is_log(ma))}
        if any(C.has(s.get("weight")) for s in studies):
            cells["weight"] = "100.0%"
        rows.append(Row("pooled", cells, {"effect": (
            Mark("diamond", nat(ma["estimate"]), nat(ma.get("ci_lower")),
                 nat(ma.get("ci_upper")), "pooled", core=True),)}, bold=True))
    footer = [Footer(x) for x in (fmt.heterogeneity(ma), fmt.overall_test(ma)) if x]
    footer.append(Footer("Dropout: participants who did not complete, as a share of the arm's size "
                         "(randomized, or as recorded in a dropout outcome)."))
    return Table(tuple(cols), tuple(rows), tuple(footer))


def dropout(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None, digits: int = 2,
            arm_labels: Sequence[str] | None = None, data: bool | None = None,
            weights: bool | None = None, fontsize: float = FONT_SIZE, greyscale: bool = False,
            size="single_column") -> TableArtists:
    """Dropout plot: per-arm all-cause dropout rates (filled: experimental, open: control)
    beside the forest plot of the pooled dropout effect (RR by default).  Needs a dropout
    meta-analysis (``dropout: true``; each arm's data holds events = dropouts and
    total = randomized)."""
    table = build_dropout(ma, xlim=xlim, digits=digits, arm_labels=arm_labels, data=data,
                          weights=weights)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)


# --------------------------------------------------------------------------- blinding


def build_blinding(ma: Mapping, *, band: float | None = 0.2, james: bool | None = None,
                   digits: int = 2) -> Table:
    C.require_ma(ma, "blinding")
    block = (ma.get("sensitivity") or {}).get("blinding")
    indices = block.get("indices") if isinstance(block, Mapping) else None
    C.require(indices and any(isinstance(e.get("bang"), Mapping) and e["bang"] for e in indices),
              ma, "blinding", "sensitivity.blinding.indices with Bang indices (end-of-trial "
              "allocation guesses in the trial records and blinding in 'sensitivity:')")
    labels = {s.get("trial"): C.study_label(s, i) for i, s in enumerate(ma.get("studies") or [])}
    cols = [Column("label", "Trial"), Column("assessor", "Assessor", "", "left", 2),
            Column("arm", "Arm"),
            Panel("bang", log=False, null=0.0, header="Bang index", xlim=(-1.0, 1.0),
                  ticks=(-1.0, -0.5, 0.0, 0.5, 1.0),
                  band=(-band, band, "") if band else None,
                  favours=("other arm guessed", "own arm guessed"),
                  legend=(("experimental", "experimental", "dot"), ("control", "control", "open"))),
            Column("ci", f"BI [{fmt.level_label(0.95)} CI]", "", "right")]
    if james is not False:
        cols.append(Column("james", "James BI", "", "right", None if james else 1))
    rows = []
    for e in indices:
        bang = e.get("bang") or {}
        first = True
        arms = [(e.get("experimental"), "experimental", "dot"),
                (e.get("control"), "control", "open")]
        known = {a for a, _, _ in arms}
        arms += [(a, "control", "open") for a in bang if a not in known]
        for arm, role, shape in arms:
            b = bang.get(arm)
            if not isinstance(b, Mapping):
                continue
            cells = {"arm": fmt.pretty_id(arm),
                     "ci": fmt.effect_ci(b.get("estimate"), b.get("ci_lower"), b.get("ci_upper"),
                                         digits)}
            if first:
                cells["label"] = labels.get(e.get("trial"), str(e.get("trial")))
                cells["assessor"] = str(e.get("assessor") or "")
                j = e.get("james")
                if isinstance(j, Mapping):
                    cells["james"] = fmt.effect_ci(j.get("estimate"), j.get("ci_lower"),
                                                   j.get("ci_upper"), digits)
            mark = Mark(shape, b.get("estimate"), b.get("ci_lower"), b.get("ci_upper"), role)
            rows.append(Row("arm", cells, {"bang": (mark,)}, key=e.get("trial")))
            first = False
        rows.append(Row("blank", height=0.3))
    rows = rows[:-1]
    footer = [Footer("Bang index per arm: 1 all guessed their own arm, 0 random guessing, "
                     "\u22121 all guessed the other arm" +
                     (f"; shaded: |BI| \u2264 {fmt.general(band)}, consistent with random "
                      "guessing." if band else "."))]
    if james is not False:
        footer.append(Footer("James index per trial: 1 complete blinding, 0.5 random "
                             "guessing, 0 complete unblinding.", requires="james"))
    return Table(tuple(cols), tuple(rows), tuple(footer))


def blinding(ma: Mapping, ax=None, *, band: float | None = 0.2, james: bool | None = None,
             digits: int = 2, fontsize: float = FONT_SIZE, greyscale: bool = False,
             size="single_column") -> TableArtists:
    """Blinding plot: the Bang index of each arm with its CI, by trial and assessor, on
    [-1, 1] with a shaded 'random guessing' band (``|BI| <= band``), and the James index of
    each trial as text (``sensitivity.blinding.indices``).

    References
    ----------
    Bang H, Ni L, Davis CE (2004). Assessment of blinding in clinical trials. Control Clin
    Trials 25:143-156.  James KE et al. (1996). An index for assessing blindness in a
    multi-centre clinical trial. Stat Med 15:1421-1434.
    """
    table = build_blinding(ma, band=band, james=james, digits=digits)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)

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
    labels = C.row_labels(ma)
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
    """A dropout meta-analysis (``dropout: true``, or its outcome is dropout): document metadata,
    not an analysis (a private accessor for ``_common``)."""
    return bool(ma.get("dropout")) or ma.get("outcome") == "dropout"


def _rates_from_rows(rows) -> tuple | None:
    """Each study row's dropout rates (:class:`metak.analyses.dropout.DropoutRate`) from its
    2x2 data (events = dropouts, total = randomized), as ``dropout.from_tables`` builds them, for
    a document written without ``dropout_rates`` (the plot fixtures); None when a row lacks
    an arm's events. The row's ``data`` is the trial record's numbers, a dict no record types."""
    from metak.analyses.dropout import DropoutRate, DropoutSide

    out = []
    for r in rows:
        sides = []
        for arm in (r.experimental, r.control):
            d = r.data.get(arm) if isinstance(r.data, Mapping) else None
            if not isinstance(d, Mapping) or "events" not in d:
                return None
            e, n = d["events"], d.get("total")
            sides.append(DropoutSide(e, n, e / n if n else None))
        out.append(DropoutRate(r.trial, r.label, *sides))
    return tuple(out)


def _dropout_rates(view, rows) -> tuple | None:
    """The dropout rates of each study row, in the rows' order: the ``dropout_rates`` record
    (one per comparison, from the same table rows as ``studies``), else from the rows' data;
    None when they do not match the rows."""
    rec = view.get("dropout_rates")
    rates = rec.rates if rec is not None else _rates_from_rows(rows)
    if rates is None or len(rates) != len(rows) or any(q.trial != r.trial for q, r in zip(rates, rows)):
        return None
    return rates


def _side_text(side) -> str:
    """``2/64 (3%)``: one side's dropouts / randomized and its rate (F10)."""
    return fmt.arm_rate({"events": side.dropouts, "total": side.randomized})


def _total_text(pairs, role: str) -> str:
    """The Total row's ``Σdropouts/Σrandomized (%)`` of one side over the (row, rate) pairs,
    a control arm shared by several comparisons (the multivariate model) counted once (as
    ``C.arm_totals``)."""
    ev = tot = 0
    seen = set()
    for row, rate in pairs:
        if row is not None:
            key = (row.trial, getattr(row, role))
            if key in seen:
                continue
            seen.add(key)
        side = getattr(rate, role)
        ev += side.dropouts
        tot += side.randomized
    if not tot:
        return f"{fmt.general(ev)}/{fmt.general(tot)}"
    return fmt.arm_rate({"events": ev, "total": tot})


def build_dropout(ma: Mapping, *, xlim: Sequence[float] | None = None, digits: int = 2,
                  arm_labels: Sequence[str] | None = None, data: bool | None = None,
                  weights: bool | None = None) -> Table:
    view = C.view(ma, "dropout")
    C.require(_is_dropout(ma), ma, "dropout",
              "a dropout meta-analysis ('dropout: true' in the spec)")
    studies = view.studies
    rates = _dropout_rates(view, studies) if studies else None
    C.require(bool(studies) and rates is not None, ma, "dropout",
              "per-arm dropouts and randomized numbers (data events/total) for every study")
    nat = C.natural(ma)
    lv = C.level(ma)
    long, short = C.measure_names(ma)
    names = C.arm_names(ma, arm_labels)
    drop_data = None if data else 1
    ma_dir = dict(ma)
    ma_dir.setdefault("direction", "lower_is_better")
    weighted = any(C.has(r.weight) for r in studies)

    cols = [Column("label", "Study"),
            Column("exp", "n/N (%)", C.header_name(names[0]), "right", drop_data),
            Column("ctl", "n/N (%)", C.header_name(names[1]), "right", drop_data),
            Panel("rates", log=False, null=0.0, null_line=False, header="Dropout (%)",
                  xlim=None, symmetric=False, share=0.7, min_width=55.0, drop=3,
                  legend=((C.header_name(names[0]), "experimental", "dot"),
                          (C.header_name(names[1]), "control", "open"))),
            ]
    if weights is not False and weighted:
        cols.append(Column("weight", "Weight", "", "right", None if weights else 2))
    cols += [Panel("effect", log=C.is_log(ma), null=C.null_value(ma), header=long,
                   favours=C.favours(ma_dir, names), xlim=tuple(xlim) if xlim else None),
             Column("ci", f"{short} [{fmt.level_label(lv)} CI]",
                    "" if len(studies) == 1 else fmt.model_label(ma), "right",
                    group_overflow=True)]
    rows = []
    for i, (row, rate) in enumerate(zip(studies, rates)):
        lo, hi = C.row_ci(row, lv)
        cells = {"label": C.row_label(row, i), "exp": _side_text(rate.experimental),
                 "ctl": _side_text(rate.control), "weight": fmt.weight(row.weight),
                 "ci": fmt.effect_ci(nat(row.yi), nat(lo), nat(hi), digits, ratio=C.is_log(ma))}
        rate_marks = tuple(
            Mark(shape, 100.0 * side.dropouts / side.randomized, None, None, role, core=True)
            for side, shape, role in ((rate.control, "open", "control"), (rate.experimental, "dot", "experimental"))
            if side.randomized)
        marks = {"rates": rate_marks}
        if C.has(row.yi):
            marks["effect"] = (Mark("square", nat(row.yi), nat(lo), nat(hi), "study", row.weight),)
        rows.append(Row("study", cells, marks, key=row.trial))
    rows.append(Row("blank", height=0.5))
    p = view.pooled
    if C.has(p.estimate):
        # a control arm shared by several comparisons is one group (multivariate model)
        shared = view.get("multivariate") is not None
        pairs = [(row if shared else None, rate) for row, rate in zip(studies, rates)]
        cells = {"label": f"Total ({fmt.level_label(lv)} CI)",
                 "exp": _total_text(pairs, "experimental"), "ctl": _total_text(pairs, "control"),
                 "ci": fmt.effect_ci(nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper), digits,
                                     ratio=C.is_log(ma))}
        if weighted:
            cells["weight"] = "100.0%"
        rows.append(Row("pooled", cells, {"effect": (
            Mark("diamond", nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper), "pooled", core=True),)},
            bold=True))
    p = view.pooled
    footer = [Footer(x) for x in (fmt.heterogeneity(p, view.get("multivariate"), p.k),
                                  fmt.overall_test(p, C.model_setting(ma, "test"))) if x]
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
    view = C.view(ma, "blinding")
    blind = view.get("blinding")
    indices = blind.indices if blind is not None else ()
    C.require(any(e.bang for e in indices),
              ma, "blinding", "sensitivity.blinding.indices with Bang indices (end-of-trial "
              "allocation guesses in the trial records and blinding in 'sensitivity:')")
    labels = C.row_labels(ma)
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
        bang = e.bang or {}   # arm id -> Interval record (None: not estimable)
        first = True
        arms = [(e.experimental, "experimental", "dot"), (e.control, "control", "open")]
        known = {a for a, _, _ in arms}
        arms += [(a, "control", "open") for a in bang if a not in known]
        for arm, role, shape in arms:
            b = bang.get(arm)
            if b is None:
                continue
            cells = {"arm": fmt.pretty_id(arm),
                     "ci": fmt.effect_ci(b.estimate, b.ci_lower, b.ci_upper, digits)}
            if first:
                cells["label"] = labels.get(e.trial, str(e.trial))
                cells["assessor"] = str(e.assessor or "")
                j = e.james
                if j is not None:
                    cells["james"] = fmt.effect_ci(j.estimate, j.ci_lower, j.ci_upper, digits)
            mark = Mark(shape, b.estimate, b.ci_lower, b.ci_upper, role)
            rows.append(Row("arm", cells, {"bang": (mark,)}, key=e.trial))
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

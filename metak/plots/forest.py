"""Forest plots: one row per study, the pooled diamond, the prediction interval, the
heterogeneity and overall-test lines, optional Bayesian rows, and subgroups.

Layout follows RevMan and metafor's ``forest()``: study label, arm data, weight, the plot,
then the effect and its CI on the natural scale (odds ratios, not log odds ratios).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace

from . import _common as C
from . import _format as fmt
from . import _readers as R
from ._figure import draw
from ._style import FONT_SIZE
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists

# --------------------------------------------------------------------------- forest


def _columns(ma: Mapping, view, names, kind: str | None, show_data, show_weight, xlim, digits,
             effect_header: str | None = None):
    long, short = C.measure_names(ma)
    cols: list = [Column("label", "Study")]
    if kind is not None and show_data is not False:
        sub = C.DATA_KINDS[kind]
        drop = None if show_data else 1
        if C.single_arm(ma):  # one arm's own data per row (issue 27)
            cols.append(Column("exp", sub, "", "right", drop))
        else:
            cols.append(Column("exp", sub, C.header_name(names[0]), "right", drop))
            cols.append(Column("ctl", sub, C.header_name(names[1]), "right", drop))
    if show_weight is not False and any(C.has(r.weight) for r in view.studies):
        cols.append(Column("weight", "Weight", "", "right", None if show_weight else 2))
    single = len(view.studies) == 1
    cols.append(Panel("effect", log=C.is_log(ma), null=None if C.single_arm(ma) else C.null_value(ma),
                      header=long, favours=C.favours(ma, names), xlim=tuple(xlim) if xlim else None,
                      share=1.0))
    head = effect_header or f"{short} [{fmt.level_label(C.level(ma))} CI]"
    cols.append(Column("ci", head, "" if single else fmt.model_label(ma), "right",
                       group_overflow=True))
    return cols


def _study_row(ma, row, i, nat, lv, digits, kind) -> Row:
    lo, hi = C.row_ci(row, lv)
    cells = {"label": C.row_label(row, i),
             "ci": fmt.effect_ci(nat(row.yi), nat(lo), nat(hi), digits, ratio=C.is_log(ma)),
             "weight": fmt.weight(row.weight)}
    if kind is not None:
        cells["exp"] = fmt.arm_data(C.arm_data(row, "experimental"))
        cells["ctl"] = fmt.arm_data(C.arm_data(row, "control"))
    if not C.has(row.yi):  # kept by the model without an effect of its own (MH RD, double zero)
        cells["ci"] = NOT_ESTIMABLE
        return Row("study", cells, {}, key=row.trial)
    mark = Mark("square", nat(row.yi), nat(lo), nat(hi), "study", row.weight)
    return Row("study", cells, {"effect": (mark,)}, key=row.trial)


#: the effect column of a study the pooled model keeps but whose own effect is not estimable
#: (RevMan's words): a double-zero table in a Mantel-Haenszel risk difference
NOT_ESTIMABLE = "Not estimable"


def _pooled_rows(ma, view, nat, digits, kind, *, common: bool, prediction: bool,
                 label: str | None = None) -> list[Row]:
    rows, p, ratio = [], view.pooled, C.is_log(ma)
    glmm = view.get("glmm")
    if label is None and glmm is not None:  # the diamond is the GLMM's, not the inverse-variance model's
        label = f"GLMM ({glmm.model}), {glmm.method}"  # the CI's level is in the column header
    if label is None:
        label = f"Total ({fmt.level_label(C.level(ma))} CI)"
    cells = {"label": label,
             "ci": fmt.effect_ci(nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper), digits, ratio=ratio)}
    if kind is not None:
        shared = view.get("multivariate") is not None  # a shared control is one group, not split
        cells["exp"] = C.arm_totals(view.studies, shared, "experimental", kind)
        cells["ctl"] = C.arm_totals(view.studies, shared, "control", kind)
    if any(C.has(r.weight) for r in view.studies):
        cells["weight"] = "100.0%"
    marks = {}
    if C.has(p.estimate) and C.has(p.ci_lower) and C.has(p.ci_upper):
        marks = {"effect": (Mark("diamond", nat(p.estimate), nat(p.ci_lower), nat(p.ci_upper),
                                 "pooled", core=True),)}
    rows.append(Row("pooled", cells, marks, bold=True))
    ce = p.common_effect
    method = str(C.model_setting(ma, "method") or "").upper()
    if common and ce is not None and method not in fmt.FIXED_METHODS and C.has(ce.estimate):
        lo, hi = nat(ce.ci_lower), nat(ce.ci_upper)
        rows.append(Row("common", {"label": "Common effect",
                                   "ci": fmt.effect_ci(nat(ce.estimate), lo, hi, digits, ratio=ratio)},
                        {"effect": (Mark("diamond", nat(ce.estimate), lo, hi, "common", core=True),)}))
    if prediction and C.has(p.pi_lower) and C.has(p.pi_upper):
        lo, hi = nat(p.pi_lower), nat(p.pi_upper)
        rows.append(Row("pi", {"label": "Prediction interval",
                               "ci": fmt.effect_ci(None, lo, hi, digits, ratio=ratio)},
                        {"effect": (Mark("bar", None, lo, hi, "pi", core=True),)}))
    return rows


def _bayes_rows(ma, b, nat, digits) -> list[Row]:
    if b is None:
        return []
    rows, mu, ratio = [], b.mu, C.is_log(ma)
    lv = fmt.level_label(C.level(ma))
    if mu is not None and C.has(mu.mean) and C.has(mu.ci_lower) and C.has(mu.ci_upper):
        mid = nat(C.centre(mu))
        lo, hi = nat(mu.ci_lower), nat(mu.ci_upper)
        rows.append(Row("bayes", {"label": f"Bayesian \u03bc, median ({lv} CrI)",
                                  "ci": fmt.effect_ci(mid, lo, hi, digits, ratio=ratio)},
                        {"effect": (Mark("diamond", mid, lo, hi, "bayes", core=True),)}, bold=True))
    pred = b.predictive
    if pred is not None and C.has(pred.ci_lower) and C.has(pred.ci_upper):
        lo, hi = nat(pred.ci_lower), nat(pred.ci_upper)
        rows.append(Row("bayes_pi", {"label": "Bayesian prediction",
                                     "ci": fmt.effect_ci(None, lo, hi, digits, ratio=ratio)},
                        {"effect": (Mark("bar", None, lo, hi, "bayes_pi", core=True),)}))
    return rows


def _add_shrunken(rows: list[Row], b, nat, where: str = "") -> bool:
    if b is None or not b.shrunken:
        return False
    shrunken = R.shrunken(b, where)
    by_label = {str(x.label): x for x in shrunken}
    study_rows = [i for i, r in enumerate(rows) if r.kind == "study"]
    added = False
    for n, i in enumerate(study_rows):
        r = rows[i]
        x = by_label.get(r.cells["label"])  # every study row has its label cell
        if x is None and len(shrunken) == len(study_rows):
            x = shrunken[n]
        if x is None or not C.has(x.mean):
            continue
        marks = dict(r.marks)
        marks["effect"] = tuple(marks["effect"]) + (Mark("hollow", nat(x.mean), None, None, "shrunken"),)
        rows[i] = Row(r.kind, r.cells, marks, r.bold, r.italic, r.height, r.key, r.span)
        added = True
    return added


def _footer(ma, view, *, bayes_shown: bool, shrunken: bool) -> list[Footer]:
    out = []
    het = fmt.heterogeneity(view.pooled, view.get("multivariate"), view.pooled.k)
    if het:
        out.append(Footer(het))
    test = fmt.overall_test(view.pooled, C.model_setting(ma, "test"))
    if test:
        out.append(Footer(test))
    b = view.get("bayes") if bayes_shown else None
    if b is not None and C.has(b.prob_benefit):
        out.append(Footer(f"Bayesian posterior probability of benefit: {fmt.probability(b.prob_benefit)}"))
    if shrunken:
        out.append(Footer("Bayesian shrunken study estimates (posterior means)",
                          marker=("hollow", "shrunken")))
    if any(not C.has(r.yi) for r in view.studies):
        out.append(Footer(f"{NOT_ESTIMABLE}: no events (or only events) in both arms; the trial's own effect "
                          "cannot be estimated, but the pooled estimate keeps it (its weight)."))
    return out


def build_forest(ma: Mapping, *, bayes: bool = True, common: bool = False,
                 prediction: bool = True, data: bool | None = None,
                 weights: bool | None = None, xlim: Sequence[float] | None = None,
                 arm_labels: Sequence[str] | None = None, digits: int = 2, rob: bool | None = None) -> Table:
    """The forest plot of one meta-analysis as a :class:`~metak.plots._table.Table`."""
    view = C.view(ma, "forest")
    studies = view.studies
    C.require(studies, ma, "forest", "'studies' with yi and a CI")
    C.require(any(C.has(r.yi) for r in studies), ma, "forest", "an effect 'yi' for at least one study")
    nat = C.natural(ma)
    lv = C.level(ma)
    names = C.arm_names(ma, arm_labels)
    kind = C.data_kind(ma)
    cols = _columns(ma, view, names, kind, data, weights, xlim, digits)
    rows = [_study_row(ma, r, i, nat, lv, digits, kind) for i, r in enumerate(studies)]
    footer_rob = rob is not False and any(r.has_rob for r in studies)
    if footer_rob:
        from .rob import SHORT

        for name, head in SHORT.items():  # the group heading once, over all six (from the last)
            last = name == "overall"
            cols.append(Column(f"rob_{name}", head, "Risk of bias" if last else "", "center", None if rob else 3,
                               group_overflow=last))
        # placeholders that reserve each cell's width; the traffic lights are drawn over them
        rows = [replace(r, cells={**r.cells, **{f"rob_{n}": "\u2007\u2007" for n in SHORT}}) for r in rows]
    rows, reported = _mark_reported(rows, studies, kind)
    rows.append(Row("blank", height=0.5))
    rows += _pooled_rows(ma, view, nat, digits, kind, common=common, prediction=prediction)
    b = view.get("bayes") if bayes else None
    bayes_rows = _bayes_rows(ma, b, nat, digits)
    shrunken = _add_shrunken(rows, b, nat, f"meta_analyses[{view.id}].")
    rows += bayes_rows
    footer = _footer(ma, view, bayes_shown=bool(bayes_rows), shrunken=shrunken)
    if reported:
        footer = [Footer(reported)] + list(footer)
    if footer_rob:
        footer = list(footer) + [Footer("Risk of bias (RoB 2): D1 randomization process, D2 deviations from intended "
                                        "interventions, D3 missing outcome data, D4 measurement of the outcome, D5 "
                                        "selection of the reported result, O overall; + low, ? some concerns, "
                                        "\u2212 high" + _not_assessed(studies) + ".", requires="rob_overall")]
    return Table(tuple(cols), tuple(rows), tuple(footer))


def _mark_reported(rows: list, studies, kind) -> tuple[list, str]:
    """Studies entered as a reported effect (no arm counts) get a mark on their label and a
    footer line, so a blank n/N is explained (F2)."""
    marked = []
    for j, (r, row) in enumerate(zip(rows, studies)):
        what = R.reported_measure(row)
        if kind is not None and what is not None and r.kind == "study":
            rows[j] = replace(r, cells={**r.cells, "label": r.cells["label"] + " *"})
            marked.append(what)
    if not marked:
        return rows, ""
    what = " or ".join(sorted(set(marked)))
    return rows, f"* {what} as reported by the trial (no arm counts); its CI gives its weight."


def _not_assessed(studies) -> str:
    """The key's entry for the blank grey circle, when a study has a domain not judged (F17)."""
    from .rob import SHORT

    for row in studies:
        if not row.has_rob or any(not getattr(row.risk_of_bias, name) for name in SHORT):
            return ", blank grey circle not assessed"
    return ""


def forest(ma: Mapping, ax=None, *, bayes: bool = True, common: bool = False,
           prediction: bool = True, data: bool | None = None, weights: bool | None = None,
           xlim: Sequence[float] | None = None, arm_labels: Sequence[str] | None = None,
           digits: int = 2, fontsize: float = FONT_SIZE, greyscale: bool = False,
           size="single_column", rob: bool | None = None) -> TableArtists:
    """Forest plot of one meta-analysis (an element of results.json ``meta_analyses``).

    Parameters
    ----------
    ma : mapping
        One meta-analysis of the results document.
    ax : matplotlib Axes, optional
        Drawn into (the Axes is used as a container: its frame is hidden and the effect
        axis is an inset).  Default: a new figure ``size`` wide, as tall as the rows need.
    bayes : bool
        Add the Bayesian rows (posterior mean and CrI of mu, predictive interval) and the
        shrunken study estimates as hollow markers, when the results hold them.
    common : bool
        Also show the common-effect (inverse-variance) estimate under a random-effects one.
    prediction : bool
        Show the prediction interval as a bar under the diamond.
    data, weights : bool or None
        Show the arm data (``events/total`` or ``mean (SD) n``) and the weight columns;
        ``None``: when the width leaves the plot at least 70 pt.
    xlim : (low, high), optional
        Effect-axis limits on the natural scale (e.g. ``(0.1, 10)`` for an OR); whiskers
        beyond them end in arrows.
    arm_labels : (experimental, control), optional
        Names for the column headers and the favours labels (default: the arm ids when all
        studies share them).
    digits : int
        Decimals of the effects printed.
    rob : bool or None
        RevMan-style risk-of-bias columns (RoB 2 domains D1-D5 and overall: + low, ? some
        concerns, − high) when the studies carry ``risk_of_bias``; ``None``: when they do and
        the width allows (they are dropped after the data columns).

    Returns
    -------
    TableArtists
        The artists by name: ``cells[(row, "ci")]``, ``squares["effect"]``,
        ``diamond("pooled")``, ``panels["effect"]``, ``footer`` ...

    References
    ----------
    Lewis S, Clarke M (2001). Forest plots: trying to see the wood and the trees. BMJ 322:1479.
    """
    table = build_forest(ma, bayes=bayes, common=common, prediction=prediction, data=data,
                         weights=weights, xlim=xlim, arm_labels=arm_labels, digits=digits, rob=rob)
    art = draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)
    keys = [c.key for c in art.columns if getattr(c, "key", "").startswith("rob_")]
    if keys:
        from .rob import add_traffic_lights

        add_traffic_lights(art, ma, keys, greyscale=greyscale, fontsize=fontsize)
    return art


# --------------------------------------------------------------------------- subgroups


def build_subgroup(ma: Mapping, *, data: bool | None = None, weights: bool | None = None,
                   xlim: Sequence[float] | None = None, arm_labels: Sequence[str] | None = None,
                   digits: int = 2, prediction: bool = False) -> Table:
    """Studies grouped by the meta-analysis's ``subgroups`` (any characteristic or trial
    field), else by the control arm's ``control_type`` (``sensitivity.active_placebo``: inert
    vs active placebo ...), each group with its diamond, then the overall diamond and the
    test for subgroup differences."""
    view = C.view(ma, "subgroup")
    generic = view.get("subgroups")
    if generic is not None and generic.test.groups:
        test, groups, values = generic.test, generic.test.groups, list(generic.values or [])
        value_of, mixed = (lambda g: g.value), test.mixed_effects  # noqa: E731
        by = fmt.capitalise(fmt.pretty_id(test.by or ""))
        heading_of = lambda v: f"{by}: {fmt.humanise(v)}"  # noqa: E731
    else:
        test = view.get("active_placebo")
        C.require(test is not None and test.subgroups, ma, "subgroup",
                  "subgroups, or sensitivity.active_placebo.subgroups (add subgroups: or active_placebo "
                  "to 'sensitivity:')")
        groups, values = test.subgroups, [r.control_type for r in view.studies]
        value_of, mixed = (lambda g: g.control_type), None  # noqa: E731
        heading_of = lambda v: fmt.CONTROL_TYPES.get(v, fmt.capitalise(fmt.pretty_id(v or "other")))  # noqa: E731
    studies = view.studies
    C.require(studies, ma, "subgroup", "'studies'")
    C.require(len(groups) >= 2, ma, "subgroup",
              "at least two subgroups (every study is in one group: there is nothing to compare)")
    nat = C.natural(ma)
    lv = C.level(ma)
    names = C.arm_names(ma, arm_labels)
    kind = C.data_kind(ma)
    cols = _columns(ma, view, names, kind, data, weights, xlim, digits)
    rows: list[Row] = []
    for g in groups:
        value = value_of(g)
        members = [(i, r) for i, r in enumerate(studies) if i < len(values) and values[i] == value]
        rows.append(Row("subgroup_header", {"label": heading_of(value)}, bold=True, span=True))
        rows += [_study_row(ma, r, i, nat, lv, digits, kind) for i, r in members]
        if C.has(g.estimate):
            lo, hi = nat(g.ci_lower), nat(g.ci_upper)
            cells = {"label": f"Subtotal ({fmt.level_label(lv)} CI)",
                     "ci": fmt.effect_ci(nat(g.estimate), lo, hi, digits, ratio=C.is_log(ma))}
            w = [r.weight for _, r in members]
            if w and all(C.has(x) for x in w):
                cells["weight"] = fmt.weight(sum(w))
            rows.append(Row("subtotal", cells, {"effect": (
                Mark("diamond", nat(g.estimate), lo, hi, "subtotal", core=True),)}, bold=True))
        het = []
        if C.has(g.tau2):
            het.append(f"\u03c4\u00b2 = {fmt.tau2(g.tau2)}")
        if C.has(g.i2):
            het.append(f"I\u00b2 = {fmt.percent(g.i2)}")
        if het:
            rows.append(Row("note", {"label": "Heterogeneity: " + "; ".join(het)}, italic=True,
                            span=True, height=0.9))
        rows.append(Row("blank", height=0.5))
    rows += _pooled_rows(ma, view, nat, digits, kind, common=False, prediction=prediction)
    footer = _footer(ma, view, bayes_shown=False, shrunken=False)
    footer += [Footer(x) for x in (fmt.subgroup_test(test), fmt.mixed_effects_test(mixed)) if x]
    return Table(tuple(cols), tuple(rows), tuple(footer))


def subgroup_forest(ma: Mapping, ax=None, *, data: bool | None = None,
                    weights: bool | None = None, xlim: Sequence[float] | None = None,
                    arm_labels: Sequence[str] | None = None, digits: int = 2,
                    prediction: bool = False, fontsize: float = FONT_SIZE,
                    greyscale: bool = False, size="single_column") -> TableArtists:
    """Forest plot by control type (active vs inert placebo) with subgroup diamonds and the
    test for subgroup differences (Cochrane Handbook 10.11.3).  Needs
    ``sensitivity.active_placebo``; options as :func:`forest`.  Study weights are those of
    the overall model."""
    table = build_subgroup(ma, data=data, weights=weights, xlim=xlim, arm_labels=arm_labels,
                           digits=digits, prediction=prediction)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)

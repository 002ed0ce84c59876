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
from ._figure import draw
from ._style import FONT_SIZE
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists


def _columns(ma: Mapping, names, kind: str | None, show_data, show_weight, xlim, digits,
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
    if show_weight is not False and any(C.has(s.get("weight")) for s in ma.get("studies") or []):
        cols.append(Column("weight", "Weight", "", "right", None if show_weight else 2))
    single = len(ma.get("studies") or []) == 1
    cols.append(Panel("effect", log=C.is_log(ma), null=None if C.single_arm(ma) else C.null_value(ma),
                      header=long, favours=C.favours(ma, names), xlim=tuple(xlim) if xlim else None,
                      share=1.0))
    head = effect_header or f"{short} [{fmt.level_label(C.level(ma))} CI]"
    cols.append(Column("ci", head, "" if single else fmt.model_label(ma), "right",
                       group_overflow=True))
    return cols


def _study_row(ma, s, i, nat, lv, digits, kind) -> Row:
    lo, hi = C.study_ci(s, lv)
    cells = {"label": C.study_label(s, i),
             "ci": fmt.effect_ci(nat(s.get("yi")), nat(lo), nat(hi), digits, ratio=C.is_log(ma)),
             "weight": fmt.weight(s.get("weight"))}
    if kind is not None:
        cells["exp"] = fmt.arm_data(C.arm_data(s, "experimental"))
        cells["ctl"] = fmt.arm_data(C.arm_data(s, "control"))
    mark = Mark("square", nat(s.get("yi")), nat(lo), nat(hi), "study", s.get("weight"))
    return Row("study", cells, {"effect": (mark,)}, key=s.get("trial"))


def _pooled_rows(ma, nat, digits, kind, *, common: bool, prediction: bool,
                 label: str | None = None) -> list[Row]:
    rows = []
    glmm = (ma.get("model") or {}).get("glmm")
    if label is None and glmm:  # the diamond is the GLMM's, not the inverse-variance model's
        label = f"GLMM ({glmm['model']}), {glmm['method']}"  # the CI's level is in the column header
    if label is None:
        label = f"Total ({fmt.level_label(C.level(ma))} CI)"
    cells = {"label": label,
             "ci": fmt.effect_ci(nat(ma.get("estimate")), nat(ma.get("ci_lower")),
                                 nat(ma.get("ci_upper")), digits, ratio=C.is_log(ma))}
    if kind is not None:
        cells["exp"] = C.arm_totals(ma, "experimental", kind)
        cells["ctl"] = C.arm_totals(ma, "control", kind)
    if any(C.has(s.get("weight")) for s in ma.get("studies") or []):
        cells["weight"] = "100.0%"
    marks = {}
    if C.has(ma.get("estimate")) and C.has(ma.get("ci_lower")) and C.has(ma.get("ci_upper")):
        marks = {"effect": (Mark("diamond", nat(ma["estimate"]), nat(ma["ci_lower"]),
                                 nat(ma["ci_upper"]), "pooled", core=True),)}
    rows.append(Row("pooled", cells, marks, bold=True))
    ce = ma.get("common_effect")
    method = str((ma.get("model") or {}).get("method") or "").upper()
    if common and isinstance(ce, Mapping) and method not in fmt.FIXED_METHODS and \
            C.has(ce.get("estimate")):
        rows.append(Row("common", {
            "label": "Common effect",
            "ci": fmt.effect_ci(nat(ce["estimate"]), nat(ce.get("ci_lower")),
                                nat(ce.get("ci_upper")), digits, ratio=C.is_log(ma))},
            {"effect": (Mark("diamond", nat(ce["estimate"]), nat(ce.get("ci_lower")),
                             nat(ce.get("ci_upper")), "common", core=True),)}))
    if prediction and C.has(ma.get("pi_lower")) and C.has(ma.get("pi_upper")):
        lo, hi = nat(ma["pi_lower"]), nat(ma["pi_upper"])
        rows.append(Row("pi", {"label": "Prediction interval",
                               "ci": fmt.effect_ci(None, lo, hi, digits, ratio=C.is_log(ma))},
                        {"effect": (Mark("bar", None, lo, hi, "pi", core=True),)}))
    return rows


def _bayes_rows(ma, nat, digits) -> list[Row]:
    b = ma.get("bayes")
    if not isinstance(b, Mapping):
        return []
    rows = []
    mu = b.get("mu") or {}
    lv = fmt.level_label(C.level(ma))
    if C.has(mu.get("mean")) and C.has(mu.get("ci_lower")) and C.has(mu.get("ci_upper")):
        rows.append(Row("bayes", {
            "label": f"Bayesian \u03bc, median ({lv} CrI)",
            "ci": fmt.effect_ci(nat(C.centre(mu, C.is_log(ma))), nat(mu["ci_lower"]), nat(mu["ci_upper"]),
                                digits, ratio=C.is_log(ma))},
            {"effect": (Mark("diamond", nat(C.centre(mu, C.is_log(ma))), nat(mu["ci_lower"]),
                             nat(mu["ci_upper"]), "bayes", core=True),)}, bold=True))
    pred = b.get("predictive") or {}
    if C.has(pred.get("ci_lower")) and C.has(pred.get("ci_upper")):
        lo, hi = nat(pred["ci_lower"]), nat(pred["ci_upper"])
        rows.append(Row("bayes_pi", {"label": "Bayesian prediction",
                                     "ci": fmt.effect_ci(None, lo, hi, digits, ratio=C.is_log(ma))},
                        {"effect": (Mark("bar", None, lo, hi, "bayes_pi", core=True),)}))
    return rows


def _add_shrunken(rows: list[Row], ma, nat) -> bool:
    shrunken = (ma.get("bayes") or {}).get("shrunken") or []
    if not shrunken:
        return False
    by_label = {str(x.get("label")): x for x in shrunken if isinstance(x, Mapping)}
    study_rows = [i for i, r in enumerate(rows) if r.kind == "study"]
    added = False
    for n, i in enumerate(study_rows):
        r = rows[i]
        x = by_label.get(r.cells.get("label"))
        if x is None and len(shrunken) == len(study_rows):
            x = shrunken[n]
        if x is None or not C.has(x.get("mean")):
            continue
        marks = dict(r.marks)
        marks["effect"] = tuple(marks.get("effect", ())) + (
            Mark("hollow", nat(x["mean"]), None, None, "shrunken"),)
        rows[i] = Row(r.kind, r.cells, marks, r.bold, r.italic, r.height, r.key, r.span)
        added = True
    return added


def _footer(ma, *, bayes_shown: bool, shrunken: bool) -> list[Footer]:
    out = []
    het = fmt.heterogeneity(ma)
    if het:
        out.append(Footer(het))
    test = fmt.overall_test(ma)
    if test:
        out.append(Footer(test))
    if bayes_shown:
        pb = (ma.get("bayes") or {}).get("prob_benefit")
        if C.has(pb):
            out.append(Footer(f"Bayesian posterior probability of benefit: {fmt.probability(pb)}"))
    if shrunken:
        out.append(Footer("Bayesian shrunken study estimates (posterior means)",
                          marker=("hollow", "shrunken")))
    return out


def build_forest(ma: Mapping, *, bayes: bool = True, common: bool = False,
                 prediction: bool = True, data: bool | None = None,
                 weights: bool | None = None, xlim: Sequence[float] | None = None,
                 arm_labels: Sequence[str] | None = None, digits: int = 2, rob: bool | None = None) -> Table:
    """The forest plot of one meta-analysis as a :class:`~metak.plots._table.Table`."""
    C.require_ma(ma, "forest")
    studies = ma.get("studies") or []
    C.require(studies, ma, "forest", "'studies' with yi and a CI")
    C.require(all(C.has(s.get("yi")) for s in studies), ma, "forest",
              "an effect 'yi' for every study")
    nat = C.natural(ma)
    lv = C.level(ma)
    names = C.arm_names(ma, arm_labels)
    kind = C.data_kind(ma)
    cols = _columns(ma, names, kind, data, weights, xlim, digits)
    rows = [_study_row(ma, s, i, nat, lv, digits, kind) for i, s in enumerate(studies)]
    if rob is not False and any(isinstance(s.get("risk_of_bias"), Mapping) for s in studies):
        from .rob import SHORT

        for name, head in SHORT.items():  # the group heading once, over all six (from the last)
            last = name == "overall"
            cols.append(Column(f"rob_{name}", head, "Risk of bias" if last else "", "center", None if rob else 3,
                               group_overflow=last))
        # placeholders that reserve each cell's width; the traffic lights are drawn over them
        rows = [replace(r, cells={**r.cells, **{f"rob_{n}": "\u2007\u2007" for n in SHORT}}) for r in rows]
        footer_rob = True
    else:
        footer_rob = False
    rows, reported = _mark_reported(rows, studies, kind)
    rows.append(Row("blank", height=0.5))
    rows += _pooled_rows(ma, nat, digits, kind, common=common, prediction=prediction)
    bayes_rows = _bayes_rows(ma, nat, digits) if bayes else []
    shrunken = _add_shrunken(rows, ma, nat) if bayes else False
    rows += bayes_rows
    footer = _footer(ma, bayes_shown=bool(bayes_rows), shrunken=shrunken)
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
    for j, (r, s) in enumerate(zip(rows, studies)):
        d = s.get("data") or {}
        if kind is not None and isinstance(d, Mapping) and "estimate" in d and r.kind == "study":
            rows[j] = replace(r, cells={**r.cells, "label": r.cells.get("label", "") + " *"})
            marked.append(str(d.get("measure") or "effect"))
    if not marked:
        return rows, ""
    what = " or ".join(sorted(set(marked)))
    return rows, f"* {what} as reported by the trial (no arm counts); its CI gives its weight."


def _not_assessed(studies) -> str:
    """The key's entry for the blank grey circle, when a study has a domain not judged (F17)."""
    from .rob import SHORT

    for s in studies:
        rob = s.get("risk_of_bias")
        if not isinstance(rob, Mapping) or any(not rob.get(name) for name in SHORT):
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
    C.require_ma(ma, "subgroup")
    generic = ma.get("subgroups")
    if isinstance(generic, Mapping) and generic.get("groups"):
        block = {**generic, "subgroups": generic["groups"]}
        key, values = "value", list(generic.get("values") or [])
        by = fmt.capitalise(fmt.pretty_id(generic.get("by", "")))
        heading_of = lambda v: f"{by}: {fmt.humanise(v)}"  # noqa: E731
    else:
        block = (ma.get("sensitivity") or {}).get("active_placebo")
        C.require(isinstance(block, Mapping) and block.get("subgroups"), ma, "subgroup",
                  "subgroups, or sensitivity.active_placebo.subgroups (add subgroups: or active_placebo "
                  "to 'sensitivity:')")
        key, values = "control_type", [s.get("control_type") for s in ma.get("studies") or []]
        heading_of = lambda v: fmt.CONTROL_TYPES.get(v, fmt.capitalise(fmt.pretty_id(v or "other")))  # noqa: E731
    studies = ma.get("studies") or []
    C.require(studies, ma, "subgroup", "'studies'")
    C.require(len(block["subgroups"]) >= 2, ma, "subgroup",
              "at least two subgroups (every study is in one group: there is nothing to compare)")
    nat = C.natural(ma)
    lv = C.level(ma)
    names = C.arm_names(ma, arm_labels)
    kind = C.data_kind(ma)
    cols = _columns(ma, names, kind, data, weights, xlim, digits)
    rows: list[Row] = []
    for g in block["subgroups"]:
        value = g.get(key)
        members = [(i, s) for i, s in enumerate(studies) if i < len(values) and values[i] == value]
        heading = heading_of(value)
        rows.append(Row("subgroup_header", {"label": heading}, bold=True, span=True))
        rows += [_study_row(ma, s, i, nat, lv, digits, kind) for i, s in members]
        if C.has(g.get("estimate")):
            cells = {"label": f"Subtotal ({fmt.level_label(lv)} CI)",
                     "ci": fmt.effect_ci(nat(g["estimate"]), nat(g.get("ci_lower")),
                                         nat(g.get("ci_upper")), digits, ratio=C.is_log(ma))}
            w = [s.get("weight") for _, s in members]
            if w and all(C.has(x) for x in w):
                cells["weight"] = fmt.weight(sum(w))
            rows.append(Row("subtotal", cells, {"effect": (
                Mark("diamond", nat(g["estimate"]), nat(g.get("ci_lower")),
                     nat(g.get("ci_upper")), "subtotal", core=True),)}, bold=True))
        het = []
        if C.has(g.get("tau2")):
            het.append(f"\u03c4\u00b2 = {fmt.tau2(g['tau2'])}")
        if C.has(g.get("i2")):
            het.append(f"I\u00b2 = {fmt.percent(g['i2'])}")
        if het:
            rows.append(Row("note", {"label": "Heterogeneity: " + "; ".join(het)}, italic=True,
                            span=True, height=0.9))
        rows.append(Row("blank", height=0.5))
    rows += _pooled_rows(ma, nat, digits, kind, common=False, prediction=prediction)
    footer = _footer(ma, bayes_shown=False, shrunken=False)
    sub = fmt.subgroup_test(block)
    if sub:
        footer.append(Footer(sub))
    mixed = fmt.mixed_effects_test(block.get("mixed_effects"))
    if mixed:
        footer.append(Footer(mixed))
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

"""The figures read the analyses' typed records (metak.typed.records), not results.json keys.

CONVERTED lists the plot functions that read their analysis through ``C.view(ma, kind)``
(``view.pooled``, ``view.get(name)``, ``view.studies``: attribute access on the records); a
scan of their source fails on a results.json key read by hand. NOT_YET would list what is left;
it is empty (issue 24): every plotter of the registry's FIGURES is converted. Document-level
settings that no analysis record holds (measure, scale, direction, model.method/test/level,
figure_options) are read through the ``_common`` accessors only.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import math
import re
from pathlib import Path

import pytest

from metak.typed import ResultsMismatch, records

(bayes, bias, bubble, diagnostics, dose, forest, funnel, missing, network, rob, selection, sensitivity,
 shared_bias, tsa) = (
    importlib.import_module(f"metak.plots.{m}")
    for m in ("bayes", "bias", "bubble", "diagnostics", "dose", "forest", "funnel", "missing", "network", "rob",
              "selection", "sensitivity", "shared_bias", "tsa"))

FIXTURES = Path(__file__).parent / "fixtures" / "plots"

#: module -> functions that read the results only through records
CONVERTED = {
    sensitivity: ("build_leave_one_out", "build_cumulative", "build_dropout", "_dropout_rates", "_side_text",
                  "_total_text", "build_blinding"),
    diagnostics: ("_influence_rows", "baujat", "influence_panel", "_key", "trim_fill", "_place_labels"),
    bias: ("tipping_point", "_source_lines", "assumed_effect", "build_blinding_forest", "blinding_forest"),
    bubble: ("bubble",),
    dose: ("dose_response",),
    missing: ("build_missing_outcome",),
    rob: ("rob_summary", "add_traffic_lights"),
    selection: ("selection_curve", "selection"),
    forest: ("_columns", "_study_row", "_pooled_rows", "_bayes_rows", "_add_shrunken", "_footer", "build_forest",
             "_mark_reported", "_not_assessed", "forest", "build_subgroup", "subgroup_forest"),
    funnel: ("funnel", "study_points", "funnel_points", "_contour_names"),
    tsa: ("tsa",),
    bayes: ("build_prior_sensitivity", "prior_sensitivity", "_density", "_ci", "posterior"),
    network: ("_net", "_log", "_level", "_nat", "graph", "forest", "node_split", "league", "rankogram"),
    shared_bias: ("_blinding", "_shared", "_scale_name", "shared_bias", "_interval", "_x_axis", "bias_posterior",
                  "cgrc"),
    # the shared readers of study rows (records; the dict-based study_ci/arm_data/arm_totals are gone)
    importlib.import_module("metak.plots._common"): ("rows", "row_label", "row_labels", "row_ci", "arm_data",
                                                     "arm_totals", "data_kind", "centre"),
}
#: analysis parts read as records; _estimates the PET and PEESE fits (objects in the PetPeese record)
PARTIAL = {selection: ("_estimates",)}
#: plot modules / functions still reading results.json keys by hand (to convert)
NOT_YET = (
)

#: a results.json key read by hand: ma["..."], ma.get(...), x.get("..."), x["..."] on a row
#: (``view.get("name")`` is the typed reader; ``colours.get(...)`` the figure's palette)
HAND_READ = re.compile(r"""\bma\s*\[|\bma\.get\(|(?<!\bview)(?<!\bcolours)\.get\(\s*["']|\b(?:e|p|r|s|b|c|tip|src|reg|curve|tf|f|ss|ap)\[\s*["']""")
#: a path into the document that only a record should know
DOC_PATH = re.compile(r"""["']sensitivity["']""")


def _hand_reads(src: str, pattern=HAND_READ) -> list[str]:
    return [line.strip() for line in src.splitlines() if pattern.search(line.split("#")[0])]


def test_the_scan_finds_a_key_read_by_hand():
    old = 'loo = (ma.get("sensitivity") or {}).get("leave_one_out")\nx = e["estimate"]\ny = e.estimate\n'
    assert _hand_reads(old) == ['loo = (ma.get("sensitivity") or {}).get("leave_one_out")', 'x = e["estimate"]']
    assert _hand_reads('b = ma["sensitivity"]\n') and _hand_reads('v = p.get("ci_lower")\n')


@pytest.mark.parametrize("module,name", [(m, n) for m, names in CONVERTED.items() for n in names],
                         ids=lambda x: getattr(x, "__name__", x))
def test_converted_functions_read_no_results_key_by_hand(module, name):
    src = inspect.getsource(getattr(module, name))
    assert _hand_reads(src) == [], f"{module.__name__}.{name} reads results.json keys by hand"
    assert not DOC_PATH.search(src), f"{module.__name__}.{name} walks the document's paths by hand"


@pytest.mark.parametrize("module,name", [(m, n) for m, names in PARTIAL.items() for n in names])
def test_partly_converted_functions_read_the_analysis_as_records(module, name):
    src = inspect.getsource(getattr(module, name))
    assert not re.search(r"\bma\s*\[|\bma\.get\(", src) and not DOC_PATH.search(src)
    assert "C.view(ma" in src


def test_every_figure_kind_is_listed_as_converted_or_not_yet():
    from metak.registry import FIGURES

    done = {f"{m.__name__}:{n}" for table in (CONVERTED, PARTIAL) for m, names in table.items() for n in names}
    for kind, fig in FIGURES.items():
        target = fig.plot.replace("metak.plots.", "")
        module, func = target.split(":")
        builder = f"metak.plots.{module}:build_{func}"
        listed = (f"metak.plots.{target}" in done or builder in done or module in NOT_YET
                  or f"{module}.build_{func}" in NOT_YET)
        assert listed, f"figure {kind} ({fig.plot}) is neither converted nor listed in NOT_YET"


# --------------------------------------------------------------------------- the numbers drawn

def _load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


def _doc(path):
    return json.loads((Path(__file__).parent.parent / path).read_text())["meta_analyses"]


def _marks(table, kind="effect"):
    return [m for row in table.rows for m in row.marks.get(kind, ())]


def test_leave_one_out_draws_the_records_numbers():
    ma = _load("bcg_or")
    view = records(ma)
    table = sensitivity.build_leave_one_out(ma)
    marks = _marks(table)
    rows = view.get("leave_one_out").rows
    assert len(marks) == len(rows) + 1
    for m, row in zip(marks, rows):
        assert m.est == pytest.approx(math.exp(row.estimate), rel=1e-12)
        assert [m.lo, m.hi] == pytest.approx([math.exp(row.ci_lower), math.exp(row.ci_upper)], rel=1e-12)
    assert marks[-1].est == pytest.approx(math.exp(view.pooled.estimate), rel=1e-12)


def test_cumulative_draws_the_records_steps():
    ma = next(m for m in _doc("results/depression_response/results.json") + _doc("docs/examples/bcg/results/results.json")
              if (m.get("sensitivity") or {}).get("cumulative"))
    steps = records(ma).get("cumulative").steps
    table = sensitivity.build_cumulative(ma)
    nat = (lambda v: math.exp(v)) if ma.get("scale") == "log" or ma["measure"] in ("OR", "RR") else (lambda v: v)
    drawn = _marks(table)
    assert len(drawn) == sum(s.estimate is not None for s in steps)
    for m, s in zip(drawn, [s for s in steps if s.estimate is not None]):
        assert m.est == pytest.approx(nat(s.estimate), rel=1e-9)


@pytest.mark.parametrize("kind,path,value", [
    ("leave_one_out", ("sensitivity", "leave_one_out", 0, "tau2"), "0.36"),
    ("leave_one_out", ("sensitivity", "leave_one_out", 1, "omitted"), None),
    ("leave_one_out", ("estimate",), "-0.7"),
])
def test_a_value_that_does_not_fit_its_record_names_its_path(kind, path, value):
    ma = copy.deepcopy(_load("bcg_or"))
    node = ma
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    from metak.plots.render import draw_kind

    with pytest.raises(ResultsMismatch) as err:
        draw_kind(ma, kind)
    where = ".".join(str(p) for p in path if not isinstance(p, int))
    assert "meta_analyses[bcg_tb]." in str(err.value)
    assert where.split(".")[-1] in str(err.value)


def test_influence_figures_read_the_influence_record():
    ma = next(m for m in _doc("docs/examples/bcg/results/results.json")
              if (m.get("sensitivity") or {}).get("influence"))
    rows = records(ma).get("influence").rows
    art = diagnostics.baujat(ma)
    offs = art.points[0].get_offsets()
    shown = [r for r in rows if r.baujat_x is not None and r.baujat_y is not None]
    assert [float(v) for o in offs for v in o] == pytest.approx([v for r in shown for v in (r.baujat_x, r.baujat_y)])
    bad = copy.deepcopy(ma)
    bad["sensitivity"]["influence"][0]["influential"] = "yes"
    with pytest.raises(ResultsMismatch, match=r"influence\[0\]\.influential"):
        diagnostics.influence_panel(bad)


def test_the_baujat_axis_follows_the_models_method():
    """C.method reads model.method (it read a top-level key no results.json writes, so a
    common-effect model's Baujat plot was labelled with the random-effects residual)."""
    from metak.plots.render import draw_kind

    doc = json.loads((Path(__file__).parent.parent / "docs/examples/bcg/results/results.json").read_text())
    ma = next(m for m in doc["meta_analyses"] if (m.get("sensitivity") or {}).get("influence"))
    labels = {}
    for method in ("REML", "FE"):
        m = copy.deepcopy(ma)
        m["model"]["method"] = method
        art = draw_kind(m, "baujat")
        labels[method] = art.ax.get_xlabel() if hasattr(art, "ax") else art.axes[0].get_xlabel()
    assert labels == {"REML": "Squared Pearson residual", "FE": "Contribution to overall heterogeneity"}

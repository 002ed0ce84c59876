"""Figures that survive any width (issue 25): the layout engine degrades by rule instead of
dropping data, runaway intervals are clipped with arrows, one number formatter, favours labels
from the interventions or the spec, humanised labels, the spec's ``figures:`` options."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("matplotlib")

import metak  # noqa: E402
from metak.plots import _format as fmt  # noqa: E402
from metak.plots import _scales  # noqa: E402
from metak.plots._layout import fit_to_width  # noqa: E402
from metak.plots._style import FONT_FAMILY, resolve_font  # noqa: E402
from metak.plots.bayes import _prior_label  # noqa: E402
from metak.plots.forest import build_forest, forest  # noqa: E402
from metak.plots.render import draw_kind, render  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "plots"
M = "\u2212"


def load(name):
    return json.loads((FIXTURES / f"{name}.json").read_text())


@pytest.fixture()
def k2():
    """Two studies of the ketamine fixture refitted with Knapp-Hartung: a k = 2 HKSJ interval
    hundreds of times wider than either study's (the review's F4/F5)."""
    ket = load("ketamine_or")
    studies = ket["studies"][:2]
    fit = metak.fit([s["yi"] for s in studies], [s["vi"] for s in studies], measure="OR", test="knha")
    ma = fit.to_meta_dict()
    for s, src in zip(ma["studies"], studies):
        s.update({k: src[k] for k in ("trial", "label", "experimental", "control", "data")})
    return ma


def _texts(art):
    return " | ".join(art.texts())


def test_single_column_keeps_every_data_column(k2):
    """S5: at 89 mm the n/N and weight columns stay; the arm data move below the labels."""
    art = forest(k2, size="single_column")
    keys = [c.key for c in art.columns]
    assert "weight" in keys and "effect" in keys and "ci" in keys
    drawn = _texts(art)
    for s in k2["studies"]:
        for arm in s["data"].values():
            assert f"{arm['events']}/{arm['total']}" in drawn
    assert "Under each label: n/N" in drawn
    # at 183 mm nothing moves: the data are columns of their own
    wide = forest(k2, size="double_column")
    assert {"exp", "ctl", "weight"} <= {c.key for c in wide.columns}


def test_runaway_pooled_interval_is_clipped_with_arrows(k2):
    """F4/F5/S6: the axis follows the studies' CIs; the HKSJ diamond and PI run past it with
    arrow heads, and the study rows are not squashed."""
    nat = math.exp
    art = forest(k2, size="single_column")
    pax = art.panels["effect"]
    a, b = pax.get_xlim()
    lo_ci, hi_ci = nat(k2["ci_lower"]), nat(k2["ci_upper"])
    assert lo_ci < a and hi_ci > b                       # the pooled CI is clipped ...
    study_lo = min(nat(s["ci_lower"]) for s in k2["studies"])
    study_hi = max(nat(s["ci_upper"]) for s in k2["studies"])
    assert a <= study_lo * 1.0001 and b >= study_hi * 0.9999 or \
        math.log(b / a) <= 4 * math.log(study_hi / study_lo)  # ... while the studies set the range
    assert math.log10(b / a) <= 4                        # not 0.0001-100000
    i = art.rows("pooled")[0]
    markers = [m.get_marker() for m in art.marks[(i, "effect")] if hasattr(m, "get_marker")]
    assert "<" in markers and ">" in markers
    # the text still prints the whole interval, by the shared formatter
    cell = art.cells[(i, "ci")].get_text()
    assert cell == fmt.effect_ci(nat(k2["estimate"]), lo_ci, hi_ci, ratio=True)


def test_ticks_never_overprint_and_end_on_labels():
    """S5 / F18: a fallback tick set never overprints; a given xlim ends on labelled ticks."""
    w = lambda s: 4.0 * len(s)  # noqa: E731
    a, b, ticks, labels = _scales.log_ticks(0.00001, 1000, 40, w)
    pos = [(math.log(t) - math.log(a)) / (math.log(b) - math.log(a)) * 40 for t in ticks]
    for i in range(1, len(ticks)):
        assert pos[i] - pos[i - 1] >= (w(labels[i]) + w(labels[i - 1])) / 2
    art = forest(load("bcg_or"), xlim=(0.5, 4))
    assert [t.get_text() for t in art.panels["effect"].get_xticklabels()][-1] == "4"


def test_one_formatter_for_a_column():
    """F5, F11, F16: one decimals rule, no scientific notation, halves up (F3)."""
    assert fmt.effect_ci(0.22, 0.000055, 848.96, ratio=True) == "0.22 [0.000055, 848.96]"
    assert fmt.effect_ci(3.44, 0.00017, 68981.2, ratio=True) == "3.44 [0.00017, 68981]"
    assert "e" not in fmt.effect_ci(5.79, 8.48e-10, 3.96e10, ratio=True)
    assert fmt.effect_ci(117 / 72, 1, 2, ratio=True).startswith("1.63 ")
    assert fmt.arm_data({"mean": -3.764, "sd": 3.474, "n": 36}) == f"{M}3.76 (3.47) 36"
    assert fmt.arm_data({"mean": -4.1, "sd": 3.2, "n": 58}) == f"{M}4.1 (3.2) 58"


def test_drawn_from_the_rounded_document(tmp_path):
    """F3: analyze (unrounded) and plot (results.json, 12 digits) print the same digits."""
    ma = load("bcg_or")
    ma = {**ma, "studies": [dict(s) for s in ma["studies"]]}
    ma["studies"][0]["yi"] = math.log(117 / 72) - 1e-15   # 1.6249999999999998 unrounded
    art = draw_kind(ma, "forest")
    assert art.cells[(0, "ci")].get_text().startswith("1.63 ")


def test_favours_from_interventions_and_overrides():
    ma = load("bcg_or")
    ma = {**ma, "studies": [{**s, "experimental": f"v{i}", "interventions":
                             {"experimental": "BCG", "control": "no vaccine"}}
                            for i, s in enumerate(ma["studies"])]}
    art = forest(ma, size="double_column")
    assert "Favours BCG" in _texts(art) and "Bcg" not in _texts(art)       # F1, F12
    assert "BCG" in [h.get_text() for h in art.header]
    art = draw_kind(ma, "forest", favours=("Favours vaccine", "Favours nothing"))
    assert {t.get_text() for t in art.favours["effect"]} == {"Favours vaccine", "Favours nothing"}
    spec = {**ma, "figure_options": {"arm_labels": ["Vaccine", "Control"]}}
    assert "Favours Vaccine" in _texts(draw_kind(spec, "forest", size="double_column"))


def test_humanised_labels():
    assert _prior_label("HalfNormal(sigma=0.5)") == "half-normal, scale 0.5"
    assert _prior_label("LogNormal(mu=-2.12, sigma=1.53) on tau^2 [turner2015/mental_health]") == \
        f"log-normal on \u03c4\u00b2, mean {M}2.12, SD 1.53 (Turner 2015, mental health)"
    assert _prior_label("Uniform(lower=0, upper=2)") == "uniform, 0 to 2"
    assert fmt.humanise("north_america") == "North America" and fmt.humanise("BCG") == "BCG"


def test_fit_to_width_shrinks_then_wraps_then_stacks():
    table = build_forest(load("bcg_or"))
    t, size = fit_to_width(table, 1000, 7.0)
    assert t is table and size == 7.0
    t, size = fit_to_width(table, 244, 7.0)      # 89 mm less the margins
    assert 5.5 <= size < 7.0
    assert {"exp", "ctl"}.isdisjoint(c.key for c in t.columns)
    first = table.rows[0]
    assert t.rows[0].cells["label"].split("\n")[0] == first.cells["label"]
    assert t.rows[0].cells["label"].split("\n")[1] == f"{first.cells['exp']} vs {first.cells['ctl']}"


def test_font_falls_back_to_dejavu(tmp_path):
    assert resolve_font(None) == FONT_FAMILY
    assert resolve_font("No Such Font 123") == FONT_FAMILY
    out = render(load("bcg_or"), "forest", tmp_path / "f.svg", font="No Such Font 123")
    assert out.exists()


def test_spec_figures_options(tmp_path):
    from metak.errors import MetakError
    from metak.spec import load_spec

    trials = Path(__file__).parent.parent / "trials"

    def spec(figures: str) -> Path:
        p = tmp_path / "a.yaml"
        p.write_text(f"metak: 1\ntitle: t\ntrials: {trials}\nmeta_analyses:\n  - id: x\n    outcome: dropout\n"
                     f"    measure: OR\n    figures:\n{figures}")
        return p

    ok = spec("      kinds: [forest]\n      favours: [Favours control, Favours ketamine]\n"
              "      xlim: [0.1, 10]\n      font: Arial\n      width: single_column\n")
    ms = load_spec(ok).meta_analyses[0]
    assert ms.figures == ("forest",)
    opts = dict(ms.figure_options)
    assert opts["favours"] == ("Favours control", "Favours ketamine") and opts["xlim"] == (0.1, 10.0)
    assert opts["font"] == "Arial" and opts["width"] == "single_column"
    bad = spec("      kinds: [forest]\n      xlim: [10, 0.1]\n      favours: [one]\n      colour: red\n")
    with pytest.raises(MetakError) as err:
        load_spec(bad)
    text = str(err.value)
    assert "xlim" in text and "favours" in text and "colour" in text
    assert "a.yaml:10:" in text and "a.yaml:11:" in text   # xlim and favours, by line


def test_blinding_forest_refused_without_information():
    """F8: every trial 'unknown' with no Bang index: refused with a reason, not drawn empty;
    the key names only the symbols drawn."""
    from metak.errors import AnalysisError
    from metak.plots.bias import blinding_forest

    ma = load("bias_rr")
    art = blinding_forest(ma)
    statuses = {c.get("status") for c in ma["sensitivity"]["blinding"]["classification"]}
    key = [t.get_text() for t in art.footer if "circle" in t.get_text() or "square" in t.get_text()]
    assert ("small square: compromised" in key[0]) == ("compromised" in statuses)
    blank = json.loads(json.dumps(ma))
    for c in blank["sensitivity"]["blinding"]["classification"]:
        c["status"], c["bang"] = "unknown", {}
    with pytest.raises(AnalysisError, match="no information"):
        blinding_forest(blank)


def test_reported_effects_and_dropout_totals_are_explained():
    """F2: a study entered as a reported OR is marked and footnoted; F10: the dropout Total row
    has its (%); F17: the RoB key names the blank grey circle when a domain is not judged."""
    from metak.plots.sensitivity import dropout

    ma = load("bcg_or")
    ma["studies"][0] = {**ma["studies"][0], "data": {"measure": "OR", "estimate": 0.39, "ci": [0.12, 1.26]}}
    art = forest(ma, size="double_column")
    assert art.cells[(0, "label")].get_text().endswith(" *")
    assert any(t.get_text().startswith("* OR as reported by the trial") for t in art.footer)
    d = dropout(load("dropout_rr"), size="double_column")
    total = d.rows("pooled")[0]
    assert d.cells[(total, "exp")].get_text().endswith("%)")
    rob = load("rob_rr")
    rob["studies"][0] = {**rob["studies"][0], "risk_of_bias": {**rob["studies"][0]["risk_of_bias"], "randomization": None}}
    text = _texts(forest(rob, size="double_column"))
    assert "blank grey circle not assessed" in text


def test_metak_plot_options(tmp_path):
    """`metak plot --favours/--arm-labels/--xlim/--font`: drawn with them; a reversed --xlim is
    a clear error, not a traceback."""
    from click.testing import CliRunner

    from metak.cli import main

    doc = {"metak_version": metak.__version__, "meta_analyses": [load("bcg_or")]}
    res = tmp_path / "results.json"
    res.write_text(json.dumps(doc))
    run = CliRunner().invoke(main, ["plot", str(res), "--kind", "forest", "--format", "svg",
                                    "--out", str(tmp_path / "f"), "--favours", "Favours BCG", "Favours nothing",
                                    "--xlim", "0.1", "4", "--font", "No Such Font 123"])
    assert run.exit_code == 0, run.output
    svg = next((tmp_path / "f").glob("*.svg")).read_text()
    assert "Favours BCG" in svg and "Favours nothing" in svg
    assert "Favours vaccine" not in svg          # the default labels were replaced
    assert ">4<" in svg                          # the axis ends on its labelled limit (F18)
    bad = CliRunner().invoke(main, ["plot", str(res), "--xlim", "3", "1"])
    assert bad.exit_code == 1 and "LOW must be below HIGH" in bad.output

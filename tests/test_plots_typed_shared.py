"""The shared-bias, bias-posterior, CGRC, dropout and blinding figures, the leave-one-out labels
and the forest plot's traffic lights read the typed records (issue 24): a value changed in the
record moves what is drawn, a value that does not fit its record is refused naming its path."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path

import pytest
from matplotlib.colors import to_hex

from metak.errors import AnalysisError
from metak.plots import rob, sensitivity, shared_bias
from metak.typed import ResultsMismatch, records

ROOT = Path(__file__).parent.parent
FIXTURES = Path(__file__).parent / "fixtures" / "plots"


def _load(name):
    d = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(d["meta_analyses"][0] if "meta_analyses" in d else d)


def _marks(table, panel):
    return [(row, m) for row in table.rows for m in row.marks.get(panel, ())]


def _close(art):
    import matplotlib.pyplot as plt

    plt.close(art.figure)


# --------------------------------------------------------------------------- shared bias


def test_shared_bias_draws_the_shared_bias_record():
    ma = _load("shared_bias_rr")
    sb = records(ma).get("blinding").shared_bias
    art = shared_bias.shared_bias(ma)
    fits = [sb.naive] + ([sb.independent] if sb.independent else []) + [sb]
    want = [(f.ci_lower, f.ci_upper) for f in fits] + [(sb.bayes.mu.ci_lower, sb.bayes.mu.ci_upper)]
    assert len(art.rows) == len(want)
    for line, (lo, hi) in zip(art.rows, want):
        assert list(line.get_xdata()) == pytest.approx([math.exp(lo), math.exp(hi)], rel=1e-12)
    _close(art)
    moved = copy.deepcopy(ma)
    block = moved["sensitivity"]["blinding"]["shared_bias"]
    block["ci_lower"] -= 0.3
    block["bayes"]["mu"]["ci_upper"] += 0.2
    art2 = shared_bias.shared_bias(moved)
    i = len(fits) - 1
    assert art2.rows[i].get_xdata()[0] == pytest.approx(math.exp(sb.ci_lower - 0.3), rel=1e-12)
    assert art2.rows[i + 1].get_xdata()[1] == pytest.approx(math.exp(sb.bayes.mu.ci_upper + 0.2), rel=1e-12)
    _close(art2)


def test_bias_posterior_draws_the_density_of_the_record():
    ma = _load("shared_bias_rr")
    beta = records(ma).get("blinding").shared_bias.bayes.beta
    art = shared_bias.bias_posterior(ma)
    post, prior = art.rows
    assert list(post.get_xdata()) == list(beta.density.x)
    assert list(post.get_ydata()) == list(beta.density.posterior)
    assert list(prior.get_ydata()) == list(beta.density.prior)
    _close(art)
    moved = copy.deepcopy(ma)
    d = moved["sensitivity"]["blinding"]["shared_bias"]["bayes"]["beta"]["density"]
    d["posterior"] = [2 * v for v in d["posterior"]]
    art2 = shared_bias.bias_posterior(moved)
    assert list(art2.rows[0].get_ydata()) == pytest.approx([2 * v for v in beta.density.posterior])
    _close(art2)


def test_shared_bias_figures_refuse_without_the_model_and_name_a_bad_value():
    ma = _load("bias_rr")   # blinding without bias_model: shared
    for fig in (shared_bias.shared_bias, shared_bias.bias_posterior, shared_bias.cgrc):
        with pytest.raises(AnalysisError, match="needs"):
            fig(ma)
    bad = _load("shared_bias_rr")
    bad["sensitivity"]["blinding"]["shared_bias"]["naive"]["estimate"] = "0.3"
    with pytest.raises(ResultsMismatch, match=r"shared_bias\.naive\.estimate"):
        shared_bias.shared_bias(bad)


def test_cgrc_draws_each_trials_curve_from_the_record():
    ma = _load("cgrc_md")
    trials = [t for t in records(ma).get("blinding").cgrc.trials if t.curve]
    art = shared_bias.cgrc(ma)
    assert len(art.rows) == len(trials)
    for line, t in zip(art.rows, trials):
        pts = [p for p in t.curve if p.estimate is not None]
        assert list(line.get_xdata()) == [p.cgr for p in pts]
        assert list(line.get_ydata()) == [p.estimate for p in pts]   # MD: the natural scale
    assert [h.get_label() for h in art.legend.legend_handles][:len(trials)] == [t.label or t.trial for t in trials]
    _close(art)
    moved = copy.deepcopy(ma)
    moved["sensitivity"]["blinding"]["cgrc"]["trials"][0]["curve"][0]["estimate"] += 1.5
    art2 = shared_bias.cgrc(moved)
    first = [p for p in trials[0].curve if p.estimate is not None][0]
    assert art2.rows[0].get_ydata()[0] == pytest.approx(first.estimate + 1.5)
    _close(art2)


# --------------------------------------------------------------------------- dropout


def _dropout_ma(mid="dropout"):
    return next(m for m in json.loads((ROOT / "results/dropout/results.json").read_text())["meta_analyses"]
                if m["id"] == mid)


def test_dropout_reads_the_dropout_rates_record_not_the_arm_data():
    ma = _dropout_ma()
    rates = records(ma).get("dropout_rates").rates
    table = sensitivity.build_dropout(ma)
    study = [r for r in table.rows if r.kind == "study"]
    assert [r.key for r in study] == [q.trial for q in rates]
    for r, q in zip(study, rates):
        got = {m.role: m.est for m in r.marks["rates"]}
        assert got == pytest.approx({"experimental": 100 * q.experimental.dropouts / q.experimental.randomized,
                                     "control": 100 * q.control.dropouts / q.control.randomized})
    moved = copy.deepcopy(ma)
    moved["dropout_rates"][0]["control"].update(dropouts=11, rate=11 / 23)   # the study rows' data unchanged
    t2 = sensitivity.build_dropout(moved)
    row = [r for r in t2.rows if r.kind == "study"][0]
    assert {m.role: m.est for m in row.marks["rates"]}["control"] == pytest.approx(100 * 11 / 23)
    assert row.cells["ctl"].startswith("11/23 (48%)")
    total = [r for r in t2.rows if r.kind == "pooled"][0]
    ctl = sum(q.control.dropouts for q in rates) + 11 - rates[0].control.dropouts
    assert total.cells["ctl"].startswith(f"{ctl:g}/{sum(q.control.randomized for q in rates):g} (")


def test_dropout_rows_pooled_and_labels_come_from_the_records():
    ma = _dropout_ma("dropout_rr")
    view = records(ma)
    table = sensitivity.build_dropout(ma)
    effect = _marks(table, "effect")
    rows = view.studies
    assert [m.est for _, m in effect[:-1]] == pytest.approx([math.exp(r.yi) for r in rows], rel=1e-12)
    assert [m.size for _, m in effect[:-1]] == [r.weight for r in rows]
    assert effect[-1][1].est == pytest.approx(math.exp(view.pooled.estimate), rel=1e-12)
    moved = copy.deepcopy(ma)
    moved["studies"][0]["label"] = "Renamed 2020"
    assert [r for r in sensitivity.build_dropout(moved).rows if r.kind == "study"][0].cells["label"] == "Renamed 2020"


def test_dropout_without_the_record_uses_the_rows_2x2_data_alike():
    """A document written without dropout_rates (the plot fixtures) draws the rates from the
    rows' 2x2 data, as metak.analyses.dropout.from_tables would have written them."""
    ma = _dropout_ma()
    bare = copy.deepcopy(ma)
    del bare["dropout_rates"]
    assert sensitivity.build_dropout(bare) == sensitivity.build_dropout(ma)
    fixture = _load("dropout_rr")
    assert "dropout_rates" not in fixture
    assert len([r for r in sensitivity.build_dropout(fixture).rows if r.kind == "study"]) == len(fixture["studies"])


def test_dropout_refuses_rates_that_do_not_match_the_rows():
    ma = _dropout_ma()
    bad = copy.deepcopy(ma)
    bad["dropout_rates"] = bad["dropout_rates"][::-1]
    with pytest.raises(AnalysisError, match="dropout plot .* needs per-arm dropouts"):
        sensitivity.build_dropout(bad)
    wrong = copy.deepcopy(ma)
    wrong["dropout_rates"][0]["control"]["dropouts"] = "6"
    with pytest.raises(ResultsMismatch, match=r"dropout_rates"):
        sensitivity.build_dropout(wrong)


# --------------------------------------------------------------------------- blinding


def test_blinding_draws_the_blinding_records_indices():
    ma = _load("bias_rr")
    indices = records(ma).get("blinding").indices
    table = sensitivity.build_blinding(ma)
    want = [(e.trial, b) for e in indices for arm in (e.experimental, e.control)
            if (b := e.bang.get(arm)) is not None]
    got = _marks(table, "bang")
    assert len(got) == len(want)
    for (row, m), (trial, b) in zip(got, want):
        assert row.key == trial and (m.est, m.lo, m.hi) == (b.estimate, b.ci_lower, b.ci_upper)
    moved = copy.deepcopy(ma)
    moved["sensitivity"]["blinding"]["indices"][0]["bang"]["e"]["estimate"] = 0.9
    moved["studies"][0]["label"] = "Trial one"
    t2 = sensitivity.build_blinding(moved)
    first = [r for r in t2.rows if r.kind == "arm"][0]
    assert first.marks["bang"][0].est == 0.9 and first.cells["label"] == "Trial one"


def test_blinding_refuses_a_block_that_does_not_fit_its_record():
    ma = _load("bias_rr")
    ma["sensitivity"]["blinding"]["indices"][0]["bang"]["e"]["estimate"] = "0.4"
    with pytest.raises(ResultsMismatch, match=r"blinding\.indices"):
        sensitivity.build_blinding(ma)


# --------------------------------------------------------------------------- labels, traffic lights


def test_leave_one_out_labels_are_the_study_rows_labels():
    ma = _load("bcg_or")
    ma["studies"][1]["label"] = "Second trial"
    table = sensitivity.build_leave_one_out(ma)
    row = next(r for r in table.rows if r.key == ma["studies"][1]["trial"])
    assert row.cells["label"] == "Second trial"


def _lights(art):
    from metak.plots._style import FONT_SIZE

    return [to_hex(line.get_markerfacecolor()) for line in art.ax.lines
            if line.get_marker() == "o" and line.get_markersize() == pytest.approx(FONT_SIZE * 1.15)]


def test_traffic_lights_read_the_rows_rob_records():
    from metak.plots.forest import forest

    ma = _load("rob_rr")
    rows = records(ma).studies
    art = forest(ma, size="double_column")
    lights = _lights(art)
    domains = list(rob.SHORT)
    want = [rob.COLOURS[getattr(r.risk_of_bias, d) or "not_assessed"] if r.risk_of_bias else rob.COLOURS["not_assessed"]
            for r in rows for d in domains]
    assert lights == [c.lower() for c in want]
    _close(art)
    moved = copy.deepcopy(ma)
    moved["studies"][0]["risk_of_bias"]["randomization"] = "high"
    moved["studies"][0]["risk_of_bias"]["reporting"] = None
    art2 = forest(moved, size="double_column")
    lights2 = _lights(art2)
    assert lights2[0] == rob.COLOURS["high"].lower()
    assert lights2[domains.index("reporting")] == rob.COLOURS["not_assessed"].lower()
    assert lights2[len(domains):] == lights[len(domains):]
    _close(art2)

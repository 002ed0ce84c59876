"""The Bayesian figures (metak/plots/bayes.py: posterior, prior_sensitivity) draw the numbers of
the Bayes block's record (``records(ma).get("bayes")``: metak.bayes.record.BayesRecord) and the
pooled record, not keys read by hand: each test edits a value in a copy of a results document and
checks the drawn mark, line or label moved with it; a value that does not fit the record is a
ResultsMismatch naming its path."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from statistics import NormalDist

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pytest  # noqa: E402

from metak.plots import bayes  # noqa: E402
from metak.typed import ResultsMismatch, records  # noqa: E402

ROOT = Path(__file__).parent.parent
FIXTURES = ROOT / "tests" / "fixtures" / "plots"
#: the BayesRecord keys the plot fixtures' quadrature does not write (the same as the fixture
#: generator's BAYES_RECORD_REST once the fixtures are brought up to the record)
REST = {"likelihood": "normal", "level": 0.95, "prior": {}, "prob_beyond": [], "log_marginal_likelihood": None,
        "bayes_factors": {}, "prior_sensitivity": [], "warnings": []}


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _depression():
    """A committed results document's Bayes block (exact engine: prior, grid, two prior refits)."""
    doc = json.loads((ROOT / "results/depression_response/results.json").read_text())
    return copy.deepcopy(next(m for m in doc["meta_analyses"] if m["id"] == "response"))


def _fixture(name):
    ma = json.loads((FIXTURES / f"{name}.json").read_text())
    for k, v in REST.items():
        ma["bayes"].setdefault(k, copy.deepcopy(v))
    return ma


def _rows(table, kind):
    return [r for r in table.rows if r.kind == kind]


def _mark(row, panel):
    (m,) = row.marks[panel]
    return m


# --------------------------------------------------------------------------- prior sensitivity


def test_prior_sensitivity_draws_the_records_numbers():
    ma = _depression()
    view = records(ma)
    b, pooled = view.get("bayes"), view.pooled
    t = bayes.build_prior_sensitivity(ma)
    (top,) = _rows(t, "pooled")
    assert top.cells["label"] == "Analysis prior: half-normal, scale 0.5"  # b.prior's tau
    d = _mark(top, "mu")
    assert [d.est, d.lo, d.hi] == pytest.approx([math.exp(b.mu.median), math.exp(b.mu.ci_lower),
                                                 math.exp(b.mu.ci_upper)], rel=1e-12)
    assert _mark(top, "tau").est == pytest.approx(b.tau.median, rel=1e-12)
    fits = _rows(t, "prior")
    assert len(fits) == len(b.prior_sensitivity) == 2
    for row, e in zip(fits, b.prior_sensitivity):
        m, tau = _mark(row, "mu"), _mark(row, "tau")
        assert [m.est, m.lo, m.hi] == pytest.approx([math.exp(e["mu"][k]) for k in ("median", "ci_lower", "ci_upper")])
        assert [tau.est, tau.lo, tau.hi] == pytest.approx([e["tau"][k] for k in ("median", "ci_lower", "ci_upper")])
    assert fits[1].cells["label"] == "log-normal on \u03c4\u00b2, mean \u22122.12, SD 1.53 (Turner 2015, mental health)"
    (freq,) = _rows(t, "frequentist")
    assert freq.cells["label"] == "Frequentist (REML)"
    m, tau = _mark(freq, "mu"), _mark(freq, "tau")
    assert [m.est, m.lo, m.hi] == pytest.approx([math.exp(pooled.estimate), math.exp(pooled.ci_lower),
                                                 math.exp(pooled.ci_upper)], rel=1e-12)
    assert [tau.est, tau.lo, tau.hi] == pytest.approx([pooled.tau, *ma["tau_ci"]], rel=1e-12)


def test_prior_sensitivity_follows_an_edited_record():
    ma = _depression()
    b = ma["bayes"]
    b["mu"]["median"] = 0.5
    b["tau"]["ci_upper"] = 2.5
    b["prior"]["tau"] = "HalfCauchy(beta=1)"
    b["prior_sensitivity"][0]["mu"]["ci_lower"] = -0.75
    b["prior_sensitivity"][1]["prior"] = "Uniform(lower=0, upper=2)"
    ma["estimate"], ma["tau"], ma["tau_ci"] = 0.3, 0.2, [0.1, 0.9]
    t = bayes.build_prior_sensitivity(ma)
    (top,) = _rows(t, "pooled")
    assert top.cells["label"] == "Analysis prior: half-Cauchy, scale 1"
    assert _mark(top, "mu").est == pytest.approx(math.exp(0.5))
    assert _mark(top, "tau").hi == 2.5
    first, second = _rows(t, "prior")
    assert _mark(first, "mu").lo == pytest.approx(math.exp(-0.75))
    assert second.cells["label"] == "uniform, 0 to 2"
    (freq,) = _rows(t, "frequentist")
    assert _mark(freq, "mu").est == pytest.approx(math.exp(0.3))
    tau = _mark(freq, "tau")
    assert [tau.est, tau.lo, tau.hi] == [0.2, 0.1, 0.9]
    # a summary without a median (a normal approximation) is drawn at its mean
    del b["prior_sensitivity"][0]["tau"]["median"]
    first = _rows(bayes.build_prior_sensitivity(ma), "prior")[0]
    assert _mark(first, "tau").est == b["prior_sensitivity"][0]["tau"]["mean"]
    # no frequentist row when asked, no prior fit: refused
    assert not _rows(bayes.build_prior_sensitivity(ma, frequentist=False), "frequentist")
    b["prior_sensitivity"] = []
    with pytest.raises(Exception, match="needs bayes.prior_sensitivity"):
        bayes.build_prior_sensitivity(ma)


# --------------------------------------------------------------------------- posterior


def _bar(art, ax="mu"):
    """The predictive-interval bar (the one line below the density's baseline)."""
    (bar,) = [ln for ln in art.axes[ax].lines if len(ln.get_ydata()) == 2 and ln.get_ydata()[0] < 0]
    return list(bar.get_xdata())


def test_posterior_draws_the_records_numbers():
    ma = _fixture("ketamine_or")
    b = records(ma).get("bayes")
    art = bayes.posterior(ma)
    assert art.source == {"mu": "grid", "tau": "grid"}
    xs = art.curves["mu"].get_xdata()
    grid = [math.exp(x) for x in b.posterior_grid["mu"]["x"]]
    assert set(round(x, 9) for x in xs) <= set(round(x, 9) for x in grid)
    assert art.means["mu"].get_xdata()[0] == pytest.approx(math.exp(b.mu.median), rel=1e-12)
    assert art.means["tau"].get_xdata()[0] == pytest.approx(b.tau.median, rel=1e-12)
    assert _bar(art) == pytest.approx([math.exp(b.predictive.ci_lower), math.exp(b.predictive.ci_upper)])
    assert art.axes["tau"].get_title(loc="left").startswith(f"\u03c4: {b.tau.median:.2f} [")


def test_posterior_follows_an_edited_record():
    ma = _fixture("ketamine_or")
    b = ma["bayes"]
    b["mu"]["median"] = 1.0
    b["tau"]["median"] = 0.3
    b["predictive"]["ci_lower"] = -0.5
    b["posterior_grid"]["tau"]["x"] = [x + 0.01 for x in b["posterior_grid"]["tau"]["x"]]
    art = bayes.posterior(ma)
    assert art.means["mu"].get_xdata()[0] == pytest.approx(math.exp(1.0))
    assert art.means["tau"].get_xdata()[0] == pytest.approx(0.3)
    assert _bar(art)[0] == pytest.approx(math.exp(-0.5))
    assert set(round(x, 9) for x in art.curves["tau"].get_xdata()) <= \
        set(round(x, 9) for x in b["posterior_grid"]["tau"]["x"])
    assert art.axes["tau"].get_title(loc="left").startswith("\u03c4: 0.30 [")
    # without a predictive interval: no bar
    b["predictive"]["ci_lower"] = None
    assert not [ln for ln in bayes.posterior(ma).axes["mu"].lines if ln.get_ydata()[0] < 0]


def test_posterior_without_a_grid_draws_the_records_mean_and_sd():
    ma = _fixture("normand_smd")  # no posterior grid: the normal approximation
    b = ma["bayes"]
    art = bayes.posterior(ma)
    assert art.source == {"mu": "normal", "tau": "normal"}
    peak = max(art.curves["mu"].get_ydata())
    assert peak == pytest.approx(NormalDist(b["mu"]["mean"], b["mu"]["sd"]).pdf(b["mu"]["mean"]), rel=1e-12)
    b["mu"]["sd"] = 0.1
    b["mu"]["mean"] = -0.2
    art = bayes.posterior(ma, params=("mu",))
    assert max(art.curves["mu"].get_ydata()) == pytest.approx(NormalDist(-0.2, 0.1).pdf(-0.2), rel=1e-12)
    # no SD: it comes from the credible interval's width
    b["mu"]["sd"] = None
    art = bayes.posterior(ma, params=("mu",))
    sd = (b["mu"]["ci_upper"] - b["mu"]["ci_lower"]) / (2 * NormalDist().inv_cdf(0.975))
    assert max(art.curves["mu"].get_ydata()) == pytest.approx(NormalDist(-0.2, sd).pdf(-0.2), rel=1e-12)


def test_no_bayes_block_is_refused():
    ma = _fixture("ketamine_or")
    ma["bayes"] = None
    with pytest.raises(Exception, match="needs a Bayesian model"):
        bayes.posterior(ma)
    with pytest.raises(Exception, match="needs bayes.prior_sensitivity"):
        bayes.prior_sensitivity(ma)


@pytest.mark.parametrize("path,value,where", [
    (("bayes", "mu", "median"), "1.2", r"response\]\.bayes\.mu\.median"),
    (("bayes", "predictive", "ci_lower"), "low", r"bayes\.predictive\.ci_lower"),
    (("bayes", "likelihood"), None, r"bayes: BayesRecord needs 'likelihood'"),
    (("estimate",), "0.8", r"estimate"),
])
@pytest.mark.parametrize("draw", [bayes.posterior, bayes.prior_sensitivity])
def test_a_value_that_does_not_fit_its_record_is_named(draw, path, value, where):
    ma = _depression()
    node = ma
    for key in path[:-1]:
        node = node[key]
    if value is None:
        del node[path[-1]]
    else:
        node[path[-1]] = value
    with pytest.raises(ResultsMismatch, match=where):
        draw(ma)

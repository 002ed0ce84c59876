"""Missing continuous outcomes: informative missingness differences of means (IMDOM),
Mavridis, White, Higgins, Cipriani & Salanti (2015, Stat Med 34:721) as Stata's metamiss2
computes them (Chaimani et al. 2018, Stata J 18:716).

There is no metamiss2 here (Stata) and its worked example's data (mirtazapine) are not public
in a form this machine can reach, so the checks are:

* the arm's mean and variance against a Monte Carlo simulation of the model they describe
  (observed mean ~ N(y, sd²/n), observed proportion ~ N(pi, pi(1-pi)/N), IMDOM ~ N(mu, s²)),
  which knows nothing of the closed form;
* IMDOM 0 with SD 0 gives back exactly the analysis's MD and Hedges' g (metafor-pinned);
* every scenario's pooled estimate against metak.fit of the per-trial effects computed by hand
  from the formulas;
* the IMDOM at which the conclusion changes puts a CI limit on the null;
* bad input: clear spec and record errors with their lines.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from metak.effects.escalc import escalc_continuous
from metak.effects.hedges import hedges_j
from metak.estimators import fit
from metak.pipeline import analyze
from metak.sensitivity.missing_continuous import effect_continuous, mean_star

# (id, mean_e, sd_e, n_e, missing_e, mean_c, sd_c, n_c, missing_c): made-up trials
DATA = [("a", 11.5, 6.1, 31, 9, 16.0, 7.1, 37, 6), ("b", 12.5, 6.2, 32, 8, 17.0, 7.2, 36, 8),
        ("c", 13.5, 6.3, 33, 7, 18.0, 7.3, 35, 10), ("d", 12.0, 5.0, 20, 0, 13.0, 5.5, 22, 12)]


def write(root: Path, rows=DATA, measure="MD", sens="{missing_outcome: {imdom: [-2, 2]}}", method="REML"):
    (root / "trials").mkdir(parents=True, exist_ok=True)
    for tid, ye, se, ne, me, yc, sc, nc, mc in rows:
        (root / "trials" / f"{tid}.yaml").write_text(
            f"metak: 1\nid: {tid}\nlabel: \"{tid.upper()}\"\ntitle: t\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: k, label: K, role: experimental, intervention: drug}\n"
            "  - {id: p, label: P, role: control, intervention: placebo, control_type: placebo}\n"
            "outcomes:\n  - id: y\n    label: y\n    type: continuous\n    direction: lower_is_better\n    data:\n"
            f"      k: {{mean: {ye}, sd: {se}, n: {ne}, missing: {me}}}\n"
            f"      p: {{mean: {yc}, sd: {sc}, n: {nc}, missing: {mc}}}\n"
            "    source: {where: test data}\n")
    spec = root / "s.yaml"
    spec.write_text(f"metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    f"    measure: {measure}\n    method: {method}\n    sensitivity:\n      - {sens}\n")
    return spec


@pytest.mark.parametrize("y,sd,n,m,mu,s", [(10.0, 4.0, 30, 10, 2.0, 1.5), (5.0, 2.0, 50, 25, -3.0, 0.0),
                                           (0.0, 1.0, 40, 0, 4.0, 2.0), (7.0, 3.0, 12, 30, 1.0, 3.0)])
def test_arm_mean_and_variance_match_a_simulation_of_the_model(y, sd, n, m, mu, s):
    rng = np.random.default_rng(20151)
    big = 2_000_000
    pi = n / (n + m)
    ybar = rng.normal(y, sd / math.sqrt(n), big)
    pihat = rng.normal(pi, math.sqrt(pi * (1 - pi) / (n + m)), big) if m else np.ones(big)
    lam = rng.normal(mu, s, big) if s else np.full(big, mu)
    draws = ybar + (1 - pihat) * lam
    mean, var = mean_star(y, sd, n, m, mu, s)
    assert mean == pytest.approx(y + (1 - pi) * mu, abs=1e-12)
    assert mean == pytest.approx(draws.mean(), abs=5 * draws.std() / math.sqrt(big))
    # the sample variance's Monte Carlo SE is about var * sqrt(2 / big)
    assert var == pytest.approx(draws.var(), abs=5 * var * math.sqrt(2 / big))


@pytest.mark.parametrize("measure", ["MD", "SMD"])
def test_imdom_zero_gives_back_the_analysis(measure):
    for _, ye, se, ne, me, yc, sc, nc, mc in DATA:
        y, v = effect_continuous(measure, (ye, se, ne), (yc, sc, nc), me, mc, (0.0, 0.0), (0.0, 0.0), 0.0)
        y0, v0 = escalc_continuous(measure, [ye], [se], [ne], [yc], [sc], [nc])
        assert y == pytest.approx(float(y0[0]), rel=1e-13)
        assert v == pytest.approx(float(v0[0]), rel=1e-13)


def by_hand(measure, lam, lam_sd, rho):
    """Each trial's effect from the formulas written out again."""
    ys, vs = [], []
    for _, ye, se, ne, me, yc, sc, nc, mc in DATA:
        pe, pc = ne / (ne + me), nc / (nc + mc)
        if measure == "SMD":
            s = math.sqrt(((ne - 1) * se**2 + (nc - 1) * sc**2) / (ne + nc - 2))
            le, lc, de, dc, se_, sc_ = lam[0] * s, lam[1] * s, lam_sd[0] * s, lam_sd[1] * s, s, s
        else:
            le, lc, de, dc, se_, sc_ = lam[0], lam[1], lam_sd[0], lam_sd[1], se, sc
        diff = (ye + (1 - pe) * le) - (yc + (1 - pc) * lc)
        var = (se_**2 / ne + pe * (1 - pe) / (ne + me) * (le**2 + de**2) + (1 - pe) ** 2 * de**2
               + sc_**2 / nc + pc * (1 - pc) / (nc + mc) * (lc**2 + dc**2) + (1 - pc) ** 2 * dc**2
               - 2 * rho * de * dc * (1 - pe) * (1 - pc))
        if measure == "SMD":
            g = float(hedges_j(ne + nc - 2)) * diff / s
            ys.append(g)
            vs.append(var / s**2 + g**2 / (2 * (ne + nc)))
        else:
            ys.append(diff)
            vs.append(var)
    return ys, vs


@pytest.mark.parametrize("measure,sens,lam,lam_sd,rho", [
    ("MD", "{missing_outcome: {imdom: [{experimental: 5, control: -1}], imdom_sd: 1.5}}", (5, -1), (1.5, 1.5), 0),
    ("MD", "{missing_outcome: {imdom: [3], imdom_sd: {experimental: 2, control: 1}, imdom_correlation: 0.6}}",
     (3, 3), (2, 1), 0.6),
    ("SMD", "{missing_outcome: {imdom: [{experimental: 0.5, control: -0.5}], imdom_sd: 0.3}}", (0.5, -0.5),
     (0.3, 0.3), 0),
])
def test_scenarios_pool_the_imputed_effects(tmp_path, measure, sens, lam, lam_sd, rho):
    ma = analyze(write(tmp_path, measure=measure, sens=sens))["meta_analyses"][0]
    mo = ma["sensitivity"]["missing_outcome"]
    sc = mo["scenarios"][1]
    assert (sc["name"], sc["imdom_experimental"], sc["imdom_control"]) == ("imdom", lam[0], lam[1])
    assert (sc["imdom_sd_experimental"], sc["imdom_sd_control"], sc["imdom_correlation"]) == (*lam_sd, rho)
    ys, vs = by_hand(measure, lam, lam_sd, rho)
    ref = fit(ys, vs, method="REML")
    assert sc["estimate"] == pytest.approx(ref.estimate, abs=1e-9)
    assert sc["se"] == pytest.approx(ref.se, abs=1e-9)
    assert sc["tau2"] == pytest.approx(ref.tau2, abs=1e-9)
    base = mo["scenarios"][0]
    assert base["name"] == "available_case" and base["estimate"] == ma["estimate"]
    assert base["imor_experimental"] is None  # the binary keys are there (schema), empty


def test_the_correlation_lowers_the_variance_of_a_common_imdom(tmp_path):
    """rho = 1 with equal SDs: the IMDOMs move together and their uncertainty partly cancels."""
    out = {}
    for rho in (0, 1):
        spec = write(tmp_path / str(rho), sens=f"{{missing_outcome: {{imdom: [2], imdom_sd: 2, imdom_correlation: {rho}}}}}")
        out[rho] = analyze(spec)["meta_analyses"][0]["sensitivity"]["missing_outcome"]["scenarios"][1]
    assert out[1]["se"] < out[0]["se"]
    assert out[1]["estimate"] == pytest.approx(out[0]["estimate"], abs=0.05)


def test_tipping_imdom_puts_a_ci_limit_on_the_null(tmp_path):
    ma = analyze(write(tmp_path, method="FE"))["meta_analyses"][0]
    mo = ma["sensitivity"]["missing_outcome"]
    tip = mo["tipping_imdom"]
    assert tip["change"] == "the CI reaches the null" and tip["imdom"] is not None
    ys, vs = by_hand("MD", (tip["imdom"], tip["imdom"]), (0, 0), 0)
    ref = fit(ys, vs, method="FE")
    assert min(abs(ref.ci_lower), abs(ref.ci_upper)) == pytest.approx(0, abs=1e-7)
    assert tip["range"] == [-73.0, 73.0]  # 10 x the largest observed SD


def test_missing_from_randomized_is_stated(tmp_path):
    spec = write(tmp_path)
    f = tmp_path / "trials" / "a.yaml"
    f.write_text(f.read_text().replace(", missing: 6}", "}").replace(
        "control_type: placebo}", "control_type: placebo, randomized: 43}"))
    mo = analyze(spec)["meta_analyses"][0]["sensitivity"]["missing_outcome"]
    st = {s["trial"]: s for s in mo["studies"]}
    assert st["a"]["missing_control"] == 6 and st["a"]["source_control"] == "randomized - n"


BAD = [
    ("MD", "{missing_outcome: {imor: [2]}}", "imor", "IMORs apply to binary outcomes"),
    ("RR", "{missing_outcome: {imdom: [2]}}", "imdom", "IMDOMs apply to continuous outcomes"),
    ("MD", "{missing_outcome: {imdom: [2], imdom_sd: -1}}", "imdom_sd", "must be at least 0"),
    ("MD", "{missing_outcome: {imdom: [2], imdom_correlation: 2}}", "imdom_correlation", "between -1 and 1"),
    ("MD", "{missing_outcome: {imdom: []}}", "imdom", "must not be empty"),
    ("MD", "{missing_outcome: {imdom: [{experimental: 1}]}}", "imdom[0]", "missing required key 'control'"),
]


@pytest.mark.parametrize("measure,sens,key,message", BAD)
def test_bad_imdom_is_a_spec_error_with_its_line(tmp_path, measure, sens, key, message):
    from metak.errors import InvalidSpec

    with pytest.raises(InvalidSpec) as exc:
        analyze(write(tmp_path, measure=measure, sens=sens))
    assert any(p.path.endswith(key) and message in p.message and p.line == 10 for p in exc.value.problems), \
        [(p.path, p.line, p.message) for p in exc.value.problems]


def test_bad_continuous_missing_counts_are_record_errors(tmp_path):
    from metak.errors import InvalidRecord

    spec = write(tmp_path)
    f = tmp_path / "trials" / "a.yaml"
    f.write_text(f.read_text().replace("intervention: drug}", "intervention: drug, randomized: 35}"))
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any("n 31 + missing 9 is more than the 35 randomized" in p.message and p.line == 16
               for p in exc.value.problems), [(p.message, p.line) for p in exc.value.problems]
    f.write_text(f.read_text().replace("missing: 9", "missing: -2"))
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any(p.path.endswith("data.k.missing") and "must not be negative" in p.message for p in exc.value.problems)


def test_the_figure_names_imdoms_and_their_tipping_point(tmp_path):
    pytest.importorskip("matplotlib")
    from metak.plots.missing import build_missing_outcome

    spec = write(tmp_path, sens="{missing_outcome: {imdom: [-2, {experimental: 5, control: 0}], imdom_sd: 1}}",
                 method="FE")
    ma = analyze(spec)["meta_analyses"][0]
    table = build_missing_outcome(ma)
    rows = [r for r in table.rows if r.kind != "blank"]
    assert [r.cells["label"] for r in rows] == ["Available case", "IMDOM \u22122 (SD 1)", "IMDOM 5 / 0 (SD 1)"]
    assert [r.cells["imor"] for r in rows] == ["0 / 0", "\u22122 / \u22122", "5 / 0"]
    assert table.columns[1].header == "IMDOM exp. / ctrl"
    texts = [f.text for f in table.footer]
    assert "outcome units" in texts[0]
    tip = ma["sensitivity"]["missing_outcome"]["tipping_imdom"]["imdom"]
    assert texts[1].startswith("At a common IMDOM of ") and f"{tip:.3g}".replace("-", "\u2212") in texts[1]

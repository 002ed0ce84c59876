"""Missing-outcome sensitivity (Higgins, White & Wood 2008; metasens::metamiss).

metasens could not be installed here (CRAN's meta needs a newer R than the 4.2.2 of this
machine), so there is no pinned metamiss run. Instead:

* an independent implementation: the risk among all randomized as a mixture of the observed
  risk p and the missing risk q with odds(q) = IMOR x odds(p), and its variance by a
  *numerical* delta method over p (var p(1-p)/n) and the missing proportion a (var a(1-a)/N),
  compared with metak's closed forms;
* best and worst case (IMOR 0 and infinity) against a direct recomputation from imputed 2x2
  tables;
* the pooled scenarios against metak.fit of those per-study effects (fit is pinned to metafor).

The data are the metamiss help example (Beasley and Selman, haloperidol vs placebo, from
Higgins et al. 2008), plus a hold-out with a zero cell (the 0.5 increment) made afterwards, and
the paper's whole haloperidol meta-analysis (17 trials, seven with a zero cell), checked after
the code was written: as bundled with Ian White's Stata ``metamiss`` (``haloperidol.dta``) and
with R's metadat (``dat.higgins2008``). The paper's own table of pooled results could not be
obtained here, so it is not pinned.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from metak.estimators import fit
from metak.pipeline import analyze
from metak.sensitivity.missing_outcome import INF, effect, p_star

DATA = [("beasley", "Beasley", 29, 18, 22, 20, 14, 34), ("selman", "Selman", 17, 1, 11, 7, 4, 18)]
#: Higgins et al. (2008): responders, failures, missing (haloperidol; placebo), spelt as haloperidol.dta
HALOPERIDOL = [
    ("arvantis", "Arvantis", 25, 25, 2, 18, 33, 0), ("beasley", "Beasley", 29, 18, 22, 20, 14, 34),
    ("bechelli", "Bechelli", 12, 17, 1, 2, 28, 1), ("borison", "Borison", 3, 9, 0, 0, 12, 0),
    ("chouinard", "Chouinard", 10, 11, 0, 3, 19, 0), ("durost", "Durost", 11, 8, 0, 1, 14, 0),
    ("garry", "Garry", 7, 18, 1, 4, 21, 1), ("howard", "Howard", 8, 9, 0, 3, 10, 0),
    ("mander", "Mander", 19, 45, 2, 14, 50, 2), ("nishikawa82", "Nishikawa 82", 1, 9, 0, 0, 10, 0),
    ("nishikawa84", "Nishikawa 84", 11, 23, 3, 0, 13, 0), ("reschke", "Reschke", 20, 9, 0, 2, 9, 0),
    ("selman", "Selman", 17, 1, 11, 7, 4, 18), ("serafetinides", "Serafetinides", 4, 10, 0, 0, 13, 1),
    ("simpson", "Simpson", 2, 14, 0, 0, 7, 1), ("spencer", "Spencer", 11, 1, 0, 1, 11, 0),
    ("vichaiya", "Vichaiya", 9, 20, 1, 0, 29, 1)]
HOLDOUT = [("alpha", "Alpha", 12, 8, 3, 0, 15, 6), ("bravo", "Bravo", 9, 11, 5, 4, 16, 2),
           ("charlie", "Charlie", 20, 20, 0, 10, 30, 9)]


def write(root: Path, rows, measure="RR", method="FE", sens="{missing_outcome: {imor: [0.5, 2]}}",
          direction="higher_is_better", missing=True):
    (root / "trials").mkdir(parents=True)
    for tid, lab, rh, fh, dh, rp, fp, dp in rows:
        mh = f", missing: {dh}" if missing else ""
        mp = f", missing: {dp}" if missing else ""
        (root / "trials" / f"{tid}.yaml").write_text(
            f"metak: 1\nid: {tid}\nlabel: \"{lab}\"\ntitle: \"t {lab}\"\ncondition: c\ndesign: parallel\narms:\n"
            "  - {id: h, label: H, role: experimental, intervention: drug}\n"
            "  - {id: p, label: P, role: control, intervention: placebo, control_type: placebo}\n"
            f"outcomes:\n  - id: y\n    label: y\n    type: binary\n    direction: {direction}\n    data:\n"
            f"      h: {{events: {rh}, total: {rh + fh}{mh}}}\n      p: {{events: {rp}, total: {rp + fp}{mp}}}\n"
            "    source: {where: test data}\n")
    spec = root / "s.yaml"
    spec.write_text(f"metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    f"    measure: {measure}\n    method: {method}\n    sensitivity:\n      - {sens}\n")
    return spec


def independent(e, n, m, x, incr, h=1e-6):
    """p* as a mixture and its variance by a central-difference delta method."""
    def pstar(p, a):
        q = x * p / (1 - p + x * p) if x < INF else 1.0
        return (1 - a) * p + a * q

    p = (e + incr) / (n + incr)
    a = m / (n + m)
    dp = (pstar(p + h, a) - pstar(p - h, a)) / (2 * h)
    da = (pstar(p, a + h) - pstar(p, a - h)) / (2 * h) if 0 < a else (pstar(p, a + h) - pstar(p, a)) / h
    return pstar(p, a), dp**2 * p * (1 - p) / n + da**2 * a * (1 - a) / (n + m)


@pytest.mark.parametrize("x", [0.0, 0.25, 0.5, 1.0, 2.0, 5.0])
@pytest.mark.parametrize("row", DATA + HOLDOUT)
def test_p_star_and_its_variance_match_an_independent_derivation(row, x):
    _, _, rh, fh, dh, rp, fp, dp = row
    for e, n, m in ((rh, rh + fh, dh), (rp, rp + fp, dp)):
        incr = 0.5 if min(rh, fh, rp, fp) == 0 else 0.0
        ps, var = p_star(e, n, m, x, incr)
        ps2, var2 = independent(e, n, m, x, incr)
        assert ps == pytest.approx(ps2, rel=1e-12) and var == pytest.approx(var2, rel=1e-6, abs=1e-12)


@pytest.mark.parametrize("rows", [DATA, HOLDOUT, HALOPERIDOL], ids=["metamiss_example", "holdout", "haloperidol"])
@pytest.mark.parametrize("measure", ["RR", "OR", "RD"])
def test_scenarios_pool_the_imputed_effects(tmp_path, rows, measure):
    ma = analyze(write(tmp_path, rows, measure=measure, method="REML"))["meta_analyses"][0]
    mo = ma["sensitivity"]["missing_outcome"]
    by = {(s["name"], s["imor_experimental"], s["imor_control"]): s for s in mo["scenarios"]}
    assert by[("available_case", 1.0, 1.0)]["estimate"] == pytest.approx(ma["estimate"], abs=1e-12)
    for (name, xe, xc), s in by.items():
        if name == "available_case":
            continue
        ys, vs = [], []
        for _, _, rh, fh, dh, rp, fp, dp in rows:
            incr = 0.5 if min(rh, fh, rp, fp) == 0 else 0.0
            pe, ve = independent(rh, rh + fh, dh, xe, incr)
            pc, vc = independent(rp, rp + fp, dp, xc, incr)
            y, v = effect(measure, pe, ve, pc, vc)
            ys.append(y)
            vs.append(v)
        r = fit(ys, vs, method="REML")
        assert s["estimate"] == pytest.approx(r.estimate, abs=1e-6), name
        assert s["ci_upper"] == pytest.approx(r.ci_upper, abs=1e-5), name


def test_best_and_worst_case_equal_direct_recomputation(tmp_path):
    """Higher is better: best case = missing experimental all events, control none; the RR of the
    imputed tables, pooled by inverse variance with the delta-method variance of the scenario."""
    ma = analyze(write(tmp_path, DATA))["meta_analyses"][0]
    by = {s["name"]: s for s in ma["sensitivity"]["missing_outcome"]["scenarios"]}
    for name, fill_e, fill_c in (("best_case", True, False), ("worst_case", False, True),
                                 ("missing_as_success", True, True), ("missing_as_failure", False, False)):
        logs, ws = [], []
        for _, _, rh, fh, dh, rp, fp, dp in DATA:
            pe = (rh + (dh if fill_e else 0)) / (rh + fh + dh)
            pc = (rp + (dp if fill_c else 0)) / (rp + fp + dp)
            _, ve = p_star(rh, rh + fh, dh, INF if fill_e else 0.0, 0.0)
            _, vc = p_star(rp, rp + fp, dp, INF if fill_c else 0.0, 0.0)
            logs.append(math.log(pe / pc))
            ws.append(1 / (ve / pe**2 + vc / pc**2))
        pooled = sum(w * y for w, y in zip(ws, logs)) / sum(ws)
        assert by[name]["estimate"] == pytest.approx(pooled, abs=1e-7), name


def test_lower_is_better_swaps_success_and_failure(tmp_path):
    ma = analyze(write(tmp_path, DATA, direction="lower_is_better"))["meta_analyses"][0]
    by = {s["name"]: s for s in ma["sensitivity"]["missing_outcome"]["scenarios"]}
    assert (by["missing_as_failure"]["imor_experimental"], by["missing_as_failure"]["imor_control"]) == (INF, INF)
    assert (by["best_case"]["imor_experimental"], by["best_case"]["imor_control"]) == (0.0, INF)


def test_tipping_imor_is_where_the_conclusion_changes(tmp_path):
    ma = analyze(write(tmp_path, DATA))["meta_analyses"][0]
    tip = ma["sensitivity"]["missing_outcome"]["tipping_imor"]
    assert tip["change"] == "the CI comes to exclude the null"
    x = tip["imor"]
    ys, vs = [], []
    for _, _, rh, fh, dh, rp, fp, dp in DATA:
        pe, ve = p_star(rh, rh + fh, dh, x, 0.0)
        pc, vc = p_star(rp, rp + fp, dp, x, 0.0)
        y, v = effect("RR", pe, ve, pc, vc)
        ys.append(y)
        vs.append(v)
    r = fit(ys, vs, method="FE")
    assert abs(r.ci_lower) < 1e-8  # the lower limit is at the null exactly there


def test_missing_from_randomized_and_unknown_are_stated(tmp_path):
    spec = write(tmp_path, DATA, missing=False)
    f = tmp_path / "trials" / "beasley.yaml"
    f.write_text(f.read_text().replace("intervention: drug}", "intervention: drug, randomized: 69}"))
    ma = analyze(spec)["meta_analyses"][0]
    st = {s["trial"]: s for s in ma["sensitivity"]["missing_outcome"]["studies"]}
    assert st["beasley"]["missing_experimental"] == 22 and st["beasley"]["source_experimental"] == "randomized - total"
    assert "taken as 0" in st["beasley"]["note"] and "taken as 0" in st["selman"]["note"]
    assert any("missing_outcome: Selman: missing not reported" in w for w in ma["warnings"])


BAD = [
    ("{missing_outcome: {imor: [0, 2]}}", "imor[0]", "must be greater than 0"),
    ("{missing_outcome: {imor: [-1]}}", "imor[0]", "must be greater than 0"),
    ("{missing_outcome: {imor: [{experimental: 2}]}}", "imor[0]", "missing required key 'control'"),
]


@pytest.mark.parametrize("sens,key,message", BAD)
def test_bad_imor_is_a_spec_error_with_its_line(tmp_path, sens, key, message):
    from metak.errors import InvalidSpec

    with pytest.raises(InvalidSpec) as exc:
        analyze(write(tmp_path, DATA, sens=sens))
    assert any(p.path.endswith(key) and message in p.message and p.line == 10 for p in exc.value.problems), \
        [(p.path, p.line, p.message) for p in exc.value.problems]


def test_bad_missing_counts_are_record_errors(tmp_path):
    from metak.errors import InvalidRecord

    spec = write(tmp_path, DATA)
    f = tmp_path / "trials" / "beasley.yaml"
    f.write_text(f.read_text().replace("intervention: drug}", "intervention: drug, randomized: 60}"))
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any("total 47 + missing 22 is more than the 60 randomized" in p.message for p in exc.value.problems)
    f.write_text(f.read_text().replace("missing: 22", "missing: -1"))
    with pytest.raises(InvalidRecord) as exc:
        analyze(spec)
    assert any(p.path.endswith("data.h.missing") and "must not be negative" in p.message for p in exc.value.problems)


def test_contrast_only_studies_are_not_applicable(tmp_path):
    spec = write(tmp_path, DATA)
    (tmp_path / "trials" / "delta.yaml").write_text(
        "metak: 1\nid: delta\ntitle: d\ncondition: c\ndesign: parallel\narms:\n"
        "  - {id: h, label: H, role: experimental, intervention: drug}\n"
        "  - {id: p, label: P, role: control, intervention: placebo}\n"
        "outcomes:\n  - id: y\n    label: y\n    type: contrast\n    direction: higher_is_better\n    data:\n"
        "      {measure: RR, experimental: h, control: p, estimate: 1.3, ci: [0.9, 1.9]}\n    source: {where: x}\n")
    ma = analyze(spec)["meta_analyses"][0]
    mo = ma["sensitivity"]["missing_outcome"]
    st = {s["trial"]: s for s in mo["studies"]}
    assert st["delta"]["applicable"] is False and "not applicable" in st["delta"]["note"]
    assert {s["k"] for s in mo["scenarios"]} == {3}  # the contrast stays in every scenario, as reported
    assert any("keep their reported effect in every scenario" in w for w in ma["warnings"])


def test_an_arm_where_everyone_has_the_event_does_not_crash(tmp_path):
    """p = 1 (metamiss's increment gives (30 + 0.5)/(30 + 0.5)): IMOR 0 has the limit q = 0;
    an OR with a risk of 1 is undefined for that study and the scenario says so."""
    ps, var = p_star(30, 30, 5, 0.0, 0.5)
    assert ps == pytest.approx(30 / 35) and var == pytest.approx(5 / 35 * 30 / 35 / 35 * 1.0)
    rows = DATA + [("echo", "Echo", 30, 0, 5, 12, 18, 2)]
    for measure in ("RR", "OR"):
        ma = analyze(write(tmp_path / measure, rows, measure=measure))["meta_analyses"][0]
        sc = ma["sensitivity"]["missing_outcome"]["scenarios"]
        assert all(s["estimate"] is not None for s in sc)


def test_a_harmonised_trial_keeps_its_reciprocal_rr_in_every_scenario(tmp_path):
    """A lower_is_better trial in a higher_is_better RR analysis: with IMOR 1 and nothing
    missing its scenario effect is exactly its analysis effect (the reciprocal RR)."""
    spec = write(tmp_path, DATA, sens="{missing_outcome: {imor: [1]}}")
    f = tmp_path / "trials" / "selman.yaml"
    f.write_text(f.read_text().replace("direction: higher_is_better", "direction: lower_is_better")
                 .replace("missing: 11", "missing: 0").replace("missing: 18", "missing: 0"))
    g = tmp_path / "trials" / "beasley.yaml"
    g.write_text(g.read_text().replace("missing: 22", "missing: 0").replace("missing: 34", "missing: 0"))
    ma = analyze(spec)["meta_analyses"][0]
    imor1 = next(s for s in ma["sensitivity"]["missing_outcome"]["scenarios"] if s["name"] == "imor")
    assert imor1["estimate"] == pytest.approx(ma["estimate"], abs=1e-10)

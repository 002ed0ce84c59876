"""Blinding and active-placebo bias analyses against metafor 3.8.1 and independent answers.

``tests/reference/make_blinding_reference.R`` pins, per case, the trials' status under the rule
(Bang indices computed by hand in R from synthetic guess tables), ``rma()`` on the trials
restricted to the adequate ones and to the active-placebo comparisons, on the bias-adjusted
yi/vi of the chosen source and of every published source, on the yi with an assumed placebo
effect added back, and the tipping point found by ``uniroot`` over refits in R. The metak side
runs the whole pipeline: trial records written from the R data, an analysis spec, ``analyze``.
The last two cases (dat.egger2001) are hold-outs, made after the implementation was fixed.

Tolerances: metafor ran with ``threshold = tol = 1e-12``; estimates, SEs, CIs and tau² agree
to ``TOL`` = 1e-6, the tipping point (a root of a refit's CI limit) to 1e-6.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from metak.pipeline import analyze

REF = json.loads((Path(__file__).parent / "reference" / "metafor_blinding_reference.json").read_text())
CASES = REF["cases"]
TOL = 1e-6


def close(a, b, tol=TOL):
    if b is None:
        return a is None
    return a is not None and abs(a - b) <= tol * (1 + abs(b))


def _guess_rows(g):
    rows = []
    for arm, key in (("e", "experimental"), ("c", "control")):
        x = g.get(key) if g else None
        if x:
            rows.append(f"    - {{arm: {arm}, assessor: participant, guessed_experimental: {int(x[0])}, "
                        f"guessed_control: {int(x[1])}, dont_know: {int(x[2])}}}")
    return rows


def _arm_data(case, d):
    if case["arms"] == "continuous":
        return (f"      e: {{mean: {d['m1i']}, sd: {d['sd1i']}, n: {d['n1i']}}}\n"
                f"      c: {{mean: {d['m2i']}, sd: {d['sd2i']}, n: {d['n2i']}}}")
    if "tpos" in d:
        return (f"      e: {{events: {d['tpos']}, total: {d['tpos'] + d['tneg']}}}\n"
                f"      c: {{events: {d['cpos']}, total: {d['cpos'] + d['cneg']}}}")
    return f"      e: {{events: {d['ai']}, total: {d['n1i']}}}\n      c: {{events: {d['ci']}, total: {d['n2i']}}}"


def write_case(case, root: Path, sensitivity: str, extra: str = "") -> Path:
    trials = root / "trials"
    trials.mkdir(parents=True)
    for i, d in enumerate(case["data"]):
        guesses = _guess_rows(case["guesses"][i])
        blinding = ("blinding:\n  masking: double\n  guesses:\n" + "\n".join(guesses) + "\n") if guesses else ""
        (trials / f"t{i + 1:02d}.yaml").write_text(
            f"metak: 1\nid: t{i + 1:02d}\ntitle: \"synthetic test trial {i + 1}\"\ncondition: test\n"
            f"design: parallel\n{blinding}arms:\n"
            "  - {id: e, label: E, role: experimental, intervention: drug}\n"
            f"  - {{id: c, label: C, role: control, intervention: control, control_type: {case['control_type'][i]}}}\n"
            f"outcomes:\n  - id: y\n    label: y\n    type: {case['arms']}\n    direction: {case['direction']}\n"
            f"    data:\n{_arm_data(case, d)}\n    source: {{where: metadat via make_blinding_reference.R}}\n")
    spec = root / "spec.yaml"
    test = "hksj" if case["test"] == "knha" else "z"
    spec.write_text(f"metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n"
                    f"    measure: {case['measure']}\n    method: {case['method']}\n    test: {test}\n"
                    f"    sensitivity:\n{sensitivity}{extra}")
    return spec


def _bias_yaml(b):
    if "preset" in b:
        return f"{{preset: {b['preset']}}}"
    return f"{{ror: {b['ror']}, ci: [{b['ci'][0]}, {b['ci'][1]}]}}"


def run_case(case, tmp_path):
    effects = ", ".join(str(e) for e in (case["effects"] if isinstance(case["effects"], list) else [case["effects"]]))
    sens = (f"      - {{blinding: {{rule: {{max_bang: {case['max_bang']}}}, bias: {_bias_yaml(case['bias'])}}}}}\n"
            f"      - {{active_placebo: {{assumed_effect: [{effects}]}}}}\n")
    doc = analyze(write_case(case, tmp_path, sens))
    return doc["meta_analyses"][0]


def check_fit(got, ref, what):
    if ref is None:
        assert got is None, what
        return
    assert got is not None, what
    assert got["k"] == ref["k"], what
    for key in ("estimate", "se", "ci_lower", "ci_upper"):
        assert close(got[key], ref[key]), (what, key, got[key], ref[key])
    assert close(got["tau2"] or 0.0, ref.get("tau2") or 0.0), (what, "tau2", got["tau2"], ref.get("tau2"))


@pytest.mark.parametrize("case", CASES, ids=[c["id"] for c in CASES])
def test_bias_analyses_match_metafor(case, tmp_path):
    ma = run_case(case, tmp_path)
    # the pooled fit is metafor's (the records reproduce the R data)
    for key in ("estimate", "se", "ci_lower", "ci_upper"):
        assert close(ma[key], case["pooled"][key]), key
    b = ma["sensitivity"]["blinding"]
    assert [c["status"] for c in b["classification"]] == case["status"]
    assert b["rule"]["max_bang"] == case["max_bang"] and "Bang" in b["rule"]["text"]
    check_fit(b["restricted"], case["restricted"], "restricted")
    reg, ref = b["bang_regression"], case["bang_regression"]
    assert reg["k"] == ref["k"]
    for j, c in enumerate(reg["coefficients"]):
        for key, rk in (("estimate", "b"), ("se", "se"), ("ci_lower", "ci_lower"), ("ci_upper", "ci_upper")):
            assert close(c[key], ref[rk][j]), ("bang_regression", c["name"], key, c[key], ref[rk][j])
    assert close(reg["tau2"] or 0.0, ref["tau2"]) and close(reg["qm"], ref["qm"]) and close(reg["qm_p"], ref["qm_p"])
    ref = case["bias_adjusted"]
    got = b["bias_adjusted"]
    assert got["k_adjusted"] == sum(s != "adequate" for s in case["status"])
    assert close(got["shift"], ref["shift"]) and close(got["shift_se"], ref["shift_se"])
    assert close(got["added_variance"], ref["added_variance"])
    check_fit(got, ref, "bias_adjusted")
    by = {e["source"]: e for e in b["by_source"]}
    assert set(by) == set(case["by_source"])
    for name, r in case["by_source"].items():
        assert close(by[name]["shift"], r["shift"]), name
        check_fit(by[name], r, f"by_source {name}")
    tip = b["tipping_point"]
    assert close(tip["bias"], case["tipping_point"], 1e-6), (tip, case["tipping_point"])
    if tip["bias"] is None:
        assert tip["reason"]
    ap = ma["sensitivity"]["active_placebo"]
    check_fit(ap["restricted"], case["active_restricted"], "active_placebo.restricted")
    assert len(ap["assumed_effect"]) == len(case["assumed_effect"])
    for g, r in zip(ap["assumed_effect"], case["assumed_effect"]):
        assert g["effect"] == r["effect"]
        check_fit(g, r, f"assumed_effect {r['effect']}")


def test_tipping_point_is_where_the_ci_reaches_the_null(tmp_path):
    """At the tipping point the CI limit nearest the null is 0; just below it the CI excludes 0."""
    case = CASES[0]
    ma = run_case(case, tmp_path)
    tip = ma["sensitivity"]["blinding"]["tipping_point"]["bias"]
    yi, vi = np.array(case["yi"]), np.array(case["vi"])
    flag = np.array([s != "adequate" for s in case["status"]])
    s = -1  # lower is better
    from metak.estimators import fit
    up = fit(yi - s * tip * flag, vi, method="REML", test="hksj")
    below = fit(yi - s * (tip - 1e-4) * flag, vi, method="REML", test="hksj")
    assert abs(up.ci_upper) < 1e-9 and below.ci_upper < 0
    # the ROR it corresponds to is exp(-b)
    assert close(ma["sensitivity"]["blinding"]["tipping_point"]["ror"], math.exp(-tip))


def _gauss(lo, hi, panels, n=20):
    x, w = np.polynomial.legendre.leggauss(n)
    edges = np.linspace(lo, hi, panels + 1)
    mid, half = (edges[1:] + edges[:-1]) / 2, (edges[1:] - edges[:-1]) / 2
    return (mid[:, None] + half[:, None] * x).ravel(), (half[:, None] * w).ravel()


def _independent_posterior_mean(y, v, flag, shift, sd, s, tau_sigma, mu_sigma):
    """E[mu | y] with each flagged trial's bias beta_i ~ N(shift, sd²) integrated out numerically
    (Gauss-Hermite in beta_i, inside a tensor Gauss-Legendre quadrature over mu and tau):
    independent of the engine's closed-form convolution and of its quadrature."""
    xh, wh = np.polynomial.hermite_e.hermegauss(40)
    wh = wh / wh.sum()
    mu, wm = _gauss(-4.0, 4.0, 16)
    tau, wt = _gauss(0.0, 6 * tau_sigma, 16)
    M, T = np.meshgrid(mu, tau, indexing="ij")
    loglik = np.zeros_like(M)
    for yi, vi, f in zip(y, v, flag):
        sdev = np.sqrt(vi + T * T)
        if f:
            beta = shift + sd * xh
            dens = stats.norm.pdf(yi, M[..., None] + s * beta, sdev[..., None])
            loglik += np.log((dens * wh).sum(axis=-1))
        else:
            loglik += stats.norm.logpdf(yi, M, sdev)
    logpost = loglik + stats.norm.logpdf(M, 0, mu_sigma) + stats.halfnorm.logpdf(T, scale=tau_sigma)
    w = np.exp(logpost - logpost.max()) * np.outer(wm, wt)
    return float((w * M).sum() / w.sum())


def test_bayesian_bias_model_against_independent_quadrature(tmp_path):
    """The Bayesian bias-adjusted posterior (exact engine) equals a direct numerical integration
    over every flagged trial's bias, mu and tau."""
    case = CASES[0]
    sub = {**case, "data": case["data"][:6], "guesses": case["guesses"][:6], "control_type": case["control_type"][:6],
           "status": case["status"][:6]}
    bayes = ("    bayes:\n      prior:\n        mu: {dist: normal, mu: 0, sigma: 2}\n"
             "        tau: {dist: half_normal, sigma: 0.5}\n")
    sens = f"      - {{blinding: {{bias: {_bias_yaml(case['bias'])}}}}}\n"
    ma = analyze(write_case(sub, tmp_path, sens, bayes))["meta_analyses"][0]
    got = ma["sensitivity"]["blinding"]["bias_adjusted"]["bayes"]["mu"]["mean"]
    yi = np.array([s["yi"] for s in ma["studies"]])
    vi = np.array([s["vi"] for s in ma["studies"]])
    flag = [s != "adequate" for s in sub["status"]]
    ba = ma["sensitivity"]["blinding"]["bias_adjusted"]
    want = _independent_posterior_mean(yi, vi, flag, ba["shift"], ba["shift_se"], -1, 0.5, 2.0)
    assert abs(got - want) < 1e-6, (got, want)
    # and the bias moved the posterior toward the null (lower is better: upwards)
    assert got > ma["bayes"]["mu"]["mean"]


# --------------------------------------------------------------------------- bad input

BCG = Path(__file__).resolve().parents[1] / "docs" / "examples" / "bcg" / "trials"


def _bcg_spec(tmp_path, sensitivity, measure="RR"):
    import shutil

    shutil.copytree(BCG, tmp_path / "trials")
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: tb\n"
                    f"    measure: {measure}\n    sensitivity:\n{sensitivity}")
    return spec


BAD = [
    ("      - {blinding: {bias: {ror: -0.5, ci: [0.5, 0.9]}}}\n", "bias.ror", "must be greater than 0", 9),
    ("      - {blinding: {bias: {ror: 0, ci: [0.5, 0.9]}}}\n", "bias.ror", "must be greater than 0", 9),
    ("      - {blinding: {bias: {ror: 0.4, ci: [0.5, 0.9]}}}\n", "bias.ci", "does not contain the ror 0.4", 9),
    ("      - {blinding: {bias: {ror: 0.7, ci: [0.9, 0.5]}}}\n", "bias.ci", "lower limit must be below", 9),
    ("      - {blinding: {bias: {preset: savovic2021}}}\n", "bias.preset", "did you mean 'savovic2012'", 9),
    ("      - blinding:\n          rule: {max_bang: 1.5}\n", "rule.max_bang", "between 0 and 1", 10),
    ("      - blinding:\n          rule: {max_bang: -0.1}\n", "rule.max_bang", "between 0 and 1", 10),
    ("      - blinding:\n          rule: {assessor: patient}\n", "rule.assessor", "not one of", 10),
    ("      - {active_placebo: {assumed_effect: big}}\n", "assumed_effect", "must be a number", 9),
    ("      - {active_placebo: {assumed_effect: [0.1, x]}}\n", "assumed_effect[1]", "must be a number", 9),
    ("      - {active_placebo: {assumed_effect: {from: 0, to: 1}}}\n", "assumed_effect", "missing required key 'steps'", 9),
]


@pytest.mark.parametrize("text,key,message,line", BAD, ids=[b[1] + str(i) for i, b in enumerate(BAD)])
def test_bad_bias_parameters_are_spec_errors_with_their_line(tmp_path, text, key, message, line):
    from metak.errors import InvalidSpec

    spec = _bcg_spec(tmp_path, text)
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    probs = exc.value.problems
    assert any(p.path.endswith(key) and message in p.message and p.line == line for p in probs), \
        [(p.path, p.line, p.message) for p in probs]


def test_a_ratio_of_odds_ratios_does_not_apply_to_a_mean_difference(tmp_path):
    from metak.sensitivity.bias import PRESETS, on_scale

    with pytest.raises(ValueError):
        on_scale(PRESETS["savovic2012"], "MD")
    spec = _bcg_spec(tmp_path, "      - {blinding: {bias: {preset: savovic2012}}}\n", measure="RD")
    from metak.errors import InvalidSpec

    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("does not apply to measure RD" in p.message and "difference" in p.message for p in exc.value.problems)


def test_cli_bad_bias_exits_1_without_traceback_and_writes_nothing(tmp_path):
    import subprocess
    import sys

    spec = _bcg_spec(tmp_path, "      - {blinding: {bias: {ror: 1.2, ci: [0.5, 0.9]}}}\n")
    out = tmp_path / "out"
    r = subprocess.run([sys.executable, "-m", "metak.cli", "analyze", str(spec), "--out", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1 and "Traceback" not in r.stderr and ":9:" in r.stderr and "does not contain" in r.stderr
    assert not out.exists()


def test_no_guess_data_classifies_every_trial_unknown_with_a_warning(tmp_path):
    spec = _bcg_spec(tmp_path, "      - {blinding: {bias: {difference: -0.2, ci: [-0.4, -0.05]}}}\n")
    ma = analyze(spec)["meta_analyses"][0]
    b = ma["sensitivity"]["blinding"]
    assert {c["status"] for c in b["classification"]} == {"unknown"} and len(b["classification"]) == 13
    assert any("classified 'unknown'" in w for w in ma["warnings"])
    assert b["restricted"] is None and b["reasons"]["restricted"] == "no trial is adequately blinded"
    # a difference on the analysis scale shifts every (non-adequate) trial by 0.2 toward the null
    assert b["bias_adjusted"]["k_adjusted"] == 13 and b["bias_adjusted"]["shift"] == pytest.approx(0.2)
    assert b["bias_adjusted"]["log_ror"] is None


def test_assumed_effect_range_and_an_ror_above_one(tmp_path):
    """{from, to, steps} gives evenly spaced effects; an ROR > 1 (flawed trials showing less
    benefit) shifts the other way."""
    from metak.sensitivity.bias import BiasSource, on_scale

    assert on_scale(BiasSource("x", "", "log_or", 1.25, (1.0, 1.5)), "OR").shift == pytest.approx(-math.log(1.25))
    spec = _bcg_spec(tmp_path, "      - {active_placebo: {assumed_effect: {from: 0, to: 0.5, steps: 6}}}\n")
    ap = analyze(spec)["meta_analyses"][0]["sensitivity"]["active_placebo"]
    assert [round(e["effect"], 12) for e in ap["assumed_effect"]] == [0.0, 0.1, 0.2, 0.3, 0.4, 0.5]
    # BCG has no active placebo: nothing shifted, every fit is the unshifted one, and the reason says so
    assert {e["k_shifted"] for e in ap["assumed_effect"]} == {0} and ap["restricted"] is None
    assert "active placebo" in ap["reasons"]["assumed_effect"]


def test_terminal_summary_prints_every_bias_result(tmp_path):
    from metak.report import terminal_table

    case = CASES[0]
    sens = ("      - {blinding: {bias: {preset: savovic2012}}}\n"
            "      - {active_placebo: {assumed_effect: {from: 0, to: 0.6, steps: 13}}}\n")
    doc = analyze(write_case(case, tmp_path, sens))
    text = terminal_table(doc)
    b = doc["meta_analyses"][0]["sensitivity"]["blinding"]
    assert "blinding (participant |Bang| <= 0.2): 6 adequate, 4 compromised, 3 unknown" in text
    r = b["restricted"]
    assert f"adequately blinded only: k = 6, {math.exp(r['estimate']):.2f} [{math.exp(r['ci_lower']):.2f}," in text
    assert f"tipping point: a bias of {b['tipping_point']['bias']:.3f} (ROR {b['tipping_point']['ror']:.3f})" in text
    assert "under hrobjartsson2014:" in text and "(13 assumed effects in results.json)" in text


def test_reported_contrasts_are_classified_by_their_arms_guesses(tmp_path):
    """A contrast-only trial has no comparison object: its arms come from the contrast, so an
    unblinded trial is 'compromised', not silently 'adequate'."""
    (tmp_path / "trials").mkdir()
    for i, guesses in enumerate(((18, 1, 1), (8, 7, 10), None)):
        g = ""
        if guesses:
            a, b, c = guesses
            g = ("blinding:\n  masking: double\n  guesses:\n"
                 f"    - {{arm: e, assessor: participant, guessed_experimental: {a}, guessed_control: {b}, dont_know: {c}}}\n"
                 f"    - {{arm: c, assessor: participant, guessed_experimental: {b}, guessed_control: {a}, dont_know: {c}}}\n")
        (tmp_path / "trials" / f"k{i}.yaml").write_text(
            f"metak: 1\nid: k{i}\ntitle: k{i}\ncondition: c\ndesign: parallel\n{g}arms:\n"
            "  - {id: e, label: E, role: experimental, intervention: x, randomized: 30}\n"
            "  - {id: c, label: C, role: control, intervention: y, randomized: 30}\n"
            "outcomes:\n  - id: y\n    label: y\n    type: contrast\n    direction: lower_is_better\n    data:\n"
            f"      {{measure: MD, experimental: e, control: c, estimate: {-2 - i}, ci: [{-4 - i}, {-i}]}}\n"
            "    source: {where: test}\n")
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: y\n    measure: MD\n"
                    "    sensitivity:\n      - {blinding: {bias: {difference: -1, ci: [-1.5, -0.5]}}}\n")
    b = analyze(spec)["meta_analyses"][0]["sensitivity"]["blinding"]
    assert [c["status"] for c in b["classification"]] == ["compromised", "adequate", "unknown"]
    assert b["bias_adjusted"]["k_adjusted"] == 2

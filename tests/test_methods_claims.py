"""Every claim of the generated methods text against the results document it describes.

One analysis spec holds a matrix of settings over the bundled trials — estimators (REML, DL, FE,
MH), tests (Knapp-Hartung, z), k = 1 with Knapp-Hartung asked for, a crossover trial without
pairing data, a zero cell under ``only0`` and under ``all``, a Turner-preset prior with a
prior-sensitivity prior, every bias preset, and the sensitivity analyses — and is run once.
Each claim below is a phrase and the result that must exist for it: the phrase appears in a
meta-analysis's paragraph exactly when the predicate on its results holds (a claim without a
result fails, and so does a result the text leaves out). The predicates read results.json
directly (the zero cells from the arm counts), not through metak.methods."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

import metak
from metak.methods import REFERENCES, methods
from metak.methods_sentences import BIAS_SOURCES

ROOT = Path(__file__).resolve().parent.parent
SUD = "{condition: [cocaine dependence, heroin dependence, alcohol dependence, alcohol use disorder], " \
      "control_type: [placebo, active_placebo]}"
SUD_ALL = "{condition: [cocaine dependence, heroin dependence, alcohol dependence, alcohol use disorder]}"
SPEC = f"""metak: 1
title: methods claims matrix
trials: {ROOT / 'trials'}
meta_analyses:
  - {{id: reml_hksj, outcome: abstinence, measure: OR, method: REML, test: hksj, select: {SUD}}}
  - {{id: dl_z, outcome: abstinence, measure: RR, method: DL, test: z, select: {SUD}}}
  - {{id: mh_z, outcome: abstinence, measure: OR, method: MH, test: z, select: {SUD}}}
  - {{id: k1_hksj, outcome: response, measure: OR, method: REML, test: hksj, select: {{trials: [taylor2018]}}}}
  - {{id: k1_cc_all, outcome: response, measure: RR, method: REML, test: z, cc: {{add: 0.5, to: all, drop00: false}},
     select: {{trials: [taylor2018]}}}}
  - {{id: k1_cc_none, outcome: response, measure: OR, method: REML, test: z, cc: {{add: 0.5, to: none, drop00: false}},
     select: {{trials: [taylor2018]}}}}
  - id: bayes_sens
    outcome: abstinence
    measure: OR
    select: {SUD_ALL}
    bayes:
      prior: {{mu: {{dist: normal, mu: 0, sigma: 10}}, tau: {{preset: turner2015, outcome: mental_health}}}}
      prior_sensitivity: [{{dist: half_normal, sigma: 0.5}}]
    sensitivity:
      - leave_one_out
      - cumulative
      - influence
      - {{small_study: {{force: true}}}}
      - {{blinding: {{bias: {{preset: metablind2020_double}}}}}}
      - {{active_placebo: {{assumed_effect: [0, 1]}}}}
      - {{missing_outcome: {{imor: [0.5, 2]}}}}
  - id: halfnormal
    outcome: abstinence
    measure: OR
    select: {SUD}
    bayes: {{prior: {{mu: {{dist: normal, mu: 0, sigma: 10}}, tau: {{dist: half_normal, sigma: 0.5}}}}}}
    sensitivity: [{{small_study: {{force: true}}}}]
  - {{id: dropout_fe, dropout: true, measure: RR, method: FE, test: z}}
"""


@pytest.fixture(scope="module")
def doc(tmp_path_factory):
    f = tmp_path_factory.mktemp("claims") / "matrix.yaml"
    f.write_text(SPEC, encoding="utf-8")
    return metak.analyze(f)


def _zero_cell_labels(ma):
    out = []
    for s in ma["studies"]:
        arms = [(s.get("data") or {}).get(s.get(r)) for r in ("experimental", "control")]
        if all(isinstance(a, dict) and "events" in a for a in arms) and \
                any(a["events"] in (0, a["total"]) for a in arms):
            out.append(s["label"])
    return out


def _sens(ma, name):
    return (ma.get("sensitivity") or {}).get(name)


def _sources(ma):
    b = _sens(ma, "blinding") or {}
    return {e["source"] for e in b.get("by_source") or []}


#: (claim, the result that must exist for it) — the phrase is in the paragraph iff the predicate holds
CLAIMS = [
    ("Hartung-Knapp-Sidik-Jonkman", lambda ma: ma["model"]["test"] == "hksj" and ma.get("df") is not None),
    ("Wald-type", lambda ma: ma.get("df") is None and ma.get("estimate") is not None),
    ("Only one trial", lambda ma: ma["k"] == 1 and ma.get("estimate") is not None),
    ("No trial had data that could be pooled", lambda ma: ma.get("estimate") is None),
    ("random-effects model, the between-study variance",
     lambda ma: ma["k"] > 1 and ma["model"]["method"] not in ("FE", "MH", "PETO")),
    ("Mantel-Haenszel method", lambda ma: ma["model"]["method"] == "MH" and ma["k"] > 1),
    ("common-effect (fixed-effect) model", lambda ma: ma["model"]["method"] == "FE" and ma["k"] > 1),
    ("prediction interval is", lambda ma: ma.get("pi_lower") is not None),
    ("Q-profile confidence interval", lambda ma: ma.get("tau2_ci") is not None),
    ("Cochran's Q", lambda ma: ma.get("q") is not None and ma["k"] > 1),
    ("was added to every cell", lambda ma: ma.get("estimate") is not None and (
        ma["model"]["cc"]["to"] == "all" or (ma["model"]["cc"]["to"] != "none" and bool(_zero_cell_labels(ma))))),
    ("crossover trial", lambda ma: ma.get("estimate") is not None and any((s.get("design") or {}).get("method") in ("paired", "first_period", "rho",
                                                                                "parallel") for s in ma["studies"])),
    ("as if its arms were independent groups",
     lambda ma: ma.get("estimate") is not None and any((s.get("design") or {}).get("method") == "parallel" for s in ma["studies"])),
    ("A Bayesian random-effects model", lambda ma: bool((ma.get("bayes") or {}).get("mu"))),
    ("a half-normal prior with scale 0.5 on τ;",
     lambda ma: (ma.get("bayes") or {}).get("prior", {}).get("tau") == "HalfNormal(sigma=0.5)"),
    ("on μ and a log-normal prior on τ²",
     lambda ma: "LogNormal" in str(((ma.get("bayes") or {}).get("prior") or {}).get("tau"))),
    ("repeated under a half-normal prior with scale 0.5 on τ", lambda ma: any(
        a.get("prior") == "HalfNormal(sigma=0.5)" for a in (ma.get("bayes") or {}).get("prior_sensitivity") or [])),
    ("repeated under a half-normal prior with scale 1 on τ and a log-normal prior on τ²", lambda ma: [
        a.get("prior", "")[:13] for a in (ma.get("bayes") or {}).get("prior_sensitivity") or []] == [
        "HalfNormal(si", "LogNormal(mu="]),
    ("Prior sensitivity", lambda ma: bool((ma.get("bayes") or {}).get("prior_sensitivity"))),
    ("Turner et al.", lambda ma: "turner2015" in str((ma.get("bayes") or {}).get("prior"))
     or "turner2015" in str((ma.get("bayes") or {}).get("prior_sensitivity"))),
    ("leave-one-out", lambda ma: bool(_sens(ma, "leave_one_out"))),
    ("cumulative meta-analysis", lambda ma: bool((_sens(ma, "cumulative") or {}).get("steps"))),
    ("Influence diagnostics", lambda ma: bool(_sens(ma, "influence"))),
    ("Small-study effects were tested", lambda ma: bool((_sens(ma, "small_study") or {}).get("run"))),
    ("small-study effects were not run",
     lambda ma: _sens(ma, "small_study") is not None and not _sens(ma, "small_study").get("run")),
    ("adjusted (frequentist and Bayesian) for bias",
     lambda ma: bool(((_sens(ma, "blinding") or {}).get("bias_adjusted") or {}).get("bayes"))),
    ("Savović et al.", lambda ma: "savovic2012" in _sources(ma)),
    ("Hróbjartsson et al. (2012)", lambda ma: "hrobjartsson2012" in _sources(ma)),
    ("Hróbjartsson et al. (2014)", lambda ma: "hrobjartsson2014" in _sources(ma)),
    ("MetaBLIND", lambda ma: any(s.startswith("metablind") for s in _sources(ma))),
    ("by control type (active or inert placebo)",
     lambda ma: (_sens(ma, "active_placebo") or {}).get("q_between") is not None),
    ("active-placebo-controlled trials alone", lambda ma: bool((_sens(ma, "active_placebo") or {}).get("restricted"))),
    ("assumed own effect of the active placebo (from 0 to 1",
     lambda ma: [r["effect"] for r in (_sens(ma, "active_placebo") or {}).get("assumed_effect") or []] == [0, 1]),
    ("informative missingness odds ratios of 0.5 and 2",
     lambda ma: {s.get("imor_experimental") for s in (_sens(ma, "missing_outcome") or {}).get("scenarios", [])
                 if s["name"] == "imor"} == {0.5, 2.0}),
    ("Dropout was analysed as its own outcome", lambda ma: bool(ma.get("dropout"))),
]


def _paragraphs(doc):
    paras, refs = methods(doc)
    assert len(paras) == len(doc["meta_analyses"]) + 1
    return dict(zip((m["id"] for m in doc["meta_analyses"]), paras)), paras, refs


def test_the_matrix_covers_each_setting(doc):
    """The matrix is what it says: each claim is true of some meta-analysis and false of another."""
    by_id = {m["id"]: m for m in doc["meta_analyses"]}
    assert by_id["k1_hksj"]["k"] == 1 and by_id["k1_hksj"]["model"]["test"] == "hksj"
    assert _zero_cell_labels(by_id["k1_hksj"]) and not _zero_cell_labels(by_id["reml_hksj"])
    for phrase, pred in CLAIMS:
        truth = {pred(m) for m in doc["meta_analyses"]}
        assert truth == {True, False} or phrase in (
            "Small-study effects were tested", "Hróbjartsson et al. (2014)",
            "repeated under a half-normal prior with scale 1 on τ and a log-normal prior on τ²"), \
            (phrase, truth)


@pytest.mark.parametrize("phrase,pred", CLAIMS, ids=[c[0][:40] for c in CLAIMS])
def test_each_claim_is_made_exactly_when_its_result_exists(doc, phrase, pred):
    paras, _, _ = _paragraphs(doc)
    for ma in doc["meta_analyses"]:
        assert (phrase in paras[ma["id"]]) == pred(ma), (ma["id"], phrase, paras[ma["id"]])


def test_a_continuity_correction_names_exactly_the_tables_it_changed(doc):
    paras, _, _ = _paragraphs(doc)
    for ma in doc["meta_analyses"]:
        m = re.search(r"added to every cell of the 2×2 tables? with a zero cell \(([^)]*)\)", paras[ma["id"]])
        if m:
            assert sorted(re.split(r", | and ", m.group(1))) == sorted(_zero_cell_labels(ma))


def test_every_bias_source_used_is_cited_and_every_reference_is_cited(doc):
    paras, all_paras, refs = _paragraphs(doc)
    text = " ".join(all_paras)
    cited = {int(n) for grp in re.findall(r"\[([\d, ]+)\]", text) for n in grp.split(", ")}
    assert cited == set(range(1, len(refs) + 1))  # no uncited reference, no dangling number
    for ma in doc["meta_analyses"]:
        for src in _sources(ma):
            for key in BIAS_SOURCES[src][1]:
                n = next(i + 1 for i, r in enumerate(refs) if r.endswith(REFERENCES[key]))
                assert re.search(rf"{re.escape(BIAS_SOURCES[src][0])} \[[\d, ]*\b{n}\b", paras[ma["id"]]), (src, key)


def test_manuscript_language_not_code(doc):
    _, all_paras, _ = _paragraphs(doc)
    text = " ".join(all_paras)
    for code in ("HalfNormal(", "LogNormal(", "sigma=", "turner2015/", "savovic2012", "metablind2020", "`",
                 "reml_hksj", "bayes_sens"):
        assert code not in text, code


@pytest.mark.parametrize("results", sorted((ROOT / "results").glob("*/results.json"))
                         + sorted((ROOT / "docs" / "examples").glob("*/results/results.json")),
                         ids=lambda p: p.parent.name if p.parent.name != "results" else p.parent.parent.name)
def test_every_bundled_results_methods_text_says_only_what_ran(results):
    import json

    doc = json.loads(results.read_text(encoding="utf-8"))
    if "meta_analyses" not in doc:  # a simulation's results
        pytest.skip("not an analysis results document")
    paras, _, _ = _paragraphs(doc)
    for ma in doc["meta_analyses"]:
        for phrase, pred in CLAIMS:
            assert (phrase in paras[ma["id"]]) == pred(ma), (ma["id"], phrase)

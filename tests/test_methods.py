"""The generated methods paragraph, unit by unit: for each estimator, test, prior and
sensitivity result the sentence it must contain and the reference it must cite (numbered, and
listed); sentences only from results that exist (tests/test_methods_claims.py checks a whole
matrix of real runs); priors in words; the references' CSL-JSON, BibTeX and RIS forms."""

from __future__ import annotations

import re

import pytest

from metak.methods import REFERENCES, methods
from metak.methods_words import prior_text
from metak.references import RECORDS, bibtex, ris, vancouver
from metak.registry import SENSITIVITY as REGISTERED
from metak.study_rows import StudyRow
from record_examples import complete, fill

#: one result of each registered sensitivity analysis, as results.json holds it (the keys the
#: sentence reads; :func:`record_examples.complete` gives the rest of its record neutral values)
SENS_RESULTS = {
    "leave_one_out": [{"omitted": "a", "label": "A", "k": 2, "estimate": 0.1}],
    "influence": [{"trial": "a", "influential": False}],
    "small_study": {"run": True, "reason": None},
    "missing_outcome": {"measure": "OR", "scenarios": [{"name": "available_case"}, {"name": "imor",
                                                                                      "imor_experimental": 2}]},
    "crossover_rho": {"values": [{"rho": 0.5}], "studies": ["Taylor 2018"], "reason": None},
    "risk_of_bias": {"restricted": {"k": 2}, "subgroups": {"q_between": 1.0}},
    "active_placebo": {"q_between": 1.0, "restricted": {"k": 2}, "assumed_effect": [{"effect": 0.5}]},
    "cumulative": {"order": "year", "steps": [{}]},
    "blinding": {"classification": [{"status": "adequate"}], "rule": {"max_bang": 0.2, "assessor": "participant"},
                 "restricted": {"k": 1}, "bias_adjusted": {"source": "hrobjartsson2012", "k_adjusted": 2},
                 "by_source": [{"source": "hrobjartsson2012"}, {"source": "metablind2020_double"}],
                 "tipping_point": {"bias": 0.3}},
}
SENS_RESULTS = {name: complete(name, value) for name, value in SENS_RESULTS.items()}


def doc(method="REML", test="hksj", measure="OR", k=3, **extra):
    random = method not in ("FE", "MH", "PETO")
    ma = {"id": "m", "title": "Abstinence", "measure": measure, "k": k, "estimate": 0.5,
          "df": k - 1 if test == "hksj" and k > 1 else None, "q": 2.0, "i2": 10.0,
          "tau2": 0.1 if random else None, "tau2_ci": [0, 1] if random else None,
          "pi_lower": -1.0 if random and k > 1 else None,
          "model": {"method": method, "test": test, "level": 0.95, "multi_arm": "split_control",
                    "cc": {"add": 0.5, "to": "only0", "drop00": False}},
          "studies": [], "sensitivity": None, "bayes": None}
    ma.update(extra)
    ma["studies"] = [fill(StudyRow, s) for s in ma["studies"]]  # the methods text reads the rows' records
    return {"metak_version": "0.1.0", "environment": {"python": "3.11", "numpy": "2", "scipy": "1"},
            "meta_analyses": [ma]}


def cited(text, refs, key):
    """The paragraph cites ``key``: some [n, ...] in the text has n = its number in the list."""
    n = next(i + 1 for i, r in enumerate(refs) if r.endswith(REFERENCES[key]))
    return any(str(n) in m.split(", ") for m in re.findall(r"\[([\d, ]+)\]", text))


@pytest.mark.parametrize("method,phrase,key", [
    ("DL", "the DerSimonian-Laird estimator", "dl1986"),
    ("REML", "restricted maximum likelihood (REML)", "viechtbauer2005"),
    ("ML", "maximum likelihood (ML)", "viechtbauer2005"),
    ("PM", "the Paule-Mandel estimator", "pm1982"),
    ("SJ", "the Sidik-Jonkman estimator", "sj2005"),
    ("HE", "the Hedges estimator", "hedges1985"),
    ("EB", "the empirical Bayes estimator", "morris1983"),
    ("MH", "Mantel-Haenszel method", "mh1959"),
    ("PETO", "Peto's one-step method", "yusuf1985"),
    ("FE", "inverse-variance common-effect (fixed-effect) model", None),
])
def test_each_estimator_is_named_and_cited(method, phrase, key):
    (p, _sw), refs = methods(doc(method=method, test="z"))
    assert phrase in p
    if key:
        assert cited(p, refs, key)
    if method in ("FE", "MH", "PETO"):
        assert "prediction interval" not in p and "τ²" not in p.split("Heterogeneity")[1]
    else:
        assert "prediction interval" in p and cited(p, refs, "hts2009") and cited(p, refs, "viechtbauer2007")


def test_the_test_that_ran_is_described():
    (p, _), refs = methods(doc(test="hksj"))
    assert "Hartung-Knapp-Sidik-Jonkman" in p and cited(p, refs, "hk2001") and cited(p, refs, "inthout2014")
    assert "k − 1 = 2 degrees of freedom" in p and "c from t on 2 degrees of freedom" in p
    (p, _), refs = methods(doc(test="z"))
    assert "Wald-type (normal distribution)" in p and "c from the normal quantile" in p
    assert "Hartung" not in p
    # asked for Knapp-Hartung, but k = 1 ran z (results.json has no df): no Knapp-Hartung, no PI
    (p, _), refs = methods(doc(test="hksj", k=1, studies=[{"label": "Taylor 2018"}]))
    assert "Only one trial (Taylor 2018)" in p and "Wald-type" in p
    assert "Hartung" not in p and "prediction interval is" not in p and "τ² estimated" not in p


def _zero(events_e, events_c, n=20):
    return {"label": f"T{events_e}{events_c}", "experimental": "k", "control": "p",
            "data": {"k": {"events": events_e, "total": n}, "p": {"events": events_c, "total": n}}}


@pytest.mark.parametrize("cc,studies,phrase", [
    ({"add": 0.5, "to": "only0", "drop00": False}, [_zero(0, 3), _zero(2, 3)],
     "0.5 was added to every cell of the 2×2 table with a zero cell (T03)"),
    ({"add": 0.5, "to": "only0", "drop00": False}, [_zero(1, 3), _zero(2, 3)], None),   # no zero cell: no claim
    ({"add": 0.5, "to": "all", "drop00": False}, [_zero(1, 3)], "0.5 was added to every cell of every 2×2 table"),
    ({"add": 0.5, "to": "if0all", "drop00": False}, [_zero(20, 3), _zero(2, 3)],
     "0.5 was added to every cell of every 2×2 table, since T203 had a zero cell"),
    ({"add": 0.5, "to": "none", "drop00": True}, [_zero(0, 3)], None),
])
def test_continuity_corrections_only_when_applied(cc, studies, phrase):
    d = doc(studies=studies)
    d["meta_analyses"][0]["model"]["cc"] = cc
    p = methods(d)[0][0]
    assert (phrase in p) if phrase else "added to every cell" not in p
    d["meta_analyses"][0]["measure"] = "MD"
    assert "added to every cell" not in methods(d)[0][0]


@pytest.mark.parametrize("prior,words,key", [
    ("HalfNormal(sigma=0.5)", "a half-normal prior with scale 0.5 on τ", None),
    ("HalfCauchy(beta=1)", "a half-Cauchy prior with scale 1 on τ", None),
    ("LogNormal(mu=-2.99, sigma=1.74) on tau^2 [turner2015/withdrawals]",
     "a log-normal prior on τ² (log τ² normal with mean −2.99 and standard deviation 1.74), the predictive "
     "distribution of Turner et al. for withdrawals", "turner2015"),
    ("LogStudentT(nu=5, mu=-3.44, sigma=2.59) on tau^2 [rhodes2015/general]",
     "a log-t prior on τ² (log τ² Student-t with 5 degrees of freedom, location −3.44 and scale 2.59), the "
     "predictive distribution of Rhodes et al. for general outcomes", "rhodes2015"),
])
def test_priors_in_words_with_their_sources(prior, words, key):
    assert prior_text(prior) == (words, key)
    b = {"engine": "exact", "likelihood": "normal", "level": 0.95, "mu": {"median": 0.1},
         "prior": {"mu": "Normal(mu=0, sigma=10)", "tau": prior},
         "prior_sensitivity": [{"prior": "HalfNormal(sigma=1)"}]}
    (p, _), refs = methods(doc(bayes=b))
    assert f"a normal prior with mean 0 and standard deviation 10 on μ and {words}" in p
    assert "computed exactly" in p and cited(p, refs, "rover2020")
    assert "Prior sensitivity: the analysis was repeated under a half-normal prior with scale 1 on τ." in p
    if key:
        assert cited(p, refs, key)
    assert "sigma=" not in p and "HalfNormal" not in p


def test_mcmc_engine_and_no_bayes_sentence_without_a_posterior():
    b = {"engine": "mcmc", "likelihood": "binomial", "level": 0.95, "mu": {"median": 0.1},
         "prior": {"mu": "Normal(mu=0, sigma=10)", "tau": "HalfNormal(sigma=0.5)"}}
    (p, _), refs = methods(doc(bayes=b))
    assert "sampled by MCMC (NUTS) in PyMC" in p and cited(p, refs, "pymc2023") and "binomial likelihood" in p
    (p, _), _ = methods(doc(bayes={"prior": {}}))
    assert "Bayesian" not in p


def test_every_registered_sensitivity_analysis_has_a_hook_and_is_described():
    assert set(SENS_RESULTS) <= set(REGISTERED)
    for name, kind in REGISTERED.items():  # analyses registered later bring their own hook and its tests
        assert kind.methods, f"{name}: a registered analysis needs its methods hook (docs/extending.md)"
    for name in SENS_RESULTS:
        (p, _), refs = methods(doc(sensitivity={name: SENS_RESULTS[name]}))
        assert re.search(r"\[\d", p.split("Heterogeneity")[1].split("prediction interval")[1]), name  # cited
    (p, _), refs = methods(doc(sensitivity={"blinding": SENS_RESULTS["blinding"]}))
    assert "Hróbjartsson et al. (2012)" in p and cited(p, refs, "hrobjartsson2012") and cited(p, refs, "page2016")
    assert "MetaBLIND (lack of double blinding)" in p and cited(p, refs, "moustgaard2020")
    (p, _), refs = methods(doc(measure="SMD", sensitivity={"missing_outcome": complete("missing_outcome", {
        "measure": "SMD", "scenarios": [{"name": "imdom", "imdom_experimental": 0.5}]})}))
    assert "informative missingness differences of means of 0.5" in p and cited(p, refs, "mavridis2015")
    # a small-study result that did not run says so, and claims no test
    small = complete("small_study", {"run": False, "reason": "k = 3 < 10"})
    (p, _), refs = methods(doc(sensitivity={"small_study": small}))
    assert "were not run (k = 3 < 10)" in p and "Egger" not in p


def test_designs_and_conversions_from_the_study_rows():
    studies = [{"label": "A", "split_control": 2, "data": {}},
               {"label": "B", "design": {"method": "paired"}, "data": {}},
               {"label": "C", "design": {"method": "parallel"}, "data": {}},
               {"label": "D", "data": {"e": {"mean": 1, "sd": 1, "n": 5, "converted_from": "median and IQR"}}},
               {"label": "E", "converted": "OR converted", "data": {}}]
    (p, _), refs = methods(doc(studies=studies))
    assert "In A, each experimental arm was compared with the control group" in p
    assert "B, a crossover trial, was analysed by its paired (within-participant) data" in p
    assert "C, a crossover trial, was analysed as if its arms were independent groups" in p
    assert cited(p, refs, "elbourne2002") and cited(p, refs, "luo2018") and cited(p, refs, "wan2014")
    assert "Means and standard deviations of D were estimated" in p and cited(p, refs, "chinn2000")
    (p, _), _ = methods(doc())
    assert "split evenly" not in p and "crossover" not in p and "medians" not in p


def test_references_are_numbered_in_order_of_first_use_and_software_versions_given():
    paras, refs = methods(doc(method="DL", test="hksj"))
    first = [int(n) for m in re.findall(r"\[([\d, ]+)\]", " ".join(paras)) for n in m.split(", ")]
    assert sorted(set(first)) == list(range(1, len(refs) + 1))
    assert first == sorted(first) or first[:2] == [1, 2]
    assert refs[0].startswith("1. DerSimonian R, Laird N.")
    assert "metak 0.1.0 (Python 3.11, NumPy 2, SciPy 1)" in paras[-1]


# --------------------------------------------------------------------------- references

def test_vancouver_from_csl_json_reads_as_the_sources_print_it():
    assert vancouver("dl1986") == ("DerSimonian R, Laird N. Meta-analysis in clinical trials. Control Clin Trials "
                                   "1986;7:177-188.")
    assert vancouver("savovic2012").startswith("Savović J, Jones HE, Altman DG, et al. Influence of")
    assert vancouver("viechtbauer2010").endswith("J Stat Softw 2010;36(3):1-48.")
    assert vancouver("handbook2023") == ("Higgins JPT, Thomas J, Chandler J, et al. (eds). Cochrane Handbook for "
                                         "Systematic Reviews of Interventions, version 6.4. Cochrane; 2023.")
    assert vancouver("gleser2009").endswith("In: Cooper H, Hedges LV, Valentine JC (eds). The Handbook of Research "
                                            "Synthesis and Meta-Analysis, 2nd ed. Russell Sage; 2009:357-376.")
    for key in RECORDS:
        assert vancouver(key).endswith("."), key


def _parse_bib(text):
    """A strict reader of the BibTeX subset written: @type{key, field = {value}, ...}."""
    entries = {}
    for m in re.finditer(r"@(\w+)\{([^,\s]+),\n((?:  \w+ = \{.*\},?\n)+)\}\n", text):
        fields = dict(re.findall(r"  (\w+) = \{(.*)\},?\n", m.group(3)))
        entries[m.group(2)] = (m.group(1), fields)
    return entries


def test_bibtex_and_ris_carry_every_field_of_every_record():
    keys = list(RECORDS)
    entries = _parse_bib(bibtex(keys))
    assert list(entries) == keys
    for key in keys:
        it = RECORDS[key]
        kind, f = entries[key]
        assert kind == {"article-journal": "article", "book": "book", "chapter": "incollection"}[it["type"]]
        assert f["year"] == str(it["issued"]["date-parts"][0][0]) and f["title"] == "{" + it["title"] + "}"
        people = it.get("author") or it.get("editor")
        names = (f.get("author") or f.get("editor")).split(" and ")
        assert len(names) == len(people)
        assert names[0].strip("{}").startswith(people[0]["family"])
        if it["type"] == "article-journal":
            assert f["journal"] == it["container-title"] and f["volume"] == it["volume"]
            assert f["pages"] == it["page"].replace("-", "--")
    records = ris(keys).strip().split("\n\n")
    assert len(records) == len(keys)
    for key, rec in zip(keys, records):
        it = RECORDS[key]
        lines = rec.splitlines()
        assert lines[0] == f"TY  - {dict(zip(['article-journal', 'book', 'chapter'], ['JOUR', 'BOOK', 'CHAP']))[it['type']]}"
        assert lines[-1] == "ER  -" and f"ID  - {key}" in lines and f"TI  - {it['title']}" in lines
        assert all(re.match(r"^[A-Z][A-Z0-9]  - ", ln) or ln == "ER  -" for ln in lines)
        named = [p for p in (it.get("author") or []) if p.get("literal") != "others"]
        assert [ln[6:] for ln in lines if ln.startswith("AU  - ")] == [f"{p['family']}, {p['given']}" for p in named]
    assert "and others" in bibtex(["savovic2012"]) and "et al" not in ris(["savovic2012"])

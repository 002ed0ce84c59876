"""The generated methods paragraph: for each estimator, test, prior and sensitivity option the
sentence it must contain and the reference it must cite (numbered, and listed)."""

from __future__ import annotations

import re

import pytest

from metak.methods import REFERENCES, SENSITIVITY, methods
from metak.registry import SENSITIVITY as REGISTERED


def doc(method="REML", test="hksj", measure="OR", **extra):
    ma = {"id": "m", "title": "Abstinence", "measure": measure,
          "model": {"method": method, "test": test, "level": 0.95, "multi_arm": "split_control",
                    "cc": {"add": 0.5, "to": "only0", "drop00": False}},
          "studies": [], "sensitivity": None, "bayes": None}
    ma.update(extra)
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


def test_each_test_is_described():
    (p, _), refs = methods(doc(test="hksj"))
    assert "Hartung-Knapp-Sidik-Jonkman" in p and cited(p, refs, "hk2001") and cited(p, refs, "inthout2014")
    assert "c from t on k − 1 degrees of freedom" in p
    (p, _), refs = methods(doc(test="z"))
    assert "Wald-type (normal distribution)" in p and "c from the normal quantile" in p
    assert "Hartung" not in p


@pytest.mark.parametrize("cc,phrase", [
    ({"add": 0.5, "to": "only0", "drop00": False}, "0.5 was added to every cell of a 2×2 table with a zero cell."),
    ({"add": 0.5, "to": "all", "drop00": False}, "0.5 was added to every cell of every table."),
    ({"add": 0.5, "to": "none", "drop00": True}, "No continuity correction was applied; tables with no events"),
])
def test_continuity_corrections(cc, phrase):
    d = doc()
    d["meta_analyses"][0]["model"]["cc"] = cc
    assert phrase in methods(d)[0][0]
    d["meta_analyses"][0]["measure"] = "MD"
    assert "added to every cell" not in methods(d)[0][0]


@pytest.mark.parametrize("prior,engine,key,phrase", [
    ("LogNormal(mu=-2.99, sigma=1.74) on tau^2 [turner2015/withdrawals]", "exact", "turner2015", "computed exactly"),
    ("LogStudentT(...) [rhodes2015/general]", "exact", "rhodes2015", "computed exactly"),
    ("HalfNormal(sigma=0.5)", "mcmc", "pymc2023", "sampled by MCMC (NUTS) in PyMC"),
])
def test_priors_and_engines(prior, engine, key, phrase):
    b = {"engine": engine, "likelihood": "normal", "level": 0.95, "prior": {"mu": "Normal(mu=0, sigma=10)", "tau": prior}}
    (p, _), refs = methods(doc(bayes=b))
    assert f"μ ~ Normal(mu=0, sigma=10) and τ ~ {prior}" in p and phrase in p and cited(p, refs, key)
    if engine == "exact":
        assert cited(p, refs, "rover2020")


def test_every_registered_sensitivity_analysis_is_described():
    assert set(SENSITIVITY) == set(REGISTERED)
    for name in REGISTERED:
        (p, _), refs = methods(doc(sensitivity={name: {}}))
        assert "Sensitivity analyses: " in p, name
        assert re.search(r"Sensitivity analyses: [^\[]+\[\d", p), name  # described and cited
    (p, _), refs = methods(doc(measure="SMD", sensitivity={"missing_outcome": {}}))
    assert "informative missingness differences of means" in p and cited(p, refs, "mavridis2015")
    (p, _), refs = methods(doc(sensitivity={"missing_outcome": {}}))
    assert "informative missingness odds ratios" in p and cited(p, refs, "hww2008")


def test_multi_arm_sentence_only_when_a_trial_has_several_arms():
    assert "split evenly" not in methods(doc())[0][0]
    d = doc(studies=[{"split_control": 2, "data": {}}])
    assert "split evenly" in methods(d)[0][0]
    d["meta_analyses"][0]["model"]["multi_arm"] = "multivariate"
    assert "multilevel model" in methods(d)[0][0]


def test_references_are_numbered_in_order_of_first_use_and_software_versions_given():
    paras, refs = methods(doc(method="DL", test="hksj"))
    first = [int(n) for m in re.findall(r"\[([\d, ]+)\]", " ".join(paras)) for n in m.split(", ")]
    assert sorted(set(first)) == list(range(1, len(refs) + 1))
    assert refs[0].startswith("1. DerSimonian R, Laird N.")
    assert "metak 0.1.0 (Python 3.11, NumPy 2, SciPy 1)" in paras[-1]

"""Parsing the ``bayes:`` block: defaults, presets, and errors that name the key path."""

from __future__ import annotations

import pytest

from metak.bayes import parse_bayes_spec
from metak.bayes import priors as P
from metak.errors import SpecValueError


def _error(mapping, **kw) -> SpecValueError:
    with pytest.raises(SpecValueError) as info:
        parse_bayes_spec(mapping, **kw)
    return info.value


def test_contract_example_parses():
    spec = parse_bayes_spec({
        "likelihood": "normal",
        "prior": {"mu": {"dist": "normal", "mu": 0, "sigma": 10}, "tau": {"dist": "half_normal", "sigma": 0.5}},
        "seed": 20261126, "draws": 2000,
    }, measure="OR")
    assert spec.prior == (P.Normal(0.0, 10.0), P.HalfNormal(0.5))
    assert spec.engine == "auto" and spec.resolved_engine == "exact"
    assert spec.chains == 4 and spec.seed == 20261126 and spec.draws == 2000
    assert spec.defaults == ()


def test_empty_block_takes_defaults():
    spec = parse_bayes_spec(None, measure="OR")
    assert spec.prior == (P.Normal(0.0, 10.0), P.HalfNormal(0.5))
    assert spec.defaults == ("mu", "tau")


def test_md_needs_a_tau_prior():
    err = _error({}, measure="MD", outcome_type="continuous")
    assert err.path == ("prior", "tau")


def test_presets_and_tau2():
    spec = parse_bayes_spec({"prior": {"tau": {"preset": "turner2015", "outcome": "mental_health"}}}, measure="OR")
    assert spec.tau_prior == P.LogNormal(-2.12, 1.53) and spec.warnings == ()
    spec = parse_bayes_spec({"prior": {"tau2": {"dist": "log_t", "mu": -3.44, "sigma": 2.59}}}, measure="SMD",
                            outcome_type="continuous")
    assert spec.tau_prior == P.LogStudentT(5.0, -3.44, 2.59)


def test_preset_on_the_wrong_measure_warns():
    spec = parse_bayes_spec({"prior": {"tau": {"preset": "rhodes2015", "outcome": "mental_health"}}}, measure="OR")
    assert len(spec.warnings) == 1 and "SMD" in spec.warnings[0]
    spec = parse_bayes_spec({"prior_sensitivity": [{"preset": "turner2015"}]}, measure="SMD",
                            outcome_type="continuous")
    assert "log odds ratio" in spec.warnings[0]


@pytest.mark.parametrize("mapping,path,fragment", [
    ({"prir": {}}, ("prir",), "did you mean 'prior'"),
    ({"prior": {"tua": {}}}, ("prior", "tua"), "did you mean 'tau'"),
    ({"prior": {"tau": {"dist": "half_normal", "sigma": -1}}}, ("prior", "tau", "sigma"), "must be > 0, got -1"),
    ({"prior": {"tau": {"dist": "half_normal"}}}, ("prior", "tau", "sigma"), "required"),
    ({"prior": {"tau": {"dist": "halfnormal", "sigma": 1}}}, ("prior", "tau", "dist"), "did you mean 'half_normal'"),
    ({"prior": {"tau": {"dist": "half_normal", "sigma": 1, "scale": 2}}}, ("prior", "tau", "scale"), "unknown key"),
    ({"prior": {"tau": {"dist": "log_normal", "mu": 0, "sigma": 1}}}, ("prior", "tau", "dist"), "under tau2"),
    ({"prior": {"tau": {"dist": "half_normal", "sigma": 1}, "tau2": {"dist": "log_normal", "mu": 0, "sigma": 1}}},
     ("prior", "tau2"), "not both"),
    ({"prior": {"tau": {"preset": "turner2015", "outcome": "mental"}}}, ("prior", "tau", "outcome"),
     "did you mean 'mental_health'"),
    ({"prior": {"tau": {"preset": "turner"}}}, ("prior", "tau", "preset"), "did you mean 'turner2015'"),
    ({"prior": {"mu": {"dist": "normal", "sigma": "wide"}}}, ("prior", "mu", "sigma"), "must be a number"),
    ({"prior": {"mu": {"dist": "uniform", "lower": -1}}}, ("prior", "mu", "upper"), "both bounds"),
    ({"prior": {"tau": {"dist": "uniform", "lower": 1, "upper": 0.5}}}, ("prior", "tau", "upper"), "must be > lower"),
    ({"engine": "mcmcm"}, ("engine",), "did you mean 'mcmc'"),
    ({"likelihood": "binomal"}, ("likelihood",), "did you mean 'binomial'"),
    ({"draws": 12.5}, ("draws",), "integer"),
    ({"target_accept": 1.2}, ("target_accept",), "between 0 and 1"),
    ({"thresholds": [1.5, -2]}, ("thresholds", 1), "natural (ratio) scale"),
    ({"prior_sensitivity": [{"dist": "half_normal", "sigma": 1}, {"dist": "half_cauchy", "sigma": 1}]},
     ("prior_sensitivity", 1, "sigma"), "unknown key"),
    ({"prior": {"baseline": {"dist": "normal", "sigma": 5}}}, ("prior", "baseline"), "binomial"),
])
def test_errors_name_the_key_path(mapping, path, fragment):
    err = _error(mapping, measure="OR")
    assert err.path == path
    assert fragment in err.message


def test_binomial_needs_or_and_binary():
    assert _error({"likelihood": "binomial"}, measure="RR").path == ("likelihood",)
    assert _error({"likelihood": "binomial"}, measure="OR", outcome_type="contrast").path == ("likelihood",)
    assert _error({"likelihood": "binomial", "engine": "exact"}, measure="OR").path == ("engine",)
    spec = parse_bayes_spec({"likelihood": "binomial"}, measure="OR")
    assert spec.resolved_engine == "mcmc" and spec.baseline_prior == P.Normal(0.0, 10.0)


def test_bounded_uniform_mu_goes_to_mcmc():
    spec = parse_bayes_spec({"prior": {"mu": {"dist": "uniform", "lower": -5, "upper": 5}}}, measure="OR")
    assert spec.resolved_engine == "mcmc"
    err = _error({"prior": {"mu": {"dist": "uniform", "lower": -5, "upper": 5}}, "engine": "exact"}, measure="OR")
    assert err.path == ("engine",)
    spec = parse_bayes_spec({"prior": {"mu": {"dist": "uniform"}}}, measure="OR")
    assert spec.resolved_engine == "exact" and spec.mu_prior.is_flat


def test_spec_is_frozen_and_echoes():
    spec = parse_bayes_spec({"thresholds": [1.5], "prior_sensitivity": [{"tau2": {"dist": "log_normal", "mu": -2,
                                                                                    "sigma": 1.5}}]}, measure="OR")
    with pytest.raises(AttributeError):
        spec.seed = 3
    echo = spec.to_dict()
    assert echo["thresholds"] == [1.5]
    assert echo["prior_sensitivity"] == [{"tau2": {"dist": "log_normal", "mu": -2.0, "sigma": 1.5}}]
    assert parse_bayes_spec(echo, measure="OR") == spec

"""The ``sensitivity:`` analyses' typed frozen records (issue 24): each writes exactly the dict
its analysis wrote before (same keys, order and values: the committed results.json files were
written by the dict-wrapping records), refuses a dict that drifted from its fields, and
generates its results.schema.json fragment (never written by hand)."""

from __future__ import annotations

import dataclasses
import json
import typing
from pathlib import Path

import pytest

from metak import registry
from metak.schema.generate import fragment, sensitivity_fragments
from metak.schema.record import ABSENT, as_dict, from_dict

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = [*sorted(ROOT.glob("results/*/results.json")), ROOT / "docs/examples/bcg/results/results.json"]
SCHEMA = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())


def _blocks():
    """(file, meta-analysis id, kind, block) of every sensitivity block of the committed results."""
    for path in COMMITTED:
        for ma in json.loads(path.read_text())["meta_analyses"]:
            for name, block in (ma.get("sensitivity") or {}).items():
                yield path.parent.name, ma["id"], name, block


BLOCKS = list(_blocks())


def test_the_committed_results_hold_the_sensitivity_kinds_this_file_checks():
    kinds = {name for _, _, name, _ in BLOCKS}
    assert {"leave_one_out", "influence", "small_study", "missing_outcome", "active_placebo", "cumulative",
            "blinding", "selection_model", "pet_peese"} <= kinds, kinds


@pytest.mark.parametrize("where, ma, name, block", BLOCKS, ids=[f"{w}-{m}-{n}" for w, m, n, _ in BLOCKS])
def test_each_record_writes_the_committed_block_exactly(where, ma, name, block):
    """The record built from what the old code wrote gives it back byte for byte (key order
    included), and every committed block validates against the record's generated fragment."""
    jsonschema = pytest.importorskip("jsonschema")
    record = from_dict(registry.SENSITIVITY[name].record_type(), block)
    assert json.dumps(record.to_dict()) == json.dumps(block)
    jsonschema.validate(block, fragment(type(record)))


def test_every_sensitivity_kind_has_a_record_whose_fragment_is_the_committed_schema():
    sens = SCHEMA["properties"]["meta_analyses"]["items"]["properties"]["sensitivity"]["properties"]
    assert set(sens) == set(registry.SENSITIVITY)
    for name, kind in registry.SENSITIVITY.items():
        assert kind.record, name
        tp = kind.record_type()
        assert dataclasses.is_dataclass(tp) and tp.__dataclass_params__.frozen, name
        assert not hasattr(kind, "schema"), "a hand-written schema= is back in the registry"
    assert sens == sensitivity_fragments()  # run `python -m metak.schema.generate` when this fails


def test_a_dict_that_drifted_from_its_record_is_refused():
    """A key added to the dict without its field (or a field the dict lacks) is an error, not a
    silently wrong schema."""
    from metak.sensitivity.crossover_rho import CrossoverRho

    body = {"values": [], "studies": ["a"], "reason": "no crossover comparison without paired or first-period data"}
    assert from_dict(CrossoverRho, body).to_dict() == body
    with pytest.raises(TypeError, match="no field"):
        from_dict(CrossoverRho, {**body, "extra": 1})
    with pytest.raises(TypeError, match="needs 'reason'"):
        from_dict(CrossoverRho, {"values": [], "studies": []})
    with pytest.raises(TypeError, match="null"):
        from_dict(CrossoverRho, {**body, "studies": None})


def test_the_field_markers_generate_the_schema_and_the_dict():
    """optional: left out and not required; enum: the schema's enum (with null when the type
    allows it); flat: merged into the parent; json_array: the record is an array."""
    from metak.sensitivity.blinding_record import Classification, CgrcTrial
    from metak.sensitivity.crossover_rho import RhoFit
    from metak.sensitivity.influence import Influence
    from metak.sensitivity.missing_outcome_record import TippingImor

    frag = fragment(Classification)
    assert frag["properties"]["status"] == {"type": "string", "enum": ["adequate", "compromised", "unknown"]}
    assert fragment(TippingImor)["properties"]["change"]["enum"][-1] is None
    trial = fragment(CgrcTrial)
    assert trial["required"] == ["trial", "label", "assessor", "estimate"]
    short = CgrcTrial(trial="t", label="T", assessor="participant", estimate=None, reason="empty guess stratum AA")
    assert as_dict(short) == {"trial": "t", "label": "T", "assessor": "participant", "estimate": None,
                              "reason": "empty guess stratum AA"}
    assert short.cgr is ABSENT
    rho = fragment(RhoFit)
    assert rho["required"] == ["rho", "k", "estimate", "se", "ci_lower", "ci_upper", "tau2", "i2", "p_value"]
    assert "reason" in rho["properties"] and "fit" not in rho["properties"]
    assert fragment(Influence)["type"] == "array"


def test_rob_study_fields_are_the_rob2_domains():
    from metak.records.model import ROB_DOMAINS
    from metak.sensitivity.risk_of_bias import RobStudy

    names = [f.name for f in dataclasses.fields(RobStudy)]
    assert tuple(names[2:-2]) == ROB_DOMAINS


def test_the_generated_schema_is_at_least_as_strict_as_the_hand_written_one():
    """The hand-written fragments this replaced (registry.py before issue 24) required these keys
    and enums; the generated ones still do."""
    sens = sensitivity_fragments()
    required = {
        "small_study": ["k", "run", "reason", "egger", "egger_rma", "rank_test", "trim_fill", "meaning"],
        "missing_outcome": ["scenarios"],
        "crossover_rho": ["values", "studies", "reason"],
        "risk_of_bias": ["domains", "studies", "summary", "restricted", "subgroups", "reasons"],
        "active_placebo": ["subgroups", "q_between", "df_between", "p_between", "i2_between"],
        "cumulative": ["order", "steps"],
        "blinding": ["indices", "rule", "classification", "restricted", "bias_adjusted", "tipping_point"],
        "selection_model": ["type", "alternative", "method", "steps", "k", "estimate", "se", "ci_lower", "ci_upper",
                            "tau2", "delta", "delta_se", "lrt", "warnings"],
        "pet_peese": ["k", "pet", "peese", "rule", "chosen", "estimate", "se", "ci_lower", "ci_upper", "reason"],
        "bayesian_model_averaging": ["k", "models", "inclusion", "estimate", "sd", "priors"]}
    for name, keys in required.items():
        assert set(keys) <= set(sens[name]["required"]), name
    items = {"leave_one_out": ["omitted", "estimate", "se", "ci_lower", "ci_upper", "tau2", "i2", "q"],
             "influence": ["trial", "rstudent", "dffits", "cook_d", "cov_r", "hat", "weight", "tau2_del", "qe_del",
                           "influential"]}
    for name, keys in items.items():
        assert set(keys) <= set(sens[name]["items"]["required"]), name
    b = sens["blinding"]["properties"]
    assert b["classification"]["items"]["properties"]["status"]["enum"] == ["adequate", "compromised", "unknown"]
    assert {"source", "log_ror", "log_ror_se", "k_adjusted", "estimate", "se", "ci_lower", "ci_upper",
            "tau2"} <= set(b["bias_adjusted"]["required"])
    assert {"estimate", "se", "ci_lower", "ci_upper", "bias", "kappa", "bayes", "beta_mode", "k_compromised",
            "notes"} <= set(b["shared_bias"]["required"])
    assert {"trials", "pooled", "cgr"} <= set(b["cgrc"]["required"])
    assert {"bias", "ror", "k_shifted", "reason", "curve"} <= set(b["tipping_point"]["required"])
    scen = sens["missing_outcome"]["properties"]["scenarios"]["items"]["required"]
    assert {"name", "imor_experimental", "imor_control", "k", "estimate", "se", "ci_lower", "ci_upper",
            "tau2"} <= set(scen)


def test_every_record_field_has_a_schema():
    """No record field type the generator cannot write (a new field of an unknown type fails here,
    not in `python -m metak.schema.generate`)."""
    for kind in registry.SENSITIVITY.values():
        tp = kind.record_type()
        for f in dataclasses.fields(tp):
            fragment(typing.get_type_hints(tp)[f.name], f.metadata)

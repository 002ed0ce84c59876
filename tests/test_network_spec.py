"""``network:`` in an analysis spec (contract §6.1): the trial records' arms become nodes, the
fit equals metafor's on the same data (dat.hasselblad1998 written as trial records), the
results.json block validates against the generated schema, the methods sentence says what ran,
and bad networks are spec errors with their line."""

from __future__ import annotations

import json
import textwrap
from pathlib import Path

import pytest

import metak
from metak.errors import InvalidSpec

ROOT = Path(__file__).resolve().parent.parent
REF = json.loads((ROOT / "tests" / "reference" / "metafor_network_reference.json").read_text())
HASS = REF["networks"]["hasselblad1998"]


def _trial(tid, arms):
    lines = [f"metak: 1", f"id: t{tid}", f'title: "dat.hasselblad1998 study {tid} (metadat)"',
             f"citation: {{authors: [Hasselblad V], year: 1998}}", "condition: smoking", "design: parallel", "arms:"]
    control = "no_contact" if any(a["trt"] == "no_contact" for a in arms) else sorted(a["trt"] for a in arms)[0]
    for a in arms:
        role = "control" if a["trt"] == control else "experimental"
        ctype = ", control_type: " + ("usual_care" if a["trt"] == "no_contact" else "active_comparator") \
            if role == "control" else ""
        lines.append(f"  - {{id: {a['trt']}, label: {a['trt']}, role: {role}, intervention: {a['trt']}{ctype}}}")
    lines += ["outcomes:", "  - id: abstinence", "    label: Abstinence", "    type: binary",
              "    direction: higher_is_better", '    source: {where: "metadat dat.hasselblad1998"}', "    data:"]
    for a in arms:
        lines.append(f"      {a['trt']}: {{events: {a['xi']}, total: {a['ni']}}}")
    return "\n".join(lines) + "\n"


@pytest.fixture(scope="module")
def review(tmp_path_factory):
    root = tmp_path_factory.mktemp("net")
    (root / "trials").mkdir()
    by = {}
    for a in HASS["arms"]:
        by.setdefault(a["study"], []).append(a)
    for tid, arms in by.items():
        (root / "trials" / f"t{tid}.yaml").write_text(_trial(tid, arms))
    (root / "analyses").mkdir()
    return root


def spec(root, extra, name="x.yaml", method="REML"):
    p = root / "analyses" / name
    p.write_text(textwrap.dedent(f"""\
        metak: 1
        title: "Network test"
        trials: ../trials
        meta_analyses:
          - id: abstinence
            outcome: abstinence
            measure: OR
            method: {method}
        """) + textwrap.indent(textwrap.dedent(extra), "    "))
    return p


def test_spec_network_equals_metafor(review):
    doc = metak.analyze(spec(review, "network: {reference: no_contact, bayes: false}\n"))
    ma = doc["meta_analyses"][0]
    net = ma["network"]
    assert ma["k"] > 0 and "estimate" in ma            # the pairwise keys keep their meaning
    assert net["reference"] == "no_contact" and net["k_trials"] == 24 and net["k_contrasts"] == 26
    assert abs(net["tau2"] - HASS["REML"]["tau2"]) < 1e-5
    others = [t for t in HASS["treatments"] if t != "no_contact"]
    eff = {(r["treatment"], r["versus"]): r for r in net["relative_effects"]}
    for t, b, se in zip(others, HASS["REML"]["beta"], HASS["REML"]["se"]):
        assert abs(eff[(t, "no_contact")]["estimate"] - b) < 1e-6
        assert abs(eff[(t, "no_contact")]["se"] - se) < 1e-6
    assert abs(net["q_total"]["q"] - HASS["FE"]["q_total"]) < 1e-6
    assert net["small_values"] == "undesirable"         # from direction: higher_is_better
    assert net["bayes"] is None


def test_spec_schema_methods_and_bayes(review):
    jsonschema = pytest.importorskip("jsonschema")
    from metak.methods import methods
    from metak.schema.generate import fragments

    doc = metak.analyze(spec(review, "network: {reference: No_Contact}\n"))
    net = doc["meta_analyses"][0]["network"]
    assert net["reference"] == "no_contact"             # case-insensitive
    assert net["bayes"] is not None and set(net["bayes"]["sucra"]) == set(net["treatments"])
    schema = json.loads((ROOT / "metak" / "schema" / "results.schema.json").read_text())
    props = schema["properties"]["meta_analyses"]["items"]["properties"]
    assert props["network"] == fragments()["network"]    # run `python -m metak.schema.generate` when this fails
    jsonschema.validate(json.loads(json.dumps(doc)), schema)
    text = " ".join(methods(doc)[0])
    assert "contrast-based network meta-analysis of 24 trials and 4 treatments" in text
    assert "restricted maximum likelihood" in text and "design-by-treatment" in text
    assert "exact Bayesian network" in text and "P-scores" in text


def test_spec_nodes_mapping_lumps_and_reports_exclusions(review):
    doc = metak.analyze(spec(review, """\
        network:
          reference: control
          bayes: false
          nodes: {control: [no_contact], counselling: [ind_counseling, grp_counseling]}
        """))
    net = doc["meta_analyses"][0]["network"]
    assert net["treatments"] == ["control", "counselling", "self_help"]
    reasons = {e["trial"]: e["reason"] for e in net["excluded"]}
    assert reasons == {"t14": "all its arms map to one node ('counselling')",
                       "t15": "all its arms map to one node ('counselling')"}
    assert sorted(n.split(":")[0] for n in net["notes"]) == ["trial 't2'", "trial 't9'"]   # 3-arm trials: 2 arms lumped
    assert net["k_trials"] == 22
    assert net["nodes_rule"].startswith("mapping:")


def test_spec_intervention_control_type_rule(review):
    doc = metak.analyze(spec(review, "network: {nodes: intervention+control_type, reference: no_contact (usual_care), "
                                     "bayes: false}\n"))
    net = doc["meta_analyses"][0]["network"]
    assert "no_contact (usual_care)" in net["treatments"]


def test_spec_reference_not_a_node_is_a_spec_error_with_line(review):
    with pytest.raises(InvalidSpec, match=r"x.yaml:\d+: .*network.*reference 'placebo' is not a node"):
        metak.analyze(spec(review, "network: {reference: placebo}\n"))


def test_spec_bad_parameters_are_reported_at_their_line(review):
    with pytest.raises(InvalidSpec, match="nodes.*'arm' is not one of"):
        metak.analyze(spec(review, "network: {nodes: arm}\n"))
    with pytest.raises(InvalidSpec, match="method PM is not available"):
        metak.analyze(spec(review, "network: {reference: no_contact}\n", method="PM"))

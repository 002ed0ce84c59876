"""Contrast-only outcomes in the spec route (issue 26): a trial whose outcome is a reported
contrast (OR with SE or CI) enters the network as one contrast between its arms' nodes. A tmp
corpus of dat.hasselblad1998 (metadat) in which some two-arm trials report only their OR gives
the same network as metak.network on the equivalent contrast-level DataFrame."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from scipy import special

import metak
from test_network_spec import HASS, _trial, spec

TOL = 1e-9          # the same arithmetic on two routes
TAU2_TOL = 1e-7
Z = float(special.ndtri(0.975))


def _arm_var(a, cc):
    x, n = a["xi"] + cc, a["ni"] + 2 * cc
    return 1 / x + 1 / (n - x), math.log(x / (n - x))


def _contrast_yaml(tid, arms, yi, vi, how):
    """The trial record with its outcome as a reported OR of arms[1] vs arms[0]."""
    text = _trial(tid, arms)
    head = text[:text.index("    type: binary")]
    est, se = math.exp(yi), math.sqrt(vi)
    exp_arm, ctl_arm = arms[1]["trt"], arms[0]["trt"]
    spread = f"se: {se!r}" if how == "se" else f"ci: [{math.exp(yi - Z * se)!r}, {math.exp(yi + Z * se)!r}]"
    return head + ("    type: contrast\n    direction: higher_is_better\n"
                   '    source: {where: "metadat dat.hasselblad1998 (as a reported OR)"}\n'
                   f"    data: {{measure: OR, experimental: {exp_arm}, control: {ctl_arm}, estimate: {est!r}, {spread}}}\n")


@pytest.fixture(scope="module")
def mixed(tmp_path_factory):
    root = tmp_path_factory.mktemp("netmix")
    (root / "trials").mkdir()
    (root / "analyses").mkdir()
    by: dict = {}
    for a in HASS["arms"]:
        by.setdefault(a["study"], []).append(a)
    two_arm = [s for s, arms in by.items() if len(arms) == 2]
    as_contrast = {two_arm[0]: "se", two_arm[3]: "ci", two_arm[7]: "se"}
    rows = []
    for tid, arms in by.items():
        cc = 0.5 if any(a["xi"] == 0 or a["xi"] == a["ni"] for a in arms) else 0.0
        base = next((a for a in arms if a["trt"] == "no_contact"), min(arms, key=lambda a: a["trt"]))
        vb, tb = _arm_var(base, cc)
        for a in arms:
            if a is not base:
                va, ta = _arm_var(a, cc)
                rows.append({"study": f"t{tid}", "trt": a["trt"], "versus": base["trt"], "yi": ta - tb, "vi": va + vb,
                             "cov": vb})
        if tid in as_contrast:
            ordered = [base] + [a for a in arms if a is not base]
            yi, vi = rows[-1]["yi"], rows[-1]["vi"]
            text = _contrast_yaml(tid, ordered, yi, vi, as_contrast[tid])
        else:
            text = _trial(tid, arms)
        (root / "trials" / f"t{tid}.yaml").write_text(text)
    return root, pd.DataFrame(rows), sorted(f"t{t}" for t in as_contrast)


@pytest.mark.parametrize("method", ["REML", "DL", "FE"])
def test_contrast_only_trials_enter_as_single_contrasts(mixed, method):
    root, df, contrast_trials = mixed
    doc = metak.analyze(spec(root, "network: {reference: no_contact, bayes: false}\n", name=f"m{method}.yaml",
                             method=method))
    net = doc["meta_analyses"][0]["network"]
    assert net["excluded"] == [] and net["k_trials"] == 24 and net["k_contrasts"] == 26
    assert set(contrast_trials) <= set(net["trials"])
    assert sorted(n.split(":")[0] for n in net["notes"] if "reported contrast" in n) == \
        [f"trial {t!r}" for t in contrast_trials]
    ref = metak.network(df, study="study", treatment="trt", measure="OR", yi="yi", vi="vi", versus="versus",
                        cov="cov", reference="no_contact", method=method, bayes=False).to_dict()
    assert abs(net["tau2"] - ref["tau2"]) < TAU2_TOL
    got = {(r["treatment"], r["versus"]): r for r in net["relative_effects"]}
    for r in ref["relative_effects"]:
        g = got[(r["treatment"], r["versus"])]
        assert abs(g["estimate"] - r["estimate"]) < TOL and abs(g["se"] - r["se"]) < TOL
    assert abs(net["q_total"]["q"] - ref["q_total"]["q"]) < 1e-7
    if method == "REML":      # and so equals metafor's fit of the arm-level network (pinned)
        assert abs(net["tau2"] - HASS["REML"]["tau2"]) < 1e-5


def test_contrast_of_another_measure_or_one_node_is_excluded_with_reason(mixed):
    root, df, contrast_trials = mixed
    p = spec(root, "network: {reference: no_contact, bayes: false}\n", name="rr.yaml").read_text()
    (root / "analyses" / "rr.yaml").write_text(p.replace("measure: OR", "measure: RR"))
    doc = metak.analyze(root / "analyses" / "rr.yaml")
    reasons = {e["trial"]: e["reason"] for e in doc["meta_analyses"][0]["network"]["excluded"]}
    for t in contrast_trials:
        assert reasons[t] == "the reported contrast is a OR; this network pools RR"
    row = df[df.study == contrast_trials[0]].iloc[0]
    lumped = sorted({row.trt, row.versus})
    doc = metak.analyze(spec(root, f"network:\n  bayes: false\n  nodes: {{pair: [{lumped[0]}, {lumped[1]}]}}\n",
                             name="lump.yaml"))
    reasons = {e["trial"]: e["reason"] for e in doc["meta_analyses"][0]["network"]["excluded"]}
    assert reasons[contrast_trials[0]] == "the reported contrast's arms all map to one node ('pair')"

"""Continuous arm data reported other than as mean and SD: the conversions against the
published formulas and worked values, and against simulated data; bad input."""

from __future__ import annotations

import math

import numpy as np
import pytest
from scipy import stats

from metak.records.convert import change_sd, from_quantiles, sd_from_ci, sd_from_se


def test_wan_2014_sd_and_luo_2018_mean_formulas():
    # S2 (median, IQR), n = 100: SD = IQR / (2 Φ^-1((0.75 n - 0.125)/(n + 0.25))), mean weight 0.7 + 0.39/n
    n, q1, m, q3 = 100, 10.0, 14.0, 20.0
    mean, sd, _ = from_quantiles(n, m, q1=q1, q3=q3)
    assert sd == pytest.approx(10 / (2 * stats.norm.ppf((75 - 0.125) / 100.25)), rel=1e-12)
    w = 0.7 + 0.39 / n
    assert mean == pytest.approx(w * 15 + (1 - w) * 14, rel=1e-12)
    # for large n the IQR/1.35 rule of thumb (Handbook 6.5.2.5)
    assert from_quantiles(10**6, 0, q1=-1, q3=1)[1] == pytest.approx(2 / 1.349, rel=1e-3)
    # S1 (median, range): SD = range / (2 Φ^-1((n - 0.375)/(n + 0.25))); mean weight 4/(4 + n^0.75)
    mean, sd, _ = from_quantiles(25, 5.0, lo=1.0, hi=15.0)
    assert sd == pytest.approx(14 / (2 * stats.norm.ppf(24.625 / 25.25)), rel=1e-12)
    w = 4 / (4 + 25**0.75)
    assert mean == pytest.approx(w * 8 + (1 - w) * 5, rel=1e-12)


def test_quantile_conversions_recover_normal_samples():
    """On normal data the three scenarios recover the mean and SD (averaged over samples)."""
    rng = np.random.default_rng(2014)
    n, mu, sigma = 60, 10.0, 3.0
    est = {k: [] for k in ("S1", "S2", "S3")}
    for _ in range(4000):
        x = rng.normal(mu, sigma, n)
        q1, m, q3 = np.percentile(x, [25, 50, 75])
        est["S1"].append(from_quantiles(n, m, lo=x.min(), hi=x.max())[:2])
        est["S2"].append(from_quantiles(n, m, q1=q1, q3=q3)[:2])
        est["S3"].append(from_quantiles(n, m, q1=q1, q3=q3, lo=x.min(), hi=x.max())[:2])
    for k, v in est.items():
        v = np.array(v)
        assert v[:, 0].mean() == pytest.approx(mu, abs=0.02), k
        assert v[:, 1].mean() == pytest.approx(sigma, rel=0.03), k


def test_se_ci_and_change_conversions():
    assert sd_from_se(1.5, 36) == pytest.approx(9.0)
    # a 95% t-interval of a mean of n = 20 with SD 4 has half-width t(0.975, 19) * 4 / sqrt(20)
    half = stats.t.ppf(0.975, 19) * 4 / math.sqrt(20)
    assert sd_from_ci(10 - half, 10 + half, 20) == pytest.approx(4.0, rel=1e-12)
    # Handbook 6.5.2.8: SD_change = sqrt(SD_b² + SD_f² - 2 r SD_b SD_f)
    assert change_sd(4.0, 5.0, 0.6) == pytest.approx(math.sqrt(16 + 25 - 2 * 0.6 * 20))


def write(root, data_k, data_p="{mean: 20, sd: 5, n: 30}"):
    (root / "trials").mkdir(parents=True, exist_ok=True)
    (root / "trials" / "x.yaml").write_text(
        "metak: 1\nid: x\ntitle: t\ncondition: c\ndesign: parallel\narms:\n"
        "  - {id: k, label: K, role: experimental, intervention: drug}\n"
        "  - {id: p, label: P, role: control, intervention: placebo}\n"
        "outcomes:\n  - id: y\n    label: y\n    type: continuous\n    direction: lower_is_better\n    data:\n"
        f"      k: {data_k}\n      p: {data_p}\n    source: {{where: test}}\n")
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - {id: m, outcome: y, measure: MD, method: FE}\n")
    return spec


@pytest.mark.parametrize("data,mean,sd,phrase", [
    ("{median: 14, q1: 10, q3: 20, n: 100}", None, None, "median and IQR (Luo 2018 mean, Wan 2014 SD)"),
    ("{mean: 16, se: 1.5, n: 36}", 16, 9.0, "SD from the SE of the mean"),
    ("{baseline: {mean: 30, sd: 4}, final: {mean: 18, sd: 5}, correlation: 0.6, n: 30}", -12,
     math.sqrt(16 + 25 - 24), "change from baseline"),
])
def test_converted_arms_are_analysed_and_stated(tmp_path, data, mean, sd, phrase):
    from metak.pipeline import analyze

    ma = analyze(write(tmp_path, data))["meta_analyses"][0]
    arm = ma["studies"][0]["data"]["k"]
    if mean is not None:
        assert arm["mean"] == pytest.approx(mean) and arm["sd"] == pytest.approx(sd)
    assert phrase in arm["converted_from"]
    assert any(w.startswith("x: arm k: mean and SD converted from") and phrase in w for w in ma["warnings"])
    assert ma["studies"][0]["yi"] == pytest.approx(arm["mean"] - 20)


@pytest.mark.parametrize("data,message", [
    ("{median: 14, q1: 10, n: 100}", "needs q1 and q3"),
    ("{median: 14, q1: 16, q3: 20, n: 100}", "must increase"),
    ("{mean: 16, se: -1, n: 36}", "must be greater than 0"),
    ("{mean: 16, ci: [17, 20], n: 36}", "does not contain the mean"),
    ("{baseline: {mean: 30, sd: 4}, final: {mean: 18, sd: 5}, correlation: 1.5, n: 30}", "between -1 and 1"),
    ("{baseline: {mean: 30, sd: 4}, final: {mean: 18, sd: 5}, n: 30}", "missing required key 'correlation'"),
])
def test_bad_converted_data_are_record_errors(tmp_path, data, message):
    from metak.errors import InvalidRecord
    from metak.pipeline import analyze

    with pytest.raises(InvalidRecord) as exc:
        analyze(write(tmp_path, data))
    assert any(message in p.message and p.line == 15 for p in exc.value.problems), \
        [(p.message, p.line) for p in exc.value.problems]


def write_mixed(root, measure, mix=True):
    (root / "trials").mkdir(parents=True, exist_ok=True)
    head = ("metak: 1\nid: {id}\ntitle: t\ncondition: c\ndesign: parallel\narms:\n"
            "  - {{id: k, label: K, role: experimental, intervention: drug}}\n"
            "  - {{id: p, label: P, role: control, intervention: placebo}}\n"
            "outcomes:\n  - id: y\n    label: y\n    direction: higher_is_better\n")
    (root / "trials" / "c.yaml").write_text(head.format(id="c") + "    type: continuous\n    data:\n"
                                            "      k: {mean: 12, sd: 4, n: 30}\n      p: {mean: 10, sd: 4, n: 30}\n"
                                            "    source: {where: test}\n")
    (root / "trials" / "b.yaml").write_text(head.format(id="b") + "    type: binary\n    data:\n"
                                            "      k: {events: 15, total: 30}\n      p: {events: 8, total: 30}\n"
                                            "    source: {where: test}\n")
    (root / "trials" / "o.yaml").write_text(head.format(id="o") + "    type: contrast\n    data:\n"
                                            "      {measure: SMD, experimental: k, control: p, estimate: 0.4, ci: [0.0, 0.8]}\n"
                                            "    source: {where: test}\n")
    spec = root / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n"
                    f"  - {{id: m, outcome: y, measure: {measure}, method: FE{', mix_measures: chinn2000' if mix else ''}}}\n")
    return spec


def test_chinn_conversion_mixes_log_odds_ratios_and_smds(tmp_path):
    from metak.effects.escalc import escalc_binary, escalc_continuous
    from metak.pipeline import analyze

    ma = analyze(write_mixed(tmp_path, "SMD"))["meta_analyses"][0]
    rows = {s["trial"]: s for s in ma["studies"]}
    lor, vlor = (float(a[0]) for a in escalc_binary("OR", *[np.array([x], float) for x in (15, 15, 8, 22)]))
    k = math.sqrt(3) / math.pi
    assert rows["b"]["yi"] == pytest.approx(lor * k, rel=1e-12) and rows["b"]["vi"] == pytest.approx(vlor * k * k)
    assert "Chinn (2000)" in rows["b"]["converted"] and "converted" not in rows["c"]
    g, vg = (float(a[0]) for a in escalc_continuous("SMD", [12], [4], [30], [10], [4], [30]))
    assert rows["c"]["yi"] == pytest.approx(g)
    assert ma["k"] == 3 and any("converted to SMD by Chinn (2000)" in w and "flagged" in w for w in ma["warnings"])
    # the other way: an OR analysis takes the SMD trials as log odds ratios
    ma = analyze(write_mixed(tmp_path / "2", "OR"))["meta_analyses"][0]
    rows = {s["trial"]: s for s in ma["studies"]}
    assert rows["o"]["yi"] == pytest.approx(0.4 / k) and rows["c"]["yi"] == pytest.approx(g / k)
    # without mix_measures the other measure's trials are excluded, with the reason
    ma = analyze(write_mixed(tmp_path / "3", "SMD", mix=False))["meta_analyses"][0]
    assert ma["k"] == 2 and any(e["trial"] == "b" for e in ma["excluded"])


def test_mix_measures_needs_smd_or_or(tmp_path):
    from metak.errors import InvalidSpec
    from metak.pipeline import analyze

    spec = write_mixed(tmp_path, "RR")
    with pytest.raises(InvalidSpec) as exc:
        analyze(spec)
    assert any("must be SMD or OR" in p.message for p in exc.value.problems)

"""Risk of bias (RoB 2): the record block, the risk_of_bias analysis and its figures.

The trial records are the BCG example's with RoB 2 judgements written into some of them (a
SYNTHETIC test pattern, not judgements of those trials). The restricted analysis and the
subgroups are checked against independent fits of the same rows with ``metak.fit`` (itself
pinned to metafor), and the per-domain summary against counts made here.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pytest

from metak.errors import InvalidRecord
from metak.estimators import fit
from metak.pipeline import analyze
from metak.records import load_trials

BCG = Path(__file__).resolve().parents[1] / "docs" / "examples" / "bcg" / "trials"
LV = ["low", "some_concerns", "high"]


def judgements(i):
    """The synthetic pattern of file i (None: no block)."""
    if i % 5 == 4:
        return None
    if i in (2, 7):  # two trials at low risk in every domain (overall derived: low)
        return dict.fromkeys(("randomization", "deviations", "missing_data", "measurement", "reporting"), "low")
    d = {"randomization": LV[i % 3], "deviations": LV[(i // 2) % 3], "missing_data": "low",
         "measurement": LV[(i + 1) % 3], "reporting": "low"}
    if i % 4 == 0:  # given, not derived: at least as severe as the worst domain (RoB 2)
        d["overall"] = "high" if "high" in d.values() else "some_concerns"
    return d


def write(tmp_path, figures="[forest, rob_summary]"):
    dst = tmp_path / "trials"
    shutil.copytree(BCG, dst)
    expected = {}
    for i, f in enumerate(sorted(dst.glob("*.yaml"))):
        d = judgements(i)
        tid = f.stem
        expected[tid] = d
        if d is None:
            continue
        block = "    risk_of_bias: {" + ", ".join(f"{k}: {v}" for k, v in d.items()) + "}\n"
        f.write_text(f.read_text().replace("    source:\n", block + "    source:\n", 1))
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: tb\n"
                    f"    measure: RR\n    sensitivity: [risk_of_bias]\n    figures: {figures}\n")
    return spec, expected


def overall_of(d):
    if d is None:
        return None
    if "overall" in d:
        return d["overall"]
    vals = [d[k] for k in ("randomization", "deviations", "missing_data", "measurement", "reporting")]
    return "high" if "high" in vals else "low" if all(v == "low" for v in vals) else "some_concerns"


def test_risk_of_bias_analysis(tmp_path):
    spec, expected = write(tmp_path)
    ma = analyze(spec)["meta_analyses"][0]
    rob = ma["sensitivity"]["risk_of_bias"]
    by_trial = {s["trial"]: s for s in rob["studies"]}
    for tid, d in expected.items():
        assert by_trial[tid]["overall"] == overall_of(d)
        assert by_trial[tid]["overall_derived"] == (d is not None and "overall" not in d)
        # the study entry carries the judgements the forest plot draws
        st = next(s for s in ma["studies"] if s["trial"] == tid)
        assert (st.get("risk_of_bias") or {}).get("overall") == overall_of(d)
    y = np.array([s["yi"] for s in ma["studies"]])
    v = np.array([s["vi"] for s in ma["studies"]])
    lv = np.array([by_trial[s["trial"]]["overall"] or "not_assessed" for s in ma["studies"]], dtype=object)
    low = lv == "low"
    assert low.sum() == 2
    if low.sum():
        r = fit(y[low], v[low], method="REML")
        assert rob["restricted"]["estimate"] == pytest.approx(r.estimate, abs=1e-10)
    else:
        assert rob["restricted"] is None and "low overall risk" in rob["reasons"]["restricted"]
    groups = {g["value"]: g for g in rob["subgroups"]["groups"]}
    assert set(groups) == set(lv)
    for g, e in groups.items():
        sel = lv == g
        r = fit(y[sel], v[sel], method="REML")
        assert e["k"] == sel.sum() and e["estimate"] == pytest.approx(r.estimate, abs=1e-10)
    counts = rob["summary"]["overall"]["counts"]
    assert counts == {k: int((lv == k).sum()) for k in ("low", "some_concerns", "high", "not_assessed")}
    w = rob["summary"]["measurement"]["weight"]
    meas = [(expected[s["trial"]] or {}).get("measurement", "not_assessed") for s in ma["studies"]]
    for k in w:
        assert w[k] == pytest.approx(sum(s["weight"] for s, m in zip(ma["studies"], meas) if m == k))
    assert any("derived from the domains" in x for x in ma["warnings"])


def test_forest_traffic_lights_and_summary_bars(tmp_path):
    from metak.plots.forest import forest
    from metak.plots.rob import COLOURS, rob_summary

    spec, expected = write(tmp_path)
    ma = analyze(spec)["meta_analyses"][0]
    art = forest(ma, size="double_column")
    keys = [c.key for c in art.columns if c.key.startswith("rob_")]
    assert keys == ["rob_randomization", "rob_deviations", "rob_missing_data", "rob_measurement", "rob_reporting",
                    "rob_overall"]
    circles = [a for a in art.ax.lines if a.get_marker() == "o"]
    assert len(circles) == 6 * len(ma["studies"])
    # row by row, column by column, the colour of the judgement
    want = []
    for s in ma["studies"]:
        d = s.get("risk_of_bias") or {}
        want += [COLOURS[d.get(k.removeprefix("rob_")) or "not_assessed"] for k in keys]
    assert [c.get_markerfacecolor() for c in circles] == want
    assert forest(ma, size="double_column", rob=False).columns[-1].key == "ci"
    bars = rob_summary(ma).bars
    total = sum(b.patches[0].get_width() for (n, _), b in bars.items() if n == "overall")
    assert total == pytest.approx(100.0)


BAD = [
    ("{randomization: low, overall: moderate}", "risk_of_bias.overall", "is not one of"),
    ("{randomisation: low, overall: low}", "risk_of_bias.randomisation", "did you mean 'randomization'"),
    ("{randomization: low, deviations: high}", "risk_of_bias", "give 'overall', or all five domains"),
    ("{randomization: high, overall: low}", "risk_of_bias.overall", "less severe than randomization 'high'"),
]


@pytest.mark.parametrize("block,key,message", BAD)
def test_bad_risk_of_bias_blocks_are_record_errors_with_their_line(tmp_path, block, key, message):
    src = (BCG / "aronson1948.yaml").read_text()
    f = tmp_path / "aronson1948.yaml"
    f.write_text(src.replace("    source:\n", f"    risk_of_bias: {block}\n    source:\n", 1))
    line = f.read_text().splitlines().index(f"    risk_of_bias: {block}") + 1
    with pytest.raises(InvalidRecord) as exc:
        load_trials([f])
    assert any(p.path.endswith(key) and message in p.message and p.line == line for p in exc.value.problems), \
        [(p.path, p.line, p.message) for p in exc.value.problems]


def test_no_risk_of_bias_data_warns(tmp_path):
    shutil.copytree(BCG, tmp_path / "trials")
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\ntitle: t\ntrials: trials\nmeta_analyses:\n  - id: m\n    outcome: tb\n"
                    "    measure: RR\n    sensitivity: [risk_of_bias]\n")
    ma = analyze(spec)["meta_analyses"][0]
    assert any("no included outcome has a risk_of_bias block" in w for w in ma["warnings"])
    assert ma["sensitivity"]["risk_of_bias"]["restricted"] is None
    assert "risk_of_bias" not in ma["studies"][0]


def test_terminal_summary_prints_the_risk_of_bias_results(tmp_path):
    from metak.report import terminal_table

    spec, _ = write(tmp_path, figures="[]")
    doc = analyze(spec)
    text = terminal_table(doc)
    rob = doc["meta_analyses"][0]["sensitivity"]["risk_of_bias"]
    c = rob["summary"]["overall"]["counts"]
    assert f"risk of bias (overall): {c['low']} low, {c['some_concerns']} some concerns, {c['high']} high" in text
    assert f"low risk only: k = {rob['restricted']['k']}," in text and "by overall risk: Q = " in text

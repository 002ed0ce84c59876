"""The non-figure readers of results.json (summary of findings, terminal report, summary.csv,
methods text, GRADE certainty, AnalysisResults.studies_frame) read the typed records
(metak.typed.records: ``.pooled``, ``.get(name)``, ``.studies``), not results.json keys (issue 24).

CONVERTED lists the functions that read the results only through records; a scan of their source
fails on a key read by hand (the figures' scan, tests/test_plots_typed.py, with the receivers
listed in ALLOWED that hold no results.json value). PARTIAL lists functions that read their
analyses as records but still read something else by key (named in the comment). The other tests
change one record value in a copy of committed results and assert the output moved with it.
"""

from __future__ import annotations

import copy
import importlib
import inspect
import json
import re
from pathlib import Path

import pytest

from metak.typed import ResultsMismatch, records

ROOT = Path(__file__).parent.parent
sof, report, methods, analyzed, certainty, cert_report, rules, size = (
    importlib.import_module(f"metak.{m}") for m in ("sof", "report", "methods", "analyzed", "certainty",
                                                     "certainty.report", "certainty.rules", "certainty.size"))

#: module -> functions that read the results only through records (and metadata accessors)
CONVERTED = {
    sof: ("pooled_control_risk", "absolute_effects", "sof_rows", "sensitivity_rows"),
    report: ("summary_csv", "draw_figures", "regression_lines", "subgroup_lines", "bias_lines", "diagnostic_lines",
             "_notes", "terminal_table", "excluded_lines"),
    methods: ("_arms", "zero_cell_trials", "_tables", "cc_sentence", "_arms_pooled", "_model", "_multi_arm",
              "_designs", "_conversions", "title"),
    analyzed: ("AnalysisResults._ma", "AnalysisResults.studies_frame"),
    certainty: ("methods_sentence",),
    cert_report: ("sof_rows",),
    rules: ("_nat", "_weight", "rob2", "blinding", "missing_outcome", "risk_of_bias", "inconsistency",
            "publication_bias", "suggest"),
    size: ("pooled_control_risk", "control_arm"),
}
#: read their analyses as records, but read something else by key: the certainty's own
#: information size and TSA (dicts run() builds, not results.json), the spec's options, the
#: registry hooks' contract (the results.json value as written), the software environment
PARTIAL = {
    rules: ("imprecision",),
    size: ("information_size",),
    methods: ("methods_text",),
}

#: the figures' scan (tests/test_plots_typed.py HAND_READ) ...
HAND_READ = re.compile(r"""\bma\s*\[|\bma\.get\(|(?<!\bview)(?<!\bcolours)\.get\(\s*["']|"""
                       r"""\b(?:e|p|r|s|b|c|st|tip|src|reg|curve|tf|f|ss|ap|sm|sub|mo|bl|rob|mu|alt)\[\s*["']""")
#: ... less these receivers, which hold no results.json value: a record's dict of reasons, a
#: study row's ``data`` arm (the trial record's own numbers, undescribed by StudyRow), a local
#: grouping (``by``), the metadata accessors' own nodes; ``records(ma).get(name)`` is the typed reader
ALLOWED = re.compile(r"""\b(?:reasons|arm|by|node|model|cc|entry)\.get\(|\brecords\(ma\)\.get\(""")
DOC_PATH = re.compile(r"""["']sensitivity["']""")


def _hand_reads(src: str) -> list[str]:
    out = []
    for line in src.splitlines():
        code = ALLOWED.sub("_(", line.split("#")[0])
        if HAND_READ.search(code):
            out.append(line.strip())
    return out


def _source(module, name):
    obj = module
    for part in name.split("."):
        obj = getattr(obj, part)
    return inspect.getsource(obj)


def test_the_scan_finds_a_key_read_by_hand():
    assert _hand_reads('w = s.get("weight")\nt = s["trial"]\nr = (ma.get("sensitivity") or {}).get("x")\n') == [
        'w = s.get("weight")', 't = s["trial"]', 'r = (ma.get("sensitivity") or {}).get("x")']
    assert _hand_reads('w = row.weight\nr = b.reasons.get("restricted")\nx = view.get("bayes")\n') == []
    assert _hand_reads('n = ma["k"]\n') and _hand_reads('p = sm.get("lrt")\n')


@pytest.mark.parametrize("module,name", [(m, n) for m, names in CONVERTED.items() for n in names],
                         ids=lambda x: getattr(x, "__name__", x))
def test_converted_readers_read_no_results_key_by_hand(module, name):
    src = _source(module, name)
    assert _hand_reads(src) == [], f"{module.__name__}.{name} reads results.json keys by hand"
    assert not DOC_PATH.search(src), f"{module.__name__}.{name} walks the document's paths by hand"


@pytest.mark.parametrize("module,name", [(m, n) for m, names in PARTIAL.items() for n in names],
                         ids=lambda x: getattr(x, "__name__", x))
def test_partly_converted_readers_read_no_meta_analysis_key(module, name):
    src = _source(module, name)
    assert not re.search(r"\bma\s*\[|\bma\.get\(", src) and not DOC_PATH.search(src)


# --------------------------------------------------------------------------- values follow records

def _doc(name):
    return json.loads((ROOT / "results" / name / "results.json").read_text())


def _ma(name, id_):
    return copy.deepcopy(next(m for m in _doc(name)["meta_analyses"] if m["id"] == id_))


def _rows(rows):
    return dict((r[0], r[1:]) for r in rows)


def test_absolute_effects_follow_the_study_rows_and_pooled_record():
    ma = _ma("substance_use", "abstinence")
    cr, ev, n = sof.pooled_control_risk(ma)
    rows = records(ma).studies
    assert (ev, n) == (sum(sof.control_arm(r)["events"] for r in rows if sof.control_arm(r)),
                       sum(sof.control_arm(r)["total"] for r in rows if sof.control_arm(r)))
    first = ma["studies"][next(j for j, r in enumerate(rows) if sof.control_arm(r))]
    first["data"][first["control"]]["events"] += 3  # one more control arm's events -> the assumed risk moves
    assert sof.pooled_control_risk(ma)[1] == ev + 3
    assert size.pooled_control_risk(ma) == pytest.approx((ev + 3) / n)
    before = sof.absolute_effects(ma)
    ma["estimate"] += 0.2  # the pooled record's estimate -> the risk with the intervention
    after = sof.absolute_effects(ma)
    assert after["per_1000_intervention"][0] != before["per_1000_intervention"][0]
    assert after["per_1000_intervention"][1:] == before["per_1000_intervention"][1:]


def test_summary_csv_and_terminal_table_follow_the_records():
    doc = _doc("substance_use")
    ma = doc["meta_analyses"][0]
    ma["tau2"], ma["k"] = 0.123456, 99
    ma["bayes"]["mu"]["median"] = 0.654321
    csv = report.summary_csv(doc)
    line = csv.splitlines()[1].split(",")
    head = csv.splitlines()[0].split(",")
    assert line[head.index("tau2")] == "0.123456" and line[head.index("k")] == "99"
    assert line[head.index("bayes_mu_median")] == "0.654321"
    table = report.terminal_table(doc)
    assert " 99 " in table and "0.123" in table


def test_sof_and_sensitivity_rows_follow_the_records():
    ma = _ma("substance_use", "abstinence")
    ma["certainty"]["overall"] = "low"
    ma["certainty"]["symbols"] = "XX"
    rows = _rows(sof.sof_rows(ma))
    assert rows[cert_report.CERTAINTY_ROW][0].startswith("XX Low")
    ma["k"] = 41
    ma["bayes"]["prior_sensitivity"] = ma["bayes"]["prior_sensitivity"][:1]
    bayes_rows = [r for r in sof.sensitivity_rows(ma) if r[0].startswith("Bayesian, ")]
    assert len(bayes_rows) == 1 and bayes_rows[0][1] == "41"


def test_methods_text_follows_the_study_row_records():
    doc = _doc("depression_response")
    ma = doc["meta_analyses"][0]
    before = " ".join(methods.methods(doc)[0])
    assert "crossover trial" not in before and "converted to standardised" not in before
    ma["studies"][0]["design"] = {"method": "first_period", "note": None}
    ma["studies"][1]["converted"] = "OR -> SMD (Chinn 2000)"
    text = " ".join(methods.methods(doc)[0])
    label0, label1 = ma["studies"][0]["label"], ma["studies"][1]["label"]
    assert f"{label0}, a crossover trial, was analysed from its first-period data only" in text
    want = {"SMD": f"Odds ratios of {label1} were converted to standardised mean differences",
            "OR": f"Standardised mean differences of {label1} were converted to log odds ratios"}
    assert want[ma["measure"]] in text
    # the other direction: an odds-ratio analysis converts SMDs (it said "odds ratios ... to SMDs")
    ma["measure"] = "OR" if ma["measure"] == "SMD" else "SMD"
    assert want[ma["measure"]] in " ".join(methods.methods(doc)[0])


def test_studies_frame_reads_the_rows_records():
    doc = analyzed.AnalysisResults(_doc("dropout"))
    doc["meta_analyses"][0]["studies"][0]["weight"] = 12.5
    frame = doc.studies_frame(doc["meta_analyses"][0]["id"])
    assert frame["weight"].iloc[0] == 12.5 and list(frame["trial"]) == [
        r.trial for r in records(doc["meta_analyses"][0]).studies]
    doc["meta_analyses"][0]["studies"][0]["weight"] = "12.5"
    with pytest.raises(ResultsMismatch, match=r"studies\[0\]\.weight"):
        doc.studies_frame()


def test_certainty_rules_read_the_rows_weights_and_the_blinding_record():
    ma = _ma("substance_use", "abstinence")
    cls = ma["sensitivity"]["blinding"]["classification"]
    for c in cls:
        c["status"] = "adequate"
    cls[0]["status"] = "compromised"
    trial = cls[0]["trial"]
    rows = [s for s in ma["studies"] if s["trial"] == trial]
    assert rules.blinding(ma)["numbers"]["weight_compromised"] == pytest.approx(sum(s["weight"] for s in rows))
    for s in ma["studies"]:  # the compromised trial's rows carry 60% of the weight: one level down
        s["weight"] = 60.0 / len(rows) if s["trial"] == trial else 40.0 / (len(ma["studies"]) - len(rows))
    crit = rules.blinding(ma)
    assert crit["numbers"]["weight_compromised"] == pytest.approx(60.0) and crit["levels"] == 1
    assert rules.risk_of_bias(ma, 1)["levels"] == 1
    bad = copy.deepcopy(ma)
    bad["sensitivity"]["blinding"]["classification"][0]["status"] = 3
    with pytest.raises(ResultsMismatch, match=r"sensitivity\.blinding\.classification\[0\]\.status"):
        rules.blinding(bad)


def test_certainty_methods_sentence_reads_its_record():
    ma = _ma("substance_use", "abstinence")
    cite = lambda *k: ""  # noqa: E731
    text = certainty.methods_sentence(ma["certainty"], cite)
    assert text == certainty.methods_sentence(records(ma).get("certainty"), cite)
    ma["certainty"]["domains"]["indirectness"]["source"] = "spec"
    assert "the authors rated indirectness themselves" in certainty.methods_sentence(ma["certainty"], cite)


def test_certainty_reads_the_meta_analysis_being_built_as_records(tmp_path, monkeypatch):
    """Certainty runs at after_fit on the dict the pipeline is writing: records() reads it (the
    study rows are complete by then) and the rules see the same numbers as the finished file."""
    import metak

    src = ROOT / "analyses"
    seen = []
    real = rules.suggest

    def spy(ma, *a):
        view = records(ma)
        seen.append((view.pooled.estimate, tuple(r.weight for r in view.studies)))
        return real(ma, *a)

    monkeypatch.setattr(rules, "suggest", spy)
    doc = metak.analyze(src / "substance_use.yaml")
    ma = next(m for m in doc["meta_analyses"] if m.get("certainty"))
    finished = records(ma).check()
    assert seen and seen[0] == (finished.pooled.estimate, tuple(r.weight for r in finished.studies))
    from metak.results_json import dumps

    assert json.loads(dumps(doc))["meta_analyses"] == _doc("substance_use")["meta_analyses"]

"""The methods text, the terminal report and the summary of findings read a results.json through
one reader, :func:`metak.typed.records`: each analysis as the record its registry entry declares
and the pooled numbers as a record. Every committed results document reads back into records
that write the same object again; the outputs are the same whether an analysis's slot holds its
results.json value or its record (they read attributes, never keys); and a value that does not
match its record is a clear error naming the meta-analysis and the key path, from the library
and from ``metak report``."""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.methods import methods_text
from metak.registry import KEYED, SENSITIVITY
from metak.report import bias_lines, diagnostic_lines, regression_lines, subgroup_lines, terminal_table
from metak.sof import sensitivity_rows, sof_rows
from metak.typed import CommonEffect, MetaRecords, Pooled, ResultsMismatch, record_of, records

ROOT = Path(__file__).resolve().parent.parent
COMMITTED = sorted(ROOT.glob("results/*/results.json")) + [ROOT / "docs/examples/bcg/results/results.json"]
#: the sensitivity analyses whose methods sentences are metak.methods_sentences (they take a record)
OWN_HOOKS = [n for n, k in SENSITIVITY.items() if k.methods.startswith("metak.methods_sentences:")]


def _load(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def _value(ma, name):
    if name in SENSITIVITY:
        return (ma.get("sensitivity") or {}).get(name)
    return ma.get(name) if ma.get(name) is not None else (ma.get("model") or {}).get(name)


@pytest.fixture(scope="module")
def docs():
    assert len(COMMITTED) >= 8, COMMITTED
    return {p.parent.name if p.parent.name != "results" else p.parent.parent.name: _load(p) for p in COMMITTED}


def test_every_committed_result_reads_back_into_its_records(docs):
    seen = set()
    for doc in docs.values():
        for ma in doc["meta_analyses"]:
            view = records(ma).check()
            for name, rec in {**view.sensitivity, **view.analyses}.items():
                tp = (SENSITIVITY.get(name) or KEYED[name]).record_type()
                assert isinstance(rec, tp), (ma["id"], name, type(rec))
                assert rec.to_dict() == _value(ma, name), (ma["id"], name)  # the same object again
                seen.add(name)
            p = view.pooled
            assert isinstance(p, Pooled)
            for f in dataclasses.fields(Pooled):
                got = getattr(p, f.name)
                want = ma.get(f.name)
                if isinstance(got, CommonEffect):
                    got = dataclasses.asdict(got)
                elif isinstance(got, tuple):
                    got = list(got)
                assert got == want, (ma["id"], f.name)
            assert [row.to_dict() for row in view.studies] == ma["studies"], ma["id"]  # study rows too
    # the committed results exercise most of the registry: the sensitivity analyses and keyed ones
    assert {"leave_one_out", "blinding", "active_placebo", "missing_outcome", "influence", "small_study",
            "cumulative", "selection_model", "pet_peese"} <= seen
    assert {"bayes", "certainty", "dropout_rates", "subgroups", "meta_regression", "network"} <= seen


def test_the_view_reads_one_record_per_call_and_none_for_what_did_not_run(docs):
    ma = docs["substance_use"]["meta_analyses"][0]
    view = records(ma)
    assert isinstance(view, MetaRecords) and view.get("blinding") == records(ma).get("blinding")
    assert view.get("no_such_analysis") is None and view.get("glmm") is None


def _as_records(ma, names):
    """``ma`` with the results of ``names`` replaced by their records."""
    out = copy.deepcopy(ma)
    view = records(ma)
    for name in names:
        rec = view.get(name)
        if rec is None:
            continue
        if name in SENSITIVITY:
            out["sensitivity"][name] = rec
        else:
            out[name] = rec
    return out


def test_outputs_read_attributes_of_records_not_keys(docs):
    """Each output is the same from an analysis's results.json value and from its record: the
    sentence hooks and report sections go through the record (a dict would fail on attribute
    access, a record on key access)."""
    report_kinds = [*SENSITIVITY, "dropout_rates", "meta_regression", "subgroups"]
    compared = 0
    for doc in docs.values():
        for ma in doc["meta_analyses"]:
            typed = _as_records(ma, report_kinds)
            assert bias_lines(typed) == bias_lines(ma)
            assert diagnostic_lines(typed) == diagnostic_lines(ma)
            assert sensitivity_rows(typed) == sensitivity_rows(ma)
            assert sof_rows(_as_records(ma, ["dropout_rates", "bayes"]), 0.2) == sof_rows(ma, 0.2)
            if ma.get("meta_regression"):
                assert regression_lines(typed) == regression_lines(ma)
            if ma.get("subgroups"):
                assert subgroup_lines(typed) == subgroup_lines(ma)
            compared += bool(set(ma.get("sensitivity") or {}) & set(OWN_HOOKS))
        typed_doc = {**doc, "meta_analyses": [_as_records(ma, OWN_HOOKS) for ma in doc["meta_analyses"]]}
        assert methods_text(typed_doc) == methods_text(doc)
        assert terminal_table(_with(typed_doc, doc)) == terminal_table(copy.deepcopy(doc))
    assert compared >= 4


def _with(typed_doc, doc):
    """A deep copy of ``doc`` whose sensitivity slots hold the records of ``typed_doc``
    (terminal_table writes figure warnings into the document it is given)."""
    out = copy.deepcopy(doc)
    for ma, t in zip(out["meta_analyses"], typed_doc["meta_analyses"]):
        if ma.get("sensitivity"):
            ma["sensitivity"] = dict(t["sensitivity"])
    return out


def test_a_record_passes_through_and_a_kind_without_one_is_returned_as_written(docs):
    ma = docs["substance_use"]["meta_analyses"][0]
    rec = records(ma).get("leave_one_out")
    assert record_of("leave_one_out", rec) is rec
    assert record_of("leave_one_out", None) is None


def test_study_rows_are_records_whose_schema_is_generated_from_them(docs):
    from metak.schema.generate import SCHEMA, studies_fragment
    from metak.study_rows import RobRow, StudyRow

    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    assert committed["properties"]["meta_analyses"]["items"]["properties"]["studies"] == studies_fragment()
    rows = [row for doc in docs.values() for ma in doc["meta_analyses"] for row in records(ma).studies]
    assert len(rows) >= 80 and all(isinstance(r, StudyRow) for r in rows)
    assert any(r.interventions for r in rows) and any(r.design for r in rows)
    # the optional parts a row may carry, written and read back (risk_of_bias, split_control)
    row = dataclasses.replace(rows[0], split_control=2, converted="SMD x pi/sqrt(3)",
                              risk_of_bias=RobRow(randomization="low", missing_data="high", measurement="low",
                                                  reporting="low", overall="high", overall_derived=True))
    d = row.to_dict()
    assert d["risk_of_bias"]["missing_data"] == "high" and d["split_control"] == 2
    ma = {"id": "x", "studies": [d]}
    assert records(ma).studies == (row,)
    with pytest.raises(ResultsMismatch, match=r"x\]\.studies\[0\]: StudyRow has no field\(s\) \['wieght'\]"):
        records({"id": "x", "studies": [{**d, "wieght": 1.0}]}).studies  # noqa: B018


def _broken(docs, edit):
    doc = copy.deepcopy(docs["substance_use"])
    ma = next(m for m in doc["meta_analyses"] if m["id"] == "abstinence")
    edit(ma)
    return doc, ma


@pytest.mark.parametrize("edit,where,what", [
    (lambda ma: ma["sensitivity"]["blinding"]["rule"].update(max_bang="0.2"),
     "meta_analyses[abstinence].sensitivity.blinding.rule.max_bang", "is not a float"),
    (lambda ma: ma["sensitivity"]["leave_one_out"][0].pop("estimate"),
     "meta_analyses[abstinence].sensitivity.leave_one_out[0]", "needs 'estimate'"),
    (lambda ma: ma["sensitivity"]["active_placebo"].update(q_betwen=1.0),
     "meta_analyses[abstinence].sensitivity.active_placebo", "has no field(s) ['q_betwen']"),
    (lambda ma: ma.update(estimate="0.5"), "meta_analyses[abstinence]", "'0.5' is none of"),
])
def test_a_value_that_does_not_match_its_record_is_a_clear_error(docs, edit, where, what):
    doc, ma = _broken(docs, edit)
    with pytest.raises(ResultsMismatch) as err:
        sensitivity_rows(ma)
    assert where in str(err.value) and what in str(err.value), str(err.value)
    assert "does not match the records of this metak version" in str(err.value)


def test_the_methods_text_and_metak_report_fail_clearly_on_a_mismatch(docs, tmp_path):
    from metak.cli import main

    doc, _ = _broken(docs, lambda ma: ma["sensitivity"]["blinding"]["rule"].update(max_bang="0.2"))
    with pytest.raises(ResultsMismatch, match=r"blinding\.rule\.max_bang"):
        methods_text(doc)
    f = tmp_path / "results.json"
    f.write_text(json.dumps(doc), encoding="utf-8")
    res = CliRunner().invoke(main, ["report", str(f), "--out", str(tmp_path / "out")])
    assert res.exit_code == 1, res.output
    assert "error:" in res.output and "blinding.rule.max_bang" in res.output and "Traceback" not in res.output
    assert not (tmp_path / "out" / "report.html").exists()


def test_records_are_built_when_read(docs):
    """A report reads only the analyses it shows: a broken meta-regression does not stop the
    sensitivity table, but check() (which builds every record) finds it."""
    doc = copy.deepcopy(docs["bcg"])
    ma = next(m for m in doc["meta_analyses"] if m.get("meta_regression"))
    ma["meta_regression"]["k"] = "thirteen"
    sensitivity_rows(ma)
    with pytest.raises(ResultsMismatch, match=r"meta_analyses\[latitude\]\.meta_regression\.k"):
        records(ma).check()

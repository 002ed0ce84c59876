"""Leave-one-out fits all deletions at once with the batch engine; these tests hold it to the
k separate refits it replaces (the same numbers, every method and test, by comparison and by
trial), and to its fallback where the batch leaves a deletion to ``fit``."""

from __future__ import annotations

import numpy as np
import pytest

from metak.effects import EffectTable
from metak.estimators.model import Model
from metak.sensitivity import leave_one_out as L
from metak.vocab import IV_METHODS, TESTS

#: the batch engine is fit()'s engine; ML/REML start from the full fit's tau² (deletion.py): equal to
#: the refits to the estimators' convergence (~1e-14 seen)
REL = 1e-10


def _table(k, seed, labels=None):
    rng = np.random.default_rng(seed)
    vi = rng.uniform(0.01, 0.4, k)
    yi = rng.normal(0.3, np.sqrt(vi + rng.choice([0.0, 0.1])))
    return EffectTable.from_arrays(yi, vi, labels=labels)


def _refits(table, model, by, monkeypatch):
    with monkeypatch.context() as m:
        m.setattr(L, "_batched", lambda t, mo, drops: [None] * len(drops))
        return L.leave_one_out(table, model, by).to_dict()


def _same(fast, slow):
    assert len(fast) == len(slow)
    for a, b in zip(fast, slow):
        assert a.keys() == b.keys()
        for key in a:
            x, y = a[key], b[key]
            if isinstance(x, float) and isinstance(y, float):
                assert x == pytest.approx(y, rel=REL, abs=1e-14), (key, a["omitted"])
            else:
                assert x == y, (key, a["omitted"])


@pytest.mark.parametrize("method", IV_METHODS)
@pytest.mark.parametrize("test", TESTS)
def test_batched_leave_one_out_equals_the_refits(method, test, monkeypatch):
    for seed, k in ((1, 3), (2, 8), (3, 25)):
        table = _table(k, seed)
        model = Model(method, test)
        _same(L.leave_one_out(table, model).to_dict(), _refits(table, model, "comparison", monkeypatch))


def test_by_trial_drops_every_comparison_of_a_trial_together(monkeypatch):
    labels = ["a", "a", "b", "c", "c", "c", "d", "e"]
    table = _table(len(labels), 7, labels=labels)
    model = Model("REML", "hksj")
    fast = L.leave_one_out(table, model, "trial").to_dict()
    assert [r["omitted"] for r in fast] == ["a", "b", "c", "d", "e"]
    assert [r["k"] for r in fast] == [6, 7, 5, 7, 7]
    _same(fast, _refits(table, model, "trial", monkeypatch))


def test_a_deletion_leaving_one_study_is_refitted_by_fit(monkeypatch):
    table = _table(2, 4)
    fast = L.leave_one_out(table, Model("REML", "hksj")).to_dict()
    # one study left: fit's single-study result (a z interval, no heterogeneity)
    assert [r["k"] for r in fast] == [1, 1]
    assert fast[0]["estimate"] == pytest.approx(table.yi[1])
    assert fast[0]["tau2"] is None or fast[0]["tau2"] == 0
    _same(fast, _refits(table, Model("REML", "hksj"), "comparison", monkeypatch))


def test_the_batch_runs_in_blocks(monkeypatch):
    monkeypatch.setattr(L, "BLOCK", 4)
    table = _table(11, 9)
    model = Model("DL", "z")
    _same(L.leave_one_out(table, model).to_dict(), _refits(table, model, "comparison", monkeypatch))

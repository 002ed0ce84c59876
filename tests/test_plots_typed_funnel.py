"""The funnel, trim-and-fill and TSA figures draw the records' numbers (issue 24): the study
rows as :class:`metak.study_rows.StudyRow` records, the pooled estimate from ``view.pooled``,
the filled studies from the trim-and-fill record and the TSA curve from the certainty
record's ``tsa`` (:class:`metak.certainty.size.Sequential`)."""

from __future__ import annotations

import copy
import inspect
import json
import math
import re
from pathlib import Path

import matplotlib
import pytest

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402

import importlib  # noqa: E402

# the modules (metak.plots exports the functions funnel and tsa under the modules' names)
diagnostics, funnel_mod, tsa_mod = (importlib.import_module(f"metak.plots.{m}") for m in ("diagnostics", "funnel", "tsa"))
from metak.typed import ResultsMismatch, records  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "plots"

#: study rows read as dicts (the helpers of the rows' raw keys, or a results key by name)
ROW_DICTS = re.compile(r"""C\.stud(?:ies|y_label|y_labels|y_ci)\(|\[\s*["'](?:studies|estimate|yi|vi|se|looks|tsa)["']""")


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def _ma(name):
    d = json.loads((FIXTURES / f"{name}.json").read_text())
    return copy.deepcopy(d["meta_analyses"][0] if "meta_analyses" in d else d)


@pytest.mark.parametrize("func", [funnel_mod.funnel, funnel_mod.funnel_points, funnel_mod.study_points,
                                  diagnostics.trim_fill, tsa_mod.tsa], ids=lambda f: f.__qualname__)
def test_no_study_row_is_read_as_a_dict(func):
    src = "\n".join(line.split("#")[0] for line in inspect.getsource(func).splitlines())
    assert not ROW_DICTS.findall(src), f"{func.__qualname__} reads study rows or results keys as a dict"


def _offsets(art):
    pts = art.points[0] if isinstance(art.points, tuple) else art.points  # PanelArtists / FunnelArtists
    return [tuple(float(v) for v in o) for o in pts.get_offsets()]


def _flat(pairs):
    return [v for pair in pairs for v in pair]


def test_funnel_draws_the_study_records_and_the_pooled_record():
    ma = _ma("bcg_or")
    view = records(ma)
    art = funnel_mod.funnel(ma)
    assert _flat(_offsets(art)) == pytest.approx(_flat([(math.exp(r.yi), r.se) for r in view.studies]), rel=1e-12)
    assert art.estimate.get_xdata()[0] == pytest.approx(math.exp(view.pooled.estimate), rel=1e-12)
    # a changed record moves its point and the pooled line; vi is not what the funnel reads
    moved = copy.deepcopy(ma)
    moved["studies"][2].update(yi=0.5, se=0.25, vi=9.0)
    moved["estimate"] = -0.1
    art2 = funnel_mod.funnel(moved)
    assert list(_offsets(art2)[2]) == pytest.approx([math.exp(0.5), 0.25], rel=1e-12)
    assert _offsets(art2)[:2] == _offsets(art)[:2]
    assert art2.estimate.get_xdata()[0] == pytest.approx(math.exp(-0.1), rel=1e-12)


@pytest.mark.parametrize("path,value,where", [
    (("studies", 2, "yi"), "0.3", "studies[2].yi"),
    (("studies", 1, "se"), "0.2", "studies[1].se"),
    (("estimate",), "-0.7", "estimate"),
])
def test_funnel_names_a_value_that_does_not_fit_its_record(path, value, where):
    ma = _ma("bcg_or")
    node = ma
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    with pytest.raises(ResultsMismatch, match=re.escape(where)):
        funnel_mod.funnel(ma)


def test_trim_fill_draws_the_studies_then_the_records_filled_studies():
    ma = _ma("selection_bcg")
    view = records(ma)
    tf = view.get("small_study").trim_fill
    assert tf.filled, "the fixture should fill a study"
    art = diagnostics.trim_fill(ma)
    want = [(math.exp(r.yi), r.se) for r in view.studies] + [(math.exp(f.yi), math.sqrt(f.vi)) for f in tf.filled]
    assert _flat(_offsets(art)) == pytest.approx(_flat(want), rel=1e-12)
    faces = art.points[0].get_facecolors()
    assert [tuple(c) for c in faces[len(view.studies):]] == [(1.0, 1.0, 1.0, 1.0)] * len(tf.filled)
    ax = art.axes[0]
    xs = {round(float(line.get_xdata()[0]), 12) for line in ax.get_lines() if len(line.get_xdata()) == 2
          and line.get_xdata()[0] == line.get_xdata()[1]}
    assert round(math.exp(tf.estimate), 12) in xs  # the funnel around the trim-and-fill estimate
    assert round(math.exp(view.pooled.estimate), 12) in xs  # and the original estimate
    assert art.legend.get_texts()[0].get_text().startswith(f"Trim-and-fill RR (k0 = {tf.k0}")


def test_trim_fill_follows_the_record_not_the_rows():
    ma = _ma("selection_bcg")
    ss = ma["sensitivity"]["small_study"]["trim_fill"]
    ss["filled"] = [{"yi": 0.2, "vi": 0.04}, {"yi": None, "vi": 0.1}, {"yi": 0.4, "vi": 0.09}]
    ss["estimate"] = -0.5
    art = diagnostics.trim_fill(ma)
    k = len(ma["studies"])
    offs = _offsets(art)
    assert len(offs) == k + 2  # a filled study without an effect is not drawn
    assert _flat(offs[k:]) == pytest.approx([math.exp(0.2), 0.2, math.exp(0.4), 0.3], rel=1e-12)
    faces = [tuple(c) for c in art.points[0].get_facecolors()]
    assert faces[:k] == [faces[0]] * k and faces[k:] == [(1.0, 1.0, 1.0, 1.0)] * 2
    xs = [float(line.get_xdata()[0]) for line in art.axes[0].get_lines()]
    assert any(x == pytest.approx(math.exp(-0.5), rel=1e-12) for x in xs)
    ss["filled"][0]["vi"] = "0.04"
    with pytest.raises(ResultsMismatch, match=r"small_study\.trim_fill\.filled\[0\]\.vi"):
        diagnostics.trim_fill(ma)


def test_tsa_draws_the_certainty_records_sequential_analysis():
    ma = _ma("tsa_rr")
    seq = records(ma).get("certainty").tsa
    art = tsa_mod.tsa(ma)
    looks = [lk for lk in seq.looks if lk.n_cumulative is not None]
    unit = 1000.0 if max(seq.ris, looks[-1].n_cumulative) >= 20000 else 1.0
    x, z = art.line.get_data()
    assert list(x) == pytest.approx([0.0] + [lk.n_cumulative / unit for lk in looks], rel=1e-12)
    assert list(z) == pytest.approx([0.0] + [lk.z for lk in looks], rel=1e-12, nan_ok=True)
    bound = art.marks[0].get_data()
    assert list(bound[1]) == pytest.approx([min(lk.upper, 1e3) for lk in looks if lk.upper is not None])
    assert art.marks[1].get_data()[1] == pytest.approx([-v for v in bound[1]])  # two-sided
    ris_line = [m for m in art.marks if m.get_xdata()[0] == m.get_xdata()[1]][-1]
    assert ris_line.get_xdata()[0] == pytest.approx(seq.ris / unit)

    moved = copy.deepcopy(ma)
    moved["certainty"]["tsa"]["looks"][-1]["z"] = 0.25
    moved["certainty"]["tsa"]["side"] = 1
    art2 = tsa_mod.tsa(moved)
    assert art2.line.get_data()[1][-1] == pytest.approx(0.25)
    assert len(art2.marks) < len(art.marks)  # one-sided: no lower boundary
    moved["certainty"]["tsa"]["looks"][0]["z"] = "1.5"
    with pytest.raises(ResultsMismatch, match=r"certainty\.tsa\.looks\[0\]\.z"):
        tsa_mod.tsa(moved)


def test_tsa_draws_the_records_next_look():
    ma = _ma("tsa_rr")
    seq = records(ma).get("certainty").tsa
    art = tsa_mod.tsa(ma)
    if not seq.next_look:
        pytest.skip("the fixture has no next look")
    ahead = [m for m in art.marks if len(m.get_xdata()) == len(seq.next_look) + 1]
    assert ahead, "a boundary for a next look is drawn"
    assert list(ahead[0].get_ydata()[1:]) == pytest.approx([a.upper for a in seq.next_look])


def test_funnel_refuses_fewer_than_three_study_records():
    from metak.errors import AnalysisError

    ma = _ma("bcg_or")
    ma["studies"] = ma["studies"][:2]
    with pytest.raises(AnalysisError, match="funnel plot of meta-analysis 'bcg_tb' needs at least 3 studies"):
        funnel_mod.funnel(ma)
    # a row that is not a study row record is named, not drawn (metak.typed.ResultsMismatch)
    with pytest.raises(ResultsMismatch, match=r"studies\[0\]: StudyRow needs 'trial'"):
        funnel_mod.funnel({"id": "x", "studies": [{"yi": 0.1}]})


def test_rows_without_se_or_ci_fall_back_to_vi():
    """A row with no se (a hand-made or third-party results.json) is placed at sqrt(vi) in the
    funnel, and the dropout figure rebuilds a missing CI from se, as the forest does."""
    import copy as _copy
    import json as _json
    from pathlib import Path as _Path

    from metak.plots import dropout as dropout_plot, funnel

    fx = _Path(__file__).parent / "fixtures" / "plots"
    ma = _json.loads((fx / "bcg_or.json").read_text())
    bare = _copy.deepcopy(ma)
    for s in bare["studies"]:
        s["se"] = None
    a, b = funnel(ma), funnel(bare)
    assert len(b.points.get_offsets()) == 13
    got, want = (list(map(tuple, x.points.get_offsets())) for x in (b, a))
    assert [v for p in got for v in p] == pytest.approx([v for p in want for v in p], rel=1e-4)  # se = sqrt(vi), the fixture rounds to 6 digits
    d = _json.loads((fx / "dropout_rr.json").read_text())
    full = [t.get_text() for t in dropout_plot(d).figure.findobj(lambda o: hasattr(o, "get_text"))]
    d["studies"][0]["ci_lower"] = d["studies"][0]["ci_upper"] = None
    cut = [t.get_text() for t in dropout_plot(d).figure.findobj(lambda o: hasattr(o, "get_text"))]
    assert sorted(full) == sorted(cut)  # the same CI text, rebuilt from yi and se

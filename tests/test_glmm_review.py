"""Issue 27 (review Q8) on the GLMMs: what the methods text claims is what the record holds
(UM.RS's profile CI of tau² is claimed because it is in the record), one study fits the common-effect model (rma.glmm refuses
the random-effects one: tests/reference/glmm_one_study_reference.json), the Wald test's df count
the studies in its statistic, the modules import one way, one UM.RS log-likelihood, and an
invalid model name gets a message that lists the models."""

from __future__ import annotations

import ast
import json
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from glmm_corpus import analyze_with_methods as _analyze, write_tables
from metak.errors import InvalidSpec
from metak.glmm import glmm

HERE = Path(__file__).parent
REF = json.loads((HERE / "reference" / "metafor_glmm_reference.json").read_text())
ONE = json.loads((HERE / "reference" / "glmm_one_study_reference.json").read_text())
NIEL = REF["inputs"]["nielweise2007"]

#: metafor's common-effect fits on one table: glm (UM.FS, CM.AL) to epsilon 1e-14
ONE_STUDY_REL = 1e-6
#: CM.EL: metafor's estimate by BFGS at reltol 1e-14 (measured 8e-8 from metak's Newton maximum)
CM_EL_EST_ABS = 1e-6
#: CM.EL's SE against the exact conditional information (scipy's nchypergeom_fisher variance)
CM_EL_SE_REL = 1e-8


def _counts(d):
    return [d["ai"]], [d["n1i"]], [d["ci"]], [d["n2i"]]


def _ee(row, model):
    return next(f for f in ONE["fits"] if f["row"] == row and f["model"] == model and f["method"] == "EE")


ROWS = sorted({f["row"] for f in ONE["fits"]})


@pytest.mark.parametrize("row", ROWS)
@pytest.mark.parametrize("model", ["UM.FS", "UM.RS", "CM.EL", "CM.AL"])
def test_one_study_random_effects_fits_the_common_effect_model(row, model):
    ml = next(f for f in ONE["fits"] if f["row"] == row and f["model"] == model and f["method"] == "ML")
    assert "larger than the number of observations" in ml["error"]  # what rma.glmm does with method ML
    g = glmm(*_counts(ml["data"]), model=model, method="ML")
    assert g.method == "FE" and g.k == 1
    assert g.tau2 is None and g.tau is None and g.tau2_ci is None and g.tau2_se is None
    assert g.qe_wald is None and g.qe_lrt is None and g.qe_wald_df is None
    assert any("one study" in n and "common-effect" in n for n in g.notes)
    assert any("one study" in w for w in g.warnings)
    fe = glmm(*_counts(ml["data"]), model=model, method="FE")
    assert (g.estimate, g.se) == (fe.estimate, fe.se)
    # metafor's UM.RS common-effect fit fails on one table ("Cannot fit FE model"); with one study
    # sigma = 0 attains the saturated binomial likelihood, so its ML estimate is UM.FS's
    ref = _ee(row, "UM.FS" if model == "UM.RS" else model)
    if model == "UM.RS":
        assert "Cannot fit" in _ee(row, "UM.RS")["error"]
    if model == "CM.EL":
        assert abs(g.estimate - ref["estimate"]) < CM_EL_EST_ABS
        a = ml["data"]
        m1, n = a["ai"] + a["ci"], a["n1i"] + a["n2i"]
        var = stats.nchypergeom_fisher(n, a["n1i"], m1, np.exp(g.estimate)).var()
        assert g.se == pytest.approx(1 / np.sqrt(var), rel=CM_EL_SE_REL)
    else:
        assert g.estimate == pytest.approx(ref["estimate"], rel=ONE_STUDY_REL)
        assert g.se == pytest.approx(ref["se"], rel=ONE_STUDY_REL)


def _write(root, rows, method="ML", glmm_model="UM.RS", extra=""):
    """Rows of dat.nielweise2007 (metadat) as trial records, one trial per study."""
    return write_tables(root, NIEL, rows, method=method, glmm=glmm_model, extra=extra)


def test_one_study_spec_reports_no_tau2_and_says_so(tmp_path):
    ma, text = _analyze(_write(tmp_path, [1]))
    g = ma["model"]["glmm"]
    assert g["method"] == "FE" and g["k"] == 1 and g["tau2"] is None and g["tau2_ci"] is None
    assert ma["tau2"] is None and ma["tau2_ci"] is None and ma["q"] is None
    assert ma["estimate"] == pytest.approx(_ee("nielweise2007_row2", "UM.FS")["estimate"], rel=ONE_STUDY_REL)
    assert any("one study" in w for w in ma["warnings"])
    assert "profile-likelihood" not in text and "its confidence interval and tau²" not in text
    assert "With one trial, tau² cannot be estimated" in text and "common-effect GLMM was fitted" in text
    assert "over the random study intercepts" in text and "two random effects" not in text  # tau = 0


def test_um_rs_methods_text_claims_the_tau2_interval_it_holds(tmp_path):
    ma, text = _analyze(_write(tmp_path, range(len(NIEL["ai"]))))
    g = ma["model"]["glmm"]
    assert g["model"] == "UM.RS" and g["tau2"] is not None and g["tau2_ci"] is not None
    assert g["tau2_ci"][0] < g["tau2"] < g["tau2_ci"][1] and ma["tau2_ci"] == g["tau2_ci"]
    assert "Its τ² has a profile-likelihood confidence interval" in text
    assert "reported without a confidence interval" not in text
    # five trials without treatment-arm events are out of the Wald statistic (one more has no events)
    assert g["qe_df"] == 16 and g["qe_wald_df"] == 11 and ma["q_df"] == 11
    assert "on 11 degree(s) of freedom, over the 12 of 17 trials" in text
    assert ma["q_p"] == pytest.approx(stats.chi2.sf(ma["q"], 11), rel=1e-12)


def test_cm_el_methods_text_keeps_the_profile_interval(tmp_path):
    ma, text = _analyze(_write(tmp_path, range(len(NIEL["ai"])), glmm_model="CM.AL"))
    assert ma["tau2_ci"] is not None and "Its τ² has a profile-likelihood confidence interval" in text
    df = ma["model"]["glmm"]["qe_wald_df"]
    assert f"on {df} degree(s) of freedom" in text


@pytest.mark.parametrize("model", ["UM.RS", "UM.FS", "CM.AL"])
def test_wald_df_counts_the_studies_in_the_statistic(model):
    """QE.Wld's df = (studies with a finite saturated estimate) - 1; QE.LRT keeps metafor's k - 1
    (metafor_glmm_reference.json QE_df). UM.RS leaves out the studies without (or with only)
    treatment-arm events; the other models every study with a zero cell."""
    a, n1, c, n2 = (np.asarray(NIEL[x], float) for x in ("ai", "n1i", "ci", "n2i"))
    g = glmm(a, n1, c, n2, model=model, method="FE", nagq=1 if model == "UM.RS" else None)
    ref = next(f for f in REF["fits"] if f["dataset"] == "nielweise2007" and f["model"] == model
               and f["method"] == "FE")
    inc = ~((a == 0) & (c == 0))
    if model == "UM.RS":
        m = int(np.sum(inc & (a > 0) & (a < n1)))
    else:
        m = int(np.sum(inc & (a > 0) & (a < n1) & (c > 0) & (c < n2)))
    assert g.qe_df == ref["QE_df"] == int(inc.sum()) - 1
    assert g.qe_wald_df == m - 1 < g.qe_df
    assert g.qe_wald_p == pytest.approx(stats.chi2.sf(g.qe_wald, m - 1), rel=1e-12)
    assert g.qe_lrt_p == pytest.approx(stats.chi2.sf(g.qe_lrt, g.qe_df), rel=1e-12)
    assert any(f"chi² on {m - 1} df" in n for n in g.notes)
    assert f"QE({m - 1}) = " in g.summary() and f"QE({g.qe_df}) = " in g.summary()


def test_wald_df_is_k_minus_1_without_zero_cells():
    b = REF["inputs"]["bcg"]
    g = glmm(b["ai"], b["n1i"], b["ci"], b["n2i"], model="UM.FS", method="FE")
    assert g.qe_wald_df == g.qe_df == len(b["ai"]) - 1


def _sibling_imports(path):
    """(sibling module, names) of every relative import in a metak.glmm module, at any depth."""
    out = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            out.append((node.module or "__init__", [a.name for a in node.names]))
    return out


def test_glmm_modules_import_one_way_and_nothing_private():
    pkg = HERE.parent / "metak" / "glmm"
    mods = {p.stem: p for p in pkg.glob("*.py")}
    graph = {}
    for name, path in mods.items():
        deps = set()
        for mod, names in _sibling_imports(path):
            deps.add(mod)
            assert not [n for n in names if n.startswith("_") and mod != "_lse"], (name, mod, names)
        graph[name] = deps - {name}

    seen, stack = set(), []

    def visit(n):
        assert n not in stack, f"import cycle: {' -> '.join(stack + [n])}"
        if n in seen:
            return
        stack.append(n)
        for d in graph.get(n, ()):
            if d != "__init__":  # the package itself: its submodules may not import it
                visit(d)
        stack.pop()
        seen.add(n)

    for name in graph:
        if name != "__init__":
            assert "__init__" not in graph[name] or name == "spec", name
        visit(name)


def test_one_um_rs_loglik():
    """fit_rs's search and the Laplace Newton use rs_loglik; it reproduces the fit's maximum."""
    import inspect

    from metak.glmm import rs_fit
    from metak.glmm.data import prepare

    for fit in (rs_fit.fit_rs, rs_fit.fit_rs_laplace):
        assert "integrate_2d" not in inspect.getsource(fit) and "rs_loglik(cond, nodes)" in inspect.getsource(fit)
    assert inspect.getsource(rs_fit).count("integrate_2d(cond, b0, mu, max(sg, 1e-300), tau, nodes)") == 1
    inp = {"ai": NIEL["ai"], "n1i": NIEL["n1i"], "ci": NIEL["ci"], "n2i": NIEL["n2i"]}
    cond = prepare("OR", "UM.RS", inp, None).cond
    val, x, _ = rs_fit.fit_rs(cond, True, 15)
    assert rs_fit.rs_loglik(cond, 15)(x) == pytest.approx(val, abs=1e-9)


def test_invalid_model_name_lists_the_models_at_its_line(tmp_path):
    from metak.pipeline import analyze

    with pytest.raises(InvalidSpec) as err:
        analyze(_write(tmp_path, range(3), method="REML", glmm_model="UM.XX"))
    msg = str(err.value)
    assert "None" not in msg
    assert "s.yaml:10" in msg and "'UM.XX' is not one of: UM.FS, UM.RS, CM.EL, CM.AL" in msg
    assert "s.yaml:8" in msg and "the GLMMs (UM.FS, UM.RS, CM.EL, CM.AL) are fitted by maximum likelihood" in msg

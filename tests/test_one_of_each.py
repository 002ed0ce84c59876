"""One of each (issue 24): one refit helper module, one Bang index, exclusion reason codes,
no compatibility shim, no bayes.fit <-> bayes.mcmc import cycle, modules under ~400 lines,
one fixed-decimal number formatter. Each duplicate removed here has a test that fails if a
second copy ever comes back or disagrees."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import itertools
import json
from pathlib import Path
from types import SimpleNamespace

import pytest

import metak
from metak.effects import covariates as effect_covariates
from metak.effects import reasons, rows
from metak.effects.reasons import REASON_CODES, ReasonCode
from metak.errors import InvalidSpec
from metak.sensitivity import blinding, blinding_index, refit
from metak.sensitivity.bias import Rule
from test_middle_layer import HEAD, bcg, write_spec  # noqa: F401  (bcg: the fixture)

ROOT = Path(__file__).resolve().parent.parent
PKG = ROOT / "metak"


# ----------------------------------------------------------------------------- refit helpers
REFIT_NAMES = ("benefit_sign", "iv_model", "FIT_KEYS", "refit", "null_fit", "finite_rows", "shifted")


def test_the_refit_helpers_are_defined_once_in_sensitivity_refit():
    defined = {}
    for path in sorted(PKG.rglob("*.py")):
        tree = ast.parse(path.read_text())
        for node in tree.body:
            names = []
            if isinstance(node, (ast.FunctionDef, ast.ClassDef)):
                names = [node.name]
            elif isinstance(node, ast.Assign):
                names = [t.id for t in node.targets if isinstance(t, ast.Name)]
            for n in names:
                if n in REFIT_NAMES:
                    defined.setdefault(n, []).append(path.relative_to(ROOT).as_posix())
    for name in REFIT_NAMES:
        assert defined.get(name) == ["metak/sensitivity/refit.py"], (name, defined.get(name))


@pytest.mark.parametrize("module", ["influence", "small_study", "subgroups", "missing_outcome", "crossover_rho",
                                    "risk_of_bias", "blinding"])
def test_every_analysis_imports_the_refit_helpers_from_refit_at_module_level(module):
    m = importlib.import_module(f"metak.sensitivity.{module}")
    tree = ast.parse(Path(m.__file__).read_text())
    top = [n for n in tree.body if isinstance(n, ast.ImportFrom) and n.module == "refit" and n.level == 1]
    assert top, f"{module} does not import from .refit at module level"
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module == "blinding":
            pytest.fail(f"{module} still imports from .blinding")
    for alias in top[0].names:
        assert getattr(m, alias.name) is getattr(refit, alias.name)


# ----------------------------------------------------------------------------- one Bang index
def _guess(arm, ge, gc, dk, assessor="participant"):
    return SimpleNamespace(arm=arm, assessor=assessor, guessed_experimental=ge, guessed_control=gc, dont_know=dk,
                           total=ge + gc + dk)


def _table(counts):
    """A minimal effect table for :func:`blinding.classify`: one trial per (exp, ctl) guess rows."""
    rows = []
    for i, (e, c) in enumerate(counts):
        rec = SimpleNamespace(blinding=SimpleNamespace(guesses=(_guess("e", *e), _guess("c", *c))))
        rows.append(SimpleNamespace(trial=f"t{i}", label=f"T{i}", record=rec, outcome=None,
                                    comparison=SimpleNamespace(experimental=("e",), control=("c",))))
    return SimpleNamespace(rows=tuple(rows))


COUNTS = [((12, 7, 6), (5, 5, 10)),          # exactly 0.2 in the experimental arm: the boundary
          ((20, 3, 4), (4, 9, 1)),
          ((0, 0, 0), (3, 3, 3)),
          ((48, 4, 330), (30, 22, 319)),
          ((1, 9, 0), (2, 2, 2))]


def test_classification_uses_the_one_bang_index():
    classes = blinding.classify(_table(COUNTS), Rule())
    for (e, c), cls in zip(COUNTS, classes):
        assert cls["bang"]["e"] == blinding_index.bang(*e)["estimate"]
        # the control arm's correct guesses are "guessed control"
        assert cls["bang"]["c"] == blinding_index.bang(c[1], c[0], c[2])["estimate"]
    # (c - w) / n is exact at the rule's boundary: 12 - 7 of 25 is 0.2, adequate
    assert blinding_index.bang(12, 7, 6)["estimate"] == 0.2
    assert classes[0]["status"] == "adequate"


@pytest.mark.parametrize("ge,gc,dk", list(itertools.product((0, 1, 7, 30), (0, 2, 13), (0, 5))))
def test_the_bang_moderator_is_the_one_bang_index(ge, gc, dk):
    trial = SimpleNamespace(characteristics={}, citation=SimpleNamespace(year=2000), design="parallel",
                            allocation=None, masking=None, condition=None,
                            blinding=SimpleNamespace(guesses=(_guess("e", ge, gc, dk),)), arm=lambda a: SimpleNamespace(dose=None))
    cov = effect_covariates.covariates(trial, ("e",), None)
    assert cov.get("bang") == blinding_index.bang(ge, gc, dk)["estimate"]


def test_a_mutated_bang_changes_the_classification_and_the_moderator(monkeypatch):
    """The review's mutation M03 (don't-knows out of the denominator) left the classification
    unchanged: the classification had its own copy. With one function it cannot."""
    table = _table(COUNTS)
    before = blinding.classify(table, Rule())
    trial = SimpleNamespace(characteristics={}, citation=SimpleNamespace(year=2000), design="parallel",
                            allocation=None, masking=None, condition=None,
                            blinding=SimpleNamespace(guesses=(_guess("e", 48, 4, 330),)),
                            arm=lambda a: SimpleNamespace(dose=None))
    cov_before = effect_covariates.covariates(trial, ("e",), None)["bang"]
    real = blinding_index.bang

    def mutant(correct, wrong, dont_know, level=0.95):   # n = c + w instead of c + w + d
        return real(correct, wrong, 0, level)

    monkeypatch.setattr(blinding_index, "bang", mutant)
    after = blinding.classify(table, Rule())
    assert [c["bang"] for c in after] != [c["bang"] for c in before]
    assert [c["status"] for c in after] != [c["status"] for c in before]
    assert effect_covariates.covariates(trial, ("e",), None)["bang"] != cov_before


def test_no_second_copy_of_the_bang_formula():
    """Only blinding_index computes (correct - wrong) / n from guess counts."""
    hits = []
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "blinding_index.py":
            continue
        text = path.read_text()
        for needle in ("guessed_experimental - ", "guessed_experimental) - ", "(getattr(g, own) - "):
            if needle in text:
                hits.append((path.name, needle))
    assert not hits, hits


# ----------------------------------------------------------------------------- reason codes
def test_the_schema_lists_the_reason_codes():
    schema = json.loads((PKG / "schema" / "results.schema.json").read_text())
    ma = schema["properties"]["meta_analyses"]["items"]["properties"]
    assert ma["excluded"]["items"]["properties"]["reason_code"]["enum"] == list(REASON_CODES)


def test_every_exclusion_in_build_carries_a_reason_code():
    """No excluded entry is written by hand (``{"trial": .., "reason": ..}``) outside
    ``excluded_entry``, which always adds the code."""
    writers = [(path.name, n.lineno) for path in sorted((PKG / "effects").glob("*.py"))
               for n in ast.walk(ast.parse(path.read_text())) if isinstance(n, ast.Dict)
               and any(isinstance(k, ast.Constant) and k.value == "reason" for k in n.keys)]
    assert [name for name, _ in writers] == ["reasons.py"], writers
    assert reasons.excluded_entry("x", reasons.Reason("why", ReasonCode.ARMS)) == {
        "trial": "x", "reason": "why", "reason_code": "arms"}


def test_reason_codes_in_results(bcg):
    p = write_spec(bcg, HEAD + """\
        select:
          exclude: {aronson1948: a reason of my own}
          trials: [aronson1948, coetzee1968, comstock1969]
""")
    ma = metak.analyze(p)["meta_analyses"][0]
    codes = {e["trial"]: e["reason_code"] for e in ma["excluded"]}
    assert codes["aronson1948"] == "excluded_by_spec"
    assert set(codes.values()) <= {"excluded_by_spec", "not_selected"}
    assert "not_selected" in codes.values()
    assert all(set(e) == {"trial", "reason", "reason_code"} for e in ma["excluded"])


def test_a_measure_mismatch_is_found_by_its_code_not_its_words(bcg, monkeypatch):
    """pipeline._no_data reads reason_code: rewording the message changes nothing."""
    real = rows.Reason

    class Reworded(real):
        def __new__(cls, text, code):
            return real.__new__(cls, "reworded: " + text[::-1], code)

    monkeypatch.setattr(rows, "Reason", Reworded)
    p = write_spec(bcg, HEAD.replace("measure: RR", "measure: SMD"))
    with pytest.raises(InvalidSpec) as exc:
        metak.analyze(p)
    (q,) = exc.value.problems
    assert "measure SMD fits none of the selected trials' data" in q.message
    assert "reworded: " in q.message


# ----------------------------------------------------------------------------- no shim, no cycle
def test_the_analysis_shim_is_gone():
    assert importlib.util.find_spec("metak.analysis") is None
    for path in list(PKG.rglob("*.py")) + list((ROOT / "tests").glob("*.py")) + list((ROOT / "docs").glob("*.md")):
        if path.name == "test_one_of_each.py":
            continue
        text = path.read_text()
        assert "metak.analysis " not in text and "metak/analysis.py" not in text and "from .analysis" not in text, path


def _imports(module_path: Path) -> set[str]:
    """Sibling modules a module imports (at any level of nesting)."""
    out = set()
    for node in ast.walk(ast.parse(module_path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.level == 1:
            if node.module:
                out.add(node.module.split(".")[0])
            else:
                out.update(a.name for a in node.names)
    return out


def test_no_import_cycle_between_bayes_fit_and_mcmc():
    fit, mcmc = _imports(PKG / "bayes" / "fit.py"), _imports(PKG / "bayes" / "mcmc.py")
    assert "fit" not in mcmc
    assert "mcmc" not in _imports(PKG / "bayes" / "common.py") and "fit" not in _imports(PKG / "bayes" / "common.py")
    assert "mcmc" in fit   # fit calls the MCMC engine; the shared pieces live in common
    from metak.bayes import common, fit as F, mcmc as M  # noqa: F401  (mcmc imports PyMC lazily)

    assert M.sensitivity_exact is common.sensitivity_exact is F.sensitivity_exact


# ----------------------------------------------------------------------------- module sizes
SPLIT = ["records/parse.py", "records/arms.py", "records/arm_data.py", "records/outcomes.py",
         "plots/_table.py", "plots/_text.py", "plots/_layout.py", "plots/_draw.py",
         "sensitivity/blinding.py", "sensitivity/blinding_index.py", "sensitivity/refit.py",
         "bayes/fit.py", "bayes/mcmc.py", "bayes/common.py"]


@pytest.mark.parametrize("name", SPLIT)
def test_split_modules_stay_under_400_lines(name):
    n = len((PKG / name).read_text().splitlines())
    assert n <= 400, f"{name}: {n} lines"


# ----------------------------------------------------------------------------- one number formatter
VALUES = [None, float("nan"), float("inf"), 0.0, -0.0, -0.004, 0.004, 1.23456, -1.23456, 12.5, -1234.5678, 7]


@pytest.mark.parametrize("digits", [0, 2, 4])
def test_figures_report_and_terminal_format_with_one_function(digits):
    from metak import paper, report
    from metak.format import fixed
    from metak.plots import _format as fmt

    for x in VALUES:
        base = fixed(x, digits, missing="—")
        assert paper._n(x, digits) == base
        assert report._fmt(x, digits) == base
        fig = fmt.num(x, digits)
        if base == "—":
            assert fig == ""
        elif float(base) == 0:
            assert fig == base.lstrip("-")
        else:
            assert fig == base.replace("-", fmt.MINUS)


# ----------------------------------------------------------------------------- one back-transformation
def test_to_natural_is_defined_once_and_imported_from_format():
    """metak.plots._common had its own to_natural (exp for ratio measures, written again); the
    one back-transformation is metak.format.to_natural, and nothing re-exports it."""
    defs, imports = [], []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)) and getattr(node, "name", None) == "to_natural":
                defs.append(rel)
            elif isinstance(node, ast.ImportFrom) and any(a.name == "to_natural" for a in node.names):
                imports.append((rel, "." * node.level + (node.module or "")))
    assert defs == ["metak/format.py"], defs
    wrong = [(rel, mod) for rel, mod in imports if mod not in ("metak.format", "..format", ".format")]
    assert not wrong, f"to_natural imported from elsewhere than metak.format: {wrong}"


@pytest.mark.parametrize("measure", ["OR", "RR", "HR", "PLO", "PAS", "PR", "ZCOR", "MD", "SMD"])
def test_figures_back_transform_with_format_to_natural(measure, monkeypatch):
    from metak import format as F
    from metak.plots import _common as C

    ma = {"measure": measure, "n_harmonic": None}
    nat = C.natural(ma)
    for x in (None, float("nan"), -1.5, 0.0, 0.3, 2.0):
        assert nat(x) == F.to_natural(measure, x)
    monkeypatch.setattr(F, "to_natural", lambda m, x, ni=None: "the one function")
    assert C.natural(ma)(0.3) == "the one function"   # the figures call it, they do not copy it


#: Modules (not packages) that still re-export names they do not use, for compatibility. Their
#: owners are removing them this session (issue 24); the lead empties this list. A package's
#: __init__.py re-exports its public API and is not counted.
RE_EXPORTS_PENDING = {
    "metak/effects/escalc.py": "the measure vocabulary (CC_TO, LOG_MEASURES, ...) of metak.vocab",
    "metak/api.py": "AnalysisResults, MetaFit, TestResult, RegressionFit",
    "metak/paper.py": "metak.sof's tables",
    "metak/estimators/regression.py": "tau2_regression of tau2_mods",
}


def test_no_module_re_exports_names_for_compatibility():
    """A moved name is imported from its new home; the old module keeps no shim. Found by the
    ``noqa: F401`` a re-exporting import needs to pass the linter."""
    found = set()
    for path in sorted(PKG.rglob("*.py")):
        if path.name == "__init__.py":
            continue
        rel = path.relative_to(ROOT).as_posix()
        if any("noqa" in line and "F401" in line and "export" in line for line in path.read_text().splitlines()):
            found.add(rel)
    assert found <= set(RE_EXPORTS_PENDING), f"re-export shims (import from the new home): {found - set(RE_EXPORTS_PENDING)}"


# ----------------------------------------------------------------------------- one validation mechanism
#: The modules that build a Problem or raise InvalidSpec / InvalidRecord / InvalidInput
#: themselves, each for a reason the Checker (metak/records/checker.py) does not cover. Every
#: other input check goes through a Checker, which collects every problem of a file with its
#: line, key path and did-you-mean hint.
PROBLEM_MAKERS = {
    "metak/errors.py": "defines Problem and the errors",
    "metak/records/yamlload.py": "the file itself (unreadable, too big, YAML syntax) and Located.problem, the "
                                 "Checker's",
    "metak/records/__init__.py": "a trials folder (no such file, no .yaml files, a trial id in two files); raises "
                                 "the Checkers' problems",
    "metak/spec/__init__.py": "raises an analysis spec's Checker problems",
    "metak/spec/model.py": "MetaSpec.error: a problem the run finds later, at its key's line",
    "metak/pipeline.py": "trials: entries that name no records, found when they are resolved",
    "metak/scale/spec.py": "raises a simulation spec's Checker problems",
}
#: the names of the ad-hoc, stop-at-the-first-problem helpers the simulation spec had
AD_HOC_HELPERS = ("bad", "known")


def _called_name(call):
    f = call.func
    return f.id if isinstance(f, ast.Name) else f.attr if isinstance(f, ast.Attribute) else None


def test_only_the_listed_modules_build_problems_or_raise_input_errors():
    found = {}
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and _called_name(node) in ("Problem", "InvalidSpec", "InvalidRecord",
                                                                     "InvalidInput"):
                found.setdefault(rel, []).append(node.lineno)
    outside = {rel: lines for rel, lines in found.items() if rel not in PROBLEM_MAKERS}
    assert not outside, f"input problems built outside the Checker (use metak.records.checker.Checker): {outside}"
    assert "metak/scale/spec.py" in found and "metak/spec/__init__.py" in found  # the list is not stale


def test_no_module_defines_its_own_spec_checking_helpers():
    """The simulation spec's loader had its own ``bad()`` (raise at the first problem),
    ``known()`` and ``number()``; a helper called ``bad``/``known``, or a ``bad`` callback passed
    around and called, must not come back."""
    hits = []
    for path in sorted(PKG.rglob("*.py")):
        rel = path.relative_to(ROOT).as_posix()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.Lambda)) and getattr(node, "name", None) in AD_HOC_HELPERS:
                hits.append(f"{rel}:{node.lineno}: def {node.name}")
            elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in AD_HOC_HELPERS:
                hits.append(f"{rel}:{node.lineno}: {node.func.id}(...)")
    assert not hits, hits


def test_the_simulation_spec_is_parsed_by_a_checker(tmp_path, monkeypatch):
    """metak/scale/spec.py collects through the Checker: a mutated Checker.add changes its report."""
    from metak.records.checker import Checker
    from metak.scale.spec import load_spec

    p = tmp_path / "s.yaml"
    p.write_text("metak: 1\nsimulation: s\nsede: 1\nlevel: 2\n")
    with pytest.raises(InvalidSpec) as e:
        load_spec(p)
    assert [q.line for q in e.value.problems] == [3, 4]
    real = Checker.add
    monkeypatch.setattr(Checker, "add", lambda self, path, message: real(self, path, "CHECKER: " + message))
    with pytest.raises(InvalidSpec) as e:
        load_spec(p)
    assert all(q.message.startswith("CHECKER: ") for q in e.value.problems)

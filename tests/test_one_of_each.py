"""One of each (issue 24): one refit helper module, one Bang index, exclusion reason codes,
no compatibility shim, no import cycle, modules under ~400 lines,
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


#: names that say a function reads participants' guesses (records/model.py's Guess, Trial.blinding)
GUESS_NAMES = ("guessed_experimental", "guessed_control", "dont_know", "guesses")


def _mentions_guesses(fn) -> bool:
    for n in ast.walk(fn):
        text = n.attr if isinstance(n, ast.Attribute) else n.id if isinstance(n, ast.Name) else \
            n.value if isinstance(n, ast.Constant) and isinstance(n.value, str) else None
        if text and any(g in text for g in GUESS_NAMES):
            return True
    return False


def _difference_over_total(node) -> bool:
    """The arithmetic shape of the Bang index, whatever the names: ``(a - b) / n`` or ``a / n - b / n``."""
    if not isinstance(node, ast.BinOp):
        return False
    if isinstance(node.op, ast.Div) and isinstance(node.left, ast.BinOp) and isinstance(node.left.op, ast.Sub):
        return True
    return isinstance(node.op, ast.Sub) and all(isinstance(s, ast.BinOp) and isinstance(s.op, ast.Div)
                                                for s in (node.left, node.right))


def bang_copies(path: Path) -> list[str]:
    """Each ``(a - b) / n`` (or ``a / n - b / n``) inside a function that reads guess counts."""
    hits = set()
    for fn in ast.walk(ast.parse(path.read_text())):
        if isinstance(fn, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)) and _mentions_guesses(fn):
            hits.update(f"{path.name}:{n.lineno}: {ast.unparse(n)}" for n in ast.walk(fn) if _difference_over_total(n))
    return sorted(hits)


def test_no_second_copy_of_the_bang_formula():
    """Only blinding_index computes (correct - wrong) / n from guess counts: an AST scan for the
    formula's shape in every function that reads guesses, so renamed variables do not hide one."""
    hits = [h for path in sorted(PKG.rglob("*.py")) if path.name != "blinding_index.py" for h in bang_copies(path)]
    assert not hits, hits
    assert bang_copies(PKG / "sensitivity" / "blinding_index.py"), "the scan no longer finds the one Bang formula"


@pytest.mark.parametrize("body", [
    "def f(g):\n    ge, gc = g.guessed_experimental, g.guessed_control\n    n = ge + gc + g.dont_know\n"
    "    return (ge - gc) / n\n",
    "def f(guesses):\n    return [(x.c - x.w) / (x.c + x.w + x.d) for x in guesses]\n",
    "def f(g, n):\n    return g.guessed_experimental / n - g.guessed_control / n\n",
    "class A:\n    def f(self, t):\n        g = t.blinding.guesses[0]\n"
    "        return (getattr(g, 'guessed_experimental') - g.guessed_control) / g.total\n",
])
def test_the_bang_scan_finds_a_copy_whatever_its_names(tmp_path, body):
    f = tmp_path / "copy.py"
    f.write_text(body)
    assert bang_copies(f)


def test_the_bang_scan_leaves_other_differences_alone(tmp_path):
    f = tmp_path / "other.py"
    f.write_text("def z(y, mu, se):\n    return (y - mu) / se\n\n\ndef n(g):\n    return g.guessed_control + g.dont_know\n")
    assert bang_copies(f) == []


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


def import_graph(pkg: Path) -> dict[str, set[str]]:
    """Every import of a metak module by another, from the AST: module-level and function-level
    (a lazy import inside a function is an edge too), relative and absolute. ``from .a import b``
    is an edge to ``a.b`` when that is a module, else to ``a``. A module's package __init__ is
    not an edge by itself (Python runs it, but only its own imports can close a cycle)."""
    mods = {}
    for path in pkg.rglob("*.py"):
        parts = path.relative_to(pkg.parent).with_suffix("").parts
        mods[".".join(parts[:-1] if parts[-1] == "__init__" else parts)] = path
    graph = {}
    for name, path in mods.items():
        base = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        out = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                mod = ".".join(base[:len(base) - (node.level - 1)] + ([node.module] if node.module else [])) \
                    if node.level else (node.module or "")
                targets = [f"{mod}.{a.name}" if f"{mod}.{a.name}" in mods else mod for a in node.names]
            else:
                continue
            for t in targets:
                while t and t not in mods:
                    t = t.rpartition(".")[0]
                if t and t != name and t.split(".")[0] == pkg.name:
                    out.add(t)
        graph[name] = out
    return graph


def import_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components with more than one module (Tarjan), sorted."""
    index, low, on, stack, found = {}, {}, set(), [], []

    def visit(v):   # the package has ~300 modules and short chains: recursion is fine
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in sorted(graph.get(v, ())):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            comp = []
            while True:
                w = stack.pop()
                on.discard(w)
                comp.append(w)
                if w == v:
                    break
            if len(comp) > 1:
                found.append(sorted(comp))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return sorted(found)


def test_no_import_cycle_in_the_package():
    """No import cycle between metak's modules, lazy (function-level) imports included: output
    code (report, plots, verify) does not import back into what imports it."""
    cycles = import_cycles(import_graph(PKG))
    assert not cycles, "import cycles:\n" + "\n".join(" <-> ".join(c) for c in cycles)


def test_the_cycle_check_finds_lazy_and_long_cycles(tmp_path):
    """The check itself: a function-level import closing a cycle, a three-module cycle through
    ``from . import x`` and an absolute import, and a package __init__ importing its submodule."""
    pkg = tmp_path / "metak"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "a.py").write_text("from .b import f\n")
    (pkg / "b.py").write_text("def f():\n    from .a import g\n    return g\n")
    (pkg / "sub" / "__init__.py").write_text("from .x import y\n")
    (pkg / "sub" / "x.py").write_text("from .. import c\n")
    (pkg / "c.py").write_text("import metak.sub.z\n")
    (pkg / "sub" / "z.py").write_text("from . import x\n")
    (pkg / "ok.py").write_text("from .a import f\nfrom .sub import x\n")
    assert import_cycles(import_graph(pkg)) == [["metak.a", "metak.b"], ["metak.c", "metak.sub.x", "metak.sub.z"]]


def test_the_bayes_pieces_are_shared_through_common():
    from metak.bayes import common, fit as F, mcmc as M  # noqa: F401  (mcmc imports PyMC lazily)

    graph = import_graph(PKG)
    assert "metak.bayes.mcmc" in graph["metak.bayes.fit"]   # fit calls the MCMC engine
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


#: Must stay empty. Modules (not packages) that re-exported names they do not use, "for
#: compatibility"; issue 24 removed the last of them (the measure vocabulary in
#: metak.effects.escalc, metak.api's fitted classes, metak.paper's tables of metak.sof,
#: tau2_regression in metak.estimators.regression, metak.records.model's CONTRAST_MEASURES and
#: RATIO_MEASURES). A package's __init__.py re-exports its public API and is not counted.
RE_EXPORTS_PENDING: dict[str, str] = {}

#: `from X import ...` at the start of a line (or of a doctest line); the statement is then
#: parsed alone. Parsing every file of metak/ and tests/ with ast takes seconds, this ~0.1 s.
_FROM_LINE = r"^[ \t]*(?:>>>[ \t]+)?from[ \t]+[.\w]+[ \t]+import\b"


def _from_imports(text):
    """(line, ast.ImportFrom) of every ``from X import ...`` statement in a text (Python, or the
    code blocks and doctests of Markdown and docstrings)."""
    import re

    lines = text.splitlines()
    for m in re.finditer(_FROM_LINE, text, re.M):
        start = text.count("\n", 0, m.start())
        first = lines[start].lstrip()
        first = first[3:].lstrip() if first.startswith(">>>") else first
        for end in range(start + 1, min(start + 40, len(lines)) + 1):
            rest = [line.lstrip(" .>") if line.lstrip().startswith("...") else line for line in lines[start + 1:end]]
            try:
                node = ast.parse("\n".join([first, *rest])).body[0]
            except SyntaxError:
                continue
            if isinstance(node, ast.ImportFrom):
                yield start + 1, node
            break


def _module_name(root, path):
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _source_module(importer, is_package, node):
    if not node.level:
        return node.module
    base = importer.split(".")[: None if is_package else -1]
    base = base[: len(base) - node.level + 1]
    return ".".join(base + ([node.module] if node.module else []))


def _top_level_bindings(tree):
    """A module's top-level names: {name: the ImportFrom binding it} for names bound only by a
    ``from X import`` (in if/try blocks too) and the set of names it defines (def, class, =)."""
    imported, defined = {}, set()
    stack = list(tree.body)
    while stack:
        node = stack.pop()
        if isinstance(node, ast.ImportFrom):
            imported.update({a.asname or a.name: node for a in node.names})
        elif isinstance(node, ast.Import):
            defined.update(a.asname or a.name.split(".")[0] for a in node.names)
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            defined.add(node.name)
        elif isinstance(node, (ast.If, ast.Try, ast.With, ast.For, ast.While)):
            stack.extend(itertools.chain(node.body, node.orelse, getattr(node, "finalbody", []),
                                         *(h.body for h in getattr(node, "handlers", []))))
        targets = (node.targets if isinstance(node, ast.Assign)
                   else [node.target] if isinstance(node, (ast.AnnAssign, ast.AugAssign, ast.For))
                   else [i.optional_vars for i in node.items] if isinstance(node, ast.With) else [])
        defined.update(n.id for t in targets if t is not None for n in ast.walk(t) if isinstance(n, ast.Name))
    return {k: v for k, v in imported.items() if k not in defined}, defined


_SCANNED = {}   # root -> the scan below (two tests read it)


def _imports_not_from_home(root):
    if root not in _SCANNED:
        _SCANNED[root] = _scan_imports(root)
    return _SCANNED[root]


def _scan_imports(root):
    """Every import, anywhere in the project (metak/, tests/, benchmarks/, docs/ and README code,
    doctests, ``:::`` API pages, lazy ``("metak.module", "name")`` tables), of a name from a metak module (not a package) that only
    imports that name itself. Returns dicts with the importer, the module, the name, its home
    (followed along the chain of imports) and whether the module uses the name itself."""
    import re

    pkg = root / "metak"
    modules = {_module_name(root, p): p for p in pkg.rglob("*.py")}
    wanted = []   # (where, module, name)
    imports_of = {}   # module -> the names its from-imports bind (anywhere: a cheap pre-check)
    files = [*modules.values(), *(p for d in ("tests", "benchmarks", "docs") for p in (root / d).rglob("*.py")),
             *(root / "docs").rglob("*.md"), root / "README.md"]
    for path in files:
        if not path.is_file():
            continue
        text = path.read_text()
        rel = path.relative_to(root).as_posix()
        me = _module_name(root, path) if path.is_relative_to(pkg) else ""
        for line, node in _from_imports(text):
            if me:
                imports_of.setdefault(me, set()).update(a.asname or a.name for a in node.names)
            if node.level and not me:
                continue
            source = _source_module(me, path.name == "__init__.py", node)
            if source in modules and modules[source].name != "__init__.py":
                wanted += [(f"{rel}:{line}", source, a.name) for a in node.names]
        for m in re.finditer(r"""\(\s*["'](metak(?:\.\w+)+)["']\s*,\s*["'](\w+)["']\s*\)""", text):
            if m.group(1) in modules and modules[m.group(1)].name != "__init__.py":   # lazy ("module", "name")
                wanted.append((f"{rel}:{text.count(chr(10), 0, m.start()) + 1}", m.group(1), m.group(2)))
        if path.suffix == ".md":   # mkdocstrings pages: ::: metak.module.name
            for m in re.finditer(r"^:::[ \t]+([\w.]+)", text, re.M):
                line = text.count("\n", 0, m.start()) + 1
                dotted = m.group(1).split(".")
                for i in range(len(dotted) - 1, 0, -1):
                    source = ".".join(dotted[:i])
                    if source in modules:
                        if modules[source].name != "__init__.py":
                            wanted.append((f"{rel}:{line}", source, dotted[i]))
                        break
    cache = {}

    def bindings(module):
        if module not in cache:
            tree = ast.parse(modules[module].read_text())
            imported, _ = _top_level_bindings(tree)
            used = {n.id for n in ast.walk(tree) if isinstance(n, ast.Name) and not isinstance(n.ctx, ast.Store)}
            cache[module] = imported, used
        return cache[module]

    def home(module, name):
        for _ in range(20):
            if module not in modules:
                return f"{module}.{name}"
            node = bindings(module)[0].get(name)
            if node is None:
                return f"{module}.{name}"
            alias = next(a for a in node.names if (a.asname or a.name) == name)
            module, name = _source_module(module, modules[module].name == "__init__.py", node), alias.name
        return f"{module}.{name}"

    found = []
    for where, module, name in wanted:
        if name not in imports_of.get(module, ()):   # the module does not import it: no need to parse it
            continue
        imported, used = bindings(module)
        if name in imported:
            found.append({"where": where, "module": module, "name": name, "home": home(module, name),
                          "used_there": name in used})
    return found


def test_no_module_re_exports_names_for_compatibility():
    """A moved name is imported from its new home; the old module keeps no shim: no module
    imports a name it never uses itself that another module, a test, a benchmark or a docs
    page then imports from it (an AST check of the bindings), and no ``noqa: F401``
    "re-exported" comment is left outside a package's __init__.py."""
    assert RE_EXPORTS_PENDING == {}, "must stay empty: remove the shim instead"
    shims = [f"{f['where']} imports {f['name']} from {f['module']}, which only re-exports it: import it from "
             f"{f['home'].rsplit('.', 1)[0]}" for f in _imports_not_from_home(ROOT) if not f["used_there"]]
    assert not shims, "re-export shims:\n" + "\n".join(shims)
    comments = [path.relative_to(ROOT).as_posix() for path in sorted(PKG.rglob("*.py")) if path.name != "__init__.py"
                and any("noqa" in line and "F401" in line and "export" in line for line in path.read_text().splitlines())]
    assert not comments, f"re-export comments outside a package's __init__.py: {comments}"


def test_every_name_is_imported_from_its_home():
    """An importer names the module that defines a name (or a package that makes it public),
    never a module that merely imports it too."""
    wrong = [f"{f['where']}: {f['name']} from {f['module']} (its home: {f['home']})" for f in _imports_not_from_home(ROOT)]
    assert not wrong, "import these from their home:\n" + "\n".join(wrong)


def test_the_re_export_check_finds_a_shim_and_its_home(tmp_path):
    """The check itself, on a small package: a moved name left behind as an import (unused,
    or used), imported from the old module by a module, a test, a doctest and a docs page."""
    pkg = tmp_path / "metak"
    (pkg / "sub").mkdir(parents=True)
    (tmp_path / "tests").mkdir()
    (tmp_path / "docs").mkdir()
    (pkg / "__init__.py").write_text("from .home import moved  # noqa: F401  (public API)\n"
                                     "_LAZY = {'moved': ('metak.old', 'moved'), 'f': ('metak.old', 'f')}\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "home.py").write_text("def moved():\n    return 1\n\n\nCONST = 2\n")
    (pkg / "old.py").write_text('"""Old.\n\n>>> from metak.old import CONST\n"""\n'
                                "try:\n    from .home import (  # a comment (with parentheses)\n"
                                "        moved,\n    )\nexcept ImportError:\n    pass\n"
                                "from .home import CONST as KEPT\n\n\ndef f():\n    return KEPT\n")
    (pkg / "sub" / "user.py").write_text("from ..old import moved\nfrom .. import moved as public\n"
                                         "from ..home import CONST\n")
    (tmp_path / "tests" / "test_x.py").write_text("def test():\n    from metak.old import KEPT\n")
    (tmp_path / "docs" / "page.md").write_text("```python\n>>> from metak.old import (moved,\n...     KEPT)\n```\n"
                                               "::: metak.old.moved\n\n::: metak.home.moved\n")
    found = {(f["where"], f["name"], f["home"], f["used_there"]) for f in _imports_not_from_home(tmp_path)}
    assert found == {("metak/sub/user.py:1", "moved", "metak.home.moved", False),
                     ("metak/__init__.py:2", "moved", "metak.home.moved", False),
                     ("tests/test_x.py:2", "KEPT", "metak.home.CONST", True),
                     ("docs/page.md:2", "moved", "metak.home.moved", False),
                     ("docs/page.md:2", "KEPT", "metak.home.CONST", True),
                     ("docs/page.md:5", "moved", "metak.home.moved", False)}, found
    # CONST in the docstring of old.py: old.py binds no CONST (only KEPT), so it is not a shim


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

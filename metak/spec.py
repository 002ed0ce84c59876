"""Analysis specs (contract section 2): YAML -> frozen :class:`AnalysisSpec`.

Validated like trial records: every problem reported with file, line and key path, unknown
keys rejected with a "did you mean" hint, settings checked against the tables below when
the spec is read, so that a typo fails before anything is fitted.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from pathlib import Path

from .effects import BINARY_MEASURES, CC_TO, MEASURES
from .errors import InvalidSpec, Problem, SpecValueError, SpecValueErrors
from .estimators.fit import METHODS, TESTS
from .records.checker import Checker, did_you_mean
from .registry import FIGURE_KINDS, FIGURES, SENSITIVITY, SENSITIVITY_KINDS
from .records.model import ALLOCATIONS, CONTROL_TYPES, DESIGNS, MASKINGS
from .records.yamlload import load_located

SCHEMA_VERSION = 1
MULTI_ARM_RULES = ("split_control", "combine", "select")
#: orders of forest rows and of the cumulative analysis; any characteristic name is allowed too
ORDERS = ("label", "year", "effect", "weight")
SELECT_KEYS = ("design", "condition", "allocation", "masking", "control_type", "trials", "exclude")

TOP_REQUIRED = ("metak", "title", "trials", "meta_analyses")
TOP_OPTIONAL = ("description", "defaults")
DEFAULT_KEYS = ("method", "test", "level", "cc")
MA_OPTIONAL = ("title", "outcome", "fallback_outcomes", "measure", "select", "arms", "multi_arm", "method",
               "test", "level", "cc", "bayes", "sensitivity", "figures", "dropout", "dropout_outcome",
               "moderators", "subgroups", "order", "permutations")


@dataclass(frozen=True)
class CCSpec:
    add: float = 0.5
    to: str = "only0"
    drop00: bool | None = None  # None: False for inverse-variance fits, True for MH/PETO

    def resolved(self, method: str) -> dict:
        drop = self.drop00 if self.drop00 is not None else method in ("MH", "PETO")
        return {"add": self.add, "to": self.to, "drop00": drop}


@dataclass(frozen=True)
class Fallback:
    outcome: str
    complement: bool = False


@dataclass(frozen=True)
class Select:
    design: tuple = ()
    condition: tuple = ()
    allocation: tuple = ()
    masking: tuple = ()
    control_type: tuple = ()
    trials: tuple = ()
    exclude: tuple = ()  # ((trial id, reason), ...)


@dataclass(frozen=True)
class MetaSpec:
    id: str
    measure: str
    method: str
    test: str
    level: float
    cc: CCSpec
    outcome: str | None = None
    title: str | None = None
    fallback_outcomes: tuple = ()
    select: Select = field(default_factory=Select)
    arms: tuple = ()  # ((trial id, (exp ids), (ctl ids)), ...)
    multi_arm: str = "split_control"
    bayes: object = None  # metak.bayes.BayesSpec
    sensitivity: tuple = ()
    figures: tuple = ("forest",)
    dropout: bool = False
    dropout_outcome: str = "dropout"
    #: meta-regression moderators (characteristics or trial fields), in the spec's order
    moderators: tuple = ()
    #: the characteristic or trial field to form subgroups by
    subgroups: str | None = None
    #: row order of forest plots and the cumulative analysis (contract section 5)
    order: str = "label"
    #: permutation test of the meta-regression: (iterations, seed), or None
    permutations: tuple | None = None
    #: (key path, file, line) of keys whose values are checked against the loaded trials
    where: tuple = ()

    def arms_for(self, trial_id: str):
        for tid, exp, ctl in self.arms:
            if tid == trial_id:
                return exp, ctl
        return None

    def has_sensitivity(self, name: str) -> bool:
        return any(e.name == name for e in self.sensitivity)

    def locate(self, key: str):
        """(file, line) of a spec key such as ``moderators[1]``, for error messages."""
        for path, file, line in self.where:
            if path == key:
                return file, line
        return self.where[0][1] if self.where else "", None


@dataclass(frozen=True)
class SensitivityEntry:
    """One ``sensitivity:`` entry: a registered analysis and its (checked) parameters."""

    name: str
    params: tuple = ()  # ((name, value), ...) with the defaults filled in

    @property
    def kwargs(self) -> dict:
        return dict(self.params)


@dataclass(frozen=True)
class AnalysisSpec:
    title: str
    trials: tuple  # paths / globs, relative to the spec's folder
    meta_analyses: tuple
    description: str | None = None
    path: str = ""
    sha256: str = ""
    base: Path = Path(".")


def _string_list(c: Checker, path):
    value = c.get(path)
    if isinstance(value, str):
        return (value,)
    seq = c.sequence(path)
    if seq is None:
        return None
    out = []
    for i, _ in enumerate(seq):
        s = c.string(path + (i,))
        if s is not None:
            out.append(s)
    return tuple(out)


def _cc(c: Checker, path, base: CCSpec) -> CCSpec:
    m = c.mapping(path, optional=("add", "to", "drop00"))
    if m is None:
        return base
    add = c.number(path + ("add",), minimum=0) if "add" in m else base.add
    to = c.enum(path + ("to",), CC_TO) if "to" in m else base.to
    drop = c.boolean(path + ("drop00",)) if "drop00" in m else base.drop00
    return CCSpec(add if add is not None else base.add, to or base.to, drop if "drop00" in m else base.drop00)


def _settings(c: Checker, path, base: dict) -> dict:
    out = dict(base)
    if c.has(path + ("method",)):
        v = c.get(path + ("method",))
        if isinstance(v, str) and v.upper() in METHODS:
            out["method"] = v.upper()
        else:
            c.enum(path + ("method",), METHODS)
    if c.has(path + ("test",)):
        v = c.get(path + ("test",))
        if v == "knha":
            out["test"] = "hksj"
        elif c.enum(path + ("test",), TESTS) is not None:
            out["test"] = v
    if c.has(path + ("level",)):
        lv = c.number(path + ("level",), open_interval=(0, 1))
        if lv is not None:
            out["level"] = lv
    if c.has(path + ("cc",)):
        out["cc"] = _cc(c, path + ("cc",), base["cc"])
    return out


def _select(c: Checker, path) -> Select:
    m = c.mapping(path, optional=SELECT_KEYS)
    if m is None:
        return Select()
    enums = {"design": DESIGNS, "allocation": ALLOCATIONS, "masking": MASKINGS, "control_type": CONTROL_TYPES}
    vals = {}
    for key in SELECT_KEYS[:-1]:
        if key not in m:
            continue
        items = _string_list(c, path + (key,)) or ()
        if key in enums:
            raw = c.get(path + (key,))
            for i, item in enumerate(items):
                if item not in enums[key]:
                    sub = path + (key,) if isinstance(raw, str) else path + (key, i)
                    c.enum(sub, enums[key])
        vals[key] = items
    exclude = ()
    if "exclude" in m:
        raw = c.get(path + ("exclude",))
        if isinstance(raw, dict):
            exclude = tuple((str(k), c.string(path + ("exclude", k)) or "") for k in raw)
        else:
            exclude = tuple((t, "excluded by the analysis spec") for t in (_string_list(c, path + ("exclude",)) or ()))
    return Select(exclude=exclude, **vals)


def _sensitivity(c: Checker, path):
    """Entries checked against the registry: names, then each parameter's declared constraints."""
    seq = c.sequence(path) or []
    out = []
    for i, item in enumerate(seq):
        name, params = item, {}
        if isinstance(item, dict):
            if len(item) != 1:
                c.add(path + (i,), "a sensitivity entry is a name, or a mapping of one name to its parameters")
                continue
            name = next(iter(item))
            params = item[name]
        if not isinstance(name, str) or name not in SENSITIVITY:
            sub = path + (i,) if not isinstance(item, dict) else path + (i, name)
            c.add(sub, f"{name!r} is not one of: {', '.join(SENSITIVITY_KINDS)}{did_you_mean(str(name), SENSITIVITY_KINDS)}")
            continue
        kind = SENSITIVITY[name]
        values = kind.defaults()
        if params not in (None, {}):
            if not isinstance(params, dict):
                c.add(path + (i, name), "parameters must be a mapping, e.g. {by: trial}")
                continue
            if not kind.params:
                c.add(path + (i, name), f"'{name}' takes no parameters in this version of metak")
                continue
            known = tuple(p.name for p in kind.params)
            for key, value in params.items():
                p = kind.param(key)
                if p is None:
                    c.add(path + (i, name, key), f"unknown parameter of {name}{did_you_mean(str(key), known)}; "
                                                 f"allowed: {', '.join(known)}")
                    continue
                problem = p.check(value)
                if problem:
                    c.add(path + (i, name, key), problem)
                else:
                    values[key] = value
        out.append(SensitivityEntry(name, tuple(values.items())))
    return tuple(out)


def _arms(c: Checker, path):
    m = c.get(path)
    if not isinstance(m, dict):
        c.add(path, "must map trial ids to {experimental: arm(s), control: arm(s)}")
        return ()
    out = []
    for tid in m:
        p = path + (tid,)
        if c.mapping(p, ("experimental", "control")) is None:
            continue
        exp = _string_list(c, p + ("experimental",))
        ctl = _string_list(c, p + ("control",))
        if exp and ctl:
            out.append((str(tid), exp, ctl))
    return tuple(out)


def _meta(c: Checker, i: int, defaults: dict) -> MetaSpec | None:
    p = ("meta_analyses", i)
    m = c.mapping(p, ("id",), MA_OPTIONAL)
    if m is None:
        return None
    ma_id = c.ident(p + ("id",))
    settings = _settings(c, p, defaults)
    dropout = bool(c.boolean(p + ("dropout",))) if "dropout" in m else False
    outcome = c.ident(p + ("outcome",)) if "outcome" in m else None
    if not dropout and "outcome" not in m:
        c.add(p, "missing required key 'outcome' (or dropout: true)")
    if dropout and "outcome" in m:
        c.add(p + ("outcome",), "a dropout meta-analysis takes no outcome (it uses randomized - completed)")
    measure = "RR" if dropout else None
    if "measure" in m:
        measure = c.enum(p + ("measure",), MEASURES)
    elif not dropout:
        c.add(p, "missing required key 'measure'")
    if dropout and measure is not None and measure not in BINARY_MEASURES:
        c.add(p + ("measure",), f"dropout is binary: measure must be one of {', '.join(BINARY_MEASURES)}")
    method = settings["method"]
    if measure and method == "PETO" and measure != "OR":
        c.add(p + ("method",) if "method" in m else p, f"method PETO gives an odds ratio; measure {measure} is not possible")
    if measure and method == "MH" and measure not in BINARY_MEASURES:
        c.add(p + ("method",) if "method" in m else p, f"method MH needs a binary measure (OR, RR, RD), not {measure}")
    if method in ("MH", "PETO") and settings["test"] == "hksj":
        where = p + ("test",) if "test" in m else (p + ("method",) if "method" in m else p)
        c.add(where, f"test hksj (Knapp-Hartung) is not defined for method {method}; use test: z")
    fallbacks = []
    for j, item in enumerate(c.sequence(p + ("fallback_outcomes",)) or []):
        fp = p + ("fallback_outcomes", j)
        if c.mapping(fp, ("outcome",), ("complement",)) is None:
            continue
        fo = c.ident(fp + ("outcome",))
        comp = bool(c.boolean(fp + ("complement",))) if "complement" in item else False
        if comp and measure not in ("OR", "RD"):
            c.add(fp + ("complement",), f"the complement of an outcome inverts exactly only for OR and RD, not {measure}: "
                                        "a risk ratio of the complement is a different quantity")
        if fo:
            fallbacks.append(Fallback(fo, comp))
    multi = c.enum(p + ("multi_arm",), MULTI_ARM_RULES) if "multi_arm" in m else "split_control"
    figures = ("forest",)
    if "figures" in m:
        figs = _string_list(c, p + ("figures",)) or ()
        for j, f in enumerate(figs):
            if f not in FIGURE_KINDS:
                c.add(p + ("figures", j), f"{f!r} is not one of: {', '.join(FIGURE_KINDS)}{did_you_mean(f, FIGURE_KINDS)}")
        figures = tuple(figs)
    where = []

    def locate(key_path, name):
        where.append((name, c.doc.file, c.doc.line(key_path)))

    moderators = ()
    if "moderators" in m:
        moderators = _string_list(c, p + ("moderators",)) or ()
        raw = c.get(p + ("moderators",))
        for j, name in enumerate(moderators):
            locate(p + ("moderators",) if isinstance(raw, str) else p + ("moderators", j), f"moderators[{j}]")
        if len(set(moderators)) != len(moderators):
            c.add(p + ("moderators",), "a moderator is named twice")
        if not moderators:
            c.add(p + ("moderators",), "name at least one moderator, e.g. moderators: [latitude]")
    subgroups = None
    if "subgroups" in m:
        subgroups = c.string(p + ("subgroups",))
        locate(p + ("subgroups",), "subgroups")
    order = "label"
    if "order" in m:
        order = c.string(p + ("order",)) or "label"
        locate(p + ("order",), "order")
    permutations = None
    if "permutations" in m:
        permutations = _permutations(c, p + ("permutations",))
        if not moderators:
            c.add(p + ("permutations",), "a permutation test needs moderators: (it tests the meta-regression)")
    locate(p, "meta_analysis")
    if (moderators or "permutations" in m) and method in ("MH", "PETO"):
        c.add(p + ("moderators",), f"method {method} has no meta-regression; use an inverse-variance method "
                                   "(FE, DL, REML, ML, PM, SJ, HE, EB)")
    bayes = None
    if "bayes" in m:
        bayes = _bayes(c, p + ("bayes",), measure, dropout)
    title = c.string(p + ("title",)) if "title" in m else None
    dropout_outcome = c.ident(p + ("dropout_outcome",)) if "dropout_outcome" in m else "dropout"
    sensitivity = _sensitivity(c, p + ("sensitivity",)) if "sensitivity" in m else ()
    if "figures" in m:
        _check_figures(c, p, figures, sensitivity, dropout, bayes, "bayes" in m,
                       {"moderators": bool(moderators), "subgroups": subgroups is not None})
    if None in (ma_id, measure):
        return None
    return MetaSpec(
        id=ma_id, measure=measure, method=method, test=settings["test"], level=settings["level"],
        cc=settings["cc"], outcome=outcome, title=title, fallback_outcomes=tuple(fallbacks),
        select=_select(c, p + ("select",)) if "select" in m else Select(),
        arms=_arms(c, p + ("arms",)) if "arms" in m else (), multi_arm=multi or "split_control",
        bayes=bayes, sensitivity=sensitivity,
        figures=figures, dropout=dropout, dropout_outcome=dropout_outcome or "dropout",
        moderators=tuple(moderators), subgroups=subgroups, order=order, permutations=permutations,
        where=tuple(where),
    )


def _permutations(c: Checker, path):
    """``permutations: 1000`` or ``{iterations: 1000, seed: 1}`` -> (iterations, seed)."""
    raw = c.get(path)
    if isinstance(raw, dict):
        if c.mapping(path, ("iterations",), ("seed",)) is None:
            return None
        n = c.count(path + ("iterations",), minimum=1)
        seed = c.count(path + ("seed",)) if "seed" in raw else 0
        return None if n is None or seed is None else (n, seed)
    n = c.count(path, minimum=1)
    return None if n is None else (n, 0)


def _check_figures(c: Checker, p, figures, sensitivity, dropout, bayes, has_bayes, keys):
    """A figure the spec cannot have fails at once, with its line, instead of after the fitting
    (what each figure needs is in the registry)."""
    names = {e.name for e in sensitivity}
    for j, kind in enumerate(figures):
        fig = FIGURES.get(kind)
        if fig is None or not fig.needs:
            continue
        ok = False
        for need in fig.needs:
            what = need[0]
            if what == "sensitivity":
                ok = need[1] in names
            elif what == "dropout":
                ok = dropout
            elif what == "key":
                ok = keys.get(need[1], False)
            elif bayes is None:
                ok = has_bayes  # the bayes block itself has problems, already reported
            else:
                ok = need[1] is None or bool(getattr(bayes, need[1], ()))
            if ok:
                break
        if not ok:
            c.add(p + ("figures", j), f"the {kind} figure needs {fig.needs_text}")


def _bayes(c: Checker, path, measure, dropout):
    try:
        from .bayes import parse_bayes_spec
    except ImportError as exc:  # pragma: no cover - the package ships metak.bayes
        c.add(path, f"the Bayesian engine is not available: {exc}")
        return None
    block = c.get(path)
    otype = "binary" if dropout or measure in BINARY_MEASURES else "continuous"
    try:
        return parse_bayes_spec(block, measure=measure, outcome_type=otype)
    except SpecValueErrors as exc:  # every problem of the block, each with its line
        for problem in exc.problems:
            c.add(path + problem.path, problem.message)
        return None
    except SpecValueError as exc:
        c.add(path + exc.path, exc.message)
        return None


def parse_spec(doc, sha256: str = "", base: Path | None = None) -> tuple[AnalysisSpec | None, list[Problem]]:
    c = Checker(doc)
    top = c.mapping((), TOP_REQUIRED, TOP_OPTIONAL)
    if top is None:
        return None, c.problems
    if "metak" in top and (isinstance(top["metak"], bool) or top["metak"] != SCHEMA_VERSION):
        c.add(("metak",), f"schema version {top['metak']!r} is not supported; this metak reads version {SCHEMA_VERSION}")
    title = c.string(("title",))
    description = c.string(("description",)) if "description" in top else None
    trials = _string_list(c, ("trials",))
    defaults = {"method": "REML", "test": "z", "level": 0.95, "cc": CCSpec()}
    if "defaults" in top and c.mapping(("defaults",), optional=DEFAULT_KEYS) is not None:
        defaults = _settings(c, ("defaults",), defaults)
    metas = []
    seen = {}
    seq = c.sequence(("meta_analyses",), nonempty=True) or []
    for i, _ in enumerate(seq):
        ms = _meta(c, i, defaults)
        if ms is None:
            continue
        if ms.id in seen:
            c.add(("meta_analyses", i, "id"), f"duplicate meta-analysis id '{ms.id}' (first at meta_analyses[{seen[ms.id]}])")
        seen[ms.id] = i
        metas.append(ms)
    if c.problems:
        return None, sorted(c.problems, key=lambda p: p.line or 0)
    return AnalysisSpec(title=title, trials=trials, meta_analyses=tuple(metas), description=description,
                        path=doc.file, sha256=sha256, base=base or Path(".")), []


def load_spec(path, display: str | None = None) -> AnalysisSpec:
    """Read and validate an analysis spec; raise :class:`InvalidSpec` listing every problem."""
    path = Path(path)
    name = display or str(path)
    doc, problems = load_located(path, name)
    if doc is None:
        raise InvalidSpec(problems)
    spec, problems = parse_spec(doc, hashlib.sha256(path.read_bytes()).hexdigest(), path.parent)
    if problems:
        raise InvalidSpec(problems)
    return spec

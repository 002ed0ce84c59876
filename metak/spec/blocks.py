"""Parsers of the spec's blocks (settings, select, arms, sensitivity, figures, bayes, ...).

Each takes the collecting :class:`~metak.records.checker.Checker` and a key path, adds every
problem it finds with its line, and returns the checked value (or a fallback).
"""

from __future__ import annotations

from ..effects import CC_TO
from ..errors import SpecValueError, SpecValueErrors
from ..records.checker import Checker, did_you_mean
from ..records.model import ALLOCATIONS, CONTROL_TYPES, DESIGNS, MASKINGS
from ..registry import KEYED, SENSITIVITY, SENSITIVITY_KINDS
from ..vocab import BINARY_MEASURES, METHODS, TESTS
from .model import SELECT_KEYS, CCSpec, Select, SensitivityEntry


def _string_list(c: Checker, path):
    value = c.get(path)
    if isinstance(value, str):
        return (value,) if c.string(path) is not None else None
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


def _params(c: Checker, path, kind, params, measure):
    """A registered analysis's parameters checked against their declarations: its values with
    the defaults filled in, or None when the mapping itself is wrong."""
    values = kind.defaults()
    if params in (None, {}):
        missing = [p.name for p in kind.params if p.required]
        if missing:
            c.add(path, f"{kind.name} needs {', '.join(missing)}")
        return values
    required = [p for p in kind.params if p.required]
    if isinstance(params, str) and len(required) == 1 and required[0].kind == "str":
        params = {required[0].name: params}  # the shorthand `glmm: UM.FS` for `glmm: {model: UM.FS}`
    if not isinstance(params, dict):
        c.add(path, "parameters must be a mapping, e.g. " + (
            "{by: trial}" if kind.spec == "sensitivity" else f"{{{kind.params[0].name}: ...}}"))
        return None
    if not kind.params:
        c.add(path, f"'{kind.name}' takes no parameters in this version of metak")
        return None
    known = tuple(p.name for p in kind.params)
    for p in kind.params:
        if p.required and p.name not in params:
            c.add(path, f"missing required key '{p.name}'")
    for key, value in params.items():
        p = kind.param(key)
        if p is None:
            c.add(path + (key,), f"unknown parameter of {kind.name}{did_you_mean(str(key), known)}; "
                                 f"allowed: {', '.join(known)}")
            continue
        if p.kind == "block":
            values[key] = p.parser()(c, path + (key,), value, measure)
            continue
        problem = p.check(value)
        if problem:
            c.add(path + (key,), problem)
        else:
            values[key] = value
    return values


def _sensitivity(c: Checker, path, measure=None):
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
        values = _params(c, path + (i, name), SENSITIVITY[name], params, measure)
        if values is not None and SENSITIVITY[name].checker() is not None:  # the parameters together
            SENSITIVITY[name].checker()(c, path + (i, name), values, {"measure": measure})
        if values is not None:
            out.append(SensitivityEntry(name, tuple(values.items())))
    return tuple(out)


def _keyed(c: Checker, path, meta: dict, measure=None):
    """The registered analyses asked for by their own key of the meta-analysis mapping ``meta``
    (``dose_response: {model: linear}``), each checked by its declared parameters and its own
    ``check``."""
    out = []
    for name, kind in KEYED.items():
        if kind.asked_by:  # asked for by the spec's own keys: its parameters are those keys
            values = _asked(c, path, kind, meta, measure)
            if kind.on_by_default(meta):
                out.append(SensitivityEntry(name, tuple(values.items())))
            continue
        given = meta.get(name)
        if name not in meta:
            # an analysis on by default (kind.default) runs with its defaults, unchecked by the spec
            if kind.on_by_default(meta):
                out.append(SensitivityEntry(name, tuple(kind.defaults().items())))
            continue
        if kind.default and isinstance(given, bool):  # `<name>: false` turns it off, `true` on
            if given:
                if kind.checker() is not None:
                    kind.checker()(c, path + (name,), kind.defaults(), meta)
                out.append(SensitivityEntry(name, tuple(kind.defaults().items())))
            continue
        values = _params(c, path + (name,), kind, meta[name], measure)
        if values is None:
            continue
        check = kind.checker()
        if check is not None:
            check(c, path + (name,), values, meta)
        out.append(SensitivityEntry(name, tuple(values.items())))
    return tuple(out)


def _asked(c: Checker, path, kind, meta: dict, measure) -> dict:
    """The parameters of an analysis asked for by the meta-analysis's own keys (``moderators:``,
    ``subgroups:``, ``bayes:`` ...): each key given is checked by the ``Param`` of the same name
    at ``path + (key,)``, then ``check(checker, path, values, meta)`` with ``path`` the
    meta-analysis's, when any of its keys is given. Defaults fill the rest."""
    values = kind.defaults()
    given = [p for p in kind.params if p.name in meta]
    for p in given:
        if p.kind == "block":
            values[p.name] = p.parser()(c, path + (p.name,), meta[p.name], measure)
            continue
        problem = p.check(meta[p.name])
        if problem:
            c.add(path + (p.name,), problem)
        else:
            values[p.name] = meta[p.name]
    check = kind.checker()
    if check is not None and any(key in meta for key in kind.asked_by):
        check(c, path, values, meta)
    return values


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


def _check_figures(c: Checker, p, figures, meta: dict, sensitivity, analyses, fpath=None):
    """A figure the spec cannot have fails at once, with its line, instead of after the fitting:
    what each figure needs are registered analyses (``FigureKind.needs``), asked for as the
    registry says (:func:`metak.figure_needs.spec_refusal`, the rule ``metak plot`` reads back)."""
    from ..figure_needs import spec_refusal

    for j, kind in enumerate(figures):
        problem = spec_refusal(kind, meta, sensitivity, analyses)
        if problem:
            c.add((fpath or p + ("figures",)) + (j,), problem)


def _bayes(c: Checker, path, measure, dropout):
    try:
        from ..bayes import parse_bayes_spec
    except ImportError as exc:  # pragma: no cover - the package ships metak.bayes
        c.add(path, f"the Bayesian engine is not available: {exc}")
        return None
    block = c.get(path)
    otype = "binary" if dropout or measure in BINARY_MEASURES else "continuous"
    try:
        return parse_bayes_spec(block, measure=measure, outcome_type=otype, dropout=bool(dropout))
    except SpecValueErrors as exc:  # every problem of the block, each with its line
        for problem in exc.problems:
            c.add(path + problem.path, problem.message)
        return None
    except SpecValueError as exc:
        c.add(path + exc.path, exc.message)
        return None


#: keys of the mapping form of ``figures:`` besides ``kinds`` (issue 25)
FIGURE_OPTIONS = ("favours", "arm_labels", "xlim", "font", "width")


def _figure_options(c: Checker, path) -> dict:
    """``figures: {kinds: [forest, funnel], favours: [Favours control, Favours ketamine],
    arm_labels: [Ketamine, Control], xlim: [0.1, 10], font: Arial, width: single_column}``:
    the options every figure of the meta-analysis is drawn with, checked with file, key path and
    line; returns the valid ones."""
    from ..plots._style import SIZES

    out: dict = {}
    for key in ("favours", "arm_labels"):
        if c.has(path + (key,)):
            pair = _string_list(c, path + (key,))
            if pair is not None and len(pair) != 2:
                c.add(path + (key,), "must be two labels [left, right]" if key == "favours"
                      else "must be two names [experimental, control]")
            elif pair is not None:
                out[key] = list(pair)
    if c.has(path + ("xlim",)):
        v = c.get(path + ("xlim",))
        ok = isinstance(v, list) and len(v) == 2 and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in v)
        if not ok or not v[0] < v[1]:
            c.add(path + ("xlim",), f"must be two numbers [low, high] with low < high (on the natural scale, "
                                    f"e.g. [0.1, 10] for an odds ratio), got {v!r}")
        else:
            out["xlim"] = [float(v[0]), float(v[1])]
    if c.has(path + ("font",)):
        f = c.string(path + ("font",))
        if f is not None:
            out["font"] = f
    if c.has(path + ("width",)):
        w = c.get(path + ("width",))
        if isinstance(w, str) and w in SIZES:
            out["width"] = w
        elif isinstance(w, (int, float)) and not isinstance(w, bool) and 20 <= w <= 600:
            out["width"] = float(w)
        else:
            c.add(path + ("width",), f"must be one of {', '.join(SIZES)} or a width in mm (20-600), got {w!r}")
    return out

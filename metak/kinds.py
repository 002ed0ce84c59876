"""The kinds of registered units: :class:`Param` (a declared parameter), :class:`AnalysisKind`
(an analysis: its stage, parameters, record, methods sentence and hooks) and :class:`FigureKind`
(a figure). The entries themselves are in :mod:`metak.registry`. Hooks are named as
``"module:function"`` and imported when used, so this module imports neither SciPy nor matplotlib.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Param:
    """A parameter of a registered analysis, with its declared constraints."""

    name: str
    kind: str  # "int" | "number" | "bool" | "str" | "block"
    default: object = None
    choices: tuple = ()
    minimum: float | None = None
    maximum: float | None = None
    doc: str = ""
    #: the parameter must be given (a keyed analysis's mapping names it)
    required: bool = False
    #: for kind "block": "module:function" parsing the value, ``parse(checker, path, value,
    #: measure) -> parsed | None``; it reports problems on the checker (with their lines)
    parse: str = ""

    def parser(self):
        return _resolve(self.parse)

    def check(self, value) -> str | None:
        """None when ``value`` is allowed, else what is wrong with it (kind "block" is
        checked by its parser)."""
        if self.kind == "block":
            return None
        if self.kind == "bool":
            return None if isinstance(value, bool) else f"must be true or false, got {value!r}"
        if self.kind in ("int", "number"):
            ok = isinstance(value, int) if self.kind == "int" else isinstance(value, (int, float))
            if isinstance(value, bool) or not ok:
                return f"must be {'a whole number' if self.kind == 'int' else 'a number'}, got {value!r}"
            if self.minimum is not None and value < self.minimum:
                return f"must be at least {self.minimum}, got {value!r}"
            if self.maximum is not None and value > self.maximum:
                return f"must be at most {self.maximum}, got {value!r}"
            return None
        if not isinstance(value, str):
            return f"must be text, got {value!r}"
        if self.choices and value not in self.choices:
            return f"{value!r} is not one of: {', '.join(self.choices)}"
        return None


def _takes_meta(hook) -> bool:
    """Whether a methods hook declares a third positional parameter (the meta-analysis's dict)."""
    import inspect

    kinds = (inspect.Parameter.POSITIONAL_ONLY, inspect.Parameter.POSITIONAL_OR_KEYWORD)
    params = [p for p in inspect.signature(hook).parameters.values() if p.kind in kinds]
    return len(params) >= 3


def _resolve(target: str):
    module, name = target.split(":")
    return getattr(importlib.import_module(module), name)


#: the stages of an analysis, in the order the pipeline runs them: "table" transforms the effect
#: table before the fit (its record's ``context()`` returns ``{"table": ...}``), "model" fits its
#: own model, "after_fit" refits the fitted table
STAGES = ("table", "model", "after_fit")


@dataclass(frozen=True)
class AnalysisKind:
    """A registered analysis. ``run(ctx, params)`` returns a frozen record with ``to_dict()``.

    - ``stage``: ``"model"`` fits its own model on the meta-analysis's table (and, for the
      multivariate model, its covariance ``ctx.covariance``); ``"after_fit"`` refits the table
      once the meta-analysis is fitted (``ctx.result``).
    - ``spec``: ``"sensitivity"``: asked for as an entry of ``sensitivity: [...]``, its result
      written under ``sensitivity.<name>``; ``"key"``: asked for by its own key of the
      meta-analysis (``<name>: {params}``), its result written under ``<name>``.
    - ``params`` are checked by the spec parser from their declarations; ``check(checker, path,
      values, meta)`` ("module:function", optional) checks them together and against the rest of
      the meta-analysis mapping ``meta``.
    - ``methods(result_dict, cite)`` ("module:function", optional) is its sentence in the methods
      text, called when its result is in the meta-analysis; a hook declaring a third parameter,
      ``methods(result_dict, cite, ma)``, gets the meta-analysis's results dict too (its settings:
      ``dropout``, ``measure``, ``excluded``) and is called for every meta-analysis, its result
      being None when the analysis wrote none. ``methods_first``: its sentence comes right after
      the model's, before the other analyses' (the Bayesian block's). ``record`` ("module:Class",
      optional) is the record type whose fields give its results.json schema fragment
      (``metak.schema.generate``).
    - ``asked_by``: the spec's existing keys that ask for it (``moderators``, ``bayes`` ...); its
      name is then no key of its own, ``default(meta)`` says whether they ask, its ``params`` are
      those keys (a ``Param`` of the same name, checked at ``<meta-analysis>.<key>``) and
      ``check(checker, path, values, meta)`` gets the meta-analysis's path.
    - ``pooled`` ("module:function", optional), ``pooled(record, meta_object) -> dict``: it replaces
      the pooled numbers; the pipeline writes the keys it returns over the meta-analysis object
      (its record goes where ``pooled`` puts it, not under ``<name>``).
    - A record may have ``context() -> dict``: the Context fields (``table``, ``result``,
      ``covariance``) the analyses after it see; ``run`` returning None writes nothing.
    """

    name: str
    summary: str
    run: str  # "module:function"
    params: tuple[Param, ...] = ()
    needs: str = ""  # what it needs, in words (for the help and the docs)
    stage: str = "after_fit"
    spec: str = "sensitivity"
    check: str = ""
    methods: str = ""
    record: str = ""
    #: "module:function", ``default(meta) -> bool``: runs without its key when true (its key
    #: ``false`` turns it off, ``true`` runs it with the defaults)
    default: str = ""
    #: runs after the other analyses of its stage, with their results in ``ctx.document``
    reads_results: bool = False
    #: the spec's existing keys that ask for it (empty: its own key ``<name>``)
    asked_by: tuple[str, ...] = ()
    #: "module:function" ``pooled(record, meta_object) -> dict``: the keys it replaces
    pooled: str = ""
    #: its results.json key is written as null when it does not run
    null_when_off: bool = False
    #: its methods sentence comes right after the model's, before the other analyses'
    methods_first: bool = False

    def param(self, name: str) -> Param | None:
        return next((p for p in self.params if p.name == name), None)

    def defaults(self) -> dict:
        return {p.name: p.default for p in self.params}

    def runner(self):
        return _resolve(self.run)

    def checker(self):
        return _resolve(self.check) if self.check else None

    def sentence(self):
        return _resolve(self.methods) if self.methods else None

    def describe(self, result, cite, ma: dict) -> str:
        """Its methods text for the meta-analysis ``ma`` whose result (dict, list or None) is
        ``result``: "" without a hook, or when a two-parameter hook has no result to describe."""
        hook = self.sentence()
        if hook is None:
            return ""
        if _takes_meta(hook):
            return hook(result, cite, ma) or ""
        return (hook(result, cite) or "") if result else ""

    def record_type(self):
        return _resolve(self.record) if self.record else None

    def on_by_default(self, meta: dict) -> bool:
        """Whether it runs when the meta-analysis mapping ``meta`` does not name it."""
        return bool(self.default) and bool(_resolve(self.default)(meta))

    @property
    def replaces_pooled(self) -> bool:
        return bool(self.pooled)

    def pooler(self):
        return _resolve(self.pooled) if self.pooled else None


@dataclass(frozen=True)
class FigureKind:
    """A registered figure: ``plot(ma, ax, **options)`` draws one meta-analysis of results.json.

    ``needs`` names the registered analyses it draws, never a spec key (issue 24; the rule that
    reads it is :mod:`metak.figure_needs`): ``("sensitivity", name)``, ``("analysis", name)`` or
    ``("analysis", name, field)`` (that analysis with ``field`` set); any one suffices."""

    name: str
    summary: str
    plot: str  # "module:function"
    needs: tuple = ()
    #: what else it needs of the data or of the analysis's parameters, in words (no spec key)
    note: str = ""

    def plotter(self):
        return _resolve(self.plot)

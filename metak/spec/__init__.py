"""Analysis specs (contract section 2): YAML -> frozen :class:`AnalysisSpec`.

Validated like trial records: every problem reported with file, line and key path, unknown
keys rejected with a "did you mean" hint, settings checked against the tables below when
the spec is read, so that a typo fails before anything is fitted. ``model`` holds the
records, ``blocks`` the parsers of the spec's blocks.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import InvalidSpec, Problem
from ..records.checker import Checker, did_you_mean
from ..records.yamlload import load_located
from ..registry import FIGURE_KINDS, KEYED, SENSITIVITY_KINDS, own_keys  # noqa: F401  (re-exported)
from ..vocab import BINARY_MEASURES, MEASURES, SINGLE_ARM_MEASURES
from .blocks import _arms, _check_figures, _keyed, _select, _sensitivity, _settings, _string_list
from .model import (  # noqa: F401  (re-exported)
    DEFAULT_KEYS, MA_OPTIONAL, MULTI_ARM_RULES, ORDERS, SCHEMA_VERSION, SELECT_KEYS, TOP_OPTIONAL, TOP_REQUIRED,
    AnalysisSpec, CCSpec, Fallback, MetaSpec, Select, SensitivityEntry,
)


def _meta(c: Checker, i: int, defaults: dict) -> MetaSpec | None:
    p = ("meta_analyses", i)
    m = c.mapping(p, ("id",), (*MA_OPTIONAL, *own_keys()))  # and each registered analysis's own key
    if m is None:
        return None
    ma_id = c.ident(p + ("id",))
    settings = _settings(c, p, defaults)
    dropout, dropout_reason = False, "all"
    if "dropout" in m:
        if isinstance(m["dropout"], dict):
            from ..records.model import DROPOUT_REASONS

            if c.mapping(p + ("dropout",), ("reason",)) is not None:
                dropout_reason = c.enum(p + ("dropout", "reason"), ("all",) + DROPOUT_REASONS) or "all"
                dropout = True
        else:
            dropout = bool(c.boolean(p + ("dropout",)))
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
    if measure in ("PAS", "PFT") and not c.has(p + ("cc", "add")) and not c.has(("defaults", "cc", "add")):
        from dataclasses import replace as _replace

        settings["cc"] = _replace(settings["cc"], add=0.0)  # metafor's escalc: add = 0 for PAS and PFT
    if measure in SINGLE_ARM_MEASURES and "arms" in m:
        c.add(p + ("arms",), f"{measure} is a single-arm measure: it pools one arm type, not an experimental vs "
                             "control pair; choose the arms with select: {control_type: [...]} (control arms of "
                             "those types) or leave select.control_type out (the experimental arms)")
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
    analyses = _keyed(c, p, {**m, "multi_arm": multi}, measure)
    crossover_rho = None
    if "crossover" in m:
        if c.mapping(p + ("crossover",), ("rho",)) is not None:
            crossover_rho = c.number(p + ("crossover", "rho"), open_interval=(-1, 1))
        if measure is not None and measure not in ("MD", "SMD"):
            c.add(p + ("crossover",), f"crossover: {{rho}} approximates a paired analysis of continuous outcomes "
                                      f"(MD, SMD), not {measure}")
    mix = None
    if "mix_measures" in m:
        mix = c.enum(p + ("mix_measures",), ("chinn2000",))
        if measure is not None and measure not in ("SMD", "OR"):
            c.add(p + ("mix_measures",), f"mix_measures: chinn2000 converts between log odds ratios and SMDs: the "
                                         f"measure must be SMD or OR, not {measure}")
    if multi == "multivariate":
        # rma.mv(random = ~ 1 | trial/comparison) fits the pooled estimate; the analyses that
        # refit the univariate model would not be the same model, so they are refused for now
        if method not in ("REML", "ML", "FE"):
            c.add(p + ("method",) if "method" in m else p + ("multi_arm",),
                  f"multi_arm: multivariate is fitted by REML, ML or FE, not {method}")
        if "sensitivity" in m:  # moderators, permutations and subgroups: their analyses' checks
            c.add(p + ("sensitivity",), "'sensitivity' is not yet available with multi_arm: multivariate (it would "
                                        "refit a different, univariate model); use multi_arm: split_control for it")
    figures = ("forest",)
    figure_options: tuple = ()
    if isinstance(m.get("figures"), dict):  # {kinds: [...], favours: ..., font: ...} (issue 25)
        from .blocks import FIGURE_OPTIONS, _figure_options

        c.mapping(p + ("figures",), optional=("kinds",) + FIGURE_OPTIONS, what="figures option")
        figure_options = tuple((k, tuple(v) if isinstance(v, list) else v)
                               for k, v in _figure_options(c, p + ("figures",)).items())
        figs = _string_list(c, p + ("figures", "kinds")) if "kinds" in m["figures"] else ("forest",)
        for j, f in enumerate(figs or ()):
            if f not in FIGURE_KINDS:
                c.add(p + ("figures", "kinds", j),
                      f"{f!r} is not one of: {', '.join(FIGURE_KINDS)}{did_you_mean(f, FIGURE_KINDS)}")
        figures = tuple(figs or ())
    elif "figures" in m:
        figs = _string_list(c, p + ("figures",)) or ()
        for j, f in enumerate(figs):
            if f not in FIGURE_KINDS:
                c.add(p + ("figures", j), f"{f!r} is not one of: {', '.join(FIGURE_KINDS)}{did_you_mean(f, FIGURE_KINDS)}")
        figures = tuple(figs)
    where = []

    def locate(key_path, name):
        where.append((name, c.doc.file, c.doc.line(key_path)))

    # moderators:, permutations:, subgroups: and bayes: are the parameters of the analyses they ask
    # for (metak.analyses, their Params), parsed by _keyed; here only where they are (for errors
    # against the loaded trials) and what needs the model's settings
    asked = {e.name: e.kwargs for e in analyses}
    raw = m.get("moderators")
    if isinstance(raw, str):
        locate(p + ("moderators",), "moderators[0]")
    elif isinstance(raw, list):
        for j, _ in enumerate(raw):
            locate(p + ("moderators", j), f"moderators[{j}]")
    if "subgroups" in m:
        locate(p + ("subgroups",), "subgroups")
    order = "label"
    if "order" in m:
        order = c.string(p + ("order",)) or "label"
        locate(p + ("order",), "order")
    locate(p, "meta_analysis")
    for key in ("outcome", "measure", *own_keys()):
        if key in m:
            locate(p + (key,), key)
    if ("moderators" in m or "permutations" in m) and method in ("MH", "PETO"):
        c.add(p + ("moderators",), f"method {method} has no meta-regression; use an inverse-variance method "
                                   "(FE, DL, REML, ML, PM, SJ, HE, EB)")
    # the parsed bayes: block also gives the network's, the blinding analysis's and the shared-bias
    # model's priors (they read MetaSpec.bayes)
    bayes = (asked.get("bayes") or {}).get("bayes")
    title = c.string(p + ("title",)) if "title" in m else None
    dropout_outcome = c.ident(p + ("dropout_outcome",)) if "dropout_outcome" in m else "dropout"
    sensitivity = _sensitivity(c, p + ("sensitivity",), measure) if "sensitivity" in m else ()
    if "figures" in m:
        _check_figures(c, p, figures, {**m, "multi_arm": multi}, sensitivity, analyses,
                       fpath=p + ("figures", "kinds") if isinstance(m["figures"], dict) else None)
    if None in (ma_id, measure):
        return None
    return MetaSpec(
        id=ma_id, measure=measure, method=method, test=settings["test"], level=settings["level"],
        cc=settings["cc"], outcome=outcome, title=title, fallback_outcomes=tuple(fallbacks),
        select=_select(c, p + ("select",)) if "select" in m else Select(),
        arms=_arms(c, p + ("arms",)) if "arms" in m else (), multi_arm=multi or "split_control",
        bayes=bayes, sensitivity=sensitivity,
        figures=figures, figure_options=figure_options, dropout=dropout, dropout_outcome=dropout_outcome or "dropout", dropout_reason=dropout_reason,
        order=order, analyses=analyses, crossover_rho=crossover_rho, mix_measures=mix,
        where=tuple(where), index=i,
    )


def parse_spec(doc, sha256: str = "", base: Path | None = None) -> tuple[AnalysisSpec | None, list[Problem]]:
    c = Checker(doc)
    data = doc.data
    if isinstance(data, dict) and "meta_analyses" not in data and ("arms" in data or "outcomes" in data):
        c.add((), "this is a trial record (it has arms and outcomes), not an analysis spec: `metak analyze` "
                  "takes a spec with trials: and meta_analyses: (check a record with `metak validate`)")
        return None, c.problems
    if isinstance(data, dict) and "simulation" in data and "meta_analyses" not in data:
        c.add((), "this is a simulation spec (it has simulation:), not an analysis spec: run it with "
                  "`metak simulate SPEC --out DIR`")
        return None, c.problems
    if isinstance(data, dict) and not {"metak", "trials", "meta_analyses"} & set(data):
        c.add((), "not a metak analysis spec: it has no 'metak:', 'trials:' or 'meta_analyses:' key at the top")
        return None, c.problems
    top = c.mapping((), TOP_REQUIRED, TOP_OPTIONAL)
    if top is None:
        return None, c.problems
    if "metak" in top and (isinstance(top["metak"], bool) or top["metak"] != SCHEMA_VERSION):
        c.add(("metak",), f"schema version {top['metak']!r} is not supported; this metak reads version {SCHEMA_VERSION}")
    title = c.string(("title",))
    description = c.string(("description",)) if "description" in top else None
    trials = _string_list(c, ("trials",))
    if trials == () and isinstance(top.get("trials"), list):
        c.add(("trials",), "names no trial records: give a folder, a file or a glob, e.g. trials: ../trials")
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
    raw = doc.data.get("trials")
    lines = tuple(doc.line(("trials",) if isinstance(raw, str) else ("trials", i)) for i in range(len(trials)))
    return AnalysisSpec(title=title, trials=trials, meta_analyses=tuple(metas), description=description,
                        path=doc.file, sha256=sha256, base=base or Path("."), trials_lines=lines), []


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

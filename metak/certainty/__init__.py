"""Certainty of the evidence (GRADE) for one meta-analysis: a suggested rating per domain with
the rule and numbers behind it, the authors' overrides with their reasons, the overall
certainty, the optimal (required) information size and the trial sequential monitoring
boundaries as an imprecision aid. Registered as the keyed analysis ``certainty`` (stage
``after_fit``, run after the other analyses of its stage, whose results it reads).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, fields

from ..format import clean
from .size import InformationSize, Sequential, information_size, sequential
from .spec import DOMAINS, LEVELS


@dataclass(frozen=True)
class Number:
    name: str
    value: float | None


@dataclass(frozen=True)
class Criterion:
    """One rule's verdict: the levels it rates down (-1: an explanation that takes one back)."""

    levels: int
    rule: str
    reason: str
    numbers: tuple[Number, ...]


@dataclass(frozen=True)
class Domain:
    #: not_serious | serious | very_serious | not_assessed
    rating: str
    levels: int
    #: "rule" (suggested from the results) or "spec" (the authors' rating, with their reason)
    source: str
    rule: str
    reason: str
    #: the rule's rating and reason when the spec overrides it, else None
    suggested: str | None
    suggested_reason: str | None
    criteria: tuple[Criterion, ...]


@dataclass(frozen=True)
class Domains:
    risk_of_bias: Domain
    inconsistency: Domain
    indirectness: Domain
    imprecision: Domain
    publication_bias: Domain


@dataclass(frozen=True)
class Certainty:
    """results.json ``certainty``: GRADE for randomized trials (start high)."""

    start: str
    overall: str
    levels_down: int
    symbols: str
    domains: Domains
    footnotes: tuple[str, ...]
    mid: float | None
    information_size: InformationSize | None
    tsa: Sequential | None
    notes: tuple[str, ...]

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, float):
        return clean(x)
    return x


def _domain(d: dict, override: dict | None) -> Domain:
    crit = tuple(Criterion(c["levels"], c["rule"], c["reason"],
                           tuple(Number(k, float(v)) for k, v in c["numbers"].items()
                                 if isinstance(v, (int, float)) and not isinstance(v, bool)))
                 for c in d.get("criteria") or ())
    if override is None:
        return Domain(d["rating"], d["levels"], "rule", d["rule"], d["reason"], None, None, crit)
    return Domain(override["rating"], LEVELS[override["rating"]], "spec", "authors_judgement", override["reason"],
                  d["rating"], d["reason"], crit)


def run(ctx, params) -> Certainty:
    from ..sensitivity.refit import benefit_sign
    from . import rules

    ma = ctx.document or {}
    sign = benefit_sign(ma.get("direction") or "higher_is_better")
    mid = params.get("mid")
    notes = []
    info, why = information_size(ctx, ma, sign, mid, params.get("information_size") or {})
    if why:
        notes.append(f"information size: {why}")
    tsa = None
    if info is not None and params.get("tsa", True):
        tsa, why = sequential(ctx, sign, info)
        if why:
            notes.append(f"trial sequential analysis: {why}")
    info_d = None if info is None else {**asdict(info), "reason": None}
    suggested = rules.suggest(ma, sign, mid, info_d if info is not None else {"reason": notes[0] if notes else None},
                              None if tsa is None else asdict(tsa))
    domains = {name: _domain(suggested[name], params.get(name)) for name in DOMAINS}
    as_dicts = {n: asdict(d) for n, d in domains.items()}
    overall, down = rules.overall(as_dicts)
    ctx.warnings.extend(f"certainty: {n}" for n in notes)
    return Certainty("high (randomized trials)", overall, down, rules.SYMBOLS[overall], Domains(**domains),
                     tuple(rules.footnotes(as_dicts)), mid, info, tsa, tuple(notes))


def methods_sentence(result, cite) -> str:
    """The methods text, from what the run recorded (the ``certainty`` record, or its
    results.json value read as it by :func:`metak.typed.record_of`): only the inputs the ratings
    actually read."""
    from ..typed import record_of

    if not result:
        return ""
    c = record_of("certainty", result)
    doms = {f.name: getattr(c.domains, f.name) for f in fields(c.domains)}
    rules_of = {n: {cr.rule for cr in d.criteria or ()} for n, d in doms.items()}
    rob = []
    if any(r.startswith("rob2") and r != "rob2_not_run" for r in rules_of["risk_of_bias"]):
        rob.append("the share of weight from trials at high risk of bias (RoB 2)")
    if any(r.startswith("blinding") for r in rules_of["risk_of_bias"]):
        rob.append("the blinding classification")
    if any(r.startswith("missing_plausible") for r in rules_of["risk_of_bias"]):
        rob.append(f"the plausible worst case of the missing-outcome analysis {cite('guyatt2017')}")
    parts = []
    if rob:
        parts.append("risk of bias from " + _join(rob))
    parts.append("inconsistency from I² and the prediction interval")
    imp = "imprecision from the confidence interval against " + (
        "the minimal important difference" if c.mid is not None else "the null")
    if c.information_size:
        imp += " and the optimal information size"
    parts.append(imp + f" {cite('guyatt2011imprecision')}")
    pb = doms["publication_bias"]
    parts.append("publication bias from the small-study tests" if pb.rating != "not_assessed" else
                 "publication bias not assessable with fewer than 10 studies" if pb.rule == "k<10" else
                 "publication bias not assessed: no small-study test was asked for")
    s = ("The certainty of the evidence was rated with GRADE, starting from high for randomized trials "
         f"{cite('balshem2011')}; each domain's rating was suggested by stated rules from the analyses' results ("
         + "; ".join(parts) + ")")
    given = [n.replace("_", " ") for n, d in doms.items() if d.source == "spec"]
    s += ("; the authors rated " + _join(given) + " themselves, with their reasons") if given else (
        "; indirectness, the authors' judgement, was not rated")
    info = c.information_size
    if info:
        s += (f". The optimal information size ({info.basis}, α = {info.alpha:g}, β = {info.beta:g}) was "
              f"adjusted for heterogeneity by the diversity D² {cite('wetterslev2009')}")
    if c.tsa:
        s += (f"; a trial sequential analysis with Lan-DeMets O'Brien-Fleming monitoring boundaries "
              f"{cite('lan1983')} was used as an aid to judge imprecision, not as a stopping rule")
    return s + "."


def _join(items) -> str:
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]

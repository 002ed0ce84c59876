"""Dropout rates (``dropout_rates`` of results.json): per comparison, each compared side's
dropouts, randomized and rate. In a dropout meta-analysis (``dropout: true``) from its 2x2 tables;
beside an efficacy result from the arms' dropouts (randomized - completed, or a dropouts block),
written only when some comparison gives them."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, between


@dataclass(frozen=True)
class DropoutSide:
    """One compared side: its dropouts and randomized (summed over its arms) and their ratio
    (null when none was randomized)."""

    dropouts: float
    randomized: float
    rate: float | None = between(0, 1)

    to_dict = as_dict


@dataclass(frozen=True)
class DropoutRate:
    trial: str
    label: str
    experimental: DropoutSide
    control: DropoutSide

    to_dict = as_dict


@dataclass(frozen=True)
class DropoutRates:
    """``dropout_rates``: a list in results.json, one entry per comparison."""

    json_array = "rates"
    rates: tuple[DropoutRate, ...]

    to_dict = as_dict


def default(meta: dict) -> bool:
    """Always looked for (the multivariate model writes none)."""
    return meta.get("multi_arm") != "multivariate"


def _side(e, n) -> DropoutSide:
    return DropoutSide(e, n, e / n if n else None)


def from_tables(table) -> DropoutRates:
    """A dropout meta-analysis: each comparison's 2x2 table (dropouts, completers per side)."""
    out = []
    for r in table.rows:
        if r.table is None:
            continue
        a, b, c, d = r.table
        out.append(DropoutRate(r.trial, r.label, _side(a, a + b), _side(c, c + d)))
    return DropoutRates(tuple(out))


def beside(table) -> DropoutRates:
    """Beside an efficacy result: all-cause dropout per compared side of the included
    comparisons whose arms give it (randomized - completed, or a dropouts block)."""
    out = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        if t is None or comp is None:
            continue
        sides = {}
        for role, ids in (("experimental", comp.experimental), ("control", comp.control)):
            arms = [t.arm(a) for a in ids]
            if any(a is None or a.dropouts is None or a.randomized is None for a in arms):
                break
            e, n = sum(a.dropouts for a in arms), sum(a.randomized for a in arms)
            sides[role] = DropoutSide(e, n, e / n)
        if len(sides) == 2:
            out.append(DropoutRate(r.trial, r.label, sides["experimental"], sides["control"]))
    return DropoutRates(tuple(out))


def run(ctx, params) -> DropoutRates | None:
    """The rates of a dropout meta-analysis; beside an efficacy one, None when no arm gives them."""
    if ctx.spec.dropout:
        return from_tables(ctx.table)
    rates = beside(ctx.table)
    return rates if rates.rates else None


def methods_sentence(rates, cite, ma: dict) -> str:
    """The methods sentence of a dropout meta-analysis (``dropout: true`` in the results: the
    registry's ``methods`` hook with the meta-analysis's dict, called whether or not rates were
    written): dropout as its own outcome, and the trials without dropouts in either arm that a
    ratio measure left out (as RevMan does). Rates beside an efficacy result have no sentence."""
    from ..methods_words import names

    if not ma.get("dropout"):
        return ""
    none = [e["trial"] for e in ma.get("excluded") or [] if e.get("reason_code") == "double_zero"]
    return "Dropout was analysed as its own outcome" + (
        f"; trials without dropouts in either arm ({names(none)}) were left out of ratio measures, as RevMan does "
        f"{cite('handbook2023')}" if none and ma["measure"] != "RD" else "") + "."

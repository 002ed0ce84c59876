"""Dropout rates (``dropout_rates`` of results.json): per comparison, each compared side's
dropouts, randomized and rate. In a dropout meta-analysis (``dropout: true``) from its 2x2 tables;
beside an efficacy result from the arms' dropouts (randomized - completed, or a dropouts block),
written only when some comparison gives them."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DropoutSide:
    dropouts: float
    randomized: float
    rate: float | None

    def to_dict(self) -> dict:
        return {"dropouts": self.dropouts, "randomized": self.randomized, "rate": self.rate}


@dataclass(frozen=True)
class DropoutRate:
    trial: str
    label: str
    experimental: DropoutSide
    control: DropoutSide

    def to_dict(self) -> dict:
        return {"trial": self.trial, "label": self.label, "experimental": self.experimental.to_dict(),
                "control": self.control.to_dict()}


@dataclass(frozen=True)
class DropoutRates:
    """``dropout_rates``: a list in results.json, one entry per comparison."""

    rates: tuple[DropoutRate, ...]

    def to_dict(self) -> list[dict]:
        return [r.to_dict() for r in self.rates]


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

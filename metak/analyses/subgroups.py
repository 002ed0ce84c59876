"""Subgroups (``subgroups: <characteristic>``): each subgroup fitted on its own and Cochran's Q
between subgroups (:func:`metak.sensitivity.subgroups.subgroup_analysis`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..sensitivity.subgroups import SubgroupResult


@dataclass(frozen=True)
class Subgroups:
    """The ``subgroups`` object of results.json (contract section 5): the test, and each
    study's subgroup value in the order of ``studies``."""

    result: SubgroupResult
    values: tuple[str | None, ...]

    def to_dict(self) -> dict:
        return {**self.result.to_dict(), "values": list(self.values)}


def default(meta: dict) -> bool:
    """Asked for by ``subgroups:``."""
    return "subgroups" in meta


def run(ctx, params) -> Subgroups:
    from ..effects.design import level_text
    from ..sensitivity.subgroups import subgroup_analysis

    ms, table = ctx.spec, ctx.table
    res = subgroup_analysis(table, ctx.model, ms.subgroups)
    for trial, label, why in res.excluded:
        ctx.warnings.append(f"{label}: {why}")
    if len(res.groups) < 2:
        ctx.warnings.append(f"subgroups: every study has the same {ms.subgroups}; no test for subgroup differences")
    return Subgroups(res, tuple(None if v is None else level_text(v) for v in table.column(ms.subgroups)))


def methods_sentence(sg: dict, cite) -> str:
    """Its sentence in the methods text, when there was a test between subgroups ("" otherwise)."""
    if sg.get("q_between") is None:
        return ""
    return (f"Subgroups by {str(sg['by']).replace('_', ' ')} were compared by Cochran's Q between subgroups "
            f"{cite('borenstein2013')}.")

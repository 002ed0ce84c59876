"""Subgroups (``subgroups: <characteristic>``): each subgroup fitted on its own and Cochran's Q
between subgroups (:func:`metak.sensitivity.subgroups.subgroup_analysis`)."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, flat, from_dict
from ..sensitivity.subgroups import Subgroups as SubgroupTest


@dataclass(frozen=True)
class Subgroups:
    """The ``subgroups`` object of results.json (contract section 5): the test
    (:meth:`metak.sensitivity.subgroups.SubgroupResult.to_dict`, inline), and each study's
    subgroup value in the order of ``studies``."""

    test: SubgroupTest = flat()
    values: tuple[str | None, ...]

    to_dict = as_dict


def default(meta: dict) -> bool:
    """Asked for by ``subgroups:``."""
    return "subgroups" in meta


def parse_by(c, path, value, measure) -> str | None:
    """``subgroups: allocation``: one characteristic or trial field (checked against the loaded
    trials by :mod:`metak.spec.against`)."""
    return c.string(path)


def check(c, path, values, meta: dict) -> None:
    """The multivariate model has no subgroup analysis yet (``path`` is the meta-analysis's)."""
    if meta.get("multi_arm") == "multivariate" and "subgroups" in meta:
        c.add(path + ("subgroups",), "'subgroups' is not yet available with multi_arm: multivariate (it would refit "
                                     "a different, univariate model); use multi_arm: split_control for it")


def run(ctx, params) -> Subgroups:
    from ..effects.design import level_text
    from ..sensitivity.subgroups import subgroup_analysis

    table, by = ctx.table, params["subgroups"]
    res = subgroup_analysis(table, ctx.model, by)
    for trial, label, why in res.excluded:
        ctx.warnings.append(f"{label}: {why}")
    if len(res.groups) < 2:
        ctx.warnings.append(f"subgroups: every study has the same {by}; no test for subgroup differences")
    values = tuple(None if v is None else level_text(v) for v in table.column(by))
    return Subgroups(from_dict(SubgroupTest, res.to_dict()), values)


def methods_sentence(sg: dict, cite) -> str:
    """Its sentence in the methods text, when there was a test between subgroups ("" otherwise)."""
    if sg.get("q_between") is None:
        return ""
    return (f"Subgroups by {str(sg['by']).replace('_', ' ')} were compared by Cochran's Q between subgroups "
            f"{cite('borenstein2013')}.")

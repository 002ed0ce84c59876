"""What a figure needs, as registered analyses (issue 24), and the one rule that reads it.

A :class:`metak.kinds.FigureKind` names the analyses it draws, never a spec key:
``("sensitivity", name)`` (an entry of ``sensitivity: [...]``), ``("analysis", name)`` (an analysis
asked for by its own key or by the spec's existing keys, its ``asked_by``) or
``("analysis", name, field)`` (that analysis with ``field`` set: a parameter of it, a field of its
parsed block parameter, and the same key of its results.json object). Any one need suffices.

Which spec keys ask for an analysis is the analysis's business (``asked_by``, ``default`` in
:mod:`metak.registry`): the spec check (:func:`spec_refusal`) and the availability check of
``metak plot`` and ``AnalysisResults.plot`` (:func:`check_available`, from the results document)
apply the same rule, an analysis asked for / an analysis written.
"""

from __future__ import annotations

from collections.abc import Mapping

from .errors import AnalysisError

TAGS = ("sensitivity", "analysis")


def kind_of(need: tuple):
    """The registered :class:`metak.kinds.AnalysisKind` a need names (KeyError when none)."""
    from .registry import KEYED, SENSITIVITY

    tag, name = need[0], need[1]
    if tag not in TAGS:
        raise KeyError(f"a figure need is ('sensitivity', name) or ('analysis', name[, field]), got {need!r}")
    return (SENSITIVITY if tag == "sensitivity" else KEYED)[name]


def _given(value) -> bool:
    """A key of the spec that asks: present, not false, not an empty list."""
    return value is not None and value is not False and not (isinstance(value, (list, tuple)) and not value)


def asked_by_spec(kind, meta: Mapping) -> bool:
    """Whether the keys of the meta-analysis mapping ``meta`` ask for an analysis with ``asked_by``:
    one of those keys is given and, by itself, its ``default`` says it asks (``moderators:`` asks
    for the meta-regression, ``permutations:`` alone does not; ``dropout: true`` asks for the
    dropout rates, ``multi_arm: multivariate`` for the multivariate model). The same rule reads a
    results document's meta-analysis object, which echoes ``dropout``."""
    return any(_given(meta.get(k)) and kind.on_by_default({k: meta[k]}) for k in kind.asked_by)


def asking_keys(kind) -> tuple[str, ...]:
    """The spec text that asks for an analysis, from the registry: ``sensitivity: [name]``, its
    own key ``name:``, or each of its ``asked_by`` keys that asks by itself."""
    if kind.spec == "sensitivity":
        return (f"sensitivity: [{kind.name}]",)
    if not kind.asked_by:
        return (f"{kind.name}: {{...}}",)
    return tuple(f"{k}:" for k in kind.asked_by if asked_by_spec(kind, {k: True}))


def need_text(need: tuple) -> str:
    """``the subgroups analysis (subgroups:)``: what one need asks for, in words."""
    kind = kind_of(need)
    field = f" with {need[2]}" if len(need) > 2 and need[2] else ""
    keys = " or ".join(asking_keys(kind))
    if kind.default and not kind.asked_by:
        keys += f", or {kind.needs}" if kind.needs.startswith("on by default") else ", or on by default"
    return f"the {kind.name} analysis{field} ({keys})"


def needs_text(needs: tuple) -> str:
    return " or ".join(need_text(n) for n in needs)


def _field(values: Mapping, field: str) -> bool:
    """Whether an analysis's parsed parameters set ``field``: a parameter of that name, or a field
    of a parsed block parameter; a block whose parse failed (None; its problems are reported at
    their lines) does not add a second problem."""
    if field in values:
        return _given(values[field]) and bool(values[field])
    blocks = [v for v in values.values() if v is not None and not isinstance(v, (str, int, float, bool, tuple, list))]
    if not blocks:
        return True
    return any(bool(getattr(v, field, None)) for v in blocks)


def spec_asks(need: tuple, meta: Mapping, sensitivity, analyses) -> bool:
    """Whether the meta-analysis mapping ``meta`` (its parsed ``sensitivity:`` entries and keyed
    ``analyses``) asks for what ``need`` names."""
    kind = kind_of(need)
    if kind.spec == "sensitivity":
        entries = [e for e in sensitivity if e.name == kind.name]
    else:
        entries = [e for e in analyses if e.name == kind.name]
        if kind.asked_by:
            if not asked_by_spec(kind, meta):
                return False
            if not entries:  # asked for, not run as an analysis of its own (dropout with multi_arm:
                return True  # multivariate: the table itself is the dropouts)
        elif not entries:  # its own key given with problems (reported at their lines) still asks
            return kind.name in meta and meta[kind.name] is not False
    if not entries:
        return False
    if len(need) > 2 and need[2]:
        return _field(entries[0].kwargs, need[2])
    return True


def spec_refusal(figure: str, meta: Mapping, sensitivity, analyses) -> str | None:
    """None when the spec asks for an analysis the figure needs, else the problem's message."""
    from .registry import FIGURES

    fig = FIGURES.get(figure)
    if fig is None or not fig.needs:
        return None
    if any(spec_asks(n, meta, sensitivity, analyses) for n in fig.needs):
        return None
    return f"the {figure} figure needs {needs_text(fig.needs)}"


def result_of(need: tuple, ma: Mapping):
    """The results.json object of what ``need`` names in the meta-analysis ``ma`` (None: not
    written)."""
    kind = kind_of(need)
    if kind.spec == "sensitivity":
        block = ma.get("sensitivity")
        out = block.get(kind.name) if isinstance(block, Mapping) else None
    else:
        out = ma.get(kind.name)
    if out is None or (len(need) > 2 and need[2]
                       and not (isinstance(out, Mapping) and out.get(need[2]) not in (None, [], {}))):
        return None
    return out


def check_available(ma: Mapping, figure: str) -> None:
    """Raise :class:`metak.errors.AnalysisError` unless the meta-analysis ``ma`` of a results
    document holds an analysis the figure needs (the rule of :func:`spec_refusal`, read from
    what was written)."""
    from .registry import FIGURES

    fig = FIGURES.get(figure)
    if fig is None or not fig.needs or not isinstance(ma, Mapping):
        return
    if any(result_of(n, ma) is not None for n in fig.needs):
        return
    # an analysis asked for by a key results.json echoes (dropout: true), with no result of its own
    # (the multivariate model writes no dropout rates): the figure reads the meta-analysis itself
    if any(len(n) == 2 and kind_of(n).asked_by and asked_by_spec(kind_of(n), ma) for n in fig.needs):
        return
    raise AnalysisError(f"{figure} plot of meta-analysis {ma.get('id', '?')!r} needs "
                        f"{needs_text(fig.needs)}, which its results do not hold")

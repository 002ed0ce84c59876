"""results.schema.json fragments generated from the analyses' frozen records.

A registered analysis with a ``record`` (``metak.kinds.AnalysisKind.record``) gets its
results.json schema from that record's fields: ``str`` is a string, ``int`` an integer,
``float`` a number, ``bool`` a boolean, ``X | None`` adds null, ``tuple[X, ...]`` is an array
of X, ``dict[str, X]`` an object whose values are X, a bare ``dict`` (``tuple``) an object
(array) left undescribed, and a nested record an object requiring each of its fields. What
types cannot say comes from the field markers of :mod:`metak.schema.record`, read here:

* ``optional()`` (metadata ``optional``): the key is not required;
* ``enum(...)`` (metadata ``enum``): the schema's ``enum`` (with null when the type allows it);
* ``keys(...)`` (metadata ``required``): the keys a ``dict[str, X]`` object always holds;
* ``flat()`` (metadata ``flatten``): the nested record's properties merged into its parent's;
* ``between(lo, hi)`` (metadata ``minimum``/``maximum``/``exclusiveMinimum``): a number's bounds;
* a class attribute ``json_array = "<field>"``: the record is written as that field's array;
* ``tuple[X, X]`` (no ``...``): an array of exactly that many X; a union of several types
  (``int | tuple[int, int]``): ``anyOf`` them.

Keyed analyses are written under ``meta_analyses.items.properties.<name>``: the record's object
(or array, for a ``json_array`` record), null allowed only for a kind with ``null_when_off``
(``bayes``), the key being absent otherwise when the analysis does not run;
``sensitivity:`` ones under ``...properties.sensitivity.properties.<name>``. So the schema is
written once, by the record.

    python -m metak.schema.generate        # rewrites the fragments in results.schema.json

A test (tests/test_protocol.py) fails when the committed schema and the records disagree.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path

SCHEMA = Path(__file__).with_name("results.schema.json")
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def fragment(tp, metadata=None) -> dict:
    """The JSON schema of a record type (or of one field's type, with its field ``metadata``)."""
    out = _fragment(tp)
    if (metadata or {}).get("required"):
        out = {**out, "required": list(metadata["required"])}
    for bound in ("minimum", "maximum", "exclusiveMinimum"):
        if (metadata or {}).get(bound) is not None:
            out = {**out, bound: metadata[bound]}
    values = (metadata or {}).get("enum")
    if values is not None:
        nullable = "null" in out.get("type", ())
        out = {**out, "enum": [*values, *([None] if nullable and None not in values else [])]}
    return out


def _record(tp) -> dict:
    root = getattr(tp, "json_array", None)
    hints = typing.get_type_hints(tp)
    if root:
        return fragment(hints[root])
    required, props = [], {}
    for f in dataclasses.fields(tp):
        if f.metadata.get("flatten"):
            inner = _record(hints[f.name])
            required.extend(inner["required"])
            props.update(inner["properties"])
            continue
        prop = fragment(hints[f.name], f.metadata)
        if not f.metadata.get("optional"):
            required.append(f.name)
        elif f.default is None and isinstance(prop.get("type"), list):  # left out when None
            rest = [t for t in prop["type"] if t != "null"]
            prop = {**prop, "type": rest[0] if len(rest) == 1 else rest}
        props[f.name] = prop
    return {"type": "object", "required": required, "properties": props}


def _fragment(tp) -> dict:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = fragment(args[0]) if len(args) == 1 else {"anyOf": [fragment(a) for a in args]}
        if len(args) == len(typing.get_args(tp)):  # no None: the value is one of them, never null
            return inner
        kind = inner.get("type")
        if isinstance(kind, str):
            return {**inner, "type": [kind, "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is tuple:
        args = typing.get_args(tp)
        if len(args) == 2 and args[1] is Ellipsis:
            return {"type": "array", "items": fragment(args[0])}
        if len(set(args)) != 1:
            raise TypeError(f"no JSON schema for the mixed tuple {tp!r}")
        return {"type": "array", "items": fragment(args[0]), "minItems": len(args), "maxItems": len(args)}
    if origin is dict:  # dict[str, X]: an object whose values are X (e.g. a value per treatment)
        return {"type": "object", "additionalProperties": fragment(typing.get_args(tp)[1])}
    if dataclasses.is_dataclass(tp):
        return _record(tp)
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    if tp is dict:  # another module's object, left undescribed (the record says why)
        return {"type": "object"}
    if tp in (tuple, list):
        return {"type": "array"}
    raise TypeError(f"no JSON schema for {tp!r}")


def fragments() -> dict:
    """``{results.json key of a meta-analysis: fragment}`` for every keyed analysis with a record."""
    from ..registry import KEYED

    out = {}
    for name, kind in KEYED.items():
        if not kind.record:
            continue
        frag = fragment(kind.record_type())
        out[name] = {**frag, "type": [frag["type"], "null"]} if kind.null_when_off else frag
    return out


def sensitivity_fragments() -> dict:
    """``{sensitivity.<name>: fragment}`` for every ``sensitivity:`` analysis, from its record."""
    from ..registry import SENSITIVITY

    return {name: fragment(kind.record_type()) for name, kind in SENSITIVITY.items()}


def studies_fragment() -> dict:
    """``studies``: an array of study rows (:class:`metak.study_rows.StudyRow`)."""
    from ..study_rows import StudyRow

    return {"type": "array", "items": fragment(StudyRow)}


def main() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    props = schema["properties"]["meta_analyses"]["items"]["properties"]
    props.update(fragments())
    props["studies"] = studies_fragment()
    props["sensitivity"]["properties"] = sensitivity_fragments()
    SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

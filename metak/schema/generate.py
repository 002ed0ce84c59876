"""results.schema.json fragments generated from the analyses' frozen records.

A registered analysis with a ``record`` (``metak.registry.AnalysisKind.record``) gets its
results.json schema from that record's fields: ``str`` is a string, ``int`` an integer,
``float`` a number, ``X | None`` adds null, ``tuple[X, ...]`` is an array of X and a nested
record an object requiring each of its fields. So the schema is written once, by the record.

    python -m metak.schema.generate        # rewrites the fragments in results.schema.json

A test fails when the committed schema and the records disagree.
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from pathlib import Path

SCHEMA = Path(__file__).with_name("results.schema.json")
_SCALARS = {str: "string", int: "integer", float: "number", bool: "boolean"}


def fragment(tp) -> dict:
    """The JSON schema of a record type (or of one field's type)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        inner = fragment(args[0]) if len(args) == 1 else {"anyOf": [fragment(a) for a in args]}
        kind = inner.get("type")
        if isinstance(kind, str):
            return {**inner, "type": [kind, "null"]}
        return {"anyOf": [inner, {"type": "null"}]}
    if origin is tuple:
        args = typing.get_args(tp)
        return {"type": "array", "items": fragment(args[0])}
    if origin is dict:  # dict[str, X]: an object whose values are X (e.g. a value per treatment)
        return {"type": "object", "additionalProperties": fragment(typing.get_args(tp)[1])}
    if dataclasses.is_dataclass(tp):
        hints = typing.get_type_hints(tp)
        names = [f.name for f in dataclasses.fields(tp)]
        return {"type": "object", "required": names, "properties": {n: fragment(hints[n]) for n in names}}
    if tp in _SCALARS:
        return {"type": _SCALARS[tp]}
    raise TypeError(f"no JSON schema for {tp!r}")


def fragments() -> dict:
    """``{results.json key of a meta-analysis: fragment}`` for every keyed analysis with a record."""
    from ..registry import KEYED

    return {name: {**fragment(kind.record_type()), "type": ["object", "null"]}
            for name, kind in KEYED.items() if kind.record}


def main() -> None:
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    props = schema["properties"]["meta_analyses"]["items"]["properties"]
    props.update(fragments())
    SCHEMA.write_text(json.dumps(schema, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()

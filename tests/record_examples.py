"""Unit tests write an analysis's result as a few keys; the report, the methods text and the
summary of findings read it as its typed record (metak.typed), which needs every field. This
completes such a partial results.json value: each field it leaves out gets a neutral value
(null where the field may be null, else an empty array or text, 0 or false; a nested record
completed the same way; an optional field left out). A key the record does not declare is kept,
so a test that names a wrong key still fails in the reader."""

from __future__ import annotations

import dataclasses
import types
import typing

from metak.registry import ANALYSES


def _neutral(tp):
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if type(None) in args:
            return None
        return _neutral(args[0])
    if dataclasses.is_dataclass(tp):
        return fill(tp, {})
    if origin in (tuple, list) or tp in (tuple, list):
        return []
    if origin is dict or tp is dict:
        return {}
    return {str: "", int: 0, float: 0.0, bool: False}.get(tp)


def _value(tp, value):
    """``value`` with the records inside it completed."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        if value is None:
            return None
        for arg in typing.get_args(tp):
            if dataclasses.is_dataclass(arg) and isinstance(value, dict):
                return fill(arg, value)
            if typing.get_origin(arg) is tuple and isinstance(value, list):
                return _value(arg, value)
        return value
    if dataclasses.is_dataclass(tp) and isinstance(value, (dict, list)):
        return fill(tp, value)
    if origin is tuple and isinstance(value, list):
        item = typing.get_args(tp)[0]
        return [_value(item, v) for v in value]
    return value


def fill(tp, given):
    """``given`` (a partial value of record type ``tp``) with its missing fields neutral."""
    hints = typing.get_type_hints(tp)
    root = getattr(tp, "json_array", None)
    if root:
        return _value(hints[root], list(given))
    out = dict(given)
    for f in dataclasses.fields(tp):
        h = hints[f.name]
        if f.metadata.get("flatten"):
            inner = fill(h, {k: v for k, v in given.items() if k in {x.name for x in dataclasses.fields(h)}})
            out.update({k: v for k, v in inner.items() if k not in out})
        elif f.name in given:
            out[f.name] = _value(h, given[f.name])
        elif not f.metadata.get("optional"):
            out[f.name] = _neutral(h)
    return out


def complete(name: str, given):
    """A partial results.json value of the registered analysis ``name``, completed."""
    return fill(ANALYSES[name].record_type(), given)

"""Frozen result records: their ``to_dict()``, their construction from the dict an analysis
builds, and the field markers :mod:`metak.schema.generate` reads.

A record's fields, in order, are the keys of its results.json object, so one declaration gives
the object (:func:`as_dict`), its check (:func:`from_dict` refuses a missing or unknown key) and
its schema fragment (:func:`metak.schema.generate.fragment`). Field markers:

* :func:`optional` -- a key written only when set (its default is :data:`ABSENT`); the schema
  does not require it. ``X | None`` on it still allows an explicit null.
* :func:`enum` -- the values a field may take (a status, a side): the schema's ``enum``.
* :func:`keys` -- the keys a ``dict[str, X]`` field always holds: the schema's ``required``.
* :func:`flat` -- a nested record whose keys are written inline in its parent's object
  (``{"rho": 0.5, **fit}``); the schema merges its properties.
* :func:`between` -- a number's bounds (a probability): the schema's ``minimum``/``maximum``.
* a class attribute ``json_array = "<field>"`` -- the result is that field's array (leave-one-out
  writes a list of rows, not an object).
* ``tuple[X, X]`` (a fixed length, e.g. Knapp-Hartung's ``[df1, df2]``) is an array of exactly
  that many X; ``int | tuple[int, int]`` is either (the schema's ``anyOf``).

A bare ``dict`` (or ``tuple``) annotation is an object (array) the record does not describe
further; it is used only where the contents are another module's (a Bayesian posterior, a
meta-regression) and says so in a comment.
"""

from __future__ import annotations

import dataclasses
import functools
import numbers
import types
import typing

import numpy as np

__all__ = ["ABSENT", "as_dict", "between", "enum", "flat", "from_dict", "keys", "optional"]

#: a record type's resolved annotations, computed once per type (typing.get_type_hints re-evaluates
#: every string annotation on each call: 90% of rebuilding a results.json's records, metak.typed)
_hints = functools.lru_cache(maxsize=None)(typing.get_type_hints)


class _Absent:
    """The value of an :func:`optional` field that is not set (its key is not written)."""

    _instance = None

    def __new__(cls):
        if cls._instance is None:
            cls._instance = super().__new__(cls)
        return cls._instance

    def __repr__(self) -> str:
        return "ABSENT"

    def __bool__(self) -> bool:
        return False


ABSENT = _Absent()


def optional(default=ABSENT, **metadata):
    """A field written only when set (its key is left out while it holds ``default``:
    :data:`ABSENT`, or None for a record whose own ``to_dict`` drops a None note);
    ``metadata`` may add ``enum``."""
    return dataclasses.field(default=default, metadata={"optional": True, **metadata})


def enum(*values, **kwargs):
    """A field taking one of ``values`` (written into the schema as its ``enum``)."""
    meta = {"enum": tuple(values), **kwargs.pop("metadata", {})}
    return dataclasses.field(metadata=meta, **kwargs)


def keys(*names):
    """A ``dict[str, X]`` field whose object always holds ``names`` (the schema's ``required``)."""
    return dataclasses.field(metadata={"required": tuple(names)})


def between(minimum=None, maximum=None, *, exclusive_minimum=None, **kwargs):
    """A number within ``[minimum, maximum]`` (the schema's ``minimum`` and ``maximum``), or
    above ``exclusive_minimum`` (``exclusiveMinimum``: a variance)."""
    meta = {"minimum": minimum, "maximum": maximum, "exclusiveMinimum": exclusive_minimum}
    return dataclasses.field(metadata={k: v for k, v in meta.items() if v is not None}, **kwargs)


def flat():
    """A nested record written inline in its parent's object."""
    return dataclasses.field(metadata={"flatten": True})


def _plain(value):
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return value.to_dict() if hasattr(value, "to_dict") else as_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def as_dict(record):
    """The results.json value of ``record``: its fields in order, nested records by their own
    ``to_dict()``, tuples as lists, :data:`ABSENT` optional fields left out, :func:`flat`
    fields merged in."""
    root = getattr(type(record), "json_array", None)
    if root:
        return _plain(getattr(record, root))
    out = {}
    for f in dataclasses.fields(record):
        value = getattr(record, f.name)
        if value is ABSENT or (f.metadata.get("optional") and value is f.default):
            continue
        if f.metadata.get("flatten"):
            out.update(_plain(value))
        else:
            out[f.name] = _plain(value)
    return out


def _names(tp) -> list[str]:
    """The keys a record type's object can hold (flat fields expanded)."""
    hints = _hints(tp)
    out = []
    for f in dataclasses.fields(tp):
        out.extend(_names(hints[f.name]) if f.metadata.get("flatten") else [f.name])
    return out


def _matches(tp, value) -> bool:
    """Whether ``value`` is of type ``tp``'s kind (numbers as JSON Schema has them: an integer
    is a number; NumPy scalars count as Python's)."""
    origin = typing.get_origin(tp) or tp
    if origin in (tuple, list):
        return isinstance(value, (tuple, list))
    if origin is dict or dataclasses.is_dataclass(tp):
        return isinstance(value, dict) or (dataclasses.is_dataclass(tp) and isinstance(value, tp))
    if tp is bool:
        return isinstance(value, (bool, np.bool_))
    if tp in (int, float):
        want = numbers.Integral if tp is int else numbers.Real
        return isinstance(value, want) and not isinstance(value, (bool, np.bool_))
    return not isinstance(tp, type) or isinstance(value, tp)


def from_dict(tp, value, path: str = ""):
    """``value`` (what an analysis built) as a ``tp`` record: nested records, ``tuple[X, ...]``,
    ``dict[str, X]`` and ``X | None`` built from their types. A key the record does not declare,
    or a required one missing, is a TypeError naming where (a record that drifted from its dict)."""
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(tp) if a is not type(None)]
        if value is None:
            if len(args) < len(typing.get_args(tp)):
                return None
            raise TypeError(f"{path or 'value'}: null where {tp} is expected")
        for arg in args:  # the first alternative of the value's own kind (int | tuple[int, ...])
            if _matches(arg, value):
                return from_dict(arg, value, path)
        raise TypeError(f"{path or 'value'}: {value!r} is none of {tp}")
    if value is None:
        raise TypeError(f"{path or 'value'}: null where {getattr(tp, '__name__', tp)} is expected")
    if origin is tuple:
        (item, *_) = typing.get_args(tp)
        _check(tp, value, path)
        return tuple(from_dict(item, v, f"{path}[{j}]") for j, v in enumerate(value))
    if origin is dict:
        item = typing.get_args(tp)[1]
        _check(tp, value, path)
        return {k: from_dict(item, v, f"{path}.{k}") for k, v in value.items()}
    if dataclasses.is_dataclass(tp):
        if isinstance(value, tp):
            return value
        root = getattr(tp, "json_array", None)
        if root:
            return tp(**{root: from_dict(_hints(tp)[root], value, path)})
        if not isinstance(value, dict):
            raise TypeError(f"{path or tp.__name__}: expected an object for {tp.__name__}, got {type(value).__name__}")
        hints = _hints(tp)
        unknown = set(value) - set(_names(tp))
        if unknown:
            raise TypeError(f"{path or tp.__name__}: {tp.__name__} has no field(s) {sorted(unknown)}")
        kwargs = {}
        for f in dataclasses.fields(tp):
            if f.metadata.get("flatten"):
                sub = {k: value[k] for k in _names(hints[f.name]) if k in value}
                kwargs[f.name] = from_dict(hints[f.name], sub, path)
            elif f.name in value:
                kwargs[f.name] = from_dict(hints[f.name], value[f.name], f"{path}.{f.name}")
            elif not f.metadata.get("optional"):
                raise TypeError(f"{path or tp.__name__}: {tp.__name__} needs {f.name!r}")
        return tp(**kwargs)
    _check(tp, value, path)
    if tp in (tuple, list):
        return tuple(value) if isinstance(value, list) else value
    return value


def _check(tp, value, path):
    if not _matches(tp, value):
        raise TypeError(f"{path or 'value'}: {value!r} is not a {getattr(tp, '__name__', tp)}")

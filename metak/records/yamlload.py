"""Load YAML into plain Python data while keeping the line of every key.

PyYAML's node tree carries the line of every key and value; we walk it ourselves instead
of using ``yaml.safe_load`` so that (a) every key path maps to its line for error messages,
(b) duplicate keys are errors instead of silently keeping the last one, and (c) anchors and
aliases are refused, which rules out "billion laughs" alias bombs before anything expands.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Problem

#: Files larger than this are refused unread: no trial record or analysis spec is this big.
MAX_BYTES = 1_000_000


@dataclass
class Located:
    """Plain data from a YAML file plus ``lines``: key path tuple -> 1-based line."""

    data: object
    lines: dict = field(default_factory=dict)
    file: str = ""

    def line(self, path) -> int | None:
        """Line of ``path``, or of its nearest ancestor that has one."""
        path = tuple(path)
        while path:
            if path in self.lines:
                return self.lines[path]
            path = path[:-1]
        return self.lines.get((), 1)

    def problem(self, path, message) -> Problem:
        from ..errors import format_path

        return Problem(self.file, self.line(path), format_path(path), message)


class _Refused(Exception):
    def __init__(self, line, message):
        self.line = line
        self.message = message


def _walk(node, path, lines, constructor):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        out = {}
        for key_node, value_node in node.value:
            if key_node.tag == "tag:yaml.org,2002:merge":
                raise _Refused(key_node.start_mark.line + 1, "YAML merge keys ('<<') are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark.line + 1, "mapping keys must be plain scalars")
            key = constructor.construct_object(key_node)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise _Refused(key_node.start_mark.line + 1, f"duplicate key '{key}'")
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        return [_walk(item, path + (i,), lines, constructor) for i, item in enumerate(node.value)]
    value = constructor.construct_object(node)
    if hasattr(value, "isoformat"):  # dates: keep the text the user wrote
        value = node.value
    return value


class _NoAliasComposer(yaml.SafeLoader):
    """SafeLoader that refuses anchors and aliases while composing."""

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark.line + 1, "YAML aliases ('*name') are not supported in metak files")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(event.start_mark.line + 1, "YAML anchors ('&name') are not supported in metak files")
        return super().compose_node(parent, index)


def load_located(path, display: str | None = None) -> tuple[Located | None, list[Problem]]:
    """Read ``path``; return (Located, []) or (None, problems)."""
    path = Path(path)
    name = display or str(path)
    try:
        size = path.stat().st_size
    except OSError as exc:
        return None, [Problem(name, None, "", f"cannot read file: {exc.strerror or exc}")]
    if size > MAX_BYTES:
        return None, [Problem(name, None, "", f"file is {size} bytes; metak refuses files over {MAX_BYTES} bytes")]
    try:
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        return None, [Problem(name, None, "", f"file is not UTF-8 text ({exc.reason} at byte {exc.start})")]
    except OSError as exc:
        return None, [Problem(name, None, "", f"cannot read file: {exc.strerror or exc}")]
    return loads_located(text, name)


def loads_located(text: str, name: str) -> tuple[Located | None, list[Problem]]:
    """Parse YAML text (see :func:`load_located`)."""
    loader = _NoAliasComposer(text)
    try:
        if not loader.check_node():
            return None, [Problem(name, 1, "", "file is empty")]
        node = loader.get_node()
        if loader.check_node():
            extra = loader.peek_event().start_mark.line + 1
            return None, [Problem(name, extra, "", "file holds more than one YAML document")]
        lines: dict = {}
        data = _walk(node, (), lines, loader)
    except _Refused as exc:
        return None, [Problem(name, exc.line, "", exc.message)]
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(x for x in (exc.context, exc.problem) if x) or "YAML syntax error"
        if "'\\t'" in msg or "\t" in msg:
            return None, [Problem(name, line, "", "a tab character: YAML indents with spaces only; "
                                                  "replace the tab with spaces")]
        return None, [Problem(name, line, "", f"YAML syntax error: {msg}")]
    except yaml.YAMLError as exc:
        return None, [Problem(name, None, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, [Problem(name, None, "", "YAML nesting is too deep")]
    finally:
        loader.dispose()
    if data is None:
        return None, [Problem(name, 1, "", "file is empty")]
    if not isinstance(data, dict):
        kind = type(data).__name__
        return None, [Problem(name, 1, "", f"the document must be a mapping of keys, not a {kind}")]
    return Located(data, lines, name), []


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

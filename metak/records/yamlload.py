"""Load YAML into plain Python data while keeping the line of every key.

PyYAML's node tree carries the line of every key and value; we walk it ourselves instead
of using ``yaml.safe_load`` so that (a) every key path maps to its line for error messages,
(b) duplicate keys are errors instead of silently keeping the last one, and (c) anchors and
aliases are refused, which rules out "billion laughs" alias bombs before anything expands.
"""

from __future__ import annotations

import math
import re
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import Problem

#: Files larger than this are refused unread: no trial record or analysis spec is this big.
MAX_BYTES = 1_000_000
#: Deeper nesting is refused at its line (metak files nest fewer than 10 levels); this also
#: keeps PyYAML's recursive composer far from Python's recursion limit.
MAX_DEPTH = 50
#: A whole number with more digits is refused (no count or measurement is that long; Python
#: will not even convert more than 4,300 digits).
MAX_DIGITS = 100

_TAG = "tag:yaml.org,2002:"
#: The only tags metak reads: YAML's own scalar types and plain mappings and lists. Any other
#: tag (``!!python/object:...``, ``!!binary``, ``!!set``, ``!custom`` ...) is refused.
_SCALAR_TAGS = {_TAG + t for t in ("str", "int", "float", "bool", "null", "timestamp")}
#: Characters YAML does not allow in a file (PyYAML's Reader refuses them with a traceback);
#: also used for text written with escapes, such as "\x07" or a lone "\ud800".
_NOT_ALLOWED = re.compile("[^\x09\x0A\x0D\x20-\x7E\x85\xA0-\uD7FF\uE000-\uFFFD\U00010000-\U0010FFFF]")
#: PyYAML's line breaks, so that the line counted here is the line of its marks.
_BREAK = re.compile("\r\n|[\n\r\x85\u2028\u2029]")
_LEADING_ZERO = re.compile(r"[-+]?0[0-9_]+")
_OCTAL_12 = re.compile(r"0o[0-7]+")  # YAML 1.2's octal form
_C0_NAMES = {0: "NUL", 7: "BEL", 8: "BS", 0x0B: "VT", 0x0C: "FF", 0x1B: "ESC", 0x7F: "DEL"}


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
    def __init__(self, line, message, path=()):
        self.line = line
        self.message = message
        self.path = tuple(path)


def _show_tag(tag: str) -> str:
    tag = tag[len(_TAG):] if tag.startswith(_TAG) else tag
    shown = ("!!" + tag) if not tag.startswith(("!", "tag:")) else tag
    return _clip(shown, 60)


def _clip(text: str, n: int = 40) -> str:
    text = str(text)
    return text if len(text) <= n else text[:n] + f"... ({len(text)} characters)"


def _char(ch: str) -> str:
    """``U+0007 (BEL, a control character)``."""
    code = ord(ch)
    if 0xD800 <= code <= 0xDFFF:
        return f"U+{code:04X} (half of a UTF-16 surrogate pair)"
    if unicodedata.category(ch) == "Cc":
        name = _C0_NAMES.get(code)
        return f"U+{code:04X} ({name + ', ' if name else ''}a control character)"
    return f"U+{code:04X} (a noncharacter)"


def _position(text: str, pos: int) -> tuple[int, int]:
    """1-based (line, column) of ``text[pos]``, counting lines as PyYAML does."""
    line, start = 1, 0
    for m in _BREAK.finditer(text, 0, pos):
        line, start = line + 1, m.end()
    return line, pos - start + 1


def _check_characters(text: str):
    """Refuse a character YAML does not allow in a file, with its line and column."""
    m = _NOT_ALLOWED.search(text)
    if m is not None:
        line, col = _position(text, m.start())
        raise _Refused(line, f"character {_char(m.group())} at column {col} is not allowed in a YAML file; "
                             "delete it")


def _text(value: str, line: int, path) -> str:
    """Text from the file, checked for what escapes can put in it: a surrogate pair written as
    two escapes (as JSON does, ``"\\ud83d\\ude00"``) becomes its character, a lone surrogate or a
    control character other than tab and line breaks is refused."""
    if _NOT_ALLOWED.search(value) is None:  # nearly always: one regex scan, no Python loop
        return value
    if any(0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        try:
            value = value.encode("utf-16-le", "surrogatepass").decode("utf-16-le")
        except UnicodeDecodeError:
            bad = next(ch for ch in value if 0xD800 <= ord(ch) <= 0xDFFF)
            raise _Refused(line, f"text holds a lone surrogate {_char(bad)}, written as an escape: it is not a "
                                 "character and cannot be written to results; remove it, or give the whole pair "
                                 "(e.g. \\ud83d\\ude00)", path) from None
    m = _NOT_ALLOWED.search(value)
    if m is not None:
        raise _Refused(line, f"text holds the character {_char(m.group())}, written as an escape; metak text may "
                             "hold tabs and line breaks but no other control characters", path)
    return value


def _int(text: str, line: int, path):
    """A whole number by YAML 1.2's rules, with YAML 1.1's surprises refused or kept as text."""
    digits = text.replace("_", "")
    sign = -1 if digits[:1] == "-" else 1
    body = digits.lstrip("+-")
    if _LEADING_ZERO.fullmatch(text):
        plain = body.lstrip("0") or "0"
        raise _Refused(line, f"'{_clip(text)}': a number with a leading zero (YAML 1.1 reads 010 as the octal "
                             f"number 8, YAML 1.2 as 10); write {'-' if sign < 0 else ''}{_clip(plain)}, or quote it "
                             f"('{_clip(text)}') if it is text", path)
    if len(body) > MAX_DIGITS:
        raise _Refused(line, f"a number with {len(body)} digits: no count or measurement is that long "
                             "(quote it if it is text)", path)
    try:
        if body[:2] in ("0x", "0X"):
            return sign * int(body[2:], 16)
        if body[:2] in ("0o", "0O"):
            return sign * int(body[2:], 8)
        if body[:2] in ("0b", "0B"):
            return sign * int(body[2:], 2)
        return sign * int(body, 10)
    except ValueError:
        raise _Refused(line, f"'{_clip(text)}' is not a valid !!int value (a whole number)", path) from None


def _scalar(node, constructor, path):
    line = node.start_mark.line + 1
    tag, text = node.tag, node.value
    if tag not in _SCALAR_TAGS:
        raise _Refused(line, f"the tag {_show_tag(tag)} is not supported: metak files hold plain text, numbers, "
                             "true/false and lists and mappings of them; remove the tag", path)
    if tag == _TAG + "str":
        if getattr(node, "plain", False):  # a plain, untagged scalar YAML 1.1 left as text
            if _OCTAL_12.fullmatch(text) or _LEADING_ZERO.fullmatch(text):
                return _int(text, line, path)
        return _text(text, line, path)
    if tag == _TAG + "int":
        if ":" in text:  # YAML 1.1 base 60 (1:55 = 115); YAML 1.2 has none: the text written
            return _text(text, line, path)
        return _int(text, line, path)
    if tag == _TAG + "float" and re.search(r"[0-9]:", text):
        return _text(text, line, path)  # base 60 again (1:30.5)
    try:
        value = constructor.construct_object(node)
    # IndexError: PyYAML's float constructor indexes value[0] of an explicit '!!float' with no text
    except (ValueError, KeyError, AttributeError, TypeError, OverflowError, IndexError, yaml.YAMLError) as exc:
        if tag == _TAG + "timestamp" and constructor.timestamp_regexp.match(text):
            reason = f" ({exc})" if isinstance(exc, ValueError) and str(exc) else ""
            raise _Refused(line, f"'{_clip(text)}' is not a valid date{reason}; correct it, "
                                 "or quote it if it is text", path) from None
        raise _Refused(line, f"'{_clip(text)}' is not a valid {_show_tag(tag)} value", path) from None
    if hasattr(value, "isoformat"):  # dates: keep the text the user wrote
        value = text
    return value


def _safe_key(key: str) -> str:
    """The key, quoted, when it looks like a key; else nothing (a file that is not a metak file
    must not be echoed line by line)."""
    return f" '{key}'" if re.fullmatch(r"[A-Za-z0-9_.-]{1,40}", key) else ""


def _walk(node, path, lines, constructor):
    lines.setdefault(path, node.start_mark.line + 1)
    if isinstance(node, yaml.MappingNode):
        if node.tag != _TAG + "map":
            raise _Refused(node.start_mark.line + 1, f"the tag {_show_tag(node.tag)} is not supported: metak "
                                                     "files hold plain mappings; remove the tag", path)
        out = {}
        first = {}
        for key_node, value_node in node.value:
            if key_node.tag == _TAG + "merge":
                raise _Refused(key_node.start_mark.line + 1, "YAML merge keys ('<<') are not supported")
            if not isinstance(key_node, yaml.ScalarNode):
                raise _Refused(key_node.start_mark.line + 1, "mapping keys must be plain scalars")
            key = _scalar(key_node, constructor, path)
            if not isinstance(key, str):
                key = str(key)
            if key in out:
                raise _Refused(key_node.start_mark.line + 1,
                               f"duplicate key{_safe_key(key)} (first at line {first[key]})")
            first[key] = key_node.start_mark.line + 1
            child = path + (key,)
            lines[child] = key_node.start_mark.line + 1
            out[key] = _walk(value_node, child, lines, constructor)
        return out
    if isinstance(node, yaml.SequenceNode):
        if node.tag != _TAG + "seq":
            raise _Refused(node.start_mark.line + 1, f"the tag {_show_tag(node.tag)} is not supported: metak "
                                                     "files hold plain lists; remove the tag", path)
        return [_walk(item, path + (i,), lines, constructor) for i, item in enumerate(node.value)]
    return _scalar(node, constructor, path)


class _Rules:
    """Composer rules: refuse anchors, aliases and deep nesting while composing, and mark
    plain untagged scalars (``010``, not ``'010'`` or ``!!str 010``), whose type is resolved."""

    _depth = 0

    def compose_node(self, parent, index):
        if self.check_event(yaml.AliasEvent):
            event = self.peek_event()
            raise _Refused(event.start_mark.line + 1, "YAML aliases ('*name') are not supported in metak files")
        event = self.peek_event()
        anchor = getattr(event, "anchor", None)
        if anchor is not None:
            raise _Refused(event.start_mark.line + 1, "YAML anchors ('&name') are not supported in metak files")
        if self._depth >= MAX_DEPTH:
            raise _Refused(event.start_mark.line + 1, f"lists and mappings are nested more than {MAX_DEPTH} levels "
                                                      "deep; metak files need far fewer")
        self._depth += 1
        try:
            node = super().compose_node(parent, index)
        finally:
            self._depth -= 1
        if isinstance(event, yaml.ScalarEvent):
            node.plain = event.tag is None and bool(event.implicit[0])
        return node


class _NoAliasComposer(_Rules, yaml.SafeLoader):
    """PyYAML's pure-Python SafeLoader with metak's rules."""


if getattr(yaml, "__with_libyaml__", False):
    from yaml.cyaml import CParser as _CParser

    class _FastComposer(_Rules, yaml.composer.Composer, _CParser, yaml.constructor.SafeConstructor,
                        yaml.resolver.Resolver):
        """libyaml's parser (about 5 times faster on a large file) under the same Python
        composer, constructor and resolver, so the same rules and values; on a syntax error
        the file is parsed again by :class:`_NoAliasComposer` for PyYAML's messages."""

        def __init__(self, stream):
            _CParser.__init__(self, stream)
            yaml.composer.Composer.__init__(self)
            yaml.constructor.SafeConstructor.__init__(self)
            yaml.resolver.Resolver.__init__(self)
else:  # pragma: no cover
    _FastComposer = None


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


def _parse(text: str, name: str, fast: bool = True):
    """(data, lines, problems) of YAML text: one document of any shape, None when empty."""
    from ..errors import format_path

    loader = None
    fast = fast and _FastComposer is not None
    try:
        _check_characters(text)
        loader = (_FastComposer if fast else _NoAliasComposer)(text)
        if not loader.check_node():
            return None, {}, []
        node = loader.get_node()
        if loader.check_node():
            extra = loader.peek_event().start_mark.line + 1
            return None, {}, [Problem(name, extra, "", "file holds more than one YAML document")]
        lines: dict = {}
        data = _walk(node, (), lines, loader)
    except _Refused as exc:
        return None, {}, [Problem(name, exc.line, format_path(exc.path), exc.message)]
    except yaml.MarkedYAMLError as exc:
        if fast:  # PyYAML's own messages (and its judgement) for a file with a syntax error
            loader.dispose()
            loader = None
            return _parse(text, name, fast=False)
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark is not None else None
        msg = " ".join(x for x in (exc.context, exc.problem) if x) or "YAML syntax error"
        if "'\\t'" in msg or "\t" in msg:
            return None, {}, [Problem(name, line, "", "a tab character: YAML indents with spaces only; "
                                                      "replace the tab with spaces")]
        return None, {}, [Problem(name, line, "", f"YAML syntax error: {msg}")]
    except yaml.reader.ReaderError as exc:  # _check_characters finds these first
        line, col = _position(text, exc.position)
        return None, {}, [Problem(name, line, "", f"character U+{exc.character:04X} at column {col} is not allowed "
                                                  "in a YAML file; delete it")]
    except yaml.YAMLError as exc:
        return None, {}, [Problem(name, None, "", f"YAML error: {exc}")]
    except RecursionError:
        return None, {}, [Problem(name, None, "", "YAML nesting is too deep")]
    finally:
        if loader is not None:
            loader.dispose()
    return data, lines, []


def loads_located(text: str, name: str) -> tuple[Located | None, list[Problem]]:
    """Parse YAML text (see :func:`load_located`)."""
    data, lines, problems = _parse(text, name)
    if problems:
        return None, problems
    if data is None:
        return None, [Problem(name, 1, "", "file is empty")]
    if not isinstance(data, dict):
        kind = type(data).__name__
        return None, [Problem(name, 1, "", f"the document must be a mapping of keys, not a {kind}")]
    return Located(data, lines, name), []


def loads_value(text: str, name: str) -> tuple[object, list[Problem]]:
    """YAML text given on a command line (e.g. ``metak batch --bayes``) -> (value, problems):
    the rules of :func:`load_located` (no aliases, tags, control characters ...), but any
    value, and None for empty text."""
    data, _, problems = _parse(text or "", name)
    return data, problems


def is_finite_number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool) and math.isfinite(x)

"""A small declarative checker that collects every problem in a file.

Each ``check_*`` method looks at one key path of a :class:`Located` document, records a
:class:`~metak.errors.Problem` (file, line, key path, message) when the value is wrong and
returns the value, or ``None`` when it is missing or wrong, so that callers can go on and
report every problem in the file at once.
"""

from __future__ import annotations

import difflib
import itertools
import math
import re

from ..errors import Problem
from .yamlload import Located

ID_PATTERN = re.compile(r"[a-z0-9_-]+")
#: no trial arm or event count is larger; a bigger number is a typo (and would overflow)
MAX_COUNT = 100_000_000
#: means, SDs, doses and contrast values beyond this are typos, not measurements
MAX_ABS = 1e12
_MISSING = object()


#: "did you mean" looks through at most this many choices (a record with thousands of arms
#: and thousands of unknown keys must not take minutes: each lookup is linear in the choices)
MAX_HINT_CHOICES = 200
#: and one file spends at most this many comparisons on hints in all
HINT_BUDGET = 50_000
#: a message lists at most this many allowed values
MAX_LISTED = 25


def close_match(word, choices):
    """The closest of ``choices`` to ``word`` (difflib, cutoff 0.6), or None; None too when
    there are more than MAX_HINT_CHOICES choices."""
    choices = choices if isinstance(choices, (list, tuple)) else list(choices)
    if len(choices) > MAX_HINT_CHOICES:
        return None
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices) -> str:
    close = close_match(word, choices)
    return f" (did you mean '{close}'?)" if close else ""


def listing(values, limit: int = MAX_LISTED) -> str:
    """``a, b, c``; beyond ``limit`` values, the first ones and ``... and N more``."""
    n = len(values)
    first = [str(v) for v in itertools.islice(values, min(n, limit))]  # not all: called once per problem
    if n <= limit:
        return ", ".join(first)
    return ", ".join(first) + f", ... and {n - limit} more"


def _describe(value) -> str:
    if isinstance(value, str):
        return repr(value)
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and math.isnan(value):
        return "NaN"
    if isinstance(value, (list, dict)):
        return "a list" if isinstance(value, list) else "a mapping"
    if value is None:
        return "empty (null)"
    return str(value)


class Checker:
    def __init__(self, doc: Located):
        self.doc = doc
        self.problems: list[Problem] = []
        self._hint_budget = HINT_BUDGET

    def hint(self, word, choices) -> str:
        """`` (did you mean 'x'?)`` or nothing, within this file's budget of comparisons."""
        close = self.close(word, choices)
        return f" (did you mean '{close}'?)" if close else ""

    def close(self, word, choices):
        n = len(choices)
        if n > self._hint_budget:
            return None
        self._hint_budget -= n
        return close_match(word, choices)

    # -- plumbing ---------------------------------------------------------------------------
    def add(self, path, message):
        self.problems.append(self.doc.problem(tuple(path), message))

    def get(self, path, default=_MISSING):
        node = self.doc.data
        for part in path:
            if isinstance(node, dict) and isinstance(part, str) and part in node:
                node = node[part]
            elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
                node = node[part]
            else:
                return default
        return node

    def has(self, path) -> bool:
        return self.get(path) is not _MISSING

    # -- structure --------------------------------------------------------------------------
    def mapping(self, path, required=(), optional=(), *, what="key", aliases=None):
        """Check that ``path`` is a mapping with only the given keys; return it or None.

        ``aliases`` maps common wrong keys to the right one (``n`` -> ``total``) for the hint."""
        value = self.get(path)
        if value is _MISSING:
            return None
        if not isinstance(value, dict):
            self.add(path, f"must be a mapping of keys, got {_describe(value)}")
            return None
        allowed = list(required) + list(optional)
        for key in value:
            if key not in allowed:
                guess = (aliases or {}).get(key)
                guess = guess if guess in allowed and guess not in value else self.close(key, allowed)
                hint = f" (did you mean '{guess}'?)" if guess else ""
                self.add(tuple(path) + (key,), f"unknown {what}{hint}; allowed: {listing(allowed)}")
        for key in required:
            if key not in value:
                self.add(path, f"missing required key '{key}'")
        return value

    def sequence(self, path, *, required=False, nonempty=False):
        value = self.get(path)
        if value is _MISSING:
            if required:
                self.add(path[:-1], f"missing required key '{path[-1]}'")
            return None
        if not isinstance(value, list):
            self.add(path, f"must be a list, got {_describe(value)}")
            return None
        if nonempty and not value:
            self.add(path, "must not be empty")
        return value

    # -- scalars ----------------------------------------------------------------------------
    def string(self, path, *, required=False, pattern=None, pattern_text=""):
        value = self.get(path)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or not value.strip():
            self.add(path, f"must be non-empty text, got {_describe(value)}")
            return None
        if pattern is not None and not pattern.fullmatch(value):
            self.add(path, f"{value!r} is not a valid id: {pattern_text}")
            return None
        return value

    def ident(self, path):
        return self.string(path, pattern=ID_PATTERN, pattern_text="use only a-z, 0-9, '_' and '-'")

    def enum(self, path, values):
        value = self.get(path)
        if value is _MISSING:
            return None
        if not isinstance(value, str) or value not in values:
            self.add(path, f"{_describe(value)} is not one of: {listing(values)}{self.hint(value, values)}")
            return None
        return value

    def boolean(self, path):
        value = self.get(path)
        if value is _MISSING:
            return None
        if not isinstance(value, bool):
            self.add(path, f"must be true or false, got {_describe(value)}")
            return None
        return value

    def count(self, path, *, minimum=0):
        """A whole number of participants or events (rejects floats, NaN, inf, text, bools)."""
        value = self.get(path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path, f"must be a whole number, got {_describe(value)}")
            return None
        if isinstance(value, float):
            if not math.isfinite(value):
                self.add(path, f"must be a whole number, got {_describe(value)}")
            else:
                self.add(path, f"must be a whole number, got {value} (write counts without a decimal point)")
            return None
        if value > MAX_COUNT:
            self.add(path, f"{value} is implausibly large for a count (more than {MAX_COUNT:,})")
            return None
        if value < minimum:
            if minimum == 0:
                self.add(path, f"must not be negative, got {value}")
            else:
                self.add(path, f"must be at least {minimum}, got {value}")
            return None
        return value

    def number(self, path, *, positive=False, minimum=None, open_interval=None):
        value = self.get(path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            self.add(path, f"must be a number, got {_describe(value)}")
            return None
        if not math.isfinite(value):
            self.add(path, f"must be a finite number, got {_describe(value)}")
            return None
        if abs(value) > MAX_ABS:
            self.add(path, f"{value} is implausibly large (more than {MAX_ABS:g} in absolute value)")
            return None
        if positive and value <= 0:
            self.add(path, f"must be greater than 0, got {value}")
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"must be at least {minimum}, got {value}")
            return None
        if open_interval is not None:
            lo, hi = open_interval
            if not lo < value < hi:
                self.add(path, f"must be between {lo} and {hi} (exclusive), got {value}")
                return None
        return float(value)

    def require(self, path, key):
        if self.get(tuple(path) + (key,)) is _MISSING:
            self.add(path, f"missing required key '{key}'")
            return False
        return True

    def whole(self, path, *, minimum=None, maximum=None):
        """A whole number written as one (rejects 3.0, NaN, inf, text, bools) within
        ``minimum``..``maximum`` (inclusive; None: no bound). :meth:`count` is this for counts
        of participants and events; this one is for settings such as a seed or a number of
        replicates."""
        value = self.get(path)
        if value is _MISSING:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            extra = " (write it without a decimal point)" if isinstance(value, float) and math.isfinite(value) else ""
            self.add(path, f"must be a whole number, got {_describe(value)}{extra}")
            return None
        if minimum is not None and value < minimum:
            self.add(path, f"must be at least {minimum}, got {value}")
            return None
        if maximum is not None and value > maximum:
            self.add(path, f"must be at most {maximum:,}, got {value:,}")
            return None
        return value

    def numbers(self, path, *, whole=False, default=None, **bounds):
        """One number or a non-empty list of them (``k: 5`` or ``k: [3, 5, 10]``): the list of
        values, each checked by :meth:`whole` (``whole=True``) or :meth:`number` with ``bounds``
        and reported at its own index; ``default`` when the key is missing, None when any value
        is wrong."""
        value = self.get(path)
        if value is _MISSING:
            return default
        check = self.whole if whole else self.number
        if not isinstance(value, list):
            one = check(path, **bounds)
            return None if one is None else [one]
        if not value:
            self.add(path, "must list at least one value")
            return None
        out = [check(tuple(path) + (i,), **bounds) for i in range(len(value))]
        return None if None in out else out

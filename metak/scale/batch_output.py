"""``metak batch``'s output: results.parquet and results.csv written together, with text
cells a spreadsheet would take for a formula made safe in the CSV (CSV injection)."""

from __future__ import annotations

from pathlib import Path

from ..errors import MetakError


def write(table, out: Path) -> list[Path]:
    """results.parquet and results.csv, committed into ``out`` together (:mod:`metak.outputs`:
    a full disk or an interrupt leaves ``out`` as it was)."""
    import io

    from ..outputs import write as write_all

    try:
        buf = io.BytesIO()
        table.to_parquet(buf, index=False)
    except ImportError:  # pragma: no cover
        raise MetakError("writing Parquet needs pyarrow: pip install 'metak[scale]'") from None
    safe = csv_safe(table)
    # Python's csv writer quotes a field holding "\n" but not one holding a bare "\r" when lines
    # end in "\n"; such a field would split its row. Only then, lines end in "\r\n" (RFC 4180),
    # which makes the writer quote it.
    cr = any(safe[c].map(lambda x: isinstance(x, str) and "\r" in x).any() for c in _text_columns(safe))
    text = safe.to_csv(index=False, float_format="%.17g", lineterminator="\r\n" if cr else "\n")
    return write_all(out, {"results.parquet": buf.getvalue(), "results.csv": text.encode("utf-8")})


#: a text cell starting with one of these is read as a formula by spreadsheets
FORMULA_START = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = None


def csv_safe_text(value):
    """A text cell that a spreadsheet would take for a formula, with a leading apostrophe
    (OWASP's CSV-injection advice): ``=HYPERLINK(...)`` -> ``'=HYPERLINK(...)``. Text that is a
    plain number (``-1``, ``+2.5e3``) is no formula and stays as it is; non-text passes through."""
    global _NUMBER
    if not isinstance(value, str) or not value.startswith(FORMULA_START):
        return value
    if _NUMBER is None:
        import re

        _NUMBER = re.compile(r"[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?")
    return value if _NUMBER.fullmatch(value) else "'" + value


def _text_columns(table):
    return [c for c in table.columns if table[c].dtype == object or str(table[c].dtype) in ("string", "str")]


def csv_safe(table):
    """The table with csv_safe_text applied to its text columns (meta_id, error); number columns
    untouched, so that a negative estimate stays a number. results.parquet keeps the text as is."""
    text = _text_columns(table)
    if not text:
        return table
    table = table.copy()
    for c in text:
        table[c] = table[c].map(csv_safe_text)
    return table

"""``metak batch``'s input: the long-format table (CSV read as UTF-8 text, or Parquet) and each
row's effect size: ``yi, vi`` as given, or computed by escalc from binary (``ai, n1i, ci,
n2i``) or continuous (``m1i, sd1i, n1i, m2i, sd2i, n2i``) arm data. A bad cell fails its own
row with the reason; a missing column is an error naming it."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import MetakError


BINARY = ("ai", "n1i", "ci", "n2i")
CONTINUOUS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")


def read_table(path: Path):
    """The table of a .csv (UTF-8) or .parquet file; anything unreadable is a MetakError naming
    the file. CSV cells are read as written (no "NA"/"nan"/"NULL" to missing conversion): the
    text ``nan`` is an id like any other, and an empty cell is empty text."""
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError:  # pragma: no cover
            raise MetakError("reading Parquet needs pyarrow: pip install 'metak[scale]'") from None
        except MemoryError:
            raise
        except Exception as exc:  # pyarrow.ArrowInvalid, OSError, ...: not a Parquet file we can read
            raise MetakError(f"{path}: not a readable Parquet file ({_first_line(exc)})") from None
    if path.suffix.lower() in (".csv", ".txt"):
        _check_utf8_text(path)
        try:
            return pd.read_csv(path, dtype={"meta_id": str}, encoding="utf-8", keep_default_na=False,
                               na_filter=False)
        except pd.errors.EmptyDataError:
            raise MetakError(f"{path}: the file is empty (expected a header line such as meta_id,yi,vi)") from None
        except UnicodeDecodeError as exc:
            raise MetakError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}); save the table "
                             "as UTF-8 CSV") from None
        except pd.errors.ParserError as exc:
            raise MetakError(f"{path}: not a readable CSV table ({_first_line(exc)})") from None
        except OSError as exc:
            raise MetakError(f"{path}: cannot read ({exc.strerror or exc})") from None
    raise MetakError(f"{path}: give a .csv or .parquet table, or a folder of analysis specs")


def _check_utf8_text(path: Path, size: int = 1 << 16):
    """A MetakError naming the file unless its first ``size`` bytes are UTF-8 text (UTF-16,
    Latin-1 and binary files fail here, before pandas' tokenizer guesses at them)."""
    import codecs

    try:
        with open(path, "rb") as fh:
            head = fh.read(size)
    except OSError as exc:
        raise MetakError(f"{path}: cannot read ({exc.strerror or exc})") from None
    hint = "; save the table as UTF-8 CSV"
    if head.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE, codecs.BOM_UTF32_LE, codecs.BOM_UTF32_BE)):
        raise MetakError(f"{path}: not a UTF-8 text file (it starts with a UTF-16/UTF-32 byte-order mark){hint}")
    if b"\0" in head:
        raise MetakError(f"{path}: not a UTF-8 text file (it holds NUL bytes: binary data or UTF-16){hint}")
    try:
        codecs.getincrementaldecoder("utf-8")().decode(head, final=len(head) < size)
    except UnicodeDecodeError as exc:
        raise MetakError(f"{path}: not a UTF-8 text file (byte {exc.start}: {exc.reason}){hint}") from None


def _first_line(exc) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def effect_sizes(df, measure: str | None):
    """(meta_id array, yi, vi, row errors) from the table's columns."""
    import pandas as pd

    from ..effects.escalc import escalc_binary, escalc_continuous

    cols = set(df.columns)
    if "meta_id" not in cols:
        raise MetakError("the input has no column 'meta_id' (one row per study, meta_id naming its meta-analysis)")
    num = lambda c: pd.to_numeric(df[c], errors="coerce").to_numpy(float)  # noqa: E731
    bad = np.zeros(len(df), dtype=object)
    bad[:] = ""

    def flag(name, arr):
        raw = df[name]
        for i in np.flatnonzero(arr != arr):  # NaN after coercion
            cell = raw.iloc[i]
            if _blank(cell):
                bad[i] = bad[i] or f"row {i + 1}: {name} is empty"
            else:
                bad[i] = bad[i] or f"row {i + 1}: non-numeric {name} {cell!r}"

    if {"yi", "vi"} <= cols:
        yi, vi = num("yi"), num("vi")
        flag("yi", yi)
        flag("vi", vi)
    elif set(BINARY) <= cols or set(CONTINUOUS) <= cols:
        kind = BINARY if set(BINARY) <= cols else CONTINUOUS
        arrays = {c: num(c) for c in kind}
        for c, a in arrays.items():
            flag(c, a)
        meas = df["measure"].astype(str).str.strip().str.upper().to_numpy() if "measure" in cols else None
        if meas is None and measure is None:
            raise MetakError("arm-level data need a 'measure' column or --measure (OR, RR, RD, MD or SMD)")
        meas = meas if meas is not None else np.full(len(df), measure.upper())
        yi = np.full(len(df), np.nan)
        vi = np.full(len(df), np.nan)
        for mname in dict.fromkeys(meas.tolist()):
            rows = meas == mname
            if not mname:
                for i in np.flatnonzero(rows):
                    bad[i] = bad[i] or f"row {i + 1}: measure is empty"
                continue
            with np.errstate(all="ignore"):
                if kind is BINARY:
                    if mname not in ("OR", "RR", "RD"):
                        for i in np.flatnonzero(rows):
                            bad[i] = bad[i] or f"row {i + 1}: measure {mname} is not OR, RR or RD for binary data"
                        continue
                    a, n1, c, n2 = (arrays[x][rows] for x in BINARY)
                    y, v = escalc_binary(mname, a, n1 - a, c, n2 - c)
                else:
                    if mname not in ("MD", "SMD"):
                        for i in np.flatnonzero(rows):
                            bad[i] = bad[i] or f"row {i + 1}: measure {mname} is not MD or SMD for continuous data"
                        continue
                    y, v = escalc_continuous(mname, *(arrays[x][rows] for x in CONTINUOUS))
            yi[rows], vi[rows] = y, v
    else:
        have = sorted(cols)
        need = [c for c in ("yi", "vi") if c not in cols]
        raise MetakError(f"the input is missing column(s) {', '.join(need)}: give yi and vi, or ai, n1i, ci, n2i, or "
                         f"m1i, sd1i, n1i, m2i, sd2i, n2i (columns found: {', '.join(have)})")
    for i in np.flatnonzero((bad == "") & ~(np.isfinite(vi) & (vi > 0))):
        bad[i] = f"row {i + 1}: vi = {vi[i]:g} is not > 0" if np.isfinite(vi[i]) else f"row {i + 1}: no effect size"
    for i in np.flatnonzero((bad == "") & ~np.isfinite(yi)):
        bad[i] = f"row {i + 1}: yi is not finite"
    # meta_id as text, read without NA conversion: "nan" and "NA" are ids of their own. A row
    # without one belongs to no meta-analysis: such rows are gathered under the empty id and
    # fail there (never pooled and fitted), naming the first of them
    raw_ids = df["meta_id"]
    ids = raw_ids.astype(str).to_numpy(dtype=object)
    blank = raw_ids.isna().to_numpy() | (raw_ids.astype(str).str.strip() == "").to_numpy()
    if blank.any():
        rows = np.flatnonzero(blank)
        ids[rows] = ""
        msg = (f"row {rows[0] + 1}: meta_id is empty ({rows.size} row(s) without a meta_id, rows "
               f"{', '.join(str(i + 1) for i in rows[:5])}{', ...' if rows.size > 5 else ''}; none of them is fitted)")
        bad[rows] = msg
    return ids, yi, vi, bad


def _blank(cell) -> bool:
    """An empty cell: missing, NaN, or text of blanks only."""
    if cell is None:
        return True
    if isinstance(cell, str):
        return not cell.strip()
    try:
        return bool(cell != cell)
    except (TypeError, ValueError):  # pragma: no cover
        return False

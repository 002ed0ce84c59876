"""``metak batch``: fit every meta-analysis of a long-format table (CSV or Parquet) or of a
folder of analysis specs, and write one row per meta-analysis to results.parquet and
results.csv.

Input rows: ``meta_id`` and either ``yi, vi``; or ``ai, n1i, ci, n2i`` (binary, with a
``measure`` column or ``--measure``: OR, RR, RD); or ``m1i, sd1i, n1i, m2i, sd2i, n2i``
(continuous: MD, SMD). A row with vi <= 0 or a non-numeric value fails only its own
meta-analysis, with the reason in ``error``; a missing column is an error naming it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import MetakError

COLUMNS = ("meta_id", "k", "estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2",
           "q", "q_p", "error")
#: with --bayes, after COLUMNS: the exact posterior of each meta-analysis (names as summary.csv's)
BAYES_COLUMNS = ("bayes_mu_mean", "bayes_mu_median", "bayes_mu_ci_lower", "bayes_mu_ci_upper", "bayes_pi_lower",
                 "bayes_pi_upper", "bayes_tau_median", "bayes_prob_mu_gt_0")
BINARY = ("ai", "n1i", "ci", "n2i")
CONTINUOUS = ("m1i", "sd1i", "n1i", "m2i", "sd2i", "n2i")
#: the measures of arm-level rows (--measure, or a measure column)
BATCH_MEASURES = ("OR", "RR", "RD", "MD", "SMD")
#: meta-analyses per partition (a fixed size, so the partitioning never depends on the workers)
PARTITION = 10_000


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


def pack(ids, yi, vi, bad):
    """(order of meta ids, index of each row's meta-analysis, slot of each row within it, k,
    errors): meta-analyses in order of first appearance, rows in input order. Nothing is
    padded here: see :func:`partitions`."""
    import pandas as pd

    codes, uniques = pd.factorize(np.asarray(ids, dtype=object), sort=False)
    order = [str(m) for m in uniques]
    idx = codes.astype(np.int64)
    k = np.bincount(idx, minlength=len(order))
    # slot of each row within its meta-analysis, in input order (a stable sort by meta-analysis)
    by_meta = np.argsort(idx, kind="stable")
    slot = np.empty(len(idx), dtype=np.int64)
    slot[by_meta] = np.arange(len(idx)) - np.repeat(np.cumsum(k) - k, k)
    errors = [""] * len(order)
    for i in np.flatnonzero(bad != ""):
        j = idx[i]
        errors[j] = errors[j] or str(bad[i])
    return order, idx, slot, k, errors


#: cells (meta-analyses x padded width) of one partition at most: a partition of long
#: meta-analyses holds fewer of them, so that its arrays stay a few tens of MB
PARTITION_CELLS = 1 << 21


def width(k):
    """The padded width of a meta-analysis of k studies: k itself up to 16, above that the next
    step of a ladder rising by 2^(1/4) (at most 19% of padding). It depends on k alone, so a
    meta-analysis is padded alike however the table is partitioned; padding a row with masked
    cells never changes its numbers (the sums add exact zeros, see docs/scale.md)."""
    k = np.asarray(k, dtype=np.int64)
    top = int(k.max()) if k.size else 1
    ladder = list(range(1, 17))
    j = 1
    while ladder[-1] < top:
        ladder.append(max(ladder[-1] + 1, math.ceil(16 * 2 ** (j / 4))))
        j += 1
    ladder = np.array(ladder, dtype=np.int64)
    return ladder[np.searchsorted(ladder, k)]


def partitions(good, idx, slot, k, yi, vi, partition):
    """The partitions of the meta-analyses ``good`` (indices into the order of first
    appearance): ``[(meta indices, Y, V)]``, meta-analyses grouped by padded width (smallest
    first, in order of first appearance within each), at most ``partition`` of them and about
    PARTITION_CELLS cells per partition, each NaN-padded to its group's width in the engine's
    column-major layout. Memory is linear in the rows of the table whatever the mix of sizes
    (padding every meta-analysis to the largest k took (m x kmax) arrays: 26 GB for one
    meta-analysis of 40,000 rows beside 40,000 of one row)."""
    good = np.asarray(good, dtype=np.int64)
    if good.size == 0:
        return []
    w = width(k[good])
    chunks = []
    for wd in np.unique(w):
        metas = good[w == wd]  # still in order of first appearance
        step = max(1, min(partition, PARTITION_CELLS // int(wd)))
        chunks += [(int(wd), metas[i:i + step]) for i in range(0, metas.size, step)]
    # the rows of each partition, gathered once: partition number of every meta-analysis
    part_of = np.full(len(k), -1, dtype=np.int64)
    local = np.zeros(len(k), dtype=np.int64)
    for p, (_, metas) in enumerate(chunks):
        part_of[metas] = p
        local[metas] = np.arange(metas.size)
    rows = np.flatnonzero(part_of[idx] >= 0)
    rows = rows[np.argsort(part_of[idx[rows]], kind="stable")]
    bounds = np.searchsorted(part_of[idx[rows]], np.arange(len(chunks) + 1))
    out = []
    for p, (wd, metas) in enumerate(chunks):
        r = rows[bounds[p]:bounds[p + 1]]
        Y = np.full((metas.size, wd), np.nan, order="F")
        V = np.full((metas.size, wd), np.nan, order="F")
        li, si = local[idx[r]], slot[r]
        Y[li, si], V[li, si] = yi[r], vi[r]
        out.append((metas, Y, V))
    return out


def fit_partition(args):
    """One partition: (Y, V, method, test, level, intervals[, bayes]) -> dict of result arrays.
    With a BayesSpec as the 7th item, also the BAYES_COLUMNS and ``bayes_error``."""
    Y, V, method, test, level, intervals, *rest = args
    if Y.shape[0] == 0:
        return {}
    out = _fit_padded(Y, V, method, test, level, intervals)
    if rest and rest[0] is not None:
        out.update(posterior_rows(Y, V, rest[0], level))
    return out


def posterior_rows(Y, V, spec, level):
    """The exact posterior (quadrature, metak.bayes.exact) of each row's meta-analysis (rows
    NaN-padded): mean and median of mu, its equal-tailed credible interval, the predictive
    interval of a new study's effect, the median of tau and P(mu > 0), as BAYES_COLUMNS. A row
    the engine cannot fit gets NaN and its reason in ``bayes_error``. (metak batch --bayes and
    the estimator BAYES of metak simulate.)"""
    from ..bayes.exact import exact_posterior

    a = (1 - level) / 2
    out = {c: np.full(Y.shape[0], np.nan) for c in BAYES_COLUMNS}
    errors = [""] * Y.shape[0]
    for i in range(Y.shape[0]):
        m = np.isfinite(Y[i]) & np.isfinite(V[i])
        try:
            with np.errstate(all="ignore"):
                post = exact_posterior(Y[i][m], V[i][m], spec.mu_prior, spec.tau_prior)
                med, lo, hi = post.mu_quantiles([0.5, a, 1 - a])
                plo, phi = post.predictive_quantiles([a, 1 - a])
                mean = post.mu_moment(1)  # None where the prior leaves it undefined
                vals = (np.nan if mean is None else mean, med, lo, hi, plo, phi, float(post.tau_quantiles([0.5])[0]),
                        1.0 - float(post.mu_cdf(0.0)))
        except (ArithmeticError, ValueError, MetakError) as exc:
            errors[i] = f"bayes: {exc}"
            continue
        for c, x in zip(BAYES_COLUMNS, vals):
            out[c][i] = float(x)
    out["bayes_error"] = errors
    return out


def _table_measure(df):
    """The one measure of a table's ``measure`` column, else None (none, or several: then the
    priors must not depend on it)."""
    if "measure" not in df.columns:
        return None
    values = set(df["measure"].dropna().astype(str).str.strip().str.upper()) - {""}
    return values.pop() if len(values) == 1 else None


def parse_bayes_option(text: str | None, measure: str | None):
    """``--bayes`` YAML text (a bayes: block, e.g. ``{prior: {tau: {dist: half_normal, sigma:
    0.5}}}``; empty for the defaults) -> BayesSpec: exact engine, normal likelihood."""
    from ..bayes.spec import parse_bayes_spec
    from ..errors import SpecValueError, SpecValueErrors, format_path
    from ..records.yamlload import loads_value

    block, problems = loads_value(text, "--bayes")  # the rules of every metak YAML reader
    if problems:
        p = problems[0]
        raise MetakError(f"--bayes{' ' + p.path if p.path else ''}: "
                         + (f"not YAML ({p.message})" if p.message.startswith("YAML") else p.message))
    meas = (measure or "MD").upper()
    binary = meas in ("OR", "RR", "RD")
    try:
        spec = parse_bayes_spec(block, measure=meas, outcome_type="binary" if binary else "continuous")
    except (SpecValueErrors, SpecValueError) as exc:
        problems = exc.problems if isinstance(exc, SpecValueErrors) else [exc]
        no_tau = not measure and any(tuple(p.path) == ("prior", "tau") for p in problems)
        raise MetakError("; ".join(f"--bayes {format_path(p.path) or '(block)'}: {p.message}" for p in problems)
                         + (" (the rows have no single measure: give the tau prior, e.g. --bayes "
                            "'{prior: {tau: {dist: half_normal, sigma: 0.5}}}', or --measure)" if no_tau else "")) from None
    if spec.likelihood != "normal" or spec.resolved_engine != "exact":
        raise MetakError("--bayes: metak batch uses the exact engine with the normal likelihood")
    return spec


def _fit_padded(Y, V, method, test, level, intervals):
    import warnings

    from ..estimators.fit import _fit_arrays, check_settings

    method, test, level = check_settings(method, test, level)
    Y, V = np.asfortranarray(Y, dtype=float), np.asfortranarray(V, dtype=float)  # the engine's layout
    M = np.isfinite(Y) & np.isfinite(V)
    if not M.all():
        Y, V = np.where(M, Y, 0.0), np.where(M, V, 1.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        r = _fit_arrays(Y, V, M.astype(float, order="F"), method, test, level, intervals, p_values=False)
    return {c: getattr(r, c) for c in ("k", "estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2",
                                        "i2", "h2", "q", "q_p")}


def run_batch(source, *, method="REML", test="z", level=0.95, measure=None, dask=None, partition=PARTITION,
              intervals=False, bayes=None):
    """The results table (a pandas DataFrame, COLUMNS) of every meta-analysis in ``source``;
    with ``bayes`` (a BayesSpec, or the ``--bayes`` YAML text, parsed with the measure of
    ``measure`` or of the table's one ``measure``: see :func:`parse_bayes_option`) also
    BAYES_COLUMNS."""
    import pandas as pd

    from ..estimators.fit import IV_METHODS, check_settings

    method, test, level = check_settings(method, test, level)
    if measure is not None and (not isinstance(measure, str) or measure.strip().upper() not in BATCH_MEASURES):
        raise MetakError(f"measure {measure!r} is not one of {', '.join(BATCH_MEASURES)}")
    measure = measure.strip().upper() if measure is not None else None
    src = Path(source)
    if not src.exists():
        raise MetakError(f"{source}: no such file or folder")
    if src.is_dir():
        if bayes is not None:
            raise MetakError(f"{source}: --bayes is for tables; a folder of specs takes each spec's own bayes: block")
        return _run_specs(src)
    if method not in IV_METHODS:  # refused before the table is read
        raise MetakError(f"method {method} needs the 2x2 table of every study, and metak batch pools effect sizes "
                         f"(yi, vi) by inverse variance: use one of {', '.join(IV_METHODS)} (or metak analyze, "
                         f"which fits {method} from trial records)")
    df = read_table(src)
    if isinstance(bayes, str):  # the --bayes text: the measure's defaults need the table's measure
        bayes = parse_bayes_option(bayes, measure or _table_measure(df))
    ids, yi, vi, bad = effect_sizes(df, measure)
    order, idx, slot, k, errors = pack(ids, yi, vi, bad)
    ok = np.array([not e for e in errors], bool)
    good = np.flatnonzero(ok)
    # each partition's rows gathered straight into the engine's column-major layout, padded
    # only to the width of its own group of meta-analyses of similar k
    chunks = partitions(good, idx, slot, k, yi, vi, partition)
    parts = [(Y, V, method, test, level, intervals, bayes) for _, Y, V in chunks]
    from .executor import executor

    with executor(dask) as run:
        results = run(fit_partition, parts)
    extra = BAYES_COLUMNS if bayes is not None else ()
    out = {c: np.full(len(order), np.nan) for c in COLUMNS + extra if c not in ("meta_id", "error", "k")}
    for (rows, _, _), res in zip(chunks, results):
        for c in out:
            out[c][rows] = res[c]
        for j, msg in zip(rows, res.get("bayes_error", ())):
            if msg:
                errors[j] = msg
    table = pd.DataFrame({"meta_id": order, "k": k.astype(int), **out, "error": errors})
    return table[list(COLUMNS + extra)]


def _run_specs(folder: Path):
    """A folder of analysis specs: each meta-analysis of each spec is a row (``spec/ma_id``)."""
    import pandas as pd

    from ..errors import InvalidInput
    from ..pipeline import analyze

    rows = []
    for spec in sorted(folder.glob("*.yaml")):
        try:
            doc = analyze(spec)
        except (InvalidInput, MetakError) as exc:
            rows.append({"meta_id": spec.stem, "k": 0, "error": str(exc).splitlines()[0]})
            continue
        for ma in doc["meta_analyses"]:
            row = {"meta_id": f"{spec.stem}/{ma['id']}", "k": ma.get("k") or 0, "error": ""}
            for c in COLUMNS[2:-1]:
                row[c] = ma.get(c)
            if ma.get("estimate") is None:
                row["error"] = "; ".join(w for w in ma.get("warnings", []) if "not estimable" in w) or "not estimable"
            rows.append(row)
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table


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

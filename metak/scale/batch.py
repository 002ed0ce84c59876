"""``metak batch``: fit every meta-analysis of a long-format table (CSV or Parquet) or of a
folder of analysis specs, and write one row per meta-analysis to results.parquet and
results.csv.

Input rows: ``meta_id`` and either ``yi, vi``; or ``ai, n1i, ci, n2i`` (binary, with a
``measure`` column or ``--measure``: OR, RR, RD); or ``m1i, sd1i, n1i, m2i, sd2i, n2i``
(continuous: MD, SMD). A row with vi <= 0 or a non-numeric value fails only its own
meta-analysis, with the reason in ``error``; a missing column is an error naming it.

Reading the table and its effect sizes is :mod:`metak.scale.batch_input`, the ``--bayes``
posterior :mod:`metak.scale.batch_bayes`, writing the results :mod:`metak.scale.batch_output`;
this module packs the rows into partitions and fits them."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from ..errors import MetakError
from .batch_bayes import BAYES_COLUMNS, _table_measure, parse_bayes_option, posterior_rows
from .batch_input import effect_sizes, read_table

COLUMNS = ("meta_id", "k", "estimate", "se", "ci_lower", "ci_upper", "pi_lower", "pi_upper", "tau2", "i2", "h2",
           "q", "q_p", "error")
#: the measures of arm-level rows (--measure, or a measure column)
BATCH_MEASURES = ("OR", "RR", "RD", "MD", "SMD")
#: meta-analyses per partition (a fixed size, so the partitioning never depends on the workers)
PARTITION = 10_000


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

    from ..estimators.fit import check_settings
    from ..vocab import IV_METHODS

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

"""``metak batch``: fit every meta-analysis of a long-format table (CSV or Parquet) or of a
folder of analysis specs, and write one row per meta-analysis to results.parquet and
results.csv.

Input rows: ``meta_id`` and either ``yi, vi``; or ``ai, n1i, ci, n2i`` (binary, with a
``measure`` column or ``--measure``: OR, RR, RD); or ``m1i, sd1i, n1i, m2i, sd2i, n2i``
(continuous: MD, SMD). A row with vi <= 0 or a non-numeric value fails only its own
meta-analysis, with the reason in ``error``; a missing column is an error naming it."""

from __future__ import annotations

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
#: meta-analyses per partition (a fixed size, so the partitioning never depends on the workers)
PARTITION = 10_000


def read_table(path: Path):
    import pandas as pd

    if path.suffix.lower() in (".parquet", ".pq"):
        try:
            return pd.read_parquet(path)
        except ImportError:  # pragma: no cover
            raise MetakError("reading Parquet needs pyarrow: pip install 'metak[scale]'") from None
    if path.suffix.lower() in (".csv", ".txt"):
        return pd.read_csv(path, dtype={"meta_id": str})
    raise MetakError(f"{path}: give a .csv or .parquet table, or a folder of analysis specs")


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
        nonnum = arr != arr  # NaN after coercion
        given = raw.notna().to_numpy()
        for i in np.flatnonzero(nonnum & given):
            bad[i] = bad[i] or f"row {i + 1}: non-numeric {name} {raw.iloc[i]!r}"
        for i in np.flatnonzero(nonnum & ~given):
            bad[i] = bad[i] or f"row {i + 1}: {name} is empty"

    if {"yi", "vi"} <= cols:
        yi, vi = num("yi"), num("vi")
        flag("yi", yi)
        flag("vi", vi)
    elif set(BINARY) <= cols or set(CONTINUOUS) <= cols:
        kind = BINARY if set(BINARY) <= cols else CONTINUOUS
        arrays = {c: num(c) for c in kind}
        for c, a in arrays.items():
            flag(c, a)
        meas = df["measure"].astype(str).str.upper().to_numpy() if "measure" in cols else None
        if meas is None and measure is None:
            raise MetakError("arm-level data need a 'measure' column or --measure (OR, RR, RD, MD or SMD)")
        meas = meas if meas is not None else np.full(len(df), measure)
        yi = np.full(len(df), np.nan)
        vi = np.full(len(df), np.nan)
        for mname in dict.fromkeys(meas.tolist()):
            rows = meas == mname
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
    return df["meta_id"].astype(str).to_numpy(), yi, vi, bad


def pack(ids, yi, vi, bad):
    """(order of meta ids, padded Y, V, M, k, errors): meta-analyses in order of first appearance."""
    order = list(dict.fromkeys(ids.tolist()))
    pos = {m: j for j, m in enumerate(order)}
    idx = np.array([pos[m] for m in ids.tolist()], dtype=np.int64)
    k = np.bincount(idx, minlength=len(order))
    kmax = int(k.max()) if len(order) else 0
    # slot of each row within its meta-analysis, in input order
    slot = np.zeros(len(ids), dtype=np.int64)
    seen = np.zeros(len(order), dtype=np.int64)
    for i, j in enumerate(idx):
        slot[i] = seen[j]
        seen[j] += 1
    Y = np.full((len(order), kmax), np.nan)
    Vv = np.full((len(order), kmax), np.nan)
    Y[idx, slot], Vv[idx, slot] = yi, vi
    errors = [""] * len(order)
    for i in np.flatnonzero(bad != ""):
        j = idx[i]
        errors[j] = errors[j] or str(bad[i])
    return order, Y, Vv, k, errors


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
    values = set(df["measure"].dropna().astype(str).str.upper())
    return values.pop() if len(values) == 1 else None


def parse_bayes_option(text: str | None, measure: str | None):
    """``--bayes`` YAML text (a bayes: block, e.g. ``{prior: {tau: {dist: half_normal, sigma:
    0.5}}}``; empty for the defaults) -> BayesSpec: exact engine, normal likelihood."""
    import yaml

    from ..bayes.spec import parse_bayes_spec
    from ..errors import SpecValueError, SpecValueErrors, format_path

    try:
        block = yaml.safe_load(text) if text and text.strip() else None
    except yaml.YAMLError as exc:
        raise MetakError(f"--bayes: not YAML ({exc})") from None
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

    from ..estimators.fit import check_settings

    check_settings(method, test, level)
    src = Path(source)
    if not src.exists():
        raise MetakError(f"{source}: no such file or folder")
    if src.is_dir():
        if bayes is not None:
            raise MetakError(f"{source}: --bayes is for tables; a folder of specs takes each spec's own bayes: block")
        return _run_specs(src)
    df = read_table(src)
    if isinstance(bayes, str):  # the --bayes text: the measure's defaults need the table's measure
        bayes = parse_bayes_option(bayes, measure or _table_measure(df))
    ids, yi, vi, bad = effect_sizes(df, measure)
    order, Y, V, k, errors = pack(ids, yi, vi, bad)
    ok = np.array([not e for e in errors], bool)
    good = np.flatnonzero(ok)
    # each partition's rows gathered straight into the engine's column-major layout
    from ..estimators.tau2 import sub

    parts = [(sub(Y, good[i:i + partition]), sub(V, good[i:i + partition]), method, test, level, intervals, bayes)
             for i in range(0, good.size, partition)]
    from .executor import executor

    with executor(dask) as run:
        results = run(fit_partition, parts)
    extra = BAYES_COLUMNS if bayes is not None else ()
    out = {c: np.full(len(order), np.nan) for c in COLUMNS + extra if c not in ("meta_id", "error", "k")}
    for (lo, res) in zip(range(0, good.size, partition), results):
        rows = good[lo:lo + partition]
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
    out.mkdir(parents=True, exist_ok=True)
    files = []
    try:
        table.to_parquet(out / "results.parquet", index=False)
        files.append(out / "results.parquet")
    except ImportError:  # pragma: no cover
        raise MetakError("writing Parquet needs pyarrow: pip install 'metak[scale]'") from None
    table.to_csv(out / "results.csv", index=False, float_format="%.17g")
    files.append(out / "results.csv")
    return files

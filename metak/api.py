"""The Python API a metafor user recognises: ``metak.fit(data=df, yi=, vi=, slab=, mods=)``.

The fitted objects carry their effect table and model, and every method calls the code the
spec route (``metak analyze``) calls: :class:`metak.estimators.model.Model` for the fits,
:mod:`metak.sensitivity` for leave-one-out, influence (the vectorised deletion code of
:mod:`metak.estimators.deletion`), cumulative, small-study and subgroup analyses, and
:mod:`metak.plots` for the figures, which get the results-document mapping built by
:mod:`metak.document`'s helpers. Nothing here computes a statistic of its own.

pandas and formulaic are imported when a method needs them, matplotlib when a figure is
drawn, so ``import metak`` stays light.
"""

from __future__ import annotations

import re
from dataclasses import fields

import numpy as np

from .errors import MetakError
from .fitted import MetaFit, _plain
from .fitted_regression import RegressionFit

#: metak.api is not a documented module of its own: ``metak.fit`` is its public name; the
#: fitted classes are public as ``metak.MetaFit`` / ``metak.RegressionFit`` (homes
#: metak.fitted, metak.fitted_regression), the results of ``metak.analyze`` in metak.analyzed.
__all__ = ["fit"]


# --------------------------------------------------------------------------- input


def _column(data, name, what):
    import pandas as pd

    if not isinstance(name, str):
        raise MetakError(f"fit: with data=, {what} is a column name (str), got {type(name).__name__}")
    if name not in data.columns:
        from .records.checker import did_you_mean

        cols = [str(c) for c in data.columns]
        raise MetakError(f"fit: '{name}' ({what}) is not a column of data{did_you_mean(name, cols)}; "
                         f"columns: {', '.join(cols)}")
    col = data[name]
    if what != "slab" and (not pd.api.types.is_numeric_dtype(col) or pd.api.types.is_bool_dtype(col)):
        raise MetakError(f"fit: column '{name}' ({what}) must be numeric, it has dtype {col.dtype}")
    return col


def _formula(mods) -> str:
    """``mods`` as a formulaic formula (right-hand side)."""
    if isinstance(mods, str):
        rhs = mods.strip()
        if "~" in rhs:
            lhs, _, rhs = rhs.partition("~")
            if lhs.strip():
                raise MetakError(f"fit: mods is a one-sided formula such as '~ ablat + year', got {mods!r}")
        if not rhs.strip():
            raise MetakError(f"fit: mods {mods!r} names no moderator")
        return rhs.strip()
    if isinstance(mods, (list, tuple)) and mods and all(isinstance(m, str) for m in mods):
        return " + ".join(m if m.isidentifier() else f"`{m}`" for m in mods)
    raise MetakError(f"fit: mods must be a formula string ('~ x + z') or a list of column names, got {mods!r}")


def _coef_name(name: str) -> str:
    """formulaic's names as results.json names them: Intercept -> intercept, x[T.a] -> x=a."""
    if name == "Intercept":
        return "intercept"
    return re.sub(r"\[T\.(.*)\]$", r"=\1", name).replace("`", "")


def _design(rhs, data):
    """(X, names, spec) from formulaic; rows with a missing moderator are kept as NaN rows so
    that the caller can drop them with the other missing values."""
    from formulaic import model_matrix

    try:
        mm = model_matrix(rhs, data, na_action="ignore")
    except Exception as exc:  # formulaic's errors name the missing column; say it metak's way
        missing = [c for c in re.findall(r"`([^`]+)`|([A-Za-z_][A-Za-z_0-9.]*)", rhs)]
        names = [a or b for a, b in missing]
        absent = [n for n in names if n not in data.columns and n not in _FORMULA_WORDS]
        what = f"'{absent[0]}' is not a column of data" if absent else str(exc).splitlines()[0]
        raise MetakError(f"fit: mods '~ {rhs}': {what}; columns: {', '.join(map(str, data.columns))}") from None
    X = np.asarray(mm, dtype=float)
    if "Intercept" not in mm.columns:
        raise MetakError(f"fit: mods '~ {rhs}' removes the intercept; metak's meta-regression needs one")
    return X, tuple(_coef_name(c) for c in mm.columns), mm.model_spec


_FORMULA_WORDS = {"C", "Q", "np", "log", "exp", "sqrt", "center", "scale", "poly", "bs", "I", "T", "Treatment"}


def _rows(labels, yi, vi, covs, measure):
    from .effects.table import Effect, EffectTable

    rows = tuple(Effect(str(lab), str(lab), "e", "c", float(y), float(v), {}, covariates=c)
                 for lab, y, v, c in zip(labels, yi, vi, covs))
    return EffectTable(measure or "GEN", rows)


def fit(yi=None, vi=None, *, data=None, sei=None, slab=None, mods=None, method="REML", test="z", level=0.95,
        measure=None):
    """Fit a random- or fixed-effects meta-analysis, or a meta-regression, as metafor's ``rma``.

    Parameters
    ----------
    yi, vi : array-like, or column names with ``data=``
        Effect sizes on the analysis scale (log for ratio measures) and their sampling
        variances.
    data : pandas.DataFrame, optional
        The studies, one per row; ``yi``, ``vi``, ``sei``, ``slab`` are then column names and
        every column is available to ``mods``, ``cumulative(order=)`` and ``subgroups(by)``.
    sei : array-like or column name, optional
        Standard errors instead of ``vi`` (``vi = sei**2``).
    slab : array-like or column name, optional
        Study labels (default ``s0, s1, ...``, or the DataFrame's index when it is not a
        range).
    mods : str or list of str, optional
        A one-sided formula (``"~ ablat + year"``, parsed by formulaic: text columns are
        dummy-coded against their first level, as R does) or a list of column names. With
        mods the fit is the meta-regression :func:`metak.estimators.regression.fit_regression`.
    method : {"REML", "ML", "DL", "PM", "SJ", "HE", "EB", "FE"}
        Estimator of tau² (FE: fixed effect).
    test : {"z", "hksj"}
        z test, or Knapp-Hartung (metafor's ``test="knha"``, accepted too).
    level : float
        Confidence level.
    measure : str, optional
        The effect measure's code (``"OR"``, ``"SMD"`` ...): ratio measures are drawn on a log
        axis by ``forest()`` and ``funnel()``.

    Returns
    -------
    MetaFit or RegressionFit
        A :class:`MetaFit` (a :class:`~metak.estimators.result.MetaResult` with the metafor
        methods) or, with ``mods``, a :class:`RegressionFit`. Rows with a missing or
        non-finite yi, vi or moderator are left out, with a note in ``warnings``.

    Raises
    ------
    MetakError
        A column that does not exist or is not numeric, a formula naming a missing column, a
        setting that is not one of the above.

    Examples
    --------
    >>> import pandas as pd, metak
    >>> df = pd.DataFrame({"study": ["A", "B", "C", "D"], "yi": [0.1, 0.5, 0.3, 0.9],
    ...                    "vi": [0.01, 0.02, 0.03, 0.05], "dose": [1, 2, 3, 4]})
    >>> res = metak.fit(data=df, yi="yi", vi="vi", slab="study")
    >>> round(res.estimate, 4), round(res.tau2, 4)
    (0.4156, 0.079)
    >>> reg = metak.fit(data=df, yi="yi", vi="vi", mods="~ dose")
    >>> reg.names
    ('intercept', 'dose')
    """
    from .estimators.fit import check_settings
    from .estimators.model import Model

    method, test, level = check_settings(method, test, level)
    model = Model(method, test, level)
    notes: list[str] = []
    if data is None:
        if mods is not None:
            raise MetakError("fit: mods (a formula or column names) needs data= (a DataFrame)")
        if mods is None and slab is None and sei is None:
            # the array call of metak.fit as it always was: the same numbers, the same result
            from .estimators.fit import fit as _fit

            res = _fit(yi, vi, method=method, test=test, level=level)
            from .format import as_floats

            y, v = as_floats(yi, "yi").ravel(), as_floats(vi, "vi").ravel()
            ok = np.isfinite(y) & np.isfinite(v)
            labels = [f"s{i}" for i in range(len(y))]
            table = _rows([lab for lab, o in zip(labels, ok) if o], y[ok], v[ok], [{}] * int(ok.sum()), measure)
            return MetaFit(**_fields_of(res), table=table, model=model, frame=None, legacy=True)
        from .format import as_floats

        y = as_floats(yi, "yi").ravel()
        if sei is not None:
            v = as_floats(sei, "sei").ravel() ** 2
        else:
            v = as_floats(vi, "vi").ravel()
        labels = [f"s{i}" for i in range(len(y))] if slab is None else [str(s) for s in slab]
        if not (len(y) == len(v) == len(labels)):
            raise MetakError(f"fit: yi ({len(y)}), vi/sei ({len(v)}) and slab ({len(labels)}) differ in length")
        frame = None
        X = names = spec = None
    else:
        import pandas as pd

        if not isinstance(data, pd.DataFrame):
            raise MetakError(f"fit: data must be a pandas DataFrame, got {type(data).__name__}")
        if yi is None or (vi is None and sei is None):
            raise MetakError("fit: with data=, name the columns of yi and of vi (or sei)")
        if vi is not None and sei is not None:
            raise MetakError("fit: give vi or sei, not both")
        y = _column(data, yi, "yi").to_numpy(dtype=float)
        v = (_column(data, vi, "vi").to_numpy(dtype=float) if vi is not None
             else _column(data, sei, "sei").to_numpy(dtype=float) ** 2)
        if slab is not None:
            labels = [str(s) for s in _column(data, slab, "slab")]
        elif isinstance(data.index, pd.RangeIndex):
            labels = [f"s{i}" for i in range(len(data))]
        else:
            labels = [str(i) for i in data.index]
        frame = data.reset_index(drop=True)
        X = names = spec = None
        if mods is not None:
            rhs = _formula(mods)
            X, names, spec = _design(rhs, frame)
    ok = np.isfinite(y) & np.isfinite(v)
    if X is not None:
        ok &= np.isfinite(X).all(axis=1)
    if not ok.all():
        dropped = [lab for lab, o in zip(labels, ok) if not o]
        notes.append(f"{len(dropped)} stud(y/ies) with a missing or non-finite yi, vi or moderator left out: "
                     f"{', '.join(dropped)}")
    if ok.sum() == 0:
        raise MetakError("fit: no study with a finite effect size and variance to fit")
    if frame is not None:
        covs = [{str(c): _plain(val) for c, val in row.items()} for row in frame.to_dict("records")]
    else:
        covs = [{} for _ in labels]
    keep = np.where(ok)[0]
    table = _rows([labels[i] for i in keep], y[keep], v[keep], [covs[i] for i in keep], measure)
    kept = None if frame is None else frame.iloc[keep].reset_index(drop=True)
    if X is None:
        res = model.fit(table)
        return MetaFit(**_fields_of(res, notes), table=table, model=model, frame=kept)
    moderators = tuple(m for m in (mods if isinstance(mods, (list, tuple)) else [rhs]))
    reg = model.fit(table, X[keep], names=names, moderators=moderators)
    return RegressionFit(**_fields_of(reg, notes), table=table, model=model, frame=kept, formula=rhs, spec=spec)




def _fields_of(res, notes=()):
    out = {f.name: getattr(res, f.name) for f in fields(res)}
    if notes:
        out["warnings"] = tuple(notes) + tuple(out.get("warnings") or ())
    return out

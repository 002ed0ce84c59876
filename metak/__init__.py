"""metak: meta-analysis of clinical-trial outcomes, exact to metafor, Bayesian beside frequentist.

The public API is small and curated::

    import metak
    res = metak.fit(yi, vi, method="REML", test="hksj")
    res = metak.fit(data=df, yi="yi", vi="vi", slab="study", mods="~ ablat")  # metafor's rma(); see docs/metafor.md
    res.leave_one_out(); res.influence(); res.forest()  # DataFrames and matplotlib Figures
    batch = metak.fit_batch(Y, V, method="REML")          # many meta-analyses at once
    trials = metak.load_trials("trials/")
    reg = metak.fit_regression(yi, vi, X, method="REML", test="hksj")   # meta-regression
    df = metak.escalc(frame, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")  # pandas in, pandas out
    doc = metak.analyze("analyses/substance_use.yaml")    # the results document (a dict) ...
    doc.summary_frame(); doc.plot("forest"); doc.write("out/")  # ... with views

Importing metak imports neither PyMC, ArviZ, matplotlib, pandas nor formulaic; SciPy is loaded the
first time a fitting function is used, so that ``metak --help`` stays fast.
"""

__version__ = "0.1.0"

from .errors import InvalidRecord, InvalidSpec, MetakError  # noqa: E402
from .records import load_trials as _load_trials  # noqa: E402


def load_trials(paths, base=None):
    """Load and validate trial records: ``paths`` is a file, a folder or a glob (str or
    path), or a list of them; relative paths are taken from ``base`` (a folder, default the
    working directory). Raises :class:`InvalidRecord` listing every problem, and
    :class:`MetakError` for arguments of the wrong type."""
    import os
    from pathlib import Path

    def is_path(p):
        return isinstance(p, (str, os.PathLike))

    if not is_path(paths):
        if isinstance(paths, (list, tuple)) and all(is_path(p) for p in paths):
            pass
        elif isinstance(paths, (list, tuple)):
            bad = next(p for p in paths if not is_path(p))
            raise MetakError(f"load_trials: trial records are read from paths: every item of the list must be a "
                             f"str or a path, got {type(bad).__name__} {bad!r}"[:300])
        else:
            raise MetakError(f"load_trials: trial records are read from paths: a file, a folder or a glob (str or "
                             f"path), or a list of them (got {type(paths).__name__})")
    if base is not None and not is_path(base):
        raise MetakError(f"load_trials: base must be a folder (str or path) or None, got {type(base).__name__} {base!r}"
                         [:300])
    return _load_trials(paths, None if base is None else Path(base))

__all__ = ["__version__", "fit", "MetaFit", "RegressionFit", "fit_batch", "fit_regression", "escalc", "Model", "EffectTable", "analyze",
           "load_trials", "InvalidRecord", "InvalidSpec", "MetakError", "network", "glmm"]

_LAZY = {"fit": ("metak.api", "fit"), "MetaFit": ("metak.fitted", "MetaFit"),
         "RegressionFit": ("metak.fitted_regression", "RegressionFit"), "fit_batch": ("metak.estimators", "fit_batch"),
         "fit_regression": ("metak.estimators.regression", "fit_regression"),
         "escalc": ("metak.effects.escalc", "escalc"), "Model": ("metak.estimators.model", "Model"),
         "EffectTable": ("metak.effects.table", "EffectTable"), "analyze": ("metak.pipeline", "analyze"),
         "network": ("metak.network", "network"), "glmm": ("metak.glmm", "glmm")}


def __getattr__(name):
    if name in _LAZY:
        import importlib

        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'metak' has no attribute {name!r}")


def __dir__():
    return sorted(set(globals()) | set(_LAZY))

"""metak: meta-analysis of clinical-trial outcomes, exact to metafor, Bayesian beside frequentist.

The public API is small and curated::

    import metak
    res = metak.fit(yi, vi, method="REML", test="hksj")
    batch = metak.fit_batch(Y, V, method="REML")          # many meta-analyses at once
    trials = metak.load_trials("trials/")
    reg = metak.fit_regression(yi, vi, X, method="REML", test="hksj")   # meta-regression
    df = metak.escalc(frame, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")  # pandas in, pandas out
    doc = metak.analyze("analyses/substance_use.yaml")    # the results document (a dict)

Importing metak imports neither PyMC, ArviZ, matplotlib nor pandas; SciPy is loaded the
first time a fitting function is used, so that ``metak --help`` stays fast.
"""

__version__ = "0.1.0"

from .errors import InvalidRecord, InvalidSpec, MetakError  # noqa: E402
from .records import load_trials  # noqa: E402

__all__ = ["__version__", "fit", "fit_batch", "fit_regression", "escalc", "Model", "EffectTable", "analyze",
           "load_trials", "InvalidRecord", "InvalidSpec", "MetakError"]

_LAZY = {"fit": ("metak.estimators", "fit"), "fit_batch": ("metak.estimators", "fit_batch"),
         "fit_regression": ("metak.estimators.regression", "fit_regression"),
         "escalc": ("metak.effects.escalc", "escalc"), "Model": ("metak.estimators.model", "Model"),
         "EffectTable": ("metak.effects.table", "EffectTable"), "analyze": ("metak.pipeline", "analyze")}


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

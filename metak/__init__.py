"""metak: meta-analysis of clinical-trial outcomes, exact to metafor, Bayesian beside frequentist.

The public API is small and curated::

    import metak
    res = metak.fit(yi, vi, method="REML", test="hksj")
    trials = metak.load_trials("trials/")
    doc = metak.analyze("analyses/substance_use.yaml")

Importing metak imports neither PyMC, ArviZ, matplotlib nor pandas.
"""

__version__ = "0.1.0"

from .errors import InvalidRecord, InvalidSpec, MetakError  # noqa: E402
from .records import load_trials  # noqa: E402

__all__ = ["__version__", "load_trials", "InvalidRecord", "InvalidSpec", "MetakError"]

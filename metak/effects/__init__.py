"""Effects: arm data -> yi, vi (escalc), the effect table, and building it from records.

``metak.effects.escalc`` computes effect sizes as metafor's escalc; ``table`` holds the frozen
:class:`EffectTable`; ``build`` turns records and a meta-analysis's rules into one (its steps in
``selection``, ``rows``, ``covariates`` and ``reasons``); ``design``
builds a meta-regression's design matrix from the table's covariates.
"""

from ..vocab import (  # noqa: F401  (the measure vocabulary, public here; its home is metak.vocab)
    BINARY_MEASURES, CC_TO, CONTINUOUS_MEASURES, CONTRAST_ONLY, LOG_MEASURES, MEASURE_LABELS, MEASURES, scale_of,
)
from .escalc import (  # noqa: F401
    ContinuityCorrection, contrast_yi_vi, escalc, escalc_binary, escalc_continuous,
)
from .hedges import hedges_j  # noqa: F401
from .table import Effect, EffectTable  # noqa: F401

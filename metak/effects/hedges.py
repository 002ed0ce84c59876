"""Hedges' exact small-sample correction J(m), shared by the SMD of :mod:`metak.effects.escalc`,
the change-score and heteroscedastic measures of :mod:`metak.effects.measures` and the
missing-data SMD of :mod:`metak.sensitivity.missing_continuous` (its own module so that
``escalc`` can dispatch to ``measures`` without the two importing each other)."""

from __future__ import annotations

import numpy as np
from scipy import special


def hedges_j(m):
    """Exact small-sample correction J(m) = Gamma(m/2) / (sqrt(m/2) Gamma((m-1)/2))."""
    m = np.asarray(m, dtype=float)
    return np.exp(special.gammaln(m / 2) - 0.5 * np.log(m / 2) - special.gammaln((m - 1) / 2))

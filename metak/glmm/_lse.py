"""log-sum-exp along an axis, for the quadrature's inner loops (scipy.special.logsumexp
has array-API dispatch overhead that dominated the GLMM fits' run time)."""

import numpy as np


def logsumexp(x, axis):
    m = np.max(x, axis=axis, keepdims=True)
    m = np.where(np.isfinite(m), m, 0.0)
    with np.errstate(divide="ignore"):
        return np.squeeze(m, axis=axis) + np.log(np.sum(np.exp(x - m), axis=axis))

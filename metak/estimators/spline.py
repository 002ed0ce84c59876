"""Restricted cubic splines for dose-response (Harrell's parameterisation, as R's
``rms::rcspline.eval(x, knots, inclx = TRUE)`` computes it, norm = 2).

With knots t_1 < ... < t_k the basis is x and, for j = 1..k-2::

    ((x - t_j)+³ - (x - t_{k-1})+³ (t_k - t_j)/(t_k - t_{k-1}) + (x - t_k)+³ (t_{k-1} - t_j)/(t_k - t_{k-1}))
    / (t_k - t_1)²

linear beyond the outer knots. The default knots are the 10th, 50th and 90th percentiles of the
doses (R's ``quantile``, type 7), as dose-response meta-analyses usually place them (Orsini et
al. 2012, dosresmeta).
"""

from __future__ import annotations

import numpy as np


def default_knots(x) -> np.ndarray:
    """The 10th, 50th and 90th percentiles (type 7, numpy's default 'linear')."""
    return np.quantile(np.asarray(x, float), [0.1, 0.5, 0.9])


def rcs_basis(x, knots) -> np.ndarray:
    """(n, k - 1) basis: x, then the k - 2 nonlinear terms."""
    x = np.asarray(x, float)
    t = np.asarray(knots, float)
    k = t.size
    if k < 3 or np.any(np.diff(t) <= 0):
        raise ValueError("a restricted cubic spline needs at least 3 increasing knots")
    pos3 = lambda z: np.maximum(z, 0.0) ** 3  # noqa: E731
    scale = (t[-1] - t[0]) ** 2
    cols = [x]
    for j in range(k - 2):
        cols.append((pos3(x - t[j]) - pos3(x - t[k - 2]) * (t[k - 1] - t[j]) / (t[k - 1] - t[k - 2])
                     + pos3(x - t[k - 1]) * (t[k - 2] - t[j]) / (t[k - 1] - t[k - 2])) / scale)
    return np.column_stack(cols)


def term_names(k: int) -> list[str]:
    """rms's names: dose, dose', dose'', ..."""
    return ["dose"] + ["dose" + "'" * j for j in range(1, k - 1)]

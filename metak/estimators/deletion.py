"""Leave-one-out fits of an intercept-only model, all k at once, without k separate refits.

``deleted_fits(yi, vi, method, test)`` returns, for every study i, the fit of the other k - 1
studies: tau²_(-i), mu_(-i), its variance (Knapp-Hartung-scaled under ``test="hksj"``), the
scale s²_w(-i) and QE_(-i). It is what metafor's ``influence()`` and ``leave1out()`` compute by
refitting k times, done as one vectorised computation in row blocks:

* non-iterative estimators (DL, HE, SJ) and PM/EB run on a (block x k) array whose row i
  masks study i (the batch estimators of :mod:`metak.estimators.tau2`);
* ML/REML start Newton/Fisher scoring at the full-data tau² (a deletion moves it little, so
  two or three steps suffice) and look for another likelihood maximum by the sign of the
  score on one tau² grid shared by all rows, whose k deleted scores at a grid point cost O(k)
  from the full sums minus study i's term (O(k · GRID) for all rows instead of O(k² · GRID));
  only rows whose score shows another maximum go through the exact search of ``fit``.

At k = 1,000 this takes ~0.1-0.2 s (``benchmarks/bench_influence.py``) where k REML refits
take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tau2 as T
from . import tau2_ml

#: rows per block (bounds memory at 8 * BLOCK * k bytes per array)
BLOCK = 256


@dataclass(frozen=True)
class Deleted:
    tau2: np.ndarray      # tau² without study i (0 for FE)
    estimate: np.ndarray  # mu without study i
    vb: np.ndarray        # variance of that mu (times s2w under hksj)
    s2w: np.ndarray       # Knapp-Hartung scale without study i (1 under z)
    qe: np.ndarray        # Cochran's Q of the other k - 1 studies
    sw: np.ndarray        # sum of the other studies' weights 1 / (v + tau²_(-i))


def _block(yi, vi, rows):
    k = len(yi)
    # column-major, the batch estimators' layout (tau2.rsum)
    Y, V, M = (np.empty((len(rows), k), order="F") for _ in range(3))
    Y[:], V[:], M[:] = yi, vi, 1.0
    r = np.arange(len(rows))
    Y[r, rows], V[r, rows], M[r, rows] = 0.0, 1.0, 0.0
    return Y, V, M


def _shared_scan(yi, vi, reml: bool):
    """The deleted fits' scores (twice the derivative of the (restricted) log-likelihood) on one
    tau² grid: (GRID + 1, k) values and the grid, from the full sums minus study i's term.
    sum w²(y - mu)² is expanded into sums of w²y and w²y² of effects centred at their
    weighted mean; only its sign is used, to pick the rows that get fit()'s exact search."""
    y = yi - np.average(yi, weights=1 / vi)  # centred: the score does not change, the sums cancel less
    top = 4 * np.max((yi - yi.mean()) ** 2) + 1e-12  # above every row's own 2 x max squared deviation
    grid = top * np.concatenate([[0.0], np.geomspace(1e-6, 1.0, tau2_ml.GRID)])
    out = np.empty((grid.size, len(yi)))
    for g, t in enumerate(grid):
        w = 1 / (vi + t)
        w2 = w * w
        sums = [(a.sum() - a) for a in (w, w * y, w2, w2 * y, w2 * y * y)]
        A, B, D, E, F = sums
        mu = B / A
        score = F - 2 * mu * E + mu * mu * D - A
        if reml:
            score += D / A
        out[g] = score
    return out, grid
def deleted_tau2(yi, vi, method: str, tau2_full: float) -> np.ndarray:
    """tau² of each leave-one-out fit (see the module notes)."""
    k = len(yi)
    out = np.empty(k)
    if method == "FE":
        return np.zeros(k)
    iterative = method in ("ML", "REML")
    reml = method == "REML"
    for start in range(0, k, BLOCK):
        rows = np.arange(start, min(k, start + BLOCK))
        Y, V, M = _block(yi, vi, rows)
        kk = M.sum(1)
        if iterative:
            t, _ = tau2_ml._fisher(Y, V, M, kk, np.full(len(rows), float(tau2_full or 0.0)), reml, scan=False)
        else:
            t, _ = T.ESTIMATORS[method](Y, V, M, kk)
        out[rows] = np.where(kk > 1, t, 0.0)
    if iterative and k > 2:
        sc, grid = _shared_scan(yi, vi, reml)
        # rows whose score shows another local maximum than the one the iteration reached go
        # through the exact search of fit()
        peak, zero = tau2_ml.other_maxima(sc.T, grid[None, :], out)
        other = peak.any(1) | zero
        for start in range(0, k, BLOCK):
            rows = np.arange(start, min(k, start + BLOCK))
            idx = np.where(other[rows])[0]
            if idx.size:
                Y, V, M = _block(yi, vi, rows[idx])
                out[rows[idx]] = tau2_ml._global_maximum(Y, V, M, M.sum(1), out[rows[idx]], reml)
    return out


def deleted_fits(yi, vi, method: str, test: str, tau2_full: float) -> Deleted:
    """The leave-one-out fits of every study (see the module notes)."""
    yi, vi = np.asarray(yi, float), np.asarray(vi, float)
    k = len(yi)
    t = deleted_tau2(yi, vi, method, tau2_full)
    est, vb, s2w, sw, qe = (np.empty(k) for _ in range(5))
    for start in range(0, k, BLOCK):
        rows = np.arange(start, min(k, start + BLOCK))
        _, V, M = _block(yi, vi, rows)
        W = M / (V + t[rows, None])
        s = W.sum(1)
        mu = (W * yi).sum(1) / s
        est[rows], sw[rows] = mu, s
        if test == "hksj":
            with np.errstate(divide="ignore", invalid="ignore"):
                s2w[rows] = (W * (yi - mu[:, None]) ** 2).sum(1) / (k - 2)
        else:
            s2w[rows] = 1.0
        vb[rows] = s2w[rows] / s
        W0 = M / V
        mu0 = (W0 * yi).sum(1) / W0.sum(1)
        qe[rows] = (W0 * (yi - mu0[:, None]) ** 2).sum(1)
    return Deleted(t, est, vb, s2w, qe, sw)

"""Leave-one-out fits of an intercept-only model, all k at once, without k separate refits.

``deleted_fits(yi, vi, method, test)`` returns, for every study i, the fit of the other k - 1
studies: tau²_(-i), mu_(-i), its variance (Knapp-Hartung-scaled under ``test="hksj"``), the
scale s²_w(-i) and QE_(-i). It is what metafor's ``influence()`` and ``leave1out()`` compute by
refitting k times, done as one vectorised computation in row blocks:

* non-iterative estimators (DL, HE, SJ) and PM/EB run on a (block x k) array whose row i
  masks study i (the batch estimators of :mod:`metak.estimators.tau2`);
* ML/REML start Fisher scoring at the full-data tau² (a deletion moves it little, so two or
  three steps suffice) and look for a second, higher likelihood maximum on one tau² grid
  shared by all rows, whose k deleted likelihoods at a grid point cost O(k) from the full
  sums minus study i's term (O(k · GRID) for all rows instead of O(k² · GRID)); only rows
  where the grid beats the Fisher solution are refined exactly, as in ``fit``.

At k = 1,000 this takes ~0.1-0.2 s (``benchmarks/bench_influence.py``) where k REML refits
take seconds.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import tau2 as T

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
    Y = np.broadcast_to(yi, (len(rows), k)).copy()
    V = np.broadcast_to(vi, (len(rows), k)).copy()
    M = np.ones((len(rows), k))
    r = np.arange(len(rows))
    Y[r, rows], V[r, rows], M[r, rows] = 0.0, 1.0, 0.0
    return Y, V, M


def _shared_scan(yi, vi, reml: bool):
    """Deleted (restricted) log-likelihoods on one tau² grid: (GRID + 1, k) values and the grid."""
    y = yi - np.average(yi, weights=1 / vi)  # centred: the likelihood does not change, the sums cancel less
    top = 4 * np.max((yi - yi.mean()) ** 2) + 1e-12  # above every row's own 2 x max squared deviation
    grid = top * np.concatenate([[0.0], np.geomspace(1e-6, 1.0, T.GRID)])
    out = np.empty((grid.size, len(yi)))
    for g, t in enumerate(grid):
        w = 1 / (vi + t)
        A, B, C, L = w.sum(), (w * y).sum(), (w * y * y).sum(), np.log(vi + t).sum()
        Ai, Bi, Ci, Li = A - w, B - w * y, C - w * y * y, L - np.log(vi + t)
        ll = -0.5 * (Li + Ci - Bi**2 / Ai)
        if reml:
            ll -= 0.5 * np.log(Ai)
        out[g] = ll
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
            t, _ = T._fisher(Y, V, M, kk, np.full(len(rows), float(tau2_full or 0.0)), reml, scan=False)
        else:
            t, _ = T.ESTIMATORS[method](Y, V, M, kk)
        out[rows] = np.where(kk > 1, t, 0.0)
    if iterative and k > 2:
        lls, _grid = _shared_scan(yi, vi, reml)
        best = lls.max(0)
        for start in range(0, k, BLOCK):
            rows = np.arange(start, min(k, start + BLOCK))
            Y, V, M = _block(yi, vi, rows)
            ll_hat = T._loglik(Y, V, M, out[rows], reml)
            # the grid's own value may sit a little off the exact sums: only a clear gain counts,
            # and such rows go through the exact search of fit()
            gain = best[rows] > ll_hat + 1e-9 * np.maximum(1.0, np.abs(ll_hat))
            if gain.any():
                idx = np.where(gain)[0]
                out[rows[idx]] = T._global_maximum(Y[idx], V[idx], M[idx], M[idx].sum(1), out[rows[idx]], reml)
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

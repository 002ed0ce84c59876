"""The moment-based meta-regression engine (tau2_mods._Moments, issue 24) against the k x k
matrix formulas it replaces, its ML/REML maximum, and the cheap one-BLAS-thread block."""

from __future__ import annotations

import numpy as np
import pytest

import metak
from metak.estimators import tau2_mods as T
from metak.estimators import wls_mods as WM

#: relative agreement of the O(k p²) sums with the k x k formulas (rounding only)
TOL_SUMS = 1e-12
#: |score| at the ML/REML estimate, relative to the Fisher information tr PP
TOL_SCORE = 1e-9


def _design(k, p, seed, offset=0.0):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.005, 0.4, k)
    X = np.column_stack([np.ones(k)] + [offset + rng.normal(size=k) * 20 for _ in range(p - 1)])
    y = rng.normal(0.3, np.sqrt(0.05 + v))
    return y, v, T._standardise(X)[0]


def _brute(y, v, X, t, reml):
    """y'Py, y'PPy, tr P (ML: sum w), tr PP (ML: sum w²), y'PPPy, log det X'WX by k x k matrices."""
    W = np.diag(1 / (v + t))
    A = X.T @ W @ X
    P = W - W @ X @ np.linalg.solve(A, X.T @ W)
    tr1 = np.trace(P) if reml else np.trace(W)
    tr2 = np.trace(P @ P) if reml else np.trace(W @ W)
    return y @ P @ y, y @ P @ P @ y, tr1, tr2, y @ P @ P @ P @ y, np.linalg.slogdet(A)[1]


@pytest.mark.parametrize("p", [1, 2, 3, 4])  # 1 and 2: the written-out path; 3, 4: LAPACK
@pytest.mark.parametrize("reml", [True, False])
def test_moments_match_the_k_by_k_formulas(p, reml):
    y, v, X = _design(12, p, seed=p, offset=1990.0)
    m = WM._Moments(y, v, X)
    for t in (0.0, 0.02, 0.7, 30.0):
        got = m.at(t, reml, newton=True)
        want = _brute(y, v, X, t, reml)
        for name, g, w in zip(("yPy", "yPPy", "tr1", "tr2", "yPPPy", "logdet"), got, want):
            assert abs(g - w) <= TOL_SUMS * max(1.0, abs(w)), (p, t, name, g, w)
        b, vb, rss = m.coef(t)
        W = np.diag(1 / (v + t))
        A = X.T @ W @ X
        assert np.allclose(b, np.linalg.solve(A, X.T @ W @ y), rtol=TOL_SUMS, atol=TOL_SUMS)
        assert np.allclose(vb, np.linalg.inv(A), rtol=TOL_SUMS, atol=TOL_SUMS)
        assert rss == pytest.approx(want[0], rel=TOL_SUMS)


@pytest.mark.parametrize("seed", range(8))
@pytest.mark.parametrize("method", ["REML", "ML"])
def test_the_estimate_is_a_zero_of_the_score_or_the_boundary(seed, method):
    """Newton/Fisher steps stop where the score is 0 (Fisher scoring alone, with its
    likelihood-based halving, could stop short on a flat likelihood: 1e-8 relative off)."""
    k, p = 20 + 5 * seed, 2 + seed % 3
    y, v, X = _design(k, p, seed=100 + seed)
    reml = method == "REML"
    t, ok = T._tau2(y, v, X, method)
    assert ok
    _, ypp, tr1, tr2, _, _ = _brute(y, v, X, t, reml)
    if t > 0:
        assert abs(ypp - tr1) <= TOL_SCORE * tr2, (t, ypp - tr1)
    else:
        assert ypp - tr1 <= TOL_SCORE * tr2  # at 0 the likelihood falls to the right


def test_regression_fit_is_the_same_through_either_sum_path(monkeypatch):
    """fit_regression at p = 2 by the written-out 2 x 2 path and by the LAPACK path agree."""
    rng = np.random.default_rng(7)
    v = rng.uniform(0.01, 0.2, 15)
    X = np.column_stack([np.ones(15), rng.normal(size=15)])
    y = rng.normal(0.2 + 0.3 * X[:, 1], np.sqrt(0.04 + v))
    fast = metak.fit_regression(y, v, X, method="REML", test="hksj")
    monkeypatch.setattr(WM._Moments, "at", lambda self, t, reml=True, newton=False: _generic_at(self, t, reml, newton))
    slow = metak.fit_regression(y, v, X, method="REML", test="hksj")
    assert slow.tau2 == pytest.approx(fast.tau2, rel=1e-12)
    for a, b in zip(fast.coefficients, slow.coefficients):
        assert a.estimate == pytest.approx(b.estimate, rel=1e-12) and a.se == pytest.approx(b.se, rel=1e-12)
    assert fast.qm == pytest.approx(slow.qm, rel=1e-11) and fast.i2 == pytest.approx(slow.i2, rel=1e-12)


def _generic_at(m, t, reml, newton):
    """The LAPACK branch of _Moments.at for any p (the code after its p <= 2 shortcut)."""
    p = m.p
    S = m.sums(t)
    L, _ = WM._potrf(S[0, :p, :p], lower=1, clean=0)
    rhs = np.concatenate((S[0, :p, p:p + 1], S[1, :p, :p + 1], S[2, :p, :p + 1]), axis=1)
    sol, _ = WM._potrs(L, rhs, lower=1)
    b, AiB = sol[:, 0], sol[:, 1:p + 1]
    c1, c2, c3 = S[0, :p, p], S[1, :p, p], S[2, :p, p]
    B, G = S[1, :p, :p], S[2, :p, :p]
    Bb = B @ b
    rss = S[0, p, p] - c1 @ b
    ypp = S[1, p, p] - 2 * (c2 @ b) + b @ Bb
    sw, sw2 = S[0, p + 1, p + 1], S[1, p + 1, p + 1]
    if reml:
        tr1 = sw - np.trace(AiB)
        tr2 = sw2 - 2 * np.trace(sol[:, p + 2:2 * p + 2]) + (AiB * AiB.T).sum()
    else:
        tr1, tr2 = sw, sw2
    d = c2 - Bb
    yppp = float(S[2, p, p] - 2 * (c3 @ b) + b @ (G @ b) - d @ WM._potrs(L, d, lower=1)[0]) if newton else None
    return float(rss), float(ypp), float(tr1), float(tr2), yppp, 2 * float(np.log(np.diagonal(L)).sum())


def test_one_thread_blocks_nest_and_restore_the_callers_setting():
    import threadpoolctl  # a core dependency

    from metak._blas import one_thread

    def blas_threads():
        return [i["num_threads"] for i in threadpoolctl.threadpool_info() if i["user_api"] == "blas"]

    before = blas_threads()
    with one_thread():
        assert set(blas_threads()) <= {1}
        with one_thread():
            assert set(blas_threads()) <= {1}
        assert set(blas_threads()) <= {1}  # the inner block does not restore the outer's limit
    assert blas_threads() == before

"""The vectorised tau² kernel behind fit, fit_batch, metak batch and metak simulate.

* Row sums are added left to right whatever the layout or the number of rows, so a
  meta-analysis's numbers never depend on the rows fitted beside it.
* ML and REML land on the root of the score (written out here from its definition), not
  merely near it, and Newton's step uses the second derivative of the likelihood (checked by
  finite differences).
* The search for a second maximum finds a peak narrower than its grid spacing.
"""

from __future__ import annotations

import numpy as np
import pytest

import metak
from metak.estimators import rowsums, tau2_ml


@pytest.mark.parametrize("m", [1, 2, 3, 50])
@pytest.mark.parametrize("k", [2, 8, 9, 33])
def test_row_sums_are_added_left_to_right(m, k):
    rng = np.random.default_rng(m * 100 + k)
    A = rng.standard_normal((m, k)) * 10.0 ** rng.uniform(-6, 6, (m, k))
    seq = np.zeros(m)
    for j in range(k):
        seq = seq + A[:, j]
    for layout in (np.ascontiguousarray(A), np.asfortranarray(A)):
        assert np.array_equal(rowsums.rsum(layout), seq)


def test_a_meta_analysis_alone_or_in_a_batch_gives_the_same_bits():
    rng = np.random.default_rng(11)
    V = rng.uniform(0.005, 0.8, (40, 12))
    Y = rng.normal(0.1, np.sqrt(V + 0.1))
    Y[5:, 9:] = np.nan  # padded rows beside full ones
    V[5:, 9:] = np.nan
    for method in ("REML", "ML", "PM", "DL"):
        together = metak.fit_batch(Y, V, method=method, test="hksj")
        for i in (0, 7, 39):
            alone = metak.fit_batch(Y[i:i + 1], V[i:i + 1], method=method, test="hksj")
            for key in ("tau2", "estimate", "se", "pi_lower", "q", "tau2_ci"):
                assert np.array_equal(getattr(alone, key)[0], getattr(together, key)[i]), (method, i, key)


def score(t, y, v, reml):
    """Twice the derivative of the (restricted) log-likelihood in tau², from its definition."""
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    s = np.sum(w**2 * (y - mu) ** 2) - np.sum(w)
    return s + np.sum(w**2) / np.sum(w) if reml else s


def loglik(t, y, v, reml):
    w = 1 / (v + t)
    mu = np.sum(w * y) / np.sum(w)
    ll = -0.5 * (np.sum(np.log(v + t)) + np.sum(w * (y - mu) ** 2))
    return ll - 0.5 * np.log(np.sum(w)) if reml else ll


@pytest.mark.parametrize("method", ["REML", "ML"])
def test_ml_and_reml_land_on_the_root_of_the_score(method):
    rng = np.random.default_rng(5)
    V = rng.uniform(0.01, 0.5, (3000, 10))
    Y = rng.normal(0.2, np.sqrt(V + 0.1))
    res = metak.fit_batch(Y, V, method=method)
    reml = method == "REML"
    inside = 0
    for i in range(len(res)):
        t, y, v = res.tau2[i], Y[i], V[i]
        s, scale = score(t, y, v, reml), np.sum(1 / (v + t))
        if t > 0:  # an interior maximum: the score is 0 there, to rounding
            inside += 1
            assert abs(s) <= 1e-11 * scale, (i, t, s)
        else:  # the boundary: the likelihood falls from 0
            assert s <= 1e-11 * scale, (i, s)
    assert inside > 1500


@pytest.mark.parametrize("reml", [True, False])
@pytest.mark.parametrize("t", [0.05, 0.3, 2.0])
def test_the_newton_step_uses_the_second_derivative(reml, t):
    rng = np.random.default_rng(3)
    v = rng.uniform(0.01, 0.5, 7)
    y = rng.normal(0, np.sqrt(v + 0.2))
    h = 1e-4 * t
    d1 = (loglik(t + h, y, v, reml) - loglik(t - h, y, v, reml)) / (2 * h)
    d2 = (loglik(t + h, y, v, reml) - 2 * loglik(t, y, v, reml) + loglik(t - h, y, v, reml)) / h**2
    Y, V, M = rowsums.fortran(y[None, :], v[None, :], np.ones((1, 7)))
    ll, step = tau2_ml._stats(Y, V, M, np.array([t]), reml, step=True)
    assert ll[0] == pytest.approx(loglik(t, y, v, reml), rel=1e-13)
    if d2 < 0:  # concave there: Newton's step
        assert step[0] == pytest.approx(-d1 / d2, rel=1e-5)
    else:  # Fisher's step, score over the expected information
        w = 1 / (v + t)
        info = np.sum(w**2) - (2 * np.sum(w**3) / np.sum(w) - (np.sum(w**2) / np.sum(w)) ** 2 if reml else 0)
        assert step[0] == pytest.approx(score(t, y, v, reml) / info, rel=1e-12)


def test_a_peak_narrower_than_the_scan_grid_is_found():
    """ML: a maximum at 0 and a higher one near 0.0075 whose peak (width ~0.002) falls between
    two points of the 64-point scan. Newton's iteration stops at 0; the likelihood's values at
    the grid points are all below the one at 0, but the score changes sign there."""
    yi = np.array([0.657667, 0.879323, 1.64762, -1.68334, 0.32059, 0.765898, 0.079686, -0.152553, 0.0518983,
                   0.419433, 0.316405, -0.633467, 0.261912, -0.539117, 0.437676, -0.92744, -0.787709, 0.110721,
                   0.341184, -0.348653, -0.393731, 0.545048])
    vi = np.array([0.652026, 0.901071, 0.889725, 0.805165, 0.100909, 0.281456, 0.42483, 0.076108, 0.00226556,
                   0.0232997, 0.538128, 0.67447, 0.119141, 0.545354, 0.125462, 0.741098, 0.221966, 0.407164,
                   0.643699, 0.803399, 0.557248, 0.713304])
    # the reference, independently: a fine grid of the likelihood and the score's root beside it
    grid = np.concatenate([[0.0], np.geomspace(1e-7, 1.0, 20000)])
    lls = np.array([loglik(t, yi, vi, False) for t in grid])
    j = int(lls.argmax())
    assert 0.005 < grid[j] < 0.01 and lls[j] > lls[0] + 1e-4
    lo, hi = grid[j - 1], grid[j + 1]
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if score(mid, yi, vi, False) > 0 else (lo, mid)
    # the scan's own points miss the peak: none beats the likelihood at 0
    top = 2 * np.max((yi - yi.mean()) ** 2)
    scan = top * np.geomspace(1e-6, 1.0, tau2_ml.GRID)
    assert max(loglik(t, yi, vi, False) for t in scan) < lls[0]
    res = metak.fit(yi, vi, method="ML")
    assert res.tau2 == pytest.approx(0.5 * (lo + hi), rel=1e-10)
    # the meta-regression engine's scan, from the same stopping point (tau² = 0), finds it too
    from metak.estimators import tau2_mods as R

    X = np.ones((yi.size, 1))
    at_zero = R._loglik(yi, vi, 0.0, R._WLS(yi, vi, X), False)
    assert R._global_maximum(yi, vi, X, 0.0, at_zero, False) == pytest.approx(0.5 * (lo + hi), rel=1e-10)
    assert metak.fit_regression(yi, vi, X, method="ML").tau2 == pytest.approx(0.5 * (lo + hi), rel=1e-10)
    # and leave-one-out: with a 23rd study added, deleting it gives back these 22 studies' fit
    from metak.estimators.deletion import deleted_tau2

    y23, v23 = np.append(yi, 0.06), np.append(vi, 0.01)
    deleted = deleted_tau2(y23, v23, "ML", metak.fit(y23, v23, method="ML").tau2)
    assert deleted[-1] == pytest.approx(res.tau2, rel=1e-12)
    for i in (0, 8, 15):
        alone = metak.fit(np.delete(y23, i), np.delete(v23, i), method="ML").tau2
        assert deleted[i] == pytest.approx(alone, rel=1e-9, abs=1e-12), i


def test_the_chi_squared_series_agrees_with_scipy():
    from scipy import special

    from metak.estimators.distributions import chi2_sf

    rng = np.random.default_rng(0)
    df = np.repeat(np.arange(1, 101), 500).astype(float)
    x = np.concatenate([rng.uniform(0, 3 * d + 10, 500) for d in range(1, 101)])
    x[::37] = rng.uniform(0, 1000, x[::37].size)  # the far tail too
    want = special.chdtrc(df, x)
    got = chi2_sf(df, x)
    ok = want > 1e-290
    assert ok.sum() > 45_000
    assert np.max(np.abs(got[ok] - want[ok]) / want[ok]) < 1e-12
    assert np.array_equal(chi2_sf(np.arange(1.0, 8.0), 0.0), np.ones(7))
    # elsewhere scipy itself: non-integer or large df, x beyond 1000, NaN
    odd = np.array([9.5, 150.0, 3.0, 3.0])
    xs = np.array([3.0, 140.0, 2000.0, np.nan])
    assert np.array_equal(chi2_sf(odd, xs), special.chdtrc(odd, xs), equal_nan=True)
    # one df for all takes a loop without masks: the same bits as in a batch of mixed df
    for d in (1.0, 2.0, 9.0, 10.0, 55.0):
        xs = rng.uniform(0, 3 * d + 10, 300)
        alone = chi2_sf(np.full(300, d), xs)
        mixed = chi2_sf(np.append(np.full(300, d), [4.0, 7.0]), np.append(xs, [1.0, 2.0]))[:300]
        assert np.array_equal(alone, mixed), d
    # and Cochran's Q of a fit uses it
    res = metak.fit_batch(np.array([[0.1, 0.5, -0.2, 0.9]]), np.array([[0.04, 0.09, 0.05, 0.1]]), method="DL")
    assert res.q_p[0] == pytest.approx(special.chdtrc(3, res.q[0]), rel=1e-13)


def test_row_subsets_stay_column_major():
    """The iteration drops converged rows with tau2.sub: in the engine's layout, so that no row
    sum has to copy (A[idx] and A.T[:, idx].T both come back C-ordered)."""
    A = rowsums.fortran(np.arange(60.0).reshape(12, 5))[0]
    for idx in (np.array([0, 3, 4, 11]), np.arange(12) % 3 == 0, np.array([7])):
        B = rowsums.sub(A, idx)
        assert B.flags.f_contiguous and np.array_equal(B, A[idx])

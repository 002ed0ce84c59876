"""Speed of the multivariate (multi-arm) model (issue: 1,000 trials of 3 arms in < 1 s).

    python benchmarks/bench_multivariate.py

Simulated trials with two experimental arms against a shared control (V with the control's
covariance), REML, intercept-only and with a dose moderator; median of 3 runs. Trials of one
size are stacked, so the likelihood is a few batched (n, s, s) operations.
"""

from __future__ import annotations

import numpy as np

from bench_fit import timed  # run as a script: benchmarks/ is on sys.path
from metak.estimators.multivariate import fit_mv


def simulate(n_trials, rng):
    k = 2 * n_trials
    groups = np.repeat(np.arange(n_trials), 2)
    V = np.zeros((k, k))
    y = np.empty(k)
    dose = np.tile([0.5, 1.0], n_trials)
    for i in range(n_trials):
        c = 1 / rng.integers(5, 20) + 1 / rng.integers(20, 40)
        idx = [2 * i, 2 * i + 1]
        V[np.ix_(idx, idx)] = c
        V[idx, idx] = c + 1 / rng.integers(5, 20, 2) + 1 / rng.integers(20, 40, 2)
        u = rng.normal(0, 0.3)
        y[idx] = 0.2 + 0.3 * dose[idx] + u + rng.normal(0, np.sqrt(V[idx, idx] + 0.05))
    return y, V, groups, np.column_stack([np.ones(k), dose])


def main():
    rng = np.random.default_rng(20261201)
    for n in (100, 1000, 2000):  # V is passed dense (k x k): 2,000 trials is 4,000² floats
        y, V, g, X = simulate(n, rng)
        t = timed(lambda: fit_mv(y, V, g), 3)
        t2 = timed(lambda: fit_mv(y, V, g, X), 3)
        print(f"multivariate REML, {n:>5} trials x 3 arms: {t * 1000:7.1f} ms (intercept), {t2 * 1000:7.1f} ms (dose)")


if __name__ == "__main__":
    main()

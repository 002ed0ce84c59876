"""Speed of meta-regression against the intercept-only fit (issue: within 3x at k = 100,000).

    python benchmarks/bench_regression.py [--json OUT]

For k = 1,000 and 100,000 simulated studies with p = 3 (intercept, a continuous moderator
and a binary one), times ``metak.fit_regression`` beside ``metak.fit`` on the same yi, vi,
for each of REML, DL and PM, z test; median of repeats. The regression engine never forms a
k x k matrix (QR of W^1/2 X, O(k p²) per iteration); metafor's rma(mods=) does, so it is
not run at k = 100,000.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import metak
from bench_fit import timed  # run as a script: benchmarks/ is on sys.path


def simulate(k, rng):
    vi = rng.uniform(0.01, 0.2, k)
    x1 = rng.normal(size=k)
    x2 = rng.integers(0, 2, k).astype(float)
    yi = rng.normal(0.3 - 0.1 * x1 + 0.2 * x2, np.sqrt(0.05 + vi))
    return yi, vi, np.column_stack([np.ones(k), x1, x2])


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(20261201)
    y, v, X = simulate(50, rng)
    metak.fit_regression(y, v, X)  # warm up imports
    metak.fit(y, v)
    out = {}
    print(f"{'k':>8} {'method':>6} {'fit (ms)':>10} {'fit_regression p=3 (ms)':>24} {'ratio':>6}")
    for k, reps in ((1000, 50), (100_000, 7)):
        y, v, X = simulate(k, rng)
        for method in ("REML", "DL", "PM"):
            t0 = timed(lambda: metak.fit(y, v, method=method), reps)
            t1 = timed(lambda: metak.fit_regression(y, v, X, method=method), reps)
            out[f"k{k}_{method}"] = {"fit_s": t0, "fit_regression_s": t1, "ratio": t1 / t0}
            print(f"{k:>8} {method:>6} {1e3 * t0:>10.2f} {1e3 * t1:>24.2f} {t1 / t0:>6.2f}")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

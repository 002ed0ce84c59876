"""GLMM fits (metak.glmm) on k = 50 sparse two-arm trials: the goal is < 0.5 s per fit.

SYNTHETIC data (seeded): 50 trials of 20-80 participants per arm, control risk 3-15%, a true
log odds ratio -0.5 with tau = 0.4, so many trials have zero cells and a few double zeros.
Median of 3 runs per model and method (process time would hide nothing here: one thread).

    python benchmarks/bench_glmm.py [--json out.json]
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_fit import timed  # noqa: E402

from metak.glmm import glmm  # noqa: E402


def sparse_trials(k, rng):
    n1 = rng.integers(20, 81, k)
    n2 = rng.integers(20, 81, k)
    base = rng.uniform(0.03, 0.15, k)
    lo = np.log(base / (1 - base))
    theta = rng.normal(-0.5, 0.4, k)
    p1 = 1 / (1 + np.exp(-(lo + theta)))
    ai = rng.binomial(n1, p1)
    ci = rng.binomial(n2, base)
    return ai, n1, ci, n2


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(20261207)
    ai, n1, ci, n2 = sparse_trials(50, rng)
    zero = int(((ai == 0) | (ci == 0)).sum())
    double = int(((ai == 0) & (ci == 0)).sum())
    print(f"k = 50 trials, {zero} with a zero cell, {double} double-zero (left out)")
    out = {"k": 50, "zero_cell_trials": zero, "double_zero": double, "seconds": {}}
    glmm(ai, n1, ci, n2, model="UM.FS", method="FE")  # warm up imports
    for model in ("UM.FS", "CM.EL", "CM.AL", "UM.RS"):
        for method in ("ML", "FE"):
            for ci_tau in ((True, False) if method == "ML" and model != "UM.RS" else (False,)):
                fn = lambda: glmm(ai, n1, ci, n2, model=model, method=method, tau2_ci=ci_tau)  # noqa: E731
                t = timed(fn, args.repeats)
                g = fn()
                name = f"{model} {method}" + (" + tau2 profile CI" if ci_tau else "")
                out["seconds"][name] = round(t, 4)
                tau2 = "" if g.tau2 is None else f", tau2 {g.tau2:.4f}"
                print(f"{name:32} {t * 1000:8.1f} ms   estimate {g.estimate:+.4f} (se {g.se:.4f}{tau2})")
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

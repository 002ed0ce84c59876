"""Speed of the RoBMA-style ensemble (bayesian_model_averaging) and of the selection models,
on one core (OMP/OpenBLAS threads = 1 are set before NumPy loads).

    python benchmarks/bench_model_averaging.py

Target (issue 30): k <= 30 in <= 10 s. Simulated effects: k studies with sampling variances
uniform in (0.01, 0.2), true effects N(0.3, 0.05).
"""

from __future__ import annotations

import os

for var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(var, "1")

import statistics  # noqa: E402
import time  # noqa: E402

import numpy as np  # noqa: E402

from metak.sensitivity.model_averaging import model_averaging  # noqa: E402
from metak.sensitivity.selection import selection_model  # noqa: E402


def timed(fn, repeats=3):
    out = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t)
    return statistics.median(out)


def main():
    rng = np.random.default_rng(30)
    for k in (10, 30):
        v = rng.uniform(0.01, 0.2, k)
        y = rng.normal(0.3, np.sqrt(0.05 + v))
        print(f"k = {k}: bayesian_model_averaging (36 models) {timed(lambda: model_averaging(y, v)):.2f} s; "
              f"selection_model stepfun {timed(lambda: selection_model(y, v, type='stepfun', steps=[0.05])):.2f} s"
              f"; halfnorm {timed(lambda: selection_model(y, v, type='halfnorm')):.2f} s")


if __name__ == "__main__":
    main()

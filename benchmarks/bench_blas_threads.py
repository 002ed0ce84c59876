"""Meta-regression's tiny matrices with and without one BLAS thread, on an idle and a busy machine.

    python benchmarks/bench_blas_threads.py [--busy N] [--json OUT]

metak runs its many-small-fits paths (``fit_regression`` with its permutation test,
``fit_mv``, ``metak.analyze``) inside ``metak._blas.one_thread``. This times the exact
permutation test of the BCG data (k = 7 trials with their latitude: 7! = 5,040 REML
meta-regression fits) and the cost of one meta-regression fit, each (a) as metak runs it and
(b) with the BLAS thread pool left at its default size (``fit_regression.__wrapped__``), first
on an idle machine, then with N busy processes (default: one per core) competing for the
cores, as on a loaded CI runner or laptop. Medians of repeats.
"""

from __future__ import annotations

import argparse
import json
import multiprocessing as mp
import os
import time
from pathlib import Path

import numpy as np

import metak
from bench_fit import timed  # run as a script: benchmarks/ is on sys.path
from metak.estimators.regression import fit_regression

# BCG vaccine trials (metadat::dat.bcg), log risk ratios by escalc and absolute latitude
YI = np.array([-0.8893, -1.5854, -1.3481, -1.4416, -0.2175, -0.7861, -1.6209])
VI = np.array([0.3256, 0.1946, 0.4154, 0.0200, 0.0512, 0.0069, 0.2230])
LAT = np.array([44.0, 55.0, 42.0, 52.0, 13.0, 44.0, 19.0])
X = np.column_stack([np.ones(7), LAT])


def _spin(stop):
    while not stop.is_set():
        sum(i * i for i in range(10_000))


def _median_time(f, repeats):
    return timed(f, repeats)


def measure(repeats):
    wrapped = fit_regression.__wrapped__  # the same code without the one-thread limit
    perm = dict(method="REML", permutations=10_000, seed=1)
    return {
        "permutation_test_s": {
            "one_blas_thread": _median_time(lambda: fit_regression(YI, VI, X, **perm), repeats),
            "default_blas_threads": _median_time(lambda: wrapped(YI, VI, X, **perm), repeats),
        },
        "one_fit_ms": {
            "one_blas_thread": 1e3 * _median_time(lambda: [fit_regression(YI, VI, X) for _ in range(200)], repeats) / 200,
            "default_blas_threads": 1e3 * _median_time(lambda: [wrapped(YI, VI, X) for _ in range(200)], repeats) / 200,
        },
    }


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--busy", type=int, default=os.cpu_count())
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    from threadpoolctl import threadpool_info

    fit_regression(YI, VI, X)  # imports, the controller
    out = {"blas": [{k: i.get(k) for k in ("internal_api", "version", "num_threads")} for i in threadpool_info()],
           "cores": os.cpu_count(), "metak": metak.__version__}
    out["idle"] = measure(args.repeats)
    stop = mp.Event()
    procs = [mp.Process(target=_spin, args=(stop,), daemon=True) for _ in range(args.busy)]
    for p in procs:
        p.start()
    try:
        time.sleep(0.5)
        out[f"busy_{args.busy}_processes"] = measure(args.repeats)
    finally:
        stop.set()
        for p in procs:
            p.join()
    print(json.dumps(out, indent=1))
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

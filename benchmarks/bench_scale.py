"""Meta-research at scale (issue 17): fits per second of the vectorised engine, in process and
on a 2-worker dask LocalCluster, and metak batch end to end on a real-format CSV.

    python benchmarks/bench_scale.py            # 1,000,000 simulated meta-analyses of k = 10
    python benchmarks/bench_scale.py --n 100000 # quicker

Simulated: yi ~ N(0.2, vi + 0.1), vi ~ U(0.01, 0.5), k = 10; REML with Knapp-Hartung, the
tau² interval off (as metak batch by default); partitions of metak batch's size (10,000)."""

from __future__ import annotations

import argparse
import os
import tempfile
import time

# per core: one thread for any BLAS call, in metak and in PyMARE (metak's batch kernel is
# element-wise numpy, single-threaded anyway)
for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")

import numpy as np  # noqa: E402


def simulated(n, k=10, seed=1):
    """(Y, V) of shape (n, k), column-major: the layout metak's engine works in (a C-ordered
    table costs one transposing copy per partition); Y.T and V.T are PyMARE's (k, n) layout."""
    rng = np.random.default_rng(seed)
    V = rng.uniform(0.01, 0.5, (k, n))
    return rng.normal(0.2, np.sqrt(V + 0.1)).T, V.T


def simulate_and_fit(args):
    """A seeded partition drawn and fitted where it runs (no data shipped): as metak simulate."""
    from metak.scale.batch import fit_partition

    seed, index, size, method = args
    rng = np.random.default_rng(np.random.SeedSequence([seed, index]))
    V = rng.uniform(0.01, 0.5, (size, 10))
    Y = rng.normal(0.2, np.sqrt(V + 0.1))
    return fit_partition((Y, V, method, "hksj", 0.95, False))


def main():
    from metak.scale.batch import PARTITION, fit_partition
    from metak.scale.executor import executor

    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--partition", type=int, default=PARTITION)
    a = ap.parse_args()
    Y, V = simulated(a.n)
    parts = [(np.asfortranarray(Y[i:i + a.partition]), np.asfortranarray(V[i:i + a.partition]), "REML", "hksj", 0.95, False)
             for i in range(0, a.n, a.partition)]
    for method in ("REML", "DL"):
        ps = [(y, v, method, t, lv, iv) for y, v, _, t, lv, iv in parts]
        t0 = time.perf_counter()
        with executor(None) as run:
            local = run(fit_partition, ps)
        dt = time.perf_counter() - t0
        print(f"{method:4s} + hksj, {a.n:,} x k = 10, in process (1 core): {dt:6.2f} s = {a.n / dt:10,.0f} fits/s")
        t0 = time.perf_counter()
        with executor("local:2") as run:
            t1 = time.perf_counter()
            remote = run(fit_partition, ps)
            dt_run = time.perf_counter() - t1
        dt = time.perf_counter() - t0
        same = all(np.array_equal(x["estimate"], y["estimate"]) and np.array_equal(x["tau2"], y["tau2"])
                   for x, y in zip(local, remote))
        print(f"{method:4s} + hksj, {a.n:,} x k = 10, LocalCluster 2 workers: {dt_run:6.2f} s fitting "
              f"({a.n / dt_run:10,.0f} fits/s), {dt:6.2f} s with cluster start-up; identical: {same}")
    # the Q-profile CI of tau² (off in metak batch unless --intervals)
    t0 = time.perf_counter()
    for y, v, *_ in parts:
        fit_partition((y, v, "REML", "hksj", 0.95, True))
    dt = time.perf_counter() - t0
    print(f"REML + hksj + Q-profile tau² CI, {a.n:,} x k = 10, in process: {dt:6.2f} s = {a.n / dt:10,.0f} fits/s")
    for method in ("REML",):
        tasks = [(1, i, a.partition, method) for i in range(a.n // a.partition)]
        t0 = time.perf_counter()
        with executor(None) as run:
            local = run(simulate_and_fit, tasks)
        dt_l = time.perf_counter() - t0
        with executor("local:2") as run:
            t1 = time.perf_counter()
            remote = run(simulate_and_fit, tasks)
            dt_r = time.perf_counter() - t1
        same = all(np.array_equal(x["estimate"], y["estimate"]) for x, y in zip(local, remote))
        print(f"{method:4s} + hksj, {a.n:,} drawn and fitted in their partition: in process {a.n / dt_l:,.0f} fits/s, "
              f"LocalCluster 2 workers {a.n / dt_r:,.0f} fits/s; identical: {same}")
    # side by side with PyMARE's 2-D estimators (if installed: pip install pymare; not a
    # dependency of metak), every one that takes yi and vi (FE is its WeightedLeastSquares with
    # tau² = 0; it has no PM), at three batch sizes. PyMARE fits tau² and the estimate only (no
    # HKSJ, no PI, no global-maximum check); metak here does that too plus z CIs, Q, I², H².
    try:
        from pymare.estimators import (DerSimonianLaird, Hedges, VarianceBasedLikelihoodEstimator,
                                       WeightedLeastSquares)
    except ImportError:
        print("PyMARE not installed: no side-by-side comparison")
    else:
        import warnings

        X = np.ones((10, 1))

        def best(fn, reps):  # fits per second, best of reps (at 20,000 a run is a few ms)
            out = 0.0
            for _ in range(reps):
                t0 = time.perf_counter()
                fn()
                out = max(out, 1.0 / (time.perf_counter() - t0))
            return out

        print("side by side: PyMARE fit (tau² and beta) | PyMARE fit + its inference (SE, z, p, CI) | "
              "metak, the whole row (also Q, its p, I², H², PI)")
        for n in sorted({min(a.n, s) for s in (20_000, 200_000, 1_000_000)}):
            reps = 7 if n <= 20_000 else 3
            for name, est in (("FE", WeightedLeastSquares), ("DL", DerSimonianLaird), ("HE", Hedges),
                              ("ML", lambda: VarianceBasedLikelihoodEstimator(method="ML")),
                              ("REML", lambda: VarianceBasedLikelihoodEstimator(method="REML"))):
                r = 1 if (n > 200_000 and name in ("ML", "REML")) else reps  # PyMARE's ML at 1M: ~15 s a run
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    p_fit = n * best(lambda: est().fit(y=Y[:n].T, v=V[:n].T, X=X), r)
                    p_inf = n * best(lambda: est().fit(y=Y[:n].T, v=V[:n].T, X=X).summary().get_fe_stats(), r)

                def metak_fit():
                    for i in range(0, n, a.partition):
                        fit_partition((Y[i:min(i + a.partition, n)], V[i:min(i + a.partition, n)], name, "z", 0.95,
                                       False))

                mk = n * best(metak_fit, r)
                print(f"{name:4s}, {n:>9,} x k = 10: PyMARE {p_fit:11,.0f} | {p_inf:11,.0f} fits/s, "
                      f"metak {mk:11,.0f} fits/s ({mk / p_fit:.1f}x | {mk / p_inf:.1f}x)")
    # real format: 10,000 meta-analyses of 2-30 studies in a long CSV, end to end
    import pandas as pd

    from metak.scale.batch import run_batch

    rng = np.random.default_rng(7)
    ks = rng.integers(2, 31, 10_000)
    ids = np.repeat([f"m{i:05d}" for i in range(ks.size)], ks)
    vi = rng.uniform(0.01, 0.5, ids.size)
    df = pd.DataFrame({"meta_id": ids, "yi": rng.normal(0.2, np.sqrt(vi + 0.1)), "vi": vi})
    with tempfile.TemporaryDirectory() as d:
        path = os.path.join(d, "long.csv")
        df.to_csv(path, index=False)
        t0 = time.perf_counter()
        t = run_batch(path, method="REML", test="hksj")
        dt = time.perf_counter() - t0
    print(f"metak batch, 10,000 meta-analyses ({ids.size:,} rows) from CSV, REML + hksj, end to end: {dt:.2f} s "
          f"({len(t) / dt:,.0f} per s; {int((t['error'] != '').sum())} failed)")


if __name__ == "__main__":
    main()

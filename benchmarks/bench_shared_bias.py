"""Wall time of the shared-bias model (metak/sensitivity/shared_bias.py): the exact posterior of
mu, beta, tau and kappa (2-D quadrature; the issue's goal: well under a second) and the REML fits.

    python benchmarks/bench_shared_bias.py [--repeats 5]

Data: simulated (seeded) meta-analyses of k trials, half compromised, v_i ~ U(0.01, 0.1).
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from metak.bayes import priors as P
from metak.sensitivity import shared_bias as S


def data(k, seed=1):
    rng = np.random.default_rng(seed)
    z = (np.arange(k) % 2).astype(float)
    v = rng.uniform(0.01, 0.1, k)
    y = 0.2 + 0.25 * z + rng.normal(0, np.sqrt(v + 0.04 + 0.02 * z))
    return y, v, z


def timed(f, repeats):
    f()                                   # warm-up (imports, caches)
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        f()
        ts.append(time.perf_counter() - t0)
    return statistics.median(ts)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=5)
    a = ap.parse_args()
    pri = (P.Normal(0, 10), P.Normal(0.26, 0.11), P.HalfNormal(0.5), P.HalfNormal(0.2))
    print(f"{'k':>4} {'posterior s':>12} {'nodes':>7} {'REML beta,kappa s':>18} {'REML fixed s':>13}")
    for k in (6, 12, 24, 48):
        y, v, z = data(k)
        tb = timed(lambda: S.posterior(y, v, z, *pri), a.repeats)
        nodes = S.posterior(y, v, z, *pri)["n_nodes"]
        te = timed(lambda: S.reml(y, v, z), a.repeats)
        tf = timed(lambda: S.reml(y, v, z, beta=0.26, beta_var=0.0121, kappa2=0.04), a.repeats)
        print(f"{k:>4} {tb:>12.3f} {nodes:>7} {te:>18.4f} {tf:>13.4f}")


if __name__ == "__main__":
    main()

"""Speed of the network meta-analysis (issue 26: 500 trials, 30 treatments in < 1 s).

    python benchmarks/bench_network.py

Simulated arm-level binary data (seeded): 30 treatments with true log odds ratios vs the
reference, 500 trials, 80% two-arm and 20% three-arm, arms drawn at random (a chain of trials
first so the network is connected), 40-200 participants per arm, heterogeneity tau = 0.2.
Timed: building the contrasts, the frequentist fit alone (REML tau^2 and the estimates), the full
frequentist record (Q decomposition with the design-by-treatment model, node splitting, P-scores,
profile CI of tau^2), and the exact Bayesian network; median of 3 runs.
"""

from __future__ import annotations

import numpy as np

from bench_fit import timed  # run as a script: benchmarks/ is on sys.path
from metak.network import fit_network
from metak.network.bayes import exact_network
from metak.network.data import build_from_arms
from metak.network.model import Blocks, estimate_tau2


def simulate(n_trials, n_treat, rng, tau=0.2):
    names = [f"t{j:02d}" for j in range(n_treat)]
    d = np.concatenate([[0.0], rng.normal(0, 0.5, n_treat - 1)])
    trials = {}
    for i in range(n_trials):
        if i < n_treat - 1:
            arms = [i, i + 1]
        else:
            arms = list(rng.choice(n_treat, 3 if rng.random() < 0.2 else 2, replace=False))
        base_logit = rng.normal(-1, 0.5)
        delta = rng.normal(0, tau, len(arms))
        out = []
        for a, u in zip(arms, delta):
            n = int(rng.integers(40, 201))
            p = 1 / (1 + np.exp(-(base_logit + d[a] + u)))
            out.append({"treatment": names[a], "events": int(rng.binomial(n, p)), "total": n})
        trials[f"s{i:03d}"] = out
    return trials


def main():
    rng = np.random.default_rng(20261207)
    for n_trials, n_treat in ((100, 10), (500, 30), (2000, 30)):
        trials = simulate(n_trials, n_treat, rng)
        t_build = timed(lambda: build_from_arms(trials, "OR", "t00"), 3)
        data = build_from_arms(trials, "OR", "t00")
        X = data.design_matrix()

        def core():
            b = Blocks(data.y, X, data.blocks, data.trial)
            t2 = estimate_tau2(b, "REML")
            return b.solve(t2)

        t_core = timed(core, 3)
        t_full = timed(lambda: fit_network(data, method="REML", bayes=False), 3)
        t_bayes = timed(lambda: exact_network(data), 3)
        print(f"network, {n_trials:>4} trials x {n_treat} treatments ({data.n} contrasts): "
              f"build {t_build * 1000:6.1f} ms, "
              f"REML fit {t_core * 1000:6.1f} ms, full frequentist record {t_full * 1000:7.1f} ms, "
              f"exact Bayes {t_bayes * 1000:7.1f} ms")


if __name__ == "__main__":
    main()

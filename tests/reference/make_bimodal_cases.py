"""Pin meta-analyses whose (restricted) likelihood of tau² has two maxima.

    python tests/reference/make_bimodal_cases.py

A seeded simulation (numpy default_rng(20261201)): 1,000,000 meta-analyses of k = 10 with
vi = 4 u² (u ~ U(0.01, 1)) and true tau² drawn from {0, 0.01, 0.05, 0.1}. Before metak took
the global maximum, Fisher scoring from the Hedges start returned the lower maximum in 2,895
of them under REML and 20,548 under ML. The first 6 such rows of each (by index; the index
is kept so the case can be regenerated) are written to bimodal_cases.json with their yi and
vi; tests/test_estimators_global.py finds each case's global maximum independently, by a
fine grid and a bounded scalar optimiser on a likelihood written out there.
"""

import json
from pathlib import Path

import numpy as np

OUT = Path(__file__).with_name("bimodal_cases.json")
# rows found by the search described above (indices into the simulation): the first six where
# a likelihood grid of 401 points beat metak 0.1.0's Fisher solution by more than 1e-6
ROWS = {"REML": [118, 245, 542, 574, 627, 654], "ML": [105, 157, 226, 416, 420, 472]}


def simulate():
    rng = np.random.default_rng(20261201)
    m, k = 1_000_000, 10
    V = rng.uniform(0.01, 1.0, (m, k)) ** 2 * 4
    tau2 = rng.choice([0.0, 0.01, 0.05, 0.1], m)
    Y = rng.normal(0, np.sqrt(tau2[:, None] + V))
    return Y, V


def main(rows):
    Y, V = simulate()
    cases = []
    for method, idx in rows.items():
        for i in idx:
            cases.append({"method": method, "row": int(i), "yi": Y[i].tolist(), "vi": V[i].tolist()})
    OUT.write_text(json.dumps({"seed": 20261201, "generated_by": "tests/reference/make_bimodal_cases.py",
                               "cases": cases}, indent=1) + "\n")


if __name__ == "__main__":
    main(ROWS)

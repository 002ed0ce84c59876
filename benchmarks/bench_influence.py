"""Speed of the influence diagnostics (issue: < 1 s at k = 1,000).

    python benchmarks/bench_influence.py [--json OUT]

metafor's influence() refits the model k times (O(k²) work, k separate fits); metak computes
all k deletions at once (metak.estimators.deletion). For k = 100, 1,000 and 5,000 simulated
studies, times ``influence()`` for REML, DL and PM (Knapp-Hartung) and, at k = 1,000, k plain
leave-one-out refits with ``metak.fit`` for comparison, and the public
``metak.fit(...).leave_one_out()`` (all deletions at once by the batch engine); median of repeats.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np

import metak
from bench_fit import timed  # run as a script: benchmarks/ is on sys.path
from metak.effects import EffectTable
from metak.estimators.model import Model
from metak.sensitivity.influence import influence


def table(k, rng):
    vi = rng.uniform(0.01, 0.5, k)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05))
    return yi, vi, EffectTable.from_arrays(yi, vi)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(20261201)
    out = {}
    for k in (100, 1000, 5000):
        yi, vi, tab = table(k, rng)
        for method in ("REML", "DL", "PM"):
            m = Model(method, "hksj")
            t = timed(lambda: influence(tab, m), 3 if k <= 1000 else 1)
            out[f"influence_{method}_k{k}"] = t
            print(f"influence  {method:4}  k = {k:>5}: {t * 1000:8.1f} ms")
    yi, vi, _ = table(1000, rng)
    t = timed(lambda: [metak.fit(np.delete(yi, i), np.delete(vi, i), method="REML") for i in range(1000)], 1)
    out["refits_REML_k1000"] = t
    print(f"1,000 leave-one-out REML refits with metak.fit: {t * 1000:8.1f} ms")
    res = metak.fit(yi, vi, method="REML")
    for test in ("z", "hksj"):
        r = metak.fit(yi, vi, method="REML", test=test)
        t = timed(lambda: r.leave_one_out(), 3)
        out[f"public_leave_one_out_REML_{test}_k1000"] = t
        print(f"metak.fit(...).leave_one_out() REML {test:4} k = 1,000: {t * 1000:8.1f} ms")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()

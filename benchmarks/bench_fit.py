"""Speed of the frequentist engine, and the same fits in metafor when R is available.

    python benchmarks/bench_fit.py [--json OUT]

Measures REML at k = 10, 1,000 and 100,000 (median of repeats), the batch form on 10,000
meta-analyses of k = 10, and (if Rscript with metafor is on the PATH) metafor's rma at
k = 10 and 1,000 via benchmarks/metafor_bench.R, printed as ratios. k = 100,000 is not run
in metafor: rma builds k x k matrices (about 80 GB).
"""

from __future__ import annotations

import argparse
import json
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np

import metak


def simulate(k, rng):
    vi = rng.uniform(0.01, 0.2, k)
    yi = rng.normal(0.3, np.sqrt(0.05 + vi))
    return yi, vi


def timed(fn, repeats):
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    rng = np.random.default_rng(20261126)
    out = {}
    metak.fit(*simulate(10, rng))  # warm up imports
    for k, reps in ((10, 200), (1000, 50), (100_000, 5)):
        y, v = simulate(k, rng)
        out[f"reml_k{k}_s"] = timed(lambda: metak.fit(y, v, method="REML"), reps)
    Y = rng.normal(0.3, 0.3, (10_000, 10))
    V = rng.uniform(0.01, 0.2, (10_000, 10))
    Y += rng.normal(0, 0.2, (10_000, 1))
    out["batch_10000x10_s"] = timed(lambda: metak.fit_batch(Y, V, method="REML"), 3)
    if shutil.which("Rscript"):
        with tempfile.TemporaryDirectory() as tmp:
            res = Path(tmp) / "r.json"
            p = subprocess.run(["Rscript", str(Path(__file__).with_name("metafor_bench.R")), str(res)],
                               capture_output=True, text=True)
            if p.returncode == 0 and res.exists():
                r = json.loads(res.read_text())
                out["metafor"] = r
                out["speedup_k10"] = r["k10_s"] / out["reml_k10_s"]
                out["speedup_k1000"] = r["k1000_s"] / out["reml_k1000_s"]
    for key, value in out.items():
        if isinstance(value, float):
            unit = "x" if key.startswith("speedup") else "s"
            print(f"{key:<22} {value:12.6g} {unit}")
    if "metafor" in out:
        print(f"metafor {out['metafor'].get('metafor_version')} (R {out['metafor'].get('r_version')}): "
              f"k=10 {out['metafor']['k10_s']:.4g} s, k=1000 {out['metafor']['k1000_s']:.4g} s")
    else:
        print("Rscript/metafor not available: no metafor comparison")
    if args.json:
        args.json.write_text(json.dumps(out, indent=2) + "\n")


if __name__ == "__main__":
    main()

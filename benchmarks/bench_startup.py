"""Start-up cost: `metak --help` wall time and what `import metak` loads.

    python benchmarks/bench_startup.py [--repeats 20]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=20)
    args = ap.parse_args()
    exe = shutil.which("metak")
    if exe is None:
        sys.exit("the metak console script is not on PATH (pip install . first)")
    times = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        subprocess.run([exe, "--help"], capture_output=True, check=True)
        times.append(time.perf_counter() - t0)
    code = ("import sys, time; t=time.perf_counter(); import metak; d=time.perf_counter()-t; "
            "print(d, sum(1 for m in sys.modules if m.split('.')[0] in ('pymc','arviz','matplotlib','pandas','scipy')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.split()
    print(f"metak --help      median {statistics.median(times) * 1000:7.1f} ms  (min {min(times) * 1000:.1f}, max {max(times) * 1000:.1f}; {args.repeats} runs)")
    print(f"import metak             {float(out[0]) * 1000:7.1f} ms  (heavy modules loaded: {out[1]})")


if __name__ == "__main__":
    main()

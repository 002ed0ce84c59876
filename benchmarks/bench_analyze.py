"""Wall time of `metak analyze` on each bundled analysis, with and without its figures.

    python benchmarks/bench_analyze.py [--repeats 3]

The issue's goal: a bundled analysis with its figures in < 3 s. Figures are drawn once per
kind and saved as PDF and PNG; PDFs embed their fonts as TrueType without the OpenType
layout tables (metak.plots.render._lean_font_subsets).
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def timed(args, repeats):
    times = []
    for _ in range(repeats):
        with tempfile.TemporaryDirectory() as tmp:
            t0 = time.perf_counter()
            subprocess.run([*args, "--out", str(Path(tmp) / "out")], check=True, capture_output=True, cwd=ROOT)
            times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3)
    args = ap.parse_args()
    exe = shutil.which("metak")
    print(f"{'analysis':<28} {'with figures (s)':>17} {'--no-figures (s)':>17}")
    for spec in sorted((ROOT / "analyses").glob("*.yaml")):
        rel = str(spec.relative_to(ROOT))
        full = timed([exe, "analyze", rel], args.repeats)
        bare = timed([exe, "analyze", rel, "--no-figures"], args.repeats)
        print(f"{spec.stem:<28} {full:>17.2f} {bare:>17.2f}")


if __name__ == "__main__":
    main()

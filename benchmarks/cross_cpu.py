"""How far do metak's numbers move between CPUs? The measurement behind verify's tolerances.

    python benchmarks/cross_cpu.py [--json OUT]

A reviewer's machine differs from ours in its SIMD units (numpy's exp, log and sums dispatch
to AVX2/AVX-512 kernels where they exist) and its BLAS kernels. Without a second machine, this
runs every bundled analysis (and the BCG example) in fresh processes under
(a) numpy's defaults, (b) numpy restricted to its baseline SIMD (NPY_DISABLE_CPU_FEATURES set to
every dispatched feature) and (c) that plus OpenBLAS's generic Nehalem kernels
(OPENBLAS_CORETYPE=Nehalem), and reports, for the unrounded numbers of results.json, how many
differ and the largest relative and absolute differences (relative where |x| > 1e-12), and
whether each committed results folder verifies under (b) and (c). verify's tolerances
(relative 1e-9, absolute 1e-12) must sit well above what this finds.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SPECS = sorted((ROOT / "analyses").glob("*.yaml")) + [ROOT / "docs" / "examples" / "bcg" / "bcg.yaml"]

DUMP = """
import json, sys
import metak
doc = metak.analyze(sys.argv[1])
print(json.dumps(doc, default=str))
"""


def _dispatched():
    out = subprocess.run([sys.executable, "-c", "from numpy._core._multiarray_umath import __cpu_dispatch__ as d; "
                          "print(' '.join(d))"], capture_output=True, text=True, check=True)
    return out.stdout.strip()


def _floats(doc, path=""):
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _floats(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _floats(v, f"{path}[{i}]")
    elif isinstance(doc, float):
        yield path, doc


def run(spec, env):
    p = subprocess.run([sys.executable, "-c", DUMP, str(spec.relative_to(ROOT))], cwd=ROOT, env=env,
                       capture_output=True, text=True, check=True)
    return dict(_floats(json.loads(p.stdout)))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    args = ap.parse_args()
    base = {k: v for k, v in os.environ.items() if k not in ("NPY_DISABLE_CPU_FEATURES", "OPENBLAS_CORETYPE")}
    envs = {"baseline_simd": {**base, "NPY_DISABLE_CPU_FEATURES": _dispatched()},
            "baseline_simd_generic_blas": {**base, "NPY_DISABLE_CPU_FEATURES": _dispatched(),
                                           "OPENBLAS_CORETYPE": "Nehalem"}}
    report = {"dispatched_features_disabled": envs["baseline_simd"]["NPY_DISABLE_CPU_FEATURES"], "runs": {}}
    for name, env in envs.items():
        from metak.results_json import EXACT_ABS_TOL, EXACT_REL_TOL

        total = differ = 0
        max_rel = max_abs = max_ratio = 0.0
        worst = worst_ratio = None
        for spec in SPECS:
            a, b = run(spec, base), run(spec, env)
            # verify compares a number inside a list relative to the largest magnitude of its list
            scale = {}
            for path, x in (*a.items(), *b.items()):
                if path.endswith("]") and math.isfinite(x):
                    key = path[:path.rindex("[")]
                    scale[key] = max(scale.get(key, 0.0), abs(x))
            for path, x in a.items():
                y = b.get(path)
                if not isinstance(y, float):
                    continue
                total += 1
                if x == y or (math.isnan(x) and math.isnan(y)):
                    continue
                differ += 1
                d = abs(x - y)
                max_abs = max(max_abs, d)
                if abs(x) > 1e-12 and d / abs(x) > max_rel:
                    max_rel, worst = d / abs(x), f"{spec.stem}{path}: {x!r} vs {y!r}"
                # how much of verify's allowance (math.isclose) the difference uses
                s = scale.get(path[:path.rindex("[")], 0.0) if path.endswith("]") else 0.0
                ratio = d / max(EXACT_REL_TOL * max(abs(x), abs(y)), EXACT_ABS_TOL, EXACT_REL_TOL * s)
                if ratio > max_ratio:
                    max_ratio, worst_ratio = ratio, f"{spec.stem}{path}: {x!r} vs {y!r}"
        verified = {}
        for spec in SPECS:
            folder = ROOT / "results" / spec.stem if spec.parent.name == "analyses" else spec.parent / "results"
            if (folder / "results.json").is_file():
                p = subprocess.run([sys.executable, "-m", "metak.cli", "verify", str(folder)], cwd=ROOT, env=env,
                                   capture_output=True, text=True)
                verified[str(folder.relative_to(ROOT))] = p.returncode == 0
        report["runs"][name] = {"numbers": total, "differ": differ, "max_relative": max_rel, "max_absolute": max_abs,
                                "worst": worst, "largest_share_of_tolerance": max_ratio,
                                "worst_against_tolerance": worst_ratio, "verified": verified}
    print(json.dumps(report, indent=1))
    if args.json:
        args.json.write_text(json.dumps(report, indent=1) + "\n")


if __name__ == "__main__":
    main()

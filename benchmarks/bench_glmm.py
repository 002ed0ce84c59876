"""GLMM fits (metak.glmm): k = 50 sparse trials (goal < 0.5 s per fit), dat.li2007 by CM.EL
(ISIS-4's 58,050-patient table: a 4,320-point noncentral hypergeometric support; goal < 5 s) and
dat.bcg by UM.RS with and without the profile CI of tau² (15 x 15 rule and nagq=1).

k = 50: SYNTHETIC data (seeded): 50 trials of 20-80 participants per arm, control risk 3-15%, a
true log odds ratio -0.5 with tau = 0.4, so many trials have zero cells and a few double zeros.
li2007: metadat's dat.li2007 (22 trials of magnesium after myocardial infarction), bcg: dat.bcg
(13 BCG vaccine trials), the counts as pinned in tests/reference/metafor_glmm_reference.json.

Median of 3 runs per model and method, wall-clock and CPU (process) time: on a shared machine
under load the CPU time is the steadier of the two.

    python benchmarks/bench_glmm.py [--json out.json] [--repeats 3] [--only k50|li2007|bcg]
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path

import numpy as np

from metak.glmm import glmm

REFERENCE = Path(__file__).resolve().parent.parent / "tests" / "reference" / "metafor_glmm_reference.json"


def sparse_trials(k, rng):
    n1 = rng.integers(20, 81, k)
    n2 = rng.integers(20, 81, k)
    base = rng.uniform(0.03, 0.15, k)
    lo = np.log(base / (1 - base))
    theta = rng.normal(-0.5, 0.4, k)
    p1 = 1 / (1 + np.exp(-(lo + theta)))
    ai = rng.binomial(n1, p1)
    ci = rng.binomial(n2, base)
    return ai, n1, ci, n2


def timed(fn, repeats):
    """Medians of wall-clock and CPU seconds over ``repeats`` calls."""
    wall, cpu = [], []
    for _ in range(repeats):
        w0, c0 = time.perf_counter(), time.process_time()
        fn()
        wall.append(time.perf_counter() - w0)
        cpu.append(time.process_time() - c0)
    return statistics.median(wall), statistics.median(cpu)


def run(label, data, cases, repeats, out):
    for model, method, ci_tau, *nagq in cases:
        nagq = nagq[0] if nagq else None
        fn = lambda: glmm(**data, model=model, method=method, tau2_ci=ci_tau, nagq=nagq)  # noqa: E731
        wall, cpu = timed(fn, repeats)
        g = fn()
        name = (f"{label} {model} {method}" + (f" nagq={nagq}" if nagq else "")
                + (" + tau2 profile CI" if ci_tau else ""))
        out["seconds"][name] = round(wall, 4)
        out["cpu_seconds"][name] = round(cpu, 4)
        tau2 = "" if g.tau2 is None else f", tau2 {g.tau2:.4f}"
        print(f"{name:40} {wall * 1000:9.1f} ms wall {cpu * 1000:9.1f} ms cpu   "
              f"estimate {g.estimate:+.4f} (se {g.se:.4f}{tau2})")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--json", type=Path)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--only", choices=("k50", "li2007", "bcg"))
    args = ap.parse_args()
    rng = np.random.default_rng(20261207)
    ai, n1, ci, n2 = sparse_trials(50, rng)
    zero = int(((ai == 0) | (ci == 0)).sum())
    double = int(((ai == 0) & (ci == 0)).sum())
    out = {"k": 50, "zero_cell_trials": zero, "double_zero": double, "seconds": {}, "cpu_seconds": {}}
    glmm(ai, n1, ci, n2, model="UM.FS", method="FE")  # warm up imports
    if args.only in (None, "k50"):
        print(f"k = 50 trials, {zero} with a zero cell, {double} double-zero (left out)")
        cases = [(model, method, ci_tau) for model in ("UM.FS", "CM.EL", "CM.AL", "UM.RS") for method in ("ML", "FE")
                 for ci_tau in ((True, False) if method == "ML" else (False,))]
        cases += [("UM.RS", "ML", True, 1), ("UM.RS", "ML", False, 1)]
        run("k50", {"ai": ai, "n1i": n1, "ci": ci, "n2i": n2}, cases, args.repeats, out)
    if args.only in (None, "li2007"):
        inp = json.loads(REFERENCE.read_text())["inputs"]["li2007"]
        data = {key: inp[key] for key in ("ai", "n1i", "ci", "n2i")}
        print(f"dat.li2007: k = {len(data['ai'])}, largest table {max(data['n1i']) + max(data['n2i'])} patients")
        cases = [("CM.EL", "ML", True), ("CM.EL", "ML", False), ("CM.EL", "FE", False)]
        run("li2007", data, cases, args.repeats, out)
    if args.only in (None, "bcg"):
        inp = json.loads(REFERENCE.read_text())["inputs"]["bcg"]
        data = {key: inp[key] for key in ("ai", "n1i", "ci", "n2i")}
        print(f"dat.bcg: k = {len(data['ai'])}")
        cases = [("UM.RS", "ML", True), ("UM.RS", "ML", False), ("UM.RS", "ML", True, 1), ("UM.RS", "ML", False, 1)]
        run("bcg", data, cases, args.repeats, out)
    if args.json:
        args.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

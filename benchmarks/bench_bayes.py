"""Benchmark the Bayesian engines.

Prints, as plain text (or JSON with --json):

* exact engine: time of ``fit_bayes`` (normal likelihood, default priors, no sensitivity
  priors) and of the quadrature alone at k = 5, 50, 5000 (best of several runs);
* ``metak analyze`` of each bundled analysis with a ``bayes:`` block, cold;
* MCMC binomial model: wall time of ``fit_bayes`` at k = 5 and 50 (4 chains x 2000 draws,
  1000 tuning steps), each in a fresh Python process — cold (an empty PyTensor compile
  cache) and warm (the cache the cold run filled) — with the time of the whole process too.
  The R-hat, ESS and divergences of each run are shown.

Usage::

    python benchmarks/bench_bayes.py [--json] [--skip-mcmc] [--cores N] [--draws N]

Goals (issue 5): exact < 10 ms at k = 50; binomial MCMC at k = 50 on 2 cores < 10 s warm,
< 20 s cold, with no divergences and R-hat < 1.01.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))


def _normal_data(k, seed=5):
    rng = np.random.default_rng(seed)
    v = rng.uniform(0.02, 0.5, k)
    y = rng.normal(0.3, np.sqrt(v + 0.09))
    return y, v


def binomial_data(k, seed=1):
    """k two-arm trials with log-OR effects around 0.4 (tau 0.3) and baseline risks near 27%."""
    rng = np.random.default_rng(seed)
    n1, n2 = rng.integers(20, 80, k), rng.integers(20, 80, k)
    base, theta = rng.normal(-1.0, 0.7, k), rng.normal(0.4, 0.3, k)
    e1 = rng.binomial(n1, 1 / (1 + np.exp(-(base + theta / 2))))
    e2 = rng.binomial(n2, 1 / (1 + np.exp(-(base - theta / 2))))
    return np.column_stack([e1, n1, e2, n2])


def bench_exact(ks=(5, 50, 5000)):
    from metak.bayes import fit_bayes, parse_bayes_spec
    from metak.bayes.exact import exact_posterior

    spec = parse_bayes_spec({}, measure="OR")
    out = []
    for k in ks:
        y, v = _normal_data(k)
        repeats = 20 if k <= 50 else 3
        fit_bayes(y, v, spec)                       # warm caches (scipy, numpy dispatch)
        full, quad = [], []
        for _ in range(repeats):
            t0 = time.perf_counter()
            fit_bayes(y, v, spec)
            full.append(time.perf_counter() - t0)
            t0 = time.perf_counter()
            exact_posterior(y, v, spec.mu_prior, spec.tau_prior)
            quad.append(time.perf_counter() - t0)
        out.append({"k": k, "fit_bayes_ms": 1e3 * min(full), "quadrature_ms": 1e3 * min(quad),
                    "fit_bayes_median_ms": 1e3 * float(np.median(full))})
    return out


_CHILD = r"""
import json, sys, time
t_start = time.perf_counter()
import numpy as np
sys.path.insert(0, {root!r})
from benchmarks.bench_bayes import binomial_data
from metak.bayes import fit_bayes, parse_bayes_spec
k, draws, cores = {k}, {draws}, {cores}
tables = binomial_data(k)
e1, n1, e2, n2 = tables.T
yi = np.log((e1 + .5) / (n1 - e1 + .5)) - np.log((e2 + .5) / (n2 - e2 + .5))
vi = 1 / (e1 + .5) + 1 / (n1 - e1 + .5) + 1 / (e2 + .5) + 1 / (n2 - e2 + .5)
spec = parse_bayes_spec({{"likelihood": "binomial", "draws": draws}}, measure="OR")
if cores:
    import metak.bayes.mcmc as mcmc
    mcmc.default_cores = lambda k, chains: cores
t0 = time.perf_counter()
res = fit_bayes(yi, vi, spec, tables=tables)
t1 = time.perf_counter()
d = res["diagnostics"]
print(json.dumps({{"fit_bayes_s": t1 - t0, "process_s": t1 - t_start, "rhat_max": d["rhat_max"],
                  "ess_bulk_min": d["ess_bulk_min"], "divergences": d["divergences"]}}))
"""


def _run_child(k, draws, cores, compiledir):
    env = dict(os.environ)
    env["PYTENSOR_FLAGS"] = f"base_compiledir={compiledir}"
    code = _CHILD.format(root=str(ROOT), k=k, draws=draws, cores=cores or 0)
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise RuntimeError(proc.stderr[-2000:])
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    out["wall_s"] = wall
    return out


def bench_mcmc(ks=(5, 50), draws=2000, cores=None):
    rows = []
    for k in ks:
        with tempfile.TemporaryDirectory(prefix="metak-bench-pytensor-") as cache:
            cold = _run_child(k, draws, cores, cache)
            warm = _run_child(k, draws, cores, cache)
        rows.append({"k": k, "draws": draws, "cores": cores or "auto", "cold": cold, "warm": warm})
    return rows


def bench_analyze():
    """``metak analyze`` of each bundled analysis that has a ``bayes:`` block, in a fresh
    process with an empty PyTensor cache (cold)."""
    rows = []
    for spec_path in sorted((ROOT / "analyses").glob("*.yaml")):
        if "bayes:" not in spec_path.read_text():
            continue
        with tempfile.TemporaryDirectory(prefix="metak-bench-") as tmp:
            env = dict(os.environ)
            env["PYTENSOR_FLAGS"] = f"base_compiledir={tmp}/pytensor"
            t0 = time.perf_counter()
            proc = subprocess.run([sys.executable, "-m", "metak.cli", "analyze", str(spec_path), "--out",
                                   f"{tmp}/out"], cwd=ROOT, env=env, capture_output=True, text=True)
            rows.append({"analysis": spec_path.name, "wall_s": time.perf_counter() - t0,
                         "exit_code": proc.returncode})
    return rows


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--json", action="store_true", help="print JSON instead of text")
    ap.add_argument("--skip-mcmc", action="store_true")
    ap.add_argument("--cores", type=int, default=None, help="force this many sampler processes")
    ap.add_argument("--draws", type=int, default=2000)
    args = ap.parse_args(argv)
    report = {"cpus": os.cpu_count(), "exact": bench_exact()}
    if not args.skip_mcmc:
        report["mcmc_binomial"] = bench_mcmc(draws=args.draws, cores=args.cores)
    if (ROOT / "metak" / "cli.py").exists():
        report["analyze_cold"] = bench_analyze()
    if args.json:
        print(json.dumps(report, indent=2))
        return
    print(f"metak Bayes benchmark ({report['cpus']} CPUs)")
    print("exact engine (normal likelihood, default priors):")
    for r in report["exact"]:
        print(f"  k = {r['k']:>5}: fit_bayes {r['fit_bayes_ms']:8.2f} ms (median {r['fit_bayes_median_ms']:.2f}),"
              f" quadrature alone {r['quadrature_ms']:.2f} ms")
    for r in report.get("mcmc_binomial", []):
        print(f"MCMC binomial, k = {r['k']}, 4 chains x {r['draws']} draws, cores {r['cores']}:")
        for kind in ("cold", "warm"):
            c = r[kind]
            print(f"  {kind}: fit_bayes {c['fit_bayes_s']:6.2f} s (process {c['wall_s']:.2f} s); "
                  f"R-hat max {c['rhat_max']:.4f}, bulk ESS min {c['ess_bulk_min']:.0f}, "
                  f"divergences {c['divergences']}")
    if report.get("analyze_cold"):
        print("metak analyze, fresh process, empty PyTensor cache:")
        for r in report["analyze_cold"]:
            print(f"  {r['analysis']}: {r['wall_s']:.2f} s (exit code {r['exit_code']})")


if __name__ == "__main__":
    main()

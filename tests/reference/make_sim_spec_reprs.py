"""The simulation-spec loader as it was before the spec moved to the records' Checker
(metak/scale/spec.py, issue 24): ``load_spec`` of metak/scale/simulate.py and the shared-bias
scenario's ``check`` of metak/sensitivity/shared_bias_sim.py at commit 9f3e603, run on the
bundled simulation specs and on the spec variants below. Writes
tests/reference/sim_spec_old_loader.json: each case's YAML, the ``repr`` of the SimSpec the old
loader returned (its ``bayes`` set to None) and, for BAYES, the arguments it called
``parse_bayes_spec`` with. tests/test_sim_spec.py loads every case with the new loader and
requires the same repr and the same BayesSpec, so the move kept each spec's meaning (and a
later change of BayesSpec's fields does not break the comparison).

    python tests/reference/make_sim_spec_reprs.py    # from the repository root, with git
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]
#: the last commit with the old loader (its own bad()/known()/number() helpers)
OLD_COMMIT = "9f3e603"

HEAD = "metak: 1\nsimulation: v\n"
PRIORS = "bayes:\n  prior:\n    mu: {dist: normal, mu: 0, sigma: 10}\n    tau: {dist: half_normal, sigma: 0.5}\n"
VARIANTS = {
    "defaults": HEAD,
    "scalars": HEAD + "seed: 7\nreplicates: 30\nblock: 7\nlevel: 0.9\nscenarios:\n  k: 4\n  tau2: 0\n  mu: 1\n",
    "chisq": HEAD + "scenarios:\n  k: [2, 8]\n  tau2: [0.1]\n  vi: {dist: chisq, df: 3, scale: 0.2}\n",
    "uniform_partial": HEAD + "scenarios:\n  vi: {dist: uniform, high: 1}\n",
    "binary": HEAD + "scenarios:\n  k: [3]\n  tau2: [0, 0.1]\n  mu: [0.5]\n"
                     "  binary: {p_control: [0.1, 0.3], n: [20, 200]}\nestimators: [fe, reml]\ntests: [knha, z]\n",
    "bayes_normal": HEAD + "scenarios:\n  k: [3]\n  tau2: [0.1]\nestimators: [REML, BAYES]\ntests: [z]\n" + PRIORS,
    "bayes_binary": HEAD + "scenarios:\n  binary: {p_control: 0.2, n: 50}\nestimators: [BAYES]\nbayes: {}\n",
    "shared_bias_defaults": HEAD + "scenarios:\n  shared_bias: {}\nestimators: [reml, shared_bias]\ntests: [z]\n",
}


def _old_module(name, path):
    source = subprocess.run(["git", "show", f"{OLD_COMMIT}:{path}"], cwd=ROOT, check=True,
                            capture_output=True, text=True).stdout
    spec = importlib.util.spec_from_loader(name, loader=None)
    module = importlib.util.module_from_spec(spec)
    module.__package__ = name.rsplit(".", 1)[0]
    sys.modules[name] = module  # dataclasses look the module up
    exec(compile(source, f"{OLD_COMMIT}:{path}", "exec"), module.__dict__)
    return module


def old_loader():
    import metak.sensitivity

    # the old load_spec imports shared_bias_sim from the package when it runs: give it the old one
    metak.sensitivity.shared_bias_sim = _old_module("metak.sensitivity._old_shared_bias_sim",
                                                    "metak/sensitivity/shared_bias_sim.py")
    return _old_module("metak.scale._old_simulate", "metak/scale/simulate.py").load_spec


def record(spec, path):
    """The repr without the BayesSpec, and what the old loader parsed the BayesSpec from."""
    out = {"repr": repr(dataclasses.replace(spec, bayes=None))}
    if spec.bayes is not None:
        binary = spec.scenarios[0]["data"] == "binary"
        out["bayes_call"] = {"block": yaml.safe_load(Path(path).read_text()).get("bayes"),
                             "measure": "OR" if binary else "MD",
                             "outcome_type": "binary" if binary else "continuous"}
    return out


def main():
    sys.path.insert(0, str(ROOT))
    load = old_loader()
    cases = {}
    for path in sorted((ROOT / "analyses" / "simulations").glob("*.yaml")):
        cases[f"analyses/simulations/{path.name}"] = {"file": f"analyses/simulations/{path.name}",
                                                      **record(load(path), path)}
    with tempfile.TemporaryDirectory() as tmp:
        for name, text in VARIANTS.items():
            p = Path(tmp) / f"{name}.yaml"
            p.write_text(text)
            cases[name] = {"yaml": text, **record(load(p), p)}
    out = {"made_by": "tests/reference/make_sim_spec_reprs.py",
           "loader": f"metak/scale/simulate.py load_spec at commit {OLD_COMMIT}", "cases": cases}
    (ROOT / "tests" / "reference" / "sim_spec_old_loader.json").write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()

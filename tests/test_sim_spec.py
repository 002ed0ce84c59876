"""Simulation specs (``metak simulate``) checked by the records' Checker (issue 24): every
problem of the file reported at once with its file, line and key path, did-you-mean hints,
the bayes: block's problems among them, nothing run; the specs mean what they meant before."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.bayes.spec import parse_bayes_spec
from metak.cli import main
from metak.errors import InvalidSpec
from metak.records.checker import Checker
from metak.records.yamlload import load_located
from metak.scale.spec import load_spec

ROOT = Path(__file__).resolve().parent.parent
METAK = str(Path(sys.executable).with_name("metak"))  # the console script
OLD = json.loads((ROOT / "tests" / "reference" / "sim_spec_old_loader.json").read_text())


def write(tmp_path, body, name="sim.yaml"):
    p = tmp_path / name
    p.write_text("metak: 1\nsimulation: x\n" + body)
    return p


def problems(path):
    with pytest.raises(InvalidSpec) as e:
        load_spec(path)
    return e.value.problems


# ------------------------------------------------------------------ the meaning is kept
@pytest.mark.parametrize("name", sorted(OLD["cases"]))
def test_each_spec_loads_to_what_the_old_loader_made_of_it(tmp_path, name):
    """tests/reference/sim_spec_old_loader.json: the SimSpec the ad-hoc loader (commit 9f3e603)
    returned for the bundled specs and for variants (defaults, scalars, chisq, binary, aliases,
    lower-case names, the bayes block, the shared-bias defaults)."""
    case = OLD["cases"][name]
    if "file" in case:
        path = ROOT / case["file"]
    else:
        path = tmp_path / "case.yaml"
        path.write_text(case["yaml"])
    spec = load_spec(path)
    assert repr(dataclasses.replace(spec, bayes=None)) == case["repr"]
    if "bayes_call" in case:
        call = case["bayes_call"]
        assert spec.bayes == parse_bayes_spec(call["block"], measure=call["measure"], outcome_type=call["outcome_type"])
    else:
        assert spec.bayes is None


# ------------------------------------------------------------------ every problem at once
THREE = """seed: 1
replicates: many
scenarios:
  k: [3, 5]
  tau2: [0.1, -0.2]
estimator: [REML]
"""


def test_three_mistakes_are_all_reported_with_their_lines(tmp_path):
    p = write(tmp_path, THREE)
    got = [(q.line, q.path, q.message) for q in problems(p)]
    assert got == [
        (4, "replicates", "must be a whole number, got 'many'"),
        (7, "scenarios.tau2[1]", "must be at least 0, got -0.2"),
        (8, "estimator", "unknown key (did you mean 'estimators'?); allowed: simulation, metak, seed, replicates, "
                         "block, level, scenarios, estimators, tests, bayes"),
    ]
    assert all(q.file == str(p) for q in problems(p))


def test_a_missing_name_is_one_problem_among_the_others(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("metak: 1\nseed: x\nlevel: 2\n")
    assert [(q.line, q.path, q.message) for q in problems(p)] == [
        (1, "", "missing required key 'simulation'"), (2, "seed", "must be a whole number, got 'x'"),
        (3, "level", "must be between 0 and 1 (exclusive), got 2")]


def test_the_bayes_blocks_problems_are_in_the_same_list(tmp_path):
    p = write(tmp_path, "levle: 0.9\nestimators: [REML, BAYES]\nbayes:\n  prior:\n"
                        "    tau: {dist: half_normal, sigma: -1}\n    mu: {dist: nromal}\n")
    got = [(q.line, q.path) for q in problems(p)]
    assert got == [(3, "levle"), (7, "bayes.prior.tau.sigma"), (8, "bayes.prior.mu.dist")], got


@pytest.mark.parametrize("body,where", [
    ("scenarios:\n  k: [3, three]\n", r":4: scenarios\.k\[1\]: must be a whole number, got 'three'"),
    ("scenarios:\n  k: [1]\n", r":4: scenarios\.k\[0\]: must be at least 2, got 1"),
    ("scenarios:\n  k: 3.0\n", r":4: scenarios\.k: must be a whole number, got 3\.0 \(write it without a decimal"),
    ("scenarios:\n  k: []\n", r":4: scenarios\.k: must list at least one value"),
    ("scenario:\n  k: [3]\n", r":3: scenario: unknown key \(did you mean 'scenarios'\?\)"),
    ("scenarios:\n  tua2: [0.1]\n", r":4: scenarios\.tua2: unknown key \(did you mean 'tau2'\?\)"),
    ("scenarios:\n  vi: {dist: gamma}\n", r":4: scenarios\.vi\.dist: 'gamma' is not one of: uniform, chisq"),
    ("scenarios:\n  vi: {dist: unifrom}\n", r":4: scenarios\.vi\.dist: .* \(did you mean 'uniform'\?\)"),
    ("scenarios:\n  vi: {dist: [1]}\n", r":4: scenarios\.vi\.dist: a list is not one of: uniform, chisq"),
    ("scenarios:\n  vi: {low: 0.1}\n", r":4: scenarios\.vi: missing required key 'dist'"),
    ("scenarios:\n  vi: {dist: uniform, df: 3}\n", r":4: scenarios\.vi\.df: not a parameter of the uniform"),
    ("scenarios:\n  vi: {dist: uniform, low: .nan}\n", r":4: scenarios\.vi\.low: must be a finite number"),
    ("scenarios:\n  vi: {dist: chisq, scale: 0}\n", r":4: scenarios\.vi\.scale: must be greater than 0"),
    ("scenarios:\n  vi: {dist: uniform, low: 0.3, high: 0.2}\n", r":4: scenarios\.vi: low \(0\.3\) must be below"),
    ("scenarios:\n  binary: {p_control: [0.2, 1.5], n: 50}\n",
     r":4: scenarios\.binary\.p_control\[1\]: must be between 0 and 1 \(exclusive\), got 1\.5"),
    ("scenarios:\n  binary: {p_control: 0.2}\n", r":4: scenarios\.binary: missing required key 'n'"),
    ("scenarios:\n  binary: {p_control: 0.2, n: 50}\n  vi: {dist: uniform}\n",
     r":5: scenarios\.vi: binary scenarios draw log odds ratios"),
    ("scenarios:\n  shared_bias: {beta: 0.2, kapa: 0.1}\n",
     r":4: scenarios\.shared_bias\.kapa: unknown key \(did you mean 'kappa'\?\)"),
    ("scenarios:\n  shared_bias: {fraction: 1.5}\n", r":4: scenarios\.shared_bias\.fraction: must be between 0 and 1"),
    ("scenarios:\n  shared_bias: {beta_sd: -1}\n", r":4: scenarios\.shared_bias\.beta_sd: must be at least 0"),
    ("estimators: [REML, SHARED_BIAS]\n", r":3: estimators\[1\]: 'SHARED_BIAS' needs the shared-bias scenario"),
    ("estimators: [REML, BOGUS]\n", r":3: estimators\[1\]: 'BOGUS' is not one of"),
    ("estimators: [REML, REMLL]\n", r":3: estimators\[1\]: 'REMLL' is not one of: .* \(did you mean 'REML'\?\)"),
    ("estimators: [reml, bayes]\n",
     r":3: estimators\[1\]: BAYES needs a bayes: block with its priors: bayes\.prior\.tau: required for measure MD"),
    ("estimators: []\n", r":3: estimators: must not be empty"),
    ("estimators: REML\n", r":3: estimators: must be a list, got 'REML'"),
    ("tests: [t]\n", r":3: tests\[0\]: 't' is not one of: z, hksj"),
    ("tests: [hskj]\n", r":3: tests\[0\]: 'hskj' is not one of: z, hksj \(did you mean 'hksj'\?\)"),
    ("level: 95\n", r":3: level: must be between 0 and 1"),
    ("level: .nan\n", r":3: level: must be a finite number, got NaN"),
    ("seed: .inf\n", r":3: seed: must be a whole number, got inf"),
    ("seed: -1\n", r":3: seed: must be at least 0, got -1"),
    ("block: 0\n", r":3: block: must be at least 1, got 0"),
    ("replicates: 1000000000\n", r":3: replicates: must be at most 100,000,000"),
    ("simulation2: y\n", r":3: simulation2: unknown key \(did you mean 'simulation'\?\)"),
    ("estimators: [BAYES]\nbayes:\n  prior:\n    tau: {dist: half_normal, sigma: -1}\n",
     r":6: bayes\.prior\.tau\.sigma: must be > 0"),
    ("estimators: [BAYES]\nbayes: {engine: mcmc, prior: {tau: {dist: half_normal, sigma: 1}}}\n",
     r":4: bayes\.engine: a simulation uses the exact engine"),
    ("bayes: {}\n", r":3: bayes: gives the priors of the estimator BAYES"),
])
def test_simulation_spec_errors_give_file_line_and_key(tmp_path, body, where):
    p = write(tmp_path, body)
    with pytest.raises(InvalidSpec, match=str(p).replace(".", r"\.") + where):
        load_spec(p)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(out)])
    assert r.exit_code == 1 and "Traceback" not in r.output and not out.exists()


@pytest.mark.parametrize("text,message", [
    ("metak: 1\ntrials: ../trials\nmeta_analyses: []\n", "this is an analysis spec"),
    ("metak: 1\ntitle: x\n", "not a simulation spec: it needs 'simulation: <name>'"),
    ("- a\n- b\n", "must be a mapping"),
    ("metak: 2\nsimulation: x\n", "schema version 2 is not supported; this metak reads version 1"),
])
def test_a_file_that_is_not_a_simulation_spec_says_so(tmp_path, text, message):
    p = tmp_path / "s.yaml"
    p.write_text(text)
    (q,) = problems(p)
    assert message in q.message and q.line == 1


# ------------------------------------------------------------------ the CLI
def test_metak_analyze_says_a_simulation_spec_is_one(tmp_path):
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["analyze", str(ROOT / "analyses" / "simulations" / "inthout2014.yaml"),
                                  "--out", str(out)])
    assert r.exit_code == 1 and "this is a simulation spec" in r.stderr and "metak simulate" in r.stderr
    assert "Traceback" not in r.output and not out.exists()


def test_the_cli_reports_every_problem_and_writes_nothing(tmp_path):
    p = write(tmp_path, THREE, "bad.yaml")
    out = tmp_path / "out"
    r = subprocess.run([METAK, "simulate", str(p), "--out", str(out)],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 1 and "Traceback" not in r.stderr + r.stdout
    for line, key in ((4, "replicates"), (7, r"scenarios.tau2[1]"), (8, "estimator")):
        assert f"{p}:{line}: {key}: " in r.stderr, r.stderr
    assert not out.exists()


def test_the_example_in_the_docs_is_what_the_cli_prints(tmp_path, monkeypatch):
    """docs/scale.md shows bad.yaml and what `metak simulate` prints for it."""
    import re

    text = (ROOT / "docs" / "scale.md").read_text()
    section = text[text.index("### The keys, and how the spec is checked"):]
    yaml_block, out_block = re.findall(r"```(?:yaml|text)\n(.*?)```", section, re.S)[:2]
    (tmp_path / "bad.yaml").write_text(yaml_block)
    monkeypatch.chdir(tmp_path)
    r = CliRunner().invoke(main, ["simulate", "bad.yaml", "--out", "sim"])
    command, *expected = out_block.strip().splitlines()
    assert command == "$ metak simulate bad.yaml --out /tmp/sim"
    assert r.exit_code == 1 and r.stderr.strip().splitlines() == expected
    assert not (tmp_path / "sim").exists()


def test_the_docs_table_gives_the_specs_defaults_and_bounds():
    """docs/scale.md's table of keys against metak.scale.spec's SETTINGS and SCENARIO_VALUES."""
    from metak.scale.spec import SCENARIO_VALUES, SETTINGS

    rows = {}
    for line in (ROOT / "docs" / "scale.md").read_text().splitlines():
        cells = [x.strip() for x in line.strip().strip("|").split("|")]
        if len(cells) == 3 and cells[0].startswith("`"):
            rows[cells[0].strip("`")] = cells
    table = {**{k: v for k, v in SETTINGS.items()},
             **{f"scenarios.{k}": (w, b, d[0]) for k, (w, b, d) in SCENARIO_VALUES.items()}}
    for key, (whole, bounds, default) in table.items():
        _, text, shown = rows[key]
        assert float(shown) == default, key
        assert ("whole number" in text) == whole, key
        if "minimum" in bounds:
            assert f"{bounds['minimum']}" in text, key
        if "maximum" in bounds:
            assert f"{bounds['maximum']:,}" in text, key
        if "open_interval" in bounds:
            assert "between 0 and 1 (exclusive)" in text, key


def test_an_output_path_that_is_a_file_is_refused_before_the_run(tmp_path, monkeypatch):
    import metak.scale.simulate as simulate

    def never(*a, **k):
        raise AssertionError("ran the simulation")

    monkeypatch.setattr(simulate, "run_simulation", never)
    p = write(tmp_path, "replicates: 10\nblock: 5\n")
    (tmp_path / "f").write_text("")
    r = CliRunner().invoke(main, ["simulate", str(p), "--out", str(tmp_path / "f")])
    assert r.exit_code == 1 and "is a file, not a folder" in r.stderr, r.output


@pytest.mark.slow
def test_the_bundled_study_reproduces_its_committed_output_file_for_file(tmp_path):
    """``metak -q simulate analyses/simulations/inthout2014.yaml``: every file identical to
    results/simulation-inthout2014 (about 5 s)."""
    out = tmp_path / "x"
    r = subprocess.run([METAK, "-q", "simulate",
                        str(ROOT / "analyses" / "simulations" / "inthout2014.yaml"), "--out", str(out)],
                       capture_output=True, text=True, timeout=600, cwd=ROOT)
    assert r.returncode == 0, r.stderr
    committed = ROOT / "results" / "simulation-inthout2014"
    names = sorted(f.name for f in committed.iterdir())
    assert names == sorted(f.name for f in out.iterdir()) == ["coverage.png", "simulation.csv", "simulation.json"]
    for name in names:
        assert (out / name).read_bytes() == (committed / name).read_bytes(), name


# ------------------------------------------------------------------ the Checker's additions
def checker(tmp_path, text):
    p = tmp_path / "c.yaml"
    p.write_text(text)
    doc, probs = load_located(p, "c.yaml")
    assert not probs
    return Checker(doc)


def test_checker_numbers_takes_one_number_or_a_list_and_reports_each_at_its_index(tmp_path):
    c = checker(tmp_path, "a: 4\nb: [1, 2.5, x, -1]\nc: [2, 3]\nd: []\n")
    assert c.numbers(("a",), whole=True, minimum=2) == [4]
    assert c.numbers(("c",), whole=True, minimum=2) == [2, 3]
    assert c.numbers(("missing",), default=[0.0]) == [0.0]
    assert c.problems == []
    assert c.numbers(("b",), minimum=0) is None
    assert c.numbers(("d",)) is None
    assert [(q.line, q.path, q.message) for q in c.problems] == [
        (2, "b[2]", "must be a number, got 'x'"),
        (2, "b[3]", "must be at least 0, got -1"),
        (4, "d", "must list at least one value"),
    ]


def test_checker_whole_bounds_and_types(tmp_path):
    c = checker(tmp_path, "a: 7\nb: 7.0\nc: true\nd: 11\ne: -3\n")
    assert c.whole(("a",), minimum=0, maximum=10) == 7 and isinstance(c.whole(("a",)), int)
    assert c.whole(("b",)) is None and c.whole(("c",)) is None
    assert c.whole(("d",), maximum=10) is None and c.whole(("e",), minimum=0) is None
    assert c.whole(("missing",)) is None
    assert [q.message for q in c.problems] == [
        "must be a whole number, got 7.0 (write it without a decimal point)", "must be a whole number, got true",
        "must be at most 10, got 11", "must be at least 0, got -3"]

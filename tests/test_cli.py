"""The command line as a user runs it: the installed console script, exit codes, no tracebacks."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

from test_records import VALID

ROOT = Path(__file__).resolve().parent.parent


def run(cmd, *args, cwd=None):
    p = subprocess.run([cmd, *map(str, args)], capture_output=True, text=True, cwd=cwd)
    assert "Traceback" not in p.stderr, p.stderr
    return p


def test_version_help_cite(metak_cmd):
    from metak import __version__

    p = run(metak_cmd, "--version")
    assert p.returncode == 0 and __version__ in p.stdout
    p = run(metak_cmd, "--help")
    assert p.returncode == 0 and "validate" in p.stdout and "analyze" in p.stdout
    p = run(metak_cmd, "--cite")
    assert p.returncode == 0 and "@software{metak" in p.stdout


def test_validate_good_and_bad(metak_cmd, tmp_path):
    good = tmp_path / "trial_a.yaml"
    good.write_text(VALID)
    p = run(metak_cmd, "validate", good)
    assert p.returncode == 0 and "1 trial record(s) valid" in p.stdout
    bad = tmp_path / "bad" / "trial_a.yaml"
    bad.parent.mkdir()
    bad.write_text(VALID.replace("events: 3, total: 28", "events: 30, total: 28").replace("sd: 7.6", "sd: 0"))
    before = bad.read_bytes()
    p = run(metak_cmd, "validate", bad.parent)
    assert p.returncode == 1
    assert f"{bad}:45: outcomes[0].data.mid.events: 30 is more than total 28" in p.stderr
    assert "outcomes[1].data.ket.sd: must be greater than 0" in p.stderr
    assert bad.read_bytes() == before  # inputs are never modified
    p = run(metak_cmd, "validate", tmp_path / "missing")
    assert p.returncode == 1 and "no such file" in p.stderr


def test_validate_bundled_trials(metak_cmd):
    p = run(metak_cmd, "validate", "trials/", cwd=ROOT)
    assert p.returncode == 0, p.stderr


def test_help_and_import_are_light(metak_cmd):
    """`metak --help` and `import metak` load neither PyMC, ArviZ, matplotlib nor pandas."""
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        import metak, metak.cli
        r = CliRunner().invoke(metak.cli.main, ["--help"])
        assert r.exit_code == 0
        heavy = [m for m in ("pymc", "arviz", "matplotlib", "pandas", "pytensor") if m in sys.modules]
        print(",".join(heavy))
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == ""
    # its speed is measured by benchmarks/bench_startup.py, not asserted here
    p = run(metak_cmd, "--help")
    assert p.returncode == 0


def test_starting_a_command_loads_no_scipy_stats():
    """A command installs its SIGTERM handler (cli._Group) once metak.cli is imported: that import,
    and ``metak --help``, must not pull in scipy.stats (0.7 s), which the analyze help once did by
    resolving the analyses' default hooks at import time. ``metak analyze --help`` may."""
    code = textwrap.dedent("""
        import sys
        from click.testing import CliRunner
        import metak.cli
        assert "scipy.stats" not in sys.modules, "import metak.cli"
        r = CliRunner().invoke(metak.cli.main, ["--help"])
        assert r.exit_code == 0 and "analyze" in r.output
        assert "scipy.stats" not in sys.modules, "metak --help"
        r = CliRunner().invoke(metak.cli.main, ["analyze", "--help"])
        assert r.exit_code == 0 and "Figures (figures: [...]):" in r.output and "meta_regression" in r.output
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr


def test_import_fit_is_light():
    code = ("import sys, metak; from metak.estimators import fit; fit([0.1, 0.3, 0.2], [0.01, 0.02, 0.015]);"
            "print(','.join(m for m in ('pymc', 'arviz', 'matplotlib', 'pandas') if m in sys.modules))")
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert p.returncode == 0 and p.stdout.strip() == "", p.stdout + p.stderr


def test_readme_shows_real_validate_output(metak_cmd):
    """The README's console example is what metak prints, not a hand-written imitation."""
    readme = (ROOT / "README.md").read_text()
    block = readme.split("```console\n", 1)[1].split("```", 1)[0]
    shown = block.split("\n$ echo $?")[0].split("\n", 1)[1].strip()
    p = run(metak_cmd, "validate", "docs/examples/bad_trial.yaml", cwd=ROOT)
    assert p.returncode == 1
    assert p.stderr.strip() == shown


def test_readme_example_record_is_valid(tmp_path):
    from metak.records import load_trials

    readme = (ROOT / "README.md").read_text()
    record = readme.split("```yaml\n", 1)[1].split("```", 1)[0]
    (tmp_path / "dakwar2019.yaml").write_text(record)
    (trial,) = load_trials([tmp_path / "dakwar2019.yaml"])
    assert trial.id == "dakwar2019"


def test_plot_redraws_from_a_results_file(metak_cmd, tmp_path):
    from test_analysis import BASIC, MULTI, TWO

    trials = tmp_path / "trials"
    trials.mkdir()
    (trials / "multi2024.yaml").write_text(MULTI)
    (trials / "two10.yaml").write_text(TWO.format(n=10, e=20, c=10, ct="placebo", ce=38, cc=30))
    (tmp_path / "analyses").mkdir()
    spec = tmp_path / "analyses" / "x.yaml"
    spec.write_text(textwrap.dedent(BASIC))
    out = tmp_path / "out"
    p = run(metak_cmd, "analyze", spec, "--out", out)
    assert p.returncode == 0, p.stderr
    assert (out / "figures" / "response-forest.pdf").exists() and (out / "figures" / "response-forest.png").exists()
    p = run(metak_cmd, "plot", out / "results.json", "--kind", "funnel", "--format", "svg", "--id", "response")
    assert p.returncode == 0, p.stderr
    svg = (out / "figures" / "response-funnel.svg").read_text()
    assert "<svg" in svg
    p = run(metak_cmd, "plot", out / "results.json", "--kind", "posterior")
    assert p.returncode == 1 and "needs" in p.stderr  # no Bayesian block in this analysis
    p = run(metak_cmd, "plot", out / "results.json", "--kind", "forrest")
    assert p.returncode == 1 and "forrest" in p.stderr
    p = run(metak_cmd, "plot", tmp_path / "nope.json")
    assert p.returncode == 1
    for bad in (["--size", "0"], ["--size", "huge"], ["--dpi", "100000"], ["--out", str(spec)]):
        p = run(metak_cmd, "plot", out / "results.json", *bad)
        assert p.returncode != 0 and p.stderr.strip(), bad
    malformed = tmp_path / "m.json"
    malformed.write_text('{"meta_analyses": [1]}')
    p = run(metak_cmd, "plot", malformed)
    assert p.returncode == 1 and "not a readable metak results file" in p.stderr


def test_wrong_file_kinds_are_named_in_one_line(metak_cmd, tmp_path):
    out = tmp_path / "out"
    p = run(metak_cmd, "analyze", ROOT / "trials" / "dakwar2019.yaml", "--out", out)
    assert p.returncode == 1 and not out.exists()
    assert p.stderr.count("\n") == 1 and "this is a trial record (it has arms and outcomes), not an analysis spec" in p.stderr
    p = run(metak_cmd, "validate", ROOT / "analyses" / "dropout.yaml")
    assert p.returncode == 1
    assert "dropout.yaml:1: this is an analysis spec (it has meta_analyses), not a trial record" in p.stderr
    assert "unknown key" not in p.stderr
    tab = tmp_path / "tab.yaml"
    tab.write_text("metak: 1\nid: x\n\ttitle: y\n")
    p = run(metak_cmd, "validate", tab)
    assert p.returncode == 1 and "tab.yaml:3: a tab character: YAML indents with spaces only" in p.stderr


def test_trials_path_that_names_nothing_is_the_specs_error(metak_cmd, tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text((ROOT / "analyses" / "dropout.yaml").read_text().replace("trials: ../trials", "trials: ../nope"))
    line = next(i for i, t in enumerate(spec.read_text().splitlines(), 1) if t.startswith("trials:"))
    p = run(metak_cmd, "analyze", spec, "--out", tmp_path / "out")
    assert p.returncode == 1 and not (tmp_path / "out").exists()
    assert f"s.yaml:{line}: trials: '../nope': no such file or folder" in p.stderr


def test_ctrl_c_exits_130_and_writes_nothing(tmp_path):
    """An interrupt anywhere in `metak analyze` (here: while fitting) exits 130, without a
    traceback, and leaves an earlier results folder as it was."""
    out = tmp_path / "out"
    out.mkdir()
    (out / "results.json").write_text("earlier\n")
    code = textwrap.dedent(f"""
        import sys
        import metak.pipeline
        def interrupted(*a, **k):
            raise KeyboardInterrupt
        metak.pipeline.run_meta = interrupted
        from metak.cli import main
        sys.argv = ["metak", "analyze", {str(ROOT / "analyses" / "dropout.yaml")!r}, "--out", {str(out)!r}]
        main()
    """)
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert p.returncode == 130, p.stderr
    assert "Traceback" not in p.stderr and "interrupted: nothing was written" in p.stderr
    assert (out / "results.json").read_text() == "earlier\n" and sorted(out.iterdir()) == [out / "results.json"]


def test_a_truncated_posterior_is_refused():
    """PyMC hands back a partial trace after Ctrl-C; metak treats it as the interrupt it was."""
    import pytest

    from metak.bayes.mcmc import check_complete

    class Post:
        sizes = {"chain": 2, "draw": 1600}

    class Spec:
        chains, draws = 4, 20000

    with pytest.raises(KeyboardInterrupt, match="2 chain"):
        check_complete(type("I", (), {"posterior": Post})(), Spec)
    Spec.chains, Spec.draws = 2, 1600
    check_complete(type("I", (), {"posterior": Post})(), Spec)


def test_plot_without_id_draws_what_it_can_and_names_the_rest(metak_cmd, tmp_path):
    res = ROOT / "docs" / "examples" / "bcg" / "results" / "results.json"
    p = run(metak_cmd, "plot", res, "--kind", "bubble", "--format", "svg", "--out", tmp_path)
    assert p.returncode == 0, p.stderr
    assert sorted(f.name for f in tmp_path.iterdir()) == ["latitude-bubble.svg"]
    assert "skipped latitude_year_knha: bubble plot" in p.stderr and "skipped allocation: bubble plot" in p.stderr
    p = run(metak_cmd, "plot", res, "--kind", "bubble", "--id", "allocation", "--out", tmp_path)
    assert p.returncode == 1 and "needs the meta_regression analysis (moderators:)" in p.stderr


def test_figures_the_data_cannot_support_are_skipped_with_a_reason():
    import json

    import pytest

    from metak.errors import AnalysisError
    from metak.plots import funnel, subgroup_forest

    doc = json.loads((ROOT / "docs" / "examples" / "bcg" / "results" / "results.json").read_text())
    ma = next(m for m in doc["meta_analyses"] if m["id"] == "allocation")
    one = {**ma, "subgroups": {**ma["subgroups"], "groups": ma["subgroups"]["groups"][:1]}}
    with pytest.raises(AnalysisError, match="at least two subgroups"):
        subgroup_forest(one)
    with pytest.raises(AnalysisError, match=r"at least 3 studies .* \(it has 2\)"):
        funnel({**ma, "studies": ma["studies"][:2]})
    funnel({**ma, "studies": ma["studies"][:3]})

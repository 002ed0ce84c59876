"""``metak batch`` (every meta-analysis of a long table or a folder of specs) and ``metak
simulate`` (a simulation study of estimator performance): the commands of :mod:`metak.scale`,
registered on the ``metak`` group by :mod:`metak.cli`."""

from __future__ import annotations

import sys

import click

from .cli_support import _check_out, _print_problems


@click.command()
@click.argument("source", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder for results.parquet and results.csv.")
@click.option("--method", default="REML", show_default=True, help="tau² estimator (FE, DL, REML, ML, PM, SJ, HE, EB).")
@click.option("--test", default="z", show_default=True, type=click.Choice(["z", "hksj"]))
@click.option("--level", default=0.95, show_default=True, type=float)
@click.option("--measure", default=None, help="Measure for arm-level rows without a measure column (OR, RR, RD, MD, SMD).")
@click.option("--dask", default=None, help="Run on Dask: local, local:N (a LocalCluster) or tcp://HOST:PORT.")
@click.option("--partition", default=10_000, show_default=True, type=click.IntRange(1),
              help="Meta-analyses per partition (results do not depend on it).")
@click.option("--intervals/--no-intervals", default=False, show_default=True,
              help="Also the Q-profile CIs of tau² and I² (slower; not among the output columns).")
@click.option("--bayes", "bayes_block", default=None, metavar="YAML",
              help="Also the exact Bayesian posterior of each meta-analysis, with the priors of this bayes: "
                   "block, e.g. '{prior: {tau: {dist: half_normal, sigma: 0.5}}}' ('{}': the defaults of the table's one measure).")
def batch(source, out_dir, method, test, level, measure, dask, partition, intervals, bayes_block):
    """Fit every meta-analysis of SOURCE — a long CSV/Parquet table (meta_id plus yi, vi or
    arm data) or a folder of analysis specs — and write one row per meta-analysis."""
    from pathlib import Path

    from .errors import MetakError
    from .scale.batch import run_batch
    from .scale.batch_output import write

    try:
        table = run_batch(source, method=method.upper(), test=test, level=level, measure=measure, dask=dask,
                          partition=partition, intervals=intervals, bayes=bayes_block)
        out = Path(out_dir)
        _check_out(out)
        files = write(table, out)
    except MetakError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    failed = table[table["error"] != ""]
    click.echo(f"{len(table)} meta-analyses, {len(table) - len(failed)} fitted, {len(failed)} failed")
    for _, row in failed.head(10).iterrows():
        click.echo(f"  {row['meta_id']}: {row['error']}")
    if len(failed) > 10:
        click.echo(f"  ... and {len(failed) - 10} more (see the error column)")
    for f in files:
        click.echo(f"wrote {f}")


@click.command()
@click.argument("spec", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(), required=True, help="Folder for the tables and plots.")
@click.option("--dask", default=None, help="Run on Dask: local, local:N or tcp://HOST:PORT.")
def simulate(spec, out_dir, dask):
    """A simulation study of estimator performance from SPEC: bias, RMSE, CI coverage and
    width, PI coverage and tau² bias, each with its Monte Carlo SE."""
    from pathlib import Path

    from .errors import InvalidInput, MetakError
    from .scale.simulate import run_simulation
    from .scale.spec import load_spec

    try:
        sim = load_spec(spec)  # every problem of the file, before anything runs
        out = Path(out_dir)
        _check_out(out)
        table = run_simulation(sim, dask=dask)
        _commit_simulation(sim, table, out)
    except InvalidInput as exc:
        _print_problems(exc.problems)
        sys.exit(1)
    except MetakError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    show = table[["k", "tau2", "estimator", "test", "coverage", "coverage_mcse", "bias", "tau2_bias"]]
    click.echo(show.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    for name in ("simulation.csv", "simulation.json", "coverage.png"):
        click.echo(f"wrote {out / name}")


def _commit_simulation(sim, table, out):
    """simulation.csv, simulation.json and coverage.png, drawn in a scratch folder and committed
    into ``out`` all together (:mod:`metak.outputs`)."""
    import json
    import tempfile
    from pathlib import Path

    from .outputs import write
    from .scale.simulate import plot_coverage

    with tempfile.TemporaryDirectory(prefix="metak-") as tmp:
        png = Path(tmp) / "coverage.png"
        plot_coverage(table, png, sim.level)
        files = {
            "simulation.csv": table.to_csv(index=False, float_format="%.6g").encode("utf-8"),
            "simulation.json": (json.dumps({
                "simulation": sim.name, "seed": sim.seed, "replicates": sim.replicates, "block": sim.block,
                "level": sim.level, "rows": json.loads(table.to_json(orient="records"))}, indent=1) + "\n").encode("utf-8"),
            "coverage.png": png.read_bytes(),
        }
        write(out, files)

"""The ``metak`` command line: a thin click layer over the library.

Bad input never produces a traceback: domain errors are printed as ``file:line: key: message``
lines on stderr and the exit code is 1. Heavy modules (scipy, plots, PyMC) are imported
inside the commands that need them so that ``metak --help`` stays fast. ``metak batch`` and
``metak simulate`` are in :mod:`metak.cli_scale`, ``metak plot`` in :mod:`metak.cli_plot`.
"""

from __future__ import annotations

import sys

import click

from . import __version__
from .cli_plot import plot
from .cli_scale import batch, simulate
from .cli_support import _check_out, _print_problems

CITATION_BIBTEX = """@software{metak,
  title   = {metak: meta-analysis of clinical-trial outcomes in Python},
  author  = {{The metak developers}},
  year    = {2026},
  version = {%s},
  note    = {Frequentist estimates validated against R's metafor}
}""" % __version__


def _cite(ctx, _param, value):
    if not value or ctx.resilient_parsing:
        return
    from .methods import REFERENCES

    click.echo(CITATION_BIBTEX)
    click.echo("\nCite also the methods you use (results.json's 'model', 'bayes.prior' and 'sensitivity' say "
               "which; `metak report` writes a methods paragraph with exactly those citations):")
    for key, ref in REFERENCES.items():
        click.echo(f"  [{key}] {ref}")
    ctx.exit(0)


def _redeliver_interrupts(previous_hook, got, timers):
    """An ``sys.unraisablehook`` that does not lose an interrupt.

    A signal handler runs between any two bytecodes, so Ctrl-C or SIGTERM can raise its
    KeyboardInterrupt inside a finaliser (a weakref callback, ``__del__``) that the garbage
    collector happens to be running. Python ignores exceptions there: it prints "Exception
    ignored in ..." with a traceback and carries on, and the run would go on to the end as if
    never interrupted. This hook swallows that report and delivers the same signal to the main
    thread again a moment later, from a helper thread, when the finaliser has returned (if it
    lands in a finaliser again, it is delivered again). ``timers`` collects the deliveries, so
    that a command that ends before one has happened still ends as interrupted
    (:func:`_undelivered`), and no interrupt reaches the caller after the command."""
    import _thread
    import signal
    import threading

    def hook(unraisable):
        if not isinstance(unraisable.exc_value, KeyboardInterrupt):
            return previous_hook(unraisable)
        signum = got[-1] if got else signal.SIGINT
        timer = threading.Timer(0.01, _thread.interrupt_main, args=(signum,))
        timer.daemon = True
        timers.append(timer)
        timer.start()

    return hook


def _undelivered(timers) -> bool:
    """Whether an interrupt swallowed in a finaliser is still waiting to be delivered again;
    the waiting deliveries are cancelled either way."""
    waiting = any(t.is_alive() for t in timers)
    for t in timers:
        t.cancel()
    return waiting


class _Group(click.Group):
    """Ctrl-C (SIGINT) or SIGTERM in any command: exit 130 or 143 (the shell's codes), no
    traceback. SIGTERM is turned into the same exception as Ctrl-C, so that scratch folders are
    removed and PyMC's worker processes are stopped as they are on Ctrl-C. Commands write into a
    scratch folder and commit their files all together at the end (:mod:`metak.outputs`), so
    an interrupt either leaves the output folder untouched or comes after a complete write;
    the message says which."""

    def invoke(self, ctx):
        import signal

        from . import outputs

        got = []

        def on_term(signum, _frame):
            got.append(signum)
            raise KeyboardInterrupt("terminated")

        try:
            previous = signal.signal(signal.SIGTERM, on_term)
        except ValueError:  # not the main thread (e.g. called from a test runner's thread)
            previous = None
        previous_hook = sys.unraisablehook
        timers: list = []
        if previous is not None:
            sys.unraisablehook = _redeliver_interrupts(previous_hook, got, timers)
        done = len(outputs.completed)

        def interrupted():
            written = outputs.completed[done:]
            if written:
                click.echo(f"\ninterrupted after the output was written completely to {', '.join(map(str, written))}",
                           err=True)
            else:
                click.echo("\ninterrupted: nothing was written", err=True)
            sys.exit(128 + (got[0] if got else signal.SIGINT))

        try:
            result = super().invoke(ctx)
        except KeyboardInterrupt:
            interrupted()
        except SystemExit:
            if _undelivered(timers):  # interrupted in a finaliser just before the command ended
                interrupted()
            raise
        else:
            if _undelivered(timers):
                interrupted()
            return result
        finally:
            _undelivered(timers)
            if previous is not None:
                signal.signal(signal.SIGTERM, previous)
                sys.unraisablehook = previous_hook


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="metak")
@click.option("--cite", is_flag=True, expose_value=False, is_eager=True, callback=_cite,
              help="Print how to cite metak and the methods it uses, and exit.")
@click.option("-q", "--quiet", "quiet_all", is_flag=True, help="No progress bars and no tables: problems, "
              "errors and the files written only.")
@click.option("-v", "--verbose", is_flag=True, help="Progress bars and a line per finished step with its time.")
@click.pass_context
def main(ctx, quiet_all, verbose):
    """metak: meta-analysis of clinical-trial outcomes.

    Trial records live in trials/*.yaml, analysis specs in analyses/*.yaml. Progress on long
    work is shown on a terminal (stderr) and never when output is redirected.
    """
    from .progress import set_mode

    if quiet_all and verbose:
        raise click.UsageError("--quiet and --verbose contradict each other")
    set_mode("quiet" if quiet_all else "verbose" if verbose else "normal")
    ctx.ensure_object(dict)["quiet"] = quiet_all


@main.command()
@click.argument("paths", nargs=-1, required=True, type=click.Path())
@click.option("-q", "--quiet", is_flag=True, help="Print only problems.")
def validate(paths, quiet):
    """Check trial records (files or folders); exit 1 listing every problem."""
    from .records import validate_paths

    trials, problems, warnings = validate_paths(paths)
    for w in warnings:
        click.echo(f"warning: {w}", err=True)
    if problems:
        _print_problems(problems)
        files = len({p.file for p in problems})
        click.echo(f"{len(problems)} problem(s) in {files} file(s); {len(trials)} valid trial record(s).", err=True)
        sys.exit(1)
    if not quiet:
        click.echo(f"{len(trials)} trial record(s) valid.")


def run_analyze(spec_path, out_dir, *, as_json=False, figures=True):
    """``metak analyze``: fit, draw, then write results.json, summary.csv and figures.

    Everything is produced in a scratch folder first; ``out`` (and its parents) are created
    and filled only when every file exists, so a failing run leaves nothing behind.
    """
    import tempfile
    from pathlib import Path

    from .pipeline import analyze as run
    from .progress import stage, stages
    from .report import excluded_lines, terminal_table, write_outputs, written_lines
    from .results_json import dumps

    spec_path = Path(spec_path)
    out = Path(out_dir) if out_dir else Path("results") / spec_path.stem
    _check_out(out)
    from .errors import MetakError

    try:
        with tempfile.TemporaryDirectory(prefix="metak-") as tmp, stages(f"metak analyze {spec_path.name}"):
            doc = run(spec_path, out_dir=Path(tmp))
            stage("writing the results")
            names = write_outputs(doc, out, Path(tmp), figures=figures)
    except OSError as exc:  # the scratch folder ($TMPDIR) full or unwritable; --out is untouched
        where = f": {exc.filename}" if exc.filename else ""
        raise MetakError(f"cannot write a scratch file{where}: {exc.strerror or exc}; nothing was written to {out}") \
            from exc
    if as_json:
        click.echo(dumps(doc))
    else:
        ctx = click.get_current_context(silent=True)
        if not (ctx is not None and (ctx.find_root().obj or {}).get("quiet")):
            click.echo(terminal_table(doc))
            click.echo("")
            for line in excluded_lines(doc):
                click.echo(line)
            for line in written_lines(out, [n for n in names if n != "results.json"]):
                click.echo(line)
        click.echo(f"wrote {out / 'results.json'}")


_ANALYZE_SUMMARY = "Run the meta-analyses of an analysis spec and write results.json."


class _AnalyzeCommand(click.Command):
    """``analyze``'s help lists the registry's analyses and figures; it is put together when the
    help is shown, not when the CLI is imported: the figures' needs read the analyses' default
    hooks, whose modules import SciPy, and a command must start (and install its SIGTERM handler,
    :class:`_Group`) without that."""

    def format_help_text(self, ctx, formatter):
        from .registry_help import help_text

        self.help = _ANALYZE_SUMMARY + "\n\n\b\n" + help_text()
        super().format_help_text(ctx, formatter)


@main.command(cls=_AnalyzeCommand, help=_ANALYZE_SUMMARY, short_help=_ANALYZE_SUMMARY)
@click.argument("spec", type=click.Path())
@click.option("--out", "out_dir", type=click.Path(), default=None,
              help="Folder for results.json, summary.csv and figures (default: results/<spec name>).")
@click.option("--json", "as_json", is_flag=True,
              help="Print results.json to stdout instead of the table (the files are written as usual).")
@click.option("--no-figures", is_flag=True, help="Do not draw figures.")
def analyze(spec, out_dir, as_json, no_figures):
    from .errors import MetakError, InvalidInput

    try:
        run_analyze(spec, out_dir, as_json=as_json, figures=not no_figures)
    except InvalidInput as exc:
        _print_problems(exc.problems)
        sys.exit(1)
    except MetakError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)


@main.command()
@click.argument("source", type=click.Path())
@click.option("--format", "fmt", type=click.Choice(["html", "md", "docx"]), default="html", show_default=True,
              help="html: one self-contained page; md: report.md with its figures in figures/ (PNG); docx: "
                   "report.docx converted from the Markdown by pandoc (needs pandoc).")
@click.option("--out", "out_dir", type=click.Path(), required=True,
              help="Folder for the report, references.bib and references.ris.")
@click.option("--control-risk", type=click.FloatRange(0, 1, min_open=True, max_open=True), default=None,
              help="Assumed control risk for the absolute effects (default: the pooled control-arm risk).")
def report(source, fmt, out_dir, control_risk):
    """A report of SOURCE (an analysis spec, or a results folder or results.json): summary of
    findings, sensitivity analyses, figures, warnings, the methods text generated from what ran
    and its references, which are also written as references.bib and references.ris."""
    from pathlib import Path

    from .document import NotResults, load_results
    from .errors import InvalidInput, MetakError
    from .outputs import write
    from .paper import report_files, to_docx

    src = Path(source)
    out = Path(out_dir)
    target = out / f"report.{fmt}"
    try:
        _check_out(out)  # before any work
        if src.suffix in (".yaml", ".yml"):
            from .pipeline import analyze as run

            doc = run(src)
        else:
            f = src / "results.json" if src.is_dir() else src
            if not f.is_file():
                raise MetakError(f"{source}: neither an analysis spec (.yaml) nor a results folder or results.json")
            doc = load_results(f)
        files = report_files(doc, "md" if fmt == "docx" else fmt, control_risk)
        if fmt == "docx":
            refs = {k: v for k, v in files.items() if k.startswith("references.")}
            files = {"report.docx": to_docx(files), **refs}
        write(out, files)
    except InvalidInput as exc:
        _print_problems(exc.problems)
        sys.exit(1)
    except (MetakError, NotResults) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    click.echo(f"wrote {target}")
    extra = sorted(k for k in files if k != target.name)
    images = [k for k in extra if k.startswith("figures/")]
    others = [k for k in extra if not k.startswith("figures/")]
    for k in others:
        click.echo(f"wrote {out / k}")
    if images:
        click.echo(f"wrote {len(images)} figure(s) in {out / 'figures'}")


@main.command()
@click.argument("directory", type=click.Path())
def init(directory):
    """Scaffold a new review in DIRECTORY: trials/, analyses/ and an example record and spec
    that validate and run (their numbers are made up, to be replaced)."""
    from .errors import MetakError
    from .init import scaffold

    try:
        files = scaffold(directory)
    except MetakError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for f in files:
        click.echo(f"wrote {f}")
    click.echo(f"next: cd {directory} && metak analyze analyses/example.yaml")


@main.command()
@click.argument("results_dir", type=click.Path())
@click.option("--all", "show_all", is_flag=True, help="List every value that moved (default: the headline numbers "
              "and the first 20 others).")
def verify(results_dir, show_all):
    """Re-run the analysis recorded in RESULTS_DIR/results.json and check every input file's
    sha256 and every number. Numbers of the exact engines count as the same within a relative
    1e-9 or an absolute 1e-12 (last-bit differences between CPUs), MCMC summaries within 0.02;
    texts must be equal. Exit 0 when all hold, 1 with the differences (changed inputs first,
    then the headline numbers that moved, then the rest), 2 when it cannot run."""
    from .results_json import EXACT_ABS_TOL, EXACT_REL_TOL, MCMC_ABS_TOL
    from .verify import CannotVerify
    from .verify import verify as run

    try:
        rep = run(results_dir)
    except CannotVerify as exc:
        click.echo(f"error: cannot verify: {exc}", err=True)
        sys.exit(2)
    for note in rep.notes:
        click.echo(f"note: {note}")
    if rep.ok:
        tol = []
        if rep.within_tolerance:
            tol.append(f"{rep.within_tolerance} within the stated tolerance (relative {EXACT_REL_TOL:g}, "
                       f"absolute {EXACT_ABS_TOL:g})")
        if rep.tolerance_used:
            tol.append(f"{rep.tolerance_used} MCMC summaries within {MCMC_ABS_TOL}")
        identical = rep.compared - rep.within_tolerance - rep.tolerance_used
        click.echo(f"verified: every input file unchanged, {identical} values identical" + "".join(f"; {t}" for t in tol))
        return
    for line in rep.lines(show_all=show_all):
        click.echo(line)
    click.echo(f"NOT verified: {len(rep.inputs_changed)} input file(s) changed, {len(rep.moved)} value(s) differ "
               f"beyond the tolerance")
    sys.exit(1)


# commands defined in their own modules (metak.cli_scale, metak.cli_plot)
for _command in (batch, simulate, plot):
    main.add_command(_command)


def _exit_now(signum, _frame):
    """SIGTERM outside a command (before it starts, or after it has finished and while the
    interpreter shuts down): nothing is being written, so end at once with the shell's code."""
    import os

    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except Exception:  # noqa: BLE001 (a closed pipe: nothing more to say)
            pass
    os._exit(128 + signum)


def run():
    """The ``metak`` console command: :func:`main` as the whole life of the process. A SIGTERM
    outside a command's own handler (:class:`_Group`) exits 143 rather than killing the process
    by the signal (-15): a run that had just committed its output and was shutting down was
    reported as killed."""
    import signal

    signal.signal(signal.SIGTERM, _exit_now)
    main()


if __name__ == "__main__":  # pragma: no cover
    run()

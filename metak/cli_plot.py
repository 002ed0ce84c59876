"""``metak plot``: redraw figures from a results.json without refitting (registered on the
``metak`` group by :mod:`metak.cli`)."""

from __future__ import annotations

import sys

import click

from .registry import FIGURE_KINDS


@click.command()
@click.argument("results", type=click.Path())
@click.option("--kind", default="forest", show_default=True, help="One of: " + ", ".join(FIGURE_KINDS))
@click.option("--id", "ma_id", default=None, help="Meta-analysis id (default: every one in the file).")
@click.option("--out", "out_dir", type=click.Path(), default=None, help="Folder (default: beside RESULTS, figures/).")
@click.option("--format", "fmt", default="pdf", show_default=True, type=click.Choice(["pdf", "svg", "png", "tiff"]))
@click.option("--size", default=None,
              help="single_column (89 mm), double_column (183 mm), or a width in mm "
                   "(default: the spec's figures: width, else double_column).")
@click.option("--dpi", default=300, show_default=True, type=click.IntRange(72, 1200),
              help="Raster resolution (journals ask for 300-600).")
@click.option("--greyscale", is_flag=True, help="Greyscale instead of the colour-blind-safe palette.")
@click.option("--favours", nargs=2, default=None, metavar="LEFT RIGHT",
              help='Labels under the effect axis, e.g. --favours "Favours control" "Favours ketamine".')
@click.option("--arm-labels", "arm_labels", nargs=2, default=None, metavar="EXPERIMENTAL CONTROL",
              help="Names of the compared arms (column headers and favours labels).")
@click.option("--xlim", nargs=2, type=float, default=None, metavar="LOW HIGH",
              help="Effect-axis limits on the natural scale (e.g. 0.1 10 for an odds ratio).")
@click.option("--font", default=None, help="Font family, e.g. Arial or Helvetica (DejaVu Sans when not installed).")
def plot(results, kind, ma_id, out_dir, fmt, size, dpi, greyscale, favours, arm_labels, xlim, font):
    """Redraw figures from a results.json without refitting."""
    from pathlib import Path

    from .document import NotResults, load_results
    from .errors import MetakError

    path = Path(results)
    try:
        metas = load_results(path)["meta_analyses"]  # ids checked: file names are built from them
    except NotResults as exc:
        click.echo(f"error: {results}: not a readable metak results file ({exc.problem})", err=True)
        sys.exit(1)
    if ma_id is not None:
        metas = [m for m in metas if m.get("id") == ma_id]
        if not metas:
            click.echo(f"{results}: no meta-analysis with id '{ma_id}'", err=True)
            sys.exit(1)
    try:
        width = float(size) if size is not None else None
    except ValueError:
        width = size
    else:
        if width is not None and not 20 <= width <= 500:
            click.echo(f"--size {size}: a width in mm must be between 20 and 500", err=True)
            sys.exit(1)
    if xlim and not xlim[0] < xlim[1]:
        click.echo(f"--xlim {xlim[0]:g} {xlim[1]:g}: LOW must be below HIGH", err=True)
        sys.exit(1)
    # given here they win over the spec's figures: options (issue 25)
    fig_options = {k: v for k, v in (("favours", favours), ("arm_labels", arm_labels), ("xlim", xlim),
                                     ("font", font), ("width", width)) if v}
    out = Path(out_dir) if out_dir else path.parent / "figures"
    try:
        from .plots import KINDS, render

        if kind not in KINDS:
            raise MetakError(f"--kind {kind!r} is not one of {', '.join(KINDS)}")
        from .errors import AnalysisError
        from .figure_needs import check_available

        targets = [out / f"{ma['id']}-{kind}.{fmt}" for ma in metas]
        for ma, target in zip(metas, targets):  # never outside --out (e.g. through a symlink in it)
            if target.resolve().parent != out.resolve():
                raise MetakError(f"{results}: meta-analysis {ma['id']!r}: {target} is not inside --out {out}")
        import tempfile

        from .outputs import write

        skipped, drawn = [], {}
        with tempfile.TemporaryDirectory(prefix="metak-") as tmp:  # drawn there, committed together
            for ma, target in zip(metas, targets):
                try:
                    check_available(ma, kind)  # the analysis it draws was written (the spec's rule)
                    drawn[target.name] = render(ma, kind, Path(tmp) / target.name, size="double_column", dpi=dpi,
                                                greyscale=greyscale, **fig_options).read_bytes()
                except AnalysisError as exc:
                    if ma_id is not None or len(metas) == 1:
                        raise
                    skipped.append(f"skipped {ma['id']}: {exc}")  # draw what can be drawn
            if drawn:
                write(out, drawn)
        for target in targets:
            if target.name in drawn:
                click.echo(f"wrote {target}")
        for line in skipped:
            click.echo(line, err=True)
        if len(skipped) == len(metas):
            sys.exit(1)
    except (MetakError, ValueError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except OSError as exc:
        click.echo(f"error: cannot write to {out}: {exc.strerror or exc}", err=True)
        sys.exit(1)
    except (KeyError, TypeError, AttributeError) as exc:
        click.echo(f"{results}: a meta-analysis lacks what the {kind} plot reads ({type(exc).__name__}: {exc})",
                   err=True)
        sys.exit(1)

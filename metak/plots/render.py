"""Write a figure of one meta-analysis to a file: PDF, SVG, PNG or TIFF, byte-reproducible."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from contextlib import contextmanager

from matplotlib import rc_context

from ._style import FONT_SIZE, rc, use_font

FORMATS = {"pdf": "pdf", "svg": "svg", "png": "png", "tif": "tiff", "tiff": "tiff"}

# Nothing that changes between runs: no dates, and a fixed creator string.
_METADATA = {
    "pdf": {"Creator": "metak", "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": "metak", "Date": None},
    "png": {"Software": "metak"},
}


#: figure kinds, from the registry (metak.registry.FIGURES)
from ..registry import FIGURE_KINDS as KINDS  # noqa: E402
from ..results_json import rounded  # noqa: E402


def format_of(path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` or the file suffix (pdf, svg, png, tif/tiff)."""
    name = (fmt or Path(path).suffix.lstrip(".")).lower()
    if name not in FORMATS:
        raise ValueError(f"cannot write figure {str(path)!r}: format {name or '(none)'!r} is "
                         f"not one of pdf, svg, png, tif, tiff")
    return FORMATS[name]


@contextmanager
def _lean_font_subsets():
    """Embed fonts in PDFs without their OpenType layout tables (GPOS, GSUB, GDEF).

    matplotlib lays out every glyph itself and writes its position, so a viewer never uses
    them; but fontTools decompiles and subsets DejaVu's large GPOS for every PDF (about
    0.4 s a file, most of `metak analyze`'s time). Fonts stay embedded as TrueType (Type 42),
    which Type 3 could not be: it cannot hold tau² or the minus sign. The fontTools default
    is restored on exit, so nothing outside the save changes."""
    try:
        from fontTools import subset
    except ImportError:  # pragma: no cover - matplotlib requires fontTools
        yield
        return
    saved = subset.Options._drop_tables_default
    subset.Options._drop_tables_default = list(saved) + ["GPOS", "GSUB", "GDEF"]
    try:
        yield
    finally:
        subset.Options._drop_tables_default = saved


def save(fig, path, *, fmt: str | None = None, dpi: float = 300) -> Path:
    """Save ``fig`` reproducibly: fonts embedded (TrueType in PDF, text as text in SVG),
    no timestamps, a fixed SVG id salt; TIFF as RGB, LZW-compressed."""
    path = Path(path)
    f = format_of(path, fmt)
    kwargs = {"format": f, "dpi": dpi, "facecolor": "white"}
    if f in _METADATA:
        kwargs["metadata"] = _METADATA[f]
    with rc_context(rc()), _lean_font_subsets():
        if f == "tiff":
            _save_tiff(fig, path, dpi)
        else:
            fig.savefig(path, **kwargs)
    return path


def _save_tiff(fig, path: Path, dpi: float) -> None:
    """RGB (no alpha channel, as journals ask), LZW-compressed, with the dpi recorded."""
    from PIL import Image

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi, facecolor="white", metadata={"Software": None})
    buf.seek(0)
    with Image.open(buf) as im:
        im.convert("RGB").save(path, format="TIFF", compression="tiff_lzw", dpi=(dpi, dpi))


def render(ma: Mapping, kind: str, path, *, size="single_column", dpi: float = 300,
           greyscale: bool = False, fmt: str | None = None, fontsize: float = FONT_SIZE,
           **options) -> Path:
    """Draw one kind of figure of one meta-analysis and write it to ``path``.

    Parameters
    ----------
    ma : mapping
        One element of results.json ``meta_analyses``.
    kind : str
        One of :data:`KINDS`.
    path : str or Path
        The file to write; its suffix gives the format unless ``fmt`` does.
    size : ``"single_column"`` (89 mm), ``"double_column"`` (183 mm) or a width in mm
        The width; the height grows with the rows (forest-style kinds) or follows the
        kind's aspect ratio.
    dpi : float
        Resolution of PNG and TIFF output (journals ask for 300-600); vector formats
        ignore it.
    greyscale : bool
        Draw in greys only (the default palette is Okabe-Ito, safe for colour-blind readers).
    fmt : str, optional
        ``pdf``, ``svg``, ``png`` or ``tif``/``tiff``, overriding the suffix.
    **options
        Passed to the kind's function (e.g. ``bayes=False``, ``xlim=(0.1, 10)``).

    Returns
    -------
    Path
        ``path``.
    """
    return render_many(ma, kind, [path], size=size, dpi=dpi, greyscale=greyscale, fmt=fmt,
                       fontsize=fontsize, **options)[0]


def render_many(ma: Mapping, kind: str, paths, *, size="single_column", dpi: float = 300,
                greyscale: bool = False, fmt: str | None = None, fontsize: float = FONT_SIZE,
                **options) -> list[Path]:
    """:func:`render` to several files (e.g. PDF and PNG) from one drawing."""
    from ..registry import FIGURES

    if kind not in FIGURES:
        raise ValueError(f"unknown figure kind {kind!r}; kinds are {', '.join(KINDS)}")
    for p in paths:
        format_of(p, fmt)   # fail before drawing
    with use_font(_font_of(ma, options)):
        artists = draw_kind(ma, kind, size=size, greyscale=greyscale, fontsize=fontsize, **options)
        return [save(artists.figure, p, fmt=fmt, dpi=dpi) for p in paths]


def _font_of(ma: Mapping, options: Mapping):
    return options.get("font") or (ma.get("figure_options") or {}).get("font")


def draw_kind(ma: Mapping, kind: str, ax=None, *, size="single_column", **options):
    """Draw one kind of figure with the shared options (``favours``, ``arm_labels``, ``xlim``,
    ``font``, ``width``; the spec's ``figures:`` options when not given) and return its
    artists: what :func:`render` saves, and what ``metak.fit(...).forest(...)`` and
    ``AnalysisResults.plot`` return."""
    from matplotlib.text import Text

    from ..registry import FIGURES

    if kind not in FIGURES:
        raise ValueError(f"unknown figure kind {kind!r}; kinds are {', '.join(KINDS)}")
    plotter = FIGURES[kind].plotter()
    ma, options, font = figure_options(ma, plotter, options)
    size = options.pop("width", None) or size
    with use_font(font) as family:
        artists = plotter(ma, ax, size=size, **options)
        if font:  # the family stays with the text when the caller saves the figure later
            for t in artists.figure.findobj(Text):
                t.set_fontfamily(family)
    return artists


#: options every kind takes (the ``figures:`` mapping of a spec, ``metak plot``, Python)
SHARED_OPTIONS = ("favours", "arm_labels", "xlim", "font", "width")


def figure_options(ma: Mapping, plotter, options: dict):
    """Split the shared options off: ``favours`` and ``arm_labels`` travel with the
    meta-analysis (``ma["figure_options"]``, read by every kind's labels), ``font`` is the
    family to draw in, ``xlim`` goes to the kinds that take it; the rest is the kind's own.

    The meta-analysis is drawn as results.json holds it (numbers rounded to 12 significant
    digits), so ``analyze``, ``plot`` and ``report`` print the same digits (1.625 -> 1.63
    in all three, never 1.62 in one)."""
    import inspect


    options = dict(options)
    spec = dict(ma.get("figure_options") or {})   # the spec's ``figures:`` options
    for k in ("xlim", "font", "width"):            # given here, they win over the spec's
        if options.get(k) is None and spec.get(k) is not None:
            options[k] = spec[k]
    font = options.pop("font", None)
    shared = {k: options.pop(k) for k in ("favours", "arm_labels") if options.get(k) is not None}
    params = inspect.signature(plotter).parameters
    takes_any = any(p.kind == p.VAR_KEYWORD for p in params.values())
    for k in list(shared):
        if k in params:
            options[k] = shared[k]
    if options.get("xlim") is not None and "xlim" not in params and not takes_any:
        options.pop("xlim")
    elif options.get("xlim") is None:
        options.pop("xlim", None)
    elif options.get("xlim") is not None:
        options["xlim"] = tuple(options["xlim"])
    ma = rounded(dict(ma))
    if shared:
        ma["figure_options"] = {**(ma.get("figure_options") or {}), **shared}
    return ma, options, font

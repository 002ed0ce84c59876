"""Write a figure of one meta-analysis to a file: PDF, SVG, PNG or TIFF, byte-reproducible."""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from matplotlib import rc_context

from ._style import FONT_SIZE, rc

FORMATS = {"pdf": "pdf", "svg": "svg", "png": "png", "tif": "tiff", "tiff": "tiff"}

# Nothing that changes between runs: no dates, and a fixed creator string.
_METADATA = {
    "pdf": {"Creator": "metak", "Producer": None, "CreationDate": None, "ModDate": None},
    "svg": {"Creator": "metak", "Date": None},
    "png": {"Software": "metak"},
}


#: figure kinds, from the registry (metak.registry.FIGURES)
from ..registry import FIGURE_KINDS as KINDS  # noqa: E402


def format_of(path, fmt: str | None = None) -> str:
    """The output format: ``fmt`` or the file suffix (pdf, svg, png, tif/tiff)."""
    name = (fmt or Path(path).suffix.lstrip(".")).lower()
    if name not in FORMATS:
        raise ValueError(f"cannot write figure {str(path)!r}: format {name or '(none)'!r} is "
                         f"not one of pdf, svg, png, tif, tiff")
    return FORMATS[name]


def save(fig, path, *, fmt: str | None = None, dpi: float = 300) -> Path:
    """Save ``fig`` reproducibly: fonts embedded (TrueType in PDF, text as text in SVG),
    no timestamps, a fixed SVG id salt; TIFF as RGB, LZW-compressed."""
    path = Path(path)
    f = format_of(path, fmt)
    kwargs = {"format": f, "dpi": dpi, "facecolor": "white"}
    if f in _METADATA:
        kwargs["metadata"] = _METADATA[f]
    with rc_context(rc()):
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
    from ..registry import FIGURES

    if kind not in FIGURES:
        raise ValueError(f"unknown figure kind {kind!r}; kinds are {', '.join(KINDS)}")
    format_of(path, fmt)   # fail before drawing
    artists = FIGURES[kind].plotter()(ma, None, size=size, greyscale=greyscale, fontsize=fontsize,
                             **options)
    return save(artists.figure, path, fmt=fmt, dpi=dpi)

"""Palettes, fonts, sizes and the rc settings every metak figure is drawn and saved with."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

MM_PER_INCH = 25.4
PT_PER_INCH = 72.0

#: Named figure widths in mm (Nature/Elsevier/Lancet column widths are 85-90 and 170-183).
SIZES: Mapping[str, float] = MappingProxyType({
    "single_column": 89.0,
    "one_and_half_column": 120.0,
    "double_column": 183.0,
})

FONT_FAMILY = "DejaVu Sans"   # ships with matplotlib, so every machine draws the same glyphs

#: the family figures are drawn in now (``font=`` option of render: Arial, Helvetica ... where
#: installed, else DejaVu Sans); changed only inside :func:`use_font`
_CURRENT = [FONT_FAMILY]


def current_font() -> str:
    return _CURRENT[0]


def resolve_font(name: str | None) -> str:
    """The installed family for ``name`` (``"Arial"``, ``"Helvetica"``, ``"sans"``); DejaVu
    Sans when it is not installed (journals' Arial/Helvetica are not free to ship), so a
    figure is always drawn.  ``None`` and ``"default"`` give DejaVu Sans."""
    if not name or str(name).lower() in ("default", "dejavu sans", "sans", "sans-serif"):
        return FONT_FAMILY
    from matplotlib import font_manager

    for family in (str(name),) + _METRIC_TWINS.get(str(name).lower(), ()):
        try:
            path = font_manager.findfont(font_manager.FontProperties(family=family),
                                         fallback_to_default=False)
        except ValueError:
            continue
        return font_manager.get_font(path).family_name or FONT_FAMILY
    return FONT_FAMILY


#: free families with the same glyph widths, used when the named one is not installed
_METRIC_TWINS = {"arial": ("Liberation Sans", "Arimo"),
                 "helvetica": ("Nimbus Sans", "Nimbus Sans L", "TeX Gyre Heros", "Liberation Sans")}


class use_font:
    """``with use_font("Arial"):`` draw and save in that family (or the DejaVu fallback)."""

    def __init__(self, name: str | None):
        self.family = resolve_font(name)

    def __enter__(self):
        self._saved = _CURRENT[0]
        _CURRENT[0] = self.family
        return self.family

    def __exit__(self, *exc):
        _CURRENT[0] = self._saved
        return False
FONT_SIZE = 7.0               # points; journals ask for 5-8 pt at print size

# Okabe & Ito (2008), "Color Universal Design": distinguishable with every common
# colour-vision deficiency.
OKABE_ITO: Mapping[str, str] = MappingProxyType({
    "black": "#000000", "orange": "#E69F00", "sky_blue": "#56B4E9",
    "bluish_green": "#009E73", "yellow": "#F0E442", "blue": "#0072B2",
    "vermillion": "#D55E00", "reddish_purple": "#CC79A7",
})

_O = OKABE_ITO

#: role -> colour.  Every mark a figure draws names a role, never a colour.
COLOUR: Mapping[str, str] = MappingProxyType({
    "text": "#000000",
    "study": _O["blue"],
    "whisker": "#000000",
    "pooled": "#000000",
    "subtotal": "#000000",
    "common": "#000000",
    "pi": _O["orange"],
    "bayes": _O["vermillion"],
    "bayes_pi": _O["reddish_purple"],
    "shrunken": _O["vermillion"],
    "experimental": _O["blue"],
    "control": _O["vermillion"],
    "point": "#000000",
    "reference": "#000000",
    "null": "#000000",
    "rule": "#000000",
    "band": "#E5E5E5",
    "contour": ("#FFFFFF", "#E3E3E3", "#C6C6C6", "#A9A9A9"),
    "null_soft": "#7F7F7F",
    "funnel_line": "#4D4D4D",
    "density": _O["blue"],
    "density_fill": "#A6CEE3",
})

GREYSCALE: Mapping[str, str] = MappingProxyType({
    **COLOUR,
    "study": "#4D4D4D",
    "pi": "#A6A6A6",
    "bayes": "#7A7A7A",
    "bayes_pi": "#C4C4C4",
    "shrunken": "#000000",
    "experimental": "#000000",
    "control": "#000000",
    "density": "#000000",
    "density_fill": "#CFCFCF",
})


def palette(greyscale: bool = False) -> Mapping[str, str]:
    return GREYSCALE if greyscale else COLOUR


#: rc settings in force whenever a metak figure is drawn (saved, shown in a notebook) and when
#: its text is measured (:mod:`._text`; why: :class:`._figure.MetakFigure`)
UNHINTED = {"text.hinting": "no_hinting"}


def rc(fontsize: float = FONT_SIZE) -> dict:
    """rc settings for drawing and saving: fonts embedded as TrueType in PDF and PS, text
    kept as text in SVG, a fixed SVG id salt, thin lines for print sizes.

    Text is never parsed as mathtext or TeX: study, arm and outcome labels come from the
    trial records, and a ``$`` in them (``costs $5 and $10``, ``Murrough $x^$ 2013``) must be
    drawn as written, not typeset or crash the figure. Every text artist metak creates is
    made under these settings (metak's own labels use Unicode: τ², μ, −)."""
    return {
        "text.parse_math": False,
        "text.usetex": False,
        "font.family": "sans-serif",
        "font.sans-serif": [current_font(), FONT_FAMILY],
        "font.size": fontsize,
        "axes.titlesize": fontsize,
        "axes.labelsize": fontsize,
        "axes.linewidth": 0.6,
        "axes.unicode_minus": True,
        "xtick.labelsize": fontsize * 0.93,
        "ytick.labelsize": fontsize * 0.93,
        "xtick.major.width": 0.6,
        "ytick.major.width": 0.6,
        "xtick.major.size": 2.5,
        "ytick.major.size": 2.5,
        "xtick.major.pad": 1.8,
        "ytick.major.pad": 1.8,
        "xtick.direction": "out",
        "lines.linewidth": 0.8,
        "patch.linewidth": 0.6,
        "legend.fontsize": fontsize * 0.93,
        "legend.frameon": False,
        "pdf.fonttype": 42,
        "ps.fonttype": 42,
        "svg.fonttype": "none",
        "svg.hashsalt": "metak",
        "path.simplify": False,
        "figure.dpi": 100,
        "savefig.dpi": 300,
        "savefig.bbox": None,
        "savefig.pad_inches": 0.0,
        "savefig.facecolor": "white",
        "savefig.edgecolor": "white",
        "figure.facecolor": "white",
    }


def width_inches(size) -> float:
    """``"single_column"`` (89 mm), ``"double_column"`` (183 mm) or a width in mm."""
    if isinstance(size, str):
        if size not in SIZES:
            raise ValueError(f"size {size!r} is not one of {', '.join(SIZES)} or a width in mm")
        return SIZES[size] / MM_PER_INCH
    try:
        mm = float(size)
    except (TypeError, ValueError):
        raise ValueError(f"size {size!r} is not one of {', '.join(SIZES)} "
                         "or a width in mm") from None
    if not 20.0 <= mm <= 600.0:
        raise ValueError(f"size {mm:g} mm is outside 20-600 mm")
    return mm / MM_PER_INCH

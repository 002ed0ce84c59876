"""Text measuring for the figures: widths in points with the Agg engine that draws them, and
footer lines wrapped to a width."""

from __future__ import annotations

from functools import lru_cache

from matplotlib import rc_context
from matplotlib.font_manager import FontProperties

from ._style import PT_PER_INCH, UNHINTED, current_font


@lru_cache(maxsize=8)
def _agg_renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    # 10 pixels a point: at 72 dpi (one pixel a point) hinting rounds every glyph's advance
    # to whole pixels, and 5.5 pt text measured 10% narrower than it draws at 150-300 dpi
    return RendererAgg(10, 10, _MEASURE_DPI)


_MEASURE_DPI = 10 * PT_PER_INCH
#: drawn text runs up to this much wider than measured at low raster resolutions (hinting)
_SAFETY = 1.02


def text_width(s: str, size: float, weight: str = "normal", style: str = "normal") -> float:
    """Width of ``s`` in points, measured with the Agg text engine that draws it, in the
    family figures are being drawn in (:func:`metak.plots._style.current_font`)."""
    if not s:
        return 0.0
    return _width(s, size, weight, style, current_font())


@lru_cache(maxsize=8192)
def _width(s: str, size: float, weight: str, style: str, family: str) -> float:
    prop = FontProperties(family=family, size=size, weight=weight, style=style)
    with rc_context(UNHINTED):  # as the figure draws it (._figure.MetakFigure): no hinting
        w, _h, _d = _agg_renderer().get_text_width_height_descent(s, prop, ismath=False)
    return float(w) * PT_PER_INCH / _MEASURE_DPI * _SAFETY


def wrap(text: str, width: float | None, size: float) -> list[str]:
    """Split a footer line so each piece fits ``width`` points: at '; ' where possible,
    else between words; continuation lines are indented."""
    if width is None or text_width(text, size) <= width:
        return [text]
    indent = "    "
    lines: list[str] = []
    cur = ""
    for chunk in _chunks(text):
        trial = cur + chunk
        if not cur or text_width(trial.rstrip(), size) <= width:
            cur = trial
            continue
        lines.append(cur.rstrip())
        cur = indent + chunk.lstrip()
    if cur.strip():
        lines.append(cur.rstrip())
    return lines


def _chunks(text: str) -> list[str]:
    """Words with their trailing space, so that joining them gives ``text`` back."""
    out, word = [], ""
    for ch in text:
        word += ch
        if ch == " ":
            out.append(word)
            word = ""
    if word:
        out.append(word)
    return out

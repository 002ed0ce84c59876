"""Text measuring for the figures: widths in points with the Agg engine that draws them, and
footer lines wrapped to a width."""

from __future__ import annotations

from functools import lru_cache

from matplotlib.font_manager import FontProperties

from ._style import FONT_FAMILY, PT_PER_INCH


@lru_cache(maxsize=8)
def _agg_renderer():
    from matplotlib.backends.backend_agg import RendererAgg

    return RendererAgg(10, 10, PT_PER_INCH)   # 72 dpi: one pixel is one point


@lru_cache(maxsize=4096)
def text_width(s: str, size: float, weight: str = "normal", style: str = "normal") -> float:
    """Width of ``s`` in points, measured with the Agg text engine that draws it."""
    if not s:
        return 0.0
    prop = FontProperties(family=FONT_FAMILY, size=size, weight=weight, style=style)
    w, _h, _d = _agg_renderer().get_text_width_height_descent(s, prop, ismath=False)
    return float(w)


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

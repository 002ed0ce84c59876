"""Axis limits and ticks for effect axes (pure Python + numpy: no matplotlib).

Ratio measures are drawn on a log axis with the values readers expect on a forest plot:
1-2-5 per decade (``0.1 0.2 0.5 1 2 5 10``) when there is room, RevMan's half-decade set
(``0.05 0.2 1 5 20``) when there is less, then decades, then every other decade.  Each set
is closed under reciprocals, so an axis centred on 1 is symmetric.  Limits fall on a
labelled tick, so the axis line ends where its last label is (except with every other
decade labelled, where the axis ends at the decade after the data).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

from metak.format import fixed

from ._format import MINUS

# Values >= 1 of each log tick set; the values below 1 are their reciprocals.
_UPPER = {
    "1-2-5": [m * 10**e for e in range(0, 6) for m in (1, 2, 5)],
    "1-5-20": [1, 5, 20, 100, 500, 2000, 10000, 50000, 200000],
    "decades": [10**e for e in range(0, 7)],
    "2-decades": [10 ** (2 * e) for e in range(0, 4)],
}


def _log_set(name: str) -> list[float]:
    up = _UPPER[name]
    vals = {float(v) for v in up} | {1.0 / v for v in up}
    # round away float noise so 1/5 prints as 0.2
    return sorted(float(f"{v:.10g}") for v in vals)


LOG_SETS = {name: _log_set(name) for name in _UPPER}


def tick_label(v: float, step: float | None = None) -> str:
    """``0.05``, ``1``, ``20``; linear ticks get the decimals of their step."""
    if step is not None:
        decimals = max(0, -math.floor(math.log10(step) + 1e-9)) if step < 1 else 0
        if step < 1 and not math.isclose(round(step, decimals), step):
            decimals += 1
        s = fixed(v, decimals)
        if float(s) == 0:
            s = s.lstrip("-")
    else:
        s = f"{v:.10g}"
        if "e" in s:
            s = f"{v:.8f}".rstrip("0").rstrip(".")
    return s.replace("-", MINUS)


def data_range(core: Sequence[float], extra: Sequence[float], log: bool,
               stretch: float = 0.5) -> tuple[float, float]:
    """The part of the effect axis worth showing, on the natural scale.

    ``core`` holds what must be fully visible (the null, point estimates, pooled intervals);
    ``extra`` what may be clipped (study CIs), shown up to ``stretch`` times the width of
    the core range beyond it, so one huge CI does not squash every other row.
    """
    f = (lambda v: math.log(v)) if log else (lambda v: v)
    c = [f(v) for v in core if v is not None and math.isfinite(v) and (v > 0 or not log)]
    e = [f(v) for v in extra if v is not None and math.isfinite(v) and (v > 0 or not log)]
    if not c:
        c = [0.0]
    lo, hi = min(c), max(c)
    floor = math.log(2) if log else min_linear_width(lo, hi)
    width = max(hi - lo, floor)
    if e and hi - lo < floor:
        # the core collapsed to a point (one study, no null line: a proportion): its interval
        # sets the width, else the axis would span 1e-9 and print ticks like 0.2314752143
        width = max(width, max(e) - min(e))
    if hi - lo < width:
        mid = (lo + hi) / 2
        lo, hi = mid - width / 2, mid + width / 2
    allow_lo, allow_hi = lo - stretch * width, hi + stretch * width
    if e:
        lo = min(lo, max(min(e), allow_lo))
        hi = max(hi, min(max(e), allow_hi))
    g = (lambda v: math.exp(v)) if log else (lambda v: v)
    return g(lo), g(hi)


def min_linear_width(lo: float, hi: float) -> float:
    """The narrowest linear axis worth labelling: 0.001, or 1/10000 of the values' size when they
    are large (tick labels of at most four decimals or five significant digits; an interval
    narrower than that is drawn as a point)."""
    return max(1e-3, 1e-4 * max(abs(lo), abs(hi)))


def _fits(ticks: Sequence[float], labels: Sequence[str], lo: float, hi: float, log: bool,
          width_pt: float, label_width: Callable[[str], float], gap_pt: float) -> bool:
    if width_pt <= 0:
        return len(ticks) <= 2
    f = (lambda v: math.log(v)) if log else (lambda v: v)
    span = f(hi) - f(lo)
    if span <= 0:
        return False
    pos = [(f(t) - f(lo)) / span * width_pt for t in ticks]
    widths = [label_width(s) for s in labels]
    for i in range(1, len(pos)):
        if pos[i] - pos[i - 1] < (widths[i] + widths[i - 1]) / 2 + gap_pt:
            return False
    return True


def _symmetric(lo: float, hi: float, null: float, log: bool) -> tuple[float, float]:
    if log:
        r = max(abs(math.log(lo / null)), abs(math.log(hi / null)))
        return null * math.exp(-r), null * math.exp(r)
    r = max(abs(lo - null), abs(hi - null))
    return null - r, null + r


def log_ticks(lo: float, hi: float, width_pt: float, label_width: Callable[[str], float],
              gap_pt: float = 5.0, symmetric: bool | None = None, null: float = 1.0
              ) -> tuple[float, float, list[float], list[str]]:
    """Limits snapped to a tick set and the ticks, for a log axis of ``width_pt`` points."""
    lo, hi = min(lo, null), max(hi, null)
    options = [False, True] if symmetric is None else [bool(symmetric)]
    for name, values in LOG_SETS.items():
        fitting = []
        # the sparsest set labels every other decade, but the axis still ends at the
        # decade after the data, not up to 100 times beyond it
        snap = LOG_SETS["decades"] if name == "2-decades" else values
        for sym in options:
            a, b = _symmetric(lo, hi, null, True) if sym else (lo, hi)
            a = max([v for v in snap if v <= a * (1 + 1e-9)], default=snap[0])
            b = min([v for v in snap if v >= b * (1 - 1e-9)], default=snap[-1])
            ticks = [v for v in values if a <= v <= b]
            labels = [tick_label(v) for v in ticks]
            if _fits(ticks, labels, a, b, True, width_pt, label_width, gap_pt):
                fitting.append((sym, math.log(b / a), a, b, ticks, labels))
        if fitting:
            # a symmetric axis reads better when it costs little room
            chosen = fitting[0]
            if len(fitting) == 2 and fitting[1][1] <= 1.3 * fitting[0][1]:
                chosen = fitting[1]
            return chosen[2], chosen[3], chosen[4], chosen[5]
    # nothing fits: decades at the limits and the null only
    values = LOG_SETS["decades"]
    a = max([v for v in values if v <= lo * (1 + 1e-9)], default=values[0])
    b = min([v for v in values if v >= hi * (1 - 1e-9)], default=values[-1])
    ticks = [a, null, b] if a < null < b else [a, b]
    labels = [tick_label(v) for v in ticks]
    # never overprint (S5: "0.00001", "1" and "1000" on 20 mm): keep the null, then the ends
    # that fit beside it
    for keep in (ticks, [t for t in ticks if t != a], [t for t in ticks if t != b], [null]):
        lab = [tick_label(v) for v in keep]
        if keep and _fits(keep, lab, a, b, True, width_pt, label_width, gap_pt):
            return a, b, keep, lab
    return a, b, ticks, labels


def _nice_step(raw: float) -> float:
    exp = math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if m * 10**exp >= raw * (1 - 1e-9):
            return m * 10**exp
    return 10 ** (exp + 1)


def linear_ticks(lo: float, hi: float, width_pt: float, label_width: Callable[[str], float],
                 gap_pt: float = 5.0, symmetric: bool | None = None, null: float | None = 0.0,
                 max_ticks: int = 9) -> tuple[float, float, list[float], list[str]]:
    """Limits snapped to multiples of a 1-2-2.5-5 step and the ticks, for a linear axis."""
    if null is not None:
        lo, hi = min(lo, null), max(hi, null)
    if hi - lo < min_linear_width(lo, hi):
        mid, half = (lo + hi) / 2, min_linear_width(lo, hi) / 2
        lo, hi = mid - half, mid + half
    options = [False, True] if (symmetric is None and null is not None) else [bool(symmetric)]
    for n in range(max_ticks, 1, -1):
        best = None
        for sym in options:
            a0, b0 = _symmetric(lo, hi, null, False) if sym else (lo, hi)
            step = _nice_step((b0 - a0) / (n - 1))
            a = math.floor(a0 / step + 1e-9) * step
            b = math.ceil(b0 / step - 1e-9) * step
            count = int(round((b - a) / step)) + 1
            ticks = [round(a + i * step, 12) for i in range(count)]
            ticks = [0.0 if abs(t) < step * 1e-9 else t for t in ticks]
            labels = [tick_label(t, step) for t in ticks]
            if count > max_ticks or not _fits(ticks, labels, a, b, False, width_pt,
                                               label_width, gap_pt):
                continue
            if best is None or (sym and (b - a) <= 1.3 * (best[1] - best[0])):
                best = (a, b, ticks, labels)
        if best is not None:
            return best
    # nothing fits: the round limits alone (never the raw data range: "-0.221302112")
    step = _nice_step(hi - lo)
    a, b = math.floor(lo / step + 1e-9) * step, math.ceil(hi / step - 1e-9) * step
    return a, b, [a, b], [tick_label(a, step), tick_label(b, step)]

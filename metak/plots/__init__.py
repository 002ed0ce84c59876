"""Figures of meta-analysis results: forest, funnel, sensitivity and Bayesian plots.

Every function takes one meta-analysis of the results document (an element of
results.json ``meta_analyses``, a plain mapping) and an optional matplotlib Axes, draws on
it, and returns the artists it made, by name.  Nothing here computes a statistic: the
numbers drawn are the numbers in the results.  :func:`render` writes a figure to PDF, SVG,
PNG or TIFF at journal sizes, byte for byte reproducibly.

Only this package imports matplotlib; ``import metak`` does not.
"""

from __future__ import annotations

try:
    import matplotlib  # noqa: F401
except ImportError as exc:  # pragma: no cover - depends on the environment
    raise ImportError("metak.plots needs matplotlib: pip install 'metak[plots]'") from exc

from .bayes import posterior, prior_sensitivity
from .forest import forest, subgroup_forest
from .funnel import funnel
from ..registry import FIGURE_KINDS as KINDS
from .render import render, save
from .sensitivity import blinding, cumulative, dropout, leave_one_out
from .bubble import bubble

__all__ = ["KINDS", "blinding", "bubble", "cumulative", "dropout", "forest", "funnel", "leave_one_out", "posterior",
           "prior_sensitivity", "render", "save", "subgroup_forest"]

"""Nothing drawn runs off the edges of a figure, at the resolutions users draw at.

The layout measures text to fit columns and wrap footers to the figure's width; the drawn text
must be as wide as measured at every dpi. With Agg's font hinting (matplotlib's default) the
same 5 pt footer drew 7% wider at 150 dpi than at 300, and the blinding forest's rule and the
Bang index footnote ran off an 89 mm figure (a notebook shows figures at 100 dpi). metak's
figures draw their text unhinted (metak.plots._figure.MetakFigure), so every column of
pixels within the right margin (1.5 mm) stays blank. A funnel's legend above the plot gets a
row for every entry, the bias-adjusted lines included (they were not counted: a row of the
legend was cut off at the top of the figure).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("matplotlib")

from PIL import Image  # noqa: E402

from metak.plots.render import draw_kind  # noqa: E402

FIXTURES = Path(__file__).parent / "fixtures" / "plots"
CASES = [("bias_rr", "blinding_forest"), ("bias_rr", "forest"), ("ketamine_or", "forest"),
         ("dropout_rr", "dropout"), ("rob_rr", "forest"), ("tsa_rr", "forest"),
         # the funnels with the bias-adjusted lines: their legends had rows cut off at the top
         ("selection_bcg", "funnel"), ("selection_bcg", "trim_fill")]


@pytest.mark.parametrize("dpi", [100, 150, 200, 300])
@pytest.mark.parametrize("fixture,kind", CASES)
def test_nothing_reaches_the_edges(fixture, kind, dpi, tmp_path):
    ma = json.loads((FIXTURES / f"{fixture}.json").read_text())
    art = draw_kind(ma, kind, size="single_column")
    path = tmp_path / "f.png"
    art.figure.savefig(path, dpi=dpi)  # saved later, under the caller's rcParams, as users do
    px = np.asarray(Image.open(path).convert("L"))
    margin = max(2, int(1.0 / 25.4 * dpi))  # 1 mm of the 1.5 mm margin
    for side, edge in (("right", px[:, -margin:]), ("top", px[:margin, :]), ("bottom", px[-margin:, :])):
        assert edge.min() > 200, f"{fixture} {kind} at {dpi} dpi: something is drawn within 1 mm of the {side} edge"

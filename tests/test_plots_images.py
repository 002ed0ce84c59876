"""Image comparison of figures against committed PNG baselines (tests/baseline/).

The baselines are low-resolution PNGs (100 dpi) drawn with matplotlib's bundled DejaVu
Sans (matplotlib and FreeType versions in tests/baseline/README.md).  They are compared
with ``matplotlib.testing.compare.compare_images`` (no pytest plugin needed) at an RMS
tolerance of ``TOL`` grey levels (0-255), pytest-mpl's default.  With the baseline's
matplotlib the RMS is exactly 0; measured on forest_bcg_single, moving one square by 0.2
on the log-OR scale gives 4.0 and greyscale instead of colour 8.6, so a changed layout,
tick set or palette fails.  Small text changes (one digit: 1.1) are the content tests'
job (tests/test_plots.py checks every string drawn).

To redraw the baselines after an intended change, look at the new images first, then:

    METAK_UPDATE_BASELINES=1 pytest tests/test_plots_images.py

and commit tests/baseline/*.png with a note of the matplotlib version used.
"""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

matplotlib = pytest.importorskip("matplotlib")

from matplotlib.testing.compare import compare_images  # noqa: E402

from metak.plots import render  # noqa: E402

HERE = Path(__file__).parent
BASELINE = HERE / "baseline"
FIXTURES = HERE / "fixtures" / "plots"
TOL = 2.0
DPI = 100

CASES = {
    # name: (fixture, kind, options)
    "forest_bcg_single": ("bcg_or", "forest", {}),
    "forest_ketamine_bayes_double": ("ketamine_or", "forest",
                                     {"size": "double_column", "common": True}),
    "funnel_bcg_contours": ("bcg_or", "funnel", {"contours": True}),
    "funnel_normand_smd": ("normand_smd", "funnel", {}),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_figure_matches_baseline(name, tmp_path):
    fixture, kind, options = CASES[name]
    ma = json.loads((FIXTURES / f"{fixture}.json").read_text())
    actual = render(ma, kind, tmp_path / f"{name}.png", dpi=DPI, **options)
    expected = BASELINE / f"{name}.png"
    if os.environ.get("METAK_UPDATE_BASELINES"):
        shutil.copyfile(actual, expected)
        pytest.skip(f"baseline {expected.name} written (METAK_UPDATE_BASELINES is set)")
    assert expected.exists(), f"no baseline {expected}; see this module's docstring"
    result = compare_images(str(expected), str(actual), tol=TOL, in_decorator=True)
    assert result is None, (
        f"{name}: RMS {result['rms']:.2f} > {TOL} against {expected} (baselines drawn with "
        f"the matplotlib in tests/baseline/README.md, this is {matplotlib.__version__}); "
        f"the difference image is {result['diff']}")

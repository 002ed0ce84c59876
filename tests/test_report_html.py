"""``metak report``: the summary-of-findings numbers against hand arithmetic, a self-contained
page (no scripts, no links, nothing to fetch), Markdown with embedded SVG, and the HTML of a
bundled analysis rendered by headless Chromium (Debian's ``chromium``, which ``.ci/run``
installs): the screenshot is not blank and the browser logs no console or network errors."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.cli import main
from metak.paper import absolute_effects, build, sof_rows

ROOT = Path(__file__).resolve().parent.parent


def ma(measure="RR", est=1.5, lo=1.1, hi=2.0, direction="higher_is_better", risks=((10, 50), (30, 100), (20, 100))):
    import math

    f = math.log if measure in ("RR", "OR") else (lambda x: x)
    return {"id": "m", "measure": measure, "direction": direction, "estimate": f(est), "ci_lower": f(lo),
            "ci_upper": f(hi), "k": len(risks), "n_participants": 500, "model": {"level": 0.95},
            "studies": [{"control": "p", "data": {"p": {"events": e, "total": n}}} for e, n in risks]}


def test_absolute_effects_per_1000_and_nnt_by_hand():
    # control risks 0.2, 0.3, 0.2 -> median 0.2; RR 1.5 [1.1, 2.0]: 300 per 1000 (220 to 400)
    ab = absolute_effects(ma())
    assert ab["per_1000_control"] == pytest.approx(200)
    assert ab["per_1000_intervention"] == pytest.approx([300, 220, 400])
    assert ab["difference_per_1000"] == pytest.approx({"estimate": 100, "ci_lower": 20, "ci_upper": 200})
    assert ab["nnt"] == {"value": 10, "kind": "NNTB"}
    # OR 2 at control risk 0.25 (given): 2*0.25/(0.75+0.5) = 0.4; an adverse event: NNT to harm
    ab = absolute_effects(ma("OR", 2.0, 1.2, 3.0, direction="lower_is_better"), 0.25)
    assert ab["per_1000_intervention"][0] == pytest.approx(400) and ab["nnt"] == {"value": 7, "kind": "NNTH"}
    assert ab["control_risk_source"] == "given"
    # RD -0.1: 100 fewer per 1000, NNT 10
    ab = absolute_effects(ma("RD", -0.1, -0.18, -0.02), 0.4)
    assert ab["per_1000_intervention"] == pytest.approx([300, 220, 380]) and ab["nnt"]["value"] == 10
    assert absolute_effects({**ma(), "measure": "MD"}) is None


def test_sof_rows_show_effect_pi_heterogeneity_bayes_and_dropout():
    m = {**ma(), "pi_lower": 0.0, "pi_upper": 0.9, "i2": 41.2, "tau2": 0.05, "q_p": 0.2,
         "bayes": {"prob_benefit": 0.97, "mu": {"median": 0.4, "ci_lower": 0.1, "ci_upper": 0.7}},
         "dropout_rates": [{"trial": "t", "label": "T", "experimental": {"dropouts": 2, "randomized": 30}, "control": {"dropouts": 6, "randomized": 31}}]}
    rows = dict(sof_rows(m))
    assert rows["RR [95% CI]"] == "1.50 [1.10, 2.00]" and rows["95% prediction interval"] == "[1.00, 2.46]"
    assert rows["Heterogeneity"].startswith("I² = 41.2%, τ² = 0.050")
    assert "P(benefit) = 0.970" in rows["Bayesian"] and rows["Dropout"] == "2/30 experimental vs 6/31 control"
    assert rows["Absolute effect"] == "100 more per 1,000 (20 to 200)" and rows["NNTB"] == "10"


@pytest.fixture(scope="module")
def bundled_html(tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    r = CliRunner().invoke(main, ["report", str(ROOT / "results" / "substance_use"), "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out / "report.html"


def test_the_html_is_self_contained(bundled_html):
    text = bundled_html.read_text(encoding="utf-8")
    assert "<script" not in text and "<link" not in text and "@import" not in text
    assert not re.search(r"""(src|href)\s*=\s*["'](https?:)?//""", text)
    assert text.count("<svg") >= 3 and "Summary of findings" in text
    assert "<h2>Methods</h2>" in text and "estimated by restricted maximum likelihood (REML)" in text
    assert "Viechtbauer W. Bias and efficiency" in text


def test_the_html_renders_in_headless_chromium(bundled_html, tmp_path):
    import os

    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    if not exe and not os.environ.get("METAK_REQUIRE_CHROMIUM"):
        # a machine without a browser cannot run this check; CI sets METAK_REQUIRE_CHROMIUM=1
        # (after installing Debian's chromium), so there a missing browser fails instead
        pytest.skip("headless Chromium not installed (apt-get install chromium); required in CI")
    assert exe, "headless Chromium is needed: apt-get install chromium (.ci/run installs it)"
    shot = tmp_path / "shot.png"
    proc = subprocess.run([exe, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars",
                           "--enable-logging=stderr", "--v=0", "--window-size=1200,2400",
                           f"--screenshot={shot}", bundled_html.as_uri()],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0 and shot.exists(), proc.stderr[-2000:]
    console = [ln for ln in proc.stderr.splitlines() if "CONSOLE" in ln or "net::ERR" in ln
               or "Failed to load resource" in ln]
    assert console == [], console
    from PIL import Image
    import numpy as np

    img = np.asarray(Image.open(shot).convert("L"), dtype=float)
    assert img.shape == (2400, 1200)
    dark = (img < 128).mean()
    assert 0.01 < dark < 0.5, dark          # text and figures, not a blank or black page
    assert img[:300].std() > 20             # the title and description at the top


def test_markdown_embeds_the_figures_as_svg(tmp_path):
    r = CliRunner().invoke(main, ["report", str(ROOT / "analyses" / "dropout.yaml"), "--format", "md",
                                  "--out", str(tmp_path)])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "report.md").read_text(encoding="utf-8")
    assert "](data:image/svg+xml;base64," in text and "## Methods" in text and "### Summary of findings" in text
    assert "turner2015" in text or "Turner RM" in text


def test_a_bad_source_is_a_clear_error_and_writes_nothing(tmp_path):
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1 and "neither an analysis spec" in r.stderr
    assert not (tmp_path / "out").exists()


def test_build_follows_the_results_document():
    doc = json.loads((ROOT / "results" / "dropout" / "results.json").read_text())
    text = build(doc, "html")
    for m in doc["meta_analyses"]:
        assert f"<h2>{m.get('title') or m['id']}</h2>" in text

"""``metak report``: a self-contained HTML page (no scripts, no links, nothing to fetch) with
figures at the page's width and a distinct caption each, the description rendered as Markdown,
sensitivity analyses as a table; Markdown with PNG files beside it (no data URIs) that pandoc
converts to .docx (``--format docx``); references.bib and references.ris beside the report; the
HTML of a bundled analysis rendered by headless Chromium (Debian's ``chromium``, which
``.ci/run`` installs, as it installs pandoc): the screenshot is not blank and the browser logs no
console or network errors. The summary-of-findings numbers: tests/test_sof.py."""

from __future__ import annotations

import html
import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.cli import main
from metak.paper import build, md_description, report_files

ROOT = Path(__file__).resolve().parent.parent


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


@pytest.fixture(scope="module")
def dropout_md(tmp_path_factory):
    out = tmp_path_factory.mktemp("md")
    r = CliRunner().invoke(main, ["report", str(ROOT / "results" / "dropout"), "--format", "md",
                                  "--out", str(out)])
    assert r.exit_code == 0, r.output
    return out


def test_markdown_links_png_files_beside_it_and_no_data_uris(dropout_md):
    text = (dropout_md / "report.md").read_text(encoding="utf-8")
    assert "data:" not in text and "## Methods" in text and "### Summary of findings" in text
    links = re.findall(r"!\[[^\]]*\]\((figures/[^)]+\.png)\)", text)
    assert links and len(set(links)) == len(links)
    for rel in links:
        assert (dropout_md / rel).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
        from PIL import Image

        with Image.open(dropout_md / rel) as im:  # drawn at the page's width: 183 mm at 300 dpi
            assert abs(im.size[0] - round(183 / 25.4 * 300)) <= 2, im.size
    captions = re.findall(r"(?m)^\*Figure \d+\. (.+)\*$", text)
    assert len(captions) == len(links) and len(set(captions)) == len(captions)   # distinct captions
    assert sorted(p.name for p in dropout_md.iterdir() if p.is_file()) == ["references.bib", "references.ris",
                                                                           "report.md"]
    bib = (dropout_md / "references.bib").read_text(encoding="utf-8")
    refs = text.split("## References")[1]
    assert bib.count("\n@") + bib.startswith("@") == len(re.findall(r"(?m)^\d+\. ", refs))
    assert "Turner RM" in refs and "@article{turner2015," in bib


def _pandoc():
    import os

    exe = shutil.which("pandoc")
    if not exe and not os.environ.get("METAK_REQUIRE_PANDOC"):
        # CI sets METAK_REQUIRE_PANDOC=1 after installing Debian's pandoc: there a missing pandoc fails
        pytest.skip("pandoc not installed (apt-get install pandoc); required in CI")
    assert exe, "pandoc is needed: apt-get install pandoc (.ci/run installs it)"
    return exe


def test_pandoc_converts_the_markdown_report_to_docx_without_errors(dropout_md, tmp_path):
    exe = _pandoc()
    proc = subprocess.run([exe, "report.md", "--fail-if-warnings", "-o", str(tmp_path / "r.docx")],
                          cwd=dropout_md, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 0, proc.stderr
    import zipfile

    with zipfile.ZipFile(tmp_path / "r.docx") as z:
        media = [n for n in z.namelist() if n.startswith("word/media/")]
        body = z.read("word/document.xml").decode("utf-8")
    links = re.findall(r"\]\((figures/[^)]+\.png)\)", (dropout_md / "report.md").read_text(encoding="utf-8"))
    assert len(media) == len(links)                         # every figure embedded
    assert "Summary of findings" in body and "Methods" in body and "<w:tbl>" in body


@pytest.mark.slow
def test_report_format_docx(tmp_path, monkeypatch):
    _pandoc()
    r = CliRunner().invoke(main, ["report", str(ROOT / "results" / "dropout"), "--format", "docx",
                                  "--out", str(tmp_path / "d")])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in (tmp_path / "d").iterdir()) == ["references.bib", "references.ris", "report.docx"]
    assert (tmp_path / "d" / "report.docx").read_bytes()[:2] == b"PK"
    monkeypatch.setattr(shutil, "which", lambda name: None)
    r = CliRunner().invoke(main, ["report", str(ROOT / "results" / "dropout"), "--format", "docx",
                                  "--out", str(tmp_path / "e")])
    assert r.exit_code == 1 and "needs pandoc, which is not installed" in r.stderr and "--format md" in r.stderr
    assert not (tmp_path / "e").exists()


def test_html_figures_at_page_width_distinct_captions_description_and_sensitivity_table(bundled_html):
    text = bundled_html.read_text(encoding="utf-8")
    assert "figure svg{width:100%;height:auto}" in text
    caps = re.findall(r"<figcaption><b>Figure \d+\.</b> (.*?)</figcaption>", text)
    assert len(caps) >= 3 and len(set(caps)) == len(caps)
    assert "<h3>Sensitivity analyses</h3><table class='sens'><thead><tr><th>Analysis</th><th>Studies</th>" in text
    assert "Leaving out" in text


def test_the_description_renders_as_markdown_without_html_or_headings():
    d = "Pools `three` trials:\n\n- Dakwar 2019\n- Grabski 2022\n\n# not a heading <script>x</script>"
    doc = {"analysis": {"title": "T", "description": d}, "meta_analyses": [], "metak_version": "0",
           "environment": {}}
    page = build(doc, "html")
    assert "<code>three</code>" in page and "<li>Dakwar 2019</li>" in page and "<ul>" in page
    assert "<h1>T</h1>" in page and page.count("<h1>") == 1 and "<script>" not in page
    md = build(doc, "md")
    assert "- Dakwar 2019\n- Grabski 2022" in md and "\\# not a heading &lt;script&gt;" in md
    assert md_description("Title\n===") == "Title\n\\==="


def test_a_bad_source_is_a_clear_error_and_writes_nothing(tmp_path):
    r = CliRunner().invoke(main, ["report", str(tmp_path / "nothing"), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1 and "neither an analysis spec" in r.stderr
    assert not (tmp_path / "out").exists()


def test_build_follows_the_results_document():
    from metak.methods import title

    doc = json.loads((ROOT / "results" / "dropout" / "results.json").read_text())
    text = build(doc, "html")
    for m in doc["meta_analyses"]:
        assert f"<h2>{html.escape(title(m))}</h2>" in text
    files = report_files(doc, "html")
    assert sorted(files) == ["references.bib", "references.ris", "report.html"]

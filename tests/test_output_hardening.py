"""Hardening of what metak writes and draws (reliability probe 2026-12: F4, F6, F7, F9, F13 and
two small defects): data-derived text is never parsed as mathtext nor as Markdown/HTML, ``plot``
never writes outside ``--out``, malformed results.json files and unusable output folders are
clean errors (exit 1, one ``error:`` line, no traceback, nothing written)."""

from __future__ import annotations

import copy
import errno
import json
import os
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from metak.cli import main

ROOT = Path(__file__).resolve().parent.parent
DROPOUT = ROOT / "results" / "dropout" / "results.json"

#: labels that matplotlib would parse as mathtext: invalid (a crash) or valid (changed text)
MATH_LABELS = ["Murrough $x^$ 2013", "costs $5 and $10"]
NASTY_LABELS = ["Dakwar $\\foo{1}$ 2019", "Dakwar $" + "{" * 200 + " 2019", "Dakwar $" + "\\sqrt{" * 60 + "x$"]

XSS_IMG = "<img src=x onerror=\"document.title='XSS'\">"
XSS_SCRIPT = "<script>alert(1)</script>"


def _doc():
    return json.loads(DROPOUT.read_text(encoding="utf-8"))


def _write(folder: Path, doc) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / "results.json"
    f.write_text(doc if isinstance(doc, str) else json.dumps(doc), encoding="utf-8")
    return f


def _clean_failure(r, *needles):
    """Exit 1, every needle in the output, no traceback (an exception other than SystemExit is one)."""
    out = r.output + (r.stderr if hasattr(r, "stderr") else "")
    assert r.exit_code == 1, out
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    assert "Traceback" not in out, out
    for n in needles:
        assert n in out, (n, out)


def _nothing_in(folder: Path):
    assert not folder.exists() or not any(folder.rglob("*")), sorted(folder.rglob("*"))


# -- F4: mathtext ---------------------------------------------------------------------------------

def _figure_texts(fig):
    from matplotlib.text import Text

    return [t for t in fig.findobj(Text) if t.get_text()]


@pytest.mark.parametrize("labels", [MATH_LABELS, NASTY_LABELS[:2], NASTY_LABELS[1:]])
def test_dollar_labels_are_drawn_literally_in_every_figure(labels, tmp_path):
    from metak.plots.render import save
    from metak.registry import FIGURES

    ma = _doc()["meta_analyses"][0]
    for s, label in zip(ma["studies"], labels):
        s["label"] = label
    for kind in ma["figures"]:  # forest, dropout, posterior
        art = FIGURES[kind].plotter()(ma, None, size="double_column")
        svg = save(art.figure, tmp_path / f"{kind}.svg").read_text(encoding="utf-8")
        save(art.figure, tmp_path / f"{kind}.png", dpi=60)  # Agg draws them too
        drawn = [t for t in _figure_texts(art.figure) if "$" in t.get_text()]
        for t in drawn:  # the text is shown as written, never as mathtext
            assert t._preprocess_math(t.get_text()) == (t.get_text(), False), t.get_text()
        if kind == "forest":
            # the layout may wrap a long label and set the arm counts under it (one text, lines
            # joined by newlines): the label is drawn whole, in order, as its text's first lines
            def flat(x):
                return re.sub(r"\s+", "", x)
            for label in labels:
                mine = [t.get_text() for t in drawn if flat(t.get_text()).startswith(flat(label))]
                assert mine, label
                for line in mine[0].split("\n"):
                    assert line.replace("<", "&lt;") in svg or line in svg, line


def test_metak_own_labels_keep_their_symbols(tmp_path):
    """tau² and the other labels metak writes itself use Unicode, and still draw."""
    from metak.registry import FIGURES

    ma = _doc()["meta_analyses"][0]
    art = FIGURES["posterior"].plotter()(ma, None)
    texts = " ".join(t.get_text() for t in _figure_texts(art.figure))
    assert "\u03c4" in texts and "$" not in texts


def test_report_from_a_spec_with_a_mathtext_label(tmp_path):
    """The probe's reproduction: a trial label with an unbalanced ``$x^$`` (analyze and report
    crashed while drawing figures)."""
    trials = tmp_path / "trials"
    shutil.copytree(ROOT / "trials", trials)
    rec = trials / "murrough2013.yaml"
    rec.write_text(re.sub(r"(?m)^title: ", 'label: "Murrough $x^$ 2013"\ntitle: ', rec.read_text(), count=1))
    spec = tmp_path / "analyses" / "dropout.yaml"
    spec.parent.mkdir()
    text = (ROOT / "analyses" / "dropout.yaml").read_text()
    text = re.sub(r"(?m)^    bayes:\n(      .*\n)+", "", text)  # no Bayes: faster, and not the point
    text = text.replace("figures: [forest, dropout, posterior]", "figures: [forest, dropout]")
    spec.write_text(text)
    r = CliRunner().invoke(main, ["report", str(spec), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    html = (tmp_path / "rep" / "report.html").read_text(encoding="utf-8")
    assert "Murrough $x^$ 2013" in html


def test_draw_figures_with_a_mathtext_label(tmp_path):
    """``metak analyze`` draws through report.draw_figures: no crash, the label as written."""
    from metak.report import draw_figures

    doc = _doc()
    doc["meta_analyses"] = [doc["meta_analyses"][0]]
    ma = doc["meta_analyses"][0]
    ma["figures"] = ["forest"]
    ma["studies"][1]["label"] = "Murrough $x^$ 2013"
    files = draw_figures(doc, tmp_path / "figs")
    assert sorted(f.name for f in files) == ["dropout-forest.pdf", "dropout-forest.png"]
    assert not any("not drawn" in w for w in ma["warnings"]), ma["warnings"]


# -- F6: Markdown report ------------------------------------------------------------------------

def _md_doc():
    doc = _doc()
    doc["analysis"]["title"] = f"Dropout {XSS_IMG}"
    # the description is the author's Markdown (lists, emphasis, code render; issue 25), but no
    # raw HTML and no heading reaches the report
    doc["analysis"]["description"] = f"Dakwar 2019 and Murrough 2013 {XSS_SCRIPT}\n# Heading injected\n"
    doc["meta_analyses"] = doc["meta_analyses"][:2]
    for ma in doc["meta_analyses"]:
        ma["figures"] = []
    a, b = doc["meta_analyses"]
    a["title"] = f"All-cause dropout {XSS_SCRIPT}"
    a["outcome_label"] = "Dropout | any cause\n# Heading injected"
    a["warnings"] = [f"{XSS_IMG} warned", "- not a nested item\n# Heading injected", "fine & dandy <b>",
                     "1. not a list\n> not a quote\n    not code"]
    b["title"] = "Risk ratio\n# Heading injected #"
    return doc


def test_markdown_report_escapes_every_data_derived_text(tmp_path):
    src = _write(tmp_path / "res", _md_doc())
    r = CliRunner().invoke(main, ["report", str(src.parent), "--format", "md", "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    text = (tmp_path / "rep" / "report.md").read_text(encoding="utf-8")
    for raw in ("<img", "<script", "<b>"):
        assert raw not in text, raw
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text and "&lt;img src=x onerror=" in text
    assert "fine &amp; dandy &lt;b&gt;" in text
    # no structure from the data: one level-1 heading, no injected heading, no injected list or quote
    assert [line for line in text.splitlines() if line.startswith("# ")] == [
        "# Dropout &lt;img src=x onerror=\"document.title='XSS'\"&gt;"]
    assert not re.search(r"(?m)^ {0,3}#+ *Heading injected", text)
    assert not re.search(r"(?m)^ {0,3}(1\.|>) not a", text) and not re.search(r"(?m)^ {4}not code", text)
    # table rows keep their two columns: a | in a cell is escaped
    for line in text.splitlines():
        if line.startswith("| "):
            assert len(re.findall(r"(?<!\\)\|", line)) == 3, line
    # ordinary text reads unchanged
    assert "Dakwar 2019 and Murrough 2013" in text
    assert re.search(r"I² = [0-9.]+%", text) or "I² = —%" in text
    assert "## Methods" in text and "### Summary of findings" in text


def test_markdown_report_renders_without_html_or_injected_headings(tmp_path):
    """The probe's check: rendered by markdown-it (CommonMark, raw HTML allowed, as viewers do)."""
    markdown_it = pytest.importorskip("markdown_it")
    from metak.paper import build

    page = markdown_it.MarkdownIt("commonmark").render(build(_md_doc(), "md"))
    assert "<script" not in page and "<img src=x" not in page and "<b>" not in page
    assert page.count("<h1>") == 1 and "Heading injected</h" not in page
    assert "<blockquote>" not in page and "<pre>" not in page


def test_markdown_escape_leaves_ordinary_text_alone():
    from metak.paper import md_text

    for s in ("I² = 61%", "Dakwar 2019", "OR 0.33 (0.05-2.09)", "dropout_rr", "a - b", "-5% in 2019. Next"):
        assert md_text(s) == s, s
    assert md_text("2019. x") == "2019\\. x" and md_text("- x") == "\\- x" and md_text("# x") == "\\# x"
    assert md_text("a\n# b") == "a # b" and md_text("> q") == "&gt; q"
    assert md_text("see [a](javascript:x)") == "see [a]\\(javascript:x)" and md_text("[r]: u") == "\\[r]: u"
    assert md_text("a | b", cell=True) == "a \\| b"


# -- F7: plot ids ---------------------------------------------------------------------------------

@pytest.mark.parametrize("evil", ["../../escape/pwned", "ABSOLUTE", "sub/dir", "Upper", "", 5])
def test_plot_refuses_ids_that_are_not_ids(evil, tmp_path):
    if evil == "ABSOLUTE":
        evil = str(tmp_path / "abs" / "pwned")
    doc = _doc()
    doc["meta_analyses"] = [dict(doc["meta_analyses"][0], id=evil)]
    f = _write(tmp_path / "res", doc)
    out = tmp_path / "a" / "b" / "figs"
    r = CliRunner().invoke(main, ["plot", str(f), "--out", str(out), "--format", "svg"])
    _clean_failure(r, str(f), "not a readable metak results file", repr(evil) if evil != "" else "id")
    assert not (tmp_path / "a").exists()
    assert not any(p.suffix == ".svg" for p in tmp_path.rglob("*")), sorted(tmp_path.rglob("*"))


def test_plot_still_draws_valid_ids(tmp_path):
    out = tmp_path / "figs"
    r = CliRunner().invoke(main, ["plot", str(DROPOUT), "--id", "dropout_rd", "--out", str(out), "--format", "svg"])
    assert r.exit_code == 0, r.output
    assert sorted(p.name for p in out.iterdir()) == ["dropout_rd-forest.svg"]


# -- F9: malformed results.json for report (and plot) -------------------------------------------------

def _malformed():
    base = _doc()
    no_model = copy.deepcopy(base)
    del no_model["meta_analyses"][0]["model"]
    string_entry = copy.deepcopy(base)
    string_entry["meta_analyses"].append("dropout")
    no_meta = {"analysis": {"title": "x"}}
    est = copy.deepcopy(base)
    est["meta_analyses"][0]["estimate"] = "abc"
    return {
        "deep_nesting": "[" * 100_000 + "]" * 100_000,
        "meta_no_model": no_model,
        "meta_string": string_entry,
        "no_meta": no_meta,
        "top_list": [base],
        "estimate_string": est,
        "studies_not_list": dict(base, meta_analyses=[dict(base["meta_analyses"][0], studies="x")]),
        "not_json": "{",
        "not_utf8": b"\xff\xfe{",
    }


@pytest.mark.parametrize("shape", sorted(_malformed()))
def test_report_refuses_a_malformed_results_file(shape, tmp_path):
    doc = _malformed()[shape]
    if isinstance(doc, bytes):
        (tmp_path / "res").mkdir()
        f = tmp_path / "res" / "results.json"
        f.write_bytes(doc)
    else:
        f = _write(tmp_path / "res", doc)
    out = tmp_path / "rep"
    r = CliRunner().invoke(main, ["report", str(tmp_path / "res"), "--out", str(out)])
    _clean_failure(r, f"error: {f}: not a metak results.json (")
    assert not out.exists()


@pytest.mark.parametrize("shape", ["deep_nesting", "meta_string", "top_list", "not_utf8"])
def test_plot_refuses_a_malformed_results_file(shape, tmp_path):
    doc = _malformed()[shape]
    (tmp_path / "res").mkdir()
    f = tmp_path / "res" / "results.json"
    f.write_bytes(doc) if isinstance(doc, bytes) else f.write_text(doc if isinstance(doc, str) else json.dumps(doc))
    r = CliRunner().invoke(main, ["plot", str(f), "--out", str(tmp_path / "figs")])
    _clean_failure(r, str(f), "not a readable metak results file")
    assert not (tmp_path / "figs").exists()


def test_report_of_the_committed_results_still_works(tmp_path):
    doc = _doc()
    for ma in doc["meta_analyses"]:
        ma["figures"] = []
    src = _write(tmp_path / "res", doc)
    r = CliRunner().invoke(main, ["report", str(src), "--out", str(tmp_path / "rep")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "rep" / "report.html").is_file()


# -- F13: unusable output folders -------------------------------------------------------------------

def test_report_out_is_a_file_is_refused_before_any_work(tmp_path, monkeypatch):
    import metak.pipeline

    def boom(*_a, **_k):
        raise AssertionError("the analysis ran before --out was checked")

    monkeypatch.setattr(metak.pipeline, "analyze", boom)
    afile = tmp_path / "afile"
    afile.write_text("mine")
    r = CliRunner().invoke(main, ["report", str(ROOT / "analyses" / "dropout.yaml"), "--out", str(afile)])
    _clean_failure(r, "error: --out", "is a file, not a folder")
    assert afile.read_text() == "mine"


def test_report_unwritable_out_is_a_clean_error(tmp_path, monkeypatch):
    ro = tmp_path / "ro"
    ro.mkdir()
    real = os.access
    monkeypatch.setattr(os, "access", lambda p, mode, *a, **k: False if Path(p) == ro else real(p, mode, *a, **k))
    src = _write(tmp_path / "res", _doc())
    r = CliRunner().invoke(main, ["report", str(src), "--out", str(ro / "rep")])
    _clean_failure(r, "error: --out", "is not writable")
    _nothing_in(ro)


def _fail_writes_under(monkeypatch, folder: Path, err=errno.ENOSPC, after=0):
    """Writes of files under ``folder`` fail (half written) as on a full or read-only disk, after
    ``after`` successful ones."""
    done = []
    real_bytes, real_text = Path.write_bytes, Path.write_text
    real_mkdir = Path.mkdir

    def inside(p):
        return str(Path(os.path.abspath(p))).startswith(str(folder))

    def wb(self, data, *a, **k):
        if inside(self):
            if len(done) >= after:
                real_bytes(self, data[: len(data) // 2])
                raise OSError(err, os.strerror(err), str(self))
            done.append(self)
        return real_bytes(self, data, *a, **k)

    def wt(self, data, *a, **k):
        if inside(self):
            if len(done) >= after:
                real_text(self, data[: len(data) // 2], *a, **k)
                raise OSError(err, os.strerror(err), str(self))
            done.append(self)
        return real_text(self, data, *a, **k)

    monkeypatch.setattr(Path, "write_bytes", wb)
    monkeypatch.setattr(Path, "write_text", wt)
    if err == errno.EROFS:
        def mk(self, *a, **k):
            if inside(self):
                raise OSError(err, os.strerror(err), str(self))
            return real_mkdir(self, *a, **k)

        monkeypatch.setattr(Path, "mkdir", mk)


@pytest.mark.parametrize("fmt", ["html", "md"])
def test_report_on_a_full_disk_is_a_clean_error_and_leaves_nothing(fmt, tmp_path, monkeypatch):
    doc = _doc()
    for ma in doc["meta_analyses"]:
        ma["figures"] = []
    src = _write(tmp_path / "res", doc)
    out = tmp_path / "rep"
    out.mkdir()
    _fail_writes_under(monkeypatch, out)
    r = CliRunner().invoke(main, ["report", str(src), "--format", fmt, "--out", str(out)])
    _clean_failure(r, "error: cannot write to", "No space left on device")
    assert list(out.iterdir()) == [], list(out.iterdir())


def test_init_on_a_read_only_filesystem_is_a_clean_error(tmp_path, monkeypatch):
    target = tmp_path / "review"
    _fail_writes_under(monkeypatch, target, err=errno.EROFS)
    r = CliRunner().invoke(main, ["init", str(target)])
    _clean_failure(r, "error:", "Read-only file system")
    assert not target.exists()


def test_init_on_a_full_disk_leaves_no_half_scaffold(tmp_path, monkeypatch):
    target = tmp_path / "review"
    _fail_writes_under(monkeypatch, target, after=2)
    r = CliRunner().invoke(main, ["init", str(target)])
    _clean_failure(r, "error:", "No space left on device")
    assert not target.exists()
    empty = tmp_path / "empty"
    empty.mkdir()
    _fail_writes_under(monkeypatch, empty, after=1)
    r = CliRunner().invoke(main, ["init", str(empty)])
    _clean_failure(r, "error:", "No space left on device")
    assert empty.is_dir() and list(empty.iterdir()) == []


def test_init_into_a_dangling_symlink_is_a_clean_error(tmp_path):
    link = tmp_path / "review"
    link.symlink_to(tmp_path / "nowhere")
    r = CliRunner().invoke(main, ["init", str(link)])
    _clean_failure(r, "error:", str(link))
    assert link.is_symlink() and not (tmp_path / "nowhere").exists()


# -- small defects -------------------------------------------------------------------------------

def test_terminal_names_why_no_study_is_left(tmp_path):
    """All-zero 2x2 tables are dropped (drop00, as metafor's MH does): the terminal says so,
    not just 'no study has data'."""
    from metak.init import scaffold
    from metak.pipeline import analyze
    from metak.report import terminal_table

    scaffold(tmp_path / "z")
    for f in (tmp_path / "z" / "trials").glob("*.yaml"):
        f.write_text(re.sub(r"\{events: *\d+,", "{events: 0,", f.read_text()))
    spec = tmp_path / "z" / "analyses" / "example.yaml"
    spec.write_text(spec.read_text().replace("test: hksj", "test: z").replace("measure: RR", "measure: RR\n    method: MH"))
    doc = analyze(spec)
    assert doc["meta_analyses"][0]["k"] == 0
    text = terminal_table(doc)
    assert "no events in both arms" in text and "drop00" in text, text
    assert "no study has data" not in text, text


def test_fixed_effect_meta_regression_line_has_no_dangling_separators():
    from metak.report import regression_lines
    from record_examples import complete

    reg = {"moderators": ["year"], "k": 5, "test": "z", "qm_df": 1, "qm": 2.5, "qm_p": 0.11, "qe_df": 3,
           "qe": 4.0, "qe_p": 0.26, "tau2": None, "i2": None, "r2": 12.5,
           "coefficients": [{"name": "intrcpt", "estimate": 0.1, "se": 0.1, "statistic": 1.0, "p_value": 0.3,
                             "ci_lower": -0.1, "ci_upper": 0.3}]}
    for r2 in (12.5, None):
        last = regression_lines({"meta_regression": complete("meta_regression", dict(reg, r2=r2))})[-1]
        assert "; ," not in last and not last.rstrip().endswith((";", ",")), last
        assert ("R2 = 12.5%" in last) == (r2 is not None), last
    last = regression_lines({"meta_regression": complete("meta_regression", dict(reg, tau2=0.01, i2=20.0, r2=None))})[-1]
    assert last.endswith("; residual tau2 = 0.0100, I2 = 20.0%"), last


def test_plot_does_not_write_through_a_symlink_in_out(tmp_path):
    out = tmp_path / "figs"
    out.mkdir()
    victim = tmp_path / "victim.svg"
    victim.write_text("mine")
    (out / "dropout_rd-forest.svg").symlink_to(victim)
    r = CliRunner().invoke(main, ["plot", str(DROPOUT), "--id", "dropout_rd", "--out", str(out), "--format", "svg"])
    _clean_failure(r, "error:", "is not inside --out")
    assert victim.read_text() == "mine"

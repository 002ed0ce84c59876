"""``metak report``: a report for authors and reviewers, as HTML (one self-contained page) or
Markdown (``report.md`` with its figures as PNG files in ``figures/`` beside it, so it renders
on code hosts and converts with pandoc to .docx), and ``--format docx`` through pandoc.

Per meta-analysis: the summary of findings as GRADE tables show it (:mod:`metak.sof`), the
sensitivity analyses as a table, its figures at the page's width with a caption naming the
meta-analysis and what the figure shows, and every warning; then the methods text generated
from what ran (:mod:`metak.methods`) and its references. The references are also written
beside the report as ``references.bib`` (BibTeX) and ``references.ris`` (RIS), from the same
CSL-JSON records. Nothing is fetched from the network: the HTML has no scripts, fonts or
links to load."""

from __future__ import annotations

import html
import re

from .format import fixed
from .methods import methods_text, title
from .references import bibtex, ris, vancouver
from .sof import SENSITIVITY_COLUMNS, sensitivity_rows, sof_rows

#: the width report figures are drawn at: a page's text width (double column, 183 mm)
FIGURE_SIZE = "double_column"
#: PNG resolution of the Markdown report's figures (journals ask for 300)
FIGURE_DPI = 300


def _n(x, digits=2):
    return fixed(x, digits, missing="—")


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", str(name))


def figures(ma, fmt: str) -> list[dict]:
    """The meta-analysis's figures: ``{"kind", "caption", "svg" | "png", "file"}``, or
    ``{"kind", "error"}`` for one its data cannot support (its warning is in the results)."""
    import tempfile
    from pathlib import Path

    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .errors import AnalysisError
    from .plots.render import save
    from .registry import FIGURES

    out = []
    for kind in ma.get("figures") or []:
        if kind not in FIGURES:
            continue
        try:
            art = FIGURES[kind].plotter()(ma, None, size=FIGURE_SIZE)
        except AnalysisError as exc:
            out.append({"kind": kind, "error": str(exc)})
            continue
        what = FIGURES[kind].summary
        what = what.replace("mu and tau", "μ and τ")  # the figures' own symbols
        entry = {"kind": kind, "caption": f"{title(ma)}: {what[0].upper()}{what[1:]}."}
        with tempfile.TemporaryDirectory(prefix="metak-fig-") as tmp:
            if fmt == "html":
                svg = save(art.figure, Path(tmp) / "f.svg", fmt="svg").read_text(encoding="utf-8")
                entry["svg"] = svg[svg.index("<svg"):]  # no XML prolog or doctype inside HTML
            else:
                entry["png"] = save(art.figure, Path(tmp) / "f.png", fmt="png", dpi=FIGURE_DPI).read_bytes()
                entry["file"] = f"figures/{_safe(ma['id'])}-{_safe(kind)}.png"
        plt.close(art.figure)
        out.append(entry)
    return out


CSS = """
body{font-family:Georgia,'DejaVu Serif',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #999;margin-top:2.5rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:1rem 0;width:100%}th,td{border:1px solid #bbb;padding:.3rem .5rem;
vertical-align:top;text-align:left;font-size:.92rem}table.sof th{background:#eee;width:14rem}thead th{background:#eee}
figure{margin:1.5rem 0}figure svg{width:100%;height:auto}figcaption{font-size:.92rem}.warn{color:#7a3b00}
ol.refs li{margin:.2rem 0}table.sens td:nth-child(3){white-space:nowrap}
"""


_HEADING = re.compile(r"^( {0,3})(#|=+\s*$|-+\s*$)")


def md_description(text: str) -> str:
    """The spec's description as Markdown for the report: paragraphs, lists, emphasis, code
    and links as the author wrote them; raw HTML shown as text; no headings (a ``#`` line or
    a setext underline is escaped), so the description cannot reshape the report's outline."""
    lines = html.escape(str(text).strip(), quote=False).splitlines()
    return "\n".join(_HEADING.sub(lambda m: m.group(1) + "\\" + m.group(2), ln) for ln in lines)


def markdown_html(text: str) -> str:
    """The spec's description rendered as HTML (:func:`md_description`, by markdown-it)."""
    from markdown_it import MarkdownIt  # installed with rich

    return MarkdownIt("commonmark", {"html": False}).render(md_description(text).replace("&amp;", "&"))


def _html(doc, cr) -> str:
    e = html.escape
    paras, keys = methods_text(doc)
    head = (doc.get("analysis") or {})
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>",
             f"<title>{e(head.get('title') or 'metak report')}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{e(head.get('title') or 'metak report')}</h1>"]
    if head.get("description"):
        parts.append(markdown_html(head["description"]))
    n = 0
    for ma in doc["meta_analyses"]:
        parts.append(f"<h2>{e(title(ma))}</h2>")
        parts.append("<h3>Summary of findings</h3><table class='sof'>")
        parts += [f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in sof_rows(ma, cr)]
        parts.append("</table>")
        rows = sensitivity_rows(ma)
        if rows:
            parts.append("<h3>Sensitivity analyses</h3><table class='sens'><thead><tr>"
                         + "".join(f"<th>{e(c)}</th>" for c in SENSITIVITY_COLUMNS) + "</tr></thead><tbody>"
                         + "".join("<tr>" + "".join(f"<td>{e(c)}</td>" for c in r) + "</tr>" for r in rows)
                         + "</tbody></table>")
        for f in figures(ma, "html"):
            if "error" in f:
                parts.append(f"<p class='warn'>Figure {e(f['kind'])} not drawn: {e(f['error'])}</p>")
                continue
            n += 1
            parts.append(f"<figure aria-label='{e(f['kind'])}'>{f['svg']}<figcaption><b>Figure {n}.</b> "
                         f"{e(f['caption'])}</figcaption></figure>")
        if ma.get("warnings"):
            parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li class='warn'>{e(w)}</li>" for w in ma["warnings"])
                         + "</ul>")
    parts.append("<h2>Methods</h2>" + "".join(f"<p>{e(p)}</p>" for p in paras))
    parts.append("<h2>References</h2><ol class='refs'>" + "".join(f"<li>{e(vancouver(k))}</li>" for k in keys)
                 + "</ol>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


def report_files(doc, fmt="html", control_risk_given=None) -> dict[str, bytes]:
    """Every file of the report, by its path in the output folder: ``report.html`` or
    ``report.md`` with ``figures/*.png``, and ``references.bib`` and ``references.ris``."""
    _paras, keys = methods_text(doc)
    files = {"references.bib": bibtex(keys).encode("utf-8"), "references.ris": ris(keys).encode("utf-8")}
    if fmt == "html":
        files["report.html"] = _html(doc, control_risk_given).encode("utf-8")
    else:
        text, images = _markdown(doc, control_risk_given)
        files["report.md"] = text.encode("utf-8")
        files.update(images)
    return files


def build(doc, fmt="html", control_risk_given=None) -> str:
    """The report's text (HTML, or Markdown whose images are the ``figures/`` files of
    :func:`report_files`)."""
    if fmt == "html":
        return _html(doc, control_risk_given)
    return _markdown(doc, control_risk_given)[0]


_NEWLINES = re.compile(r"[ \t]*(?:\r\n|[\r\n\f\v\u2028\u2029\x85])[ \t\r\n\f\v\u2028\u2029\x85]*")
#: what starts a Markdown block at the start of a line: a heading, quote, list item, thematic
#: break, code fence or link reference definition
_BLOCK_START = re.compile(r"[#>]|[-+*_](?=[ \t]|$|[-*_])|\d{1,9}(?=[.)](?:[ \t]|$))|```|~~~|\[")


def md_text(s, *, cell=False, heading=False) -> str:
    """Data-derived text (a title, label, warning, table cell) as literal Markdown text.

    HTML special characters are escaped (no raw HTML reaches the file: a renderer shows
    ``<script>`` as text); newlines are collapsed to spaces, so a label cannot start a new
    block (``"\\n# Heading"``); what would start a block at the beginning of the line (``#``,
    ``>``, ``-``, ``*``, ``1.``, a code fence, ``[``) is backslash-escaped, as are ``|`` in a
    table cell, inline links and images (``](``) and a heading's closing ``#``. Ordinary text
    reads unchanged (``I² = 61%``, ``Dakwar 2019``)."""
    s = html.escape(str(s), quote=False)
    s = _NEWLINES.sub(" ", s).strip()
    s = s.replace("](", "]\\(")
    if cell:
        s = s.replace("|", "\\|")
    else:
        m = _BLOCK_START.match(s)
        if m:
            at = m.end() if m.group(0)[0].isdigit() else 0  # 1. -> 1\.
            s = s[:at] + "\\" + s[at:]
    if heading:
        s = re.sub(r"(^|\s)(#+)$", r"\1\\\2", s)
    return s


def _md_refs(refs) -> list[str]:
    out = []
    for r in refs:
        num, _, rest = r.partition(". ")
        out.append(f"{num}. {md_text(rest)}" if num.isdigit() else md_text(r))
    return out


def _md_table(header, rows) -> list[str]:
    out = ["| " + " | ".join(md_text(h, cell=True) for h in header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(md_text(c, cell=True) for c in r) + " |" for r in rows]
    return out + [""]


def _markdown(doc, cr) -> tuple[str, dict[str, bytes]]:
    paras, keys = methods_text(doc)
    head = doc.get("analysis") or {}
    out = [f"# {md_text(head.get('title') or 'metak report', heading=True)}", ""]
    if head.get("description"):  # the author's Markdown, rendered as such (raw HTML shown as text)
        out += [md_description(head["description"]), ""]
    images: dict[str, bytes] = {}
    n = 0
    for ma in doc["meta_analyses"]:
        out += [f"## {md_text(title(ma), heading=True)}", "", "### Summary of findings", ""]
        out += _md_table(("", ""), sof_rows(ma, cr))
        rows = sensitivity_rows(ma)
        if rows:
            out += ["### Sensitivity analyses", ""] + _md_table(SENSITIVITY_COLUMNS, rows)
        for f in figures(ma, "md"):
            if "error" in f:
                out += [md_text(f"Figure {f['kind']} not drawn: {f['error']}"), ""]
                continue
            n += 1
            images[f["file"]] = f["png"]
            alt = md_text(f["caption"]).replace("[", "\\[").replace("]", "\\]")
            out += [f"![{alt}]({f['file']})", "", f"*Figure {n}. {md_text(f['caption'])}*", ""]
        if ma.get("warnings"):
            out += ["### Warnings", ""] + [f"- {md_text(w)}" for w in ma["warnings"]] + [""]
    out += ["## Methods", ""] + [md_text(p) + "\n" for p in paras] + ["## References", ""]
    out += [f"{i}. {md_text(vancouver(k))}" for i, k in enumerate(keys, 1)]
    return "\n".join(out) + "\n", images


def to_docx(files: dict[str, bytes]) -> bytes:
    """report.docx from the Markdown report's files, by pandoc (a MetakError saying how to
    install it when it is absent)."""
    import shutil
    import subprocess
    import tempfile
    from pathlib import Path

    from .errors import MetakError

    exe = shutil.which("pandoc")
    if exe is None:
        raise MetakError("--format docx needs pandoc, which is not installed (apt-get install pandoc, brew install "
                         "pandoc or https://pandoc.org/installing.html); --format md writes report.md with its "
                         "figures, which pandoc or Word can convert later")
    with tempfile.TemporaryDirectory(prefix="metak-docx-") as tmp:
        for rel, data in files.items():
            p = Path(tmp) / rel
            p.parent.mkdir(parents=True, exist_ok=True)
            p.write_bytes(data)
        proc = subprocess.run([exe, "report.md", "--from", "markdown", "--resource-path", tmp, "-o", "report.docx"],
                              cwd=tmp, capture_output=True, text=True, timeout=300)
        if proc.returncode != 0:
            raise MetakError(f"pandoc could not convert the report (exit {proc.returncode}): {proc.stderr.strip()}")
        return (Path(tmp) / "report.docx").read_bytes()

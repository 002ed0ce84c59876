"""``metak report``: a self-contained report (HTML or Markdown) for authors and reviewers.

Per meta-analysis: a summary-of-findings table as GRADE tables show it (k, participants, the
effect on the natural scale with its CI and prediction interval, heterogeneity, the Bayesian
probability of benefit, dropout, what the sensitivity analyses show, and absolute effects per
1,000 with the NNT from an assumed control risk — the median control-arm risk by default), its
figures as inline SVG, and every warning; then the generated methods paragraph and its
references. Nothing is fetched from the network: the HTML has no scripts, fonts or links to
load."""

from __future__ import annotations

import base64
import html
import math
import re
import statistics

from .format import fixed, to_natural
from .methods import methods
from .report import bias_lines, diagnostic_lines

BINARY = ("OR", "RR", "RD")


def _n(x, digits=2):
    return fixed(x, digits, missing="—")


def control_risk(ma) -> float | None:
    """The median control-arm risk over the studies with binary arm data."""
    risks = []
    for s in ma.get("studies") or []:
        d = (s.get("data") or {}).get(s.get("control"))
        if isinstance(d, dict) and "events" in d and d.get("total"):
            risks.append(d["events"] / d["total"])
    return statistics.median(risks) if risks else None


def _risk_e(measure, cr, eff):
    """The intervention-arm risk at control risk cr under a natural-scale effect."""
    if eff is None:
        return None
    if measure == "RR":
        return min(1.0, cr * eff)
    if measure == "OR":
        return eff * cr / (1 - cr + eff * cr)
    return min(1.0, max(0.0, cr + eff))


def absolute_effects(ma, cr=None) -> dict | None:
    """Per 1,000: control risk, intervention risk with CI, the difference with CI, NNT (GRADE
    summary-of-findings style). Binary measures with a pooled estimate only."""
    m = ma["measure"]
    if m not in BINARY or ma.get("estimate") is None:
        return None
    source = "given"
    if cr is None:
        cr, source = control_risk(ma), "the median control-arm risk of the included studies"
    if cr is None:
        return None
    nat = [to_natural(m, ma.get(k)) for k in ("estimate", "ci_lower", "ci_upper")]
    re_ = [_risk_e(m, cr, e) for e in nat]
    diff = [None if r is None else 1000 * (r - cr) for r in re_]
    d = diff[0]
    nnt = None
    if d is not None and d != 0:
        good_is_event = ma.get("direction", "higher_is_better") == "higher_is_better"
        benefit = (d > 0) == good_is_event
        # rounded up, as NNTs are; the rounding to 9 places keeps 1000/99.99999999999994 at 10
        nnt = {"value": math.ceil(round(1000 / abs(d), 9)), "kind": "NNTB" if benefit else "NNTH"}
    lo, hi = sorted(x for x in diff[1:] if x is not None) if None not in diff[1:] else (None, None)
    return {"control_risk": cr, "control_risk_source": source, "per_1000_control": 1000 * cr,
            "per_1000_intervention": [None if r is None else 1000 * r for r in re_],
            "difference_per_1000": {"estimate": d, "ci_lower": lo, "ci_upper": hi}, "nnt": nnt}


def sof_rows(ma, cr=None) -> list[tuple[str, str]]:
    """(label, value) rows of the summary-of-findings table."""
    m = ma["measure"]
    rows = [("Outcome", ma.get("outcome_label") or ma.get("outcome") or ma["id"]),
            ("Studies (k)", str(ma.get("k"))),
            ("Participants", str(ma.get("n_participants") if ma.get("n_participants") is not None else "—"))]
    if ma.get("estimate") is None:
        rows.append(("Effect", "not estimable"))
        return rows
    lv = f"{(ma.get('model') or {}).get('level', 0.95) * 100:g}%"
    nat = lambda k: to_natural(m, ma.get(k))  # noqa: E731
    rows.append((f"{m} [{lv} CI]", f"{_n(nat('estimate'))} [{_n(nat('ci_lower'))}, {_n(nat('ci_upper'))}]"))
    if ma.get("pi_lower") is not None:
        rows.append((f"{lv} prediction interval", f"[{_n(nat('pi_lower'))}, {_n(nat('pi_upper'))}]"))
    if ma.get("i2") is not None:
        rows.append(("Heterogeneity", f"I² = {_n(ma['i2'], 1)}%, τ² = {_n(ma.get('tau2'), 3)}, Q p = {_n(ma.get('q_p'), 3)}"))
    b = ma.get("bayes") or {}
    if b.get("prob_benefit") is not None:
        mu = b.get("mu") or {}
        rows.append(("Bayesian", f"median {m} {_n(to_natural(m, mu.get('median')))} "
                                 f"[{_n(to_natural(m, mu.get('ci_lower')))}, {_n(to_natural(m, mu.get('ci_upper')))}]; "
                                 f"P(benefit) = {_n(b['prob_benefit'], 3)}"))
    dr = ma.get("dropout_rates")
    if dr and not ma.get("dropout"):
        e = sum(d["experimental"]["dropouts"] for d in dr), sum(d["experimental"]["randomized"] for d in dr)
        c = sum(d["control"]["dropouts"] for d in dr), sum(d["control"]["randomized"] for d in dr)
        rows.append(("Dropout", f"{e[0]:g}/{e[1]:g} experimental vs {c[0]:g}/{c[1]:g} control"))
    ab = absolute_effects(ma, cr)
    if ab:
        d = ab["difference_per_1000"]
        ie = ab["per_1000_intervention"]
        more = "more" if (d["estimate"] or 0) >= 0 else "fewer"
        rows.append(("Assumed control risk", f"{ab['per_1000_control']:.0f} per 1,000 ({ab['control_risk_source']})"))
        rows.append(("With intervention", f"{_n(ie[0], 0)} per 1,000 ({_n(ie[1], 0)} to {_n(ie[2], 0)})"))
        rows.append(("Absolute effect", f"{_n(abs(d['estimate']), 0)} {more} per 1,000 "
                                        f"({_n(d['ci_lower'], 0)} to {_n(d['ci_upper'], 0)})"))
        if ab["nnt"]:
            rows.append((ab["nnt"]["kind"], str(ab["nnt"]["value"])))
    sens = diagnostic_lines(ma) + bias_lines(ma)
    if sens:
        rows.append(("Sensitivity analyses", "\n".join(s.strip() for s in sens)))
    return rows


def figure_svgs(ma) -> list[tuple[str, str]]:
    """(kind, inline SVG) for each figure the meta-analysis lists; a figure the data cannot
    support is left out (its warning is in the results)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .plots.render import save
    from .registry import FIGURES

    import tempfile
    from pathlib import Path

    from .errors import AnalysisError

    out = []
    for kind in ma.get("figures") or []:
        if kind not in FIGURES:
            continue
        try:
            art = FIGURES[kind].plotter()(ma, None)
        except AnalysisError as exc:  # a figure the data cannot support is skipped, as analyze does
            out.append((kind, f"<p class='warn'>figure {html.escape(kind)} not drawn: {html.escape(str(exc))}</p>"))
            continue
        with tempfile.TemporaryDirectory(prefix="metak-svg-") as tmp:
            f = save(art.figure, Path(tmp) / "f.svg", fmt="svg")
            svg = f.read_text(encoding="utf-8")
        plt.close(art.figure)
        svg = svg[svg.index("<svg"):]  # drop the XML prolog and doctype: inline SVG in HTML
        out.append((kind, svg))
    return out


CSS = """
body{font-family:Georgia,'DejaVu Serif',serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#111;line-height:1.45}
h1{font-size:1.6rem}h2{font-size:1.3rem;border-bottom:1px solid #999;margin-top:2.5rem}h3{font-size:1.05rem}
table{border-collapse:collapse;margin:1rem 0;width:100%}th,td{border:1px solid #bbb;padding:.3rem .5rem;
vertical-align:top;text-align:left;font-size:.92rem}th{background:#eee;width:14rem}td{white-space:pre-line}
figure{margin:1.5rem 0}figure svg{width:100%;max-width:42rem;height:auto}.warn{color:#7a3b00}ol.refs li{margin:.2rem 0}
"""


def build(doc, fmt="html", control_risk_given=None) -> str:
    paras, refs = methods(doc)
    title = (doc.get("analysis") or {}).get("title") or "metak report"
    desc = (doc.get("analysis") or {}).get("description")
    if fmt == "md":
        return _markdown(doc, title, desc, paras, refs, control_risk_given)
    e = html.escape
    parts = ["<!DOCTYPE html>", "<html lang='en'><head><meta charset='utf-8'>", f"<title>{e(title)}</title>",
             f"<style>{CSS}</style></head><body>", f"<h1>{e(title)}</h1>"]
    if desc:
        parts.append(f"<p>{e(desc)}</p>")
    fig_no = 0
    for ma in doc["meta_analyses"]:
        parts.append(f"<h2>{e(ma.get('title') or ma['id'])}</h2>")
        parts.append("<h3>Summary of findings</h3><table>")
        for k, v in sof_rows(ma, control_risk_given):
            parts.append(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>")
        parts.append("</table>")
        from .registry import FIGURES

        for kind, svg in figure_svgs(ma):
            fig_no = fig_no + 1 if svg.startswith("<svg") else fig_no
            what = FIGURES[kind].summary if kind in FIGURES else kind
            cap = f"Figure {fig_no}. {what[0].upper()}{what[1:]}." if svg.startswith("<svg") else ""
            parts.append(f"<figure aria-label='{e(kind)}'>{svg}<figcaption>{e(cap)}</figcaption></figure>")
        if ma.get("warnings"):
            parts.append("<h3>Warnings</h3><ul>" + "".join(f"<li class='warn'>{e(w)}</li>" for w in ma["warnings"])
                         + "</ul>")
    parts.append("<h2>Methods</h2>" + "".join(f"<p>{e(p)}</p>" for p in paras))
    parts.append("<h2>References</h2><ol class='refs'>"
                 + "".join(f"<li>{e(r.split('. ', 1)[1])}</li>" for r in refs) + "</ol>")
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"


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


def _markdown(doc, title, desc, paras, refs, cr) -> str:
    out = [f"# {md_text(title, heading=True)}", ""]
    if desc:
        out += [md_text(desc), ""]
    for ma in doc["meta_analyses"]:
        out += [f"## {md_text(ma.get('title') or ma['id'], heading=True)}", "", "### Summary of findings", "",
                "| | |", "|---|---|"]
        for k, v in sof_rows(ma, cr):
            cell = "<br>".join(md_text(line, cell=True) for line in str(v).split("\n"))
            out.append(f"| {md_text(k, cell=True)} | {cell} |")
        out.append("")
        for kind, svg in figure_svgs(ma):
            if svg.startswith("<svg"):
                data = base64.b64encode(svg.encode("utf-8")).decode("ascii")
                out += [f"![{kind.replace('_', ' ')}](data:image/svg+xml;base64,{data})", ""]
            else:
                out += [md_text(html.unescape(svg.replace("<p class='warn'>", "").replace("</p>", ""))), ""]
        if ma.get("warnings"):
            out += ["### Warnings", ""] + [f"- {md_text(w)}" for w in ma["warnings"]] + [""]
    out += ["## Methods", ""] + [md_text(p) + "\n" for p in paras] + ["## References", ""] + _md_refs(refs)
    return "\n".join(out) + "\n"

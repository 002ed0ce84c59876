"""Writing results: results.json (byte-reproducible), summary.csv, the terminal table.

Computes nothing: it reads the results document that :mod:`metak.pipeline` built.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import json
from pathlib import Path

from .format import effect, fixed, measure_of, to_natural
from .results_json import dumps, equivalent
from .schema.record import ABSENT, as_dict
from .sensitivity.missing_outcome import scenario_label
from .typed import records

SUMMARY_COLUMNS = ("id", "outcome", "measure", "method", "test", "k", "n_participants", "estimate", "ci_lower",
                   "ci_upper", "pi_lower", "pi_upper", "estimate_natural", "ci_lower_natural", "ci_upper_natural",
                   "p_value", "tau2", "i2", "q", "q_df", "q_p", "bayes_mu_mean", "bayes_mu_median", "bayes_mu_ci_lower",
                   "bayes_mu_ci_upper", "bayes_prob_benefit")


def summary_csv(doc: dict) -> str:
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(SUMMARY_COLUMNS)
    for ma in doc["meta_analyses"]:
        m = measure_of(ma)
        view = records(ma)
        p = view.pooled
        b = view.get("bayes")
        mu = b.mu if b else None
        row = {**_head(ma), **{f.name: getattr(p, f.name) for f in dataclasses.fields(p)},
               "estimate_natural": to_natural(m, p.estimate), "ci_lower_natural": to_natural(m, p.ci_lower),
               "ci_upper_natural": to_natural(m, p.ci_upper),
               "bayes_mu_mean": mu and mu.mean, "bayes_mu_median": mu and mu.median,
               "bayes_mu_ci_lower": mu and mu.ci_lower, "bayes_mu_ci_upper": mu and mu.ci_upper,
               "bayes_prob_benefit": b.prob_benefit if b else None}
        w.writerow(["" if row.get(c) is None else row.get(c) for c in SUMMARY_COLUMNS])
    return buf.getvalue()


def _head(ma) -> dict:
    """The document metadata summary.csv shows (id, outcome, measure, model.method, model.test)."""
    model = ma.get("model") or {}
    return {"id": ma.get("id"), "outcome": ma.get("outcome"), "measure": ma.get("measure"),
            "method": model["method"], "test": model["test"]}


def _meta(ma, key, default=None):
    """Document metadata no analysis's record holds (id, figures, warnings, excluded, dropout)."""
    return ma.get(key, default)


def _exclusion(entry, key=None):
    """An ``excluded`` entry (metadata, no record): its ``key``, or ``"<trial>: <reason>"``."""
    return entry.get(key) if key else f"{entry.get('trial')}: {entry.get('reason')}"


def write_outputs(doc: dict, out: Path, staging: Path, *, figures=True):
    """Render everything into ``staging`` first, then commit the files into ``out``.

    Figures are drawn first: one that the data cannot support is skipped with a warning in
    its meta-analysis, so results.json (written last) records it. The files reach ``out`` all
    together or not at all (:func:`metak.outputs.commit`); files in ``out`` that metak does not
    write are left alone. A results.json already in ``out`` that says the same within verify's
    tolerances, with the same inputs and environment, is kept with its summary.csv (last-bit
    differences on another CPU do not rewrite committed results).
    """
    from .outputs import write

    fig_files = draw_figures(doc, staging / "figures") if figures else []
    new_json = dumps(doc)
    files = {f"figures/{f.name}": f for f in fig_files}
    files.update({f.name: f for f in sorted(staging.glob("*.posterior.nc"))})
    files["summary.csv"] = summary_csv(doc).encode("utf-8")
    files["results.json"] = new_json.encode("utf-8")
    old_json = out / "results.json"
    same = None

    def keep(rel, old, new):
        nonlocal same
        if not (rel in ("results.json", "summary.csv") or rel.endswith(".png")) or not old_json.is_file():
            return False
        if same is None:
            try:
                same = equivalent(json.loads(old_json.read_text(encoding="utf-8")), json.loads(new_json))
            except (OSError, ValueError, RecursionError):
                same = False
        if same and rel.endswith(".png"):  # the same numbers: only rendering noise can differ
            return _same_picture(old, new)
        return same

    write(out, files, keep=keep)
    return sorted(files)


#: a PNG redrawn from numbers that agree within verify's tolerances is kept when its pixels
#: differ from the existing one by less than this RMS (0-255 scale, as matplotlib's image
#: comparison): a coordinate that moves in its last bits on another CPU can flip the
#: anti-aliasing of a few edge pixels (measured: RMS 0.004 for the BCG bubble plot under
#: baseline SIMD), while one changed digit in a label is an RMS of about 1
PNG_KEEP_RMS = 0.1


def _same_picture(old: bytes, new: bytes) -> bool:
    import numpy as np
    from PIL import Image

    try:
        with Image.open(io.BytesIO(old)) as a, Image.open(io.BytesIO(new)) as b:
            x, y = np.asarray(a.convert("RGBA"), dtype=float), np.asarray(b.convert("RGBA"), dtype=float)
    except (OSError, ValueError):
        return False
    return x.shape == y.shape and float(np.sqrt(np.mean((x - y) ** 2))) < PNG_KEEP_RMS


def draw_figures(doc: dict, folder: Path) -> list[Path]:
    """Draw each meta-analysis's ``figures`` (forest by default) as PDF and PNG.

    A kind whose data are absent (e.g. a blinding plot without guess tables) is skipped and
    the reason added to that meta-analysis's warnings.
    """
    import warnings

    from .errors import AnalysisError
    from .plots._figure import FigureWarning
    from .plots.render import render_many
    from .progress import stage

    folder.mkdir(parents=True, exist_ok=True)
    files = []
    todo = [(ma, kind) for ma in doc["meta_analyses"] if records(ma).studies
            for kind in _meta(ma, "figures", ("forest",))]
    for i, (ma, kind) in enumerate(todo, 1):
        stage(f"drawing figure {i} of {len(todo)}: {_meta(ma, 'id')}-{kind}")
        try:
            paths = [folder / f"{_meta(ma, 'id')}-{kind}.{ext}" for ext in ("pdf", "png")]
            with warnings.catch_warnings(record=True) as caught:
                warnings.simplefilter("always", FigureWarning)
                files.extend(render_many(ma, kind, paths, size="double_column", dpi=300))
            _meta(ma, "warnings").extend(f"figure '{kind}': {w.message}" for w in caught
                                         if issubclass(w.category, FigureWarning))
        except AnalysisError as exc:
            _meta(ma, "warnings").append(f"figure '{kind}' not drawn: {exc}")
    return files


def _fmt(x, nd=2):
    return fixed(x, nd, missing="—")


def regression_lines(ma: dict) -> list[str]:
    """The meta-regression's coefficients, as metafor prints them (analysis scale), from its record."""
    mr = records(ma).get("meta_regression")
    reg = mr.fit
    stat = "t" if reg.test == "hksj" else "z"
    out = [f"meta-regression on {', '.join(reg.moderators)} (k = {reg.k}; analysis scale):"]
    width = max(len(c.name) for c in reg.coefficients)
    out.append(f"  {'':{width}} {'estimate':>9} {'se':>8} {stat:>8} {'p':>8} {'CI':>21}")
    for c in reg.coefficients:
        ci = f"[{_fmt(c.ci_lower, 4)}, {_fmt(c.ci_upper, 4)}]"
        out.append(f"  {c.name:{width}} {_fmt(c.estimate, 4):>9} {_fmt(c.se, 4):>8} "
                   f"{_fmt(c.statistic, 3):>8} {_fmt(c.p_value, 4):>8} {ci:>21}")
    qm_df = reg.qm_df
    qm = (f"F({qm_df[0]}, {qm_df[1]})" if isinstance(qm_df, tuple) else f"QM({qm_df})") + f" = {_fmt(reg.qm)}"
    tau2_ci = f" [{_fmt(mr.tau2_ci[0], 4)}, {_fmt(mr.tau2_ci[1], 4)}]" if mr.tau2_ci else ""  # Q-profile
    het = [f"residual tau2 = {_fmt(reg.tau2, 4)}{tau2_ci}", f"I2 = {_fmt(reg.i2, 1)}%"] if reg.tau2 is not None else []
    if reg.r2 is not None:
        het.append(f"R2 = {_fmt(reg.r2, 1)}%")
    parts = [f"{qm} (p = {_fmt(reg.qm_p, 4)})", f"QE({reg.qe_df}) = {_fmt(reg.qe)} (p = {_fmt(reg.qe_p, 4)})"]
    if het:  # a fixed-effect model has no residual heterogeneity: no empty part, no dangling separator
        parts.append(", ".join(het))
    out.append("  " + "; ".join(parts))
    return out


def subgroup_lines(ma: dict) -> list[str]:
    sub = records(ma).get("subgroups").test
    m = measure_of(ma)
    out = [f"subgroups by {sub.by}:"]
    for g in sub.groups:
        out.append(f"  {str(g.value)[:22]:<22} k = {g.k:>2}  {_fmt(to_natural(m, g.estimate)):>6} "
                   f"[{_fmt(to_natural(m, g.ci_lower))}, {_fmt(to_natural(m, g.ci_upper))}]")
    if sub.q_between is not None:
        out.append(f"  test for subgroup differences: Q = {_fmt(sub.q_between)}, df = {sub.df_between} "
                   f"(p = {_fmt(sub.p_between, 4)})")
    return out


def _compact(x) -> str:
    """An effect as the report prints it (:func:`metak.format.effect`: "0.00017", "68,981";
    a Knapp-Hartung CI on 1 df reaches 1e5), never in scientific notation."""
    return effect(x)


def _est_ci(m, e) -> str:
    """A fit's record (refit, scenario, trim-and-fill) as estimate [CI], natural scale; "—" without one."""
    if not e or e.estimate is None:
        return "—"
    return f"{_compact(to_natural(m, e.estimate))} [{_compact(to_natural(m, e.ci_lower))}, {_compact(to_natural(m, e.ci_upper))}]"


def bias_lines(ma: dict) -> list[str]:
    """The blinding and active-placebo bias analyses, one line each (natural scale), from their records."""
    m = measure_of(ma)
    view = records(ma)
    out = []
    b = view.get("blinding")
    if b:
        counts = {s: sum(c.status == s for c in b.classification) for s in ("adequate", "compromised", "unknown")}
        out.append(f"blinding ({b.rule.assessor} |Bang| <= {b.rule.max_bang:g}): "
                   + ", ".join(f"{n} {s}" for s, n in counts.items()))
        r = b.restricted
        out.append("  adequately blinded only: " + (f"k = {r.k}, {_est_ci(m, r)}" if r
                                                      else b.reasons.get("restricted", "—")))
        a = b.bias_adjusted
        if a:
            extra = ""
            if a.bayes:
                extra = (f"; Bayes median {_fmt(to_natural(m, a.bayes.mu.median))}, "
                         f"P(benefit) = {_fmt(a.bayes.prob_benefit, 3)}")
            out.append(f"  bias-adjusted ({a.shift.source}, {a.k_adjusted} adjusted): {_est_ci(m, a.fit)}{extra}")
        for e in b.by_source:
            if not a or e.source != a.shift.source:
                out.append(f"    under {e.source}: {_est_ci(m, e)}")
        t = b.tipping_point
        if t.bias is not None:
            ror = f" (ROR {_fmt(t.ror, 3)})" if t.ror is not None else ""
            out.append(f"  tipping point: a bias of {_fmt(t.bias, 3)}{ror} in the {t.k_shifted} trials not "
                       "adequately blinded brings the CI to the null")
        elif t.reason:
            out.append(f"  tipping point: none ({t.reason})")
    ap = view.get("active_placebo")
    if ap:
        r = ap.restricted
        out.append("active placebo only: " + (f"k = {r.k}, {_est_ci(m, r)}" if r
                                               else ap.reasons.get("restricted", "—")))
        rows = ap.assumed_effect or ()
        # a range for a plot can be long: the terminal shows at most five, evenly spaced
        show = rows if len(rows) <= 5 else [rows[round(i * (len(rows) - 1) / 4)] for i in range(5)]
        for e in show:
            out.append(f"  placebo effect {e.effect:g} added back ({e.k_shifted} shifted): {_est_ci(m, e.fit)}")
        if len(show) < len(rows):
            out.append(f"  ({len(rows)} assumed effects in results.json)")
    return out


def diagnostic_lines(ma: dict) -> list[str]:
    """Influence and small-study results, one line each, read from their records."""
    view = records(ma)
    m = measure_of(ma)
    out = []
    inf = view.get("influence")
    if inf and inf.rows:
        flagged = [r.label for r in inf.rows if r.influential]
        top = max(inf.rows, key=lambda r: r.cook_d or 0.0)
        out.append(f"influence: {len(flagged)} influential by metafor's rule"
                   + (f" ({', '.join(flagged)})" if flagged else "")
                   + f"; largest Cook's distance {_fmt(top.cook_d, 3)} ({top.label})")
    ss = view.get("small_study")
    if ss:
        if not ss.run:
            out.append(f"small-study tests: not run ({ss.reason})")
        else:
            e, r, rk, tf = ss.egger, ss.egger_rma, ss.rank_test, ss.trim_fill
            out.append(f"small-study tests: Egger t({e.df}) = {_fmt(e.statistic)} (p = {_fmt(e.p_value, 4)}); "
                       f"regression test {'t' if r.test == 'hksj' else 'z'} = {_fmt(r.statistic)} "
                       f"(p = {_fmt(r.p_value, 4)}), limit estimate {_compact(to_natural(m, r.limit_estimate))}; "
                       f"rank test tau = {_fmt(rk.tau, 3)} (p = {_fmt(rk.p_value, 4)}"
                       f"{', exact' if rk.exact else ''})")
            out.append(f"  trim-and-fill: {tf.k0} stud{'y' if tf.k0 == 1 else 'ies'} filled on the {tf.side}, "
                       f"{_est_ci(m, tf)}")
    dr = view.get("dropout_rates")
    if not _meta(ma, "dropout") and dr and dr.rates:
        out.append("dropout in these trials: " + "; ".join(
            f"{d.label} {d.experimental.dropouts}/{d.experimental.randomized} vs "
            f"{d.control.dropouts}/{d.control.randomized}" for d in dr.rates))
    mo = view.get("missing_outcome")
    if mo and mo.scenarios:
        parts = []
        for sc in mo.scenarios:
            name = scenario_label(as_dict(sc)) if sc.name in ("imor", "imdom") else sc.name.replace("_", " ")
            parts.append(f"{name} {_est_ci(m, sc)}")
        out.append("missing outcome data: " + parts[0])
        out.extend(f"  {p}" for p in parts[1:])
        kind = "IMDOM" if mo.tipping_imdom is not ABSENT else "IMOR"
        tip = mo.tipping_imdom or mo.tipping_imor
        value = getattr(tip, kind.lower(), None) if tip else None
        if value is not None:
            out.append(f"  at a common {kind} of {value:.3g} {tip.change}")
        elif tip and tip.reason:
            out.append(f"  {kind} tipping point: none ({tip.reason})")
    rob = view.get("risk_of_bias")
    if rob:
        c = rob.summary["overall"].counts
        out.append("risk of bias (overall): " + ", ".join(f"{n} {k.replace('_', ' ')}" for k, n in c.items() if n))
        r = rob.restricted
        out.append("  low risk only: " + (f"k = {r.k}, {_est_ci(m, r)}" if r
                                           else rob.reasons.get("restricted", "—")))
        sg = rob.subgroups
        if sg.q_between is not None:
            out.append(f"  by overall risk: Q = {_fmt(sg.q_between)}, df = {sg.df_between} "
                       f"(p = {_fmt(sg.p_between, 4)})")
    return out


#: the pipeline's warning for a meta-analysis with k = 0 (results.json's ``excluded`` says why)
NO_DATA = "no study has data for this meta-analysis; nothing was fitted"
#: excluded trials listed under a k = 0 meta-analysis; the rest are counted
MAX_EXCLUDED_SHOWN = 8


def _notes(ma: dict) -> list[str]:
    """The warnings; for a meta-analysis left with no study, why each trial was left out (e.g.
    all-zero 2x2 tables dropped under drop00), not only that no study has data."""
    out = []
    excluded = (_meta(ma, "excluded") or []) if not records(ma).pooled.k else []
    for w in _meta(ma, "warnings", []):
        if w == NO_DATA and excluded:
            out.append("  note: no study is left to fit, so nothing was fitted; the trials were left out because:")
            out.extend(f"    {_exclusion(e)}" for e in excluded[:MAX_EXCLUDED_SHOWN])
            if len(excluded) > MAX_EXCLUDED_SHOWN:
                out.append(f"    ({len(excluded) - MAX_EXCLUDED_SHOWN} more in results.json's 'excluded')")
        else:
            out.append(f"  note: {w}")
    return out


def terminal_table(doc: dict) -> str:
    """A readable table: estimates on the natural scale for ratio measures, Bayes beside."""
    lines = [doc["analysis"]["title"], ""]
    head = f"{'meta-analysis':<24} {'k':>3} {'measure':>7} {'estimate':>9} {'CI':>17} {'PI':>17} {'tau2':>7} {'I2%':>6} {'Q (p)':>14}"
    lines.append(head)
    lines.append("-" * len(head))
    for ma in doc["meta_analyses"]:
        m = measure_of(ma)
        nat = lambda x: to_natural(m, x)
        view = records(ma)
        p = view.pooled
        est = _compact(nat(p.estimate))
        ci = f"[{_compact(nat(p.ci_lower))}, {_compact(nat(p.ci_upper))}]" if p.ci_lower is not None else "—"
        pi = f"[{_compact(nat(p.pi_lower))}, {_compact(nat(p.pi_upper))}]" if p.pi_lower is not None else "—"
        q = f"{_fmt(p.q)} ({_fmt(p.q_p, 3)})" if p.q is not None else "—"
        lines.append(f"{str(_meta(ma, 'id'))[:24]:<24} {p.k:>3} {m:>7} {est:>9} {ci:>17} {pi:>17} "
                     f"{_fmt(p.tau2, 3):>7} {_fmt(p.i2, 1):>6} {q:>14}")
        if view.get("meta_regression"):
            lines.extend("    " + line for line in regression_lines(ma))
        if view.get("subgroups"):
            lines.extend("    " + line for line in subgroup_lines(ma))
        lines.extend("    " + line for line in bias_lines(ma))
        lines.extend("    " + line for line in diagnostic_lines(ma))
        b = view.get("bayes")
        if b and b.mu:
            from .bayes import side_by_side

            lines.append("")
            lines.extend("    " + line for line in side_by_side(ma).splitlines())
            lines.append("")
        lines.extend(_notes(ma))
    lines.append("")
    lines.append("Estimates are on the natural scale for ratio measures (OR, RR, HR, ...), proportions and correlations "
                 "(back-transformed); results.json holds the analysis scale.")
    lines.append("Side-by-side tables: the Bayesian column gives posterior medians and equal-tailed credible intervals.")
    return "\n".join(lines)


def excluded_lines(doc: dict) -> list[str]:
    """The trials each meta-analysis left out, with the reasons; those the spec's ``select``
    left out are counted, not listed."""
    out = []
    for ma in doc["meta_analyses"]:
        ex = _meta(ma, "excluded") or []
        unselected = [e for e in ex if _exclusion(e, "reason_code") == "not_selected"]
        shown = [e for e in ex if _exclusion(e, "reason_code") != "not_selected"]
        if not shown and not unselected:
            continue
        id_ = _meta(ma, "id")
        head = f"{id_}: {len(shown)} trial(s) excluded" if shown else f"{id_}: no trial excluded"
        if unselected:
            head += f" ({len(unselected)} more not selected by the spec)"
        out.append(head)
        out.extend(f"  {_exclusion(e)}" for e in shown)
    return out


def written_lines(out: Path, names: list[str]) -> list[str]:
    """The files written into ``out``: each by name, the figures counted by format."""
    lines = [f"wrote {out / n}" for n in names if not n.startswith("figures/")]
    figs = [n for n in names if n.startswith("figures/")]
    if figs:
        exts = sorted({n.rsplit(".", 1)[-1] for n in figs})
        lines.append(f"wrote {len(figs)} figure file(s) ({', '.join(exts)}) in {out / 'figures'}")
    return lines


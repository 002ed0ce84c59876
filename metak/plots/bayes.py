"""Bayesian figures: the posterior of mu and tau, and the prior-sensitivity plot."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import NormalDist

from matplotlib import rc_context
from matplotlib.lines import Line2D

from . import _common as C
from . import _format as fmt
from . import _scales
from ._figure import draw, new_figure
from ._style import FONT_SIZE, MM_PER_INCH, PT_PER_INCH, palette, rc, width_inches
from ._table import Column, Footer, Mark, Panel, Row, Table, TableArtists
from ._text import text_width, wrap

# --------------------------------------------------------------------------- reading the record
# view.get("bayes") is a metak.bayes.record.BayesRecord; its ``prior``, ``prior_sensitivity`` and
# ``posterior_grid`` are objects it leaves undescribed: read here only, into typed values.


@dataclass(frozen=True)
class _PriorFit:
    """One entry of the record's ``prior_sensitivity``: the prior as written, mu's and tau's posterior
    (metak.bayes.record.PosteriorSummary records, None when not written)."""

    prior: object
    mu: object
    tau: object


def _summary(value):
    """A posterior summary object of an undescribed part as the record's PosteriorSummary."""
    from metak.bayes.record import PosteriorSummary  # when read: metak.bayes loads scipy

    keys = ("mean", "sd", "median", "ci_lower", "ci_upper")
    return PosteriorSummary(*(value.get(k) for k in keys)) if isinstance(value, Mapping) else None


def _prior_fits(b) -> tuple[_PriorFit, ...]:
    """The record's ``prior_sensitivity`` (a bare tuple of objects) as :class:`_PriorFit` records."""
    return tuple(_PriorFit(e.get("prior"), _summary(e.get("mu")), _summary(e.get("tau")))
                 for e in b.prior_sensitivity if isinstance(e, Mapping))


def _analysis_tau_prior(b):
    """The heterogeneity prior in force, as written in the record's bare ``prior`` object."""
    return b.prior.get("tau") if isinstance(b.prior, Mapping) else None


def _grid(b, param: str) -> tuple[list[float], list[float]] | None:
    """(x, density) of ``param`` from the record's bare ``posterior_grid`` (None without one)."""
    part = b.posterior_grid.get(param) if isinstance(b.posterior_grid, Mapping) else None
    ok = isinstance(part, Mapping) and part.get("x") and part.get("density")
    return ([float(v) for v in part["x"]], [float(v) for v in part["density"]]) if ok else None


def _model_method(ma: Mapping) -> str:
    """The pooled model's estimator (``model.method``), "" when absent."""
    return C.method(ma) or ""


def _ci(s):
    """(centre, lower, upper) of a posterior summary, or None when it has no centre."""
    return (C.centre(s), s.ci_lower, s.ci_upper) if s is not None and C.has(C.centre(s)) else None


# --------------------------------------------------------------------------- prior sensitivity


_PRIOR_WORDS = {
    "HalfNormal": ("half-normal", (("sigma", "scale"),)),
    "HalfCauchy": ("half-Cauchy", (("beta", "scale"),)),
    "HalfStudentT": ("half-t", (("nu", "df"), ("sigma", "scale"))),
    "Normal": ("normal", (("mu", "mean"), ("sigma", "SD"))),
    "StudentT": ("t", (("nu", "df"), ("mu", "location"), ("sigma", "scale"))),
    "Uniform": ("uniform", (("lower", "from"), ("upper", "to"))),
    "Exponential": ("exponential", (("lam", "rate"),)),
    "LogNormal": ("log-normal", (("mu", "mean"), ("sigma", "SD"))),
    "LogStudentT": ("log-t", (("nu", "df"), ("mu", "location"), ("sigma", "scale"))),
}
_SOURCES = {"turner2015": "Turner 2015", "rhodes2015": "Rhodes 2015"}


def _prior_label(name) -> str:
    """A prior as a figure label, in words and short: ``HalfNormal(sigma=0.5)`` -> "half-normal,
    scale 0.5"; ``LogNormal(mu=-2.12, sigma=1.53) on tau^2 [turner2015/mental_health]`` ->
    "log-normal on τ², mean −2.12, SD 1.53 (Turner 2015, mental health)"; ``half_normal(0.5)``
    -> "half-normal(0.5)" (issue 25, F7: no code notation in a figure)."""
    import re

    if isinstance(name, Mapping):
        dist = str(name.get("dist", "prior")).replace("_", "-")
        args = ", ".join(f"{k} {fmt.general(v)}" for k, v in name.items() if k != "dist")
        return f"{dist}, {args}" if args else dist
    text = str(name).strip()
    m = re.match(r"^(?P<dist>\w+)\((?P<args>[^)]*)\)(?P<tau2> on tau\^2)?(?: \[(?P<src>[^\]]+)\])?$", text)
    if not m or m.group("dist") not in _PRIOR_WORDS:
        return text.replace("_", "-").replace("tau^2", "\u03c4\u00b2")
    word, keys = _PRIOR_WORDS[m.group("dist")]
    args = dict(a.split("=", 1) for a in m.group("args").replace(" ", "").split(",") if "=" in a)
    parts = [f"{label} {fmt.general(float(args[k]))}" for k, label in keys if k in args]
    if m.group("dist") == "Uniform" and len(parts) == 2:
        parts = [f"{fmt.general(float(args['lower']))} to {fmt.general(float(args['upper']))}"]
    head = word + (" on \u03c4\u00b2" if m.group("tau2") else "")
    out = ", ".join([head] + parts)
    src = m.group("src")
    if src:
        key, _, outcome = src.partition("/")
        out += f" ({_SOURCES.get(key, key)}" + (f", {outcome.replace('_', ' ')})" if outcome else ")")
    return out


def build_prior_sensitivity(ma: Mapping, *, xlim: Sequence[float] | None = None,
                            digits: int = 2, frequentist: bool = True,
                            arm_labels: Sequence[str] | None = None) -> Table:
    view = C.view(ma, "prior_sensitivity")
    b = view.get("bayes")
    sens = _prior_fits(b) if b is not None else ()
    C.require(sens, ma, "prior_sensitivity", "bayes.prior_sensitivity (a Bayesian model "
              "refitted under several priors)")
    nat = C.natural(ma)
    long, short = C.measure_names(ma)
    lv = fmt.level_label(C.level(ma))
    names = C.arm_names(ma, arm_labels)
    has_tau = any(_ci(e.tau) for e in sens)
    cols = [Column("label", "Prior on \u03c4"),
            Panel("mu", log=C.is_log(ma), null=C.null_value(ma), header=f"\u03bc ({short})",
                  favours=C.favours(ma, names), xlim=tuple(xlim) if xlim else None),
            Column("mu_ci", f"{short} [{lv} CrI]", "", "right")]
    if has_tau:
        cols += [Panel("tau", log=False, null=0.0, null_line=False, symmetric=False,
                       header="\u03c4", share=0.6, min_width=50.0, drop=3,
                       xlabel="\u03c4 (between-study SD)"),
                 Column("tau_ci", f"\u03c4 [{lv} CrI]", "", "right", 1)]

    def row(kind, label, mu, tau, shape, role, bold=False):
        """A row from mu's and tau's (centre, lower, upper) (None: not shown)."""
        cells = {"label": label}
        marks = {}
        if mu is not None:
            pt, lo, hi = mu
            cells["mu_ci"] = fmt.effect_ci(nat(pt), nat(lo), nat(hi), digits, ratio=C.is_log(ma))
            marks["mu"] = (Mark(shape, nat(pt), nat(lo), nat(hi), role, core=True),)
        if tau is not None:
            pt, lo, hi = tau
            cells["tau_ci"] = fmt.effect_ci(pt, lo, hi, digits)
            marks["tau"] = (Mark("dot" if shape != "point" else "point", pt, lo, hi, role, core=True),)
        return Row(kind, cells, marks, bold=bold)

    rows = []
    if _ci(b.mu):
        prior = _analysis_tau_prior(b)
        label = "Analysis prior" + (f": {_prior_label(prior)}" if prior else "")
        rows.append(row("pooled", label, _ci(b.mu), _ci(b.tau), "diamond", "bayes", True))
        rows.append(Row("blank", height=0.5))
    for e in sens:
        rows.append(row("prior", _prior_label(e.prior), _ci(e.mu), _ci(e.tau), "dot", "bayes"))
    pooled = view.pooled
    if frequentist and C.has(pooled.estimate):
        rows.append(Row("blank", height=0.5))
        tau = (pooled.tau, *(pooled.tau_ci or (None, None))) if C.has(pooled.tau) else None
        method = _model_method(ma)
        rows.append(row("frequentist", f"Frequentist ({method})".replace(" ()", ""),
                        (pooled.estimate, pooled.ci_lower, pooled.ci_upper), tau, "point", "pooled"))
    footer = [Footer(f"Posterior median and {lv} equal-tailed credible interval (CrI) under each prior.")]
    if frequentist and C.has(pooled.estimate):
        footer.append(Footer(f"Frequentist row: estimate and {lv} CI; \u03c4 with its "
                             "Q-profile CI."))
    return Table(tuple(cols), tuple(rows), tuple(footer))


def prior_sensitivity(ma: Mapping, ax=None, *, xlim: Sequence[float] | None = None,
                      digits: int = 2, frequentist: bool = True,
                      arm_labels: Sequence[str] | None = None, fontsize: float = FONT_SIZE,
                      greyscale: bool = False, size="single_column") -> TableArtists:
    """Prior-sensitivity plot: the posterior of mu (natural scale) and of tau under each
    prior in ``bayes.prior_sensitivity``, under the analysis's own posterior (the diamond)
    and above the frequentist estimate (``frequentist=False`` leaves it out)."""
    table = build_prior_sensitivity(ma, xlim=xlim, digits=digits, frequentist=frequentist,
                                    arm_labels=arm_labels)
    return draw(table, ax, fontsize=fontsize, greyscale=greyscale, size=size)


# --------------------------------------------------------------------------- posterior


@dataclass(frozen=True, eq=False)
class PosteriorArtists:
    """What :func:`posterior` drew, by parameter (``mu``, ``tau``): the ``axes``, the
    density ``curves``, the shaded credible ``intervals``, the ``means`` lines; the
    ``caption`` Text and the ``source`` of each density (``grid`` or ``normal``)."""

    figure: object
    ax: object
    axes: Mapping[str, object]
    curves: Mapping[str, object]
    intervals: Mapping[str, object]
    means: Mapping[str, object]
    caption: object
    source: Mapping[str, str]


def _density(b, param: str, level: float = 0.95) -> tuple[list[float], list[float], str] | None:
    """(x, density, source) on the analysis scale (``b``: the BayesRecord): the results' grid when
    present, else a normal approximation from the posterior mean and SD (truncated at 0 for tau)."""
    grid = _grid(b, param)
    if grid is not None:
        return (*grid, "grid")
    s = {"mu": b.mu, "tau": b.tau}.get(param) or _summary({})
    mean, sd = s.mean, s.sd
    if fmt.is_missing(sd) and C.has(s.ci_lower) and C.has(s.ci_upper):
        sd = (s.ci_upper - s.ci_lower) / (2 * NormalDist().inv_cdf(0.5 + level / 2))
    if fmt.is_missing(mean) or fmt.is_missing(sd) or sd <= 0:
        return None
    nd = NormalDist(mean, sd)
    lo, hi = mean - 4.5 * sd, mean + 4.5 * sd
    trunc = 1.0
    if param == "tau":
        lo = max(lo, 0.0)
        trunc = 1.0 - nd.cdf(0.0)
    n = 401
    xs = [lo + (hi - lo) * i / (n - 1) for i in range(n)]
    return xs, [nd.pdf(x) / trunc for x in xs], "normal"


def _interp(x0: float, xs: Sequence[float], ys: Sequence[float]) -> float:
    if x0 <= xs[0]:
        return ys[0]
    if x0 >= xs[-1]:
        return ys[-1]
    lo, hi = 0, len(xs) - 1
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if xs[mid] <= x0:
            lo = mid
        else:
            hi = mid
    t = (x0 - xs[lo]) / (xs[hi] - xs[lo]) if xs[hi] != xs[lo] else 0.0
    return ys[lo] + t * (ys[hi] - ys[lo])


def posterior(ma: Mapping, ax=None, *, params: Sequence[str] = ("mu", "tau"),
              prediction: bool = True, xlim: Sequence[float] | None = None,
              digits: int = 2, fontsize: float = FONT_SIZE, greyscale: bool = False,
              size="single_column") -> PosteriorArtists:
    """Posterior densities of mu (natural scale; log axis for ratio measures, where the
    density is that of log mu) and tau, each with its shaded credible interval and a line
    at the posterior mean.  Drawn from ``bayes.posterior_grid`` when the results hold it,
    else from a normal approximation to the posterior mean and SD (tau's truncated at 0);
    the caption says which.  With two parameters and an ``ax``, ``ax`` is split in two."""
    view = C.view(ma, "posterior")
    b = view.get("bayes")
    C.require(b is not None, ma, "posterior", "a Bayesian model ('bayes:' in the spec)")
    dens = {p: _density(b, p, C.level(ma)) for p in params}
    params = [p for p in params if dens[p] is not None]
    C.require(params, ma, "posterior", "bayes.posterior_grid, or bayes.mu with mean and sd")
    colours = palette(greyscale)
    nat = C.natural(ma)
    log = C.is_log(ma)
    lv = fmt.level_label(C.level(ma))
    small = fontsize * 0.93
    long, short = C.measure_names(ma)
    notes = {"grid": "densities from the posterior grid in the results",
             "normal": "normal approximation from the posterior mean and SD (the results "
                       "hold no posterior grid)"}
    srcs = sorted({dens[p][2] for p in params})
    if len(srcs) == 1:
        how = notes[srcs[0]]
    else:
        how = "; ".join(f"{'μ' if p == 'mu' else 'τ'}: {notes[dens[p][2]]}" for p in params)
    pr = b.predictive
    show_pred = prediction and "mu" in params and C.has(pr.ci_lower) and C.has(pr.ci_upper)
    text = (f"Posterior median (line) and {lv} equal-tailed credible interval (shaded)" +
            (f"; bar: {lv} predictive interval" if show_pred else "") + f"; {how}.")
    cap_size = small * 0.92
    with rc_context(rc(fontsize)):
        if ax is None:
            w = width_inches(size)
            lines = wrap(text, (w - 8 / MM_PER_INCH) * PT_PER_INCH, cap_size)
            h = min(max(w * 0.36, 1.3), 2.0)
            row = fontsize * 1.45 / PT_PER_INCH * MM_PER_INCH   # mm
            bottom = 2.0 + 2.6 * row + len(lines) * row * 0.95
            h += bottom / MM_PER_INCH
            _fig, ax = new_figure(w, h, (4.0, 3.0, bottom, 5.0))
        fig = ax.figure
        if len(params) == 1:
            axes = {params[0]: ax}
        else:
            ax.set_axis_off()
            gap = 0.1
            wid = (1 - gap) / len(params)
            axes = {p: ax.inset_axes([i * (wid + gap), 0, wid, 1]) for i, p in enumerate(params)}
        curves, fills, means, source = {}, {}, {}, {}
        for p in params:
            pax = axes[p]
            xs, ys, src = dens[p]
            source[p] = src
            s = b.mu if p == "mu" else b.tau
            f = nat if p == "mu" else (lambda v: v)
            peak = max(ys) or 1.0
            # the visible range: where the density is above 0.2% of its peak
            keep = [i for i, y in enumerate(ys) if y >= 0.002 * peak]
            xv = [xs[i] for i in range(keep[0], keep[-1] + 1)]
            yv = [ys[i] for i in range(keep[0], keep[-1] + 1)]
            pax.set_axis_on()
            for side in ("left", "right", "top"):
                pax.spines[side].set_visible(False)
            pax.tick_params(axis="y", left=False, labelleft=False)
            pax.tick_params(axis="x", labelsize=small)
            pax_w = pax.get_position().width * fig.get_size_inches()[0] * PT_PER_INCH
            if p == "mu" and log:
                pax.set_xscale("log")
            lo, hi = f(xv[0]), f(xv[-1])
            if p == "mu" and show_pred:
                lo, hi = min(lo, nat(pr.ci_lower)), max(hi, nat(pr.ci_upper))
            if p == "mu" and xlim is not None:
                lo, hi = xlim
            lw = (lambda t: text_width(t, small))
            if p == "mu" and log:
                a, bb, ticks, labels = _scales.log_ticks(lo, hi, pax_w, lw,
                                                         null=1.0 if p == "mu" else lo,
                                                         symmetric=False)
            else:
                a, bb, ticks, labels = _scales.linear_ticks(
                    lo, hi, pax_w, lw, null=(C.null_value(ma) if p == "mu" else 0.0),
                    symmetric=False, max_ticks=6)
            if p == "mu" and xlim is not None:
                a, bb = xlim
            pax.set_xlim(a, bb)
            pax.set_xticks(ticks)
            pax.set_xticklabels(labels)
            pax.minorticks_off()
            top = max(yv) * 1.12
            band = 0.10 * top if (p == "mu" and show_pred) else 0.0
            pax.set_ylim(-band, top)
            pax.spines["bottom"].set_position(("data", -band))
            # the density over the whole axis (its tail runs to the last labelled tick: F9)
            lo_i, hi_i = keep[0], keep[-1]
            while lo_i > 0 and f(xs[lo_i - 1]) >= a:
                lo_i -= 1
            while hi_i < len(xs) - 1 and f(xs[hi_i + 1]) <= bb:
                hi_i += 1
            xn = [f(x) for x in xs[lo_i:hi_i + 1]]
            curves[p] = pax.add_line(Line2D(xn, ys[lo_i:hi_i + 1], color=colours["density"], lw=1.0, zorder=3))
            cl, cu = s.ci_lower, s.ci_upper
            if C.has(cl) and C.has(cu):
                inside = [(x, y) for x, y in zip(xv, yv) if cl < x < cu]
                fx = [cl] + [x for x, _ in inside] + [cu]
                fy = [_interp(cl, xv, yv)] + [y for _, y in inside] + [_interp(cu, xv, yv)]
                fills[p] = pax.fill_between([f(x) for x in fx], 0, fy,
                                            color=colours["density_fill"], lw=0, zorder=2)
            if C.has(C.centre(s)):
                m = C.centre(s)
                means[p] = pax.add_line(Line2D([f(m), f(m)], [0, _interp(m, xv, yv)],
                                               color=colours["density"], lw=0.7, zorder=4))
            pax.axhline(0, color="#000000", lw=0.5, zorder=1)
            if p == "mu":
                nv = C.null_value(ma)
                if a <= nv <= bb:
                    pax.axvline(nv, color=colours["null_soft"], lw=0.6, ls=(0, (1, 1.5)),
                                zorder=1)
                if show_pred:
                    pax.add_line(Line2D([nat(pr.ci_lower), nat(pr.ci_upper)],
                                        [-band / 2, -band / 2], color=colours["bayes_pi"],
                                        lw=2.2, solid_capstyle="butt", zorder=3))
                pax.set_xlabel(f"{long} (\u03bc)" + (", log scale" if log else ""),
                               fontsize=small)
                ci_text = fmt.effect_ci(nat(C.centre(s)), nat(cl), nat(cu), digits, ratio=log)
                title = f"\u03bc ({short}): {ci_text}"
            else:
                pax.set_xlabel(f"\u03c4 (between-study SD of log {short})" if log
                               else "\u03c4 (between-study SD)", fontsize=small)
                title = f"\u03c4: {fmt.effect_ci(C.centre(s), cl, cu, digits)}"
            pax.set_title(title, fontsize=small, loc="left", pad=3)
        fig_w = fig.get_size_inches()[0]
        lines = wrap(text, (fig_w - 8 / MM_PER_INCH) * PT_PER_INCH, cap_size)
        caption = fig.text(ax.get_position().x0, 1.5 / MM_PER_INCH / fig.get_size_inches()[1],
                           "\n".join(lines), ha="left", va="bottom", fontsize=cap_size,
                           linespacing=1.3)
        return PosteriorArtists(figure=fig, ax=ax, axes=axes, curves=curves, intervals=fills,
                                means=means, caption=caption, source=source)


__all__ = ["posterior", "prior_sensitivity", "PosteriorArtists"]

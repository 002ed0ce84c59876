"""``metak simulate SPEC --out DIR``: a simulation study of estimator performance.

Scenarios are the cross product of ``k``, ``tau2``, ``mu`` and the within-study variance
distribution (``vi: {dist: uniform, low, high}`` or ``{dist: chisq, df, scale}``, vi =
scale·χ²_df/df), or binary trials (``binary: {p_control: [...], n: [...]}``, events drawn per
arm, log odds ratios with the 0.5 correction on zero cells). Each replicate draws θ_i ~
N(μ, τ²) and y_i ~ N(θ_i, v_i) (or the binomial counts), and every estimator × test fits it.
The estimator ``BAYES`` is the exact Bayesian engine with the priors of the spec's ``bayes:``
block (one row, test ``posterior``: median of μ, credible and predictive intervals, median of
τ squared).

Reproducibility: replicate block b of scenario s is drawn from
``SeedSequence([seed, s, b])``; blocks are fixed-size slices of the replicates, so neither the
executor nor the number of workers or partitions changes any number. Per block the sums of
each metric are kept; blocks are added in their fixed order.

Metrics (each with its Monte Carlo SE): bias and RMSE of μ̂, CI coverage and mean width, PI
coverage (the probability that a new trial's true effect, N(μ, τ²), falls in the PI, exact
per replicate), and the bias of τ̂².

The spec is read and checked in :mod:`metak.scale.spec` (every problem at once, by the
records' Checker); this module runs it."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
from scipy import special

from .spec import SimSpec  # the spec and its checks: metak/scale/spec.py
from .summaries import Summaries

METRICS = ("bias", "rmse", "coverage", "ci_width", "pi_coverage", "tau2_bias")


def draw(scenario, n_rep, rng):
    """(Y, V) of n_rep meta-analyses of k studies."""
    k, t2, mu = scenario["k"], scenario["tau2"], scenario["mu"]
    theta = mu + math.sqrt(t2) * rng.standard_normal((n_rep, k))
    if scenario["data"] == "binary":
        n, pc = scenario["n"], scenario["p_control"]
        lc = math.log(pc / (1 - pc))
        c = rng.binomial(n, pc, (n_rep, k)).astype(float)
        e = rng.binomial(n, special.expit(lc + theta)).astype(float)
        zero = (e == 0) | (c == 0) | (e == n) | (c == n)
        a, b, cc, d = (x + 0.5 * zero for x in (e, n - e, c, n - c))
        return np.log(a * d / (b * cc)), 1 / a + 1 / b + 1 / cc + 1 / d
    vd = scenario["vi"]
    if vd["dist"] == "uniform":
        V = rng.uniform(vd.get("low", 0.01), vd.get("high", 0.2), (n_rep, k))
    else:
        df = vd.get("df", 1)
        V = vd.get("scale", 0.1) * rng.chisquare(df, (n_rep, k)) / df
        V = np.maximum(V, 1e-6)
    return theta + np.sqrt(V) * rng.standard_normal((n_rep, k)), V


def run_block(args):
    """Sums of every metric over one replicate block of one scenario, per estimator x test."""
    from ..estimators.fit import _fit_arrays

    spec_seed, s_idx, b_idx, scenario, n_rep, ests, tests, level, bayes = args
    rng = np.random.default_rng(np.random.SeedSequence([spec_seed, s_idx, b_idx]))
    Y, V = draw(scenario, n_rep, rng)
    if scenario.get("shared_bias"):
        from ..sensitivity.shared_bias_sim import add_bias, fit_arrays

        Y = add_bias(Y, scenario, rng)
    M = np.ones_like(Y)
    mu, t2 = scenario["mu"], scenario["tau2"]
    out = {}
    import warnings

    for e in ests:
        for t in (("posterior",) if e == "BAYES" else ("z",) if e.endswith("_BIAS") else tests):
            with warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                r = (_bayes_arrays(Y, V, bayes, level) if e == "BAYES" else
                     fit_arrays(Y, V, scenario, e, level) if e.endswith("_BIAS") else
                     _fit_arrays(Y, V, M, e, t, level, intervals=False))
            err = r.estimate - mu
            width = r.ci_upper - r.ci_lower
            # a replicate without an interval (one the Bayesian engine could not fit) is missing
            cover = np.where(np.isfinite(width), (r.ci_lower <= mu) & (mu <= r.ci_upper), np.nan)
            if e == "FE":
                pic = np.full(n_rep, np.nan)
            elif t2 > 0:
                sd = math.sqrt(t2)
                pic = special.ndtr((r.pi_upper - mu) / sd) - special.ndtr((r.pi_lower - mu) / sd)
            else:
                pic = np.where(np.isfinite(r.pi_upper - r.pi_lower), (r.pi_lower <= mu) & (mu <= r.pi_upper), np.nan)
            tb = r.tau2 - t2
            vals = {"bias": err, "rmse": err**2, "coverage": cover, "ci_width": width,
                    "pi_coverage": pic, "tau2_bias": tb}
            out[(e, t)] = {m: (float(np.nansum(v)), float(np.nansum(v * v)), int(np.sum(np.isfinite(v))))
                           for m, v in vals.items()}
    return out


def _bayes_arrays(Y, V, bayes, level):
    """Per replicate, the exact posterior (batch_bayes.posterior_rows): the median of mu as the
    estimate, the equal-tailed credible interval as the CI, the predictive interval of a new
    trial's effect as the PI and the squared posterior median of tau (the median of tau²) as
    tau²: the summaries ``metak analyze`` reports. A replicate the engine cannot fit is NaN,
    missing from the metrics (which count finite values)."""
    from .batch_bayes import posterior_rows

    p = posterior_rows(Y, V, bayes, level)
    return Summaries(p["bayes_mu_median"], p["bayes_mu_ci_lower"], p["bayes_mu_ci_upper"], p["bayes_pi_lower"],
                      p["bayes_pi_upper"], p["bayes_tau_median"] ** 2)


def run_simulation(spec: SimSpec, dask=None):
    """One row per scenario x estimator x test: metrics and Monte Carlo SEs."""
    import pandas as pd

    from .executor import executor

    blocks = []
    for s_idx, sc in enumerate(spec.scenarios):
        for b_idx, lo in enumerate(range(0, spec.replicates, spec.block)):
            n = min(spec.block, spec.replicates - lo)
            blocks.append((spec.seed, s_idx, b_idx, sc, n, spec.estimators, spec.tests, spec.level, spec.bayes))
    with executor(dask) as run:
        results = run(run_block, blocks)
    acc: dict = {}
    for args, res in zip(blocks, results):  # in the blocks' fixed order
        s_idx = args[1]
        for key, sums in res.items():
            cur = acc.setdefault((s_idx, key), {m: [0.0, 0.0, 0] for m in METRICS})
            for m, (s1, s2, n) in sums.items():
                cur[m][0] += s1
                cur[m][1] += s2
                cur[m][2] += n
    rows = []
    for (s_idx, (e, t)), sums in acc.items():
        sc = spec.scenarios[s_idx]
        row = {k: v for k, v in sc.items() if k not in ("vi", "shared_bias")}
        for key in ("vi", "shared_bias"):
            if key in sc:
                row[key] = ",".join(f"{k}={v}" for k, v in sc[key].items())
        row.update(estimator=e, test=t, replicates=spec.replicates)
        for m in METRICS:
            s1, s2, n = sums[m]
            if n == 0:
                row[m] = row[f"{m}_mcse"] = None
                continue
            mean = s1 / n
            var = max(s2 / n - mean**2, 0.0)
            if m == "rmse":
                # RMSE = sqrt(mean squared error); MCSE by the delta method on the MSE's SE
                row[m] = math.sqrt(mean)
                mse_se = math.sqrt(var / n)
                row[f"{m}_mcse"] = mse_se / (2 * math.sqrt(mean)) if mean > 0 else 0.0
            else:
                row[m] = mean
                row[f"{m}_mcse"] = math.sqrt(var / n)
        rows.append(row)
    return pd.DataFrame(rows)


def plot_coverage(table, path: Path, level: float):
    """CI coverage against k, one panel per tau², a line per estimator x test, in metak's
    figure style (F19): the Okabe-Ito palette and a marker per estimator, a line style per test
    (z solid, HKSJ dashed), each series dodged a little along k so coinciding estimators
    (DL and REML often do) stay visible, error bars of ±1.96 Monte Carlo SE said in a caption,
    183 mm wide, 300 dpi, written reproducibly."""
    from matplotlib import rc_context
    from ..plots._figure import new_figure
    from ..plots._style import FONT_SIZE, MM_PER_INCH, OKABE_ITO, rc, width_inches
    from ..plots.render import save

    tau2s = sorted(table["tau2"].unique())
    series = sorted({(e, t) for e, t in zip(table["estimator"], table["test"])})
    colours = [OKABE_ITO[c] for c in ("blue", "vermillion", "bluish_green", "orange", "reddish_purple",
                                      "sky_blue", "black", "yellow")]
    estimators = sorted({e for e, _ in series})
    markers = "osD^vP*X"
    fs = FONT_SIZE
    with rc_context(rc(fs)):
        w = width_inches("double_column")
        h = 62 / MM_PER_INCH
        fig, ax0 = new_figure(w, h, (12.0, 3.0, 16.0, 12.0))
        ax0.set_visible(False)
        pos = ax0.get_position()
        gs = fig.add_gridspec(1, len(tau2s), left=pos.x0, right=pos.x1, bottom=pos.y0, top=pos.y1, wspace=0.08)
        ks = sorted(table["k"].unique())
        handles = {}
        axes = []
        for j, t2 in enumerate(tau2s):
            ax = fig.add_subplot(gs[0, j], sharey=axes[0] if axes else None)
            axes.append(ax)
            sub = table[table["tau2"] == t2]
            for n, (e, t) in enumerate(series):
                g = sub[(sub["estimator"] == e) & (sub["test"] == t)]
                if g.empty:
                    continue
                g = g.groupby("k", as_index=False).agg(coverage=("coverage", "mean"), mcse=("coverage_mcse", "mean"))
                dodge = 1 + 0.025 * (n - (len(series) - 1) / 2)   # on the log-k axis
                i = estimators.index(e)
                label = "Bayes (exact)" if e == "BAYES" else f"{e}, {'HKSJ' if t == 'hksj' else 'z'} test"
                art = ax.errorbar([k * dodge for k in g["k"]], g["coverage"], yerr=1.96 * g["mcse"],
                                  marker=markers[i % len(markers)], ms=3, capsize=1.5, lw=0.8, elinewidth=0.6,
                                  color=colours[i % len(colours)], ls="--" if t == "hksj" else "-", label=label)
                handles.setdefault(label, art)
            ax.axhline(level, color="#7F7F7F", lw=0.6, ls=(0, (1, 1.5)), zorder=0)
            ax.set_title(f"\u03c4\u00b2 = {t2:g}", fontsize=fs, pad=2)
            ax.set_xscale("log")
            ax.set_xticks(ks)
            ax.set_xticklabels([f"{k:g}" for k in ks])
            ax.minorticks_off()
            ax.set_xlim(min(ks) / 1.25, max(ks) * 1.25)
            for side in ("top", "right"):
                ax.spines[side].set_visible(False)
            if j:
                ax.tick_params(labelleft=False)
        axes[0].set_ylabel(f"Coverage of the {level:.0%} CI")
        fig.supxlabel("Number of studies, k", fontsize=fs, y=6.5 / MM_PER_INCH / h)
        fig.legend(list(handles.values()), list(handles), loc="upper center", ncol=min(4, len(handles)),
                   frameon=False, fontsize=fs * 0.93, bbox_to_anchor=(0.5, 1.0), handlelength=2.2)
        fig.text(12.0 / MM_PER_INCH / w, 1.5 / MM_PER_INCH / h,
                 f"Dotted line: nominal {level:.0%}. Error bars: \u00b11.96 Monte Carlo standard errors. "
                 "Series are offset slightly along k so that coinciding estimators stay visible.",
                 fontsize=fs * 0.85, ha="left", va="bottom")
        save(fig, path, dpi=300)

"""The Bayesian block (``bayes: {...}``): the Bayesian random-effects model of the spec's block
(:func:`metak.bayes.fit_bayes`) on the meta-analysis's table; with the multivariate model
(``ctx.covariance``) on its comparisons with the shared-control covariance V. Its results.json
key is written as null when the spec has no block; its methods sentences are
:func:`methods_sentence` (``methods_first``: written right after the model's, before the other
analyses')."""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from ..progress import stage as show_stage


def default(meta: dict) -> bool:
    """Asked for by ``bayes:``."""
    return "bayes" in meta


def parse_block(c, path, value, measure):
    """The ``bayes:`` block -> :class:`metak.bayes.BayesSpec` (:func:`metak.bayes.parse_bayes_spec`,
    each problem at its line); a dropout meta-analysis (``dropout:`` beside it) is binary."""
    from ..spec.blocks import _bayes

    meta = c.get(path[:-1])
    dropout = isinstance(meta, dict) and (meta.get("dropout") is True or isinstance(meta.get("dropout"), dict))
    return _bayes(c, path, measure, dropout)


def check(c, path, values, meta: dict) -> None:
    """With the multivariate model the block is fitted exactly with the block covariance."""
    bayes = values.get("bayes")
    if bayes is not None and meta.get("multi_arm") == "multivariate" and bayes.resolved_engine != "exact":
        c.add(path + ("bayes",), "with multi_arm: multivariate the Bayesian model is fitted by the exact engine with "
                                 "the block covariance: it needs the normal likelihood and engine exact (or auto)")


def run(ctx, params):
    """The :class:`metak.bayes.BayesResult` (frozen, ``to_dict()``)."""
    from ..bayes import fit_bayes

    ms, table, warnings, block = ctx.spec, ctx.table, ctx.warnings, params["bayes"]
    if ctx.covariance is not None:  # multi_arm: multivariate: its finite rows and V
        result = fit_bayes(table.yi, table.vi, block, level=ms.level, direction=table.direction,
                           measure=ms.measure, labels=list(table.labels), analysis_id=ms.id, V=ctx.covariance,
                           groups=table.trials)
        warnings.append("bayes: multivariate: each comparison's true effect ~ Normal(mu, tau²) with the exact "
                        "shared-control covariance V (rma.mv(yi, V, random = ~ 1 | comparison)); the frequentist "
                        "model's separate trial-level component is not in the Bayesian model")
        warnings.extend(f"bayes: {w}" for w in result.warnings)
        return result
    mcmc = getattr(block, "resolved_engine", "exact") == "mcmc"
    show_stage(f"{ms.id}: Bayesian model" + (" (PyMC: compiling the model, then sampling)" if mcmc else ""))
    finite = np.isfinite(table.yi) & np.isfinite(table.vi)
    if not finite.all():  # MH RD keeps double-zero tables, which have no yi of their own
        warnings.append(f"bayes: {int((~finite).sum())} stud(y/ies) without an effect size of their own "
                        "(double-zero tables) left out of the Bayesian model")
        table = table.subset(finite)
    tables = None
    if block.likelihood == "binomial":
        t = table.tables
        if t is None:
            raise MetakError(f"meta-analysis '{ms.id}': the binomial likelihood needs per-arm binary data for every study")
        tables = np.column_stack([t[:, 0], t[:, 0] + t[:, 1], t[:, 2], t[:, 2] + t[:, 3]])
    result = fit_bayes(table.yi, table.vi, block, level=ms.level, direction=table.direction, measure=ms.measure,
                       tables=tables, labels=list(table.labels), out_dir=ctx.out_dir, analysis_id=ms.id)
    warnings.extend(f"bayes: {w}" for w in result.warnings)
    return result


def methods_sentence(b, cite) -> str:
    """Its methods sentences (the registry's ``methods`` hook, ``methods_first``: right after the
    model's): the Bayesian model as run, its likelihood, priors in words with their sources,
    engine, and the prior-sensitivity priors."""
    from ..methods_words import names, prior_text

    if not b or not b.get("mu"):
        return ""
    pr = b.get("prior") or {}
    mu_text, mu_key = prior_text(pr.get("mu", ""), "μ")
    tau_text, tau_key = prior_text(pr.get("tau", ""), "τ")
    keys = [k for k in (mu_key, tau_key) if k]
    lik = ("a binomial likelihood on the arm-level counts" if b.get("likelihood") == "binomial"
           else "a normal likelihood on the study estimates")
    prior_cites = f" {cite(*keys)}" if keys else ""  # numbered before the engine's: order of first use
    engine = (f"computed exactly by numerical integration over τ {cite('rover2020')}" if b.get("engine") == "exact"
              else f"sampled by MCMC (NUTS) in PyMC {cite('pymc2023')}")
    lv = f"{b.get('level', 0.95) * 100:g}%"
    out = [f"A Bayesian random-effects model with {lik} used {mu_text} and {tau_text}"
           + prior_cites + f"; the posterior was {engine}. Posterior medians with {lv} "
           "equal-tailed credible intervals, the predictive interval for a new trial and the posterior probability "
           "of benefit are reported."]
    alts = b.get("prior_sensitivity") or []
    if alts:
        texts, akeys = [], []
        for alt in alts:
            t, k = prior_text(alt.get("prior", ""), "τ")
            texts.append(t)
            akeys += [k] if k else []
        out.append(f"Prior sensitivity: the analysis was repeated under {names(texts)}"
                   + (f" {cite(*akeys)}" if akeys else "") + ".")
    return " ".join(out)

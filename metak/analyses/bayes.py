"""The Bayesian block (``bayes: {...}``): the Bayesian random-effects model of the spec's block
(:func:`metak.bayes.fit_bayes`) on the meta-analysis's table; with the multivariate model
(``ctx.covariance``) on its comparisons with the shared-control covariance V. Its results.json
key is written as null when the spec has no block; its methods sentences are
:func:`metak.methods.bayes_sentences` (written right after the model's, before the other
analyses')."""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from ..progress import stage as show_stage


def default(meta: dict) -> bool:
    """Asked for by ``bayes:``."""
    return "bayes" in meta


def run(ctx, params):
    """The :class:`metak.bayes.BayesResult` (frozen, ``to_dict()``)."""
    from ..bayes import fit_bayes

    ms, table, warnings = ctx.spec, ctx.table, ctx.warnings
    if ctx.covariance is not None:  # multi_arm: multivariate: its finite rows and V
        result = fit_bayes(table.yi, table.vi, ms.bayes, level=ms.level, direction=table.direction,
                           measure=ms.measure, labels=list(table.labels), analysis_id=ms.id, V=ctx.covariance,
                           groups=table.trials)
        warnings.append("bayes: multivariate: each comparison's true effect ~ Normal(mu, tau²) with the exact "
                        "shared-control covariance V (rma.mv(yi, V, random = ~ 1 | comparison)); the frequentist "
                        "model's separate trial-level component is not in the Bayesian model")
        warnings.extend(f"bayes: {w}" for w in result.warnings)
        return result
    mcmc = getattr(ms.bayes, "resolved_engine", "exact") == "mcmc"
    show_stage(f"{ms.id}: Bayesian model" + (" (PyMC: compiling the model, then sampling)" if mcmc else ""))
    finite = np.isfinite(table.yi) & np.isfinite(table.vi)
    if not finite.all():  # MH RD keeps double-zero tables, which have no yi of their own
        warnings.append(f"bayes: {int((~finite).sum())} stud(y/ies) without an effect size of their own "
                        "(double-zero tables) left out of the Bayesian model")
        table = table.subset(finite)
    tables = None
    if ms.bayes.likelihood == "binomial":
        t = table.tables
        if t is None:
            raise MetakError(f"meta-analysis '{ms.id}': the binomial likelihood needs per-arm binary data for every study")
        tables = np.column_stack([t[:, 0], t[:, 0] + t[:, 1], t[:, 2], t[:, 2] + t[:, 3]])
    result = fit_bayes(table.yi, table.vi, ms.bayes, level=ms.level, direction=table.direction, measure=ms.measure,
                       tables=tables, labels=list(table.labels), out_dir=ctx.out_dir, analysis_id=ms.id)
    warnings.extend(f"bayes: {w}" for w in result.warnings)
    return result

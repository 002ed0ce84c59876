"""``metak batch --bayes``: the ``--bayes`` option parsed into a bayes block (exact engine,
normal likelihood) and the exact posterior of each row's meta-analysis as BAYES_COLUMNS
(also the estimator BAYES of ``metak simulate``)."""

from __future__ import annotations

import numpy as np

from ..errors import MetakError


#: with --bayes, after COLUMNS: the exact posterior of each meta-analysis (names as summary.csv's)
BAYES_COLUMNS = ("bayes_mu_mean", "bayes_mu_median", "bayes_mu_ci_lower", "bayes_mu_ci_upper", "bayes_pi_lower",
                 "bayes_pi_upper", "bayes_tau_median", "bayes_prob_mu_gt_0")


def posterior_rows(Y, V, spec, level):
    """The exact posterior (quadrature, metak.bayes.exact) of each row's meta-analysis (rows
    NaN-padded): mean and median of mu, its equal-tailed credible interval, the predictive
    interval of a new study's effect, the median of tau and P(mu > 0), as BAYES_COLUMNS. A row
    the engine cannot fit gets NaN and its reason in ``bayes_error``. (metak batch --bayes and
    the estimator BAYES of metak simulate.)"""
    from ..bayes.exact import exact_posterior

    a = (1 - level) / 2
    out = {c: np.full(Y.shape[0], np.nan) for c in BAYES_COLUMNS}
    errors = [""] * Y.shape[0]
    for i in range(Y.shape[0]):
        m = np.isfinite(Y[i]) & np.isfinite(V[i])
        try:
            with np.errstate(all="ignore"):
                post = exact_posterior(Y[i][m], V[i][m], spec.mu_prior, spec.tau_prior)
                med, lo, hi = post.mu_quantiles([0.5, a, 1 - a])
                plo, phi = post.predictive_quantiles([a, 1 - a])
                mean = post.mu_moment(1)  # None where the prior leaves it undefined
                vals = (np.nan if mean is None else mean, med, lo, hi, plo, phi, float(post.tau_quantiles([0.5])[0]),
                        1.0 - float(post.mu_cdf(0.0)))
        except (ArithmeticError, ValueError, MetakError) as exc:
            errors[i] = f"bayes: {exc}"
            continue
        for c, x in zip(BAYES_COLUMNS, vals):
            out[c][i] = float(x)
    out["bayes_error"] = errors
    return out


def _table_measure(df):
    """The one measure of a table's ``measure`` column, else None (none, or several: then the
    priors must not depend on it)."""
    if "measure" not in df.columns:
        return None
    values = set(df["measure"].dropna().astype(str).str.strip().str.upper()) - {""}
    return values.pop() if len(values) == 1 else None


def parse_bayes_option(text: str | None, measure: str | None):
    """``--bayes`` YAML text (a bayes: block, e.g. ``{prior: {tau: {dist: half_normal, sigma:
    0.5}}}``; empty for the defaults) -> BayesSpec: exact engine, normal likelihood."""
    from ..bayes.spec import parse_bayes_spec
    from ..errors import SpecValueError, SpecValueErrors, format_path
    from ..records.yamlload import loads_value

    block, problems = loads_value(text, "--bayes")  # the rules of every metak YAML reader
    if problems:
        p = problems[0]
        raise MetakError(f"--bayes{' ' + p.path if p.path else ''}: "
                         + (f"not YAML ({p.message})" if p.message.startswith("YAML") else p.message))
    meas = (measure or "MD").upper()
    binary = meas in ("OR", "RR", "RD")
    try:
        spec = parse_bayes_spec(block, measure=meas, outcome_type="binary" if binary else "continuous")
    except (SpecValueErrors, SpecValueError) as exc:
        problems = exc.problems if isinstance(exc, SpecValueErrors) else [exc]
        no_tau = not measure and any(tuple(p.path) == ("prior", "tau") for p in problems)
        raise MetakError("; ".join(f"--bayes {format_path(p.path) or '(block)'}: {p.message}" for p in problems)
                         + (" (the rows have no single measure: give the tau prior, e.g. --bayes "
                            "'{prior: {tau: {dist: half_normal, sigma: 0.5}}}', or --measure)" if no_tau else "")) from None
    if spec.likelihood != "normal" or spec.resolved_engine != "exact":
        raise MetakError("--bayes: metak batch uses the exact engine with the normal likelihood")
    return spec

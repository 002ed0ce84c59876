"""``fit_bayes``: run the engine a spec asks for and return the results' ``bayes`` object.

The exact engine (``exact.py``) fits the normal-normal model by quadrature; the MCMC engine
(``mcmc.py``, the only module that imports PyMC) fits the binomial-normal model, any prior
the exact engine cannot take, and the normal model when ``engine: mcmc`` asks for a
cross-check.  Both return the same JSON-ready dictionary.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property

import numpy as np

from metak.errors import AnalysisError

from . import priors as P
from .common import benefit_prob, sensitivity_exact, summary_exact
from .exact import exact_posterior
from .spec import RATIO_MEASURES, BayesSpec
from .summaries import clean_json

__all__ = ["fit_bayes", "describe_priors"]

DIRECTIONS = ("higher_is_better", "lower_is_better")


def describe_priors(spec: BayesSpec) -> dict:
    """Readable descriptions of the priors in force (echoed in results.json)."""
    out = {"mu": repr(spec.mu_prior), "tau": repr(spec.tau_prior), "defaults": list(spec.defaults)}
    if spec.likelihood == "binomial":
        out["baseline"] = (f"{spec.baseline_prior!r} on each study's baseline log-odds alpha_i "
                           "(the mean of its two arms' log-odds), independently across studies")
    return out


def _check_inputs(yi, vi, labels, tables, spec):
    y = np.asarray(yi, dtype=float).ravel()
    v = np.asarray(vi, dtype=float).ravel()
    if len(y) == 0:
        raise AnalysisError("no studies to fit a Bayesian model to")
    if len(v) != len(y):
        raise AnalysisError(f"yi has {len(y)} values but vi has {len(v)}")
    if spec.likelihood == "normal":
        if not (np.all(np.isfinite(y)) and np.all(np.isfinite(v))):
            raise AnalysisError("yi and vi must be finite for the normal likelihood")
        if np.any(v <= 0):
            raise AnalysisError("every vi must be > 0 for the normal likelihood")
    if labels is None:
        labels = [str(i + 1) for i in range(len(y))]
    labels = [str(lab) for lab in labels]
    if len(labels) != len(y):
        raise AnalysisError(f"{len(labels)} labels for {len(y)} studies")
    if spec.likelihood == "binomial":
        if tables is None:
            raise AnalysisError("the binomial likelihood needs arm-level counts (tables) for every study")
        tables = np.asarray(tables, dtype=float)
        if tables.shape != (len(y), 4) or not np.all(np.isfinite(tables)):
            raise AnalysisError(f"tables must be a finite (k, 4) array, got shape {tables.shape}")
        if np.any(tables != np.round(tables)) or np.any(tables < 0):
            raise AnalysisError("tables must hold non-negative whole counts")
        if np.any(tables[:, 0] > tables[:, 1]) or np.any(tables[:, 2] > tables[:, 3]):
            raise AnalysisError("a table has more events than participants")
        if np.any(tables[:, 1] < 1) or np.any(tables[:, 3] < 1):
            raise AnalysisError("every arm needs at least one participant")
        tables = tables.astype(np.int64)
    return y, v, labels, tables


def _analysis_thresholds(spec, measure):
    out = []
    for t in spec.thresholds:
        if measure in RATIO_MEASURES:
            out.append((t, "natural", math.log(t)))
        else:
            out.append((t, "analysis", t))
    return out


# --------------------------------------------------------------------------- exact

def _fit_exact(y, v, spec, *, level, direction, measure, labels, warnings, V=None, groups=None):
    try:
        post = exact_posterior(y, v, spec.mu_prior, spec.tau_prior, V=V, groups=groups)
    except ValueError as exc:
        raise AnalysisError(str(exc)) from exc
    if not post.converged:
        warnings.append(f"exact engine: quadrature stopped at {post.n_panels} panels before reaching "
                        "its tolerance; results may be inaccurate")
    alpha = 1.0 - level
    mu, tau = summary_exact(post, level, warnings, "")
    pq = post.predictive_quantiles([alpha / 2, 1 - alpha / 2])
    cdf0 = float(post.mu_cdf(np.array([0.0]))[0])
    prob_beyond = []
    for t, scale, a in _analysis_thresholds(spec, measure):
        prob_beyond.append({
            "threshold": t, "scale": scale, "analysis_value": a,
            "prob": benefit_prob(float(post.mu_cdf(np.array([a]))[0]), direction),
            "prob_new_trial": benefit_prob(float(post.predictive_cdf(np.array([a]))[0]), direction),
        })
    mean, sd, q = post.shrunken(y, v, [alpha / 2, 1 - alpha / 2])
    shrunken = [{"label": lab, "mean": float(mean[i]), "sd": float(sd[i]),
                 "ci_lower": float(q[i, 0]), "ci_upper": float(q[i, 1])} for i, lab in enumerate(labels)]

    flat = isinstance(spec.mu_prior, P.Uniform)
    bf = {"mu_zero_bf01": None, "mu_zero_log_bf01": None, "mu_zero_method": "savage_dickey",
          "tau_zero_bf01": None, "tau_zero_log_bf01": None, "tau_zero_method": "marginal_likelihood_ratio"}
    log_bf_tau = post.log_lik_tau0 - post.log_evidence
    bf["tau_zero_log_bf01"] = log_bf_tau
    bf["tau_zero_bf01"] = math.exp(log_bf_tau) if log_bf_tau < 700 else None
    if flat:
        log_ml = None
        warnings.append("the marginal likelihood and the Bayes factor for mu = 0 are undefined under "
                        "the flat (improper) prior on mu")
    else:
        log_ml = post.log_evidence
        log_bf_mu = post.mu_log_density(0.0) - float(spec.mu_prior.logpdf(0.0))
        bf["mu_zero_log_bf01"] = log_bf_mu
        bf["mu_zero_bf01"] = math.exp(log_bf_mu) if log_bf_mu < 700 else None
    for key in ("mu", "tau"):
        if bf[f"{key}_zero_log_bf01"] is not None and bf[f"{key}_zero_bf01"] is None:
            warnings.append(f"Bayes factor for {key} = 0 overflows; see {key}_zero_log_bf01")

    sensitivity = []
    for alt in spec.prior_sensitivity:
        sensitivity.append(sensitivity_exact(y, v, spec.mu_prior, alt, level, direction, warnings, V, groups))

    return {
        "engine": "exact",
        "mu": mu, "tau": tau,
        "predictive": {"ci_lower": float(pq[0]), "ci_upper": float(pq[1])},
        "prob_benefit": benefit_prob(cdf0, direction),
        "prob_beyond": prob_beyond,
        "shrunken": shrunken,
        "log_marginal_likelihood": log_ml,
        "bayes_factors": bf,
        "prior_sensitivity": sensitivity,
        "diagnostics": {"rhat_max": None, "ess_bulk_min": None, "ess_tail_min": None, "divergences": None,
                        "quadrature_panels": post.n_panels, "quadrature_converged": post.converged},
        "posterior_grid": post.density_grid(y, v),
    }


# --------------------------------------------------------------------------- the record

_BAYES_KEYS = ("engine", "likelihood", "level", "prior", "mu", "tau", "predictive", "prob_benefit", "prob_beyond",
               "shrunken", "log_marginal_likelihood", "bayes_factors", "prior_sensitivity", "diagnostics")


@dataclass(frozen=True)
class BayesResult(Mapping):
    """The Bayesian fit of one meta-analysis: a frozen record whose ``to_dict()`` is the
    results' ``bayes`` object (docs/bayes.md). It reads as a mapping too (``res["mu"]``),
    with the same keys in the same order, so the document and the record cannot differ."""

    engine: str
    likelihood: str
    level: float
    prior: Mapping
    mu: Mapping
    tau: Mapping
    predictive: Mapping
    prob_benefit: float | None
    prob_beyond: tuple
    shrunken: tuple
    log_marginal_likelihood: float | None
    bayes_factors: Mapping
    prior_sensitivity: tuple
    diagnostics: Mapping
    posterior_file: str | None = None
    posterior_grid: Mapping | None = None
    warnings: tuple = ()

    def to_dict(self) -> dict:
        out = {key: getattr(self, key) for key in _BAYES_KEYS}
        for key in ("posterior_file", "posterior_grid"):
            if getattr(self, key) is not None:
                out[key] = getattr(self, key)
        out["warnings"] = list(self.warnings)
        return _plain(out)

    @cached_property
    def _view(self) -> dict:
        """The mapping view, built once (to_dict() gives a fresh copy each call)."""
        return self.to_dict()

    def __getitem__(self, key):
        return self._view[key]

    def __iter__(self):
        return iter(self._view)

    def __len__(self):
        return len(self._view)


def _plain(x):
    """Lists for tuples (as JSON has them), recursively."""
    if isinstance(x, dict):
        return {k: _plain(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_plain(v) for v in x]
    return x


# --------------------------------------------------------------------------- entry point

def fit_bayes(yi, vi, spec: BayesSpec, *, level: float = 0.95, direction: str = "higher_is_better",
              measure: str | None = None, tables=None, labels=None, out_dir=None,
              analysis_id: str = "x", V=None, groups=None) -> BayesResult:
    """Fit the Bayesian random-effects model of ``spec``.

    Parameters
    ----------
    yi, vi : array_like
        Effects (experimental minus control, analysis scale: log for OR, RR, HR) and their
        sampling variances.  Used by the normal likelihood; echoed otherwise.
    spec : BayesSpec
        From :func:`metak.bayes.parse_bayes_spec`.
    level : float
        Level of the equal-tailed credible and predictive intervals.
    direction : ``"higher_is_better"`` or ``"lower_is_better"``
        ``prob_benefit`` is P(mu > 0) or P(mu < 0) accordingly; thresholds likewise.
    measure : str
        The measure code; thresholds are on the natural scale for ratio measures.
        Defaults to the measure the spec was parsed with.
    tables : (k, 4) array, optional
        events_exp, total_exp, events_ctl, total_ctl per study (binomial likelihood).
    labels : list of str, optional
        Study labels for the shrunken estimates (default "1", "2", ...).
    out_dir : path, optional
        Where the MCMC engine writes ``<analysis_id>.posterior.nc``.
    analysis_id : str
        Names the posterior file.
    V, groups : optional
        A known sampling covariance, block-diagonal by ``groups`` (multi-arm trials' shared
        controls): y ~ Normal(mu 1, V + tau² I). Exact engine and normal likelihood only.

    Returns
    -------
    BayesResult
        A frozen record; ``to_dict()`` is the results' ``bayes`` object: plain Python types,
        no NaN or infinity (undefined numbers are ``None`` with a message in ``warnings``).
    """
    if direction not in DIRECTIONS:
        raise AnalysisError(f"direction must be one of {', '.join(DIRECTIONS)}, got {direction!r}")
    if not 0 < level < 1:
        raise AnalysisError(f"level must be between 0 and 1, got {level!r}")
    measure = measure or spec.measure
    y, v, labels, tables = _check_inputs(yi, vi, labels, tables, spec)
    warnings: list[str] = list(spec.warnings)
    engine = spec.resolved_engine
    if V is not None and engine != "exact":
        raise AnalysisError("a block covariance V needs the exact engine and the normal likelihood")
    if engine == "exact":
        body = _fit_exact(y, v, spec, level=level, direction=direction, measure=measure,
                          labels=labels, warnings=warnings, V=V, groups=groups)
    else:
        from . import mcmc     # PyMC is imported only there, and only when MCMC is asked for

        body = mcmc.fit_mcmc(y, v, spec, level=level, direction=direction,
                             thresholds=_analysis_thresholds(spec, measure), tables=tables,
                             labels=labels, out_dir=out_dir, analysis_id=analysis_id,
                             warnings=warnings)
    result = {
        "engine": body["engine"],
        "likelihood": spec.likelihood,
        "level": float(level),
        "prior": describe_priors(spec),
        "mu": body["mu"], "tau": body["tau"], "predictive": body["predictive"],
        "prob_benefit": body["prob_benefit"],
        "prob_beyond": body["prob_beyond"],
        "shrunken": body["shrunken"],
        "log_marginal_likelihood": body["log_marginal_likelihood"],
        "bayes_factors": body["bayes_factors"],
        "prior_sensitivity": body["prior_sensitivity"],
        "diagnostics": body["diagnostics"],
    }
    for extra in ("posterior_file", "posterior_grid"):
        if extra in body:
            result[extra] = body[extra]
    cleaned = clean_json(result, warnings)
    return BayesResult(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in cleaned.items()},
                       warnings=tuple(dict.fromkeys(warnings)))

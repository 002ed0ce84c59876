"""The records of ``bayesian_model_averaging`` (:mod:`metak.sensitivity.model_averaging`): one
row per model of the ensemble and the averaged result, with the protocol's run and methods hooks."""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace

import numpy as np

from ..format import clean
from ..schema.record import keys


@dataclass(frozen=True)
class BmaModel:
    """One model of the ensemble: its components, prior and posterior probability, log marginal
    likelihood (with its Monte Carlo SE; 0 when by quadrature) and the posterior of mu in it."""

    effect: bool
    heterogeneity: bool
    bias: str
    prior_prob: float
    log_marglik: float | None
    log_marglik_se: float | None
    posterior_prob: float | None
    mu_mean: float | None
    mu_sd: float | None


@dataclass(frozen=True)
class ModelAveraging:
    """results.json ``sensitivity.bayesian_model_averaging``. ``estimate``/``sd`` are the mean and
    SD of the model-averaged posterior of mu; ``median``, ``ci_lb``, ``ci_ub`` its median and
    equal-tailed 95% credible interval (the mixture of all models' posteriors, the null models'
    point mass at 0 included, as RoBMA reports its model-averaged estimate)."""

    k: int
    models: tuple[BmaModel, ...]
    inclusion: dict[str, dict[str, float | None]] = keys("effect", "heterogeneity", "bias")
    estimate: float | None
    sd: float | None
    estimate_conditional: float | None
    log_marglik_mc_error_max: float | None
    priors: dict[str, str]
    median: float | None = None
    ci_lb: float | None = None
    ci_ub: float | None = None

    @classmethod
    def from_models(cls, models, k, priors):
        """The record of the ensemble ``models`` on ``k`` studies; ``priors`` describes the priors in
        words (:data:`metak.sensitivity.model_averaging.PRIORS`)."""
        logml = np.array([m.log_marglik for m in models], float)
        prior = np.array([m.prior_prob for m in models], float)
        lp = np.log(prior) + logml
        post = np.exp(lp - np.max(lp))
        post /= post.sum()
        models = tuple(replace(m, posterior_prob=clean(p), log_marglik=clean(m.log_marglik),
                               log_marglik_se=clean(m.log_marglik_se)) for m, p in zip(models, post))
        inclusion = {}
        for name, member in (("effect", lambda m: m.effect), ("heterogeneity", lambda m: m.heterogeneity),
                             ("bias", lambda m: m.bias != "none")):
            sel = np.array([member(m) for m in models])
            pi, pp = prior[sel].sum(), post[sel].sum()
            with np.errstate(divide="ignore"):
                bf = (pp / (1 - pp)) / (pi / (1 - pi)) if pp < 1 else float("inf")
            inclusion[name] = {"prior_prob": clean(pi), "posterior_prob": clean(pp), "bf_inclusion": clean(bf),
                               "log_bf_inclusion": clean(np.log(bf)) if bf > 0 else None}
        mean = np.array([m.mu_mean for m in models])
        sd = np.array([m.mu_sd for m in models])
        m1 = float(np.sum(post * mean))
        m2 = float(np.sum(post * (sd ** 2 + mean ** 2)))
        eff = np.array([m.effect for m in models])
        cond = float(np.sum(post[eff] * mean[eff]) / post[eff].sum()) if post[eff].sum() > 0 else None
        return cls(k=k, models=models, inclusion=inclusion, estimate=clean(m1), sd=clean(np.sqrt(max(m2 - m1 ** 2, 0))),
                   estimate_conditional=clean(cond),
                   log_marglik_mc_error_max=clean(max((m.log_marglik_se or 0.0) for m in models)), priors=dict(priors))

    def to_dict(self) -> dict:
        d = asdict(self)
        d["models"] = [asdict(m) for m in self.models]
        return d


def methods_sentence(result: dict, cite) -> str:
    if not result or result.get("estimate") is None:
        return ""
    return ("Robust Bayesian model averaging (Bartoš et al. 2023) combined 36 models: effect absent or present "
            "(Normal(0, 1)), heterogeneity absent or present (tau ~ InvGamma(1, 0.15)), and no publication bias, "
            "one of six step weight functions (cumulative Dirichlet priors), PET (Cauchy(0, 1) on (0, inf)) or "
            "PEESE (Cauchy(0, 5) on (0, inf)), with RoBMA-PSMA's prior model probabilities; marginal likelihoods "
            "were computed by quadrature (models without weight functions) and by importance sampling (weight-"
            "function models), and inclusion Bayes factors and the model-averaged effect (posterior mean, median and "
            "95% credible interval of the mixture of all models' posteriors, the null models' point mass at zero "
            "included) reported.")

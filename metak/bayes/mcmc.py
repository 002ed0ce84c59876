"""MCMC engine (PyMC NUTS).  The only module in metak that imports PyMC or ArviZ.

Models
------
Normal likelihood (marginal form, no study-level latent variables, so no funnel)::

    y_i ~ Normal(mu, sqrt(v_i + tau^2))

with the study effects recovered afterwards from ``theta_i | mu, tau, y_i`` (normal, in
closed form).

Binomial likelihood (Smith, Spiegelhalter & Thomas 1995; no continuity correction)::

    events_exp_i ~ Binomial(total_exp_i, expit(alpha_i + theta_i / 2))
    events_ctl_i ~ Binomial(total_ctl_i, expit(alpha_i - theta_i / 2))
    theta_i = mu + tau * z_i,   z_i ~ Normal(0, 1)        (non-centred)
    alpha_i ~ baseline prior (Normal(0, 10) by default), fixed study baselines

so ``theta_i`` is study i's log odds ratio and ``alpha_i`` the mean of its two arms'
log-odds.  Priors on tau^2 (log-normal, log-t) are sampled on ``log(tau^2)``.

References
----------
Smith TC, Spiegelhalter DJ, Thomas A (1995). Bayesian approaches to random-effects
meta-analysis: a comparative study. Stat Med 14:2685-2699.
Vehtari A, Gelman A, Simpson D, Carpenter B, Bürkner P-C (2021). Rank-normalization, folding,
and localization: an improved R-hat for assessing convergence of MCMC. Bayesian Anal 16:667-718.
Vehtari A, Simpson D, Gelman A, Yao Y, Gabry J (2024). Pareto smoothed importance sampling.
JMLR 25(72):1-58.
"""

from __future__ import annotations

from ..progress import bars_enabled

import json
import logging
import os
import warnings as _warnings
from contextlib import contextmanager
from pathlib import Path

import numpy as np

from . import priors as P
from .common import sensitivity_exact
from .summaries import draws_summary

__all__ = ["build_model", "sample", "fit_mcmc", "default_target_accept", "default_cores"]

RHAT_MAX = 1.01          # Vehtari et al. 2021
ESS_MIN_PER_CHAIN = 100  # ... i.e. 400 for 4 chains
PARETO_K_MAX = 0.7       # PSIS reliability threshold (Vehtari et al. 2024)


def default_target_accept(k: int) -> float:
    """0.95 for small meta-analyses (k < 20), whose posteriors of tau are the most awkward."""
    return 0.95 if k < 20 else 0.9


def default_cores(k: int, chains: int) -> int:
    """Worker processes: one per chain, up to the CPUs.  Measured on 2 cores (benchmarks/
    bench_bayes.py --cores 1|2): two processes beat one even at k = 5 (5.7 s vs 7.3 s warm)."""
    return max(1, min(chains, os.cpu_count() or 1))


def _mu_rv(pm, prior):
    if isinstance(prior, P.Normal):
        return pm.Normal("mu", mu=prior.mu, sigma=prior.sigma)
    if isinstance(prior, P.StudentT):
        return pm.StudentT("mu", nu=prior.nu, mu=prior.mu, sigma=prior.sigma)
    if isinstance(prior, P.Uniform):
        if prior.is_flat:
            return pm.Flat("mu")
        return pm.Uniform("mu", lower=prior.lower, upper=prior.upper)
    raise TypeError(f"no PyMC translation for mu prior {prior!r}")


def _tau_rv(pm, prior):
    if isinstance(prior, P.HalfNormal):
        return pm.HalfNormal("tau", sigma=prior.sigma)
    if isinstance(prior, P.HalfCauchy):
        return pm.HalfCauchy("tau", beta=prior.beta)
    if isinstance(prior, P.HalfStudentT):
        return pm.HalfStudentT("tau", nu=prior.nu, sigma=prior.sigma)
    if isinstance(prior, P.Uniform):
        return pm.Uniform("tau", lower=prior.lower, upper=prior.upper)
    if isinstance(prior, P.Exponential):
        return pm.Exponential("tau", lam=prior.lam)
    if isinstance(prior, P.LogNormal):
        log_tau2 = pm.Normal("log_tau2", mu=prior.mu, sigma=prior.sigma)
        return pm.Deterministic("tau", pm.math.exp(0.5 * log_tau2))
    if isinstance(prior, P.LogStudentT):
        log_tau2 = pm.StudentT("log_tau2", nu=prior.nu, mu=prior.mu, sigma=prior.sigma)
        return pm.Deterministic("tau", pm.math.exp(0.5 * log_tau2))
    raise TypeError(f"no PyMC translation for tau prior {prior!r}")


def build_model(spec, *, y=None, v=None, tables=None, labels=None):
    """The PyMC model for ``spec`` (normal likelihood on y, v or binomial on ``tables``)."""
    import pymc as pm

    k = len(y) if spec.likelihood == "normal" else len(tables)
    labels = list(labels) if labels is not None else [str(i + 1) for i in range(k)]
    with pm.Model(coords={"study": labels}) as model:
        mu = _mu_rv(pm, spec.mu_prior)
        tau = _tau_rv(pm, spec.tau_prior)
        if spec.likelihood == "normal":
            pm.Normal("y", mu=mu, sigma=pm.math.sqrt(np.asarray(v, float) + tau**2),
                      observed=np.asarray(y, float), dims="study")
        else:
            tables = np.asarray(tables, dtype=np.int64)
            base = spec.baseline_prior
            alpha = pm.Normal("alpha", mu=base.mu, sigma=base.sigma, dims="study")
            z = pm.Normal("z", 0.0, 1.0, dims="study")
            theta = pm.Deterministic("theta", mu + tau * z, dims="study")
            pm.Binomial("events_exp", n=tables[:, 1], logit_p=alpha + 0.5 * theta,
                        observed=tables[:, 0], dims="study")
            pm.Binomial("events_ctl", n=tables[:, 3], logit_p=alpha - 0.5 * theta,
                        observed=tables[:, 2], dims="study")
    return model


@contextmanager
def _quiet():
    """PyMC logs its progress at INFO; keep the terminal for metak's own output."""
    logger = logging.getLogger("pymc")
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        with _warnings.catch_warnings():
            _warnings.simplefilter("ignore", FutureWarning)
            _warnings.simplefilter("ignore", UserWarning)
            yield
    finally:
        logger.setLevel(level)


def sample(spec, *, y=None, v=None, tables=None, labels=None, cores=None):
    """Run NUTS and return the InferenceData (posterior and sample_stats)."""
    import pymc as pm

    k = len(y) if spec.likelihood == "normal" else len(tables)
    model = build_model(spec, y=y, v=v, tables=tables, labels=labels)
    target = spec.target_accept if spec.target_accept is not None else default_target_accept(k)
    cores = cores if cores is not None else default_cores(k, spec.chains)
    with model, _quiet():
        try:
            idata = pm.sample(draws=spec.draws, tune=spec.tune, chains=spec.chains, cores=cores,
                              random_seed=spec.seed, target_accept=target, progressbar=bars_enabled(),
                              compute_convergence_checks=False)
        except ValueError as exc:
            # PyMC swallows a Ctrl-C during tuning and then fails to build the (empty) trace
            if "Not enough samples" in str(exc):
                raise KeyboardInterrupt("sampling was interrupted during tuning") from None
            raise
    check_complete(idata, spec)
    return idata, target


def check_complete(idata, spec) -> None:
    """PyMC returns what it has when sampling is interrupted (Ctrl-C after tuning): a shorter
    posterior than asked for must never be summarised and saved as if it were complete."""
    sizes = idata.posterior.sizes
    chains, draws = int(sizes.get("chain", 0)), int(sizes.get("draw", 0))
    if (chains, draws) != (spec.chains, spec.draws):
        raise KeyboardInterrupt(f"sampling was interrupted: {chains} chain(s) x {draws} draws of "
                                f"{spec.chains} x {spec.draws}")


def _diagnostics(idata, spec, target, warnings):
    import arviz as az

    names = [n for n in ("mu", "tau", "log_tau2", "alpha", "z") if n in idata.posterior]
    if spec.likelihood == "binomial":
        names.append("theta")
    rhat = az.rhat(idata, var_names=names)
    ess_bulk = az.ess(idata, var_names=names, method="bulk")
    ess_tail = az.ess(idata, var_names=names, method="tail")

    def extreme(ds, fn):
        vals = [float(fn(ds[n].values)) for n in ds.data_vars]
        return fn(np.array(vals)) if vals else None

    rhat_max = float(extreme(rhat, np.nanmax))
    ess_bulk_min = float(extreme(ess_bulk, np.nanmin))
    ess_tail_min = float(extreme(ess_tail, np.nanmin))
    divergences = int(idata.sample_stats["diverging"].values.sum())
    mcse = {}
    for name in ("mu", "tau"):
        mcse[f"{name}_mean"], mcse[f"{name}_sd"] = _mcse_mean_sd(az, idata.posterior[name].values)
    need = ESS_MIN_PER_CHAIN * spec.chains
    if rhat_max > RHAT_MAX:
        warnings.append(f"MCMC: R-hat up to {rhat_max:.3f} (> {RHAT_MAX}): chains disagree; "
                        "increase draws/tune or check the model")
    if ess_bulk_min < need:
        warnings.append(f"MCMC: bulk ESS down to {ess_bulk_min:.0f} (< {need}); increase draws")
    if ess_tail_min < need:
        warnings.append(f"MCMC: tail ESS down to {ess_tail_min:.0f} (< {need}); interval ends are "
                        "imprecise; increase draws")
    if divergences:
        warnings.append(f"MCMC: {divergences} divergent transitions; the posterior may be biased "
                        "(raise target_accept)")
    return {"rhat_max": rhat_max, "ess_bulk_min": ess_bulk_min, "ess_tail_min": ess_tail_min,
            "divergences": divergences, "mcse": mcse, "sampler": "pymc NUTS",
            "chains": spec.chains, "draws": spec.draws, "tune": spec.tune, "seed": spec.seed,
            "target_accept": float(target)}


def _mcse_mean_sd(az, draws):
    """Monte Carlo SEs of the posterior mean and SD of a (chain, draw) array.

    mean: sd / sqrt(ESS); SD: the delta method on the variance, whose MCSE uses the ESS of
    the squared deviations (as ArviZ does; computed here on arrays to stay independent of
    ArviZ's xarray wrapper).
    """
    draws = np.asarray(draws, float)
    sd = float(np.std(draws, ddof=1))
    ess_mean = float(az.ess(draws, method="mean"))
    dev2 = (draws - draws.mean()) ** 2
    ess_var = float(az.ess(dev2, method="mean"))
    mcse_var = float(np.std(dev2, ddof=1)) / np.sqrt(ess_var)
    return sd / np.sqrt(ess_mean), mcse_var / (2.0 * sd) if sd > 0 else 0.0


#: ArviZ attributes that record when and how long a run took (differ on every run)
_RUN_ATTRS = ("created_at", "sampling_time", "tuning_steps_time")
#: PyMC's per-draw timing statistics (wall and CPU clocks)
_TIMING_STATS = ("perf_counter_diff", "perf_counter_start", "process_time_diff")


def _stamp_and_save(idata, spec, out_dir, analysis_id):
    try:
        from metak import __version__ as version
    except ImportError:     # metak/__init__.py not in place (development)
        version = "unknown"
    attrs = {"metak_version": str(version), "metak_analysis_id": str(analysis_id),
             "metak_bayes_spec": json.dumps(spec.to_dict(), sort_keys=True)}
    for group in idata.groups():
        ds = getattr(idata, group)
        # nothing that changes from run to run: the same seed gives the same file
        for key in _RUN_ATTRS:
            ds.attrs.pop(key, None)
        ds.attrs.update(attrs)
    if "sample_stats" in idata.groups():
        timing = [v for v in idata.sample_stats.data_vars if v in _TIMING_STATS]
        if timing:
            idata.sample_stats = idata.sample_stats.drop_vars(timing)
    for group in idata.groups():  # PyMC collects sample_stats in a set: a fixed (sorted) order
        ds = getattr(idata, group)
        setattr(idata, group, ds[sorted(ds.data_vars)])
    if out_dir is None:
        return None
    path = Path(out_dir) / f"{analysis_id}.posterior.nc"
    path.parent.mkdir(parents=True, exist_ok=True)
    idata.to_netcdf(str(path), engine="h5netcdf")
    return path.name


def _psis_sensitivity(tau_draws, mu_draws, base, alt, level, direction, warnings):
    import arviz as az

    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = np.asarray(alt.logpdf_tau(tau_draws), float) - np.asarray(base.logpdf_tau(tau_draws), float)
    log_ratio = np.where(np.isnan(log_ratio), -np.inf, log_ratio)
    lw, khat = az.psislw(log_ratio.copy())
    khat = float(np.asarray(khat))
    w = np.exp(lw - np.max(lw))
    w /= w.sum()
    if khat > PARETO_K_MAX:
        warnings.append(f"prior sensitivity ({alt!r}): Pareto k = {khat:.2f} > {PARETO_K_MAX}; the "
                        "reweighted posterior is unreliable: refit with this prior instead")
    mu = draws_summary(mu_draws, level, w)
    tau = draws_summary(tau_draws, level, w)
    above = float(w @ (mu_draws > 0))
    prob = above if direction == "higher_is_better" else 1.0 - above
    return {"prior": repr(alt), "method": "psis_reweighting", "pareto_k": khat, "mu": mu, "tau": tau,
            "prob_benefit": prob}


def fit_mcmc(y, v, spec, *, level, direction, thresholds, tables, labels, out_dir, analysis_id,
             warnings, cores=None) -> dict:
    """Sample the model and summarise it in the same form as the exact engine."""
    idata, target = sample(spec, y=y, v=v, tables=tables, labels=labels, cores=cores)
    post = idata.posterior
    mu = post["mu"].values.ravel()
    tau = post["tau"].values.ravel()
    n = len(mu)
    rng = np.random.default_rng([spec.seed, 20260101])
    alpha = 1.0 - level

    if spec.likelihood == "normal":
        # theta_i | mu, tau, y_i ~ Normal(B y_i + (1 - B) mu, B v_i), B = tau^2 / (v_i + tau^2)
        b = tau[:, None] ** 2 / (v[None, :] + tau[:, None] ** 2)
        cmean = b * y[None, :] + (1.0 - b) * mu[:, None]
        cvar = b * v[None, :]
        theta = cmean + np.sqrt(cvar) * rng.standard_normal(cmean.shape)
        rb_mean = cmean.mean(axis=0)                     # Rao-Blackwellised
        rb_sd = np.sqrt(cvar.mean(axis=0) + cmean.var(axis=0, ddof=1))
        import xarray as xr

        idata.posterior["theta"] = xr.DataArray(
            theta.reshape(post.sizes["chain"], post.sizes["draw"], -1),
            dims=("chain", "draw", "study"),
            coords={"chain": post["chain"], "draw": post["draw"], "study": list(labels)})
    else:
        theta = post["theta"].values.reshape(n, -1)
        rb_mean, rb_sd = theta.mean(axis=0), theta.std(axis=0, ddof=1)

    diagnostics = _diagnostics(idata, spec, target, warnings)
    theta_new = mu + tau * rng.standard_normal(n)
    p_lo, p_hi = np.quantile(theta_new, [alpha / 2, 1 - alpha / 2])

    def beyond(draws, a):
        return float(np.mean(draws > a) if direction == "higher_is_better" else np.mean(draws < a))

    prob_beyond = [{"threshold": t, "scale": scale, "analysis_value": a, "prob": beyond(mu, a),
                    "prob_new_trial": beyond(theta_new, a)} for t, scale, a in thresholds]
    shrunken = []
    for i, lab in enumerate(labels):
        lo, hi = np.quantile(theta[:, i], [alpha / 2, 1 - alpha / 2])
        shrunken.append({"label": lab, "mean": float(rb_mean[i]), "sd": float(rb_sd[i]),
                         "ci_lower": float(lo), "ci_upper": float(hi)})

    sensitivity = []
    for alt in spec.prior_sensitivity:
        if spec.likelihood == "normal" and _exact_ok(spec.mu_prior):
            sensitivity.append(sensitivity_exact(y, v, spec.mu_prior, alt, level, direction, warnings))
        else:
            sensitivity.append(_psis_sensitivity(tau, mu, spec.tau_prior, alt, level, direction, warnings))

    warnings.append("MCMC engine: the marginal likelihood and Bayes factors are not computed")
    body = {
        "engine": "mcmc",
        "mu": draws_summary(mu, level), "tau": draws_summary(tau, level),
        "predictive": {"ci_lower": float(p_lo), "ci_upper": float(p_hi)},
        "prob_benefit": beyond(mu, 0.0),
        "prob_beyond": prob_beyond,
        "shrunken": shrunken,
        "log_marginal_likelihood": None,
        "bayes_factors": {"mu_zero_bf01": None, "mu_zero_log_bf01": None, "mu_zero_method": None,
                          "tau_zero_bf01": None, "tau_zero_log_bf01": None, "tau_zero_method": None},
        "prior_sensitivity": sensitivity,
        "diagnostics": diagnostics,
    }
    name = _stamp_and_save(idata, spec, out_dir, analysis_id)
    if name is not None:
        body["posterior_file"] = name
    return body


def _exact_ok(mu_prior) -> bool:
    from .spec import exact_supports_mu

    return exact_supports_mu(mu_prior)


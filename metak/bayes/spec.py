"""Parse and check the ``bayes:`` block of a meta-analysis spec.

Every setting is checked when the spec is built, from the declarative tables in
``priors.py`` and below, so a typo fails at once with the key path of the bad value
(relative to the ``bayes:`` block) and, for unknown names, a "did you mean" hint.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field

from metak.errors import SpecValueError, SpecValueErrors
from metak.vocab import LOG_MEASURES

from . import priors as P

__all__ = ["BayesSpec", "parse_bayes_spec", "parse_prior", "DEFAULT_SEED"]

DEFAULT_SEED = 20261126
RATIO_MEASURES = frozenset(LOG_MEASURES)
LIKELIHOODS = ("normal", "binomial")
ENGINES = ("auto", "exact", "mcmc")
TOP_KEYS = ("likelihood", "prior", "engine", "seed", "draws", "chains", "tune",
            "target_accept", "thresholds", "prior_sensitivity")
PRIOR_KEYS = ("mu", "tau", "tau2", "baseline")
# Default priors.  mu: vague normal on unit-free scales, flat otherwise; tau: half-normal(0.5)
# on log-ratio and SMD scales (Röver et al. 2021); other measures must state a tau prior.
_UNIT_FREE = RATIO_MEASURES | {"SMD", "SMDH", "ZCOR"}
DEFAULT_BASELINE = P.Normal(mu=0.0, sigma=10.0)


@dataclass(frozen=True)
class BayesSpec:
    """A checked ``bayes:`` block.

    Attributes
    ----------
    likelihood : ``"normal"`` (on yi, vi) or ``"binomial"`` (arm-level counts, OR only).
    mu_prior, tau_prior : prior objects from :mod:`metak.bayes.priors`.
    baseline_prior : prior on each study's baseline log-odds (binomial likelihood only).
    engine : ``"auto"``, ``"exact"`` or ``"mcmc"`` as written; :attr:`resolved_engine` is the one used.
    seed, draws, chains, tune : MCMC settings (draws and tune per chain).
    target_accept : NUTS target acceptance; ``None`` = 0.95 for k < 20, else 0.9.
    thresholds : natural scale for ratio measures, analysis scale otherwise.
    prior_sensitivity : alternative tau priors.
    defaults : names of the priors taken from the defaults (``"mu"``, ``"tau"``).
    warnings : messages raised while parsing (e.g. a preset meant for another measure).
    """

    likelihood: str = "normal"
    mu_prior: object = P.Normal(0.0, 10.0)
    tau_prior: object = P.HalfNormal(0.5)
    baseline_prior: object | None = None
    engine: str = "auto"
    seed: int = DEFAULT_SEED
    draws: int = 2000
    chains: int = 4
    tune: int = 1000
    target_accept: float | None = None
    thresholds: tuple = ()
    prior_sensitivity: tuple = ()
    measure: str = "OR"
    outcome_type: str = "binary"
    defaults: tuple = field(default=(), compare=False)
    warnings: tuple = field(default=(), compare=False)

    @property
    def prior(self) -> tuple:
        """``(mu_prior, tau_prior)``."""
        return (self.mu_prior, self.tau_prior)

    @property
    def exact_ok(self) -> bool:
        """Whether the exact (quadrature) engine can fit this model."""
        return self.likelihood == "normal" and exact_supports_mu(self.mu_prior)

    @property
    def resolved_engine(self) -> str:
        if self.engine != "auto":
            return self.engine
        return "exact" if self.exact_ok else "mcmc"

    def to_dict(self) -> dict:
        """A JSON-ready echo of the spec (stamped into InferenceData attrs and results)."""
        out = {
            "likelihood": self.likelihood,
            "prior": {"mu": self.mu_prior.to_dict(), "tau" if self.tau_prior.on == "tau" else "tau2":
                      self.tau_prior.to_dict()},
            "engine": self.engine, "seed": self.seed, "draws": self.draws, "chains": self.chains,
            "tune": self.tune, "target_accept": self.target_accept,
            "thresholds": list(self.thresholds),
            "prior_sensitivity": [{p.on: p.to_dict()} for p in self.prior_sensitivity],
        }
        if self.baseline_prior is not None:
            out["prior"]["baseline"] = self.baseline_prior.to_dict()
        return out


def exact_supports_mu(prior) -> bool:
    """The exact engine takes normal, Student-t and flat mu priors (not a bounded uniform)."""
    return not (isinstance(prior, P.Uniform) and not prior.is_flat)


# --------------------------------------------------------------------------- helpers

def _hint(word, choices) -> str:
    close = difflib.get_close_matches(str(word), [str(c) for c in choices], n=1, cutoff=0.6)
    allowed = ", ".join(str(c) for c in choices)
    if close:
        return f"did you mean '{close[0]}'? (allowed: {allowed})"
    return f"allowed: {allowed}"


def _check_keys(mapping, allowed, path):
    for key in mapping:
        if key not in allowed:
            raise SpecValueError(path + (key,), f"unknown key '{key}'; {_hint(key, allowed)}")


def _mapping(value, path, what="a mapping"):
    if not isinstance(value, dict):
        raise SpecValueError(path, f"must be {what}, got {type(value).__name__} {value!r}")
    return value


#: the largest magnitude of a prior parameter or threshold (as the trial records' cap on numbers)
MAX_ABS = 1e12
#: the smallest positive scale, rate or degrees of freedom of a prior: below it the prior is a
#: point mass the quadrature and the samplers cannot resolve (1e-300 ended in NaN or a crash)
MIN_POSITIVE = 1e-12
#: log(tau^2) priors (tau2: log_normal, log_t): their mean beyond +-100 puts tau beyond e^+-50
MAX_LOG_TAU2 = 100.0
#: MCMC sizes: draws and tune per chain, chains, and every draw of every chain together
MAX_DRAWS = 1_000_000
MAX_TUNE = 1_000_000
MAX_CHAINS = 100
MAX_TOTAL_DRAWS = 10_000_000


def _number(value, path, constraint=P._ANY):
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise SpecValueError(path, f"must be a number, got {value!r}")
    try:
        value = float(value)
    except OverflowError:  # an integer beyond a double
        raise SpecValueError(path, f"is implausibly large (more than {MAX_ABS:g} in absolute value)") from None
    if not math.isfinite(value):
        raise SpecValueError(path, f"must be finite, got {value!r}")
    if constraint == P._POS and value <= 0:
        raise SpecValueError(path, f"must be > 0, got {value:g}")
    if abs(value) > MAX_ABS:
        raise SpecValueError(path, f"{value:g} is implausibly large (more than {MAX_ABS:g} in absolute value)")
    if constraint == P._POS and value < MIN_POSITIVE:
        raise SpecValueError(path, f"{value:g} is implausibly small (less than {MIN_POSITIVE:g}; it must be > 0)")
    return value


def _integer(value, path, minimum, maximum=None):
    if isinstance(value, bool) or not isinstance(value, int):
        raise SpecValueError(path, f"must be an integer, got {value!r}")
    if value < minimum:
        raise SpecValueError(path, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SpecValueError(path, f"{value:,} is implausibly large (more than {maximum:,})")
    return value


# --------------------------------------------------------------------------- priors

def parse_prior(mapping, path, role):
    """Parse one prior mapping.

    ``role`` is ``"mu"``, ``"tau"``, ``"tau2"`` or ``"baseline"``; ``path`` is its key path.
    A ``preset`` mapping (``{preset: turner2015, outcome: mental_health}``) is accepted
    under ``tau`` and ``tau2``.
    """
    _mapping(mapping, path)
    if role in ("tau", "tau2") and "preset" in mapping:
        return _parse_preset(mapping, path)
    if "dist" not in mapping:
        raise SpecValueError(path, "needs 'dist' (or 'preset' for tau)" if role in ("tau", "tau2")
                             else "needs 'dist'")
    dist = mapping["dist"]
    if not isinstance(dist, str):
        raise SpecValueError(path + ("dist",), f"must be a distribution name, got {dist!r}")
    table = {"mu": P.MU_DISTS, "baseline": {"normal": P.MU_DISTS["normal"]},
             "tau": P.TAU_DISTS, "tau2": P.TAU2_DISTS}[role]
    if dist not in table:
        if role == "tau" and dist in P.TAU2_DISTS:
            raise SpecValueError(path + ("dist",), f"'{dist}' is a prior on tau^2: give it under tau2:")
        if role == "tau2" and dist in P.TAU_DISTS:
            raise SpecValueError(path + ("dist",), f"'{dist}' is a prior on tau: give it under tau:")
        raise SpecValueError(path + ("dist",), f"unknown distribution '{dist}' for {role}; "
                             f"{_hint(dist, list(table))}")
    cls, params = table[dist]
    _check_keys(mapping, ("dist",) + tuple(params), path)
    kwargs = {}
    for name, (default, constraint) in params.items():
        if name in mapping:
            kwargs[name] = _number(mapping[name], path + (name,), constraint)
        elif default is P.REQUIRED:
            raise SpecValueError(path + (name,), f"required for {dist}")
        elif default is not None:
            kwargs[name] = default
    if cls is P.Uniform:
        return _uniform(kwargs, mapping, path, role)
    if role == "tau2" and abs(kwargs.get("mu", 0.0)) > MAX_LOG_TAU2:
        raise SpecValueError(path + ("mu",), f"{kwargs['mu']:g} is implausibly large for the mean of log(tau^2) "
                             f"(more than {MAX_LOG_TAU2:g} in absolute value: tau beyond e^{MAX_LOG_TAU2 / 2:g})")
    return cls(**kwargs)


def _uniform(kwargs, mapping, path, role):
    if role == "mu":
        has_lo, has_hi = "lower" in mapping, "upper" in mapping
        if has_lo != has_hi:
            missing = "upper" if has_lo else "lower"
            raise SpecValueError(path + (missing,), "give both bounds, or neither for a flat prior")
        if not has_lo:
            return P.Uniform()
    lower, upper = kwargs["lower"], kwargs["upper"]
    if role == "tau" and lower < 0:
        raise SpecValueError(path + ("lower",), f"must be >= 0 for tau, got {lower:g}")
    if upper <= lower:
        raise SpecValueError(path + ("upper",), f"must be > lower ({lower:g}), got {upper:g}")
    return P.Uniform(lower=lower, upper=upper, on=role)


def _parse_preset(mapping, path):
    _check_keys(mapping, ("preset", "outcome"), path)
    name = mapping["preset"]
    if not isinstance(name, str) or name not in P.PRESETS:
        raise SpecValueError(path + ("preset",), f"unknown preset '{name}'; {_hint(name, list(P.PRESETS))}")
    outcomes = P.PRESETS[name][1]
    outcome = mapping.get("outcome", "all" if name == "turner2015" else "general")
    if not isinstance(outcome, str) or outcome not in outcomes:
        raise SpecValueError(path + ("outcome",),
                             f"unknown outcome '{outcome}' for {name}; {_hint(outcome, list(outcomes))}")
    return P.preset_prior(name, outcome)


def _tau_block(mapping, path):
    """``{tau: ...}`` or ``{tau2: ...}`` (exactly one) -> tau prior."""
    if "tau" in mapping and "tau2" in mapping:
        raise SpecValueError(path + ("tau2",), "give tau or tau2, not both")
    if "tau2" in mapping:
        return parse_prior(mapping["tau2"], path + ("tau2",), "tau2")
    return parse_prior(mapping["tau"], path + ("tau",), "tau")


def _preset_warning(prior, measure):
    preset = getattr(prior, "preset", None)
    if preset is None:
        return None
    meant_for = P.PRESETS[preset[0]][0]
    if measure != meant_for:
        return (f"prior preset {preset[0]} ({preset[1]}) was derived for {meant_for} "
                f"(log odds ratio)" if meant_for == "OR" else
                f"prior preset {preset[0]} ({preset[1]}) was derived for {meant_for}") + \
            f"; this analysis uses {measure}: its heterogeneity scale may not match"
    return None


# --------------------------------------------------------------------------- the block

def parse_bayes_spec(mapping, *, measure: str = "OR", outcome_type: str = "binary",
                     dropout: bool = False) -> BayesSpec:
    """Check a ``bayes:`` block (plain dicts and lists, as loaded from YAML).

    Parameters
    ----------
    mapping : dict or None
        The block; ``None`` (an empty ``bayes:``) takes every default.
    measure : str
        The meta-analysis's measure code (``OR``, ``RR``, ``SMD``, ``MD`` ...).
    outcome_type : str
        ``binary``, ``continuous`` or ``contrast``; the binomial likelihood needs ``binary``.
    dropout : bool
        A dropout meta-analysis: the default heterogeneity prior is Turner et al. (2015)'s for
        withdrawals/drop-outs (pharmacological vs placebo), log(tau²) ~ N(-2.99, 1.74²).

    Returns
    -------
    BayesSpec

    Raises
    ------
    metak.errors.SpecValueError
        With the key path relative to the block, e.g. ``("prior", "tau", "sigma")``;
        :class:`metak.errors.SpecValueErrors` (a list of them, ``.problems``) when the block
        has several problems: every one is reported, not only the first.
    """
    if mapping is None:
        mapping = {}
    _mapping(mapping, ())
    problems: list[SpecValueError] = []

    def attempt(fn, *args, fallback=None):
        """Run one independent check; record its problem and go on, so that every problem
        of the block is reported at once, as in the rest of the spec."""
        try:
            return fn(*args)
        except SpecValueErrors as exc:
            problems.extend(exc.problems)
        except SpecValueError as exc:
            problems.append(exc)
        return fallback

    attempt(_check_keys, mapping, TOP_KEYS, ())
    warnings: list[str] = []

    def _likelihood():
        value = mapping.get("likelihood", "normal")
        if not isinstance(value, str) or value not in LIKELIHOODS:
            raise SpecValueError(("likelihood",), f"unknown likelihood '{value}'; {_hint(value, LIKELIHOODS)}")
        if value == "binomial":
            if measure != "OR":
                raise SpecValueError(("likelihood",), f"binomial likelihood models the odds ratio; "
                                     f"this meta-analysis uses measure {measure}")
            if outcome_type != "binary":
                raise SpecValueError(("likelihood",), f"binomial likelihood needs a binary outcome, "
                                     f"this one is {outcome_type}")
        return value

    likelihood = attempt(_likelihood, fallback="normal")
    prior_map = attempt(_mapping, mapping.get("prior", {}) or {}, ("prior",), fallback={})
    attempt(_check_keys, prior_map, PRIOR_KEYS, ("prior",))
    defaults = []
    if "mu" in prior_map:
        mu_prior = attempt(parse_prior, prior_map["mu"], ("prior", "mu"), "mu", fallback=None)
    else:
        mu_prior = P.Normal(0.0, 10.0) if measure in _UNIT_FREE else P.Uniform()
        defaults.append("mu")
    if "tau" in prior_map or "tau2" in prior_map:
        tau_prior = attempt(_tau_block, prior_map, ("prior",), fallback=None)
    elif dropout and measure in ("OR", "RR"):
        tau_prior = P.preset_prior("turner2015", "withdrawals")
        defaults.append("tau")
        if measure == "RR":
            # Turner's predictive distributions are for log odds ratios; dropout proportions in
            # these trials are low, where log RR and log OR (and their between-trial variances)
            # nearly coincide, so the same prior is used on the log risk-ratio scale
            warnings.append("default heterogeneity prior for dropout: Turner et al. 2015, withdrawals "
                            "(log tau^2 ~ Normal(-2.99, 1.74)), stated for log odds ratios and applied here to "
                            "the log risk ratio (close to the log OR when dropout is uncommon)")
        else:
            warnings.append("default heterogeneity prior for dropout: Turner et al. 2015, withdrawals "
                            "(log tau^2 ~ Normal(-2.99, 1.74)) for the log odds ratio")
    elif measure in _UNIT_FREE:
        tau_prior = P.HalfNormal(0.5)
        defaults.append("tau")
    else:
        tau_prior = None
        problems.append(SpecValueError(("prior", "tau"), f"required for measure {measure}: a heterogeneity "
                                       "prior depends on the outcome's units (no default)"))
    baseline = DEFAULT_BASELINE if likelihood == "binomial" else None
    if "baseline" in prior_map:
        if likelihood != "binomial":
            problems.append(SpecValueError(("prior", "baseline"), "only used by likelihood: binomial"))
        else:
            baseline = attempt(parse_prior, prior_map["baseline"], ("prior", "baseline"), "baseline",
                               fallback=DEFAULT_BASELINE)

    def _engine():
        value = mapping.get("engine", "auto")
        if not isinstance(value, str) or value not in ENGINES:
            raise SpecValueError(("engine",), f"unknown engine '{value}'; {_hint(value, ENGINES)}")
        if value == "exact":
            if likelihood != "normal":
                raise SpecValueError(("engine",), "the exact engine needs likelihood: normal; "
                                     "the binomial model is fitted by MCMC (engine: auto or mcmc)")
            if mu_prior is not None and not exact_supports_mu(mu_prior):
                raise SpecValueError(("engine",), f"the exact engine takes normal, student_t or flat "
                                     f"mu priors, not {mu_prior!r}; use engine: auto or mcmc")
        return value

    engine = attempt(_engine, fallback="auto")
    seed = attempt(_integer, mapping.get("seed", DEFAULT_SEED), ("seed",), 0, fallback=DEFAULT_SEED)
    draws = attempt(_integer, mapping.get("draws", 2000), ("draws",), 10, MAX_DRAWS, fallback=None)
    chains = attempt(_integer, mapping.get("chains", 4), ("chains",), 1, MAX_CHAINS, fallback=None)
    tune = attempt(_integer, mapping.get("tune", 1000), ("tune",), 0, MAX_TUNE, fallback=1000)
    if draws is not None and chains is not None and draws * chains > MAX_TOTAL_DRAWS:
        problems.append(SpecValueError(("draws",), f"draws x chains = {draws:,} x {chains} = {draws * chains:,} is "
                                       f"implausibly large (more than {MAX_TOTAL_DRAWS:,} draws in all)"))
    draws = 2000 if draws is None else draws
    chains = 4 if chains is None else chains

    def _target():
        value = mapping.get("target_accept")
        if value is not None:
            value = _number(value, ("target_accept",))
            if not 0 < value < 1:
                raise SpecValueError(("target_accept",), f"must be between 0 and 1, got {value:g}")
        return value

    target_accept = attempt(_target)

    raw_thresholds = mapping.get("thresholds", []) or []
    if not isinstance(raw_thresholds, list):
        raw_thresholds = [raw_thresholds]
    thresholds = []

    def _threshold(value, i):
        t = _number(value, ("thresholds", i))
        if measure in RATIO_MEASURES and t <= 0:
            raise SpecValueError(("thresholds", i), f"must be > 0: thresholds for {measure} are on "
                                 f"the natural (ratio) scale, got {t:g}")
        return t

    for i, value in enumerate(raw_thresholds):
        t = attempt(_threshold, value, i)
        if t is not None:
            thresholds.append(t)

    raw_sens = mapping.get("prior_sensitivity", []) or []
    sensitivity = []
    if not isinstance(raw_sens, list):
        problems.append(SpecValueError(("prior_sensitivity",), "must be a list of tau priors"))
        raw_sens = []

    def _alternative(item, path):
        _mapping(item, path)
        if "tau" in item or "tau2" in item:
            _check_keys(item, ("tau", "tau2"), path)
            return _tau_block(item, path)
        return parse_prior(item, path, "tau")

    for i, item in enumerate(raw_sens):
        alt = attempt(_alternative, item, ("prior_sensitivity", i))
        if alt is not None:
            sensitivity.append(alt)

    if problems:
        if len(problems) == 1:
            raise problems[0]
        raise SpecValueErrors(problems)

    default_dropout = dropout and "tau" in defaults  # its own note above says which scale
    for prior in ((() if default_dropout else (tau_prior,)) + tuple(sensitivity)):
        message = _preset_warning(prior, measure)
        if message and message not in warnings:
            warnings.append(message)

    return BayesSpec(
        likelihood=likelihood, mu_prior=mu_prior, tau_prior=tau_prior, baseline_prior=baseline,
        engine=engine, seed=seed, draws=draws, chains=chains, tune=tune,
        target_accept=target_accept, thresholds=tuple(thresholds),
        prior_sensitivity=tuple(sensitivity), measure=measure, outcome_type=outcome_type,
        defaults=tuple(defaults), warnings=tuple(warnings),
    )

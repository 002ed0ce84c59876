"""Parse and check the ``bayes:`` block of a meta-analysis spec.

Every setting is checked when the spec is built, from the declarative tables in
``prior_presets.py`` and below, so a typo fails at once with the key path of the bad value
(relative to the ``bayes:`` block) and, for unknown names, a "did you mean" hint. One prior
mapping is parsed by :mod:`metak.bayes.prior_spec`; the value checks are in
:mod:`metak.bayes.checks`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from metak.errors import SpecValueError, SpecValueErrors
from metak.vocab import LOG_MEASURES, MEASURE_TABLE

from . import priors as P
from .checks import MAX_CHAINS, MAX_DRAWS, MAX_TOTAL_DRAWS, MAX_TUNE, _check_keys, _hint, _integer, _mapping, _number
from .prior_presets import preset_prior
from .prior_spec import _preset_warning, _tau_block, parse_prior

__all__ = ["BayesSpec", "parse_bayes_spec", "DEFAULT_SEED"]

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


def no_default_tau(measure: str) -> str:
    """Why a ``bayes:`` block must state its tau prior for ``measure``: the outcome's units only
    for a measure in them (the vocabulary's ``raw_units``: MD, MC, IRD); a standardised or
    transformed measure without a default (SMCC, PLO, RD ...) is unit-free, and is told so."""
    m = MEASURE_TABLE.get(measure)
    if m is not None and m.raw_units:
        return (f"required for measure {measure}: {measure} is in the outcome's units, and a "
                "heterogeneity prior depends on them (no default); e.g. tau: {dist: half_normal, sigma: s} "
                "with s a plausible between-trial SD in those units")
    label = m.label[0].lower() + m.label[1:] if m is not None else measure
    return (f"required for measure {measure}: metak's default, half-normal(0.5) on tau, is for log-scale measures, "
            f"SMD, SMDH and Fisher's z; state a tau prior for the {label} scale, e.g. "
            "tau: {dist: half_normal, sigma: s}")
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
        tau_prior = preset_prior("turner2015", "withdrawals")
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
        problems.append(SpecValueError(("prior", "tau"), no_default_tau(measure)))
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

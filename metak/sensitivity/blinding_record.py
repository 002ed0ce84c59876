"""The frozen ``sensitivity.blinding`` record (docs/format.md, section 3.9; contract §6.3 for
``shared_bias``): blinding indices, classification, restricted and bias-adjusted fits, tipping
point, the shared-bias model and the Correct Guess Rate Curve. Its fields generate the schema
fragment (``python -m metak.schema.generate``); :func:`metak.schema.record.from_dict` builds
the parts that :mod:`metak.sensitivity.blinding`, :mod:`~metak.sensitivity.cgrc` and
:mod:`~metak.sensitivity.shared_bias_analysis` compute as dicts."""

from __future__ import annotations

from dataclasses import dataclass

from ..schema.record import as_dict, enum, flat, optional
from .refit_record import Refit

#: a trial's blinding status under the rule
STATUSES = ("adequate", "compromised", "unknown")


@dataclass(frozen=True, kw_only=True)
class Interval:
    """A blinding index with its SE and CI (:func:`metak.sensitivity.blinding_index.bang`,
    :func:`~metak.sensitivity.blinding_index.james`)."""

    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BlindingIndex:
    """Bang (per arm) and James indices of one trial, assessor and compared pair of arms."""

    trial: str
    assessor: str | None
    experimental: str
    control: str
    james: Interval | None
    bang: dict[str, Interval | None]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Rule:
    max_bang: float
    assessor: str
    text: str

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Classification:
    trial: str
    label: str
    status: str = enum(*STATUSES)
    reason: str
    #: the Bang index of each compared arm with guesses
    bang: dict[str, float | None]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BiasShift:
    """A bias source on the analysis's scale (:meth:`metak.sensitivity.bias.Shift.to_dict`)."""

    source: str
    citation: str
    log_ror: float | None
    log_ror_se: float | None
    source_scale: str
    shift: float
    shift_se: float
    kappa: float | None
    phi: float | None
    added_variance: float
    notes: tuple[str, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Density:
    """A density on a grid: the posterior and the prior (for the bias_posterior figure)."""

    x: tuple[float, ...]
    posterior: tuple[float, ...]
    prior: tuple[float, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Posterior:
    """A posterior summary: mean and SD (null when undefined), median and equal-tailed CrI;
    mu's with P(benefit), beta's with its density."""

    mean: float | None
    sd: float | None
    median: float | None
    ci_lower: float | None
    ci_upper: float | None
    prob_benefit: float | None = optional()
    density: Density = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Predictive:
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class AdjustedBayes:
    """The exact posterior of the shifted effects (:func:`metak.bayes.common.sensitivity_exact`)."""

    prior: str
    mu: Posterior
    tau: Posterior
    predictive: Predictive
    prob_benefit: float | None
    engine: str = enum("exact")

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BiasAdjusted:
    """The refit with the trials not adequately blinded shifted by the source's bias."""

    shift: BiasShift = flat()
    k_adjusted: int
    fit: Refit = flat()
    #: the exact Bayesian model of the shifted effects, written when the analysis has a bayes:
    #: block (null when its prior on mu is not one the exact engine takes)
    bayes: AdjustedBayes | None = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BySource:
    """The bias-adjusted fit under one published bias source."""

    source: str
    citation: str
    log_ror: float | None
    log_ror_se: float | None
    shift: float
    shift_se: float
    added_variance: float
    k_adjusted: int
    k: int | None
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class CurvePoint:
    bias: float
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class TippingPoint:
    bias: float | None
    ror: float | None
    k_shifted: int
    reason: str | None
    null: float
    curve: tuple[CurvePoint, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class CgrcPoint:
    cgr: float
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Stratum:
    value: float
    n: int

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class CgrcTrial:
    """One trial's Correct Guess Rate Curve; without one, ``estimate`` is null with a ``reason``."""

    trial: str
    label: str
    assessor: str
    cgr: float = optional()
    estimate: float | None
    se: float | None = optional()
    ci_lower: float | None = optional()
    ci_upper: float | None = optional()
    observed_cgr: float | None = optional()
    at_observed: CgrcPoint = optional()
    curve: tuple[CgrcPoint, ...] = optional()
    strata: dict[str, Stratum] = optional()
    reason: str = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class Cgrc:
    trials: tuple[CgrcTrial, ...]
    pooled: Refit | None
    cgr: float
    reason: str = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class NaiveFit:
    estimate: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class IndependentFit:
    source: str
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class SharedBeta:
    """The mean bias beta of the trials not adequately blinded (REML/GLS), estimated or fixed at
    a source's value (then with the source)."""

    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    kind: str = enum("estimated (GLS at the REML variances)", "fixed (shared uncertainty)")
    source: str = optional()
    citation: str = optional()
    scale_notes: tuple[str, ...] = optional()
    phi_in_shared_variance: bool = optional()

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class SharedKappa:
    """kappa, the between-trial SD of the shared bias."""

    estimate: float | None
    kappa2: float | None
    kind: str = enum("estimated (REML)", "fixed")

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class SharedPriors:
    mu: str
    beta: str
    beta_from: str
    tau: str
    kappa: str
    kappa_from: str

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class SharedBayes:
    """The exact posterior of the shared-bias model (:func:`metak.sensitivity.shared_bias.posterior`)."""

    mu: Posterior
    beta: Posterior
    tau: Posterior
    kappa: Posterior
    engine: str
    log_evidence: float | None
    quadrature_error: float | None
    n_nodes: int
    priors: SharedPriors

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class SharedBias:
    """The shared-bias model (contract §6.3); null estimates with ``beta_mode`` "not
    identifiable" when no trial is adequately blinded and no source is given."""

    model: str
    k: int
    k_compromised: int
    z: dict[str, int]
    naive: NaiveFit
    independent: IndependentFit | None
    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None
    tau2: float | None = optional()
    test: str = optional()
    bias: SharedBeta | None
    kappa: SharedKappa | None
    beta_mode: str = enum("estimate", "fixed", "none", "not identifiable")
    bayes: SharedBayes | None
    notes: tuple[str, ...]

    to_dict = as_dict


@dataclass(frozen=True, kw_only=True)
class BlindingResult:
    """``sensitivity.blinding``: indices, classification and the bias analyses."""

    indices: tuple[BlindingIndex, ...]
    rule: Rule
    classification: tuple[Classification, ...]
    restricted: Refit | None
    #: the meta-regression on the Bang index (metak.estimators.regression's object), or null
    bang_regression: dict | None
    bias_adjusted: BiasAdjusted | None
    by_source: tuple[BySource, ...]
    tipping_point: TippingPoint
    sign: int = enum(1, -1)
    reasons: dict[str, str]
    notes: tuple[str, ...]
    shared_bias: SharedBias = optional()
    cgrc: Cgrc = optional()

    to_dict = as_dict

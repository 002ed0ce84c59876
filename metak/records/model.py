"""Frozen dataclasses for a validated trial record (contract section 1)."""

from __future__ import annotations

from dataclasses import dataclass, field

SCHEMA_VERSION = 1

DESIGNS = ("parallel", "crossover", "factorial", "cluster")
ALLOCATIONS = ("randomized", "non_randomized")
MASKINGS = ("none", "single", "double", "triple", "quadruple")
ASSESSORS = ("participant", "clinician", "rater", "other")
ROLES = ("experimental", "control")
CONTROL_TYPES = ("placebo", "active_placebo", "usual_care", "waitlist", "active_comparator")
ROUTES = ("IV", "IM", "SC", "oral", "intranasal", "other")
OUTCOME_TYPES = ("binary", "continuous", "contrast", "person_time", "correlation",
                 "pre_post")  # the last three: issue 27 (metak.records.arm_more)
DIRECTIONS = ("higher_is_better", "lower_is_better")
#: what kind of public source an outcome's numbers come from (``source.type``; optional, one or a list):
#: the paper's text, its abstract (a journal or conference abstract), a table of the full text, a trial
#: registry's posted results, a table of a systematic review, or a secondary report (news, blog, press
#: release, summary site) of the paper
SOURCE_TYPES = ("paper", "abstract", "full_text_table", "registry", "review_table", "secondary_report")


@dataclass(frozen=True)
class Citation:
    authors: tuple[str, ...] = ()
    year: int | None = None
    journal: str | None = None
    volume: str | None = None
    pages: str | None = None
    doi: str | None = None
    pmid: str | None = None
    registration: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Dose:
    value: float
    unit: str


@dataclass(frozen=True)
class Arm:
    id: str
    label: str
    role: str
    intervention: str
    control_type: str | None = None
    dose: Dose | None = None
    randomized: int | None = None
    completed: int | None = None
    route: str | None = None
    schedule: str | None = None
    co_intervention: str | None = None
    #: the arm's ``dropouts:`` block (v2): ((reason, count), ...) with "total" first when given
    dropout_reasons: tuple = ()

    @property
    def dropouts(self) -> int | None:
        """All-cause dropouts: randomized - completed, else the dropouts block's total."""
        if self.randomized is not None and self.completed is not None:
            return self.randomized - self.completed
        return dict(self.dropout_reasons).get("total")

    def dropouts_for(self, reason: str) -> int | None:
        """Dropouts for one reason (``adverse_events`` ...), or all-cause for ``all``."""
        return self.dropouts if reason == "all" else dict(self.dropout_reasons).get(reason)


@dataclass(frozen=True)
class GuessRow:
    """End-of-trial allocation guesses of one assessor type in one arm."""

    arm: str
    assessor: str
    guessed_experimental: int
    guessed_control: int
    dont_know: int

    @property
    def total(self) -> int:
        return self.guessed_experimental + self.guessed_control + self.dont_know


@dataclass(frozen=True)
class Blinding:
    masking: str | None = None
    guesses: tuple[GuessRow, ...] = ()
    note: str | None = None


@dataclass(frozen=True)
class Source:
    where: str
    derived: bool = False
    note: str | None = None
    #: the kinds of source (SOURCE_TYPES) the numbers come from; () when the record does not say
    type: tuple[str, ...] = ()


@dataclass(frozen=True)
class BinaryArmData:
    events: int
    total: int
    #: randomized to the arm with the outcome not observed (v2; None: not reported)
    missing: int | None = None


@dataclass(frozen=True)
class ContinuousArmData:
    mean: float
    sd: float
    n: int
    #: randomized to the arm with the outcome not observed (v2; None: not reported)
    missing: int | None = None
    #: how mean and SD were obtained when the record gave something else (v2), e.g.
    #: "median and IQR (Luo 2018 mean, Wan 2014 SD)"; None when given as mean and SD
    conversion: str | None = None


@dataclass(frozen=True)
class ContrastData:
    measure: str
    experimental: tuple[str, ...]
    control: tuple[str, ...]
    estimate: float
    ci: tuple[float, float] | None = None
    se: float | None = None
    level: float = 0.95


#: reasons of an arm's dropouts block (contract section 5)
DROPOUT_REASONS = ("adverse_events", "lack_of_efficacy", "lost_to_follow_up", "other")

#: RoB 2 domains of a risk_of_bias block (contract section 5), in the tool's order
ROB_DOMAINS = ("randomization", "deviations", "missing_data", "measurement", "reporting")
ROB_LEVELS = ("low", "some_concerns", "high")


@dataclass(frozen=True)
class RiskOfBias:
    """An outcome's RoB 2 judgements: each domain and the overall risk (None: not assessed)."""

    domains: tuple  # ((domain, level or None), ...) in ROB_DOMAINS order
    overall: str
    #: True when overall was not given and follows from the domains by RoB 2's algorithm
    derived: bool = False

    def domain(self, name: str) -> str | None:
        return dict(self.domains).get(name)


@dataclass(frozen=True)
class Paired:
    """A crossover trial's within-participant comparison, experimental minus control (v2).

    Exactly one of ``sd_difference``, ``se``, ``ci``, ``t`` or ``correlation`` gives its
    precision; ``mean_difference`` defaults to the arms' means in ``data``."""

    experimental: str
    control: str
    n: int
    mean_difference: float | None = None
    sd_difference: float | None = None
    se: float | None = None
    ci: tuple[float, float] | None = None
    level: float = 0.95
    t: float | None = None
    correlation: float | None = None


#: the keys of a ``paired`` block that give its precision (exactly one)
PAIRED_PRECISION = ("sd_difference", "se", "ci", "t", "correlation")


@dataclass(frozen=True)
class Cluster:
    """A cluster-randomised trial's clustering (v2): an ICC with the mean cluster size, a
    design effect, or ``adjusted: true`` when the recorded numbers already allow for it."""

    icc: float | None = None
    mean_cluster_size: float | None = None
    design_effect: float | None = None
    adjusted: bool = False

    @property
    def effect(self) -> float:
        """The design effect 1 + (m - 1) ICC (Donner & Klar), or the one given; 1 when adjusted."""
        if self.adjusted:
            return 1.0
        if self.design_effect is not None:
            return self.design_effect
        return 1 + (self.mean_cluster_size - 1) * self.icc


@dataclass(frozen=True)
class Outcome:
    id: str
    label: str
    type: str
    direction: str
    source: Source
    #: arm id -> BinaryArmData | ContinuousArmData for binary/continuous; ContrastData for contrast
    data: object
    timepoint: str | None = None
    scale: str | None = None
    risk_of_bias: RiskOfBias | None = None
    #: crossover trials (v2): the within-participant comparison, and first-period arm data
    paired: Paired | None = None
    first_period: dict | None = None
    #: outcome by arm x allocation guess (the CGRC): {"assessor", arm id: {guessed_experimental,
    #: guessed_control: arm data}} (metak.sensitivity.cgrc.parse_by_guess), or None
    by_guess: dict | None = None


@dataclass(frozen=True)
class Trial:
    id: str
    title: str
    condition: str
    design: str
    arms: tuple[Arm, ...]
    outcomes: tuple[Outcome, ...]
    citation: Citation = field(default_factory=Citation)
    allocation: str = "randomized"
    randomized_total: int | None = None
    blinding: Blinding | None = None
    population: str | None = None
    setting: str | None = None
    co_intervention: str | None = None
    notes: str | None = None
    sources: tuple[str, ...] = ()
    #: trial-level moderators ((name, value), ...), value a number, string or bool
    characteristics: tuple = ()
    #: the study label for tables and plots, when the record gives one
    study_label: str | None = None
    #: cluster-randomised trials (v2)
    cluster: Cluster | None = None
    #: ids of other records that report (partly) the same participants: never pooled together
    overlaps: tuple[str, ...] = ()
    path: str = ""
    sha256: str = ""

    def arm(self, arm_id: str) -> Arm:
        for a in self.arms:
            if a.id == arm_id:
                return a
        raise KeyError(arm_id)

    def outcome(self, outcome_id: str) -> Outcome | None:
        for o in self.outcomes:
            if o.id == outcome_id:
                return o
        return None

    def characteristic(self, name: str, default=None):
        for key, value in self.characteristics:
            if key == name:
                return value
        return default

    @property
    def label(self) -> str:
        """The record's ``label``, else 'Author year' (first author's surname), else the id."""
        if self.study_label:
            return self.study_label
        if self.citation.authors and self.citation.year:
            first = self.citation.authors[0].split()[0]
            return f"{first} {self.citation.year}"
        return self.id

    @property
    def masking(self) -> str | None:
        return self.blinding.masking if self.blinding else None

    @property
    def control_types(self) -> tuple[str, ...]:
        return tuple(a.control_type for a in self.arms if a.role == "control" and a.control_type)

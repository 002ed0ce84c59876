"""The frozen records of a checked analysis spec and the spec's vocabulary."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

SCHEMA_VERSION = 1
MULTI_ARM_RULES = ("split_control", "combine", "select", "multivariate")
#: orders of forest rows and of the cumulative analysis; any characteristic name is allowed too
ORDERS = ("label", "year", "effect", "weight")
SELECT_KEYS = ("design", "condition", "allocation", "masking", "control_type", "trials", "exclude")

TOP_REQUIRED = ("metak", "title", "trials", "meta_analyses")
TOP_OPTIONAL = ("description", "defaults")
DEFAULT_KEYS = ("method", "test", "level", "cc")
MA_OPTIONAL = ("title", "outcome", "fallback_outcomes", "measure", "select", "arms", "multi_arm", "method",
               "test", "level", "cc", "bayes", "sensitivity", "figures", "dropout", "dropout_outcome",
               "moderators", "subgroups", "order", "permutations", "crossover", "mix_measures")


@dataclass(frozen=True)
class CCSpec:
    add: float = 0.5
    to: str = "only0"
    drop00: bool | None = None  # None: False for inverse-variance fits, True for MH/PETO

    def resolved(self, method: str) -> dict:
        drop = self.drop00 if self.drop00 is not None else method in ("MH", "PETO")
        return {"add": self.add, "to": self.to, "drop00": drop}


@dataclass(frozen=True)
class Fallback:
    outcome: str
    complement: bool = False


@dataclass(frozen=True)
class Select:
    design: tuple = ()
    condition: tuple = ()
    allocation: tuple = ()
    masking: tuple = ()
    control_type: tuple = ()
    trials: tuple = ()
    exclude: tuple = ()  # ((trial id, reason), ...)


@dataclass(frozen=True)
class MetaSpec:
    id: str
    measure: str
    method: str
    test: str
    level: float
    cc: CCSpec
    outcome: str | None = None
    title: str | None = None
    fallback_outcomes: tuple = ()
    select: Select = field(default_factory=Select)
    arms: tuple = ()  # ((trial id, (exp ids), (ctl ids)), ...)
    multi_arm: str = "split_control"
    #: the parsed ``bayes:`` block (metak.bayes.BayesSpec): the ``bayes`` analysis's parameter, kept
    #: here too because the network, blinding and shared-bias analyses take their priors from it
    bayes: object = None
    sensitivity: tuple = ()
    figures: tuple = ("forest",)
    #: ``figures:`` options (favours, arm_labels, xlim, font, width; issue 25) as ((key, value), ...)
    figure_options: tuple = ()
    #: a dropout meta-analysis (``dropout:``): a table setting (the rows are each side's dropouts);
    #: it also asks for ``dropout_rates``, as ``multi_arm`` (the rows kept) asks for ``multivariate``
    dropout: bool = False
    dropout_outcome: str = "dropout"
    #: the dropout reason pooled (v2): "all" (all-cause) or one of the dropouts block's reasons
    dropout_reason: str = "all"
    #: the registered analyses asked for by their own key (e.g. ``dose_response:``), with their
    #: checked parameters: SensitivityEntry records, in the registry's order
    analyses: tuple = ()
    #: crossover trials without paired or first-period data (v2): the assumed within-participant
    #: correlation of Elbourne's paired approximation, or None (analysed as parallel groups)
    crossover_rho: float | None = None
    #: (v2) "chinn2000": pool log odds ratios and SMDs together, converted by Chinn (2000)
    mix_measures: str | None = None
    #: row order of forest plots and the cumulative analysis (contract section 5)
    order: str = "label"
    #: (key path, file, line) of keys whose values are checked against the loaded trials
    where: tuple = ()
    #: its position in the spec's meta_analyses list: errors name ``meta_analyses[i].key``, as
    #: the Checker's do
    index: int | None = None

    def arms_for(self, trial_id: str):
        for tid, exp, ctl in self.arms:
            if tid == trial_id:
                return exp, ctl
        return None

    def has_sensitivity(self, name: str) -> bool:
        return any(e.name == name for e in self.sensitivity)

    def analysis(self, name: str):
        """The entry of the registered analysis ``name`` asked for by its own key, or None."""
        return next((e for e in self.analyses if e.name == name), None)

    def error(self, key: str, message: str):
        """An InvalidSpec naming this meta-analysis's ``key`` with its file and line."""
        from ..errors import InvalidSpec, Problem

        file, line = self.locate(key)
        where = f"meta_analyses[{self.index}]" if self.index is not None else f"meta_analyses (id {self.id})"
        return InvalidSpec([Problem(file, line, f"{where}.{key}", message)])

    def locate(self, key: str):
        """(file, line) of a spec key such as ``moderators[1]``, for error messages."""
        for path, file, line in self.where:
            if path == key:
                return file, line
        return self.where[0][1] if self.where else "", None


@dataclass(frozen=True)
class SensitivityEntry:
    """One ``sensitivity:`` entry: a registered analysis and its (checked) parameters."""

    name: str
    params: tuple = ()  # ((name, value), ...) with the defaults filled in

    @property
    def kwargs(self) -> dict:
        return dict(self.params)


@dataclass(frozen=True)
class AnalysisSpec:
    title: str
    trials: tuple  # paths / globs, relative to the spec's folder
    meta_analyses: tuple
    description: str | None = None
    path: str = ""
    sha256: str = ""
    base: Path = Path(".")
    #: the line of each ``trials:`` entry, for errors about them
    trials_lines: tuple = ()

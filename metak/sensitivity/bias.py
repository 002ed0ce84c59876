"""Bias from unblinding: published meta-epidemiological estimates, put on an analysis's scale.

A meta-epidemiological study compares, across many meta-analyses, trials with a design flaw
(no or unclear blinding) to trials without it. Its answer is a ratio of odds ratios (ROR,
flawed over sound) with outcomes coded so that OR < 1 is benefit: ROR < 1 means the flawed
trials show *more* benefit. Hróbjartsson et al. (2014) give a difference in SMD instead.

metak turns a source into a **shift** on the analysis scale, ``b = -log ROR`` (positive: the
flaw exaggerates benefit), with its standard error from the CI on the log scale,
``(log hi - log lo) / (2 z_0.975)``, and for MetaBLIND the between-trial (kappa) and
between-meta-analysis (phi) heterogeneity of the bias. A non-adequate trial's effect is then
``yi_adj = yi - s b`` (``s = +1`` when higher is better, ``-1`` otherwise) with
``vi_adj = vi + se² (+ kappa² + phi²)``: the trial-level bias model of Welton et al. (2009)
with each trial's bias drawn independently. (A bias shared by all flawed trials of the
meta-analysis would correlate them; treating phi as independent per trial understates that
part of the uncertainty, and the output says so where phi enters.) For ROR < 1 this is the
``yi - s |log ROR|`` of the issue; for ROR > 1 (flawed trials showing less benefit) the
adjustment moves the other way, as the ROR says.

Scales. An ROR is on the log odds-ratio scale. It is applied to a log risk ratio or log hazard
ratio as an approximation (stated), and to an SMD through Chinn's (2000) conversion
``SMD = log OR * sqrt(3) / pi``; an SMD source is converted to log OR the same way. A mean or
risk difference has no link to either: give the bias on the analysis scale as
``{difference: b, ci: [lo, hi]}``.

References
----------
Savović J, et al. Influence of reported study design characteristics on intervention effect
estimates from randomized, controlled trials. Ann Intern Med 2012;157:429-438.
Hróbjartsson A, et al. Observer bias in randomized clinical trials with binary outcomes. BMJ
2012;344:e1119. Hróbjartsson A, et al. Bias due to lack of patient blinding in clinical
trials. Int J Epidemiol 2014;43:1272-1283 (both as summarised in Page MJ, et al. PLoS One
2016;11:e0159267, Table 3).
Moustgaard H, et al. Impact of blinding on estimated treatment effects in randomised clinical
trials: meta-epidemiological study (MetaBLIND). BMJ 2020;368:l6802.
Welton NJ, et al. Models for potentially biased evidence in meta-analysis using empirically
based priors. J R Stat Soc A 2009;172:119-136.
Chinn S. A simple method for converting an odds ratio to effect size for use in
meta-analysis. Stat Med 2000;19:3127-3131.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..vocab import LOG_MEASURES

#: z for the 95% CIs the sources report
Z95 = 1.959963984540054
#: Chinn (2000): SMD = log OR * CHINN
CHINN = math.sqrt(3.0) / math.pi


@dataclass(frozen=True)
class BiasSource:
    """A bias estimate: an ROR (scale "log_or") or a difference (scale "smd" or "analysis")."""

    name: str
    citation: str
    scale: str            # "log_or" | "smd" | "analysis"
    value: float          # the ROR for "log_or", else the difference (negative: benefit exaggerated)
    ci: tuple             # its 95% interval, same scale as value
    kappa: float = 0.0    # SD of the bias between trials (MetaBLIND's kappa), analysis scale of the source
    phi: float = 0.0      # SD of the mean bias between meta-analyses (MetaBLIND's phi)

    @property
    def log_ror(self) -> float | None:
        return math.log(self.value) if self.scale == "log_or" else None

    @property
    def log_ror_se(self) -> float | None:
        if self.scale != "log_or":
            return None
        return (math.log(self.ci[1]) - math.log(self.ci[0])) / (2 * Z95)

    @property
    def native(self) -> tuple[float, float]:
        """(shift, se) on the source's own scale; shift > 0 exaggerates benefit."""
        if self.scale == "log_or":
            return -self.log_ror, self.log_ror_se
        return -self.value, (self.ci[1] - self.ci[0]) / (2 * Z95)


PRESETS: dict[str, BiasSource] = {s.name: s for s in (
    BiasSource("savovic2012", "Savović et al. 2012 (BRANDO), Ann Intern Med 157:429-438: lack of or unclear "
               "double blinding, subjective outcomes, ROR 0.77 (95% CI 0.61-0.93) (as summarised in Page et al. "
               "2016, PLoS One 11:e0159267)", "log_or", 0.77, (0.61, 0.93)),
    BiasSource("hrobjartsson2012", "Hróbjartsson et al. 2012, BMJ 344:e1119: lack of blinding of outcome "
               "assessors, subjective binary outcomes, ROR 0.64 (95% CI 0.43-0.96) (Page et al. 2016, Table 3)",
               "log_or", 0.64, (0.43, 0.96)),
    BiasSource("hrobjartsson2014", "Hróbjartsson et al. 2014, Int J Epidemiol 43:1272-1283: lack of blinding "
               "of participants, subjective outcomes, difference in SMD -0.56 (95% CI -0.71 to -0.41) "
               "(Page et al. 2016, Table 3)", "smd", -0.56, (-0.71, -0.41)),
    BiasSource("metablind2020_participants", "Moustgaard et al. 2020 (MetaBLIND), BMJ 368:l6802: lack of "
               "blinding of patients, patient-reported outcomes, ROR 0.91 (95% CrI 0.61-1.35), "
               "phi 0.20, kappa 0.21", "log_or", 0.91, (0.61, 1.35), kappa=0.21, phi=0.20),
    BiasSource("metablind2020_double", "Moustgaard et al. 2020 (MetaBLIND), BMJ 368:l6802: lack of or unclear "
               "double blinding, all outcomes, ROR 0.99 (95% CrI 0.86-1.09), phi 0.07, kappa 0.06",
               "log_or", 0.99, (0.86, 1.09), kappa=0.06, phi=0.07),
    BiasSource("metablind2020_pro_benefit", "Moustgaard et al. 2020 (MetaBLIND), BMJ 368:l6802: patient-reported "
               "benefit outcomes, ROR 0.89 (95% CrI 0.57-1.40), phi 0.15, kappa 0.12",
               "log_or", 0.89, (0.57, 1.40), kappa=0.12, phi=0.15),
)}


def applicable(source: BiasSource, measure: str) -> bool:
    """Whether ``source`` can be put on the scale of ``measure``."""
    if source.scale == "analysis":
        return True
    return measure in LOG_MEASURES or measure == "SMD"


@dataclass(frozen=True)
class Shift:
    """A bias source on one analysis's scale."""

    source: BiasSource
    shift: float      # b: positive exaggerates benefit
    se: float
    extra_var: float  # se² + kappa² + phi², added to each non-adequate trial's vi
    notes: tuple = ()

    def to_dict(self) -> dict:
        s = self.source
        return {"source": s.name, "citation": s.citation, "log_ror": s.log_ror, "log_ror_se": s.log_ror_se,
                "source_scale": s.scale, "shift": self.shift, "shift_se": self.se, "kappa": s.kappa or None,
                "phi": s.phi or None, "added_variance": self.extra_var, "notes": list(self.notes)}


def on_scale(source: BiasSource, measure: str) -> Shift:
    """Put ``source`` on the scale of ``measure`` (see the module notes)."""
    b, se = source.native
    factor, notes = 1.0, []
    if source.scale == "log_or":
        if measure in ("RR", "HR"):
            notes.append(f"a ratio of odds ratios applied to the log {measure} as an approximation")
        elif measure == "SMD":
            factor = CHINN
            notes.append("ratio of odds ratios converted to the SMD scale: log ROR x sqrt(3)/pi (Chinn 2000)")
        elif measure not in LOG_MEASURES:
            raise ValueError(f"a ratio of odds ratios does not apply to measure {measure}")
    elif source.scale == "smd":
        if measure in LOG_MEASURES:
            factor = 1.0 / CHINN
            notes.append("SMD difference converted to the log odds-ratio scale: d x pi/sqrt(3) (Chinn 2000)"
                         + ("" if measure in ("OR", "PETO") else f", applied to the log {measure} as an approximation"))
        elif measure != "SMD":
            raise ValueError(f"a difference in SMD does not apply to measure {measure}")
    kappa, phi = source.kappa * factor, source.phi * factor
    if phi:
        notes.append("phi (the spread of the mean bias between meta-analyses) is added to each trial's variance "
                     "as if independent between trials, which understates the uncertainty of a bias shared by "
                     "all of them")
    return Shift(source, b * factor, se * factor, (se * factor) ** 2 + kappa**2 + phi**2, tuple(notes))


def ror_of(shift: float, measure: str) -> float | None:
    """The ROR a shift on the analysis scale corresponds to (None for MD and RD)."""
    if measure in LOG_MEASURES:
        return math.exp(-shift)
    if measure == "SMD":
        return math.exp(-shift / CHINN)
    return None


# --------------------------------------------------------------------------- spec parsers

def parse_bias(c, path, value, measure):
    """``{ror: 0.77, ci: [0.61, 0.93]}`` | ``{smd: -0.56, ci: [...]}`` | ``{difference: b, ci: [...]}``
    | ``{preset: name}``, optionally with ``kappa`` and ``phi`` -> BiasSource."""
    if not isinstance(value, dict):
        c.add(path, "must be a mapping: {ror: 0.77, ci: [0.61, 0.93]} or {preset: savovic2012}")
        return None
    if "preset" in value:
        c.mapping(path, ("preset",))
        name = value["preset"]
        if not isinstance(name, str) or name not in PRESETS:
            from ..records.checker import did_you_mean
            c.add(path + ("preset",), f"{name!r} is not a bias preset{did_you_mean(str(name), tuple(PRESETS))}; "
                                      f"known: {', '.join(PRESETS)}")
            return None
        src = PRESETS[name]
        if measure is not None and not applicable(src, measure):
            c.add(path + ("preset",), f"preset {name} is on the {src.scale} scale, which does not apply to measure "
                                      f"{measure}; give the bias on the analysis scale as {{difference: b, ci: [lo, hi]}}")
            return None
        return src
    kinds = [k for k in ("ror", "smd", "difference") if k in value]
    if len(kinds) != 1:
        c.add(path, "give exactly one of ror, smd, difference (with ci), or preset")
        return None
    kind = kinds[0]
    if c.mapping(path, (kind, "ci"), ("kappa", "phi")) is None:
        return None
    est = c.number(path + (kind,), positive=(kind == "ror"))
    ci = value.get("ci")
    lo = hi = None
    if not isinstance(ci, list) or len(ci) != 2:
        c.add(path + ("ci",), "must be a list of two numbers [lower, upper]")
    else:
        lo = c.number(path + ("ci", 0), positive=(kind == "ror"))
        hi = c.number(path + ("ci", 1), positive=(kind == "ror"))
    extra = {k: c.number(path + (k,), minimum=0.0) for k in ("kappa", "phi") if k in value}
    if est is None or lo is None or hi is None or None in extra.values():
        return None
    if not lo < hi:
        c.add(path + ("ci",), f"the lower limit must be below the upper, got [{lo}, {hi}]")
        return None
    if not lo <= est <= hi:
        c.add(path + ("ci",), f"the interval [{lo}, {hi}] does not contain the {kind} {est}")
        return None
    scale = {"ror": "log_or", "smd": "smd", "difference": "analysis"}[kind]
    src = BiasSource(f"user_{kind}", f"given in the analysis spec: {kind} {est:g} (95% CI {lo:g} to {hi:g})",
                     scale, est, (lo, hi), **extra)
    if measure is not None and not applicable(src, measure):
        c.add(path + (kind,), f"a {'ratio of odds ratios' if kind == 'ror' else 'difference in SMD'} does not apply "
                              f"to measure {measure}; give the bias on the analysis scale as "
                              "{difference: b, ci: [lo, hi]}")
        return None
    return src


@dataclass(frozen=True)
class Rule:
    max_bang: float = 0.2
    assessor: str = "participant"

    def text(self) -> str:
        return (f"adequate: {self.assessor} guesses with |Bang index| <= {self.max_bang:g} in every compared arm; "
                f"compromised: an arm above {self.max_bang:g}; unknown: no {self.assessor} guesses")


def parse_rule(c, path, value, measure):
    """``{max_bang: 0.2, assessor: participant}`` -> Rule."""
    from ..records.model import ASSESSORS

    if not isinstance(value, dict):
        c.add(path, "must be a mapping, e.g. {max_bang: 0.2, assessor: participant}")
        return None
    c.mapping(path, (), ("max_bang", "assessor"))
    out = {}
    if "max_bang" in value:
        mb = c.number(path + ("max_bang",))
        if mb is not None and not 0.0 <= mb <= 1.0:
            c.add(path + ("max_bang",), f"must be between 0 and 1 (a Bang index is in [-1, 1]), got {mb}")
            mb = None
        if mb is None:
            return None
        out["max_bang"] = mb
    if "assessor" in value:
        a = c.enum(path + ("assessor",), ASSESSORS)
        if a is None:
            return None
        out["assessor"] = a
    return Rule(**out)


def parse_effects(c, path, value, measure):
    """An assumed effect: a number, a list of numbers, or ``{from, to, steps}`` -> tuple of floats."""
    if isinstance(value, dict):
        if c.mapping(path, ("from", "to", "steps")) is None:
            return None
        a, b = c.number(path + ("from",)), c.number(path + ("to",))
        n = c.count(path + ("steps",), minimum=2)
        if None in (a, b, n):
            return None
        if n > 1001:
            c.add(path + ("steps",), f"at most 1001 steps, got {n}")
            return None
        return tuple(a + (b - a) * i / (n - 1) for i in range(n))
    if isinstance(value, list):
        if not value:
            c.add(path, "must not be empty")
            return None
        out = [c.number(path + (j,)) for j in range(len(value))]
        return None if None in out else tuple(out)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        c.add(path, f"must be a number, a list of numbers, or {{from, to, steps}}, got {value!r}")
        return None
    x = c.number(path)
    return None if x is None else (x,)

"""Number and label formatting for figures (pure Python: no matplotlib).

Every number a figure prints goes through one of these functions, so tests can compute the
exact text a figure must hold from the results document.  Negative numbers use the
typographic minus sign (U+2212), as journals print them and as matplotlib's tick labels do.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

from metak.format import _half_up, fixed, is_missing
from metak.format import effect as _effect
from metak.vocab import FIXED_METHODS as _FIXED
from metak.vocab import MEASURE_TABLE, METHOD_LABELS, PETO

MINUS = "\u2212"
EN_DASH = "\u2013"

#: Measure code -> (long name, short name for column headers), from metak.vocab; figures
#: name SMD without the "(Hedges' g)" of the tables
MEASURES: Mapping[str, tuple[str, str]] = {
    **{c: (m.label.split(" (")[0], m.short) for c, m in MEASURE_TABLE.items()},
    "PETO": (PETO.label, PETO.short),
    "GEN": ("Effect", "Effect"),
}

#: Estimator codes -> how a figure names the model.
METHODS: Mapping[str, str] = METHOD_LABELS

#: control_type values -> subgroup headings.
CONTROL_TYPES: Mapping[str, str] = {
    "placebo": "Inert placebo",
    "active_placebo": "Active placebo",
    "usual_care": "Usual care",
    "waitlist": "Waitlist",
    "active_comparator": "Active comparator",
}

FIXED_METHODS = frozenset(_FIXED)


def num(x, digits: int = 2) -> str:
    """``x`` with ``digits`` decimals and a typographic minus; ``""`` when missing."""
    s = fixed(x, digits, missing="")
    if s.startswith("-"):
        # -0.00 is printed as 0.00
        s = s[1:] if float(s) == 0 else MINUS + s[1:]
    return s


def general(x, sig: int = 4) -> str:
    """A data value as a reader would write it: up to ``sig`` significant digits, no
    trailing zeros (``12.7``, ``20``, ``0.025``)."""
    if is_missing(x):
        return ""
    if float(x) == int(x) and abs(x) < 1e6:
        s = str(int(x))
    else:
        s = f"{x:.{sig}g}"
        if "e" in s:
            s = f"{x:.{sig}f}".rstrip("0").rstrip(".")
    return s.replace("-", MINUS)


def effect_ci(est, lo, hi, digits: int = 2, ratio: bool = False) -> str:
    """``0.49 [0.34, 0.70]`` (metafor's layout); the CI alone when ``est`` is None.

    Every number through :func:`effect_num` (metak.format.effect: the formatter the terminal
    and the report use), so a column keeps its decimals: ``19.24 [0.99, 373.01]``,
    ``0.22 [0.000055, 848.96]``, ``3.44 [0.00017, 68981]``."""
    def n(x):
        return effect_num(x, digits, ratio)

    ci = f"[{n(lo)}, {n(hi)}]"
    if is_missing(lo) and is_missing(hi):
        ci = ""
    if is_missing(est):
        return ci
    return f"{n(est)} {ci}".strip()


def effect_num(x, digits: int = 2, ratio: bool = False) -> str:
    """One effect or CI bound: :func:`metak.format.effect` (``digits`` decimals from 10**-digits
    to 1,000, whole numbers above, two significant digits below;
    never scientific notation; halves rounded up) with the typographic minus.  Below 10**-digits
    only a ``ratio`` keeps two significant digits (0.000055 is not 0.00); a difference prints
    ``0.00``."""
    if is_missing(x):
        return ""
    if not ratio and abs(x) < 10 ** -digits:
        return num(x, digits)   # a difference near 0 is "0.00"; only a ratio needs its digits
    if digits == 2:
        s = _effect(x, missing="")
    else:
        a = abs(x)
        if a >= 999.5:
            s = str(int(_half_up(x, 0)))
        elif a == 0 or a >= 10 ** -digits:
            s = _half_up(x, digits)
        else:
            s = _half_up(x, 1 - math.floor(math.log10(a)))
    if s.startswith("-"):
        s = s[1:] if float(s.replace(",", "")) == 0 else MINUS + s[1:]
    return s


def p_value(p) -> str:
    """``p < 0.001``, ``p = 0.007``, ``p = 0.28``."""
    if is_missing(p):
        return ""
    if p < 0.001:
        return "p < 0.001"
    if p < 0.1:
        return f"p = {p:.3f}"
    return f"p = {p:.2f}"


def percent(x, digits: int = 0) -> str:
    """``92%``; ``x`` is already a percentage (0-100)."""
    if is_missing(x):
        return ""
    return f"{num(x, digits)}%"


def weight(w) -> str:
    """A study weight (a percentage) as ``9.7%``; ``""`` when null (k = 1)."""
    return "" if is_missing(w) else f"{w:.1f}%"


def tau2(t2) -> str:
    """tau² with 2 decimals, or 2 significant digits below 0.01 (``0``, ``0.0042``, ``0.34``)."""
    if is_missing(t2):
        return ""
    if t2 == 0:
        return "0"
    if abs(t2) < 0.01:
        return general(t2, 2)
    return num(t2, 2)


def level_label(level) -> str:
    """0.95 -> ``95%``."""
    level = 0.95 if is_missing(level) else level
    return f"{100 * level:g}%"


def arm_data(d) -> str:
    """One arm's data: ``13/27`` for binary, ``12.7 (7.6) 20`` for continuous, ``−4.1 (3.2) 20``
    for a pre_post arm (the mean change, final − baseline, and the SD of the change from the two
    SDs and their correlation r), ``7/120.5`` events/person-time, ``0.41 (35)`` r (n)."""
    if not isinstance(d, Mapping):
        return ""
    if "events" in d and "total" in d:
        return f"{general(d['events'])}/{general(d['total'])}"
    if "events" in d and "person_time" in d:
        return f"{general(d['events'])}/{general(d['person_time'])}"
    if {"mean", "sd", "n"} <= set(d):
        return f"{_data(d['mean'])} ({_data(d['sd'])}) {general(d['n'])}"
    if {"baseline", "final", "r", "n"} <= set(d):
        b, f = d["baseline"], d["final"]
        if any(is_missing(x) for x in (b.get("mean"), f.get("mean"), b.get("sd"), f.get("sd"), d["r"])):
            return ""
        sd = math.sqrt(max(b["sd"] ** 2 + f["sd"] ** 2 - 2 * d["r"] * b["sd"] * f["sd"], 0.0))
        return f"{_data(round(f['mean'] - b['mean'], 10))} ({_data(round(sd, 10))}) {general(d['n'])}"
    if {"r", "n"} <= set(d) and not is_missing(d["r"]):
        return f"{num(d['r'], 2)} ({general(d['n'])})"
    return ""


def _data(x) -> str:
    """A mean or SD: as reported up to 2 decimals (``12.7``, ``20``), a longer value (one
    converted from a median and IQR: −3.764) rounded to 2 (``−3.76``; F16)."""
    if is_missing(x):
        return ""
    if float(x) != round(float(x), 2):
        return num(x, 2)
    return general(x)


def humanise(value) -> str:
    """A characteristic's value as a heading: ``north_america`` -> "North America", ``high`` ->
    "High"; text already written for readers ("BCG", "North America") is kept."""
    import re

    v = str(value)
    if not re.fullmatch(r"[a-z0-9_\-]+", v):
        return v
    words = v.replace("_", " ").split()
    if len(words) > 1:
        return " ".join(w[:1].upper() + w[1:] for w in words)
    return capitalise(v)


def arm_rate(d, digits: int = 0) -> str:
    """``5/27 (19%)`` for an arm with events and total (dropout tables)."""
    if not isinstance(d, Mapping) or "events" not in d or not d.get("total"):
        return ""
    return f"{arm_data(d)} ({num(100 * d['events'] / d['total'], digits)}%)"


def pretty_id(arm_id: str) -> str:
    """``active_placebo`` -> ``active placebo`` (ids are [a-z0-9_-])."""
    return str(arm_id).replace("_", " ")


def capitalise(s: str) -> str:
    return s[:1].upper() + s[1:]


def heterogeneity(p, mv, k) -> str:
    """``Heterogeneity: τ² = 0.34; I² = 92%; Q = 163.16, df = 12 (p < 0.001)`` from the Pooled
    record ``p``, the multivariate record ``mv`` (or None) and the number of studies ``k``."""
    parts = []
    if mv is not None:  # the two variance components of the multilevel model
        parts.append(f"\u03c3\u00b2 trial = {tau2(mv.sigma2_trial)}, "
                     f"comparison = {tau2(mv.sigma2_comparison)}")
    if not is_missing(p.tau2):
        parts.append(f"\u03c4\u00b2 = {tau2(p.tau2)}")
    if not is_missing(p.i2):
        parts.append(f"I\u00b2 = {percent(p.i2)}")
    if not is_missing(p.q):
        q = f"Q = {num(p.q)}" + (f", df = {general(p.q_df)}" if not is_missing(p.q_df) else "")
        parts.append(q + (f" ({p_value(p.q_p)})" if not is_missing(p.q_p) else ""))
    if not parts:
        return "Heterogeneity: not applicable" if (k or 0) <= 1 else ""
    return "Heterogeneity: " + "; ".join(parts)


def overall_test(p, test) -> str:
    """``Test for overall effect: t = −3.99, df = 12 (p = 0.002)`` or ``z = 2.46 (p = 0.014)``
    from the Pooled record ``p`` and ``model.test``."""
    if is_missing(p.statistic):
        return ""
    s = f"z = {num(p.statistic)}" if is_missing(p.df) else \
        f"t = {num(p.statistic)}, df = {general(p.df)}"
    if not is_missing(p.p_value):
        s += f" ({p_value(p.p_value)})"
    hk = str(test or "").lower() in ("hksj", "knha") and not is_missing(p.df)
    return f"Test for overall effect{' (Hartung' + EN_DASH + 'Knapp)' if hk else ''}: {s}"


def model_label(ma: Mapping) -> str:
    """``Random effects (REML)``, ``Common effect (Mantel–Haenszel)``."""
    method = ((ma.get("model") or {}).get("method") or "").upper()
    if isinstance(ma.get("multivariate"), Mapping) and method not in FIXED_METHODS:
        return f"Multilevel ({method})"
    if method in FIXED_METHODS:
        return f"Common effect ({METHODS[method]})"
    if not method:
        return "Pooled estimate"
    return f"Random effects ({method})"


def subgroup_test(t) -> str:
    """``Test for subgroup differences: Q = 3.10, df = 1 (p = 0.078); I² = 68%`` from a record with
    q_between, df_between, p_between, i2_between."""
    if is_missing(t.q_between):
        return ""
    s = f"Test for subgroup differences: Q = {num(t.q_between)}"
    s += f", df = {general(t.df_between)}" if not is_missing(t.df_between) else ""
    s += f" ({p_value(t.p_between)})" if not is_missing(t.p_between) else ""
    return s + (f"; I\u00b2 = {percent(t.i2_between)}" if not is_missing(t.i2_between) else "")


def mixed_effects_test(m) -> str:
    """``Mixed-effects test (common τ²): QM = 1.77, df = 2 (p = 0.41)``, or F under Knapp-Hartung,
    from a MixedEffects record (or None)."""
    if m is None or is_missing(m.qm):
        return ""
    head = "Mixed-effects test (common \u03c4\u00b2): "
    if isinstance(m.qm_df, (list, tuple)):
        s = f"{head}F({general(m.qm_df[0])}, {general(m.qm_df[1])}) = {num(m.qm)}"
    else:
        s = f"{head}QM = {num(m.qm)}, df = {general(m.qm_df)}"
    return s + (f" ({p_value(m.qm_p)})" if not is_missing(m.qm_p) else "")




def probability(p) -> str:
    """A posterior probability with 3 decimals, never printed as a certain 0 or 1."""
    if is_missing(p):
        return ""
    if p >= 0.9995:
        return "> 0.999"
    if p < 0.0005:
        return "< 0.001"
    return f"{p:.3f}"

"""A plain-text table putting the frequentist and Bayesian estimates side by side.

It reads a meta-analysis's results object (the JSON form in contract section 3) and computes
nothing but formatting; ratio measures are shown on the natural scale (exp of the analysis
scale).
"""

from __future__ import annotations

import math

from .spec import RATIO_MEASURES

__all__ = ["side_by_side"]


def _exp(x):
    """exp(x), inf beyond a double (a ratio of e^1e12 under an extreme prior is shown as inf)."""
    return math.exp(x) if x < 709.0 else math.inf


def _interval(lo, hi, natural):
    if lo is None or hi is None:
        return "-"
    if natural:
        lo, hi = _exp(lo), _exp(hi)
    return f"[{lo:.3g}, {hi:.3g}]"


def _value(x, natural):
    if x is None:
        return "-"
    return f"{_exp(x) if natural else x:.3g}"


def side_by_side(ma: dict) -> str:
    """Rows: mean effect, tau and the prediction interval, frequentist | Bayesian.

    ``ma`` is one entry of ``meta_analyses`` in results.json (it must hold ``bayes``).
    """
    bayes = ma.get("bayes") or {}
    natural = ma.get("measure") in RATIO_MEASURES
    label = f"{ma.get('measure', 'effect')}" + (" (natural scale)" if natural else "")
    level = bayes.get("level", ma.get("model", {}).get("level", 0.95))
    tau_ci = ma.get("tau_ci") or [None, None]
    mu_b, tau_b, pred_b = bayes.get("mu", {}), bayes.get("tau", {}), bayes.get("predictive", {})
    method = ma.get("model", {}).get("method", "frequentist")
    rows = [
        ("", f"{method}", f"Bayes ({bayes.get('engine', '?')})"),
        (f"{label}: estimate", _value(ma.get("estimate"), natural), _value(mu_b.get("median"), natural)
         + " (median)"),
        (f"  {level:.0%} interval", _interval(ma.get("ci_lower"), ma.get("ci_upper"), natural),
         _interval(mu_b.get("ci_lower"), mu_b.get("ci_upper"), natural)),
        ("tau: estimate", _value(ma.get("tau"), False), _value(tau_b.get("median"), False) + " (median)"),
        (f"  {level:.0%} interval", _interval(tau_ci[0], tau_ci[1], False),
         _interval(tau_b.get("ci_lower"), tau_b.get("ci_upper"), False)),
        ("prediction interval", _interval(ma.get("pi_lower"), ma.get("pi_upper"), natural),
         _interval(pred_b.get("ci_lower"), pred_b.get("ci_upper"), natural)),
        ("P(benefit)", "-", "-" if bayes.get("prob_benefit") is None else f"{bayes['prob_benefit']:.3f}"),
    ]
    widths = [max(len(r[i]) for r in rows) for i in range(3)]
    lines = ["  ".join(cell.ljust(widths[i]) for i, cell in enumerate(r)).rstrip() for r in rows]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)

"""The ``blinding`` sensitivity analysis (docs/format.md, section 3.9): each trial classified
adequate / compromised / unknown from the Bang index of its compared arms, the restricted
analysis, the Bang meta-regression, the bias-adjusted analysis (one source and every published
one), the tipping point with its curve, and the Bayesian bias model. The indices themselves are
in :mod:`metak.sensitivity.blinding_index`; the refit helpers in :mod:`metak.sensitivity.refit`.
"""

from __future__ import annotations

import numpy as np

from ..errors import MetakError
from ..schema.record import from_dict
from . import blinding_index
from .blinding_index import indices
from .blinding_record import BlindingIndex, BlindingResult
from .refit import FIT_KEYS, benefit_sign, finite_rows, iv_model, null_fit, refit, shifted


# ----------------------------------------------------------------------------- the analysis
# Classification, restricted analysis, Bang meta-regression, bias-adjusted analysis (one source
# and every published one), tipping point, and the Bayesian bias model: the
# ``sensitivity.blinding`` object (docs/format.md, section 3.9).


def classify(table, rule) -> list[dict]:
    """Each trial of the table as ``adequate`` / ``compromised`` / ``unknown`` under ``rule``
    (a :class:`metak.sensitivity.bias.Rule`), from the Bang index of every compared arm."""
    arms: dict = {}
    first: dict = {}
    for r in table.rows:
        first.setdefault(r.trial, r)
        roles = arms.setdefault(r.trial, {})
        exp, ctl = _compared_arms(r)
        for a in exp:
            roles.setdefault(a, "experimental")
        for a in ctl:
            roles.setdefault(a, "control")
    out = []
    for trial, r in first.items():
        t = r.record
        rows = [g for g in (t.blinding.guesses if t is not None and t.blinding is not None else ())
                if g.assessor == rule.assessor]
        entry = {"trial": trial, "label": r.label, "status": "unknown", "reason": "", "bang": {}}
        if not rows:
            entry["reason"] = f"no {rule.assessor} allocation guesses reported"
            out.append(entry)
            continue
        by_arm = {g.arm: g for g in rows}
        over, missing = [], []
        if not arms[trial]:
            entry["reason"] = "the compared arms are not known for this row"
            out.append(entry)
            continue
        for arm, role in arms[trial].items():
            g = by_arm.get(arm)
            if g is None:
                missing.append(arm)
                continue
            own, other = ("guessed_experimental", "guessed_control")[:: 1 if role == "experimental" else -1]
            bi = blinding_index.bang(getattr(g, own), getattr(g, other), g.dont_know)["estimate"]
            entry["bang"][arm] = bi
            if bi is None:
                missing.append(arm)
            elif abs(bi) > rule.max_bang:
                over.append(f"{arm} {bi:.2f}")
        if over:
            entry["status"] = "compromised"
            entry["reason"] = f"|Bang index| > {rule.max_bang:g} in arm(s) {', '.join(over)}"
        elif missing:
            entry["reason"] = f"no {rule.assessor} guesses for arm(s) {', '.join(missing)}"
        else:
            entry["status"] = "adequate"
            entry["reason"] = (f"|Bang index| <= {rule.max_bang:g} in every compared arm ("
                               + ", ".join(f"{a} {v:.2f}" for a, v in entry["bang"].items()) + ")")
        out.append(entry)
    return out


def _compared_arms(r) -> tuple[tuple, tuple]:
    """The arm ids a row compares: its comparison's, or a reported contrast's."""
    if r.comparison is not None:
        return tuple(r.comparison.experimental), tuple(r.comparison.control)
    o = r.record.outcome(r.outcome) if r.record is not None and r.outcome else None
    data = getattr(o, "data", None)
    if o is not None and o.type == "contrast":
        return tuple(data.experimental), tuple(data.control)
    return (), ()


def _ci_side(fit, s):
    """s x (the CI limit nearest the null): > 0 while the CI excludes the null on the benefit side."""
    return s * fit.ci_lower if s > 0 else -fit.ci_upper


def tipping_point(model, table, mask, s: int, *, upper: float = 10.0, grid: int = 1001) -> dict:
    """The smallest b >= 0 with which shifting the ``mask`` rows' yi by -s b (variance unchanged)
    makes the CI include the null: a scan over [0, upper] for the first change of side, then
    Brent's method in that bracket."""
    from scipy.optimize import brentq

    m = np.asarray(mask, bool)
    out = {"bias": None, "ror": None, "k_shifted": int(m.sum()), "reason": None}
    if not m.any():
        out["reason"] = "every trial is adequately blinded: no trial to shift"
        return out

    def g(b):
        return _ci_side(model.fit(shifted(table, m, b, 0.0, s)), s)

    try:
        g0 = g(0.0)
    except MetakError as exc:
        out["reason"] = f"not estimable: {exc}"
        return out
    if g0 <= 0:
        r0 = model.fit(table)
        harm = s * r0.estimate < 0 and _ci_side(r0, -s) > 0
        out["reason"] = ("the CI excludes the null on the side of harm: a bias that exaggerates benefit cannot "
                         "bring it to the null" if harm else "the CI already includes the null")
        return out
    bs = np.linspace(0.0, upper, grid)
    prev = 0.0
    for b in bs[1:]:
        try:
            side = g(b)
        except MetakError:  # a refit without an estimate at this bias: step over it
            continue
        if side <= 0:
            try:
                out["bias"] = float(brentq(g, prev, b, xtol=1e-12, rtol=4 * np.finfo(float).eps, maxiter=200))
            except (MetakError, ValueError) as exc:
                out["reason"] = f"the CI reaches the null between b = {prev:g} and {b:g}, but no root was found: {exc}"
            return out
        prev = b
    out["reason"] = f"no bias up to {upper:g} on the analysis scale brings the CI to the null"
    return out


def curve(model, table, mask, s: int, upper: float, n: int = 81) -> list[dict]:
    """The pooled estimate and CI with the ``mask`` rows shifted by -s b, b in [0, upper]."""
    out = []
    for b in np.linspace(0.0, upper, n):
        try:
            r = model.fit(shifted(table, mask, b, 0.0, s))
        except MetakError:
            out.append({"bias": float(b), "estimate": None, "ci_lower": None, "ci_upper": None})
            continue
        out.append({"bias": float(b), "estimate": float(r.estimate), "ci_lower": float(r.ci_lower),
                    "ci_upper": float(r.ci_upper)})
    return out


def _bayes_adjusted(ctx, table, notes):
    """The Bayesian model with each non-adequate trial's bias ~ N(b, se² + kappa² + phi²):
    marginally that is the normal likelihood of the adjusted yi with the added variance, which
    the exact quadrature engine fits exactly."""
    from ..bayes.common import sensitivity_exact
    from ..bayes.spec import exact_supports_mu

    spec = ctx.spec.bayes
    if not exact_supports_mu(spec.mu_prior):
        notes.append("bayes: the prior on mu is not one the exact engine takes; no Bayesian bias model")
        return None
    warnings: list = []
    res = sensitivity_exact(table.yi, table.vi, spec.mu_prior, spec.tau_prior, ctx.model.level,
                             table.direction, warnings)
    res = {k: v for k, v in res.items() if k != "method"}
    res["engine"] = "exact"
    notes.extend(f"bayes: {w}" for w in warnings)
    return res


def adjusted(ctx, table, mask, shift, s, notes, *, bayes: bool = False) -> dict:
    """The bias-adjusted fit for one source (a :class:`metak.sensitivity.bias.Shift`)."""
    tab = shifted(table, mask, shift.shift, shift.extra_var, s)
    fit, why = refit(iv_model(ctx.model), tab)
    out = {**shift.to_dict(), "k_adjusted": int(np.asarray(mask, bool).sum())}
    out.update(fit or null_fit(reason=why))
    if bayes:
        out["bayes"] = _bayes_adjusted(ctx, tab, notes)
    return out


def blinding_indices(table, level: float) -> tuple[BlindingIndex, ...]:
    """Bang and James indices (:func:`indices`) per trial, assessor and compared pair of
    single arms of the table's comparisons, where both arms report guesses."""
    out = []
    seen = set()
    for r in table.rows:
        t = r.record
        if r.comparison is None or t is None or t.blinding is None or not t.blinding.guesses:
            continue
        exp, ctl = r.comparison.experimental, r.comparison.control
        if len(exp) != 1 or len(ctl) != 1:
            continue
        for who in sorted({g.assessor for g in t.blinding.guesses}):
            rows = [g for g in t.blinding.guesses if g.assessor == who]
            have = {g.arm for g in rows}
            if exp[0] not in have or ctl[0] not in have or (t.id, who, exp[0], ctl[0]) in seen:
                continue
            seen.add((t.id, who, exp[0], ctl[0]))
            out.append(from_dict(BlindingIndex, indices(t, rows, exp[0], ctl[0], level)))
    return tuple(out)


def _bang_regression(ctx, table, assessor, notes):
    """Meta-regression of the effect on the experimental arm's Bang index (the rule's assessor)."""
    xs = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        x = None
        if t is not None and t.blinding is not None and comp is not None and len(comp.experimental) == 1:
            g = next((g for g in t.blinding.guesses if g.assessor == assessor and g.arm == comp.experimental[0]), None)
            if g is not None:
                x = blinding_index.bang(g.guessed_experimental, g.guessed_control, g.dont_know)["estimate"]
        xs.append(np.nan if x is None else x)
    x = np.asarray(xs, float)
    keep = np.isfinite(x) & np.isfinite(table.yi)
    if keep.sum() < 3:
        return None, (f"meta-regression on the Bang index needs >= 3 comparisons with {assessor} guesses for the "
                      f"experimental arm; {int(keep.sum())} have them")
    if np.ptp(x[keep]) == 0:
        return None, "every comparison has the same Bang index: no meta-regression"
    sub = table.subset(keep)
    X = np.column_stack([np.ones(int(keep.sum())), x[keep]])
    try:
        reg = iv_model(ctx.model, notes, "bang regression: ").fit(sub, X, names=["intercept", "bang"],
                                                                  moderators=["bang"])
    except MetakError as exc:
        return None, f"meta-regression on the Bang index not estimable: {exc}"
    return reg.to_dict(), None


def run(ctx, params) -> BlindingResult:
    from . import bias as B

    level = ctx.model.level
    base = blinding_indices(ctx.table, level)
    if not base:
        ctx.warnings.append("blinding: no included trial reports allocation guesses for both compared arms")
    rule = params.get("rule") or B.Rule()
    notes: list[str] = []
    reasons: dict = {}
    classes = classify(ctx.table, rule)
    if all(c["status"] == "unknown" for c in classes):
        ctx.warnings.append(f"blinding: no trial reports {rule.assessor} allocation guesses; every trial is "
                            "classified 'unknown' (not adequate), so the bias analyses treat all of them as at risk")
    status = {c["trial"]: c["status"] for c in classes}
    table = ctx.table
    adequate = np.array([status[r.trial] == "adequate" for r in table.rows], bool)

    restricted, why = refit(ctx.model, table.subset(adequate))
    if restricted is None:
        reasons["restricted"] = "no trial is adequately blinded" if not adequate.any() else why
    bang_reg, why = _bang_regression(ctx, table, rule.assessor, notes)
    if bang_reg is None:
        reasons["bang_regression"] = why

    s = benefit_sign(table.direction)
    fin = finite_rows(table)
    if fin.k < table.k:
        notes.append(f"{table.k - fin.k} double-zero stud(y/ies) without an effect size of their own are left "
                     "out of the shifted refits")
    mask = np.array([status[r.trial] != "adequate" for r in fin.rows], bool)
    measure = "OR" if ctx.model.method == "PETO" else ctx.spec.measure
    model = iv_model(ctx.model, notes, "bias analyses: ")
    bias_src = params.get("bias")
    bias_adj = None
    if bias_src is not None:
        sh = B.on_scale(bias_src, measure)
        bias_adj = adjusted(ctx, fin, mask, sh, s, notes, bayes=ctx.spec.bayes is not None)
    else:
        reasons["bias_adjusted"] = "no bias given (bias: {ror: .., ci: [..]} or {preset: ..})"
    by_source = []
    for src in B.PRESETS.values():
        if B.applicable(src, measure):
            e = adjusted(ctx, fin, mask, B.on_scale(src, measure), s, [])
            by_source.append({key: e[key] for key in ("source", "citation", "log_ror", "log_ror_se", "shift",
                                                      "shift_se", "added_variance", "k_adjusted", "k") + FIT_KEYS})
    tip = tipping_point(model, fin, mask, s)
    tip["ror"] = None if tip["bias"] is None else B.ror_of(tip["bias"], measure)
    tip["null"] = 0.0
    shifts = [abs(e["shift"]) for e in by_source] + ([abs(bias_adj["shift"])] if bias_adj else [])
    upper = max([0.5] + [1.3 * x for x in shifts] + ([1.5 * tip["bias"]] if tip["bias"] else []))
    tip["curve"] = curve(model, fin, mask, s, min(upper, 10.0)) if mask.any() else []
    extra = {"indices": base, "rule": {"max_bang": rule.max_bang, "assessor": rule.assessor, "text": rule.text()},
             "classification": classes, "restricted": restricted, "bang_regression": bang_reg,
             "bias_adjusted": bias_adj, "by_source": by_source, "tipping_point": tip,
             "sign": s, "reasons": reasons, "notes": notes}
    if params.get("bias_model") == "shared":  # contract §6.3: metak/sensitivity/shared_bias_analysis.py
        from .shared_bias_analysis import run as shared_run

        extra["shared_bias"] = shared_run(ctx, fin, mask, s, params, measure, notes, bias_adj)
    elif params.get("shared") is not None:
        notes.append("shared: is read with bias_model: shared only; no shared-bias model was fitted")
    from .cgrc import run as cgrc_run  # outcomes by arm x guess in the records (Szigeti et al. 2023)

    cg = cgrc_run(ctx, notes)
    if cg is not None:
        extra["cgrc"] = cg
    ctx.warnings.extend(f"blinding: {n}" for n in notes)
    return from_dict(BlindingResult, extra)


def check(c, path, values, meta) -> None:
    """The spec's check (registry ``check=``): blinding compares an experimental arm with its
    control; a single-arm measure (docs/measures.md: PLO, PR, PLN, PAS, PFT, IRLN, COR, ZCOR, MC,
    SMCC, SMCR, SMCRH) pools one arm type and has no comparison whose bias could be adjusted or
    tipped, so asking for it is an error at the entry's line."""
    from ..vocab import SINGLE_ARM_MEASURES

    measure = meta.get("measure")
    if measure in SINGLE_ARM_MEASURES:
        c.add(path, f"blinding compares each trial's experimental and control arms, but {measure} is a single-arm "
                    "measure (each row is one arm's own data): there is no between-arm effect to adjust for "
                    "unblinding or to tip; remove blinding from sensitivity, or use a two-arm measure")

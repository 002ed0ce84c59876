"""Blinding indices: Bang et al. (2004) per arm and James et al. (1996) per pair of arms.

Both indices summarise end-of-trial allocation guesses ("which treatment do you think you
received?") as the contract's "Blinding indices" paragraph defines them. The guesses of one
assessor type for a pair of arms form a 3 x 2 table::

                      actual experimental   actual control
    guess experimental        n11                n12
    guess control             n21                n22
    don't know                n31                n32

Every function returns plain floats (JSON-ready); a value that is undefined (no answers, a
zero denominator) is ``None``, never NaN.

References
----------
.. [1] James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing blindness
   in a multi-centre clinical trial: disulfiram for alcohol cessation -- a VA cooperative
   study. *Stat Med* 1996;15(13):1421-1434. doi:10.1002/(SICI)1097-0258(19960715)15:13<1421::AID-SIM266>3.0.CO;2-H
.. [2] Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. *Control Clin
   Trials* 2004;25(2):143-156. doi:10.1016/j.cct.2003.10.016
.. [3] Mercaldo ND, Schwartz M. BI: Blinding Assessment Indexes for Randomized, Controlled,
   Clinical Trials. R package, https://cran.r-project.org/package=BI
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from collections.abc import Iterable, Mapping

import numpy as np
from scipy import stats

__all__ = ["bang", "james", "indices", "guess_table", "JAMES_WEIGHTS"]

#: James et al. (1996) disagreement weights for the guessers' 2 x 2 part of the table
#: (rows guess E / guess C, columns actual E / actual C): correct 0, incorrect 1/2.
#: Don't-know answers carry weight 1 through ``P_dk`` in the index itself.
JAMES_WEIGHTS = np.array([[0.0, 0.5], [0.5, 0.0]])

#: Relative tolerance under which a (mathematically non-negative) variance is taken as 0.
_NEG_TOL = 1e-12


# ----------------------------------------------------------------------------- helpers
def _z(level: float) -> float:
    level = float(level)
    if not 0.0 < level < 1.0:
        raise ValueError(f"level must be strictly between 0 and 1, got {level!r}")
    return float(stats.norm.ppf(0.5 + level / 2.0))


def _count(value, name: str) -> int:
    """A whole, non-negative count (ints, integral floats and numpy integers accepted)."""
    if isinstance(value, bool):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    try:
        f = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a whole number, got {value!r}") from None
    if not math.isfinite(f) or f != int(f):
        raise ValueError(f"{name} must be a whole number, got {value!r}")
    if f < 0:
        raise ValueError(f"{name} must not be negative, got {value!r}")
    return int(f)


def _finite(x) -> float | None:
    if x is None:
        return None
    x = float(x)
    return x if math.isfinite(x) else None


def _result(estimate, se, z: float) -> dict:
    """``{"estimate", "se", "ci_lower", "ci_upper"}`` with CI = estimate +/- z SE."""
    estimate, se = _finite(estimate), _finite(se)
    if estimate is None:
        return {"estimate": None, "se": None, "ci_lower": None, "ci_upper": None}
    if se is None:
        return {"estimate": estimate, "se": None, "ci_lower": None, "ci_upper": None}
    return {"estimate": estimate, "se": se, "ci_lower": estimate - z * se, "ci_upper": estimate + z * se}


def _sqrt_var(v: float, scale: float | None = None) -> float | None:
    """sqrt of a variance; rounding noise (|v| <= tol * scale) is taken as exactly 0.

    ``scale`` is the size of the terms whose sum gave ``v`` (default ``|v|``, i.e. only
    negatives are cleaned); a variance more negative than that tolerance is ``None``.
    """
    if not math.isfinite(v):
        return None
    tol = _NEG_TOL * (abs(v) if scale is None else scale)
    if abs(v) <= tol:
        return 0.0
    if v < 0.0:
        return None
    return math.sqrt(v)


# ----------------------------------------------------------------------------- Bang
def bang(correct: int, wrong: int, dont_know: int, level: float = 0.95) -> dict:
    """Bang's blinding index for one arm.

    Parameters
    ----------
    correct : int
        Answerers in the arm who guessed the arm they were actually in.
    wrong : int
        Answerers in the arm who guessed the other arm.
    dont_know : int
        Answerers in the arm who said they did not know.
    level : float, optional
        Confidence level of the interval, by default 0.95.

    Returns
    -------
    dict
        ``{"estimate", "se", "ci_lower", "ci_upper"}``, all ``None`` when there are no
        answers (``n = 0``).

    Notes
    -----
    With :math:`n = c + w + d` (don't-know answers included), :math:`p_c = c/n` and
    :math:`p_w = w/n` ([2]_, as in the R package BI [3]_):

    .. math::

        BI = \\frac{c - w}{n} = p_c - p_w, \\qquad
        SE = \\sqrt{\\frac{p_c + p_w - (p_c - p_w)^2}{n}},

    the multinomial variance of :math:`p_c - p_w`. The CI is :math:`BI \\pm z_{1-\\alpha/2} SE`.
    0 is random guessing, 1 complete unblinding, -1 opposite guessing. When every answer is
    "don't know" the index is 0 with SE 0.

    References
    ----------
    .. [2] Bang H, Ni L, Davis CE. Assessment of blinding in clinical trials. *Control Clin
       Trials* 2004;25(2):143-156. doi:10.1016/j.cct.2003.10.016
    .. [3] Mercaldo ND, Schwartz M. BI: Blinding Assessment Indexes for Randomized,
       Controlled, Clinical Trials. R package, https://cran.r-project.org/package=BI

    Examples
    --------
    >>> r = bang(20, 3, 4)
    >>> round(r["estimate"], 4), round(r["se"], 4)
    (0.6296, 0.1299)
    """
    z = _z(level)
    c, w, d = _count(correct, "correct"), _count(wrong, "wrong"), _count(dont_know, "dont_know")
    n = c + w + d
    if n == 0:
        return _result(None, None, z)
    pc, pw = c / n, w / n
    est = pc - pw
    return _result(est, _sqrt_var((pc + pw - est * est) / n), z)


# ----------------------------------------------------------------------------- James
def _table(table) -> np.ndarray:
    try:
        raw = np.asarray(table, dtype=object)
    except Exception as exc:  # pragma: no cover - numpy rarely refuses
        raise ValueError(f"table must be a 3 x 2 array of counts: {exc}") from None
    if raw.shape == (2, 2):  # no don't-know option offered
        raw = np.vstack([raw, np.zeros((1, 2), dtype=object)])
    if raw.shape != (3, 2):
        raise ValueError("table must be 3 x 2 (rows guess experimental / guess control / don't know; "
                         f"columns actual experimental / actual control), got shape {raw.shape}")
    out = np.empty((3, 2))
    for i in range(3):
        for j in range(2):
            out[i, j] = _count(raw[i, j], f"table[{i}][{j}]")
    return out


def james(table, level: float = 0.95) -> dict:
    """James' blinding index for a pair of arms, with the standard error of James et al.

    Parameters
    ----------
    table : array_like, shape (3, 2)
        Guess counts: rows guess experimental / guess control / don't know, columns actual
        experimental / actual control. A 2 x 2 table (no don't-know option) is read as having
        a zero don't-know row.
    level : float, optional
        Confidence level of the interval, by default 0.95.

    Returns
    -------
    dict
        ``{"estimate", "se", "ci_lower", "ci_upper"}``. All ``None`` when the table is empty,
        or when the guessers' expected disagreement is 0 (every guesser in one arm and all
        guessing it correctly: kappa is 0/0). When every answer is "don't know" the index is
        1 with SE 0, as in the R package BI [3]_.

    Notes
    -----
    Let :math:`N` be all answers, :math:`p_{ij} = n_{ij}/N` for the guessers' cells
    (:math:`i` = guess, :math:`j` = actual arm), :math:`P_{dk} = (n_{31}+n_{32})/N`,
    :math:`g = 1 - P_{dk}`, :math:`p_{i\\cdot} = \\sum_j p_{ij}`,
    :math:`\\tilde p_{\\cdot j} = \\sum_{i \\le 2} p_{ij}` and weights :math:`w_{ij}` = 0 for a
    correct and 1/2 for an incorrect guess (don't know counts with weight 1 through
    :math:`P_{dk}`) [1]_. Then

    .. math::

        S = \\sum_{ij} w_{ij} p_{i\\cdot} \\tilde p_{\\cdot j}, \\quad
        P_{do} = \\frac{\\sum_{ij} w_{ij} p_{ij}}{g}, \\quad
        P_{de} = \\frac{S}{g^2}, \\quad
        \\kappa_d = \\frac{P_{do} - P_{de}}{P_{de}},

        BI = \\frac{1 + P_{dk} + (1 - P_{dk}) \\kappa_d}{2}.

    1 is complete blinding, 0 complete unblinding, 0.5 random guessing. The variance is the
    large-sample (delta-method) variance of James et al. (1996), as the R package BI
    computes it: with :math:`e_{ij} = \\sum_r w_{rj} p_{r\\cdot} + \\sum_r w_{ir} \\tilde p_{\\cdot r}`,

    .. math::

        V_1 = \\frac{g^2 \\sum_{ij} p_{ij} \\left[g\\, w_{ij} - (1 + \\kappa_d)\\, e_{ij}\\right]^2}{4 S^2},
        \\qquad
        V_2 = P_{dk}\\, g - g (1 + \\kappa_d) \\left[P_{dk} + \\frac{g (1 + \\kappa_d)}{4}\\right],

        \\operatorname{Var}(BI) = \\frac{V_1 + V_2}{N}.

    This equals the exact first-order (delta-method) multinomial variance of :math:`BI`.
    The CI is :math:`BI \\pm z_{1-\\alpha/2} SE` (not truncated to [0, 1]).

    References
    ----------
    .. [1] James KE, Bloch DA, Lee KK, Kraemer HC, Fuller RK. An index for assessing
       blindness in a multi-centre clinical trial: disulfiram for alcohol cessation -- a VA
       cooperative study. *Stat Med* 1996;15(13):1421-1434.
    .. [3] Mercaldo ND, Schwartz M. BI: Blinding Assessment Indexes for Randomized,
       Controlled, Clinical Trials. R package, https://cran.r-project.org/package=BI

    Examples
    --------
    >>> r = james([[48, 22], [4, 30], [330, 319]])
    >>> round(r["estimate"], 3), round(r["se"], 3)
    (0.896, 0.011)
    """
    z = _z(level)
    x = _table(table)
    n_total = x.sum()
    if n_total == 0:
        return _result(None, None, z)
    p = x / n_total
    p_dk = float(p[2].sum())
    guessers = x[:2].sum()
    if guessers == 0:
        # Everyone answered "don't know": P_dk = 1 so BI = 1 whatever kappa_d (0/0) would be;
        # the variance formula's limit (and the R package BI) give SE 0.
        return _result(1.0, 0.0, z)
    g = 1.0 - p_dk
    pg = p[:2]                      # guessers' cells on the all-answers scale
    row = pg.sum(axis=1)            # p_i.  (guess E, guess C)
    col = pg.sum(axis=0)            # ~p_.j (actual E, actual C) among guessers
    w = JAMES_WEIGHTS
    s = float((w * np.outer(row, col)).sum())
    if s <= 0.0:
        return _result(None, None, z)
    p_do = float((w * pg).sum()) / g
    p_de = s / g**2
    kappa = (p_do - p_de) / p_de
    est = (1.0 + p_dk + g * kappa) / 2.0

    one_k = 1.0 + kappa
    e = (w.T @ row)[None, :] + (w @ col)[:, None]
    v1 = g**2 * float((pg * (g * w - one_k * e) ** 2).sum()) / (4.0 * s**2)
    v2 = p_dk * g - g * one_k * (p_dk + g * one_k / 4.0)
    return _result(est, _sqrt_var((v1 + v2) / n_total, (abs(v1) + abs(v2)) / n_total), z)


# ----------------------------------------------------------------------------- convenience
def _field(row, key):
    if isinstance(row, Mapping):
        return row[key]
    return getattr(row, key)


def guess_table(experimental_row, control_row) -> np.ndarray:
    """The 3 x 2 James table from the two arms' guess rows.

    Parameters
    ----------
    experimental_row, control_row
        Guess rows (``GuessRow`` objects or mappings with ``guessed_experimental``,
        ``guessed_control`` and ``dont_know``) of the experimental and the control arm.

    Returns
    -------
    numpy.ndarray
        Rows guess experimental / guess control / don't know; columns actual experimental /
        actual control.
    """
    cols = []
    for r in (experimental_row, control_row):
        cols.append([_field(r, "guessed_experimental"), _field(r, "guessed_control"), _field(r, "dont_know")])
    return np.array(cols, dtype=float).T


def indices(trial, assessor_rows: Iterable, experimental_arm: str, control_arm: str,
            level: float = 0.95) -> dict:
    """Blinding indices of one trial, assessor type and pair of arms (the contract's entry).

    Parameters
    ----------
    trial : str or Trial
        The trial, or its id.
    assessor_rows : iterable
        The trial's guess rows of one assessor type (``GuessRow`` objects or mappings with
        ``arm``, ``assessor``, ``guessed_experimental``, ``guessed_control``, ``dont_know``).
        Rows of other arms are ignored.
    experimental_arm, control_arm : str
        Ids of the compared arms.
    level : float, optional
        Confidence level, by default 0.95.

    Returns
    -------
    dict
        ``{"trial", "assessor", "experimental", "control", "james", "bang"}`` where
        ``james`` is :func:`james` of the pair's table and ``bang`` maps each arm id to
        :func:`bang` for that arm (correct = guessed its own role). An arm without a guess
        row gets ``None`` in ``bang``, and then ``james`` is ``None``: its answers are
        unknown, not zero.

    Raises
    ------
    ValueError
        If the rows mix assessor types, an arm has two rows, or the two arm ids are equal.
    """
    if experimental_arm == control_arm:
        raise ValueError("experimental_arm and control_arm must differ")
    trial_id = trial if isinstance(trial, str) else getattr(trial, "id", trial)
    rows = list(assessor_rows)
    assessors = {_field(r, "assessor") for r in rows}
    if len(assessors) > 1:
        raise ValueError(f"assessor_rows mixes assessor types: {sorted(map(str, assessors))}")
    assessor = assessors.pop() if assessors else None
    by_arm: dict = {}
    for r in rows:
        arm = _field(r, "arm")
        if arm in (experimental_arm, control_arm):
            if arm in by_arm:
                raise ValueError(f"two guess rows for arm {arm!r} and assessor {assessor!r}")
            by_arm[arm] = r
    _z(level)  # validate level even when no rows match

    bang_out: dict = {}
    for arm, own in ((experimental_arm, "guessed_experimental"), (control_arm, "guessed_control")):
        r = by_arm.get(arm)
        if r is None:
            bang_out[arm] = None
            continue
        other = "guessed_control" if own == "guessed_experimental" else "guessed_experimental"
        bang_out[arm] = bang(_field(r, own), _field(r, other), _field(r, "dont_know"), level)

    if experimental_arm in by_arm and control_arm in by_arm:
        james_out = james(guess_table(by_arm[experimental_arm], by_arm[control_arm]), level)
    else:
        james_out = None
    return {"trial": trial_id, "assessor": assessor, "experimental": experimental_arm,
            "control": control_arm, "james": james_out, "bang": bang_out}


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
            n = getattr(g, own) + getattr(g, other) + g.dont_know
            # (c - w) / n rather than c/n - w/n: exact at the rule's boundary (12 - 7 of 25 is 0.2)
            bi = (getattr(g, own) - getattr(g, other)) / n if n else None
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


def benefit_sign(direction: str) -> int:
    """s = +1 when higher is better, -1 otherwise."""
    return 1 if direction == "higher_is_better" else -1


def iv_model(model, notes: list | None = None, what: str = ""):
    """The model itself when it is inverse-variance; else the common-effect inverse-variance
    model (a shifted yi has no 2x2 table for Mantel-Haenszel or Peto), with a note."""
    from ..estimators.model import Model

    if not model.uses_tables:
        return model
    if notes is not None:
        notes.append(f"{what}{model.method} works on the 2x2 tables; the shifted effects are refitted by the "
                     "inverse-variance common-effect model (FE)")
    return Model("FE", model.test, model.level, model.cc)


FIT_KEYS = ("estimate", "se", "ci_lower", "ci_upper", "tau2")


def refit(model, table) -> tuple[dict | None, str | None]:
    """``{k, estimate, se, ci_lower, ci_upper, tau2, i2}`` of ``model`` on ``table``, or
    (None, reason)."""
    from ..errors import MetakError
    from ..format import clean

    if table.k == 0:
        return None, "no study"
    try:
        r = model.fit(table)
    except MetakError as exc:
        return None, f"not estimable: {exc}"
    return {"k": r.k, **{key: clean(getattr(r, key)) for key in FIT_KEYS}, "i2": clean(r.i2),
            "p_value": clean(r.p_value)}, None


def null_fit(k=None, reason: str | None = None) -> dict:
    """The keys of :func:`refit` with no estimate (a refit that could not be made), and why."""
    out = {"k": k, **dict.fromkeys(FIT_KEYS), "i2": None, "p_value": None}
    if reason:
        out["reason"] = reason
    return out


def finite_rows(table):
    """Rows with an effect size of their own (MH RD keeps double-zero tables, which have none)."""
    return table.subset(np.isfinite(table.yi) & np.isfinite(table.vi))


def shifted(table, mask, shift: float, added_var: float, s: int):
    """yi - s shift and vi + added_var in the rows of ``mask``."""
    m = np.asarray(mask, bool)
    return table.replace(yi=table.yi - s * shift * m, vi=table.vi + added_var * m)


def _ci_side(fit, s):
    """s x (the CI limit nearest the null): > 0 while the CI excludes the null on the benefit side."""
    return s * fit.ci_lower if s > 0 else -fit.ci_upper


def tipping_point(model, table, mask, s: int, *, upper: float = 10.0, grid: int = 1001) -> dict:
    """The smallest b >= 0 with which shifting the ``mask`` rows' yi by -s b (variance unchanged)
    makes the CI include the null: a scan over [0, upper] for the first change of side, then
    Brent's method in that bracket."""
    from scipy.optimize import brentq

    from ..errors import MetakError

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
    from ..errors import MetakError

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
    from ..bayes.fit import _sensitivity_exact
    from ..bayes.spec import exact_supports_mu

    spec = ctx.spec.bayes
    if not exact_supports_mu(spec.mu_prior):
        notes.append("bayes: the prior on mu is not one the exact engine takes; no Bayesian bias model")
        return None
    warnings: list = []
    res = _sensitivity_exact(table.yi, table.vi, spec.mu_prior, spec.tau_prior, ctx.model.level,
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


@dataclass(frozen=True)
class BlindingResult:
    """``sensitivity.blinding``: indices, classification and the bias analyses."""

    indices: tuple = ()
    extra: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"indices": list(self.indices), **self.extra}


def blinding_indices(table, level: float) -> BlindingResult:
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
            out.append(indices(t, rows, exp[0], ctl[0], level))
    return BlindingResult(tuple(out))


def _bang_regression(ctx, table, assessor, notes):
    """Meta-regression of the effect on the experimental arm's Bang index (the rule's assessor)."""
    from ..errors import MetakError

    xs = []
    for r in table.rows:
        t, comp = r.record, r.comparison
        x = None
        if t is not None and t.blinding is not None and comp is not None and len(comp.experimental) == 1:
            g = next((g for g in t.blinding.guesses if g.assessor == assessor and g.arm == comp.experimental[0]), None)
            if g is not None:
                x = bang(g.guessed_experimental, g.guessed_control, g.dont_know)["estimate"]
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
    if not base.indices:
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
    extra = {"rule": {"max_bang": rule.max_bang, "assessor": rule.assessor, "text": rule.text()},
             "classification": classes, "restricted": restricted, "bang_regression": bang_reg,
             "bias_adjusted": bias_adj, "by_source": by_source, "tipping_point": tip,
             "sign": s, "reasons": reasons, "notes": notes}
    ctx.warnings.extend(f"blinding: {n}" for n in notes)
    return BlindingResult(base.indices, extra)

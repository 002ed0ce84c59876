"""Blinding indices: Bang et al. (2004) per arm and James et al. (1996) per pair of arms.

The pure index maths (no effect table, no model): :func:`bang` is the one Bang index in
metak; the classification (:func:`metak.sensitivity.blinding.classify`) and the ``bang``
moderator (:func:`metak.effects.covariates.covariates`) call it.

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
    # (c - w) / n rather than c/n - w/n: exact at a classification boundary (12 - 7 of 25 is 0.2)
    est = (c - w) / n
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

"""Trial sequential monitoring boundaries: Lan-DeMets O'Brien-Fleming alpha spending on the
cumulative Z curve, as the Copenhagen TSA software and RTSA compute them.

An *imprecision aid*, not a stopping rule: the Cochrane Handbook (chapter 22, section 22.4)
cautions against using sequential boundaries to decide that a meta-analysis is "conclusive";
metak reports whether the cumulative Z curve crossed a boundary or reached the required
information size only so that a reader can judge imprecision (GRADE guidelines 6).

The boundaries (RTSA ``boundaries()``/``alpha_boundary()``, Jennison & Turnbull 2000, ch. 19):

- spending, per side, of α' = α / side: α'(t) = 2 − 2Φ(z_{1−α'/2} / √t) (Lan & DeMets 1983);
- at look i the upper boundary b_i makes P(Z_j inside (a_j, b_j) for j < i, Z_i ≥ b_i) = α'(t_i) − α'(t_{i−1})
  under the null, with a_i = −b_i (two-sided) or −∞ (one-sided);
- information fractions above 1 are rescaled for the spending as RTSA does (t / max t), so all
  of α is spent at the last look once the RIS is passed.

The joint probabilities are computed by the recursive numerical integration of Armitage,
McPherson & Rowe (1969) on the score scale S_i = Z_i √t_i (independent normal increments),
with composite Simpson rules on a fixed grid of ``GRID`` points — written here because SciPy has
no group-sequential routine; the test checks it against an independent adaptive quadrature.
"""

from __future__ import annotations

import numpy as np
from scipy import optimize, special

#: Simpson grid points per continuation region (odd; 401 points: boundaries within 1e-9 of a
#: 4001-point grid for eight looks)
GRID = 401
#: the lower limit of a one-sided continuation region, in SDs of S_i
LOWER = 12.0
#: fractions between the last look and the RIS at which the boundary ahead is drawn
NEXT_POINTS = 24


def obf_spending(t, alpha: float) -> np.ndarray:
    """Lan-DeMets O'Brien-Fleming spending of a one-sided level ``alpha`` at fractions ``t``."""
    t = np.asarray(t, float)
    return 2.0 * special.ndtr(-special.ndtri(1.0 - alpha / 2.0) / np.sqrt(t))


def _simpson(n: int) -> np.ndarray:
    w = np.ones(n)
    w[1:-1:2], w[2:-1:2] = 4.0, 2.0
    return w / 3.0


def _solve(cross, target: float) -> float:
    """The boundary b with cross(b) = target (cross decreasing in b); inf when nothing is spent."""
    if target <= 0.0:
        return np.inf
    hi = 1.0
    while cross(hi) > target and hi < 60:
        hi *= 2.0
    return optimize.brentq(lambda x: cross(x) - target, -10.0, hi, xtol=1e-13, rtol=1e-14)


def boundaries(t, alpha: float = 0.05, side: int = 2, ahead=()) -> dict:
    """Upper (and, two-sided, lower = −upper) Z boundaries at information fractions ``t``
    (increasing, > 0). Returns ``{"t", "spending_t", "spent", "upper", "lower", "ahead"}``;
    ``ahead`` (fractions after the last of ``t``, at most 1) gives, for each, the boundary of
    one more look there after the looks ``t``."""
    t = np.asarray(t, float)
    if t.ndim != 1 or not len(t) or np.any(t <= 0) or np.any(np.diff(t) <= 0):
        raise ValueError("information fractions must be positive and increasing")
    st = t / t.max() if t.max() > 1 else t
    cum = obf_spending(st, alpha / side)
    incr = np.diff(np.concatenate([[0.0], cum]))
    upper = np.empty(len(t))
    state = None  # (grid, Simpson weights, sub-density of S) on the previous continuation region

    def crossing(ti, prev):
        if state is None:
            return lambda b: float(special.ndtr(-b))
        grid, weights, dens = state
        sd_inc = np.sqrt(ti - prev)
        return lambda b: float(np.sum(weights * dens * special.ndtr((grid - b * np.sqrt(ti)) / sd_inc)))

    for i, ti in enumerate(t):
        prev = t[i - 1] if i else 0.0
        b = upper[i] = _solve(crossing(ti, prev), incr[i])
        # the sub-density of S_i on its continuation region (a_i, b_i)
        sd_i, sd_inc = np.sqrt(ti), np.sqrt(ti - prev)
        top = b * sd_i if np.isfinite(b) else 12.0 * sd_i
        bottom = -top if side == 2 else -LOWER * sd_i
        new = np.linspace(bottom, top, GRID)
        w_new = _simpson(GRID) * (new[1] - new[0])
        if state is None:
            dens = np.exp(-0.5 * (new / sd_i) ** 2) / (sd_i * np.sqrt(2 * np.pi))
        else:
            grid, weights, dens = state
            kern = np.exp(-0.5 * ((new[:, None] - grid[None, :]) / sd_inc) ** 2) / (sd_inc * np.sqrt(2 * np.pi))
            dens = kern @ (weights * dens)
        state = (new, w_new, dens)
    out = []
    for f in ahead:
        if not t[-1] < f <= 1.0 or t.max() > 1:
            raise ValueError("a look ahead must come after the last look and at most at the RIS")
        out.append(_solve(crossing(f, t[-1]), float(obf_spending(f, alpha / side)) - cum[-1]))
    return {"t": t.tolist(), "spending_t": st.tolist(), "spent": cum.tolist(), "upper": upper.tolist(),
            "lower": (-upper).tolist() if side == 2 else None, "ahead": out}


def cumulative_z(table, model, sign: int, order: str = "year") -> list[dict]:
    """The cumulative meta-analysis (the model refitted on the first 1, 2, ... studies in
    ``order``) as TSA plots it: Z = estimate / SE, oriented so that positive favours the
    experimental arm, with the cumulative participants."""
    from ..effects.table import order_rows
    from ..errors import MetakError

    ordered = table.subset(order_rows(table, order))
    out, n = [], 0.0
    for i in range(1, ordered.k + 1):
        row = ordered.rows[i - 1]
        n = None if (n is None or row.n is None) else n + float(row.n)
        try:
            r = model.fit(ordered.subset(np.arange(ordered.k) < i))
            zv = sign * r.estimate / r.se if r.se and np.isfinite(r.se) and r.se > 0 else None
        except MetakError:
            zv = None
        out.append({"added": row.trial, "label": row.label, "n_cumulative": n, "z": zv})
    return out


def monitor(steps: list[dict], ris: float, alpha: float = 0.05, side: int = 2) -> dict:
    """Boundaries at the cumulative participants of ``steps`` (from :func:`cumulative_z`) against
    the required information size; whether the Z curve crossed a boundary and whether the RIS
    was reached."""
    fr = [s["n_cumulative"] / ris for s in steps]
    # ties (a study adding no participants) cannot be separate looks: keep the last of each
    keep = [i for i in range(len(fr)) if i == len(fr) - 1 or fr[i + 1] > fr[i]]
    b = boundaries([fr[i] for i in keep], alpha, side)
    looks = []
    for j, i in enumerate(keep):
        up = b["upper"][j]
        looks.append({**steps[i], "fraction": fr[i], "upper": up if np.isfinite(up) else None,
                      "lower": (-up if np.isfinite(up) else None) if side == 2 else None})
    crossed = next((lk["label"] for lk in looks if lk["z"] is not None and lk["upper"] is not None
                    and (lk["z"] >= lk["upper"] or (side == 2 and lk["z"] <= -lk["upper"]))), None)
    return {"alpha": alpha, "side": side, "spending": "Lan-DeMets O'Brien-Fleming", "ris": ris,
            "looks": looks, "crossed_at": crossed, "ris_reached": fr[-1] >= 1.0, "fraction": fr[-1],
            "next_look": next_look([fr[i] for i in keep], ris, alpha, side)}


def next_look(done: list[float], ris: float, alpha: float, side: int, points: int = NEXT_POINTS) -> list[dict]:
    """The boundary a next look would face at each information fraction between the last look
    and the RIS (given the looks so far): the part of the monitoring boundary still ahead, for
    the figure. Empty once the RIS is reached."""
    last = done[-1]
    if last >= 1.0:
        return []
    fs = [float(f) for f in np.linspace(last, 1.0, points + 1)[1:]]
    ups = boundaries(done, alpha, side, ahead=fs)["ahead"]
    return [{"fraction": f, "n_cumulative": f * ris, "upper": up} for f, up in zip(fs, ups)]

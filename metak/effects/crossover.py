"""Crossover and cluster-randomised trials: the effect a comparison contributes.

Crossover (Elbourne et al. 2002; Cochrane Handbook 23.2): in order of preference

1. ``paired``: the record's within-participant difference, with its SD, SE, CI, paired t or
   the within-participant correlation r. For MD, SE² = SD_diff²/n with
   SD_diff² = SD_E² + SD_C² − 2·r·SD_E·SD_C; from a CI, SE = (upper − lower)/(2·t_{n−1}); from
   a paired t, SE = |MD|/|t|. For SMD (Handbook 23.2.7.2): SMD = MD/SD_within with
   SD_within = √((SD_E² + SD_C²)/2) and SE² = (1/n + SMD²/(2n))·2(1 − r), r implied by the
   difference's SD when not given;
2. ``first_period``: the first period's arm data, as a parallel trial;
3. the parallel approximation with the spec's ``crossover: {rho: r}``: the formulas above with
   r and n = the smaller arm;
4. else the arms as independent groups: conservative (r = 0 for MD), with a warning.

Cluster trials (Donner & Klar; Handbook 23.1) enter with counts and sample sizes divided by
the design effect 1 + (m − 1)·ICC (or the one recorded), the effective sample size; that is
:func:`metak.effects.comparisons.split`, the same division a split shared control uses.
"""

from __future__ import annotations

import math

from scipy import stats

from ..records.model import ContinuousArmData


def paired_md(paired, e: ContinuousArmData | None, c: ContinuousArmData | None):
    """(MD, SE of MD, r or None, how) from a ``paired`` block; e/c the arms' data (for r)."""
    n, md = paired.n, paired.mean_difference
    if paired.sd_difference is not None:
        se, how = paired.sd_difference / math.sqrt(n), "the SD of the within-participant differences"
    elif paired.se is not None:
        se, how = paired.se, "the SE of the mean within-participant difference"
    elif paired.ci is not None:
        crit = stats.t.ppf(0.5 + paired.level / 2, n - 1)
        se, how = (paired.ci[1] - paired.ci[0]) / (2 * crit), f"its {paired.level:.0%} CI (t on {n - 1} df)"
    elif paired.t is not None:
        se, how = abs(md) / abs(paired.t), "the paired t statistic"
    else:
        r = paired.correlation
        if e is None or c is None:
            return None
        return md, math.sqrt((e.sd**2 + c.sd**2 - 2 * r * e.sd * c.sd) / n), r, \
            f"the within-participant correlation r = {r:g}"
    r = None
    if e is not None and c is not None:
        sd_diff = se * math.sqrt(n)
        r = (e.sd**2 + c.sd**2 - sd_diff**2) / (2 * e.sd * c.sd)
    return md, se, r, how


def paired_effect(measure, paired, e, c):
    """(yi, vi, note) of a crossover comparison from its paired block, or (None, None, reason)."""
    got = paired_md(paired, e, c)
    if got is None:
        return None, None, "paired correlation given but the arms' SDs are not under data"
    md, se, r, how = got
    if measure == "MD":
        return md, se**2, f"paired analysis from {how} (n = {paired.n})"
    if e is None or c is None:
        return None, None, "a paired SMD needs both arms' SDs under data"
    if r is None or not -1 < r < 1:
        return None, None, (f"the paired SE implies a within-participant correlation of {r:.3g}, outside (-1, 1): "
                            "check the record")
    return (*smd_paired(md, e.sd, c.sd, paired.n, r), f"paired SMD from {how} (n = {paired.n}, r = {r:.3g})")


def smd_paired(md, sd_e, sd_c, n, r):
    """Cochrane Handbook 23.2.7.2: SMD = MD / SD_within, var = (1/n + SMD²/(2n))·2(1 − r)."""
    d = md / math.sqrt((sd_e**2 + sd_c**2) / 2)
    return d, (1 / n + d**2 / (2 * n)) * 2 * (1 - r)


def rho_effect(measure, e: ContinuousArmData, c: ContinuousArmData, rho: float):
    """(yi, vi, note): Elbourne's parallel approximation with an assumed within-participant
    correlation, n the smaller arm."""
    n = min(e.n, c.n)
    md = e.mean - c.mean
    if measure == "MD":
        return md, (e.sd**2 + c.sd**2 - 2 * rho * e.sd * c.sd) / n, \
            f"paired approximation with an assumed within-participant correlation rho = {rho:g} (n = {n:g})"
    d, v = smd_paired(md, e.sd, c.sd, n, rho)
    return d, v, f"paired SMD approximation with an assumed rho = {rho:g} (n = {n:g})"

"""Comparisons are built from arms: which arms of a trial are compared, and how.

A trial with one experimental and one control arm gives one comparison. With several arms
of one role (dose arms, factorial cells) the meta-analysis's ``multi_arm`` rule applies:

* ``split_control`` (default): one comparison per experimental arm; control arms are
  combined and the shared control group is split evenly across the comparisons, so that no
  participant is counted twice (Cochrane Handbook 23.3.4; events and totals divided alike);
* ``combine``: arms of one role are pooled (events and totals summed; continuous arms
  pooled with the Cochrane Handbook formula for combining groups, Table 6.5.a);
* ``select``: the arms named under the spec's ``arms:`` for that trial; a multi-arm trial
  without such an entry is left out with a reason;
* ``multivariate``: one comparison per experimental arm against the whole (combined) control
  group, not split: the comparisons' shared-control covariance enters the multivariate model
  (:mod:`metak.estimators.multivariate`) instead.

The spec's ``arms:`` entry for a trial always wins (its lists are combined).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from ..records.arm_more import PersonTimeArmData
from ..records.model import BinaryArmData, ContinuousArmData, Trial


@dataclass(frozen=True)
class Comparison:
    trial: Trial
    experimental: tuple  # arm ids
    control: tuple
    exp_data: object  # BinaryArmData | ContinuousArmData (possibly combined / split)
    ctl_data: object
    split: int = 1  # how many comparisons share the control group

    @property
    def exp_name(self):
        return " + ".join(self.experimental)

    @property
    def ctl_name(self):
        return " + ".join(self.control)


def combine(data):
    """Pool same-role arms into one group."""
    data = list(data)
    if len(data) == 1:
        return data[0]
    if isinstance(data[0], BinaryArmData):
        return BinaryArmData(sum(d.events for d in data), sum(d.total for d in data))
    if isinstance(data[0], PersonTimeArmData):  # issue 27: events and person-time summed
        ns = [d.n for d in data]
        return PersonTimeArmData(sum(d.events for d in data), sum(d.person_time for d in data),
                                 None if None in ns else sum(ns))
    n, mean, sd = data[0].n, data[0].mean, data[0].sd
    for d in data[1:]:
        n2 = n + d.n
        new_mean = (n * mean + d.n * d.mean) / n2
        var = ((n - 1) * sd**2 + (d.n - 1) * d.sd**2 + n * d.n / n2 * (mean - d.mean) ** 2) / (n2 - 1)
        n, mean, sd = n2, new_mean, math.sqrt(var)
    return ContinuousArmData(mean, sd, n)


def split(data, parts):
    """Counts and sizes divided by ``parts``: the share of a control group that one of
    ``parts`` comparisons uses, or a cluster trial's effective sample size (``parts`` the
    design effect). Means and SDs are unchanged."""
    if parts == 1:
        return data
    if isinstance(data, BinaryArmData):
        return BinaryArmData(data.events / parts, data.total / parts)
    if isinstance(data, PersonTimeArmData):
        return PersonTimeArmData(data.events / parts, data.person_time / parts,
                                 None if data.n is None else data.n / parts)
    return ContinuousArmData(data.mean, data.sd, data.n / parts)


def role_arms(trial: Trial, role: str, have) -> tuple:
    return tuple(a.id for a in trial.arms if a.role == role and a.id in have)


def build(trial: Trial, arm_data: dict, rule: str, override) -> tuple[list[Comparison], str | None]:
    """Comparisons of one trial for one outcome's per-arm data; (comparisons, reason if none)."""
    if override is not None:
        exp, ctl = override
        missing = [a for a in exp + ctl if a not in arm_data]
        if missing:
            return [], f"arms {', '.join(missing)} named under arms: have no data for this outcome"
        return [Comparison(trial, exp, ctl, combine(arm_data[a] for a in exp), combine(arm_data[a] for a in ctl))], None
    exp = role_arms(trial, "experimental", arm_data)
    ctl = role_arms(trial, "control", arm_data)
    if not exp or not ctl:
        return [], "needs an experimental and a control arm with data for this outcome"
    if len(exp) == 1 and len(ctl) == 1:
        return [Comparison(trial, exp, ctl, arm_data[exp[0]], arm_data[ctl[0]])], None
    if rule == "select":
        return [], (f"{len(exp)} experimental and {len(ctl)} control arms; multi_arm: select needs the arms "
                    "to compare under arms:")
    ctl_data = combine(arm_data[a] for a in ctl)
    if rule == "combine":
        return [Comparison(trial, exp, ctl, combine(arm_data[a] for a in exp), ctl_data)], None
    if rule == "multivariate":
        return [Comparison(trial, (e,), ctl, arm_data[e], ctl_data, 1) for e in exp], None
    parts = len(exp)
    return [Comparison(trial, (e,), ctl, arm_data[e], split(ctl_data, parts), parts) for e in exp], None

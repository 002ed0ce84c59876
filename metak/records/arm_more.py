"""Trial record validation, issue 27's arm data: person-time and correlation outcomes.

``type: person_time``: each arm's ``events`` in ``person_time`` (e.g. relapses per
person-years; ``n``, the participants, optional) -- IRR and IRD between two arms, IRLN of one
arm. ``type: correlation``: each arm's correlation ``r`` between two measures and its ``n`` --
COR and ZCOR of one arm type. ``type: pre_post``: one arm measured twice, its ``baseline`` and
``final`` mean and SD, the correlation ``r`` between the two measurements and its ``n`` -- the
mean change MC and the standardised mean changes SMCC, SMCR, SMCRH of one arm type (metafor's
``m1i`` = final mean, ``m2i`` = baseline mean, ``ri`` = r, ``ni`` = n; see
:mod:`metak.effects.single_arm`). Every problem is reported with file, line and key (a person-time
of 0, a correlation outside (-1, 1), an SD <= 0, events that are not a whole number).
"""

from __future__ import annotations

from dataclasses import dataclass

from .checker import Checker

#: the outcome types of this module
MORE_TYPES = ("person_time", "correlation", "pre_post")


@dataclass(frozen=True)
class PersonTimeArmData:
    events: int
    person_time: float
    #: participants in the arm (optional: the person-time carries the information)
    n: int | None = None
    missing: int | None = None


@dataclass(frozen=True)
class CorrelationArmData:
    r: float
    n: int
    missing: int | None = None


@dataclass(frozen=True)
class PrePostArmData:
    """One arm's measurements at baseline and at the end (the same participants), for the
    (standardised) mean changes (metafor's m2i = baseline mean, m1i = final mean)."""
    baseline_mean: float
    baseline_sd: float
    final_mean: float
    final_sd: float
    r: float
    n: int
    missing: int | None = None


def parse_more_arm_data(c: Checker, p, otype: str, arms: dict, arm_id: str):
    """One arm's person-time, correlation or pre-post data, or None after reporting the problems."""
    size = arms[arm_id].randomized if arms.get(arm_id) is not None else None
    if otype == "pre_post":
        return _pre_post(c, p, size, arm_id)
    if otype == "person_time":
        m = c.mapping(p, ("events", "person_time"), ("n",), aliases={"time": "person_time", "t": "person_time",
                                                                     "x": "events", "count": "events"})
        if m is None:
            return None
        events = c.count(p + ("events",))
        t = c.number(p + ("person_time",))
        if t is not None and t <= 0:
            c.add(p + ("person_time",), f"must be greater than 0, got {t:g} (a rate needs time at risk)")
            t = None
        n = c.count(p + ("n",), minimum=1) if "n" in m else None
        if n is not None and size is not None and n > size:
            c.add(p + ("n",), f"{n} is more than the {size} randomized to arm '{arm_id}'")
        if events is None or t is None or ("n" in m and n is None):
            return None
        return PersonTimeArmData(events, t, n)
    m = c.mapping(p, ("r", "n"), (), aliases={"correlation": "r", "rho": "r", "N": "n"})
    if m is None:
        return None
    r = c.number(p + ("r",))
    if r is not None and not -1 < r < 1:
        c.add(p + ("r",), f"a correlation must lie strictly between -1 and 1, got {r:g}")
        r = None
    n = c.count(p + ("n",), minimum=1)
    if n is not None and size is not None and n > size:
        c.add(p + ("n",), f"{n} is more than the {size} randomized to arm '{arm_id}'")
    if r is None or n is None:
        return None
    return CorrelationArmData(r, n)


#: wrong keys people write for pre-post data -> the key meant
_PRE_POST_ALIASES = {"correlation": "r", "rho": "r", "ri": "r", "N": "n", "ni": "n", "pre": "baseline",
                     "post": "final", "end": "final", "followup": "final"}


def _pre_post(c: Checker, p, size, arm_id: str):
    m = c.mapping(p, ("baseline", "final", "r", "n"), (), aliases=_PRE_POST_ALIASES)
    if m is None:
        return None
    parts = {}
    for key in ("baseline", "final"):
        if c.mapping(p + (key,), ("mean", "sd"), aliases={"SD": "sd", "m": "mean", "Mean": "mean"}) is None:
            parts[key] = None
            continue
        # an SD of 0 would divide by zero in every standardised change: reported here, at its line
        mean, sd = c.number(p + (key, "mean")), c.number(p + (key, "sd"), positive=True)
        parts[key] = None if None in (mean, sd) else (mean, sd)
    r = c.number(p + ("r",))
    if r is not None and not -1 < r < 1:
        c.add(p + ("r",), f"a pre-post correlation must lie strictly between -1 and 1, got {r:g}")
        r = None
    n = c.count(p + ("n",), minimum=2)
    if n is not None and size is not None and n > size:
        c.add(p + ("n",), f"{n} is more than the {size} randomized to arm '{arm_id}'")
        n = None
    if None in (parts["baseline"], parts["final"], r, n):
        return None
    (mb, sb), (mf, sf) = parts["baseline"], parts["final"]
    return PrePostArmData(mb, sb, mf, sf, r, n)

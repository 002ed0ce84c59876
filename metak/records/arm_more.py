"""Trial record validation, issue 27's arm data: person-time and correlation outcomes.

``type: person_time``: each arm's ``events`` in ``person_time`` (e.g. relapses per
person-years; ``n``, the participants, optional) -- IRR and IRD between two arms, IRLN of one
arm. ``type: correlation``: each arm's correlation ``r`` between two measures and its ``n`` --
COR and ZCOR of one arm type. Every problem is reported with file, line and key (a person-time
of 0, a correlation outside (-1, 1), events that are not a whole number).
"""

from __future__ import annotations

from dataclasses import dataclass

from .checker import Checker

#: the outcome types of this module
MORE_TYPES = ("person_time", "correlation")


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


def parse_more_arm_data(c: Checker, p, otype: str, arms: dict, arm_id: str):
    """One arm's person-time or correlation data, or None after reporting the problems."""
    size = arms[arm_id].randomized if arms.get(arm_id) is not None else None
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

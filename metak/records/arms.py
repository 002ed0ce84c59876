"""Trial record validation, the arms: each arm (role, dose, sizes, dropouts by reason) and the
blinding block's allocation guesses per arm (:func:`metak.records.parse.parse_trial` calls these)."""

from __future__ import annotations

from .checker import Checker, listing
from .model import ASSESSORS, CONTROL_TYPES, MASKINGS, ROLES, ROUTES, Arm, Blinding, Dose, GuessRow

ARM_REQUIRED = ("id", "label", "role", "intervention")
ARM_OPTIONAL = ("control_type", "dose", "randomized", "completed", "route", "schedule", "co_intervention",
                "dropouts")
GUESS_KEYS = ("arm", "assessor", "guessed_experimental", "guessed_control", "dont_know")


def parse_arm(c: Checker, i: int, design: str | None) -> Arm | None:
    p = ("arms", i)
    m = c.mapping(p, ARM_REQUIRED, ARM_OPTIONAL)
    if m is None:
        return None
    arm_id = c.ident(p + ("id",))
    label = c.string(p + ("label",))
    role = c.enum(p + ("role",), ROLES)
    intervention = c.string(p + ("intervention",))
    control_type = None
    if "control_type" in m:
        control_type = c.enum(p + ("control_type",), CONTROL_TYPES)
        if role == "experimental":
            c.add(p + ("control_type",), "only control arms have a control_type")
    dose = None
    if "dose" in m:
        dm = c.mapping(p + ("dose",), ("value", "unit"))
        if dm is not None:
            value = c.number(p + ("dose", "value"), minimum=0)
            unit = c.string(p + ("dose", "unit"))
            if value is not None and unit is not None:
                dose = Dose(value, unit)
    randomized = c.count(p + ("randomized",), minimum=1) if "randomized" in m else None
    completed = c.count(p + ("completed",)) if "completed" in m else None
    if randomized is not None and completed is not None and completed > randomized:
        c.add(p + ("completed",), f"{completed} is more than randomized {randomized}")
    route = c.enum(p + ("route",), ROUTES) if "route" in m else None
    schedule = c.string(p + ("schedule",)) if "schedule" in m else None
    co = c.string(p + ("co_intervention",)) if "co_intervention" in m else None
    reasons = _dropouts(c, p + ("dropouts",), randomized, completed) if "dropouts" in m else ()
    if None in (arm_id, label, role, intervention) or reasons is None:
        return None
    return Arm(arm_id, label, role, intervention, control_type, dose, randomized, completed, route, schedule, co,
               reasons)


def _dropouts(c: Checker, p, randomized, completed):
    """An arm's dropouts by reason: counts, the reasons summing to at most the total, the total
    equal to randomized - completed when both are given, and no more than randomized."""
    from .model import DROPOUT_REASONS

    m = c.mapping(p, (), ("total",) + DROPOUT_REASONS, what="dropout reason")
    if m is None:
        return None
    values = {}
    for key in ("total",) + DROPOUT_REASONS:
        if key in m:
            v = c.count(p + (key,))
            if v is None:
                return None
            values[key] = v
    total = values.get("total")
    implied = randomized - completed if randomized is not None and completed is not None else None
    parts = sum(values.get(r, 0) for r in DROPOUT_REASONS)
    ok = True
    ref, what = (total, "total") if total is not None else (implied, "randomized - completed")
    if ref is not None and parts > ref:
        c.add(p, f"the reasons add up to {parts}, more than {what} {ref}")
        ok = False
    elif ref is not None and all(r in values for r in DROPOUT_REASONS) and parts != ref:
        c.add(p, f"all four reasons are given but add up to {parts}, not {what} {ref}")
        ok = False
    if total is not None and randomized is not None and completed is not None and total != randomized - completed:
        c.add(p + ("total",), f"total {total} differs from randomized - completed = {randomized - completed}")
        ok = False
    cap = randomized
    if cap is not None and max([total or 0, parts]) > cap:
        c.add(p, f"{max(total or 0, parts)} dropouts is more than the {cap} randomized")
        ok = False
    if not ok:
        return None
    if total is None and all(r in values for r in DROPOUT_REASONS):
        values = {"total": parts, **values}  # every reason given: their sum is the total
    return tuple(values.items())


def parse_blinding(c: Checker, arms: dict) -> Blinding | None:
    m = c.mapping(("blinding",), optional=("masking", "guesses", "note"))
    if m is None:
        return None
    masking = c.enum(("blinding", "masking"), MASKINGS) if "masking" in m else None
    note = c.string(("blinding", "note")) if "note" in m else None
    rows = []
    seq = c.sequence(("blinding", "guesses"))
    used: dict = {}
    for j, _ in enumerate(seq or []):
        p = ("blinding", "guesses", j)
        gm = c.mapping(p, GUESS_KEYS)
        if gm is None:
            continue
        arm_id = c.string(p + ("arm",))
        if arm_id is not None and arm_id not in arms:
            c.add(p + ("arm",), f"unknown arm '{arm_id}'{c.hint(arm_id, arms)}; arms are: {listing(arms)}")
            arm_id = None
        assessor = c.enum(p + ("assessor",), ASSESSORS)
        counts = [c.count(p + (k,)) for k in GUESS_KEYS[2:]]
        if arm_id is None or assessor is None or None in counts:
            continue
        row = GuessRow(arm_id, assessor, *counts)
        key = (arm_id, assessor)
        if key in used:
            c.add(p, f"a second guess table for arm '{arm_id}' and assessor '{assessor}' (first at guesses[{used[key]}])")
            continue
        used[key] = j
        size = arms[arm_id].randomized if arms[arm_id] is not None else None
        if size is not None and row.total > size:
            c.add(p, f"{row.total} guesses is more than the {size} randomized to arm '{arm_id}'")
        rows.append(row)
    return Blinding(masking, tuple(rows), note)

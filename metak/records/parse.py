"""Trial record validation: YAML -> :class:`~metak.records.model.Trial`.

Every rule is checked and every problem in a file is reported, not only the first. The
rules (also listed in docs/format.md):

* the file: readable UTF-8, at most 1 MB, valid YAML, one document, a mapping, no anchors,
  aliases or merge keys, no duplicate keys;
* keys: unknown keys are errors with a "did you mean" hint; required keys present;
* ``metak`` is the schema version 1; ids match ``[a-z0-9_-]+``; arm and outcome ids unique;
* enums (design, allocation, masking, role, control_type, route, type, direction,
  assessor, contrast measure) take only their listed values;
* counts are whole non-negative numbers (no floats, text, booleans, NaN or inf); n >= 1,
  total >= 1; events <= total; SD > 0; means finite;
* completed <= randomized; the arm sizes sum to at most ``randomized_total`` (crossover:
  each arm at most ``randomized_total``, since every participant receives every arm);
  outcome totals (n) at most the arm's randomized number;
* outcome data keyed by known arm ids only, with the shape its ``type`` asks for
  (events/total for binary, mean/sd/n for continuous);
* contrasts: known arms, experimental and control disjoint, CI or SE (not both), CI
  ordered and containing the estimate, ratio estimates and CI bounds > 0, SE > 0,
  0 < level < 1;
* ``control_type`` only on control arms; blinding guesses name a known arm, hold whole
  counts, and do not exceed the arm's randomized number;
* every outcome has a ``source`` with ``where``; a derived number (``derived: true``)
  needs a ``note`` saying how it was computed.
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from ..errors import Problem
from .checker import Checker, listing
from .model import (
    ALLOCATIONS, ASSESSORS, CONTRAST_MEASURES, CONTROL_TYPES, DESIGNS, DIRECTIONS, MASKINGS,
    OUTCOME_TYPES, RATIO_MEASURES, ROLES, ROUTES, SCHEMA_VERSION, Arm, BinaryArmData, Blinding,
    Citation, ContinuousArmData, ContrastData, Dose, GuessRow, Outcome, Source, Trial,
)
from .yamlload import Located, load_located

TOP_REQUIRED = ("metak", "id", "title", "condition", "design", "arms", "outcomes")
TOP_OPTIONAL = ("label", "citation", "allocation", "randomized_total", "blinding", "population", "setting",
                "co_intervention", "notes", "sources", "characteristics", "cluster")
#: a characteristic's name: it becomes a moderator name and a coefficient name
CHARACTERISTIC_NAME = r"[a-z][a-z0-9_]*"
CITATION_KEYS = ("authors", "year", "journal", "volume", "pages", "doi", "pmid", "registration", "url")
ARM_REQUIRED = ("id", "label", "role", "intervention")
ARM_OPTIONAL = ("control_type", "dose", "randomized", "completed", "route", "schedule", "co_intervention",
                "dropouts")
OUTCOME_REQUIRED = ("id", "label", "type", "direction", "data", "source")
OUTCOME_OPTIONAL = ("timepoint", "scale", "risk_of_bias", "paired", "first_period")
PAIRED_KEYS = ("experimental", "control", "n", "mean_difference", "sd_difference", "se", "ci", "level", "t",
               "correlation")
CLUSTER_KEYS = ("icc", "mean_cluster_size", "design_effect", "adjusted")
GUESS_KEYS = ("arm", "assessor", "guessed_experimental", "guessed_control", "dont_know")
CONTRAST_REQUIRED = ("measure", "experimental", "control", "estimate")
CONTRAST_OPTIONAL = ("ci", "se", "level")


def _text(c: Checker, path):
    return c.string(path)


def _citation(c: Checker) -> Citation:
    m = c.mapping(("citation",), optional=CITATION_KEYS)
    if m is None:
        return Citation()
    authors = ()
    seq = c.sequence(("citation", "authors"))
    if seq is not None:
        authors = tuple(a for i, a in enumerate(seq) if c.string(("citation", "authors", i)) is not None)
    year = c.count(("citation", "year"), minimum=1000) if "year" in m else None
    fields = {}
    for key in ("journal", "volume", "pages", "doi", "pmid", "registration", "url"):
        if key in m:
            value = m[key]
            if isinstance(value, int) and not isinstance(value, bool):
                value = str(value)  # pmid 31230464, volume 176 are fine as numbers
                fields[key] = value
            else:
                fields[key] = c.string(("citation", key))
    return Citation(authors=authors, year=year, **fields)


def _arm(c: Checker, i: int, design: str | None) -> Arm | None:
    p = ("arms", i)
    m = c.mapping(p, ARM_REQUIRED, ARM_OPTIONAL)
    if m is None:
        return None
    arm_id = c.ident(p + ("id",))
    label = _text(c, p + ("label",))
    role = c.enum(p + ("role",), ROLES)
    intervention = _text(c, p + ("intervention",))
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
    schedule = _text(c, p + ("schedule",)) if "schedule" in m else None
    co = _text(c, p + ("co_intervention",)) if "co_intervention" in m else None
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


def _blinding(c: Checker, arms: dict) -> Blinding | None:
    m = c.mapping(("blinding",), optional=("masking", "guesses", "note"))
    if m is None:
        return None
    masking = c.enum(("blinding", "masking"), MASKINGS) if "masking" in m else None
    note = _text(c, ("blinding", "note")) if "note" in m else None
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


def _source(c: Checker, p) -> Source | None:
    m = c.mapping(p, ("where",), ("derived", "note"))
    if m is None:
        return None
    where = c.string(p + ("where",))
    derived = c.boolean(p + ("derived",)) if "derived" in m else False
    note = c.string(p + ("note",)) if "note" in m else None
    if derived and "note" not in m:
        c.add(p, "derived: true needs a 'note' saying how the number was computed")
    if where is None or derived is None:
        return None
    return Source(where, derived, note)


def _arm_list(c: Checker, p, arms: dict):
    value = c.get(p)
    if isinstance(value, str):
        ids = [value]
        paths = [p]
    elif isinstance(value, list) and value:
        ids = value
        paths = [p + (i,) for i in range(len(value))]
    else:
        c.add(p, "must be an arm id or a non-empty list of arm ids")
        return None
    ok = True
    for arm_id, ap in zip(ids, paths):
        if not isinstance(arm_id, str) or arm_id not in arms:
            c.add(ap, f"unknown arm {arm_id!r}{c.hint(arm_id, arms)}; arms are: {listing(arms)}")
            ok = False
    if len(set(map(str, ids))) != len(ids):
        c.add(p, "names an arm twice")
        ok = False
    return tuple(ids) if ok else None


def _contrast(c: Checker, p, arms: dict) -> ContrastData | None:
    m = c.mapping(p, CONTRAST_REQUIRED, CONTRAST_OPTIONAL)
    if m is None:
        return None
    measure = c.enum(p + ("measure",), CONTRAST_MEASURES)
    exp = _arm_list(c, p + ("experimental",), arms) if "experimental" in m else None
    ctl = _arm_list(c, p + ("control",), arms) if "control" in m else None
    if exp and ctl and set(exp) & set(ctl):
        c.add(p, "experimental and control name the same arm")
    estimate = c.number(p + ("estimate",))
    level = c.number(p + ("level",), open_interval=(0, 1)) if "level" in m else 0.95
    ratio = measure in RATIO_MEASURES
    if ratio and estimate is not None and estimate <= 0:
        c.add(p + ("estimate",), f"a ratio ({measure}) must be greater than 0, got {estimate}")
        estimate = None
    ci = se = None
    if "ci" in m and "se" in m:
        c.add(p, "give either ci or se, not both")
    elif "ci" not in m and "se" not in m:
        c.add(p, "needs ci: [lower, upper] or se")
    if "ci" in m:
        seq = c.get(p + ("ci",))
        if not isinstance(seq, list) or len(seq) != 2:
            c.add(p + ("ci",), "must be a list of two numbers [lower, upper]")
        else:
            lo = c.number(p + ("ci", 0))
            hi = c.number(p + ("ci", 1))
            if lo is not None and hi is not None:
                if ratio and (lo <= 0 or hi <= 0):
                    c.add(p + ("ci",), f"a ratio's CI bounds must be greater than 0, got [{lo}, {hi}]")
                elif not lo < hi:
                    c.add(p + ("ci",), f"lower bound {lo} is not below upper bound {hi}")
                elif estimate is not None and not lo <= estimate <= hi:
                    c.add(p + ("ci",), f"[{lo}, {hi}] does not contain the estimate {estimate}")
                else:
                    ci = (lo, hi)
    if "se" in m:
        se = c.number(p + ("se",), positive=True)
    if None in (measure, exp, ctl, estimate, level) or (ci is None and se is None):
        return None
    return ContrastData(measure, exp, ctl, estimate, ci, se, level)


def _arm_data(c: Checker, p, otype: str, arms: dict, arm_id: str):
    binary_keys, cont_keys = ("events", "total"), ("mean", "sd", "n")
    value = c.get(p)
    if isinstance(value, dict):
        keys = set(value)
        # only when every key belongs to the other type: {event: 4, n: 48} is binary data with
        # wrong keys, reported key by key below with a hint
        if otype == "binary" and keys & set(cont_keys) and not keys & set(binary_keys) and keys <= CONT_ALL_KEYS:
            c.add(p, "continuous data (mean/sd/n) given for a binary outcome; use events and total, or type: continuous")
            return None
        if otype == "continuous" and keys & set(binary_keys) and not keys & set(cont_keys) and keys <= BINARY_ALL_KEYS:
            c.add(p, "binary data (events/total) given for a continuous outcome; use mean, sd and n, or type: binary")
            return None
    size = arms[arm_id].randomized if arms.get(arm_id) is not None else None
    if otype == "binary":
        if c.mapping(p, binary_keys, ("missing",), aliases=BINARY_ALIASES) is None:
            return None
        events = c.count(p + ("events",))
        total = c.count(p + ("total",), minimum=1)
        missing = c.count(p + ("missing",)) if "missing" in c.get(p) else None
        if events is not None and total is not None and events > total:
            c.add(p + ("events",), f"{events} is more than total {total}")
            return None
        if total is not None and size is not None and total > size:
            c.add(p + ("total",), f"{total} is more than the {size} randomized to arm '{arm_id}'")
        if missing is not None and total is not None and size is not None and total + missing > size:
            c.add(p + ("missing",), f"total {total} + missing {missing} is more than the {size} randomized to arm "
                                    f"'{arm_id}'")
            return None
        if events is None or total is None or ("missing" in c.get(p) and missing is None):
            return None
        return BinaryArmData(events, total, missing)
    conv = _continuous_form(c, p)
    if conv is False:
        return None
    if conv is None and c.mapping(p, cont_keys, ("missing",), aliases=CONT_ALIASES) is None:
        return None
    n = c.count(p + ("n",), minimum=1)
    how = None
    if conv is None:
        mean = c.number(p + ("mean",))
        sd = c.number(p + ("sd",), positive=True)
    else:
        mean, sd, how = conv(n) if n is not None else (None, None, None)
    missing = c.count(p + ("missing",)) if "missing" in c.get(p) else None
    if n is not None and size is not None and n > size:
        c.add(p + ("n",), f"{n} is more than the {size} randomized to arm '{arm_id}'")
    if missing is not None and n is not None and size is not None and n + missing > size:
        c.add(p + ("missing",), f"n {n} + missing {missing} is more than the {size} randomized to arm '{arm_id}'")
        return None
    if None in (mean, sd, n) or ("missing" in c.get(p) and missing is None):
        return None
    return ContinuousArmData(mean, sd, n, missing, how)


#: the other shapes continuous arm data may take (v2; see metak.records.convert)
CONT_FORMS = {
    "se": (("mean", "se", "n"), ()),
    "ci": (("mean", "ci", "n"), ("level",)),
    "quantiles": (("median", "n"), ("q1", "q3", "min", "max")),
    "change": (("baseline", "final", "correlation", "n"), ()),
}


#: every key of binary and of continuous arm data (any form)
BINARY_ALL_KEYS = {"events", "total", "missing"}
CONT_ALL_KEYS = {"mean", "sd", "n", "missing"} | {k for req, opt in CONT_FORMS.values() for k in req + opt}
#: wrong keys people write for arm data -> the key meant (for the hint; difflib finds the rest)
BINARY_ALIASES = {"n": "total", "N": "total", "count": "events", "r": "events"}
CONT_ALIASES = {"total": "n", "N": "n", "SD": "sd", "std": "sd", "Mean": "mean", "m": "mean"}


def _continuous_form(c: Checker, p):
    """None for the plain {mean, sd, n}; False after a reported problem; else a function of n
    giving (mean, sd, how)."""
    from . import convert

    value = c.get(p)
    if not isinstance(value, dict) or "sd" in value or ("mean" in value and not ({"se", "ci"} & set(value))):
        return None
    if "median" in value:
        form = "quantiles"
    elif "baseline" in value or "final" in value:
        form = "change"
    elif "se" in value:
        form = "se"
    elif "ci" in value:
        form = "ci"
    else:
        return None
    req, opt = CONT_FORMS[form]
    if c.mapping(p, req, opt + ("missing",)) is None:
        return False
    if form == "se":
        mean, se = c.number(p + ("mean",)), c.number(p + ("se",), positive=True)
        if None in (mean, se):
            return False
        return lambda n: (mean, convert.sd_from_se(se, n), f"SD from the SE of the mean, SE x sqrt(n) (SE {se:g})")
    if form == "ci":
        mean = c.number(p + ("mean",))
        level = c.number(p + ("level",), open_interval=(0, 1)) if "level" in value else 0.95
        seq = value.get("ci")
        if not isinstance(seq, list) or len(seq) != 2:
            c.add(p + ("ci",), "must be a list of two numbers [lower, upper]")
            return False
        lo, hi = c.number(p + ("ci", 0)), c.number(p + ("ci", 1))
        if None in (mean, level, lo, hi):
            return False
        if not lo < mean < hi:
            c.add(p + ("ci",), f"[{lo}, {hi}] does not contain the mean {mean}")
            return False
        return lambda n: (mean, convert.sd_from_ci(lo, hi, n, level),
                          f"SD from the {level:.0%} CI of the mean, sqrt(n) (upper - lower) / (2 t on n - 1 df)")
    if form == "change":
        parts = {}
        for key in ("baseline", "final"):
            if c.mapping(p + (key,), ("mean", "sd")) is None:
                return False
            m_, s_ = c.number(p + (key, "mean")), c.number(p + (key, "sd"), positive=True)
            if None in (m_, s_):
                return False
            parts[key] = (m_, s_)
        r = c.number(p + ("correlation",), open_interval=(-1, 1))
        if r is None:
            return False
        (mb, sb), (mf, sf) = parts["baseline"], parts["final"]
        return lambda n: (mf - mb, convert.change_sd(sb, sf, r),
                          f"change from baseline: final - baseline, SD with the stated correlation r = {r:g}")
    median = c.number(p + ("median",))
    got = {k: c.number(p + (k,)) for k in ("q1", "q3", "min", "max") if k in value}
    if median is None or None in got.values():
        return False
    if ("q1" in got) != ("q3" in got) or ("min" in got) != ("max" in got) or not got:
        c.add(p, "a median needs q1 and q3 (the IQR), min and max (the range), or both")
        return False
    order = [got.get("min"), got.get("q1"), median, got.get("q3"), got.get("max")]
    order = [x for x in order if x is not None]
    if any(b < a for a, b in zip(order, order[1:])) or order[0] == order[-1]:
        c.add(p, f"the quantiles must increase (min <= q1 <= median <= q3 <= max), got {order}")
        return False
    return lambda n: convert.from_quantiles(n, median, got.get("q1"), got.get("q3"), got.get("min"), got.get("max"))


def _risk_of_bias(c: Checker, p):
    """RoB 2: each domain low | some_concerns | high; ``overall`` given, or derived by the
    tool's algorithm (high if any domain is high, low if all are low, else some concerns)."""
    from .model import ROB_DOMAINS, ROB_LEVELS, RiskOfBias

    m = c.mapping(p, (), ROB_DOMAINS + ("overall",), what="risk-of-bias domain")
    if m is None:
        return None
    values = {}
    for key in ROB_DOMAINS + ("overall",):
        if key in m:
            values[key] = c.enum(p + (key,), ROB_LEVELS)
            if values[key] is None:
                return None
    domains = tuple((d, values.get(d)) for d in ROB_DOMAINS)
    if "overall" in values:
        worst = max((ROB_LEVELS.index(v), d) for d, v in domains if v is not None) if any(
            v is not None for _, v in domains) else None
        if worst is not None and ROB_LEVELS.index(values["overall"]) < worst[0]:
            c.add(p + ("overall",), f"overall '{values['overall']}' is less severe than {worst[1]} "
                                    f"'{ROB_LEVELS[worst[0]]}' (RoB 2: the overall judgement is at least the worst domain)")
            return None
        return RiskOfBias(domains, values["overall"])
    given = [v for _, v in domains if v is not None]
    if len(given) < len(ROB_DOMAINS):
        c.add(p, "give 'overall', or all five domains (" + ", ".join(ROB_DOMAINS) + ") to derive it from")
        return None
    overall = "high" if "high" in given else "low" if all(v == "low" for v in given) else "some_concerns"
    return RiskOfBias(domains, overall, derived=True)


def _outcome(c: Checker, i: int, arms: dict, design: str | None = None) -> Outcome | None:
    p = ("outcomes", i)
    m = c.mapping(p, OUTCOME_REQUIRED, OUTCOME_OPTIONAL)
    if m is None:
        return None
    oid = c.ident(p + ("id",))
    label = _text(c, p + ("label",))
    otype = c.enum(p + ("type",), OUTCOME_TYPES)
    direction = c.enum(p + ("direction",), DIRECTIONS)
    timepoint = c.string(p + ("timepoint",)) if "timepoint" in m else None
    scale = c.string(p + ("scale",)) if "scale" in m else None
    source = _source(c, p + ("source",)) if "source" in m else None
    rob = _risk_of_bias(c, p + ("risk_of_bias",)) if "risk_of_bias" in m else None
    data = None
    dp = p + ("data",)
    if otype == "contrast":
        data = _contrast(c, dp, arms)
    elif otype in ("binary", "continuous") and "data" in m:
        dm = c.get(dp)
        if not isinstance(dm, dict) or not dm:
            c.add(dp, "must be a mapping from arm id to that arm's data")
        else:
            parsed = {}
            for arm_id in dm:
                if arm_id not in arms:
                    c.add(dp + (arm_id,), f"unknown arm '{arm_id}'{c.hint(arm_id, arms)}; arms are: {listing(arms)}")
                    continue
                parsed[arm_id] = _arm_data(c, dp + (arm_id,), otype, arms, arm_id)
            if all(v is not None for v in parsed.values()) and len(parsed) == len(dm):
                data = parsed
    paired = first = None
    if "paired" in m:
        paired = _paired(c, p + ("paired",), otype, design, arms, data)
    if "first_period" in m:
        first = _first_period(c, p + ("first_period",), otype, design, arms)
    if None in (oid, label, otype, direction, source, data):
        return None
    if ("risk_of_bias" in m and rob is None) or ("paired" in m and paired is None) or (
            "first_period" in m and first is None):
        return None
    return Outcome(oid, label, otype, direction, source, data, timepoint, scale, rob, paired, first)


def _paired(c: Checker, p, otype, design, arms: dict, data):
    """A crossover outcome's within-participant comparison (see :class:`Paired`)."""
    from .model import PAIRED_PRECISION, Paired

    if design != "crossover":
        c.add(p, f"a paired comparison is for crossover trials; this trial's design is {design}")
        return None
    if otype != "continuous":
        c.add(p, f"paired data are read for continuous outcomes; this outcome is {otype} (give first_period "
                 "data, or leave it to the parallel approximation)")
        return None
    m = c.mapping(p, ("n",), PAIRED_KEYS)
    if m is None:
        return None
    given = [k for k in PAIRED_PRECISION if k in m]
    if len(given) != 1:
        c.add(p, "give exactly one of " + ", ".join(PAIRED_PRECISION) + " for the within-participant "
                 "difference" + (f" (got {', '.join(given)})" if given else ""))
        return None
    roles = {}
    for role in ("experimental", "control"):
        if role in m:
            a = c.string(p + (role,))
            if a is not None and a not in arms:
                c.add(p + (role,), f"unknown arm '{a}'{c.hint(a, arms)}; arms are: {listing(arms)}")
                return None
            roles[role] = a
        else:
            have = [a for a, arm in arms.items() if arm is not None and arm.role == role and (data or {}).get(a)]
            if len(have) != 1:
                c.add(p, f"name the {role} arm ({role}: ...): the outcome has {len(have)} {role} arms with data")
                return None
            roles[role] = have[0]
    n = c.count(p + ("n",), minimum=2)
    md = c.number(p + ("mean_difference",)) if "mean_difference" in m else None
    if md is None and "mean_difference" not in m and data and None not in roles.values():
        e, k = data.get(roles["experimental"]), data.get(roles["control"])
        md = e.mean - k.mean if e is not None and k is not None else None
        if md is None:
            c.add(p, "give mean_difference, or both arms' means under data")
            return None
    level = c.number(p + ("level",), open_interval=(0, 1)) if "level" in m else 0.95
    vals = {}
    key = given[0]
    if key == "ci":
        seq = c.get(p + ("ci",))
        if not isinstance(seq, list) or len(seq) != 2:
            c.add(p + ("ci",), "must be a list of two numbers [lower, upper]")
            return None
        lo, hi = c.number(p + ("ci", 0)), c.number(p + ("ci", 1))
        if lo is None or hi is None:
            return None
        if not lo < hi:
            c.add(p + ("ci",), f"lower bound {lo} is not below upper bound {hi}")
            return None
        if md is not None and not lo <= md <= hi:
            c.add(p + ("ci",), f"[{lo}, {hi}] does not contain the mean difference {md}")
            return None
        vals["ci"] = (lo, hi)
    elif key == "correlation":
        r = c.number(p + (key,), open_interval=(-1, 1))
        if r is None:
            return None
        vals[key] = r
    elif key == "t":
        t = c.number(p + (key,))
        if t is None:
            return None
        if t == 0 or (md is not None and md == 0):
            c.add(p + (key,), "a paired t gives the SE as |mean difference| / |t|: neither may be 0")
            return None
        if md is not None and (t > 0) != (md > 0):
            c.add(p + (key,), f"t {t} and the mean difference {md} have opposite signs")
            return None
        vals[key] = t
    else:
        x = c.number(p + (key,), positive=True)
        if x is None:
            return None
        vals[key] = x
    if None in (n, level) or None in roles.values():
        return None
    return Paired(roles["experimental"], roles["control"], n, md, level=level, **vals)


def _first_period(c: Checker, p, otype, design, arms: dict):
    """Arm data from the first period only (a crossover trial's parallel comparison)."""
    if design != "crossover":
        c.add(p, f"first-period data are for crossover trials; this trial's design is {design}")
        return None
    dm = c.get(p)
    if otype not in ("binary", "continuous") or not isinstance(dm, dict) or not dm:
        c.add(p, "must be a mapping from arm id to that arm's first-period data (binary or continuous outcomes)")
        return None
    parsed = {}
    for arm_id in dm:
        if arm_id not in arms:
            c.add(p + (arm_id,), f"unknown arm '{arm_id}'{c.hint(arm_id, arms)}; arms are: {listing(arms)}")
            return None
        parsed[arm_id] = _arm_data(c, p + (arm_id,), otype, arms, arm_id)
    return parsed if all(v is not None for v in parsed.values()) else None


def _cluster(c: Checker, design):
    """A cluster-randomised trial's ``cluster`` block (see :class:`Cluster`)."""
    from .model import Cluster

    p = ("cluster",)
    if design != "cluster":
        c.add(p, f"a cluster block is for cluster-randomised trials (design: cluster); this trial's design is "
                 f"{design}")
        return None
    m = c.mapping(p, (), CLUSTER_KEYS)
    if m is None:
        return None
    ways = [w for w in (("icc", "mean_cluster_size"), ("design_effect",), ("adjusted",)) if any(k in m for k in w)]
    if len(ways) != 1:
        c.add(p, "give icc with mean_cluster_size, or design_effect, or adjusted: true (exactly one)")
        return None
    if ways[0] == ("adjusted",):
        adj = c.boolean(p + ("adjusted",))
        if adj is not True:
            if adj is False:
                c.add(p + ("adjusted",), "adjusted: false says nothing; give icc with mean_cluster_size or "
                                         "design_effect instead")
            return None
        return Cluster(adjusted=True)
    if ways[0] == ("design_effect",):
        de = c.number(p + ("design_effect",), minimum=1)
        return None if de is None else Cluster(design_effect=de)
    for k in ("icc", "mean_cluster_size"):
        if k not in m:
            c.add(p, f"missing required key '{k}' (an ICC needs the mean cluster size, and the other way round)")
            return None
    icc = c.number(p + ("icc",), minimum=0)
    if icc is not None and icc >= 1:
        c.add(p + ("icc",), f"an intracluster correlation must be in [0, 1), got {icc}")
        return None
    size = c.number(p + ("mean_cluster_size",), minimum=1)
    return None if icc is None or size is None else Cluster(icc=icc, mean_cluster_size=size)


def _characteristics(c: Checker) -> tuple:
    """Trial-level moderators: name -> number | string | boolean (contract section 5)."""
    import math
    import re

    m = c.get(("characteristics",))
    if not isinstance(m, dict):
        c.add(("characteristics",), "must be a mapping of names to values (numbers, text or true/false)")
        return ()
    out = []
    for name, value in m.items():
        p = ("characteristics", name)
        if not isinstance(name, str) or not re.fullmatch(CHARACTERISTIC_NAME, name):
            c.add(p, f"characteristic name {name!r} must match {CHARACTERISTIC_NAME} (lower case, digits, _)")
            continue
        if isinstance(value, float) and not math.isfinite(value):
            c.add(p, f"must be a finite number, got {value!r}")
        elif value is None or isinstance(value, (list, dict)):
            c.add(p, "must be a number, text or true/false (leave the key out when the value is unknown)")
        else:
            out.append((name, value))
    return tuple(out)


def _unique(c: Checker, key: str, what: str):
    seen: dict = {}
    items = c.get((key,))
    for i, item in enumerate(items if isinstance(items, list) else []):
        if isinstance(item, dict) and isinstance(item.get("id"), str):
            if item["id"] in seen:
                c.add((key, i, "id"), f"duplicate {what} id '{item['id']}' (first at {key}[{seen[item['id']]}])")
            else:
                seen[item["id"]] = i


def parse_trial(doc: Located, sha256: str = "") -> tuple[Trial | None, list[Problem]]:
    """Validate a loaded document; return (Trial, []) or (None, every problem)."""
    c = Checker(doc)
    data = doc.data
    if isinstance(data, dict) and "meta_analyses" in data and "arms" not in data:
        c.add((), "this is an analysis spec (it has meta_analyses), not a trial record: run it with "
                  "`metak analyze`, and keep specs out of the trials folder")
        return None, c.problems
    if isinstance(data, dict) and "metak" not in data and "id" not in data:
        # some other file (a spec's trials: may name anything): say so once, and do not echo
        # its lines back as unknown keys
        c.add((), "not a metak trial record: it has no 'metak:' or 'id:' key at the top (a record starts "
                  "with metak: 1 and id: <trial id>)")
        return None, c.problems
    top = c.mapping((), TOP_REQUIRED, TOP_OPTIONAL)
    if top is None:
        return None, c.problems
    version = c.get(("metak",))
    if "metak" in top and (isinstance(version, bool) or version != SCHEMA_VERSION):
        c.add(("metak",), f"schema version {version!r} is not supported; this metak reads version {SCHEMA_VERSION}")
    trial_id = c.ident(("id",))
    title = _text(c, ("title",))
    condition = _text(c, ("condition",))
    design = c.enum(("design",), DESIGNS)
    allocation = c.enum(("allocation",), ALLOCATIONS) if "allocation" in top else "randomized"
    randomized_total = c.count(("randomized_total",), minimum=1) if "randomized_total" in top else None
    citation = _citation(c)
    extras = {k: _text(c, (k,)) for k in ("population", "setting", "co_intervention", "notes") if k in top}
    if "label" in top:
        extras["study_label"] = _text(c, ("label",))
    characteristics = _characteristics(c) if "characteristics" in top else ()
    cluster = _cluster(c, design) if "cluster" in top else None
    sources = ()
    seq = c.sequence(("sources",))
    if seq is not None:
        sources = tuple(s for j, s in enumerate(seq) if c.string(("sources", j)) is not None)

    _unique(c, "arms", "arm")
    _unique(c, "outcomes", "outcome")
    arm_seq = c.sequence(("arms",), nonempty=True) or []
    arms: dict = {}
    for i, _ in enumerate(arm_seq):
        arm = _arm(c, i, design)
        raw_id = arm_seq[i].get("id") if isinstance(arm_seq[i], dict) else None
        if isinstance(raw_id, str) and raw_id not in arms:
            arms[raw_id] = arm  # None when the arm itself has problems (already reported)
    sizes = [a.randomized for a in arms.values() if a is not None and a.randomized is not None]
    if randomized_total is not None and sizes:
        if design == "crossover":
            for i, a in enumerate(arm_seq):
                raw = a.get("id") if isinstance(a, dict) else None
                arm = arms.get(raw) if isinstance(raw, str) else None
                if arm is not None and arm.randomized is not None and arm.randomized > randomized_total:
                    c.add(("arms", i, "randomized"),
                          f"{arm.randomized} is more than randomized_total {randomized_total}")
        elif sum(sizes) > randomized_total:
            c.add(("randomized_total",), f"the arms' randomized numbers sum to {sum(sizes)}, more than randomized_total {randomized_total}")
    blinding = _blinding(c, arms) if "blinding" in top else None
    outcomes = []
    for i, _ in enumerate(c.sequence(("outcomes",)) or []):
        o = _outcome(c, i, arms, design)
        outcomes.append(o)
        if o is not None and o.type != "contrast" and randomized_total is not None:
            sizes = {a: (d.total if hasattr(d, "total") else d.n) for a, d in o.data.items()}
            if design == "crossover":
                over = {a: n for a, n in sizes.items() if n > randomized_total}
                for a, n in over.items():
                    c.add(("outcomes", i, "data", a), f"{n} analysed is more than randomized_total {randomized_total}")
            elif sum(sizes.values()) > randomized_total:
                c.add(("outcomes", i, "data"), f"the arms' analysed numbers sum to {sum(sizes.values())}, "
                                               f"more than randomized_total {randomized_total}")
    if c.problems:
        return None, sorted(c.problems, key=lambda p: p.line or 0)
    trial = Trial(
        id=trial_id, title=title, condition=condition, design=design, arms=tuple(arms.values()),
        outcomes=tuple(outcomes), citation=citation, allocation=allocation,
        randomized_total=randomized_total, blinding=blinding, sources=sources,
        characteristics=characteristics, path=doc.file, sha256=sha256, cluster=cluster, **extras,
    )
    return trial, []


def load_trial(path, display: str | None = None) -> tuple[Trial | None, list[Problem], list[str]]:
    """Read and validate one trial file: (Trial or None, problems, warnings)."""
    path = Path(path)
    name = display or str(path)
    doc, problems = load_located(path, name)
    if doc is None:
        return None, problems, []
    sha = hashlib.sha256(path.read_bytes()).hexdigest()
    trial, problems = parse_trial(doc, sha)
    warnings = []
    if trial is not None and path.stem != trial.id:
        warnings.append(f"{name}:{doc.line(('id',))}: id: '{trial.id}' does not match the file name '{path.name}'")
    return trial, problems, warnings

"""Trial record validation, the outcomes: each outcome's fields, source, RoB 2 judgement, data
(:mod:`metak.records.arm_data`), crossover paired block and first-period data."""

from __future__ import annotations

from .arm_data import parse_arm_data, parse_contrast
from .arm_more import MORE_TYPES, parse_more_arm_data
from .checker import Checker, listing
from .model import DIRECTIONS, OUTCOME_TYPES, SOURCE_TYPES, Outcome, Source

OUTCOME_REQUIRED = ("id", "label", "type", "direction", "data", "source")
OUTCOME_OPTIONAL = ("timepoint", "scale", "risk_of_bias", "paired", "first_period", "by_guess")
PAIRED_KEYS = ("experimental", "control", "n", "mean_difference", "sd_difference", "se", "ci", "level", "t",
               "correlation")


def _source(c: Checker, p) -> Source | None:
    m = c.mapping(p, ("where",), ("derived", "note", "type"))
    if m is None:
        return None
    where = c.string(p + ("where",))
    derived = c.boolean(p + ("derived",)) if "derived" in m else False
    note = c.string(p + ("note",)) if "note" in m else None
    if derived and "note" not in m:
        c.add(p, "derived: true needs a 'note' saying how the number was computed")
    kinds = _source_types(c, p + ("type",)) if "type" in m else ()
    if where is None or derived is None or kinds is None:
        return None
    return Source(where, derived, note, kinds)


def _source_types(c: Checker, p) -> tuple | None:
    """``source.type``: one of SOURCE_TYPES or a non-empty list of them (a number read in one
    kind of source with its denominator from another)."""
    raw = c.get(p)
    if isinstance(raw, str):
        v = c.enum(p, SOURCE_TYPES)
        return None if v is None else (v,)
    seq = c.sequence(p, nonempty=True)
    if seq is None:
        return None
    kinds = tuple(c.enum(p + (j,), SOURCE_TYPES) for j in range(len(seq)))
    return None if None in kinds else kinds


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


def parse_outcome(c: Checker, i: int, arms: dict, design: str | None = None) -> Outcome | None:
    p = ("outcomes", i)
    m = c.mapping(p, OUTCOME_REQUIRED, OUTCOME_OPTIONAL)
    if m is None:
        return None
    oid = c.ident(p + ("id",))
    label = c.string(p + ("label",))
    otype = c.enum(p + ("type",), OUTCOME_TYPES)
    direction = c.enum(p + ("direction",), DIRECTIONS)
    timepoint = c.string(p + ("timepoint",)) if "timepoint" in m else None
    scale = c.string(p + ("scale",)) if "scale" in m else None
    source = _source(c, p + ("source",)) if "source" in m else None
    rob = _risk_of_bias(c, p + ("risk_of_bias",)) if "risk_of_bias" in m else None
    data = None
    dp = p + ("data",)
    if otype == "contrast":
        data = parse_contrast(c, dp, arms)
    elif otype in ("binary", "continuous", *MORE_TYPES) and "data" in m:
        dm = c.get(dp)
        if not isinstance(dm, dict) or not dm:
            c.add(dp, "must be a mapping from arm id to that arm's data")
        else:
            parsed = {}
            for arm_id in dm:
                if arm_id not in arms:
                    c.add(dp + (arm_id,), f"unknown arm '{arm_id}'{c.hint(arm_id, arms)}; arms are: {listing(arms)}")
                    continue
                parse = parse_more_arm_data if otype in MORE_TYPES else parse_arm_data
                parsed[arm_id] = parse(c, dp + (arm_id,), otype, arms, arm_id)
            if all(v is not None for v in parsed.values()) and len(parsed) == len(dm):
                data = parsed
    paired = first = None
    if "paired" in m:
        paired = _paired(c, p + ("paired",), otype, design, arms, data)
    if "first_period" in m:
        first = _first_period(c, p + ("first_period",), otype, design, arms)
    guess = None
    if "by_guess" in m:  # outcomes by arm x allocation guess, for the CGRC (metak/sensitivity/cgrc.py)
        from ..sensitivity.cgrc import parse_by_guess

        guess = parse_by_guess(c, p + ("by_guess",), otype, arms, data)
    if None in (oid, label, otype, direction, source, data):
        return None
    if ("risk_of_bias" in m and rob is None) or ("paired" in m and paired is None) or (
            "first_period" in m and first is None) or ("by_guess" in m and guess is None):
        return None
    return Outcome(oid, label, otype, direction, source, data, timepoint, scale, rob, paired, first, guess)


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
        parsed[arm_id] = parse_arm_data(c, p + (arm_id,), otype, arms, arm_id)
    return parsed if all(v is not None for v in parsed.values()) else None

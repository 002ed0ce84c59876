"""Trial record validation, an outcome's data: per-arm binary and continuous data (with the other
continuous forms that :mod:`metak.records.convert` turns into mean/SD/n) and reported contrasts."""

from __future__ import annotations

from ..vocab import MEASURES as CONTRAST_MEASURES  # a contrast may be any measure
from ..vocab import RATIO_MEASURES  # reported on the natural (ratio) scale; analysed on the log scale
from .checker import Checker, listing
from .model import BinaryArmData, ContinuousArmData, ContrastData

CONTRAST_REQUIRED = ("measure", "experimental", "control", "estimate")
CONTRAST_OPTIONAL = ("ci", "se", "level")


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


def parse_contrast(c: Checker, p, arms: dict) -> ContrastData | None:
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


def parse_arm_data(c: Checker, p, otype: str, arms: dict, arm_id: str):
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

"""The ``certainty:`` block of a meta-analysis: parsers of its parameters (each problem
reported on the spec checker with its file, key path and line) and when it runs by default.

```yaml
certainty:
  indirectness: {rating: serious, reason: "adolescents only; the question is about adults"}
  inconsistency: {rating: not_serious, reason: "..."}     # overrides the suggested rating
  mid: 1.25              # the minimal important difference (a ratio for OR/RR/HR, else in units)
  information_size: {control_risk: 0.2, rrr: 0.25, alpha: 0.05, beta: 0.2, sd: 8}
  tsa: true
```
``certainty: false`` turns it off where it would run by default; ``certainty: true`` runs it with
the defaults.
"""

from __future__ import annotations

DOMAINS = ("risk_of_bias", "inconsistency", "indirectness", "imprecision", "publication_bias")
#: the ratings an author may give a domain (GRADEpro's "not serious", "serious", "very serious")
RATINGS = ("not_serious", "serious", "very_serious")
LEVELS = {"not_serious": 0, "serious": 1, "very_serious": 2}
RATIO = ("OR", "RR", "HR", "ROM", "IRR")
#: the sensitivity analyses whose results the ratings read: certainty runs by default when the
#: meta-analysis asks for one of them
INPUTS = ("risk_of_bias", "blinding", "missing_outcome", "small_study", "selection_model", "pet_peese")


def parse_override(c, path, value, measure):
    """``{rating: serious, reason: "..."}``: an author's rating of one domain, with its reason."""
    m = c.mapping(path, ("rating", "reason"))
    if m is None:
        return None
    rating = c.enum(path + ("rating",), RATINGS) if "rating" in m else None
    reason = c.string(path + ("reason",)) if "reason" in m else None
    if rating is None or reason is None:
        return None
    return {"rating": rating, "reason": reason.strip()}


def parse_mid(c, path, value, measure):
    """The minimal important difference: a ratio (not 1) for ratio measures, else a positive
    difference in the measure's units; stored on the analysis scale (log for ratios)."""
    import math

    x = c.number(path, positive=True)
    if x is None:
        return None
    if measure in RATIO:
        if x == 1:
            c.add(path, f"a minimal important {measure} of 1 is no difference; give e.g. 1.25 or 0.8")
            return None
        return abs(math.log(x))
    return x


def parse_information_size(c, path, value, measure):
    """``{control_risk, rrr, alpha, beta, sd}`` for the required information size."""
    m = c.mapping(path, (), ("control_risk", "rrr", "alpha", "beta", "sd"))
    if m is None:
        return None
    out, ok = {}, True
    for key, kw in (("control_risk", {"open_interval": (0, 1)}), ("rrr", {"open_interval": (0, 1)}),
                    ("alpha", {"open_interval": (0, 0.5)}), ("beta", {"open_interval": (0, 0.5)}),
                    ("sd", {"positive": True})):
        if key in m:
            v = c.number(path + (key,), **kw)
            ok = ok and v is not None
            out[key] = v
    binary = measure in ("OR", "RR", "RD")
    for key in ("control_risk", "rrr"):
        if key in m and measure is not None and not binary:
            c.add(path + (key,), f"{key} is for binary outcomes (OR, RR, RD), not measure {measure}")
            ok = False
    if "sd" in m and binary:
        c.add(path + ("sd",), f"sd is for continuous outcomes (MD, SMD), not measure {measure}")
        ok = False
    return out if ok else None


def check(c, path, values, meta) -> None:
    """The parameters against the rest of the meta-analysis."""
    if meta.get("multi_arm") == "multivariate":
        c.add(path, "certainty reads the univariate model's results; not yet available with multi_arm: multivariate")


def default_on(meta: dict) -> bool:
    """Runs without its key when the meta-analysis asks for a sensitivity analysis it reads."""
    if meta.get("multi_arm") == "multivariate":
        return False
    names = {next(iter(e)) if isinstance(e, dict) and len(e) == 1 else e for e in meta.get("sensitivity") or ()
             if isinstance(e, (str, dict))}
    return bool(names & set(INPUTS))

"""Words of the methods text: lists of names and priors as a manuscript writes them."""

from __future__ import annotations

import re

from .references import RECORDS


def names(items) -> str:
    """'A', 'A and B', 'A, B and C'."""
    items = list(items)
    return items[0] if len(items) == 1 else ", ".join(items[:-1]) + " and " + items[-1]


def _g(x) -> str:
    return f"{x:g}".replace("-", "−")


# --------------------------------------------------------------------------- priors in words

_PRIOR = re.compile(r"^(?P<dist>\w+)\((?P<args>[^)]*)\)(?P<tau2> on tau\^2)?(?: \[(?P<source>[^\]]+)\])?$")
_PRESET_OUTCOMES = {"turner2015": "Turner et al.", "rhodes2015": "Rhodes et al."}


def prior_text(text: str, on: str = "τ") -> tuple[str, str | None]:
    """A prior's repr (``HalfNormal(sigma=0.5)``, ``LogNormal(mu=-2.12, sigma=1.53) on tau^2
    [turner2015/mental_health]``) in words ("a half-normal prior with scale 0.5 on τ"), and the
    reference id of its source (or None). Text it cannot read is returned as it is."""
    m = _PRIOR.match(str(text).strip())
    if not m:
        return f"the prior {text} on {on}", None
    args = dict(a.split("=") for a in m.group("args").replace(" ", "").split(",") if "=" in a)
    a = {k: _g(float(v)) for k, v in args.items()}
    dist, src = m.group("dist"), m.group("source")
    key = src.split("/")[0] if src else None
    if m.group("tau2"):
        on = "τ²"
    words = {
        "Normal": lambda: f"a normal prior with mean {a.get('mu')} and standard deviation {a.get('sigma')} on {on}",
        "StudentT": lambda: (f"a Student-t prior with {a.get('nu')} degrees of freedom, location {a.get('mu')} and "
                             f"scale {a.get('sigma')} on {on}"),
        "Uniform": lambda: f"a uniform prior from {a.get('lower')} to {a.get('upper')} on {on}",
        "HalfNormal": lambda: f"a half-normal prior with scale {a.get('sigma')} on {on}",
        "HalfCauchy": lambda: f"a half-Cauchy prior with scale {a.get('beta')} on {on}",
        "HalfStudentT": lambda: (f"a half-Student-t prior with {a.get('nu')} degrees of freedom and scale "
                                 f"{a.get('sigma')} on {on}"),
        "Exponential": lambda: f"an exponential prior with rate {a.get('lam')} on {on}",
        "LogNormal": lambda: (f"a log-normal prior on {on} (log {on} normal with mean {a.get('mu')} and standard "
                              f"deviation {a.get('sigma')})"),
        "LogStudentT": lambda: (f"a log-t prior on {on} (log {on} Student-t with {a.get('nu')} degrees of freedom, "
                                f"location {a.get('mu')} and scale {a.get('sigma')})"),
    }.get(dist)
    if words is None:
        return f"the prior {text} on {on}", key if key in RECORDS else None
    out = words()
    if src and key in _PRESET_OUTCOMES:
        outcome = src.split("/", 1)[1].replace("_", " ").replace("-", " ") if "/" in src else "these"
        outcome += "" if outcome.endswith("s") else " outcomes"
        out += f", the predictive distribution of {_PRESET_OUTCOMES[key]} for {outcome}"
    return out, key if key in RECORDS else None

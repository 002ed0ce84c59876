"""Simulation specs (``metak simulate SPEC``): YAML -> frozen :class:`SimSpec`.

Checked by the records' :class:`~metak.records.checker.Checker`, like analysis specs and trial
records: every problem of the file is reported at once, each with its file, line and key path,
unknown keys and names with a "did you mean" hint, the ``bayes:`` block's problems (from
:func:`metak.bayes.spec.parse_bayes_spec`) among them at their own lines; nothing is run
until the whole file is right. The keys are documented in docs/scale.md.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

from ..errors import InvalidSpec, Problem, SpecValueError, SpecValueErrors, format_path
from ..records.checker import MAX_COUNT, Checker, listing
from ..records.yamlload import Located, load_located


@dataclass(frozen=True)
class SimSpec:
    name: str
    seed: int
    replicates: int
    block: int
    scenarios: tuple     # dicts
    estimators: tuple
    tests: tuple
    level: float
    #: the checked ``bayes:`` block (priors) for the estimator BAYES, else None
    bayes: object = None


TOP_KEYS = ("metak", "simulation", "seed", "replicates", "block", "level", "scenarios", "estimators", "tests", "bayes")
SCENARIO_KEYS = ("k", "tau2", "mu", "vi", "binary", "shared_bias")
VI_KEYS = {"uniform": ("dist", "low", "high"), "chisq": ("dist", "df", "scale")}
#: the within-study variances when ``scenarios.vi`` is not given
DEFAULT_VI = {"dist": "uniform", "low": 0.01, "high": 0.2}
#: the settings: key -> (a whole number?, the Checker's bounds, the default)
SETTINGS = {
    "seed": (True, {"minimum": 0}, 0),
    "replicates": (True, {"minimum": 1, "maximum": MAX_COUNT}, 1000),
    "block": (True, {"minimum": 1, "maximum": MAX_COUNT}, 500),
    "level": (False, {"open_interval": (0, 1)}, 0.95),
}
#: the most studies a simulated meta-analysis may have (the largest published ones have a few
#: thousand; a million is already beyond any realistic design)
MAX_K = 1_000_000
#: the memory one replicate block may need: min(block, replicates) x k cells of about
#: :data:`BYTES_PER_CELL` bytes each. Measured peaks (run_block, k = 20,000, 250 replicates):
#: 73 bytes per cell for FE/DL/HE, 145 for the iterative estimators (REML, ML, PM, SJ, EB), about
#: 210 for BAYES: 256 (32 float64 arrays) covers every estimator. A block beyond 2 GB (and one
#: per worker runs at once) would be killed by the kernel's OOM killer without a message.
BYTES_PER_CELL = 256
MAX_BLOCK_BYTES = 2_000_000_000
#: the scenario values, each one number or a list of them (Checker.numbers): key -> (whole
#: numbers?, bounds, default); the scenarios are every combination
SCENARIO_VALUES = {
    "k": (True, {"minimum": 2, "maximum": MAX_K}, [5]),
    "tau2": (False, {"minimum": 0}, [0.0]),
    "mu": (False, {}, [0.0]),
}
BINARY_VALUES = {
    "p_control": (False, {"open_interval": (0, 1)}),
    "n": (True, {"minimum": 1, "maximum": MAX_COUNT}),
}
BINARY_KEYS = tuple(BINARY_VALUES)
#: the estimator of the exact Bayesian engine (with the priors of ``bayes:``)
BAYES = "BAYES"


def parse_sim_spec(doc: Located) -> tuple[SimSpec | None, list[Problem]]:
    """The spec, or None and every problem of the file (sorted by line)."""
    from ..sensitivity import shared_bias_sim  # the shared-bias scenario (blinding, contract §6.3)
    from ..spec.model import SCHEMA_VERSION
    from ..vocab import IV_METHODS, TEST_ALIASES, TESTS

    c = Checker(doc)
    d = doc.data
    if isinstance(d, dict) and "simulation" not in d:
        if "meta_analyses" in d:
            c.add((), "this is an analysis spec (it has meta_analyses:), not a simulation spec: run it with "
                      "`metak analyze`")
            return None, c.problems
        if not set(d) & (set(TOP_KEYS) - {"metak"}):
            c.add((), "not a simulation spec: it needs 'simulation: <name>' (and scenarios, estimators, tests)")
            return None, c.problems
    if c.mapping((), ("simulation",), [k for k in TOP_KEYS if k != "simulation"]) is None:
        return None, c.problems
    if "metak" in d and (isinstance(d["metak"], bool) or d["metak"] != SCHEMA_VERSION):
        c.add(("metak",), f"schema version {d['metak']!r} is not supported; this metak reads version {SCHEMA_VERSION}")
    name = c.string(("simulation",))
    settings = {key: ((c.whole if whole else c.number)((key,), **bounds) if key in d else default)
                for key, (whole, bounds, default) in SETTINGS.items()}

    sp = ("scenarios",)
    sc = {} if d.get("scenarios") is None else (c.mapping(sp, optional=SCENARIO_KEYS) or {})
    ks, tau2s, mus = (c.numbers(sp + (key,), whole=whole, default=default, **bounds)
                      for key, (whole, bounds, default) in SCENARIO_VALUES.items())
    binary = "binary" in sc
    shared = "shared_bias" in sc
    pcs = ns = vi = sb = None
    if binary:
        if c.mapping(sp + ("binary",), BINARY_KEYS) is not None:
            pcs, ns = (c.numbers(sp + ("binary", key), whole=whole, **bounds)
                       for key, (whole, bounds) in BINARY_VALUES.items())
        for key in ("vi", "shared_bias"):
            if key in sc:
                c.add(sp + (key,), f"binary scenarios draw log odds ratios from binomial counts: '{key}' is for "
                                   "normal scenarios")
    else:
        vi = _vi(c, sp + ("vi",)) if "vi" in sc else dict(DEFAULT_VI)
        sb = shared_bias_sim.check(c, sp + ("shared_bias",)) if shared else None

    _block_memory(c, ks, settings["block"], settings["replicates"], "block" in d)

    extra = shared_bias_sim.ESTIMATORS if shared and not binary else ()
    allowed = IV_METHODS + (BAYES,) + extra
    ests = _names(c, ("estimators",), ["DL", "REML"], allowed, str.upper,
                  extra_hint=() if extra else shared_bias_sim.ESTIMATORS)
    tests = _names(c, ("tests",), ["z", "hksj"], TESTS, lambda t: TEST_ALIASES.get(t, t))

    raw = d.get("estimators", ())
    at = [i for i, e in enumerate(raw) if isinstance(e, str) and e.upper() == BAYES] if isinstance(raw, list) else []
    bayes = None
    if at:
        bayes = _bayes(c, d.get("bayes"), binary=binary, where=None if "bayes" in d else ("estimators", at[0]))
    elif d.get("bayes") is not None:
        c.add(("bayes",), "gives the priors of the estimator BAYES, which estimators does not list")

    if c.problems:
        return None, sorted(c.problems, key=lambda p: p.line or 0)
    scen = []
    if binary:
        for k, t2, mu, pc, n in itertools.product(ks, tau2s, mus, pcs, ns):
            scen.append({"k": k, "tau2": t2, "mu": mu, "data": "binary", "p_control": pc, "n": n})
    else:
        for k, t2, mu in itertools.product(ks, tau2s, mus):
            scen.append({"k": k, "tau2": t2, "mu": mu, "data": "normal", "vi": dict(vi),
                         **({"shared_bias": sb} if sb else {})})
    return SimSpec(name, settings["seed"], settings["replicates"], settings["block"], tuple(scen), ests, tests,
                   settings["level"], bayes), []


def load_spec(path) -> SimSpec:
    """Read and check a simulation spec; raise :class:`~metak.errors.InvalidSpec` listing every
    problem (file, line, key path, message). Nothing is run."""
    path = Path(path)
    doc, problems = load_located(path, str(path))
    if doc is None:
        raise InvalidSpec(problems)
    spec, problems = parse_sim_spec(doc)
    if problems:
        raise InvalidSpec(problems)
    return spec


def _block_memory(c: Checker, ks, block, replicates, block_given: bool):
    """A problem at the largest k when one replicate block of it would need more than
    :data:`MAX_BLOCK_BYTES` (each value of k is checked alone first)."""
    if not ks or block is None or replicates is None:
        return
    n = min(block, replicates)
    i = max(range(len(ks)), key=lambda j: ks[j])
    k = ks[i]
    need = n * k * BYTES_PER_CELL
    if need <= MAX_BLOCK_BYTES:
        return
    raw = c.doc.data["scenarios"]["k"]
    fit = MAX_BLOCK_BYTES // (k * BYTES_PER_CELL)
    c.add(("scenarios", "k", i) if isinstance(raw, list) else ("scenarios", "k"),
          f"k = {k:,} with blocks of {n:,} replicates needs about {need / 1e9:.1f} GB per block "
          f"({n:,} x {k:,} studies x {BYTES_PER_CELL} bytes), more than the {MAX_BLOCK_BYTES / 1e9:g} GB limit: "
          f"set block: {fit:,} or fewer" + ("" if block_given else f" (the default block is {block:,})"))


def _vi(c: Checker, path):
    """``{dist: uniform, low, high}`` or ``{dist: chisq, df, scale}``, as written (the draw fills
    in what is left out: low 0.01, high 0.2; df 1, scale 0.1)."""
    vi = c.mapping(path, ("dist",), ("low", "high", "df", "scale"))
    if vi is None:
        return None
    dist = c.enum(path + ("dist",), tuple(VI_KEYS)) if "dist" in vi else None
    for key in vi:
        if key == "dist":
            continue
        if dist is not None and key not in VI_KEYS[dist]:
            c.add(path + (key,), f"not a parameter of the {dist} distribution; it takes {listing(VI_KEYS[dist][1:])}")
        else:
            c.number(path + (key,), positive=True)
    low, high = vi.get("low", DEFAULT_VI["low"]), vi.get("high", DEFAULT_VI["high"])
    if dist == "uniform" and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (low, high)) \
            and low >= high:
        c.add(path, f"low ({low}) must be below high ({high})")
    return dict(vi)


def _names(c: Checker, path, default, allowed, normal, extra_hint=()):
    """A list of names, each ``normal(name)`` one of ``allowed`` (with a hint); the tuple of
    normalised names, ``default``'s when missing, None when any is wrong."""
    raw = c.sequence(path, nonempty=True)
    if raw is None:
        return None if c.has(path) else tuple(default)
    out = []
    for i, name in enumerate(raw):
        if not isinstance(name, str) or not name.strip():
            c.add(path + (i,), f"must be a name, one of: {listing(allowed)}")
            continue
        value = normal(name)
        if value in allowed:
            out.append(value)
        elif value in extra_hint:
            c.add(path + (i,), f"{name!r} needs the shared-bias scenario (scenarios.shared_bias)")
        else:
            close = c.close(value, allowed)
            hint = f" (did you mean '{close}'?)" if close else ""
            also = f"; with scenarios.shared_bias also {listing(extra_hint)}" if extra_hint else ""
            c.add(path + (i,), f"{name!r} is not one of: {listing(allowed)}{also}{hint}")
    return tuple(out) if len(out) == len(raw) else None


def _bayes(c: Checker, block, binary: bool, where=None):
    """The priors of the exact Bayesian engine, as an analysis's ``bayes:`` block gives them;
    normal likelihood, exact engine. Binary scenarios (log odds ratios) take the OR's defaults;
    normal scenarios are in units of their own, so the tau prior must be given (as for MD).
    The block parser's problems are this file's, at their lines (at ``where``, the estimator
    BAYES, when the file has no ``bayes:`` block)."""
    from ..bayes.spec import parse_bayes_spec

    try:
        spec = parse_bayes_spec(block, measure="OR" if binary else "MD",
                                outcome_type="binary" if binary else "continuous")
    except (SpecValueErrors, SpecValueError) as exc:
        for p in exc.problems if isinstance(exc, SpecValueErrors) else [exc]:
            if where is None:
                c.add(("bayes",) + tuple(p.path), p.message)
            else:
                c.add(where, f"BAYES needs a bayes: block with its priors: {format_path(('bayes',) + tuple(p.path))}: "
                             f"{p.message}")
        return None
    if spec.likelihood != "normal":
        c.add(("bayes", "likelihood"), f"a simulation uses the exact engine with the normal likelihood, not "
                                       f"{spec.likelihood}")
    elif spec.resolved_engine != "exact":
        c.add(("bayes", "engine"), f"a simulation uses the exact engine with the normal likelihood, not engine "
                                   f"{spec.resolved_engine}")
    return spec

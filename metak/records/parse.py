"""Trial record validation: YAML -> :class:`~metak.records.model.Trial` (the top level; the
arms are parsed in :mod:`metak.records.arms`, the outcomes in :mod:`metak.records.outcomes` and
their data in :mod:`metak.records.arm_data`).

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
from .arms import parse_arm, parse_blinding
from .checker import Checker
from .model import ALLOCATIONS, DESIGNS, SCHEMA_VERSION, Citation, Trial
from .outcomes import parse_outcome
from .yamlload import Located, load_located

TOP_REQUIRED = ("metak", "id", "title", "condition", "design", "arms", "outcomes")
TOP_OPTIONAL = ("label", "citation", "allocation", "randomized_total", "blinding", "population", "setting",
                "co_intervention", "notes", "sources", "characteristics", "cluster", "overlaps")
#: a characteristic's name: it becomes a moderator name and a coefficient name
CHARACTERISTIC_NAME = r"[a-z][a-z0-9_]*"
CITATION_KEYS = ("authors", "year", "journal", "volume", "pages", "doi", "pmid", "registration", "url")
CLUSTER_KEYS = ("icc", "mean_cluster_size", "design_effect", "adjusted")


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
    title = c.string(("title",))
    condition = c.string(("condition",))
    design = c.enum(("design",), DESIGNS)
    allocation = c.enum(("allocation",), ALLOCATIONS) if "allocation" in top else "randomized"
    randomized_total = c.count(("randomized_total",), minimum=1) if "randomized_total" in top else None
    citation = _citation(c)
    extras = {k: c.string((k,)) for k in ("population", "setting", "co_intervention", "notes") if k in top}
    if "label" in top:
        extras["study_label"] = c.string(("label",))
    characteristics = _characteristics(c) if "characteristics" in top else ()
    cluster = _cluster(c, design) if "cluster" in top else None
    sources = ()
    seq = c.sequence(("sources",))
    if seq is not None:
        sources = tuple(s for j, s in enumerate(seq) if c.string(("sources", j)) is not None)

    overlaps = _overlaps(c, trial_id) if "overlaps" in top else ()
    _unique(c, "arms", "arm")
    _unique(c, "outcomes", "outcome")
    arm_seq = c.sequence(("arms",), nonempty=True) or []
    arms: dict = {}
    for i, _ in enumerate(arm_seq):
        arm = parse_arm(c, i, design)
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
    blinding = parse_blinding(c, arms) if "blinding" in top else None
    outcomes = []
    for i, _ in enumerate(c.sequence(("outcomes",)) or []):
        o = parse_outcome(c, i, arms, design)
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
        characteristics=characteristics, path=doc.file, sha256=sha256, cluster=cluster, overlaps=overlaps,
        **extras,
    )
    return trial, []


def _overlaps(c: Checker, trial_id) -> tuple:
    """``overlaps: [id, ...]``: other records reporting (partly) the same participants; an
    analysis never pools a record with one it overlaps (checked when the table is built)."""
    seq = c.sequence(("overlaps",), nonempty=True) or []
    ids = []
    for j, _ in enumerate(seq):
        other = c.ident(("overlaps", j))
        if other is not None and other == trial_id:
            c.add(("overlaps", j), f"a record cannot overlap itself ('{other}')")
        elif other is not None:
            ids.append(other)
    return tuple(ids)


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

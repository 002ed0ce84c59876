"""Network data: arm-level (or contrast-level) rows -> every trial's contrasts against its
baseline arm with their exact covariance, checked for what makes a network unusable.

A trial with arms a_0 (its baseline: the reference treatment if the trial has it, else its
alphabetically first treatment), a_1, ..., a_m contributes y_j = theta(a_j) - theta(a_0),
j = 1..m, whose sampling covariance is var(a_j) + var(a_0) on the diagonal and var(a_0) off it
(the shared baseline arm): a multi-arm trial enters whole, nothing is split or counted twice.
Arm variances on the analysis scale: OR 1/(x + c) + 1/(n - x + c) (c = 0.5 added to every arm
of a trial with a zero or full cell, netmeta's and escalc's convention), RR 1/(x + c) - 1/(n + 2c),
RD p (1 - p) / n, MD sd^2 / n.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from ..errors import MetakError

BINARY = ("OR", "RR", "RD")
CONTINUOUS = ("MD",)
MEASURES = BINARY + CONTINUOUS


@dataclass
class NetworkData:
    """Contrasts of every trial vs its baseline arm (rows ordered by trial)."""

    measure: str
    treatments: list            # node names, sorted
    reference: str
    trials: list                # trial ids, in order of first appearance
    trial: np.ndarray           # (n,) index into trials
    trt: np.ndarray             # (n,) index into treatments of the contrast's arm
    base: np.ndarray            # (n,) index of the trial's baseline arm
    y: np.ndarray               # (n,)
    blocks: list                # per trial: its (m, m) covariance block
    participants: dict = field(default_factory=dict)    # node -> participants (arm-level data)
    exclusions: list = field(default_factory=list)      # [{"trial", "reason"}]
    notes: list = field(default_factory=list)

    @property
    def n(self):
        return len(self.y)

    @property
    def p(self):
        return len(self.treatments) - 1

    def design_matrix(self) -> np.ndarray:
        """Contrast matrix: +1 at the contrast's arm, -1 at its baseline (reference column dropped)."""
        cols = [i for i, t in enumerate(self.treatments) if t != self.reference]
        pos = {t: j for j, t in enumerate(cols)}
        X = np.zeros((self.n, len(cols)))
        rows = np.arange(self.n)
        for idx, sign in ((self.trt, 1.0), (self.base, -1.0)):
            j = np.array([pos.get(int(t), -1) for t in idx])
            ok = j >= 0
            X[rows[ok], j[ok]] = sign
        return X

    def designs(self) -> list:
        """Per trial, its design: the sorted tuple of its treatments' indices."""
        out = []
        for i in range(len(self.trials)):
            rows = self.trial == i
            out.append(tuple(sorted({int(self.base[rows][0]), *map(int, self.trt[rows])})))
        return out

    def edges(self) -> dict:
        """(i, j) with i < j -> number of trials comparing treatments i and j directly."""
        out: dict = {}
        for d in self.designs():
            for a in range(len(d)):
                for b in range(a + 1, len(d)):
                    out[(d[a], d[b])] = out.get((d[a], d[b]), 0) + 1
        return out


def components(n_nodes: int, edges) -> list:
    """Connected components (lists of node indices) of an undirected graph."""
    parent = list(range(n_nodes))

    def find(a):
        while parent[a] != a:
            parent[a] = parent[parent[a]]
            a = parent[a]
        return a

    for a, b in edges:
        ra, rb = find(a), find(b)
        if ra != rb:
            parent[ra] = rb
    groups: dict = {}
    for a in range(n_nodes):
        groups.setdefault(find(a), []).append(a)
    return sorted(groups.values(), key=lambda g: (-len(g), g))


def _arm_var(measure, arm, cc):
    if measure == "OR":
        x, n = arm["events"] + cc, arm["total"] + 2 * cc
        return 1.0 / x + 1.0 / (n - x), np.log(x / (n - x))
    if measure == "RR":
        x, n = arm["events"] + cc, arm["total"] + 2 * cc
        return 1.0 / x - 1.0 / n, np.log(x / n)
    if measure == "RD":
        p = arm["events"] / arm["total"]
        return p * (1 - p) / arm["total"], p
    return arm["sd"] ** 2 / arm["n"], arm["mean"]


def _check_arm(measure, trial, arm):
    name = f"trial {trial!r}, arm {arm['treatment']!r}"
    if measure in BINARY:
        x, n = arm.get("events"), arm.get("total")
        if x is None or n is None or not np.isfinite(x) or not np.isfinite(n):
            raise MetakError(f"network: {name}: events and total are needed for {measure}")
        if n <= 0 or x < 0 or x > n:
            raise MetakError(f"network: {name}: events {x:g} of total {n:g} is impossible (need 0 <= events <= total, "
                             f"total > 0)")
    else:
        m, s, n = arm.get("mean"), arm.get("sd"), arm.get("n")
        if any(v is None or not np.isfinite(v) for v in (m, s, n)):
            raise MetakError(f"network: {name}: mean, sd and n are needed for {measure}")
        if s <= 0 or n <= 0:
            raise MetakError(f"network: {name}: sd {s:g} and n {n:g} must be positive")


def _merge(measure, arms):
    """Arms of one trial that map to one node, combined (sums of events and totals; for means
    the pooled mean and SD of the combined group, Cochrane Handbook 6.5.2.10)."""
    if len(arms) == 1:
        return arms[0]
    out = dict(arms[0])
    if measure in BINARY:
        out["events"] = sum(a["events"] for a in arms)
        out["total"] = sum(a["total"] for a in arms)
        return out
    n, m, s = arms[0]["n"], arms[0]["mean"], arms[0]["sd"]
    for a in arms[1:]:
        n2, m2, s2 = a["n"], a["mean"], a["sd"]
        var = ((n - 1) * s**2 + (n2 - 1) * s2**2 + n * n2 / (n + n2) * (m - m2) ** 2) / (n + n2 - 1)
        m = (n * m + n2 * m2) / (n + n2)
        n, s = n + n2, float(np.sqrt(var))
    out.update(n=n, mean=m, sd=s)
    return out


def build_from_arms(trials: dict, measure: str, reference: str | None) -> NetworkData:
    """``trials``: {trial id: [arm dicts with 'treatment' and events/total or mean/sd/n]}, in
    order. Trials with fewer than two distinct nodes are excluded with the reason; arms of one
    trial on the same node are combined (noted). A trial may instead be given as a dict
    ``{"contrasts": [rows as build_from_contrasts takes, without 'trial'], "participants":
    {node: n}}`` (a trial that reports its contrast only): it enters as those contrasts."""
    if measure not in MEASURES:
        raise MetakError(f"network: measure {measure!r} is not supported; use one of {', '.join(MEASURES)}")
    exclusions, notes, kept = [], [], {}
    for tid, arms in trials.items():
        if isinstance(arms, dict):
            rs = arms["contrasts"]
            if len({str(r[k]) for r in rs for k in ("treatment", "versus")}) < 2:
                exclusions.append({"trial": str(tid), "reason": "its contrast compares one node with itself"})
                continue
            kept[str(tid)] = arms
            continue
        for arm in arms:
            _check_arm(measure, tid, arm)
        by_node: dict = {}
        for arm in arms:
            by_node.setdefault(str(arm["treatment"]), []).append(arm)
        if len(by_node) < 2:
            why = ("it has one arm" if len(arms) == 1 else
                   f"all its arms map to one node ({next(iter(by_node))!r})")
            exclusions.append({"trial": str(tid), "reason": why})
            continue
        merged = []
        for node, group in by_node.items():
            if len(group) > 1:
                notes.append(f"trial {tid!r}: {len(group)} arms on node {node!r} combined into one")
            merged.append(_merge(measure, group))
        kept[str(tid)] = merged
    if not kept:
        raise MetakError("network: no trial has arms on two different nodes"
                         + "".join(f"; {e['trial']}: {e['reason']}" for e in exclusions))

    def nodes_of(v):
        if isinstance(v, dict):
            return {str(r[k]) for r in v["contrasts"] for k in ("treatment", "versus")}
        return {a["treatment"] for a in v}

    treatments = sorted(set().union(*(nodes_of(v) for v in kept.values())), key=str)
    reference = _resolve_reference(reference, treatments)
    tindex = {t: i for i, t in enumerate(treatments)}
    trial_ids, trial_col, trt_col, base_col, ys, blocks = [], [], [], [], [], []
    participants = dict.fromkeys(treatments, 0.0)
    for tid, arms in kept.items():
        if isinstance(arms, dict):
            names, base_name, y, V = _contrast_entry(tid, arms["contrasts"])
            others_names = names
            for node, n in (arms.get("participants") or {}).items():
                participants[node] += float(n or 0)
        else:
            names = [a["treatment"] for a in arms]
            base_name = reference if reference in names else min(names, key=str)
            base = arms[names.index(base_name)]
            others = sorted((a for a in arms if a is not base), key=lambda a: str(a["treatment"]))
            cc = 0.0
            if measure in ("OR", "RR") and any(a["events"] == 0 or a["events"] == a["total"] for a in arms):
                cc = 0.5
            vb, tb = _arm_var(measure, base, cc)
            vo = np.array([_arm_var(measure, a, cc)[0] for a in others])
            to = np.array([_arm_var(measure, a, cc)[1] for a in others])
            if measure == "RR" and (vb <= 0 or np.any(vo <= 0)):
                raise MetakError(f"network: trial {tid!r}: every participant of an arm had the event; the log risk "
                                 f"ratio has no variance")
            if measure == "RD" and (vb == 0 and np.any(vo == 0)):
                raise MetakError(f"network: trial {tid!r}: risk differences with 0% or 100% in both arms have no "
                                 f"variance")
            others_names = [a["treatment"] for a in others]
            y, V = to - tb, np.full((len(others), len(others)), vb) + np.diag(vo)
            for a in arms:
                participants[a["treatment"]] += float(a.get("total", a.get("n", 0)) or 0)
        i = len(trial_ids)
        trial_ids.append(tid)
        m = len(others_names)
        trial_col += [i] * m
        trt_col += [tindex[t] for t in others_names]
        base_col += [tindex[base_name]] * m
        ys.append(y)
        blocks.append(V)
    data = NetworkData(measure, treatments, reference, trial_ids, np.array(trial_col), np.array(trt_col),
                       np.array(base_col), np.concatenate(ys), blocks, participants, exclusions, notes)
    check_connected(data)
    return data


def _contrast_entry(tid, rs):
    """One trial's contrast rows -> (arm names, baseline name, y, V), checked."""
    bases = {str(r["versus"]) for r in rs}
    if len(bases) > 1:
        raise MetakError(f"network: trial {tid!r}: its contrasts must share one baseline arm (versus), got "
                         f"{sorted(bases)}")
    names = [str(r["treatment"]) for r in rs]
    if len(set(names)) != len(names) or bases & set(names):
        raise MetakError(f"network: trial {tid!r}: each arm may appear in one contrast only")
    vi = np.array([float(r["vi"]) for r in rs])
    if not np.all(np.isfinite(vi)) or np.any(vi <= 0):
        raise MetakError(f"network: trial {tid!r}: every vi must be positive")
    V = np.diag(vi)
    if len(rs) > 1:
        cov = [r.get("cov") for r in rs]
        if any(c is None or not np.isfinite(float(c)) for c in cov) or len({float(c) for c in cov}) != 1:
            raise MetakError(f"network: trial {tid!r} has {len(rs) + 1} arms: give 'cov', the variance of the "
                             f"shared baseline arm, the same on each of its contrasts")
        V = V + float(cov[0]) * (1 - np.eye(len(rs)))
        if np.linalg.eigvalsh(V).min() <= 0 or float(cov[0]) < 0:
            raise MetakError(f"network: trial {tid!r}: its contrasts' covariance matrix is not positive definite "
                             f"(cov {float(cov[0]):g} against vi {vi.tolist()}): inconsistent multi-arm data")
    return names, bases.pop(), np.array([float(r["yi"]) for r in rs]), V


def build_from_contrasts(rows: list, measure: str, reference: str | None) -> NetworkData:
    """``rows``: dicts with trial, treatment, versus, yi, vi and (multi-arm trials) cov, the
    covariance of the trial's contrasts (all against the same ``versus`` arm)."""
    by_trial: dict = {}
    for r in rows:
        by_trial.setdefault(str(r["trial"]), []).append(r)
    treatments = sorted({str(r[k]) for r in rows for k in ("treatment", "versus")})
    reference = _resolve_reference(reference, treatments)
    tindex = {t: i for i, t in enumerate(treatments)}
    trial_ids, trial_col, trt_col, base_col, ys, blocks = [], [], [], [], [], []
    for tid, rs in by_trial.items():
        names, base, y, V = _contrast_entry(tid, rs)
        i = len(trial_ids)
        trial_ids.append(tid)
        trial_col += [i] * len(rs)
        trt_col += [tindex[n] for n in names]
        base_col += [tindex[base]] * len(rs)
        ys.append(y)
        blocks.append(V)
    data = NetworkData(measure, treatments, reference, trial_ids, np.array(trial_col), np.array(trt_col),
                       np.array(base_col), np.concatenate(ys), blocks)
    check_connected(data)
    return data


def _resolve_reference(reference, treatments):
    if reference is None:
        return treatments[0]
    hits = [t for t in treatments if str(t).lower() == str(reference).lower()]
    if not hits:
        raise MetakError(f"network: reference {reference!r} is not a node of the network; the nodes are: "
                         f"{', '.join(map(str, treatments))}")
    return hits[0]


def check_connected(data: NetworkData) -> None:
    comps = components(len(data.treatments), data.edges())
    if len(comps) > 1:
        listed = "; ".join("{" + ", ".join(data.treatments[i] for i in c) + "}" for c in comps)
        raise MetakError(f"network: the network is disconnected into {len(comps)} components: {listed}. "
                         f"Treatments in different components cannot be compared; analyse each component "
                         f"separately (select its trials) or add trials that link them")

"""The frozen ``network`` record of results.json (contract §6.1); its fields generate the
schema fragment (``python -m metak.schema.generate``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from ..format import clean


@dataclass(frozen=True)
class QTest:
    q: float
    df: int
    p_value: float | None


@dataclass(frozen=True)
class QRandom:
    """The design-by-treatment Wald test under random effects, tau^2 from the interaction model."""

    q: float
    df: int
    p_value: float | None
    tau2_within: float
    tau2_method: str


@dataclass(frozen=True)
class QBetween:
    q: float
    df: int
    p_value: float | None
    random: QRandom | None


@dataclass(frozen=True)
class RelativeEffect:
    treatment: str
    versus: str
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float
    pi_lower: float
    pi_upper: float
    #: what the estimate rests on: "direct" (only trials comparing the two), "indirect" (no trial
    #: compares them) or "both" (direct trials and a path through other trials)
    evidence: str = "direct"


@dataclass(frozen=True)
class Evidence:
    estimate: float
    se: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class NodeSplit:
    treatment: str
    versus: str
    k_direct: int
    proportion_direct: float
    network: Evidence
    direct: Evidence
    indirect: Evidence
    difference: float
    difference_se: float
    p_value: float


@dataclass(frozen=True)
class Contribution:
    """Net contribution (percent) of each design's direct evidence to the network estimate of
    ``treatment`` vs ``versus`` (flow decomposition, Papakonstantinou et al. 2018; designs
    labelled by their treatments joined with ':'; designs that contribute nothing are left out)."""

    treatment: str
    versus: str
    designs: dict[str, float]


@dataclass(frozen=True)
class Node:
    name: str
    participants: float | None
    k_trials: int


@dataclass(frozen=True)
class Edge:
    treatment: str
    versus: str
    k_trials: int


@dataclass(frozen=True)
class Exclusion:
    trial: str
    reason: str


@dataclass(frozen=True)
class BayesEffect:
    treatment: str
    versus: str
    estimate: float
    se: float
    median: float
    ci_lower: float
    ci_upper: float


@dataclass(frozen=True)
class NetworkBayes:
    engine: str
    d_prior: str
    tau_prior: str
    relative_effects: tuple[BayesEffect, ...]
    tau_mean: float
    tau2_mean: float
    rank_probabilities: dict[str, tuple[float, ...]]
    sucra: dict[str, float]
    rank_draws: int
    rank_seed: int
    rank_mc_se_max: float


@dataclass(frozen=True)
class Network:
    """results.json ``network``: the frequentist network meta-analysis, and its exact Bayesian
    counterpart under ``bayes`` (null when not asked for)."""

    measure: str
    method: str
    level: float
    reference: str
    nodes_rule: str
    treatments: tuple[str, ...]
    trials: tuple[str, ...]
    k_trials: int
    k_contrasts: int
    tau2: float
    tau2_ci: tuple[float | None, ...] | None
    relative_effects: tuple[RelativeEffect, ...]
    q_total: QTest
    q_within: QTest
    q_between_designs: QBetween
    node_split: tuple[NodeSplit, ...]
    small_values: str
    p_scores: dict[str, float]
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    excluded: tuple[Exclusion, ...]
    notes: tuple[str, ...]
    bayes: NetworkBayes | None
    #: for every pair of treatments, the percentage contribution of each design (rows sum to 100)
    contribution: tuple[Contribution, ...] = ()

    def to_dict(self) -> dict:
        return _clean(asdict(self))


def _clean(x):
    if isinstance(x, dict):
        return {k: _clean(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [_clean(v) for v in x]
    if isinstance(x, str) or x is None:
        return x
    return clean(x)


def _q(d):
    return QTest(d["q"], d["df"], d["p_value"])


def evidence_of(designs, a: int, b: int) -> str:
    """"direct", "indirect" or "both" for the pair of node indices (a, b): direct if a trial
    has both arms; indirect if a and b are connected through the trials that do not have both
    (the node-splitting notion of indirect evidence)."""
    direct = any(a in d and b in d for d in designs)
    others = [d for d in designs if not (a in d and b in d)]
    seen, todo = {a}, [a]
    while todo:
        x = todo.pop()
        for d in others:
            if x in d:
                for y in d:
                    if y not in seen:
                        seen.add(y)
                        todo.append(y)
    indirect = b in seen
    return "both" if direct and indirect else "direct" if direct else "indirect"


def build_record(data, freq, bayes, *, nodes_rule="treatment", level=0.95, small_values="desirable") -> Network:
    """The record from the engines' outputs (metak.network.frequentist, metak.network.bayes)."""
    qb = freq["q_between_designs"]
    rnd = qb.get("random")
    edges = data.edges()
    designs = data.designs()
    k_node = dict.fromkeys(range(len(data.treatments)), 0)
    for d in data.designs():
        for t in d:
            k_node[t] += 1
    ev = lambda e: Evidence(e["estimate"], e["se"], e["ci_lower"], e["ci_upper"])  # noqa: E731
    b = None
    if bayes is not None:
        b = NetworkBayes(bayes["engine"], bayes["d_prior"], bayes["tau_prior"],
                         tuple(BayesEffect(**r) for r in bayes["relative_effects"]), bayes["tau"]["mean"],
                         bayes["tau"]["tau2_mean"],
                         {k: tuple(v) for k, v in bayes["rank_probabilities"].items()}, dict(bayes["sucra"]),
                         bayes["rank_draws"], bayes["rank_seed"], bayes["rank_mc_se_max"])
    ci = freq["tau2_ci"]
    return Network(
        measure=data.measure, method=freq["method"], level=level, reference=data.reference, nodes_rule=nodes_rule,
        treatments=tuple(data.treatments), trials=tuple(data.trials), k_trials=len(data.trials),
        k_contrasts=data.n, tau2=freq["tau2"], tau2_ci=None if ci is None else tuple(ci),
        relative_effects=tuple(RelativeEffect(**r, evidence=evidence_of(
            designs, data.treatments.index(r["treatment"]), data.treatments.index(r["versus"])))
            for r in freq["relative_effects"]),
        q_total=_q(freq["q_total"]), q_within=_q(freq["q_within"]),
        q_between_designs=QBetween(qb["q"], qb["df"], qb["p_value"],
                                   None if rnd is None else QRandom(rnd["q"], rnd["df"], rnd["p_value"],
                                                                    rnd["tau2_within"], rnd["tau2_method"])),
        node_split=tuple(NodeSplit(s["treatment"], s["versus"], s["k_direct"], s["proportion_direct"],
                                   ev(s["network"]), ev(s["direct"]), ev(s["indirect"]), s["difference"],
                                   s["difference_se"], s["p_value"]) for s in freq["node_split"]),
        small_values=small_values, p_scores=dict(freq["p_scores"]),
        nodes=tuple(Node(t, data.participants.get(t) if data.participants else None, k_node[i])
                    for i, t in enumerate(data.treatments)),
        edges=tuple(Edge(data.treatments[a], data.treatments[b], k) for (a, b), k in sorted(edges.items())),
        excluded=tuple(Exclusion(e["trial"], e["reason"]) for e in data.exclusions),
        notes=tuple(data.notes) + tuple(freq.get("notes", ())), bayes=b,
        contribution=tuple(Contribution(c["treatment"], c["versus"], dict(c["designs"]))
                           for c in freq.get("contribution", ())))

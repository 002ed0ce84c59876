"""``network:`` of a meta-analysis (contract §6.1): the registered analysis (stage "model",
spec "key"). Every arm of every selected trial with arm-level data for the outcome becomes a
node by the stated rule and the network is fitted with the meta-analysis's method and level;
the record is :class:`metak.network.record.Network`. A trial whose outcome is a reported
contrast (an estimate with its CI or SE) enters as that single contrast between the nodes of its
experimental and control arms.

The top-level keys of such a meta-analysis keep their meaning: the pairwise meta-analysis of
the table the spec's arm rules build (experimental vs control), as without ``network:``; the
network block beside it uses every arm.
"""

from __future__ import annotations

from ..errors import MetakError

NODE_RULES = ("intervention", "intervention+control_type")
METHODS = ("FE", "DL", "ML", "REML")
MEASURES = ("OR", "RR", "RD", "MD")


def parse_nodes(c, path, value, _measure):
    """``nodes: intervention | intervention+control_type | {node: [interventions...]}``."""
    if isinstance(value, str):
        if value not in NODE_RULES:
            c.add(path, f"{value!r} is not one of: {', '.join(NODE_RULES)}, or a mapping {{node: [interventions]}}")
            return None
        return value
    if not isinstance(value, dict) or not value:
        c.add(path, "nodes: intervention, intervention+control_type, or a mapping {node: [interventions...]}")
        return None
    out, seen = [], {}
    for node, members in value.items():
        items = [members] if isinstance(members, str) else members
        if not isinstance(items, list) or not items or not all(isinstance(x, str) for x in items):
            c.add(path + (node,), "must be an intervention name or a list of them")
            return None
        for x in items:
            if x.lower() in seen:
                c.add(path + (node,), f"'{x}' is already mapped to node '{seen[x.lower()]}'")
                return None
            seen[x.lower()] = node
        out.append((str(node), tuple(items)))
    return tuple(out)


def check(c, path, values, meta) -> None:
    measure = meta.get("measure")
    if measure is not None and measure not in MEASURES:
        c.add(path, f"a network meta-analysis needs measure {', '.join(MEASURES)} (arm-level data), got {measure}")
    method = meta.get("method")
    if method is not None and method not in METHODS:
        c.add(path, f"a network meta-analysis has one common tau² by {', '.join(METHODS)}; method {method} is "
                    f"not available for it")


def _label(arm):
    return f"{arm.intervention} ({arm.control_type})" if arm.control_type else arm.intervention


def node_of(arm, rule):
    """The node of an arm by the rule; a mapping matches the arm's intervention or its
    "intervention (control_type)" label (case-insensitive); unmapped arms keep their intervention."""
    if rule in (None, "intervention"):
        return arm.intervention
    if rule == "intervention+control_type":
        return _label(arm)
    for node, members in rule:
        low = {m.lower() for m in members}
        if arm.intervention.lower() in low or _label(arm).lower() in low:
            return node
    return arm.intervention


def describe_rule(rule) -> str:
    if rule in (None, "intervention"):
        return "intervention"
    if rule == "intervention+control_type":
        return "intervention+control_type"
    return "mapping: " + "; ".join(f"{n} = {', '.join(m)}" for n, m in rule)


def arms_of(trials, ms, rule):
    """{trial id: [arm dicts]} and the exclusions (trial, reason) for the trials left out."""
    binary = ms.measure in ("OR", "RR", "RD")
    out, excluded = {}, []
    from ..effects.selection import find_outcome

    for t in trials:
        # the pairwise table's rule: the outcome, else the first fallback (complemented where asked)
        o, why = find_outcome(t, ms)
        if o is None:
            excluded.append({"trial": t.id, "reason": str(why)})
            continue
        data = o.data
        if o.type == "contrast":
            entry, why = _contrast_of(t, data, ms, rule)
            if entry is None:
                excluded.append({"trial": t.id, "reason": why})
            else:
                out[t.id] = entry
            continue
        if t.design == "crossover":
            if not o.first_period:
                excluded.append({"trial": t.id, "reason": "crossover trial without first-period arm data"})
                continue
            data = o.first_period
        if not isinstance(data, dict):
            excluded.append({"trial": t.id, "reason": "no arm-level data for the outcome"})
            continue
        if (o.type == "binary") != binary:
            excluded.append({"trial": t.id, "reason": f"{o.type} data do not fit measure {ms.measure}"})
            continue
        de = t.cluster.effect if t.design == "cluster" and t.cluster is not None else 1.0
        arms = []
        for arm in t.arms:
            d = data.get(arm.id)
            if d is None:
                continue
            entry = {"treatment": node_of(arm, rule), "arm": arm.id}
            if binary:
                entry.update(events=d.events / de, total=d.total / de)
            else:
                entry.update(mean=d.mean, sd=d.sd, n=d.n / de)
            arms.append(entry)
        out[t.id] = arms
    return out, excluded


def _contrast_of(t, c, ms, rule):
    """A reported contrast (estimate with CI or SE) -> one contrast between the nodes of its
    experimental and control arms, as the pairwise table reads it (metak.effects.escalc
    contrast_yi_vi); or (None, reason)."""
    from ..effects.escalc import contrast_yi_vi

    if c.measure != ms.measure:
        return None, f"the reported contrast is a {c.measure}; this network pools {ms.measure}"
    sides = []
    for ids in (c.experimental, c.control):
        nodes = {node_of(t.arm(a), rule) for a in ids}
        if len(nodes) != 1:
            return None, (f"the reported contrast's arms {', '.join(ids)} map to different nodes "
                          f"({', '.join(sorted(nodes))}): it is not a contrast between two nodes")
        sides.append(nodes.pop())
    if sides[0] == sides[1]:
        return None, f"the reported contrast's arms all map to one node ({sides[0]!r})"
    yi, vi = contrast_yi_vi(c.measure, c.estimate, c.ci, c.se, c.level)
    sizes = {}
    for node, ids in zip(sides, (c.experimental, c.control)):
        sizes[node] = sum(float(t.arm(a).randomized or 0) for a in ids)
    return {"contrasts": [{"treatment": sides[0], "versus": sides[1], "yi": float(yi), "vi": float(vi)}],
            "participants": sizes}, None


def _trials(ctx):
    trials = getattr(ctx, "trials", None)
    if trials:
        return list(trials)
    seen = {}
    for r in ctx.table.rows:
        rec = getattr(r, "record", None)
        if rec is not None:
            seen.setdefault(rec.id, rec)
    return list(seen.values())


def run(ctx, params):
    from ..bayes import priors as P
    from . import fit_network
    from .data import build_from_arms

    ms = ctx.spec
    rule = params.get("nodes") or "intervention"
    arms, excluded = arms_of(_trials(ctx), ms, rule)
    try:
        data = build_from_arms(arms, ms.measure, params.get("reference"))
    except MetakError as exc:
        raise ms.error("network", str(exc)) from None
    data.exclusions = excluded + data.exclusions
    data.notes += [f"trial {tid!r}: entered as its reported contrast ({arms['contrasts'][0]['treatment']} vs "
                   f"{arms['contrasts'][0]['versus']})" for tid, arms in arms.items()
                   if isinstance(arms, dict) and tid in data.trials]
    small = params.get("small_values")
    if small is None:
        direction = next((o.direction for t in _trials(ctx) for o in t.outcomes if o.id == ms.outcome), None)
        small = "undesirable" if direction == "higher_is_better" else "desirable"
    bayes = params.get("bayes", True)
    d_prior = tau_prior = None
    if bayes:
        if ms.bayes is not None:
            d_prior = ms.bayes.mu_prior if isinstance(ms.bayes.mu_prior, (P.Normal, P.Uniform)) else None
            tau_prior = ms.bayes.tau_prior
        elif ms.measure not in ("OR", "RR"):
            bayes = False
            data.notes.append(f"the exact Bayesian network was not run: for {ms.measure} a heterogeneity prior on "
                              f"the outcome's scale is needed (give the meta-analysis a bayes: block)")
    method = ms.method if ms.method in METHODS else "REML"
    return fit_network(data, method=method, level=ms.level, small_values=small, bayes=bayes, d_prior=d_prior,
                       tau_prior=tau_prior, nodes_rule=describe_rule(rule), contribution=params.get("contribution"))


def methods_sentence(result: dict, cite) -> str:
    """The methods text, from what the record says ran."""
    est = {"REML": "restricted maximum likelihood", "ML": "maximum likelihood",
           "DL": "the method-of-moments (DerSimonian-Laird type) estimator",
           "FE": None}[result["method"]]
    het = ("a common-effect model (no heterogeneity)" if est is None else
           f"a common heterogeneity variance estimated by {est}")
    text = (f"A contrast-based network meta-analysis of {result['k_trials']} trials and "
            f"{len(result['treatments'])} treatments (nodes by {result['nodes_rule']}; reference "
            f"{result['reference']}) was fitted with {het}, multi-arm trials entered whole with the exact "
            f"covariance of their contrasts and a correlation of 1/2 between them {cite('salanti2012', 'rucker2012')}. "
            f"Inconsistency was assessed by the design-by-treatment interaction model {cite('higgins2012')}")
    if result.get("node_split"):
        text += f" and by node splitting with back-calculated indirect estimates {cite('dias2010', 'konig2013')}"
    text += f"; treatments were ranked by P-scores {cite('rucker2015')}."
    if result.get("contribution"):
        text += (" The percentage contribution of each design's direct evidence to each network estimate was "
                 "obtained by decomposing the hat matrix's evidence flow into paths, shortest first "
                 f"{cite('papakonstantinou2018')}.")
    b = result.get("bayes")
    if b:
        text += (f" An exact Bayesian network with priors {b['d_prior']} on each treatment effect and {b['tau_prior']} "
                 f"on tau (tau integrated numerically) gave posterior contrasts, rank probabilities and SUCRA "
                 f"{cite('salanti2011')}.")
    return text

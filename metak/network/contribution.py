"""Net contribution of each design to each network estimate: the flow decomposition of
Papakonstantinou, Nikolakopoulou, Rücker, Chaimani, Schwarzer, Egger & Salanti (2018), "Estimating
the contribution of studies in network meta-analysis: paths, flows and streams", F1000Research
7:610 (netmeta's ``netcontrib(method = "shortestpath")``), on design-level direct evidence.

The network estimate of B vs A is linear in the trials' contrasts, theta_BA = sum_i h_i' y_i
(h: its row of the hat matrix (X' S^-1 X)^-1 X' S^-1 at the fitted tau^2). Summing h over the
trials of one design gives the design's coefficients on its own contrasts (each against the
design's baseline arm): a *flow* h on the edge baseline -> arm of that design. Because the
estimate is unbiased for every consistent theta, these flows are conserved: one unit leaves A
and arrives at B. The flow is decomposed into paths A -> B, greedily shortest first (fewest
edges; within a length, the largest bottleneck), each path carrying the smallest flow on its
edges; a path of length L with flow phi gives phi / L to each edge on it. A design's contribution
is the sum over its edges, as a percentage of the flow decomposed (100% but for a remainder of
circulating flow below rounding). For a network of two-arm trials this is Papakonstantinou et
al.'s decomposition of the aggregate hat matrix exactly; a multi-arm design's edges are its
contrasts against its baseline arm (the basic contrasts the model uses), so the design's share
does not depend on how its contrasts would be split pairwise.

Written here: netmeta is R-only (and not installable here); the algorithm is 40 lines.
"""

from __future__ import annotations

import numpy as np


def design_label(treatments, design) -> str:
    return ":".join(str(treatments[t]) for t in design)


def _hat(data, tau2):
    """Rows: theta (non-reference treatments) on the stacked contrasts y; full width T."""
    X = data.design_matrix()
    n = data.n
    # X' S^-1, S block-diagonal by trial: each block inverted on its own
    XtW = np.zeros((X.shape[1], n))
    start = 0
    for B in data.blocks:
        m = len(B)
        P = (np.eye(m) + np.ones((m, m))) / 2
        XtW[:, start:start + m] = X[start:start + m].T @ np.linalg.inv(B + tau2 * P)
        start += m
    H = np.linalg.solve(XtW @ X, XtW)
    T = len(data.treatments)
    ref = data.treatments.index(data.reference)
    full = np.zeros((T, n))
    full[[i for i in range(T) if i != ref]] = H
    return full


def _design_flows(data, designs, dindex, h):
    """Per design, its flows for one hat row h: D x T x T, [d, a, b] the coefficient on the
    contrast b - a of design d's trials (a its baseline arm)."""
    T = len(data.treatments)
    F = np.zeros((len(dindex), T, T))
    d = np.array([dindex[designs[int(t)]] for t in data.trial])
    np.add.at(F, (d, data.base, data.trt), h)
    return F


def _decompose(F, source, sink, tol):
    """Greedy shortest-path decomposition of the flow F (T x T, F[x, y] > 0: flow x -> y) from
    source to sink: (used, total), used[x, y] the flow share given to edge x -> y (a path of L
    edges carrying phi gives phi / L to each) and total the flow decomposed. Plain Python over
    adjacency sets: a network has tens of nodes, and the paths number in the hundreds per pair,
    so a per-path call into scipy.sparse costs more than the search itself."""
    T = len(F)
    flow = [[float(v) if v > tol else 0.0 for v in row] for row in F]
    adj = [{y for y in range(T) if flow[x][y] > 0.0} for x in range(T)]
    used = np.zeros((T, T))
    total = 0.0
    while True:
        pred = {source: -1}
        frontier = [source]
        while frontier and sink not in pred:
            nxt = []
            for x in frontier:
                for y in sorted(adj[x]):
                    if y not in pred:
                        pred[y] = x
                        nxt.append(y)
            frontier = nxt
        if sink not in pred:
            return used, total
        path, y = [], sink
        while y != source:
            path.append((pred[y], y))
            y = pred[y]
        phi = min(flow[x][y] for x, y in path)
        for x, y in path:
            left = flow[x][y] - phi
            if left > tol:
                flow[x][y] = left
            else:
                flow[x][y] = 0.0
                adj[x].discard(y)
            used[x, y] += phi / len(path)
        total += phi


def contributions(data, tau2, tol=1e-12):
    """[{treatment, versus, designs: {label: percent}}] for every pair (treatment index < versus
    index, as node splitting lists them); percentages sum to 100.

    The flow graph's edges are the comparisons (pairs of nodes), as in Papakonstantinou et al.:
    the flow on a comparison is the sum of its designs' flows, and the share a path gives to a
    comparison is divided among its designs in proportion to their flows in the direction of
    the net flow (a design whose flow runs against it gets none)."""
    full = _hat(data, tau2)
    T = len(data.treatments)
    designs = data.designs()
    uniq = sorted(set(designs))
    dindex = {d: k for k, d in enumerate(uniq)}
    out = []
    for a in range(T):
        for b in range(a + 1, T):
            Fd = _design_flows(data, designs, dindex, full[a] - full[b])     # theta_a - theta_b: b -> a
            Fd = Fd - Fd.transpose(0, 2, 1)                                  # antisymmetric: [d, x, y] x -> y
            F = Fd.sum(axis=0)
            used, total = _decompose(F, b, a, tol)
            pos = np.where(Fd > 0, Fd, 0.0)
            norm = pos.sum(axis=0)
            with np.errstate(invalid="ignore", divide="ignore"):
                share = np.where(norm > 0, pos / norm, 0.0)
            pct = 100.0 * (share * used).sum(axis=(1, 2)) / total
            out.append({"treatment": data.treatments[a], "versus": data.treatments[b],
                        "designs": {design_label(data.treatments, d): float(p) for d, p in zip(uniq, pct) if p > 0},
                        "flow": float(total)})
    return out

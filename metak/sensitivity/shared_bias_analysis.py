"""``blinding: {bias_model: shared, shared: {...}}``: the shared-bias model (contract §6.3) as
part of the blinding analysis -- the spec block's parser and the ``sensitivity.blinding.shared_bias``
object. The statistics are in :mod:`metak.sensitivity.shared_bias`.

Spec (all keys optional)::

    shared:
      beta: estimate | fixed      # default: fixed when a bias source (bias:) is given, else estimate
      kappa: estimate | 0.1       # SD of the compromised trials' biases; default: estimated with
                                  # beta, the source's kappa (MetaBLIND) with a fixed beta, else 0
      beta_prior: {mean: 0.26, sd: 0.09}   # analysis scale; default: the source's b and sqrt(se² + phi²)
      kappa_prior: 0.2            # half-normal scale (> 0); default: the source's kappa, else the tau prior
      compromised: {trial_id: true | false}   # overrides the Bang classification (z_i)
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..errors import MetakError
from . import shared_bias as SB


@dataclass(frozen=True)
class SharedSpec:
    beta: str | None = None          # "estimate" | "fixed" | None (default by the source)
    kappa: object = None             # "estimate" | float | None
    beta_prior: tuple | None = None  # (mean, sd) on the analysis scale
    kappa_prior: float | None = None
    compromised: dict = field(default_factory=dict)


def parse_shared(c, path, value, measure):
    """The ``shared:`` block -> :class:`SharedSpec` (problems reported on the checker with lines)."""
    if not isinstance(value, dict):
        c.add(path, "must be a mapping, e.g. {beta: estimate, kappa_prior: 0.2}")
        return None
    c.mapping(path, (), ("beta", "kappa", "beta_prior", "kappa_prior", "compromised"))
    out, ok = {}, True
    if "beta" in value:
        out["beta"] = c.enum(path + ("beta",), ("estimate", "fixed"))
        ok &= out["beta"] is not None
    if "kappa" in value:
        k = value["kappa"]
        if k == "estimate":
            out["kappa"] = "estimate"
        else:
            out["kappa"] = c.number(path + ("kappa",), minimum=0.0)
            ok &= out["kappa"] is not None
    if "beta_prior" in value:
        bp = path + ("beta_prior",)
        if c.mapping(bp, ("mean", "sd")) is None or not {"mean", "sd"} <= set(value["beta_prior"]):
            ok = False
        else:
            m, sd = c.number(bp + ("mean",)), c.number(bp + ("sd",), positive=True)
            ok &= None not in (m, sd)
            out["beta_prior"] = (m, sd)
    if "kappa_prior" in value:
        kp = c.number(path + ("kappa_prior",))
        if kp is not None and kp <= 0:
            c.add(path + ("kappa_prior",), f"the half-normal scale of kappa's prior must be > 0, got {kp:g} "
                                           "(for no between-trial spread of the bias give kappa: 0)")
            kp = None
        ok &= kp is not None
        out["kappa_prior"] = kp
    if "compromised" in value:
        cp = path + ("compromised",)
        m = c.mapping(cp, (), tuple(value["compromised"]) if isinstance(value["compromised"], dict) else ())
        if m is None:
            ok = False
        else:
            out["compromised"] = {str(t): c.boolean(cp + (t,)) for t in m}
            ok &= None not in out["compromised"].values()
    return SharedSpec(**out) if ok else None


def _source_terms(src, measure, s):
    """(beta, Var(beta) as shared, kappa) on the analysis scale from a bias source."""
    from . import bias as B

    sh = B.on_scale(src, measure)
    b0, se0 = src.native
    factor = sh.shift / b0 if b0 else (sh.se / se0 if se0 else 1.0)
    return s * sh.shift, sh.se**2 + (src.phi * factor) ** 2, src.kappa * factor, sh


def run(ctx, fin, mask, s, params, measure, notes, independent) -> dict:
    """``sensitivity.blinding.shared_bias``: the frequentist fit, beta and kappa, the exact
    posterior, and the naive and independent-bias estimates beside them."""
    spec = params.get("shared") or SharedSpec()
    src = params.get("bias")
    z = np.asarray(mask, float).copy()
    trials = [r.trial for r in fin.rows]
    unknown = set(spec.compromised) - set(trials)
    if unknown:
        notes.append(f"shared bias: compromised: {', '.join(sorted(unknown))} not among the analysed trials; ignored")
    for i, t in enumerate(trials):
        if t in spec.compromised:
            z[i] = float(spec.compromised[t])
    n_c, n_a = int(z.sum()), int(len(z) - z.sum())
    y, v = np.asarray(fin.yi, float), np.asarray(fin.vi, float)
    level = ctx.model.level
    own: list[str] = []
    out = {"model": "y_i ~ N(mu + z_i beta, v_i + tau² + z_i kappa²), z_i = 1 for trials not adequately blinded",
           "k": len(z), "k_compromised": n_c, "z": dict(zip(trials, z.astype(int).tolist())),
           "naive": {key: getattr(ctx.result, key, None) for key in ("estimate", "ci_lower", "ci_upper")},
           "independent": None if independent is None else
           {key: independent.get(key) for key in ("source", "estimate", "se", "ci_lower", "ci_upper")}}
    beta_src = _source_terms(src, measure, s) if src is not None else None
    mode = spec.beta or ("fixed" if beta_src else "estimate")
    if mode == "fixed" and beta_src is None:
        raise MetakError("blinding: shared: beta: fixed needs a bias source (bias: {preset: ..} or {ror: .., ci: ..})")
    if n_c == 0:
        own.append("no trial is compromised or unknown: the shared bias does not enter, and the estimate is the "
                   "random-effects model of all trials (REML)")
        fit = SB.reml(y, v, z, beta=0.0, kappa2=0.0, level=level)
        mode = "none"
    elif mode == "estimate" and n_a == 0:
        why = "beta is not identifiable: no trial is adequately blinded, so the mean bias cannot be told from mu"
        if beta_src is None:
            own.append(why + "; no bias source is given, so there is no shared-bias estimate")
            out.update(dict.fromkeys(("estimate", "se", "ci_lower", "ci_upper")), bias=None, kappa=None,
                       beta_mode="not identifiable", bayes=None, notes=own)  # the record's key order
            notes.extend(f"shared bias: {n}" for n in own)
            return out
        own.append(why + f"; beta was fixed at the source's value ({src.name}) instead")
        mode = "fixed"
    if mode == "estimate":
        if isinstance(spec.kappa, float):
            k2 = spec.kappa**2
        elif n_a < 2 or n_c < 2:
            own.append(f"kappa is not identifiable with {n_a} adequate and {n_c} compromised trial(s) (needs >= 2 of "
                       "each): kappa fixed at 0 (the meta-regression on z)")
            k2 = 0.0
        else:
            k2 = None
        fit = SB.reml(y, v, z, kappa2=k2, level=level)
    elif mode == "fixed":
        beta, bvar, kap, sh = beta_src
        kap = spec.kappa if isinstance(spec.kappa, float) else kap
        if spec.kappa == "estimate":
            own.append("kappa: estimate needs beta: estimate; with a fixed beta kappa is the source's value")
        fit = SB.reml(y, v, z, beta=beta, beta_var=bvar, kappa2=kap**2, level=level)
        fit["bias"].update(source=src.name, citation=src.citation, scale_notes=list(sh.notes),
                           phi_in_shared_variance=bool(src.phi))
    out.update({key: fit[key] for key in ("estimate", "se", "ci_lower", "ci_upper", "tau2")}, test="z")
    out.update(bias=fit["bias"], kappa=fit["kappa"], beta_mode=mode)
    out["bayes"] = _bayes(ctx, y, v, z, spec, beta_src, own) if n_c else None
    out["notes"] = own
    notes.extend(f"shared bias: {n}" for n in own)
    return out


def _bayes(ctx, y, v, z, spec, beta_src, own):
    from ..bayes import priors as P

    bs = ctx.spec.bayes
    if bs is None:
        return None
    mu_prior = bs.mu_prior
    if not (isinstance(mu_prior, P.Normal) or (isinstance(mu_prior, P.Uniform) and mu_prior.is_flat)):
        own.append(f"bayes: the shared-bias posterior takes a normal or flat prior on mu, not {mu_prior!r}")
        return None
    if spec.beta_prior is not None:
        beta_prior, bwhy = P.Normal(*spec.beta_prior), "given (shared.beta_prior)"
    elif beta_src is not None:
        beta_prior, bwhy = P.Normal(beta_src[0], math.sqrt(beta_src[1])), "the bias source's b and sqrt(se² + phi²)"
    else:
        own.append("bayes: no prior for beta (give bias: or shared.beta_prior); no Bayesian shared-bias model")
        return None
    if spec.kappa_prior is not None:
        kappa_prior, kwhy = P.HalfNormal(spec.kappa_prior), "given (shared.kappa_prior)"
    elif beta_src is not None and beta_src[2] > 0:
        kappa_prior, kwhy = P.HalfNormal(beta_src[2]), "half-normal with the source's kappa as scale"
    else:
        kappa_prior, kwhy = bs.tau_prior, "the analysis's heterogeneity prior (no kappa from the source)"
    res = SB.posterior(y, v, z, mu_prior, beta_prior, bs.tau_prior, kappa_prior, ctx.model.level, ctx.table.direction)
    res["priors"] = {"mu": repr(mu_prior), "beta": repr(beta_prior), "beta_from": bwhy, "tau": repr(bs.tau_prior),
                     "kappa": repr(kappa_prior), "kappa_from": kwhy}
    return res

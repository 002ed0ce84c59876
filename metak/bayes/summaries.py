"""Posterior summaries shared by both engines: normal mixtures, weighted draws, JSON cleaning."""

from __future__ import annotations

import math

import numpy as np
from scipy import special

__all__ = ["prune", "mixture_cdf", "mixture_quantiles", "draws_summary", "weighted_quantiles", "clean_json"]

_SQRT2PI = math.sqrt(2.0 * math.pi)


def mixture_cdf(x, w, m, s):
    """CDF at ``x`` of the normal mixture ``sum_j w_j N(m_j, s_j^2)`` (``w`` sums to 1)."""
    x = np.asarray(x, float)
    return special.ndtr((x[..., None] - m) / s) @ w


def prune(w, *arrays, drop: float = 1e-13):
    """Drop the lightest components whose weights add up to less than ``drop``.

    For quantiles only: a component of negligible weight moves a quantile by about its
    weight over the density there, but it can still carry a moment (far tails).
    """
    order = np.argsort(w)
    light = order[np.cumsum(w[order]) < drop]
    keep = np.ones(len(w), dtype=bool)
    keep[light] = False
    return (w[keep] / w[keep].sum(),) + tuple(a[..., keep] for a in arrays)


def mixture_quantiles(p, w, m, s, *, x0=None, max_iter: int = 200):
    """Quantiles of normal mixtures by safeguarded Newton iteration.

    Parameters
    ----------
    p : (q,) probabilities.
    w : (J,) mixture weights summing to 1.
    m, s : (J,) or (R, J) component means and SDs; with 2-D input each row is a mixture.
    x0 : optional (R, q) starting values (e.g. from the normal approximation).

    Returns
    -------
    (q,) or (R, q) array of quantiles; Newton stops when its step is below 1e-11 of the
    spread of the heaviest component (quadratic convergence: the error is far smaller).
    """
    p = np.asarray(p, float)
    m = np.asarray(m, float)
    s = np.asarray(s, float)
    one_d = m.ndim == 1
    if one_d:
        m, s = m[None, :], s[None, :]
    # A robust spread from the heaviest component: its SD plus its distance from the centre
    # (the mixture's own SD can be astronomically large, or infinite, under heavy-tailed priors).
    mean = m @ w
    top = int(np.argmax(w))
    sd = s[:, top] + np.abs(m[:, top] - mean)
    lo = np.min(m - 12.0 * s, axis=1)[:, None] + 0.0 * p
    hi = np.max(m + 12.0 * s, axis=1)[:, None] + 0.0 * p
    x = mean[:, None] + special.ndtri(p)[None, :] * sd[:, None] if x0 is None else np.asarray(x0, float)
    x = np.clip(x, lo, hi)
    scale = np.maximum(sd, 1e-300)[:, None]
    for _ in range(max_iter):
        z = (x[..., None] - m[:, None, :]) / s[:, None, :]           # (R, q, J)
        cdf = special.ndtr(z) @ w - p
        pdf = (np.exp(-0.5 * z * z) / (s[:, None, :] * _SQRT2PI)) @ w
        lo = np.where(cdf < 0, x, lo)
        hi = np.where(cdf >= 0, x, hi)
        with np.errstate(divide="ignore", invalid="ignore"):
            step = cdf / pdf
            new = x - step
        if np.all(np.abs(step) <= 1e-11 * scale):
            x = new
            break
        bad = ~np.isfinite(new) | (new < lo) | (new > hi)
        x = np.where(bad, 0.5 * (lo + hi), new)
    return x[0] if one_d else x


def weighted_quantiles(values, probs, weights=None):
    """Quantiles of draws, optionally weighted (inverse-CDF on the weighted ECDF, midpoint rule)."""
    values = np.asarray(values, float).ravel()
    if weights is None:
        return np.quantile(values, probs)
    weights = np.asarray(weights, float).ravel()
    order = np.argsort(values)
    v, w = values[order], weights[order]
    cw = np.cumsum(w) - 0.5 * w
    cw /= np.sum(w)
    return np.interp(probs, cw, v)


def draws_summary(values, level, weights=None) -> dict:
    """Mean, SD, median and equal-tailed interval of (optionally weighted) draws."""
    values = np.asarray(values, float).ravel()
    alpha = 1.0 - level
    if weights is None:
        mean, sd = float(np.mean(values)), float(np.std(values, ddof=1))
    else:
        w = np.asarray(weights, float).ravel()
        w = w / w.sum()
        mean = float(w @ values)
        sd = float(math.sqrt(max(w @ (values - mean) ** 2, 0.0)))
    lo, med, hi = weighted_quantiles(values, [alpha / 2, 0.5, 1 - alpha / 2], weights)
    return {"mean": mean, "sd": sd, "median": float(med), "ci_lower": float(lo), "ci_upper": float(hi)}


def clean_json(obj, warnings: list, path: str = "bayes"):
    """Plain Python types throughout; any NaN or infinity becomes ``None`` with a warning."""
    if isinstance(obj, dict):
        return {str(k): clean_json(v, warnings, f"{path}.{k}") for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [clean_json(v, warnings, f"{path}[{i}]") for i, v in enumerate(obj)]
    if isinstance(obj, (bool, np.bool_)):
        return bool(obj)
    if isinstance(obj, (int, np.integer)):
        return int(obj)
    if isinstance(obj, (float, np.floating)):
        value = float(obj)
        if not math.isfinite(value):
            warnings.append(f"{path} is undefined (computed {value}); reported as null")
            return None
        return value
    if isinstance(obj, np.ndarray):
        return clean_json(obj.tolist(), warnings, path)
    return obj

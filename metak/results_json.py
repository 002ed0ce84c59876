"""results.json as text and as numbers: written at :data:`DIGITS` significant digits
(:func:`dumps`), compared within stated tolerances (:func:`compare_documents`,
:func:`equivalent`).

Used by the writer (:mod:`metak.report` keeps a results.json that says the same), by
``metak verify`` (:mod:`metak.verify` re-runs an analysis and compares) and by the tests that
check committed results. It imports no analysis code.

The tolerances (contract §6.0): the exact engines (the frequentist fits and the quadrature
posterior) to a relative :data:`EXACT_REL_TOL` or an absolute :data:`EXACT_ABS_TOL` (a number
inside a list, such as a posterior grid, relative to the largest of its list), numbers found by
numerical optimisation to :data:`OPTIMISER_REL_TOL`, MCMC summaries within
:data:`MCMC_ABS_TOL` (their Monte Carlo error); integers and every text (warnings, labels) must
be equal.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field

#: significant digits of the numbers in results.json (contract section 5)
DIGITS = 12


def rounded(value):
    """``value`` with every float rounded to :data:`DIGITS` significant digits.

    12 digits are far beyond what any estimate means and keep the file readable. Rounding does
    not make the bytes CPU-independent (a value whose 13th digit sits at a rounding boundary
    flips with last-bit noise): :mod:`metak.verify` compares within stated tolerances instead,
    and :func:`metak.report.write_outputs` keeps an existing results.json that agrees within them.
    """
    if isinstance(value, float):
        return float(f"{value:.{DIGITS}g}")
    if isinstance(value, dict):
        return {k: rounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [rounded(v) for v in value]
    return value


def dumps(doc: dict) -> str:
    """Deterministic JSON text: fixed key order (as built), 2-space indent, no NaN, numbers
    rounded to 12 significant digits."""
    return json.dumps(rounded(doc), indent=2, ensure_ascii=False, allow_nan=False) + "\n"


#: Relative tolerance for numbers of the exact engines. The same inputs on another CPU differ
#: in the last bits (SIMD exp/log, BLAS summation order). benchmarks/cross_cpu.py measured, over
#: the 5,174 numbers of the bundled results: numpy's baseline SIMD against AVX-512 moved 234 of
#: them by at most 1.3e-14 relative; generic OpenBLAS kernels on top moved 2,440 by at most
#: 3e-13 absolute (posterior-grid coordinates near zero, whose error is that of the grid's
#: scale: compared relative to their list). A value written to 12 significant digits can also
#: flip its last digit (5e-12 relative). 1e-9 stays orders of magnitude above that noise and far
#: below anything an estimate means (its 4th significant digit).
EXACT_REL_TOL = 1e-9
#: Absolute tolerance for numbers of the exact engines that are (close to) zero, where a relative
#: tolerance means nothing (a tau² of 0 that comes out as 3e-17 on another CPU).
EXACT_ABS_TOL = 1e-12
#: MCMC summaries may move by this much (absolute, on the analysis scale) between runs and
#: machines: a few Monte Carlo standard errors of a posterior summary at metak's default draws
MCMC_ABS_TOL = 0.02
#: Relative tolerance for numbers found by numerical optimisation of a likelihood without a
#: closed-form or root-solved optimum: the selection models' ML (Nelder-Mead/BFGS on an
#: integral), the model-averaging proposal mode, the GLMMs. Their last digits depend on the
#: optimiser's path, which another CPU's rounding changes: numpy at baseline SIMD moved the
#: bundled BCG selection model's estimate by 7.6e-9 relative. They are accurate to ~1e-6
#: against metafor at best, so they are compared at that.
OPTIMISER_REL_TOL = 1e-6
#: where those numbers sit in a meta-analysis of results.json (path prefixes)
OPTIMISED = ("sensitivity.selection_model", "sensitivity.bayesian_model_averaging", "glmm", "model.glmm")
#: the numbers of a meta-analysis reported first when they move (in this order)
HEADLINE = ("k", "estimate", "se", "ci_lower", "ci_upper", "p_value", "pi_lower", "pi_upper",
            "tau2", "tau2_ci", "i2", "bayes.mu", "bayes.predictive", "bayes.prob_benefit")
#: how many of the other moved values the report prints unless asked for all
SHOWN = 20


@dataclass(frozen=True)
class Moved:
    """One value that differs: where, what it was, what it is now, and why it counts."""

    path: str
    old: str
    new: str
    note: str = ""

    def line(self) -> str:
        return f"{self.path}: {self.old} -> {self.new}" + (f" ({self.note})" if self.note else "")


@dataclass
class Report:
    inputs_changed: list = field(default_factory=list)   # (path, what)
    moved: list = field(default_factory=list)            # Moved, in document order
    compared: int = 0
    within_tolerance: int = 0                            # exact-engine numbers not bit-identical, within tolerance
    tolerance_used: int = 0                              # MCMC summaries compared within MCMC_ABS_TOL
    notes: list = field(default_factory=list)
    ma_order: list = field(default_factory=list)         # meta-analysis ids in the recorded order

    @property
    def ok(self) -> bool:
        return not self.inputs_changed and not self.moved

    def headline(self) -> list:
        """Moved headline numbers, by meta-analysis (recorded order) then :data:`HEADLINE` order."""
        rank = {m: i for i, m in enumerate(self.ma_order)}
        out = []
        for m in self.moved:
            key = _headline_key(m.path, rank)
            if key is not None:
                out.append((key, m))
        return [m for _, m in sorted(out, key=lambda t: t[0])]

    def others(self) -> list:
        head = set(map(id, self.headline()))
        return sorted((m for m in self.moved if id(m) not in head), key=lambda m: _natural(m.path))

    def lines(self, show_all: bool = False) -> list[str]:
        out = [f"input changed: {path} ({what})" for path, what in self.inputs_changed]
        head, rest = self.headline(), self.others()
        if head:
            out.append(f"headline numbers that moved ({len(head)}):")
            out.extend(f"  {m.line()}" for m in head)
        if rest:
            shown = rest if show_all else rest[:SHOWN]
            out.append(f"{'other ' if head else ''}values that moved ({len(rest)}"
                       + ("" if len(shown) == len(rest) else f"; the first {len(shown)} by path, --all lists every one")
                       + "):")
            out.extend(f"  {m.line()}" for m in shown)
        return out


def _natural(path: str):
    """Sort key: ``x[2]`` before ``x[10]``."""
    return [(0, int(t), "") if t.isdigit() else (1, 0, t) for t in re.split(r"(\d+)", path)]


def _headline_key(path: str, rank: dict):
    mid, _, rest = path.partition(".")
    if mid not in rank:
        return None
    if not rest:  # the meta-analysis itself is gone or new
        return (rank[mid], -1, path)
    for i, h in enumerate(HEADLINE):
        if rest == h or rest.startswith(h + ".") or rest.startswith(h + "["):
            return (rank[mid], i, _natural(rest))
    return None


def shape_problem(doc) -> str | None:
    """What makes ``doc`` unusable as a recorded results.json, or None."""
    if not isinstance(doc, dict):
        return "the top level is not an object"
    a = doc.get("analysis")
    if not isinstance(a, dict):
        return "no 'analysis' object"
    if not isinstance(a.get("path"), str) or not a["path"]:
        return "analysis.path is not a file path"
    if not isinstance(doc.get("trials", []), list):
        return "'trials' is not a list"
    for i, t in enumerate(doc.get("trials", [])):
        if not isinstance(t, dict) or not isinstance(t.get("path"), str):
            return f"trials[{i}] has no path"
    mas = doc.get("meta_analyses")
    if not isinstance(mas, list):
        return "'meta_analyses' is not a list"
    for i, m in enumerate(mas):
        if not isinstance(m, dict) or not isinstance(m.get("id"), str):
            return f"meta_analyses[{i}] has no id"
    return None


def compare_documents(old: dict, new: dict, rep: Report) -> Report:
    """Compare two results documents (everything but the machine's ``environment``, the metak
    version and the trial list, which :func:`metak.verify.verify` checks by hash) into ``rep``."""
    old_ma = {m["id"]: m for m in old["meta_analyses"]}
    new_ma = {m["id"]: m for m in new["meta_analyses"]}
    for mid in old_ma:
        if mid not in new_ma:
            rep.moved.append(Moved(mid, "meta-analysis", "(gone)", "no longer produced"))
    for mid in new_ma:
        if mid not in old_ma:
            rep.moved.append(Moved(mid, "(none)", "meta-analysis", "not in the recorded results"))
    for mid in old_ma:
        if mid in new_ma:
            a, b = old_ma[mid], new_ma[mid]
            mcmc = ((a.get("bayes") or {}).get("engine") == "mcmc")
            _compare(a, b, mid, rep, mcmc_paths=("bayes",) if mcmc else ())
    skip = ("meta_analyses", "environment", "metak_version", "trials")
    _compare({k: v for k, v in old.items() if k not in skip}, {k: v for k, v in new.items() if k not in skip}, "", rep)
    return rep


def equivalent(old: dict, new: dict) -> bool:
    """Two results documents say the same within verify's tolerances, and record the same
    inputs (hashes) and metak version: the writer keeps the file already there.

    The machine's ``environment`` (Python, NumPy, SciPy versions) is not compared: a fresh
    install that resolves a newer patch release reproduces the numbers within tolerance, and the
    kept file still says truly which environment wrote the numbers it holds."""
    if shape_problem(old) or shape_problem(new):
        return False
    for k in ("metak_version", "trials"):
        if old.get(k) != new.get(k):
            return False
    return compare_documents(old, new, Report()).ok


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else repr(x if len(x) < 80 else x[:77] + "...")


def _is_num(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def _compare(a, b, path: str, rep: Report, mcmc_paths=(), scale: float = 0.0):
    def join(p, k):
        return f"{p}.{k}" if p else str(k)

    if isinstance(a, dict) and isinstance(b, dict):
        # recorded key order, then keys only the new document has: the same order on every run
        for k in list(a) + [k for k in b if k not in a]:
            p = join(path, k)
            if k not in b:
                rep.moved.append(Moved(p, _fmt(a[k]), "(gone)"))
            elif k not in a:
                rep.moved.append(Moved(p, "(new)", _fmt(b[k])))
            else:
                _compare(a[k], b[k], p, rep, mcmc_paths)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            rep.moved.append(Moved(path, f"{len(a)} items", f"{len(b)} items"))
            return
        # a number in a list (a posterior grid, a curve) is compared relative to the largest
        # magnitude of its list: a grid coordinate that happens to fall near zero carries the
        # absolute rounding error of the grid's scale, not of its own value
        scale = max([abs(x) for x in (*a, *b) if _is_num(x) and math.isfinite(x)], default=0.0)
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, f"{path}[{i}]", rep, mcmc_paths, scale)
        return
    if _is_num(a) and _is_num(b):
        rep.compared += 1
        in_mcmc = any(f".{m}." in f".{path}." or path.split(".", 1)[-1].startswith(m) for m in mcmc_paths)
        if in_mcmc:
            rep.tolerance_used += 1
            if not math.isclose(a, b, rel_tol=0, abs_tol=MCMC_ABS_TOL):
                rep.moved.append(Moved(path, _fmt(a), _fmt(b), f"MCMC, beyond the {MCMC_ABS_TOL} tolerance"))
            return
        if a == b:
            return
        rel = OPTIMISER_REL_TOL if path.split(".", 1)[-1].startswith(OPTIMISED) else EXACT_REL_TOL
        if isinstance(a, float) or isinstance(b, float):
            if math.isclose(a, b, rel_tol=rel, abs_tol=max(EXACT_ABS_TOL, rel * scale)):
                rep.within_tolerance += 1
                return
        fa, fb = _fmt(a), _fmt(b)
        if fa == fb:  # a change below 6 significant digits: show it in full
            fa, fb = repr(a), repr(b)
        rep.moved.append(Moved(path, fa, fb))
        return
    if a != b:
        rep.compared += 1
        rep.moved.append(Moved(path, _fmt(a), _fmt(b)))

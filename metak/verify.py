"""``metak verify RESULTS_DIR``: re-run the analysis a results.json records and check that
every input and every number is the same.

1. The recorded analysis spec and trial files are found relative to the repository root (the
   first of RESULTS_DIR's ancestors, or the working directory, that holds the recorded spec
   path) and their sha256 compared with the recorded ones.
2. The analysis is re-run there (in a scratch folder: nothing is written next to the results).
3. Every number of the new document is compared with the recorded one: exactly for the exact
   engines (the frequentist fits and the quadrature posterior), within a stated tolerance for
   MCMC summaries (their Monte Carlo error), and every text (warnings, labels) for equality.

Exit 0 when everything holds; 1 with a readable diff (the input file that changed, each number
that moved, ``abstinence.estimate: 1.075 -> 0.981``); 2 when it cannot run (no results.json, a
recorded file missing, a spec that no longer validates).
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

#: MCMC summaries may move by this much (absolute, on the analysis scale) between runs and
#: machines: a few Monte Carlo standard errors of a posterior summary at metak's default draws
MCMC_ABS_TOL = 0.02
#: keys that describe the machine, not the analysis
IGNORED = {("environment",)}


class CannotVerify(Exception):
    """The analysis cannot be re-run (exit 2)."""


@dataclass
class Report:
    inputs_changed: list = field(default_factory=list)   # (path, what)
    moved: list = field(default_factory=list)            # text lines
    compared: int = 0
    tolerance_used: int = 0
    notes: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.inputs_changed and not self.moved

    def lines(self) -> list[str]:
        out = []
        for path, what in self.inputs_changed:
            out.append(f"input changed: {path} ({what})")
        out.extend(self.moved)
        return out


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_root(results_dir: Path, spec_rel: str) -> Path:
    for cand in [results_dir.resolve(), *results_dir.resolve().parents, Path.cwd()]:
        if (cand / spec_rel).is_file():
            return cand
    raise CannotVerify(f"the recorded analysis spec {spec_rel} is not found from {results_dir} or the working "
                       "directory; run metak verify inside the repository that holds it")


def load_recorded(results_dir: Path) -> dict:
    f = results_dir / "results.json" if results_dir.is_dir() else results_dir
    if not f.is_file():
        raise CannotVerify(f"{f}: no results.json to verify")
    try:
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise CannotVerify(f"{f}: not a readable results.json ({exc})") from None
    if not isinstance(doc, dict) or "analysis" not in doc or "meta_analyses" not in doc:
        raise CannotVerify(f"{f}: not a metak results.json (no analysis or meta_analyses)")
    return doc


def verify(results_dir) -> Report:
    """Re-run and compare; raises :class:`CannotVerify` when it cannot run."""
    from .errors import InvalidInput, MetakError
    from .pipeline import analyze
    from .report import dumps

    results_dir = Path(results_dir)
    old = load_recorded(results_dir)
    spec_rel = old["analysis"].get("path")
    if not spec_rel:
        raise CannotVerify("results.json records no analysis path")
    root = find_root(results_dir, spec_rel)
    rep = Report()
    recorded = [(spec_rel, old["analysis"].get("sha256"))] + [(t["path"], t.get("sha256")) for t in old.get("trials", [])]
    for path, digest in recorded:
        f = root / path
        if not f.is_file():
            raise CannotVerify(f"{path}: the recorded input file is missing (looked in {root})")
        now = sha256(f)
        if digest and now != digest:
            rep.inputs_changed.append((path, f"sha256 {digest[:12]}... -> {now[:12]}..."))
    cwd = os.getcwd()
    try:
        os.chdir(root)
        with tempfile.TemporaryDirectory(prefix="metak-verify-") as tmp:
            try:
                # through the writer's own serialisation, so that both sides are rounded alike
                new = json.loads(dumps(analyze(Path(spec_rel), out_dir=Path(tmp))))
            except InvalidInput as exc:
                detail = "; ".join(str(p) for p in exc.problems[:5])
                raise CannotVerify(f"the inputs no longer validate: {detail}") from None
            except MetakError as exc:
                raise CannotVerify(f"the analysis no longer runs: {exc}") from None
    finally:
        os.chdir(cwd)
    was = {t["path"] for t in old.get("trials", [])}
    for t in new.get("trials", []):
        if t["path"] not in was:
            rep.inputs_changed.append((t["path"], "a trial file the recorded run did not read"))
    if new.get("metak_version") != old.get("metak_version"):
        rep.notes.append(f"metak version {old.get('metak_version')} recorded, {new.get('metak_version')} now")
    old_ma = {m["id"]: m for m in old["meta_analyses"]}
    new_ma = {m["id"]: m for m in new["meta_analyses"]}
    for mid in old_ma.keys() - new_ma.keys():
        rep.moved.append(f"{mid}: meta-analysis no longer produced")
    for mid in new_ma.keys() - old_ma.keys():
        rep.moved.append(f"{mid}: meta-analysis not in the recorded results")
    for mid in [m for m in old_ma if m in new_ma]:
        a, b = old_ma[mid], new_ma[mid]
        mcmc = ((a.get("bayes") or {}).get("engine") == "mcmc")
        _compare(a, b, mid, rep, mcmc_paths=("bayes",) if mcmc else ())
    top = {k: v for k, v in old.items() if k not in ("meta_analyses", "environment", "metak_version", "trials")}
    top_new = {k: v for k, v in new.items() if k not in ("meta_analyses", "environment", "metak_version", "trials")}
    _compare(top, top_new, "", rep)
    return rep


def _fmt(x) -> str:
    if isinstance(x, float):
        return f"{x:.6g}"
    return json.dumps(x, ensure_ascii=False) if not isinstance(x, str) else repr(x if len(x) < 80 else x[:77] + "...")


def _compare(a, b, path: str, rep: Report, mcmc_paths=()):
    def join(p, k):
        return f"{p}.{k}" if p else str(k)

    if isinstance(a, dict) and isinstance(b, dict):
        for k in a.keys() | b.keys():
            p = join(path, k)
            if k not in b:
                rep.moved.append(f"{p}: {_fmt(a[k])} -> (gone)")
            elif k not in a:
                rep.moved.append(f"{p}: (new) -> {_fmt(b[k])}")
            else:
                _compare(a[k], b[k], p, rep, mcmc_paths)
        return
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            rep.moved.append(f"{path}: {len(a)} items -> {len(b)}")
            return
        for i, (x, y) in enumerate(zip(a, b)):
            _compare(x, y, f"{path}[{i}]", rep, mcmc_paths)
        return
    num = (int, float)
    if isinstance(a, num) and isinstance(b, num) and not isinstance(a, bool) and not isinstance(b, bool):
        rep.compared += 1
        in_mcmc = any(f".{m}." in f".{path}." or path.split(".", 1)[-1].startswith(m) for m in mcmc_paths)
        if in_mcmc:
            rep.tolerance_used += 1
            if not math.isclose(a, b, rel_tol=0, abs_tol=MCMC_ABS_TOL):
                rep.moved.append(f"{path}: {_fmt(a)} -> {_fmt(b)} (MCMC, beyond the {MCMC_ABS_TOL} tolerance)")
        elif a != b:
            fa, fb = _fmt(a), _fmt(b)
            if fa == fb:  # a change below 6 significant digits: show it in full
                fa, fb = repr(a), repr(b)
            rep.moved.append(f"{path}: {fa} -> {fb}")
        return
    if a != b:
        rep.compared += 1
        rep.moved.append(f"{path}: {_fmt(a)} -> {_fmt(b)}")

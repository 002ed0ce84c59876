"""``metak verify RESULTS_DIR``: re-run the analysis a results.json records and check that
every input and every number is the same.

1. The recorded analysis spec and trial files are found relative to the repository root (the
   first of RESULTS_DIR's ancestors, or the working directory, that holds the recorded spec
   path) and their sha256 compared with the recorded ones. A recorded path must stay inside
   that root, and every recorded file must carry its sha256: otherwise the file cannot be
   checked and verify says so (exit 2) instead of passing it.
2. The analysis is re-run there (in a scratch folder: nothing is written next to the results).
3. Every number of the new document is compared with the recorded one within a stated
   tolerance (contract §6.0; the tolerances and the comparison live in
   :mod:`metak.results_json`): the exact engines (the frequentist fits and the quadrature
   posterior) to a relative ``EXACT_REL_TOL`` or an absolute ``EXACT_ABS_TOL`` (a number inside
   a list, such as a posterior grid, relative to the largest of its list), MCMC summaries within
   ``MCMC_ABS_TOL`` (their Monte Carlo error); integers and every text (warnings, labels) must be
   equal.

Exit 0 when everything holds; 1 with a readable diff: the input files that changed, then the
headline numbers that moved (each meta-analysis's pooled estimate, SE, CI, prediction
interval, p-value, k, tau², I² and posterior summaries of mu), then a count and a sorted list
of the rest; 2 when it cannot run (no results.json, a malformed one, a recorded file missing or
outside the repository, a spec that no longer validates).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import tempfile
from pathlib import Path

from .results_json import Report, compare_documents, dumps, shape_problem

#: results.json files larger than this are refused (the bundled ones are well under 1 MB)
MAX_BYTES = 50_000_000
_HEX64 = re.compile(r"[0-9a-f]{64}")


class CannotVerify(Exception):
    """The analysis cannot be re-run (exit 2)."""


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def find_root(results_dir: Path, spec_rel: str) -> Path:
    for cand in [results_dir.resolve(), *results_dir.resolve().parents, Path.cwd()]:
        if (cand / spec_rel).is_file():
            return cand
    raise CannotVerify(f"the recorded analysis spec {spec_rel} is not found from {results_dir} or the working "
                       "directory; run metak verify inside the repository that holds it")


def load_recorded(results_dir: Path) -> dict:
    from .outputs import pending_write

    f = results_dir / "results.json" if results_dir.is_dir() else results_dir
    if not f.is_file():
        raise CannotVerify(f"{f}: no results.json to verify")
    pending = pending_write(f.parent)
    if pending:
        raise CannotVerify(f"{f.parent}: {pending}")
    try:
        if f.stat().st_size > MAX_BYTES:
            raise CannotVerify(f"{f}: larger than {MAX_BYTES // 1_000_000} MB, not a metak results.json")
        doc = json.loads(f.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, ValueError, RecursionError) as exc:
        raise CannotVerify(f"{f}: not a readable results.json ({type(exc).__name__}: {str(exc)[:200]})") from None
    problem = shape_problem(doc)
    if problem:
        raise CannotVerify(f"{f}: not a metak results.json ({problem})")
    return doc


def _relative(rel: str) -> Path:
    """``rel`` as a path if it is relative and has no ``..``, else CannotVerify."""
    p = Path(rel)
    if p.is_absolute() or ".." in p.parts:
        raise CannotVerify(f"{rel}: a recorded input path must be relative to the repository and stay inside it")
    return p


def _inside(root: Path, rel: str) -> Path:
    """``root / rel`` if ``rel`` is relative and resolves inside ``root`` (no symlink out), else CannotVerify."""
    f = root / _relative(rel)
    try:
        f.resolve().relative_to(root.resolve())
    except ValueError:
        raise CannotVerify(f"{rel}: the recorded input resolves outside the repository ({root})") from None
    return f


def verify(results_dir) -> Report:
    """Re-run and compare; raises :class:`CannotVerify` when it cannot run."""
    from .errors import InvalidInput, MetakError
    from .pipeline import analyze

    results_dir = Path(results_dir)
    old = load_recorded(results_dir)
    spec_rel = old["analysis"]["path"]
    _relative(spec_rel)  # absolute and ../ paths are refused before any file is looked at
    root = find_root(results_dir, spec_rel)
    rep = Report(ma_order=[m["id"] for m in old["meta_analyses"]])
    recorded = [(spec_rel, old["analysis"].get("sha256"))] + [(t["path"], t.get("sha256")) for t in old.get("trials", [])]
    for path, digest in recorded:
        f = _inside(root, path)
        if not f.is_file():
            raise CannotVerify(f"{path}: the recorded input file is missing (looked in {root})")
        if not isinstance(digest, str) or not _HEX64.fullmatch(digest):
            raise CannotVerify(f"{path}: results.json records no sha256 for this input, so it cannot be checked")
        now = sha256(f)
        if now != digest:
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
    compare_documents(old, new, rep)
    return rep

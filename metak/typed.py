"""One reader of a results.json meta-analysis: its analyses as their typed frozen records.

:func:`records` turns a meta-analysis object of results.json (the dict the pipeline wrote, or
one read back from a file) into a :class:`MetaRecords`: the pooled numbers as a :class:`Pooled`
record and every analysis that ran as the record its registry entry declares
(``AnalysisKind.record_type()``, rebuilt by :func:`metak.schema.record.from_dict`). The methods
text (:mod:`metak.methods_sentences`), the terminal report (:mod:`metak.report`) and the summary
of findings (:mod:`metak.sof`) read attributes of these records instead of raw keys, so a
renamed or retyped key fails here, once, naming where, rather than printing a wrong sentence.

Each record is built when first read (:meth:`MetaRecords.get`), so a report reads only the
analyses it shows; :meth:`MetaRecords.check` builds them all (the test over every committed
results document). A kind that declares no record is returned as written.

A value that does not match its record (a results.json from another version, or edited by
hand) is a :class:`ResultsMismatch` naming the meta-analysis and the key path.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Mapping

from .errors import MetakError
from .schema.record import from_dict

__all__ = ["CommonEffect", "MetaRecords", "Pooled", "ResultsMismatch", "record_of", "records"]


class ResultsMismatch(MetakError):
    """A results.json value that does not match the record of its analysis; the message names
    the meta-analysis and the key path (``sensitivity.blinding.rule.max_bang: ...``)."""


@dataclass(frozen=True)
class CommonEffect:
    """``common_effect``: the inverse-variance common-effect estimate beside a random-effects one."""

    estimate: float | None
    se: float | None
    ci_lower: float | None
    ci_upper: float | None


@dataclass(frozen=True)
class Pooled:
    """The pooled numbers of a meta-analysis object (results.json, contract section 3); null
    (None) where nothing could be estimated. No record of the pipeline holds them together
    (the fit, or a ``pooled`` hook, writes them over the object), so this is their record."""

    k: int | None = None
    n_participants: float | None = None
    estimate: float | None = None
    se: float | None = None
    ci_lower: float | None = None
    ci_upper: float | None = None
    statistic: float | None = None
    df: float | None = None
    p_value: float | None = None
    pi_lower: float | None = None
    pi_upper: float | None = None
    tau2: float | None = None
    tau2_ci: tuple[float | None, ...] | None = None
    tau: float | None = None
    tau_ci: tuple[float | None, ...] | None = None
    i2: float | None = None
    i2_ci: tuple[float | None, ...] | None = None
    h2: float | None = None
    h2_ci: tuple[float | None, ...] | None = None
    q: float | None = None
    q_df: float | None = None
    q_p: float | None = None
    common_effect: CommonEffect | None = None


def record_of(name: str, value, *, where: str = ""):
    """``value`` (a registered analysis's results.json value, or already its record) as the
    record its registry entry declares; :class:`ResultsMismatch` when it does not fit. A record
    passes through unchanged; a kind that declares no record gets ``value`` back as written."""
    from .registry import ANALYSES

    kind = ANALYSES.get(name)
    tp = kind.record_type() if kind is not None else None
    if value is None or tp is None or isinstance(value, tp):
        return value
    try:
        return from_dict(tp, value, f"{where}{name}")
    except TypeError as exc:
        raise ResultsMismatch(_say(exc)) from None


class MetaRecords:
    """A meta-analysis of results.json read as records: ``pooled`` (:class:`Pooled`), and each
    analysis that ran by :meth:`get` (a sensitivity analysis or a keyed one; the GLMM's from
    ``model.glmm``), built from its value when first asked for. :meth:`check` builds them all."""

    def __init__(self, ma: Mapping, where: str):
        self._ma, self._at, self._cache = ma, where, {}
        self.id = str(ma.get("id"))
        self.measure = str(ma.get("measure"))
        self.pooled = _pooled(ma, where)

    def _value(self, name: str):
        from .registry import SENSITIVITY

        if name in SENSITIVITY:
            return (self._ma.get("sensitivity") or {}).get(name), f"{self._at}sensitivity."
        value = self._ma.get(name)
        if name == "glmm" and value is None:
            value = (self._ma.get("model") or {}).get("glmm")  # the GLMM's record is model.glmm
        return value, self._at

    def get(self, name: str):
        """The record of analysis ``name`` (None when it did not run)."""
        if name not in self._cache:
            value, where = self._value(name)
            self._cache[name] = record_of(name, value, where=where)
        return self._cache[name]

    @property
    def studies(self) -> tuple:
        """The study rows as :class:`metak.study_rows.StudyRow` records, in the document's order."""
        if "studies" not in self._cache:
            from .study_rows import StudyRow

            rows = self._ma.get("studies") or ()
            try:
                self._cache["studies"] = tuple(from_dict(StudyRow, s, f"{self._at}studies[{j}]")
                                               for j, s in enumerate(rows))
            except TypeError as exc:
                raise ResultsMismatch(_say(exc)) from None
        return self._cache["studies"]

    @property
    def sensitivity(self) -> dict:
        """name -> record of the ``sensitivity`` entries that ran, in the document's order."""
        return {n: self.get(n) for n, v in (self._ma.get("sensitivity") or {}).items() if v is not None}

    @property
    def analyses(self) -> dict:
        """name -> record of the keyed analyses that ran, in the registry's order."""
        from .registry import KEYED

        return {n: self.get(n) for n in KEYED if self._value(n)[0] is not None}

    def check(self) -> "MetaRecords":
        """Every record built (:class:`ResultsMismatch` at the first value that does not fit)."""
        self.studies, self.sensitivity, self.analyses  # noqa: B018 (built for their checks)
        return self


def _say(exc: TypeError) -> str:
    return (f"{exc} (this results.json does not match the records of this metak version: written by another "
            "version or edited by hand; run `metak analyze` on its spec to write it again)")


def _pooled(ma: Mapping, where: str) -> Pooled:
    values = {f.name: ma.get(f.name) for f in dataclasses.fields(Pooled)}
    try:
        return from_dict(Pooled, values, where.rstrip("."))
    except TypeError as exc:
        raise ResultsMismatch(_say(exc)) from None


def records(ma: Mapping, *, where: str | None = None) -> MetaRecords:
    """The records of the meta-analysis object ``ma`` (see the module's docstring), each built
    when first read; ``records(ma).check()`` builds and checks them all. :class:`ResultsMismatch`
    names the first value that does not match its record."""
    if not isinstance(ma, Mapping):
        raise ResultsMismatch(f"{where or 'meta-analysis'}: {type(ma).__name__}, not a meta-analysis object")
    at = where if where is not None else f"meta_analyses[{ma.get('id')}]."
    sens = ma.get("sensitivity")
    if sens is not None and not isinstance(sens, Mapping):
        raise ResultsMismatch(f"{at}sensitivity: not an object")
    return MetaRecords(ma, at)

"""The results document of :func:`metak.analyze` with its views (split from :mod:`metak.api`)."""

from __future__ import annotations

from .errors import MetakError


# --------------------------------------------------------------------------- analyze()


def _id(ma):
    """A meta-analysis's id (document metadata, no analysis's record holds it), as written."""
    return ma.get("id")


class AnalysisResults(dict):
    """The results document of :func:`metak.analyze` (a dict, as before) with views:
    :meth:`studies_frame`, :meth:`summary_frame`, :meth:`plot` and :meth:`write`."""

    def __init__(self, doc, staging=None):
        super().__init__(doc)
        self._staging = staging

    def _ma(self, id=None):
        mas = self["meta_analyses"]
        if id is None:
            if not mas:
                raise MetakError("the results have no meta-analysis")
            return mas[0]
        for ma in mas:
            if _id(ma) == id:
                return ma
        raise MetakError(f"no meta-analysis '{id}'; ids: {', '.join(str(_id(m)) for m in mas)}")

    def studies_frame(self, id=None):
        """One row per study of every meta-analysis (or of ``id``): ``analysis, trial, label,
        yi, vi, se, ci_lower, ci_upper, weight``."""
        import pandas as pd

        from .typed import records

        keys = ("trial", "label", "yi", "vi", "se", "ci_lower", "ci_upper", "weight")
        mas = self["meta_analyses"] if id is None else [self._ma(id)]
        return pd.DataFrame.from_records([{"analysis": _id(ma), **{k: getattr(row, k) for k in keys}}
                                          for ma in mas for row in records(ma).studies],
                                         columns=["analysis", *keys])

    def summary_frame(self):
        """One row per meta-analysis: the columns of summary.csv (:func:`metak.report.summary_csv`)."""
        import io

        import pandas as pd

        from .report import summary_csv

        return pd.read_csv(io.StringIO(summary_csv(self)), keep_default_na=False, na_values=[""])

    def plot(self, kind="forest", id=None, **options):
        """A figure of one meta-analysis (default: the first) as a matplotlib Figure; ``kind``
        is one of :data:`metak.plots.KINDS` (forest, funnel, leave_one_out ...)."""
        from .registry import FIGURE_KINDS, FIGURES

        if kind not in FIGURES:
            raise MetakError(f"unknown figure kind {kind!r}; kinds are {', '.join(FIGURE_KINDS)}")
        from .figure_needs import check_available
        from .plots.render import draw_kind

        ma = self._ma(id)
        check_available(ma, kind)  # the analysis the figure draws is in the results (the spec's rule)
        return draw_kind(ma, kind, **options).figure

    def write(self, out_dir):
        """Write results.json, summary.csv and the figures into ``out_dir``, as ``metak analyze
        --out`` does (:func:`metak.report.write_outputs`)."""
        import tempfile
        from pathlib import Path

        from .report import write_outputs

        out = Path(out_dir)
        if self._staging is not None:
            write_outputs(self, out, Path(self._staging))
        else:
            with tempfile.TemporaryDirectory(prefix="metak-") as tmp:
                write_outputs(self, out, Path(tmp))
        return out

"""Compatibility module: the pipeline lives in :mod:`metak.pipeline` (``analyze``, ``run_meta``)."""

from .pipeline import analyze, run_meta  # noqa: F401

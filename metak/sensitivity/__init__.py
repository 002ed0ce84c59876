"""Sensitivity analyses: each refits (or re-reads) a fitted meta-analysis."""

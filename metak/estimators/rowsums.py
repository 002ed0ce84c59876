"""Row sums of a batch of meta-analyses (rows of an (m, k) array) added in one fixed order
whatever the number of rows or the memory layout, and the column-major gathers that keep
them fast: the kernel every batch estimator sums with."""

from __future__ import annotations

import numpy as np


def rsum(A):
    """Row sums added left to right, whatever the number of rows or the memory layout.

    Speed and reproducibility both hang on this. numpy sums each row of a C-ordered (m, k)
    array on its own (8 times slower for k ~ 10 than adding whole columns), pairwise in blocks,
    and with how many rows share the array deciding the order for some shapes. The batch engine
    keeps its arrays in column-major (Fortran) order, where numpy adds column after column: for
    two or more rows that is a strict left-to-right sum. A single row is summed in the same
    order by cumsum, so that a row's answer never depends on which rows it is fitted with
    (metak batch); a C-ordered array is copied to column-major first.
    """
    if A.ndim == 2 and A.shape[0] == 1:
        return np.cumsum(A, axis=1)[:, -1] if A.shape[1] else np.zeros(1)
    return np.asfortranarray(A).sum(1)


def sub(A, idx):
    """A[idx] (rows by index or mask) in column-major order, in one gather (A[idx] and
    A.T[:, idx].T both come back C-ordered, which every later row sum would copy)."""
    idx = np.asarray(idx)
    if idx.dtype == bool:
        idx = np.flatnonzero(idx)
    return np.take(A.T, idx, axis=1).T


def fortran(*arrays):
    return tuple(np.asfortranarray(a) for a in arrays)


def wmean(Y, w):
    return rsum(w * Y) / rsum(w)

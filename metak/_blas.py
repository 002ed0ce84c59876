"""One BLAS thread for metak's tiny matrices.

metak's linear algebra works on k x p matrices with k in the tens: a BLAS thread pool costs more
to wake than the product it computes, and on a busy machine its threads spin against the other
processes (an exact permutation test of 5,040 meta-regression fits took 62 s instead of 3.3 s
with two loaded cores; benchmarks/bench_blas_threads.py measures it). The code paths that loop
over many small fits run inside :func:`one_thread`. threadpoolctl's controller is built once
(about 1 ms) and a limit then costs about 2 microseconds; the caller's own setting is restored
on exit, so a user's large matrix products elsewhere keep their threads.
"""

from __future__ import annotations

import contextlib
import functools
import threading

_controller = None


def _get():
    global _controller
    if _controller is None:
        try:
            from threadpoolctl import ThreadpoolController
        except ImportError:  # pragma: no cover - a core dependency
            _controller = False
        else:
            _controller = ThreadpoolController()
    return _controller


_depth = threading.local()


@contextlib.contextmanager
def one_thread():
    """BLAS (OpenBLAS, MKL, BLIS) limited to one thread inside the block.

    The limit is set through the controller's per-library get/set calls (about 1 us each)
    rather than ``ThreadpoolController.limit``, whose bookkeeping cost ~13 us a block, more
    than a k = 10 meta-regression step; a block nested in another (a permutation test's fits,
    the influence refits) changes nothing (issue 24, benchmarks/bench_small_fit.py)."""
    c = _get()
    depth = getattr(_depth, "n", 0)
    if not c or depth:
        _depth.n = depth + 1
        try:
            yield
        finally:
            _depth.n = depth
        return
    libs = [lib for lib in c.lib_controllers if lib.user_api == "blas"]
    old = [lib.get_num_threads() for lib in libs]
    for lib, n in zip(libs, old):
        if n != 1:
            lib.set_num_threads(1)
    _depth.n = 1
    try:
        yield
    finally:
        _depth.n = 0
        for lib, n in zip(libs, old):
            if n != 1 and n is not None:
                lib.set_num_threads(n)


def single_threaded(func):
    """Decorator: ``func`` runs inside :func:`one_thread`."""

    @functools.wraps(func)
    def wrapper(*args, **kwargs):
        with one_thread():
            return func(*args, **kwargs)

    return wrapper

"""Where partitions run: in process (default), on a Dask LocalCluster (``local`` or
``local:N``), or on an existing scheduler (``tcp://HOST:PORT``). dask.distributed is imported
only here, only when asked for (the optional ``scale`` extra)."""

from __future__ import annotations

from contextlib import contextmanager

from ..errors import MetakError


def parse_dask(value: str | None):
    """None (in process), ("local", n_workers or None) or ("address", "tcp://...")."""
    if value is None or value == "":
        return None
    if value == "local" or value.startswith("local:"):
        n = value.partition(":")[2]
        if n and (not n.isdigit() or int(n) < 1):
            raise MetakError(f"--dask {value}: local:N needs a whole number of workers >= 1")
        return ("local", int(n) if n else None)
    if value.startswith(("tcp://", "tls://", "ws://", "inproc://")):
        return ("address", value)
    raise MetakError(f"--dask {value}: give local, local:N or a scheduler address such as tcp://HOST:PORT")


#: dask's setting of MALLOC_TRIM_THRESHOLD_ for the worker processes its nannies start
TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


@contextmanager
def executor(dask=None, *, connect_timeout: float = 5.0):
    """Yields ``run(function, items) -> list of results`` in the items' order."""
    spec = parse_dask(dask) if isinstance(dask, str) or dask is None else dask
    if spec is None:
        from ..progress import task

        def run(fn, items):
            out = []
            with task("partitions", len(items)) as advance:
                for it in items:
                    out.append(fn(it))
                    advance()
            return out

        yield run
        return
    try:
        import dask
        from dask.distributed import Client, LocalCluster
    except ImportError:  # pragma: no cover - depends on the extra being installed
        raise MetakError("--dask needs dask[distributed]: pip install 'metak[scale]'") from None
    cluster = None
    try:
        if spec[0] == "local":
            # dask gives its workers MALLOC_TRIM_THRESHOLD_=65536 so that they hand freed memory
            # back to the OS. Setting it also switches off glibc's adaptive mmap threshold, so
            # every temporary array of a partition (~1 MB) is mapped and unmapped afresh, page
            # faults and all, and the batch kernel runs at a third of its in-process speed
            # (benchmarks/bench_scale.py). None is dask's way to leave a variable unset: the
            # workers then allocate as a plain Python process does (unless this process's own
            # environment sets it). Workers of an existing cluster keep their own settings.
            with dask.config.set({TRIM: None}):
                cluster = LocalCluster(n_workers=spec[1], threads_per_worker=1, processes=True,
                                       dashboard_address=None, host="127.0.0.1")
            client = Client(cluster, timeout=connect_timeout)
        else:
            try:
                client = Client(spec[1], timeout=connect_timeout)
            except (OSError, TimeoutError) as exc:
                raise MetakError(f"--dask {spec[1]}: cannot reach the scheduler within {connect_timeout:g} s "
                                 f"({type(exc).__name__})") from None
    except MetakError:
        raise
    except Exception as exc:  # noqa: BLE001 - any failure to start a cluster is the user's to see
        if cluster is not None:
            cluster.close()
        raise MetakError(f"--dask: could not start or reach the cluster: {exc}") from None
    try:
        def run(fn, items):
            # the partitions' data go to the workers first (scatter), so that the task graph
            # holds references, not hundreds of MB of arrays
            data = client.scatter(list(items))
            futures = client.map(fn, data, pure=False)
            return client.gather(futures)

        yield run
    finally:
        client.close()
        if cluster is not None:
            cluster.close()

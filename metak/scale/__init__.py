"""Meta-research at scale: ``metak batch`` (every meta-analysis of a long table, or of a folder
of specs) and ``metak simulate`` (simulation studies of estimator performance), in process or
on Dask. Work is cut into partitions of a fixed size in a fixed order; each partition is fitted
by the vectorised engine, whose iterative estimators freeze a row once it has converged, so a
meta-analysis's numbers never depend on its partition-mates — results are identical, bit for
bit, whatever the executor, worker count or partition size (tests/test_scale.py)."""

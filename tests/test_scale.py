"""metak batch and simulate: numbers equal to metak.fit's, failures confined to their own
meta-analysis, and results identical bit for bit in process, on any partitioning, and on a
real dask.distributed LocalCluster (scheduler and two workers on loopback)."""

from __future__ import annotations

import math
import time

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

from metak import fit
from metak.cli import main
from metak.errors import MetakError
from metak.scale.batch import COLUMNS, run_batch
from metak.scale.simulate import run_simulation
from metak.scale.spec import SimSpec


def long_table(seed=3, m=60):
    rng = np.random.default_rng(seed)
    rows = []
    for j in range(m):
        for _ in range(int(rng.integers(1, 14))):
            v = float(rng.uniform(0.01, 0.4))
            rows.append((f"m{j:03d}", float(rng.normal(0.2, math.sqrt(v + 0.08))), v))
    return pd.DataFrame(rows, columns=["meta_id", "yi", "vi"])


@pytest.fixture()
def csv(tmp_path):
    df = long_table()
    bad = pd.DataFrame([("neg", 0.1, -0.5), ("neg", 0.3, 0.1), ("text", "abc", 0.1), ("text", 0.2, 0.2)],
                       columns=["meta_id", "yi", "vi"])
    path = tmp_path / "in.csv"
    pd.concat([df, bad]).to_csv(path, index=False)
    return path, df


@pytest.mark.parametrize("method,test", [("REML", "hksj"), ("DL", "z"), ("PM", "hksj")])
def test_batch_equals_fit_for_every_meta_analysis(csv, method, test):
    path, df = csv
    t = run_batch(path, method=method, test=test)
    assert list(t.columns) == list(COLUMNS)
    for mid, g in df.groupby("meta_id"):
        r = fit(g["yi"].to_numpy(), g["vi"].to_numpy(), method=method, test=test)
        row = t[t["meta_id"] == mid].iloc[0]
        assert row["error"] == "" and row["k"] == len(g)
        for c in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "q"):
            want = getattr(r, c)
            if want is None:  # k = 1: no heterogeneity
                assert np.isnan(row[c]), (mid, c)
            elif len(g) == 1:  # fit() takes a single study's own path
                assert row[c] == pytest.approx(want, rel=1e-14), (mid, c)
            else:  # the same sums in the same order, padded or not, alone or in a batch
                assert row[c] == want, (mid, c)


def test_a_bad_row_fails_only_its_meta_analysis(csv):
    path, df = csv
    t = run_batch(path)
    err = dict(zip(t["meta_id"], t["error"]))
    assert "vi = -0.5 is not > 0" in err["neg"] and "non-numeric yi 'abc'" in err["text"]
    assert t[t["meta_id"].isin(["neg", "text"])]["estimate"].isna().all()
    assert (t[~t["meta_id"].isin(["neg", "text"])]["error"] == "").all()


def test_a_missing_column_names_it(tmp_path):
    path = tmp_path / "x.csv"
    pd.DataFrame({"meta_id": ["a"], "yi": [0.1]}).to_csv(path, index=False)
    with pytest.raises(MetakError, match="missing column"):
        run_batch(path)
    pd.DataFrame({"study": ["a"], "yi": [0.1], "vi": [0.1]}).to_csv(path, index=False)
    with pytest.raises(MetakError, match="no column 'meta_id'"):
        run_batch(path)


def test_arm_level_rows_with_a_measure_column(tmp_path):
    from metak.effects.escalc import escalc_binary

    rows = [("a", 10, 50, 5, 50, "RR"), ("a", 7, 40, 9, 41, "RR"), ("a", 3, 30, 1, 29, "RR"),
            ("b", 12, 60, 20, 61, "OR"), ("b", 8, 33, 9, 35, "OR")]
    df = pd.DataFrame(rows, columns=["meta_id", "ai", "n1i", "ci", "n2i", "measure"])
    path = tmp_path / "arms.parquet"
    df.to_parquet(path)
    t = run_batch(path, method="REML")
    for mid, meas in (("a", "RR"), ("b", "OR")):
        g = df[df["meta_id"] == mid]
        y, v = escalc_binary(meas, *(g[c].to_numpy(float) for c in ("ai",)), g["n1i"].to_numpy(float) - g["ai"],
                             g["ci"].to_numpy(float), g["n2i"].to_numpy(float) - g["ci"])
        assert t[t["meta_id"] == mid]["estimate"].iloc[0] == pytest.approx(fit(y, v, method="REML").estimate, rel=1e-12)


def test_results_do_not_depend_on_the_partitioning(csv):
    path, _ = csv
    a = run_batch(path, partition=10_000)
    for p in (1, 7):
        b = run_batch(path, partition=p)
        pd.testing.assert_frame_equal(a, b, check_exact=True)


def sim_spec():
    return SimSpec("t", 7, replicates=600, block=150,
                   scenarios=({"k": 3, "tau2": 0.1, "mu": 0.2, "data": "normal", "vi": {"dist": "uniform", "low": 0.01, "high": 0.3}},
                              {"k": 8, "tau2": 0.0, "mu": 0.0, "data": "binary", "p_control": 0.3, "n": 60}),
                   estimators=("FE", "REML"), tests=("z", "hksj"), level=0.95)


def test_simulation_metrics_behave():
    t = run_simulation(sim_spec())
    fe = t[(t["estimator"] == "FE") & (t["test"] == "z") & (t["k"] == 8)].iloc[0]
    # no heterogeneity and large binary trials: the common-effect z interval is near nominal
    assert abs(fe["coverage"] - 0.95) < 4 * fe["coverage_mcse"] + 0.02
    assert abs(fe["bias"]) < 4 * fe["bias_mcse"] + 0.02
    z = t[(t["estimator"] == "REML") & (t["test"] == "z") & (t["k"] == 3)].iloc[0]
    hk = t[(t["estimator"] == "REML") & (t["test"] == "hksj") & (t["k"] == 3)].iloc[0]
    assert hk["coverage"] > z["coverage"] and hk["ci_width"] > z["ci_width"]  # IntHout 2014 at small k
    assert (t["replicates"] == 600).all() and t["coverage_mcse"].between(0, 0.05).all()


@pytest.fixture(scope="module")
def cluster():
    import distributed

    cl = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None,
                                  host="127.0.0.1")
    yield cl.scheduler_address
    cl.close()


def test_cluster_results_equal_in_process_results_exactly(csv, cluster):
    path, _ = csv
    start = time.perf_counter()
    local = run_batch(path, method="REML", test="hksj", partition=13)
    remote = run_batch(path, method="REML", test="hksj", partition=13, dask=cluster)
    pd.testing.assert_frame_equal(local, remote, check_exact=True)
    s_local = run_simulation(sim_spec())
    s_remote = run_simulation(sim_spec(), dask=cluster)
    pd.testing.assert_frame_equal(s_local, s_remote, check_exact=True)
    assert time.perf_counter() - start < 120


def test_an_unreachable_scheduler_is_a_clear_error_within_seconds(csv):
    path, _ = csv
    start = time.perf_counter()
    with pytest.raises(MetakError, match="cannot reach the scheduler"):
        run_batch(path, dask="tcp://127.0.0.1:9")
    assert time.perf_counter() - start < 20


def test_cli_batch_writes_parquet_and_csv(csv, tmp_path):
    path, _ = csv
    r = CliRunner().invoke(main, ["batch", str(path), "--out", str(tmp_path / "out"), "--test", "hksj"])
    assert r.exit_code == 0, r.output
    assert "fitted, 2 failed" in r.output and "neg: row" in r.output
    p = pd.read_parquet(tmp_path / "out" / "results.parquet")
    c = pd.read_csv(tmp_path / "out" / "results.csv", keep_default_na=False, na_values=[""])
    assert list(p.columns) == list(COLUMNS) and len(p) == len(c)
    assert np.allclose(p["estimate"].astype(float), c["estimate"].astype(float), equal_nan=True, rtol=0, atol=0)
    r = CliRunner().invoke(main, ["batch", str(tmp_path / "none.csv"), "--out", str(tmp_path / "o2")])
    assert r.exit_code == 1 and "no such file" in r.stderr


def test_cli_simulate_writes_tables_and_plot(tmp_path):
    spec = tmp_path / "s.yaml"
    spec.write_text("metak: 1\nsimulation: t\nseed: 1\nreplicates: 200\nblock: 100\nscenarios:\n  k: [3, 6]\n"
                    "  tau2: [0.1]\nestimators: [DL]\ntests: [z, hksj]\n")
    r = CliRunner().invoke(main, ["simulate", str(spec), "--out", str(tmp_path / "sim")])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(tmp_path / "sim" / "simulation.csv")
    assert len(t) == 4 and {"coverage", "coverage_mcse", "rmse", "pi_coverage", "tau2_bias_mcse"} <= set(t.columns)
    assert (tmp_path / "sim" / "coverage.png").stat().st_size > 1000


def test_the_committed_simulation_study_reproduces(tmp_path):
    """results/simulation-inthout2014 is what the spec gives (deterministic seeds)."""
    from pathlib import Path

    root = Path(__file__).resolve().parent.parent
    r = CliRunner().invoke(main, ["simulate", str(root / "analyses" / "simulations" / "inthout2014.yaml"),
                                  "--out", str(tmp_path / "s")])
    assert r.exit_code == 0, r.output
    assert (tmp_path / "s" / "simulation.csv").read_text() == \
        (root / "results" / "simulation-inthout2014" / "simulation.csv").read_text()
    t = pd.read_csv(tmp_path / "s" / "simulation.csv")
    # the known result (IntHout et al. 2014): with heterogeneity and few studies the z interval
    # under-covers and Knapp-Hartung stays much nearer 95%
    sub = t[(t["k"] == 3) & (t["tau2"] == 0.2) & (t["estimator"] == "DL")].set_index("test")
    assert sub.loc["z", "coverage"] < 0.90 < 0.92 < sub.loc["hksj", "coverage"]


def _trim_threshold(_):
    import os

    return os.environ.get("MALLOC_TRIM_THRESHOLD_")


def test_local_cluster_workers_allocate_as_a_plain_process_does(monkeypatch):
    """dask's workers get MALLOC_TRIM_THRESHOLD_=65536, which makes the kernel 3x slower; metak's
    own LocalCluster leaves it unset. (A dask nanny also copies it into this process's
    environment, where later workers would inherit it: hence the delenv.)"""
    from metak.scale.executor import executor

    monkeypatch.delenv("MALLOC_TRIM_THRESHOLD_", raising=False)
    with executor("local:1") as run:
        assert run(_trim_threshold, [0]) == [None]


def bayes_yaml(tmp_path, extra="", estimators="[REML, BAYES]"):
    p = tmp_path / "sim.yaml"
    p.write_text(f"""metak: 1
simulation: b
seed: 3
replicates: 40
block: 15
scenarios:
  k: [3]
  tau2: [0.1]
  mu: [0.2]
  vi: {{dist: uniform, low: 0.02, high: 0.3}}
estimators: {estimators}
tests: [z, hksj]
{extra}""")
    return p


PRIORS = "bayes:\n  prior:\n    mu: {dist: normal, mu: 0, sigma: 10}\n    tau: {dist: half_normal, sigma: 0.5}\n"


def test_the_exact_bayesian_estimator_reports_what_fit_bayes_reports(tmp_path):
    """Each replicate's posterior summaries are those of metak's Bayesian fit of it: the median
    of mu, the credible and predictive intervals and the median of tau (squared)."""
    from metak.bayes.fit import fit_bayes
    from metak.scale.simulate import _bayes_arrays, draw
    from metak.scale.spec import load_spec

    spec = load_spec(bayes_yaml(tmp_path, PRIORS))
    Y, V = draw(spec.scenarios[0], 5, np.random.default_rng(1))
    got = _bayes_arrays(Y, V, spec.bayes, 0.95)
    for i in range(5):
        want = fit_bayes(Y[i], V[i], spec.bayes, level=0.95).to_dict()
        assert got.estimate[i] == pytest.approx(want["mu"]["median"], rel=1e-12)
        assert (got.ci_lower[i], got.ci_upper[i]) == pytest.approx((want["mu"]["ci_lower"], want["mu"]["ci_upper"]),
                                                                   rel=1e-12)
        assert (got.pi_lower[i], got.pi_upper[i]) == pytest.approx(
            (want["predictive"]["ci_lower"], want["predictive"]["ci_upper"]), rel=1e-12)
        assert got.tau2[i] == pytest.approx(want["tau"]["median"] ** 2, rel=1e-12)


def test_the_bayesian_rows_of_a_simulation(tmp_path, cluster):
    from metak.scale.spec import load_spec

    spec = load_spec(bayes_yaml(tmp_path, PRIORS))
    t = run_simulation(spec)
    bayes = t[t["estimator"] == "BAYES"]
    assert list(bayes["test"]) == ["posterior"] and int(bayes["replicates"].iloc[0]) == 40
    assert 0 <= float(bayes["coverage"].iloc[0]) <= 1 and float(bayes["ci_width"].iloc[0]) > 0
    pd.testing.assert_frame_equal(t, run_simulation(spec, dask=cluster), check_exact=True)


@pytest.mark.parametrize("extra,estimators,message", [
    ("", "[REML, BAYES]", r"bayes\.prior\.tau: required for measure MD"),
    (PRIORS, "[REML]", "which estimators does not list"),
    (PRIORS + "  likelihood: binomial\n", "[BAYES]", "bayes.likelihood"),
])
def test_bayes_spec_errors_name_the_key(tmp_path, extra, estimators, message):
    from metak.scale.spec import load_spec

    with pytest.raises(MetakError, match=message):
        load_spec(bayes_yaml(tmp_path, extra, estimators))


BAYES_OPT = "{prior: {mu: {dist: normal, mu: 0, sigma: 10}, tau: {dist: half_normal, sigma: 0.5}}}"


def test_batch_bayes_columns_are_those_of_fit_bayes(csv):
    """--bayes: each meta-analysis's exact posterior, the numbers metak's Bayesian fit reports."""
    from metak.bayes.fit import fit_bayes
    from metak.scale.batch_bayes import BAYES_COLUMNS, parse_bayes_option

    path, df = csv
    spec = parse_bayes_option(BAYES_OPT, None)
    t = run_batch(path, bayes=spec)
    assert list(t.columns) == list(COLUMNS) + list(BAYES_COLUMNS)
    for mid, g in list(df.groupby("meta_id"))[:12]:
        want = fit_bayes(g["yi"].to_numpy(), g["vi"].to_numpy(), spec).to_dict()
        row = t[t["meta_id"] == mid].iloc[0]
        pairs = {"bayes_mu_mean": want["mu"]["mean"], "bayes_mu_median": want["mu"]["median"],
                 "bayes_mu_ci_lower": want["mu"]["ci_lower"], "bayes_mu_ci_upper": want["mu"]["ci_upper"],
                 "bayes_pi_lower": want["predictive"]["ci_lower"], "bayes_pi_upper": want["predictive"]["ci_upper"],
                 "bayes_tau_median": want["tau"]["median"], "bayes_prob_mu_gt_0": want["prob_benefit"]}
        for c, w in pairs.items():
            assert row[c] == pytest.approx(w, rel=1e-10, abs=1e-12), (mid, c)
    bad = t[t["meta_id"].isin(["neg", "text"])]
    assert bad[list(BAYES_COLUMNS)].isna().all().all()  # not fitted at all


def test_batch_bayes_on_a_cluster_is_identical(csv, cluster):
    from metak.scale.batch_bayes import parse_bayes_option

    path, _ = csv
    spec = parse_bayes_option(BAYES_OPT, None)
    pd.testing.assert_frame_equal(run_batch(path, bayes=spec, partition=9),
                                  run_batch(path, bayes=spec, partition=9, dask=cluster), check_exact=True)


@pytest.mark.parametrize("opt,message", [
    ("{}", r"--bayes prior\.tau: required for measure MD.*give the tau prior"),
    ("{prior: {tau: {dist: half_normal, sigma: -1}}}", r"--bayes prior\.tau\.sigma: must be > 0"),
    ("{likelihood: binomial, prior: {tau: {dist: half_normal, sigma: 0.5}}}", "--bayes likelihood"),
    ("{prior: [", "--bayes: not YAML"),
])
def test_bad_bayes_option_is_an_error_and_writes_nothing(csv, tmp_path, opt, message):
    path, _ = csv
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(path), "--out", str(out), "--bayes", opt])
    assert r.exit_code == 1 and "Traceback" not in r.output and not out.exists()
    import re

    assert re.search(message, r.output), r.output


def test_bayes_defaults_follow_the_measure(tmp_path):
    """Arm-level OR rows with --measure OR take the OR's default priors ('{}')."""
    rows = [("a", 10, 50, 5, 50), ("a", 7, 40, 9, 41), ("a", 3, 30, 1, 29)]
    df = pd.DataFrame(rows, columns=["meta_id", "ai", "n1i", "ci", "n2i"])
    path = tmp_path / "arms.csv"
    df.to_csv(path, index=False)
    out = tmp_path / "out"
    r = CliRunner().invoke(main, ["batch", str(path), "--out", str(out), "--measure", "OR", "--bayes", "{}"])
    assert r.exit_code == 0, r.output
    t = pd.read_csv(out / "results.csv")
    assert t["bayes_mu_median"].notna().all() and (t["error"].isna() | (t["error"] == "")).all()


def test_bayes_defaults_follow_the_measure_column(tmp_path):
    """A table whose measure column is OR throughout takes the OR's default priors."""
    from metak.bayes.fit import fit_bayes
    from metak.bayes.spec import parse_bayes_spec
    from metak.effects.escalc import escalc_binary

    rows = [("a", 10, 50, 5, 50, "OR"), ("a", 7, 40, 9, 41, "OR"), ("a", 3, 30, 1, 29, "OR")]
    df = pd.DataFrame(rows, columns=["meta_id", "ai", "n1i", "ci", "n2i", "measure"])
    path = tmp_path / "arms.csv"
    df.to_csv(path, index=False)
    t = run_batch(path, bayes="{}")
    y, v = escalc_binary("OR", df["ai"].to_numpy(float), (df["n1i"] - df["ai"]).to_numpy(float),
                         df["ci"].to_numpy(float), (df["n2i"] - df["ci"]).to_numpy(float))
    want = fit_bayes(y, v, parse_bayes_spec(None, measure="OR", outcome_type="binary")).to_dict()
    assert t["bayes_mu_median"].iloc[0] == pytest.approx(want["mu"]["median"], rel=1e-10)


def test_bayes_is_for_tables_not_spec_folders(tmp_path):
    from metak.scale.batch_bayes import parse_bayes_option

    with pytest.raises(MetakError, match="each spec's own bayes: block"):
        run_batch(tmp_path, bayes=parse_bayes_option(BAYES_OPT, None))

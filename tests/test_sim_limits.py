"""A simulation spec whose block would not fit in memory is refused by the Checker at the line of
its k (the review's k: [100000000] was killed by the OOM killer, exit 137, with no message)."""

from __future__ import annotations

import pytest
from click.testing import CliRunner

from metak.cli import main
from metak.errors import InvalidSpec
from metak.scale import spec as S

HEAD = "metak: 1\nsimulation: t\nseed: 1\n"


def _problems(tmp_path, body):
    f = tmp_path / "sim.yaml"
    f.write_text(HEAD + body)
    with pytest.raises(InvalidSpec) as exc:
        S.load_spec(f)
    return f, exc.value.problems


def test_a_k_beyond_any_meta_analysis_is_refused_at_its_line(tmp_path):
    f, probs = _problems(tmp_path, "replicates: 10\nblock: 5\nscenarios:\n  k: [10, 100000000]\n")
    assert [(p.line, p.path) for p in probs] == [(7, "scenarios.k[1]")]
    assert f"must be at most {S.MAX_K:,}, got 100,000,000" in probs[0].message


def test_a_block_that_would_not_fit_in_memory_is_refused_with_the_block_that_fits(tmp_path):
    k = 40_000   # 500 x 40,000 x 256 bytes = 5.12 GB
    f, probs = _problems(tmp_path, f"replicates: 1000\nscenarios:\n  k: [10, {k}]\n")
    assert [(p.line, p.path) for p in probs] == [(6, "scenarios.k[1]")]
    fit = S.MAX_BLOCK_BYTES // (k * S.BYTES_PER_CELL)
    assert fit == 195
    assert f"needs about {500 * k * S.BYTES_PER_CELL / 1e9:.1f} GB per block" in probs[0].message
    assert f"set block: {fit:,} or fewer (the default block is 500)" in probs[0].message
    # the block it names fits; one more does not
    (tmp_path / "ok.yaml").write_text(HEAD + f"replicates: 1000\nblock: {fit}\nscenarios:\n  k: {k}\n")
    assert S.load_spec(tmp_path / "ok.yaml").block == fit
    _, probs = _problems(tmp_path, f"replicates: 1000\nblock: {fit + 1}\nscenarios:\n  k: {k}\n")
    assert [p.path for p in probs] == ["scenarios.k"]


def test_fewer_replicates_than_a_block_need_only_their_memory(tmp_path):
    """A block never holds more than the replicates: 100 x 40,000 x 256 bytes is 1.0 GB."""
    (tmp_path / "s.yaml").write_text(HEAD + "replicates: 100\nblock: 500\nscenarios:\n  k: 40000\n")
    assert S.load_spec(tmp_path / "s.yaml").scenarios[0]["k"] == 40_000


def test_the_cli_says_so_and_writes_nothing(tmp_path):
    f = tmp_path / "sim.yaml"
    f.write_text(HEAD + "replicates: 10\nblock: 5\nscenarios:\n  k: [100000000]\n")
    r = CliRunner().invoke(main, ["simulate", str(f), "--out", str(tmp_path / "out")])
    assert r.exit_code == 1
    assert f"{f}:7: scenarios.k[0]: must be at most 1,000,000" in r.output
    assert not (tmp_path / "out").exists()

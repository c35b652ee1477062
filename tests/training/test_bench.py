"""The update benchmark runs end to end at a toy size and its two likelihoods agree."""

from __future__ import annotations

import json

import pytest

from training import bench


def test_genpo_update_bench_smoke(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["genpo-update", "--batch", "64", "--hidden", "16", "--obs", "9", "--act", "3"]
    bench.main([*argv, "--repeats", "1", "--jacobian-repeats", "1", "--jacobian-chunk", "32"])
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert set(result) == {
        "genpo_ms",
        "jacobian_ms",
        "jacobian_rows",
        "ppo_ms",
        "floor_ms",
        "speedup_vs_jacobian",
        "genpo_over_floor",
        "genpo_over_ppo",
    }
    assert all(v is not None and v > 0 for v in result.values())
    diff = float(
        next(ln for ln in out.splitlines() if ln.startswith("logprob_max_abs_diff ")).split()[-1]
    )
    assert diff <= 1e-5


def test_unknown_benchmark_exits_2_naming_the_known_ones(capsys: pytest.CaptureFixture) -> None:
    assert bench.main(["nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "unknown benchmark 'nope'" in err
    assert "algos, env, genpo-update" in err


def test_jacobian_reference_is_sized_to_the_memory() -> None:
    """The default genpo-update run (batch 24576, Go2-rough size) on the documented 24 GiB
    machine: (b) gets the rows that fit in half of it (~6 MB each), not all 24576 (~140 GB,
    the OOM kill); a machine with room for the whole batch times all of it."""
    from training.benchmarks.genpo_update import jacobian_bytes_per_row, jacobian_rows

    per_row = jacobian_bytes_per_row(act=12, flow_steps=5, hidden=(512, 256, 128))
    assert 5.8e6 <= per_row <= 10e6  # measured peak: 5.8 MB per row
    rows = jacobian_rows(24576, per_row, 24 * 2**30)
    assert 0 < rows < 24576 and rows * per_row <= 12 * 2**30
    assert jacobian_rows(24576, per_row, 2**40) == 24576  # 1 TiB: the whole batch
    assert jacobian_rows(24576, per_row, 2**20) == 0  # 1 MiB: not one row


def test_genpo_update_bench_scales_a_partial_jacobian(capsys: pytest.CaptureFixture[str]) -> None:
    argv = ["genpo-update", "--batch", "64", "--hidden", "16", "--obs", "9", "--act", "3"]
    bench.main([*argv, "--repeats", "1", "--jacobian-repeats", "1", "--jacobian-rows", "16"])
    out = capsys.readouterr().out
    result = json.loads(out.strip().splitlines()[-1])
    assert result["jacobian_rows"] == 16 and "(b) timed on 16 rows, scaled x4.0" in out

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


def test_unknown_benchmark_exits_with_usage() -> None:
    with pytest.raises(SystemExit) as info:
        bench.main(["nope"])
    assert info.value.code == 2

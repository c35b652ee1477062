"""genpo-eval without `mujoco.batch` (MuJoCo 3.x, IsaacLab's venv): forced onto the threaded
fallback it reports exactly what it reports on Batch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from training.envs.batch import FORCE_ENV
from training.evaluation.cli import main


def _report(policy: Path, out: Path) -> dict:
    argv = [str(policy), "--task", "go2_flat", "--episodes", "2", "--duration-s", "1"]
    assert main([*argv, "--seed", "5", "--json", str(out)]) == 0
    report = json.loads(out.read_text())
    report.pop("elapsed_s", None)
    return report


def test_eval_on_the_threaded_fallback_matches_batch(
    policies: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    on_batch = _report(policies["checkpoint"], tmp_path / "a.json")
    monkeypatch.setenv(FORCE_ENV, "threaded")
    on_fallback = _report(policies["checkpoint"], tmp_path / "b.json")
    assert on_fallback == on_batch

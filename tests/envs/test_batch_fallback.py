"""The MuJoCo backend without `mujoco.batch` (MuJoCo 3.x, as in IsaacLab's venv): the threaded
per-env fallback, forced here with GENPO_MUJOCO_BATCH=threaded, steps exactly like Batch."""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from training.envs.batch import FORCE_ENV, ThreadedBatch
from training.tasks import make_env

HAS_BATCH = int(mujoco.__version__.split(".")[0]) >= 4


def _rollout(task: str, steps: int, num_envs: int = 6) -> tuple[list[torch.Tensor], object]:
    # 0.3 s episodes: every env times out and resets within the run, so reset paths count too.
    env = make_env(task, num_envs, seed=4, overrides=("sim.episode_length_s=0.3",))
    g = torch.Generator().manual_seed(1)
    out = []
    for _ in range(steps):
        obs, rewards, dones, _ = env.step(torch.randn(num_envs, env.num_actions, generator=g))
        out += [obs["critic"].clone(), rewards.clone(), dones.clone()]
    return out, env


@pytest.mark.skipif(not HAS_BATCH, reason="compares with mujoco.batch (MuJoCo >= 4)")
@pytest.mark.parametrize("task", ["go2_rough", "h1_flat"])
def test_threaded_fallback_steps_exactly_like_mujoco_batch(
    task: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    reference, env = _rollout(task, 40)
    assert type(env.backend.batch).__name__ == "Batch"
    monkeypatch.setenv(FORCE_ENV, "threaded")
    fallback, env = _rollout(task, 40)
    assert isinstance(env.backend.batch, ThreadedBatch)
    assert any(bool(d.any()) for d in reference[2::3])  # some env did reset
    for a, b in zip(reference, fallback, strict=True):
        assert torch.equal(a, b)


def test_threaded_fallback_restores_state_exactly(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FORCE_ENV, "threaded")
    _, env = _rollout("go2_flat", 5)
    state = env.state_dict()
    first, _ = _continue(env, 5)
    env.load_state_dict(state)
    again, _ = _continue(env, 5)
    for a, b in zip(first, again, strict=True):
        assert torch.equal(a, b)


def _continue(env, steps: int) -> tuple[list[torch.Tensor], None]:
    g = torch.Generator().manual_seed(2)
    out = []
    for _ in range(steps):
        obs, rewards, _, _ = env.step(torch.randn(env.num_envs, env.num_actions, generator=g))
        out += [obs["critic"].clone(), rewards.clone()]
    return out, None


def test_unstable_simulation_is_flagged_and_keeps_its_state(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(FORCE_ENV, "threaded")
    env = make_env("go2_flat", 2, seed=0)
    backend = env.backend
    before = backend.qpos.copy()
    backend.qvel[1, :] = 1e12  # diverges on the first physics step
    backend.step(np.tile(env.default_q, (2, env.decimation, 1)))
    assert backend.failed.tolist() == [False, True]
    assert np.array_equal(backend.qpos[1], before[1])

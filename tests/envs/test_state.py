"""Exact resume: a restored env continues bit-identically (the runner checkpoints env state)."""

from __future__ import annotations

import io

import numpy as np
import pytest
import torch

from common.errors import UserError
from training.tasks import make_env

# Everything that draws from the env's RNG or keeps buffers across steps is switched on, and
# episodes are short so that resets (and on rough terrain the curriculum) happen after the save.
BUSY = (
    "sim.episode_length_s=0.3",
    "commands.resampling_time_s=[0.1, 0.2]",
    "domain_rand.push_interval_s=[0.05, 0.15]",
    "domain_rand.action_latency_physics_steps=[0, 6]",
    "domain_rand.obs_latency_policy_steps=[0, 2]",
    "domain_rand.reset_velocity=0.3",
    "domain_rand.reset_joint_scale=[0.8, 1.2]",
)
SMALL_ROUGH = (
    "terrain.num_rows=3",
    "terrain.num_cols=2",
    "terrain.border_width_m=2.0",
    "terrain.max_init_level=2",
)
K, M = 8, 25  # steps before the save, steps compared after it


def _actions(step: int, n: int, d: int) -> torch.Tensor:
    # Deterministic but varied actions, independent of the env (and of torch's RNG).
    phase = np.arange(n * d).reshape(n, d) * 0.37 + step * 0.21
    return torch.from_numpy(0.8 * np.sin(phase)).float()


def _run(env, start: int, steps: int) -> list[tuple]:
    out = []
    for t in range(start, start + steps):
        obs, rew, dones, extras = env.step(_actions(t, env.num_envs, env.num_actions))
        out.append((obs["policy"], obs["critic"], rew, dones, extras["time_outs"]))
    return out


def _assert_identical(a: list[tuple], b: list[tuple]) -> None:
    for step, (x, y) in enumerate(zip(a, b, strict=True)):
        for u, v in zip(x, y, strict=True):
            assert torch.equal(u, v), f"diverged at step {step}"


def _through_checkpoint(state: dict) -> dict:
    # What the runner does: torch.save, then torch.load with weights_only=True.
    buf = io.BytesIO()
    torch.save(state, buf)
    buf.seek(0)
    return torch.load(buf, weights_only=True)


@pytest.mark.parametrize(
    ("task", "extra"),
    [
        ("go2_flat", ()),
        ("go2_rough", SMALL_ROUGH),
        ("go2_flat", ("observations.history_length=4",)),
    ],
    ids=["flat", "rough", "flat_history"],
)
def test_restored_env_continues_identically(task: str, extra: tuple[str, ...]) -> None:
    overrides = BUSY + extra
    env = make_env(task, num_envs=3, seed=5, overrides=overrides)
    _run(env, 0, K)
    if env.terrain is not None:
        # Short episodes never move an env between levels: place them by hand, so that the
        # next resets spawn on levels that a fresh env of this seed does not have.
        env.resets.levels[:] = [1, 2, 0]
        env.resets.origins[:] = env.terrain.origins[env.resets.levels, env.resets.cols]
    state = _through_checkpoint(env.state_dict())
    expected = _run(env, K, M)
    assert any(bool(s[3].any()) for s in expected), "no reset happened after the save"

    fresh = make_env(task, num_envs=3, seed=5, overrides=overrides)
    _run(fresh, 0, 17)  # a different history (one reset), which the restore must overwrite
    fresh.load_state_dict(state)
    assert torch.equal(fresh.get_observations()["policy"], state["observations"]["policy"])
    _assert_identical(_run(fresh, K, M), expected)
    assert np.array_equal(fresh.backend.qpos, env.backend.qpos)


def test_without_restore_the_runs_differ() -> None:
    """Guards the test above: the same seed alone does not reproduce the continuation."""
    env = make_env("go2_flat", num_envs=3, seed=5, overrides=BUSY)
    _run(env, 0, K)
    expected = _run(env, K, 5)
    fresh = make_env("go2_flat", num_envs=3, seed=5, overrides=BUSY)
    got = _run(fresh, K, 5)
    assert not all(torch.equal(a[0], b[0]) for a, b in zip(got, expected, strict=True))


def test_state_of_another_env_is_refused() -> None:
    state = make_env("go2_flat", num_envs=2, seed=1).state_dict()
    with pytest.raises(UserError, match="another task config, num_envs or seed"):
        make_env("go2_flat", num_envs=2, seed=2).load_state_dict(state)


def test_state_from_another_version_is_refused_by_name() -> None:
    from common.errors import UserError
    from training.tasks import make_env

    env = make_env("go2_flat", num_envs=2, seed=0)
    state = env.state_dict()
    key = next(iter(state["arrays"]))
    del state["arrays"][key]
    with pytest.raises(UserError, match=f"lacks \\['{key}'\\]"):
        env.load_state_dict(state)


@pytest.mark.parametrize(("field", "value", "loads"), [
    ("min_base_height_m", None, True),  # added later, unused: an older checkpoint still resumes
    ("min_base_height_m", 0.3, False),  # added later and in use: the task is not the saved one
])  # fmt: skip
def test_a_task_option_added_after_the_checkpoint(field: str, value, loads: bool) -> None:
    import json

    overrides = () if value is None else (f"{field}={value}",)
    env = make_env("go2_flat", num_envs=2, seed=0, overrides=overrides)
    state = env.state_dict()
    config = json.loads(state["identity"]["config"])
    del config[field]  # what a version without the option wrote
    state["identity"]["config"] = json.dumps(config, sort_keys=True)
    if loads:
        env.load_state_dict(state)
    else:
        with pytest.raises(UserError, match="another task config"):
            env.load_state_dict(state)

"""Every registered task: sizes from the contract, no NaN, actor isolation, reproducibility."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from common.errors import UserError
from training.tasks import TASKS, make_env

EXPECTED_DIMS = {  # (actor, critic): contract dims, written out so a contract change shows here
    "go2_flat": (45, 48),
    "go2_rough": (45, 235),
    "h1_flat": (66, 69),
    "h1_rough": (66, 256),
}
QUIET = ("observations.noise=false",)


def random_actions(env, steps: int, seed: int = 0) -> torch.Tensor:
    gen = torch.Generator().manual_seed(seed)
    return torch.randn(steps, env.num_envs, env.num_actions, generator=gen)


def test_registry_is_the_matrix() -> None:
    assert set(TASKS) == set(EXPECTED_DIMS)


@pytest.mark.parametrize("task", sorted(TASKS))
def test_thousand_random_steps_without_nan(task: str) -> None:
    env = make_env(task, num_envs=4, seed=1)
    obs = env.get_observations()
    actor, critic = EXPECTED_DIMS[task]
    assert obs["policy"].shape == (4, actor) == (4, env.contract.obs_dim)
    assert obs["critic"].shape == (4, critic) == (4, env.contract.critic_obs_dim)
    for a in random_actions(env, 1000):
        obs, rew, dones, extras = env.step(a)
        assert torch.isfinite(obs["policy"]).all() and torch.isfinite(obs["critic"]).all()
        assert torch.isfinite(rew).all()
        assert rew.shape == (4,) and dones.dtype == torch.bool
        assert extras["time_outs"].shape == (4,)


@pytest.mark.parametrize("task", ["go2_rough", "h1_rough"])
def test_actor_blind_to_base_velocity_and_terrain(task: str) -> None:
    env = make_env(task, num_envs=3, seed=0, overrides=QUIET)
    for a in random_actions(env, 5):
        env.step(a * 0.3)
    before = env.compute_observations()
    env.backend.qvel[:, 0:3] += np.array([0.7, -0.4, 0.2])  # base linear velocity only
    after_vel = env.compute_observations()
    assert torch.equal(before["policy"], after_vel["policy"])
    lin = env.contract.obs_slices(critic=True)["base_lin_vel"]
    assert not torch.allclose(before["critic"][:, lin], after_vel["critic"][:, lin])
    ground = env.terrain.height_at
    env.terrain.height_at = lambda x, y: ground(x, y) + 0.3  # the ground under every ray rises
    after_ground = env.compute_observations()
    assert torch.equal(after_vel["policy"], after_ground["policy"])
    scan = env.contract.obs_slices(critic=True)["height_scan"]
    assert torch.allclose(after_ground["critic"][:, scan], after_vel["critic"][:, scan] - 0.3)


def test_flat_actor_blind_to_base_velocity() -> None:
    env = make_env("go2_flat", num_envs=2, seed=0, overrides=QUIET)
    env.step(torch.zeros(2, env.num_actions))
    before = env.compute_observations()
    env.backend.qvel[:, 0:3] += 0.5
    after = env.compute_observations()
    assert torch.equal(before["policy"], after["policy"])
    assert not torch.equal(before["critic"], after["critic"])


@pytest.mark.parametrize("task", ["go2_flat", "h1_rough"])
def test_same_seed_same_rollout(task: str) -> None:
    runs = []
    for seed in (3, 3, 4):
        env = make_env(task, num_envs=3, seed=seed)
        obs, rews = [env.get_observations()["policy"]], []
        for a in random_actions(env, 30):
            o, r, _, _ = env.step(a)
            obs.append(o["critic"])
            rews.append(r)
        runs.append((torch.cat(obs, 1), torch.stack(rews)))
    assert torch.equal(runs[0][0], runs[1][0]) and torch.equal(runs[0][1], runs[1][1])
    assert not torch.equal(runs[0][0], runs[2][0])


def test_unknown_task_lists_tasks() -> None:
    with pytest.raises(UserError, match="go2_flat.*h1_rough"):
        make_env("go2_mars", num_envs=1, seed=0)


def test_actor_history_is_the_last_noisy_frames_and_restarts_with_the_episode() -> None:
    """history_length 3: the newest frame is exactly the one-frame env's observation (noise and
    latency on, same seed), the others are its previous ones, and a reset env starts over
    with its first frame in every slot (IsaacLab's history buffer after a reset)."""
    short = ("sim.episode_length_s=0.2",)  # time-outs every 10 steps: resets inside the run
    one = make_env("go2_flat", num_envs=3, seed=5, overrides=short)
    history = (*short, "observations.history_length=3")
    three = make_env("go2_flat", num_envs=3, seed=5, overrides=history)
    d = one.contract.obs_dim
    assert three.contract.obs_dim == 3 * d and three.contract.frame_dim == d
    past = [one.get_observations()["policy"]] * 3  # an episode start fills every frame
    restarted = 0
    for a in random_actions(one, 25):
        o1, _, done, _ = one.step(a)
        o3, _, _, _ = three.step(a)
        frame = o1["policy"]
        past = [torch.where(done[:, None], frame, p) for p in past[1:]] + [frame]
        assert torch.equal(o3["policy"], torch.cat(past, dim=1))
        restarted += int(done.sum())
    assert restarted >= 3  # the resets really happened
    assert one.contract.critic_obs_dim == three.contract.critic_obs_dim


def test_history_outside_the_contracts_range_is_one_sentence() -> None:
    with pytest.raises(UserError, match="'history_length' must be 0 to 50 frames, got 51"):
        make_env("go2_flat", num_envs=1, seed=0, overrides=("observations.history_length=51",))

"""Terminated envs reset alone, mid-batch; time_outs mark only the episode-length limit."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from training.tasks import make_env


def test_terminated_env_resets_while_others_continue() -> None:
    env = make_env("go2_flat", num_envs=3, seed=0, overrides=("observations.noise=false",))
    zeros = torch.zeros(3, env.num_actions)
    for _ in range(10):
        env.step(zeros)
    kept_pos = env.backend.qpos[1:, :3].copy()
    # Lay env 0 on its back: lasting base contact ends its episode.
    env.backend.qpos[0, 2:7] = [0.05, 0.0, 1.0, 0.0, 0.0]
    _, _, dones, extras = env.step(zeros)
    assert dones.tolist() == [True, False, False]
    assert extras["time_outs"].tolist() == [False, False, False]
    assert extras["episode"]["termination_base_contact"] == 1.0
    assert env.episode_length_buf.tolist() == [0, 11, 11]
    # Env 0 was re-spawned at the init height; the others kept walking from where they were.
    assert env.backend.qpos[0, 2] == env.robot.init_base_height_m
    assert np.allclose(env.backend.qpos[1:, :3], kept_pos, atol=0.02)


def test_time_out_flags_only_the_time_limit() -> None:
    overrides = ("sim.episode_length_s=0.1", "observations.noise=false")
    env = make_env("go2_flat", num_envs=2, seed=0, overrides=overrides)
    assert env.max_episode_length == 5
    zeros = torch.zeros(2, env.num_actions)
    flags = [env.step(zeros) for _ in range(5)]
    for _, _, dones, extras in flags[:4]:
        assert not dones.any() and not extras["time_outs"].any()
    _, _, dones, extras = flags[4]
    assert dones.all() and extras["time_outs"].all()
    assert "rew_track_lin_vel_xy_exp" in extras["episode"]
    assert extras["episode"]["termination_base_contact"] == 0.0
    assert env.episode_length_buf.tolist() == [0, 0]


def test_time_out_is_not_set_for_a_termination_on_the_last_step() -> None:
    overrides = ("sim.episode_length_s=0.04", "observations.noise=false")
    env = make_env("go2_flat", num_envs=2, seed=0, overrides=overrides)
    zeros = torch.zeros(2, env.num_actions)
    env.step(zeros)
    env.backend.qpos[1, 2:7] = [0.05, 0.0, 1.0, 0.0, 0.0]
    _, _, dones, extras = env.step(zeros)
    assert dones.all()
    assert extras["time_outs"].tolist() == [True, False]


def test_a_sitting_h1_ends_its_episode_by_base_height() -> None:
    # Menagerie's H1 sits on its thighs without a torso contact: only the height term ends it.
    env = make_env("h1_flat", num_envs=2, seed=0, overrides=("observations.noise=false",))
    assert env.cfg.min_base_height_m == 0.7
    zeros = torch.zeros(2, env.num_actions)
    env.step(zeros)
    env.backend.qpos[0, 2] = 0.3  # upright, pelvis 0.3 m above the floor
    _, _, dones, extras = env.step(zeros)
    assert dones.tolist() == [True, False]
    assert extras["episode"]["termination_base_height"] == 1.0
    assert extras["episode"]["termination_base_contact"] == 1.0  # every termination counts there
    assert env.episode_length_buf.tolist() == [0, 2]


def test_base_height_is_measured_from_the_ground_under_the_base() -> None:
    env = make_env("go2_rough", num_envs=2, seed=0, overrides=("min_base_height_m=0.2",))
    zeros = torch.zeros(2, env.num_actions)
    env.step(zeros)
    # Env 0 low over the highest stair platform's centre, env 1 high over the deepest pit's:
    # an absolute height would get both wrong.
    origins = env.terrain.origins.reshape(-1, 3)
    tiles = [origins[np.argmax(origins[:, 2])], origins[np.argmin(origins[:, 2])]]
    for i, (origin, above) in enumerate(zip(tiles, (0.15, 0.35), strict=True)):
        env.backend.qpos[i, 0:3] = origin + [0.0, 0.0, above]
    assert tiles[0][2] > 0.5 and tiles[1][2] < -0.5
    env.backend.qvel[:] = 0.0
    _, _, dones, _ = env.step(zeros)
    assert dones.tolist() == [True, False]


def test_a_go2_resting_on_its_chin_falls_only_under_the_link_rest_rule() -> None:
    """Folded up (every joint driven 3 rad past default) the Go2 comes to rest on its chin and
    rear thighs with the trunk clear of the ground: not base contact (IsaacLab's termination,
    the training default), but a fall once the head has touched for link_rest_fall_s."""
    fold = torch.full((1, 12), -12.0)

    def steps_to_done(*overrides: str) -> tuple[int, dict]:
        env = make_env("go2_flat", 1, seed=0, overrides=("observations.noise=false", *overrides))
        for t in range(1, 151):
            _, _, dones, extras = env.step(fold)
            if dones[0]:
                return t, extras["episode"]
        return 0, {}

    assert steps_to_done() == (0, {})  # 3 s, never ended
    steps, episode = steps_to_done("link_rest_fall_s=1.0")
    assert episode["termination_link_rest"] == 1.0
    assert 50 < steps < 100  # 1 s of resting after the fold


def test_episode_log_gives_the_mean_terrain_level_of_each_type() -> None:
    """One env per column of go2_rough (types 4 / 4 / 4 / 4 / 2 / 2 columns), levels set by hand:
    each type's logged level is the mean over its columns."""
    overrides = ("sim.episode_length_s=0.1", "terrain.curriculum=false")
    env = make_env("go2_rough", num_envs=20, seed=0, overrides=overrides)
    env.resets.levels[:] = [0, 1, 2, 3, 9, 9, 9, 9, 4, 4, 6, 6, 0, 0, 0, 1, 7, 8, 2, 3]
    zeros = torch.zeros(20, env.num_actions)
    for _ in range(5):
        _, _, dones, extras = env.step(zeros)
    assert dones.all()
    log = {k: v for k, v in extras["episode"].items() if k.startswith("terrain_level")}
    assert log == {
        "terrain_level": pytest.approx(4.15),
        "terrain_level_pyramid_stairs": 1.5,
        "terrain_level_pyramid_stairs_inv": 9.0,
        "terrain_level_boxes": 5.0,
        "terrain_level_random_rough": 0.25,
        "terrain_level_pyramid_slope": 7.5,
        "terrain_level_pyramid_slope_inv": 2.5,
    }

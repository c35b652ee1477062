"""Model building, name-based maps, PD actuators, terrain, curriculum, latency, commands, bench."""

from __future__ import annotations

import argparse
import math

import mujoco
import numpy as np
import pytest

from common.config import from_dict, to_dict
from common.errors import UserError
from robots import get_robot
from training.envs.model import ModelCfg, compile_model
from training.envs.terrain import Terrain, TerrainCfg, column_types, tile_heights
from training.tasks import TASKS, make_env, task_config
from training.tasks.commands import VelocityCommand
from training.tasks.config import CommandCfg, TaskCfg
from training.tasks.velocity_env import physics_step_lags


@pytest.mark.parametrize("robot", ["go2", "h1"])
def test_pd_actuator_law_and_name_maps(robot: str) -> None:
    spec = get_robot(robot)
    cm = compile_model(spec, ModelCfg(torque_limit_nm=0.0), 0.005)
    m, d = cm.model, mujoco.MjData(cm.model)
    names = spec.policy_joint_names
    for i, name in enumerate(names):  # maps agree with MuJoCo's own name lookup
        assert cm.qpos_adr[i] == m.jnt_qposadr[m.joint(name).id]
        assert m.actuator_trnid[cm.actuator_ids[i], 0] == m.joint(name).id
    q = np.linspace(-0.1, 0.1, len(names))
    qd = np.linspace(1.0, -1.0, len(names))
    target = spec.values("default_q_rad")
    d.qpos[cm.qpos_adr], d.qvel[cm.dof_adr] = q, qd
    d.ctrl[cm.actuator_ids] = target
    mujoco.mj_forward(m, d)
    kp, kd, limit = spec.values("kp"), spec.values("kd"), spec.values("torque_limit_nm")
    expected = np.clip(kp * (target - q) - kd * qd, -limit, limit)
    assert np.allclose(d.actuator_force[cm.actuator_ids], expected)


def test_torque_cap_overrides_spec_limits() -> None:
    cm = compile_model(get_robot("go2"), ModelCfg(torque_limit_nm=23.5), 0.005)
    assert np.allclose(cm.model.actuator_forcerange, [[-23.5, 23.5]] * 12)


def test_go2_tasks_mirror_isaaclab_motor_cap() -> None:
    assert task_config("go2_flat").sim.model.torque_limit_nm == 23.5


@pytest.mark.parametrize("task", sorted(TASKS))
def test_task_config_round_trips(task: str) -> None:
    cfg = task_config(task)
    assert from_dict(TaskCfg, to_dict(cfg)) == cfg
    assert cfg.max_episode_length == 1000 and math.isclose(cfg.control_dt, 0.02)


def test_flat_tasks_keep_their_rough_robot_settings() -> None:
    flat, rough = task_config("go2_flat"), task_config("go2_rough")
    assert flat.terrain.kind == "flat" and rough.terrain.kind == "rough"
    assert flat.domain_rand == rough.domain_rand
    weights = {t.term: t.weight for t in flat.rewards}
    assert weights["feet_air_time"] == 0.25 and weights["flat_orientation_l2"] == -2.5


def test_terrain_layout_and_heights() -> None:
    assert column_types((0.2, 0.2, 0.2, 0.2, 0.1, 0.1), 20) == (
        ("pyramid_stairs",) * 4
        + ("pyramid_stairs_inv",) * 4
        + ("boxes",) * 4
        + ("random_rough",) * 4
        + ("pyramid_slope",) * 2
        + ("pyramid_slope_inv",) * 2
    )
    cfg = TerrainCfg(num_rows=2, num_cols=6, border_width_m=2.0)
    rng = np.random.default_rng(0)
    stairs = tile_heights(cfg, "pyramid_stairs", 1.0, 81, rng)
    # Hardest stairs: 0.23 m rise, 5 steps of 0.3 m between a 1 m border and a 3 m platform.
    assert stairs[0, 0] == 0.0 and stairs[40, 40] == pytest.approx(6 * 0.23)
    slope = tile_heights(cfg, "pyramid_slope", 0.5, 81, rng)
    assert slope[40, 40] == pytest.approx(0.2 * 3.0)  # slope 0.2 up to the 2 m platform edge
    terrain = Terrain(cfg, rng)
    assert terrain.height_at(np.array([0.5]), np.array([0.5]))[0] == 0.0  # border is flat
    x, y, z = terrain.origins[1, 0]  # pyramid stairs: origin on the top platform
    assert terrain.height_at(np.array([x]), np.array([y]))[0] == pytest.approx(z)
    assert z > 0.2


def test_curriculum_moves_levels() -> None:
    env = make_env("go2_rough", num_envs=3, seed=0, overrides=("terrain.num_cols=3",))
    r = env.resets
    r.levels[:] = [2, 2, 9]
    origin = r.origins.copy()
    pos = origin + np.array([[5.0, 0, 0], [0.1, 0, 0], [5.0, 0, 0]])  # walked 5, 0.1, 5 m
    cmd = np.array([[1.0, 0, 0], [1.0, 0, 0], [0.0, 0, 0]])
    r.update_levels(np.arange(3), pos, cmd)
    # env 0 walked > 4 m: up; env 1 walked < 1 m/s * 20 s * 0.5: down; env 2 past row 9: random
    assert r.levels[0] == 3 and r.levels[1] == 1 and 0 <= r.levels[2] <= 9
    assert np.allclose(r.origins[0], env.terrain.origins[3, r.cols[0]])


def test_action_latency_lags() -> None:
    lags = physics_step_lags(np.array([0, 2, 4, 5]), 4)
    assert lags.tolist() == [[0, 0, 0, 0], [1, 1, 0, 0], [1, 1, 1, 1], [2, 1, 1, 1]]


def test_action_latency_delays_targets() -> None:
    overrides = ("domain_rand.action_latency_physics_steps=[2, 2]",)
    env = make_env("go2_flat", num_envs=2, seed=0, overrides=overrides)
    env.actions = np.ones((2, 12))
    targets = env._substep_targets()
    new = env.default_q + env.contract.action.scale
    assert np.allclose(targets[:, :2], env.default_q) and np.allclose(targets[:, 2:], new)


@pytest.mark.parametrize("factor", [0.0, 1.0, 0.9])
def test_target_range_clamps_targets_as_the_daemon_does(factor: float) -> None:
    env = make_env("go2_flat", 2, 0, overrides=(f"sim.target_range_factor={factor}",))
    env.actions = np.full((2, 12), 40.0)  # scale 0.25: 10 rad past the default pose
    targets = env._substep_targets()
    wanted = env.default_q + 40.0 * env.contract.action.scale
    if factor == 0.0:  # IsaacLab: no clamp
        assert np.allclose(targets, wanted)
    else:  # the ranges genpo-deploy's safety.target_range_factor gives
        lo, hi = env.robot.scaled_limits(factor, env.robot.policy_joint_names)
        assert np.allclose(targets, np.minimum(wanted, hi)) and np.all(targets >= lo)
        assert np.all(targets < wanted)


def test_target_range_outside_0_1_is_refused() -> None:
    with pytest.raises(UserError, match="sim.target_range_factor must be in"):
        make_env("go2_flat", 1, 0, overrides=("sim.target_range_factor=1.5",))


def test_heading_control_and_standing() -> None:
    cfg = CommandCfg(rel_standing_envs=0.0)
    cmd = VelocityCommand(cfg, ((-1, 1), (-1, 1), (-1, 1)), 3, np.random.default_rng(0))
    cmd.resample(np.arange(3))
    cmd.heading_target[:] = [0.4, 3.0, -3.0]
    cmd.update(np.array([0.0, -3.0, 0.0]))
    # wz = clip(0.5 * wrap(h - yaw)): 0.2; wrap(6.0) = 6 - 2 pi = -0.283 -> -0.142; -1.5 -> -1
    assert cmd.command[:, 2] == pytest.approx([0.2, 0.5 * (6.0 - 2 * math.pi), -1.0])
    cmd.is_standing_env[1] = True
    cmd.update(np.zeros(3))
    assert cmd.command[1].tolist() == [0.0, 0.0, 0.0]


def test_bench_runs() -> None:
    from training.benchmarks import env as env_bench

    args = argparse.Namespace(task="go2_flat", num_envs=4, threads=1, steps=3, repeats=1, seed=0)
    result = env_bench.run(args)
    assert result["env_steps_per_s"] > 0 and result["raw_env_steps_per_s"] > 0
    assert result["ratio"] == pytest.approx(
        result["env_steps_per_s"] / result["raw_env_steps_per_s"], rel=1e-2
    )

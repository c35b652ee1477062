"""The deploy daemon's observation of a MuJoCo state equals the training env's actor observation.

The state is the training env's own (after random steps, so nothing sits at its default). Deploy
reads it the way it reads the robot: the genpo-sim model's IMU sensors (for H1 on the torso,
turned back to the pelvis by deploy's own correction) and joints in SDK motor order, reordered to
policy order by name, then deploy's ObservationBuilder. Noise and latency off.
"""

from __future__ import annotations

import mujoco
import numpy as np
import pytest
import torch

from deploy.io.lowstate import imu_to_root_gyro, imu_to_root_quat
from deploy.observation import ObservationBuilder
from deploy.sim.model import SimModel
from robots import get_robot, indices_of
from training.tasks import make_env

QUIET = ("observations.noise=false", "domain_rand.obs_latency_policy_steps=[0, 0]")


def _sim_state(env, sim: SimModel, row: int) -> None:
    """Copy env `row`'s root and joint state into the deploy sim model, joints by name."""
    m, d, src = sim.model, sim.data, env.backend
    root_q = m.jnt_qposadr[m.body_jntadr[sim.root_id]]
    root_v = m.jnt_dofadr[m.body_jntadr[sim.root_id]]
    d.qpos[root_q : root_q + 7] = src.qpos[row, 0:7]
    d.qvel[root_v : root_v + 6] = src.qvel[row, 0:6]
    order = indices_of(sim.robot.joint_names, sim.robot.policy_joint_names)  # SDK <- policy
    d.qpos[sim.qpos_adr] = src.joint_pos[row][order]
    d.qvel[sim.dof_adr] = src.joint_vel[row][order]
    mujoco.mj_forward(m, d)


def _deploy_obs(env, sim: SimModel, builder: ObservationBuilder, row: int) -> np.ndarray:
    """What the daemon's builder makes of env `row`'s state, read as from the robot."""
    robot = sim.robot
    _sim_state(env, sim, row)
    quat, gyro, _ = sim.imu()
    q_sdk, dq_sdk = sim.q_rad.copy(), sim.dq_rad_s.copy()
    if robot.imu_joint is not None:  # H1: the IMU rides the torso joint
        j = robot.joint_names.index(robot.imu_joint)
        quat = imu_to_root_quat(quat, robot.imu_joint_axis, q_sdk[j])
        gyro = np.array(imu_to_root_gyro(gyro, robot.imu_joint_axis, q_sdk[j], dq_sdk[j]))
    to_policy = indices_of(robot.policy_joint_names, robot.joint_names)
    out = np.zeros(env.contract.obs_dim, dtype=np.float32)
    return builder.build(
        np.array(quat),
        gyro,
        env.commands.command[row].copy(),
        q_sdk[to_policy],
        dq_sdk[to_policy],
        env.actions[row].astype(np.float32),
        out,
    )


@pytest.mark.parametrize("task", ["go2_flat", "h1_flat"])
def test_deploy_observation_of_a_mujoco_state_matches_training(task: str) -> None:
    env = make_env(task, num_envs=2, seed=3, overrides=QUIET)
    gen = torch.Generator().manual_seed(0)
    for _ in range(5):
        env.step(0.5 * torch.randn(2, env.num_actions, generator=gen))
    sim = SimModel(get_robot(env.cfg.robot))
    builder = ObservationBuilder(env.contract)
    for row in range(env.num_envs):
        trained = env.get_observations()["policy"][row].numpy()
        np.testing.assert_allclose(_deploy_obs(env, sim, builder, row), trained, rtol=0, atol=1e-6)


@pytest.mark.parametrize("task", ["go2_rough", "h1_flat"])
def test_deploy_history_of_mujoco_states_matches_training(task: str) -> None:
    """With a 4-frame actor history the daemon, fed the same states tick by tick from the
    episode's start, holds the same stacked input as the training env."""
    history = ("observations.history_length=4",)
    env = make_env(task, num_envs=2, seed=3, overrides=QUIET + history)
    assert env.contract.obs_dim == 4 * env.contract.frame_dim
    sim = SimModel(get_robot(env.cfg.robot))
    builders = [ObservationBuilder(env.contract) for _ in range(env.num_envs)]
    gen = torch.Generator().manual_seed(0)
    for step in range(7):
        if step:
            _, _, dones, _ = env.step(0.5 * torch.randn(2, env.num_actions, generator=gen))
            assert not dones.any()  # one episode throughout: no restart to line up
        for row, builder in enumerate(builders):
            trained = env.get_observations()["policy"][row].numpy()
            out = _deploy_obs(env, sim, builder, row)
            np.testing.assert_allclose(out, trained, rtol=0, atol=1e-6)

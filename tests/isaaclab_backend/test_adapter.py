"""IsaacLab adapter: the one-sentence failure everywhere, the real thing where IsaacLab exists."""

from __future__ import annotations

import importlib.util

import pytest

from robots import GO2, H1, get_robot
from robots.contract import make_contract
from robots.errors import UserError
from training.envs.isaaclab import ISAACLAB_TASK_IDS, isaaclab_available, make_isaaclab_env

HAS_ISAACLAB = importlib.util.find_spec("isaaclab") is not None


@pytest.mark.skipif(HAS_ISAACLAB, reason="IsaacLab is installed here")
def test_missing_isaaclab_is_one_sentence_naming_how_to_install() -> None:
    with pytest.raises(UserError, match="needs IsaacLab 3.0") as info:
        make_isaaclab_env("go2_flat", make_contract(GO2, "flat"), num_envs=4, seed=0)
    assert "\n" not in str(info.value)
    assert not isaaclab_available()


def test_unknown_task_lists_the_isaaclab_tasks() -> None:
    with pytest.raises(UserError, match="IsaacLab has no task for 'go2_stairs'"):
        make_isaaclab_env("go2_stairs", make_contract(GO2, "flat"), num_envs=4, seed=0)


def test_every_task_maps_to_a_documented_isaaclab_id() -> None:
    assert ISAACLAB_TASK_IDS == {
        "go2_flat": "Isaac-Velocity-Flat-Unitree-Go2-v0",
        "go2_rough": "Isaac-Velocity-Rough-Unitree-Go2-v0",
        "h1_flat": "Isaac-Velocity-Flat-H1-v0",
        "h1_rough": "Isaac-Velocity-Rough-H1-v0",
    }


@pytest.mark.isaaclab
@pytest.mark.parametrize("task", sorted(ISAACLAB_TASK_IDS))
def test_isaaclab_env_follows_the_contract(task: str) -> None:
    import torch

    robot_name, terrain = task.split("_")
    contract = make_contract(get_robot(robot_name), terrain)
    env = make_isaaclab_env(task, contract, num_envs=8, seed=0)
    obs = env.get_observations()
    assert obs["policy"].shape == (8, contract.obs_dim)
    assert obs["critic"].shape == (8, contract.critic_obs_dim)
    for _ in range(10):
        obs, rewards, dones, extras = env.step(
            torch.zeros(8, contract.num_actions, device=env.device)
        )
        assert torch.isfinite(obs["policy"]).all() and "time_outs" in extras
    # Zero action holds the default pose: joint_pos relative to default is ~0 in contract order.
    joint_pos = obs["policy"][:, contract.obs_slices()["joint_pos"]]
    assert joint_pos.abs().max() < 0.3
    env.close()
    assert robot_name in (GO2.name, H1.name)

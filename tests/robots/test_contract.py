"""Policy contract: layout, JSON round trip, and validation that names the offending field."""

from __future__ import annotations

import json

import pytest

from robots import GO2, H1
from robots.contract import ContractError, PolicyContract, make_contract


@pytest.mark.parametrize(
    ("robot", "terrain", "actor", "critic"),
    [(GO2, "flat", 45, 48), (GO2, "rough", 45, 235), (H1, "flat", 66, 69), (H1, "rough", 66, 256)],
)
def test_dims_mirror_isaaclab_minus_unmeasurable_terms(robot, terrain, actor, critic) -> None:
    c = make_contract(robot, terrain)
    assert (c.obs_dim, c.critic_obs_dim) == (actor, critic)
    names = [t.name for t in c.obs_terms]
    assert names == [
        "base_ang_vel",
        "projected_gravity",
        "velocity_commands",
        "joint_pos",
        "joint_vel",
        "actions",
    ]
    assert "base_lin_vel" not in names and "height_scan" not in names
    assert [t.name for t in c.critic_terms][0] == "base_lin_vel"  # IsaacLab order
    assert c.action.joint_names == robot.policy_joint_names
    assert c.action.offset == tuple(robot.values("default_q_rad"))


def test_obs_slices_tile_the_vector() -> None:
    c = make_contract(GO2, "flat")
    slices = c.obs_slices()
    assert slices["joint_pos"] == slice(9, 21) and slices["actions"] == slice(33, 45)
    assert c.obs_slices(critic=True)["base_ang_vel"] == slice(3, 6)


def test_history_stacks_whole_frames_with_the_newest_last() -> None:
    one, three = make_contract(GO2, "rough"), make_contract(GO2, "rough", history_length=3)
    assert (three.frame_dim, three.obs_dim, three.history_frames) == (45, 135, 3)
    assert three.critic_obs_dim == one.critic_obs_dim  # the critic reads one frame
    assert three.obs_slices()["joint_pos"] == slice(90 + 9, 90 + 21)
    assert make_contract(GO2, "flat", history_length=1).obs_dim == one.obs_dim
    with pytest.raises(ContractError, match="'history_length' must be 0 to 50 frames, got 51"):
        make_contract(GO2, "flat", history_length=51).validate()


@pytest.mark.parametrize("terrain", ["flat", "rough"])
@pytest.mark.parametrize("history", [0, 5])
def test_json_round_trip(terrain: str, history: int) -> None:
    c = make_contract(H1, terrain, history_length=history)
    assert PolicyContract.from_json(c.to_json()) == c


def _broken(**change) -> str:
    data = make_contract(GO2, "flat").to_dict()
    for key, value in change.items():
        node, *path = key.split("__")
        target = data
        for p in [node, *path][:-1]:
            target = target[int(p)] if isinstance(target, list) else target[p]
        last = [node, *path][-1]
        target[int(last) if isinstance(target, list) else last] = value
    return json.dumps(data)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"schema_version": 99}, "schema_version 99 is not supported"),
        ({"control_dt_s": -0.02}, "'control_dt_s' must be positive"),
        ({"obs_terms__0__dim": 0}, "'obs_terms[0].dim' must be positive"),
        ({"obs_terms__1__scale": 0.0}, "'obs_terms[1].scale' must be finite"),
        ({"robot": 7}, "field 'robot' has the wrong type"),
        ({"action__offset": [0.0]}, "'action.offset' has 1 values for 12 joints"),
        ({"command_ranges": [[1.0, -1.0], [0, 0], [0, 0]]}, "'command_ranges[0]' lo 1.0 > hi"),
        ({"history_length": 51}, "'history_length' must be 0 to 50 frames, got 51"),
        ({"history_length": -1}, "'history_length' must be 0 to 50 frames, got -1"),
    ],
)
def test_validation_names_the_offending_field(change: dict, message: str) -> None:
    with pytest.raises(ContractError, match=message.replace("[", r"\[").replace("]", r"\]")):
        PolicyContract.from_json(_broken(**change))


def test_actor_term_the_robot_cannot_measure_is_rejected() -> None:
    data = make_contract(GO2, "flat").to_dict()
    data["obs_terms"].insert(0, {"name": "base_lin_vel", "dim": 3, "deployable": False})
    with pytest.raises(ContractError, match="'base_lin_vel' is not measurable on the robot"):
        PolicyContract.from_dict(data)


def test_missing_field_and_bad_json_are_one_sentence_errors() -> None:
    data = make_contract(GO2, "flat").to_dict()
    del data["action"]
    with pytest.raises(ContractError, match="missing field 'action'"):
        PolicyContract.from_dict(data)
    with pytest.raises(ContractError, match="not valid JSON"):
        PolicyContract.from_json("{not json")


def test_validate_against_another_robot_fails() -> None:
    with pytest.raises(ContractError, match="is 'h1' but the robot is 'go2'"):
        make_contract(H1, "flat").validate(GO2)

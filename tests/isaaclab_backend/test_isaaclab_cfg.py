"""Against the real `isaaclab==3.0.0` wheel on this CPU (marker isaaclab_cfg; venv of
`bash scripts/setup.sh isaaclab-cfg`): task IDs, parse_env_cfg with the physics preset, our
reshaping and drift check, the one-sentence failures, and MuJoCo 3.12 (no mujoco.batch).

No Isaac Sim, no Newton and no robot assets exist here: the env itself is never built
(the GPU tier, marker isaaclab, builds it).
"""

from __future__ import annotations

import math
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from common.errors import UserError
from robots import get_robot
from robots.contract import make_contract
from tests.conftest import REPO
from training.envs import isaaclab as il

pytestmark = pytest.mark.isaaclab_cfg
TASKS = sorted(il.TASK_IDS)


def _contract(task: str):
    robot, terrain = task.split("_")
    return make_contract(get_robot(robot), terrain)


def _cfg(task: str, physics: str = "newton_mjwarp"):
    cfg, task_id, note = il.load_env_cfg(task, _contract(task), 16, "cpu", physics)
    return cfg, task_id, note


def test_the_3_0_ids_resolve_and_the_2x_ids_are_gone() -> None:
    import gymnasium as gym
    import isaaclab_tasks  # noqa: F401

    for task in TASKS:
        new, old = il.TASK_IDS[task]
        assert gym.spec(new).id == new
        assert il.resolve_task_id(task, gym.registry) == (new, "IsaacLab 3.0 ID")
        with pytest.raises(gym.error.Error):  # NameNotFound / DeprecatedEnv
            gym.spec(old)


@pytest.mark.parametrize("task", TASKS)
def test_reshaped_cfg_equals_the_contract(task: str) -> None:
    from isaaclab_newton.physics import NewtonCfg

    contract = _contract(task)
    cfg, _, _ = _cfg(task)
    assert isinstance(cfg.sim.physics, NewtonCfg)
    joints = list(contract.action.joint_names)
    assert list(cfg.scene.robot.joint_ordering) == joints
    for group, terms, noisy in (
        (cfg.observations.policy, contract.obs_terms, True),
        (cfg.observations.critic, contract.critic_terms, False),
    ):
        names = [k for k, v in vars(group).items() if hasattr(v, "func")]
        assert names == [t.name for t in terms]
        assert group.enable_corruption is noisy and group.concatenate_terms
        for t in terms:
            term = getattr(group, t.name)
            assert term.scale == t.scale
            assert term.clip == (None if t.clip is None else (-t.clip, t.clip))
    action = cfg.actions.joint_pos
    assert list(action.joint_names) == joints and action.preserve_order
    assert action.scale == contract.action.scale and action.use_default_offset
    assert il._default_pose(cfg, contract) == pytest.approx(contract.action.offset)
    assert math.isclose(cfg.decimation * cfg.sim.dt, contract.control_dt_s)
    ranges = cfg.commands.base_velocity.ranges
    assert [tuple(getattr(ranges, n)) for n in contract.command_names] == list(
        contract.command_ranges
    )
    scan = {t.name: t.dim for t in contract.critic_terms}.get("height_scan", 0)
    assert il._scan_rays(cfg.scene) == scan == (187 if task.endswith("rough") else 0)
    il.check_drift(cfg, contract)  # nothing to refuse


def test_physx_preset_resolves_to_isaac_sims_physx() -> None:
    from isaaclab_physx.physics import PhysxCfg

    cfg, _, _ = _cfg("go2_rough", "isaacsim_physx")
    assert isinstance(cfg.sim.physics, PhysxCfg)


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (lambda c: setattr(c.actions.joint_pos, "scale", 0.5), "actions.joint_pos.scale"),
        (lambda c: setattr(c, "decimation", 2), "decimation x sim.dt"),
        (
            lambda c: setattr(c.commands.base_velocity.ranges, "lin_vel_y", (0.0, 0.0)),
            "commands.base_velocity.ranges.lin_vel_y",
        ),
        (
            lambda c: setattr(c.scene.height_scanner.pattern_cfg, "resolution", 0.2),
            "scene.height_scanner rays",
        ),
        (
            lambda c: c.scene.robot.init_state.joint_pos.update({".*_calf_joint": -1.4}),
            "scene.robot.init_state.joint_pos",
        ),
    ],
)
def test_drift_is_refused_naming_the_field(mutate, field: str) -> None:
    contract = _contract("go2_rough")
    cfg, _, _ = _cfg("go2_rough")
    mutate(cfg)
    with pytest.raises(UserError, match=f"drift: IsaacLab's {field.replace('.', '[.]')} is"):
        il.check_drift(cfg, contract)


def test_env_overrides_reach_isaaclab_fields_or_refuse() -> None:
    cfg, _, _ = _cfg("go2_rough")
    il.apply_overrides(
        cfg,
        robot=get_robot("go2"),
        overrides=[
            "observations.noise=false",
            "domain_rand.push_interval_s=null",
            "domain_rand.reset_joint_scale=[1.0, 1.0]",
            "sim.episode_length_s=10",
        ],
    )
    assert cfg.observations.policy.enable_corruption is False
    assert cfg.events.push_robot is None
    assert cfg.events.reset_robot_joints.params["position_range"] == (1.0, 1.0)
    assert cfg.episode_length_s == 10
    il.apply_overrides(cfg, ["commands.lin_vel_x=[-2.0, 2.0]"], get_robot("go2"))
    with pytest.raises(UserError, match="ranges.lin_vel_x"):
        il.check_drift(cfg, _contract("go2_rough"))
    with pytest.raises(UserError, match=r"env\.terrain\.curriculum has no IsaacLab counterpart"):
        il.apply_overrides(cfg, ["terrain.curriculum=false"], get_robot("go2"))


@pytest.mark.parametrize("task", TASKS)
@pytest.mark.parametrize("factor", [1.0, 0.9])
def test_target_clamp_becomes_the_joint_actions_clip(task: str, factor: float) -> None:
    """IsaacLab resolves `clip` by joint name as JointAction.__init__ does, and clamps the
    processed action (the target in rad) to it: the bounds must be the MuJoCo backend's."""
    import isaaclab.utils.string as string_utils

    contract = _contract(task)
    robot = get_robot(contract.robot)
    cfg, _, _ = _cfg(task)
    assert cfg.actions.joint_pos.clip is None  # IsaacLab's default: no clamp
    il.apply_overrides(cfg, [f"sim.target_range_factor={factor}"], robot)
    names = list(contract.action.joint_names)
    index, _, values = string_utils.resolve_matching_names_values(cfg.actions.joint_pos.clip, names)
    lo, hi = robot.scaled_limits(factor, names)
    assert index == list(range(len(names)))
    np.testing.assert_allclose(np.array(values), np.stack([lo, hi], axis=1))
    il.apply_overrides(cfg, ["sim.target_range_factor=0"], robot)
    assert cfg.actions.joint_pos.clip is None
    for bad in ("1.5", "-0.1", "true", "soft"):
        with pytest.raises(UserError, match="target_range_factor must be"):
            il.apply_overrides(cfg, [f"sim.target_range_factor={bad}"], robot)


def test_episode_statistics_use_the_mujoco_names_only_on_reset_steps() -> None:
    cfg, _, _ = _cfg("go2_rough")
    env = object.__new__(il.IsaacLabVecEnv)  # only its log bookkeeping, no simulation
    env._log_names = il._log_names(cfg)
    env._last_log = None
    log = {
        "Episode_Reward/dof_torques_l2": torch.tensor(-0.25),
        "Episode_Reward/track_lin_vel_xy_exp": torch.tensor(0.5),
        "Episode_Termination/base_contact": 3,
        "Curriculum/terrain_levels": torch.tensor(2.5),
        "Metrics/base_velocity/error_vel_xy": torch.tensor(0.125),
    }
    assert env._episode(log) == {
        "rew_joint_torques_l2": -0.25,
        "rew_track_lin_vel_xy_exp": 0.5,
        "termination_base_contact": 3.0,
        "terrain_level": 2.5,
        "metric_error_vel_xy": 0.125,
    }
    assert env._episode(log) == {}  # the same dict again: no env reset on this step


def _train(*args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "training.cli", "go2_rough", *args, "--no-progress"]
    return subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=300)


def test_physx_without_isaac_sim_is_one_sentence(tmp_path: Path) -> None:
    done = _train(
        "--backend", "isaaclab", "--physics", "isaacsim_physx", "--run-dir", str(tmp_path)
    )
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and "needs Isaac Sim, which is not installed" in lines[0], done.stderr
    assert "Traceback" not in done.stderr


def test_kit_launchers_system_exit_becomes_one_sentence(monkeypatch: pytest.MonkeyPatch) -> None:
    # Skip our pre-check so that IsaacLab's own KitLauncher runs and raises SystemExit(1).
    monkeypatch.setattr(il, "launch_problem", lambda *a, **k: None)
    cfg, task_id, _ = _cfg("go2_rough", "isaacsim_physx")
    with pytest.raises(UserError, match="exited with status 1") as info:
        il.IsaacLabVecEnv.launch(task_id, cfg, _contract("go2_rough"), "isaacsim_physx", "cpu")
    assert "\n" not in str(info.value)


def test_newton_preset_without_newton_is_one_sentence() -> None:
    with pytest.raises(UserError, match="needs Newton"):
        il.make_isaaclab_env("go2_flat", _contract("go2_flat"), 4, 0, "cpu")


def test_auto_says_why_it_does_not_pick_isaaclab(capsys: pytest.CaptureFixture) -> None:
    from training import cli

    p = cli.plan(cli.build_parser().parse_args(["go2_rough", "--backend", "auto"]))
    assert p.backend == "mujoco"
    reason = "the physics preset 'newton_mjwarp' needs Newton"
    assert f"--backend auto uses the MuJoCo backend: {reason}" in capsys.readouterr().out


def test_mujoco_side_runs_on_mujoco_3_12_without_batch(tmp_path: Path) -> None:
    import mujoco

    from training.envs.batch import ThreadedBatch
    from training.tasks import make_env

    assert mujoco.__version__.startswith("3.12") and not hasattr(mujoco, "batch")
    env = make_env("go2_rough", 4, seed=0)
    assert isinstance(env.backend.batch, ThreadedBatch)
    for _ in range(20):
        obs, rewards, _, _ = env.step(torch.zeros(4, env.num_actions))
    assert torch.isfinite(obs["critic"]).all() and torch.isfinite(rewards).all()
    assert obs["policy"].shape == (4, env.contract.obs_dim)


def test_genpo_eval_runs_on_mujoco_3_12(tmp_path: Path) -> None:
    from tests.eval.conftest import tiny_checkpoint
    from training.evaluation.cli import main

    ckpt = tiny_checkpoint(tmp_path / "model_1.pt")
    argv = [str(ckpt), "--task", "go2_flat", "--episodes", "1", "--duration-s", "0.5"]
    assert main(argv) == 0


def test_genpo_sim_runs_on_mujoco_3_12() -> None:
    from deploy.sim.launch import SimProcess
    from robots import GO2
    from tests.sim.conftest import SimClient

    with SimProcess("go2", 131, 20.0) as sim:
        client = SimClient(GO2, 131)
        client.state()
        client.send_lowcmd(GO2.values("default_q_rad"), kp=0.0, kd=0.0, seconds=2.0)
        height = sim.control.truth()["base_height_m"]
    assert height < GO2.nominal_base_height_m - 0.08  # the sim steps: without gains it falls


def test_actor_history_becomes_the_policy_groups_time_ordered_history() -> None:
    """observations.history_length travels in the contract; IsaacLab's policy group then
    stacks that many frames, time-major (each frame the contract's terms), the critic none."""
    robot = get_robot("go2")
    contract = make_contract(robot, "rough", history_length=4)
    cfg, _, _ = il.load_env_cfg("go2_rough", contract, 16, "cpu", "newton_mjwarp")
    policy, critic = cfg.observations.policy, cfg.observations.critic
    assert (policy.history_length, policy.flatten_history_dim, policy.history_order) == (
        4,
        True,
        "time",
    )
    assert critic.history_length is None
    il.check_overrides(["observations.history_length=4"])  # accepted: the contract carries it
    il.apply_overrides(cfg, ["observations.history_length=4"], robot)
    assert cfg.observations.policy.history_length == 4
    one, _, _ = _cfg("go2_rough")
    assert one.observations.policy.history_length is None


# IsaacLab's sub-terrain keys, in training.envs.terrain.TERRAIN_TYPES order.
_SUB_TERRAINS = (
    "pyramid_stairs",
    "pyramid_stairs_inv",
    "boxes",
    "random_rough",
    "hf_pyramid_slope",
    "hf_pyramid_slope_inv",
)


def _isaaclab_terrain(cfg) -> dict:
    """IsaacLab's resolved terrain generator, in the MuJoCo backend's TerrainCfg fields."""
    terrain = cfg.scene.terrain
    gen = terrain.terrain_generator
    sub = [gen.sub_terrains[k] for k in _SUB_TERRAINS]
    stairs, stairs_inv, boxes, rough, slope, slope_inv = sub
    for a, b, fields in (
        (stairs, stairs_inv, ("step_height_range", "step_width", "platform_width", "border_width")),
        (slope, slope_inv, ("slope_range", "platform_width")),
    ):  # one TerrainCfg field serves both: they must agree
        assert [getattr(a, f) for f in fields] == [getattr(b, f) for f in fields]
    assert gen.size[0] == gen.size[1]
    return {
        "size_m": gen.size[0],
        "border_width_m": gen.border_width,
        "num_rows": gen.num_rows,
        "num_cols": gen.num_cols,
        "horizontal_scale_m": gen.horizontal_scale,
        "vertical_scale_m": gen.vertical_scale,
        "proportions": tuple(s.proportion for s in sub),
        "stairs_step_height_m": tuple(stairs.step_height_range),
        "stairs_step_width_m": stairs.step_width,
        "stairs_platform_m": stairs.platform_width,
        "stairs_border_m": stairs.border_width,
        "boxes_grid_width_m": boxes.grid_width,
        "boxes_grid_height_m": tuple(boxes.grid_height_range),
        "boxes_platform_m": boxes.platform_width,
        "rough_noise_m": tuple(rough.noise_range),
        "rough_noise_step_m": rough.noise_step,
        "slope": tuple(slope.slope_range),
        "slope_platform_m": slope.platform_width,
        "max_init_level": terrain.max_init_terrain_level,
    }


@pytest.mark.parametrize("task", [t for t in TASKS if t.endswith("rough")])
def test_the_mujoco_backends_rough_terrain_is_isaaclabs(task: str) -> None:
    """The same task name trains on the same ground whichever backend runs it: every terrain
    generator number of IsaacLab's resolved 3.0 task equals the MuJoCo backend's TerrainCfg
    (Go2 scales boxes, rough noise and stairs down: "the robot is small")."""
    from training.tasks import task_config

    ours = task_config(task).terrain
    theirs = _isaaclab_terrain(_cfg(task)[0])
    assert {k: getattr(ours, k) for k in theirs} == theirs


# Where IsaacLab 3.0.0's reward weights and events differ from the MuJoCo backend's tasks (the
# IsaacLab 2.x values every shipped policy was trained on; README, Configuration): per task,
# label -> (3.0.0's value, ours; None: no such term or event). Any other difference is drift.
_GO2_2X = {
    "action_rate_l2": (-0.005, -0.01),
    "base_height_l2": (-30.0, None),
    "push_interval_s": ((10.0, 15.0), None),
    "reset_velocity": (0.5, 0.0),
    "reset_joint_scale": ((0.5, 1.5), (1.0, 1.0)),
}
_H1_2X = {"push_interval_s": ((10.0, 15.0), None), "reset_velocity": (0.5, 0.0)}
KNOWN_2X_DIFFERENCES = {
    "go2_rough": _GO2_2X,
    "go2_flat": _GO2_2X,
    "h1_rough": _H1_2X,
    "h1_flat": {**_H1_2X, "feet_air_time_variance": (-2.0, None)},
}


@pytest.mark.parametrize("task", TASKS)
def test_reward_weights_and_events_differ_from_isaaclab_3_0_only_where_listed(task: str) -> None:
    """Every reward term (weight, std, threshold) and the push / reset events of IsaacLab's
    resolved 3.0 task against the MuJoCo backend's: equal, or listed in KNOWN_2X_DIFFERENCES."""
    from training.tasks import task_config

    cfg = _cfg(task)[0]
    labels = il._reward_labels(cfg.rewards)
    theirs: dict = {}
    for name, term in vars(cfg.rewards).items():
        if term is None or not hasattr(term, "func") or term.weight == 0:
            continue
        params = {k: v for k, v in term.params.items() if k in ("std", "threshold")}
        theirs[labels[name]] = (term.weight, params)
    ev = cfg.events
    theirs_events = {
        "push_interval_s": None if ev.push_robot is None else tuple(ev.push_robot.interval_range_s),
        "reset_velocity": ev.reset_base.params["velocity_range"]["x"][1],
        "reset_joint_scale": tuple(ev.reset_robot_joints.params["position_range"]),
    }
    ours_cfg = task_config(task)
    ours = {
        r.label: (r.weight, {k: v for k, v in dict(r.params).items() if k in ("std", "threshold")})
        for r in ours_cfg.rewards
    }
    dr = ours_cfg.domain_rand
    ours_events = {
        "push_interval_s": dr.push_interval_s,
        "reset_velocity": dr.reset_velocity,
        "reset_joint_scale": tuple(dr.reset_joint_scale),
    }
    differences = {}
    for key in sorted({*theirs, *ours}):
        a, b = theirs.get(key), ours.get(key)
        if a != b:  # a weight that differs; params must agree wherever both have the term
            assert a is None or b is None or a[1] == b[1], (key, a, b)
            differences[key] = (a and a[0], b and b[0])
    for key in theirs_events:
        if theirs_events[key] != ours_events[key]:
            differences[key] = (theirs_events[key], ours_events[key])
    assert differences == KNOWN_2X_DIFFERENCES[task]

"""IsaacLab adapter where IsaacLab is absent (the default suite), and on a GPU where it exists.

The real package's config is checked in test_isaaclab_cfg.py (marker isaaclab_cfg, its own venv).
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from common.errors import UserError
from export.exporter import ExportOptions, export_checkpoint
from robots import GO2, H1, get_robot
from robots.artifact import ARTIFACT_KEY, parse_artifact
from robots.contract import make_contract
from tests.conftest import REPO
from training import cli
from training.checkpoint import load_checkpoint
from training.envs.isaaclab import (
    DEFAULT_PHYSICS,
    TASK_IDS,
    launch_problem,
    load_env_cfg,
    make_isaaclab_env,
    resolve_task_id,
    use_local_assets,
)

HAS_ISAACLAB = importlib.util.find_spec("isaaclab") is not None
V30 = {task: ids[0] for task, ids in TASK_IDS.items()}
V2X = {task: ids[1] for task, ids in TASK_IDS.items()}


def test_task_ids_are_isaaclab_30s() -> None:
    # isaaclab_tasks 7.0.0 (IsaacLab 3.0) dropped -v0 and renamed Unitree-Go2 (isaaclab3.md).
    assert V30 == {
        "go2_flat": "Isaac-Velocity-Flat-UnitreeGo2",
        "go2_rough": "Isaac-Velocity-Rough-UnitreeGo2",
        "h1_flat": "Isaac-Velocity-Flat-H1",
        "h1_rough": "Isaac-Velocity-Rough-H1",
    }
    for task in TASK_IDS:
        assert resolve_task_id(task, [*V30.values(), "Isaac-Cartpole"]) == (
            V30[task],
            "IsaacLab 3.0 ID",
        )


def test_2x_ids_are_taken_only_when_the_registry_holds_them_and_say_so() -> None:
    task_id, note = resolve_task_id("go2_rough", V2X.values())
    assert task_id == "Isaac-Velocity-Rough-Unitree-Go2-v0" and "2.x" in note
    with pytest.raises(UserError, match="registers neither 'Isaac-Velocity-Flat-H1'"):
        resolve_task_id("h1_flat", ["Isaac-Cartpole"])


@pytest.mark.skipif(HAS_ISAACLAB, reason="IsaacLab is installed here")
def test_missing_isaaclab_is_one_sentence_naming_how_to_install() -> None:
    with pytest.raises(UserError, match="needs IsaacLab 3.0") as info:
        make_isaaclab_env("go2_flat", make_contract(GO2, "flat"), num_envs=4, seed=0)
    assert "\n" not in str(info.value)
    assert launch_problem() == "IsaacLab is not installed"


def test_unknown_task_and_physics_are_one_sentence() -> None:
    with pytest.raises(UserError, match="IsaacLab has no task for 'go2_stairs'"):
        make_isaaclab_env("go2_stairs", make_contract(GO2, "flat"), num_envs=4, seed=0)
    with pytest.raises(UserError, match="unknown IsaacLab physics preset 'bullet'"):
        make_isaaclab_env("go2_flat", make_contract(GO2, "flat"), 4, 0, physics="bullet")


def _plan(*argv: str) -> cli.Plan:
    return cli.plan(cli.build_parser().parse_args(["go2_rough", *argv]))


@pytest.mark.skipif(HAS_ISAACLAB, reason="IsaacLab is installed here")
def test_auto_keeps_mujoco_and_says_why(capsys: pytest.CaptureFixture) -> None:
    p = _plan("--backend", "auto")
    assert (p.backend, p.physics) == ("mujoco", "mujoco")
    out = capsys.readouterr().out
    assert "--backend auto uses the MuJoCo backend: IsaacLab is not installed" in out


def test_isaaclab_physics_is_pinned_and_recorded(tmp_path: Path) -> None:
    p = _plan("--backend", "isaaclab", "--run-dir", str(tmp_path))
    assert p.physics == DEFAULT_PHYSICS == "newton_mjwarp"
    p = _plan("--backend", "isaaclab", "--physics", "isaacsim_physx", "--run-dir", str(tmp_path))
    cli.write_run_file(p)
    run = yaml.safe_load((tmp_path / "run.yaml").read_text())
    assert (run["backend"], run["physics"]) == ("isaaclab", "isaacsim_physx")


def test_auto_resumes_a_mujoco_run_on_mujoco_even_where_isaaclab_could_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from common.config import to_dict
    from training.config import TrainCfg

    monkeypatch.setattr("training.envs.isaaclab.launch_problem", lambda *a, **k: None)
    assert _plan("--backend", "auto").backend == "isaaclab"
    (tmp_path / "model_1.pt").write_bytes(b"")
    run = {"physics": "mujoco", "train": to_dict(TrainCfg()), "num_envs": 8, "env_overrides": []}
    (tmp_path / "run.yaml").write_text(yaml.safe_dump(run))
    p = _plan("--backend", "auto", "--resume", str(tmp_path / "model_1.pt"))
    assert (p.backend, p.physics) == ("mujoco", "mujoco")


def test_physics_preset_or_robot_usd_on_the_mujoco_backend_is_refused() -> None:
    with pytest.raises(UserError, match="--physics isaacsim_physx selects IsaacLab's physics"):
        _plan("--backend", "mujoco", "--physics", "isaacsim_physx")
    with pytest.raises(UserError, match="--robot-usd spawns IsaacLab's robot"):
        _plan("--backend", "mujoco", "--robot-usd", "go2.usdc")


def test_env_overrides_without_an_isaaclab_field_are_refused_by_name() -> None:
    with pytest.raises(UserError, match=r"env\.domain_rand\.friction has no IsaacLab counterpart"):
        _plan("--backend", "isaaclab", "--set", "env.domain_rand.friction=[0.5, 0.5]")
    p = _plan("--backend", "isaaclab", "--set", "env.observations.noise=false")
    assert p.env_overrides == ("observations.noise=false",)


def test_mujoco_run_records_its_physics_in_run_checkpoint_and_artifact(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    tiny = ["--set", "flow.hidden_dims=[16]", "--set", "critic.hidden_dims=[16]"]
    tiny += ["--set", "flow.time_hidden_dims=[16]", "--set", "runner.num_steps_per_env=4"]
    cmd = [sys.executable, "-m", "training.cli", "go2_flat", "--backend", "mujoco"]
    cmd += ["--num-envs", "4", "--max-iterations", "1", "--run-dir", str(run_dir), *tiny]
    cmd += ["--no-progress", "--torch-threads", "1"]
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert yaml.safe_load((run_dir / "run.yaml").read_text())["physics"] == "mujoco"
    assert load_checkpoint(run_dir / "model_1.pt")["physics"] == "mujoco"
    options = ExportOptions(golden=2, parity_samples=20, latency_calls=0)
    result = export_checkpoint(run_dir / "model_1.pt", out_dir=tmp_path / "exp", options=options)
    import onnx

    model = onnx.load(str(result.onnx_path))
    text = next(p.value for p in model.metadata_props if p.key == ARTIFACT_KEY)
    assert parse_artifact(text).physics == "mujoco"


def test_shipped_artifacts_without_physics_still_parse() -> None:
    """Artifacts exported before provenance.physics existed (go2_flat's) parse with physics None;
    the newer ones carry the backend that trained them."""

    import onnx

    without = []
    for path in sorted((REPO / "assets" / "policies").glob("*/policy.onnx")):
        model = onnx.load(str(path), load_external_data=False)
        text = next(p.value for p in model.metadata_props if p.key == ARTIFACT_KEY)
        recorded = json.loads(text)["provenance"].get("physics")
        assert parse_artifact(text).physics == recorded
        if recorded is None:
            without.append(path.parent.name)
    assert "go2_flat" in without


@pytest.mark.isaaclab
@pytest.mark.parametrize("task", sorted(TASK_IDS))
def test_isaaclab_env_follows_the_contract(task: str) -> None:
    import torch

    robot_name, terrain = task.split("_")
    contract = make_contract(get_robot(robot_name), terrain)
    env = make_isaaclab_env(task, contract, num_envs=8, seed=0)
    assert env.physics == DEFAULT_PHYSICS
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


def _go2_usd(tmp_path: Path) -> Path:
    """Menagerie's Go2 MJCF converted to USD by mujoco-usd-converter."""
    from training.envs.robot_usd import convert

    return convert(GO2, tmp_path / "go2_usd")


@pytest.mark.isaaclab
@pytest.mark.parametrize(
    ("robot", "renamed", "scanner"),
    [(GO2, [], "Geometry/base"), (H1, ["torso"], "Geometry/pelvis/torso_link")],
)
def test_kitless_robot_usd_keeps_the_mjcf_joint_names(
    robot, renamed, scanner, tmp_path: Path
) -> None:
    """The converter suffixes a joint that shares its name with a geom of its body (H1's
    "torso"); restore_joint_names gives it its name back, once, and then every policy joint is
    a joint prim of that name. Spawned from the file, the rough task's height scanner stays on
    the body IsaacLab mounts it on (H1: torso_link, as the MuJoCo backend's scan)."""
    from pxr import Usd, UsdPhysics

    from training.envs.robot_usd import restore_joint_names, run_converter

    usd = run_converter(robot, tmp_path / "usd")
    assert restore_joint_names(usd, robot.policy_joint_names) == renamed
    assert restore_joint_names(usd, robot.policy_joint_names) == []
    stage = Usd.Stage.Open(str(usd))
    joints = {p.GetName() for p in stage.Traverse() if p.IsA(UsdPhysics.Joint)}
    assert set(robot.policy_joint_names) <= joints
    # what pointed at a renamed joint (the converter's MJC actuators) points at it still
    targets = [t for p in stage.Traverse() for r in p.GetRelationships() for t in r.GetTargets()]
    assert targets and all(stage.GetPrimAtPath(t) for t in targets)
    with pytest.raises(UserError, match="has no joint named 'no_such_joint'"):
        restore_joint_names(usd, ["no_such_joint"])
    # Links Menagerie merged are rigid bodies of their own again (Go2's head, as in IsaacLab's
    # go2.usd), each holding its collision shape: the base body's own collision is the trunk's.
    bodies = {p.GetName(): p for p in stage.Traverse() if p.HasAPI(UsdPhysics.RigidBodyAPI)}
    for link in robot.merged_links:
        shapes = [c for c in bodies[link.name].GetChildren() if c.HasAPI(UsdPhysics.CollisionAPI)]
        assert len(shapes) == 1
    if robot.merged_links:
        base = bodies[robot.base_contact_bodies[0]]
        (trunk,) = [c for c in base.GetChildren() if c.HasAPI(UsdPhysics.CollisionAPI)]
        assert trunk.GetTypeName() == "Cube"
    task = f"{robot.name}_rough"
    cfg, _, _ = load_env_cfg(task, make_contract(robot, "rough"), 4, "cpu", DEFAULT_PHYSICS)
    use_local_assets(cfg, robot, usd)
    assert cfg.scene.height_scanner.prim_path == "{ENV_REGEX_NS}/Robot/" + scanner


@pytest.mark.isaaclab
def test_kitless_h1_from_menagerie_builds_and_steps(tmp_path: Path) -> None:
    """h1_flat on real IsaacLab (kit-less Newton on Warp's CPU), Menagerie's H1 as USD: the
    contract's 19 joints found by name, the default pose at the start, finite steps."""
    import torch

    from training.envs.robot_usd import convert

    contract = make_contract(H1, "flat")
    usd = convert(H1, tmp_path / "h1_usd")
    env = make_isaaclab_env("h1_flat", contract, 8, seed=0, device="cpu", robot_usd=usd)
    try:
        obs = env.get_observations()
        assert obs["policy"].shape == (8, contract.obs_dim)
        assert obs["critic"].shape == (8, contract.critic_obs_dim)
        joint_pos = obs["policy"][:, contract.obs_slices()["joint_pos"]]
        # relative to the contract's default pose, within the actor's joint_pos noise (+-0.01);
        # a joint found under another's name would sit tenths of a radian off
        assert joint_pos.abs().max() <= 0.01 + 1e-6
        for _ in range(50):
            obs, rewards, _, _ = env.step(torch.zeros(8, contract.num_actions))
        assert torch.isfinite(obs["critic"]).all() and torch.isfinite(rewards).all()
    finally:
        env.close()


@pytest.mark.isaaclab
def test_kitless_newton_on_warp_cpu_with_menagerie_go2_as_usd(tmp_path: Path) -> None:
    """16 envs x 100 steps of kit-less Newton (MuJoCo-Warp) on Warp's CPU device, the Go2 spawned
    from Menagerie's MJCF converted to USD: no GPU, Isaac Sim or NVIDIA asset server needed."""
    import torch

    contract = make_contract(GO2, "flat")
    env = make_isaaclab_env(
        "go2_flat", contract, 16, seed=0, device="cpu", robot_usd=_go2_usd(tmp_path)
    )
    try:
        obs = env.get_observations()
        for _ in range(100):
            obs, rewards, _, _ = env.step(torch.zeros(16, contract.num_actions))
        assert obs["policy"].shape == (16, contract.obs_dim)
        assert obs["critic"].shape == (16, contract.critic_obs_dim)
        assert torch.isfinite(obs["critic"]).all() and torch.isfinite(rewards).all()
    finally:
        env.close()


@pytest.mark.isaaclab
def test_kitless_history_is_time_major_and_starts_filled(tmp_path: Path) -> None:
    """A 3-frame contract on real IsaacLab (kit-less Newton on Warp's CPU): the policy group
    stacks whole frames, oldest first, each the contract's terms (so MuJoCo-trained and
    IsaacLab-trained policies read the same layout), and a start fills every frame; with
    env.sim.target_range_factor the target clamp builds too."""
    import torch

    contract = make_contract(GO2, "flat", history_length=3)
    d = contract.frame_dim
    env = make_isaaclab_env(
        "go2_flat", contract, 8, seed=0, device="cpu", robot_usd=_go2_usd(tmp_path),
        overrides=("sim.target_range_factor=1",),
    )  # fmt: skip
    try:
        obs = env.get_observations()["policy"]
        assert obs.shape == (8, 3 * d)
        assert torch.equal(obs[:, :d], obs[:, d : 2 * d]) and torch.equal(
            obs[:, :d], obs[:, 2 * d :]
        )
        gen = torch.Generator().manual_seed(0)
        for _ in range(5):
            before = obs
            step = env.step(0.5 * torch.randn(8, contract.num_actions, generator=gen))
            obs, dones = step[0]["policy"], step[2]
            kept = ~dones
            # the two older frames are the previous step's two newer ones: time-major, shifted
            assert torch.allclose(obs[kept, : 2 * d], before[kept, d:])
        act = contract.obs_slices()["actions"]  # newest frame: the last action, scaled by 1
        assert not torch.allclose(obs[:, act], torch.zeros_like(obs[:, act]))
        # far past every stop: IsaacLab's own action term holds the targets at the joint range
        env.step(torch.full((8, contract.num_actions), 40.0))
        term = env._env.unwrapped.action_manager.get_term("joint_pos")
        _, hi = GO2.scaled_limits(1.0, contract.action.joint_names)
        targets = term.processed_actions.cpu().double()
        assert torch.allclose(targets, torch.tensor(hi).expand_as(targets), atol=1e-6)
    finally:
        env.close()


@pytest.mark.isaaclab
def test_train_on_isaaclab_kitless_then_evaluate_in_mujoco(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    cmd = [sys.executable, "-m", "training.cli", "go2_flat", "--backend", "isaaclab"]
    cmd += ["--device", "cpu", "--num-envs", "16", "--max-iterations", "1", "--no-progress"]
    cmd += ["--robot-usd", str(_go2_usd(tmp_path)), "--run-dir", str(run_dir)]
    cmd += ["--set", "runner.num_steps_per_env=8", "--torch-threads", "1"]
    cmd += ["--set", "env.sim.target_range_factor=1"]  # IsaacLab's action clip (clip_targets)
    done = subprocess.run(cmd, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    ckpt = load_checkpoint(run_dir / "model_1.pt")
    assert ckpt["physics"] == "newton_mjwarp"
    assert ckpt["task_settings"]["sim.target_range_factor"] == 1.0
    # genpo-eval in MuJoCo runs it under the clamp it trained under on IsaacLab, unasked
    report = tmp_path / "eval.json"
    evaluate = [sys.executable, "-m", "training.evaluation.cli", str(run_dir / "model_1.pt")]
    evaluate += ["--task", "go2_flat", "--episodes", "2", "--duration-s", "1"]
    evaluate += ["--json", str(report)]
    done = subprocess.run(evaluate, cwd=REPO, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, done.stderr[-2000:]
    assert json.loads(report.read_text())["adopted_from_policy"] == ["sim.target_range_factor=1.0"]

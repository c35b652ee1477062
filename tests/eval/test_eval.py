"""genpo-eval: metrics of a checkpoint and of its export, falls, scripted commands, user errors."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest

from common.errors import UserError
from tests.eval.conftest import tiny_checkpoint
from training.evaluation.cli import main
from training.evaluation.rollout import EvalOptions, evaluate
from training.evaluation.scripted import ScriptedCommand, schedule

METRICS = (
    "rmse_vx",
    "rmse_vy",
    "rmse_wz",
    "rmse_combined",
    "tracking_reward_fraction",
    "mean_return",
    "mean_episode_length_s",
)


def test_checkpoint_eval_reports_finite_metrics(
    policies: dict[str, Path], tmp_path: Path, capsys: pytest.CaptureFixture
) -> None:
    out = tmp_path / "eval.json"
    argv = [str(policies["checkpoint"]), "--task", "go2_flat", "--episodes", "2"]
    assert main([*argv, "--duration-s", "1", "--seed", "3", "--json", str(out)]) == 0
    printed = capsys.readouterr().out.strip().splitlines()
    report = json.loads(out.read_text())
    assert json.loads(printed[-1]) == report  # the final printed line is the JSON report
    assert all(math.isfinite(report[k]) for k in METRICS)
    assert 0.0 < report["tracking_reward_fraction"] <= 1.0
    combined = math.sqrt(sum(report[k] ** 2 for k in ("rmse_vx", "rmse_vy", "rmse_wz")))
    assert report["rmse_combined"] == pytest.approx(combined)
    assert report["falls"] + report["fall_free_episodes"] == 2
    assert 0.0 < report["mean_episode_length_s"] <= 1.0
    assert report["walks"] is None  # 1 s is not performance.md's 20 s protocol
    assert report["policy"]["source"] == "checkpoint"
    assert "observations.noise=false" in report["play_overrides"]


def test_checkpoint_and_its_export_score_the_same(policies: dict[str, Path]) -> None:
    def run(path: Path) -> dict:
        return evaluate(EvalOptions(path, "go2_flat", episodes=2, duration_s=1.0, seed=7))

    torch_report, onnx_report = run(policies["checkpoint"]), run(policies["onnx"])
    assert onnx_report["policy"]["source"] == "onnx"
    for key in (*METRICS, "falls"):
        assert onnx_report[key] == pytest.approx(torch_report[key], abs=1e-4), key
    # A different seed draws other commands: the equality above is not a constant.
    other = evaluate(EvalOptions(policies["onnx"], "go2_flat", episodes=2, duration_s=1.0, seed=8))
    assert other["rmse_combined"] != pytest.approx(onnx_report["rmse_combined"], abs=1e-4)


def test_history_policy_and_its_export_score_the_same(policies: dict[str, Path]) -> None:
    """A 3-frame-history policy: the file records the history and genpo-eval runs the task with
    it unasked (the frames the training env stacks), the checkpoint and its export act alike,
    and a task setting that contradicts the file is refused in one sentence."""
    history = ("observations.history_length=3",)

    def run(path: Path, overrides: tuple[str, ...] = ()) -> dict:
        opts = EvalOptions(
            path, "go2_flat", episodes=2, duration_s=1.0, seed=7, overrides=overrides
        )
        return evaluate(opts)

    torch_report, onnx_report = run(policies["history_checkpoint"]), run(policies["history_onnx"])
    for report in (torch_report, onnx_report):
        assert report["adopted_from_policy"] == list(history)
        assert report["play_overrides"][-1] == history[0]
    for key in (*METRICS, "falls"):
        assert onnx_report[key] == pytest.approx(torch_report[key], abs=1e-4), key
    # Adopting is the same evaluation as asking: nothing else changes.
    asked = run(policies["history_onnx"], history)
    assert asked["adopted_from_policy"] == []
    for key in (*METRICS, "falls"):
        assert asked[key] == onnx_report[key], key
    for path in (policies["history_checkpoint"], policies["history_onnx"]):
        with pytest.raises(
            UserError,
            match="reads 3 frame.* gives 2; evaluate it with observations.history_length=3",
        ):
            run(path, overrides=("observations.history_length=2",))
    one_frame = run(policies["onnx"])  # a policy without history adopts nothing
    assert one_frame["adopted_from_policy"] == []
    with pytest.raises(UserError, match="reads 1 frame.* gives 3"):
        run(policies["onnx"], history)


def test_eval_runs_under_the_task_settings_the_policy_records(
    policies: dict[str, Path], tmp_path: Path
) -> None:
    """A policy trained under a joint-target clamp: its checkpoint records it, its export carries
    it, and genpo-eval adopts it unasked, the same run as asking for it; a caller's own value of
    the setting is theirs, and without the clamp the robot moves otherwise."""
    clamp = "sim.target_range_factor=0.2"

    def run(path: Path, overrides: tuple[str, ...] = ()) -> dict:
        opts = EvalOptions(
            path, "go2_flat", episodes=2, duration_s=1.0, seed=7, overrides=overrides
        )
        return evaluate(opts)

    torch_report, onnx_report = run(policies["clamped_checkpoint"]), run(policies["clamped_onnx"])
    assert torch_report["adopted_from_policy"] == onnx_report["adopted_from_policy"] == [clamp]
    for key in (*METRICS, "falls"):
        assert onnx_report[key] == pytest.approx(torch_report[key], abs=1e-4), key
    asked = run(policies["clamped_onnx"], (clamp,))
    unclamped = run(policies["clamped_onnx"], ("sim.target_range_factor=0",))
    assert asked["adopted_from_policy"] == unclamped["adopted_from_policy"] == []
    for key in METRICS:
        assert asked[key] == onnx_report[key], key
    assert any(unclamped[key] != pytest.approx(onnx_report[key], abs=1e-3) for key in METRICS)
    # A file from before task settings were recorded adopts nothing.
    assert run(policies["onnx"])["adopted_from_policy"] == []
    # A checkpoint's record is checked as an artifact's is (robots.artifact.check_task_settings).
    bad = tiny_checkpoint(
        tmp_path / "bad" / "model_1.pt", task_settings={"sim.target_range_factor": 2}
    )
    with pytest.raises(UserError, match="checkpoint .* records sim.target_range_factor=2, not a"):
        run(bad)


def test_policy_that_folds_up_registers_falls(policies: dict[str, Path]) -> None:
    opts = EvalOptions(policies["falling_onnx"], "go2_flat", episodes=2, duration_s=20.0)
    report = evaluate(opts)
    assert report["falls"] == 2 and report["fall_free_episodes"] == 0
    assert report["mean_episode_length_s"] < 2.0  # ended by the fall, not the 20 s time-out
    assert report["walks"] is False


def test_scripted_schedule_respects_each_robots_ranges() -> None:
    go2 = schedule(((-1.0, 1.0), (-1.0, 1.0), (-1.0, 1.0)), 8.0)
    assert [name for name, _, _ in go2] == ["forward", "turn", "sideways", "stop"]
    assert [start for _, start, _ in go2] == [0.0, 2.0, 4.0, 6.0]
    assert np.allclose(go2[2][2], [0.0, 0.5, 0.0])
    h1 = schedule(((0.0, 1.0), (0.0, 0.0), (-1.0, 1.0)), 6.0)
    assert [name for name, _, _ in h1] == ["forward", "turn", "stop"]  # H1 never strafes
    script = ScriptedCommand(h1, num_envs=2)
    for _ in range(100):  # 2 s at 50 Hz: the turn segment starts
        script.step(0.02, np.zeros(2))
    assert np.allclose(script.command, [[0.0, 0.0, 0.5]] * 2)
    script.resample(np.array([1]))
    assert np.allclose(script.command[1], [0.5, 0.0, 0.0])


def test_scripted_commands_reach_the_observation(policies: dict[str, Path]) -> None:
    opts = EvalOptions(policies["checkpoint"], "go2_flat", 1, 1.0, commands="scripted")
    report = evaluate(opts)
    assert report["commands"] == "scripted" and report["walks"] is None
    assert math.isfinite(report["rmse_combined"])


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{checkpoint}", "--task", "go3_flat"], "unknown task 'go3_flat'"),
        (["{missing}", "--task", "go2_flat"], "does not exist"),
        (["{h1_onnx}", "--task", "go2_flat"], "exported for robot 'h1'"),
        (["{checkpoint}", "--task", "go2_flat", "--episodes", "0"], "--episodes"),
        (["{checkpoint}", "--task", "go2_flat", "--json", "{dir}"], "--json '{dir}' is a dir"),
        (["{checkpoint}", "--task", "go2_flat", "--video", "{dir}"], "--video '{dir}' is a dir"),
        (
            ["{checkpoint}", "--task", "go2_flat", "--video", "{dir}/x.txt"],
            "--video '{dir}/x.txt' must name an .mp4 file",
        ),
        (["{checkpoint}", "--task", "go2_flat", "--json", "{file}/x.json"], "cannot create folder"),
    ],
    ids=[
        "unknown-task",
        "missing-file",
        "other-robot",
        "bad-episodes",
        "json-dir",
        "video-dir",
        "video-not-mp4",
        "json-under-file",
    ],
)
def test_user_errors_exit_2_with_one_line(
    policies: dict[str, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture,
    args: list[str],
    message: str,
) -> None:
    (tmp_path / "file").write_text("")
    paths = {k: str(v) for k, v in policies.items()}
    paths.update(missing=str(tmp_path / "nope.pt"), dir=str(tmp_path), file=str(tmp_path / "file"))
    before = sorted(tmp_path.rglob("*"))
    assert main([a.format(**paths) for a in args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("genpo-eval: error:")
    assert message.format(**paths) in err[0]
    assert sorted(tmp_path.rglob("*")) == before  # refused before anything was written


SHIPPED = Path(__file__).resolve().parents[2] / "assets" / "policies" / "go2_flat"


@pytest.mark.skipif(not (SHIPPED / "model.pt").is_file(), reason="no go2_flat policy shipped yet")
def test_shipped_checkpoint_and_its_artifact_score_the_same() -> None:
    # The sim-to-sim check of the export on the real trained policy (issue: genpo-export).
    def run(path: Path) -> dict:
        return evaluate(EvalOptions(path, "go2_flat", episodes=2, duration_s=4.0, seed=11))

    torch_report, onnx_report = run(SHIPPED / "model.pt"), run(SHIPPED / "policy.onnx")
    for key in (*METRICS, "falls"):
        assert onnx_report[key] == pytest.approx(torch_report[key], abs=1e-4), key


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--commands", "constant"], "--cmd VX,VY,WZ goes with --commands constant"),
        (["--cmd", "0.5,0,0"], "--cmd VX,VY,WZ goes with --commands constant"),
        (["--commands", "constant", "--cmd", "3,0,0"], "outside the trained ranges"),
        (["--seed", "-1"], "--seed must be 0 or more, got -1"),
    ],
    ids=["constant-without-cmd", "cmd-without-constant", "cmd-out-of-range", "negative-seed"],
)
def test_constant_command_user_errors_exit_2(
    policies: dict[str, Path], capsys: pytest.CaptureFixture, args: list[str], message: str
) -> None:
    assert main([str(policies["checkpoint"]), "--task", "go2_flat", *args]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and message in err[0], err


@pytest.mark.skipif(not (SHIPPED / "policy.onnx").is_file(), reason="no go2_flat policy shipped")
def test_constant_command_sets_the_steady_speed() -> None:
    """The constant command reaches the policy for the whole episode: the shipped policy walks
    forward under vx 0.5 and stands under 0 (steady_vx_m_s: after the first 2 s)."""

    def steady(cmd: tuple[float, float, float]) -> dict:
        opts = EvalOptions(SHIPPED / "policy.onnx", "go2_flat", episodes=1, duration_s=6.0,
                           commands="constant", constant_cmd=cmd)  # fmt: skip
        return evaluate(opts)

    walking, standing = steady((0.5, 0.0, 0.0)), steady((0.0, 0.0, 0.0))
    assert walking["constant_cmd"] == [0.5, 0.0, 0.0]
    assert walking["steady_vx_m_s"] > 0.35 and abs(standing["steady_vx_m_s"]) < 0.1


def _shipped_onnx() -> list[Path]:
    return sorted((SHIPPED.parent).glob("*/policy.onnx"))


def _trained_task(path: Path) -> str:
    import onnxruntime as ort

    from training.evaluation.policies import ARTIFACT_KEY

    meta = ort.InferenceSession(str(path)).get_modelmeta().custom_metadata_map
    return json.loads(meta[ARTIFACT_KEY])["contract"]["task"]


def _committed(onnx: Path) -> dict:
    return json.loads((onnx.parent / "eval_random.json").read_text())


@pytest.mark.parametrize("onnx", _shipped_onnx(), ids=lambda p: p.parent.name)
def test_shipped_policy_scores_what_its_folder_reports(onnx: Path) -> None:
    """Acceptance (issue 15): genpo-eval on each shipped ONNX, under issue 15's protocol (8
    episodes x 20 s of random commands, seed 0; rough terrain: the hardest third of the rows),
    gives the verdict, falls and tracking its committed eval_random.json and README report.
    About 5-10 s per policy on the 2-core CPU (the episodes run as parallel envs). Settings the
    folder's evaluation added (go2_flat_clamp: the training-side target clamp) come from its JSON's
    play_overrides."""
    committed = _committed(onnx)
    sets = tuple(committed["play_overrides"])  # play's own settings, then the folder's --set
    report = evaluate(
        EvalOptions(onnx, _trained_task(onnx), episodes=8, duration_s=20.0, overrides=sets)
    )
    assert (report["walks"], report["falls"]) == (committed["walks"], committed["falls"])
    got, want = report["by_terrain"], committed.get("by_terrain")  # null on flat ground
    assert _without_tracking(got) == _without_tracking(want)
    if want is not None:
        for kind, entry in want.items():
            assert got[kind]["tracking"] == pytest.approx(entry["tracking"], abs=1e-3), kind
    assert report["tracking_reward_fraction"] == pytest.approx(
        committed["tracking_reward_fraction"], abs=1e-3
    )


def _without_tracking(terrain: dict | None) -> dict | None:
    if terrain is None:
        return None
    return {k: {f: v for f, v in e.items() if f != "tracking"} for k, e in terrain.items()}


def test_the_shipped_policies_that_walk() -> None:
    """Every shipped folder says `walks` (the test above holds each to its word; go2_rough's
    on IsaacLab 3.0's Go2 ground, its README giving the seeds and episodes where it falls)."""
    walking = {p.parent.name for p in _shipped_onnx() if _committed(p)["walks"]}
    assert walking == {"go2_flat", "go2_flat_ppo", "go2_flat_clamp", "go2_flat_stiff", "h1_flat",
                       "go2_rough"}  # fmt: skip
    assert {p.parent.name for p in _shipped_onnx()} == walking


def test_rough_evaluation_starts_on_the_hardest_third_of_the_rows() -> None:
    from training.evaluation.play import play_overrides
    from training.tasks import make_env, task_config

    play = play_overrides(task_config("go2_rough"), 20.0)
    env = make_env("go2_rough", num_envs=40, seed=0, overrides=play)
    rows = env.cfg.terrain.num_rows
    assert set(env.resets.levels.tolist()) == set(range(rows - rows // 3, rows))  # 7, 8, 9 of 10
    trained = make_env("go2_rough", num_envs=40, seed=0)
    assert trained.resets.levels.max() <= trained.cfg.terrain.max_init_level < rows - rows // 3
    assert not any("init_level" in o for o in play_overrides(task_config("go2_flat"), 20.0))
    with pytest.raises(UserError, match="not a range within the terrain's 10 rows"):
        make_env("go2_rough", num_envs=2, seed=0, overrides=("terrain.max_init_level=10",))


def test_rough_report_counts_falls_by_the_terrain_each_episode_started_on() -> None:
    """Episode i of N starts on column i * num_cols // N (resets.py), whose type is the first
    whose cumulative proportion exceeds column / num_cols: 8 episodes on go2_rough's 20 columns
    (columns 0, 2, 5, 7, 10, 12, 15, 17) are 2 pyramid stairs, 2 inverted, 1 boxes, 2 random
    rough, 1 slope, on rows 7-9. A type's tracking is over its episodes' live steps."""
    from training.evaluation.metrics import EpisodeMetrics
    from training.evaluation.play import play_overrides
    from training.evaluation.rollout import by_terrain, episode_tiles
    from training.tasks import make_env, task_config

    env = make_env("go2_rough", 8, 0, overrides=play_overrides(task_config("go2_rough"), 20.0))
    tiles = episode_tiles(env)
    kinds = [k for k, _ in tiles]
    assert kinds == ["pyramid_stairs"] * 2 + ["pyramid_stairs_inv"] * 2 + ["boxes"] + [
        "random_rough"] * 2 + ["pyramid_slope"]  # fmt: skip
    assert {r for _, r in tiles} <= {7, 8, 9}
    metrics = EpisodeMetrics(env.cfg, env.robot.policy_joint_names, 8)
    metrics.fell[:] = [1, 0, 1, 1, 0, 0, 0, 1]
    metrics.lengths[:] = [100, 300, 50, 60, 1000, 1000, 500, 10]
    metrics.kernel_sums[:] = [90.0, 150.0, 5.0, 55.0, 800.0, 700.0, 100.0, 1.0]
    report = by_terrain(tiles, metrics)
    assert list(report) == ["pyramid_stairs", "pyramid_stairs_inv", "boxes", "random_rough",
                            "pyramid_slope"]  # fmt: skip
    assert [(v["episodes"], v["falls"]) for v in report.values()] == [
        (2, 1), (2, 2), (1, 0), (2, 0), (1, 1)]  # fmt: skip
    assert report["random_rough"]["rows"] == [tiles[5][1], tiles[6][1]]
    tracking = [v["tracking"] for v in report.values()]
    assert tracking == pytest.approx([240 / 400, 60 / 110, 0.8, 800 / 1500, 0.1])
    assert episode_tiles(make_env("go2_flat", 2, 0)) is None


@pytest.mark.parametrize("robot, task", [("go2", "go2_flat"), ("h1", "h1_flat")])
def test_contact_models_are_the_model_files_and_the_tasks(robot: str, task: str) -> None:
    """genpo-eval --contact menagerie steps the solver genpo-sim runs by default (the model
    file's), --contact training the task's; an unknown name is one sentence."""
    import mujoco

    from robots import get_robot
    from robots.assets import model_xml
    from training.envs.model import ModelCfg
    from training.evaluation.play import contact_overrides
    from training.tasks import make_env

    def solver(opt) -> tuple:
        return int(opt.cone), float(opt.impratio), int(opt.iterations), int(opt.ls_iterations)

    file_model = mujoco.MjModel.from_xml_path(str(model_xml(get_robot(robot), "scene")))
    menagerie = make_env(task, 1, 0, overrides=contact_overrides("menagerie"))
    training = make_env(task, 1, 0, overrides=contact_overrides("training"))
    assert solver(menagerie.backend.model.opt) == solver(file_model.opt)
    cfg = ModelCfg()
    assert solver(training.backend.model.opt) == (
        int(mujoco.mjtCone.mjCONE_PYRAMIDAL), cfg.impratio, cfg.iterations, cfg.ls_iterations
    )  # fmt: skip
    with pytest.raises(UserError, match="unknown contact model 'stiff'"):
        contact_overrides("stiff")


def test_contact_option_reaches_the_report(
    policies: dict[str, Path], capsys: pytest.CaptureFixture
) -> None:
    argv = [str(policies["checkpoint"]), "--task", "go2_flat", "--episodes", "1"]
    assert main([*argv, "--duration-s", "0.2", "--contact", "menagerie",
                 "--set", "sim.model.impratio=50"]) == 0  # fmt: skip
    report = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert report["contact"] == "menagerie"
    sets = report["play_overrides"]
    assert "sim.model.cone=model" in sets
    assert sets.index("sim.model.impratio=0") < sets.index("sim.model.impratio=50")  # --set last
    with pytest.raises(SystemExit):
        main([*argv, "--contact", "stiff"])
